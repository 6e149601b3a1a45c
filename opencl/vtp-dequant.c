/* vtp-dequant.c: host dequantizers of the block types (bit-exact against
 * ggml's dequantize_row_*: the products are formed in its order); see
 * vtp-quant.h. */
#include <string.h>
#include "vtp-quant.h"

/* The lattice tables of the IQ3 / IQ2 / IQ1 types (generated; also the kernels') */
#define VTP_IQ_TABLE static const
#include "kernels/iq-grids.cl"

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
dequantize_q4_1 (const VtpBlockQ4_1 *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, y += VTP_QK_0) {
    const float d = vtp_f16_to_f32 (x[b].d), m = vtp_f16_to_f32 (x[b].m);
    for (gint j = 0; j < VTP_QK_0 / 2; j++) {
      y[j] = (x[b].q[j] & 0xf) * d + m;
      y[j + VTP_QK_0 / 2] = (x[b].q[j] >> 4) * d + m;
    }
  }
}

/* Element j's five bits from Q5_0 / Q5_1's nibbles @q and bits @qh. */
static inline gint
q5_at (const guint8 *q, const guint8 *qh, gint j)
{
  const gint lo = j < VTP_QK_0 / 2 ? q[j] & 0xf : q[j - VTP_QK_0 / 2] >> 4;
  return lo | (((qh[j / 8] >> (j % 8)) & 1) << 4);
}

static void
dequantize_q5_0 (const VtpBlockQ5_0 *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint j = 0; j < VTP_QK_0; j++)
      *y++ = (q5_at (x[b].q, x[b].qh, j) - 16) * d;
  }
}

static void
dequantize_q5_1 (const VtpBlockQ5_1 *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++) {
    const float d = vtp_f16_to_f32 (x[b].d), m = vtp_f16_to_f32 (x[b].m);
    for (gint j = 0; j < VTP_QK_0; j++)
      *y++ = q5_at (x[b].q, x[b].qh, j) * d + m;
  }
}

/* Q3_K and Q2_K: as ggml's dequantize_row_q3_K / q2_K, a float factor per
 * sub-block of 16 (dl, and Q2_K's ml) times the integer quants. */
static void
dequantize_q3_k (const VtpBlockQ3_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint e0 = 0; e0 < VTP_QK_K; e0 += 16) {
      const gint h = e0 / 128, j = (e0 % 128) / 32;
      const float dl = d * ((gint) vtp_quant_scale_q3_k (x[b].scales, e0 / 16) - 32);
      for (gint l = e0 % 32; l < e0 % 32 + 16; l++) {
        const gint q = (x[b].qs[32 * h + l] >> (2 * j)) & 3;
        *y++ = dl * (q - (x[b].hmask[l] & (1 << (4 * h + j)) ? 0 : 4));
      }
    }
  }
}

static void
dequantize_q2_k (const VtpBlockQ2_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d), dmin = vtp_f16_to_f32 (x[b].dmin);
    for (gint e0 = 0; e0 < VTP_QK_K; e0 += 16) {
      const gint h = e0 / 128, j = (e0 % 128) / 32, sc = x[b].scales[e0 / 16];
      const float dl = d * (sc & 0xf), ml = dmin * (sc >> 4);
      for (gint l = e0 % 32; l < e0 % 32 + 16; l++)
        *y++ = dl * ((x[b].qs[32 * h + l] >> (2 * j)) & 3) - ml;
    }
  }
}

static void
dequantize_iq4_nl (const VtpBlockIQ4_NL *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, y += VTP_QK_0) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint j = 0; j < VTP_QK_0 / 2; j++) {
      y[j] = d * vtp_quant_iq4_values[x[b].q[j] & 0xf];
      y[j + VTP_QK_0 / 2] = d * vtp_quant_iq4_values[x[b].q[j] >> 4];
    }
  }
}

static void
dequantize_iq4_xs (const VtpBlockIQ4_XS *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint i = 0; i < 8; i++, y += 32) {
      const gint ls = ((x[b].scales_l[i / 2] >> (4 * (i % 2))) & 0xf)
          | (((GUINT16_FROM_LE (x[b].scales_h) >> (2 * i)) & 3) << 4);
      const float dl = d * (ls - 32);
      const guint8 *q = x[b].q + 16 * i;
      for (gint j = 0; j < 16; j++) {
        y[j] = dl * vtp_quant_iq4_values[q[j] & 0xf];
        y[j + 16] = dl * vtp_quant_iq4_values[q[j] >> 4];
      }
    }
  }
}

/* The eight sign bits of a 7-bit sign index of IQ3_XXS, IQ2_XXS and IQ2_XS:
 * the eighth makes the count of negatives even (ggml's ksigns_iq2xs). */
