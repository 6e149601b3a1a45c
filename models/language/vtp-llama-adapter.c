/* vtp-llama-adapter.c: the LLM side of a LLaMA-Adapter (model-spec section
 * 5): which layers attend to adaption prompts and through which gates, the
 * V2 fine-tuning weights (attention and FFN biases, norms, LoRA), and the
 * static prompts of V1 and PEFT adapters. The forward pass that uses them
 * is vtp-llama.c's.
 *
 * Adapter checkpoints hold small tensors: they are read on the host, turned
 * into their working form there (tanh'd gates; rows reordered when a Meta-
 * ordered adapter sits on an HF-ordered base) and uploaded as F32. */
#include <math.h>
#include <string.h>
#include "vtp-llama.h"

/* The adapter's names for a layer's projections (Meta names, as the
 * release and tools/convert_llama_adapter.py write them). */
static const char *const proj_names[VTP_N_PROJ] = { "attention.wq", "attention.wk", "attention.wv", "attention.wo",
  "feed_forward.w1", "feed_forward.w3", "feed_forward.w2" };
static const char *const lora_names[VTP_N_PROJ] = { "attention.lora_wq", "attention.lora_wk", "attention.lora_wv",
  "attention.lora_wo", "feed_forward.lora_w1", "feed_forward.lora_w3", "feed_forward.lora_w2" };

typedef struct {
  VtpCheckpoint *c;
  VtpDevice *dev;
  const char *prefix;       /* "llama." (V2), "" (V1), "base_model.model.model." (PEFT) */
  GError **error;
  gboolean failed;
} HostReader;

/* A host F32 copy of prefix + printf(@format) after checking its shape;
 * NULL when a read failed before, or when @optional and the tensor is
 * absent (no error then). */
static G_GNUC_PRINTF (5, 6) float *
read_host (HostReader *r, gboolean optional, gint ndim, const gint64 *shape, const char *format, ...)
{
  g_autofree char *suffix = NULL, *name = NULL;
  const VtpStTensor *t;
  va_list args;
  float *f;

  if (r->failed)
    return NULL;
  va_start (args, format);
  suffix = g_strdup_vprintf (format, args);
  va_end (args);
  name = g_strconcat (r->prefix, suffix, NULL);
  if (optional && !vtp_checkpoint_find (r->c, name))
    return NULL;
  t = vtp_checkpoint_get (r->c, name, ndim, shape, r->error);
  f = t ? vtp_st_tensor_to_f32 (t, r->error) : NULL;
  r->failed = f == NULL;
  return f;
}

/* Meta orders each head's rotary pairs (2j, 2j+1), HF splits them into
 * halves (j, j + d/2): row h·d + c·d/2 + j of the HF form is row
 * h·d + 2j + c of the Meta form. Applies to outputs of wq and wk. */
static void
meta_rows_to_hf (float *w, gint64 rows, gint64 cols, gint d)
{
  g_autofree float *src = g_memdup2 (w, (gsize) rows * cols * sizeof (float));

  for (gint64 h = 0; h < rows / d; h++)
    for (gint c = 0; c < 2; c++)
      for (gint j = 0; j < d / 2; j++)
        memcpy (w + ((gsize) h * d + c * (d / 2) + j) * cols, src + ((gsize) h * d + 2 * j + c) * cols,
            cols * sizeof (float));
}

/* After a failed upload of @t (NULL): the error names the tensor, prefix
 * + @name, as the checkpoint loader names the base model's. */
static VtpTensor *
named (HostReader *r, VtpTensor *t, const char *name)
{
  r->failed = t == NULL;
  if (!t)
    g_prefix_error (r->error, "Loading the adapter weight %s%s: ", r->prefix, name);
  return t;
}

static VtpTensor *
upload_array (HostReader *r, const float *host, gint ndim, const gint64 *shape, const char *name)
{
  if (r->failed)
    return NULL;
  return named (r, vtp_tensor_new_from_data (r->dev, VTP_DTYPE_F32, ndim, shape, host, r->error), name);
}

static VtpTensor *
upload_matrix (HostReader *r, const float *host, gint64 n, gint64 k, const char *name)
{
  if (r->failed)
    return NULL;
  return named (r, vtp_linear_weight_new (r->dev, VTP_DTYPE_F32, n, k, host, r->error), name);
}

