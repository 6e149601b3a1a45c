#include "vtp-llama.h"
#include "vtp-decode-step.h"
#include "vtp-model-cache.h"
#include <math.h>
#include <string.h>

gboolean
vtp_llama_find_names (VtpCheckpoint *c, const VtpLlamaConfig *cfg, VtpLlamaNames *names, GError **error)
{
  static const char *const models[] = { "language_model.model.", "model.language_model.", "model.",
    "language_model.", NULL };
  static const char *const heads[] = { "language_model.lm_head.weight", "lm_head.weight", NULL };

  memset (names, 0, sizeof *names);
  if (vtp_checkpoint_find (c, "tok_embeddings.weight")) {
    names->model_prefix = "";
    names->lm_head = cfg->tie_word_embeddings ? NULL : "output.weight";
    names->meta = TRUE;
    return TRUE;
  }
  names->model_prefix = vtp_checkpoint_find_prefix (c, models, "embed_tokens.weight", "language model", error);
  if (!names->model_prefix)
    return FALSE;
  for (guint i = 0; heads[i]; i++)
    if (vtp_checkpoint_find (c, heads[i]))
      names->lm_head = heads[i];
  if (!names->lm_head && !cfg->tie_word_embeddings) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s has no lm_head.weight (nor language_model.lm_head.weight) "
        "and config.json does not tie the word embeddings", c->dir);
    return FALSE;
  }
  if (cfg->tie_word_embeddings)
    names->lm_head = NULL;
  return TRUE;
}

/* Layer tensor names (between "layers.%d." and ".weight"), HF and Meta. */
typedef enum { N_ATTN_NORM, N_FFN_NORM, N_Q, N_K, N_V, N_O, N_GATE, N_UP, N_DOWN, N_EMBED, N_NORM } NameRole;

static const char *const hf_names[] = { "input_layernorm", "post_attention_layernorm", "self_attn.q_proj",
  "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj",
  "embed_tokens", "norm" };
static const char *const meta_names[] = { "attention_norm", "ffn_norm", "attention.wq", "attention.wk",
  "attention.wv", "attention.wo", "feed_forward.w1", "feed_forward.w3", "feed_forward.w2", "tok_embeddings",
  "norm" };

const char *
vtp_llama_tensor_name (const VtpLlamaNames *names, gint role)
{
  return (names->meta ? meta_names : hf_names)[role];
}

static void
load_layer (VtpLoader *l, const VtpLlamaNames *names, const VtpLlamaConfig *cfg, gint i, VtpLlamaLayer *y)
{
  const char *const *n = names->meta ? meta_names : hf_names;
  const gint64 D = cfg->hidden_size, I = cfg->intermediate_size;
  const gint64 QD = (gint64) cfg->num_attention_heads * cfg->head_dim;
  const gint64 KD = (gint64) cfg->num_key_value_heads * cfg->head_dim;

  y->attn_norm = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.%s.weight", i, n[N_ATTN_NORM]);
  y->wq = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (QD, D), "layers.%d.%s.weight", i, n[N_Q]);
  y->wk = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (KD, D), "layers.%d.%s.weight", i, n[N_K]);
  y->wv = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (KD, D), "layers.%d.%s.weight", i, n[N_V]);
  y->wo = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, QD), "layers.%d.%s.weight", i, n[N_O]);
  if (cfg->attention_bias || cfg->qkv_bias) {
    y->bq = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (QD), "layers.%d.%s.bias", i, n[N_Q]);
    y->bk = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (KD), "layers.%d.%s.bias", i, n[N_K]);
    y->bv = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (KD), "layers.%d.%s.bias", i, n[N_V]);
  }
  if (cfg->attention_bias)
    y->bo = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.%s.bias", i, n[N_O]);
  y->ffn_norm = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.%s.weight", i, n[N_FFN_NORM]);
  y->w_gate = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "layers.%d.%s.weight", i, n[N_GATE]);
  y->w_up = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (I, D), "layers.%d.%s.weight", i, n[N_UP]);
  y->w_down = vtp_loader_get (l, VTP_LOAD_MATRIX, VTP_MAT (D, I), "layers.%d.%s.weight", i, n[N_DOWN]);
  if (cfg->mlp_bias) {
    y->b_gate = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (I), "layers.%d.%s.bias", i, n[N_GATE]);
    y->b_up = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (I), "layers.%d.%s.bias", i, n[N_UP]);
    y->b_down = vtp_loader_get (l, VTP_LOAD_F32, VTP_VEC (D), "layers.%d.%s.bias", i, n[N_DOWN]);
  }
}

