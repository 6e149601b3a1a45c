/* common.cl: helpers shared by every vtp kernel.
 *
 * Weights are read through load8_* / load1_* so that one kernel body serves
 * F32, F16 and BF16 checkpoints; activations are always float.
 * Row reductions use one work-group per row: on CPUs (PoCL) the group has one
 * work-item, on GPUs a few hundred cooperate through local memory. */

inline float8 load8_f32 (__global const float *w, size_t i) { return vload8 (0, w + i); }
inline float  load1_f32 (__global const float *w, size_t i) { return w[i]; }
inline float8 load8_f16 (__global const half *w, size_t i) { return vload_half8 (0, w + i); }
inline float  load1_f16 (__global const half *w, size_t i) { return vload_half (0, w + i); }
inline float8 load8_bf16 (__global const ushort *w, size_t i)
{
  return as_float8 (convert_uint8 (vload8 (0, w + i)) << (uint8) 16);
}
inline float load1_bf16 (__global const ushort *w, size_t i) { return as_float ((uint) w[i] << 16); }

/* Row n of a weight matrix [N, K] stored row-major (layout 0); the
 * block-quantized types have their own in quant.cl. */
inline __global const float *row_f32 (__global const float *w, int n, int K) { return w + (size_t) n * K; }
inline __global const half *row_f16 (__global const half *w, int n, int K) { return w + (size_t) n * K; }
inline __global const ushort *row_bf16 (__global const ushort *w, int n, int K) { return w + (size_t) n * K; }

#if defined(VTP_X86_AMX) || defined(VTP_X86_AMX_BF16)
/* An AMX tile register's contents (quant-amx.cl, linear-amx.cl) */
typedef int vtp_tile __attribute__ ((vector_size (1024)));
#endif

/* The gated MLP's activation of one element: silu (g) u, written once for
 * silu_mul and the fused GEMV (gemv_swiglu_<T>_<MR>) so both give the
 * same bits. */
inline float silu_times (float g, float u)
{
  return g * (1.0f / (1.0f + exp (-g))) * u;
}

inline float hsum8 (float8 v)
{
  float4 s = v.lo + v.hi;
  return (s.x + s.y) + (s.z + s.w);
}

/* Sum of @v over the work-group (every work-item gets the result). */
inline float group_sum (float v, __local float *scratch)
{
  const uint lid = get_local_id (0), n = get_local_size (0);
  if (n == 1)
    return v;
  scratch[lid] = v;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (uint s = n / 2; s > 0; s >>= 1) {
    if (lid < s)
      scratch[lid] += scratch[lid + s];
    barrier (CLK_LOCAL_MEM_FENCE);
  }
  v = scratch[0];
  barrier (CLK_LOCAL_MEM_FENCE);
  return v;
}

inline float group_max (float v, __local float *scratch)
{
  const uint lid = get_local_id (0), n = get_local_size (0);
  if (n == 1)
    return v;
  scratch[lid] = v;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (uint s = n / 2; s > 0; s >>= 1) {
    if (lid < s)
      scratch[lid] = fmax (scratch[lid], scratch[lid + s]);
    barrier (CLK_LOCAL_MEM_FENCE);
  }
  v = scratch[0];
  barrier (CLK_LOCAL_MEM_FENCE);
  return v;
}
