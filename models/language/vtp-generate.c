#include "vtp-generate.h"
#include "vtp-switch.h"

gboolean
vtp_llama_is_eos (const VtpLlama *m, gint32 token)
{
  for (gint i = 0; i < m->cfg.n_eos; i++)
    if (m->cfg.eos_token_id[i] == token)
      return TRUE;
  return FALSE;
}

/* Whether tokens are chosen on the device (greedy: vtp_op_argmax; with a
 * temperature: vtp_op_sample, given the host's next uniform draw): only
 * the token's id comes back, not the vocabulary's logits, and nothing is
 * chosen on the host. By default on GPUs, where the logits would cross the
 * bus each token (not measured there yet: issue 19); on CPU devices
 * reading them back is a copy and the host's argmax ~9 us
 * (docs/performance.md), so there the host chooses. $VTP_DEVICE_ARGMAX=1
 * / 0 turns it on / off (the tests run it on PoCL). */
static gboolean
device_choice_wanted (const VtpLm *lm)
{
  return vtp_switch_int ("VTP_DEVICE_ARGMAX", lm->dev->kind != VTP_DEVICE_KIND_CPU, 0, 1);
}

/* Queues the choice of a token from the state's logits into ids[@at] on
 * the device: greedy, or drawn with @sampler's parameters and next
 * uniform draw (the host's sampler keeps the same tokens and walks them
 * the same way, so the text is the one the host would sample, up to float
 * rounding at a token's edge). */
static void
choose_on_device (VtpLm *lm, VtpTensor *ids, gint64 at, VtpSampler *sampler)
{
  const VtpSamplerParams *p = &sampler->params;

  if (p->temperature <= 0.0f) {
    vtp_op_argmax (ids, at, lm->logits, 0);
  } else {
    const VtpSampleArgs args = { p->temperature, p->top_k, p->top_p, vtp_sampler_next_uniform (sampler) };
    vtp_op_sample (ids, at, lm->logits, 0, &args);
  }
}

/* Generated token @i (0 on): chosen from the state's logits on the device
 * (into @ids, then read back) or by @sampler on the host (read back into
 * @logits first). */
static gboolean
next_token (VtpLm *lm, VtpTensor *ids, VtpSampler *sampler, float *logits, gint i, gint32 *token, GError **error)
{
  if (ids) {
    choose_on_device (lm, ids, 0, sampler);
    if (!vtp_error_take_pending (error) || !vtp_tensor_read (ids, 0, token, sizeof *token, error)) {
      g_prefix_error (error, "Choosing generated token %d on the device: ", i + 1);
      return FALSE;
    }
    return TRUE;
  }
  if (!vtp_tensor_read (lm->logits, 0, logits, (gsize) lm->vocab_size * sizeof (float), error)) {
    g_prefix_error (error, "Reading back the logits of generated token %d: ", i + 1);
    return FALSE;
  }
  *token = vtp_sampler_sample (sampler, logits);
  return TRUE;
}

/* Whether a decode choosing on the device runs a step ahead (generate_ahead):
 * by default where the tokens are chosen on the device and the device is
 * not a CPU (issue 19: on a GPU the host's queueing of a step's launches
 * then overlaps the device's running of the step before); on a CPU the
 * fused decode step is one launch and the round trip ~1.5% of a token
 * (docs/performance.md). $VTP_DECODE_AHEAD=1 / 0 turns it on / off (the
 * tests run it on PoCL). */
static gboolean
decode_ahead_wanted (const VtpLm *lm)
{
  return vtp_switch_int ("VTP_DECODE_AHEAD", lm->dev->kind != VTP_DEVICE_KIND_CPU, 0, 1);
}

/* Hands generated token @token (the @n_new-th before it) over as every
 * decode loop here does: an EOS (with stop_at_eos) ends the text, the
 * callback seeing it; any other token is appended to @tokens and given to
 * @func. FALSE, with *@why, when the text ends here (EOS, the callback,
 * max_new_tokens, @full: no room for another position); TRUE when it
 * goes on. */
static gboolean
hand_over (const VtpLm *lm, const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data, GArray *tokens,
    gint32 token, gint n_new, gboolean full, VtpStopReason *why)
{
  if (p->stop_at_eos && vtp_lm_is_eos (lm, token)) {
    if (func)
      func (token, user_data);
    *why = VTP_STOP_EOS;
    return FALSE;
  }
  g_array_append_val (tokens, token);
  if (func && !func (token, user_data))
    *why = VTP_STOP_CALLER;
  else if (n_new + 1 == p->max_new_tokens)
    *why = VTP_STOP_LENGTH;
  else if (full)
    *why = VTP_STOP_CONTEXT;
  else
    return TRUE;
  return FALSE;
}

