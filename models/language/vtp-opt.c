#include "vtp-opt.h"
#include "vtp-decode-layer.h"
#include "vtp-model-cache.h"
#include <math.h>
#include <string.h>

/* OPT's learned positions are read at position + 2 (fairseq kept rows 0
 * and 1 for padding). */
#define POSITION_OFFSET 2
/* nn.LayerNorm's default: OPT's config has no eps. */
#define LAYER_NORM_EPS 1e-5f

gboolean
vtp_opt_find_names (VtpCheckpoint *c, const VtpOptConfig *cfg, VtpOptNames *names, GError **error)
{
  static const char *const prefixes[] = { "language_model.model.decoder.", "model.language_model.decoder.",
    "model.decoder.", "decoder.", NULL };
  static const char *const heads[] = { "language_model.lm_head.weight", "lm_head.weight", NULL };

  memset (names, 0, sizeof *names);
  if (!(names->prefix = vtp_checkpoint_find_prefix (c, prefixes, "embed_tokens.weight", "OPT decoder", error)))
    return FALSE;
  if (cfg->tie_word_embeddings)
    return TRUE;
  for (guint i = 0; heads[i]; i++)
    if (vtp_checkpoint_find (c, heads[i]))
      names->lm_head = heads[i];
  if (!names->lm_head) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s has no lm_head.weight (nor language_model.lm_head.weight) "
        "and config.json does not tie the word embeddings (tie_word_embeddings is false)", c->dir);
    return FALSE;
  }
  return TRUE;
}

static void
load_layer (VtpLoader *l, const VtpOptConfig *cfg, gint i, VtpOptLayer *y)
{
  const gint64 D = cfg->hidden_size, F = cfg->ffn_dim;

  y->attn_norm_w = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn_layer_norm.weight", i);
  y->attn_norm_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn_layer_norm.bias", i);
  y->wq = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "layers.%d.self_attn.q_proj.weight", i);
  y->wk = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "layers.%d.self_attn.k_proj.weight", i);
  y->wv = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "layers.%d.self_attn.v_proj.weight", i);
  y->wo = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "layers.%d.self_attn.out_proj.weight", i);
  y->ffn_norm_w = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.final_layer_norm.weight", i);
  y->ffn_norm_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.final_layer_norm.bias", i);
  y->fc1 = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (F, D), "layers.%d.fc1.weight", i);
  y->fc2 = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, F), "layers.%d.fc2.weight", i);
  if (!cfg->enable_bias)
    return;
  y->bq = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn.q_proj.bias", i);
  y->bk = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn.k_proj.bias", i);
  y->bv = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn.v_proj.bias", i);
  y->bo = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.self_attn.out_proj.bias", i);
  y->b_fc1 = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (F), "layers.%d.fc1.bias", i);
  y->b_fc2 = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.fc2.bias", i);
}

static void
free_layer (VtpOptLayer *y)
{
  VtpTensor *ts[] = { y->attn_norm_w, y->attn_norm_b, y->ffn_norm_w, y->ffn_norm_b, y->wq, y->wk, y->wv, y->wo,
    y->bq, y->bk, y->bv, y->bo, y->fc1, y->fc2, y->b_fc1, y->b_fc2 };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (ts[i]);
}

VtpOpt *
vtp_opt_load (VtpCheckpoint *c, const VtpOptNames *names, const VtpOptConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpOpt) m = g_new0 (VtpOpt, 1);
  VtpLoader l = { c, dev, wtype, names->prefix, error, FALSE };
  g_autofree char *embed_name = g_strconcat (names->prefix, "embed_tokens.weight", NULL);
  const gint64 V = cfg->vocab_size, D = cfg->hidden_size, W = cfg->word_embed_proj_dim;

  m->cfg = *cfg;
  m->dev = vtp_device_ref (dev);
  m->ckpt = vtp_checkpoint_ref (c);
  m->embed = vtp_checkpoint_find (c, embed_name);
  if (!vtp_lm_check_embed_table (m->embed, embed_name, c->dir, V, W, error))
    return NULL;
  m->positions = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (cfg->max_position_embeddings + POSITION_OFFSET, D),
      "embed_positions.weight");
  if (W != D) {
    m->project_in = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (D, W), "project_in.weight");
    m->project_out = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (W, D), "project_out.weight");
  }
  m->layers = g_new0 (VtpOptLayer, cfg->num_hidden_layers);
  for (gint i = 0; i < cfg->num_hidden_layers && !l.failed; i++)
    load_layer (&l, cfg, i, &m->layers[i]);
  if (cfg->final_layer_norm) {
    m->norm_w = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "final_layer_norm.weight");
    m->norm_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "final_layer_norm.bias");
  }
  if (l.failed)
    return NULL;
  l.prefix = "";
  m->lm_head = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (V, W), "%s", names->lm_head ? names->lm_head : embed_name);
  if (l.failed)
    return NULL;
  return g_steal_pointer (&m);
}