static void
free_layer (VtpLlamaLayer *y)
{
  VtpTensor *ts[] = { y->attn_norm, y->ffn_norm, y->wq, y->wk, y->wv, y->wo, y->bq, y->bk, y->bv, y->bo,
    y->w_gate, y->w_up, y->w_down, y->b_gate, y->b_up, y->b_down };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    vtp_tensor_free (ts[i]);
  for (gint p = 0; p < VTP_N_PROJ; p++) {
    vtp_tensor_free (y->lora_a[p]);
    vtp_tensor_free (y->lora_b[p]);
  }
}

/* Llama 3.1's scaling of @f[@n] (transformers' _compute_llama3_parameters,
 * step by step in float as torch runs it): long wavelengths slowed by the
 * factor, short ones kept, a linear blend in between. */
static void
rope_llama3_scale (const VtpLlamaConfig *cfg, float *f, gint n)
{
  const float old_len = (float) cfg->rope_original_max_positions;
  const float low_wavelen = old_len / cfg->rope_low_freq_factor, high_wavelen = old_len / cfg->rope_high_freq_factor;

  for (gint j = 0; j < n; j++) {
    const float wavelen = (float) (2 * G_PI) / f[j];
    const float scaled = wavelen > low_wavelen ? f[j] / cfg->rope_factor : f[j];
    if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
      const float smooth = (old_len / wavelen - cfg->rope_low_freq_factor)
          / (cfg->rope_high_freq_factor - cfg->rope_low_freq_factor);
      f[j] = (1.0f - smooth) * scaled / cfg->rope_factor + smooth * scaled;
    } else {
      f[j] = scaled;
    }
  }
}

/* The frequencies over llama.cpp's divisors in @c's rope_freqs.weight
 * (a GGUF of a Llama 3.1 model): [n] F32, each positive. */
static gboolean
rope_divide_by_tensor (VtpCheckpoint *c, float *f, gint n, GError **error)
{
  const gint64 shape[1] = { n };
  const VtpStTensor *t = vtp_checkpoint_get (c, "rope_freqs.weight", 1, shape, error);
  g_autofree float *div = t ? vtp_st_tensor_to_f32 (t, error) : NULL;

  if (!div)
    return FALSE;
  for (gint j = 0; j < n; j++) {
    if (!(div[j] > 0.0f) || !isfinite (div[j])) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: rope_freqs.weight[%d] is %g; the RoPE frequency "
          "divisors must be positive", c->dir, j, div[j]);
      return FALSE;
    }
    f[j] /= div[j];
  }
  return TRUE;
}

/* inv_freq[j] = 1 / theta^(2j / d), in float as transformers computes it,
 * then Llama 3.1's scaling when the config has it. */
static VtpTensor *
rope_inv_freq (VtpCheckpoint *c, VtpDevice *dev, const VtpLlamaConfig *cfg, GError **error)
{
  const gint d = cfg->head_dim;
  g_autofree float *f = g_new (float, d / 2);
  gint64 n = d / 2;
  VtpTensor *t;

  for (gint j = 0; j < d / 2; j++)
    f[j] = 1.0f / powf (cfg->rope_theta, (float) (2 * j) / (float) d);
  if (cfg->rope_llama3 && cfg->rope_freqs_tensor) {
    if (!rope_divide_by_tensor (c, f, d / 2, error))
      return NULL;
  } else if (cfg->rope_llama3) {
    rope_llama3_scale (cfg, f, d / 2);
  }
  if (!(t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 1, &n, f, error)))
    g_prefix_error (error, "The rotary embedding's frequencies: ");
  return t;
}

