/* gstvtpframegate.c: the newest-frame-wins slot in front of vtpencoder
 * (see gstvtpframegate.h). */
#include "gstvtpframegate.h"
#include "gstvtpcommon.h"

GST_DEBUG_CATEGORY_STATIC (gate_debug);
#define GST_CAT_DEFAULT gate_debug

GType
gst_vtp_drop_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_VTP_DROP_AUTO, "Newest frame wins when the pipeline is live, else upstream waits", "auto" },
    { GST_VTP_DROP_ALWAYS, "Newest frame wins: frames arriving while the model is busy are dropped", "always" },
    { GST_VTP_DROP_NEVER, "Upstream waits: every frame the rate limit lets through is described", "never" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpDropMode", values));
  return type;
}

/* A frame or a serialized event waiting for the worker. */
typedef struct {
  GstMiniObject *obj;
  gint64 arrival_us;
} Item;

struct _GstVtpFrameGate {
  GstElement *element;          /* not owned: the gate lives as long as it */
  GstPad *sinkpad;
  GstPadChainFunction chain;    /* the pad's own functions, run by the worker */
  GstPadEventFunction event;
  GstTask *task;
  GRecMutex task_lock;

  GMutex lock;                  /* everything below */
  GCond cond;
  GQueue items;                 /* Item, in arrival order */
  guint n_frames;               /* frames among them */
  gboolean flushing;
  gboolean stopping;            /* the task is being stopped: it must not pause */
  gboolean busy;                /* the worker runs an item */
  GstFlowReturn last_flow;      /* of the last frame the worker ran */
  gint live;                    /* -1: not asked yet */
  GstVtpDropMode mode;
  guint64 min_interval;
  guint frame_interval;
  GstClockTime last_pts;        /* of the last frame let through */
  GstVtpFrameCounts counts;
  gint64 current_arrival;
  GstVtpFrameCounts current_counts;
};

static void
item_free (Item *it)
{
  gst_mini_object_unref (it->obj);
  g_free (it);
}

/* Drops everything waiting (lock held). */
static void
clear_items (GstVtpFrameGate *g)
{
  Item *it;
  while ((it = g_queue_pop_head (&g->items)))
    item_free (it);
  g->n_frames = 0;
}

/* Whether frames may be dropped: asks upstream whether the pipeline is live
 * the first time it matters (lock not held). */
static gboolean
may_drop (GstVtpFrameGate *g, GstVtpDropMode mode)
{
  gint live;

  if (mode != GST_VTP_DROP_AUTO)
    return mode == GST_VTP_DROP_ALWAYS;
  g_mutex_lock (&g->lock);
  live = g->live;
  g_mutex_unlock (&g->lock);
  if (live < 0) {
    live = gst_vtp_upstream_is_live (g->sinkpad);
    GST_INFO_OBJECT (g->element, "upstream is %slive: %s", live ? "" : "not ",
        live ? "the newest frame wins" : "frames wait for the model");
    g_mutex_lock (&g->lock);
    g->live = live;
    g_mutex_unlock (&g->lock);
  }
  return live;
}

/* The rate limit (lock held): TRUE when @buf may go on. */
static gboolean
rate_allows (GstVtpFrameGate *g, GstBuffer *buf)
{
  const GstClockTime pts = GST_BUFFER_PTS (buf);

  if (g->frame_interval > 1 && (g->counts.received - 1) % g->frame_interval != 0)
    return FALSE;
  if (g->min_interval && GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (g->last_pts)
      && pts < g->last_pts + g->min_interval)
    return FALSE;
  g->last_pts = pts;
  return TRUE;
}

/* A dropped frame leaves a GAP event in its place, so that downstream
 * knows the stream went on (text durations, subtitles); NULL when the frame
 * has no timestamp. */
static Item *
gap_item (GstBuffer *buf, gint64 arrival_us)
{
  Item *it;

  if (!GST_BUFFER_PTS_IS_VALID (buf))
    return NULL;
  it = g_new (Item, 1);
  it->obj = GST_MINI_OBJECT_CAST (gst_event_new_gap (GST_BUFFER_PTS (buf), GST_BUFFER_DURATION (buf)));
  it->arrival_us = arrival_us;
  return it;
}

/* Queues the gap a skipped frame leaves (lock held); joined to a gap just
 * before it, so that a long generation leaves one event, not hundreds. */
static void
push_gap (GstVtpFrameGate *g, GstBuffer *buf, gint64 arrival_us)
{
  Item *it = gap_item (buf, arrival_us), *tail = g_queue_peek_tail (&g->items);
  GstClockTime start, dur, tail_start, tail_dur;

  if (!it)
    return;
  if (tail && GST_IS_EVENT (tail->obj) && GST_EVENT_TYPE (tail->obj) == GST_EVENT_GAP) {
    gst_event_parse_gap (GST_EVENT_CAST (tail->obj), &tail_start, &tail_dur);
    gst_event_parse_gap (GST_EVENT_CAST (it->obj), &start, &dur);
    if (start >= tail_start && GST_CLOCK_TIME_IS_VALID (dur)) {
      gst_mini_object_unref (tail->obj);
      tail->obj = GST_MINI_OBJECT_CAST (gst_event_new_gap (tail_start, start + dur - tail_start));
      item_free (it);
      return;
    }
  }
  g_queue_push_tail (&g->items, it);
  g_cond_broadcast (&g->cond);
}

