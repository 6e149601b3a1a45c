/**
 * SECTION:element-vtpqformer
 * @title: vtpqformer
 *
 * The query-based bridge of BLIP-2 and InstructBLIP: a Querying Transformer
 * whose learned queries read the image features from vtpencoder through
 * cross-attention and come out projected into the language model's width,
 * ready to go before the prompt in vtpllm.
 *
 * With an InstructBLIP checkpoint the queries also attend to the
 * instruction (#GstVtpQFormer:prompt), tokenized with the checkpoint's BERT
 * tokenizer (qformer_tokenizer/), so the visual features depend on the
 * question. #GstVtpQFormer:text-conditioning set to false runs the queries
 * alone, as BLIP-2 does, on the same weights.
 *
 * The prompt travels on each output buffer, so vtpllm uses the same one:
 * set it here only. A change while playing applies from the next frame. A
 * region of interest with its own prompt (vtpencoder roi=true, a
 * "vtp-prompt" parameter on the ROI meta) is conditioned on that one.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=street.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=instructblip-vicuna-7b ! \
 *   vtpqformer model=instructblip-vicuna-7b prompt="What is unusual about this image?" ! \
 *   vtpllm model=instructblip-vicuna-7b newline=true ! fdsink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpqformer.h"
#include "gstvtpcommon.h"
#include "gstvtpcontext.h"
#include "gstvtpmeta.h"
#include "gstvtptensor.h"
#include "vtp-model-cache.h"
#include "vtp-parts.h"
#include "vtp-qformer.h"
#include "vtp-wordpiece.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_qformer_debug);
#define GST_CAT_DEFAULT gst_vtp_qformer_debug

#define DEFAULT_PROMPT "What is in the picture?"

enum {
  PROP_PROMPT = GST_VTP_N_COMMON_PROPS,
  PROP_TEXT_CONDITIONING,
};

struct _GstVtpQFormer {
  GstBaseTransform parent;

  /* properties (object lock) */
  GstVtpModelSettings settings;
  char *prompt;
  gboolean text_conditioning;

  /* between start and stop */
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  VtpQFormer *qformer;
  VtpWordPiece *tok;            /* InstructBLIP only */
  VtpQFormerState *state;
  VtpTensor *scratch;
  gint image_rows;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_VISION_FEATURES
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string)" GST_VTP_KIND_QUERY_EMBEDDINGS
        ", tokens=(int)[1, MAX], width=(int)[1, MAX]"));

#define gst_vtp_qformer_parent_class parent_class
G_DEFINE_TYPE (GstVtpQFormer, gst_vtp_qformer, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vtpqformer, "vtpqformer", GST_RANK_NONE, GST_TYPE_VTP_QFORMER);

static void
release (GstVtpQFormer *self)
{
  g_clear_pointer (&self->scratch, vtp_tensor_free);
  g_clear_pointer (&self->state, vtp_qformer_state_free);
  g_clear_pointer (&self->tok, vtp_wordpiece_free);
  g_clear_pointer (&self->qformer, vtp_model_cache_release);
  g_clear_pointer (&self->ckpt, vtp_checkpoint_unref);
  g_clear_pointer (&self->dev, vtp_device_unref);
  self->image_rows = 0;
}

static gboolean
load_model (GstVtpQFormer *self, VtpWeightType wtype, GError **error)
{
  VtpModelParts parts;
  const char *prefix;
  gboolean ok = FALSE;

  if (!vtp_model_parts_read (self->ckpt, &parts, error))
    return FALSE;
  if (!parts.has_qformer)
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s (model_type %s) has no Q-Former: vtpqformer takes "
        "BLIP-2 and InstructBLIP checkpoints", self->ckpt->dir, parts.model_type);
  else if ((prefix = vtp_model_qformer_prefix (self->ckpt, error))
      && (self->qformer = vtp_qformer_acquire (self->ckpt, prefix, &parts.blip, self->dev, wtype, error))) {
    ok = TRUE;
    if (parts.blip.qformer.text_input) {
      g_autofree char *dir = vtp_checkpoint_file (self->ckpt, "qformer_tokenizer");
      ok = (self->tok = vtp_wordpiece_new_from_dir (dir, error)) != NULL;
    }
  }
  vtp_model_parts_clear (&parts);
  return ok;
}

