/**
 * SECTION:element-vtpllm
 * @title: vtpllm
 *
 * The language model of a vision-language pipeline (LLaMA family or OPT, as
 * the checkpoint's config says; see docs/running-instructblip.md): takes the
 * embeddings a bridge element made and writes the answer as UTF-8 text, one
 * buffer per frame, stamped with the frame's timestamp and duration.
 * Image embeddings (vtpprojector, LLaVA) take the place of the template's
 * `<image>` marker; query embeddings (vtpqformer, BLIP-2 / InstructBLIP) go
 * before the prompt and its BOS token, unless the template has a marker.
 * Adapter prompts (vtpadapter, LLaMA-Adapter V2) are attended to inside
 * the adapted layers of the model loaded with #GstVtpLlm:adapter; the text
 * is then the instruction alone, in the Alpaca format. A text-only adapter
 * (LLaMA-Adapter V1, PEFT adaption prompt) in #GstVtpLlm:adapter changes
 * the model whatever the input.
 * A prompt carried on the buffer (set on vtpqformer) replaces
 * #GstVtpLlm:prompt.
 *
 * Text in, text out: with `text/x-raw, format=utf8` on its sink pad each
 * buffer is a prompt (white space around it dropped) and gets one answer,
 * with no picture, pushed at once with the prompt buffer's PTS and
 * duration (#GstVtpLlm:timestamps auto means frame time here, live or
 * not); #GstVtpLlm:prompt is not used. So a text-only adapter (LLaMA-Adapter
 * V1, PEFT adaption prompt) or any language model vtp loads answers text.
 * The template: #GstVtpLlm:template when set (without `<image>`), else the
 * Alpaca form for a LLaMA-Adapter V1, else the model's chat form without
 * its `<image>` when vtp knows the family, else the raw prompt. An empty
 * (or blank) buffer is answered with an empty buffer and an element
 * warning; a prompt that does not fit #GstVtpLlm:context-length is an
 * element error; so is text that is not UTF-8. A source that sets no caps
 * (filesrc, fdsrc) needs a `text/x-raw,format=utf8` caps filter after it. Generation is greedy unless #GstVtpLlm:temperature is
 * set; sampling is seeded and repeatable.
 *
 * Each described frame is also announced on the bus as an element message
 * named "vtp-text" with fields text and prompt (string), pts and duration (guint64,
 * of the frame), tokens (uint), prefill-ms, decode-tokens-per-second (forward
 * steps per second after the prefill, the one that produced the end of
 * sequence included) and
 * latency-ms (double: from the frame's arrival at vtpencoder, or a text
 * prompt's at vtpllm, to the text),
 * frames-received and frames-dropped (guint64: vtpencoder's counts when
 * the frame arrived; 0 for text prompts), with #GstVtpLlm:batch > 0
 * batch-streams (double: the streams decoded together, on average over
 * the answer's decode steps); for a region of interest (vtpencoder roi=true) also
 * roi-index, roi-id, roi-type, x, y, width, height. Each text buffer
 * carries the same fields as a "vtp-description" meta (a GstCustomMeta),
 * which vtpattach puts on the video frames. The regions of one frame give
 * one text buffer: their texts one a line, their descriptions in the
 * meta's "regions".
 *
 * The action signal #GstVtpLlm::embed-text gives the language model's
 * input embeddings of a text (a caption) without generating: for
 * comparing text with the bridge's image-side rows (vtp-run --format
 * embeddings, docs/embeddings.md).
 *
 * Many cameras, one model: with #GstVtpLlm:batch=N the vtpllm elements
 * that load the same model (one per camera branch, each with its own
 * prompt, newest-frame gate upstream, text timing and bus messages) share
 * one batching engine that decodes up to N of their answers together, one
 * matrix product per projection for all of them, each with its own KV
 * cache; a stream joins or leaves between two decode steps, and its text
 * is the one it gets with batch=0 (docs/batching.md).
 *
 * #GstVtpLlm:timestamps chooses when the text shows: from the described
 * frame's time until the next description (files, subtitles) or from the
 * moment it is ready (live overlays; the default in live pipelines).
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=cat.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=llava-1.5-7b-hf ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf prompt="What is in the picture?" ! fdsink
 * ]|
 * |[
 * gst-launch-1.0 filesrc location=room.jpg ! decodebin ! videoconvert ! \
 *   vtpencoder model=clip-vit-large-patch14 ! vtpadapter model=llama-adapter-v2-multimodal7b ! \
 *   vtpllm model=llama-7b adapter=llama-adapter-v2-multimodal7b prompt="Describe the room." ! fdsink
 * ]|
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=320,height=240 ! tee name=t \
 *   t. ! queue ! textoverlay name=o wait-text=false ! videoconvert ! autovideosink \
 *   t. ! queue leaky=downstream max-size-buffers=1 ! vtpencoder model=llava ! vtpprojector model=llava ! \
 *   vtpllm model=llava ! o.text_sink
 * ]|
 * |[
 * gst-launch-1.0 \
 *   videotestsrc is-live=true pattern=red ! video/x-raw,width=320,height=240 ! vtpencoder model=M ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 ! fakesink \
 *   videotestsrc is-live=true pattern=blue ! video/x-raw,width=320,height=240 ! vtpencoder model=M ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 ! fakesink \
 *   videotestsrc is-live=true pattern=smpte ! video/x-raw,width=320,height=240 ! vtpencoder model=M ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 prompt="Describe the picture." ! fakesink \
 *   videotestsrc is-live=true pattern=checkers-8 ! video/x-raw,width=320,height=240 ! vtpencoder model=M ! \
 *     vtpprojector model=M ! vtpllm model=M batch=4 ! fakesink
 * ]|
 * |[
 * echo "Tell me about llamas." > question.txt
 * gst-launch-1.0 filesrc location=question.txt ! text/x-raw,format=utf8 ! \
 *   vtpllm model=llama-7b adapter=peft-adaption-prompt newline=true ! fdsink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpllm.h"
#include "gstvtpcommon.h"
#include "gstvtpcontext.h"
#include "gstvtpdescription.h"
#include "gstvtpmeta.h"
#include "gstvtptensor.h"
#include "gstvtptextout.h"
#include "vtp-batch-engine.h"
#include "vtp-generate.h"
#include "vtp-lm.h"
#include "vtp-parts.h"
#include "vtp-model-cache.h"
#include "vtp-prompt.h"
#include "vtp-tokenizer.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_llm_debug);
#define GST_CAT_DEFAULT gst_vtp_llm_debug

#define DEFAULT_PROMPT "What is in the picture?"
#define DEFAULT_MAX_NEW_TOKENS 128
#define DEFAULT_CONTEXT 4096
#define PREFILL_CHUNK 512

enum {
  PROP_PROMPT = GST_VTP_N_COMMON_PROPS,
  PROP_TEMPLATE,
  PROP_MAX_NEW_TOKENS,
  PROP_TEMPERATURE,
  PROP_TOP_K,
  PROP_TOP_P,
  PROP_SEED,
  PROP_CONTEXT_LENGTH,
  PROP_KV_TYPE,
  PROP_NEWLINE,
  PROP_ADAPTER,
  PROP_TIMESTAMPS,
  PROP_TEXT_DURATION,
  PROP_REFRESH_INTERVAL,
  PROP_PARTIAL_TEXT,
  PROP_BATCH,
};

#define MAX_BATCH 64

#define DEFAULT_REFRESH_INTERVAL (40 * GST_MSECOND)

/* What the bridge upstream gives. */
typedef enum {
  INPUT_IMAGE_EMBEDDINGS,       /* spliced at the template's <image> (LLaVA) */
  INPUT_QUERY_EMBEDDINGS,       /* before the prompt (BLIP-2, InstructBLIP) */
  INPUT_ADAPTER_PROMPTS,        /* attended to inside the adapted layers (LLaMA-Adapter V2) */
  INPUT_TEXT,                   /* text/x-raw: each buffer is a prompt, no picture */
} InputKind;

#define ALL_KINDS ((1 << INPUT_IMAGE_EMBEDDINGS) | (1 << INPUT_QUERY_EMBEDDINGS) | (1 << INPUT_ADAPTER_PROMPTS) \
    | (1 << INPUT_TEXT))

