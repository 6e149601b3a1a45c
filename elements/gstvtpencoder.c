/**
 * SECTION:element-vtpencoder
 * @title: vtpencoder
 *
 * Runs the image encoder of a vision-language model on each video frame and
 * outputs the vision features a bridge element reads (vtpprojector for
 * LLaVA). The frame is resized, cropped and normalized on the compute device
 * exactly as the checkpoint's image processor does it (Pillow bicubic), then
 * goes through the CLIP vision tower; the features stay on the device.
 *
 * Which hidden states leave the tower (#GstVtpEncoder:feature-layers) and
 * whether the CLS token is kept (#GstVtpEncoder:select-strategy) come from
 * the checkpoint's config.json unless set.
 *
 * Upstream never waits for the model: a frame goes into a one-frame slot
 * and the element's own thread encodes it and pushes it on through the
 * bridge and the language model. In a live pipeline (or with
 * #GstVtpEncoder:drop-frames=always) a frame that arrives while the slot is
 * full replaces the waiting one: the newest frame wins, and
 * #GstVtpEncoder:frames-dropped counts the others. Otherwise upstream waits
 * for the slot, so every frame is described. #GstVtpEncoder:frame-interval
 * and #GstVtpEncoder:min-interval limit how often frames are described.
 *
 * JPEG frames (image/jpeg: MJPEG cameras, JPEG files without jpegdec) are
 * decoded here, straight to about the model's input size
 * (#GstVtpEncoder:jpeg-scaling). A frame that does not decode (a camera's
 * damaged frame) is skipped with a warning naming its time, counted in
 * #GstVtpEncoder:frames-corrupt, and leaves a GAP event like a dropped one;
 * only more than #GstVtpEncoder:max-errors such frames in a row stop the
 * pipeline with an error.
 *
 * With #GstVtpEncoder:batch set, the vtpencoder elements of one process
 * that load the same vision tower (one per camera) encode together: the
 * frames that wait at the same time go through the tower as one batch
 * (the weights read once for all of them; each frame's features the bits
 * it gets alone), as vtpllm's batch does for decoding (docs/batching.md).
 *
 * With #GstVtpEncoder:roi set, the regions of interest a detector put on
 * the frame (GstVideoRegionOfInterestMeta) are described instead of the
 * whole frame: each region is cropped on the device before the resize
 * (exactly as if the picture had been cropped first) and goes on as its own
 * tensor buffer, with the frame's timestamps, in the order of the frame's
 * ROI metas. A region partly outside the frame is clipped to it; one with
 * nothing inside is skipped with a warning; a frame without regions is not
 * described (a GAP event in its place). A ROI meta with a "vtp-prompt"
 * parameter (field "prompt", a string) is described with that prompt
 * instead of vtpllm's (or vtpqformer's). vtpllm gathers the regions' texts
 * into one text buffer for the frame; vtpattach on the video branch puts
 * each region's description back onto its ROI meta as a "vtp-description"
 * parameter.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=llava-1.5-7b-hf ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf prompt="What is in the picture?" ! fdsink
 * ]|
 * |[
 * gst-launch-1.0 v4l2src ! image/jpeg,width=1280,height=720 ! vtpencoder model=llava-1.5-7b-hf ! \
 *   vtpprojector model=llava-1.5-7b-hf ! vtpllm model=llava-1.5-7b-hf newline=true ! fdsink
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=street.mp4 ! decodebin ! videoconvert ! DETECTOR ! tee name=t \
 *   t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! vtpattach name=a ! fakesink \
 *   t. ! vtpencoder model=llava-1.5-7b-hf roi=true ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf timestamps=frame prompt="Describe this object." ! a.text_sink
 * ]|
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! tee name=t \
 *   t. ! queue ! textoverlay name=o wait-text=false ! videoconvert ! autovideosink \
 *   t. ! vtpencoder model=llava-1.5-7b-hf min-interval=2000000000 ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf timestamps=output ! o.text_sink
 * ]|
 * |[
 * gst-launch-1.0 \
 *   rtspsrc location=rtsp://cam1/stream ! decodebin ! videoconvert ! vtpencoder model=M batch=4 ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 ! fakesink \
 *   rtspsrc location=rtsp://cam2/stream ! decodebin ! videoconvert ! vtpencoder model=M batch=4 ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 ! fakesink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/video/video.h>
#include "gstvtpencoder.h"
#include "gstvtpcommon.h"
#include "gstvtpcontext.h"
#include "gstvtpframegate.h"
#include "gstvtpmeta.h"
#include "gstvtptensor.h"
#include "vtp-jpeg.h"
#include "vtp-parts.h"
#include "vtp-vision-batch.h"
#include "vtp-model-cache.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_encoder_debug);
#define GST_CAT_DEFAULT gst_vtp_encoder_debug

enum {
  PROP_FEATURE_LAYERS = GST_VTP_N_COMMON_PROPS,
  PROP_SELECT_STRATEGY,
  PROP_DROP_FRAMES,
  PROP_MIN_INTERVAL,
  PROP_FRAME_INTERVAL,
  PROP_FRAMES_RECEIVED,
  PROP_FRAMES_DESCRIBED,
  PROP_FRAMES_DROPPED,
  PROP_JPEG_SCALING,
  PROP_MAX_ERRORS,
  PROP_FRAMES_CORRUPT,
  PROP_ROI,
  PROP_REGIONS_DESCRIBED,
  PROP_REGIONS_SKIPPED,
  PROP_BATCH,
  PROP_FRAMES_BATCHED,
};

/* As GstVideoDecoder's default would be for a camera: a burst of damaged
 * frames is tolerated, a stream that stays undecodable is an error */
