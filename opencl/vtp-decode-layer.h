/* vtp-decode-layer.h: a Llama decoder layer's decode step (one row of
 * x at position pos) in one launch, on CPUs under PoCL (decode-layer.cl:
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
  const VtpTensor *rope;        /* row 0: the position's cos | sin (vtp_op_rope_angles) */
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
} VtpDecodeLayer;

/* The counters a state's fused layers share (they run one after another). */
VtpTensor *vtp_decode_layer_sync_new (VtpDevice *dev, GError **error);

/* TRUE when @l's device and weights take the fused step: PoCL on a CPU,
 * every weight's one-row product a panel kernel (int8 with the same x
 * grouping for q | k | v and for gate | up, or float), and
 * $VTP_DECODE_LAYER not "0". */
gboolean vtp_decode_layer_fits (const VtpDecodeLayer *l);

/* Enqueues the step; a bad shape becomes the pending error (vtp-ops.h). */
void vtp_op_decode_layer (const VtpDecodeLayer *l);

G_END_DECLS
