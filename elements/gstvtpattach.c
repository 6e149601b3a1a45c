/**
 * SECTION:element-vtpattach
 * @title: vtpattach
 *
 * Puts vtpllm's descriptions on the video frames they are about, so that an
 * application or a downstream element reads them from the frames
 * themselves. It sits on the video branch, where textoverlay would, and
 * takes vtpllm's text on its text_sink pad: each frame leaving its src pad
 * carries the description in force at its time as a "vtp-description"
 * meta: a GstCustomMeta whose structure, also named "vtp-description",
 * holds text, prompt, pts and duration (of the described frame), tokens,
 * prefill-ms, decode-tokens-per-second, latency-ms, frames-received and
 * frames-dropped: the fields of vtpllm's "vtp-text" bus message. A frame
 * whose PTS is the description's pts is the described frame itself. From
 * C: gst_buffer_get_custom_meta (buffer, "vtp-description") and
 * gst_custom_meta_get_structure (); from Python:
 * buffer.get_custom_meta ("vtp-description").get_structure ().
 *
 * The frames are matched to the text as textoverlay matches them: by the
 * text's timing (#GstVtpLlm:timestamps). In frame time (files) a frame
 * gets the description of the last described frame before it; the frame
 * waits for that text (#GstVtpAttach:wait-text), so the video branch's
 * queue must hold the frames described meanwhile. In output time (live) a
 * frame gets the newest description when it passes, and never waits long.
 * #GstVtpAttach:attach=described puts the meta on the described frames
 * only.
 *
 * With vtpencoder roi=true the description of a frame has "regions", the
 * descriptions of its regions of interest; on the described frame each of
 * its GstVideoRegionOfInterestMeta then gets its region's description as
 * a "vtp-description" parameter (gst_video_region_of_interest_meta_get_param).
 *
 * A text stream from elsewhere (text/x-raw without the meta) is attached
 * as a description with its text, pts and duration.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=clip.mp4 ! decodebin ! videoconvert ! tee name=t \
 *   t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! vtpattach name=a ! \
 *     identity silent=false ! fakesink \
 *   t. ! vtpencoder model=llava-1.5-7b-hf frame-interval=30 ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf timestamps=frame ! a.text_sink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/video/video.h>
#include <string.h>
#include "gstvtpattach.h"
#include "gstvtpmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_attach_debug);
#define GST_CAT_DEFAULT gst_vtp_attach_debug

typedef enum {
  GST_VTP_ATTACH_IN_FORCE,      /* every frame: the description in force at its time */
  GST_VTP_ATTACH_DESCRIBED,     /* the described frames only */
} GstVtpAttachMode;

#define GST_TYPE_VTP_ATTACH_MODE (gst_vtp_attach_mode_get_type ())
static GType
gst_vtp_attach_mode_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { GST_VTP_ATTACH_IN_FORCE, "Every frame: the description in force at its time", "in-force" },
    { GST_VTP_ATTACH_DESCRIBED, "Only the frame each description is of", "described" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpAttachMode", values));
  return type;
}

enum {
  PROP_0,
  PROP_WAIT_TEXT,
  PROP_ATTACH,
};

struct _GstVtpAttach {
  GstElement parent;
  GstPad *video_sinkpad, *text_sinkpad, *srcpad;

  /* properties (object lock) */
  gboolean wait_text;
  GstVtpAttachMode attach;

  GMutex lock;                  /* everything below */
  GCond cond;
  GstSegment video_segment, text_segment;
  GstBuffer *text;              /* the text in force, or the next one */
  GstStructure *description;    /* its description */
  GstClockTime text_start, text_end;    /* its running times; end NONE: until the next text */
  GstClockTime text_known;      /* running time up to which the text stream is known (gaps, ends) */
  gboolean text_linked, text_eos, text_flushing;
  gboolean video_eos, video_flushing;
};