VtpLlama *
vtp_llama_load (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpCheckpoint *adapter, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  g_autoptr (VtpLlama) m = g_new0 (VtpLlama, 1);
  VtpLoader l = { c, dev, wtype, names->model_prefix, error, FALSE };
  g_autofree char *embed_name = g_strconcat (names->model_prefix, vtp_llama_tensor_name (names, N_EMBED),
      ".weight", NULL);
  const gint64 V = cfg->vocab_size, D = cfg->hidden_size;

  m->cfg = *cfg;
  vtp_lm_device_table_init (&m->device_embed);
  m->rope_layout = names->meta && !cfg->rope_neox ? VTP_ROPE_INTERLEAVED : VTP_ROPE_HALF;
  m->dev = vtp_device_ref (dev);
  m->ckpt = vtp_checkpoint_ref (c);
  m->embed = vtp_checkpoint_find (c, embed_name);
  if (!vtp_lm_check_embed_table (m->embed, embed_name, c->dir, V, D, error))
    return NULL;
  m->layers = g_new0 (VtpLlamaLayer, cfg->num_hidden_layers);
  for (gint i = 0; i < cfg->num_hidden_layers && !l.failed; i++)
    load_layer (&l, names, cfg, i, &m->layers[i]);
  m->norm = vtp_loader_get (&l, VTP_LOAD_F32, VTP_VEC (D), "norm.weight");
  if (l.failed)
    return NULL;
  l.prefix = "";
  m->lm_head = vtp_loader_get (&l, VTP_LOAD_MATRIX, VTP_MAT (V, D), "%s", names->lm_head ? names->lm_head : embed_name);
  if (l.failed || !(m->inv_freq = rope_inv_freq (c, dev, cfg, error))
      || (adapter && !vtp_llama_adapter_load (m, adapter, names, wtype, error)))
    return NULL;
  return g_steal_pointer (&m);
}

typedef struct {
  VtpCheckpoint *c;
  const VtpLlamaNames *names;
  const VtpLlamaConfig *cfg;
  VtpCheckpoint *adapter;
  VtpDevice *dev;
  VtpWeightType wtype;
} LoadArgs;

static gpointer
load_cached (gpointer data, GError **error)
{
  LoadArgs *a = data;
  return vtp_llama_load (a->c, a->names, a->cfg, a->adapter, a->dev, a->wtype, error);
}

VtpLlama *
vtp_llama_acquire (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpCheckpoint *adapter, VtpDevice *dev, VtpWeightType wtype, GError **error)
{
  LoadArgs a = { c, names, cfg, adapter, dev, wtype };
  g_autofree char *key = g_strdup_printf ("llama|%p|%s|%d|%d|%s", (void *) dev, c->dir, wtype,
      cfg->num_hidden_layers, adapter ? adapter->dir : "");
  return vtp_model_cache_acquire (key, load_cached, &a, (GDestroyNotify) vtp_llama_free, error);
}

void
vtp_llama_free (VtpLlama *m)
{
  if (!m)
    return;
  for (gint i = 0; m->layers && i < m->cfg.num_hidden_layers; i++)
    free_layer (&m->layers[i]);
  g_free (m->layers);
  vtp_lm_device_table_clear (&m->device_embed);
  vtp_tensor_free (m->norm);
  vtp_tensor_free (m->lm_head);
  vtp_tensor_free (m->inv_freq);
  vtp_llama_adapter_free (m->adapter);
  if (m->ckpt)
    vtp_checkpoint_unref (m->ckpt);
  if (m->dev)
    vtp_device_unref (m->dev);
  g_free (m);
}

VtpLlamaState *
vtp_llama_state_new (VtpLlama *m, gint max_ctx, gint max_chunk, GError **error)
{
  return vtp_llama_state_new_kv (m, max_ctx, max_chunk, VTP_DTYPE_F32, error);
}

