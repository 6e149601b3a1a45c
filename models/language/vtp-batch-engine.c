/* vtp-batch-engine.c: the shared batching engine of a language model
 * (vtp-batch-engine.h). Threads: callers only queue their request and
 * wait; the engine's thread alone runs the model for the requests (their
 * prefills and the batched steps), so that no two threads drive the same
 * states, generator or batch scratch. The model's weights are read-only and
 * the device's queue and scratch pool are locked (vtp-device.h), so other
 * users of the same model (a vtpllm with batch=0) may still run beside it.
 *
 * One lock per engine guards the queue, each request's shared part (its
 * tokens so far, done, reason, error) and the quit flag; two conditions:
 * "work" wakes the engine (a request came, quit), "progress" wakes the
 * callers (a token came, a request ended). */
#include "vtp-batch-engine.h"
#include "vtp-model-cache.h"

#define MAX_ENGINE_STREAMS 64

typedef struct {
  VtpBatchEngine *e;
  VtpLm *lm;                    /* the caller's stream (its state) */
  const VtpLmSegment *segments;
  gint n_segments;
  const gint *cancel;           /* the caller's flag (atomic), may be NULL */
  gint stop;                    /* atomic: the caller's token function said stop */
  gint64 t_submit, t_prefill, t_decode;
  gint prefill_done, prefill_total;   /* rows (the engine thread's) */
  double batch_sum;
  /* the engine thread's alone, between admission and completion */
  VtpBatchStream stream;
  GArray *engine_tokens;        /* the generator's token array */
  /* under e->lock */
  GArray *shared;               /* tokens so far (EOS excluded), for the caller */
  gint32 eos_token;
  gboolean done;
  VtpStopReason reason;
  GError *error;
  VtpBatchStats stats;
} Request;

struct _VtpBatchEngine {
  VtpLm model;                  /* the model's ops and weights (no state: a copy of the first user's view) */
  gint max_streams;             /* the generator's room (the engine thread's) */
  gint want_streams;            /* the most any user asked for (lock): the generator grows to it between steps */
  GThread *thread;
  GMutex lock;
  GCond work, progress;
  GQueue queue;                 /* Request: waiting for a place in the batch */
  gboolean quit;
  /* the engine thread's alone */
  VtpBatchGenerator *gen;       /* NULL once a failed step could not make a new one */
  GPtrArray *active;            /* Request: in the generator */
  Request *prefilling;          /* the newcomer whose prefill is under way, between pieces */
};


static gboolean
cancelled (Request *r)
{
  return (r->cancel && g_atomic_int_get (r->cancel)) || g_atomic_int_get (&r->stop);
}

/* Hands @r back to its caller (e->lock held): after this the caller may
 * free it, so nothing touches @r afterwards. Takes @error. */
static void
complete_locked (VtpBatchEngine *e, Request *r, VtpStopReason reason, GError *error)
{
  const gint64 now = g_get_monotonic_time ();

  r->reason = reason;
  r->error = error;
  r->stats.decode_ms = r->t_decode ? (now - r->t_decode) / 1000.0 : 0;
  r->stats.batch_streams = r->stats.steps ? r->batch_sum / r->stats.steps : 1.0;
  r->done = TRUE;
  g_cond_broadcast (&e->progress);
}

static void
complete (VtpBatchEngine *e, Request *r, VtpStopReason reason, GError *error)
{
  g_mutex_lock (&e->lock);
  complete_locked (e, r, reason, error);
  g_mutex_unlock (&e->lock);
}

/* The generator's token function, on the engine thread: the token goes to
 * the caller (who runs its own function in its thread); a cancelled
 * request stops here and leaves the batch at this step. */
static gboolean
on_token (gint32 token, gpointer data)
{
  Request *r = data;
  VtpBatchEngine *e = r->e;

  g_mutex_lock (&e->lock);
  if (r->stream.params.stop_at_eos && vtp_lm_is_eos (&e->model, token))
    r->eos_token = token;
  else
    g_array_append_val (r->shared, token);
  g_cond_broadcast (&e->progress);
  g_mutex_unlock (&e->lock);
  return !cancelled (r);
}

/* Requests cancelled while they waited for a place leave the queue
 * (e->lock held). */
static void
drop_cancelled_locked (VtpBatchEngine *e)
{
  for (GList *l = e->queue.head; l;) {
    GList *next = l->next;
    Request *r = l->data;
    if (cancelled (r)) {
      g_queue_delete_link (&e->queue, l);
      complete_locked (e, r, VTP_STOP_CALLER, NULL);
    }
    l = next;
  }
}

