#include "vtp-generate.h"

gboolean
vtp_llama_is_eos (const VtpLlama *m, gint32 token)
{
  for (gint i = 0; i < m->cfg.n_eos; i++)
    if (m->cfg.eos_token_id[i] == token)
      return TRUE;
  return FALSE;
}

gboolean
vtp_lm_generate (VtpLm *lm, const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data, GArray *tokens,
    VtpStopReason *reason, GError **error)
{
  const gint V = lm->vocab_size;
  g_autofree float *logits = g_new (float, V);
  g_autoptr (VtpSampler) sampler = vtp_sampler_new (&p->sampling, V);
  VtpStopReason why = VTP_STOP_LENGTH;

  for (gint i = 0; i < p->max_new_tokens; i++) {
    gint32 token;
    VtpLmSegment next = { &token, NULL, 0, 1 };

    if (!vtp_tensor_read (lm->logits, 0, logits, (gsize) V * sizeof (float), error)) {
      g_prefix_error (error, "Reading back the logits of generated token %d: ", i + 1);
      return FALSE;
    }
    token = vtp_sampler_sample (sampler, logits);
    if (p->stop_at_eos && vtp_lm_is_eos (lm, token)) {
      if (func)
        func (token, user_data);
      why = VTP_STOP_EOS;
      break;
    }
    g_array_append_val (tokens, token);
    if (func && !func (token, user_data)) {
      why = VTP_STOP_CALLER;
      break;
    }
    if (i + 1 == p->max_new_tokens)
      break;
    if (*lm->n_past >= lm->max_ctx) {
      why = VTP_STOP_CONTEXT;
      break;
    }
    if (!vtp_lm_prefill (lm, &next, 1, FALSE, error))
      return FALSE;
  }
  if (reason)
    *reason = why;
  return TRUE;
}

gboolean
vtp_llama_generate (VtpLlama *m, VtpLlamaState *s, const VtpGenerateParams *p, VtpTokenFunc func,
    gpointer user_data, GArray *tokens, VtpStopReason *reason, GError **error)
{
  VtpLm lm;

  vtp_lm_view_llama (&lm, m, s);
  return vtp_lm_generate (&lm, p, func, user_data, tokens, reason, error);
}