#define DEFAULT_MAX_ERRORS 10

typedef enum {
  STRATEGY_AUTO,
  STRATEGY_DEFAULT,
  STRATEGY_FULL,
} SelectStrategy;

#define GST_TYPE_VTP_SELECT_STRATEGY (select_strategy_get_type ())
static GType
select_strategy_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { STRATEGY_AUTO, "As the checkpoint's config.json says", "auto" },
    { STRATEGY_DEFAULT, "Drop the CLS token (LLaVA)", "default" },
    { STRATEGY_FULL, "Keep all tokens", "full" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpSelectStrategy", values));
  return type;
}

struct _GstVtpEncoder {
  GstBaseTransform parent;

  /* properties (object lock) */
  GstVtpModelSettings settings;
  char *feature_layers;
  SelectStrategy strategy;
  GstVtpDropMode drop_mode;
  guint64 min_interval;
  guint frame_interval;
  gboolean jpeg_scaling;
  gint max_errors;
  guint64 frames_corrupt;
  gboolean roi;
  guint64 regions_described, regions_skipped;
  guint batch;
  guint64 frames_batched;

  GstVtpFrameGate *gate;        /* the slot in front of the sink pad */

  /* between start and stop (streaming thread) */
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  VtpVisionTower *clip;
  VtpVisionState *state;
  VtpVisionBatch *engine;       /* batch > 0: the tower's batching engine, shared */
  VtpImagePreprocessor *pre;
  VtpImageConfig image_config;
  GstVideoInfo info;
  VtpPixelLayout layout;
  gboolean jpeg;                /* frames are image/jpeg */
  guint8 *rgb;                  /* decoded JPEG frame */
  gsize rgb_size;
  guint corrupt_in_row;         /* JPEG frames that did not decode, since the last one that did */
  /* roi=true: the frame whose regions are being described, one output buffer each */
  GstBuffer *roi_frame;
  GArray *roi_regions;          /* Region */
  guint roi_next;
};

/* A region of interest of the frame, to be described. */
typedef struct {
  VtpImageRect rect;            /* inside the frame */
  GstStructure *region;         /* "vtp-region": what vtpllm reports of it (gstvtpmeta.h) */
  char *prompt;                 /* its own prompt ("vtp-prompt" parameter), or NULL */
} Region;

static void
region_clear (Region *r)
{
  g_clear_pointer (&r->region, gst_structure_free);
  g_clear_pointer (&r->prompt, g_free);
}

#define VIDEO_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, ARGB, ABGR, xRGB, xBGR }"

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VIDEO_FORMATS) "; image/jpeg"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_VISION_FEATURES
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));

#define gst_vtp_encoder_parent_class parent_class
G_DEFINE_TYPE (GstVtpEncoder, gst_vtp_encoder, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vtpencoder, "vtpencoder", GST_RANK_NONE, GST_TYPE_VTP_ENCODER);

/* "-2" or "-3,-1": Python-style indices into the hidden states. */
static gboolean
parse_layers (const char *s, VtpVisionFeatures *f, const VtpVisionConfig *cfg, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (s, ",", -1);
  gint n = 0;

  for (guint i = 0; parts[i]; i++) {
    char *end;
    gint64 v = g_ascii_strtoll (g_strstrip (parts[i]), &end, 10);
    gint h = vtp_vision_config_hidden_index (cfg, (gint) v);
    if (*parts[i] == '\0' || *end != '\0' || n == VTP_MAX_FEATURE_LAYERS || h < 0 || h > cfg->num_hidden_layers) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "feature-layers \"%s\": expected up to %d comma-separated "
          "layer indices between %d and %d", s, VTP_MAX_FEATURE_LAYERS, -(cfg->num_hidden_layers + 1),
          cfg->num_hidden_layers);
      return FALSE;
    }
    f->layers[n++] = h;
  }
  f->n_layers = n;
  return n > 0;
}

static gboolean
load_model (GstVtpEncoder *self, const char *layers, SelectStrategy strategy, VtpWeightType wtype, guint batch,
    GError **error)
{
  VtpModelParts parts;
  VtpVisionFeatures feats;
  VtpImageConfig ic;
  const char *prefix;
  gboolean ok = FALSE;

  if (!vtp_model_parts_read (self->ckpt, &parts, error))
    return FALSE;
  if (!parts.has_vision) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s (model_type %s) has no vision tower", self->ckpt->dir,
        parts.model_type);
    goto out;
  }
  vtp_model_features (&parts, &feats);
  if (layers && *layers && !parse_layers (layers, &feats, &parts.vision, error))
    goto out;
  if (strategy != STRATEGY_AUTO)
    feats.keep_cls = strategy == STRATEGY_FULL;
  if (!(prefix = vtp_model_vision_prefix (self->ckpt, &parts, error))
      || !vtp_model_image_config (self->ckpt, &parts, &ic, error)
      || !(self->clip = vtp_vision_tower_acquire (self->ckpt, prefix, &parts.vision, &feats, self->dev, wtype,
              error))
      || !(self->state = vtp_vision_state_new (self->clip, error))
      || (batch > 0 && !(self->engine = vtp_vision_batch_acquire (self->clip, (gint) batch, error))))
    goto out;
  self->pre = vtp_image_preprocessor_new (self->dev, &ic);
  self->image_config = ic;
  GST_INFO_OBJECT (self, "loaded the vision tower of %s: %d tokens x %d features", self->ckpt->dir,
      vtp_vision_tower_feature_rows (self->clip), vtp_vision_tower_feature_width (self->clip));
  ok = TRUE;
