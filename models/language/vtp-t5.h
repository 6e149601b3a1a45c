/* vtp-t5.h: the T5 encoder-decoder (HF T5ForConditionalGeneration
 * numerics, Flan-T5 as BLIP-2 and InstructBLIP embed it): RMS norms without
 * mean or bias, relative position buckets (bidirectional in the encoder,
 * causal in the decoder; each stack's first-layer table serves all its
 * layers) added to unscaled attention scores, a gated-GELU (Flan-T5) or ReLU
 * (T5 1.0) feed-forward, final norms on both stacks, decoder self-attention
 * with a KV cache and cross-attention over the encoder output whose keys and
 * values are computed once per input, the decoder output scaled by
 * d_model^-0.5 when the config says (tied T5 1.0). Token embeddings
 * (`shared`) are gathered on the host from the memory-mapped checkpoint.
 *
 * As a VtpLm: a prefill at position 0 runs the encoder over its segments
 * (the input: ids, or d_model-wide embeddings such as BLIP-2's projected
 * queries), computes the cross-attention keys and values, and runs the
 * decoder's first step from decoder_start_token_id; its logits are the
 * first generated token's. Later prefills are decoder steps. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-lm-input.h"
#include "vtp-ops.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *attn_norm, *wq, *wk, *wv, *wo;         /* layer.0: SelfAttention */
  VtpTensor *cross_norm, *cq, *ck, *cv, *co;        /* decoder layer.1: EncDecAttention; NULL in the encoder */
  VtpTensor *ffn_norm, *wi_0, *wi_1, *wo_ff;        /* the last layer: DenseReluDense (wi_0 is wi ungated,
                                                     * wi_1 NULL) */
} VtpT5Layer;

typedef struct {
  VtpT5Config cfg;
  VtpDevice *dev;
  VtpCheckpoint *ckpt;
  const VtpStTensor *embed;     /* shared.weight [V, D] in the mapped checkpoint */
  float *enc_rel, *dec_rel;     /* relative_attention_bias.weight [num_buckets, H] as floats (host) */
  VtpT5Layer *enc, *dec;
  VtpTensor *enc_norm, *dec_norm;   /* final_layer_norm; dec_norm pre-multiplied by d_model^-0.5 when scaled */
  VtpTensor *lm_head;           /* [V, D]: lm_head.weight, else shared.weight */
} VtpT5;

/* Where the model sits in a checkpoint: "<prefix>encoder.block.0...",
 * "<prefix>shared.weight", and the head (NULL: the shared table). */
typedef struct {
  const char *prefix;           /* "language_model.", "" */
  const char *lm_head;
} VtpT5Names;

gboolean vtp_t5_find_names (VtpCheckpoint *c, VtpT5Names *names, GError **error);

/* Loads both stacks; @wtype applies to every linear layer and the head. */
VtpT5 *vtp_t5_load (VtpCheckpoint *c, const VtpT5Names *names, const VtpT5Config *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);
void vtp_t5_free (VtpT5 *m);
/* vtp_t5_load through the process-wide cache (release with
 * vtp_model_cache_release). */
VtpT5 *vtp_t5_acquire (VtpCheckpoint *c, const VtpT5Names *names, const VtpT5Config *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);

/* The bucket of relative position @rel (key - query) as transformers
 * computes it in float32. */
gint vtp_t5_relative_bucket (gint rel, gboolean bidirectional, gint num_buckets, gint max_distance);

typedef struct {
  gint max_ctx, max_chunk;      /* encoder input and decoder positions each at most max_ctx */
  gint n_past;                  /* decoder positions in the self-attention cache */
  gint n_enc;                   /* encoder positions the cross-attention reads */
  VtpTensor *x, *xn, *q, *attn, *h, *g, *scores, *logits;
  VtpTensor *enc;               /* the encoder output [max_ctx, D], rows [0, n_enc) */
  VtpTensor *enc_bias, *dec_bias;   /* [H, 2 max_ctx - 1] and [H, max_ctx]: the tables by relative position */
  VtpTensor **k_cache, **v_cache;   /* decoder self-attention, [max_ctx, H d_kv] a layer, of kv_dtype */
  VtpDType kv_dtype;                /* F32, F16 or Q8_0 (kv-type; the cross-attention's stay F32) */
  VtpTensor **ck, **cv;             /* cross-attention keys / values of the encoder output */
  VtpTensor *k, *v;                 /* the encoder's keys and values of one layer; the decoder's new
                                     * ones on their way into F16 / Q8_0 caches */
  float *host_rows;             /* [max_ctx, D] staging for embeddings */
  gint n_dec_layers;
  const VtpT5 *model;           /* the model it was made for (vtp_t5_decode_batch checks it) */
} VtpT5State;

