/* probe.cl: kernels that measure the device's arithmetic peak, for the
 * roofline figures of bench/ (vtp-probe.c times them). Each work-item runs
 * 8 independent chains of 16-wide operations, enough to cover the latency
 * of a multiply-add on the CPUs and GPUs vtp runs on. */

__kernel void probe_fma (__global float *out, int iters)
{
  const float g = (float) get_global_id (0) * 1e-9f;
  float16 a[8];
  const float16 m = 0.9999f, c = 1e-7f;
  for (int j = 0; j < 8; j++)
    a[j] = g + (float) j;
  for (int i = 0; i < iters; i++)
    UNROLL
    for (int j = 0; j < 8; j++)
      a[j] = fma (a[j], m, c);
  float16 s = a[0];
  for (int j = 1; j < 8; j++)
    s += a[j];
  out[get_global_id (0)] = s.s0 + s.s5 + s.sa + s.sf;
}

#ifdef VTP_X86_VNNI
/* 8 chains of vpdpbusd: 64 byte products (128 operations) each */
VNNI int16 probe_int8_chains (int iters, int seed)
{
  int16 a[8];
  const int16 u = seed | 0x01010101, s = (seed >> 1) | 0x01010101;
  for (int j = 0; j < 8; j++)
    a[j] = j;
  for (int i = 0; i < iters; i++)
    UNROLL
    for (int j = 0; j < 8; j++)
      a[j] = dpbusd (a[j], u, s);
  for (int j = 1; j < 8; j++)
    a[0] += a[j];
  return a[0];
}

__kernel void probe_int8 (__global int *out, int iters)
{
  const int16 r = probe_int8_chains (iters, (int) get_global_id (0));
  out[get_global_id (0)] = r.s0 + r.s7 + r.sf;
}
#endif

#ifdef VTP_X86_BF16
/* 8 chains of vdpbf16ps: 32 bfloat16 products (64 operations) each */
BF16DOT float16 probe_bf16_chains (int iters, int seed)
{
  float16 a[8];
  const uint16 u = (uint) seed | 0x3f803f80u, w = 0x3f7f3f7fu;     /* pairs of ~1.0 */
  for (int j = 0; j < 8; j++)
    a[j] = (float) j;
  for (int i = 0; i < iters; i++)
    UNROLL
    for (int j = 0; j < 8; j++)
      a[j] = dpbf16 (a[j], u, w);
  for (int j = 1; j < 8; j++)
    a[0] += a[j];
  return a[0];
}

__kernel void probe_bf16 (__global float *out, int iters)
{
  const float16 r = probe_bf16_chains (iters, (int) get_global_id (0) & 7);
  out[get_global_id (0)] = r.s0 + r.s7 + r.sf;
}
#endif
