/* vtp-vision-batch.c: the shared batching engine of a vision tower
 * (vtp-vision-batch.h). Callers only queue their request and wait; the
 * engine's thread alone runs the tower for them, with one state for up to
 * max_images pictures (remade when a caller asks for more). The tower's
 * weights are read-only and the device's queue is locked, so other users of
 * the same tower (a vtpencoder with batch=0) may still run beside it. The
 * engines live in the model cache (vtp-model-cache.h), one per tower.
 *
 * One lock per engine guards the queue, each request's result and the quit
 * flag; "work" wakes the engine, "done" wakes the callers. */
#include "vtp-vision-batch.h"
#include "vtp-model-cache.h"

#define MAX_IMAGES 64

typedef struct {
  VtpTensor *pixels, *features;
  gint64 t_submit;
  /* under the engine's lock */
  gboolean done;
  GError *error;
  VtpVisionBatchStats stats;
} Request;

struct _VtpVisionBatch {
  VtpVisionTower *m;
  gint want_images;             /* the most any caller asked for (lock) */
  GThread *thread;
  GMutex lock;
  GCond work, done;
  GQueue queue;                 /* Request: waiting for the next batch */
  gboolean quit, paused;
  /* the engine thread's alone */
  VtpVisionState *state;        /* room for state->n_images pictures */
};

/* A state with room for @n pictures (the one there when it has it). */
static gboolean
ensure_state (VtpVisionBatch *b, gint n, GError **error)
{
  VtpVisionState *s;

  if (b->state && b->state->n_images >= n)
    return TRUE;
  /* the old state's buffers go first: both need not fit at once */
  g_clear_pointer (&b->state, vtp_vision_state_free);
  if (!(s = vtp_vision_state_new_many (b->m, n, error)))
    return FALSE;
  b->state = s;
  return TRUE;
}

/* Encodes @n requests together and hands them back. */
static void
run_batch (VtpVisionBatch *b, Request **batch, gint n)
{
  VtpTensor *pixels[MAX_IMAGES], *features[MAX_IMAGES];
  g_autoptr (GError) error = NULL;
  const gint64 t0 = g_get_monotonic_time ();
  gint64 t1;

  for (gint i = 0; i < n; i++) {
    pixels[i] = batch[i]->pixels;
    features[i] = batch[i]->features;
  }
  if (ensure_state (b, n, &error)) {
    vtp_vision_tower_forward_many (b->m, b->state, pixels, features, n);
    vtp_error_take_pending (&error);
  }
  if (error)
    g_prefix_error (&error, "Encoding a batch of %d picture%s: ", n, n == 1 ? "" : "s");
  t1 = g_get_monotonic_time ();
  g_mutex_lock (&b->lock);
  for (gint i = 0; i < n; i++) {
    Request *r = batch[i];
    r->stats.wait_ms = (t0 - r->t_submit) / 1000.0;
    r->stats.encode_ms = (t1 - t0) / 1000.0;
    r->stats.images = n;
    r->error = error ? g_error_copy (error) : NULL;
    r->done = TRUE;
  }
  g_cond_broadcast (&b->done);
  g_mutex_unlock (&b->lock);
}

static gpointer
engine_thread (gpointer data)
{
  VtpVisionBatch *b = data;
  Request *batch[MAX_IMAGES];

  for (;;) {
    gint n = 0;
    g_mutex_lock (&b->lock);
    while (!b->quit && (b->paused || g_queue_is_empty (&b->queue)))
      g_cond_wait (&b->work, &b->lock);
    if (b->quit) {
      g_mutex_unlock (&b->lock);
      break;
    }
    while (n < b->want_images && !g_queue_is_empty (&b->queue))
      batch[n++] = g_queue_pop_head (&b->queue);
    g_mutex_unlock (&b->lock);
    run_batch (b, batch, n);
  }
  return NULL;
}

static void
engine_free (VtpVisionBatch *b)
{
  if (b->thread) {
    g_mutex_lock (&b->lock);
    b->quit = TRUE;
    g_cond_signal (&b->work);
    g_mutex_unlock (&b->lock);
    g_thread_join (b->thread);
  }
  g_clear_pointer (&b->state, vtp_vision_state_free);
  g_mutex_clear (&b->lock);
  g_cond_clear (&b->work);
  g_cond_clear (&b->done);
  g_free (b);
}

