/* vtp-probe.c: runs probe.cl's kernels and turns their time into a rate. */
#include "vtp-probe.h"
#include "vtp-launch.h"

/* Best of 3 runs of @kernel over enough work-items for every compute unit,
 * in operations per second given @ops_per_iter per work-item and iteration. */
static double
probe_rate (VtpDevice *dev, const char *kernel, double ops_per_iter, GError **error)
{
  const gint iters = 20000;
  const size_t items = (size_t) dev->compute_units * (dev->kind == VTP_DEVICE_KIND_CPU ? 8 : 2048);
  const size_t global[1] = { items }, local[1] = { 1 };
  g_autoptr (VtpTensor) out = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 1, items, error);
  double best = 0;

  if (!out)
    return 0;
  for (gint r = 0; r < 4; r++) {
    const gint64 t0 = g_get_monotonic_time ();
    LAUNCH (dev, kernel, 1, global, dev->kind == VTP_DEVICE_KIND_CPU ? local : NULL, A_MEM (out), A_INT (iters));
    if (!vtp_device_finish (dev, error) || !vtp_error_take_pending (error))
      return 0;
    if (r > 0)                  /* the first run pays for the kernel's first use */
      best = MAX (best, ops_per_iter * iters * items / ((g_get_monotonic_time () - t0) * 1e-6));
  }
  return best;
}

/* probe.cl's PROBE_CHAINS and PROBE_INT8_CHAINS: fewer on x86 CPUs
 * without AVX-512 (16 registers) */
static double
probe_chains (const VtpDevice *dev, gboolean int8)
{
  if (dev->pocl_cpu && !dev->avx512)
    return int8 ? 4 : 6;
  return 8;
}

double
vtp_probe_fma_gflops (VtpDevice *dev, GError **error)
{
  /* chains of 16 multiply-adds */
  return probe_rate (dev, "probe_fma", probe_chains (dev, FALSE) * 16 * 2, error) / 1e9;
}

double
vtp_probe_bf16_gflops (VtpDevice *dev, GError **error)
{
  /* 8 chains of 16 lanes of 2 bfloat16 products */
  return dev->bf16_dot ? probe_rate (dev, "probe_bf16", 8 * 16 * 2 * 2, error) / 1e9 : 0;
}

double
vtp_probe_int8_gops (VtpDevice *dev, GError **error)
{
  /* chains of 16 lanes of 4 byte products */
  return dev->int8_dot ? probe_rate (dev, "probe_int8", probe_chains (dev, TRUE) * 16 * 4 * 2, error) / 1e9 : 0;
}