static gboolean
gst_vtp_qformer_start (GstBaseTransform *trans)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  g_autoptr (GError) error = NULL;
  GstVtpModelSettings s = { 0 };
  gboolean ok;

  ok = gst_vtp_open_model (GST_ELEMENT (self), &self->settings, &s, &self->dev, &self->ckpt);
  if (ok && !(ok = load_model (self, s.weight_type, &error)))
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, error, "loading the Q-Former");
  gst_vtp_model_settings_clear (&s);
  if (!ok)
    release (self);
  return ok;
}

static gboolean
gst_vtp_qformer_stop (GstBaseTransform *trans)
{
  release (GST_VTP_QFORMER (trans));
  return TRUE;
}

/* Any feature width passes caps queries; set_caps names both widths. */
static GstCaps *
gst_vtp_qformer_transform_caps (GstBaseTransform *trans, GstPadDirection direction, GstCaps *caps,
    GstCaps *filter)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  GstCaps *out;

  if (direction == GST_PAD_SINK)
    out = self->qformer ? gst_vtp_tensor_caps_new (GST_VTP_KIND_QUERY_EMBEDDINGS, self->qformer->n_queries,
        self->qformer->out_width) : gst_static_pad_template_get_caps (&src_template);
  else
    out = gst_static_pad_template_get_caps (&sink_template);
  return gst_vtp_caps_filter (out, filter);
}

static gboolean
gst_vtp_qformer_set_caps (GstBaseTransform *trans, GstCaps *incaps, GstCaps *outcaps)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  g_autoptr (GError) error = NULL;
  gint tokens, width;

  if (!gst_vtp_tensor_caps_parse (incaps, GST_VTP_KIND_VISION_FEATURES, &tokens, &width))
    return FALSE;
  if (width != self->qformer->cfg.encoder_hidden_size) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The image encoder gives %d-wide features but the Q-Former of %s "
            "reads %d-wide ones (qformer_config.encoder_hidden_size): use this checkpoint's own encoder", width,
            self->ckpt->dir, self->qformer->cfg.encoder_hidden_size), ("caps %" GST_PTR_FORMAT, incaps));
    return FALSE;
  }
  if (tokens != self->image_rows) {
    /* the new state first: refused caps leave the element as it was, for
     * GstBaseTransform keeps the caps before them and will not set those again */
    VtpQFormerState *state = vtp_qformer_state_new (self->qformer, tokens,
        self->qformer->cfg.max_position_embeddings, &error);
    if (!state) {
      GST_VTP_ELEMENT_ERROR (self, RESOURCE, NO_SPACE_LEFT, error, "allocating the Q-Former state");
      return FALSE;
    }
    g_clear_pointer (&self->state, vtp_qformer_state_free);
    self->state = state;
    self->image_rows = tokens;
  }
  return TRUE;
}

static GstFlowReturn
gst_vtp_qformer_prepare_output_buffer (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer **outbuf)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  return gst_vtp_prepare_tensor_output (GST_ELEMENT (self), self->dev, self->qformer->n_queries,
      self->qformer->out_width, inbuf, outbuf);
}

static GstFlowReturn
gst_vtp_qformer_transform (GstBaseTransform *trans, GstBuffer *inbuf, GstBuffer *outbuf)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  g_autoptr (GError) error = NULL;
  g_autofree char *prompt = NULL;
  g_autoptr (GArray) ids = NULL;
  /* a prompt that came with the frame (a region's own, from vtpencoder roi=true) comes first */
  const GstVtpPromptMeta *given = gst_buffer_get_vtp_prompt_meta (inbuf);
  gboolean conditioning;
  VtpTensor *image;

  GST_OBJECT_LOCK (self);
  prompt = g_strdup (given ? given->prompt : self->prompt ? self->prompt : "");
  conditioning = self->text_conditioning;
  GST_OBJECT_UNLOCK (self);

  image = gst_vtp_buffer_get_tensor (inbuf, self->dev, self->image_rows, self->qformer->cfg.encoder_hidden_size,
      &self->scratch, &error);
  if (image && self->tok && conditioning) {
    ids = vtp_wordpiece_encode (self->tok, prompt, TRUE, 0, &error);
    if (ids && (gint) ids->len > self->qformer->cfg.max_position_embeddings) {
      g_set_error (&error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt is %u Q-Former tokens long, more than its %d "
          "positions (max_position_embeddings): shorten it", ids->len, self->qformer->cfg.max_position_embeddings);
      g_clear_pointer (&ids, g_array_unref);
    }
    if (!ids)
      image = NULL;
  }
  if (image && vtp_qformer_forward (self->qformer, self->state, image, ids ? (const gint32 *) ids->data : NULL,
          ids ? ids->len : 0, NULL, gst_vtp_buffer_peek_tensor (outbuf), &error)) {
    if (!given)                 /* else it was copied with the frame's other metas */
      gst_buffer_add_vtp_prompt_meta (outbuf, prompt);
    return GST_FLOW_OK;
  }
  GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, "running the Q-Former");
  return GST_FLOW_ERROR;
}