static GstStaticPadTemplate video_sink_template = GST_STATIC_PAD_TEMPLATE ("video_sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS_ANY);
static GstStaticPadTemplate text_sink_template = GST_STATIC_PAD_TEMPLATE ("text_sink", GST_PAD_SINK,
    GST_PAD_ALWAYS, GST_STATIC_CAPS ("text/x-raw"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define gst_vtp_attach_parent_class parent_class
G_DEFINE_TYPE (GstVtpAttach, gst_vtp_attach, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vtpattach, "vtpattach", GST_RANK_NONE, GST_TYPE_VTP_ATTACH);

static GstClockTime
later (GstClockTime a, GstClockTime b)
{
  if (!GST_CLOCK_TIME_IS_VALID (a))
    return b;
  if (!GST_CLOCK_TIME_IS_VALID (b))
    return a;
  return MAX (a, b);
}

/* Lets go of the text held (lock held): the text stream is known up to
 * its end. */
static void
drop_text (GstVtpAttach *self)
{
  if (self->text && GST_CLOCK_TIME_IS_VALID (self->text_end))
    self->text_known = later (self->text_known, self->text_end);
  gst_clear_buffer (&self->text);
  g_clear_pointer (&self->description, gst_structure_free);
  g_cond_broadcast (&self->cond);
}

/* The description of a text buffer: its meta's, or (a text from elsewhere)
 * its text and times; NULL for a text still growing that has no finished
 * description behind it. */
static GstStructure *
text_description (GstBuffer *buf)
{
  const GstStructure *meta = gst_buffer_get_vtp_description (buf);
  GstStructure *s;
  GstMapInfo map;
  char *text;

  if (meta)
    return gst_structure_copy (meta);
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT) || !gst_buffer_map (buf, &map, GST_MAP_READ))
    return NULL;
  text = g_utf8_make_valid ((const char *) map.data, map.size);
  gst_buffer_unmap (buf, &map);
  s = gst_structure_new (GST_VTP_DESCRIPTION_META_NAME, "text", G_TYPE_STRING, text,
      "pts", G_TYPE_UINT64, GST_BUFFER_PTS (buf), "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (buf), NULL);
  g_free (text);
  return s;
}

/* The described frame: each region's description goes onto the ROI meta
 * it is of (the roi-index-th of the frame, with the same id and type). */
static void
attach_regions (GstVtpAttach *self, GstBuffer *frame, const GstStructure *description)
{
  const GValue *regions = gst_structure_get_value (description, "regions");
  g_autoptr (GPtrArray) rois = g_ptr_array_new ();
  gpointer state = NULL;
  GstMeta *meta;

  if (!regions || !GST_VALUE_HOLDS_ARRAY (regions))
    return;
  while ((meta = gst_buffer_iterate_meta_filtered (frame, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    g_ptr_array_add (rois, meta);
  for (guint i = 0; i < gst_value_array_get_size (regions); i++) {
    const GValue *v = gst_value_array_get_value (regions, i);
    const GstStructure *r = GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) : NULL;
    const char *type = r ? gst_structure_get_string (r, "roi-type") : NULL;
    GstVideoRegionOfInterestMeta *roi;
    guint index;
    gint id;
    GstStructure *param;

    if (!r || !gst_structure_get_uint (r, "roi-index", &index) || !gst_structure_get_int (r, "roi-id", &id))
      continue;
    roi = index < rois->len ? g_ptr_array_index (rois, index) : NULL;
    if (!roi || roi->id != id || g_strcmp0 (roi->roi_type ? g_quark_to_string (roi->roi_type) : NULL, type)) {
      GST_WARNING_OBJECT (self, "the frame at %" GST_TIME_FORMAT " has no region of interest %u (id %d, %s) for "
          "its description", GST_TIME_ARGS (GST_BUFFER_PTS (frame)), index, id, type ? type : "no type");
      continue;
    }
    param = gst_structure_copy (r);
    gst_structure_set_name (param, GST_VTP_DESCRIPTION_PARAM);
    gst_video_region_of_interest_meta_add_param (roi, param);
  }
}

static GstFlowReturn
gst_vtp_attach_video_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);
  const GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf);
  GstStructure *desc = NULL;
  GstClockTime vstart = GST_CLOCK_TIME_NONE, vend;
  gboolean wait;
  GstVtpAttachMode attach;
  guint64 described_pts;

  GST_OBJECT_LOCK (self);
  wait = self->wait_text;
  attach = self->attach;
  GST_OBJECT_UNLOCK (self);

  g_mutex_lock (&self->lock);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    vstart = gst_segment_to_running_time (&self->video_segment, GST_FORMAT_TIME, pts);
  if (!GST_CLOCK_TIME_IS_VALID (vstart)) {
    /* no time to match: the text held, if any, without waiting */
    if (self->text)
      desc = gst_structure_copy (self->description);
  } else {
    vend = GST_CLOCK_TIME_IS_VALID (dur) ? gst_segment_to_running_time (&self->video_segment, GST_FORMAT_TIME,
        pts + dur) : GST_CLOCK_TIME_NONE;
    if (!GST_CLOCK_TIME_IS_VALID (vend) || vend <= vstart)
      vend = vstart + 1;
    for (;;) {
      if (self->video_flushing) {
        g_mutex_unlock (&self->lock);
        gst_buffer_unref (buf);
        return GST_FLOW_FLUSHING;
      }
      if (self->text) {
        /* over before this frame: the next text may be waiting to come in */
        if (GST_CLOCK_TIME_IS_VALID (self->text_end) && self->text_end <= vstart) {
          drop_text (self);
          continue;
        }
        if (self->text_start < vend) {
          desc = gst_structure_copy (self->description);
          /* shown to its end: make room for the next */
          if (GST_CLOCK_TIME_IS_VALID (self->text_end) && self->text_end <= vend)
            drop_text (self);
        }
        break;
      }
      if (!wait || !self->text_linked || self->text_eos || self->video_eos
          || (GST_CLOCK_TIME_IS_VALID (self->text_known) && self->text_known > vstart))
        break;
      GST_LOG_OBJECT (self, "frame at %" GST_TIME_FORMAT " waits for its text", GST_TIME_ARGS (pts));
      g_cond_wait (&self->cond, &self->lock);
    }
  }
  g_mutex_unlock (&self->lock);

  if (desc) {
    const gboolean described = gst_structure_get_uint64 (desc, "pts", &described_pts) && described_pts == pts
        && GST_CLOCK_TIME_IS_VALID (pts);
    if (described || attach == GST_VTP_ATTACH_IN_FORCE) {
      buf = gst_buffer_make_writable (buf);
      gst_buffer_set_vtp_description (buf, desc);
      if (described)
        attach_regions (self, buf, desc);
      GST_LOG_OBJECT (self, "frame at %" GST_TIME_FORMAT ": %" GST_PTR_FORMAT, GST_TIME_ARGS (pts), desc);
    }
    gst_structure_free (desc);
  }
  return gst_pad_push (self->srcpad, buf);
}

static GstFlowReturn
gst_vtp_attach_text_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);
  GstClockTime pts = GST_BUFFER_PTS (buf), dur = GST_BUFFER_DURATION (buf), start = 0, end = GST_CLOCK_TIME_NONE;
  guint64 cstart, cstop;
  GstStructure *desc = text_description (buf);

  g_mutex_lock (&self->lock);
  if (self->text_flushing || self->text_eos) {
    GstFlowReturn ret = self->text_flushing ? GST_FLOW_FLUSHING : GST_FLOW_EOS;
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    g_clear_pointer (&desc, gst_structure_free);
    return ret;
  }
  if (GST_CLOCK_TIME_IS_VALID (pts)) {
    const GstClockTime stop = GST_CLOCK_TIME_IS_VALID (dur) ? pts + dur : GST_CLOCK_TIME_NONE;
    if (!gst_segment_clip (&self->text_segment, GST_FORMAT_TIME, pts, stop, &cstart, &cstop)) {
      g_mutex_unlock (&self->lock);
      GST_DEBUG_OBJECT (self, "text outside the segment: %" GST_PTR_FORMAT, buf);
      gst_buffer_unref (buf);
      g_clear_pointer (&desc, gst_structure_free);
      return GST_FLOW_OK;
    }
    start = gst_segment_to_running_time (&self->text_segment, GST_FORMAT_TIME, cstart);
    if (GST_CLOCK_TIME_IS_VALID (stop))
      end = gst_segment_to_running_time (&self->text_segment, GST_FORMAT_TIME, cstop);
  }
  if (!desc) {
    /* a text still growing, before any finished description: nothing for its time */
    self->text_known = later (self->text_known, end);
    g_cond_broadcast (&self->cond);
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }
  /* the text held goes when the video is past it; one without an end when this one comes */
  while (self->text && GST_CLOCK_TIME_IS_VALID (self->text_end) && !self->text_flushing && !self->video_eos)
    g_cond_wait (&self->cond, &self->lock);
  if (self->text_flushing) {
    g_mutex_unlock (&self->lock);
    gst_buffer_unref (buf);
    gst_structure_free (desc);
    return GST_FLOW_FLUSHING;
  }
  drop_text (self);
  self->text = buf;
  self->description = desc;
  self->text_start = start;
  self->text_end = end;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return GST_FLOW_OK;
}

