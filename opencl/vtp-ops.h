/* vtp-ops.h: one host function per kernel. Each checks shapes, enqueues,
 * and returns nothing: a failure (bad shape, device error) becomes this
 * thread's pending error and later operations do nothing until the caller
 * collects it with vtp_error_take_pending. Row offsets and counts are
 * explicit so that state buffers can be sized once for the longest input. */
#pragma once
#include "vtp-tensor.h"
#include "vtp-linear.h"

G_BEGIN_DECLS

/* Row-wise norms over rows [row, row + n_rows), in place when y == x. */
void vtp_op_layernorm (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *b, float eps);
void vtp_op_rmsnorm (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows,
    const VtpTensor *w, float eps);

/* Elementwise, in place, over rows [row, row + n_rows). */
void vtp_op_gelu_erf (VtpTensor *x, gint64 row, gint64 n_rows);
void vtp_op_quick_gelu (VtpTensor *x, gint64 row, gint64 n_rows);
void vtp_op_gelu_tanh (VtpTensor *x, gint64 row, gint64 n_rows);
void vtp_op_silu (VtpTensor *x, gint64 row, gint64 n_rows);
void vtp_op_relu (VtpTensor *x, gint64 row, gint64 n_rows);
/* vtp_op_linear_multi of @n_outs products on rows of x normalized by
 * @norm_w (RMS, @eps), with @rope (or NULL) the first two outputs' heads
 * rotated after (q and k, as vtp_op_rope_qk): on a GPU's one row all in
 * one launch (vtp_linear_multi_norm_fused: the same bits) and @xn
 * untouched; otherwise vtp_op_rmsnorm into @xn's rows from @x_row, the
 * products on them, and vtp_op_rope_qk. */
void vtp_op_linear_multi_norm (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpTensor *norm_w, float eps,
    VtpTensor *xn, const VtpLinearOut *outs, gint n_outs, const VtpLinearRope *rope);
void vtp_op_silu_mul (VtpTensor *gate, const VtpTensor *up, gint64 row, gint64 n_rows);
void vtp_op_add (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows);
void vtp_op_mul (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows);

typedef struct {
  gint n_heads, n_kv_heads, head_dim;
  gboolean causal;
  gint q_pos0;          /* absolute position of the first query row (causal only) */
  float scale;
  /* T5's relative position bias, NULL when none: F32 [n_heads, W]; score
   * (query at absolute position p, key j) += pos_bias[h, pos_bias_center +
   * j - p] (the caller makes W cover every j - p it asks for) */
  const VtpTensor *pos_bias;
  gint pos_bias_center;
  /* the model multiplies in bfloat16 (weight-type=bf16): q, k, v and the
   * probabilities may be rounded to bfloat16 (attention-amx.cl, CPUs with
   * AMX-BF16), as PyTorch's bf16 attention has them */
  gboolean bf16;
} VtpAttention;

/* out[out_row + i] = attention of q[q_row + i] (i < nq) over rows
 * [kv_row, kv_row + nk) of k and v (both F32, both F16 or both Q8_0: a
 * cache of kv-type=f16 or q8_0, read exactly as the F32 of its values; a
 * Q8_0 cache's rows whole blocks of 32 and head_dim a multiple of 8). @scores is scratch of at least
 * n_heads * nq * nk floats; with VTP_ATTENTION_SCORE_PAD_ROWS more rows of
 * nk, CPUs take their blocked kernel for many query rows. */
#define VTP_ATTENTION_SCORE_PAD_ROWS 31
/* Query heads a kv head at most for the CPUs' grouped-query decode kernel
 * (attention_gqa, which takes them 4 at a time) */
#define VTP_ATTENTION_GQA_MAX_REP 8
void vtp_op_attention (VtpTensor *out, gint64 out_row, const VtpTensor *q, gint64 q_row, gint64 nq,
    const VtpTensor *k, const VtpTensor *v, gint64 kv_row, gint64 nk,
    VtpTensor *scores, const VtpAttention *a);
/* TRUE when CPUs' attention takes a kv head's query heads together
 * (attention_gqa; without a position bias) on @dev for @a. */
gboolean vtp_attention_gqa_fits (const VtpDevice *dev, const VtpAttention *a);

/* One stream of a decode batch: its key and value caches ([>= n_past + 1,
 * n_kv_heads * head_dim], both F32, F16 or Q8_0), its score scratch (>= n_heads * (n_past +
 * 1) floats) and how many positions its caches hold before this step;
 * @pos_bias (NULL: none) as VtpAttention's, the query at position n_past
 * (T5's relative position bias, each stream its own table). */
typedef struct {
  VtpTensor *k_cache, *v_cache, *scores;
  gint64 n_past;
  const VtpTensor *pos_bias;
  gint pos_bias_center;
} VtpStreamKV;

/* Batched decoding, one position per stream: row i of @k_new / @v_new into
 * row kv[i].n_past of stream i's caches, then out[i] = attention of q[i]
 * over rows 0 .. kv[i].n_past of them (causal by construction). With
 * @k_new and @v_new NULL, nothing is appended and q[i] attends over rows 0
 * .. kv[i].n_past - 1 as they are (cross-attention over an encoded input).
 * The same arithmetic as vtp_op_attention on each stream alone; a few
 * launches for all streams instead of three per stream. a->causal,
 * q_pos0 and pos_bias are not used (kv[i].pos_bias is). */
void vtp_op_attention_streams (VtpTensor *out, const VtpTensor *q, const VtpTensor *k_new, const VtpTensor *v_new,
    const VtpStreamKV *kv, gint n, const VtpAttention *a);