void
gst_vtp_frame_gate_skip_current (GstVtpFrameGate *g)
{
  g_mutex_lock (&g->lock);
  g->counts.described--;
  g->counts.dropped++;
  g_mutex_unlock (&g->lock);
}

static GstFlowReturn
gate_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVtpFrameGate *g = pad->chaindata;
  const gint64 now = g_get_monotonic_time ();
  GstVtpDropMode mode;
  gboolean drop;
  GstFlowReturn ret;
  Item *it;

  g_mutex_lock (&g->lock);
  mode = g->mode;
  g_mutex_unlock (&g->lock);
  drop = may_drop (g, mode);

  g_mutex_lock (&g->lock);
  g->counts.received++;
  if (!g->flushing && g->last_flow == GST_FLOW_OK && !rate_allows (g, buf)) {
    g->counts.dropped++;
    push_gap (g, buf, now);
    g_mutex_unlock (&g->lock);
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  if (drop) {
    /* the newest wins: frames still waiting give way to a gap (events keep their place) */
    for (GList *l = g->items.head; l && g->n_frames; l = l->next) {
      Item *gap;
      it = l->data;
      if (!GST_IS_BUFFER (it->obj))
        continue;
      gap = gap_item (GST_BUFFER_CAST (it->obj), it->arrival_us);
      item_free (it);
      l->data = gap;
      g->n_frames--;
      g->counts.dropped++;
    }
    g_queue_remove_all (&g->items, NULL);
  } else {
    while (!g->flushing && g->n_frames > 0)
      g_cond_wait (&g->cond, &g->lock);
  }
  ret = g->flushing ? GST_FLOW_FLUSHING : g->last_flow;
  if (ret != GST_FLOW_OK) {
    g->counts.dropped++;
    g_mutex_unlock (&g->lock);
    gst_buffer_unref (buf);
    return ret;
  }
  it = g_new (Item, 1);
  it->obj = GST_MINI_OBJECT_CAST (buf);
  it->arrival_us = now;
  g_queue_push_tail (&g->items, it);
  g->n_frames++;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
  return GST_FLOW_OK;
}

static gboolean
gate_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVtpFrameGate *g = pad->eventdata;
  Item *it;

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_FLUSH_START: {
      gboolean ok;
      g_mutex_lock (&g->lock);
      g->flushing = TRUE;
      clear_items (g);
      g_cond_broadcast (&g->cond);
      g_mutex_unlock (&g->lock);
      /* downstream stops generating; then the worker leaves the element */
      ok = g->event (pad, parent, event);
      gst_task_pause (g->task);
      g_rec_mutex_lock (&g->task_lock);
      g_rec_mutex_unlock (&g->task_lock);
      return ok;
    }
    case GST_EVENT_FLUSH_STOP: {
      gboolean ok = g->event (pad, parent, event);
      g_mutex_lock (&g->lock);
      g->flushing = FALSE;
      g->last_flow = GST_FLOW_OK;
      g->last_pts = GST_CLOCK_TIME_NONE;
      g_mutex_unlock (&g->lock);
      gst_task_start (g->task);
      return ok;
    }
    case GST_EVENT_CAPS: {
      /* The pad takes new caps as current as soon as this returns, and
       * GstBaseTransform skips set_caps for caps equal to the current ones:
       * so caps are set here, once the frames before them are done. */
      gboolean idle;
      g_mutex_lock (&g->lock);
      while (!g->flushing && (!g_queue_is_empty (&g->items) || g->busy))
        g_cond_wait (&g->cond, &g->lock);
      idle = !g->flushing;
      g_mutex_unlock (&g->lock);
      if (!idle) {
        gst_event_unref (event);
        return FALSE;
      }
      return g->event (pad, parent, event);
    }
    default:
      break;
  }
  if (!GST_EVENT_IS_SERIALIZED (event))
    return g->event (pad, parent, event);
  /* in order with the frames, run by the worker */
  g_mutex_lock (&g->lock);
  if (g->flushing) {
    g_mutex_unlock (&g->lock);
    gst_event_unref (event);
    return FALSE;
  }
  it = g_new (Item, 1);
  it->obj = GST_MINI_OBJECT_CAST (event);
  it->arrival_us = g_get_monotonic_time ();
  g_queue_push_tail (&g->items, it);
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
  return TRUE;
}

