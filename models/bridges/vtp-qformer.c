#include "vtp-qformer.h"
#include "vtp-model-cache.h"
#include "vtp-ops.h"
#include <math.h>
#include <string.h>

static void
load_affine (VtpLoader *l, VtpAffine *a, VtpLoadKind kind, gint64 rows, gint64 cols, const char *name)
{
  if (kind == VTP_LOAD_MATRIX)
    a->w = vtp_loader_get (l, kind, VTP_MAT (rows, cols), "%s.weight", name);
  else
    a->w = vtp_loader_get (l, kind, VTP_VEC (rows), "%s.weight", name);
  a->b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (rows), "%s.bias", name);
}

static void
free_affine (VtpAffine *a)
{
  vtp_tensor_free (a->w);
  vtp_tensor_free (a->b);
}

/* "<base>.attention.{query,key,value}", "<base>.output.{dense,LayerNorm}";
 * keys and values read @kv_width-wide inputs (the image features for
 * cross-attention). */
static void
load_attention (VtpLoader *l, VtpQFormerAttention *a, const char *base, gint64 H, gint64 kv_width)
{
  g_autofree char *q = g_strconcat (base, ".attention.query", NULL), *k = g_strconcat (base, ".attention.key", NULL);
  g_autofree char *v = g_strconcat (base, ".attention.value", NULL), *o = g_strconcat (base, ".output.dense", NULL);
  g_autofree char *ln = g_strconcat (base, ".output.LayerNorm", NULL);

  load_affine (l, &a->q, VTP_LOAD_MATRIX, H, H, q);
  load_affine (l, &a->k, VTP_LOAD_MATRIX, H, kv_width, k);
  load_affine (l, &a->v, VTP_LOAD_MATRIX, H, kv_width, v);
  load_affine (l, &a->o, VTP_LOAD_MATRIX, H, H, o);
  load_affine (l, &a->ln, VTP_LOAD_F32, H, 0, ln);
}

/* "<layer>.<up>.dense" and "<layer>.<down>.{dense,LayerNorm}". */
static void
load_ffn (VtpLoader *l, VtpQFormerFfn *f, const char *layer, const char *up, const char *down, gint64 H, gint64 I)
{
  g_autofree char *u = g_strdup_printf ("%s.%s.dense", layer, up), *d = g_strdup_printf ("%s.%s.dense", layer, down);
  g_autofree char *ln = g_strdup_printf ("%s.%s.LayerNorm", layer, down);

  load_affine (l, &f->up, VTP_LOAD_MATRIX, I, H, u);
  load_affine (l, &f->down, VTP_LOAD_MATRIX, H, I, d);
  load_affine (l, &f->ln, VTP_LOAD_F32, H, 0, ln);
}

static void
free_attention (VtpQFormerAttention *a)
{
  free_affine (&a->q);
  free_affine (&a->k);
  free_affine (&a->v);
  free_affine (&a->o);
  free_affine (&a->ln);
}

static void
free_ffn (VtpQFormerFfn *f)
{
  free_affine (&f->up);
  free_affine (&f->down);
  free_affine (&f->ln);
}

/* A host tensor of the checkpoint, checked: [rows, cols] floats. */
static const VtpStTensor *
host_table (VtpCheckpoint *c, const char *name, gint64 rows, gint64 cols, GError **error)
{
  const VtpStTensor *t = vtp_checkpoint_find (c, name);

  if (!t || t->ndim != 2 || t->shape[0] != rows || t->shape[1] != cols || !t->dtype_supported
      || (t->dtype != VTP_DTYPE_F32 && t->dtype != VTP_DTYPE_F16 && t->dtype != VTP_DTYPE_BF16)) {
    g_autofree char *found = t ? vtp_shape_to_string (t->ndim, t->shape) : g_strdup ("absent");
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "%s: tensor '%s' is %s %s, expected a float [%" G_GINT64_FORMAT
        ", %" G_GINT64_FORMAT "] (from config.json)", t ? t->file : c->dir, name, t ? t->dtype_name : "",
        found, rows, cols);
    return NULL;
  }
  return t;
}

