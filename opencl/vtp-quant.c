/* vtp-quant.c: host quantizers of the block types and their scale helpers
 * (the dequantizers: vtp-dequant.c); see vtp-quant.h. Every float
 * operation below is written in the order ggml's reference code does it,
 * since the aim is bit-identical results.
 *
 * On x86-64 the file is compiled a second time for AVX2 CPUs
 * (vtp-quant-avx2.c, VTP_QUANT_AVX2_BUILD: 8 lanes in the scale searches
 * instead of 4, QLANES below); that build defines only
 * vtp_quantize_row_avx2, which vtp_quantize_row calls where the CPU has
 * AVX2. */
#include <math.h>
#include <string.h>
#include "vtp-quant.h"
#include "vtp-switch.h"

#ifndef VTP_QUANT_AVX2_BUILD
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

const gint8 vtp_quant_iq4_values[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

guint8
vtp_quant_scale_q3_k (const guint8 *scales, gint i)
{
  return ((scales[i % 8] >> (4 * (i / 8))) & 0xf) | (((scales[8 + i % 4] >> (2 * (i / 4))) & 3) << 4);
}
#endif

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

/* The smallest and the largest of x[0..31], ggml's order of comparisons. */
static void
min_max32 (const float *x, float *min, float *max)
{
  *min = G_MAXFLOAT;
  *max = -G_MAXFLOAT;
  for (gint j = 0; j < VTP_QK_0; j++) {
    if (x[j] < *min)
      *min = x[j];
    if (x[j] > *max)
      *max = x[j];
  }
}

/* Q4_1 and Q5_1: an affine map of [min, max] onto 0 .. 2^bits - 1. */
static void
quantize_q4_1 (const float *x, gint64 n, VtpBlockQ4_1 *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    float min, max, d, id;
    min_max32 (x, &min, &max);
    d = (max - min) / 15.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    y[b].m = vtp_f32_to_f16 (min);
    for (gint j = 0; j < VTP_QK_0 / 2; j++) {
      const guint8 lo = MIN (15, (gint8) ((x[j] - min) * id + 0.5f));
      const guint8 hi = MIN (15, (gint8) ((x[j + VTP_QK_0 / 2] - min) * id + 0.5f));
      y[b].q[j] = lo | (hi << 4);
    }
  }
}

/* The 32 five-bit values @q of a block as Q5_0 / Q5_1 store them. */
static void
pack_q5 (const guint8 *q, guint8 *qs, guint8 *qh)
{
  guint32 h = 0;
  for (gint j = 0; j < VTP_QK_0 / 2; j++) {
    qs[j] = (q[j] & 0xf) | ((q[j + VTP_QK_0 / 2] & 0xf) << 4);
    h |= (guint32) (q[j] >> 4) << j;
    h |= (guint32) (q[j + VTP_QK_0 / 2] >> 4) << (j + VTP_QK_0 / 2);
  }
  qh[0] = h & 0xff;
  qh[1] = (h >> 8) & 0xff;
  qh[2] = (h >> 16) & 0xff;
  qh[3] = h >> 24;
}

static void
quantize_q5_0 (const float *x, gint64 n, VtpBlockQ5_0 *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    /* as Q4_0: the value of largest magnitude maps to -16 */
    float amax = 0.0f, max = 0.0f, d, id;
    guint8 q[VTP_QK_0];
    for (gint j = 0; j < VTP_QK_0; j++)
      if (amax < fabsf (x[j])) {
        amax = fabsf (x[j]);
        max = x[j];
      }
    d = max / -16.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    for (gint j = 0; j < VTP_QK_0; j++)
      q[j] = MIN (31, (gint8) (x[j] * id + 16.5f));
    pack_q5 (q, y[b].q, y[b].qh);
  }
}

static void
quantize_q5_1 (const float *x, gint64 n, VtpBlockQ5_1 *y)
{
  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    float min, max, d, id;
    guint8 q[VTP_QK_0];
    min_max32 (x, &min, &max);
    d = (max - min) / 31.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    y[b].m = vtp_f32_to_f16 (min);
    for (gint j = 0; j < VTP_QK_0; j++)
      q[j] = (guint8) ((x[j] - min) * id + 0.5f);
    pack_q5 (q, y[b].q, y[b].qh);
  }
}

/* ---- K-quants: ggml's reference method (quantize_row_q{4,5,6}_K_ref) ----
 *
 * A super-block of 256 is cut into sub-blocks; each sub-block gets the best
 * float scale (and, for Q4_K / Q5_K, min) that a small search finds, those
 * floats are themselves quantized against one f16 super-block scale, and the
 * weights are finally rounded against the scales as stored, so that the
 * integers match what dequantization will multiply. llama-quantize takes
 * exactly this path when it has no importance matrix. */

#define K_EPS 1e-15f        /* below this largest magnitude a group counts as zero */

/* Round to nearest, ties to even, for |v| < 2^22: adding 1.5 x 2^23 pushes
 * the fraction out of the mantissa, whose low bits then hold the integer
 * offset by 2^22. ggml rounds this way (not roundf), and the ties decide
 * quantized values, so it is reproduced as is. */
static inline gint
nearest_int (float v)
{
  const float shifted = v + 12582912.0f;
  gint32 bits;

  memcpy (&bits, &shifted, sizeof bits);
  return (bits & 0x007fffff) - 0x00400000;
}

