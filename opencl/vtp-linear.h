/* vtp-linear.h: the matrix products, which dominate every model here, and
 * the upload of their weights in the layout the device's kernels read best. */
#pragma once
#include "vtp-tensor.h"

G_BEGIN_DECLS

/* Uploads a linear layer's weight given in PyTorch layout [N (out), K (in)]
 * with element type @dtype (F32, F16, BF16, or a block-quantized type whose
 * rows are ggml blocks, K a multiple of the block) from host memory. The
 * tensor's shape stays [N, K] whatever the device layout is. */
VtpTensor *vtp_linear_weight_new (VtpDevice *dev, VtpDType dtype, gint64 n, gint64 k,
    gconstpointer data, GError **error);

/* y[y_row + i] (+)= x[x_row + i] · wᵀ + bias, i < n_rows; w from
 * vtp_linear_weight_new (or any plain [N, K] tensor of those types),
 * x [*, K], y [*, N], bias [N] F32 or NULL. */
void vtp_op_linear (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate);

/* One product of vtp_op_linear_multi: y[y_row] = x · wᵀ + bias. */
typedef struct {
  VtpTensor *y;
  gint64 y_row;
  const VtpTensor *w, *bias;
} VtpLinearOut;

/* Up to 3 products of the same rows of x (q, k and v; gate and up), as
 * that many vtp_op_linear calls; one launch where the device has one for
 * them (on a CPU: one row, the int8 GEMV of one block type, every N a
 * multiple of 16; on a GPU: up to 8 rows of plain F32 / F16 / BF16
 * weights of one type, gemv3_<T>), and one bfloat16 copy of x for all
 * where they take bfloat16 dot products, with the same arithmetic per
 * output. */
void vtp_op_linear_multi (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs, gint n_outs);

/* The same for rows that are separate decode steps (vtp_llama_decode_batch:
 * one row per stream): the weights read once for all rows, and each row's
 * arithmetic the one it gets alone (a single row's product): int8
 * activations where a lone row takes the int8 GEMV, never the bfloat16
 * copy of x, so that a stream's tokens do not depend on its batch. */
void vtp_op_linear_rows (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate);
void vtp_op_linear_multi_rows (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs,
    gint n_outs);

/* TRUE when products with the quantized weights @w (of vtp_linear_weight_new)
 * take int8 dot products on their device (x86 CPUs: every quantized type
 * with AVX-512 VNNI, all but the lattice types with AVX2; VtpDevice's
 * int8_dot): activations rounded to int8 as llama.cpp's CPU backend
 * rounds them. FALSE: float products on the dequantized weights. */
gboolean vtp_linear_takes_int8 (const VtpTensor *w);

/* TRUE when vtp_op_linear_swiglu computes the gated MLP's products and
 * activation in one launch for @n_rows rows (GPUs: up to 8 rows of plain
 * F32 / F16 / BF16 weights of one type; gemv_swiglu_<T>). */
gboolean vtp_linear_swiglu_fits (const VtpTensor *x, gint64 n_rows, const VtpTensor *w_gate, const VtpTensor *w_up);
/* y[y_row + i] = silu (x'[x_row + i] · w_gateᵀ + b_gate) * (x'[x_row + i] ·
 * w_upᵀ + b_up), i < n_rows, in one launch, where x' is x, or with
 * @norm_w x's RMS norm (eps @eps) computed in the same launch (one row,
 * where vtp_linear_norm_fits): the same bits as vtp_op_rmsnorm,
 * vtp_op_linear_multi of gate and up and vtp_op_silu_mul. Only where
 * vtp_linear_swiglu_fits (a shape error otherwise). */
void vtp_op_linear_swiglu (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *norm_w, float eps, const VtpTensor *w_gate, const VtpTensor *b_gate, const VtpTensor *w_up,
    const VtpTensor *b_up);

/* TRUE when one row of x's RMS norm times @w (and the products sharing it)
 * can be one launch with the norm (GPUs: plain float weights, x's row and
 * a work-group's sums in local memory, the norm's sum in the rmsnorm
 * kernel's order). */
gboolean vtp_linear_norm_fits (const VtpTensor *x, gint64 n_rows, const VtpTensor *w);
/* RoPE for the first two products of vtp_linear_multi_norm_fused (q and k):
 * their heads rotated by @table's rows (vtp_op_rope_angles' rows, cos then
 * sin, @head_dim wide; row i for x's row x_row + i) as vtp_op_rope_qk
 * rotates them. */
typedef struct {
  const VtpTensor *table;
  gint head_dim;
  gboolean interleaved;       /* Meta's pairs (2j, 2j + 1); else (j, j + head_dim / 2) */
} VtpLinearRope;

/* vtp_op_linear_multi of 2 or 3 products on x's row @x_row normalized by
 * @norm_w (RMS, @eps), the norm in the same launch (gemv3_norm_<T>: the
 * bits of vtp_op_rmsnorm then vtp_op_linear_multi), and with @rope the
 * first two outputs rotated before they are stored (the bits of
 * vtp_op_rope_qk after them), where the device has the kernel for them
 * (vtp_linear_norm_fits: a GPU's one row); FALSE, and nothing launched,
 * otherwise (vtp_op_linear_multi_norm then takes the steps one by one). */
gboolean vtp_linear_multi_norm_fused (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpTensor *norm_w,
    float eps, const VtpLinearOut *outs, gint n_outs, const VtpLinearRope *rope);

G_END_DECLS
