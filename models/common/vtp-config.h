/* vtp-config.h: typed views of HF config.json and preprocessor files.
 * Absent fields take the defaults of the transformers config classes, since
 * save_pretrained writes only the values that differ from them. */
#pragma once
#include <json-glib/json-glib.h>
#include "vtp-error.h"
#include "vtp-tensor.h"

G_BEGIN_DECLS

typedef enum {
  VTP_ACT_GELU,         /* exact erf GELU ("gelu") */
  VTP_ACT_QUICK_GELU,   /* x * sigmoid(1.702 x) */
  VTP_ACT_SILU,
  VTP_ACT_GELU_TANH,    /* GELU's tanh approximation ("gelu_pytorch_tanh", "gelu_new") */
  VTP_ACT_RELU,
} VtpActivation;

/* The ViT variants: HF CLIPVisionModel (pre-LN after the embeddings,
 * separate q/k/v, out_proj) and the EVA tower of BLIP-2 / InstructBLIP
 * (patch bias, fused qkv with q and v biases, projection, post-LN). */
typedef enum {
  VTP_VISION_CLIP,
  VTP_VISION_EVA,
  VTP_VISION_OPENAI,    /* OpenAI's CLIP package names (visual.*), as LLaMA-Adapter loads it */
  VTP_VISION_TIMM,      /* timm Blocks (norm1, attn.qkv, attn.proj, mlp.fc1/fc2): LLaMA-Adapter's visual_blocks */
} VtpVisionFlavor;

typedef struct {
  VtpVisionFlavor flavor;
  gint hidden_size, intermediate_size, num_hidden_layers, num_attention_heads;
  gint image_size, patch_size, num_channels;
  gint projection_dim;          /* width after the visual projection (OpenAI CLIP) */
  float layer_norm_eps;
  VtpActivation hidden_act;
} VtpVisionConfig;

#define VTP_MAX_EOS 8

typedef struct {
  gint vocab_size, hidden_size, intermediate_size, num_hidden_layers;
  gint num_attention_heads, num_key_value_heads, head_dim, max_position_embeddings;
  float rms_norm_eps, rope_theta;
  gboolean tie_word_embeddings, attention_bias, mlp_bias;
  gboolean qkv_bias;            /* q, k and v with biases, o without (Qwen2) */
  /* the rotation pairs dimension j with j + head_dim / 2 although the
   * tensors have Meta's (GGUF) names: llama.cpp's converter permutes q and
   * k into Meta's interleaved order for "llama" files only ("gguf_rope_neox",
   * written by vtp's GGUF reader) */
  gboolean rope_neox;
  gint bos_token_id;            /* -1 when none */
  gint n_eos, eos_token_id[VTP_MAX_EOS];
  /* Llama 3.1's RoPE scaling (rope_type "llama3"): the frequencies whose
   * wavelength exceeds rope_original_max_positions / rope_low_freq_factor
   * divided by rope_factor, those below / rope_high_freq_factor kept, a
   * blend between (transformers' _compute_llama3_parameters); from a GGUF,
   * the divisors llama.cpp's converter computed, one per frequency, in the
   * tensor rope_freqs.weight (rope_freqs_tensor). */
  gboolean rope_llama3, rope_freqs_tensor;
  float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
  gint rope_original_max_positions;
} VtpLlamaConfig;

/* The decoder family of a language model, as text_config.model_type (or a
 * plain checkpoint's model_type) names it. */
typedef enum {
  VTP_TEXT_LLAMA,
  VTP_TEXT_OPT,
  VTP_TEXT_T5,          /* an encoder-decoder (T5, Flan-T5) */
} VtpTextFamily;

/* OPT (HF OPTForCausalLM): learned positions (offset 2), pre-LayerNorm with
 * biases (eps 1e-5), biased projections, an fc1 -> act -> fc2 MLP, a final
 * LayerNorm, and project_in / project_out when the word embeddings are
 * narrower than the hidden size. */
