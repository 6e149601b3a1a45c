/* vtp-llama.h: the LLaMA-family decoder (HF LlamaForCausalLM numerics):
 * RMSNorm, grouped-query attention with RoPE and a KV cache, SiLU MLP.
 * Reads HF checkpoints (rotate_half RoPE) and Meta ones (interleaved RoPE),
 * and runs LLaMA-Adapter's adapted attention when an adapter is loaded
 * (vtp-llama-adapter.c). Token embeddings are gathered on the host from the
 * memory-mapped checkpoint (only the rows in use travel to the device);
 * lm_head lives on the device. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-lm-input.h"
#include "vtp-ops.h"
#include "vtp-decode-step.h"

G_BEGIN_DECLS

/* The projections of a layer, in the order of the LoRA tables. */
typedef enum {
  VTP_PROJ_Q, VTP_PROJ_K, VTP_PROJ_V, VTP_PROJ_O, VTP_PROJ_GATE, VTP_PROJ_UP, VTP_PROJ_DOWN, VTP_N_PROJ,
} VtpLlamaProj;

typedef struct {
  VtpTensor *attn_norm, *ffn_norm;
  VtpTensor *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;        /* biases: attention_bias or an adapter's */
  VtpTensor *w_gate, *w_up, *w_down, *b_gate, *b_up, *b_down; /* biases: mlp_bias or an adapter's */
  VtpTensor *lora_a[VTP_N_PROJ], *lora_b[VTP_N_PROJ];       /* an adapter's LoRA: y += B (A x) */
} VtpLlamaLayer;

/* The LLM side of a LLaMA-Adapter: which layers are adapted, with which
 * gates, and (V1, PEFT) the prompts the checkpoint holds. */
typedef struct {
  VtpAdapterConfig cfg;
  char *dir;
  gint first_layer;           /* layers [first_layer, n_layers) are adapted */
  VtpTensor *gates;           /* [n_layers, H]: the gate each head applies (tanh'd, new_gate folded in) */
  VtpTensor *static_prompts;  /* V1 / PEFT: [query_layer * query_len, D]; V2 gets them from vtpadapter */
} VtpLlamaAdapter;

typedef struct {
  VtpLlamaConfig cfg;
  VtpRopeLayout rope_layout;
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  const VtpStTensor *embed;   /* [V, D] in the mapped checkpoint */
  VtpLmDeviceTable device_embed;  /* its copy on the device, made when a decode first looks ahead */
  VtpTensor *norm, *lm_head, *inv_freq;
  VtpLlamaLayer *layers;
  VtpLlamaAdapter *adapter;   /* NULL: a plain model */
} VtpLlama;

/* Names of the parts of a checkpoint: "<model_prefix>layers.0..." and the
 * output head (NULL: tied to the embeddings); Meta checkpoints name every
 * tensor their own way (tok_embeddings, attention.wq, feed_forward.w1...). */
typedef struct {
  const char *model_prefix;   /* "language_model.model.", "model.language_model.", "model.", "" */
  const char *lm_head;        /* "language_model.lm_head.weight", "lm_head.weight", "output.weight" or NULL */
  gboolean meta;              /* Meta names and weights: interleaved RoPE */
} VtpLlamaNames;

/* The name of a tensor role in this naming ("input_layernorm" or
 * "attention_norm"...), for the roles of vtp-llama.c's table. */
const char *vtp_llama_tensor_name (const VtpLlamaNames *names, gint role);

/* Finds where the decoder sits in @c (llava-hf and transformers 5 spellings,
 * plain Llama). */
gboolean vtp_llama_find_names (VtpCheckpoint *c, const VtpLlamaConfig *cfg, VtpLlamaNames *names, GError **error);

/* Loads the decoder; with @adapter (a LLaMA-Adapter or PEFT directory),
 * also the adapter's LLM-side weights: biases, fine-tuned norms, LoRA,
 * gates, static prompts. */
