/* vtp-llama.h: the LLaMA-family decoder (HF LlamaForCausalLM numerics):
 * RMSNorm, grouped-query attention with RoPE and a KV cache, SiLU MLP.
 * Token embeddings are gathered on the host from the memory-mapped
 * checkpoint (only the rows in use travel to the device); lm_head lives on
 * the device. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-ops.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *attn_norm, *ffn_norm;
  VtpTensor *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;        /* biases only with attention_bias */
  VtpTensor *w_gate, *w_up, *w_down, *b_gate, *b_up, *b_down; /* biases only with mlp_bias */
} VtpLlamaLayer;

typedef struct {
  VtpLlamaConfig cfg;
  VtpRopeLayout rope_layout;
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  const VtpStTensor *embed;   /* [V, D] in the mapped checkpoint */
  VtpTensor *norm, *lm_head, *inv_freq;
  VtpLlamaLayer *layers;
} VtpLlama;

/* Names of the parts of a checkpoint: "<model_prefix>layers.0..." and the
 * output head (NULL: tied to the embeddings). */
typedef struct {
  const char *model_prefix;   /* "language_model.model.", "model.language_model.", "model." */
  const char *lm_head;        /* "language_model.lm_head.weight", "lm_head.weight" or NULL */
} VtpLlamaNames;

/* Finds where the decoder sits in @c (llava-hf and transformers 5 spellings,
 * plain Llama). */
gboolean vtp_llama_find_names (VtpCheckpoint *c, const VtpLlamaConfig *cfg, VtpLlamaNames *names, GError **error);

VtpLlama *vtp_llama_load (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_llama_free (VtpLlama *m);
/* vtp_llama_load through the process-wide cache: the same checkpoint,
 * device and weight type give the same (read-only) model. Release with
 * vtp_model_cache_release. */
VtpLlama *vtp_llama_acquire (VtpCheckpoint *c, const VtpLlamaNames *names, const VtpLlamaConfig *cfg,
    VtpDevice *dev, VtpWeightType wtype, GError **error);

typedef struct {
  gint max_ctx, max_chunk;
  gint n_past;                /* positions in the KV cache */
  VtpTensor *x, *xn, *q, *attn, *gate, *up, *scores, *logits;
  VtpTensor **k_cache, **v_cache;
  float *host_rows;           /* [max_chunk, D] staging for embeddings */
  gint n_layers;
} VtpLlamaState;

/* A state for @max_ctx positions, fed at most @max_chunk tokens at a time. */
VtpLlamaState *vtp_llama_state_new (VtpLlama *m, gint max_ctx, gint max_chunk, GError **error);
void vtp_llama_state_free (VtpLlamaState *s);

/* One piece of the model input: token ids, or rows of precomputed
 * embeddings on the device (image tokens, Q-Former queries). */
typedef struct {
  const gint32 *ids;
  const VtpTensor *embeds;
  gint row0;                  /* first row of @embeds */
  gint n;
} VtpLlamaSegment;

/* Runs the segments through the decoder from position s->n_past, in chunks.
 * Logits: when @all_logits, s->logits row i is position n_past + i (total
 * must fit max_chunk); otherwise row 0 holds the last position's logits. */
gboolean vtp_llama_prefill (VtpLlama *m, VtpLlamaState *s, const VtpLlamaSegment *segments, gint n_segments,
    gboolean all_logits, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLlama, vtp_llama_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLlamaState, vtp_llama_state_free)

G_END_DECLS