typedef struct {
  VtpCheckpoint *c;
  const VtpOptNames *names;
  const VtpOptConfig *cfg;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_opt_load (a->c, a->names, a->cfg, a->dev, a->wtype, error);
}

VtpOpt *
vtp_opt_acquire (VtpCheckpoint *c, const VtpOptNames *names, const VtpOptConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, names, cfg, dev, wtype };
  g_autofree char *key = g_strdup_printf ("opt|%p|%s|%d|%d", (void *) dev, c->dir, wtype, cfg->num_hidden_layers);
  return vtp_model_cache_acquire (key, load_cached, &a, (GDestroyNotify) vtp_opt_free, error);
}

void
vtp_opt_free (VtpOpt *m)
{
  if (!m)
    return;
  for (gint i = 0; m->layers && i < m->cfg.num_hidden_layers; i++)
    free_layer (&m->layers[i]);
  g_free (m->layers);
  vtp_tensor_free (m->positions);
  vtp_tensor_free (m->project_in);
  vtp_tensor_free (m->project_out);
  vtp_tensor_free (m->norm_w);
  vtp_tensor_free (m->norm_b);
  vtp_tensor_free (m->lm_head);
  if (m->ckpt)
    vtp_checkpoint_unref (m->ckpt);
  if (m->dev)
    vtp_device_unref (m->dev);
  g_free (m);
}

VtpOptState *
vtp_opt_state_new (VtpOpt *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error)
{
  g_autoptr (VtpOptState) s = g_new0 (VtpOptState, 1);
  const VtpOptConfig *c = &m->cfg;
  const gint64 D = c->hidden_size, W = c->word_embed_proj_dim;

  if (max_ctx < 1 || max_ctx > c->max_position_embeddings) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "A context of %d positions: OPT's positions are learned, "
        "it has %d (max_position_embeddings)", max_ctx, c->max_position_embeddings);
    return NULL;
  }
  if (!vtp_kv_cache_check (kv_dtype, c->num_attention_heads, c->head_dim, error))
    return NULL;
  max_chunk = MAX (1, MIN (max_chunk, max_ctx));
  s->max_ctx = max_ctx;
  s->max_chunk = max_chunk;
  s->kv_dtype = kv_dtype;
  s->n_layers = c->num_hidden_layers;
  s->model = m;
  s->k_cache = g_new0 (VtpTensor *, c->num_hidden_layers);
  s->v_cache = g_new0 (VtpTensor *, c->num_hidden_layers);
  s->host_rows = g_new (float, (gsize) max_chunk * W);
  if (!(s->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->h = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->ffn_dim, error))
      || !(s->scores = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32,
              (gint64) c->num_attention_heads * max_chunk + VTP_ATTENTION_SCORE_PAD_ROWS, max_ctx, error))
      || !(s->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->vocab_size, error))
      || (W != D && !(s->e = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, W, error))))
    return NULL;
  for (gint i = 0; i < c->num_hidden_layers; i++)
    if (!(s->k_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, D, error))
        || !(s->v_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, D, error)))
      return NULL;
  if (kv_dtype != VTP_DTYPE_F32 && (!(s->k_new = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
          || !(s->v_new = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))))
    return NULL;
  if (m->dev->pocl_cpu && !(s->sync = vtp_decode_layer_sync_new (m->dev, 1, error)))
    return NULL;
  return g_steal_pointer (&s);
}

void
vtp_opt_state_free (VtpOptState *s)
{
  if (!s)
    return;
  for (gint i = 0; i < s->n_layers; i++) {
    vtp_tensor_free (s->k_cache[i]);
    vtp_tensor_free (s->v_cache[i]);
  }
  g_free (s->k_cache);
  g_free (s->v_cache);
  vtp_tensor_free (s->k_new);
  vtp_tensor_free (s->v_new);
  vtp_tensor_free (s->x);
  vtp_tensor_free (s->xn);
  vtp_tensor_free (s->q);
  vtp_tensor_free (s->attn);
  vtp_tensor_free (s->h);
  vtp_tensor_free (s->scores);
  vtp_tensor_free (s->logits);
  vtp_tensor_free (s->e);
  vtp_tensor_free (s->sync);
  g_free (s->host_rows);
  g_free (s);
}

