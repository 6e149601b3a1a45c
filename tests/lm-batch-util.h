/* lm-batch-util.h: batched decoding of any language-model family checked
 * against its streams decoded alone (test-opt-fidelity, test-t5-fidelity;
 * the LLaMA family has its own tests, test-batch-decode and
 * test-batch-engine). check_lm_batch_fixture needs fidelity-util.h. */
#pragma once
#include <math.h>
#include <string.h>
#include "vtp-batch-engine.h"
#include "vtp-generate.h"

#define LM_BATCH_STREAMS 4
#define LM_BATCH_STEPS 8
#define LM_BATCH_ATOL 1e-4

/* Stream @i's prompt: the last L - i of @ids (different lengths). */
static inline VtpLmSegment
lm_batch_prompt (const gint32 *ids, gint L, gint i)
{
  return (VtpLmSegment) { ids + i, NULL, 0, L - i };
}

/* Stream @i's generation: lengths that end the streams at different
 * steps, one stopping on EOS, one sampled. */
static inline void
lm_batch_params (gint i, VtpGenerateParams *p)
{
  static const gint max_new[LM_BATCH_STREAMS] = { 14, 4, 9, 11 };

  memset (p, 0, sizeof *p);
  p->max_new_tokens = max_new[i];
  p->stop_at_eos = i == 3;
  if (i == 2)
    p->sampling = (VtpSamplerParams) { 0.8f, 20, 0.9f, 77 };
}

typedef struct {
  VtpBatchEngine *engine;
  VtpLm *lm;
  VtpLmSegment seg;
  VtpGenerateParams p;
  GArray *tokens;
  VtpStopReason reason;
  VtpBatchStats stats;
  gboolean ok;
} LmBatchRequest;

static inline gpointer
lm_batch_request_thread (gpointer data)
{
  LmBatchRequest *q = data;
  q->ok = vtp_batch_engine_generate (q->engine, q->lm, &q->seg, 1, &q->p, NULL, NULL, NULL, q->tokens, &q->reason,
      &q->stats, NULL);
  return NULL;
}

/* LM_BATCH_STREAMS streams of @lm's model (contexts of @ctx):
 *   - the family's batched step (ops->decode_batch) for LM_BATCH_STEPS
 *     greedy steps: each stream's logits within LM_BATCH_ATOL of the same
 *     stream's decoded alone; the same state twice, more streams than the
 *     batch holds and a full context are refused;
 *   - vtp_lm_generate_batch: each stream's tokens and stop reason are the
 *     ones vtp_lm_generate gives it alone;
 *   - the batching engine (as vtpllm batch=N runs it), the four requests
 *     from four threads at once: the same tokens again. */
