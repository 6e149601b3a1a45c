/* vtp-probe.h: the device's arithmetic peaks, measured with kernels built
 * to reach them (probe.cl): the roofline's roof, printed by the benches
 * beside what a product achieves. */
#pragma once
#include "vtp-device.h"

G_BEGIN_DECLS

/* Float multiply-adds, in GFLOP/s (2 per multiply-add); 0 and @error on
 * failure. */
double vtp_probe_fma_gflops (VtpDevice *dev, GError **error);
/* bfloat16 dot products (vtp's BF16 GEMM), in GFLOP/s (2 per product); 0
 * without error where the device has no bfloat16 path. */
double vtp_probe_bf16_gflops (VtpDevice *dev, GError **error);

/* int8 dot products (vtp's int8 decode path), in GOP/s (2 per byte
 * product); 0 without error where the device has no int8 path. */
double vtp_probe_int8_gops (VtpDevice *dev, GError **error);

G_END_DECLS