struct _GstVtpLlm {
  GstElement parent;
  GstPad *sinkpad, *srcpad;

  /* properties (object lock) */
  GstVtpModelSettings settings;
  char *prompt;
  char *template;
  const char *chat_template;    /* from the model's chat template (static), for image embeddings */
  char *chat_text_template;     /* the same without its <image>, for text prompts */
  guint max_new_tokens;
  float temperature;
  gint top_k;
  float top_p;
  guint64 seed;
  guint context_length;
  VtpDType kv_type;             /* VTP_DTYPE_F32, VTP_DTYPE_F16 or VTP_DTYPE_Q8_0 */
  gboolean newline;
  char *adapter;
  GstVtpTimestamps timestamps;
  guint64 text_duration;
  guint64 refresh_interval;
  gboolean partial_text;
  guint batch;

  GstVtpTextOut *out;           /* text timing and all pushes on srcpad */
  GstVtpRegionGroup *regions;   /* a frame's region descriptions until its last (streaming thread) */

  /* between READY->PAUSED and PAUSED->READY */
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  VtpLm *lm;                    /* the language model, of the family the checkpoint names */
  VtpBatchEngine *engine;       /* batch > 0: the model's shared engine runs lm's state (NULL: alone) */
  VtpTokenizer *tok;
  gint image_token;
  VtpTensor *scratch;
  gint tokens;                  /* image rows per buffer, from caps */
  gboolean negotiated;          /* caps received */
  InputKind input;
  gboolean flushing;            /* atomic: stop generating */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VTP_TENSOR_MEDIA_TYPE ", kind=(string){ " GST_VTP_KIND_IMAGE_EMBEDDINGS ", "
        GST_VTP_KIND_QUERY_EMBEDDINGS ", " GST_VTP_KIND_ADAPTER_PROMPTS " }, tokens=(int)[1, MAX], width=(int)[1, MAX]; "
        "text/x-raw, format=(string)utf8"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8"));

#define gst_vtp_llm_parent_class parent_class
G_DEFINE_TYPE (GstVtpLlm, gst_vtp_llm, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (vtpllm, "vtpllm", GST_RANK_NONE, GST_TYPE_VTP_LLM);

static void
release (GstVtpLlm *self)
{
  g_clear_pointer (&self->scratch, vtp_tensor_free);
  g_clear_pointer (&self->chat_text_template, g_free);
  /* before the model: the engine belongs to it */
  g_clear_pointer (&self->engine, vtp_batch_engine_release);
  g_clear_pointer (&self->lm, vtp_lm_free);
  g_clear_pointer (&self->tok, vtp_tokenizer_free);
  g_clear_pointer (&self->ckpt, vtp_checkpoint_unref);
  g_clear_pointer (&self->dev, vtp_device_unref);
}

/* The LLaMA-Adapter the language model runs with, NULL when none (and for
 * the families adapters do not adapt). */
static const VtpLlamaAdapter *
llm_adapter (GstVtpLlm *self)
{
  const VtpLlama *m = vtp_lm_llama (self->lm);
  return m ? m->adapter : NULL;
}

#define GST_TYPE_VTP_KV_TYPE (gst_vtp_kv_type_get_type ())
static GType
gst_vtp_kv_type_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VTP_DTYPE_F32, "32-bit float (the reference's arithmetic)", "f32" },
    { VTP_DTYPE_F16, "16-bit float, rounded to nearest when stored (half the memory and the reads; "
          "llama.cpp's default)", "f16" },
    { VTP_DTYPE_Q8_0, "8-bit blocks of 32 with an F16 scale, as llama.cpp's -ctk / -ctv q8_0 (about a quarter "
          "of the F32 memory and reads)", "q8_0" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpKvType", values));
  return type;
}

static gboolean
load_model (GstVtpLlm *self, VtpWeightType wtype, VtpDType kv_type, guint context, const char *adapter_name,
    GError **error)
{
  g_autoptr (VtpCheckpoint) adapter = NULL;
  VtpModelParts parts;
  gint ctx;
  gboolean ok = FALSE;

  if (!vtp_model_parts_read (self->ckpt, &parts, error))
    return FALSE;
  if (!parts.has_text) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s (model_type %s) has no language model", self->ckpt->dir,
        parts.model_type);
    goto out;
  }
  if (adapter_name && !(adapter = vtp_checkpoint_open (adapter_name, error)))
    goto out;
  ctx = context ? (gint) context : MIN (vtp_model_text_positions (&parts), DEFAULT_CONTEXT);
  if (!(self->tok = vtp_model_tokenizer_new (self->ckpt, error))
      || !(self->lm = vtp_lm_open (self->ckpt, &parts, adapter, self->dev, wtype, kv_type, ctx, PREFILL_CHUNK,
              error)))
    goto out;
  GST_INFO_OBJECT (self, "KV cache: %d positions in %s", ctx, vtp_dtype_name (self->lm->kv_dtype));
  self->image_token = parts.image_token_index >= 0 ? parts.image_token_index
      : vtp_tokenizer_token_to_id (self->tok, VTP_IMAGE_MARKER);
  {
    g_autofree char *chat = vtp_model_chat_template (self->ckpt);
    const char *family = NULL;
    self->chat_template = vtp_prompt_template_for_chat (chat, &family);
    self->chat_text_template = self->chat_template ? vtp_prompt_template_without_image (self->chat_template) : NULL;
    if (chat)
      GST_INFO_OBJECT (self, "the model's chat template is %s%s", family ? family : "of no family vtp knows",
          family ? "'s: image embeddings take its form unless the template property is set" : ": LLaVA-1.5's form");
  }
  GST_INFO_OBJECT (self, "loaded the %s language model of %s (%d layers, context %d)%s%s", self->lm->ops->name,
      self->ckpt->dir, self->lm->n_layers, ctx, adapter ? " with the adapter " : "", adapter ? adapter->dir : "");
  ok = TRUE;
out:
  vtp_model_parts_clear (&parts);
  return ok;
}

/* The sentence for a vision encoder's features arriving without a bridge. */
#define MISSING_BRIDGE_MESSAGE "vtpllm cannot read a vision encoder's features: a bridge element belongs " \
  "between vtpencoder and vtpllm: vtpprojector (LLaVA: vtpencoder ! vtpprojector ! vtpllm), vtpqformer " \
  "(BLIP-2, InstructBLIP: vtpencoder ! vtpqformer ! vtpllm) or vtpadapter (LLaMA-Adapter V2: vtpencoder ! " \
  "vtpadapter ! vtpllm adapter=DIR)"

static gboolean
is_blank (const char *s)
{
  for (; s && *s; s++)
    if (!g_ascii_isspace (*s))
      return FALSE;
  return TRUE;
}

static guint
count_image_markers (const char *s)
{
  guint n = 0;

  for (const char *p = s; p && (p = strstr (p, VTP_IMAGE_MARKER)); p += strlen (VTP_IMAGE_MARKER))
    n++;
  return n;
}

/* #GstVtpLlm:prompt and #GstVtpLlm:template for the input @kinds (a set of
 * (1 << InputKind): more than one while upstream has not settled): an
 * empty prompt only where query embeddings carry the picture (BLIP-2
 * captions without one); a template (when set) with its {prompt}, and
 * with one <image> where image embeddings go. Errors name the property. */
