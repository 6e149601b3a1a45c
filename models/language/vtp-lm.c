#include "vtp-lm.h"
#include "vtp-model-cache.h"

static gboolean
llama_prefill (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits, GError **error)
{
  return vtp_llama_prefill (lm->model, lm->state, segments, n_segments, all_logits, error);
}

static gboolean
opt_prefill (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits, GError **error)
{
  return vtp_opt_prefill (lm->model, lm->state, segments, n_segments, all_logits, error);
}

static gboolean
t5_prefill (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits, GError **error)
{
  return vtp_t5_prefill (lm->model, lm->state, segments, n_segments, all_logits, error);
}

/* The views VtpLm keeps of a model and its state (NULL: the model alone). */
static void
set_views (VtpLm *lm, VtpDevice *dev, gint vocab_size, gint input_width, gint max_positions, gint n_layers,
    gint n_eos, const gint *eos_token_id, gint bos_token_id, const VtpTensor *lm_head, gint max_ctx, gint *n_past,
    VtpTensor *logits)
{
  lm->dev = dev;
  lm->vocab_size = vocab_size;
  lm->input_width = input_width;
  lm->max_positions = max_positions;
  lm->n_layers = n_layers;
  lm->n_eos = n_eos;
  lm->eos_token_id = eos_token_id;
  lm->bos_token_id = bos_token_id;
  lm->lm_head = lm_head;
  lm->max_ctx = max_ctx;
  lm->n_past = n_past;
  lm->logits = logits;
  lm->embed = NULL;
  lm->device_embed = NULL;
}

static void
llama_view (VtpLm *lm, gpointer model, gpointer state)
{
  const VtpLlama *m = model;
  const VtpLlamaConfig *c = &m->cfg;
  VtpLlamaState *s = state;

  set_views (lm, m->dev, c->vocab_size, c->hidden_size, c->max_position_embeddings, c->num_hidden_layers, c->n_eos,
      c->eos_token_id, c->bos_token_id, m->lm_head, s ? s->max_ctx : 0, s ? &s->n_past : NULL, s ? s->logits : NULL);
  lm->kv_dtype = s ? s->kv_dtype : VTP_DTYPE_F32;
  lm->embed = m->embed;
  /* the model's cache of its table: shared, made under its own lock */
  lm->device_embed = (VtpLmDeviceTable *) &m->device_embed;
}

static void
opt_view (VtpLm *lm, gpointer model, gpointer state)
{
  const VtpOpt *m = model;
  const VtpOptConfig *c = &m->cfg;
  VtpOptState *s = state;

  /* the inputs are word_embed_proj_dim wide: project_in is in the decoder */
  set_views (lm, m->dev, c->vocab_size, c->word_embed_proj_dim, c->max_position_embeddings, c->num_hidden_layers,
      c->n_eos, c->eos_token_id, c->bos_token_id, m->lm_head, s ? s->max_ctx : 0, s ? &s->n_past : NULL,
      s ? s->logits : NULL);
  lm->kv_dtype = s ? s->kv_dtype : VTP_DTYPE_F32;
}

static void
t5_view (VtpLm *lm, gpointer model, gpointer state)
{
  const VtpT5 *m = model;
  const VtpT5Config *c = &m->cfg;
  VtpT5State *s = state;

  /* no BOS: T5 inputs end with </s> instead; the positions are relative,
   * n_positions is the length it was trained for */
  set_views (lm, m->dev, c->vocab_size, c->d_model, c->n_positions, c->num_decoder_layers, c->n_eos,
      c->eos_token_id, -1, m->lm_head, s ? s->max_ctx : 0, s ? &s->n_past : NULL, s ? s->logits : NULL);
  lm->kv_dtype = s ? s->kv_dtype : VTP_DTYPE_F32;
}

static gboolean
llama_decode_batch (gpointer model, gpointer batch, gpointer *states, const gint32 *tokens, gint n, GError **error)
{
  return vtp_llama_decode_batch (model, batch, (VtpLlamaState **) states, tokens, n, error);
}

static gboolean
opt_decode_batch (gpointer model, gpointer batch, gpointer *states, const gint32 *tokens, gint n, GError **error)
{
  return vtp_opt_decode_batch (model, batch, (VtpOptState **) states, tokens, n, error);
}

static gboolean
t5_decode_batch (gpointer model, gpointer batch, gpointer *states, const gint32 *tokens, gint n, GError **error)
{
  return vtp_t5_decode_batch (model, batch, (VtpT5State **) states, tokens, n, error);
}

