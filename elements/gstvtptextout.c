/* gstvtptextout.c: text timing for vtpllm (see gstvtptextout.h). */
#include "gstvtptextout.h"
#include "gstvtpmeta.h"
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (textout_debug);
#define GST_CAT_DEFAULT textout_debug

GType
gst_vtp_timestamps_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_VTP_TIMESTAMPS_AUTO, "Output time when the pipeline is live, else frame time", "auto" },
    { GST_VTP_TIMESTAMPS_FRAME, "The described frame's PTS, until the next description", "frame" },
    { GST_VTP_TIMESTAMPS_OUTPUT, "The stream time at which the text is ready (live overlays)", "output" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpTimestamps", values));
  return type;
}

struct _GstVtpTextOut {
  GstElement *element;          /* not owned */
  GstPad *srcpad;
  GMutex push_lock;             /* one push at a time; taken before lock */

  GMutex lock;                  /* everything below */
  GCond cond;
  GstVtpTimestamps mode;
  GstClockTime duration, refresh;
  gboolean output;              /* the mode in force since the first segment */
  gboolean resolved;
  GstSegment segment;
  gboolean have_segment, flushing, eos;
  /* frame time */
  GstBuffer *held;              /* the last description, until the next one */
  GstClockTime covered;         /* end of the stream time seen so far */
  GstClockTime last_end;        /* end of the last text pushed (fixed durations) */
  /* output time */
  char *current;                /* the text on show */
  GstStructure *current_desc;   /* the last finished description, carried by the repeats */
  GstClockTime shown_until;     /* end of what was pushed (text or gap) */
  gboolean playing, quit;
  GThread *refresher;
};

static GstClockTime
max_time (GstClockTime a, GstClockTime b)
{
  if (!GST_CLOCK_TIME_IS_VALID (a))
    return b;
  if (!GST_CLOCK_TIME_IS_VALID (b))
    return a;
  return MAX (a, b);
}

/* @description: put on the buffer as its description meta (NULL: none). */
static GstBuffer *
text_buffer (const char *text, GstClockTime pts, GstClockTime duration, gboolean final,
    const GstStructure *description)
{
  gsize len = strlen (text);
  /* an empty description (a generation that ended at once) is still the
   * frame's one buffer, with no memory: gst_buffer_new_memdup refuses 0 bytes */
  GstBuffer *buf = len ? gst_buffer_new_memdup (text, len) : gst_buffer_new ();

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  if (!final)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT);
  if (description)
    gst_buffer_set_vtp_description (buf, description);
  return buf;
}

/* The stream time now by the pipeline clock (NONE when not playing). */
static GstClockTime
stream_now (GstVtpTextOut *t)
{
  GstClock *clock = gst_element_get_clock (t->element);
  GstClockTime now, base, pos = GST_CLOCK_TIME_NONE;

  if (!clock)
    return GST_CLOCK_TIME_NONE;
  now = gst_clock_get_time (clock);
  base = gst_element_get_base_time (t->element);
  gst_object_unref (clock);
  if (now < base)
    return GST_CLOCK_TIME_NONE;
  g_mutex_lock (&t->lock);
  if (t->have_segment)
    pos = gst_segment_position_from_running_time (&t->segment, GST_FORMAT_TIME, now - base);
  g_mutex_unlock (&t->lock);
  return pos;
}

/* Output time: @text (the current one when NULL; a gap when there is none)
 * from now, or from where the last push ended, to two refresh intervals
 * ahead; the buffer carries the last finished description (@description
 * when set, which becomes it). Push lock held. */
