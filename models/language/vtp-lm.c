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

static const VtpLmOps llama_ops = { "llama", llama_prefill, (void (*) (gpointer)) vtp_llama_state_free,
  vtp_model_cache_release, (gsize (*) (gpointer)) vtp_llama_weight_bytes };
static const VtpLmOps llama_view_ops = { "llama", llama_prefill, NULL, NULL,
  (gsize (*) (gpointer)) vtp_llama_weight_bytes };
static const VtpLmOps opt_ops = { "opt", opt_prefill, (void (*) (gpointer)) vtp_opt_state_free,
  vtp_model_cache_release, (gsize (*) (gpointer)) vtp_opt_weight_bytes };

static const VtpLmOps t5_ops = { "t5", t5_prefill, (void (*) (gpointer)) vtp_t5_state_free,
  vtp_model_cache_release, (gsize (*) (gpointer)) vtp_t5_weight_bytes };

void
vtp_lm_view_llama (VtpLm *lm, VtpLlama *m, VtpLlamaState *s)
{
  *lm = (VtpLm) { VTP_TEXT_LLAMA, &llama_view_ops, m, s, m->dev, m->cfg.vocab_size, m->cfg.hidden_size,
    m->cfg.max_position_embeddings, s->max_ctx, &s->n_past, s->logits, m->cfg.n_eos, m->cfg.eos_token_id,
    m->cfg.bos_token_id, m->cfg.num_hidden_layers, m->lm_head };
}

static VtpLm *
open_llama (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, gint max_ctx, gint max_chunk, GError **error)
{
  VtpLlamaNames names;
  VtpLlama *m;
  VtpLlamaState *s;
  VtpLm *lm;

  if (!vtp_llama_find_names (c, &parts->text, &names, error)
      || !(m = vtp_llama_acquire (c, &names, &parts->text, adapter, dev, wtype, error)))
    return NULL;
  if (!(s = vtp_llama_state_new (m, max_ctx, max_chunk, error))) {
    vtp_model_cache_release (m);
    return NULL;
  }
  lm = g_new0 (VtpLm, 1);
  vtp_lm_view_llama (lm, m, s);
  lm->ops = &llama_ops;
  return lm;
}

static VtpLm *
open_opt (VtpCheckpoint *c, const VtpModelParts *parts, VtpDevice *dev, VtpWeightType wtype, gint max_ctx,
    gint max_chunk, GError **error)
{
  const VtpOptConfig *cfg = &parts->opt;
  VtpOptNames names;
  VtpOpt *m;
  VtpOptState *s;
  VtpLm *lm;

  if (!vtp_opt_find_names (c, cfg, &names, error) || !(m = vtp_opt_acquire (c, &names, cfg, dev, wtype, error)))
    return NULL;
  if (!(s = vtp_opt_state_new (m, max_ctx, max_chunk, error))) {
    vtp_model_cache_release (m);
    return NULL;
  }
  lm = g_new0 (VtpLm, 1);
  *lm = (VtpLm) { VTP_TEXT_OPT, &opt_ops, m, s, m->dev, cfg->vocab_size, cfg->word_embed_proj_dim,
    cfg->max_position_embeddings, s->max_ctx, &s->n_past, s->logits, m->cfg.n_eos, m->cfg.eos_token_id,
    cfg->bos_token_id, cfg->num_hidden_layers, m->lm_head };
  return lm;
}

static VtpLm *
open_t5 (VtpCheckpoint *c, const VtpModelParts *parts, VtpDevice *dev, VtpWeightType wtype, gint max_ctx,
    gint max_chunk, GError **error)
{
  const VtpT5Config *cfg = &parts->t5;
  VtpT5Names names;
  VtpT5 *m;
  VtpT5State *s;
  VtpLm *lm;

  if (!vtp_t5_find_names (c, &names, error) || !(m = vtp_t5_acquire (c, &names, cfg, dev, wtype, error)))
    return NULL;
  if (!(s = vtp_t5_state_new (m, max_ctx, max_chunk, error))) {
    vtp_model_cache_release (m);
    return NULL;
  }
  lm = g_new0 (VtpLm, 1);
  /* no BOS: T5 inputs end with </s> instead; the positions are relative,
   * n_positions is the length it was trained for */
  *lm = (VtpLm) { VTP_TEXT_T5, &t5_ops, m, s, m->dev, cfg->vocab_size, cfg->d_model, cfg->n_positions, s->max_ctx,
    &s->n_past, s->logits, m->cfg.n_eos, m->cfg.eos_token_id, -1, cfg->num_decoder_layers, m->lm_head };
  return lm;
}

VtpLm *
vtp_lm_open (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, gint max_ctx, gint max_chunk, GError **error)
{
  g_return_val_if_fail (parts->has_text, NULL);
  if (adapter && parts->text_family != VTP_TEXT_LLAMA) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s is %s model: LLaMA-Adapter and PEFT adaption prompts "
        "(%s) adapt LLaMA-family models only", c->dir, parts->text_family == VTP_TEXT_OPT ? "an OPT" : "a T5",
        adapter->dir);
    return NULL;
  }
  switch (parts->text_family) {
    case VTP_TEXT_LLAMA: return open_llama (c, parts, adapter, dev, wtype, max_ctx, max_chunk, error);
    case VTP_TEXT_OPT: return open_opt (c, parts, dev, wtype, max_ctx, max_chunk, error);
    case VTP_TEXT_T5: return open_t5 (c, parts, dev, wtype, max_ctx, max_chunk, error);
  }
  g_return_val_if_reached (NULL);
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
  if (lm->ops->state_free)
    lm->ops->state_free (lm->state);
  if (lm->ops->model_release)
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