static gboolean
check_text_settings (GstVtpLlm *self, guint kinds, GError **error)
{
  g_autofree char *prompt = NULL, *template = NULL;
  guint markers;

  GST_OBJECT_LOCK (self);
  prompt = g_strdup (self->prompt);
  template = g_strdup (self->template);
  GST_OBJECT_UNLOCK (self);
  if (is_blank (prompt) && !(kinds & ((1 << INPUT_QUERY_EMBEDDINGS) | (1 << INPUT_TEXT)))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's prompt is empty: set prompt= to a question or "
        "an instruction, e.g. prompt=\"What is in the picture?\" (only query embeddings, BLIP-2's, describe a "
        "picture without one)");
    return FALSE;
  }
  if (!template)
    return TRUE;
  markers = count_image_markers (template);
  if (!strstr (template, "{prompt}")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's template \"%s\" has no {prompt}: it marks where "
        "the prompt goes, e.g. template=\"USER: <image>\\n{prompt} ASSISTANT:\"", template);
    return FALSE;
  }
  if (markers > 1) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's template \"%s\" has %u <image> markers: one "
        "image per prompt, so one marker", template, markers);
    return FALSE;
  }
  if (markers > 0 && kinds == (1 << INPUT_TEXT)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's template \"%s\" has an <image> marker but the input "
        "is text, with no picture: leave the template unset or write one without <image>, e.g. "
        "template=\"USER: {prompt} ASSISTANT:\"", template);
    return FALSE;
  }
  if (markers == 0 && kinds == (1 << INPUT_IMAGE_EMBEDDINGS)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's template \"%s\" has no <image> marker: the image "
        "embeddings from the bridge go where <image> stands, e.g. template=\"USER: <image>\\n{prompt} "
        "ASSISTANT:\"", template);
    return FALSE;
  }
  return TRUE;
}

static gboolean
caps_offer (GstCaps *caps, const char *kind)
{
  g_autoptr (GstCaps) k = gst_caps_new_simple (GST_VTP_TENSOR_MEDIA_TYPE, "kind", G_TYPE_STRING, kind, NULL);
  return gst_caps_can_intersect (caps, k);
}

static gboolean
caps_offer_text (GstCaps *caps)
{
  g_autoptr (GstCaps) t = gst_caps_from_string ("text/x-raw, format=(string)utf8");
  return gst_caps_can_intersect (caps, t);
}

/* Before any model loads: what upstream can give, from its caps, as a set
 * of (1 << InputKind); all three when it does not say (no peer yet, ANY).
 * A vision encoder's features with no bridge between are refused with the
 * sentence that names the bridges (GStreamer's "could not link" would name
 * none: the sink pad's caps query lets them link for that, see
 * gst_vtp_llm_query). */
static gboolean
check_upstream (GstVtpLlm *self, guint *kinds)
{
  g_autoptr (GstCaps) caps = gst_pad_peer_query_caps (self->sinkpad, NULL);

  *kinds = ALL_KINDS;
  if (!caps || gst_caps_is_any (caps) || gst_caps_is_empty (caps))
    return TRUE;
  *kinds = (caps_offer (caps, GST_VTP_KIND_IMAGE_EMBEDDINGS) << INPUT_IMAGE_EMBEDDINGS)
      | (caps_offer (caps, GST_VTP_KIND_QUERY_EMBEDDINGS) << INPUT_QUERY_EMBEDDINGS)
      | (caps_offer (caps, GST_VTP_KIND_ADAPTER_PROMPTS) << INPUT_ADAPTER_PROMPTS)
      | (caps_offer_text (caps) << INPUT_TEXT);
  if (!*kinds && caps_offer (caps, GST_VTP_KIND_VISION_FEATURES)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (MISSING_BRIDGE_MESSAGE), ("upstream gives %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  if (!*kinds)
    *kinds = ALL_KINDS;
  return TRUE;
}

/* batch > 0: the shared engine of this element's model (docs/batching.md).
 * A model the engine cannot batch (a family without a batched step) decodes
 * alone, with a warning: batching changes no text, only how the model's
 * time is shared, so the pipeline runs as it would with batch=0. */
static gboolean
join_engine (GstVtpLlm *self)
{
  g_autoptr (GError) error = NULL;
  guint batch;

  GST_OBJECT_LOCK (self);
  batch = self->batch;
  GST_OBJECT_UNLOCK (self);
  if (!batch)
    return TRUE;
  if (!vtp_lm_can_batch (self->lm)) {
    GST_ELEMENT_WARNING (self, LIBRARY, SETTINGS, ("vtpllm decodes this stream alone: batch=%u, but the "
            "%s family has no batched decode step", batch, self->lm->ops->name), ("model %s", self->ckpt->dir));
    return TRUE;
  }
  if (!(self->engine = vtp_batch_engine_acquire (self->lm, (gint) batch, &error))) {
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, FAILED, error, "starting the batching engine");
    return FALSE;
  }
  if ((guint) vtp_batch_engine_max_streams (self->engine) > batch)
    GST_INFO_OBJECT (self, "another element asked the model's engine for batch=%d: it decodes up to that many "
        "streams together, not %u", vtp_batch_engine_max_streams (self->engine), batch);
  GST_INFO_OBJECT (self, "decoding in the model's shared engine, up to %d streams together",
      vtp_batch_engine_max_streams (self->engine));
  return TRUE;
}

static gboolean
start (GstVtpLlm *self)
{
  g_autoptr (GError) error = NULL;
  GstVtpModelSettings s = { 0 };
  g_autofree char *adapter = NULL;
  guint context, kinds;
  VtpDType kv_type;
  gboolean ok;

  if (!check_upstream (self, &kinds))
    return FALSE;
  if (!check_text_settings (self, kinds, &error)) {
    GST_VTP_ELEMENT_ERROR (self, LIBRARY, SETTINGS, error, "checking the prompt and the template");
    return FALSE;
  }
  GST_OBJECT_LOCK (self);
  context = self->context_length;
  kv_type = self->kv_type;
  adapter = g_strdup (self->adapter);
  GST_OBJECT_UNLOCK (self);
  ok = gst_vtp_open_model (GST_ELEMENT (self), &self->settings, &s, &self->dev, &self->ckpt);
  if (ok && !(ok = load_model (self, s.weight_type, kv_type, context, adapter, &error)))
    GST_VTP_ELEMENT_ERROR (self, RESOURCE, OPEN_READ, error, "loading the language model");
  if (ok)
    ok = join_engine (self);
  gst_vtp_model_settings_clear (&s);
  if (!ok)
    release (self);
  return ok;
}

/* One frame's generation, for the token callback. */
typedef struct {
  GstVtpLlm *self;
  gboolean partial;             /* push the text so far after each token */
  gboolean newline;
  GArray *so_far;
  GstClockTime pts;
} Generation;

/* The text as it is seen: with the newline when asked for. */
static char *
shown_text (const char *text, gboolean newline)
{
  return newline ? g_strconcat (text, "\n", NULL) : g_strdup (text);
}

static void
push_partial (Generation *gen)
{
  GstVtpLlm *self = gen->self;
  g_autofree char *text = vtp_prompt_decode_answer (self->tok, (const gint32 *) gen->so_far->data,
      gen->so_far->len, NULL);
  g_autofree char *shown = NULL;

  /* a token may end inside a UTF-8 sequence: wait for the rest */
  if (!text || !g_utf8_validate (text, -1, NULL))
    return;
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
          gst_structure_new ("vtp-text-partial", "text", G_TYPE_STRING, text, "pts", G_TYPE_UINT64, gen->pts,
              "tokens", G_TYPE_UINT, gen->so_far->len, NULL)));
  shown = shown_text (text, gen->newline);
  gst_vtp_text_out_push (self->out, shown, gen->pts, GST_CLOCK_TIME_NONE, FALSE);
}

static gboolean
keep_going (gint32 token, gpointer user_data)
{
  Generation *gen = user_data;

  if (g_atomic_int_get (&gen->self->flushing))
    return FALSE;
  if (gen->partial && !vtp_lm_is_eos (gen->self->lm, token)) {
    g_array_append_val (gen->so_far, token);
    push_partial (gen);
  }
  return TRUE;
}

/* The model input: the template's text with the bridge's rows spliced at
 * its marker, or (query embeddings, no marker) put before it; adapter
 * prompts go to the adapted layers, the input is the text alone. */