VtpLlama *vtp_llama_load (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpCheckpoint *adapter, VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_llama_free (VtpLlama *m);
/* vtp_llama_load through the process-wide cache: the same checkpoint,
 * adapter, device and weight type give the same (read-only) model. Release
 * with vtp_model_cache_release. */
VtpLlama *vtp_llama_acquire (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpCheckpoint *adapter, VtpDevice *dev, VtpWeightType wtype, GError **error);

/* Bytes of matrix weights one decoded token reads (every layer's
 * projections and the output head; the embedding row is negligible). */
gsize vtp_llama_weight_bytes (const VtpLlama *m);

typedef struct {
  gint max_ctx, max_chunk;
  gint n_past;                /* positions in the KV cache */
  VtpTensor *x, *xn, *q, *attn, *gate, *up, *scores, *logits;
  VtpTensor *rope;            /* [max_chunk, head_dim]: the chunk's cos | sin (vtp_op_rope_angles) */
  VtpTensor **k_cache, **v_cache;  /* [max_ctx, KV] a layer, of kv_dtype */
  VtpDType kv_dtype;          /* F32, or F16 / Q8_0 (kv-type=f16 / q8_0: less of the cache's memory and reads) */
  VtpTensor *k_new, *v_new;   /* F16 / Q8_0 caches: the chunk's F32 keys and values [max_chunk, KV] before their store */
  float *host_rows;           /* [max_chunk, D] staging for embeddings */
  gint n_layers;
  VtpTensor *lora_tmp;        /* [max_chunk, rank] with LoRA */
  VtpTensor **prompt_k, **prompt_v;  /* adapted layers: the prompts' keys and values [query_len, KV] */
  gboolean prompts_on;
  const VtpLlama *model;      /* the model it was made for (vtp_llama_decode_batch checks it) */
  VtpTensor *sync;            /* PoCL CPUs: the fused decode layers' counters (vtp-decode-layer.h), else NULL */
  VtpDecodeToken *token;      /* a decode step in one launch: its layers' table, made on first use */
} VtpLlamaState;

/* A state for @max_ctx positions, fed at most @max_chunk tokens at a time,
 * its KV cache F32 (vtp_llama_state_new) or @kv_dtype (F32, F16 or Q8_0). */
VtpLlamaState *vtp_llama_state_new (VtpLlama *m, gint max_ctx, gint max_chunk, GError **error);
VtpLlamaState *vtp_llama_state_new_kv (VtpLlama *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype,
    GError **error);
void vtp_llama_state_free (VtpLlamaState *s);

/* Sets the adaption prompts the adapted layers attend to: @prompts
 * [query_layer * query_len, D] (the adapter's static ones when NULL and it
 * has them); @off runs the model without them (as a gate of 0 would). */
gboolean vtp_llama_set_prompts (VtpLlama *m, VtpLlamaState *s, const VtpTensor *prompts, gboolean off,
    GError **error);

/* Loads the adapter side into @m (vtp-llama-adapter.c). */
gboolean vtp_llama_adapter_load (VtpLlama *m, VtpCheckpoint *adapter, const VtpLlamaNames *names,
    VtpWeightType wtype, GError **error);
void vtp_llama_adapter_free (VtpLlamaAdapter *a);

/* One piece of the model input (vtp-lm-input.h). */
typedef VtpLmSegment VtpLlamaSegment;

/* Runs the segments through the decoder from position s->n_past, in chunks.
 * Logits: when @all_logits, s->logits row i is position n_past + i (total
 * must fit max_chunk); otherwise row 0 holds the last position's logits. */
gboolean vtp_llama_prefill (VtpLlama *m, VtpLlamaState *s, const VtpLlamaSegment *segments, gint n_segments,
    gboolean all_logits, GError **error);

/* Batched decoding (vtp-llama-batch.c, docs/batching.md): one decode step
 * of up to max_streams streams, each with its own state (KV cache,
 * position), their rows in one matrix product per projection, so that n
 * streams read the weights once. The scratch of the batch's rows: */
typedef struct {
  gint max_streams;
  VtpTensor *x, *xn, *q, *k, *v, *attn, *gate, *up, *logits;
  VtpTensor *rope;            /* [max_streams, head_dim]: row i, stream i's cos | sin */
  float *host_rows;           /* [max_streams, D] staging for embeddings */
  VtpTensor *lora_tmp;        /* [max_streams, rank] with LoRA */
  /* PoCL CPUs with int8 dot products: the fused halves' counters and x's
   * int8 rows (vtp-decode-layer.h: VtpDecodeRows), else NULL */
  VtpTensor *sync, *int8_rows;
  VtpDecodeToken *token;      /* a step in one launch: its table, made on first use */
} VtpLlamaBatch;

VtpLlamaBatch *vtp_llama_batch_new (VtpLlama *m, gint max_streams, GError **error);
void vtp_llama_batch_free (VtpLlamaBatch *b);

/* out rows [out_row, out_row + n) += B (A in rows [0, n)) with the LoRA of
 * projection @p of layer @y (nothing when it has none), through @tmp ([>=
 * n, rank]); @as_rows: each row as a lone row (vtp_op_linear_rows, the
 * decode steps of a batch). The one-stream decoder and the batch share it. */
void vtp_llama_lora (VtpTensor *tmp, const VtpLlamaLayer *y, VtpLlamaProj p, VtpTensor *out, gint out_row,
    const VtpTensor *in, gint n, gboolean as_rows);

/* One decode step of @n streams: states[i] (of @m, each at its own n_past,
 * all different) is fed tokens[i]; afterwards states[i]->logits row 0 holds
 * the next position's logits, as vtp_llama_prefill leaves them, and
 * n_past has grown by one. Refuses (before running anything) more than
 * b->max_streams states, a state of another model or without room for one
 * more position, the same state twice, and adapted models (LLaMA-Adapter
 * prompts, LoRA: not batched yet). */
gboolean vtp_llama_decode_batch (VtpLlama *m, VtpLlamaBatch *b, VtpLlamaState **states, const gint32 *tokens,
    gint n, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLlama, vtp_llama_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLlamaBatch, vtp_llama_batch_free)
/* How many of @m's layers a decode step of @s (one token) runs as one fused
 * launch each (vtp-decode-layer.h: PoCL CPUs; $VTP_DECODE_LAYER=0 none). */
gint vtp_llama_fused_layers (const VtpLlama *m, const VtpLlamaState *s);
/* TRUE when those layers take one launch for the whole step
 * (vtp_op_decode_token; $VTP_DECODE_TOKEN=0 a launch a layer). */
gboolean vtp_llama_fused_token (const VtpLlama *m, const VtpLlamaState *s);
/* The same for a batched step of @n streams (two fused launches a layer:
 * vtp-decode-layer.h's VtpDecodeRows). */
gint vtp_llama_batch_fused_layers (const VtpLlama *m, const VtpLlamaBatch *b, gint n);
/* TRUE when a batched step of @states (@n) runs in one launch
 * (vtp_op_decode_rows_token; $VTP_DECODE_TOKEN=0: two a layer). */
gboolean vtp_llama_batch_fused_step (const VtpLlama *m, const VtpLlamaBatch *b, VtpLlamaState **states, gint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLlamaState, vtp_llama_state_free)

G_END_DECLS