/* The scale searches try many roundings of a sub-block. Their vectors hold
 * side by side either the trials of one sub-block (Q6_K's, IQ4's: trials
 * independent of each other) or the same trial of several sub-blocks
 * (qkx2_fit_lanes: each trial starts from the one before), each lane's
 * sums formed in the scalar order, so every number (and the choices among
 * them, made in trial order) is the scalar code's, bit for bit. GCC /
 * Clang vector extensions, 16 bytes (SSE2 on plain x86-64, NEON): Q4_K's
 * search 65 -> 33 ns a weight on one Zen 4 core. 8 lanes take 32 bytes,
 * which the plain x86-64 build splits into scalar operations (165 ns), so
 * 8 only in the AVX2 build: quantizing a 2048 x 5632 matrix on one Zen 4
 * core (test-quant -m perf -p /quant/speed) Q4_K 0.378 -> 0.293 s, Q6_K
 * 0.252 -> 0.175, Q2_K 0.307 -> 0.216, IQ4_XS 0.819 -> 0.690 (trials in
 * the lanes everywhere then). On one core of an Intel Xeon with AMX, the
 * qkx2 trials in the lanes / its sub-blocks in the lanes: Q4_K 0.29-0.32
 * -> 0.175 s, Q2_K 0.225-0.244 -> 0.140-0.152; 16 lanes in 32-byte
 * registers: 6x slower (GCC's split); two groups of 8 in turn (to hide
 * the sums' latency): Q2_K 0.158 against 0.148; with AVX-512, 0.112
 * against 0.137 s: not taken (a third build). */
#ifdef VTP_QUANT_AVX2_BUILD
#define QLANES 8
#else
#define QLANES 4
#endif
typedef float QLanesF __attribute__ ((vector_size (4 * QLANES)));
typedef gint32 QLanesI __attribute__ ((vector_size (4 * QLANES)));

/* nearest_int in every lane */
static inline QLanesI
lanes_nearest_int (QLanesF v)
{
  const QLanesF shifted = v + 12582912.0f;
  return ((QLanesI) shifted & 0x007fffff) - 0x00400000;
}

/* CLAMP (v, lo, hi) in every lane */
static inline QLanesI
lanes_clamp (QLanesI v, gint lo, gint hi)
{
  const QLanesI vlo = (QLanesI) {} + lo, vhi = (QLanesI) {} + hi;
  const QLanesI below = v < vlo, above = v > vhi;
  return (v & ~below & ~above) | (vlo & below) | (vhi & above);
}

/* @m ? @a : @b in every lane (@m: all ones or zero) */
static inline QLanesF
lanes_select (QLanesI m, QLanesF a, QLanesF b)
{
  return (QLanesF) (((QLanesI) a & m) | ((QLanesI) b & ~m));
}

/* The weights of the Q4_K / Q5_K fit of one sub-block of 32: the sub-block's
 * RMS plus the value's own magnitude, so that large values count more but
 * small ones are not ignored. */
static void
k4_weights (const float *x, float *w)
{
  float sum_x2 = 0.0f, av_x;

  for (gint l = 0; l < 32; l++)
    sum_x2 += x[l] * x[l];
  av_x = sqrtf (sum_x2 / 32);
  for (gint l = 0; l < 32; l++)
    w[l] = av_x + fabsf (x[l]);
}

/* Each lane's weighted error of x ~ scale l + min over @n values (lanes
 * side by side, as qkx2_fit_lanes holds them): squared, or absolute
 * (@use_mad: Q2_K's fits), summed in the scalar order. */
static inline QLanesF
lanes_fit_error (const QLanesF *x, const QLanesF *w, const QLanesF *l, gint n, gboolean use_mad, QLanesF scale,
    QLanesF min)
{
  QLanesF err = { 0 };

  for (gint i = 0; i < n; i++) {
    QLanesF diff = scale * l[i] + min - x[i];
    diff = use_mad ? (QLanesF) ((QLanesI) diff & 0x7fffffff) : diff * diff;
    err += w[i] * diff;
  }
  return err;
}

/* Scale and min (x ~ scale L - neg_min, L in 0..nmax) of QLANES sub-blocks
 * of @n, side by side: sub-block k at x + n k, its weights at w + n k, its
 * integers to L + n k, its scale and negated min to scales[k] and
 * neg_mins[k] (ggml's make_qkx2_quants; Q4_K / Q5_K: 32, squared error;
 * Q2_K: 16, absolute error). Start from the plain min-max grid, then try
 * nstep + 1 slightly stretched grids (nmax + rmin + 0.1 is levels over the
 * range), refit scale and min of each rounding by weighted least squares
 * (the min kept <= 0, so that zero stays representable) and keep the
 * rounding of smallest error (the first of equals).
 *
 * A better trial's min is the grid origin of the trials after it, so one
 * sub-block's trials form a chain. Lane k follows sub-block k's chain in
 * the scalar order (its sums too), so its numbers are the scalar code's bit
 * for bit and nothing is computed twice; with trials in the lanes instead,
 * every better trial that moved the min sent the trials beside it round
 * again (Q4_K quantized 1.7-1.8x slower so). */