/* Output and input widths of projection @p. */
static void
proj_shape (const VtpLlamaConfig *cfg, VtpLlamaProj p, gint64 *out, gint64 *in)
{
  const gint64 D = cfg->hidden_size, I = cfg->intermediate_size;
  const gint64 QD = (gint64) cfg->num_attention_heads * cfg->head_dim;
  const gint64 KD = (gint64) cfg->num_key_value_heads * cfg->head_dim;
  const gint64 outs[VTP_N_PROJ] = { QD, KD, KD, D, I, I, D }, ins[VTP_N_PROJ] = { D, D, D, QD, D, D, I };

  *out = outs[p];
  *in = ins[p];
}

static VtpTensor **
bias_slot (VtpLlamaLayer *y, VtpLlamaProj p)
{
  VtpTensor **slots[VTP_N_PROJ] = { &y->bq, &y->bk, &y->bv, &y->bo, &y->b_gate, &y->b_up, &y->b_down };
  return slots[p];
}

/* V2 fine-tuning of layer @i: biases of wq, wo, w1, w3, w2; LoRA; norms. */
static void
load_layer_tuning (VtpLlama *m, HostReader *r, gint i, gboolean to_hf)
{
  const VtpAdapterConfig *ac = &m->adapter->cfg;
  const VtpLlamaConfig *cfg = &m->cfg;
  VtpLlamaLayer *y = &m->layers[i];
  const gint64 D = cfg->hidden_size, rank = ac->lora_rank;
  const gint d = cfg->head_dim;
  gint64 n, k;

  for (VtpLlamaProj p = 0; p < VTP_N_PROJ && ac->w_bias; p++) {
    g_autofree float *b = NULL;
    if (p == VTP_PROJ_K || p == VTP_PROJ_V)
      continue;                 /* the release trains no bias for wk, wv */
    proj_shape (cfg, p, &n, &k);
    if (!(b = read_host (r, FALSE, VTP_VEC (n), "layers.%d.%s.bias", i, proj_names[p])))
      return;
    if (*bias_slot (y, p)) {
      g_set_error (r->error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the adapter adds a bias to layer %d's %s, but "
          "the base model has one already", m->adapter->dir, i, proj_names[p]);
      r->failed = TRUE;
      return;
    }
    if (p == VTP_PROJ_Q && to_hf)
      meta_rows_to_hf (b, n, 1, d);
    {
      g_autofree char *name = g_strdup_printf ("layers.%d.%s.bias", i, proj_names[p]);
      *bias_slot (y, p) = upload_array (r, b, VTP_VEC (n), name);
    }
  }
  for (VtpLlamaProj p = 0; p < VTP_N_PROJ && ac->w_lora; p++) {
    g_autofree float *a = NULL, *b = NULL;
    proj_shape (cfg, p, &n, &k);
    a = read_host (r, FALSE, VTP_MAT (rank, k), "layers.%d.%s_l1.weight", i, lora_names[p]);
    b = read_host (r, FALSE, VTP_MAT (n, rank), "layers.%d.%s_l2.weight", i, lora_names[p]);
    if (!b)
      return;
    if ((p == VTP_PROJ_Q || p == VTP_PROJ_K) && to_hf)
      meta_rows_to_hf (b, n, rank, d);
    {
      g_autofree char *name_a = g_strdup_printf ("layers.%d.%s_l1.weight", i, lora_names[p]);
      g_autofree char *name_b = g_strdup_printf ("layers.%d.%s_l2.weight", i, lora_names[p]);
      y->lora_a[p] = upload_matrix (r, a, rank, k, name_a);
      y->lora_b[p] = upload_matrix (r, b, n, rank, name_b);
    }
  }
  /* fine-tuned norms replace the base model's where the adapter has them */
  {
    g_autofree float *an = read_host (r, TRUE, VTP_VEC (D), "layers.%d.attention_norm.weight", i);
    g_autofree float *fn = read_host (r, TRUE, VTP_VEC (D), "layers.%d.ffn_norm.weight", i);
    g_autofree char *an_name = g_strdup_printf ("layers.%d.attention_norm.weight", i);
    g_autofree char *fn_name = g_strdup_printf ("layers.%d.ffn_norm.weight", i);
    if (an) {
      vtp_tensor_free (y->attn_norm);
      y->attn_norm = upload_array (r, an, VTP_VEC (D), an_name);
    }
    if (fn) {
      vtp_tensor_free (y->ffn_norm);
      y->ffn_norm = upload_array (r, fn, VTP_VEC (D), fn_name);
    }
  }
}

