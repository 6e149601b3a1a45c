#include "vtp-t5.h"
#include "vtp-model-cache.h"
#include <math.h>
#include <string.h>

gboolean
vtp_t5_find_names (VtpCheckpoint *c, VtpT5Names *names, GError **error)
{
  static const char *const prefixes[] = { "language_model.", "model.language_model.", "", NULL };

  memset (names, 0, sizeof *names);
  if (!(names->prefix = vtp_checkpoint_find_prefix (c, prefixes, "shared.weight", "T5 model", error)))
    return FALSE;
  /* transformers 5 ties the head to the shared table unless the file
   * carries one of its own (Flan-T5 does) */
  {
    g_autofree char *head = g_strconcat (names->prefix, "lm_head.weight", NULL);
    if (vtp_checkpoint_find (c, head))
      names->lm_head = g_intern_string (head);
  }
  return TRUE;
}

gint
vtp_t5_relative_bucket (gint rel, gboolean bidirectional, gint num_buckets, gint max_distance)
{
  gint bucket = 0, n, max_exact, large;
  float scaled;

  if (bidirectional) {
    num_buckets /= 2;
    if (rel > 0)
      bucket += num_buckets;
    n = ABS (rel);
  } else
    n = rel < 0 ? -rel : 0;
  max_exact = num_buckets / 2;
  if (n < max_exact)
    return bucket + n;
  /* float32 throughout, truncated toward zero, as torch computes it */
  scaled = logf ((float) n / (float) max_exact) / (float) log ((double) max_distance / max_exact)
      * (float) (num_buckets - max_exact);
  large = max_exact + (gint) scaled;
  return bucket + MIN (large, num_buckets - 1);
}

static void
load_layer (VtpLoader *l, const VtpT5Config *cfg, const char *stack, gint i, gboolean decoder, VtpT5Layer *y)
{
  const gint64 D = cfg->d_model, I = (gint64) cfg->num_heads * cfg->d_kv, F = cfg->d_ff;
  const gint ff = decoder ? 2 : 1;

  y->attn_norm = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%s.block.%d.layer.0.layer_norm.weight", stack, i);
  y->wq = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.0.SelfAttention.q.weight", stack, i);
  y->wk = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.0.SelfAttention.k.weight", stack, i);
  y->wv = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.0.SelfAttention.v.weight", stack, i);
  y->wo = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, I), "%s.block.%d.layer.0.SelfAttention.o.weight", stack, i);
  if (decoder) {
    y->cross_norm = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%s.block.%d.layer.1.layer_norm.weight", stack, i);
    y->cq = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.1.EncDecAttention.q.weight", stack, i);
    y->ck = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.1.EncDecAttention.k.weight", stack, i);
    y->cv = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%s.block.%d.layer.1.EncDecAttention.v.weight", stack, i);
    y->co = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, I), "%s.block.%d.layer.1.EncDecAttention.o.weight", stack, i);
  }
  y->ffn_norm = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%s.block.%d.layer.%d.layer_norm.weight", stack, i, ff);
  if (cfg->gated) {
    y->wi_0 = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (F, D), "%s.block.%d.layer.%d.DenseReluDense.wi_0.weight",
        stack, i, ff);
    y->wi_1 = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (F, D), "%s.block.%d.layer.%d.DenseReluDense.wi_1.weight",
        stack, i, ff);
  } else
    y->wi_0 = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (F, D), "%s.block.%d.layer.%d.DenseReluDense.wi.weight",
        stack, i, ff);
  y->wo_ff = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, F), "%s.block.%d.layer.%d.DenseReluDense.wo.weight",
      stack, i, ff);
}

static void
free_layer (VtpT5Layer *y)
{
  VtpTensor *ts[] = { y->attn_norm, y->wq, y->wk, y->wv, y->wo, y->cross_norm, y->cq, y->ck, y->cv, y->co,
    y->ffn_norm, y->wi_0, y->wi_1, y->wo_ff };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (ts[i]);
}

/* The first layer's relative_attention_bias.weight [num_buckets, H] of
 * @stack as host floats. */
static float *
load_relative_table (VtpCheckpoint *c, const char *prefix, const char *stack, const VtpT5Config *cfg,
    GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s%s.block.0.layer.0.SelfAttention.relative_attention_bias.weight",
      prefix, stack);
  const VtpStTensor *t = vtp_checkpoint_get (c, name, VTP_MAT (cfg->num_buckets, cfg->num_heads), error);

  return t ? vtp_st_tensor_to_f32 (t, error) : NULL;
}

