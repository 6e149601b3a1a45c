/* vtp-parts.h: what a model directory holds and where: a llava-hf
 * checkpoint (tower + projector + LLM), an InstructBLIP or BLIP-2 one
 * (tower + Q-Former + LLM), a plain CLIP vision model, a plain Llama, OPT
 * or T5.
 * Each element asks for its part. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-image.h"
#include "vtp-vision.h"
#include "vtp-tokenizer.h"

G_BEGIN_DECLS

typedef enum {
  VTP_FAMILY_LLAVA,
  VTP_FAMILY_INSTRUCTBLIP,
  VTP_FAMILY_BLIP2,
  VTP_FAMILY_CLIP,
  VTP_FAMILY_OPENAI_CLIP,       /* converted from OpenAI's CLIP package, as LLaMA-Adapter uses it */
  VTP_FAMILY_LLAMA,
  VTP_FAMILY_LLAMA_ADAPTER,     /* a LLaMA-Adapter (V1, V2 multimodal) or PEFT adaption-prompt directory */
  VTP_FAMILY_OPT,               /* a plain OPTForCausalLM */
  VTP_FAMILY_T5,                /* a plain T5ForConditionalGeneration (T5, Flan-T5) */
} VtpFamily;

typedef struct {
  char *model_type;
  VtpFamily family;
  gboolean has_vision, has_projector, has_qformer, has_text, has_adapter;
  VtpVisionConfig vision;       /* with has_vision */
  VtpTextFamily text_family;    /* with has_text: which of text / opt holds its config */
  VtpLlamaConfig text;          /* with has_text, VTP_TEXT_LLAMA */
  VtpOptConfig opt;             /* with has_text, VTP_TEXT_OPT */
  VtpT5Config t5;               /* with has_text, VTP_TEXT_T5 */
  VtpLlavaConfig llava;         /* LLaVA: projector, feature selection */
  VtpBlipConfig blip;           /* BLIP-2 / InstructBLIP: Q-Former */
  gint image_token_index;       /* the LLM's image placeholder id, -1 when none */
} VtpModelParts;

/* Reads config.json's model_type: llava, instructblip, blip-2, clip,
 * clip_vision_model, llama, opt or t5. */
gboolean vtp_model_parts_read (VtpCheckpoint *c, VtpModelParts *parts, GError **error);
void vtp_model_parts_clear (VtpModelParts *parts);

/* The language model's max_position_embeddings, whatever its family. */
gint vtp_model_text_positions (const VtpModelParts *parts);

/* Where a part's tensors start. */
const char *vtp_model_vision_prefix (VtpCheckpoint *c, const VtpModelParts *parts, GError **error);
const char *vtp_model_projector_prefix (VtpCheckpoint *c, GError **error);
const char *vtp_model_qformer_prefix (VtpCheckpoint *c, GError **error);

/* The features the family's bridge reads: LLaVA's selection from
 * config.json (CLIP alone: LLaVA's defaults -2, CLS dropped); BLIP: the
 * post-LayerNorm output of the last layer, all tokens. */
void vtp_model_features (const VtpModelParts *parts, VtpVisionFeatures *features);

/* The image processor settings: preprocessor_config.json, else the
 * "image_processor" of processor_config.json, over the family's defaults
 * (CLIP: shortest edge + center crop; BLIP: plain resize to a square). */
gboolean vtp_model_image_config (VtpCheckpoint *c, const VtpModelParts *parts, VtpImageConfig *out, GError **error);

/* The language model's tokenizer: the directory's tokenizer.json (Llama
 * BPE, GPT-2 / OPT byte-level BPE, WordPiece, T5 / Flan-T5's Unigram with
 * "$A </s>"), or a GGUF's own vocabulary
 * (tokenizer.ggml.* "llama", "gpt2" or "bert"), adding BOS / EOS as the
 * file says. */
VtpTokenizer *vtp_model_tokenizer_new (VtpCheckpoint *c, GError **error);

/* The checkpoint's chat template (Jinja text): a GGUF's
 * tokenizer.chat_template, else tokenizer_config.json's chat_template when
 * it is a string; NULL when there is none. */
char *vtp_model_chat_template (VtpCheckpoint *c);

G_END_DECLS
