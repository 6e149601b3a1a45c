/**
 * SECTION:element-vtpprojector
 * @title: vtpprojector
 *
 * The projection-based bridge of LLaVA / LLaVA-1.5: maps each vision feature
 * row from vtpencoder into the language model's embedding space (one linear
 * layer, or linear-GELU-linear for LLaVA-1.5's mlp2x_gelu). Its output rows
 * replace the prompt's `<image>` token in vtpllm.
 *
 * The feature width must be what the projector was trained on: a mismatch
 * (another encoder, other feature layers) fails at caps negotiation with
 * both widths named.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=llava-1.5-7b-hf ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf prompt="What is in the picture?" ! fdsink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpprojector.h"
#include "gstvtpcommon.h"
#include "gstvtpcontext.h"
#include "gstvtptensor.h"
#include "vtp-parts.h"
#include "vtp-projector.h"
#include "vtp-model-cache.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_projector_debug);
#define GST_CAT_DEFAULT gst_vtp_projector_debug

struct _GstVtpProjector {
  GstBaseTransform parent;

  GstVtpModelSettings settings;

  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  VtpProjector *proj;
  VtpTensor *hidden, *scratch;
  gint tokens;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_VISION_FEATURES
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_IMAGE_EMBEDDINGS
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));

#define gst_vtp_projector_parent_class parent_class
G_DEFINE_TYPE (GstVtpProjector, gst_vtp_projector, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vtpprojector, "vtpprojector", GST_RANK_NONE, GST_TYPE_VTP_PROJECTOR);

static void
release (GstVtpProjector *self)
{
  g_clear_pointer (&self->hidden, vtp_tensor_free);
  g_clear_pointer (&self->scratch, vtp_tensor_free);
  g_clear_pointer (&self->proj, vtp_model_cache_release);
  g_clear_pointer (&self->ckpt, vtp_checkpoint_unref);
  g_clear_pointer (&self->dev, vtp_device_unref);
}

static gboolean
load_model (GstVtpProjector *self, VtpWeightType wtype, GError **error)
{
  VtpModelParts parts;
  const char *prefix;
  gboolean ok = FALSE;

  if (!vtp_model_parts_read (self->ckpt, &parts, error))
    return FALSE;
  if (!parts.has_projector)
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s (model_type %s) has no multimodal projector",
        self->ckpt->dir, parts.model_type);
  else if ((prefix = vtp_model_projector_prefix (self->ckpt, error)))
    ok = (self->proj = vtp_projector_acquire (self->ckpt, prefix, &parts.llava,
            parts.vision.hidden_size * parts.llava.n_feature_layers, self->dev, wtype, error)) != NULL;
  vtp_model_parts_clear (&parts);
  return ok;
}

static gboolean
gst_vtp_projector_start (GstBaseTransform *trans)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  g_autoptr (GError) error = NULL;
  GstVtpModelSettings s = { 0 };
  gboolean ok;

  ok = gst_vtp_open_model (GST_ELEMENT (self), &self->settings, &s, &self->dev, &self->ckpt);
  if (ok && !(ok = load_model (self, s.weight_type, &error)))
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, error, "loading the projector");
  gst_vtp_model_settings_clear (&s);
  if (!ok)
    release (self);
  return ok;
}

static gboolean
gst_vtp_projector_stop (GstBaseTransform *trans)
{
  release (GST_VTP_PROJECTOR (trans));
  return TRUE;
}

/* Any feature width is accepted in queries so that a mismatch reaches
 * set_caps, which names both widths, instead of a bare not-negotiated. */