/* x += out_proj (attention (LN (x))), the keys and values of rows [0, n)
 * going to the cache at n_past. */
static void
attention_block (VtpOpt *m, VtpOptState *s, gint l, gint n)
{
  const VtpOptConfig *c = &m->cfg;
  const VtpOptLayer *y = &m->layers[l];
  const VtpAttention a = { c->num_attention_heads, c->num_attention_heads, c->head_dim, TRUE, s->n_past,
    1.0f / sqrtf ((float) c->head_dim) };
  /* F16 / Q8_0 caches: the new keys and values through F32 rows (vtp-llama.c) */
  const gboolean direct = s->kv_dtype == VTP_DTYPE_F32;
  const gint kv_row = direct ? s->n_past : 0;
  const VtpLinearOut qkv[3] = { { s->q, 0, y->wq, y->bq }, { direct ? s->k_cache[l] : s->k_new, kv_row, y->wk, y->bk },
    { direct ? s->v_cache[l] : s->v_new, kv_row, y->wv, y->bv } };

  vtp_op_layernorm (s->xn, s->x, 0, n, y->attn_norm_w, y->attn_norm_b, LAYER_NORM_EPS);
  vtp_op_linear_multi (s->xn, 0, n, qkv, 3);
  if (!direct)
    vtp_op_kv_write (s->k_cache[l], s->v_cache[l], s->n_past, s->k_new, s->v_new, 0, n);
  vtp_op_attention (s->attn, 0, s->q, 0, n, s->k_cache[l], s->v_cache[l], 0, s->n_past + n, s->scores, &a);
  vtp_op_linear (s->x, 0, s->attn, 0, n, y->wo, y->bo, TRUE);
}

/* x += fc2 (act (fc1 (LN (x)))) */
static void
mlp_block (VtpOpt *m, VtpOptState *s, gint l, gint n)
{
  const VtpOptLayer *y = &m->layers[l];

  vtp_op_layernorm (s->xn, s->x, 0, n, y->ffn_norm_w, y->ffn_norm_b, LAYER_NORM_EPS);
  vtp_op_linear (s->h, 0, s->xn, 0, n, y->fc1, y->b_fc1, FALSE);
  vtp_activation_apply (m->cfg.activation, s->h, 0, n);
  vtp_op_linear (s->x, 0, s->h, 0, n, y->fc2, y->b_fc2, TRUE);
}

/* Layer @l's decode step (one row) as one fused launch (vtp-decode-layer.h,
 * OPT's layer): TRUE when the device and the layer take it (PoCL CPUs, a
 * ReLU MLP), @d filled in. */
static gboolean
fused_layer (const VtpOpt *m, const VtpOptState *s, gint l, VtpDecodeLayer *d)
{
  const VtpOptConfig *c = &m->cfg;
  const VtpOptLayer *y = &m->layers[l];
  const gboolean f32_cache = s->kv_dtype == VTP_DTYPE_F32;
  const VtpDecodeLayer f = { .x = s->x, .xn = s->xn, .q = s->q, .attn = s->attn, .gate = s->h, .scores = s->scores,
    .k_cache = s->k_cache[l], .v_cache = s->v_cache[l], .k_new = f32_cache ? NULL : s->k_new,
    .v_new = f32_cache ? NULL : s->v_new, .sync = s->sync, .attn_norm = y->attn_norm_w, .ffn_norm = y->ffn_norm_w,
    .wq = y->wq, .wk = y->wk, .wv = y->wv, .wo = y->wo, .w_gate = y->fc1, .w_down = y->fc2, .bq = y->bq,
    .bk = y->bk, .bv = y->bv, .bo = y->bo, .b_gate = y->b_fc1, .b_down = y->b_fc2, .n_heads = c->num_attention_heads,
    .n_kv_heads = c->num_attention_heads, .head_dim = c->head_dim, .pos = s->n_past, .eps = LAYER_NORM_EPS,
    .opt = TRUE, .attn_norm_b = y->attn_norm_b, .ffn_norm_b = y->ffn_norm_b };

  *d = f;
  return s->sync && c->activation == VTP_ACT_RELU && vtp_decode_layer_fits (d);
}

gint
vtp_opt_fused_layers (const VtpOpt *m, const VtpOptState *s)
{
  VtpDecodeLayer d;
  gint n = 0;
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++)
    n += fused_layer (m, s, l, &d);
  return n;
}

/* The decoder over the chunk's input embeddings (s->e rows [0, n) with
 * project_in, else already in s->x) at positions n_past..; logits of rows
 * [first, n) into s->logits from row 0. */
