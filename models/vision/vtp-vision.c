#include "vtp-vision.h"
#include "vtp-model-cache.h"
#include "vtp-ops.h"
#include <math.h>

/* Where each flavor keeps its tensors (after the checkpoint's prefix). */
typedef struct {
  const char *patch_w, *patch_b, *class_emb, *pos_emb, *pre_ln, *post_ln, *proj;
  const char *layer;                    /* printf format of a layer's prefix */
  const char *ln1, *ln2, *fc1, *fc2;
  const char *q, *k, *v;                /* separate projections (prefix of .weight/.bias), or NULL */
  const char *qkv_w, *qkv_b;            /* one fused [3D, D] weight and its bias, q/k/v thirds */
  const char *out;
} Names;

static const Names clip_names = {
  "embeddings.patch_embedding.weight", NULL, "embeddings.class_embedding", "embeddings.position_embedding.weight",
  "pre_layrnorm", "post_layernorm", NULL,
  "encoder.layers.%d.", "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2",
  "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", NULL, NULL, "self_attn.out_proj",
};

/* BLIP's EVA: patch bias, bare position parameter, no pre-LN, fused qkv. */
static const Names eva_names = {
  "embeddings.patch_embedding.weight", "embeddings.patch_embedding.bias", "embeddings.class_embedding",
  "embeddings.position_embedding", NULL, "post_layernorm", NULL,
  "encoder.layers.%d.", "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2",
  NULL, NULL, NULL, "self_attn.qkv.weight", "self_attn.qkv.bias", "self_attn.projection",
};

/* OpenAI's CLIP package (visual.*): fused in_proj, ln_post, proj [D, out]. */
static const Names openai_names = {
  "conv1.weight", NULL, "class_embedding", "positional_embedding", "ln_pre", "ln_post", "proj",
  "transformer.resblocks.%d.", "ln_1", "ln_2", "mlp.c_fc", "mlp.c_proj",
  NULL, NULL, NULL, "attn.in_proj_weight", "attn.in_proj_bias", "attn.out_proj",
};

/* timm's Block, as in LLaMA-Adapter V2's visual_blocks.N (blocks only). */
static const Names timm_names = {
  NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  "%d.", "norm1", "norm2", "mlp.fc1", "mlp.fc2",
  NULL, NULL, NULL, "attn.qkv.weight", "attn.qkv.bias", "attn.proj",
};

static const Names *
flavor_names (VtpVisionFlavor f)
{
  switch (f) {
    case VTP_VISION_EVA: return &eva_names;
    case VTP_VISION_OPENAI: return &openai_names;
    case VTP_VISION_TIMM: return &timm_names;
    default: return &clip_names;
  }
}

static void
load_affine (VtpLoader *l, VtpTensor **w, VtpTensor **b, gint64 rows, gint64 cols, const char *lp, const char *name)
{
  if (cols)
    *w = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (rows, cols), "%s%s.weight", lp, name);
  else
    *w = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (rows), "%s%s.weight", lp, name);
  *b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (rows), "%s%s.bias", lp, name);
}

/* A fused qkv weight [3D, D] split into its q, k and v thirds at load; its
 * bias [3D] likewise, or (the published BLIP checkpoints, LAVIS form) as
 * q_bias and v_bias, the key having none. */
static void
load_fused_attention (VtpLoader *l, const Names *n, gint64 D, const char *lp, VtpVisionLayer *y)
{
  g_autofree char *bias = g_strconcat (l->prefix, lp, n->qkv_b, NULL);
  VtpTensor **w[3] = { &y->q_w, &y->k_w, &y->v_w }, **b[3] = { &y->q_b, &y->k_b, &y->v_b };

  for (gint t = 0; t < 3; t++)
    *w[t] = vtp_loader_get_rows (l, VTP_LOAD_MATRIX, VTP_MAT (3 * D, D), t * D, D, "%s%s", lp, n->qkv_w);
  if (vtp_checkpoint_find (l->c, bias))
    for (gint t = 0; t < 3; t++)
      *b[t] = vtp_loader_get_rows (l, VTP_LOAD_F32, VTP_VEC (3 * D), t * D, D, "%s%s", lp, n->qkv_b);
  else {
    y->q_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sself_attn.q_bias", lp);
    y->v_b = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "%sself_attn.v_bias", lp);
  }
}