typedef gpointer (*StateNew) (gpointer, gint, gint, VtpDType, GError **);
typedef gpointer (*BatchNew) (gpointer, gint, GError **);

static const VtpLmOps llama_ops = { "llama", FALSE, llama_prefill, (StateNew) vtp_llama_state_new_kv,
  (GDestroyNotify) vtp_llama_state_free, vtp_model_cache_release, (gsize (*) (gpointer)) vtp_llama_weight_bytes,
  llama_view, (BatchNew) vtp_llama_batch_new, (GDestroyNotify) vtp_llama_batch_free, llama_decode_batch };
static const VtpLmOps opt_ops = { "opt", FALSE, opt_prefill, (StateNew) vtp_opt_state_new,
  (GDestroyNotify) vtp_opt_state_free, vtp_model_cache_release, (gsize (*) (gpointer)) vtp_opt_weight_bytes,
  opt_view, (BatchNew) vtp_opt_batch_new, (GDestroyNotify) vtp_opt_batch_free, opt_decode_batch };
static const VtpLmOps t5_ops = { "t5", TRUE, t5_prefill, (StateNew) vtp_t5_state_new,
  (GDestroyNotify) vtp_t5_state_free, vtp_model_cache_release, (gsize (*) (gpointer)) vtp_t5_weight_bytes,
  t5_view, (BatchNew) vtp_t5_batch_new, (GDestroyNotify) vtp_t5_batch_free, t5_decode_batch };

/* A VtpLm over @model and @state. */
static VtpLm *
lm_new (VtpTextFamily family, const VtpLmOps *ops, gpointer model, gpointer state, gboolean owns_model)
{
  VtpLm *lm = g_new0 (VtpLm, 1);

  lm->family = family;
  lm->ops = ops;
  lm->model = model;
  lm->state = state;
  lm->owns_model = owns_model;
  lm->owns_state = TRUE;
  ops->view (lm, model, state);
  return lm;
}

/* @m (a model cache reference, taken over) with a new state, NULL (@m
 * released) if the state cannot be made. */
static VtpLm *
lm_with_state (VtpTextFamily family, const VtpLmOps *ops, gpointer m, VtpDType kv_dtype, gint max_ctx,
    gint max_chunk, GError **error)
{
  gpointer s = ops->state_new (m, max_ctx, max_chunk, kv_dtype, error);

  if (!s) {
    ops->model_release (m);
    return NULL;
  }
  return lm_new (family, ops, m, s, TRUE);
}

void
vtp_lm_view_llama (VtpLm *lm, VtpLlama *m, VtpLlamaState *s)
{
  *lm = (VtpLm) { VTP_TEXT_LLAMA, &llama_ops, m, s, FALSE, FALSE };
  llama_view (lm, m, s);
}

gboolean
vtp_kv_type_from_name (const char *name, VtpDType *out)
{
  if (g_strcmp0 (name, "f32") == 0)
    *out = VTP_DTYPE_F32;
  else if (g_strcmp0 (name, "f16") == 0)
    *out = VTP_DTYPE_F16;
  else if (g_strcmp0 (name, "q8_0") == 0)
    *out = VTP_DTYPE_Q8_0;
  else
    return FALSE;
  return TRUE;
}

VtpLm *
vtp_lm_new_stream_kv (const VtpLm *lm, VtpDType kv_dtype, gint max_ctx, gint max_chunk, GError **error)
{
  gpointer s = lm->ops->state_new (lm->model, max_ctx, max_chunk, kv_dtype, error);

  return s ? lm_new (lm->family, lm->ops, lm->model, s, FALSE) : NULL;
}

VtpLm *
vtp_lm_new_stream (const VtpLm *lm, gint max_ctx, gint max_chunk, GError **error)
{
  return vtp_lm_new_stream_kv (lm, lm->kv_dtype, max_ctx, max_chunk, error);
}

static VtpLm *
open_llama (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, VtpDType kv_dtype, gint max_ctx, gint max_chunk, GError **error)
{
  VtpLlamaNames names;
  VtpLlama *m;

  if (!vtp_llama_find_names (c, &parts->text, &names, error)
      || !(m = vtp_llama_acquire (c, &names, &parts->text, adapter, dev, wtype, error)))
    return NULL;
  return lm_with_state (VTP_TEXT_LLAMA, &llama_ops, m, kv_dtype, max_ctx, max_chunk, error);
}