static GstFlowReturn
push_output (GstVtpTextOut *t, const char *text, gboolean final, gboolean only_if_due, GstClockTime pts,
    const GstStructure *description)
{
  GstClockTime now = stream_now (t), start, end;
  g_autofree char *show = NULL;
  g_autoptr (GstStructure) desc = NULL;
  GstBuffer *buf;

  if (!GST_CLOCK_TIME_IS_VALID (now))
    now = pts;                  /* not playing: the frame's time is the best there is */
  if (!GST_CLOCK_TIME_IS_VALID (now))
    return GST_FLOW_OK;
  g_mutex_lock (&t->lock);
  if (t->flushing || t->eos) {
    g_mutex_unlock (&t->lock);
    return t->flushing ? GST_FLOW_FLUSHING : GST_FLOW_EOS;
  }
  if (only_if_due && GST_CLOCK_TIME_IS_VALID (t->shown_until) && t->shown_until >= now + t->refresh) {
    g_mutex_unlock (&t->lock);
    return GST_FLOW_OK;
  }
  if (text) {
    g_free (t->current);
    t->current = g_strdup (text);
  }
  if (description) {
    g_clear_pointer (&t->current_desc, gst_structure_free);
    t->current_desc = gst_structure_copy (description);
  }
  show = g_strdup (t->current);
  desc = t->current_desc ? gst_structure_copy (t->current_desc) : NULL;
  start = max_time (t->shown_until, now);
  end = MAX (now + 2 * t->refresh, start + 1);
  t->shown_until = end;
  g_mutex_unlock (&t->lock);

  if (!show)
  {
    gst_pad_push_event (t->srcpad, gst_event_new_gap (start, end - start));
    return GST_FLOW_OK;
  }
  buf = text_buffer (show, start, end - start, final || !text, desc);
  /* a repeat says nothing new: subtitle writers extend the cue with it */
  if (!text)
    GST_BUFFER_FLAG_SET (buf, GST_BUFFER_FLAG_DROPPABLE);
  return gst_pad_push (t->srcpad, buf);
}

static gpointer
refresher_loop (gpointer data)
{
  GstVtpTextOut *t = data;

  g_mutex_lock (&t->lock);
  while (!t->quit) {
    gint64 wake = g_get_monotonic_time () + t->refresh / 1000;
    gboolean run;
    while (!t->quit && g_get_monotonic_time () < wake)
      g_cond_wait_until (&t->cond, &t->lock, wake);
    run = !t->quit && t->playing && !t->flushing && !t->eos && t->have_segment;
    g_mutex_unlock (&t->lock);
    if (run && gst_pad_has_current_caps (t->srcpad)) {
      GstFlowReturn ret;
      g_mutex_lock (&t->push_lock);
      ret = push_output (t, NULL, TRUE, TRUE, GST_CLOCK_TIME_NONE, NULL);
      g_mutex_unlock (&t->push_lock);
      if (ret != GST_FLOW_OK)
        GST_DEBUG_OBJECT (t->element, "refresh: %s", gst_flow_get_name (ret));
    }
    g_mutex_lock (&t->lock);
  }
  g_mutex_unlock (&t->lock);
  return NULL;
}

/* Frame time: the held description, lasting until @end (NONE: as far as
 * the stream went). Push lock held. */
static GstFlowReturn
release_held (GstVtpTextOut *t, GstClockTime end)
{
  GstBuffer *buf;

  g_mutex_lock (&t->lock);
  buf = g_steal_pointer (&t->held);
  if (!GST_CLOCK_TIME_IS_VALID (end))
    end = t->covered;
  g_mutex_unlock (&t->lock);
  if (!buf)
    return GST_FLOW_OK;
  /* at least the frame's own duration, which it was given when held */
  if (GST_CLOCK_TIME_IS_VALID (end) && end > GST_BUFFER_PTS (buf))
    GST_BUFFER_DURATION (buf) = end - GST_BUFFER_PTS (buf);
  return gst_pad_push (t->srcpad, buf);
}