/* The worker: one waiting item per turn. */
static void
gate_loop (gpointer data)
{
  GstVtpFrameGate *g = data;
  GstObject *parent = GST_OBJECT (g->element);
  Item *it;
  GstFlowReturn ret;

  g_mutex_lock (&g->lock);
  while (!g->flushing && g_queue_is_empty (&g->items))
    g_cond_wait (&g->cond, &g->lock);
  if (g->flushing) {
    /* paused under the lock so that a stop cannot come in between and be undone */
    if (!g->stopping)
      gst_task_pause (g->task);
    g_mutex_unlock (&g->lock);
    return;
  }
  it = g_queue_pop_head (&g->items);
  g->busy = TRUE;
  if (GST_IS_BUFFER (it->obj)) {
    g->n_frames--;
    g->counts.described++;
    g->current_arrival = it->arrival_us;
    g->current_counts = g->counts;
  }
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);

  if (GST_IS_EVENT (it->obj)) {
    if (!g->event (g->sinkpad, parent, GST_EVENT_CAST (it->obj)))
      GST_DEBUG_OBJECT (g->element, "event %" GST_PTR_FORMAT " was not handled", it->obj);
    ret = GST_FLOW_OK;
  } else {
    ret = g->chain (g->sinkpad, parent, GST_BUFFER_CAST (it->obj));
  }
  g_free (it);
  g_mutex_lock (&g->lock);
  if (ret != GST_FLOW_OK && !(ret == GST_FLOW_FLUSHING && g->flushing)) {
    GST_INFO_OBJECT (g->element, "downstream returned %s", gst_flow_get_name (ret));
    g->last_flow = ret;
  }
  g->busy = FALSE;
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
}

GstVtpFrameGate *
gst_vtp_frame_gate_new (GstElement *element, GstPad *sinkpad)
{
  GstVtpFrameGate *g = g_new0 (GstVtpFrameGate, 1);

  GST_DEBUG_CATEGORY_INIT (gate_debug, "vtpframegate", 0, "VTP newest-frame gate");
  g->element = element;
  g->sinkpad = sinkpad;
  g->chain = GST_PAD_CHAINFUNC (sinkpad);
  g->event = GST_PAD_EVENTFUNC (sinkpad);
  g_mutex_init (&g->lock);
  g_cond_init (&g->cond);
  g_queue_init (&g->items);
  g_rec_mutex_init (&g->task_lock);
  g->task = gst_task_new (gate_loop, g, NULL);
  gst_task_set_lock (g->task, &g->task_lock);
  g->flushing = TRUE;
  g->mode = GST_VTP_DROP_AUTO;
  g->frame_interval = 1;
  g->live = -1;
  g->last_pts = GST_CLOCK_TIME_NONE;
  gst_pad_set_chain_function_full (sinkpad, gate_chain, g, NULL);
  gst_pad_set_event_function_full (sinkpad, gate_event, g, NULL);
  return g;
}

void
gst_vtp_frame_gate_free (GstVtpFrameGate *g)
{
  if (!g)
    return;
  gst_vtp_frame_gate_stop (g);
  gst_object_unref (g->task);
  g_rec_mutex_clear (&g->task_lock);
  g_queue_clear (&g->items);
  g_cond_clear (&g->cond);
  g_mutex_clear (&g->lock);
  g_free (g);
}

void
gst_vtp_frame_gate_start (GstVtpFrameGate *g)
{
  g_mutex_lock (&g->lock);
  g->flushing = FALSE;
  g->stopping = FALSE;
  g->last_flow = GST_FLOW_OK;
  g->live = -1;
  g->last_pts = GST_CLOCK_TIME_NONE;
  g->counts = (GstVtpFrameCounts) { 0 };
  g_mutex_unlock (&g->lock);
  gst_task_start (g->task);
}

void
gst_vtp_frame_gate_stop (GstVtpFrameGate *g)
{
  g_mutex_lock (&g->lock);
  g->flushing = TRUE;
  g->stopping = TRUE;
  clear_items (g);
  g_cond_broadcast (&g->cond);
  g_mutex_unlock (&g->lock);
  gst_task_stop (g->task);
  gst_task_join (g->task);
}

void
gst_vtp_frame_gate_configure (GstVtpFrameGate *g, GstVtpDropMode mode, guint64 min_interval_ns,
    guint frame_interval)
{
  g_mutex_lock (&g->lock);
  g->mode = mode;
  g->min_interval = min_interval_ns;
  g->frame_interval = MAX (frame_interval, 1);
  g_mutex_unlock (&g->lock);
}

GstVtpFrameCounts
gst_vtp_frame_gate_counts (GstVtpFrameGate *g)
{
  GstVtpFrameCounts c;
  g_mutex_lock (&g->lock);
  c = g->counts;
  g_mutex_unlock (&g->lock);
  return c;
}

void
gst_vtp_frame_gate_current (GstVtpFrameGate *g, gint64 *arrival_us, GstVtpFrameCounts *counts)
{
  g_mutex_lock (&g->lock);
  *arrival_us = g->current_arrival;
  *counts = g->current_counts;
  g_mutex_unlock (&g->lock);
}
