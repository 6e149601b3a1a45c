#include "vtp-vision.h"
#include "vtp-model-cache.h"
#include "vtp-ops.h"
#include <math.h>

/* HF CLIP names: separate q/k/v projections, out_proj. */
static void
load_clip_attention (VtpLoader *l, gint64 D, const char *att, VtpVisionLayer *y)
{
  y->q_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "%sq_proj.weight", att);
  y->q_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sq_proj.bias", att);
  y->k_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "%sk_proj.weight", att);
  y->k_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sk_proj.bias", att);
  y->v_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "%sv_proj.weight", att);
  y->v_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sv_proj.bias", att);
  y->o_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "%sout_proj.weight", att);
  y->o_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sout_proj.bias", att);
}

/* EVA names: one qkv weight [3D, D] whose thirds are q, k and v, split at
 * load; its bias either as qkv.bias [3D] (transformers 5) or as q_bias and
 * v_bias (the published checkpoints; the key has no bias). */
static void
load_eva_attention (VtpLoader *l, gint64 D, const char *att, VtpVisionLayer *y)
{
  g_autofree char *qkv_bias = g_strconcat (l->prefix, att, "qkv.bias", NULL);

  y->q_w = vtp_loader_get_rows (l, VTP_LOAD_MATRIX, VTP_MAT (3 * D, D), 0, D, "%sqkv.weight", att);
  y->k_w = vtp_loader_get_rows (l, VTP_LOAD_MATRIX, VTP_MAT (3 * D, D), D, D, "%sqkv.weight", att);
  y->v_w = vtp_loader_get_rows (l, VTP_LOAD_MATRIX, VTP_MAT (3 * D, D), 2 * D, D, "%sqkv.weight", att);
  if (vtp_checkpoint_find (l->c, qkv_bias)) {
    y->q_b = vtp_loader_get_rows (l, VTP_LOAD_F32, VTP_VEC (3 * D), 0, D, "%sqkv.bias", att);
    y->k_b = vtp_loader_get_rows (l, VTP_LOAD_F32, VTP_VEC (3 * D), D, D, "%sqkv.bias", att);
    y->v_b = vtp_loader_get_rows (l, VTP_LOAD_F32, VTP_VEC (3 * D), 2 * D, D, "%sqkv.bias", att);
  } else {
    y->q_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sq_bias", att);
    y->v_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sv_bias", att);
  }
  y->o_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, D), "%sprojection.weight", att);
  y->o_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sprojection.bias", att);
}

static void
load_layer (VtpLoader *l, const VtpVisionConfig *cfg, gint i, VtpVisionLayer *y)
{
  const gint64 D = cfg->hidden_size, I = cfg->intermediate_size;
  g_autofree char *lp = g_strdup_printf ("encoder.layers.%d.", i);
  g_autofree char *att = g_strconcat (lp, "self_attn.", NULL), *mlp = g_strconcat (lp, "mlp.", NULL);

  y->ln1_w = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%slayer_norm1.weight", lp);
  y->ln1_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%slayer_norm1.bias", lp);
  if (cfg->flavor == VTP_VISION_EVA)
    load_eva_attention (l, D, att, y);
  else
    load_clip_attention (l, D, att, y);
  y->ln2_w = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%slayer_norm2.weight", lp);
  y->ln2_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%slayer_norm2.bias", lp);
  y->fc1_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "%sfc1.weight", mlp);
  y->fc1_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (I), "%sfc1.bias", mlp);
  y->fc2_w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, I), "%sfc2.weight", mlp);
  y->fc2_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sfc2.bias", mlp);
}

static void
free_layer (VtpVisionLayer *y)
{
  VtpTensor *ts[] = { y->ln1_w, y->ln1_b, y->q_w, y->q_b, y->k_w, y->k_b, y->v_w, y->v_b, y->o_w, y->o_b,
    y->ln2_w, y->ln2_b, y->fc1_w, y->fc1_b, y->fc2_w, y->fc2_b };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (ts[i]);
}