static VtpLm *
open_opt (VtpCheckpoint *c, const VtpModelParts *parts, VtpDevice *dev, VtpWeightType wtype, VtpDType kv_dtype,
    gint max_ctx, gint max_chunk, GError **error)
{
  VtpOptNames names;
  VtpOpt *m;

  if (!vtp_opt_find_names (c, &parts->opt, &names, error)
      || !(m = vtp_opt_acquire (c, &names, &parts->opt, dev, wtype, error)))
    return NULL;
  return lm_with_state (VTP_TEXT_OPT, &opt_ops, m, kv_dtype, max_ctx, max_chunk, error);
}

static VtpLm *
open_t5 (VtpCheckpoint *c, const VtpModelParts *parts, VtpDevice *dev, VtpWeightType wtype, VtpDType kv_dtype,
    gint max_ctx, gint max_chunk, GError **error)
{
  VtpT5Names names;
  VtpT5 *m;

  if (!vtp_t5_find_names (c, &names, error) || !(m = vtp_t5_acquire (c, &names, &parts->t5, dev, wtype, error)))
    return NULL;
  return lm_with_state (VTP_TEXT_T5, &t5_ops, m, kv_dtype, max_ctx, max_chunk, error);
}

VtpLm *
vtp_lm_open (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, VtpDType kv_dtype, gint max_ctx, gint max_chunk, GError **error)
{
  g_return_val_if_fail (parts->has_text, NULL);
  if (adapter && parts->text_family != VTP_TEXT_LLAMA) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s is %s model: LLaMA-Adapter and PEFT adaption prompts "
        "(%s) adapt LLaMA-family models only", c->dir, parts->text_family == VTP_TEXT_OPT ? "an OPT" : "a T5",
        adapter->dir);
    return NULL;
  }
  switch (parts->text_family) {
    case VTP_TEXT_LLAMA: return open_llama (c, parts, adapter, dev, wtype, kv_dtype, max_ctx, max_chunk, error);
    case VTP_TEXT_OPT: return open_opt (c, parts, dev, wtype, kv_dtype, max_ctx, max_chunk, error);
    case VTP_TEXT_T5: return open_t5 (c, parts, dev, wtype, kv_dtype, max_ctx, max_chunk, error);
  }
  g_return_val_if_reached (NULL);
}

const VtpTensor *
vtp_lm_device_embeddings (const VtpLm *lm, GError **error)
{
  if (!lm->device_embed || lm->ops->encodes_input)
    return NULL;
  return vtp_lm_device_table_get (lm->device_embed, lm->dev, lm->embed, lm->vocab_size, lm->input_width, error);
}

gboolean
vtp_lm_embed_ids (const VtpLm *lm, const gint32 *ids, gint n, float *out, GError **error)
{
  const VtpStTensor *table = NULL;

  switch (lm->family) {
    /* each family feeds its prefill the gathered rows unscaled (OPT's
     * project_in, when present, is inside the decoder, after them) */
    case VTP_TEXT_LLAMA: table = ((const VtpLlama *) lm->model)->embed; break;
    case VTP_TEXT_OPT: table = ((const VtpOpt *) lm->model)->embed; break;
    case VTP_TEXT_T5: table = ((const VtpT5 *) lm->model)->embed; break;
  }
  g_return_val_if_fail (table != NULL, FALSE);
  return vtp_lm_gather_rows (table, lm->vocab_size, lm->input_width, ids, n, out, error);
}

void
vtp_lm_free (VtpLm *lm)
{
  if (!lm)
    return;
  if (lm->owns_state)
    lm->ops->state_free (lm->state);
  if (lm->owns_model)
    lm->ops->model_release (lm->model);
  g_free (lm);
}

VtpLlama *
vtp_lm_llama (const VtpLm *lm)
{
  return lm->family == VTP_TEXT_LLAMA ? lm->model : NULL;
}

VtpLlamaState *
vtp_lm_llama_state (const VtpLm *lm)
{
  return lm->family == VTP_TEXT_LLAMA ? lm->state : NULL;
}

gboolean
vtp_lm_is_eos (const VtpLm *lm, gint32 token)
{
  for (gint i = 0; i < lm->n_eos; i++)
    if (lm->eos_token_id[i] == token)
      return TRUE;
  return FALSE;
}