/* A newcomer: its prefill starts (prefill_piece runs it), from position
 * 0 of its state. */
static void
admit (VtpBatchEngine *e, Request *r)
{
  if (cancelled (r)) {
    complete (e, r, VTP_STOP_CALLER, NULL);
    return;
  }
  if (!e->gen) {
    complete (e, r, VTP_STOP_LENGTH, g_error_new (VTP_ERROR, VTP_ERROR_DEVICE, "The batching engine stopped "
            "after a failed decode step and could not start again"));
    return;
  }
  r->t_prefill = g_get_monotonic_time ();
  r->stats.wait_ms = (r->t_prefill - r->t_submit) / 1000.0;
  *r->lm->n_past = 0;
  r->prefill_done = r->prefill_total = 0;
  for (gint i = 0; i < r->n_segments; i++)
    r->prefill_total += MAX (r->segments[i].n, 0);
  e->prefilling = r;
}

/* The prefill done: the newcomer's place in the generator. */
static void
join (VtpBatchEngine *e, Request *r)
{
  GError *error = NULL;

  r->t_decode = g_get_monotonic_time ();
  r->stats.prefill_ms = (r->t_decode - r->t_prefill) / 1000.0;
  r->stream.lm = r->lm;
  r->stream.func = on_token;
  r->stream.user_data = r;
  r->stream.tokens = r->engine_tokens;
  if (!vtp_batch_generator_add (e->gen, &r->stream, &error)) {
    complete (e, r, VTP_STOP_LENGTH, error);
    return;
  }
  if (r->stream.done)           /* nothing to generate (max_new_tokens 0) */
    complete (e, r, r->stream.reason, NULL);
  else
    g_ptr_array_add (e->active, r);
}

/* The next piece of the newcomer's prefill: VTP_BATCH_PREFILL_PIECE rows
 * while others are decoding (a step of theirs follows), the rest at once
 * when none is; an encoder-decoder's input (T5) always at once. */
static void
prefill_piece (VtpBatchEngine *e)
{
  Request *r = e->prefilling;
  GError *error = NULL;
  const gint left = r->prefill_total - r->prefill_done;
  const gint take = e->active->len == 0 || left < VTP_BATCH_PREFILL_PIECE + 8 || r->lm->ops->encodes_input ? left
      : VTP_BATCH_PREFILL_PIECE;
  g_autofree VtpLmSegment *piece = g_new (VtpLmSegment, MAX (r->n_segments, 1));
  /* no rows at all: the whole (empty) input, for the prefill's own error */
  const gint n = r->prefill_total == 0 ? r->n_segments
      : vtp_lm_segments_slice (r->segments, r->n_segments, r->prefill_done, take, piece);

  if (cancelled (r)) {
    e->prefilling = NULL;
    complete (e, r, VTP_STOP_CALLER, NULL);
    return;
  }
  /* wait for the piece's kernels (the queue runs asynchronously), or its
   * time is counted as the next decode step's */
  if (!vtp_lm_prefill (r->lm, r->prefill_total == 0 ? r->segments : piece, n, FALSE, &error)
      || !vtp_device_finish (r->lm->dev, &error)) {
    g_prefix_error (&error, "The prompt's prefill: ");
    e->prefilling = NULL;
    complete (e, r, VTP_STOP_LENGTH, error);
    return;
  }
  r->prefill_done += take;
  r->stats.prefill_pieces++;
  if (r->prefill_done < r->prefill_total)
    return;
  e->prefilling = NULL;
  join (e, r);
}

/* A failed step leaves the generator's streams half-stepped: each of them
 * gets the error (the ones that had stopped cleanly their answer), and a
 * new generator takes the next requests. */
static void
fail_active (VtpBatchEngine *e, GError *error)
{
  for (guint i = 0; i < e->active->len; i++) {
    Request *r = e->active->pdata[i];
    if (r->stream.done)
      complete (e, r, r->stream.reason, NULL);
    else
      complete (e, r, VTP_STOP_LENGTH, g_error_copy (error));
  }
  g_ptr_array_set_size (e->active, 0);
  g_clear_pointer (&e->gen, vtp_batch_generator_free);
  e->gen = vtp_batch_generator_new (&e->model, e->max_streams, NULL);
}