typedef struct {
  gint vocab_size, hidden_size, word_embed_proj_dim, ffn_dim, num_hidden_layers, num_attention_heads;
  gint head_dim, max_position_embeddings;
  VtpActivation activation;
  gboolean enable_bias;
  gboolean final_layer_norm;    /* FALSE: _remove_final_layer_norm (checkpoints fine-tuned before 4.20.1) */
  gboolean tie_word_embeddings;
  gint bos_token_id;            /* -1 when none */
  gint n_eos, eos_token_id[VTP_MAX_EOS];
} VtpOptConfig;

/* T5 (HF T5ForConditionalGeneration): RMS norms without bias (eps
 * layer_norm_epsilon), relative position buckets from the first layer's
 * table, unscaled attention scores, a (gated) feed-forward, final norms in
 * encoder and decoder, and the decoder output scaled by d_model^-0.5 before
 * the head when scale_decoder_outputs (T5 1.0's tied embeddings; Flan-T5
 * unties them and does not scale). */
typedef struct {
  gint vocab_size, d_model, d_kv, d_ff, num_layers, num_decoder_layers, num_heads;
  gint num_buckets, max_distance;   /* relative_attention_num_buckets / _max_distance */
  gint n_positions;             /* the input length it was trained for (a default context, not a limit) */
  float layer_norm_epsilon;
  gboolean gated;               /* feed_forward_proj "gated-ACT": act (wi_0 x) * wi_1 x */
  VtpActivation act;
  gboolean scale_decoder_outputs;
  gint decoder_start_token_id, pad_token_id;
  gint n_eos, eos_token_id[VTP_MAX_EOS];
} VtpT5Config;

#define VTP_MAX_FEATURE_LAYERS 8

typedef enum {
  VTP_PROJECTOR_MLP2X_GELU,     /* linear_1 -> act -> linear_2 (LLaVA-1.5) */
  VTP_PROJECTOR_LINEAR,         /* linear_1 only (LLaVA v1) */
} VtpProjectorType;

typedef struct {
  VtpVisionConfig vision;
  VtpLlamaConfig text;
  gint image_token_index;
  gint n_feature_layers;
  gint feature_layers[VTP_MAX_FEATURE_LAYERS];   /* as written: negative counts from the end */
  gboolean keep_cls;                            /* strategy "full" */
  VtpProjectorType projector_type;
  VtpActivation projector_act;
  gboolean projector_bias;
  gint image_seq_length;
} VtpLlavaConfig;

/* The Q-Former (BERT-style, post-LN) of BLIP-2 and InstructBLIP. */
typedef struct {
  gint vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size;
  gint max_position_embeddings, cross_attention_frequency, encoder_hidden_size;
  float layer_norm_eps;
  VtpActivation hidden_act;
  gboolean text_input;          /* InstructBLIP: instruction tokens attend with the queries */
} VtpQFormerConfig;

/* A blip-2 or instructblip config.json. */
typedef struct {
  VtpVisionConfig vision;
  VtpQFormerConfig qformer;
  VtpTextFamily text_family;
  VtpLlamaConfig text;          /* VTP_TEXT_LLAMA */
  VtpOptConfig opt;             /* VTP_TEXT_OPT */
  VtpT5Config t5;               /* VTP_TEXT_T5 */
  gint projection_width;        /* language_projection's output: the language model's hidden size */
  gint num_query_tokens;
  gint image_token_index;       /* -1 when the config has none */
} VtpBlipConfig;

/* LLaMA-Adapter (model-spec section 5) in its converted layout, or a PEFT
 * adaption-prompt adapter. */
typedef enum {
  VTP_ADAPTER_V2_MULTIMODAL,    /* visual queries + per-layer prompts, tanh(gate) per head, biases, LoRA */
  VTP_ADAPTER_V1,               /* text-only prompts, raw gate per head */
  VTP_ADAPTER_PEFT,             /* PEFT adaption_prompt: prompts and one scalar gate per layer */
} VtpAdapterForm;