/* The plain loop: choose a token, hand it over, feed it, choose the next. */
static gboolean
generate_in_turn (VtpLm *lm, const VtpGenerateParams *p, VtpTensor *ids, VtpTokenFunc func, gpointer user_data,
    GArray *tokens, VtpStopReason *why, GError **error)
{
  const gint V = lm->vocab_size;
  g_autofree float *logits = ids ? NULL : g_new (float, V);
  g_autoptr (VtpSampler) sampler = vtp_sampler_new (&p->sampling, V);

  *why = VTP_STOP_LENGTH;
  for (gint i = 0; i < p->max_new_tokens; i++) {
    gint32 token;
    VtpLmSegment next = { &token, NULL, 0, 1 };

    if (!next_token (lm, ids, sampler, logits, i, &token, error))
      return FALSE;
    if (!hand_over (lm, p, func, user_data, tokens, token, i, *lm->n_past >= lm->max_ctx, why))
      break;
    if (!vtp_lm_prefill (lm, &next, 1, FALSE, error))
      return FALSE;
  }
  return TRUE;
}

/* Decoding a step ahead: token i, chosen on the device into
 * ids[i % 2], is fed from there (its embedding row looked up on the
 * device, @table) and token i + 1 chosen before the host reads token i
 * back, so the device always has the next step queued while the host
 * hands a token over. The same tokens, stop reasons, callbacks and n_past
 * as generate_in_turn: a step queued for a token that turns out to end
 * the text (EOS, the callback) is run and then taken back (n_past; its
 * cache row is written again by the next position fed, and only its
 * logits stay behind). */
static gboolean
generate_ahead (VtpLm *lm, const VtpGenerateParams *p, const VtpTensor *table, VtpTokenFunc func,
    gpointer user_data, GArray *tokens, VtpStopReason *why, GError **error)
{
  g_autoptr (VtpSampler) sampler = vtp_sampler_new (&p->sampling, lm->vocab_size);
  const gint64 one = 1, row_shape[2] = { 1, lm->input_width };
  VtpTensor *ids[2] = { NULL, NULL }, *row = NULL;
  VtpTensorReading reading[2] = { { NULL }, { NULL } };
  gint32 got[2];
  gboolean ok = FALSE;

  *why = VTP_STOP_LENGTH;
  if (!(ids[0] = vtp_tensor_new (lm->dev, VTP_DTYPE_I32, 1, &one, error))
      || !(ids[1] = vtp_tensor_new (lm->dev, VTP_DTYPE_I32, 1, &one, error))
      || !(row = vtp_tensor_new (lm->dev, VTP_DTYPE_F32, 2, row_shape, error)))
    goto out;
  choose_on_device (lm, ids[0], 0, sampler);
  if (!vtp_error_take_pending (error) || !vtp_tensor_read_start (ids[0], 0, &got[0], sizeof got[0], &reading[0], error)) {
    g_prefix_error (error, "Choosing generated token 1 on the device: ");
    goto out;
  }
  for (gint i = 0; i < p->max_new_tokens; i++) {
    const gint at = i % 2, next = 1 - at;
    /* the conditions generate_in_turn checks after token i, none of which
     * depends on the token */
    const gboolean last = i + 1 == p->max_new_tokens, full = *lm->n_past >= lm->max_ctx;
    const gboolean ahead = !last && !full;

    if (ahead) {
      const VtpLmSegment fed = { NULL, row, 0, 1 };
      vtp_op_embed (row, 0, ids[at], 1, table);
      if (!vtp_error_take_pending (error) || !vtp_lm_prefill (lm, &fed, 1, FALSE, error))
        goto out;
      choose_on_device (lm, ids[next], 0, sampler);
      if (!vtp_error_take_pending (error)
          || !vtp_tensor_read_start (ids[next], 0, &got[next], sizeof got[next], &reading[next], error)) {
        g_prefix_error (error, "Choosing generated token %d on the device: ", i + 2);
        goto out;
      }
    }
    if (!vtp_tensor_read_finish (&reading[at], error)) {
      g_prefix_error (error, "Choosing generated token %d on the device: ", i + 1);
      goto out;
    }
    if (hand_over (lm, p, func, user_data, tokens, got[at], i, full, why))
      continue;               /* (only where a step is ahead) */
    if (ahead)
      *lm->n_past -= 1;       /* the step that fed this token, taken back */
    break;
  }
  ok = TRUE;
out:
  /* nothing may land in got[] after this returns */
  vtp_tensor_read_finish (&reading[0], NULL);
  vtp_tensor_read_finish (&reading[1], NULL);
  vtp_tensor_free (ids[0]);
  vtp_tensor_free (ids[1]);
  vtp_tensor_free (row);
  return ok;
}