/* One decode step of every admitted stream; those that stop go back to
 * their callers, the others count the step's size for their statistics. */
static void
step (VtpBatchEngine *e)
{
  GError *error = NULL;
  gint fed;

  if (!vtp_batch_generator_step (e->gen, &error)) {
    fail_active (e, error);
    g_error_free (error);
    return;
  }
  fed = vtp_batch_generator_n_active (e->gen);
  for (guint i = e->active->len; i-- > 0;) {
    Request *r = e->active->pdata[i];
    if (r->stream.done) {
      g_ptr_array_remove_index (e->active, i);
      complete (e, r, r->stream.reason, NULL);
    } else {
      r->stats.steps++;
      r->batch_sum += fed;
    }
  }
}

static gpointer
engine_thread (gpointer data)
{
  VtpBatchEngine *e = data;

  g_mutex_lock (&e->lock);
  while (!e->quit) {
    Request *r = NULL;
    const gint want = e->want_streams;

    if (want > e->max_streams && e->gen) {
      /* a later user asked for more streams: room for them from the next
       * step (allocating outside the lock) */
      GError *error = NULL;
      g_mutex_unlock (&e->lock);
      if (vtp_batch_generator_grow (e->gen, want, &error))
        e->max_streams = want;
      else {
        g_warning ("The batching engine stays at %d streams: %s", e->max_streams, error->message);
        g_error_free (error);
      }
      g_mutex_lock (&e->lock);
      if (e->max_streams != want)
        e->want_streams = e->max_streams;   /* not again */
      /* engine_free may have asked to quit while the lock was open: its
       * signal then found no waiter, and the wait below would never end */
      if (e->quit)
        break;
    }
    drop_cancelled_locked (e);
    if (e->active->len == 0 && g_queue_is_empty (&e->queue) && !e->prefilling) {
      g_cond_wait (&e->work, &e->lock);
      continue;
    }
    /* first come, first served, one newcomer at a time, its prefill a piece
     * between two steps of the others */
    if (!e->prefilling && (gint) e->active->len < e->max_streams)
      r = g_queue_pop_head (&e->queue);
    g_mutex_unlock (&e->lock);
    if (r)
      admit (e, r);
    if (e->prefilling)
      prefill_piece (e);
    if (e->active->len > 0)
      step (e);
    g_mutex_lock (&e->lock);
  }
  g_mutex_unlock (&e->lock);
  return NULL;
}

static void
engine_free (VtpBatchEngine *e)
{
  /* the last caller released it: no request is left, but never leave a
   * caller blocked should one be */
  g_mutex_lock (&e->lock);
  e->quit = TRUE;
  g_cond_signal (&e->work);
  g_mutex_unlock (&e->lock);
  if (e->thread)
    g_thread_join (e->thread);
  for (guint i = 0; i < e->active->len; i++)
    complete (e, e->active->pdata[i], VTP_STOP_CALLER, NULL);
  g_mutex_lock (&e->lock);
  while (!g_queue_is_empty (&e->queue))
    complete_locked (e, g_queue_pop_head (&e->queue), VTP_STOP_CALLER, NULL);
  g_mutex_unlock (&e->lock);
  vtp_batch_generator_free (e->gen);
  g_ptr_array_free (e->active, TRUE);
  g_mutex_clear (&e->lock);
  g_cond_clear (&e->work);
  g_cond_clear (&e->progress);
  g_free (e);
}

typedef struct {
  const VtpLm *lm;
  gint max_streams;
} LoadArgs;

static gpointer
engine_new (gpointer data, GError **error)
{
  const LoadArgs *a = data;
  VtpBatchEngine *e = g_new0 (VtpBatchEngine, 1);

  /* the model's part of the first user's view: its state stays that user's */
  e->model = *a->lm;
  e->model.state = NULL;
  e->model.owns_model = e->model.owns_state = FALSE;
  e->model.n_past = NULL;
  e->model.logits = NULL;
  e->max_streams = e->want_streams = a->max_streams;
  g_mutex_init (&e->lock);
  g_cond_init (&e->work);
  g_cond_init (&e->progress);
  g_queue_init (&e->queue);
  e->active = g_ptr_array_new ();
  if (!(e->gen = vtp_batch_generator_new (a->lm, a->max_streams, error))
      || !(e->thread = g_thread_try_new ("vtp-batch", engine_thread, e, error))) {
    engine_free (e);
    return NULL;
  }
  return e;
}