typedef struct {
  VtpVisionTower *m;
  gint max_images;
} LoadArgs;

static gpointer
engine_new (gpointer data, GError **error)
{
  const LoadArgs *a = data;
  VtpVisionBatch *b = g_new0 (VtpVisionBatch, 1);

  b->m = a->m;
  b->want_images = a->max_images;
  g_mutex_init (&b->lock);
  g_cond_init (&b->work);
  g_cond_init (&b->done);
  g_queue_init (&b->queue);
  /* the state for the first batch now, so that a tower too large for the
   * device's memory at this batch size fails here, at start */
  if (!ensure_state (b, a->max_images, error)) {
    engine_free (b);
    return NULL;
  }
  b->thread = g_thread_new ("vtp-vision-batch", engine_thread, b);
  return b;
}

VtpVisionBatch *
vtp_vision_batch_acquire (VtpVisionTower *m, gint max_images, GError **error)
{
  LoadArgs a = { m, max_images };
  g_autofree char *key = g_strdup_printf ("vision-batch|%p", (void *) m);
  VtpVisionBatch *b;

  if (max_images < 1 || max_images > MAX_IMAGES) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "A vision batch holds 1 to %d pictures, not %d", MAX_IMAGES,
        max_images);
    return NULL;
  }
  if (!(b = vtp_model_cache_acquire (key, engine_new, &a, (GDestroyNotify) engine_free, error)))
    return NULL;
  g_mutex_lock (&b->lock);
  b->want_images = MAX (b->want_images, max_images);
  g_mutex_unlock (&b->lock);
  return b;
}

void
vtp_vision_batch_release (VtpVisionBatch *b)
{
  vtp_model_cache_release (b);
}

gint
vtp_vision_batch_max_images (const VtpVisionBatch *b)
{
  gint n;

  g_mutex_lock ((GMutex *) &b->lock);
  n = b->want_images;
  g_mutex_unlock ((GMutex *) &b->lock);
  return n;
}

void
vtp_vision_batch_set_paused (VtpVisionBatch *b, gboolean paused)
{
  g_mutex_lock (&b->lock);
  b->paused = paused;
  g_cond_signal (&b->work);
  g_mutex_unlock (&b->lock);
}

guint
vtp_vision_batch_queued (VtpVisionBatch *b)
{
  guint n;

  g_mutex_lock (&b->lock);
  n = b->queue.length;
  g_mutex_unlock (&b->lock);
  return n;
}

gboolean
vtp_vision_batch_encode (VtpVisionBatch *b, VtpTensor *pixels, VtpTensor *features, VtpVisionBatchStats *stats,
    GError **error)
{
  Request r = { pixels, features, g_get_monotonic_time () };
  const gint64 S = b->m->cfg.image_size, rows = vtp_vision_tower_feature_rows (b->m);
  const gint64 width = vtp_vision_tower_feature_width (b->m);

  /* checked here, so that a wrong request fails alone, not its batch */
  if (pixels->dtype != VTP_DTYPE_F32 || pixels->ndim != 3 || pixels->shape[0] != 3 || pixels->shape[1] != S
      || pixels->shape[2] != S || pixels->dev != b->m->dev) {
    g_autofree char *d = vtp_tensor_describe (pixels);
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The picture to encode is a %s tensor; the vision tower takes "
        "[3, %" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] F32 on its own device", d, S, S);
    return FALSE;
  }
  if (features->dtype != VTP_DTYPE_F32 || features->ndim != 2 || features->shape[0] != rows
      || features->shape[1] != width || features->dev != b->m->dev) {
    g_autofree char *d = vtp_tensor_describe (features);
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The features of an encoded picture go into a %s tensor; the "
        "vision tower gives [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] F32 on its own device", d, rows, width);
    return FALSE;
  }
  g_mutex_lock (&b->lock);
  g_queue_push_tail (&b->queue, &r);
  g_cond_signal (&b->work);
  while (!r.done)
    g_cond_wait (&b->done, &b->lock);
  g_mutex_unlock (&b->lock);
  if (stats)
    *stats = r.stats;
  if (r.error) {
    g_propagate_error (error, r.error);
    return FALSE;
  }
  return TRUE;
}