VtpT5 *
vtp_t5_load (VtpCheckpoint *c, const VtpT5Names *names, const VtpT5Config *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpT5) m = g_new0 (VtpT5, 1);
  VtpLoader l = { c, dev, wtype, names->prefix, error, FALSE };
  g_autofree char *embed_name = g_strconcat (names->prefix, "shared.weight", NULL);
  const gint64 V = cfg->vocab_size, D = cfg->d_model;

  m->cfg = *cfg;
  m->dev = vtp_device_ref (dev);
  m->ckpt = vtp_checkpoint_ref (c);
  m->embed = vtp_checkpoint_find (c, embed_name);
  if (!vtp_lm_check_embed_table (m->embed, embed_name, c->dir, V, D, error)
      || !(m->enc_rel = load_relative_table (c, names->prefix, "encoder", cfg, error))
      || !(m->dec_rel = load_relative_table (c, names->prefix, "decoder", cfg, error)))
    return NULL;
  m->enc = g_new0 (VtpT5Layer, cfg->num_layers);
  m->dec = g_new0 (VtpT5Layer, cfg->num_decoder_layers);
  for (gint i = 0; i < cfg->num_layers && !l.failed; i++)
    load_layer (&l, cfg, "encoder", i, FALSE, &m->enc[i]);
  for (gint i = 0; i < cfg->num_decoder_layers && !l.failed; i++)
    load_layer (&l, cfg, "decoder", i, TRUE, &m->dec[i]);
  m->enc_norm = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "encoder.final_layer_norm.weight");
  m->dec_norm = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "decoder.final_layer_norm.weight");
  if (l.failed)
    return NULL;
  if (cfg->scale_decoder_outputs) {
    /* (w * norm (x)) * D^-0.5 as (w * D^-0.5) * norm (x) */
    g_autofree float *w = g_new (float, D);
    const float scale = (float) pow ((double) D, -0.5);
    if (!vtp_tensor_read (m->dec_norm, 0, w, D * sizeof (float), error))
      return NULL;
    for (gint64 i = 0; i < D; i++)
      w[i] *= scale;
    if (!vtp_tensor_write (m->dec_norm, 0, w, D * sizeof (float), error))
      return NULL;
  }
  l.prefix = "";
  m->lm_head = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (V, D), "%s", names->lm_head ? names->lm_head : embed_name);
  if (l.failed)
    return NULL;
  return g_steal_pointer (&m);
}

typedef struct {
  VtpCheckpoint *c;
  const VtpT5Names *names;
  const VtpT5Config *cfg;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_t5_load (a->c, a->names, a->cfg, a->dev, a->wtype, error);
}

VtpT5 *
vtp_t5_acquire (VtpCheckpoint *c, const VtpT5Names *names, const VtpT5Config *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, names, cfg, dev, wtype };
  g_autofree char *key = g_strdup_printf ("t5|%p|%s|%d", (void *) dev, c->dir, wtype);
  return vtp_model_cache_acquire (key, load_cached, &a, (GDestroyNotify) vtp_t5_free, error);
}

void
vtp_t5_free (VtpT5 *m)
{
  if (!m)
    return;
  for (gint i = 0; m->enc && i < m->cfg.num_layers; i++)
    free_layer (&m->enc[i]);
  for (gint i = 0; m->dec && i < m->cfg.num_decoder_layers; i++)
    free_layer (&m->dec[i]);
  g_free (m->enc);
  g_free (m->dec);
  g_free (m->enc_rel);
  g_free (m->dec_rel);
  vtp_tensor_free (m->enc_norm);
  vtp_tensor_free (m->dec_norm);
  vtp_tensor_free (m->lm_head);
  if (m->ckpt)
    vtp_checkpoint_unref (m->ckpt);
  if (m->dev)
    vtp_device_unref (m->dev);
  g_free (m);
}

/* The bias of every head at relative positions -(W - 1 - center) ..
 * center as a [H, W] device table: column center + r holds position r. */
static VtpTensor *
bias_table (VtpT5 *m, const float *rel, gboolean bidirectional, gint width, gint center, GError **error)
{
  const VtpT5Config *c = &m->cfg;
  g_autofree float *host = g_new (float, (gsize) c->num_heads * width);
  VtpTensor *t;

  for (gint col = 0; col < width; col++) {
    const gint b = vtp_t5_relative_bucket (col - center, bidirectional, c->num_buckets, c->max_distance);
    for (gint h = 0; h < c->num_heads; h++)
      host[(gsize) h * width + col] = rel[(gsize) b * c->num_heads + h];
  }
  if (!(t = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, c->num_heads, width, error)))
    return NULL;
  if (!vtp_tensor_write (t, 0, host, (gsize) c->num_heads * width * sizeof (float), error)) {
    vtp_tensor_free (t);
    return NULL;
  }
  return t;
}