VtpBatchEngine *
vtp_batch_engine_acquire (const VtpLm *lm, gint max_streams, GError **error)
{
  LoadArgs a = { lm, max_streams };
  g_autofree char *key = g_strdup_printf ("batch-engine|%p", lm->model);
  VtpBatchEngine *e;

  if (max_streams < 1 || max_streams > MAX_ENGINE_STREAMS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A batching engine decodes 1 to %d streams together, not %d",
        MAX_ENGINE_STREAMS, max_streams);
    return NULL;
  }
  if (!vtp_lm_can_batch (lm)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A batching engine decodes streams of models with a batched "
        "decode step (LLaMA, OPT, T5), not %s", lm->ops->name);
    return NULL;
  }
  /* one engine per model, kept in the model cache */
  if (!(e = vtp_model_cache_acquire (key, engine_new, &a, (GDestroyNotify) engine_free, error)))
    return NULL;
  g_mutex_lock (&e->lock);
  if (max_streams > e->want_streams) {
    e->want_streams = max_streams;
    g_cond_signal (&e->work);
  }
  g_mutex_unlock (&e->lock);
  return e;
}

void
vtp_batch_engine_release (VtpBatchEngine *e)
{
  vtp_model_cache_release (e);
}

gint
vtp_batch_engine_max_streams (const VtpBatchEngine *e)
{
  VtpBatchEngine *me = (VtpBatchEngine *) e;     /* its lock only */
  gint n;

  g_mutex_lock (&me->lock);
  n = me->want_streams;
  g_mutex_unlock (&me->lock);
  return n;
}

/* The caller's side: its token function on the new tokens, in its thread;
 * then the outcome. */
static gboolean
wait_for (VtpBatchEngine *e, Request *r, VtpTokenFunc func, gpointer user_data, GArray *tokens,
    VtpStopReason *reason, VtpBatchStats *stats, GError **error)
{
  g_autoptr (GArray) fresh = g_array_new (FALSE, FALSE, sizeof (gint32));
  gboolean stopped = FALSE, done = FALSE;
  guint seen = 0;

  while (!done) {
    g_mutex_lock (&e->lock);
    while (!r->done && r->shared->len == seen)
      g_cond_wait (&e->progress, &e->lock);
    g_array_set_size (fresh, 0);
    g_array_append_vals (fresh, &g_array_index (r->shared, gint32, seen), r->shared->len - seen);
    seen = r->shared->len;
    done = r->done;
    g_mutex_unlock (&e->lock);
    for (guint i = 0; i < fresh->len && !stopped; i++) {
      const gint32 token = g_array_index (fresh, gint32, i);
      g_array_append_val (tokens, token);
      /* the tokens end where the function said stop, as they do alone */
      if (func && !func (token, user_data)) {
        stopped = TRUE;
        g_atomic_int_set (&r->stop, 1);
      }
    }
  }
  /* done: the engine no longer touches r */
  if (stats)
    *stats = r->stats;
  if (r->error) {
    g_propagate_error (error, r->error);
    return FALSE;
  }
  if (stopped)
    r->reason = VTP_STOP_CALLER;
  else if (r->reason == VTP_STOP_EOS && func)
    func (r->eos_token, user_data);
  if (reason)
    *reason = r->reason;
  return TRUE;
}

gboolean
vtp_batch_engine_generate (VtpBatchEngine *e, VtpLm *lm, const VtpLmSegment *segments, gint n_segments,
    const VtpGenerateParams *p, VtpTokenFunc func, gpointer user_data, const gint *cancel, GArray *tokens,
    VtpStopReason *reason, VtpBatchStats *stats, GError **error)
{
  g_autoptr (GArray) shared = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (GArray) engine_tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  Request r = { 0 };

  if (!lm || lm->model != e->model.model || lm->ops != e->model.ops) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A request to the batching engine needs a state of the "
        "engine's model");
    return FALSE;
  }
  r.e = e;
  r.lm = lm;
  r.segments = segments;
  r.n_segments = n_segments;
  r.cancel = cancel;
  r.stream.params = *p;
  r.engine_tokens = engine_tokens;
  r.shared = shared;
  r.t_submit = g_get_monotonic_time ();
  g_mutex_lock (&e->lock);
  g_queue_push_tail (&e->queue, &r);
  g_cond_signal (&e->work);
  g_mutex_unlock (&e->lock);
  return wait_for (e, &r, func, user_data, tokens, reason, stats, error);
}