static guint
iq_signs (guint s7)
{
  return s7 | ((guint) __builtin_parity (s7) << 7);
}

/* Elements e0 .. e0 + n - 1 of a group: the bytes of grid entry @g, negated
 * where bit e of @signs is set, times db (exact: the products have at most
 * 22 significant bits). */
static void
iq_group (const guint8 *g, guint signs, float db, gint n, float *y)
{
  for (gint e = 0; e < n; e++)
    y[e] = db * g[e] * (signs & (1u << e) ? -1.0f : 1.0f);
}

/* A little-endian word at any byte (the blocks' words are not aligned). */
static guint32
le32_at (const guint8 *p)
{
  guint32 w;
  memcpy (&w, p, 4);
  return GUINT32_FROM_LE (w);
}

static void
dequantize_iq3_xxs (const VtpBlockIQ3_XXS *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint i = 0; i < 8; i++) {
      const guint32 sas = le32_at (x[b].sas + 4 * i);
      const float db = d * (0.5f + (sas >> 28)) * 0.5f;
      for (gint l = 0; l < 4; l++, y += 8) {
        const guint s = iq_signs ((sas >> (7 * l)) & 127);
        const guint32 g0 = GUINT32_TO_LE (vtp_iq3xxs_grid[x[b].qs[8 * i + 2 * l]]);
        const guint32 g1 = GUINT32_TO_LE (vtp_iq3xxs_grid[x[b].qs[8 * i + 2 * l + 1]]);
        iq_group ((const guint8 *) &g0, s, db, 4, y);
        iq_group ((const guint8 *) &g1, s >> 4, db, 4, y + 4);
      }
    }
  }
}

static void
dequantize_iq3_s (const VtpBlockIQ3_S *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint i = 0; i < 8; i++) {
      const float db = d * (1 + 2 * ((x[b].scales[i / 2] >> (4 * (i % 2))) & 15));
      for (gint k = 0; k < 8; k++, y += 4) {
        const guint idx = x[b].qs[8 * i + k] | (((x[b].qh[i] >> k) & 1u) << 8);
        const guint32 g = GUINT32_TO_LE (vtp_iq3s_grid[idx]);
        iq_group ((const guint8 *) &g, x[b].signs[4 * i + k / 2] >> (4 * (k % 2)), db, 4, y);
      }
    }
  }
}

/* An IQ2 group: entry @idx of @grid (two words a entry), 8 elements. */
static void
iq2_group (const guint32 *grid, guint idx, guint signs, float db, float *y)
{
  const guint32 g[2] = { GUINT32_TO_LE (grid[2 * idx]), GUINT32_TO_LE (grid[2 * idx + 1]) };
  iq_group ((const guint8 *) g, signs, db, 8, y);
}

static void
dequantize_iq2_xxs (const VtpBlockIQ2_XXS *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint i = 0; i < 8; i++) {
      const guint8 *q = x[b].qs + 8 * i;
      const guint32 sas = le32_at (q + 4);
      const float db = d * (0.5f + (sas >> 28)) * 0.25f;
      for (gint l = 0; l < 4; l++, y += 8)
        iq2_group (vtp_iq2xxs_grid, q[l], iq_signs ((sas >> (7 * l)) & 127), db, y);
    }
  }
}

static void
dequantize_iq2_xs (const VtpBlockIQ2_XS *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint l = 0; l < 32; l++, y += 8) {
      const guint q = GUINT16_FROM_LE (x[b].qs[l]);
      const float db = d * (0.5f + ((x[b].scales[l / 4] >> (4 * (l % 4 / 2))) & 15)) * 0.25f;
      iq2_group (vtp_iq2xs_grid, q & 511, iq_signs (q >> 9), db, y);
    }
  }
}

static void
dequantize_iq2_s (const VtpBlockIQ2_S *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint l = 0; l < 32; l++, y += 8) {
      const guint idx = x[b].qs[l] | (((x[b].qh[l / 4] >> (2 * (l % 4))) & 3u) << 8);
      const float db = d * (0.5f + ((x[b].scales[l / 4] >> (4 * (l % 4 / 2))) & 15)) * 0.25f;
      iq2_group (vtp_iq2s_grid, idx, x[b].signs[l], db, y);
    }
  }
}

/* An IQ1 group: entry @idx of vtp_iq1s_grid (bytes 8 g + 128), 8 elements
 * dl (g + delta), ggml's products (exact) */
static void
iq1_group (guint idx, float dl, float delta, float *y)
{
  const guint32 w[2] = { GUINT32_TO_LE (vtp_iq1s_grid[2 * idx]), GUINT32_TO_LE (vtp_iq1s_grid[2 * idx + 1]) };
  const guint8 *g = (const guint8 *) w;
  for (gint e = 0; e < 8; e++)
    y[e] = dl * ((float) (((gint) g[e] - 128) / 8) + delta);
}

