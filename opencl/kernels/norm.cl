/* norm.cl: LayerNorm (PyTorch: biased variance) and RMSNorm (HF Llama), one
 * work-group per row, in place allowed (y == x). Offsets are in elements. */

__kernel void layernorm (__global const float *x, __global float *y, int off,
    __global const float *w, __global const float *b, int D, float eps,
    __local float *scratch)
{
  const int lid = get_local_id (0), lsz = get_local_size (0);
  __global const float *xr = x + off + (size_t) get_group_id (0) * D;
  __global float *yr = y + off + (size_t) get_group_id (0) * D;
  float s = 0.0f;
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

__kernel void rmsnorm (__global const float *x, __global float *y, int off,
    __global const float *w, int D, float eps, __local float *scratch)
{
  const int lid = get_local_id (0), lsz = get_local_size (0);
  __global const float *xr = x + off + (size_t) get_group_id (0) * D;
  __global float *yr = y + off + (size_t) get_group_id (0) * D;
  float s = 0.0f;
  for (int i = lid; i < D; i += lsz)
    s = fma (xr[i], xr[i], s);
  const float r = rsqrt (group_sum (s, scratch) / D + eps);
  for (int i = lid; i < D; i += lsz)
    yr[i] = w[i] * (xr[i] * r);
}