out:
  vtp_model_parts_clear (&parts);
  return ok;
}

/* Forgets the frame being described region by region. */
static void
clear_regions (GstVtpEncoder *self)
{
  gst_clear_buffer (&self->roi_frame);
  g_array_set_size (self->roi_regions, 0);
  self->roi_next = 0;
}

static void
release (GstVtpEncoder *self)
{
  clear_regions (self);
  g_clear_pointer (&self->pre, vtp_image_preprocessor_free);
  g_clear_pointer (&self->rgb, g_free);
  self->rgb_size = 0;
  g_clear_pointer (&self->state, vtp_vision_state_free);
  g_clear_pointer (&self->engine, vtp_vision_batch_release);   /* before the tower it encodes with */
  g_clear_pointer (&self->clip, vtp_model_cache_release);
  g_clear_pointer (&self->ckpt, vtp_checkpoint_unref);
  g_clear_pointer (&self->dev, vtp_device_unref);
}

static gboolean
gst_vtp_encoder_start (GstBaseTransform *trans)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  g_autoptr (GError) error = NULL;
  g_autofree char *layers = NULL;
  GstVtpModelSettings s = { 0 };
  SelectStrategy strategy;
  guint batch;
  gboolean ok;

  GST_OBJECT_LOCK (self);
  layers = g_strdup (self->feature_layers);
  strategy = self->strategy;
  batch = self->batch;
  self->frames_batched = 0;
  self->corrupt_in_row = 0;
  self->frames_corrupt = 0;
  self->regions_described = self->regions_skipped = 0;
  GST_OBJECT_UNLOCK (self);
  ok = gst_vtp_open_model (GST_ELEMENT (self), &self->settings, &s, &self->dev, &self->ckpt);
  if (ok && !(ok = load_model (self, layers, strategy, s.weight_type, batch, &error)))
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, error, "loading the vision tower");
  gst_vtp_model_settings_clear (&s);
  if (!ok)
    release (self);
  return ok;
}

static gboolean
gst_vtp_encoder_stop (GstBaseTransform *trans)
{
  release (GST_VTP_ENCODER (trans));
  return TRUE;
}

static GstCaps *
gst_vtp_encoder_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
    GstCaps *filter)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  GstCaps *out;

  if (direction == GST_PAD_SINK)
    out = self->clip ? gst_vtp_tensor_caps_new (GST_VTP_KIND_VISION_FEATURES,
        vtp_vision_tower_feature_rows (self->clip), vtp_vision_tower_feature_width (self->clip))
        : gst_static_pad_template_get_caps (&src_template);
  else
    out = gst_static_pad_template_get_caps (&sink_template);
  return gst_vtp_caps_filter (out, filter);
}

static gboolean
gst_vtp_encoder_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);

  self->jpeg = gst_structure_has_name (gst_caps_get_structure (incaps, 0), "image/jpeg");
  if (self->jpeg)
    return TRUE;                /* each frame's size is in its header */
  if (!gst_video_info_from_caps (&self->info, incaps))
    return FALSE;
  switch (GST_VIDEO_INFO_FORMAT (&self->info)) {
    case GST_VIDEO_FORMAT_RGB: self->layout = VTP_PIXELS_RGB; break;
    case GST_VIDEO_FORMAT_BGR: self->layout = VTP_PIXELS_BGR; break;
    case GST_VIDEO_FORMAT_RGBA: case GST_VIDEO_FORMAT_RGBx: self->layout = VTP_PIXELS_RGBA; break;
    case GST_VIDEO_FORMAT_BGRA: case GST_VIDEO_FORMAT_BGRx: self->layout = VTP_PIXELS_BGRA; break;
    case GST_VIDEO_FORMAT_ARGB: case GST_VIDEO_FORMAT_xRGB: self->layout = VTP_PIXELS_ARGB; break;
    case GST_VIDEO_FORMAT_ABGR: case GST_VIDEO_FORMAT_xBGR: self->layout = VTP_PIXELS_ABGR; break;
    default:
      return FALSE;
  }
  GST_DEBUG_OBJECT (self, "frames %dx%d %s", GST_VIDEO_INFO_WIDTH (&self->info), GST_VIDEO_INFO_HEIGHT (&self->info),
      gst_video_format_to_string (GST_VIDEO_INFO_FORMAT (&self->info)));
  return TRUE;
}

static GstFlowReturn
gst_vtp_encoder_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  GstVtpFrameCounts counts;
  gint64 arrival;
  GstFlowReturn ret = gst_vtp_prepare_tensor_output (GST_ELEMENT (self), self->dev,
      vtp_vision_tower_feature_rows (self->clip), vtp_vision_tower_feature_width (self->clip), inbuf, outbuf);

  if (ret == GST_FLOW_OK) {
    /* when this frame arrived and what was dropped before it, for vtpllm's reports */
    gst_vtp_frame_gate_current (self->gate, &arrival, &counts);
    gst_buffer_add_vtp_frame_meta (*outbuf, arrival, counts.received, counts.dropped);
  }
  return ret;
}

static GstStateChangeReturn
gst_vtp_encoder_change_state (GstElement *element, GstStateChange transition)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (element);
  GstStateChangeReturn ret;

  /* the gate's worker runs while the pads are active */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    gst_vtp_frame_gate_stop (self->gate);
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && ret != GST_STATE_CHANGE_FAILURE)
    gst_vtp_frame_gate_start (self->gate);
  return ret;
}