VtpLlamaState *
vtp_llama_state_new_kv (VtpLlama *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error)
{
  g_autoptr (VtpLlamaState) s = g_new0 (VtpLlamaState, 1);
  const VtpLlamaConfig *c = &m->cfg;
  const gint64 D = c->hidden_size, QD = (gint64) c->num_attention_heads * c->head_dim;
  const gint64 KD = (gint64) c->num_key_value_heads * c->head_dim;

  if (!vtp_kv_cache_check (kv_dtype, c->num_key_value_heads, c->head_dim, error))
    return NULL;
  max_chunk = MAX (1, MIN (max_chunk, max_ctx));
  s->max_ctx = max_ctx;
  s->kv_dtype = kv_dtype;
  s->model = m;
  s->max_chunk = max_chunk;
  s->n_layers = c->num_hidden_layers;
  s->k_cache = g_new0 (VtpTensor *, c->num_hidden_layers);
  s->v_cache = g_new0 (VtpTensor *, c->num_hidden_layers);
  s->host_rows = g_new (float, (gsize) max_chunk * D);
  if (!(s->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, D, error))
      || !(s->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, QD, error))
      || !(s->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, QD, error))
      || !(s->gate = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->intermediate_size, error))
      || !(s->up = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->intermediate_size, error))
      || !(s->scores = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, (gint64) c->num_attention_heads * max_chunk + VTP_ATTENTION_SCORE_PAD_ROWS,
              max_ctx, error))
      || !(s->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->vocab_size, error))
      || !(s->rope = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, c->head_dim, error)))
    return NULL;
  for (gint i = 0; i < c->num_hidden_layers; i++)
    if (!(s->k_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, KD, error))
        || !(s->v_cache[i] = vtp_tensor_new_2d (m->dev, kv_dtype, max_ctx, KD, error)))
      return NULL;
  if (m->dev->pocl_cpu && !(s->sync = vtp_decode_layer_sync_new (m->dev, c->num_hidden_layers, error)))
    return NULL;
  if (kv_dtype != VTP_DTYPE_F32 && (!(s->k_new = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, KD, error))
          || !(s->v_new = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, KD, error))))
    return NULL;
  if (m->adapter) {
    const VtpAdapterConfig *ac = &m->adapter->cfg;
    s->prompt_k = g_new0 (VtpTensor *, c->num_hidden_layers);
    s->prompt_v = g_new0 (VtpTensor *, c->num_hidden_layers);
    for (gint i = m->adapter->first_layer; i < c->num_hidden_layers; i++)
      if (!(s->prompt_k[i] = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, ac->query_len, KD, error))
          || !(s->prompt_v[i] = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, ac->query_len, KD, error)))
        return NULL;
    if (ac->w_lora && !(s->lora_tmp = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_chunk, ac->lora_rank, error)))
      return NULL;
    /* V1 and PEFT adapters carry their prompts: on from the start */
    if (m->adapter->static_prompts && !vtp_llama_set_prompts (m, s, NULL, FALSE, error))
      return NULL;
  }
  return g_steal_pointer (&s);
}

void
vtp_llama_state_free (VtpLlamaState *s)
{
  if (!s)
    return;
  for (gint i = 0; i < s->n_layers; i++) {
    vtp_tensor_free (s->k_cache[i]);
    vtp_tensor_free (s->v_cache[i]);
    if (s->prompt_k) {
      vtp_tensor_free (s->prompt_k[i]);
      vtp_tensor_free (s->prompt_v[i]);
    }
  }
  g_free (s->k_cache);
  g_free (s->v_cache);
  g_free (s->prompt_k);
  g_free (s->prompt_v);
  vtp_tensor_free (s->k_new);
  vtp_tensor_free (s->v_new);
  vtp_tensor_free (s->lora_tmp);
  vtp_tensor_free (s->x);
  vtp_tensor_free (s->xn);
  vtp_tensor_free (s->q);
  vtp_tensor_free (s->attn);
  vtp_tensor_free (s->gate);
  vtp_tensor_free (s->up);
  vtp_tensor_free (s->scores);
  vtp_tensor_free (s->logits);
  vtp_tensor_free (s->rope);
  vtp_tensor_free (s->sync);
  vtp_decode_token_free (s->token);
  g_free (s->host_rows);
  g_free (s);
}

/* Writes the embeddings of @ids into rows [row0, row0 + n) of s->x. */
static gboolean
embed_tokens (VtpLlama *m, VtpLlamaState *s, const gint32 *ids, gint n, gint row0, GError **error)
{
  const gint D = m->cfg.hidden_size;

  if (!vtp_lm_gather_rows (m->embed, m->cfg.vocab_size, D, ids, n, s->host_rows, error))
    return FALSE;
  if (!vtp_tensor_write (s->x, (gsize) row0 * D * sizeof (float), s->host_rows, (gsize) n * D * sizeof (float),
          error)) {
    g_prefix_error (error, "Uploading the embeddings of %d token%s: ", n, n == 1 ? "" : "s");
    return FALSE;
  }
  return TRUE;
}