static gboolean
gst_vtp_attach_video_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      g_mutex_lock (&self->lock);
      if (segment->format == GST_FORMAT_TIME)
        gst_segment_copy_into (segment, &self->video_segment);
      else
        gst_segment_init (&self->video_segment, GST_FORMAT_TIME);
      g_mutex_unlock (&self->lock);
      break;
    }
    case GST_EVENT_EOS:
      g_mutex_lock (&self->lock);
      self->video_eos = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    case GST_EVENT_FLUSH_START:
      g_mutex_lock (&self->lock);
      self->video_flushing = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_mutex_lock (&self->lock);
      self->video_flushing = FALSE;
      self->video_eos = FALSE;
      gst_segment_init (&self->video_segment, GST_FORMAT_TIME);
      g_mutex_unlock (&self->lock);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_vtp_attach_text_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);

  g_mutex_lock (&self->lock);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      if (segment->format == GST_FORMAT_TIME)
        gst_segment_copy_into (segment, &self->text_segment);
      else
        GST_WARNING_OBJECT (self, "text segment in %s, not time: ignored", gst_format_get_name (segment->format));
      break;
    }
    case GST_EVENT_GAP: {
      /* no text for that time */
      GstClockTime ts, dur;
      gst_event_parse_gap (event, &ts, &dur);
      if (GST_CLOCK_TIME_IS_VALID (ts))
        self->text_known = later (self->text_known, gst_segment_to_running_time (&self->text_segment,
                GST_FORMAT_TIME, GST_CLOCK_TIME_IS_VALID (dur) ? ts + dur : ts));
      g_cond_broadcast (&self->cond);
      break;
    }
    case GST_EVENT_EOS:
      self->text_eos = TRUE;
      g_cond_broadcast (&self->cond);
      break;
    case GST_EVENT_FLUSH_START:
      self->text_flushing = TRUE;
      drop_text (self);
      break;
    case GST_EVENT_FLUSH_STOP:
      self->text_flushing = FALSE;
      self->text_eos = FALSE;
      self->text_known = GST_CLOCK_TIME_NONE;
      gst_segment_init (&self->text_segment, GST_FORMAT_TIME);
      break;
    default:
      break;
  }
  g_mutex_unlock (&self->lock);
  /* the text goes no further than here */
  gst_event_unref (event);
  return TRUE;
}