VtpVisionTower *
vtp_vision_tower_load (VtpCheckpoint *c, const char *prefix, const VtpVisionConfig *cfg,
    const VtpVisionFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpVisionTower) m = g_new0 (VtpVisionTower, 1);
  VtpLoader l = { c, dev, wtype, prefix, error, FALSE };
  const gint64 D = cfg->hidden_size, p = cfg->patch_size;
  gint deepest = 0;

  m->cfg = *cfg;
  m->features = *features;
  m->dev = vtp_device_ref (dev);
  m->n_tokens = (cfg->image_size / cfg->patch_size) * (cfg->image_size / cfg->patch_size) + 1;
  for (gint i = 0; i < features->n_layers; i++) {
    if (features->layers[i] < 0 || features->layers[i] > cfg->num_hidden_layers) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "Vision feature layer %d is outside the %d hidden "
          "states of the %d-layer tower", features->layers[i], cfg->num_hidden_layers + 1, cfg->num_hidden_layers);
      return NULL;
    }
    deepest = MAX (deepest, features->layers[i]);
  }
  if (features->post_norm && features->n_layers != 1) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "The post-LayerNorm applies to one feature layer, not %d",
        features->n_layers);
    return NULL;
  }
  m->patch_w = vtp_loader_get (&l, VTP_LOAD_MATRIX, 4, (gint64[]) { D, 3, p, p }, "embeddings.patch_embedding.weight");
  m->class_emb = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "embeddings.class_embedding");
  if (cfg->flavor == VTP_VISION_EVA) {
    /* a bare parameter [1, T, D], no ".weight" */
    m->patch_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "embeddings.patch_embedding.bias");
    m->pos_emb = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (m->n_tokens, D), "embeddings.position_embedding");
  } else {
    m->pos_emb = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (m->n_tokens, D), "embeddings.position_embedding.weight");
    m->pre_ln_w = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "pre_layrnorm.weight");
    m->pre_ln_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "pre_layrnorm.bias");
  }
  if (features->post_norm) {
    m->post_ln_w = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "post_layernorm.weight");
    m->post_ln_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "post_layernorm.bias");
  }
  m->layers = g_new0 (VtpVisionLayer, deepest);
  m->n_layers = deepest;
  for (gint i = 0; i < deepest && !l.failed; i++)
    load_layer (&l, cfg, i, &m->layers[i]);
  return l.failed ? NULL : g_steal_pointer (&m);
}

typedef struct {
  VtpCheckpoint *c;
  const char *prefix;
  const VtpVisionConfig *cfg;
  const VtpVisionFeatures *features;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_vision_tower_load (a->c, a->prefix, a->cfg, a->features, a->dev, a->wtype, error);
}

VtpVisionTower *
vtp_vision_tower_acquire (VtpCheckpoint *c, const char *prefix, const VtpVisionConfig *cfg,
    const VtpVisionFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, prefix, cfg, features, dev, wtype };
  g_autoptr (GString) key = g_string_new (NULL);

  g_string_printf (key, "vision|%p|%s|%s|%d|%d|%d|", (void *) dev, c->dir, prefix, wtype, features->keep_cls,
      features->post_norm);
  for (gint i = 0; i < features->n_layers; i++)
    g_string_append_printf (key, "%d,", features->layers[i]);
  return vtp_model_cache_acquire (key->str, load_cached, &a, (GDestroyNotify) vtp_vision_tower_free, error);
}

void
vtp_vision_tower_free (VtpVisionTower *m)
{
  if (!m)
    return;
  for (gint i = 0; i < m->n_layers && m->layers; i++)
    free_layer (&m->layers[i]);
  g_free (m->layers);
  vtp_tensor_free (m->patch_w);
  vtp_tensor_free (m->patch_b);
  vtp_tensor_free (m->class_emb);
  vtp_tensor_free (m->pos_emb);
  vtp_tensor_free (m->pre_ln_w);
  vtp_tensor_free (m->pre_ln_b);
  vtp_tensor_free (m->post_ln_w);
  vtp_tensor_free (m->post_ln_b);
  if (m->dev)
    vtp_device_unref (m->dev);
  g_free (m);
}

gint
vtp_vision_tower_feature_rows (const VtpVisionTower *m)
{
  return m->features.keep_cls ? m->n_tokens : m->n_tokens - 1;
}

gint
vtp_vision_tower_feature_width (const VtpVisionTower *m)
{
  return m->features.n_layers * m->cfg.hidden_size;
}

VtpVisionState *
vtp_vision_state_new (const VtpVisionTower *m, GError **error)
{
  g_autoptr (VtpVisionState) s = g_new0 (VtpVisionState, 1);
  const gint64 T = m->n_tokens, D = m->cfg.hidden_size, S = m->cfg.image_size, p = m->cfg.patch_size;

  if (!(s->pixels = vtp_tensor_new (m->dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, S, S }, error))
      || !(s->cols = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T - 1, 3 * p * p, error))
      || !(s->patches = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T - 1, D, error))
      || !(s->h = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, D, error))
      || !(s->mlp = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T, m->cfg.intermediate_size, error))
      || !(s->scores = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, m->cfg.num_attention_heads * T, T, error)))
    return NULL;
  return g_steal_pointer (&s);
}