VtpT5State *
vtp_t5_state_new (VtpT5 *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error)
{
  g_autoptr (VtpT5State) s = g_new0 (VtpT5State, 1);
  const VtpT5Config *c = &m->cfg;
  const gint64 D = c->d_model, I = (gint64) c->num_heads * c->d_kv;

  if (max_ctx < 1 || max_ctx > (1 << 20)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "A context of %d positions: T5 takes 1 to %d", max_ctx,
        1 << 20);
    return NULL;
  }
  if (!vtp_kv_cache_check (kv_dtype, c->num_heads, c->d_kv, error))
    return NULL;
  max_chunk = MAX (1, MIN (max_chunk, max_ctx));
  s->max_ctx = max_ctx;
  s->max_chunk = max_chunk;
  s->kv_dtype = kv_dtype;
  s->n_dec_layers = c->num_decoder_layers;
  s->model = m;
  s->k_cache = g_new0 (VtpTensor *, s->n_dec_layers);
  s->v_cache = g_new0 (VtpTensor *, s->n_dec_layers);
  s->ck = g_new0 (VtpTensor *, s->n_dec_layers);
  s->cv = g_new0 (VtpTensor *, s->n_dec_layers);
  s->host_rows = g_new (float, (gsize) max_ctx * D);
  /* the encoder runs its whole input at once (its attention looks both
   * ways): activations for max_ctx rows; attention in query chunks */
  if (!(s->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, D, error))
      || !(s->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, D, error))
      || !(s->enc = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, D, error))
      || !(s->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error))
      || !(s->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error))
      || !(s->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error))
      || !(s->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error))
      || !(s->h = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, c->d_ff, error))
      || (c->gated && !(s->g = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, c->d_ff, error)))
      || !(s->scores = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32,
              (gint64) c->num_heads * max_chunk + VTP_ATTENTION_SCORE_PAD_ROWS, max_ctx, error))
      || !(s->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->vocab_size, error))
      || !(s->enc_bias = bias_table (m, m->enc_rel, TRUE, 2 * max_ctx - 1, max_ctx - 1, error))
      || !(s->dec_bias = bias_table (m, m->dec_rel, FALSE, max_ctx, max_ctx - 1, error)))
    return NULL;
  for (gint i = 0; i < s->n_dec_layers; i++)
    if (!(s->k_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, I, error))
        || !(s->v_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, I, error))
        || !(s->ck[i] = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error))
        || !(s->cv[i] = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_ctx, I, error)))
      return NULL;
  return g_steal_pointer (&s);
}

void
vtp_t5_state_free (VtpT5State *s)
{
  if (!s)
    return;
  for (gint i = 0; i < s->n_dec_layers; i++) {
    vtp_tensor_free (s->k_cache[i]);
    vtp_tensor_free (s->v_cache[i]);
    vtp_tensor_free (s->ck[i]);
    vtp_tensor_free (s->cv[i]);
  }
  g_free (s->k_cache);
  g_free (s->v_cache);
  g_free (s->ck);
  g_free (s->cv);
  {
    VtpTensor *ts[] = { s->x, s->xn, s->enc, s->q, s->k, s->v, s->attn, s->h, s->g, s->scores, s->logits,
      s->enc_bias, s->dec_bias };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      vtp_tensor_free (ts[i]);
  }
  g_free (s->host_rows);
  g_free (s);
}

void
vtp_t5_ffn (const VtpT5 *m, const VtpT5Layer *y, VtpTensor *x, VtpTensor *xn, VtpTensor *h, VtpTensor *g, gint n,
    gboolean as_rows)
{
  void (*linear) (VtpTensor *, gint64, const VtpTensor *, gint64, gint64, const VtpTensor *, const VtpTensor *,
      gboolean) = as_rows ? vtp_op_linear_rows : vtp_op_linear;

  vtp_op_rmsnorm (xn, x, 0, n, y->ffn_norm, m->cfg.layer_norm_epsilon);
  linear (h, 0, xn, 0, n, y->wi_0, NULL, FALSE);
  vtp_activation_apply (m->cfg.act, h, 0, n);
  if (y->wi_1) {
    linear (g, 0, xn, 0, n, y->wi_1, NULL, FALSE);
    vtp_op_mul (h, g, 0, n);
  }
  linear (x, 0, h, 0, n, y->wo_ff, NULL, TRUE);
}