static GstFlowReturn
push_frame_time (GstVtpTextOut *t, const char *text, GstClockTime pts, GstClockTime frame_duration,
    const GstStructure *description)
{
  GstClockTime fixed, gap_start = GST_CLOCK_TIME_NONE;
  GstFlowReturn ret;

  g_mutex_lock (&t->lock);
  fixed = t->duration;
  if (GST_CLOCK_TIME_IS_VALID (pts) && GST_CLOCK_TIME_IS_VALID (frame_duration))
    t->covered = max_time (t->covered, pts + frame_duration);
  if (GST_CLOCK_TIME_IS_VALID (fixed) && GST_CLOCK_TIME_IS_VALID (pts)) {
    if (GST_CLOCK_TIME_IS_VALID (t->last_end) && pts > t->last_end)
      gap_start = t->last_end;
    t->last_end = pts + fixed;
  }
  g_mutex_unlock (&t->lock);

  if (GST_CLOCK_TIME_IS_VALID (fixed)) {
    /* nothing to show between the last text's end and this one */
    if (GST_CLOCK_TIME_IS_VALID (gap_start))
      gst_pad_push_event (t->srcpad, gst_event_new_gap (gap_start, pts - gap_start));
    return gst_pad_push (t->srcpad, text_buffer (text, pts, fixed, TRUE, description));
  }
  /* until the next description: the one held so far ends where this starts */
  ret = release_held (t, pts);
  g_mutex_lock (&t->lock);
  t->held = text_buffer (text, pts, frame_duration, TRUE, description);
  g_mutex_unlock (&t->lock);
  return ret;
}

static GstFlowReturn
push (GstVtpTextOut *t, const char *text, GstClockTime pts, GstClockTime frame_duration, gboolean final,
    const GstStructure *description)
{
  GstFlowReturn ret;
  gboolean output;

  g_mutex_lock (&t->push_lock);
  g_mutex_lock (&t->lock);
  output = t->output;
  ret = t->flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  g_mutex_unlock (&t->lock);
  if (ret == GST_FLOW_OK) {
    if (output)
      ret = push_output (t, text, final, FALSE, pts, description);
    else if (!final)
      ret = gst_pad_push (t->srcpad, text_buffer (text, pts, GST_CLOCK_TIME_NONE, FALSE, NULL));
    else
      ret = push_frame_time (t, text, pts, frame_duration, description);
  }
  g_mutex_unlock (&t->push_lock);
  return ret;
}

GstFlowReturn
gst_vtp_text_out_push (GstVtpTextOut *t, const char *text, GstClockTime pts, GstClockTime frame_duration,
    gboolean final)
{
  return push (t, text, pts, frame_duration, final, NULL);
}

GstFlowReturn
gst_vtp_text_out_push_description (GstVtpTextOut *t, const char *text, GstClockTime pts,
    GstClockTime frame_duration, const GstStructure *description)
{
  return push (t, text, pts, frame_duration, TRUE, description);
}

GstFlowReturn
gst_vtp_text_out_push_answer (GstVtpTextOut *t, const char *text, GstClockTime pts, GstClockTime duration,
    const GstStructure *description)
{
  GstFlowReturn ret;
  gboolean output, fixed;

  g_mutex_lock (&t->push_lock);
  g_mutex_lock (&t->lock);
  output = t->output;
  fixed = GST_CLOCK_TIME_IS_VALID (t->duration);
  ret = t->flushing ? GST_FLOW_FLUSHING : GST_FLOW_OK;
  g_mutex_unlock (&t->lock);
  if (ret == GST_FLOW_OK) {
    if (output)
      ret = push_output (t, text, TRUE, FALSE, pts, description);
    else if (fixed)
      ret = push_frame_time (t, text, pts, duration, description);
    else if ((ret = release_held (t, pts)) == GST_FLOW_OK)
      ret = gst_pad_push (t->srcpad, text_buffer (text, pts, duration, TRUE, description));
  }
  g_mutex_unlock (&t->push_lock);
  return ret;
}

void
gst_vtp_text_out_segment (GstVtpTextOut *t, const GstSegment *segment)
{
  g_mutex_lock (&t->lock);
  gst_segment_copy_into (segment, &t->segment);
  t->have_segment = TRUE;
  g_mutex_unlock (&t->lock);
}

void
gst_vtp_text_out_covered (GstVtpTextOut *t, GstClockTime end)
{
  g_mutex_lock (&t->lock);
  t->covered = max_time (t->covered, end);
  g_mutex_unlock (&t->lock);
}

GstFlowReturn
gst_vtp_text_out_drain (GstVtpTextOut *t)
{
  GstFlowReturn ret;

  g_mutex_lock (&t->push_lock);
  ret = release_held (t, GST_CLOCK_TIME_NONE);
  g_mutex_lock (&t->lock);
  t->eos = TRUE;
  g_mutex_unlock (&t->lock);
  g_mutex_unlock (&t->push_lock);
  return ret;
}