/* The gate head h of adapted layer i applies, in @gates [n_layers, H]. */
static void
read_gates (VtpLlama *m, HostReader *r, float *gates)
{
  const VtpAdapterConfig *ac = &m->adapter->cfg;
  const gint H = m->cfg.num_attention_heads;

  for (gint i = m->adapter->first_layer; i < m->cfg.num_hidden_layers && !r->failed; i++) {
    float *g = gates + (gsize) i * H;
    if (ac->form == VTP_ADAPTER_PEFT) {
      /* one zero-initialised scalar per layer, used as is */
      g_autofree float *s = read_host (r, FALSE, VTP_VEC (1), "layers.%d.self_attn.adaption_gate", i);
      for (gint h = 0; s && h < H; h++)
        g[h] = s[0];
      continue;
    }
    g_autofree float *raw = read_host (r, FALSE, 4, (gint64[]) { 1, H, 1, 1 }, "layers.%d.attention.gate", i);
    g_autofree float *ng = NULL;
    if (!raw)
      return;
    if (ac->form == VTP_ADAPTER_V2_MULTIMODAL && ac->w_lora
        && !(ng = read_host (r, FALSE, 4, (gint64[]) { 1, 1, 1, 1 }, "layers.%d.attention.new_gate", i)))
      return;
    for (gint h = 0; h < H; h++) {
      /* V2 trains tanh(gate) (times new_gate with LoRA); V1's inference code uses the gate raw */
      g[h] = ac->form == VTP_ADAPTER_V2_MULTIMODAL ? tanhf (raw[h]) : raw[h];
      if (ng)
        g[h] *= ng[0];
    }
  }
}

/* V1: adapter_query.weight; PEFT: each layer's adaption_prompt, stacked. */
static VtpTensor *
read_static_prompts (VtpLlama *m, HostReader *r)
{
  const VtpAdapterConfig *ac = &m->adapter->cfg;
  const gint64 D = m->cfg.hidden_size, len = ac->query_len, rows = (gint64) ac->query_layer * len;
  g_autofree float *all = NULL;

  if (ac->form == VTP_ADAPTER_V1) {
    all = read_host (r, FALSE, VTP_MAT (rows, D), "adapter_query.weight");
  } else {
    all = g_new (float, rows * D);
    for (gint j = 0; j < ac->query_layer && !r->failed; j++) {
      g_autofree float *p = read_host (r, FALSE, 3, (gint64[]) { 1, len, D }, "layers.%d.self_attn.adaption_prompt",
          m->adapter->first_layer + j);
      if (p)
        memcpy (all + (gsize) j * len * D, p, len * D * sizeof (float));
    }
  }
  return r->failed ? NULL : upload_array (r, all, VTP_MAT (rows, D), ac->form == VTP_ADAPTER_V1
      ? "adapter_query.weight" : "layers.*.self_attn.adaption_prompt");
}