VtpQFormer *
vtp_qformer_load (VtpCheckpoint *c, const char *prefix, const VtpBlipConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpQFormer) m = g_new0 (VtpQFormer, 1);
  const VtpQFormerConfig *q = &cfg->qformer;
  const gint64 H = q->hidden_size, I = q->intermediate_size, D = cfg->projection_width;
  VtpLoader l = { c, dev, wtype, prefix, error, FALSE };

  m->cfg = *q;
  m->n_queries = cfg->num_query_tokens;
  m->out_width = D;
  m->dev = vtp_device_ref (dev);
  m->query_tokens = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (m->n_queries, H), "query_tokens");
  load_affine (&l, &m->emb_ln, VTP_LOAD_F32, H, 0, q->text_input ? "qformer.embeddings.layernorm" : "qformer.layernorm");
  load_affine (&l, &m->proj, VTP_LOAD_MATRIX, D, H, "language_projection");
  m->layers = g_new0 (VtpQFormerLayer, q->num_hidden_layers);
  for (gint i = 0; i < q->num_hidden_layers && !l.failed; i++) {
    VtpQFormerLayer *y = &m->layers[i];
    g_autofree char *base = g_strdup_printf ("qformer.encoder.layer.%d", i);
    g_autofree char *self_attn = g_strconcat (base, ".attention", NULL);
    g_autofree char *cross = g_strconcat (base, ".crossattention", NULL);

    load_attention (&l, &y->self_attn, self_attn, H, H);
    y->has_cross = i % q->cross_attention_frequency == 0;
    if (y->has_cross)
      load_attention (&l, &y->cross_attn, cross, H, q->encoder_hidden_size);
    load_ffn (&l, &y->ffn_query, base, "intermediate_query", "output_query", H, I);
    if (q->text_input)
      load_ffn (&l, &y->ffn_text, base, "intermediate", "output", H, I);
  }
  if (l.failed)
    return NULL;
  if (q->text_input) {
    g_autofree char *w = g_strconcat (prefix, "qformer.embeddings.word_embeddings.weight", NULL);
    g_autofree char *p = g_strconcat (prefix, "qformer.embeddings.position_embeddings.weight", NULL);
    if (!(m->word_emb = host_table (c, w, q->vocab_size, H, error))
        || !(m->pos_emb = host_table (c, p, q->max_position_embeddings, H, error)))
      return NULL;
  }
  return g_steal_pointer (&m);
}

typedef struct {
  VtpCheckpoint *c;
  const char *prefix;
  const VtpBlipConfig *cfg;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_qformer_load (a->c, a->prefix, a->cfg, a->dev, a->wtype, error);
}

VtpQFormer *
vtp_qformer_acquire (VtpCheckpoint *c, const char *prefix, const VtpBlipConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, prefix, cfg, dev, wtype };
  g_autofree char *key = g_strdup_printf ("qformer|%p|%s|%s|%d|%d", (void *) dev, c->dir, prefix, wtype,
      cfg->qformer.text_input);
  return vtp_model_cache_acquire (key, load_cached, &a, (GDestroyNotify) vtp_qformer_free, error);
}

void
vtp_qformer_free (VtpQFormer *m)
{
  if (!m)
    return;
  for (gint i = 0; m->layers && i < m->cfg.num_hidden_layers; i++) {
    free_attention (&m->layers[i].self_attn);
    free_attention (&m->layers[i].cross_attn);
    free_ffn (&m->layers[i].ffn_query);
    free_ffn (&m->layers[i].ffn_text);
  }
  g_free (m->layers);
  vtp_tensor_free (m->query_tokens);
  free_affine (&m->emb_ln);
  free_affine (&m->proj);
  if (m->dev)
    vtp_device_unref (m->dev);
  g_free (m);
}

VtpQFormerState *
vtp_qformer_state_new (const VtpQFormer *m, gint n_image, gint max_text, GError **error)
{
  g_autoptr (VtpQFormerState) s = g_new0 (VtpQFormerState, 1);
  const gint64 H = m->cfg.hidden_size, N = m->n_queries + MAX (max_text, 0);
  const gint64 kv_rows = MAX (N, n_image);

  s->max_text = MAX (max_text, 0);
  s->n_image = n_image;
  s->host_rows = g_new (float, MAX (s->max_text, 1) * H);
  if (!(s->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, N, H, error))
      || !(s->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, N, H, error))
      || !(s->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, kv_rows, H, error))
      || !(s->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, kv_rows, H, error))
      || !(s->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, N, H, error))
      || !(s->ffn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, N, m->cfg.intermediate_size, error))
      || !(s->scores = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, (gint64) m->cfg.num_attention_heads * N + VTP_ATTENTION_SCORE_PAD_ROWS, kv_rows,
              error)))
    return NULL;
  return g_steal_pointer (&s);
}

void
vtp_qformer_state_free (VtpQFormerState *s)
{
  if (!s)
    return;
  vtp_tensor_free (s->x);
  vtp_tensor_free (s->q);
  vtp_tensor_free (s->k);
  vtp_tensor_free (s->v);
  vtp_tensor_free (s->attn);
  vtp_tensor_free (s->ffn);
  vtp_tensor_free (s->scores);
  g_free (s->host_rows);
  g_free (s);
}

static float
host_value (const VtpStTensor *t, gsize i)
{
  guint16 h;
  float f;

  if (t->dtype == VTP_DTYPE_F32) {
    memcpy (&f, t->data + 4 * i, 4);
    return f;
  }
  memcpy (&h, t->data + 2 * i, 2);
  return t->dtype == VTP_DTYPE_F16 ? vtp_f16_to_f32 (h) : vtp_bf16_to_f32 (h);
}

