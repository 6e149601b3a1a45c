/* vtp-quant-avx2.c: vtp-quant.c's quantizers compiled for AVX2 CPUs
 * (-mavx2 in opencl/meson.build), their scale searches 8 trials wide; the
 * same bytes as the portable build (each trial's arithmetic in the scalar
 * order, no fused multiply-adds). Defines vtp_quantize_row_avx2 only. */
#define VTP_QUANT_AVX2_BUILD 1
#include "vtp-quant.c"