/* Hands the rate settings to the gate (object lock held). */
static void
configure_gate (GstVtpEncoder *self)
{
  gst_vtp_frame_gate_configure (self->gate, self->drop_mode, self->min_interval, self->frame_interval);
}

/* A JPEG frame decoded into self->rgb at the smallest DCT scale the
 * preprocessing allows (@full_size: at full size, for regions of it);
 * FALSE with libjpeg's message when it does not decode (the frame is then
 * skipped, not the stream stopped). */
static gboolean
decode_jpeg (GstVtpEncoder *self, GstBuffer *inbuf, gboolean full_size, VtpJpegSize *plan, GError **error)
{
  GstMapInfo map;
  gboolean scale, ok;

  GST_OBJECT_LOCK (self);
  scale = self->jpeg_scaling && !full_size;
  GST_OBJECT_UNLOCK (self);
  if (!gst_buffer_map (inbuf, &map, GST_MAP_READ)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Could not read the JPEG frame");
    return FALSE;
  }
  ok = vtp_jpeg_plan (map.data, map.size, &self->image_config, scale, plan, error);
  if (ok && (gsize) plan->out_width * plan->out_height * 3 > self->rgb_size) {
    g_free (self->rgb);
    self->rgb_size = (gsize) plan->out_width * plan->out_height * 3;
    self->rgb = g_malloc (self->rgb_size);
  }
  ok = ok && vtp_jpeg_decode (map.data, map.size, plan, self->rgb, error);
  gst_buffer_unmap (inbuf, &map);
  if (ok)
    GST_LOG_OBJECT (self, "JPEG %dx%d decoded at %d/8: %dx%d", plan->width, plan->height, plan->scale_num,
        plan->out_width, plan->out_height);
  return ok;
}

/* A JPEG frame that did not decode: a live camera must outlive a damaged
 * frame, so it is skipped (a GAP in its place, as for a dropped frame) with
 * a warning, until more than max-errors come in a row (GstVideoDecoder's
 * max-errors: -1 never an error, 0 the first). */
static GstFlowReturn
skip_corrupt_frame (GstVtpEncoder *self, GstBuffer *inbuf, const GError *error)
{
  const GstClockTime pts = GST_BUFFER_PTS (inbuf);
  g_autofree char *when = GST_CLOCK_TIME_IS_VALID (pts) ? g_strdup_printf ("at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (pts)) : g_strdup ("without a timestamp");
  gint max_errors;

  GST_OBJECT_LOCK (self);
  max_errors = self->max_errors;
  self->frames_corrupt++;
  GST_OBJECT_UNLOCK (self);
  self->corrupt_in_row++;
  gst_vtp_frame_gate_skip_current (self->gate);
  if (max_errors >= 0 && self->corrupt_in_row > (guint) max_errors) {
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("Corrupt JPEG frames: %u in a row, more than max-errors (%d); the "
            "last %s: %s", self->corrupt_in_row, max_errors, when, error->message), (NULL));
    return GST_FLOW_ERROR;
  }
  GST_ELEMENT_WARNING (self, STREAM, DECODE, ("Skipped the corrupt JPEG frame %s (%u in a row, max-errors %d): "
          "%s", when, self->corrupt_in_row, max_errors, error->message), (NULL));
  if (GST_CLOCK_TIME_IS_VALID (pts))
    gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), gst_event_new_gap (pts, GST_BUFFER_DURATION (inbuf)));
  return GST_BASE_TRANSFORM_FLOW_DROPPED;
}

static gboolean
preprocess_raw (GstVtpEncoder *self, GstBuffer *inbuf, GError **error)
{
  GstVideoFrame frame;
  gboolean ok;

  if (!gst_video_frame_map (&frame, &self->info, inbuf, GST_MAP_READ)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Could not read the video frame");
    return FALSE;
  }
  ok = vtp_image_preprocess (self->pre, GST_VIDEO_FRAME_PLANE_DATA (&frame, 0), GST_VIDEO_FRAME_WIDTH (&frame),
      GST_VIDEO_FRAME_HEIGHT (&frame), GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), self->layout, self->state->pixels,
      error);
  gst_video_frame_unmap (&frame);
  return ok;
}

/* The picture in self->state->pixels through the tower into @features:
 * alone, or in the batching engine's next batch (batch > 0). */
static gboolean
encode (GstVtpEncoder *self, VtpTensor *features, GError **error)
{
  VtpVisionBatchStats stats;

  if (!self->engine) {
    vtp_vision_tower_forward (self->clip, self->state, features);
    return vtp_error_take_pending (error);
  }
  if (!vtp_vision_batch_encode (self->engine, self->state->pixels, features, &stats, error))
    return FALSE;
  GST_LOG_OBJECT (self, "encoded with %d pictures in its batch (waited %.1f ms, batch %.1f ms)", stats.images,
      stats.wait_ms, stats.encode_ms);
  if (stats.images > 1) {
    GST_OBJECT_LOCK (self);
    self->frames_batched++;
    GST_OBJECT_UNLOCK (self);
  }
  return TRUE;
}

static GstFlowReturn
gst_vtp_encoder_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  g_autoptr (GError) error = NULL;
  VtpJpegSize plan;
  gboolean ok;

  if (self->jpeg) {
    if (!decode_jpeg (self, inbuf, FALSE, &plan, &error))
      return skip_corrupt_frame (self, inbuf, error);
    self->corrupt_in_row = 0;
    ok = vtp_image_preprocess (self->pre, self->rgb, plan.out_width, plan.out_height, plan.out_width * 3,
        VTP_PIXELS_RGB, self->state->pixels, &error);
  } else
    ok = preprocess_raw (self, inbuf, &error);
  if (ok)
    ok = encode (self, gst_vtp_buffer_peek_tensor (outbuf), &error);
  if (!ok) {
    GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "encoding a frame");
    return GST_FLOW_ERROR;
  }
  return GST_FLOW_OK;
}