static gboolean
gst_vtp_attach_text_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_CAPS: {
      GstCaps *filter, *caps = gst_pad_get_pad_template_caps (pad);
      gst_query_parse_caps (query, &filter);
      if (filter) {
        GstCaps *narrowed = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
        gst_caps_unref (caps);
        caps = narrowed;
      }
      gst_query_set_caps_result (query, caps);
      gst_caps_unref (caps);
      return TRUE;
    }
    default:
      return gst_pad_query_default (pad, parent, query);
  }
}

static GstPadLinkReturn
gst_vtp_attach_text_link (GstPad *pad, GstObject *parent, GstPad *peer)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);
  g_mutex_lock (&self->lock);
  self->text_linked = TRUE;
  g_mutex_unlock (&self->lock);
  return GST_PAD_LINK_OK;
}

static void
gst_vtp_attach_text_unlink (GstPad *pad, GstObject *parent)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);
  g_mutex_lock (&self->lock);
  self->text_linked = FALSE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* The video goes straight through; the text pad leads nowhere. */
static GstIterator *
gst_vtp_attach_internal_links (GstPad *pad, GstObject *parent)
{
  GstVtpAttach *self = GST_VTP_ATTACH (parent);
  GstPad *other = pad == self->srcpad ? self->video_sinkpad : pad == self->video_sinkpad ? self->srcpad : NULL;
  GValue v = G_VALUE_INIT;
  GstIterator *it;

  if (!other)
    return gst_iterator_new_single (GST_TYPE_PAD, NULL);
  g_value_init (&v, GST_TYPE_PAD);
  g_value_set_object (&v, other);
  it = gst_iterator_new_single (GST_TYPE_PAD, &v);
  g_value_unset (&v);
  return it;
}

static void
reset (GstVtpAttach *self)
{
  drop_text (self);
  gst_segment_init (&self->video_segment, GST_FORMAT_TIME);
  gst_segment_init (&self->text_segment, GST_FORMAT_TIME);
  self->text_known = GST_CLOCK_TIME_NONE;
  self->text_eos = self->video_eos = FALSE;
}

static GstStateChangeReturn
gst_vtp_attach_change_state (GstElement *element, GstStateChange transition)
{
  GstVtpAttach *self = GST_VTP_ATTACH (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      g_mutex_lock (&self->lock);
      reset (self);
      self->text_flushing = self->video_flushing = FALSE;
      g_mutex_unlock (&self->lock);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      /* whoever waits (a frame for its text, a text for the video) leaves */
      g_mutex_lock (&self->lock);
      self->text_flushing = self->video_flushing = TRUE;
      g_cond_broadcast (&self->cond);
      g_mutex_unlock (&self->lock);
      break;
    default:
      break;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    g_mutex_lock (&self->lock);
    reset (self);
    g_mutex_unlock (&self->lock);
  }
  return ret;
}