gboolean
vtp_llama_adapter_load (VtpLlama *m, VtpCheckpoint *adapter, const VtpLlamaNames *names, VtpWeightType wtype,
    GError **error)
{
  const VtpLlamaConfig *cfg = &m->cfg;
  const gint L = cfg->num_hidden_layers, H = cfg->num_attention_heads;
  VtpLlamaAdapter *a = m->adapter = g_new0 (VtpLlamaAdapter, 1);
  HostReader r = { adapter, m->dev, "", error, FALSE };
  g_autofree float *gates = g_new0 (float, (gsize) L * H);
  gboolean to_hf;

  (void) wtype;                 /* adapter tensors are small: always F32 */
  a->dir = g_strdup (adapter->dir);
  if (!vtp_adapter_config_parse (adapter->config, adapter->dir, &a->cfg, error))
    return FALSE;
  if (a->cfg.query_layer > L) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "%s adapts %d layers, but the language model has only %d: "
        "it was built for another LLM", adapter->dir, a->cfg.query_layer, L);
    return FALSE;
  }
  if (a->cfg.llm_dim && a->cfg.llm_dim != cfg->hidden_size) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "%s was built for a %d-wide language model (llm_dim), this "
        "one is %d wide", adapter->dir, a->cfg.llm_dim, cfg->hidden_size);
    return FALSE;
  }
  a->first_layer = L - a->cfg.query_layer;
  /* V1 and V2 weights are Meta-ordered; PEFT's follow the HF base they were trained on */
  to_hf = !names->meta && a->cfg.form != VTP_ADAPTER_PEFT;
  switch (a->cfg.form) {
    case VTP_ADAPTER_V2_MULTIMODAL:
      r.prefix = "llama.";
      for (gint i = 0; i < L && !r.failed; i++)
        load_layer_tuning (m, &r, i, to_hf);
      {
        g_autofree float *norm = read_host (&r, TRUE, VTP_VEC (cfg->hidden_size), "norm.weight");
        if (norm) {
          vtp_tensor_free (m->norm);
          m->norm = upload_array (&r, norm, VTP_VEC (cfg->hidden_size), "norm.weight");
        }
      }
      break;
    case VTP_ADAPTER_V1:
      a->static_prompts = read_static_prompts (m, &r);
      break;
    case VTP_ADAPTER_PEFT:
      r.prefix = "base_model.model.model.";
      a->static_prompts = read_static_prompts (m, &r);
      break;
  }
  read_gates (m, &r, gates);
  if (r.failed)
    return FALSE;
  a->gates = vtp_tensor_new_from_data (m->dev, VTP_DTYPE_F32, 2, (gint64[]) { L, H }, gates, error);
  if (!a->gates)
    g_prefix_error (error, "The adapter's gates: ");
  return a->gates != NULL;
}

void
vtp_llama_adapter_free (VtpLlamaAdapter *a)
{
  if (!a)
    return;
  vtp_tensor_free (a->gates);
  vtp_tensor_free (a->static_prompts);
  g_free (a->dir);
  g_free (a);
}

gboolean
vtp_llama_set_prompts (VtpLlama *m, VtpLlamaState *s, const VtpTensor *prompts, gboolean off, GError **error)
{
  const VtpLlamaAdapter *a = m->adapter;
  gint64 rows;

  s->prompts_on = FALSE;
  if (off)
    return TRUE;
  if (!a) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Adaption prompts were given to a language model loaded "
        "without an adapter");
    return FALSE;
  }
  if (!prompts && !(prompts = a->static_prompts)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The adapter %s takes its prompts from vtpadapter (visual "
        "queries); none were given", a->dir);
    return FALSE;
  }
  rows = (gint64) a->cfg.query_layer * a->cfg.query_len;
  if (prompts->dtype != VTP_DTYPE_F32 || vtp_tensor_rows (prompts) != rows
      || vtp_tensor_cols (prompts) != m->cfg.hidden_size) {
    g_autofree char *got = vtp_tensor_describe (prompts);
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "Adaption prompts are %s, expected F32 [%" G_GINT64_FORMAT
        ", %d] (%d layers x %d positions, hidden size %d)", got, rows, m->cfg.hidden_size, a->cfg.query_layer,
        a->cfg.query_len, m->cfg.hidden_size);
    return FALSE;
  }
  /* the prompts' keys and values: wk / wv only (no bias, no LoRA, no RoPE) */
  for (gint l = a->first_layer; l < m->cfg.num_hidden_layers; l++) {
    const gint64 row = (gint64) (l - a->first_layer) * a->cfg.query_len;
    vtp_op_linear (s->prompt_k[l], 0, prompts, row, a->cfg.query_len, m->layers[l].wk, NULL, FALSE);
    vtp_op_linear (s->prompt_v[l], 0, prompts, row, a->cfg.query_len, m->layers[l].wv, NULL, FALSE);
  }
  if (!vtp_error_take_pending (error))
    return FALSE;
  s->prompts_on = TRUE;
  return TRUE;
}