/* "the frame at 0:00:01.000000000" */
static char *
frame_time (GstBuffer *frame)
{
  return GST_BUFFER_PTS_IS_VALID (frame) ? g_strdup_printf ("the frame at %" GST_TIME_FORMAT,
      GST_TIME_ARGS (GST_BUFFER_PTS (frame))) : g_strdup ("a frame without a timestamp");
}

static gboolean
is_blank (const char *s)
{
  for (; s && *s; s++)
    if (!g_ascii_isspace (*s))
      return FALSE;
  return TRUE;
}

/* The frame's regions of interest, clipped to its @width x @height, into
 * self->roi_regions; those with nothing inside are skipped with a warning. */
static void
collect_regions (GstVtpEncoder *self, GstBuffer *frame, gint width, gint height)
{
  gpointer state = NULL;
  GstMeta *meta;
  guint index = 0;

  while ((meta = gst_buffer_iterate_meta_filtered (frame, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) meta;
    const char *type = roi->roi_type ? g_quark_to_string (roi->roi_type) : NULL;
    /* unsigned: a region can only stick out on the right and at the bottom */
    const guint64 x1 = MIN (roi->x, (guint64) width), y1 = MIN (roi->y, (guint64) height);
    const guint64 x2 = MIN ((guint64) roi->x + roi->w, (guint64) width);
    const guint64 y2 = MIN ((guint64) roi->y + roi->h, (guint64) height);
    const GstStructure *param;
    Region r = { { (gint) x1, (gint) y1, (gint) (x2 - x1), (gint) (y2 - y1) }, NULL, NULL };

    if (x2 <= x1 || y2 <= y1) {
      g_autofree char *when = frame_time (frame);
      GST_OBJECT_LOCK (self);
      self->regions_skipped++;
      GST_OBJECT_UNLOCK (self);
      g_autofree char *why = roi->w == 0 || roi->h == 0 ? g_strdup ("it is empty")
          : g_strdup_printf ("it lies outside the %dx%d frame", width, height);
      GST_ELEMENT_WARNING (self, STREAM, FAILED, ("Skipped region of interest %u (%s%s%ux%u at %u,%u) of %s: %s",
              index, type ? type : "", type ? ", " : "", roi->w, roi->h, roi->x, roi->y, when, why),
          ("ROI meta id %d", roi->id));
      index++;
      continue;
    }
    if (r.rect.width < (gint) roi->w || r.rect.height < (gint) roi->h)
      GST_DEBUG_OBJECT (self, "region %u (%ux%u at %u, %u) clipped to the %dx%d frame: %dx%d", index, roi->w, roi->h,
          roi->x, roi->y, width, height, r.rect.width, r.rect.height);
    r.region = gst_structure_new ("vtp-region", "roi-index", G_TYPE_UINT, index, "roi-id", G_TYPE_INT, roi->id,
        NULL);
    if (type)
      gst_structure_set (r.region, "roi-type", G_TYPE_STRING, type, NULL);
    gst_structure_set (r.region, "x", G_TYPE_UINT, (guint) r.rect.x, "y", G_TYPE_UINT, (guint) r.rect.y,
        "width", G_TYPE_UINT, (guint) r.rect.width, "height", G_TYPE_UINT, (guint) r.rect.height, NULL);
    /* a blank prompt is none: vtpllm's (or vtpqformer's) applies */
    if ((param = gst_video_region_of_interest_meta_get_param (roi, GST_VTP_PROMPT_PARAM))
        && !is_blank (gst_structure_get_string (param, "prompt")))
      r.prompt = g_strdup (gst_structure_get_string (param, "prompt"));
    g_array_append_val (self->roi_regions, r);
    index++;
  }
}

/* roi=true: reads the frame's regions and uploads the frame once for
 * them; a frame with none to describe is skipped (a GAP in its place).
 * Takes @frame. */
static GstFlowReturn
start_regions (GstVtpEncoder *self, GstBuffer *frame)
{
  g_autoptr (GError) error = NULL;
  gboolean ok = TRUE;

  clear_regions (self);
  if (self->jpeg) {
    VtpJpegSize plan;
    if (!decode_jpeg (self, frame, TRUE, &plan, &error)) {
      GstFlowReturn ret = skip_corrupt_frame (self, frame, error);
      gst_buffer_unref (frame);
      return ret;
    }
    self->corrupt_in_row = 0;
    collect_regions (self, frame, plan.out_width, plan.out_height);
    if (self->roi_regions->len)
      ok = vtp_image_preprocessor_upload (self->pre, self->rgb, plan.out_width, plan.out_height, plan.out_width * 3,
          VTP_PIXELS_RGB, &error);
  } else {
    GstVideoFrame vf;
    if (!gst_video_frame_map (&vf, &self->info, frame, GST_MAP_READ)) {
      g_set_error (&error, VTP_ERROR, VTP_ERROR_INPUT, "Could not read the video frame");
      ok = FALSE;
    } else {
      collect_regions (self, frame, GST_VIDEO_FRAME_WIDTH (&vf), GST_VIDEO_FRAME_HEIGHT (&vf));
      if (self->roi_regions->len)
        ok = vtp_image_preprocessor_upload (self->pre, GST_VIDEO_FRAME_PLANE_DATA (&vf, 0),
            GST_VIDEO_FRAME_WIDTH (&vf), GST_VIDEO_FRAME_HEIGHT (&vf), GST_VIDEO_FRAME_PLANE_STRIDE (&vf, 0),
            self->layout, &error);
      gst_video_frame_unmap (&vf);
    }
  }
  if (!ok) {
    gst_buffer_unref (frame);
    clear_regions (self);
    GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "reading a frame's regions of interest");
    return GST_FLOW_ERROR;
  }
  if (!self->roi_regions->len) {
    GST_LOG_OBJECT (self, "no region of interest to describe in the frame at %" GST_TIME_FORMAT,
        GST_TIME_ARGS (GST_BUFFER_PTS (frame)));
    gst_vtp_frame_gate_skip_current (self->gate);
    if (GST_BUFFER_PTS_IS_VALID (frame))
      gst_pad_push_event (GST_BASE_TRANSFORM_SRC_PAD (self), gst_event_new_gap (GST_BUFFER_PTS (frame),
              GST_BUFFER_DURATION (frame)));
    gst_buffer_unref (frame);
    return GST_BASE_TRANSFORM_FLOW_DROPPED;
  }
  self->roi_frame = frame;
  self->roi_next = 0;
  return GST_FLOW_OK;
}