static GstCaps *
gst_vtp_projector_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
    GstCaps *filter)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  GstCaps *out = gst_caps_new_empty ();

  for (guint i = 0; i < gst_caps_get_size (caps); i++) {
    GstStructure *s = gst_structure_copy (gst_caps_get_structure (caps, i));
    if (direction == GST_PAD_SINK) {
      gst_structure_set (s, "kind", G_TYPE_STRING, GST_VTP_KIND_IMAGE_EMBEDDINGS, NULL);
      if (self->proj)
        gst_structure_set (s, "width", G_TYPE_INT, self->proj->out_width, NULL);
      else
        gst_structure_set (s, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
    } else {
      gst_structure_set (s, "kind", G_TYPE_STRING, GST_VTP_KIND_VISION_FEATURES,
          "width", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
    }
    gst_caps_append_structure (out, s);
  }
  return gst_vtp_caps_filter (out, filter);
}

static gboolean
gst_vtp_projector_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  g_autoptr (GError) error = NULL;
  VtpTensor *hidden;
  gint tokens, width;

  if (!gst_vtp_tensor_caps_parse (incaps, GST_VTP_KIND_VISION_FEATURES, &tokens, &width))
    return FALSE;
  if (width != self->proj->in_width) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The image encoder gives %d-wide features but the projector "
            "of %s expects %d-wide features: use an encoder (and feature layers) matching this projector",
            width, self->ckpt->dir, self->proj->in_width), ("caps %" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  /* the new scratch first: refused caps leave the element as it was, for
   * GstBaseTransform keeps the caps before them and will not set those again */
  if (!(hidden = vtp_tensor_new_2d (self->dev, VTP_DTYPE_F32, tokens, self->proj->out_width, &error))) {
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, error, "allocating projector scratch");
    return FALSE;
  }
  g_clear_pointer (&self->hidden, vtp_tensor_free);
  self->hidden = hidden;
  self->tokens = tokens;
  return TRUE;
}

static GstFlowReturn
gst_vtp_projector_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  return gst_vtp_prepare_tensor_output (GST_ELEMENT (self), self->dev, self->tokens,
      self->proj->out_width, inbuf, outbuf);
}

static GstFlowReturn
gst_vtp_projector_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  g_autoptr (GError) error = NULL;
  VtpTensor *in = gst_vtp_buffer_get_tensor (inbuf, self->dev, self->tokens, self->proj->in_width,
      &self->scratch, &error);

  if (in) {
    vtp_projector_forward (self->proj, in, self->tokens, self->hidden, gst_vtp_buffer_peek_tensor (outbuf));
    if (vtp_error_take_pending (&error))
      return GST_FLOW_OK;
  }
  GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "projecting vision features");
  return GST_FLOW_ERROR;
}

static gboolean
gst_vtp_projector_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (trans);
  if (gst_vtp_handle_context_query (GST_ELEMENT (self), query, self->dev))
    return TRUE;
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static void
gst_vtp_projector_set_context (GstElement *element, GstContext *context)
{
  gst_vtp_handle_set_context (element, context, &GST_VTP_PROJECTOR (element)->dev);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static void
gst_vtp_projector_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_set (&self->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_projector_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_get (&self->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_projector_finalize (GObject *object)
{
  GstVtpProjector *self = GST_VTP_PROJECTOR (object);
  release (self);
  gst_vtp_model_settings_clear (&self->settings);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_projector_class_init (GstVtpProjectorClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vtp_projector_set_property;
  gobject_class->get_property = gst_vtp_projector_get_property;
  gobject_class->finalize = gst_vtp_projector_finalize;

  /* model, device, weight-type: documented in gstvtpcommon.c */
  gst_vtp_install_common_properties (gobject_class, "llava-hf model directory holding the projector, or a name "
      "found in $VTP_MODEL_PATH");

  gst_element_class_set_static_metadata (element_class, "VTP projector bridge", "Filter/Converter",
      "Projects vision features into a language model's embedding space (LLaVA)",
      "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = gst_vtp_projector_set_context;

  trans_class->start = gst_vtp_projector_start;
  trans_class->stop = gst_vtp_projector_stop;
  trans_class->transform_caps = gst_vtp_projector_transform_caps;
  trans_class->set_caps = gst_vtp_projector_set_caps;
  trans_class->prepare_output_buffer = gst_vtp_projector_prepare_output_buffer;
  trans_class->transform = gst_vtp_projector_transform;
  trans_class->query = gst_vtp_projector_query;
  trans_class->passthrough_on_same_caps = FALSE;

  GST_DEBUG_CATEGORY_INIT (gst_vtp_projector_debug, "vtpprojector", 0, "VTP projector bridge");
}

static void
gst_vtp_projector_init (GstVtpProjector *self)
{
}
