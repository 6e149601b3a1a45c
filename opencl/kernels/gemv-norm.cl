/* gemv-norm.cl: the GPUs' one-row decode products with the RMS norm
 * before them in the same launch (issue 19: a decode layer in fewer
 * launches): q | k | v after attn_norm (gemv3_norm_<T>_1) and the gated
 * MLP after ffn_norm (gemv_swiglu_norm_<T>_1). Each work-group normalizes
 * x's row into local memory as the rmsnorm kernel would (its sum in the
 * same order, so the same bits), then runs linear.cl's GEMV on it. After
 * norm.cl (row_sum16) and activation.cl in the program. */

/* x's row @xr normalized by @w into @xs (local, D floats), as rmsnorm
 * computes it with @rw work-items a row: rw 1 (CPUs) one work-item's
 * row_sum16 (rmsnorm_row), else the group's work-items (rw of them: the
 * host launches these kernels only with a work-group of rw) strided, then
 * group_sum. Every work-item of the group calls it. */
inline void rmsnorm_to_local (__global const float *xr, __global const float *w, int D, float eps, int rw,
    __local float *xs, __local float *scratch)
{
  const int lid = get_local_id (0), L = get_local_size (0);
  float s = 0.0f, r;

  /* every work-item through the same barriers (group_sum's): with rw 1
   * the row's sum is work-item 0's and the others add zeros to it */
  if (rw == 1) {
    if (lid == 0)
      s = row_sum16 (xr, D, 0.0f, 1);
  } else {
    for (int i = lid; i < D; i += L)
      s = fma (xr[i], xr[i], s);
  }
  r = rsqrt (group_sum (s, scratch) / D + eps);
  for (int i = lid; i < D; i += L)
    xs[i] = w[i] * (xr[i] * r);
  barrier (CLK_LOCAL_MEM_FENCE);
}

#define DEFINE_GEMV_NORM(T, WT)                                                \
  DEFINE_GEMV_SUMS_X (T, WT, 1, gemv_lsums, __local)                           \
  DEFINE_GEMV3 (T, WT, 1, 1, _norm)                                            \
  DEFINE_GEMV_SWIGLU (T, WT, 1, 1, _norm)

DEFINE_GEMV_NORM (f32, float)
DEFINE_GEMV_NORM (f16, half)
DEFINE_GEMV_NORM (bf16, ushort)
