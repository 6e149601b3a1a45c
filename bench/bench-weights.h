/* bench-weights.h: random weights for the benchmarks of matrix products
 * (header-only; needs vtp-opencl). */
#pragma once
#include <string.h>
#include <glib.h>
#include "vtp-quant.h"
#include "vtp-tensor.h"

/* Random weights [@N, @K] of @dtype in ggml's row layout (what
 * vtp_linear_weight_new takes): each row K uniform values in [-0.5, 0.5)
 * from @r, stored as F32 or converted / quantized by vtp's host code; for
 * the types vtp cannot quantize (the lattice types) random blocks with
 * small F16 scales. @distinct > 0: only the first @distinct rows drawn,
 * the others copies of them (quantizing hundreds of MB of rows takes
 * minutes). g_free the result. */
static G_GNUC_UNUSED void *
bench_random_weights (VtpDType dtype, gint64 N, gint64 K, gint64 distinct, GRand *r)
{
  const gsize row = vtp_dtype_row_bytes (dtype, K), bytes = (gsize) N * row;
  guint8 *data = g_malloc (bytes);
  float *f;

  if (vtp_dtype_is_quantized (dtype) && !vtp_quant_can_quantize (dtype)) {
    const gsize bb = vtp_dtype_block_bytes (dtype);
    for (gsize i = 0; i < bytes; i++)
      data[i] = g_rand_int_range (r, 0, 256);
    for (gsize b = 0; b < bytes / bb; b++)
      for (gint h = 0; h < vtp_quant_f16_count (dtype); h++)
        vtp_quant_set_f16 (dtype, data + b * bb, h, vtp_f32_to_f16 (g_rand_double_range (r, -0.01, 0.01)));
    return data;
  }
  f = g_new (float, K);
  for (gint64 n = 0; n < N; n++) {
    guint8 *out = data + n * row;
    if (distinct > 0 && n >= distinct) {
      memcpy (out, data + (n % distinct) * row, row);
      continue;
    }
    for (gint64 k = 0; k < K; k++)
      f[k] = (float) g_rand_double_range (r, -0.5, 0.5);
    if (dtype == VTP_DTYPE_F32)
      memcpy (out, f, K * 4);
    else if (vtp_dtype_is_quantized (dtype))
      vtp_quantize_row (dtype, f, K, out);
    else
      for (gint64 k = 0; k < K; k++)
        ((guint16 *) out)[k] = dtype == VTP_DTYPE_F16 ? vtp_f32_to_f16 (f[k]) : vtp_f32_to_bf16 (f[k]);
  }
  g_free (f);
  return data;
}