static void
gst_vtp_attach_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpAttach *self = GST_VTP_ATTACH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WAIT_TEXT: self->wait_text = g_value_get_boolean (value); break;
    case PROP_ATTACH: self->attach = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
  /* a frame waiting for its text may not have to any more */
  g_mutex_lock (&self->lock);
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
gst_vtp_attach_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpAttach *self = GST_VTP_ATTACH (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_WAIT_TEXT: g_value_set_boolean (value, self->wait_text); break;
    case PROP_ATTACH: g_value_set_enum (value, self->attach); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_attach_finalize (GObject *object)
{
  GstVtpAttach *self = GST_VTP_ATTACH (object);

  gst_clear_buffer (&self->text);
  g_clear_pointer (&self->description, gst_structure_free);
  g_cond_clear (&self->cond);
  g_mutex_clear (&self->lock);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_attach_class_init (GstVtpAttachClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_vtp_attach_set_property;
  gobject_class->get_property = gst_vtp_attach_get_property;
  gobject_class->finalize = gst_vtp_attach_finalize;

  /**
   * GstVtpAttach:wait-text:
   *
   * Hold a frame until the text for its time has come (or the text stream
   * says there is none), as textoverlay's wait-text does: in frame time the
   * description of each frame is then exact. FALSE: a frame gets the
   * description held when it passes, if any, and never waits.
   */
  g_object_class_install_property (gobject_class, PROP_WAIT_TEXT,
      g_param_spec_boolean ("wait-text", "Wait for text", "Hold each frame until the text for its time has come",
          TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpAttach:attach:
   *
   * Which frames get the description meta: in-force, every frame (the
   * description in force at its time, whose pts says which frame it is
   * of); described, only the frame each description is of.
   */
  g_object_class_install_property (gobject_class, PROP_ATTACH,
      g_param_spec_enum ("attach", "Attach", "Which frames get the description: every frame (in-force) or the "
          "described ones only (described)", GST_TYPE_VTP_ATTACH_MODE, GST_VTP_ATTACH_IN_FORCE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class, "VTP description attacher", "Filter/Video/Metadata",
      "Attaches the descriptions vtpllm writes to the video frames they are about (a \"vtp-description\" meta; "
      "regions of interest get theirs as parameters)", "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &video_sink_template);
  gst_element_class_add_static_pad_template (element_class, &text_sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->change_state = gst_vtp_attach_change_state;

  gst_type_mark_as_plugin_api (GST_TYPE_VTP_ATTACH_MODE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vtp_attach_debug, "vtpattach", 0, "VTP description attacher");
}

static void
gst_vtp_attach_init (GstVtpAttach *self)
{
  self->video_sinkpad = gst_pad_new_from_static_template (&video_sink_template, "video_sink");
  gst_pad_set_chain_function (self->video_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_video_chain));
  gst_pad_set_event_function (self->video_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_video_event));
  gst_pad_set_iterate_internal_links_function (self->video_sinkpad,
      GST_DEBUG_FUNCPTR (gst_vtp_attach_internal_links));
  GST_PAD_SET_PROXY_CAPS (self->video_sinkpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->video_sinkpad);
  GST_PAD_SET_PROXY_SCHEDULING (self->video_sinkpad);
  gst_element_add_pad (GST_ELEMENT (self), self->video_sinkpad);

  self->text_sinkpad = gst_pad_new_from_static_template (&text_sink_template, "text_sink");
  gst_pad_set_chain_function (self->text_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_text_chain));
  gst_pad_set_event_function (self->text_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_text_event));
  gst_pad_set_query_function (self->text_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_text_query));
  gst_pad_set_link_function (self->text_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_text_link));
  gst_pad_set_unlink_function (self->text_sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_text_unlink));
  gst_pad_set_iterate_internal_links_function (self->text_sinkpad,
      GST_DEBUG_FUNCPTR (gst_vtp_attach_internal_links));
  gst_element_add_pad (GST_ELEMENT (self), self->text_sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_iterate_internal_links_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vtp_attach_internal_links));
  GST_PAD_SET_PROXY_CAPS (self->srcpad);
  GST_PAD_SET_PROXY_ALLOCATION (self->srcpad);
  GST_PAD_SET_PROXY_SCHEDULING (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->wait_text = TRUE;
  self->attach = GST_VTP_ATTACH_IN_FORCE;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  gst_segment_init (&self->video_segment, GST_FORMAT_TIME);
  gst_segment_init (&self->text_segment, GST_FORMAT_TIME);
  self->text_start = self->text_end = self->text_known = GST_CLOCK_TIME_NONE;
  /* the description meta is known to the application once the element is */
  gst_vtp_description_meta_get_info ();
}