void
vtp_vision_state_free (VtpVisionState *s)
{
  VtpTensor **ts[] = { &s->pixels, &s->cols, &s->patches, &s->h, &s->x, &s->q, &s->k, &s->v, &s->attn,
    &s->mlp, &s->scores };
  if (!s)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (*ts[i]);
  g_free (s);
}

static void
embed (VtpVisionTower *m, VtpVisionState *s)
{
  const gint T = m->n_tokens;
  vtp_op_im2col_patches (s->cols, s->pixels, m->cfg.patch_size);
  vtp_op_linear (s->patches, 0, s->cols, 0, T - 1, m->patch_w, m->patch_b, FALSE);
  vtp_op_vit_assemble (s->h, s->patches, m->class_emb, m->pos_emb);
  if (m->pre_ln_w)
    vtp_op_layernorm (s->h, s->h, 0, T, m->pre_ln_w, m->pre_ln_b, m->cfg.layer_norm_eps);
}

static void
encoder_layer (VtpVisionTower *m, VtpVisionState *s, const VtpVisionLayer *y)
{
  const gint T = m->n_tokens, H = m->cfg.num_attention_heads, d = m->cfg.hidden_size / H;
  const VtpAttention a = { H, H, d, FALSE, 0, 1.0f / sqrtf ((float) d) };
  const float eps = m->cfg.layer_norm_eps;

  vtp_op_layernorm (s->x, s->h, 0, T, y->ln1_w, y->ln1_b, eps);
  vtp_op_linear (s->q, 0, s->x, 0, T, y->q_w, y->q_b, FALSE);
  vtp_op_linear (s->k, 0, s->x, 0, T, y->k_w, y->k_b, FALSE);
  vtp_op_linear (s->v, 0, s->x, 0, T, y->v_w, y->v_b, FALSE);
  vtp_op_attention (s->attn, 0, s->q, 0, T, s->k, s->v, 0, T, s->scores, &a);
  vtp_op_linear (s->h, 0, s->attn, 0, T, y->o_w, y->o_b, TRUE);         /* h += out_proj(attn) */

  vtp_op_layernorm (s->x, s->h, 0, T, y->ln2_w, y->ln2_b, eps);
  vtp_op_linear (s->mlp, 0, s->x, 0, T, y->fc1_w, y->fc1_b, FALSE);
  if (m->cfg.hidden_act == VTP_ACT_QUICK_GELU)
    vtp_op_quick_gelu (s->mlp, 0, T);
  else
    vtp_op_gelu_erf (s->mlp, 0, T);
  vtp_op_linear (s->h, 0, s->mlp, 0, T, y->fc2_w, y->fc2_b, TRUE);      /* h += fc2(act(fc1(.))) */
}

/* Copies hidden state @index (now in s->h) into its column block of @features. */
static void
select_features (VtpVisionTower *m, VtpVisionState *s, gint index, VtpTensor *features)
{
  const gint D = m->cfg.hidden_size, skip = m->features.keep_cls ? 0 : 1;
  const gint rows = m->n_tokens - skip;

  for (gint i = 0; i < m->features.n_layers; i++)
    if (m->features.layers[i] == index) {
      vtp_tensor_copy_rect (features, 0, i * D, s->h, skip, 0, rows, D);
      if (m->features.post_norm)
        vtp_op_layernorm (features, features, 0, rows, m->post_ln_w, m->post_ln_b, m->cfg.layer_norm_eps);
    }
}

static void
forward (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features, VtpTensor *hidden)
{
  const gint T = m->n_tokens, D = m->cfg.hidden_size;
  const gsize state_bytes = (gsize) T * D * sizeof (float);

  embed (m, s);
  for (gint i = 0; i <= m->n_layers; i++) {
    if (i > 0)
      encoder_layer (m, s, &m->layers[i - 1]);
    if (hidden)
      vtp_tensor_copy (hidden, (gsize) i * state_bytes, s->h, 0, state_bytes);
    select_features (m, s, i, features);
  }
}

void
vtp_vision_tower_forward (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features)
{
  forward (m, s, features, NULL);
}

void
vtp_vision_tower_forward_all (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features, VtpTensor *hidden)
{
  forward (m, s, features, hidden);
}
