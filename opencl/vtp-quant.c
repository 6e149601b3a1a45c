/* vtp-quant.c: host quantizers and dequantizers of the block types; see
 * vtp-quant.h. Every float operation below is written in the order ggml's
 * reference code does it, since the aim is bit-identical results. */
#include <math.h>
#include <string.h>
#include "vtp-quant.h"

void
vtp_quant_scale_min_k4 (const guint8 *q, gint j, guint8 *scale, guint8 *min)
{
  /* bytes 0-3: low 6 bits scales 0-3, top 2 bits the high bits of scales
   * 4-7; bytes 4-7 the same for the mins; bytes 8-11: low nibble the low
   * bits of scales 4-7, high nibble those of mins 4-7 */
  if (j < 4) {
    *scale = q[j] & 63;
    *min = q[j + 4] & 63;
  } else {
    *scale = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
    *min = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

/* C's roundf (half away from zero), as ggml's reference uses. */
static void
quantize_q8_0 (const float *x, gint64 n, VtpBlockQ8_0 *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    float amax = 0.0f, d, id;
    for (gint j = 0; j < VTP_QK_0; j++)
      amax = MAX (amax, fabsf (x[j]));
    d = amax / 127.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    for (gint j = 0; j < VTP_QK_0; j++)
      y[b].q[j] = (gint8) roundf (x[j] * id);
  }
}

static void
quantize_q4_0 (const float *x, gint64 n, VtpBlockQ4_0 *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    /* the value of largest magnitude (the first of equals) maps to -8, so
     * that the full range -8..7 is used on its side */
    float amax = 0.0f, max = 0.0f, d, id;
    for (gint j = 0; j < VTP_QK_0; j++)
      if (amax < fabsf (x[j])) {
        amax = fabsf (x[j]);
        max = x[j];
      }
    d = max / -8.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    for (gint j = 0; j < VTP_QK_0 / 2; j++) {
      const guint8 lo = MIN (15, (gint8) (x[j] * id + 8.5f));
      const guint8 hi = MIN (15, (gint8) (x[j + VTP_QK_0 / 2] * id + 8.5f));
      y[b].q[j] = lo | (hi << 4);
    }
  }
}

gboolean
vtp_quant_can_quantize (VtpDType type)
{
  return type == VTP_DTYPE_Q8_0 || type == VTP_DTYPE_Q4_0;
}

gboolean
vtp_quantize_row (VtpDType type, const float *x, gint64 n, void *out)
{
  g_return_val_if_fail (n % vtp_dtype_block_elements (type) == 0, FALSE);
  switch (type) {
    case VTP_DTYPE_Q8_0: quantize_q8_0 (x, n, out); return TRUE;
    case VTP_DTYPE_Q4_0: quantize_q4_0 (x, n, out); return TRUE;
    default: return FALSE;
  }
}

static void
dequantize_q8_0 (const VtpBlockQ8_0 *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint j = 0; j < VTP_QK_0; j++)
      *y++ = x[b].q[j] * d;
  }
}

static void
dequantize_q4_0 (const VtpBlockQ4_0 *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, y += VTP_QK_0) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint j = 0; j < VTP_QK_0 / 2; j++) {
      y[j] = ((x[b].q[j] & 0xf) - 8) * d;
      y[j + VTP_QK_0 / 2] = ((x[b].q[j] >> 4) - 8) * d;
    }
  }
}

static void
dequantize_q4_k (const VtpBlockQ4_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d), dmin = vtp_f16_to_f32 (x[b].dmin);
    const guint8 *q = x[b].q;
    for (gint c = 0; c < 4; c++, q += 32) {
      guint8 s1, m1, s2, m2;
      vtp_quant_scale_min_k4 (x[b].scales, 2 * c, &s1, &m1);
      vtp_quant_scale_min_k4 (x[b].scales, 2 * c + 1, &s2, &m2);
      {
        const float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
        for (gint l = 0; l < 32; l++)
          *y++ = d1 * (q[l] & 0xf) - mm1;
        for (gint l = 0; l < 32; l++)
          *y++ = d2 * (q[l] >> 4) - mm2;
      }
    }
  }
}

static void
dequantize_q5_k (const VtpBlockQ5_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d), dmin = vtp_f16_to_f32 (x[b].dmin);
    const guint8 *q = x[b].q;
    for (gint c = 0; c < 4; c++, q += 32) {
      const guint8 u1 = 1 << (2 * c), u2 = 2 << (2 * c);
      guint8 s1, m1, s2, m2;
      vtp_quant_scale_min_k4 (x[b].scales, 2 * c, &s1, &m1);
      vtp_quant_scale_min_k4 (x[b].scales, 2 * c + 1, &s2, &m2);
      {
        const float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
        for (gint l = 0; l < 32; l++)
          *y++ = d1 * ((q[l] & 0xf) + (x[b].qh[l] & u1 ? 16 : 0)) - mm1;
        for (gint l = 0; l < 32; l++)
          *y++ = d2 * ((q[l] >> 4) + (x[b].qh[l] & u2 ? 16 : 0)) - mm2;
      }
    }
  }
}

static void
dequantize_q6_k (const VtpBlockQ6_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    const guint8 *ql = x[b].ql, *qh = x[b].qh;
    const gint8 *sc = x[b].scales;
    /* two halves of 128: element l (< 32) of each quarter takes its low bits
     * from ql[l] / ql[l + 32] (low or high nibble) and its high bits from
     * qh[l] (2 bits per quarter) */
    for (gint h = 0; h < 2; h++, y += 128, ql += 64, qh += 32, sc += 8)
      for (gint l = 0; l < 32; l++) {
        const gint is = l / 16;
        const gint q1 = (gint) ((ql[l] & 0xf) | ((qh[l] & 3) << 4)) - 32;
        const gint q2 = (gint) ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const gint q3 = (gint) ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const gint q4 = (gint) ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
  }
}

void
vtp_dequantize_row (VtpDType type, const void *in, gint64 n, float *out)
{
  g_return_if_fail (n % vtp_dtype_block_elements (type) == 0);
  switch (type) {
    case VTP_DTYPE_Q8_0: dequantize_q8_0 (in, n, out); break;
    case VTP_DTYPE_Q4_0: dequantize_q4_0 (in, n, out); break;
    case VTP_DTYPE_Q4_K: dequantize_q4_k (in, n, out); break;
    case VTP_DTYPE_Q5_K: dequantize_q5_k (in, n, out); break;
    case VTP_DTYPE_Q6_K: dequantize_q6_k (in, n, out); break;
    default: g_return_if_reached ();
  }
}
