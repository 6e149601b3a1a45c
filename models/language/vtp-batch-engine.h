/* vtp-batch-engine.h: one batching engine per loaded language model (of a
 * family with a batched decode step: LLaMA, OPT, T5), shared by
 * every caller that decodes with it (docs/batching.md, "The GStreamer
 * side"). Callers (vtpllm elements, one per camera) hand it a request: their
 * own state (KV cache), the input to prefill and their generation
 * parameters, and block until the answer is written. The engine's thread
 * does all the model's work of its requests: it admits them first come,
 * first served up to max_streams at a time, prefills one newcomer at a
 * time in pieces between two decode steps (VTP_BATCH_PREFILL_PIECE, so
 * that the streams already decoding wait for one piece, not for a whole
 * prompt or a queue of them), and
 * decodes the admitted streams together with a VtpBatchGenerator (one
 * matrix product per projection for all of them). A stream that stops,
 * fails or is cancelled leaves the batch; the others go on.
 *
 * Each request's tokens are the ones vtp_lm_generate gives it alone (the
 * batched step's rows are computed as lone rows). No GStreamer
 * here: the element's glue is in elements/gstvtpllm.c. */
#pragma once
#include "vtp-generate.h"

G_BEGIN_DECLS

typedef struct _VtpBatchEngine VtpBatchEngine;

/* The engine of @lm's model, made (with its thread) on first use, for up to
 * @max_streams streams decoded together; later callers share it, and one
 * that asks for more streams makes it grow to that many from its next step
 * (vtp_batch_engine_max_streams: the most any caller asked, up to 64).
 * The engines live in the model cache (vtp-model-cache.h), one per model.
 * Refused for a family without a batched step (vtp_lm_can_batch). Pair
 * with vtp_batch_engine_release, before the model itself is released. */
VtpBatchEngine *vtp_batch_engine_acquire (const VtpLm *lm, gint max_streams, GError **error);
/* The last release stops the thread (no request may be running then). */
void vtp_batch_engine_release (VtpBatchEngine *e);
gint vtp_batch_engine_max_streams (const VtpBatchEngine *e);

/* A newcomer's prefill runs in pieces of this many rows while other
 * streams are decoding, each followed by a step of theirs, so that a long
 * prompt (LLaVA-1.5's 576 image rows) does not stall them for its whole
 * prefill; alone, it runs at once. Pieces of a multiple of 64 rows from
 * position 0 (a last piece of fewer than 8 rows joins the one before). */
#define VTP_BATCH_PREFILL_PIECE 64

/* What one request went through. */
typedef struct {
  double wait_ms;               /* from the request to its prefill's start (queued while the batch was full) */
  double prefill_ms;            /* its prefill, on the engine's thread (its pieces and the others' steps between them) */
  guint prefill_pieces;         /* pieces its prefill took (VTP_BATCH_PREFILL_PIECE rows while others decoded) */
  double decode_ms;             /* from the end of the prefill to the last token */
  guint steps;                  /* decode steps it took part in */
  double batch_streams;         /* streams per decode step, on average over those steps (1 when none) */
} VtpBatchStats;

/* Prefills @segments into @lm (from position 0; a stream of the engine's
 * model, used by nobody else until this returns) and generates from it as
 * vtp_lm_generate does, in the engine's batch. Blocks until the stream
 * stops. @func (may be NULL) is called in the caller's thread, in order,
 * with each new token (EOS too when it ends the text): returning FALSE
 * stops the stream there (VTP_STOP_CALLER; later tokens the engine made
 * meanwhile are dropped). @cancel (may be NULL): an int read atomically;
 * once non-zero the request leaves at the next step (or the queue) and
 * this returns TRUE with VTP_STOP_CALLER and the tokens so far. @segments
 * (their ids and tensors) must stay valid until this returns. */
gboolean vtp_batch_engine_generate (VtpBatchEngine *e, VtpLm *lm, const VtpLmSegment *segments,
    gint n_segments, const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data, const gint *cancel,
    GArray *tokens, VtpStopReason *reason, VtpBatchStats *stats, GError **error);

G_END_DECLS