static void
forward_chunk (VtpOpt *m, VtpOptState *s, gint n, gint first)
{
  const gint D = m->cfg.hidden_size;
  const VtpTensor *out = s->x;

  if (m->project_in)
    vtp_op_linear (s->x, 0, s->e, 0, n, m->project_in, NULL, FALSE);
  /* x = embeddings + positions[n_past + 2 ..] */
  vtp_tensor_copy_rect (s->xn, 0, 0, m->positions, s->n_past + POSITION_OFFSET, 0, n, D);
  vtp_op_add (s->x, s->xn, 0, n);
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++) {
    VtpDecodeLayer d;
    if (n == 1 && fused_layer (m, s, l, &d)) {
      vtp_op_decode_layer (&d);
      continue;
    }
    attention_block (m, s, l, n);
    mlp_block (m, s, l, n);
  }
  if (m->norm_w) {
    vtp_op_layernorm (s->xn, s->x, first, n - first, m->norm_w, m->norm_b, LAYER_NORM_EPS);
    out = s->xn;
  }
  if (m->project_out) {
    vtp_op_linear (s->e, first, out, first, n - first, m->project_out, NULL, FALSE);
    out = s->e;
  }
  vtp_op_linear (s->logits, 0, out, first, n - first, m->lm_head, NULL, FALSE);
  s->n_past += n;
}

gboolean
vtp_opt_prefill (VtpOpt *m, VtpOptState *s, const VtpLmSegment *segments, gint n_segments, gboolean all_logits,
    GError **error)
{
  const gint W = m->cfg.word_embed_proj_dim;
  VtpTensor *in = m->project_in ? s->e : s->x;  /* where the chunk's input embeddings go */
  gint total = 0, seg = 0, seg_off = 0, done = 0;

  if (!vtp_lm_check_input (segments, n_segments, s->n_past, s->max_ctx, s->max_chunk, all_logits, &total, error))
    return FALSE;
  while (done < total) {
    const gint n = MIN (s->max_chunk, total - done);
    gint row = 0;

    while (row < n) {
      const VtpLmSegment *g = &segments[seg];
      const gint take = MIN (g->n - seg_off, n - row);
      if (g->ids) {
        if (!vtp_lm_gather_rows (m->embed, m->cfg.vocab_size, W, g->ids + seg_off, take, s->host_rows, error))
          return FALSE;
        if (!vtp_tensor_write (in, (gsize) row * W * sizeof (float), s->host_rows,
                (gsize) take * W * sizeof (float), error)) {
          g_prefix_error (error, "Uploading the embeddings of %d token%s: ", take, take == 1 ? "" : "s");
          return FALSE;
        }
      } else {
        if (vtp_tensor_cols (g->embeds) != W) {
          g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "Input embeddings are %" G_GINT64_FORMAT " wide, the OPT "
              "model's word embeddings are %d (word_embed_proj_dim)", vtp_tensor_cols (g->embeds), W);
          return FALSE;
        }
        vtp_tensor_copy_rect (in, row, 0, g->embeds, g->row0 + seg_off, 0, take, W);
      }
      row += take;
      seg_off += take;
      if (seg_off == g->n) {
        seg++;
        seg_off = 0;
      }
    }
    done += n;
    forward_chunk (m, s, n, all_logits ? 0 : (done == total ? n - 1 : n));
    if (!vtp_error_take_pending (error))
      return FALSE;
  }
  return TRUE;
}

VtpOptBatch *
vtp_opt_batch_new (VtpOpt *m, gint max_streams, GError **error)
{
  g_autoptr (VtpOptBatch) b = g_new0 (VtpOptBatch, 1);
  const VtpOptConfig *c = &m->cfg;
  const gint64 D = c->hidden_size, W = c->word_embed_proj_dim;

  if (!vtp_lm_check_batch_room (max_streams, error))
    return NULL;
  b->max_streams = max_streams;
  b->host_rows = g_new (float, (gsize) max_streams * W);
  if (!(b->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->h = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->ffn_dim, error))
      || !(b->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->vocab_size, error))
      || (m->project_in && !(b->e = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, W, error))))
    return NULL;
  return g_steal_pointer (&b);
}

void
vtp_opt_batch_free (VtpOptBatch *b)
{
  if (!b)
    return;
  {
    VtpTensor *ts[] = { b->x, b->xn, b->e, b->q, b->k, b->v, b->attn, b->h, b->logits };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      vtp_tensor_free (ts[i]);
  }
  g_free (b->host_rows);
  g_free (b);
}