void
vtp_llama_lora (VtpTensor *tmp, const VtpLlamaLayer *y, VtpLlamaProj p, VtpTensor *out, gint out_row,
    const VtpTensor *in, gint n, gboolean as_rows)
{
  void (*linear) (VtpTensor *, gint64, const VtpTensor *, gint64, gint64, const VtpTensor *, const VtpTensor *,
      gboolean) = as_rows ? vtp_op_linear_rows : vtp_op_linear;

  if (!y->lora_a[p])
    return;
  linear (tmp, 0, in, 0, n, y->lora_a[p], NULL, FALSE);
  linear (out, out_row, tmp, 0, n, y->lora_b[p], NULL, TRUE);
}

static void
lora (VtpLlamaState *s, const VtpLlamaLayer *y, VtpLlamaProj p, VtpTensor *out, gint out_row, const VtpTensor *in,
    gint n)
{
  vtp_llama_lora (s->lora_tmp, y, p, out, out_row, in, n, FALSE);
}

static void
attention_block (VtpLlama *m, VtpLlamaState *s, gint l, gint n)
{
  const VtpLlamaConfig *c = &m->cfg;
  const VtpLlamaLayer *y = &m->layers[l];
  const VtpAttention a = { c->num_attention_heads, c->num_key_value_heads, c->head_dim, TRUE, s->n_past,
    1.0f / sqrtf ((float) c->head_dim), NULL, 0, y->wq->dtype == VTP_DTYPE_BF16 };

  /* the new keys and values: straight into an F32 cache's rows; through
   * F32 rows (k_new, v_new) and a rounding (F16) or quantizing (Q8_0)
   * store into the others */
  const gboolean direct = s->kv_dtype == VTP_DTYPE_F32;
  VtpTensor *k = direct ? s->k_cache[l] : s->k_new, *v = direct ? s->v_cache[l] : s->v_new;
  const gint kv_row = direct ? s->n_past : 0;

  {
    const VtpLinearOut qkv[3] = { { s->q, 0, y->wq, y->bq }, { k, kv_row, y->wk, y->bk }, { v, kv_row, y->wv, y->bv } };
    const VtpLinearRope rope = { s->rope, c->head_dim, m->rope_layout == VTP_ROPE_INTERLEAVED };
    if (!y->lora_a[VTP_PROJ_Q] && !y->lora_a[VTP_PROJ_K] && !y->lora_a[VTP_PROJ_V]) {
      /* on a GPU's decode row the norm and the rotation in the products'
       * launch (xn unused) */
      vtp_op_linear_multi_norm (s->x, 0, n, y->attn_norm, c->rms_norm_eps, s->xn, qkv, 3, &rope);
    } else {
      vtp_op_rmsnorm (s->xn, s->x, 0, n, y->attn_norm, c->rms_norm_eps);
      vtp_op_linear_multi (s->xn, 0, n, qkv, 3);
      lora (s, y, VTP_PROJ_Q, s->q, 0, s->xn, n);
      lora (s, y, VTP_PROJ_K, k, kv_row, s->xn, n);
      lora (s, y, VTP_PROJ_V, v, kv_row, s->xn, n);
      vtp_op_rope_qk (s->q, 0, c->num_attention_heads, k, kv_row, c->num_key_value_heads, n, c->head_dim, s->rope,
          m->rope_layout);
    }
  }
  if (!direct)
    vtp_op_kv_write (s->k_cache[l], s->v_cache[l], s->n_past, k, v, 0, n);
  vtp_op_attention (s->attn, 0, s->q, 0, n, s->k_cache[l], s->v_cache[l], 0, s->n_past + n, s->scores, &a);
  if (s->prompts_on && m->adapter && l >= m->adapter->first_layer)
    /* LLaMA-Adapter: a separate softmax over the prompt positions, gated per head */
    vtp_op_adapter_attention (s->attn, 0, s->q, 0, n, s->prompt_k[l], s->prompt_v[l], m->adapter->gates, l, &a);
  vtp_op_linear (s->x, 0, s->attn, 0, n, y->wo, y->bo, TRUE);          /* x += o_proj(attn) */
  lora (s, y, VTP_PROJ_O, s->x, 0, s->attn, n);
}

