/**
 * SECTION:element-vtpadapter
 * @title: vtpadapter
 *
 * The parameter-efficient bridge of LLaMA-Adapter V2 multimodal: the CLIP
 * features from vtpencoder (an OpenAI CLIP checkpoint converted by
 * tools/convert_llama_adapter.py) are projected, read by the adapter's
 * learned visual query tokens through its small transformer, and added to
 * the adaption prompt of every adapted layer of the language model.
 *
 * The output is one prompt block per adapted layer (caps kind
 * adapter-prompts). vtpllm, loaded with the same adapter in its
 * #GstVtpLlm:adapter property, attends to them in those layers through the
 * adapter's zero-initialised gates; the caps name the adapter so a pipeline
 * that pairs two different ones fails at negotiation rather than talk
 * nonsense.
 *
 * Text-only adapters (LLaMA-Adapter V1, PEFT adaption prompts) have no
 * visual part: give them to vtpllm alone.
 *
 * The unified framework's adapter variants put vtpqformer in front: the
 * Q-Former's query embeddings are then the adapter's visual input (its
 * clip_dim is the queries' width), and the instruction vtpqformer carries
 * on each buffer goes on to vtpllm (docs/graph-format.md, unified graphs).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=room.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=clip-vit-large-patch14 ! \
 *   vtpadapter model=llama-adapter-v2-multimodal7b ! \
 *   vtpllm model=llama-7b adapter=llama-adapter-v2-multimodal7b \
 *     prompt="Describe the atmosphere of the room." newline=true ! fdsink
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=room.jpg ! decodebin ! videoconvert ! vtpencoder model=unified ! \
 *   vtpqformer model=unified prompt="What colour is the car?" ! vtpadapter model=unified-adapter ! \
 *   vtpllm model=vicuna-7b adapter=unified-adapter newline=true ! fdsink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpadapter.h"
#include "gstvtpcommon.h"
#include "gstvtpcontext.h"
#include "gstvtptensor.h"
#include "vtp-adapter.h"
#include "vtp-model-cache.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_adapter_debug);
#define GST_CAT_DEFAULT gst_vtp_adapter_debug

struct _GstVtpAdapter {
  GstBaseTransform parent;

  /* properties (object lock) */
  GstVtpModelSettings settings;

  /* between start and stop */
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  VtpAdapter *adapter;
  VtpAdapterState *state;
  VtpTensor *scratch;
  gint image_rows;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string){ " GST_VTP_KIND_VISION_FEATURES ", "
        GST_VTP_KIND_QUERY_EMBEDDINGS " }, tokens=(int)[1, MAX], width=(int)[1, MAX]"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_ADAPTER_PROMPTS
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));

#define gst_vtp_adapter_parent_class parent_class
G_DEFINE_TYPE (GstVtpAdapter, gst_vtp_adapter, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vtpadapter, "vtpadapter", GST_RANK_NONE, GST_TYPE_VTP_ADAPTER);

static void
release (GstVtpAdapter *self)
{
  g_clear_pointer (&self->scratch, vtp_tensor_free);
  g_clear_pointer (&self->state, vtp_adapter_state_free);
  g_clear_pointer (&self->adapter, vtp_model_cache_release);
  g_clear_pointer (&self->ckpt, vtp_checkpoint_unref);
  g_clear_pointer (&self->dev, vtp_device_unref);
  self->image_rows = 0;
}

static gboolean
gst_vtp_adapter_start (GstBaseTransform *trans)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  g_autoptr (GError) error = NULL;
  GstVtpModelSettings s = { 0 };
  gboolean ok;

  ok = gst_vtp_open_model (GST_ELEMENT (self), &self->settings, &s, &self->dev, &self->ckpt);
  if (ok && !(ok = (self->adapter = vtp_adapter_acquire (self->ckpt, self->dev, s.weight_type, &error)) != NULL))
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, error, "loading the adapter");
  gst_vtp_model_settings_clear (&s);
  if (!ok)
    release (self);
  return ok;
}

static gboolean
gst_vtp_adapter_stop (GstBaseTransform *trans)
{
  release (GST_VTP_ADAPTER (trans));
  return TRUE;
}

static GstCaps *
output_caps (GstVtpAdapter *self)
{
  GstCaps *caps = gst_vtp_tensor_caps_new (GST_VTP_KIND_ADAPTER_PROMPTS, vtp_adapter_prompt_rows (self->adapter),
      self->adapter->llm_dim);
  gst_caps_set_simple (caps, "layers", G_TYPE_INT, self->adapter->cfg.query_layer, "adapter", G_TYPE_STRING,
      self->ckpt->dir, NULL);
  return caps;
}

/* Any feature shape passes caps queries; set_caps checks the width. */
static GstCaps *
gst_vtp_adapter_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
    GstCaps *filter)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  GstCaps *out;

  if (direction == GST_PAD_SINK)
    out = self->adapter ? output_caps (self) : gst_static_pad_template_get_caps (&src_template);
  else
    out = gst_static_pad_template_get_caps (&sink_template);
  return gst_vtp_caps_filter (out, filter);
}

