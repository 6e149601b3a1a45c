/* norm.cl: LayerNorm (PyTorch: biased variance) and RMSNorm (HF Llama), one
 * work-group per row, in place allowed (y == x). Offsets are in elements.
 * On CPUs (a work-group of one) the sums run in 16 float lanes: one scalar
 * chain of D additions is bound by the adder's latency (a ViT-L layer's
 * LayerNorm took 0.8 ms, now a fraction of it). */

/* The sum of xr[0 .. D) (@sq: of squares; @mean subtracted first), in 16
 * lanes then folded. */
inline float row_sum16 (__global const float *xr, int D, float mean, int sq)
{
  float16 a = 0.0f;
  float s = 0.0f;
  int i = 0;
  for (; i + 16 <= D; i += 16) {
    const float16 v = vload16 (0, xr + i) - mean;
    a = sq ? fma (v, v, a) : a + v;
  }
  for (; i < D; i++) {
    const float v = xr[i] - mean;
    s = sq ? fma (v, v, s) : s + v;
  }
  const float8 h8 = a.lo + a.hi;
  return s + hsum8 (h8);
}

/* One row by one work-item (CPUs; the fused decode layer too). */
inline void layernorm_row (__global const float *xr, __global float *yr, __global const float *w,
    __global const float *b, int D, float eps)
{
  const float mean = row_sum16 (xr, D, 0.0f, 0) / D;
  const float rstd = 1.0f / sqrt (row_sum16 (xr, D, mean, 1) / D + eps);
  int i = 0;
  for (; i + 16 <= D; i += 16)
    vstore16 ((vload16 (0, xr + i) - mean) * rstd * vload16 (0, w + i) + vload16 (0, b + i), 0, yr + i);
  for (; i < D; i++)
    yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
}

__kernel void layernorm (__global const float *x, __global float *y, int off,
    __global const float *w, __global const float *b, int D, float eps,
    __local float *scratch)
{
  const int lid = get_local_id (0), lsz = get_local_size (0);
  __global const float *xr = x + off + (size_t) get_group_id (0) * D;
  __global float *yr = y + off + (size_t) get_group_id (0) * D;
  float s = 0.0f;
  if (lsz == 1) {
    layernorm_row (xr, yr, w, b, D, eps);
    return;
  }
  for (int i = lid; i < D; i += lsz)
    s += xr[i];
  const float mean = group_sum (s, scratch) / D;
  float v = 0.0f;
  for (int i = lid; i < D; i += lsz) {
    float d = xr[i] - mean;
    v = fma (d, d, v);
  }
  const float rstd = 1.0f / sqrt (group_sum (v, scratch) / D + eps);
  for (int i = lid; i < D; i += lsz)
    yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
}

/* One row by one work-item (CPUs; the fused decode layer too). */
inline void rmsnorm_row (__global const float *xr, __global float *yr, __global const float *w, int D, float eps)
{
  const float r = rsqrt (row_sum16 (xr, D, 0.0f, 1) / D + eps);
  int i = 0;
  for (; i + 16 <= D; i += 16)
    vstore16 (vload16 (0, w + i) * (vload16 (0, xr + i) * r), 0, yr + i);
  for (; i < D; i++)
    yr[i] = w[i] * (xr[i] * r);
}

__kernel void rmsnorm (__global const float *x, __global float *y, int off,
    __global const float *w, int D, float eps, __local float *scratch)
{
  const int lid = get_local_id (0), lsz = get_local_size (0);
  __global const float *xr = x + off + (size_t) get_group_id (0) * D;
  __global float *yr = y + off + (size_t) get_group_id (0) * D;
  float s = 0.0f;
  if (lsz == 1) {
    rmsnorm_row (xr, yr, w, D, eps);
    return;
  }
  for (int i = lid; i < D; i += lsz)
    s = fma (xr[i], xr[i], s);
  const float r = rsqrt (group_sum (s, scratch) / D + eps);
  for (int i = lid; i < D; i += lsz)
    yr[i] = w[i] * (xr[i] * r);
}
