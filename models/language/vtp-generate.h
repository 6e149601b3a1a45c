/* vtp-generate.h: the decode loop: sample, stop at EOS or a limit, feed the
 * token back, one position at a time; the same for every language-model
 * family (vtp-lm.h). */
#pragma once
#include "vtp-lm.h"
#include "vtp-sampler.h"

G_BEGIN_DECLS

typedef struct {
  gint max_new_tokens;
  VtpSamplerParams sampling;
  gboolean stop_at_eos;
} VtpGenerateParams;

/* Called with each new token (EOS included, when it ends the text); return
 * FALSE to stop early (a flush, a new frame that wins). */
typedef gboolean (*VtpTokenFunc) (gint32 token, gpointer user_data);

typedef enum {
  VTP_STOP_EOS,
  VTP_STOP_LENGTH,            /* max_new_tokens reached */
  VTP_STOP_CONTEXT,           /* the context is full */
  VTP_STOP_CALLER,            /* the callback asked to stop */
} VtpStopReason;

/* Generates from the logits a prefill left in lm->logits row 0. Tokens
 * (EOS excluded) are appended to @tokens (gint32). */
gboolean vtp_lm_generate (VtpLm *lm, const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data,
    GArray *tokens, VtpStopReason *reason, GError **error);
/* The same on a LLaMA model and state. */
gboolean vtp_llama_generate (VtpLlama *m, VtpLlamaState *s, const VtpGenerateParams *p, VtpTokenFunc func,
    gpointer user_data, GArray *tokens, VtpStopReason *reason, GError **error);

gboolean vtp_llama_is_eos (const VtpLlama *m, gint32 token);

G_END_DECLS