static void
qkx2_fit_lanes (const float *x, const float *w, gint n, gboolean use_mad, gint nmax, float rmin, gint nstep,
    guint8 *L, float *scales, float *neg_mins)
{
  const QLanesF zero = { 0 }, one = zero + 1.0f;
  QLanesF xt[32], wt[32], lf[32];
  QLanesI l[32], best_l[32];
  QLanesF min, max, sum_w, sum_x, iscale, scale, best_error;
  QLanesI flat;

  g_assert (n <= 32);
  for (gint i = 0; i < n; i++)
    for (gint k = 0; k < QLANES; k++) {
      xt[i][k] = x[n * k + i];
      wt[i][k] = w[n * k + i];
    }
  min = max = xt[0];
  sum_w = wt[0];
  sum_x = sum_w * xt[0];
  for (gint i = 1; i < n; i++) {
    min = lanes_select (xt[i] < min, xt[i], min);
    max = lanes_select (xt[i] > max, xt[i], max);
    sum_w += wt[i];
    sum_x += wt[i] * xt[i];
  }
  min = lanes_select (min > 0, zero, min);
  /* a sub-block of one value (ggml returns at once: L = 0, scale 0): its
   * lane runs on a range of 1, no division by zero; every rounding of it is
   * 0, so no trial has a fit (D = 0) */
  flat = max == min;

  iscale = (float) nmax / lanes_select (flat, one, max - min);
  scale = 1 / iscale;
  for (gint i = 0; i < n; i++) {
    best_l[i] = lanes_clamp (lanes_nearest_int (iscale * (xt[i] - min)), 0, nmax);
    lf[i] = __builtin_convertvector (best_l[i], QLanesF);
  }
  best_error = lanes_fit_error (xt, wt, lf, n, use_mad, scale, min);

  for (gint is = 0; is <= nstep; is++) {
    QLanesF sl = zero, sl2 = zero, sxl = zero, e, D, sc, mn;
    QLanesI better;

    iscale = (rmin + 0.1f * is + (float) nmax) / lanes_select (flat, one, max - min);
    for (gint i = 0; i < n; i++) {
      l[i] = lanes_clamp (lanes_nearest_int (iscale * (xt[i] - min)), 0, nmax);
      lf[i] = __builtin_convertvector (l[i], QLanesF);
      sl += wt[i] * lf[i];
      sl2 += wt[i] * lf[i] * lf[i];
      sxl += wt[i] * lf[i] * xt[i];
    }
    D = sum_w * sl2 - sl * sl;
    sc = (sum_w * sxl - sum_x * sl) / D;
    mn = (sl2 * sum_x - sl * sxl) / D;
    sc = lanes_select (mn > 0, sxl / sl2, sc);
    mn = lanes_select (mn > 0, zero, mn);
    e = lanes_fit_error (xt, wt, lf, n, use_mad, sc, mn);
    better = (D > 0) & (e < best_error);
    for (gint i = 0; i < n; i++)
      best_l[i] = (best_l[i] & ~better) | (l[i] & better);
    best_error = lanes_select (better, e, best_error);
    scale = lanes_select (better, sc, scale);
    min = lanes_select (better, mn, min);
  }

  for (gint k = 0; k < QLANES; k++) {
    for (gint i = 0; i < n; i++)
      L[n * k + i] = best_l[i][k];
    scales[k] = flat[k] ? 0.0f : scale[k];
    neg_mins[k] = -min[k];
  }
}

/* Stores the eight 6-bit scales and mins in the layout that
 * vtp_quant_scale_min_k4 reads. The integers go through guint8 as in ggml
 * (a negative one would wrap and then clamp to 63). */
static void
k4_pack_scales (const float *scales, const float *mins, float inv_scale, float inv_min, guint8 *packed)
{
  for (gint j = 0; j < 8; j++) {
    const guint8 ls = MIN (63, (guint8) nearest_int (inv_scale * scales[j]));
    const guint8 lm = MIN (63, (guint8) nearest_int (inv_min * mins[j]));
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      packed[j - 4] |= (ls >> 4) << 6;
      packed[j] |= (lm >> 4) << 6;
    }
  }
}

/* One Q4_K / Q5_K super-block up to its integers L (0..nmax): fit every
 * sub-block, quantize the scales and mins to 6 bits against the largest of
 * each (d = max scale / 63, dmin = max min / 63, as f16), then round the
 * weights again against the scales as stored. A sub-block whose stored
 * scale is zero keeps the integers of its fit, as ggml does. */
static void
k4_quantize_block (const float *x, gint nmax, float rmin, gint nstep,
    guint16 *d_out, guint16 *dmin_out, guint8 *packed, guint8 *L)
{
  float scales[8], mins[8], w[VTP_QK_K];
  float max_scale = 0.0f, max_min = 0.0f, inv_scale, inv_min, d_all, dmin_all;

  for (gint j = 0; j < 8; j++)
    k4_weights (x + 32 * j, w + 32 * j);
  for (gint j = 0; j < 8; j += QLANES)
    qkx2_fit_lanes (x + 32 * j, w + 32 * j, 32, FALSE, nmax, rmin, nstep, L + 32 * j, scales + j, mins + j);
  for (gint j = 0; j < 8; j++) {
    if (scales[j] > max_scale)
      max_scale = scales[j];
    if (mins[j] > max_min)
      max_min = mins[j];
  }
  inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  k4_pack_scales (scales, mins, inv_scale, inv_min, packed);
  *d_out = vtp_f32_to_f16 (max_scale / 63.0f);
  *dmin_out = vtp_f32_to_f16 (max_min / 63.0f);
  d_all = vtp_f16_to_f32 (*d_out);
  dmin_all = vtp_f16_to_f32 (*dmin_out);

  for (gint j = 0; j < 8; j++) {
    guint8 sc, m;
    float d, dm;

    vtp_quant_scale_min_k4 (packed, j, &sc, &m);
    d = d_all * sc;
    if (d == 0.0f)
      continue;
    dm = dmin_all * m;
    for (gint i = 0; i < 32; i++) {
      const gint r = nearest_int ((x[32 * j + i] + dm) / d);
      L[32 * j + i] = CLAMP (r, 0, nmax);
    }
  }
}