static void
dequantize_iq1_s (const VtpBlockIQ1_S *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    const float d = vtp_f16_to_f32 (x[b].d);
    for (gint i = 0; i < 8; i++) {
      const guint qh = GUINT16_FROM_LE (x[b].qh[i]);
      const float dl = d * (2 * ((qh >> 12) & 7) + 1), delta = qh & 0x8000 ? -0.125f : 0.125f;
      for (gint k = 0; k < 4; k++, y += 8)
        iq1_group (x[b].qs[4 * i + k] | (((qh >> (3 * k)) & 7) << 8), dl, delta, y);
    }
  }
}

static void
dequantize_iq1_m (const VtpBlockIQ1_M *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++) {
    guint16 sc[4], dbits = 0;
    for (gint k = 0; k < 4; k++) {
      sc[k] = x[b].scales[2 * k] | (x[b].scales[2 * k + 1] << 8);
      dbits |= (sc[k] >> 12) << (4 * k);
    }
    const float d = vtp_f16_to_f32 (dbits);
    for (gint l = 0; l < 32; l++, y += 8) {
      const gint h = l / 2;       /* the 16 elements' scale */
      const guint q = x[b].qh[l / 2] >> (4 * (l % 2));
      const float dl = d * (2 * ((sc[h / 4] >> (3 * (h % 4))) & 7) + 1), delta = q & 8 ? -0.125f : 0.125f;
      iq1_group (x[b].qs[l] | ((q & 7) << 8), dl, delta, y);
    }
  }
}

/* Q4_K and Q5_K (@qh: Q5_K's fifth bits, NULL for Q4_K: its quants are
 * the same integers plus 0, so one float order serves both). */
static void
dequantize_k4 (const guint8 *scales, guint16 d16, guint16 dmin16, const guint8 *q, const guint8 *qh, float *y)
{
  const float d = vtp_f16_to_f32 (d16), dmin = vtp_f16_to_f32 (dmin16);

  for (gint c = 0; c < 4; c++, q += 32) {
    const guint8 u1 = 1 << (2 * c), u2 = 2 << (2 * c);
    guint8 s1, m1, s2, m2;
    vtp_quant_scale_min_k4 (scales, 2 * c, &s1, &m1);
    vtp_quant_scale_min_k4 (scales, 2 * c + 1, &s2, &m2);
    {
      const float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
      for (gint l = 0; l < 32; l++)
        *y++ = d1 * ((q[l] & 0xf) + (qh && qh[l] & u1 ? 16 : 0)) - mm1;
      for (gint l = 0; l < 32; l++)
        *y++ = d2 * ((q[l] >> 4) + (qh && qh[l] & u2 ? 16 : 0)) - mm2;
    }
  }
}

static void
dequantize_q4_k (const VtpBlockQ4_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, y += VTP_QK_K)
    dequantize_k4 (x[b].scales, x[b].d, x[b].dmin, x[b].q, NULL, y);
}

static void
dequantize_q5_k (const VtpBlockQ5_K *x, gint64 n, float *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, y += VTP_QK_K)
    dequantize_k4 (x[b].scales, x[b].d, x[b].dmin, x[b].q, x[b].qh, y);
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
    case VTP_DTYPE_Q4_1: dequantize_q4_1 (in, n, out); break;
    case VTP_DTYPE_Q5_0: dequantize_q5_0 (in, n, out); break;
    case VTP_DTYPE_Q5_1: dequantize_q5_1 (in, n, out); break;
    case VTP_DTYPE_Q3_K: dequantize_q3_k (in, n, out); break;
    case VTP_DTYPE_Q2_K: dequantize_q2_k (in, n, out); break;
    case VTP_DTYPE_IQ4_NL: dequantize_iq4_nl (in, n, out); break;
    case VTP_DTYPE_IQ4_XS: dequantize_iq4_xs (in, n, out); break;
    case VTP_DTYPE_IQ3_XXS: dequantize_iq3_xxs (in, n, out); break;
    case VTP_DTYPE_IQ3_S: dequantize_iq3_s (in, n, out); break;
    case VTP_DTYPE_IQ2_XXS: dequantize_iq2_xxs (in, n, out); break;
    case VTP_DTYPE_IQ2_XS: dequantize_iq2_xs (in, n, out); break;
    case VTP_DTYPE_IQ2_S: dequantize_iq2_s (in, n, out); break;
    case VTP_DTYPE_IQ1_S: dequantize_iq1_s (in, n, out); break;
    case VTP_DTYPE_IQ1_M: dequantize_iq1_m (in, n, out); break;
    default: g_return_if_reached ();
  }
}