static gboolean
gst_vtp_adapter_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  g_autoptr (GError) error = NULL;
  gint tokens, width;

  if (gst_vtp_tensor_caps_parse (incaps, GST_VTP_KIND_VISION_FEATURES, &tokens, &width)) {
    if (width != self->adapter->cfg.clip_dim) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The image encoder gives %d-wide features but the adapter %s "
              "reads %d-wide ones (clip_dim): use the OpenAI CLIP model it was trained with (converted by "
              "tools/convert_llama_adapter.py)", width, self->ckpt->dir, self->adapter->cfg.clip_dim),
          ("caps %" GST_PTR_FORMAT, incaps));
      return FALSE;
    }
  } else if (gst_vtp_tensor_caps_parse (incaps, GST_VTP_KIND_QUERY_EMBEDDINGS, &tokens, &width)) {
    /* the unified framework: the Q-Former's queries are the visual input */
    if (width != self->adapter->cfg.clip_dim) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The Q-Former gives %d-wide query embeddings but the adapter "
              "%s reads %d-wide visual input (clip_dim): use an adapter trained on this Q-Former's queries",
              width, self->ckpt->dir, self->adapter->cfg.clip_dim), ("caps %" GST_PTR_FORMAT, incaps));
      return FALSE;
    }
  } else
    return FALSE;
  if (tokens != self->image_rows) {
    /* the new state first: refused caps leave the element as it was, for
     * GstBaseTransform keeps the caps before them and will not set those again */
    VtpAdapterState *state = vtp_adapter_state_new (self->adapter, tokens, &error);
    if (!state) {
      GST_VTP_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, error, "allocating the adapter state");
      return FALSE;
    }
    g_clear_pointer (&self->state, vtp_adapter_state_free);
    self->state = state;
    self->image_rows = tokens;
  }
  return TRUE;
}

static GstFlowReturn
gst_vtp_adapter_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  return gst_vtp_prepare_tensor_output (GST_ELEMENT (self), self->dev, vtp_adapter_prompt_rows (self->adapter),
      self->adapter->llm_dim, inbuf, outbuf);
}

static GstFlowReturn
gst_vtp_adapter_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  g_autoptr (GError) error = NULL;
  VtpTensor *features;

  features = gst_vtp_buffer_get_tensor (inbuf, self->dev, self->image_rows, self->adapter->cfg.clip_dim,
      &self->scratch, &error);
  if (features) {
    vtp_adapter_forward (self->adapter, self->state, features, gst_vtp_buffer_peek_tensor (outbuf));
    if (vtp_error_take_pending (&error))
      return GST_FLOW_OK;
  }
  GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "running the adapter's visual queries");
  return GST_FLOW_ERROR;
}

static gboolean
gst_vtp_adapter_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (trans);
  if (gst_vtp_handle_context_query (GST_ELEMENT (self), query, self->dev))
    return TRUE;
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static void
gst_vtp_adapter_set_context (GstElement *element, GstContext *context)
{
  gst_vtp_handle_set_context (element, context, &GST_VTP_ADAPTER (element)->dev);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static void
gst_vtp_adapter_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_set (&self->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_adapter_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_get (&self->settings, prop_id, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_adapter_finalize (GObject *object)
{
  GstVtpAdapter *self = GST_VTP_ADAPTER (object);
  release (self);
  gst_vtp_model_settings_clear (&self->settings);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_adapter_class_init (GstVtpAdapterClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vtp_adapter_set_property;
  gobject_class->get_property = gst_vtp_adapter_get_property;
  gobject_class->finalize = gst_vtp_adapter_finalize;

  /* model, device, weight-type: documented in gstvtpcommon.c */
  gst_vtp_install_common_properties (gobject_class, "LLaMA-Adapter V2 multimodal directory (converted by "
      "tools/convert_llama_adapter.py), or a name found in $VTP_MODEL_PATH");

  gst_element_class_set_static_metadata (element_class, "VTP LLaMA-Adapter bridge", "Filter/Converter",
      "Turns CLIP features into the per-layer adaption prompts of LLaMA-Adapter V2 multimodal",
      "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = gst_vtp_adapter_set_context;

  trans_class->start = gst_vtp_adapter_start;
  trans_class->stop = gst_vtp_adapter_stop;
  trans_class->transform_caps = gst_vtp_adapter_transform_caps;
  trans_class->set_caps = gst_vtp_adapter_set_caps;
  trans_class->prepare_output_buffer = gst_vtp_adapter_prepare_output_buffer;
  trans_class->transform = gst_vtp_adapter_transform;
  trans_class->query = gst_vtp_adapter_query;
  trans_class->passthrough_on_same_caps = FALSE;

  GST_DEBUG_CATEGORY_INIT (gst_vtp_adapter_debug, "vtpadapter", 0, "VTP LLaMA-Adapter bridge");
}

static void
gst_vtp_adapter_init (GstVtpAdapter *self)
{
}