/* word_embeddings[id] + position_embeddings[i], as BERT embeds text. */
static gboolean
embed_text (VtpQFormer *m, VtpQFormerState *s, const gint32 *ids, gint n, GError **error)
{
  const gint H = m->cfg.hidden_size;

  for (gint i = 0; i < n; i++) {
    if (ids[i] < 0 || ids[i] >= m->cfg.vocab_size) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Q-Former token id %d is outside its vocabulary of %d",
          ids[i], m->cfg.vocab_size);
      return FALSE;
    }
    for (gint c = 0; c < H; c++)
      s->host_rows[(gsize) i * H + c] = host_value (m->word_emb, (gsize) ids[i] * H + c)
          + host_value (m->pos_emb, (gsize) i * H + c);
  }
  if (!vtp_tensor_write (s->x, (gsize) m->n_queries * H * sizeof (float), s->host_rows,
          (gsize) n * H * sizeof (float), error)) {
    g_prefix_error (error, "Uploading the embeddings of the instruction's %d token%s: ", n, n == 1 ? "" : "s");
    return FALSE;
  }
  return TRUE;
}

/* x[row..row+n) = LN(x + dense(attention(x[row..row+n) over kv_src[0..nk)))). */
static void
attention_block (VtpQFormer *m, VtpQFormerState *s, const VtpQFormerAttention *a, gint n, const VtpTensor *kv_src,
    gint nk)
{
  const gint H = m->cfg.num_attention_heads, d = m->cfg.hidden_size / H;
  const VtpAttention at = { H, H, d, FALSE, 0, 1.0f / sqrtf ((float) d) };

  vtp_op_linear (s->q, 0, s->x, 0, n, a->q.w, a->q.b, FALSE);
  vtp_op_linear (s->k, 0, kv_src, 0, nk, a->k.w, a->k.b, FALSE);
  vtp_op_linear (s->v, 0, kv_src, 0, nk, a->v.w, a->v.b, FALSE);
  vtp_op_attention (s->attn, 0, s->q, 0, n, s->k, s->v, 0, nk, s->scores, &at);
  vtp_op_linear (s->x, 0, s->attn, 0, n, a->o.w, a->o.b, TRUE);
  vtp_op_layernorm (s->x, s->x, 0, n, a->ln.w, a->ln.b, m->cfg.layer_norm_eps);
}

/* x[row..row+n) = LN(x + down(gelu(up(x)))). */
static void
ffn_block (VtpQFormer *m, VtpQFormerState *s, const VtpQFormerFfn *f, gint row, gint n)
{
  vtp_op_linear (s->ffn, 0, s->x, row, n, f->up.w, f->up.b, FALSE);
  vtp_op_gelu_erf (s->ffn, 0, n);
  vtp_op_linear (s->x, row, s->ffn, 0, n, f->down.w, f->down.b, TRUE);
  vtp_op_layernorm (s->x, s->x, row, n, f->ln.w, f->ln.b, m->cfg.layer_norm_eps);
}

gboolean
vtp_qformer_forward (VtpQFormer *m, VtpQFormerState *s, const VtpTensor *image, const gint32 *text_ids,
    gint n_text, VtpTensor *qformer_out, VtpTensor *projected, GError **error)
{
  const gint Q = m->n_queries, H = m->cfg.hidden_size;
  const gint n_img = vtp_tensor_rows (image);
  gint n;

  if (!m->cfg.text_input)
    n_text = 0;
  if (n_text > s->max_text) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The instruction has %d Q-Former tokens, more than the %d "
        "this state holds", n_text, s->max_text);
    return FALSE;
  }
  if (vtp_tensor_cols (image) != m->cfg.encoder_hidden_size || n_img != s->n_image) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "The Q-Former reads [%d, %d] image features, got [%d, %"
        G_GINT64_FORMAT "]", s->n_image, m->cfg.encoder_hidden_size, n_img, vtp_tensor_cols (image));
    return FALSE;
  }
  n = Q + n_text;
  vtp_tensor_copy (s->x, 0, m->query_tokens, 0, (gsize) Q * H * sizeof (float));
  if (n_text > 0 && !embed_text (m, s, text_ids, n_text, error))
    return FALSE;
  vtp_op_layernorm (s->x, s->x, 0, n, m->emb_ln.w, m->emb_ln.b, m->cfg.layer_norm_eps);
  for (gint i = 0; i < m->cfg.num_hidden_layers; i++) {
    const VtpQFormerLayer *y = &m->layers[i];
    attention_block (m, s, &y->self_attn, n, s->x, n);
    if (y->has_cross)
      attention_block (m, s, &y->cross_attn, Q, image, n_img);     /* queries only */
    ffn_block (m, s, &y->ffn_query, 0, Q);
    if (n_text > 0)
      ffn_block (m, s, &y->ffn_text, Q, n_text);
  }
  if (qformer_out)
    vtp_tensor_copy (qformer_out, 0, s->x, 0, (gsize) Q * H * sizeof (float));
  vtp_op_linear (projected, 0, s->x, 0, Q, m->proj.w, m->proj.b, FALSE);
  return vtp_error_take_pending (error);
}