static void
mlp_block (VtpLlama *m, VtpLlamaState *s, gint l, gint n)
{
  const VtpLlamaLayer *y = &m->layers[l];
  const gboolean fused = !y->lora_a[VTP_PROJ_GATE] && !y->lora_a[VTP_PROJ_UP]
      && vtp_linear_swiglu_fits (s->x, n, y->w_gate, y->w_up);
  const float eps = m->cfg.rms_norm_eps;

  if (fused && vtp_linear_norm_fits (s->x, n, y->w_gate)) {
    /* a GPU's decode row: the norm, both products and the activation in one launch */
    vtp_op_linear_swiglu (s->gate, 0, s->x, 0, n, y->ffn_norm, eps, y->w_gate, y->b_gate, y->w_up, y->b_up);
  } else if (fused) {
    /* a GPU's few rows: both products and the activation in one launch */
    vtp_op_rmsnorm (s->xn, s->x, 0, n, y->ffn_norm, eps);
    vtp_op_linear_swiglu (s->gate, 0, s->xn, 0, n, NULL, 0.0f, y->w_gate, y->b_gate, y->w_up, y->b_up);
  } else {
    const VtpLinearOut gate_up[2] = { { s->gate, 0, y->w_gate, y->b_gate }, { s->up, 0, y->w_up, y->b_up } };
    vtp_op_rmsnorm (s->xn, s->x, 0, n, y->ffn_norm, eps);
    vtp_op_linear_multi (s->xn, 0, n, gate_up, 2);
    lora (s, y, VTP_PROJ_GATE, s->gate, 0, s->xn, n);
    lora (s, y, VTP_PROJ_UP, s->up, 0, s->xn, n);
    vtp_op_silu_mul (s->gate, s->up, 0, n);
  }
  vtp_op_linear (s->x, 0, s->gate, 0, n, y->w_down, y->b_down, TRUE);  /* x += down(silu(gate) * up) */
  lora (s, y, VTP_PROJ_DOWN, s->x, 0, s->gate, n);
}

/* Layer @l's decode step (one row) as one fused launch (vtp-decode-layer.h):
 * TRUE when the device and the layer take it (PoCL CPUs; no LoRA or
 * adapter prompts), @d filled in. */
static gboolean
fused_layer (const VtpLlama *m, const VtpLlamaState *s, gint l, VtpDecodeLayer *d)
{
  const VtpLlamaConfig *c = &m->cfg;
  const VtpLlamaLayer *y = &m->layers[l];
  const gboolean f32_cache = s->kv_dtype == VTP_DTYPE_F32;
  const VtpDecodeLayer f = { s->x, s->xn, s->q, s->attn, s->gate, s->up, s->scores, s->rope, s->k_cache[l],
    s->v_cache[l], f32_cache ? NULL : s->k_new, f32_cache ? NULL : s->v_new, s->sync, y->attn_norm, y->ffn_norm,
    y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down, y->bq, y->bk, y->bv, y->bo, y->b_gate, y->b_up,
    y->b_down, c->num_attention_heads, c->num_key_value_heads, c->head_dim, s->n_past, c->rms_norm_eps,
    m->rope_layout == VTP_ROPE_INTERLEAVED };

  *d = f;
  return s->sync && !m->adapter && vtp_decode_layer_fits (d);
}

gint
vtp_llama_fused_layers (const VtpLlama *m, const VtpLlamaState *s)
{
  VtpDecodeLayer d;
  gint n = 0;
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++)
    n += fused_layer (m, s, l, &d);
  return n;
}

/* The layers of a decode step (one row) into @d (num_hidden_layers): TRUE
 * when every one is fused and they take one launch (vtp_decode_token_fits). */
static gboolean
fused_token (const VtpLlama *m, const VtpLlamaState *s, VtpDecodeLayer *d)
{
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++)
    if (!fused_layer (m, s, l, &d[l]))
      return FALSE;
  return vtp_decode_token_fits (d, m->cfg.num_hidden_layers);
}