static inline void
check_lm_batch (VtpLm *lm, const gint32 *ids, gint L, gint ctx)
{
  g_autoptr (GError) error = NULL;
  const gint V = lm->vocab_size;
  VtpLm *alone[LM_BATCH_STREAMS], *batched[LM_BATCH_STREAMS];
  gpointer states[LM_BATCH_STREAMS], batch;
  VtpBatchStream streams[LM_BATCH_STREAMS];
  LmBatchRequest reqs[LM_BATCH_STREAMS];
  GThread *threads[LM_BATCH_STREAMS];
  GArray *want[LM_BATCH_STREAMS];
  VtpStopReason want_reason[LM_BATCH_STREAMS];
  VtpBatchEngine *engine;
  g_autofree float *a = g_new (float, V), *b = g_new (float, V);
  double worst = 0, most = 0;

  g_assert_true (vtp_lm_can_batch (lm));
  /* the batched step against each stream alone, logits at every step */
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    const VtpLmSegment seg = lm_batch_prompt (ids, L, i);
    alone[i] = vtp_lm_new_stream (lm, ctx, ctx, &error);
    g_assert_no_error (error);
    batched[i] = vtp_lm_new_stream (lm, ctx, ctx, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_lm_prefill (alone[i], &seg, 1, FALSE, &error));
    g_assert_true (vtp_lm_prefill (batched[i], &seg, 1, FALSE, &error));
    g_assert_no_error (error);
    states[i] = batched[i]->state;
  }
  batch = lm->ops->batch_new (lm->model, LM_BATCH_STREAMS, &error);
  g_assert_no_error (error);
  for (gint step = 0; step < LM_BATCH_STEPS; step++) {
    gint32 tokens[LM_BATCH_STREAMS];
    for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
      gint32 best = 0;
      g_assert_true (vtp_tensor_read (alone[i]->logits, 0, a, (gsize) V * sizeof (float), &error));
      g_assert_true (vtp_tensor_read (batched[i]->logits, 0, b, (gsize) V * sizeof (float), &error));
      for (gint v = 0; v < V; v++) {
        worst = MAX (worst, fabs ((double) a[v] - b[v]));
        if (a[v] > a[best])
          best = v;
      }
      tokens[i] = best;
      {
        const VtpLmSegment one = { &tokens[i], NULL, 0, 1 };
        g_assert_true (vtp_lm_prefill (alone[i], &one, 1, FALSE, &error));
      }
    }
    g_assert_true (lm->ops->decode_batch (lm->model, batch, states, tokens, LM_BATCH_STREAMS, &error));
    g_assert_no_error (error);
    for (gint i = 0; i < LM_BATCH_STREAMS; i++)
      g_assert_cmpint (*batched[i]->n_past, ==, *alone[i]->n_past);
  }
  g_test_message ("%s: batched logits within %.3g of the streams alone over %d steps", lm->ops->name, worst,
      LM_BATCH_STEPS);
  g_assert_cmpfloat (worst, <=, LM_BATCH_ATOL);
  /* wrong batches: the same state twice, too many streams, a full context */
  {
    gpointer twice[2] = { states[0], states[0] };
    gpointer five[LM_BATCH_STREAMS + 1] = { states[0], states[1], states[2], states[3], alone[0]->state };
    gint32 t[LM_BATCH_STREAMS + 1] = { 0 };
    g_assert_false (lm->ops->decode_batch (lm->model, batch, twice, t, 2, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_assert_nonnull (strstr (error->message, "same state"));
    g_clear_error (&error);
    g_assert_false (lm->ops->decode_batch (lm->model, batch, five, t, LM_BATCH_STREAMS + 1, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_clear_error (&error);
    *batched[1]->n_past = batched[1]->max_ctx;
    g_assert_false (lm->ops->decode_batch (lm->model, batch, states, t, 2, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_assert_nonnull (strstr (error->message, "full"));
    g_clear_error (&error);
  }
  lm->ops->batch_free (batch);

  /* the generator: tokens as alone */
  memset (streams, 0, sizeof streams);
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    const VtpLmSegment seg = lm_batch_prompt (ids, L, i);
    lm_batch_params (i, &streams[i].params);
    want[i] = g_array_new (FALSE, FALSE, sizeof (gint32));
    *alone[i]->n_past = 0;
    g_assert_true (vtp_lm_prefill (alone[i], &seg, 1, FALSE, &error));
    g_assert_true (vtp_lm_generate (alone[i], &streams[i].params, NULL, NULL, want[i], &want_reason[i], &error));
    g_assert_no_error (error);
    streams[i].lm = batched[i];
    *batched[i]->n_past = 0;
    g_assert_true (vtp_lm_prefill (batched[i], &seg, 1, FALSE, &error));
    streams[i].tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  }
  g_assert_cmpint (want_reason[1], ==, VTP_STOP_LENGTH);
  g_assert_true (vtp_lm_generate_batch (streams, LM_BATCH_STREAMS, &error));
  g_assert_no_error (error);
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    g_assert_true (streams[i].done);
    g_assert_cmpint (streams[i].reason, ==, want_reason[i]);
    g_assert_cmpuint (streams[i].tokens->len, ==, want[i]->len);
    g_assert_cmpmem (streams[i].tokens->data, want[i]->len * sizeof (gint32), want[i]->data,
        want[i]->len * sizeof (gint32));
    g_array_unref (streams[i].tokens);
  }

  /* the engine: the same requests from four threads at once */
  engine = vtp_batch_engine_acquire (lm, LM_BATCH_STREAMS, &error);
  g_assert_no_error (error);
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    reqs[i] = (LmBatchRequest) { engine, batched[i], lm_batch_prompt (ids, L, i), streams[i].params,
      g_array_new (FALSE, FALSE, sizeof (gint32)) };
    threads[i] = g_thread_new ("lm-request", lm_batch_request_thread, &reqs[i]);
  }
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    g_thread_join (threads[i]);
    g_assert_true (reqs[i].ok);
    g_assert_cmpint (reqs[i].reason, ==, want_reason[i]);
    g_assert_cmpuint (reqs[i].tokens->len, ==, want[i]->len);
    g_assert_cmpmem (reqs[i].tokens->data, want[i]->len * sizeof (gint32), want[i]->data,
        want[i]->len * sizeof (gint32));
    most = MAX (most, reqs[i].stats.batch_streams);
    g_array_unref (reqs[i].tokens);
  }
  g_test_message ("%s in the engine: up to %.2f streams a step on average", lm->ops->name, most);
  vtp_batch_engine_release (engine);
  for (gint i = 0; i < LM_BATCH_STREAMS; i++) {
    g_array_unref (want[i]);
    vtp_lm_free (alone[i]);
    vtp_lm_free (batched[i]);
  }
}

/* check_lm_batch on the language model of tests/fixtures/@fixture (on
 * @dev, as stored, KV caches of @kv, contexts of @ctx fed @chunk at a
 * time), its reference input_ids as the prompt; then @more (may be NULL)
 * on the same model. */
static inline void
check_lm_batch_fixture (VtpDevice *dev, const char *fixture, VtpDType kv, gint ctx, gint chunk,
    void (*more) (VtpLm *lm))
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) c = NULL;
  g_autoptr (VtpSafetensors) ref = reference_open (fixture);
  g_autoptr (VtpLm) lm = NULL;
  g_autofree gint32 *ids = NULL;
  VtpModelParts parts;
  gint L;

  c = open_fixture (fixture, &parts);
  ids = reference_ids (ref, "input_ids", &L);
  lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, kv, ctx, chunk, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lm->kv_dtype, ==, kv);
  check_lm_batch (lm, ids, L, ctx);
  if (more)
    more (lm);
  vtp_model_parts_clear (&parts);
}