gboolean
vtp_lm_generate (VtpLm *lm, const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data, GArray *tokens,
    VtpStopReason *reason, GError **error)
{
  const gint64 one = 1;
  const gboolean on_device = device_choice_wanted (lm);
  VtpStopReason why = VTP_STOP_LENGTH;
  g_autoptr (VtpTensor) ids = NULL;
  g_autoptr (GError) no_table = NULL;
  /* NULL without an error: the family feeds no tokens from the device */
  const VtpTensor *table = on_device && p->max_new_tokens > 0 && decode_ahead_wanted (lm)
      ? vtp_lm_device_embeddings (lm, &no_table) : NULL;

  if (no_table) {
    g_propagate_error (error, g_steal_pointer (&no_table));
    return FALSE;
  }
  if (table) {
    if (!generate_ahead (lm, p, table, func, user_data, tokens, &why, error))
      return FALSE;
  } else {
    if (on_device && !(ids = vtp_tensor_new (lm->dev, VTP_DTYPE_I32, 1, &one, error)))
      return FALSE;
    if (!generate_in_turn (lm, p, ids, func, user_data, tokens, &why, error))
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

typedef struct {
  VtpBatchStream *s;
  VtpSampler *sampler;
  gint n_new;
} BatchEntry;

struct _VtpBatchGenerator {
  const VtpLmOps *ops;
  gpointer model;
  gint vocab_size;
  gpointer batch;             /* the family's scratch for max_streams rows */
  gint max_streams;
  BatchEntry *entries;        /* [n_active] */
  gint n_active;
  float *logits;              /* [vocab] */
  VtpTensor *ids;             /* [max_streams] I32: the tokens chosen on the device (NULL: on the host) */
  gint32 *chosen;             /* [max_streams]: their copy */
  gpointer *feed_states;
  gint32 *feed_tokens;
};

VtpBatchGenerator *
vtp_batch_generator_new (const VtpLm *lm, gint max_streams, GError **error)
{
  VtpBatchGenerator *g;
  gpointer batch;

  if (!vtp_lm_can_batch (lm)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "%s models decode one stream at a time (no batched decode "
        "step yet)", lm->ops->name);
    return NULL;
  }
  if (!(batch = lm->ops->batch_new (lm->model, max_streams, error)))
    return NULL;
  g = g_new0 (VtpBatchGenerator, 1);
  g->ops = lm->ops;
  g->model = lm->model;
  g->vocab_size = lm->vocab_size;
  g->batch = batch;
  g->max_streams = max_streams;
  g->entries = g_new0 (BatchEntry, max_streams);
  g->logits = g_new (float, lm->vocab_size);
  g->chosen = g_new (gint32, max_streams);
  g->feed_states = g_new (gpointer, max_streams);
  g->feed_tokens = g_new (gint32, max_streams);
  return g;
}

void
vtp_batch_generator_free (VtpBatchGenerator *g)
{
  if (!g)
    return;
  for (gint i = 0; i < g->n_active; i++)
    vtp_sampler_free (g->entries[i].sampler);
  g->ops->batch_free (g->batch);
  vtp_tensor_free (g->ids);
  g_free (g->entries);
  g_free (g->logits);
  g_free (g->chosen);
  g_free (g->feed_states);
  g_free (g->feed_tokens);
  g_free (g);
}

gboolean
vtp_batch_generator_grow (VtpBatchGenerator *g, gint max_streams, GError **error)
{
  gpointer batch;

  if (max_streams <= g->max_streams)
    return TRUE;
  /* the batch is scratch between steps: only the entries carry over */
  if (!(batch = g->ops->batch_new (g->model, max_streams, error)))
    return FALSE;
  g->ops->batch_free (g->batch);
  g->batch = batch;
  g->max_streams = max_streams;
  g->entries = g_renew (BatchEntry, g->entries, max_streams);
  g->chosen = g_renew (gint32, g->chosen, max_streams);
  g_clear_pointer (&g->ids, vtp_tensor_free);   /* made again at the next step's size */
  g->feed_states = g_renew (gpointer, g->feed_states, max_streams);
  g->feed_tokens = g_renew (gint32, g->feed_tokens, max_streams);
  return TRUE;
}

gint
vtp_batch_generator_n_active (const VtpBatchGenerator *g)
{
  return g->n_active;
}

gboolean
vtp_batch_generator_add (VtpBatchGenerator *g, VtpBatchStream *s, GError **error)
{
  if (g->n_active == g->max_streams) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The decode batch is full (%d streams)", g->max_streams);
    return FALSE;
  }
  if (!s->lm || s->lm->model != g->model || s->lm->ops != g->ops || !s->tokens) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A stream joining the decode batch needs a state of this "
        "model and a token array");
    return FALSE;
  }
  for (gint i = 0; i < g->n_active; i++)
    if (g->entries[i].s == s || g->entries[i].s->lm->state == s->lm->state) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "This stream (or its state) is already in the decode batch");
      return FALSE;
    }
  s->done = FALSE;
  s->reason = VTP_STOP_LENGTH;
  if (s->params.max_new_tokens <= 0) {
    s->done = TRUE;           /* vtp_lm_generate's loop would not run either */
    return TRUE;
  }
  g->entries[g->n_active++] = (BatchEntry) { s, vtp_sampler_new (&s->params.sampling, g->vocab_size), 0 };
  return TRUE;
}