/* Whether a model's key / value caches can be of type @t (F32, F16 or
 * Q8_0) with rows of @n_kv_heads * @head_dim values: an error naming the
 * type and the shape when not. */
gboolean vtp_kv_cache_check (VtpDType t, gint n_kv_heads, gint head_dim, GError **error);

/* Rows [src_row, src_row + n) of @k_new / @v_new (F32) into rows [row,
 * row + n) of the caches, rounded to nearest even in an F16 cache,
 * quantized by blocks of 32 in a Q8_0 one (as ggml's
 * quantize_row_q8_0_ref): how a model with kv-type=f16 or q8_0 stores a
 * step's keys and values (its projections and rotation write F32 rows). */
void vtp_op_kv_write (VtpTensor *k_cache, VtpTensor *v_cache, gint64 row, const VtpTensor *k_new,
    const VtpTensor *v_new, gint64 src_row, gint64 n);

/* LLaMA-Adapter: out[out_row + i] += gates[gate_row, h] * softmax(q·pkᵀ·scale)
 * · pv for each head h, over all rows of pk / pv (the adaption prompts'
 * keys and values, [n_prompts, n_kv_heads * head_dim], not rotated).
 * @gates is F32 [rows, n_heads]; only a->n_heads, n_kv_heads, head_dim and
 * scale are used. */
void vtp_op_adapter_attention (VtpTensor *out, gint64 out_row, const VtpTensor *q, gint64 q_row, gint64 nq,
    const VtpTensor *pk, const VtpTensor *pv, const VtpTensor *gates, gint gate_row, const VtpAttention *a);

typedef enum {
  VTP_ROPE_HALF,         /* HF checkpoints: rotate_half */
  VTP_ROPE_INTERLEAVED,  /* Meta checkpoints: pairs (2j, 2j+1) */
} VtpRopeLayout;

/* The cos and sin of rows 0 .. n_rows - 1 (positions pos0 ..) into @table
 * [>= n_rows, head_dim] F32: cos in columns 0 .. head_dim/2 - 1, sin after;
 * inv_freq [head_dim / 2] F32. */
void vtp_op_rope_angles (VtpTensor *table, gint64 n_rows, gint head_dim, gint pos0, const VtpTensor *inv_freq);
/* Rotates rows [q_row, q_row + n_rows) of q (q_heads * head_dim wide) and
 * the same number of rows of k from k_row (k_heads heads; k NULL: q only),
 * row i by row i of @table (vtp_op_rope_angles). */
void vtp_op_rope_qk (VtpTensor *q, gint64 q_row, gint q_heads, VtpTensor *k, gint64 k_row, gint k_heads,
    gint64 n_rows, gint head_dim, const VtpTensor *table, VtpRopeLayout layout);

/* out[out_row + i] = table[ids[i]], i < n; ids I32 on the device. */
void vtp_op_embed (VtpTensor *out, gint64 out_row, const VtpTensor *ids, gint64 n, const VtpTensor *table);
/* ids[id_at] (I32) = the greedy token of row @row of @logits (F32, [rows,
 * vocab]): the first index of its largest value, NaNs never the largest
 * and 0 when the row starts with one, as vtp_argmax answers. */
void vtp_op_argmax (VtpTensor *ids, gint64 id_at, const VtpTensor *logits, gint64 row);

/* Sampling parameters for vtp_op_sample: those of vtp-sampler.h's
 * VtpSamplerParams, and the draw. */
typedef struct {
  float temperature;          /* > 0 */
  gint top_k;                 /* <= 0: no limit */
  float top_p;                /* >= 1: no limit */
  double u;                   /* the uniform draw, [0, 1) */
} VtpSampleArgs;

/* ids[id_at] = the token drawn from row @row of @logits [rows, V] (F32)
 * with @args: the token vtp_sampler_sample_with (vtp-sampler.c) gives for
 * the same draw, up to float rounding where u lands within ~1e-6 of a
 * token's edge (the sums are taken in another order). Only the id comes
 * back to the host. */
void vtp_op_sample (VtpTensor *ids, gint64 id_at, const VtpTensor *logits, gint64 row, const VtpSampleArgs *args);

/* img [3, H, W] F32 -> cols [P, 3·p·p]; then [P, D] patch rows + class and
 * position embeddings -> out [P + 1, D]. */
void vtp_op_im2col_patches (VtpTensor *cols, const VtpTensor *img, gint patch);
void vtp_op_vit_assemble (VtpTensor *out, gint64 out_row, const VtpTensor *patches, const VtpTensor *cls,
    const VtpTensor *pos);

/* Image steps (see image.cl). Sizes in pixels; strides in bytes. */
/* The width x height region at (x0, y0) of a packed frame -> tight RGB. */
void vtp_op_image_pack_rgb (VtpTensor *dst, const VtpTensor *src, gint x0, gint y0, gint width, gint height,
    gint row_stride, gint pixel_stride, const gint offsets[3]);
void vtp_op_image_resample_h (VtpTensor *dst, const VtpTensor *src, gint in_w, gint row0, gint rows,
    gint out_w, const VtpTensor *bounds, const VtpTensor *coeffs, gint ksize);
void vtp_op_image_resample_v (VtpTensor *dst, const VtpTensor *src, gint w, gint out_h,
    const VtpTensor *bounds, const VtpTensor *coeffs, gint ksize);
void vtp_op_image_crop_normalize (VtpTensor *dst, const VtpTensor *src, gint w, gint h,
    gint top, gint left, gint crop_w, gint crop_h, float scale, const float mean[3], const float std[3]);

G_END_DECLS