/* The next region of the frame in self->roi_frame, encoded. */
static GstFlowReturn
next_region (GstVtpEncoder *self, GstBuffer **outbuf)
{
  g_autoptr (GError) error = NULL;
  const Region *r = &g_array_index (self->roi_regions, Region, self->roi_next);
  const guint count = self->roi_regions->len;
  GstFlowReturn ret = gst_vtp_encoder_prepare_output_buffer (GST_BASE_TRANSFORM (self), self->roi_frame, outbuf);
  gboolean ok;

  if (ret != GST_FLOW_OK) {
    clear_regions (self);
    return ret;
  }
  ok = vtp_image_preprocessor_run (self->pre, &r->rect, self->state->pixels, &error);
  if (ok)
    ok = encode (self, gst_vtp_buffer_peek_tensor (*outbuf), &error);
  if (!ok) {
    gst_clear_buffer (outbuf);
    clear_regions (self);
    GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "encoding a region of interest");
    return GST_FLOW_ERROR;
  }
  gst_buffer_add_vtp_region_meta (*outbuf, self->roi_next, count, gst_structure_copy (r->region));
  if (r->prompt)
    gst_buffer_add_vtp_prompt_meta (*outbuf, r->prompt);
  GST_LOG_OBJECT (self, "region %u of %u: %" GST_PTR_FORMAT, self->roi_next + 1, count, r->region);
  GST_OBJECT_LOCK (self);
  self->regions_described++;
  GST_OBJECT_UNLOCK (self);
  if (++self->roi_next == count)
    clear_regions (self);
  return GST_FLOW_OK;
}

/* A new frame: whatever was left of the last one's regions (a flush cut
 * it short) is forgotten. */
static GstFlowReturn
gst_vtp_encoder_submit_input_buffer (GstBaseTransform *trans, gboolean is_discont, GstBuffer *input)
{
  clear_regions (GST_VTP_ENCODER (trans));
  return GST_BASE_TRANSFORM_CLASS (parent_class)->submit_input_buffer (trans, is_discont, input);
}

/* roi=true: one output buffer per region of the frame (the base class
 * calls this until it gives none); else the whole frame, as usual. */
static GstFlowReturn
gst_vtp_encoder_generate_output (GstBaseTransform *trans, GstBuffer **outbuf)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  gboolean roi;

  *outbuf = NULL;
  if (!self->roi_frame) {
    GstFlowReturn ret;
    GST_OBJECT_LOCK (self);
    roi = self->roi;
    GST_OBJECT_UNLOCK (self);
    if (!roi || !trans->queued_buf)
      return GST_BASE_TRANSFORM_CLASS (parent_class)->generate_output (trans, outbuf);
    ret = start_regions (self, g_steal_pointer (&trans->queued_buf));
    if (ret != GST_FLOW_OK)
      return ret;
  }
  return next_region (self, outbuf);
}

