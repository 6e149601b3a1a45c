#include "gstvtpcommon.h"
#include "gstvtpmeta.h"
#include "gstvtpcontext.h"
#include "gstvtptensor.h"

GType
gst_vtp_weight_type_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VTP_WEIGHTS_KEEP, "As stored in the checkpoint", "auto" },
    { VTP_WEIGHTS_F32, "32-bit float (exact, twice the memory of f16)", "f32" },
    { VTP_WEIGHTS_F16, "16-bit float (half the memory and bandwidth)", "f16" },
    { VTP_WEIGHTS_Q8_0, "llama.cpp's Q8_0, quantized at load (8.5 bits a weight)", "q8_0" },
    { VTP_WEIGHTS_Q4_0, "llama.cpp's Q4_0, quantized at load (4.5 bits a weight)", "q4_0" },
    { VTP_WEIGHTS_Q4_K, "llama.cpp's Q4_K, quantized at load (4.5 bits a weight)", "q4_k" },
    { VTP_WEIGHTS_Q5_K, "llama.cpp's Q5_K, quantized at load (5.5 bits a weight)", "q5_k" },
    { VTP_WEIGHTS_Q6_K, "llama.cpp's Q6_K, quantized at load (6.56 bits a weight)", "q6_k" },
    { VTP_WEIGHTS_BF16, "bfloat16 (the memory of f16; on CPUs with AVX512-BF16 the products of "
          "many rows take bfloat16 dot products, activations rounded to bfloat16)", "bf16" },
    { VTP_WEIGHTS_Q4_1, "llama.cpp's Q4_1, quantized at load (5 bits a weight)", "q4_1" },
    { VTP_WEIGHTS_Q5_0, "llama.cpp's Q5_0, quantized at load (5.5 bits a weight)", "q5_0" },
    { VTP_WEIGHTS_Q5_1, "llama.cpp's Q5_1, quantized at load (6 bits a weight)", "q5_1" },
    { VTP_WEIGHTS_Q3_K, "llama.cpp's Q3_K, quantized at load (3.44 bits a weight)", "q3_k" },
    { VTP_WEIGHTS_Q2_K, "llama.cpp's Q2_K, quantized at load (2.63 bits a weight)", "q2_k" },
    { VTP_WEIGHTS_IQ4_NL, "llama.cpp's IQ4_NL, quantized at load (4.5 bits a weight, a non-linear table)", "iq4_nl" },
    { VTP_WEIGHTS_IQ4_XS, "llama.cpp's IQ4_XS, quantized at load (4.25 bits a weight, a non-linear table)", "iq4_xs" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpWeightType", values));
  return type;
}

gboolean
gst_vtp_handle_context_query (GstElement *element, GstQuery *query, VtpDevice *dev)
{
  const char *type = NULL;
  GstContext *context;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || !dev)
    return FALSE;
  gst_query_parse_context_type (query, &type);
  if (g_strcmp0 (type, GST_VTP_DEVICE_CONTEXT_TYPE) != 0)
    return FALSE;
  context = gst_vtp_context_new (dev);
  gst_query_set_context (query, context);
  gst_context_unref (context);
  return TRUE;
}

/**
 * GstVtpElement:model:
 *
 * Every vtp element: the model directory (HF layout: config.json,
 * safetensors, and what the element needs besides), or its name under one
 * of the directories in $VTP_MODEL_PATH.
 *
 * GstVtpElement:device:
 *
 * Every vtp element: the OpenCL device: auto, cpu, gpu, cpu:N, gpu:N,
 * PLATFORM:DEVICE or part of its name. Unset: the device shared by the
 * pipeline, else $VTP_DEVICE, else the first GPU, else the CPU.
 *
 * GstVtpElement:weight-type:
 *
 * Every vtp element: how weights are stored on the device: as in the
 * checkpoint, f32, f16, bf16 (on CPUs with AVX512-BF16 the products of
 * many rows, prefill and the vision tower, then round their activations to
 * bfloat16 and take bfloat16 dot products; $VTP_BF16_DOT=float keeps them
 * in float), or quantized at load to one of llama.cpp's types
 * q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs (the matrices whose rows
 * are whole blocks: 32 elements, 256 for the K-quants and iq4_xs, whose rows of whole 32-blocks take
 * llama-quantize's fallback type, q4_k -> q5_0 etc.; the other weights as stored).
 */