/* Its self-attention cache of @kv_dtype (F32, F16 or Q8_0). */
VtpT5State *vtp_t5_state_new (VtpT5 *m, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error);
void vtp_t5_state_free (VtpT5State *s);

/* Runs the encoder over @segments (rows 0..), then the decoder's first step
 * from decoder_start_token_id: s->logits row 0 = its logits; n_past = 1.
 * The encoder output stays in s->enc rows [0, n_enc). */
gboolean vtp_t5_encode (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments, GError **error);

/* Decoder tokens (ids, or D-wide embeddings) from s->n_past against the
 * encoded input. Logits: with @all_logits, row i is that of input token i
 * (total at most max_chunk); otherwise row 0 holds the last one's. */
gboolean vtp_t5_decode (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments,
    gboolean all_logits, GError **error);

/* VtpLm's prefill: vtp_t5_encode at n_past 0, vtp_t5_decode after. */
gboolean vtp_t5_prefill (VtpT5 *m, VtpT5State *s, const VtpLmSegment *segments, gint n_segments,
    gboolean all_logits, GError **error);

/* Bytes of matrix weights one decoded token reads. */
gsize vtp_t5_weight_bytes (const VtpT5 *m);

/* x += wo (ffn (norm (x))) over rows [0, n), through @xn, @h and @g (NULL
 * unless gated): act (wi_0 xn) * wi_1 xn when gated, act (wi xn)
 * otherwise; @as_rows: each row as a lone row (vtp_op_linear_rows, the
 * decode steps of a batch). The one-stream decoder and the batch share it. */
void vtp_t5_ffn (const VtpT5 *m, const VtpT5Layer *y, VtpTensor *x, VtpTensor *xn, VtpTensor *h, VtpTensor *g, gint n,
    gboolean as_rows);

/* Batched decoding across streams (vtp-t5-batch.c, docs/batching.md): one
 * decoder step of several streams of the same model, each with its own
 * state (its encoded input, caches and position), their new tokens the
 * rows of one product per projection (vtp_op_linear_rows: the weights
 * read once for all; each row's arithmetic a lone row's where that is
 * int8, within float summation order otherwise); the cache writes, the
 * self-attention (relative position bias at the stream's own position)
 * and the cross-attention per stream. Room for up to max_streams. */
typedef struct {
  gint max_streams;
  float *host_rows;             /* [max_streams, D] */
  VtpTensor *x, *xn, *q, *k, *v, *attn, *h, *g, *logits;   /* g: NULL unless gated */
} VtpT5Batch;

VtpT5Batch *vtp_t5_batch_new (VtpT5 *m, gint max_streams, GError **error);
void vtp_t5_batch_free (VtpT5Batch *b);

/* One decoder step of @n streams: states[i] (of @m, its input encoded by a
 * prefill, each at its own n_past, all different) is fed tokens[i];
 * afterwards states[i]->logits row 0 holds the next position's logits, as
 * vtp_t5_decode leaves them, and n_past has grown by one. Refuses (before
 * running anything) more than b->max_streams states, a state of another
 * model, not encoded yet or without room for one more position, and the
 * same state twice. */
gboolean vtp_t5_decode_batch (VtpT5 *m, VtpT5Batch *b, VtpT5State **states, const gint32 *tokens, gint n,
    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpT5, vtp_t5_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpT5Batch, vtp_t5_batch_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpT5State, vtp_t5_state_free)

G_END_DECLS