void
vtp_vision_layer_load (VtpLoader *l, const VtpVisionConfig *cfg, gint i, VtpVisionLayer *y)
{
  const Names *n = flavor_names (cfg->flavor);
  const gint64 D = cfg->hidden_size, I = cfg->intermediate_size;
  g_autofree char *lp = g_strdup_printf (n->layer, i);

  load_affine (l, &y->ln1_w, &y->ln1_b, D, 0, lp, n->ln1);
  if (n->qkv_w)
    load_fused_attention (l, n, D, lp, y);
  else {
    load_affine (l, &y->q_w, &y->q_b, D, D, lp, n->q);
    load_affine (l, &y->k_w, &y->k_b, D, D, lp, n->k);
    load_affine (l, &y->v_w, &y->v_b, D, D, lp, n->v);
  }
  load_affine (l, &y->o_w, &y->o_b, D, D, lp, n->out);
  load_affine (l, &y->ln2_w, &y->ln2_b, D, 0, lp, n->ln2);
  load_affine (l, &y->fc1_w, &y->fc1_b, I, D, lp, n->fc1);
  load_affine (l, &y->fc2_w, &y->fc2_b, D, I, lp, n->fc2);
}

void
vtp_vision_layer_clear (VtpVisionLayer *y)
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
  const Names *n = flavor_names (cfg->flavor);
  const gint64 D = cfg->hidden_size, p = cfg->patch_size;
  gint deepest = 0;

  m->cfg = *cfg;
  m->features = *features;
  m->dev = vtp_device_ref (dev);
  /* in 64 bits: the config's checks keep the count within an int */
  m->n_tokens = (gint) ((gint64) (cfg->image_size / cfg->patch_size) * (cfg->image_size / cfg->patch_size) + 1);
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
  if (features->projection && !n->proj) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "This vision tower has no visual projection to apply");
    return NULL;
  }
  m->patch_w = vtp_loader_get (&l, VTP_LOAD_MATRIX, 4, (gint64[]) { D, 3, p, p }, "%s", n->patch_w);
  if (n->patch_b)
    m->patch_b = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "%s", n->patch_b);
  m->class_emb = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "%s", n->class_emb);
  m->pos_emb = vtp_loader_get (&l, VTP_LOAD_F32, VTP_MAT (m->n_tokens, D), "%s", n->pos_emb);
  if (n->pre_ln)
    load_affine (&l, &m->pre_ln_w, &m->pre_ln_b, D, 0, "", n->pre_ln);
  if (features->post_norm)
    load_affine (&l, &m->post_ln_w, &m->post_ln_b, D, 0, "", n->post_ln);
  if (features->projection)
    m->proj = vtp_loader_get (&l, VTP_LOAD_MATRIX_T, VTP_MAT (D, cfg->projection_dim), "%s", n->proj);
  m->layers = g_new0 (VtpVisionLayer, deepest);
  m->n_layers = deepest;
  for (gint i = 0; i < deepest && !l.failed; i++)
    vtp_vision_layer_load (&l, cfg, i, &m->layers[i]);
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

  g_string_printf (key, "vision|%p|%s|%s|%d|%d|%d|%d|", (void *) dev, c->dir, prefix, wtype, features->keep_cls,
      features->post_norm, features->projection);
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
    vtp_vision_layer_clear (&m->layers[i]);
  g_free (m->layers);
  vtp_tensor_free (m->patch_w);
  vtp_tensor_free (m->patch_b);
  vtp_tensor_free (m->class_emb);
  vtp_tensor_free (m->pos_emb);
  vtp_tensor_free (m->pre_ln_w);
  vtp_tensor_free (m->pre_ln_b);
  vtp_tensor_free (m->post_ln_w);
  vtp_tensor_free (m->post_ln_b);
  vtp_tensor_free (m->proj);
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
  return m->features.projection ? m->cfg.projection_dim : m->features.n_layers * m->cfg.hidden_size;
}