static gboolean
gst_vtp_encoder_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (trans);
  if (gst_vtp_handle_context_query (GST_ELEMENT (self), query, self->dev))
    return TRUE;
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static void
gst_vtp_encoder_set_context (GstElement *element, GstContext *context)
{
  gst_vtp_handle_set_context (element, context, &GST_VTP_ENCODER (element)->dev);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static void
gst_vtp_encoder_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_set (&self->settings, prop_id, value)) {
    switch (prop_id) {
      case PROP_FEATURE_LAYERS: g_free (self->feature_layers); self->feature_layers = g_value_dup_string (value); break;
      case PROP_SELECT_STRATEGY: self->strategy = g_value_get_enum (value); break;
      case PROP_DROP_FRAMES: self->drop_mode = g_value_get_enum (value); configure_gate (self); break;
      case PROP_MIN_INTERVAL: self->min_interval = g_value_get_uint64 (value); configure_gate (self); break;
      case PROP_FRAME_INTERVAL: self->frame_interval = g_value_get_uint (value); configure_gate (self); break;
      case PROP_JPEG_SCALING: self->jpeg_scaling = g_value_get_boolean (value); break;
      case PROP_MAX_ERRORS: self->max_errors = g_value_get_int (value); break;
      case PROP_ROI: self->roi = g_value_get_boolean (value); break;
      case PROP_BATCH: self->batch = g_value_get_uint (value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
    }
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_encoder_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_get (&self->settings, prop_id, value)) {
    switch (prop_id) {
      case PROP_FEATURE_LAYERS: g_value_set_string (value, self->feature_layers); break;
      case PROP_SELECT_STRATEGY: g_value_set_enum (value, self->strategy); break;
      case PROP_DROP_FRAMES: g_value_set_enum (value, self->drop_mode); break;
      case PROP_MIN_INTERVAL: g_value_set_uint64 (value, self->min_interval); break;
      case PROP_FRAME_INTERVAL: g_value_set_uint (value, self->frame_interval); break;
      case PROP_FRAMES_RECEIVED: g_value_set_uint64 (value, gst_vtp_frame_gate_counts (self->gate).received); break;
      case PROP_FRAMES_DESCRIBED: g_value_set_uint64 (value, gst_vtp_frame_gate_counts (self->gate).described); break;
      case PROP_FRAMES_DROPPED: g_value_set_uint64 (value, gst_vtp_frame_gate_counts (self->gate).dropped); break;
      case PROP_JPEG_SCALING: g_value_set_boolean (value, self->jpeg_scaling); break;
      case PROP_MAX_ERRORS: g_value_set_int (value, self->max_errors); break;
      case PROP_FRAMES_CORRUPT: g_value_set_uint64 (value, self->frames_corrupt); break;
      case PROP_ROI: g_value_set_boolean (value, self->roi); break;
      case PROP_REGIONS_DESCRIBED: g_value_set_uint64 (value, self->regions_described); break;
      case PROP_REGIONS_SKIPPED: g_value_set_uint64 (value, self->regions_skipped); break;
      case PROP_BATCH: g_value_set_uint (value, self->batch); break;
      case PROP_FRAMES_BATCHED: g_value_set_uint64 (value, self->frames_batched); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
    }
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_encoder_finalize (GObject *object)
{
  GstVtpEncoder *self = GST_VTP_ENCODER (object);
  release (self);
  gst_vtp_frame_gate_free (self->gate);
  g_array_unref (self->roi_regions);
  gst_vtp_model_settings_clear (&self->settings);
  g_free (self->feature_layers);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_encoder_class_init (GstVtpEncoderClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vtp_encoder_set_property;
  gobject_class->get_property = gst_vtp_encoder_get_property;
  gobject_class->finalize = gst_vtp_encoder_finalize;

  /* model, device, weight-type: documented in gstvtpcommon.c */
  gst_vtp_install_common_properties (gobject_class, "Model directory (config.json + safetensors) or a name found "
      "in $VTP_MODEL_PATH");
  /**
   * GstVtpEncoder:feature-layers:
   *
   * Hidden states given to the bridge, as Python indices into the L + 1
   * hidden states ("-2", or "-3,-1" to concatenate); unset: config.json's
   * vision_feature_layer.
   */
  g_object_class_install_property (gobject_class, PROP_FEATURE_LAYERS,
      g_param_spec_string ("feature-layers", "Feature layers", "Comma-separated hidden-state indices (-2 = "
          "second to last); unset: from config.json", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpEncoder:select-strategy:
   *
   * Whether the CLS token is dropped (default, LLaVA) or kept (full).
   */
  g_object_class_install_property (gobject_class, PROP_SELECT_STRATEGY,
      g_param_spec_enum ("select-strategy", "Select strategy", "Drop the CLS token (default) or keep it (full)",
          GST_TYPE_VTP_SELECT_STRATEGY, STRATEGY_AUTO,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpEncoder:drop-frames:
   *
   * What happens to a frame that arrives while the previous one still waits
   * for the model: auto drops it (newest wins) when the pipeline is live and
   * makes upstream wait otherwise (a file is described frame by frame).
   */
  g_object_class_install_property (gobject_class, PROP_DROP_FRAMES,
      g_param_spec_enum ("drop-frames", "Drop frames", "Newest frame wins while the model is busy: auto (live "
          "pipelines only), always, never (upstream waits)", GST_TYPE_VTP_DROP_MODE, GST_VTP_DROP_AUTO,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:min-interval:
   *
   * At least this much stream time (nanoseconds of PTS) between described
   * frames; frames in between are skipped. 0: no limit.
   */
  g_object_class_install_property (gobject_class, PROP_MIN_INTERVAL,
      g_param_spec_uint64 ("min-interval", "Minimum interval", "At most one described frame per this many "
          "nanoseconds of stream time (0: no limit)", 0, G_MAXUINT64, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:frame-interval:
   *
   * Describe one frame in N (the first, then every Nth); 1: all.
   */
  g_object_class_install_property (gobject_class, PROP_FRAME_INTERVAL,
      g_param_spec_uint ("frame-interval", "Frame interval", "Describe one frame in N", 1, G_MAXUINT, 1,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:frames-received:
   *
   * Frames that reached the element since it started.
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_RECEIVED,
      g_param_spec_uint64 ("frames-received", "Frames received", "Frames that reached the element", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:frames-described:
   *
   * Frames handed to the model (encoded and passed on).
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_DESCRIBED,
      g_param_spec_uint64 ("frames-described", "Frames described", "Frames encoded and passed on to the model", 0,
          G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:frames-dropped:
   *
   * Frames not described: replaced by a newer one while the model was busy,
   * or skipped by the rate limit.
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_DROPPED,
      g_param_spec_uint64 ("frames-dropped", "Frames dropped", "Frames not described (newest wins, rate limit)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:jpeg-scaling:
   *
   * JPEG frames (image/jpeg, MJPEG cameras) are decoded by libjpeg-turbo at
   * the smallest DCT scale (1/8, 1/4, 1/2) that still covers the model's input, which
   * is much cheaper than a full-size decode. The pixels then differ a little
   * from a full decode followed by the resize: set FALSE to decode at full
   * size (what jpegdec ! videoconvert would give).
   */
  g_object_class_install_property (gobject_class, PROP_JPEG_SCALING,
      g_param_spec_boolean ("jpeg-scaling", "JPEG scaling", "Decode JPEG frames at the smallest DCT scale that "
          "covers the model input (FALSE: full size)", TRUE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:max-errors:
   *
   * JPEG frames that do not decode are skipped with a warning; more than
   * this many in a row is an error. As GstVideoDecoder's max-errors: -1
   * never an error, 0 an error on the first; but counted in a row (a
   * decoded frame starts again from 0), so a camera's occasional damaged
   * frame never adds up over a long run.
   */
  g_object_class_install_property (gobject_class, PROP_MAX_ERRORS,
      g_param_spec_int ("max-errors", "Max errors", "Corrupt JPEG frames in a row skipped with a warning before "
          "an error (-1: never an error, 0: the first is)", -1, G_MAXINT, DEFAULT_MAX_ERRORS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:frames-corrupt:
   *
   * JPEG frames skipped because they did not decode (also counted in
   * #GstVtpEncoder:frames-dropped), since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_CORRUPT,
      g_param_spec_uint64 ("frames-corrupt", "Frames corrupt", "JPEG frames skipped because they did not decode",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:roi:
   *
   * Describe the frame's regions of interest (GstVideoRegionOfInterestMeta,
   * from a detector upstream) instead of the whole frame: each region is
   * cropped on the device before the resize and encoded as its own buffer.
   * Regions partly outside the frame are clipped, empty ones skipped with a
   * warning; a frame without regions is not described. A ROI meta's
   * "vtp-prompt" parameter (field "prompt") gives that region its own
   * prompt. Read for each frame.
   */
  g_object_class_install_property (gobject_class, PROP_ROI,
      g_param_spec_boolean ("roi", "Regions of interest", "Describe each region of interest of the frame "
          "(GstVideoRegionOfInterestMeta) instead of the whole frame", FALSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpEncoder:regions-described:
   *
   * Regions of interest encoded (roi=true) since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_REGIONS_DESCRIBED,
      g_param_spec_uint64 ("regions-described", "Regions described", "Regions of interest encoded (roi=true)",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:regions-skipped:
   *
   * Regions of interest skipped because nothing of them lies inside the
   * frame (each with a warning), since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_REGIONS_SKIPPED,
      g_param_spec_uint64 ("regions-skipped", "Regions skipped", "Empty regions of interest, or wholly outside "
          "the frame, that were skipped", 0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:batch:
   *
   * Encode frames together with the other vtpencoder elements of the
   * process that load the same vision tower (same model, device, weight
   * type and feature selection) with batch set: their frames (or regions)
   * that wait at the same time go through the tower as one batch, up to
   * the largest batch any of them asks for, so that the tower's weights
   * are read once for all of them. Each frame's features are the ones it
   * gets alone, bit for bit. Nothing waits for a batch to fill: a frame
   * that finds the tower idle is encoded at once. 0: this element encodes
   * alone, in its own thread. Read at start.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH,
      g_param_spec_uint ("batch", "Batch", "Encode up to this many frames that wait at the same time, from every "
          "vtpencoder of the process with the same model and batch set, as one batch (0: alone)", 0, 64, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  /**
   * GstVtpEncoder:frames-batched:
   *
   * Frames (or regions) this element had encoded in one batch with other
   * pictures (batch > 0), since the element started.
   */
  g_object_class_install_property (gobject_class, PROP_FRAMES_BATCHED,
      g_param_spec_uint64 ("frames-batched", "Frames batched", "Frames encoded in one batch with other pictures",
          0, G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS));
  gst_element_class_set_static_metadata (element_class, "VTP image encoder", "Filter/Video/Converter",
      "Encodes video frames into vision features with a vision-language model's image encoder",
      "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = gst_vtp_encoder_set_context;
  element_class->change_state = gst_vtp_encoder_change_state;

  trans_class->start = gst_vtp_encoder_start;
  trans_class->stop = gst_vtp_encoder_stop;
  trans_class->transform_caps = gst_vtp_encoder_transform_caps;
  trans_class->set_caps = gst_vtp_encoder_set_caps;
  trans_class->prepare_output_buffer = gst_vtp_encoder_prepare_output_buffer;
  trans_class->transform = gst_vtp_encoder_transform;
  trans_class->submit_input_buffer = gst_vtp_encoder_submit_input_buffer;
  trans_class->generate_output = gst_vtp_encoder_generate_output;
  trans_class->query = gst_vtp_encoder_query;
  trans_class->passthrough_on_same_caps = FALSE;

  gst_type_mark_as_plugin_api (GST_TYPE_VTP_SELECT_STRATEGY, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VTP_DROP_MODE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vtp_encoder_debug, "vtpencoder", 0, "VTP image encoder");
}

static void
gst_vtp_encoder_init (GstVtpEncoder *self)
{
  self->strategy = STRATEGY_AUTO;
  self->drop_mode = GST_VTP_DROP_AUTO;
  self->frame_interval = 1;
  self->jpeg_scaling = TRUE;
  self->max_errors = DEFAULT_MAX_ERRORS;
  self->gate = gst_vtp_frame_gate_new (GST_ELEMENT (self), GST_BASE_TRANSFORM_SINK_PAD (self));
  self->roi_regions = g_array_new (FALSE, TRUE, sizeof (Region));
  g_array_set_clear_func (self->roi_regions, (GDestroyNotify) region_clear);
}
