/**
 * SECTION:element-vtpsrtenc
 * @title: vtpsrtenc
 *
 * Writes timed text as SubRip (.srt) cues: each text buffer becomes a cue
 * from its stream time to its end. A repeat of the text (flagged
 * DROPPABLE: vtpllm's output time refreshes its text that way) extends the
 * cue instead of starting a new one; partial texts (buffers flagged DELTA_UNIT, vtpllm's
 * #GstVtpLlm:partial-text) are skipped; a text without duration lasts
 * until the next one (or two seconds at the end). Cues are written when
 * they are complete, so the file is well formed at every EOS.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! \
 *   vtpencoder model=llava min-interval=2000000000 ! vtpprojector model=llava ! \
 *   vtpllm model=llava timestamps=frame ! vtpsrtenc ! filesink location=clip.srt
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpsrtenc.h"
#include "vtp-srt.h"
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vtp_srt_enc_debug);
#define GST_CAT_DEFAULT gst_vtp_srt_enc_debug

/* a text whose end is not known lasts this long at the end of the stream */
#define LAST_CUE_DURATION (2 * GST_SECOND)

struct _GstVtpSrtEnc {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* streaming thread */
  GstSegment segment;
  guint index;                  /* cues written */
  char *text;                   /* the cue not written yet, or NULL */
  GstClockTime start, end;      /* its stream times; end NONE: until the next */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("application/x-subtitle"));

#define gst_vtp_srt_enc_parent_class parent_class
G_DEFINE_TYPE (GstVtpSrtEnc, gst_vtp_srt_enc, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vtpsrtenc, "vtpsrtenc", GST_RANK_NONE, GST_TYPE_VTP_SRT_ENC);

/* Writes the pending cue, ending at @end when its own end is not known. */
static GstFlowReturn
write_cue (GstVtpSrtEnc *self, GstClockTime end)
{
  char from[16], to[16];
  g_autofree char *text = g_steal_pointer (&self->text);
  char *cue;
  GstBuffer *buf;

  if (!text)
    return GST_FLOW_OK;
  if (!GST_CLOCK_TIME_IS_VALID (self->end))
    self->end = GST_CLOCK_TIME_IS_VALID (end) && end > self->start ? end : self->start + LAST_CUE_DURATION;
  vtp_srt_time (self->start, from);
  vtp_srt_time (self->end, to);
  cue = g_strdup_printf ("%u\n%s --> %s\n%s\n\n", ++self->index, from, to, text);
  buf = gst_buffer_new_wrapped (cue, strlen (cue));
  GST_BUFFER_PTS (buf) = self->start;
  GST_BUFFER_DURATION (buf) = self->end - self->start;
  return gst_pad_push (self->srcpad, buf);
}

/* The text of a buffer as one cue (vtp-srt.h). */
static char *
cue_text (GstBuffer *buf)
{
  GstMapInfo map;
  char *text;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ))
    return NULL;
  text = vtp_srt_cue_text ((const char *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  return text;
}

static GstFlowReturn
gst_vtp_srt_enc_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVtpSrtEnc *self = GST_VTP_SRT_ENC (parent);
  g_autofree char *text = NULL;
  GstClockTime start, end = GST_CLOCK_TIME_NONE;
  const gboolean repeat = GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DROPPABLE);
  GstFlowReturn ret;

  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT) || !GST_BUFFER_PTS_IS_VALID (buf)
      || !(text = cue_text (buf))) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  start = gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf));
  if (GST_BUFFER_DURATION_IS_VALID (buf))
    end = gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME, GST_BUFFER_PTS (buf)
        + GST_BUFFER_DURATION (buf));
  gst_buffer_unref (buf);
  if (!GST_CLOCK_TIME_IS_VALID (start))
    return GST_FLOW_OK;         /* outside the segment */

  /* a repeat of the text (vtpllm's output time) from where it ended: the
   * same cue, longer */
  if (repeat && self->text && !strcmp (self->text, text) && GST_CLOCK_TIME_IS_VALID (self->end)
      && start <= self->end + GST_MSECOND) {
    if (GST_CLOCK_TIME_IS_VALID (end) && end > self->end)
      self->end = end;
    return GST_FLOW_OK;
  }
  /* cues do not overlap: the pending one ends where this one starts */
  if (self->text && GST_CLOCK_TIME_IS_VALID (self->end) && self->end > start)
    self->end = MAX (start, self->start + GST_MSECOND);
  ret = write_cue (self, start);
  self->text = g_steal_pointer (&text);
  self->start = start;
  self->end = end;
  return ret;
}

static gboolean
gst_vtp_srt_enc_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVtpSrtEnc *self = GST_VTP_SRT_ENC (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps = gst_static_pad_template_get_caps (&src_template);
      gboolean ok = gst_pad_set_caps (self->srcpad, caps);
      gst_caps_unref (caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_SEGMENT:
      gst_event_copy_segment (event, &self->segment);
      break;
    case GST_EVENT_GAP:
      /* nothing to write; a text without duration ends where the gap starts */
      if (self->text && !GST_CLOCK_TIME_IS_VALID (self->end)) {
        GstClockTime ts;
        gst_event_parse_gap (event, &ts, NULL);
        ts = gst_segment_to_stream_time (&self->segment, GST_FORMAT_TIME, ts);
        if (GST_CLOCK_TIME_IS_VALID (ts) && ts > self->start)
          self->end = ts;
      }
      break;
    case GST_EVENT_EOS:
      write_cue (self, GST_CLOCK_TIME_NONE);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_clear_pointer (&self->text, g_free);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static GstStateChangeReturn
gst_vtp_srt_enc_change_state (GstElement *element, GstStateChange transition)
{
  GstVtpSrtEnc *self = GST_VTP_SRT_ENC (element);
  GstStateChangeReturn ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY || transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
    g_clear_pointer (&self->text, g_free);
    self->index = 0;
    gst_segment_init (&self->segment, GST_FORMAT_TIME);
  }
  return ret;
}

static void
gst_vtp_srt_enc_finalize (GObject *object)
{
  g_free (GST_VTP_SRT_ENC (object)->text);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_srt_enc_class_init (GstVtpSrtEncClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->finalize = gst_vtp_srt_enc_finalize;
  element_class->change_state = gst_vtp_srt_enc_change_state;
  gst_element_class_set_static_metadata (element_class, "VTP SubRip writer", "Codec/Encoder/Subtitle",
      "Writes timed text (descriptions) as SubRip cues, joining repeated text", "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  GST_DEBUG_CATEGORY_INIT (gst_vtp_srt_enc_debug, "vtpsrtenc", 0, "VTP SubRip writer");
}

static void
gst_vtp_srt_enc_init (GstVtpSrtEnc *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_srt_enc_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_srt_enc_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
}