typedef struct {
  VtpAdapterForm form;
  gint query_len;               /* prompt positions per adapted layer */
  gint query_layer;             /* adapted layers: the last query_layer of the LLM */
  gint clip_dim, v_embed_dim, v_depth, v_num_heads, v_mlp;  /* V2 visual part */
  gboolean w_bias, w_lora;
  gint lora_rank;
  gint llm_dim;                 /* the LLM width it was trained for (0: not recorded) */
} VtpAdapterConfig;

/* config.json of tools/convert_llama_adapter.py, or PEFT's adapter_config.json. */
gboolean vtp_adapter_config_parse (JsonObject *o, const char *where, VtpAdapterConfig *out, GError **error);

/* Fills @out from a CLIPVisionConfig object (@where names it in errors). */
gboolean vtp_clip_vision_config_parse (JsonObject *o, const char *where, VtpVisionConfig *out, GError **error);
/* The config.json tools/convert_llama_adapter.py writes for OpenAI CLIP. */
gboolean vtp_openai_clip_config_parse (JsonObject *o, const char *where, VtpVisionConfig *out, GError **error);
/* A Blip2VisionConfig / InstructBlipVisionConfig object (EVA tower). */
gboolean vtp_blip_vision_config_parse (JsonObject *o, const char *where, VtpVisionConfig *out, GError **error);
gboolean vtp_llama_config_parse (JsonObject *o, const char *where, VtpLlamaConfig *out, GError **error);
/* An OPTConfig object; do_layer_norm_before false (OPT-350m's post-LN
 * layers) and layer_norm_elementwise_affine false are refused by name. */
gboolean vtp_opt_config_parse (JsonObject *o, const char *where, VtpOptConfig *out, GError **error);
/* A T5Config object (T5, T5 v1.1, Flan-T5). */
gboolean vtp_t5_config_parse (JsonObject *o, const char *where, VtpT5Config *out, GError **error);
/* A llava config.json root; nested configs default as LlavaConfig does. */
gboolean vtp_llava_config_parse (JsonObject *root, const char *where, VtpLlavaConfig *out, GError **error);

/* A blip-2 / instructblip config.json root (@instruct: InstructBLIP, whose
 * Q-Former reads the instruction). The language model is LLaMA-family, OPT
 * or T5 (Flan-T5). */
gboolean vtp_blip_config_parse (JsonObject *root, const char *where, gboolean instruct, VtpBlipConfig *out,
    GError **error);

/* Resolves feature layer @layer (Python index into the L + 1 hidden states). */
gint vtp_vision_config_hidden_index (const VtpVisionConfig *c, gint layer);

/* The member of @o at a dotted @path ("text_config.hidden_size"), or NULL. */
JsonNode *vtp_json_lookup (JsonObject *o, const char *path);
/* Typed getters: absent -> @fallback; present with the wrong type -> error
 * "@where: @key is X, expected an integer". */
gboolean vtp_json_int (JsonObject *o, const char *key, gint fallback, const char *where, gint *out, GError **error);
gboolean vtp_json_float (JsonObject *o, const char *key, float fallback, const char *where, float *out, GError **error);
gboolean vtp_json_bool (JsonObject *o, const char *key, gboolean fallback, const char *where, gboolean *out, GError **error);
const char *vtp_json_string (JsonObject *o, const char *key, const char *fallback);
/* transformers' ACT2FN name @name (those vtp computes; the others are an
 * error naming them), and @act applied in place to rows [row, row + n_rows)
 * of @x: the two together, so that every name parsed is one computed. */
gboolean vtp_activation_parse (const char *name, const char *where, VtpActivation *out, GError **error);
void vtp_activation_apply (VtpActivation act, VtpTensor *x, gint64 row, gint64 n_rows);

G_END_DECLS