static void
reset (GstVtpTextOut *t)
{
  gst_clear_buffer (&t->held);
  g_clear_pointer (&t->current, g_free);
  g_clear_pointer (&t->current_desc, gst_structure_free);
  t->covered = t->last_end = t->shown_until = GST_CLOCK_TIME_NONE;
  t->eos = FALSE;
}

void
gst_vtp_text_out_flush (GstVtpTextOut *t, gboolean flushing)
{
  g_mutex_lock (&t->lock);
  t->flushing = flushing;
  if (flushing)
    reset (t);
  else
    t->eos = FALSE;
  g_mutex_unlock (&t->lock);
}

GstVtpTextOut *
gst_vtp_text_out_new (GstElement *element, GstPad *srcpad)
{
  GstVtpTextOut *t = g_new0 (GstVtpTextOut, 1);

  GST_DEBUG_CATEGORY_INIT (textout_debug, "vtptextout", 0, "VTP text timing");
  t->element = element;
  t->srcpad = srcpad;
  g_mutex_init (&t->push_lock);
  g_mutex_init (&t->lock);
  g_cond_init (&t->cond);
  t->mode = GST_VTP_TIMESTAMPS_AUTO;
  t->duration = GST_CLOCK_TIME_NONE;
  t->refresh = 40 * GST_MSECOND;
  gst_segment_init (&t->segment, GST_FORMAT_TIME);
  reset (t);
  return t;
}

void
gst_vtp_text_out_free (GstVtpTextOut *t)
{
  if (!t)
    return;
  gst_vtp_text_out_stop (t);
  g_cond_clear (&t->cond);
  g_mutex_clear (&t->lock);
  g_mutex_clear (&t->push_lock);
  g_free (t);
}

void
gst_vtp_text_out_configure (GstVtpTextOut *t, GstVtpTimestamps mode, GstClockTime duration, GstClockTime refresh)
{
  g_mutex_lock (&t->lock);
  t->mode = mode;
  t->duration = duration;
  t->refresh = MAX (refresh, GST_MSECOND);
  g_mutex_unlock (&t->lock);
}

void
gst_vtp_text_out_start (GstVtpTextOut *t)
{
  g_mutex_lock (&t->lock);
  t->output = FALSE;
  t->resolved = FALSE;
  t->flushing = FALSE;
  t->have_segment = FALSE;
  t->quit = FALSE;
  reset (t);
  g_mutex_unlock (&t->lock);
}

gboolean
gst_vtp_text_out_needs_live (GstVtpTextOut *t)
{
  gboolean needs;
  g_mutex_lock (&t->lock);
  needs = !t->resolved && t->mode == GST_VTP_TIMESTAMPS_AUTO;
  g_mutex_unlock (&t->lock);
  return needs;
}

void
gst_vtp_text_out_set_live (GstVtpTextOut *t, gboolean live)
{
  g_mutex_lock (&t->lock);
  if (!t->resolved) {
    t->output = t->mode == GST_VTP_TIMESTAMPS_OUTPUT || (t->mode == GST_VTP_TIMESTAMPS_AUTO && live);
    t->resolved = TRUE;
    GST_INFO_OBJECT (t->element, "text stamped with %s time", t->output ? "output" : "frame");
    if (t->output && !t->refresher && !t->quit)
      t->refresher = g_thread_new ("vtp-text-refresh", refresher_loop, t);
  }
  g_mutex_unlock (&t->lock);
}

void
gst_vtp_text_out_play (GstVtpTextOut *t, gboolean playing)
{
  g_mutex_lock (&t->lock);
  t->playing = playing;
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->lock);
}

void
gst_vtp_text_out_stop (GstVtpTextOut *t)
{
  GThread *thread;

  g_mutex_lock (&t->lock);
  t->quit = TRUE;
  t->flushing = TRUE;
  thread = g_steal_pointer (&t->refresher);
  g_cond_broadcast (&t->cond);
  g_mutex_unlock (&t->lock);
  if (thread)
    g_thread_join (thread);
  g_mutex_lock (&t->lock);
  reset (t);
  g_mutex_unlock (&t->lock);
}