static GArray *
build_input (GstVtpLlm *self, VtpTensor *image, const char *template, const char *prompt,
    VtpLmSegment segs[3], gint *n_segs, GError **error)
{
  GArray *ids;
  gint pos = -1;

  if (self->input == INPUT_TEXT) {
    if (!(ids = vtp_prompt_encode (self->tok, template, prompt, -1, FALSE, &pos, error)))
      return NULL;
    segs[0] = (VtpLmSegment) { (const gint32 *) ids->data, NULL, 0, ids->len };
    *n_segs = 1;
    return ids;
  }
  if (self->input == INPUT_ADAPTER_PROMPTS) {
    /* check_adapter_caps let adapter prompts in only for a LLaMA with a V2 adapter */
    if (!vtp_llama_set_prompts (vtp_lm_llama (self->lm), vtp_lm_llama_state (self->lm), image, FALSE, error)
        || !(ids = vtp_prompt_encode (self->tok, template, prompt, -1, FALSE, &pos, error)))
      return NULL;
    segs[0] = (VtpLmSegment) { (const gint32 *) ids->data, NULL, 0, ids->len };
    *n_segs = 1;
    return ids;
  }
  if (!(ids = vtp_prompt_encode (self->tok, template, prompt, self->image_token,
              self->input == INPUT_IMAGE_EMBEDDINGS, &pos, error)))
    return NULL;
  if (pos < 0) {
    segs[0] = (VtpLmSegment) { NULL, image, 0, self->tokens };
    segs[1] = (VtpLmSegment) { (const gint32 *) ids->data, NULL, 0, ids->len };
    *n_segs = 2;
  } else {
    segs[0] = (VtpLmSegment) { (const gint32 *) ids->data, NULL, 0, pos };
    segs[1] = (VtpLmSegment) { NULL, image, 0, self->tokens };
    segs[2] = (VtpLmSegment) { (const gint32 *) ids->data + pos + 1, NULL, 0, (gint) ids->len - pos - 1 };
    *n_segs = 3;
  }
  return ids;
}

static const char *const default_templates[] = { VTP_LLAVA_TEMPLATE, VTP_PLAIN_TEMPLATE, VTP_ALPACA_TEMPLATE,
  VTP_PLAIN_TEMPLATE };

/* The template when the property is unset (object lock held). Text
 * prompts: the Alpaca form for a LLaMA-Adapter V1 (its training format),
 * else the model's chat form without its <image> when vtp knows the
 * family, else the raw prompt (as a PEFT adaption prompt or a base model
 * reads it). */
static const char *
default_template (GstVtpLlm *self)
{
  const VtpLlamaAdapter *a = llm_adapter (self);

  if (self->input == INPUT_TEXT) {
    if (a && a->cfg.form == VTP_ADAPTER_V1)
      return VTP_ALPACA_TEMPLATE;
    return self->chat_text_template ? self->chat_text_template : VTP_PLAIN_TEMPLATE;
  }
  if (self->input == INPUT_IMAGE_EMBEDDINGS && self->chat_template)
    return self->chat_template;
  return default_templates[self->input];
}

/* Forward steps after the prefill of an answer of @n tokens: the prefill
 * gave the first token, every later one took a step, and so did the end of
 * sequence when the answer stopped there. */
static guint
forward_steps (guint n, VtpStopReason why)
{
  return n - (n > 0) + (why == VTP_STOP_EOS);
}

/* describe's prefill and generation in the model's shared engine: this
 * thread waits (pushing partial text as tokens come) while the engine's
 * thread runs the model; a flush cancels the request. */
static char *
describe_batched (GstVtpLlm *self, const VtpLmSegment *segs, gint n_segs, const VtpGenerateParams *gp,
    Generation *gen, guint *n_tokens, double *prefill_ms, double *tps, double *batch_streams, GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
  VtpStopReason why = VTP_STOP_LENGTH;
  VtpBatchStats st;
  guint forwards;

  if (!vtp_batch_engine_generate (self->engine, self->lm, segs, n_segs, gp, keep_going, gen,
          &self->flushing, out, &why, &st, error))
    return NULL;
  *n_tokens = out->len;
  *prefill_ms = st.prefill_ms;
  forwards = forward_steps (out->len, why);
  *tps = forwards && st.decode_ms > 0 ? forwards * 1e3 / st.decode_ms : 0.0;
  *batch_streams = st.batch_streams;
  GST_LOG_OBJECT (self, "waited %.1f ms for a place, %u steps with %.2f streams on average", st.wait_ms, st.steps,
      st.batch_streams);
  return vtp_prompt_decode_answer (self->tok, (const gint32 *) out->data, out->len, error);
}

/* Prompt, prefill, generation and decoding for one frame's embeddings. */
static char *
describe (GstVtpLlm *self, VtpTensor *image, const char *buffer_prompt, GstClockTime pts, char **used_prompt,
    guint *n_tokens, double *prefill_ms, double *tps, double *batch_streams, GError **error)
{
  g_autoptr (GArray) so_far = g_array_new (FALSE, FALSE, sizeof (gint32));
  Generation gen = { self, FALSE, FALSE, so_far, pts };
  g_autofree char *prompt = NULL, *template = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
  VtpGenerateParams gp = { 0 };
  VtpLmSegment segs[3];
  gint n_segs = 0;
  gint64 t0, t1;
  VtpStopReason why = VTP_STOP_LENGTH;
  guint forwards;

  GST_OBJECT_LOCK (self);
  prompt = g_strdup (buffer_prompt ? buffer_prompt : self->prompt);
  *used_prompt = g_strdup (prompt);
  template = g_strdup (self->template ? self->template : default_template (self));
  gp.max_new_tokens = self->max_new_tokens;
  gp.sampling.temperature = self->temperature;
  gp.sampling.top_k = self->top_k;
  gp.sampling.top_p = self->top_p;
  gp.sampling.seed = self->seed;
  gen.partial = self->partial_text;
  gen.newline = self->newline;
  GST_OBJECT_UNLOCK (self);
  gp.stop_at_eos = TRUE;

  /* a prompt or template changed while playing; a prompt on the buffer is
   * vtpqformer's (or, text input, the buffer itself) */
  if ((!buffer_prompt || self->input == INPUT_TEXT) && !check_text_settings (self, 1 << self->input, error))
    return NULL;
  if (!(ids = build_input (self, image, template, prompt, segs, &n_segs, error)))
    return NULL;
  {
    gint total = 0;
    for (gint i = 0; i < n_segs; i++)
      total += segs[i].n;
    if (total >= self->lm->max_ctx) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt is %d tokens long in its template%s, but "
          "vtpllm's context holds %d positions, the answer included: shorten the prompt or raise "
          "context-length (the model allows %d)", total, self->input == INPUT_TEXT ? "" : " with the picture",
          self->lm->max_ctx, self->lm->max_positions);
      return NULL;
    }
  }
  if (self->engine)
    return describe_batched (self, segs, n_segs, &gp, &gen, n_tokens, prefill_ms, tps, batch_streams, error);
  *self->lm->n_past = 0;
  t0 = g_get_monotonic_time ();
  /* the queue runs asynchronously: wait for the prefill's kernels, or their
   * time is counted as the first decode step's */
  if (!vtp_lm_prefill (self->lm, segs, n_segs, FALSE, error))
    return NULL;
  if (!vtp_device_finish (self->lm->dev, error)) {
    g_prefix_error (error, "The prompt's prefill: ");
    return NULL;
  }
  t1 = g_get_monotonic_time ();
  if (!vtp_lm_generate (self->lm, &gp, keep_going, &gen, out, &why, error))
    return NULL;
  *n_tokens = out->len;
  *prefill_ms = (t1 - t0) / 1000.0;
  /* the prefill gave the first token; every later one, and the end of
   * sequence when the answer stopped there, took one forward step */
  forwards = forward_steps (out->len, why);
  *tps = forwards ? forwards * 1e6 / MAX (g_get_monotonic_time () - t1, 1) : 0.0;
  return vtp_prompt_decode_answer (self->tok, (const gint32 *) out->data, out->len, error);
}

/* Announces a finished description on the bus: "vtp-text", with the
 * description's fields. */