static void
quantize_q4_k (const float *x, gint64 n, VtpBlockQ4_K *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    guint8 L[VTP_QK_K];

    k4_quantize_block (x, 15, -1.0f, 20, &y[b].d, &y[b].dmin, y[b].scales, L);
    for (gint c = 0; c < 4; c++)
      for (gint l = 0; l < 32; l++)
        y[b].q[32 * c + l] = L[64 * c + l] | (L[64 * c + 32 + l] << 4);
  }
}

static void
quantize_q5_k (const float *x, gint64 n, VtpBlockQ5_K *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    guint8 L[VTP_QK_K];

    k4_quantize_block (x, 31, -0.5f, 15, &y[b].d, &y[b].dmin, y[b].scales, L);
    memset (y[b].qh, 0, sizeof y[b].qh);
    for (gint c = 0; c < 4; c++)
      for (gint l = 0; l < 32; l++) {
        const guint8 lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        y[b].q[32 * c + l] = (lo & 0xf) | ((hi & 0xf) << 4);
        y[b].qh[l] |= ((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1));
      }
  }
}

/* The value of largest magnitude of a sub-block of 16 (the first of
 * equals), and that magnitude in @amax. */
static float
extreme16 (const float *x, float *amax)
{
  float max = 0.0f;

  *amax = 0.0f;
  for (gint i = 0; i < 16; i++)
    if (fabsf (x[i]) > *amax) {
      *amax = fabsf (x[i]);
      max = x[i];
    }
  return max;
}

/* Weighted sums of the fit x ~ scale l for the rounding l = clamp (round
 * (iscale x), -nmax, nmax - 1) of a Q6_K sub-block of 16, weights x^2
 * (the largest values matter most); the offset integers go to @L when
 * it is not NULL. */
static void
k6_round (const float *x, float iscale, gint nmax, guint8 *L, float *sumlx, float *suml2)
{
  float slx = 0.0f, sl2 = 0.0f;

  for (gint i = 0; i < 16; i++) {
    const gint r = nearest_int (iscale * x[i]), l = CLAMP (r, -nmax, nmax - 1);
    const float w = x[i] * x[i];
    if (L)
      L[i] = l + nmax;
    slx += w * x[i] * l;
    sl2 += w * l * l;
  }
  *sumlx = slx;
  *suml2 = sl2;
}

/* k6_round's sums for trials @first .. @first + QLANES - 1 of k6_fit's
 * search (trial is: iscale = -(nmax + 0.1 is) / max), one a lane. */
static inline void
k6_trials (const float *x, gint nmax, float max, gint first, QLanesF *sumlx, QLanesF *suml2)
{
  QLanesF is, iscale, slx = { 0 }, sl2 = { 0 };

  for (gint k = 0; k < QLANES; k++)
    is[k] = (float) (first + k);
  iscale = -((float) nmax + 0.1f * is) / max;
  for (gint i = 0; i < 16; i++) {
    const QLanesF l = __builtin_convertvector (lanes_clamp (lanes_nearest_int (iscale * x[i]), -nmax, nmax - 1), QLanesF);
    const float w = x[i] * x[i];
    slx += w * x[i] * l;
    sl2 += w * l * l;
  }
  *sumlx = slx;
  *suml2 = sl2;
}

/* Symmetric scale (x ~ scale (L - 32)) of one Q6_K sub-block of 16 (ggml's
 * make_qx_quants with x^2 weights): the grid puts the value of largest
 * magnitude on -32; then 18 grids of -32 -0.9..+0.9 levels are tried
 * (QLANES at a time, then compared in trial order) and the rounding with
 * the best weighted least-squares fit is kept, its scale being that fit's.
 * The scale is signed, like the extreme value. */