static gboolean
gst_vtp_qformer_query (GstBaseTransform *trans, GstPadDirection direction, GstQuery *query)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (trans);
  if (gst_vtp_handle_context_query (GST_ELEMENT (self), query, self->dev))
    return TRUE;
  return GST_BASE_TRANSFORM_CLASS (parent_class)->query (trans, direction, query);
}

static void
gst_vtp_qformer_set_context (GstElement *element, GstContext *context)
{
  gst_vtp_handle_set_context (element, context, &GST_VTP_QFORMER (element)->dev);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

static void
gst_vtp_qformer_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_set (&self->settings, prop_id, value)) {
    switch (prop_id) {
      case PROP_PROMPT: g_free (self->prompt); self->prompt = g_value_dup_string (value); break;
      case PROP_TEXT_CONDITIONING: self->text_conditioning = g_value_get_boolean (value); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
    }
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_qformer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (object);

  GST_OBJECT_LOCK (self);
  if (!gst_vtp_model_settings_get (&self->settings, prop_id, value)) {
    switch (prop_id) {
      case PROP_PROMPT: g_value_set_string (value, self->prompt); break;
      case PROP_TEXT_CONDITIONING: g_value_set_boolean (value, self->text_conditioning); break;
      default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
    }
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_qformer_finalize (GObject *object)
{
  GstVtpQFormer *self = GST_VTP_QFORMER (object);
  release (self);
  gst_vtp_model_settings_clear (&self->settings);
  g_free (self->prompt);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_qformer_class_init (GstVtpQFormerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vtp_qformer_set_property;
  gobject_class->get_property = gst_vtp_qformer_get_property;
  gobject_class->finalize = gst_vtp_qformer_finalize;

  /* model, device, weight-type: documented in gstvtpcommon.c */
  gst_vtp_install_common_properties (gobject_class, "BLIP-2 or InstructBLIP model directory (with "
      "qformer_tokenizer/ for InstructBLIP), or a name found in $VTP_MODEL_PATH");
  /**
   * GstVtpQFormer:prompt:
   *
   * The instruction: read by the Q-Former (InstructBLIP) and passed on with
   * each buffer to vtpllm. Applies from the next frame when changed.
   */
  g_object_class_install_property (gobject_class, PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt", "The instruction, for the Q-Former and (carried on the buffers) "
          "the language model", DEFAULT_PROMPT,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpQFormer:text-conditioning:
   *
   * Whether the queries attend to the instruction (InstructBLIP). False runs
   * the queries alone, as BLIP-2 does; BLIP-2 checkpoints never read text.
   */
  g_object_class_install_property (gobject_class, PROP_TEXT_CONDITIONING,
      g_param_spec_boolean ("text-conditioning", "Text conditioning", "Let the queries attend to the instruction "
          "(InstructBLIP); false: queries only, as BLIP-2", TRUE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class, "VTP Q-Former bridge", "Filter/Converter",
      "Extracts query embeddings from vision features with a Querying Transformer (BLIP-2, InstructBLIP)",
      "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->set_context = gst_vtp_qformer_set_context;

  trans_class->start = gst_vtp_qformer_start;
  trans_class->stop = gst_vtp_qformer_stop;
  trans_class->transform_caps = gst_vtp_qformer_transform_caps;
  trans_class->set_caps = gst_vtp_qformer_set_caps;
  trans_class->prepare_output_buffer = gst_vtp_qformer_prepare_output_buffer;
  trans_class->transform = gst_vtp_qformer_transform;
  trans_class->query = gst_vtp_qformer_query;
  trans_class->passthrough_on_same_caps = FALSE;

  GST_DEBUG_CATEGORY_INIT (gst_vtp_qformer_debug, "vtpqformer", 0, "VTP Q-Former bridge");
}

static void
gst_vtp_qformer_init (GstVtpQFormer *self)
{
  self->prompt = g_strdup (DEFAULT_PROMPT);
  self->text_conditioning = TRUE;
}