static void
post_text (GstVtpLlm *self, const GstStructure *description)
{
  GstStructure *s = gst_structure_copy (description);

  gst_structure_set_name (s, "vtp-text");
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* The prompt a text buffer holds, without the white space around it (a
 * file's last newline); NULL after an element error when it is not UTF-8. */
static char *
text_prompt (GstVtpLlm *self, GstBuffer *buf)
{
  GstMapInfo map;
  char *text;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (self, RESOURCE, READ, ("vtpllm could not read a text prompt's buffer"), (NULL));
    return NULL;
  }
  if (!g_utf8_validate_len ((const char *) map.data, map.size, NULL)
      || (map.size && memchr (map.data, 0, map.size))) {
    gst_buffer_unmap (buf, &map);
    GST_ELEMENT_ERROR (self, STREAM, DECODE, ("vtpllm's text prompt is not UTF-8 text (or holds a NUL byte): "
            "text/x-raw,format=utf8 buffers must hold UTF-8"), ("buffer at %" GST_TIME_FORMAT,
            GST_TIME_ARGS (GST_BUFFER_PTS (buf))));
    return NULL;
  }
  text = g_strstrip (map.size ? g_strndup ((const char *) map.data, map.size) : g_strdup (""));
  gst_buffer_unmap (buf, &map);
  return text;
}

static GstFlowReturn
gst_vtp_llm_chain (GstPad *pad, GstObject *parent, GstBuffer *buf)
{
  GstVtpLlm *self = GST_VTP_LLM (parent);
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL, *shown = NULL, *prompt = NULL;
  GstStructure *desc;
  VtpTensor *image;
  guint n_tokens = 0;
  double prefill_ms = 0, tps = 0, batch_streams = 0;
  gboolean newline;
  GstFlowReturn ret;

  if (!self->negotiated) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("vtpllm received data before its caps: a source that sets "
            "none (filesrc, fdsrc) needs text/x-raw,format=utf8 after it to give text prompts"), (NULL));
    return GST_FLOW_NOT_NEGOTIATED;
  }
  if (self->input == INPUT_TEXT) {
    g_autofree char *asked = NULL;
    /* a prompt's latency counts from its arrival here, as a frame's from
     * its arrival at vtpencoder */
    if (!gst_buffer_get_vtp_frame_meta (buf)) {
      buf = gst_buffer_make_writable (buf);
      gst_buffer_add_vtp_frame_meta (buf, g_get_monotonic_time (), 0, 0);
    }
    if (!(asked = text_prompt (self, buf))) {
      gst_buffer_unref (buf);
      return GST_FLOW_ERROR;
    }
    if (!*asked) {
      GST_ELEMENT_WARNING (self, STREAM, FORMAT, ("vtpllm got an empty text prompt: its answer is empty"),
          ("the buffer at %" GST_TIME_FORMAT " holds %" G_GSIZE_FORMAT " bytes of white space or none",
              GST_TIME_ARGS (GST_BUFFER_PTS (buf)), gst_buffer_get_size (buf)));
      text = g_strdup ("");
      prompt = g_strdup ("");
    } else
      text = describe (self, NULL, asked, GST_BUFFER_PTS (buf), &prompt, &n_tokens, &prefill_ms, &tps,
          &batch_streams, &error);
  } else if ((image = gst_vtp_buffer_get_tensor (buf, self->dev, self->tokens, self->lm->input_width,
              &self->scratch, &error))) {
    GstVtpPromptMeta *meta = gst_buffer_get_vtp_prompt_meta (buf);
    text = describe (self, image, meta ? meta->prompt : NULL, GST_BUFFER_PTS (buf), &prompt, &n_tokens,
        &prefill_ms, &tps, &batch_streams, &error);
  }
  if (!text) {
    gst_buffer_unref (buf);
    if (g_atomic_int_get (&self->flushing))
      return GST_FLOW_FLUSHING;
    GST_VTP_ELEMENT_ERROR (self, STREAM, FAILED, error, self->input == INPUT_TEXT ? "answering a text prompt"
        : "describing a frame");
    return GST_FLOW_ERROR;
  }
  if (g_atomic_int_get (&self->flushing)) {
    gst_buffer_unref (buf);
    return GST_FLOW_FLUSHING;
  }
  GST_OBJECT_LOCK (self);
  newline = self->newline;
  GST_OBJECT_UNLOCK (self);
  GST_DEBUG_OBJECT (self, "%u tokens, prefill %.1f ms, %.1f tokens/s: %s", n_tokens, prefill_ms, tps, text);

  desc = gst_vtp_description_new (buf, text, prompt, n_tokens, prefill_ms, tps);
  /* decoded in the shared engine: with how many streams, on average */
  if (batch_streams > 0)
    gst_structure_set (desc, "batch-streams", G_TYPE_DOUBLE, batch_streams, NULL);
  post_text (self, desc);
  /* a region's text goes out with the other regions of its frame; a text
   * prompt's answer at once, with the prompt's time */
  ret = GST_FLOW_OK;
  if ((desc = gst_vtp_region_group_add (self->regions, buf, desc))) {
    shown = shown_text (gst_structure_get_string (desc, "text"), newline);
    if (self->input == INPUT_TEXT)
      ret = gst_vtp_text_out_push_answer (self->out, shown, GST_BUFFER_PTS (buf), GST_BUFFER_DURATION (buf),
          desc);
    else
      ret = gst_vtp_text_out_push_description (self->out, shown, GST_BUFFER_PTS (buf),
          GST_BUFFER_DURATION (buf), desc);
    gst_structure_free (desc);
  }
  gst_buffer_unref (buf);
  return ret;
}

/* Adapter prompts need this element's adapter to be the one that made
 * them; a V2 adapter needs its prompts. */
static gboolean
check_adapter_caps (GstVtpLlm *self, GstCaps *caps, gint tokens)
{
  const VtpLlamaAdapter *a = llm_adapter (self);
  const char *from;

  if (self->input != INPUT_ADAPTER_PROMPTS) {
    if (a && a->cfg.form == VTP_ADAPTER_V2_MULTIMODAL) {
      GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The adapter %s is a LLaMA-Adapter V2 multimodal one: it "
              "needs the prompts of vtpadapter, not %s", a->dir, self->input == INPUT_TEXT ? "text alone (text "
              "prompts take a text-only adapter: LLaMA-Adapter V1 or a PEFT adaption prompt)"
              : "another bridge's embeddings"),
          ("caps %" GST_PTR_FORMAT, caps));
      return FALSE;
    }
    return TRUE;
  }
  from = gst_structure_get_string (gst_caps_get_structure (caps, 0), "adapter");
  if (!a || a->cfg.form != VTP_ADAPTER_V2_MULTIMODAL) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("vtpadapter's prompts need the same LLaMA-Adapter V2 "
            "directory in vtpllm's adapter property (%s)%s%s%s", from ? from : "unnamed",
            a ? "; it holds the text-only adapter " : "", a ? a->dir : "", a ? " instead" : ""),
        ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  if (from && g_strcmp0 (from, a->dir)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("vtpadapter runs the adapter %s but vtpllm's adapter is %s: "
            "both must be the same", from, a->dir), ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  if (tokens != a->cfg.query_layer * a->cfg.query_len) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The adapter prompts have %d rows; the adapter %s takes %d "
            "(%d layers x %d positions)", tokens, a->dir, a->cfg.query_layer * a->cfg.query_len,
            a->cfg.query_layer, a->cfg.query_len), ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  return TRUE;
}

static gboolean
set_caps (GstVtpLlm *self, GstCaps *caps)
{
  g_autoptr (GError) error = NULL;
  gint tokens, width;
  GstCaps *out;
  gboolean ok;

  if (gst_vtp_tensor_caps_parse (caps, GST_VTP_KIND_IMAGE_EMBEDDINGS, &tokens, &width))
    self->input = INPUT_IMAGE_EMBEDDINGS;
  else if (gst_vtp_tensor_caps_parse (caps, GST_VTP_KIND_QUERY_EMBEDDINGS, &tokens, &width))
    self->input = INPUT_QUERY_EMBEDDINGS;
  else if (gst_vtp_tensor_caps_parse (caps, GST_VTP_KIND_ADAPTER_PROMPTS, &tokens, &width))
    self->input = INPUT_ADAPTER_PROMPTS;
  else if (gst_structure_has_name (gst_caps_get_structure (caps, 0), "text/x-raw") && caps_offer_text (caps)) {
    self->input = INPUT_TEXT;
    tokens = 0;
    width = self->lm->input_width;
  } else if (caps_offer (caps, GST_VTP_KIND_VISION_FEATURES)) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (MISSING_BRIDGE_MESSAGE), ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  } else {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("vtpllm takes image or query embeddings or adapter prompts from "
            "a bridge element (vtpprojector, vtpqformer, vtpadapter), or text prompts (text/x-raw,format=utf8), "
            "not %" GST_PTR_FORMAT, caps), (NULL));
    return FALSE;
  }
  if (!check_adapter_caps (self, caps, tokens))
    return FALSE;
  if (!check_text_settings (self, 1 << self->input, &error)) {
    GST_VTP_ELEMENT_ERROR (self, LIBRARY, SETTINGS, error, "checking the prompt and the template");
    return FALSE;
  }
  if (width != self->lm->input_width) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, ("The bridge gives %d-wide embeddings but the language model "
            "of %s has a hidden size of %d: use a bridge built for this language model", width, self->ckpt->dir,
            self->lm->input_width), ("caps %" GST_PTR_FORMAT, caps));
    return FALSE;
  }
  self->tokens = tokens;
  self->negotiated = TRUE;
  out = gst_static_pad_template_get_caps (&src_template);
  ok = gst_pad_set_caps (self->srcpad, out);
  gst_caps_unref (out);
  return ok;
}

