/* probe.cl: kernels that measure the device's arithmetic peak, for the
 * roofline figures of bench/ (vtp-probe.c times them). Each work-item runs
 * PROBE_CHAINS independent chains of 16-wide operations, enough to cover
 * the latency of a multiply-add on the CPUs and GPUs vtp runs on: 8, and 6
 * on x86 CPUs without AVX-512, whose 16 registers of 8 floats cannot hold 8
 * chains of 16 and the constants (8 ran the FMA probe at 55-107 GFLOP/s on
 * 2 cores of a Zen 3 EPYC, where the F16 GEMM reached 150-161). The int8
 * probe without VNNI: 4 chains (each step's two multiplies do not depend
 * on the chain, only its add does). vtp-probe.c counts the same. */
#if defined(VTP_POCL_CPU) && !defined(VTP_X86_AVX512)
#define PROBE_CHAINS 6
#define PROBE_INT8_CHAINS 4
#else
#define PROBE_CHAINS 8
#define PROBE_INT8_CHAINS 8
#endif

__kernel void probe_fma (__global float *out, int iters)
{
  const float g = (float) get_global_id (0) * 1e-9f;
  float16 a[PROBE_CHAINS];
  const float16 m = 0.9999f, c = 1e-7f;
  for (int j = 0; j < PROBE_CHAINS; j++)
    a[j] = g + (float) j;
  for (int i = 0; i < iters; i++)
    UNROLL
    for (int j = 0; j < PROBE_CHAINS; j++)
      a[j] = fma (a[j], m, c);
  float16 s = a[0];
  for (int j = 1; j < PROBE_CHAINS; j++)
    s += a[j];
  out[get_global_id (0)] = s.s0 + s.s5 + s.sa + s.sf;
}

#ifdef VTP_X86_INT8
/* PROBE_INT8_CHAINS chains of vpdpbusd (AVX2: its two halves as dpbusd
 * does them): 64 byte products (128 operations) each */
VNNI int16 probe_int8_chains (int iters, int seed)
{
  int16 a[PROBE_INT8_CHAINS];
  const int16 u = seed | 0x01010101, s = (seed >> 1) | 0x01010101;
  for (int j = 0; j < PROBE_INT8_CHAINS; j++)
    a[j] = j;
  for (int i = 0; i < iters; i++)
    UNROLL
    for (int j = 0; j < PROBE_INT8_CHAINS; j++)
      a[j] = dpbusd (a[j], u, s);
  for (int j = 1; j < PROBE_INT8_CHAINS; j++)
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