gboolean
vtp_llama_fused_token (const VtpLlama *m, const VtpLlamaState *s)
{
  VtpDecodeLayer *d = g_newa (VtpDecodeLayer, m->cfg.num_hidden_layers);
  return fused_token (m, s, d);
}

/* The decoder over s->x rows [0, n) at positions n_past..; logits of rows
 * [first, n) into s->logits rows [out_row, ...). */
static void
forward_chunk (VtpLlama *m, VtpLlamaState *s, gint n, gint first, gint out_row)
{
  VtpDecodeLayer *d = g_newa (VtpDecodeLayer, m->cfg.num_hidden_layers);

  if (n == 1 && fused_token (m, s, d)) {
    /* the whole step in one launch, its RoPE angles and the head (where it
     * fits) too */
    const VtpDecodeHead head = { m->norm, m->lm_head, s->logits, out_row };
    const gboolean with_head = first == 0 && vtp_decode_head_fits (&head, &d[m->cfg.num_hidden_layers - 1]);
    vtp_op_decode_token (&s->token, d, m->cfg.num_hidden_layers, m->inv_freq, with_head ? &head : NULL);
    if (first == 0 && !with_head) {
      vtp_op_rmsnorm (s->xn, s->x, 0, 1, m->norm, m->cfg.rms_norm_eps);
      vtp_op_linear (s->logits, out_row, s->xn, 0, 1, m->lm_head, NULL, FALSE);
    }
    s->n_past += n;
    return;
  }
  /* the rows' rotations, once for all layers */
  vtp_op_rope_angles (s->rope, n, m->cfg.head_dim, s->n_past, m->inv_freq);
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++) {
    if (n == 1 && fused_layer (m, s, l, &d[l])) {
      vtp_op_decode_layer (&d[l]);
      continue;
    }
    attention_block (m, s, l, n);
    mlp_block (m, s, l, n);
  }
  vtp_op_rmsnorm (s->xn, s->x, first, n - first, m->norm, m->cfg.rms_norm_eps);
  vtp_op_linear (s->logits, out_row, s->xn, first, n - first, m->lm_head, NULL, FALSE);
  s->n_past += n;
}

gboolean
vtp_llama_prefill (VtpLlama *m, VtpLlamaState *s, const VtpLlamaSegment *segments, gint n_segments,
    gboolean all_logits, GError **error)
{
  const gint D = m->cfg.hidden_size;
  gint total = 0, seg = 0, seg_off = 0, done = 0;

  if (!vtp_lm_check_input (segments, n_segments, s->n_past, s->max_ctx, s->max_chunk, all_logits, &total, error))
    return FALSE;
  while (done < total) {
    const gint n = MIN (s->max_chunk, total - done);
    gint row = 0;

    /* Fill s->x rows [0, n) from the segments. */
    while (row < n) {
      const VtpLlamaSegment *g = &segments[seg];
      const gint take = MIN (g->n - seg_off, n - row);
      if (g->ids) {
        if (!embed_tokens (m, s, g->ids + seg_off, take, row, error))
          return FALSE;
      } else {
        if (vtp_tensor_cols (g->embeds) != D) {
          g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "Input embeddings are %" G_GINT64_FORMAT
              " wide, the language model's hidden size is %d", vtp_tensor_cols (g->embeds), D);
          return FALSE;
        }
        vtp_tensor_copy_rect (s->x, row, 0, g->embeds, g->row0 + seg_off, 0, take, D);
      }
      row += take;
      seg_off += take;
      if (seg_off == g->n) {
        seg++;
        seg_off = 0;
      }
    }
    done += n;
    if (all_logits)
      forward_chunk (m, s, n, 0, 0);
    else
      forward_chunk (m, s, n, done == total ? n - 1 : n, 0);
    if (!vtp_error_take_pending (error))
      return FALSE;
  }
  return TRUE;
}

gsize
vtp_llama_weight_bytes (const VtpLlama *m)
{
  gsize b = vtp_tensor_n_bytes (m->lm_head);
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++) {
    const VtpLlamaLayer *y = &m->layers[l];
    const VtpTensor *ts[] = { y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      b += vtp_tensor_n_bytes (ts[i]);
  }
  return b;
}