static gboolean
gst_vtp_llm_sink_event (GstPad *pad, GstObject *parent, GstEvent *event)
{
  GstVtpLlm *self = GST_VTP_LLM (parent);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_CAPS: {
      GstCaps *caps;
      gboolean ok;
      gst_event_parse_caps (event, &caps);
      ok = set_caps (self, caps);
      gst_event_unref (event);
      return ok;
    }
    case GST_EVENT_SEGMENT: {
      const GstSegment *segment;
      /* text prompts: auto is frame time, live or not (an answer per prompt) */
      if (gst_vtp_text_out_needs_live (self->out))
        gst_vtp_text_out_set_live (self->out, self->input != INPUT_TEXT
            && gst_vtp_upstream_is_live (self->sinkpad));
      else
        gst_vtp_text_out_set_live (self->out, FALSE);
      gst_event_parse_segment (event, &segment);
      gst_vtp_text_out_segment (self->out, segment);
      break;
    }
    case GST_EVENT_GAP: {
      /* frames not described (dropped upstream): the text on show covers
       * them; the gaps of the text itself are made by the text timing */
      GstClockTime ts, dur;
      gst_event_parse_gap (event, &ts, &dur);
      if (GST_CLOCK_TIME_IS_VALID (ts) && GST_CLOCK_TIME_IS_VALID (dur))
        gst_vtp_text_out_covered (self->out, ts + dur);
      gst_event_unref (event);
      return TRUE;
    }
    case GST_EVENT_EOS:
      /* the last description lasts until the end of the stream */
      gst_vtp_text_out_drain (self->out);
      break;
    case GST_EVENT_FLUSH_START:
      g_atomic_int_set (&self->flushing, TRUE);
      gst_vtp_text_out_flush (self->out, TRUE);
      break;
    case GST_EVENT_FLUSH_STOP:
      g_atomic_int_set (&self->flushing, FALSE);
      gst_vtp_text_out_flush (self->out, FALSE);
      gst_vtp_region_group_reset (self->regions);
      break;
    default:
      break;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_vtp_llm_query (GstPad *pad, GstObject *parent, GstQuery *query)
{
  GstVtpLlm *self = GST_VTP_LLM (parent);
  if (gst_vtp_handle_context_query (GST_ELEMENT (self), query, self->dev))
    return TRUE;
  /* the pad template's caps, and a vision encoder's features: they are
   * refused, but once linked, so that "vtpencoder ! vtpllm" gets the
   * sentence naming the bridges (start, set_caps) rather than GStreamer's
   * bare "could not link" */
  if (GST_QUERY_TYPE (query) == GST_QUERY_CAPS && pad == self->sinkpad) {
    GstCaps *filter, *caps = gst_caps_make_writable (gst_pad_get_pad_template_caps (pad));
    gst_caps_append_structure (caps, gst_structure_new (GST_VTP_TENSOR_MEDIA_TYPE, "kind", G_TYPE_STRING,
            GST_VTP_KIND_VISION_FEATURES, NULL));
    gst_query_parse_caps (query, &filter);
    if (filter) {
      GstCaps *both = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
      gst_caps_unref (caps);
      caps = both;
    }
    gst_query_set_caps_result (query, caps);
    gst_caps_unref (caps);
    return TRUE;
  }
  return gst_pad_query_default (pad, parent, query);
}

static GstStateChangeReturn
gst_vtp_llm_change_state (GstElement *element, GstStateChange transition)
{
  GstVtpLlm *self = GST_VTP_LLM (element);
  GstStateChangeReturn ret;

  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
      g_atomic_int_set (&self->flushing, FALSE);
      self->tokens = 0;
      gst_vtp_region_group_reset (self->regions);
      self->negotiated = FALSE;
      if (!start (self))
        return GST_STATE_CHANGE_FAILURE;
      gst_vtp_text_out_start (self->out);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_PLAYING:
      gst_vtp_text_out_play (self->out, TRUE);
      break;
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      gst_vtp_text_out_play (self->out, FALSE);
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      g_atomic_int_set (&self->flushing, TRUE);
      gst_vtp_text_out_flush (self->out, TRUE);
      break;
    default:
      break;
  }
  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    gst_vtp_text_out_stop (self->out);
    release (self);
  }
  return ret;
}

static void
gst_vtp_llm_set_context (GstElement *element, GstContext *context)
{
  gst_vtp_handle_set_context (element, context, &GST_VTP_LLM (element)->dev);
  GST_ELEMENT_CLASS (parent_class)->set_context (element, context);
}

/* Hands the timing settings to the text output (object lock held). */
static void
configure_text_out (GstVtpLlm *self)
{
  gst_vtp_text_out_configure (self->out, self->timestamps,
      self->text_duration ? self->text_duration : GST_CLOCK_TIME_NONE, self->refresh_interval);
}