/* Every active stream's next token into g->chosen: chosen on the device
 * where the decode loop would choose there (device_choice_wanted: each
 * stream's greedy or drawn token into one I32 tensor, then one read of
 * them all, where each stream's logits would each cross the bus and each
 * read wait for the queue), else each stream's logits read back and its
 * sampler run on the host. */
static gboolean
batch_choose (VtpBatchGenerator *g, GError **error)
{
  VtpLm *first = g->entries[0].s->lm;

  if (device_choice_wanted (first)) {
    const gint64 n = g->max_streams;
    if (!g->ids && !(g->ids = vtp_tensor_new (first->dev, VTP_DTYPE_I32, 1, &n, error)))
      return FALSE;
    for (gint i = 0; i < g->n_active; i++)
      choose_on_device (g->entries[i].s->lm, g->ids, i, g->entries[i].sampler);
    if (!vtp_error_take_pending (error)
        || !vtp_tensor_read (g->ids, 0, g->chosen, (gsize) g->n_active * sizeof (gint32), error)) {
      g_prefix_error (error, "Choosing the batch's tokens on the device: ");
      return FALSE;
    }
    return TRUE;
  }
  for (gint i = 0; i < g->n_active; i++) {
    BatchEntry *e = &g->entries[i];
    if (!vtp_tensor_read (e->s->lm->logits, 0, g->logits, (gsize) g->vocab_size * sizeof (float), error)) {
      g_prefix_error (error, "Reading back the logits of generated token %d: ", e->n_new + 1);
      return FALSE;
    }
    g->chosen[i] = vtp_sampler_sample (e->sampler, g->logits);
  }
  return TRUE;
}

gboolean
vtp_batch_generator_step (VtpBatchGenerator *g, GError **error)
{
  gint n_feed = 0, kept = 0;

  if (g->n_active > 0 && !batch_choose (g, error))
    return FALSE;
  /* vtp_lm_generate's hand-over for each stream */
  for (gint i = 0; i < g->n_active; i++) {
    BatchEntry *e = &g->entries[i];
    VtpBatchStream *s = e->s;

    s->done = !hand_over (s->lm, &s->params, s->func, s->user_data, s->tokens, g->chosen[i], e->n_new++,
        *s->lm->n_past >= s->lm->max_ctx, &s->reason);
    if (!s->done) {
      g->feed_states[n_feed] = s->lm->state;
      g->feed_tokens[n_feed++] = g->chosen[i];
    }
  }
  /* the streams that stopped leave the batch */
  for (gint i = 0; i < g->n_active; i++) {
    if (g->entries[i].s->done)
      vtp_sampler_free (g->entries[i].sampler);
    else
      g->entries[kept++] = g->entries[i];
  }
  g->n_active = kept;
  return n_feed == 0 || g->ops->decode_batch (g->model, g->batch, g->feed_states, g->feed_tokens, n_feed, error);
}

gboolean
vtp_lm_generate_batch (VtpBatchStream *streams, gint n, GError **error)
{
  g_autoptr (VtpBatchGenerator) g = NULL;

  g_return_val_if_fail (n >= 1 && streams[0].lm, FALSE);
  if (!(g = vtp_batch_generator_new (streams[0].lm, n, error)))
    return FALSE;
  for (gint i = 0; i < n; i++)
    if (!vtp_batch_generator_add (g, &streams[i], error))
      return FALSE;
  while (vtp_batch_generator_n_active (g) > 0)
    if (!vtp_batch_generator_step (g, error))
      return FALSE;
  return TRUE;
}