/* Activations for @rows rows of tokens (several images' T tokens one after
 * the other), attention scores for @T of them (one image at a time). */
static VtpVisionState *
blocks_state_new (VtpDevice *dev, const VtpVisionConfig *cfg, gint64 rows, gint64 T, GError **error)
{
  g_autoptr (VtpVisionState) s = g_new0 (VtpVisionState, 1);
  const gint64 D = cfg->hidden_size;

  if (!(s->h = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->x = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->q = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->k = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->v = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->attn = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, D, error))
      || !(s->mlp = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, cfg->intermediate_size, error))
      || !(s->scores = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, (gint64) cfg->num_attention_heads * T + VTP_ATTENTION_SCORE_PAD_ROWS,
              T, error)))
    return NULL;
  s->n_images = 1;
  return g_steal_pointer (&s);
}

VtpVisionState *
vtp_vision_blocks_state_new (VtpDevice *dev, const VtpVisionConfig *cfg, gint T, GError **error)
{
  return blocks_state_new (dev, cfg, T, T, error);
}

VtpVisionState *
vtp_vision_state_new_many (const VtpVisionTower *m, gint n_images, GError **error)
{
  const gint64 T = m->n_tokens, D = m->cfg.hidden_size, S = m->cfg.image_size, p = m->cfg.patch_size;
  g_autoptr (VtpVisionState) s = NULL;

  g_return_val_if_fail (n_images >= 1, NULL);
  if (!(s = blocks_state_new (m->dev, &m->cfg, T * n_images, T, error))
      || !(s->pixels = vtp_tensor_new (m->dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, S, S }, error))
      || !(s->cols = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T - 1, 3 * p * p, error))
      || !(s->patches = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, T - 1, D, error)))
    return NULL;
  s->n_images = n_images;
  return g_steal_pointer (&s);
}

VtpVisionState *
vtp_vision_state_new (const VtpVisionTower *m, GError **error)
{
  return vtp_vision_state_new_many (m, 1, error);
}

void
vtp_vision_state_free (VtpVisionState *s)
{
  /* (the addresses of a NULL state's members are undefined behaviour
   * already: the check comes first) */
  if (!s)
    return;
  {
    VtpTensor *ts[] = { s->pixels, s->cols, s->patches, s->h, s->x, s->q, s->k, s->v, s->attn, s->mlp,
      s->scores };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      vtp_tensor_free (ts[i]);
  }
  g_free (s);
}

/* Image @i's patches and position embeddings into its rows of s->h (the
 * pre-LayerNorm comes after, over all images' rows). */
static void
embed (VtpVisionTower *m, VtpVisionState *s, const VtpTensor *pixels, gint i)
{
  const gint T = m->n_tokens;
  vtp_op_im2col_patches (s->cols, pixels, m->cfg.patch_size);
  vtp_op_linear (s->patches, 0, s->cols, 0, T - 1, m->patch_w, m->patch_b, FALSE);
  vtp_op_vit_assemble (s->h, (gint64) i * T, s->patches, m->class_emb, m->pos_emb);
}

/* One pre-LN block over @n images of @T tokens each (rows [0, n T) of
 * s->h, in place): the products over all rows at once, attention image by
 * image. */
static void
blocks_forward (const VtpVisionConfig *cfg, const VtpVisionLayer *y, VtpVisionState *s, gint T, gint n)
{
  const gint H = cfg->num_attention_heads, d = cfg->hidden_size / H;
  const VtpAttention a = { H, H, d, FALSE, 0, 1.0f / sqrtf ((float) d), NULL, 0, y->q_w->dtype == VTP_DTYPE_BF16 };
  const float eps = cfg->layer_norm_eps;
  const gint64 R = (gint64) n * T;

  vtp_op_layernorm (s->x, s->h, 0, R, y->ln1_w, y->ln1_b, eps);
  {
    const VtpLinearOut qkv[3] = { { s->q, 0, y->q_w, y->q_b }, { s->k, 0, y->k_w, y->k_b },
        { s->v, 0, y->v_w, y->v_b } };
    vtp_op_linear_multi (s->x, 0, R, qkv, 3);
  }
  for (gint i = 0; i < n; i++)
    vtp_op_attention (s->attn, (gint64) i * T, s->q, (gint64) i * T, T, s->k, s->v, (gint64) i * T, T, s->scores,
        &a);
  vtp_op_linear (s->h, 0, s->attn, 0, R, y->o_w, y->o_b, TRUE);         /* h += out_proj(attn) */

  vtp_op_layernorm (s->x, s->h, 0, R, y->ln2_w, y->ln2_b, eps);
  vtp_op_linear (s->mlp, 0, s->x, 0, R, y->fc1_w, y->fc1_b, FALSE);
  vtp_activation_apply (cfg->hidden_act, s->mlp, 0, R);
  vtp_op_linear (s->h, 0, s->mlp, 0, R, y->fc2_w, y->fc2_b, TRUE);      /* h += fc2(act(fc1(.))) */
}