VTP_LM_DEFINE_CHECK_BATCH (VtpOpt, VtpOptState)

gboolean
vtp_opt_decode_batch (VtpOpt *m, VtpOptBatch *b, VtpOptState **states, const gint32 *tokens, gint n,
    GError **error)
{
  const VtpOptConfig *c = &m->cfg;
  const gint D = c->hidden_size, W = c->word_embed_proj_dim, V = c->vocab_size;
  const VtpAttention a = { c->num_attention_heads, c->num_attention_heads, c->head_dim, TRUE, 0,
    1.0f / sqrtf ((float) c->head_dim) };
  g_autofree VtpStreamKV *kv = NULL;
  const VtpTensor *out = b->x;

  if (!check_batch (m, b->max_streams, states, n, error) || !vtp_lm_gather_rows (m->embed, V, W, tokens, n, b->host_rows, error))
    return FALSE;
  if (!vtp_tensor_write (m->project_in ? b->e : b->x, 0, b->host_rows, (gsize) n * W * sizeof (float), error)) {
    g_prefix_error (error, "Uploading the embeddings of a decode batch of %d: ", n);
    return FALSE;
  }
  if (m->project_in)
    vtp_op_linear_rows (b->x, 0, b->e, 0, n, m->project_in, NULL, FALSE);
  /* each stream's learned position (its own n_past) */
  for (gint i = 0; i < n; i++)
    vtp_tensor_copy_rect (b->xn, i, 0, m->positions, states[i]->n_past + POSITION_OFFSET, 0, 1, D);
  vtp_op_add (b->x, b->xn, 0, n);
  kv = g_new (VtpStreamKV, n);
  for (gint l = 0; l < c->num_hidden_layers; l++) {
    const VtpOptLayer *y = &m->layers[l];
    const VtpLinearOut qkv[3] = { { b->q, 0, y->wq, y->bq }, { b->k, 0, y->wk, y->bk }, { b->v, 0, y->wv, y->bv } };

    vtp_op_layernorm (b->xn, b->x, 0, n, y->attn_norm_w, y->attn_norm_b, LAYER_NORM_EPS);
    vtp_op_linear_multi_rows (b->xn, 0, n, qkv, 3);
    for (gint i = 0; i < n; i++)
      kv[i] = (VtpStreamKV) { states[i]->k_cache[l], states[i]->v_cache[l], states[i]->scores, states[i]->n_past };
    vtp_op_attention_streams (b->attn, b->q, b->k, b->v, kv, n, &a);
    vtp_op_linear_rows (b->x, 0, b->attn, 0, n, y->wo, y->bo, TRUE);          /* x += out_proj (attn) */
    vtp_op_layernorm (b->xn, b->x, 0, n, y->ffn_norm_w, y->ffn_norm_b, LAYER_NORM_EPS);
    vtp_op_linear_rows (b->h, 0, b->xn, 0, n, y->fc1, y->b_fc1, FALSE);
    vtp_activation_apply (c->activation, b->h, 0, n);
    vtp_op_linear_rows (b->x, 0, b->h, 0, n, y->fc2, y->b_fc2, TRUE);         /* x += fc2 (act (fc1 (.))) */
  }
  if (m->norm_w) {
    vtp_op_layernorm (b->xn, b->x, 0, n, m->norm_w, m->norm_b, LAYER_NORM_EPS);
    out = b->xn;
  }
  if (m->project_out) {
    vtp_op_linear_rows (b->e, 0, out, 0, n, m->project_out, NULL, FALSE);
    out = b->e;
  }
  vtp_op_linear_rows (b->logits, 0, out, 0, n, m->lm_head, NULL, FALSE);
  /* row i's logits where stream i's generate loop reads them */
  for (gint i = 0; i < n; i++) {
    vtp_tensor_copy_rect (states[i]->logits, 0, 0, b->logits, i, 0, 1, V);
    states[i]->n_past++;
  }
  return vtp_error_take_pending (error);
}

gsize
vtp_opt_weight_bytes (const VtpOpt *m)
{
  gsize b = vtp_tensor_n_bytes (m->lm_head);
  if (m->project_in)
    b += vtp_tensor_n_bytes (m->project_in) + vtp_tensor_n_bytes (m->project_out);
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++) {
    const VtpOptLayer *y = &m->layers[l];
    const VtpTensor *ts[] = { y->wq, y->wk, y->wv, y->wo, y->fc1, y->fc2 };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      b += vtp_tensor_n_bytes (ts[i]);
  }
  return b;
}