static void
ffn_block (VtpT5 *m, VtpT5State *s, const VtpT5Layer *y, gint n)
{
  vtp_t5_ffn (m, y, s->x, s->xn, s->h, s->g, n, FALSE);
}

/* The encoder over s->x rows [0, n) (the input embeddings); its output
 * (after the final norm) into s->enc, and each decoder layer's
 * cross-attention keys and values of it. */
static void
encoder_forward (VtpT5 *m, VtpT5State *s, gint n)
{
  const VtpT5Config *c = &m->cfg;
  const VtpAttention a = { c->num_heads, c->num_heads, c->d_kv, FALSE, 0, 1.0f, s->enc_bias, s->max_ctx - 1 };

  for (gint l = 0; l < c->num_layers; l++) {
    const VtpT5Layer *y = &m->enc[l];
    const VtpLinearOut qkv[3] = { { s->q, 0, y->wq, NULL }, { s->k, 0, y->wk, NULL }, { s->v, 0, y->wv, NULL } };

    vtp_op_rmsnorm (s->xn, s->x, 0, n, y->attn_norm, c->layer_norm_epsilon);
    vtp_op_linear_multi (s->xn, 0, n, qkv, 3);
    /* the query rows in chunks (the score scratch holds max_chunk), each
     * over all n keys */
    for (gint r = 0; r < n; r += s->max_chunk) {
      VtpAttention ar = a;
      ar.q_pos0 = r;
      vtp_op_attention (s->attn, r, s->q, r, MIN (s->max_chunk, n - r), s->k, s->v, 0, n, s->scores, &ar);
    }
    vtp_op_linear (s->x, 0, s->attn, 0, n, y->wo, NULL, TRUE);
    ffn_block (m, s, y, n);
  }
  vtp_op_rmsnorm (s->enc, s->x, 0, n, m->enc_norm, c->layer_norm_epsilon);
  for (gint l = 0; l < c->num_decoder_layers; l++) {
    const VtpLinearOut kv[2] = { { s->ck[l], 0, m->dec[l].ck, NULL }, { s->cv[l], 0, m->dec[l].cv, NULL } };
    vtp_op_linear_multi (s->enc, 0, n, kv, 2);
  }
  s->n_enc = n;
}

/* The decoder over s->x rows [0, n) (token embeddings) at positions
 * n_past..; logits of rows [first, n) into s->logits from row 0. */
static void
decoder_forward (VtpT5 *m, VtpT5State *s, gint n, gint first)
{
  const VtpT5Config *c = &m->cfg;

  for (gint l = 0; l < c->num_decoder_layers; l++) {
    const VtpT5Layer *y = &m->dec[l];
    const VtpAttention self = { c->num_heads, c->num_heads, c->d_kv, TRUE, s->n_past, 1.0f, s->dec_bias,
      s->max_ctx - 1 };
    const VtpAttention cross = { c->num_heads, c->num_heads, c->d_kv, FALSE, 0, 1.0f, NULL, 0 };
    /* F16 / Q8_0 caches: the new keys and values through s->k / s->v
     * (free while the decoder runs) and a rounding or quantizing store */
    const gboolean direct = s->kv_dtype == VTP_DTYPE_F32;
    const gint kv_row = direct ? s->n_past : 0;
    const VtpLinearOut qkv[3] = { { s->q, 0, y->wq, NULL }, { direct ? s->k_cache[l] : s->k, kv_row, y->wk, NULL },
      { direct ? s->v_cache[l] : s->v, kv_row, y->wv, NULL } };

    vtp_op_rmsnorm (s->xn, s->x, 0, n, y->attn_norm, c->layer_norm_epsilon);
    vtp_op_linear_multi (s->xn, 0, n, qkv, 3);
    if (!direct)
      vtp_op_kv_write (s->k_cache[l], s->v_cache[l], s->n_past, s->k, s->v, 0, n);
    vtp_op_attention (s->attn, 0, s->q, 0, n, s->k_cache[l], s->v_cache[l], 0, s->n_past + n, s->scores, &self);
    vtp_op_linear (s->x, 0, s->attn, 0, n, y->wo, NULL, TRUE);

    vtp_op_rmsnorm (s->xn, s->x, 0, n, y->cross_norm, c->layer_norm_epsilon);
    vtp_op_linear (s->q, 0, s->xn, 0, n, y->cq, NULL, FALSE);
    vtp_op_attention (s->attn, 0, s->q, 0, n, s->ck[l], s->cv[l], 0, s->n_enc, s->scores, &cross);
    vtp_op_linear (s->x, 0, s->attn, 0, n, y->co, NULL, TRUE);

    ffn_block (m, s, y, n);
  }
  /* the final norm (its weight carries the output scaling when there is one) */
  vtp_op_rmsnorm (s->xn, s->x, first, n - first, m->dec_norm, c->layer_norm_epsilon);
  vtp_op_linear (s->logits, 0, s->xn, first, n - first, m->lm_head, NULL, FALSE);
  s->n_past += n;
}