void
gst_vtp_install_common_properties (GObjectClass *klass, const char *model_blurb)
{
  g_object_class_install_property (klass, GST_VTP_PROP_MODEL,
      g_param_spec_string ("model", "Model", model_blurb, NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, GST_VTP_PROP_DEVICE,
      g_param_spec_string ("device", "Device", "OpenCL device (auto, cpu, gpu, gpu:N, P:D or a name part); "
          "unset: shared with the pipeline, else $VTP_DEVICE, else auto", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (klass, GST_VTP_PROP_WEIGHT_TYPE,
      g_param_spec_enum ("weight-type", "Weight type", "Type of the weights on the device",
          GST_TYPE_VTP_WEIGHT_TYPE, VTP_WEIGHTS_KEEP,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  gst_type_mark_as_plugin_api (GST_TYPE_VTP_WEIGHT_TYPE, 0);
}

gboolean
gst_vtp_model_settings_set (GstVtpModelSettings *s, guint prop_id, const GValue *value)
{
  switch (prop_id) {
    case GST_VTP_PROP_MODEL: g_free (s->model); s->model = g_value_dup_string (value); return TRUE;
    case GST_VTP_PROP_DEVICE: g_free (s->device); s->device = g_value_dup_string (value); return TRUE;
    case GST_VTP_PROP_WEIGHT_TYPE: s->weight_type = g_value_get_enum (value); return TRUE;
    default: return FALSE;
  }
}

gboolean
gst_vtp_model_settings_get (const GstVtpModelSettings *s, guint prop_id, GValue *value)
{
  switch (prop_id) {
    case GST_VTP_PROP_MODEL: g_value_set_string (value, s->model); return TRUE;
    case GST_VTP_PROP_DEVICE: g_value_set_string (value, s->device); return TRUE;
    case GST_VTP_PROP_WEIGHT_TYPE: g_value_set_enum (value, s->weight_type); return TRUE;
    default: return FALSE;
  }
}

void
gst_vtp_model_settings_clear (GstVtpModelSettings *s)
{
  g_clear_pointer (&s->model, g_free);
  g_clear_pointer (&s->device, g_free);
}

gboolean
gst_vtp_open_model (GstElement *element, const GstVtpModelSettings *s, GstVtpModelSettings *copy,
    VtpDevice **dev, VtpCheckpoint **ckpt)
{
  g_autoptr (GError) error = NULL;

  GST_OBJECT_LOCK (element);
  copy->model = g_strdup (s->model);
  copy->device = g_strdup (s->device);
  copy->weight_type = s->weight_type;
  GST_OBJECT_UNLOCK (element);

  if (!copy->model) {
    GST_ELEMENT_ERROR (element, RESOURCE, NOT_FOUND, ("No model set: set the \"model\" property to a model "
            "directory"), (NULL));
    return FALSE;
  }
  if (!gst_vtp_ensure_device (element, copy->device, dev, &error)) {
    GST_VTP_ELEMENT_ERROR (element, RESOURCE, OPEN_READ, error, "opening the compute device");
    return FALSE;
  }
  if (!(*ckpt = vtp_checkpoint_open (copy->model, &error))) {
    GST_VTP_ELEMENT_ERROR (element, RESOURCE, OPEN_READ, error, "opening the model directory");
    return FALSE;
  }
  return TRUE;
}

GstFlowReturn
gst_vtp_prepare_tensor_output (GstElement *element, VtpDevice *dev, gint rows, gint cols, GstBuffer *inbuf,
    GstBuffer **outbuf)
{
  g_autoptr (GError) error = NULL;
  VtpTensor *t = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, cols, &error);
  const GstVtpFrameMeta *fm;
  const GstVtpPromptMeta *pm;
  const GstVtpRegionMeta *rm;

  if (!t) {
    GST_VTP_ELEMENT_ERROR (element, RESOURCE, NO_SPACE_LEFT, error, "allocating an output tensor");
    return GST_FLOW_ERROR;
  }
  *outbuf = gst_vtp_buffer_new_tensor (t);
  gst_buffer_copy_into (*outbuf, inbuf, GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_FLAGS, 0, -1);
  /* the frame's arrival and drop counts travel on to vtpllm */
  if ((fm = gst_buffer_get_vtp_frame_meta (inbuf)))
    gst_buffer_add_vtp_frame_meta (*outbuf, fm->arrival_us, fm->frames_received, fm->frames_dropped);
  /* and so does vtpqformer's prompt, through vtpadapter (unified framework) */
  if ((pm = gst_buffer_get_vtp_prompt_meta (inbuf)))
    gst_buffer_add_vtp_prompt_meta (*outbuf, pm->prompt);
  /* the region of the frame a tensor is of, for vtpllm's report */
  if ((rm = gst_buffer_get_vtp_region_meta (inbuf)))
    gst_buffer_add_vtp_region_meta (*outbuf, rm->index, rm->count, rm->region ? gst_structure_copy (rm->region)
        : NULL);
  return GST_FLOW_OK;
}

GstCaps *
gst_vtp_caps_filter (GstCaps *caps, GstCaps *filter)
{
  GstCaps *narrowed;

  if (!filter)
    return caps;
  narrowed = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
  gst_caps_unref (caps);
  return narrowed;
}

gboolean
gst_vtp_upstream_is_live (GstPad *sinkpad)
{
  GstQuery *q = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (sinkpad, q))
    gst_query_parse_latency (q, &live, NULL, NULL);
  gst_query_unref (q);
  return live;
}
