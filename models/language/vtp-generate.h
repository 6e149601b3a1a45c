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

/* Batched generation (docs/batching.md): several prefilled streams of one
 * model decoded together, one batched decode step of the family
 * (ops->decode_batch: LLaMA, OPT, T5's decoder) per step. Each stream is sampled and
 * stopped as vtp_lm_generate would (its own sampler, limits, EOS,
 * callback), so its tokens are the ones it gets alone; a stream that stops
 * leaves the batch at that step, the others go on, and a new one may join
 * between steps (vtp_batch_generator_add). */
typedef struct {
  VtpLm *lm;                  /* the stream (its state), prefilled: its logits row 0 are the next token's */
  VtpGenerateParams params;
  VtpTokenFunc func;          /* may be NULL */
  gpointer user_data;
  GArray *tokens;             /* out: gint32 tokens appended (EOS excluded) */
  VtpStopReason reason;       /* out, once done */
  gboolean done;              /* out */
} VtpBatchStream;

typedef struct _VtpBatchGenerator VtpBatchGenerator;

/* A generator for up to @max_streams streams of @lm's model at a time
 * (@lm: any stream of it; only its model is kept). Refused for a family
 * that decodes alone (vtp_lm_can_batch). */
VtpBatchGenerator *vtp_batch_generator_new (const VtpLm *lm, gint max_streams, GError **error);
void vtp_batch_generator_free (VtpBatchGenerator *g);
/* Adds @s (kept by the caller until it is done): it joins at the next
 * step. Refused when the generator is full, @s's stream is of another
 * model or is already in the batch. */
gboolean vtp_batch_generator_add (VtpBatchGenerator *g, VtpBatchStream *s, GError **error);
/* Room for @max_streams streams (more than now; fewer: nothing to do),
 * between two steps: the streams in it go on as they were. */
gboolean vtp_batch_generator_grow (VtpBatchGenerator *g, gint max_streams, GError **error);
/* Streams added and not done. */
gint vtp_batch_generator_n_active (const VtpBatchGenerator *g);
/* One step: samples every active stream's next token (on the device,
 * one read for all of them, where vtp_lm_generate would choose there:
 * VTP_DEVICE_ARGMAX), marks those that stop done (and drops them), feeds
 * the others' tokens in one batch. */
gboolean vtp_batch_generator_step (VtpBatchGenerator *g, GError **error);
/* All of @streams (@n >= 1, streams of one model) to the end, together. */
gboolean vtp_lm_generate_batch (VtpBatchStream *streams, gint n, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpBatchGenerator, vtp_batch_generator_free)

G_END_DECLS