static void
gst_vtp_llm_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpLlm *self = GST_VTP_LLM (object);

  GST_OBJECT_LOCK (self);
  if (gst_vtp_model_settings_set (&self->settings, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_PROMPT: g_free (self->prompt); self->prompt = g_value_dup_string (value); break;
    case PROP_TEMPLATE: g_free (self->template); self->template = g_value_dup_string (value); break;
    case PROP_MAX_NEW_TOKENS: self->max_new_tokens = g_value_get_uint (value); break;
    case PROP_TEMPERATURE: self->temperature = g_value_get_float (value); break;
    case PROP_TOP_K: self->top_k = g_value_get_int (value); break;
    case PROP_TOP_P: self->top_p = g_value_get_float (value); break;
    case PROP_SEED: self->seed = g_value_get_uint64 (value); break;
    case PROP_CONTEXT_LENGTH: self->context_length = g_value_get_uint (value); break;
    case PROP_KV_TYPE: self->kv_type = g_value_get_enum (value); break;
    case PROP_NEWLINE: self->newline = g_value_get_boolean (value); break;
    case PROP_ADAPTER: g_free (self->adapter); self->adapter = g_value_dup_string (value); break;
    case PROP_TIMESTAMPS: self->timestamps = g_value_get_enum (value); configure_text_out (self); break;
    case PROP_TEXT_DURATION: self->text_duration = g_value_get_uint64 (value); configure_text_out (self); break;
    case PROP_REFRESH_INTERVAL:
      self->refresh_interval = g_value_get_uint64 (value);
      configure_text_out (self);
      break;
    case PROP_PARTIAL_TEXT: self->partial_text = g_value_get_boolean (value); break;
    case PROP_BATCH: self->batch = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_llm_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpLlm *self = GST_VTP_LLM (object);

  GST_OBJECT_LOCK (self);
  if (gst_vtp_model_settings_get (&self->settings, prop_id, value)) {
    GST_OBJECT_UNLOCK (self);
    return;
  }
  switch (prop_id) {
    case PROP_PROMPT: g_value_set_string (value, self->prompt); break;
    case PROP_TEMPLATE: g_value_set_string (value, self->template); break;
    case PROP_MAX_NEW_TOKENS: g_value_set_uint (value, self->max_new_tokens); break;
    case PROP_TEMPERATURE: g_value_set_float (value, self->temperature); break;
    case PROP_TOP_K: g_value_set_int (value, self->top_k); break;
    case PROP_TOP_P: g_value_set_float (value, self->top_p); break;
    case PROP_SEED: g_value_set_uint64 (value, self->seed); break;
    case PROP_CONTEXT_LENGTH: g_value_set_uint (value, self->context_length); break;
    case PROP_KV_TYPE: g_value_set_enum (value, self->kv_type); break;
    case PROP_NEWLINE: g_value_set_boolean (value, self->newline); break;
    case PROP_ADAPTER: g_value_set_string (value, self->adapter); break;
    case PROP_TIMESTAMPS: g_value_set_enum (value, self->timestamps); break;
    case PROP_TEXT_DURATION: g_value_set_uint64 (value, self->text_duration); break;
    case PROP_REFRESH_INTERVAL: g_value_set_uint64 (value, self->refresh_interval); break;
    case PROP_PARTIAL_TEXT: g_value_set_boolean (value, self->partial_text); break;
    case PROP_BATCH: g_value_set_uint (value, self->batch); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec); break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_llm_finalize (GObject *object)
{
  GstVtpLlm *self = GST_VTP_LLM (object);
  release (self);
  gst_vtp_text_out_free (self->out);
  gst_vtp_region_group_free (self->regions);
  gst_vtp_model_settings_clear (&self->settings);
  g_free (self->prompt);
  g_free (self->template);
  g_free (self->adapter);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

#define PARAM_FLAGS (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)

/* The "embed-text" action signal: @text's token ids (the tokenizer's
 * alone: no BOS, no template) and their input embeddings, the rows the
 * language model reads for them. Needs the model loaded (PAUSED or
 * PLAYING); the state lock keeps it loaded meanwhile. */
static GstStructure *
embed_text (GstVtpLlm *self, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = NULL;
  GstStructure *s = NULL;
  float *rows = NULL;
  gint width;

  GST_STATE_LOCK (self);
  if (!self->lm || !self->tok)
    g_set_error (&error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm embeds text only with its model loaded (PAUSED or "
        "PLAYING)");
  else if (!text || !g_utf8_validate (text, -1, NULL))
    g_set_error (&error, VTP_ERROR, VTP_ERROR_INPUT, "vtpllm's embed-text takes UTF-8 text");
  else if ((ids = vtp_tokenizer_encode (self->tok, text, FALSE, &error)) && ids->len == 0)
    g_set_error (&error, VTP_ERROR, VTP_ERROR_INPUT, "\"%s\" gives no tokens", text);
  else if (ids) {
    width = self->lm->input_width;
    rows = g_new (float, (gsize) ids->len * width);
    if (vtp_lm_embed_ids (self->lm, (const gint32 *) ids->data, ids->len, rows, &error)) {
      g_autoptr (GBytes) data = g_bytes_new_take (rows, (gsize) ids->len * width * sizeof (float));
      g_autoptr (GBytes) id_bytes = g_bytes_new (ids->data, (gsize) ids->len * sizeof (gint32));
      rows = NULL;
      s = gst_structure_new ("vtp-text-embeddings", "tokens", G_TYPE_INT, (gint) ids->len, "width", G_TYPE_INT,
          width, "ids", G_TYPE_BYTES, id_bytes, "data", G_TYPE_BYTES, data, NULL);
    }
  }
  GST_STATE_UNLOCK (self);
  g_free (rows);
  if (!s)
    s = gst_structure_new ("vtp-error", "message", G_TYPE_STRING, error->message, NULL);
  return s;
}

static void
gst_vtp_llm_class_init (GstVtpLlmClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  gobject_class->set_property = gst_vtp_llm_set_property;
  gobject_class->get_property = gst_vtp_llm_get_property;
  gobject_class->finalize = gst_vtp_llm_finalize;

  /* model, device, weight-type: documented in gstvtpcommon.c */
  gst_vtp_install_common_properties (gobject_class, "Model directory (config.json + safetensors + tokenizer.json), "
      "a llama.cpp .gguf text model (or a directory holding one), or a name found in $VTP_MODEL_PATH");
  /**
   * GstVtpLlm:prompt:
   *
   * The question or instruction about each frame (not used with text
   * prompts: each text buffer is the prompt). Read for every frame, so
   * a change while playing applies from the next frame. An empty (or
   * blank) prompt is an element error, except with query embeddings
   * (BLIP-2 describes a picture without one).
   */
  g_object_class_install_property (gobject_class, PROP_PROMPT,
      g_param_spec_string ("prompt", "Prompt", "The question about each frame (applies from the next frame; "
          "not empty)",
          DEFAULT_PROMPT, PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:template:
   *
   * The conversation format around the prompt: "{prompt}" is replaced by
   * the prompt and "<image>" marks where the embeddings go. Unset: for image
   * embeddings the form of the model's chat template when vtp knows its
   * family (a GGUF's tokenizer.chat_template or tokenizer_config.json's:
   * ChatML, Llama 3, Gemma, Llama 2 / Mistral, Vicuna), else LLaVA-1.5's
   * "USER: <image>\n{prompt} ASSISTANT:"; the raw prompt after the queries
   * for query embeddings (as InstructBLIP and BLIP-2), the Alpaca
   * instruction format for adapter prompts (as LLaMA-Adapter). For text
   * prompts (text/x-raw input): the Alpaca format with a LLaMA-Adapter V1,
   * else the chat form without "<image>" (known families), else the raw
   * prompt; a template with "<image>" is then an element error.
   * A template without "{prompt}", or without one "<image>" for image
   * embeddings, is an element error quoting it.
   */
  g_object_class_install_property (gobject_class, PROP_TEMPLATE,
      g_param_spec_string ("template", "Template", "Text around the prompt: {prompt} is replaced, <image> marks "
          "the embeddings; unset: the model's chat template's form (known families) or LLaVA-1.5's for image "
          "embeddings, the raw prompt after query embeddings, Alpaca's for adapter prompts; text prompts: "
          "Alpaca's (V1 adapter), the chat form without <image>, or the raw prompt", NULL,
          PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:adapter:
   *
   * A LLaMA-Adapter directory for this language model (converted by
   * tools/convert_llama_adapter.py: V2 multimodal, with vtpadapter
   * upstream, or V1), or a PEFT adaption-prompt directory
   * (adapter_config.json), or a name found in $VTP_MODEL_PATH. Its
   * biases, norms, LoRA, gates and prompts are loaded with the model.
   * Read when the element starts.
   */
  g_object_class_install_property (gobject_class, PROP_ADAPTER,
      g_param_spec_string ("adapter", "Adapter", "LLaMA-Adapter (V2 multimodal, V1) or PEFT adaption-prompt "
          "directory applied to the language model", NULL, PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:max-new-tokens:
   *
   * The most tokens written per frame (generation also stops at EOS).
   */
  g_object_class_install_property (gobject_class, PROP_MAX_NEW_TOKENS,
      g_param_spec_uint ("max-new-tokens", "Max new tokens", "Most tokens written per frame", 1, 65536,
          DEFAULT_MAX_NEW_TOKENS, PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:temperature:
   *
   * 0 for greedy decoding; above 0 samples with this temperature.
   */
  g_object_class_install_property (gobject_class, PROP_TEMPERATURE,
      g_param_spec_float ("temperature", "Temperature", "0: greedy; > 0: sample with this temperature", 0.0f,
          100.0f, 0.0f, PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:top-k:
   *
   * When sampling, only the k most likely tokens (0: no limit).
   */
  g_object_class_install_property (gobject_class, PROP_TOP_K,
      g_param_spec_int ("top-k", "Top k", "Sample among the k most likely tokens (0: all)", 0, G_MAXINT, 0,
          PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:top-p:
   *
   * When sampling, only the most likely tokens whose probabilities sum to p.
   */
  g_object_class_install_property (gobject_class, PROP_TOP_P,
      g_param_spec_float ("top-p", "Top p", "Sample among the most likely tokens holding this much probability",
          0.0f, 1.0f, 1.0f, PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:seed:
   *
   * Seed of the sampler: the same seed, prompt and frame give the same text.
   */
  g_object_class_install_property (gobject_class, PROP_SEED,
      g_param_spec_uint64 ("seed", "Seed", "Sampling seed (each frame restarts from it)", 0, G_MAXUINT64, 0,
          PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:context-length:
   *
   * Positions kept in the KV cache (prompt, image and answer); 0: the
   * model's max_position_embeddings, at most 4096.
   */
  g_object_class_install_property (gobject_class, PROP_CONTEXT_LENGTH,
      g_param_spec_uint ("context-length", "Context length", "KV cache positions (0: the model's, at most 4096)",
          0, 1 << 20, 0, PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:kv-type:
   *
   * How the KV cache keeps keys and values. f32: as computed (the
   * reference implementations' arithmetic). f16: rounded to the nearest
   * 16-bit float when stored, read back exactly, as llama.cpp's default
   * cache: half the cache's memory (a 7B LLaMA: 0.5 instead of 1 MB a
   * position) and half its reads a decoded token; logits move by about
   * the rounding (docs/quantization.md). q8_0: llama.cpp's Q8_0 blocks
   * (32 int8 and an F16 scale, 34 bytes for 32 values), as its `-ctk q8_0
   * -ctv q8_0`: 0.27 of the F32 cache's memory and reads; needs rows of
   * whole blocks of 32 and a head size that is a multiple of 8 (the
   * published LLaMA, Mistral, Qwen2, OPT and Flan-T5 checkpoints have
   * them; without them the start fails with the shape named).
   */
  g_object_class_install_property (gobject_class, PROP_KV_TYPE,
      g_param_spec_enum ("kv-type", "KV cache type", "Type of the keys and values in the KV cache",
          GST_TYPE_VTP_KV_TYPE, VTP_DTYPE_F32, PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:newline:
   *
   * End each text buffer with a newline (handy with fdsink).
   */
  g_object_class_install_property (gobject_class, PROP_NEWLINE,
      g_param_spec_boolean ("newline", "Newline", "End each text buffer with a newline", FALSE,
          PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:timestamps:
   *
   * When the text is shown. frame: from the described frame's PTS until
   * the next description starts (files, subtitles; the text is pushed once
   * the next description is written, or at EOS). output: from the stream
   * time at which it is ready (live overlays; the text is repeated every
   * #GstVtpLlm:refresh-interval so that it stays until the next one, with
   * GAP events before the first). auto: output when the pipeline is live.
   */
  g_object_class_install_property (gobject_class, PROP_TIMESTAMPS,
      g_param_spec_enum ("timestamps", "Timestamps", "Text shown from the described frame's time (frame) or from "
          "when it is ready (output); auto: output in live pipelines", GST_TYPE_VTP_TIMESTAMPS,
          GST_VTP_TIMESTAMPS_AUTO, PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:text-duration:
   *
   * Frame time: a fixed duration for each text, in nanoseconds (it is then
   * pushed at once, and GAP events fill the time between texts); 0: until
   * the next description.
   */
  g_object_class_install_property (gobject_class, PROP_TEXT_DURATION,
      g_param_spec_uint64 ("text-duration", "Text duration", "Frame time: each text lasts this many nanoseconds "
          "(0: until the next description)", 0, G_MAXUINT64, 0, PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:refresh-interval:
   *
   * Output time: how often the text on show is pushed again (nanoseconds);
   * a new text replaces it at most two intervals after it is ready.
   */
  g_object_class_install_property (gobject_class, PROP_REFRESH_INTERVAL,
      g_param_spec_uint64 ("refresh-interval", "Refresh interval", "Output time: the text on show is pushed again "
          "this often (nanoseconds)", GST_MSECOND, 10 * GST_SECOND, DEFAULT_REFRESH_INTERVAL,
          PARAM_FLAGS | GST_PARAM_MUTABLE_READY));
  /**
   * GstVtpLlm:partial-text:
   *
   * Also push the text as it grows, after each token: buffers flagged
   * DELTA_UNIT holding the text so far, and "vtp-text-partial" bus
   * messages (text, pts, tokens). For overlays in output time and for apps;
   * subtitle writers skip them.
   */
  g_object_class_install_property (gobject_class, PROP_PARTIAL_TEXT,
      g_param_spec_boolean ("partial-text", "Partial text", "Also push the text so far after each token "
          "(buffers flagged DELTA_UNIT)", FALSE, PARAM_FLAGS | GST_PARAM_MUTABLE_PLAYING));
  /**
   * GstVtpLlm:batch:
   *
   * 0: this element decodes alone, in its streaming thread. N > 0: it
   * joins the batching engine of its model, shared by every vtpllm of the
   * process that loads the same model (checkpoint, device, weight type)
   * with batch > 0: one thread that decodes up to N streams' tokens
   * together, one matrix product per projection for all of them, each
   * stream with its own KV cache (docs/batching.md). The engine takes the
   * largest N its elements ask for (it grows between steps). Each element
   * keeps its prompt, timestamps and bus messages; its text is the one it
   * writes alone (greedy or sampled alike). Streams are admitted first
   * come, first served; a newcomer's prefill runs in pieces of 64 rows
   * between decode steps of the others, one newcomer at a time; a stream
   * that stops, fails or flushes leaves the others decoding. Its
   * "vtp-text" messages then carry batch-streams (double: the streams
   * decoded together, on average over the answer's steps). LLaMA- and
   * Every family is batched: LLaMA (LLaVA, the world models), OPT and
   * Flan-T5 (BLIP-2, InstructBLIP; T5's input is encoded at once, not in
   * pieces), adapted LLaMAs (#GstVtpLlm:adapter) too, each stream with its
   * own adaption prompts. Read when the element starts.
   */
  g_object_class_install_property (gobject_class, PROP_BATCH,
      g_param_spec_uint ("batch", "Batch", "0: decode alone; N: decode in the model's shared engine, up to N "
          "streams (vtpllm elements on the same model) together, each with its own KV cache (the engine takes "
          "the largest batch its elements ask for)", 0, MAX_BATCH, 0,
          PARAM_FLAGS | GST_PARAM_MUTABLE_READY));

  /**
   * GstVtpLlm::embed-text:
   * @llm: the element
   * @text: a text (a caption), UTF-8
   *
   * The language model's input embeddings of @text, as it reads them for
   * a prompt (its token embedding table's rows; transformers'
   * get_input_embeddings() of the ids): the tokenizer's ids of @text alone
   * (no BOS, no template; add_special_tokens=False). Only while the model
   * is loaded (PAUSED or PLAYING).
   *
   * Returns: (transfer full): a "vtp-text-embeddings" structure: tokens
   *   and width (int), ids (GBytes: int32 each), data (GBytes: float32
   *   [tokens, width], row-major, host order); or a "vtp-error" one with a
   *   message (no model loaded, no tokens, not UTF-8)
   */
  g_signal_new_class_handler ("embed-text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST | G_SIGNAL_ACTION,
      G_CALLBACK (embed_text), NULL, NULL, NULL, GST_TYPE_STRUCTURE, 1, G_TYPE_STRING);

  gst_element_class_set_static_metadata (element_class, "VTP language model", "Filter/Converter/Text",
      "Writes text about images with a LLaMA-family language model", "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  element_class->change_state = gst_vtp_llm_change_state;
  element_class->set_context = gst_vtp_llm_set_context;

  gst_type_mark_as_plugin_api (GST_TYPE_VTP_TIMESTAMPS, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VTP_KV_TYPE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vtp_llm_debug, "vtpllm", 0, "VTP language model");
}

static void
gst_vtp_llm_init (GstVtpLlm *self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_llm_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_llm_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_vtp_llm_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);
  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_vtp_llm_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->prompt = g_strdup (DEFAULT_PROMPT);
  self->max_new_tokens = DEFAULT_MAX_NEW_TOKENS;
  self->top_p = 1.0f;
  self->refresh_interval = DEFAULT_REFRESH_INTERVAL;
  self->out = gst_vtp_text_out_new (GST_ELEMENT (self), self->srcpad);
  self->regions = gst_vtp_region_group_new ();
  configure_text_out (self);
}