void
vtp_vision_block_forward (const VtpVisionConfig *cfg, const VtpVisionLayer *y, VtpVisionState *s, gint T)
{
  blocks_forward (cfg, y, s, T, 1);
}

/* Copies hidden state @index (now in image @image's rows of s->h) into
 * its column block of @features. */
static void
select_features (VtpVisionTower *m, VtpVisionState *s, gint index, gint image, VtpTensor *features)
{
  const gint D = m->cfg.hidden_size, skip = m->features.keep_cls ? 0 : 1;
  const gint rows = m->n_tokens - skip;
  const gint64 row0 = (gint64) image * m->n_tokens + skip;

  for (gint i = 0; i < m->features.n_layers; i++)
    if (m->features.layers[i] == index) {
      if (m->features.projection) {
        /* LLaMA-Adapter's choice: post-LN on the tokens, then the projection */
        vtp_op_layernorm (s->x, s->h, row0, rows, m->post_ln_w, m->post_ln_b, m->cfg.layer_norm_eps);
        vtp_op_linear (features, 0, s->x, row0, rows, m->proj, NULL, FALSE);
        continue;
      }
      vtp_tensor_copy_rect (features, 0, i * D, s->h, row0, 0, rows, D);
      if (m->features.post_norm)
        vtp_op_layernorm (features, features, 0, rows, m->post_ln_w, m->post_ln_b, m->cfg.layer_norm_eps);
    }
}

/* @n images (pixels[i] -> features[i]); @hidden: every hidden state of
 * the first, or NULL. */
static void
forward (VtpVisionTower *m, VtpVisionState *s, VtpTensor *const *pixels, VtpTensor *const *features, gint n,
    VtpTensor *hidden)
{
  const gint T = m->n_tokens, D = m->cfg.hidden_size;
  const gsize state_bytes = (gsize) T * D * sizeof (float);

  if (n < 1 || n > s->n_images) {
    vtp_error_set_pending (VTP_ERROR_INPUT, "vision tower: %d images for a state made for 1 to %d", n,
        s->n_images);
    return;
  }
  for (gint j = 0; j < n; j++)
    embed (m, s, pixels[j], j);
  if (m->pre_ln_w)
    vtp_op_layernorm (s->h, s->h, 0, (gint64) n * T, m->pre_ln_w, m->pre_ln_b, m->cfg.layer_norm_eps);
  for (gint i = 0; i <= m->n_layers; i++) {
    if (i > 0)
      blocks_forward (&m->cfg, &m->layers[i - 1], s, T, n);
    if (hidden)
      vtp_tensor_copy (hidden, (gsize) i * state_bytes, s->h, 0, state_bytes);
    for (gint j = 0; j < n; j++)
      select_features (m, s, i, j, features[j]);
  }
}

void
vtp_vision_tower_forward_many (VtpVisionTower *m, VtpVisionState *s, VtpTensor *const *pixels,
    VtpTensor *const *features, gint n)
{
  forward (m, s, pixels, features, n, NULL);
}

void
vtp_vision_tower_forward (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features)
{
  forward (m, s, &s->pixels, &features, 1, NULL);
}

void
vtp_vision_tower_forward_all (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features, VtpTensor *hidden)
{
  forward (m, s, &s->pixels, &features, 1, hidden);
}