/* Rows [0, n) of s->x from input rows [skip, skip + n) of @segments: ids
 * gathered from the shared table, embeddings (D wide) copied on the device. */
static gboolean
gather_input (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments, gint skip, gint n,
    GError **error)
{
  const gint D = m->cfg.d_model;
  gint row = 0;

  for (gint i = 0; i < n_segments && row < n; i++) {
    const VtpLmSegment *g = &segments[i];
    const gint off = MIN (skip, g->n), take = MIN (g->n - off, n - row);
    skip -= off;
    if (take == 0)
      continue;
    if (g->ids) {
      if (!vtp_lm_gather_rows (m->embed, m->cfg.vocab_size, D, g->ids + off, take, s->host_rows, error)
          || !vtp_tensor_write (s->x, (gsize) row * D * sizeof (float), s->host_rows,
              (gsize) take * D * sizeof (float), error))
        return FALSE;
    } else {
      if (vtp_tensor_cols (g->embeds) != D) {
        g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "Input embeddings are %" G_GINT64_FORMAT " wide, the T5 "
            "model's are %d (d_model)", vtp_tensor_cols (g->embeds), D);
        return FALSE;
      }
      vtp_tensor_copy_rect (s->x, row, 0, g->embeds, g->row0 + off, 0, take, D);
    }
    row += take;
  }
  return TRUE;
}

gboolean
vtp_t5_encode (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments, GError **error)
{
  const gint32 start = m->cfg.decoder_start_token_id;
  const VtpLmSegment first = { &start, NULL, 0, 1 };
  gint total = 0;

  /* the encoder takes at most max_ctx rows, all at once */
  if (!vtp_lm_check_input (segments, n_segments, 0, s->max_ctx, s->max_chunk, FALSE, &total, error)
      || !gather_input (m, s, segments, n_segments, 0, total, error))
    return FALSE;
  s->n_past = 0;
  encoder_forward (m, s, total);
  if (!vtp_error_take_pending (error))
    return FALSE;
  return vtp_t5_decode (m, s, &first, 1, FALSE, error);
}

gboolean
vtp_t5_decode (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments, gboolean all_logits,
    GError **error)
{
  gint total = 0, done = 0;

  if (s->n_enc == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The T5 decoder ran before its encoder: the first input of a "
        "T5 model goes to the encoder (a prefill at position 0)");
    return FALSE;
  }
  if (!vtp_lm_check_input (segments, n_segments, s->n_past, s->max_ctx, s->max_chunk, all_logits, &total, error))
    return FALSE;
  while (done < total) {
    const gint n = MIN (s->max_chunk, total - done);
    if (!gather_input (m, s, segments, n_segments, done, n, error))
      return FALSE;
    done += n;
    decoder_forward (m, s, n, all_logits ? 0 : (done == total ? n - 1 : n));
    if (!vtp_error_take_pending (error))
      return FALSE;
  }
  return TRUE;
}

gboolean
vtp_t5_prefill (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments, gboolean all_logits,
    GError **error)
{
  if (s->n_past == 0)
    return vtp_t5_encode (m, s, segments, n_segments, error);
  return vtp_t5_decode (m, s, segments, n_segments, all_logits, error);
}

gsize
vtp_t5_weight_bytes (const VtpT5 *m)
{
  gsize b = vtp_tensor_n_bytes (m->lm_head);
  for (gint l = 0; l < m->cfg.num_decoder_layers; l++) {
    const VtpT5Layer *y = &m->dec[l];
    const VtpTensor *ts[] = { y->wq, y->wk, y->wv, y->wo, y->cq, y->co, y->wi_0, y->wi_1, y->wo_ff };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      if (ts[i])
        b += vtp_tensor_n_bytes (ts[i]);
  }
  return b;
}
