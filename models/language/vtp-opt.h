/* vtp-opt.h: the OPT decoder (HF OPTForCausalLM numerics): learned
 * positions read at position + 2 (OPT's offset), pre-LayerNorm layers with
 * biases, multi-head attention with a KV cache, an fc1 -> ReLU -> fc2 MLP,
 * the final LayerNorm, and project_in / project_out around the layers when
 * the word embeddings are narrower than the hidden size. The output head is
 * the token embedding table when tied (OPT's default). Token embeddings are
 * gathered on the host from the memory-mapped checkpoint, as for LLaMA. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-lm-input.h"
#include "vtp-ops.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *attn_norm_w, *attn_norm_b, *ffn_norm_w, *ffn_norm_b;   /* self_attn_layer_norm, final_layer_norm */
  VtpTensor *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;                 /* biases NULL without enable_bias */
  VtpTensor *fc1, *fc2, *b_fc1, *b_fc2;
} VtpOptLayer;

typedef struct {
  VtpOptConfig cfg;
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  const VtpStTensor *embed;     /* [V, W] in the mapped checkpoint (W = word_embed_proj_dim) */
  VtpTensor *positions;         /* [max_position_embeddings + 2, D] F32 */
  VtpTensor *project_in;        /* [D, W]; NULL when W == D */
  VtpTensor *project_out;       /* [W, D]; NULL when W == D */
  VtpTensor *norm_w, *norm_b;   /* the final LayerNorm; NULL with _remove_final_layer_norm */
  VtpTensor *lm_head;           /* [V, W] */
  VtpOptLayer *layers;
} VtpOpt;

/* Where the decoder sits in a checkpoint: "<prefix>layers.0...", and the
 * output head (NULL: tied to the embeddings). */
typedef struct {
  const char *prefix;           /* "language_model.model.decoder.", "model.decoder.", "decoder." */
  const char *lm_head;          /* "language_model.lm_head.weight", "lm_head.weight" or NULL */
} VtpOptNames;

gboolean vtp_opt_find_names (VtpCheckpoint *c, const VtpOptConfig *cfg, VtpOptNames *names, GError **error);

/* Loads the decoder; @wtype applies to every linear layer and the head. */
VtpOpt *vtp_opt_load (VtpCheckpoint *c, const VtpOptNames *names, const VtpOptConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);
void vtp_opt_free (VtpOpt *m);
/* vtp_opt_load through the process-wide cache (release with
 * vtp_model_cache_release). */
VtpOpt *vtp_opt_acquire (VtpCheckpoint *c, const VtpOptNames *names, const VtpOptConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);

typedef struct {
  gint max_ctx, max_chunk;
  gint n_past;                  /* positions in the KV cache */
  VtpTensor *x, *xn, *q, *attn, *h, *scores, *logits;
  VtpTensor *e;                 /* [max_chunk, W]: the embeddings before project_in and after project_out;
                                 * NULL when W == D */
  VtpTensor **k_cache, **v_cache;   /* [max_ctx, D] a layer, of kv_dtype */
  VtpDType kv_dtype;            /* F32, F16 or Q8_0 (kv-type) */
  VtpTensor *k_new, *v_new;     /* F16 / Q8_0 caches: the chunk's F32 keys and values [max_chunk, D] before their store */
  float *host_rows;             /* [max_chunk, W] staging for embeddings */
  gint n_layers;
  const VtpOpt *model;          /* the model it was made for (vtp_opt_decode_batch checks it) */
  VtpTensor *sync;              /* PoCL CPUs: the fused decode layer's counters (vtp-decode-layer.h), else NULL */
} VtpOptState;

/* A state for @max_ctx positions (at most max_position_embeddings: the
 * positions are learned), fed at most @max_chunk tokens at a time, its KV
 * cache of @kv_dtype (F32, F16 or Q8_0). */
VtpOptState *vtp_opt_state_new (VtpOpt *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error);
void vtp_opt_state_free (VtpOptState *s);

/* Runs the segments (ids, or embeddings W wide: the rows project_in reads)
 * through the decoder from position s->n_past, in chunks. Logits: when
 * @all_logits, s->logits row i is position n_past + i (total must fit
 * max_chunk); otherwise row 0 holds the last position's logits. */
gboolean vtp_opt_prefill (VtpOpt *m, VtpOptState *s, const VtpLmSegment *segments, gint n_segments,
    gboolean all_logits, GError **error);

/* Bytes of matrix weights one decoded token reads. */
gsize vtp_opt_weight_bytes (const VtpOpt *m);

/* Batched decoding across streams (docs/batching.md): one decode step of
 * several streams of the same model, each with its own state, their new
 * tokens the rows of one product per projection (vtp_op_linear_rows: the
 * weights read once for all; each row's arithmetic a lone row's where
 * that is int8, within float summation order otherwise), the positions,
 * cache writes and attention per stream. Room for up to max_streams. */
typedef struct {
  gint max_streams;
  float *host_rows;             /* [max_streams, W] */
  VtpTensor *x, *xn, *e, *q, *k, *v, *attn, *h, *logits;   /* e: NULL when W == D */
} VtpOptBatch;

VtpOptBatch *vtp_opt_batch_new (VtpOpt *m, gint max_streams, GError **error);
void vtp_opt_batch_free (VtpOptBatch *b);

/* One decode step of @n streams: states[i] (of @m, each at its own n_past,
 * all different) is fed tokens[i]; afterwards states[i]->logits row 0 holds
 * the next position's logits, as vtp_opt_prefill leaves them, and n_past
 * has grown by one. Refuses (before running anything) more than
 * b->max_streams states, a state of another model or without room for one
 * more position, and the same state twice. */
gboolean vtp_opt_decode_batch (VtpOpt *m, VtpOptBatch *b, VtpOptState **states, const gint32 *tokens, gint n,
    GError **error);

/* How many of @m's layers a decode step of @s (one token) runs as one fused
 * launch each (vtp-decode-layer.h: PoCL CPUs, a ReLU MLP; $VTP_DECODE_LAYER=0
 * none). */
gint vtp_opt_fused_layers (const VtpOpt *m, const VtpOptState *s);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpOpt, vtp_opt_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpOptBatch, vtp_opt_batch_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpOptState, vtp_opt_state_free)

G_END_DECLS
