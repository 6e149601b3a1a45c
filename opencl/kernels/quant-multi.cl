/* quant-multi.cl: the int8 products whose weights differ in type (q | k |
 * v, gate | up in one launch, vtp_op_linear_multi): the per-type panel and
 * tile functions by type code. Follows quant.cl and quant-lattice.cl (all
 * the types' functions) in the program. */
#ifdef VTP_X86_VNNI
/* The panel functions by type code (vnni_type_code in vtp-linear.c:
 * q8_0, q4_0, q4_k, q5_k, q6_k, q4_1, q5_0, q5_1, q3_k, q2_k, iq4_nl, iq4_xs,
 * iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s, iq1_s, iq1_m), for products whose
 * weights differ in type. */
inline float16 vnni_panel_of (int type, __global const uchar *w, int lp, int K, const int *xq, const int *xs,
    const int *xm, const float *dx, int nb)
{
  switch (type) {
    case 0: return vnni_panel_q8_0 (row_q8_0 (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 1: return vnni_panel_q4_0 (row_q4_0 (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 2: return vnni_panel_q4_k (row_q4_k (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 3: return vnni_panel_q5_k (row_q5_k (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 4: return vnni_panel_q6_k (row_q6_k (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 5: return vnni_panel_q4_1 (row_q4_1 (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 6: return vnni_panel_q5_0 (row_q5_0 (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 7: return vnni_panel_q5_1 (row_q5_1 (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 8: return vnni_panel_q3_k (row_q3_k (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 9: return vnni_panel_q2_k (row_q2_k (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 10: return vnni_panel_iq4_nl (row_iq4_nl (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 11: return vnni_panel_iq4_xs (row_iq4_xs (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 12: return vnni_panel_iq3_xxs (row_iq3_xxs (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 13: return vnni_panel_iq3_s (row_iq3_s (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 14: return vnni_panel_iq2_xxs (row_iq2_xxs (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 15: return vnni_panel_iq2_xs (row_iq2_xs (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 16: return vnni_panel_iq2_s (row_iq2_s (w, 16 * lp, K), xq, xs, xm, dx, nb);
    case 17: return vnni_panel_iq1_s (row_iq1_s (w, 16 * lp, K), xq, xs, xm, dx, nb);
    default: return vnni_panel_iq1_m (row_iq1_m (w, 16 * lp, K), xq, xs, xm, dx, nb);
  }
}

/* Panels @lp and @lp + 1 side by side into out[0] and out[1] (the same
 * sums as vnni_panel_of's) where the type reads that way (VNNI_PAIR_<T>):
 * 1; otherwise nothing, 0. */
inline int vnni_pair_of (int type, __global const uchar *w, int lp, int K, const int *xq, const int *xs,
    const int *xm, const float *dx, int nb, float16 *out)
{
#define VNNI_PAIR_CASE(code, T)                                                \
    case code:                                                                 \
      if (!VNNI_PAIR_##T)                                                      \
        return 0;                                                              \
      vnni_pair_##T (row_##T (w, 16 * lp, K), row_##T (w, 16 * lp + 16, K), xq, xs, xm, dx, nb, out); \
      return 1;
  switch (type) {
    VNNI_PAIR_CASE (0, q8_0)
    VNNI_PAIR_CASE (1, q4_0)
    VNNI_PAIR_CASE (6, q5_0)
    VNNI_PAIR_CASE (9, q2_k)
    VNNI_PAIR_CASE (10, iq4_nl)
    default: return 0;
  }
#undef VNNI_PAIR_CASE
}

/* Panel @p of three products' panels laid one after the other (the
 * arguments w0, b0, hb0, y0, y0_off, np0, t0 and the same for 1 and 2):
 * which product, its panel lp, weights, bias, output, has-bias, type code
 * and width N. */
#define PANEL_OF_THREE(p)                                                      \
  const int which = (p) < np0 ? 0 : (p) < np0 + np1 ? 1 : 2;                  \
  const int lp = which == 0 ? (p) : which == 1 ? (p) - np0 : (p) - np0 - np1;  \
  __global const uchar *w = which == 0 ? w0 : which == 1 ? w1 : w2;           \
  __global const float *b = which == 0 ? b0 : which == 1 ? b1 : b2;           \
  __global float *y = which == 0 ? y0 + y0_off : which == 1 ? y1 + y1_off : y2 + y2_off; \
  const int hb = which == 0 ? hb0 : which == 1 ? hb1 : hb2;                   \
  const int type = which == 0 ? t0 : which == 1 ? t1 : t2;                    \
  const int N = 16 * (which == 0 ? np0 : which == 1 ? np1 : np2);

/* The tile of rows m0 .. min (m0 + 6, M) - 1 of panel @lp for a weight of type code @type
 * (vnni_type_code in vtp-linear.c), from the rows quantize_rows_q8 left in
 * @scratch. */
inline void vnni_tile_of (int type, __global const uchar *w, int lp, __global const uchar *scratch, int d_off,
    int s_off, int K, int m0, int M, float16 *acc)
{
  __global const uchar *wp;
  const int rows = min (6, M - m0);
  switch (type) {
    case 0: wp = row_q8_0 (w, 16 * lp, K); TILE_SWITCH (q8_0, rows, m0) break;
    case 1: wp = row_q4_0 (w, 16 * lp, K); TILE_SWITCH (q4_0, rows, m0) break;
    case 2: wp = row_q4_k (w, 16 * lp, K); TILE_SWITCH (q4_k, rows, m0) break;
    case 3: wp = row_q5_k (w, 16 * lp, K); TILE_SWITCH (q5_k, rows, m0) break;
    case 4: wp = row_q6_k (w, 16 * lp, K); TILE_SWITCH (q6_k, rows, m0) break;
    case 5: wp = row_q4_1 (w, 16 * lp, K); TILE_SWITCH (q4_1, rows, m0) break;
    case 6: wp = row_q5_0 (w, 16 * lp, K); TILE_SWITCH (q5_0, rows, m0) break;
    case 7: wp = row_q5_1 (w, 16 * lp, K); TILE_SWITCH (q5_1, rows, m0) break;
    case 8: wp = row_q3_k (w, 16 * lp, K); TILE_SWITCH (q3_k, rows, m0) break;
    case 9: wp = row_q2_k (w, 16 * lp, K); TILE_SWITCH (q2_k, rows, m0) break;
    case 10: wp = row_iq4_nl (w, 16 * lp, K); TILE_SWITCH (iq4_nl, rows, m0) break;
    case 11: wp = row_iq4_xs (w, 16 * lp, K); TILE_SWITCH (iq4_xs, rows, m0) break;
    case 12: wp = row_iq3_xxs (w, 16 * lp, K); TILE_SWITCH (iq3_xxs, rows, m0) break;
    case 13: wp = row_iq3_s (w, 16 * lp, K); TILE_SWITCH (iq3_s, rows, m0) break;
    case 14: wp = row_iq2_xxs (w, 16 * lp, K); TILE_SWITCH (iq2_xxs, rows, m0) break;
    case 15: wp = row_iq2_xs (w, 16 * lp, K); TILE_SWITCH (iq2_xs, rows, m0) break;
    case 16: wp = row_iq2_s (w, 16 * lp, K); TILE_SWITCH (iq2_s, rows, m0) break;
    case 17: wp = row_iq1_s (w, 16 * lp, K); TILE_SWITCH (iq1_s, rows, m0) break;
    default: wp = row_iq1_m (w, 16 * lp, K); TILE_SWITCH (iq1_m, rows, m0) break;
  }
}

/* qgemm_vnni_few3: up to three products of the same M rows of x (M = 1 ..
 * 12: the decode steps of a few streams; q | k | v, gate | up) in one
 * launch, from one int8 copy of x in @scratch: as qlinear3_vnni walks the
 * three weights' panels, each panel's M-row tile as qgemm_vnni_few_<T>
 * computes it (the same results). Every N is a multiple of 16 and y is
 * written (vtp-linear.c checks); y rows are @N0 / N1 / N2 apart. */
__kernel void qgemm_vnni_few3 (int M, int K, int P, __global const uchar *scratch, int d_off, int s_off,
    __global const uchar *w0, __global const float *b0, int hb0, __global float *y0, int y0_off, int np0, int t0,
    __global const uchar *w1, __global const float *b1, int hb1, __global float *y1, int y1_off, int np1, int t1,
    __global const uchar *w2, __global const float *b2, int hb2, __global float *y2, int y2_off, int np2, int t2)
{
  const int p0 = get_global_id (0) * P, pn = min (P, np0 + np1 + np2 - p0);
  for (int p = p0; p < p0 + pn; p++) {
    PANEL_OF_THREE (p)
    for (int m0 = 0; m0 < M; m0 += 6) {
      float16 acc[6];
      vnni_tile_of (type, w, lp, scratch, d_off, s_off, K, m0, M, acc);
      for (int i = 0; i < 6 && m0 + i < M; i++)
        store16 (acc[i], y + (size_t) (m0 + i) * N + 16 * lp, b + 16 * lp, hb, 0);
    }
  }
}

/* Up to three products of one row of x in one launch (q | k | v, gate |
 * up), each weight of its own type (t0, t1, t2: llama.cpp's Q4_K_M keeps
 * v in Q6_K in half the layers): the work-items take P panels each of the
 * three weights' panels one after the other, x quantized once per
 * work-item as above. Every N is a multiple of 16 (no tails) and y is
 * written, not added to (vtp-linear.c checks). One launch instead of
 * three, and k's and v's small products no longer stream alone (measured:
 * 0.29 MB products ran at ~17 GB/s, 6.5 MB ones at ~30). */
__kernel void qlinear3_vnni (__global const float *x, int x_off, int K, int P, int g,
    __global const uchar *w0, __global const float *b0, int hb0, __global float *y0, int y0_off, int np0, int t0,
    __global const uchar *w1, __global const float *b1, int hb1, __global float *y1, int y1_off, int np1, int t1,
    __global const uchar *w2, __global const float *b2, int hb2, __global float *y2, int y2_off, int np2, int t2)
{
  const int p0 = get_global_id (0) * P, pn = min (P, np0 + np1 + np2 - p0);
  const int nb = K / 32;
  int xq[VNNI_MAX_K / 4], xs[VNNI_MAX_K / 16], xm[VNNI_MAX_K / 64];
  float dx[VNNI_MAX_K / 32];
  quantize_x (x + x_off, nb, g, xq, xs, dx, xm);
  for (int p = p0; p < p0 + pn; p++) {
    PANEL_OF_THREE (p)
    float16 s[2];
    if (p + 1 < p0 + pn && 16 * lp + 16 < N && vnni_pair_of (type, w, lp, K, xq, xs, xm, dx, nb, s)) {
      store16_pair (s, y + 16 * lp, b + 16 * lp, hb, 0);
      p++;
      continue;
    }
    store16 (vnni_panel_of (type, w, lp, K, xq, xs, xm, dx, nb), y + 16 * lp, b + 16 * lp, hb, 0);
  }
}

#endif