static float
k6_fit (const float *x, guint8 *L)
{
  const gint nmax = 32;
  float max, amax, iscale, sumlx, suml2, scale, best;

  max = extreme16 (x, &amax);
  if (amax < K_EPS) {
    memset (L, 0, 16);
    return 0.0f;
  }
  iscale = -nmax / max;
  k6_round (x, iscale, nmax, L, &sumlx, &suml2);
  scale = suml2 ? sumlx / suml2 : 0.0f;
  best = scale * sumlx;
  for (gint first = -9; first <= 9; first += QLANES) {
    QLanesF slx, sl2;

    k6_trials (x, nmax, max, first, &slx, &sl2);
    for (gint k = 0; k < QLANES && first + k <= 9; k++) {
      /* sumlx^2 / suml2 is the error reduction of the fit: compare without dividing */
      if (first + k == 0 || !(sl2[k] > 0 && slx[k] * slx[k] > best * sl2[k]))
        continue;
      k6_round (x, -(nmax + 0.1f * (first + k)) / max, nmax, L, &sumlx, &suml2);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

/* One Q6_K super-block: the 16 scales quantized to int8 against the one of
 * largest magnitude (stored as -128, d = its scale / -128, as f16), then the
 * weights rounded again against the scales as stored (a sub-block whose
 * stored scale is zero keeps the integers of its fit). A super-block whose
 * scales are all (nearly) zero is all zero bytes. */
static void
quantize_q6_k (const float *x, gint64 n, VtpBlockQ6_K *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    guint8 L[VTP_QK_K], *ql = y[b].ql, *qh = y[b].qh;
    float scales[16], max_scale = 0.0f, max_abs_scale = 0.0f, iscale, d_all;

    for (gint j = 0; j < 16; j++) {
      scales[j] = k6_fit (x + 16 * j, L + 16 * j);
      if (fabsf (scales[j]) > max_abs_scale) {
        max_abs_scale = fabsf (scales[j]);
        max_scale = scales[j];
      }
    }
    if (max_abs_scale < K_EPS) {
      memset (&y[b], 0, sizeof y[b]);
      continue;
    }
    iscale = -128.0f / max_scale;
    y[b].d = vtp_f32_to_f16 (1 / iscale);
    for (gint j = 0; j < 16; j++)
      y[b].scales[j] = (gint8) MIN (127, nearest_int (iscale * scales[j]));
    d_all = vtp_f16_to_f32 (y[b].d);
    for (gint j = 0; j < 16; j++) {
      const float d = d_all * y[b].scales[j];
      if (d == 0.0f)
        continue;
      for (gint i = 0; i < 16; i++) {
        const gint r = nearest_int (x[16 * j + i] / d);
        L[16 * j + i] = CLAMP (r, -32, 31) + 32;
      }
    }
    /* the layout dequantize_q6_k reads: halves of 128, four quarters of 32 */
    for (gint h = 0; h < 2; h++, ql += 64, qh += 32) {
      const guint8 *Lh = L + 128 * h;
      for (gint l = 0; l < 32; l++) {
        ql[l] = (Lh[l] & 0xf) | ((Lh[l + 64] & 0xf) << 4);
        ql[l + 32] = (Lh[l + 32] & 0xf) | ((Lh[l + 96] & 0xf) << 4);
        qh[l] = (Lh[l] >> 4) | ((Lh[l + 32] >> 4) << 2) | ((Lh[l + 64] >> 4) << 4) | ((Lh[l + 96] >> 4) << 6);
      }
    }
  }
}

/* The 2-bit quants of a super-block's integers @L (256, each < 4) as Q3_K
 * and Q2_K store them: element 128 h + 32 j + l at bits 2 j of qs[32 h + l]. */
static void
pack_low2 (const guint8 *L, guint8 *qs)
{
  for (gint h = 0; h < 2; h++)
    for (gint l = 0; l < 32; l++) {
      const guint8 *Lh = L + 128 * h + l;
      qs[32 * h + l] = Lh[0] | (Lh[32] << 2) | (Lh[64] << 4) | (Lh[96] << 6);
    }
}

/* Symmetric scale (x ~ scale l, l in -4..3) of one Q3_K sub-block of 16
 * (ggml's make_q3_quants with its weighted refinement): the value of largest
 * magnitude on -4, then up to 5 passes that move single integers to what
 * the fit of the others asks for while that improves the weighted (x^2)
 * least-squares fit. @L gets l + 4. */
static float
q3_fit (const float *x, guint8 *L)
{
  const gint nmax = 4;
  float max, amax, iscale, sumlx = 0.0f, suml2 = 0.0f;
  gint l8[16];

  max = extreme16 (x, &amax);
  if (amax < K_EPS) {
    memset (L, 0, 16);
    return 0.0f;
  }
  iscale = -nmax / max;
  for (gint i = 0; i < 16; i++) {
    const gint r = nearest_int (iscale * x[i]), l = CLAMP (r, -nmax, nmax - 1);
    const float w = x[i] * x[i];
    l8[i] = l;
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  for (gint pass = 0; pass < 5; pass++) {
    gint changed = 0;
    for (gint i = 0; i < 16; i++) {
      const float w = x[i] * x[i];
      float slx = sumlx - w * x[i] * l8[i];
      if (slx > 0) {
        float sl2 = suml2 - w * l8[i] * l8[i];
        const gint r = nearest_int (x[i] * sl2 / slx), nl = CLAMP (r, -nmax, nmax - 1);
        if (nl != l8[i]) {
          slx += w * x[i] * nl;
          sl2 += w * nl * nl;
          if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
            l8[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed)
      break;
  }
  for (gint i = 0; i < 16; i++)
    L[i] = l8[i] + nmax;
  return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* Q3_K (ggml's quantize_row_q3_K_ref): the 16 sub-blocks' signed scales
 * quantized to 6 bits against the one of largest magnitude (which maps to
 * -32), then the weights rounded again against the scales as stored; a
 * sub-block whose stored scale is zero keeps its fit's integers. */
static void
quantize_q3_k (const float *x, gint64 n, VtpBlockQ3_K *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    guint8 L[VTP_QK_K];
    float scales[16], max_scale = 0.0f, amax = 0.0f;

    for (gint j = 0; j < 16; j++) {
      scales[j] = q3_fit (x + 16 * j, L + 16 * j);
      if (fabsf (scales[j]) > amax) {
        amax = fabsf (scales[j]);
        max_scale = scales[j];
      }
    }
    memset (y[b].scales, 0, sizeof y[b].scales);
    if (max_scale != 0.0f) {
      const float iscale = -32.0f / max_scale;
      for (gint j = 0; j < 16; j++) {
        /* through an int8, as ggml stores it before clamping */
        const gint l = CLAMP ((gint8) nearest_int (iscale * scales[j]), -32, 31) + 32;
        y[b].scales[j % 8] |= (l & 0xf) << (4 * (j / 8));
        y[b].scales[8 + j % 4] |= (l >> 4) << (2 * (j / 4));
      }
      y[b].d = vtp_f32_to_f16 (1 / iscale);
    } else
      y[b].d = vtp_f32_to_f16 (0.0f);
    for (gint j = 0; j < 16; j++) {
      const float d = vtp_f16_to_f32 (y[b].d) * ((gint) vtp_quant_scale_q3_k (y[b].scales, j) - 32);
      if (d == 0.0f)
        continue;
      for (gint i = 0; i < 16; i++) {
        const gint r = nearest_int (x[16 * j + i] / d);
        L[16 * j + i] = CLAMP (r, -4, 3) + 4;
      }
    }
    /* the third bit of element e to bit e / 32 of hmask[e % 32] */
    memset (y[b].hmask, 0, sizeof y[b].hmask);
    for (gint e = 0; e < VTP_QK_K; e++)
      if (L[e] > 3) {
        y[b].hmask[e % 32] |= 1 << (e / 32);
        L[e] -= 4;
      }
    pack_low2 (L, y[b].qs);
  }
}

/* Q2_K (ggml's quantize_row_q2_K_ref): each sub-block of 16 fitted as
 * scale L - min (L 0..3, weights |x|, absolute error), scales and mins
 * quantized to 4 bits against the largest of each, then the weights rounded
 * again against them as stored. */
static void
quantize_q2_k (const float *x, gint64 n, VtpBlockQ2_K *y)
{
  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    guint8 L[VTP_QK_K];
    float scales[16], mins[16], w[VTP_QK_K], max_scale = 0.0f, max_min = 0.0f;

    for (gint i = 0; i < VTP_QK_K; i++)
      w[i] = fabsf (x[i]);
    for (gint j = 0; j < 16; j += QLANES)
      qkx2_fit_lanes (x + 16 * j, w + 16 * j, 16, TRUE, 3, -0.5f, 15, L + 16 * j, scales + j, mins + j);
    for (gint j = 0; j < 16; j++) {
      if (scales[j] > max_scale)
        max_scale = scales[j];
      if (mins[j] > max_min)
        max_min = mins[j];
    }
    memset (y[b].scales, 0, sizeof y[b].scales);
    y[b].d = vtp_f32_to_f16 (max_scale > 0 ? max_scale / 15.0f : 0.0f);
    y[b].dmin = vtp_f32_to_f16 (max_min > 0 ? max_min / 15.0f : 0.0f);
    if (max_scale > 0)
      for (gint j = 0; j < 16; j++)
        y[b].scales[j] = nearest_int (15.0f / max_scale * scales[j]);
    if (max_min > 0)
      for (gint j = 0; j < 16; j++)
        y[b].scales[j] |= nearest_int (15.0f / max_min * mins[j]) << 4;
    for (gint j = 0; j < 16; j++) {
      const float d = vtp_f16_to_f32 (y[b].d) * (y[b].scales[j] & 0xf);
      float dm;
      if (d == 0.0f)
        continue;
      dm = vtp_f16_to_f32 (y[b].dmin) * (y[b].scales[j] >> 4);
      for (gint i = 0; i < 16; i++) {
        const gint r = nearest_int ((x[16 * j + i] + dm) / d);
        L[16 * j + i] = CLAMP (r, 0, 3);
      }
    }
    pack_low2 (L, y[b].qs);
  }
}

/* IQ4's rounding to its table: ggml's best_index_int8 bisects to the two
 * values around x and takes the lower one only when strictly nearer, the
 * two distances rounded as floats (ties decide indices, so that rule is
 * kept). Between values a < b that choice is monotone in x (x - a rounds
 * up as x grows, b - x down), so it is x >= T for one float T: the
 * smallest x in [a, b) whose rounded distance to a is not below its
 * distance to b. With the 15 such thresholds the index is the number of
 * thresholds at or below x, counted with vector compares (the quantizers
 * round 17 times a weight: 2048 x 5632 on one core took 2.5 s with the
 * bisection, 0.84 with a branch-free one, 0.72-0.76 so). */
typedef struct {
  QLanesF t[16 / QLANES];   /* the thresholds in order, the 16th NaN (never at or below) */
} Iq4Thresholds;

static void
iq4_find_thresholds (Iq4Thresholds *th)
{
  const gint8 *v = vtp_quant_iq4_values;

  for (gint i = 0; i < 15; i++) {
    const float a = v[i], b = v[i + 1];
    float x = (a + b) / 2;
    while (x > a && nextafterf (x, a) - a >= b - nextafterf (x, a))
      x = nextafterf (x, a);
    while (!(x - a >= b - x))
      x = nextafterf (x, b);
    th->t[i / QLANES][i % QLANES] = x;
  }
  th->t[15 / QLANES][15 % QLANES] = NAN;
}

/* The thresholds, found on first use (the quantizers run on several
 * threads at once). */
static const Iq4Thresholds *
iq4_thresholds (void)
{
  static Iq4Thresholds th;
  static gsize done = 0;

  if (g_once_init_enter (&done)) {
    iq4_find_thresholds (&th);
    g_once_init_leave (&done, 1);
  }
  return &th;
}

/* The index of the IQ4 value @x rounds to (NaN: 15, where the bisection
 * ends). */
static inline gint
iq4_nearest (const Iq4Thresholds *th, float x)
{
  QLanesI c = { 0 };
  gint n = 0;

  for (gint k = 0; k < 16 / QLANES; k++)
    c += x >= th->t[k];
  for (gint l = 0; l < QLANES; l++)
    n -= c[l];
  return x != x ? 15 : n;
}

/* Sums of w q x and w q^2 over a block of 32 whose values are mapped to the
 * table by the inverse scale @id (w = x^2: llama-quantize's weights without
 * an importance matrix). */
static void
iq4_sums (const Iq4Thresholds *th, const float *x, float id, float *sumqx, float *sumq2)
{
  *sumqx = *sumq2 = 0.0f;
  for (gint j = 0; j < 32; j++) {
    const gint l = iq4_nearest (th, id * x[j]);
    const float q = vtp_quant_iq4_values[l], w = x[j] * x[j];
    *sumqx += w * q * x[j];
    *sumq2 += w * q * q;
  }
}

/* The scale of one block of 32 for the IQ4 table (ggml's
 * quantize_row_iq4_nl_impl with ntry = 7, what llama-quantize runs): the
 * least-squares scale of the mapping that puts the value of largest
 * magnitude on the table's end, then of 15 mappings around it (its
 * magnitude on -134..-120), the best kept. 0 for a block that counts as
 * zero. */
static float
iq4_fit (const Iq4Thresholds *th, const float *x)
{
  const gint8 *v = vtp_quant_iq4_values;
  float amax = 0.0f, max = 0.0f, d, sumqx, sumq2, best;

  for (gint j = 0; j < 32; j++)
    if (fabsf (x[j]) > amax) {
      amax = fabsf (x[j]);
      max = x[j];
    }
  if (amax < K_EPS)
    return 0.0f;
  d = -max / v[0];
  iq4_sums (th, x, 1 / d, &sumqx, &sumq2);
  d = sumq2 > 0 ? sumqx / sumq2 : 0.0f;
  best = d * sumqx;
  for (gint t = -7; t <= 7; t++) {
    iq4_sums (th, x, (t + v[0]) / max, &sumqx, &sumq2);
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      d = sumqx / sumq2;
      best = d * sumqx;
    }
  }
  return d;
}

/* A block's 32 indices @L in IQ4's nibble order (as Q4_0's). */
static void
iq4_pack (const guint8 *L, guint8 *q)
{
  for (gint j = 0; j < 16; j++)
    q[j] = L[j] | (L[16 + j] << 4);
}

static void
quantize_iq4_nl (const float *x, gint64 n, VtpBlockIQ4_NL *y)
{
  const Iq4Thresholds *th = iq4_thresholds ();

  for (gint64 b = 0; b < n / VTP_QK_0; b++, x += VTP_QK_0) {
    const float d = iq4_fit (th, x), id = d != 0.0f ? 1 / d : 0.0f;
    guint8 L[32];

    y[b].d = vtp_f32_to_f16 (d);
    for (gint j = 0; j < 32; j++)
      L[j] = iq4_nearest (th, id * x[j]);
    iq4_pack (L, y[b].q);
  }
}

/* IQ4_XS: each sub-block's scale fitted as IQ4_NL's, then the scales as
 * 6-bit multiples of d = -(the scale of largest magnitude) / 32, and the
 * indices found again for the rounded scale. */
static void
quantize_iq4_xs (const float *x, gint64 n, VtpBlockIQ4_XS *y)
{
  const Iq4Thresholds *th = iq4_thresholds ();

  for (gint64 b = 0; b < n / VTP_QK_K; b++, x += VTP_QK_K) {
    float scales[8], max_scale = 0.0f, amax_scale = 0.0f, d, id;
    guint16 scales_h = 0;

    for (gint i = 0; i < 8; i++) {
      scales[i] = iq4_fit (th, x + 32 * i);
      if (fabsf (scales[i]) > amax_scale) {
        amax_scale = fabsf (scales[i]);
        max_scale = scales[i];
      }
    }
    d = -max_scale / 32;
    id = d != 0.0f ? 1 / d : 0.0f;
    y[b].d = vtp_f32_to_f16 (d);
    memset (y[b].scales_l, 0, sizeof y[b].scales_l);
    for (gint i = 0; i < 8; i++) {
      const gint l = CLAMP (nearest_int (id * scales[i]), -32, 31);
      const float dl = d * l, idl = dl != 0.0f ? 1 / dl : 0.0f;
      guint8 L[32];

      for (gint j = 0; j < 32; j++)
        L[j] = iq4_nearest (th, idl * x[32 * i + j]);
      iq4_pack (L, y[b].q + 16 * i);
      y[b].scales_l[i / 2] |= ((l + 32) & 0xf) << (4 * (i % 2));
      scales_h |= ((l + 32) >> 4) << (2 * i);
    }
    y[b].scales_h = GUINT16_TO_LE (scales_h);
  }
}

#ifndef VTP_QUANT_AVX2_BUILD
gboolean
vtp_quant_can_quantize (VtpDType type)
{
  switch (type) {
    case VTP_DTYPE_Q8_0: case VTP_DTYPE_Q4_0: case VTP_DTYPE_Q4_1: case VTP_DTYPE_Q5_0: case VTP_DTYPE_Q5_1:
    case VTP_DTYPE_Q4_K: case VTP_DTYPE_Q5_K: case VTP_DTYPE_Q6_K: case VTP_DTYPE_Q3_K: case VTP_DTYPE_Q2_K:
    case VTP_DTYPE_IQ4_NL: case VTP_DTYPE_IQ4_XS:
      return TRUE;
    default:
      return FALSE;
  }
}

gint
vtp_quant_f16_count (VtpDType t)
{
  switch (t) {
    case VTP_DTYPE_Q4_K: case VTP_DTYPE_Q5_K: case VTP_DTYPE_Q4_1: case VTP_DTYPE_Q5_1: case VTP_DTYPE_Q2_K:
      return 2;
    default:
      return vtp_dtype_is_quantized (t) ? 1 : 0;
  }
}

void
vtp_quant_set_f16 (VtpDType t, guint8 *block, gint i, guint16 v)
{
  g_return_if_fail (i >= 0 && i < vtp_quant_f16_count (t));
  if (t == VTP_DTYPE_IQ1_M) {
    /* bits 4 k .. 4 k + 3 of d in the top nibble of scale word k */
    for (gint k = 0; k < 4; k++) {
      guint8 *hi = block + G_STRUCT_OFFSET (VtpBlockIQ1_M, scales) + 2 * k + 1;
      *hi = (*hi & 0x0f) | (((v >> (4 * k)) & 0xf) << 4);
    }
    return;
  }
  const gsize at = t == VTP_DTYPE_Q6_K ? 208 : t == VTP_DTYPE_Q3_K ? 108 : t == VTP_DTYPE_Q2_K ? 80 : 0;
  const guint16 le = GUINT16_TO_LE (v);
  memcpy (block + at + 2 * i, &le, 2);
}

#endif

static gboolean
quantize_row (VtpDType type, const float *x, gint64 n, void *out)
{
  switch (type) {
    case VTP_DTYPE_Q8_0: quantize_q8_0 (x, n, out); return TRUE;
    case VTP_DTYPE_Q4_0: quantize_q4_0 (x, n, out); return TRUE;
    case VTP_DTYPE_Q4_K: quantize_q4_k (x, n, out); return TRUE;
    case VTP_DTYPE_Q5_K: quantize_q5_k (x, n, out); return TRUE;
    case VTP_DTYPE_Q6_K: quantize_q6_k (x, n, out); return TRUE;
    case VTP_DTYPE_Q4_1: quantize_q4_1 (x, n, out); return TRUE;
    case VTP_DTYPE_Q5_0: quantize_q5_0 (x, n, out); return TRUE;
    case VTP_DTYPE_Q5_1: quantize_q5_1 (x, n, out); return TRUE;
    case VTP_DTYPE_Q3_K: quantize_q3_k (x, n, out); return TRUE;
    case VTP_DTYPE_Q2_K: quantize_q2_k (x, n, out); return TRUE;
    case VTP_DTYPE_IQ4_NL: quantize_iq4_nl (x, n, out); return TRUE;
    case VTP_DTYPE_IQ4_XS: quantize_iq4_xs (x, n, out); return TRUE;
    default: return FALSE;
  }
}

#ifdef VTP_QUANT_AVX2_BUILD
gboolean vtp_quantize_row_avx2 (VtpDType type, const float *x, gint64 n, void *out);

gboolean
vtp_quantize_row_avx2 (VtpDType type, const float *x, gint64 n, void *out)
{
  return quantize_row (type, x, n, out);
}
#else
#ifdef VTP_HAVE_QUANT_AVX2
gboolean vtp_quantize_row_avx2 (VtpDType type, const float *x, gint64 n, void *out);

/* The AVX2 build where the CPU has AVX2, unless $VTP_QUANT_AVX2 is 0
 * (tests/meson.build's quant-portable checks the other build's bytes). */
static gboolean
use_avx2 (void)
{
  return __builtin_cpu_supports ("avx2") && vtp_switch_on ("VTP_QUANT_AVX2");
}
#endif

gboolean
vtp_quantize_row (VtpDType type, const float *x, gint64 n, void *out)
{
  g_return_val_if_fail (n % vtp_dtype_block_elements (type) == 0, FALSE);
#ifdef VTP_HAVE_QUANT_AVX2
  if (use_avx2 ())
    return vtp_quantize_row_avx2 (type, x, n, out);
#endif
  return quantize_row (type, x, n, out);
}
#endif
