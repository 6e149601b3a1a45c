/* vtp-decode-layer.h: a Llama (or OPT) decoder layer's decode step (one
 * row of x at position pos) in one launch, on CPUs under PoCL (decode-layer.cl:
 * its work-items take the layer's steps' tasks and spin between steps
 * instead of PoCL's threads sleeping between ~10 kernels). The same bits as
 * the unfused step (vtp_op_rmsnorm, vtp_op_linear_multi, vtp_op_rope_qk,
 * vtp_op_kv_write, vtp_op_attention, vtp_op_linear, vtp_op_silu_mul). */
#pragma once
#include "vtp-tensor.h"

G_BEGIN_DECLS

typedef struct {
  /* the step's rows, F32, row 0 of each: x [D] (updated), xn [D], q [H d],
   * attn [H d], gate and up [I], scores [>= H (pos + 1)] */
  VtpTensor *x, *xn, *q, *attn, *gate, *up, *scores;
  VtpTensor *rope;              /* row 0: the position's cos | sin (vtp_op_rope_angles) */
  /* the layer's caches [>= pos + 1, Hkv d]: F32 (k_new, v_new NULL: the new
   * row written in place) or F16 / Q8_0 (the new row through the F32 rows
   * k_new, v_new [Hkv d]) */
  VtpTensor *k_cache, *v_cache, *k_new, *v_new;
  VtpTensor *sync;              /* vtp_decode_layer_sync_new: the steps' counters */
  const VtpTensor *attn_norm, *ffn_norm, *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
  /* the products' biases, F32 [their outputs], or NULL (Qwen2's q, k, v) */
  const VtpTensor *bq, *bk, *bv, *bo, *b_gate, *b_up, *b_down;
  gint n_heads, n_kv_heads, head_dim, pos;
  float eps;
  gboolean interleaved;         /* Meta's RoPE pairs (2j, 2j + 1) */
  /* OPT's layer (vtp-opt.c): LayerNorms with these biases, no RoPE (rope
   * unused), a plain ReLU MLP: gate = relu (xn W_gate + b_gate); x += gate
   * W_down + b_down (w_up, b_up, up unused) */
  gboolean opt;
  const VtpTensor *attn_norm_b, *ffn_norm_b;
} VtpDecodeLayer;

/* The counters a state's fused layers share (they run one after another):
 * room for @layers layers in one launch (vtp-decode-step.h; 1 for a launch
 * a layer). */
VtpTensor *vtp_decode_layer_sync_new (VtpDevice *dev, gint layers, GError **error);

/* TRUE when @l's device and weights take the fused step: PoCL on a CPU,
 * every weight's one-row product a panel kernel (int8 with the same x
 * grouping for q | k | v and for gate | up, or float), and
 * $VTP_DECODE_LAYER not "0". */
gboolean vtp_decode_layer_fits (const VtpDecodeLayer *l);

/* Enqueues the step; a bad shape becomes the pending error (vtp-ops.h). */
void vtp_op_decode_layer (const VtpDecodeLayer *l);

/* The same for the rows of several streams' decode steps (batched
 * decoding, vtp-llama-batch.c), int8 weights, in two launches around the
 * streams' own cache stores and attention (vtp_op_attention_streams):
 * decode_rows_in (norm, q | k | v, RoPE) and decode_rows_out (o, norm,
 * gate | up, SiLU, down). The same bits as the kernels one by one
 * (vtp_op_rmsnorm, vtp_op_linear_multi_rows, vtp_op_rope_qk;
 * vtp_op_linear_rows, vtp_op_silu_mul). */
typedef struct {
  /* the batch's rows 0 .. n_rows - 1, F32: x [D] (updated), xn [D], q,
   * attn [H d], k, v [Hkv d], gate, up [I] */
  VtpTensor *x, *xn, *q, *k, *v, *attn, *gate, *up;
  const VtpTensor *rope;        /* row i: row i's cos | sin */
  VtpTensor *scratch;           /* vtp_decode_rows_scratch_new: x's int8 rows */
  VtpTensor *sync;              /* vtp_decode_layer_sync_new */
  const VtpTensor *attn_norm, *ffn_norm, *wq, *wk, *wv, *wo, *w_gate, *w_up, *w_down;
  const VtpTensor *bq, *bk, *bv, *bo, *b_gate, *b_up, *b_down;   /* or NULL */
  gint n_rows, n_heads, n_kv_heads, head_dim;
  float eps;
  gboolean interleaved;
} VtpDecodeRows;

/* Rows of the batched steps one launch takes: 2 .. 12 (the int8 few-row
 * products'). */
#define VTP_DECODE_ROWS_MAX 12

/* Room for the int8 copy of up to @max_rows rows of up to @max_k values. */
VtpTensor *vtp_decode_rows_scratch_new (VtpDevice *dev, gint max_rows, gint64 max_k, GError **error);

/* TRUE when the device (PoCL, int8 dot products) and the weights (every one
 * block-quantized in panels; q | k | v and gate | up each quantizing x one
 * way) take the fused halves for @l->n_rows rows, and $VTP_DECODE_LAYER is
 * not "0". */
gboolean vtp_decode_rows_fits (const VtpDecodeRows *l);

void vtp_op_decode_rows_in (const VtpDecodeRows *l);
void vtp_op_decode_rows_out (const VtpDecodeRows *l);

G_END_DECLS
