/* quant-multi.cl: the int8 products whose weights differ in type (q | k |
 * v, gate | up in one launch, vtp_op_linear_multi): the per-type panel and
 * tile functions by type code. Follows quant.cl and quant-lattice.cl (all
 * the types' functions) in the program. */
#ifdef VTP_X86_INT8
/* The int8 types by type code (vnni_type_code in vtp-linear.c), the last
 * one (VNNI_LAST_TYPE) aside: it is each switch's default. With AVX2 alone
 * the lattice types (codes 12 .. 18) have no int8 functions
 * (quant-lattice.cl; vtp-linear.c does not ask for them). */
#ifdef VTP_X86_VNNI
#define VNNI_TYPE_CODES(X)                                                     \
  X (0, q8_0) X (1, q4_0) X (2, q4_k) X (3, q5_k) X (4, q6_k) X (5, q4_1)      \
  X (6, q5_0) X (7, q5_1) X (8, q3_k) X (9, q2_k) X (10, iq4_nl)               \
  X (11, iq4_xs) X (12, iq3_xxs) X (13, iq3_s) X (14, iq2_xxs) X (15, iq2_xs)  \
  X (16, iq2_s) X (17, iq1_s)
#define VNNI_LAST_TYPE iq1_m
#else
#define VNNI_TYPE_CODES(X)                                                     \
  X (0, q8_0) X (1, q4_0) X (2, q4_k) X (3, q5_k) X (4, q6_k) X (5, q4_1)      \
  X (6, q5_0) X (7, q5_1) X (8, q3_k) X (9, q2_k) X (10, iq4_nl)
#define VNNI_LAST_TYPE iq4_xs
#endif
/* M (VNNI_LAST_TYPE), the type's name expanded first */
#define VNNI_LAST_CALL(M) VNNI_APPLY (M, VNNI_LAST_TYPE)
#define VNNI_APPLY(M, T) M (T)

/* The panel functions by type code, for products whose weights differ in
 * type. */
inline float16 vnni_panel_of (int type, __global const uchar *w, int lp, int K, const int *xq, const int *xs,
    const int *xm, const float *dx, int nb)
{
#define VNNI_PANEL_CALL(T) return vnni_panel_##T (row_##T (w, 16 * lp, K), xq, xs, xm, dx, nb);
#define VNNI_PANEL_CASE(code, T) case code: VNNI_PANEL_CALL (T)
  switch (type) {
    VNNI_TYPE_CODES (VNNI_PANEL_CASE)
    default: VNNI_LAST_CALL (VNNI_PANEL_CALL)
  }
#undef VNNI_PANEL_CASE
#undef VNNI_PANEL_CALL
}

/* The bytes of one panel (16 rows K wide) of type code @type. */
inline size_t vnni_panel_bytes (int type, int K)
{
#define VNNI_LAST_BYTES(T) return (size_t) 16 * (K / QK_##T) * BB_##T;
#define VNNI_BYTES_CASE(code, T) case code: VNNI_LAST_BYTES (T)
  switch (type) {
    VNNI_TYPE_CODES (VNNI_BYTES_CASE)
    default: VNNI_LAST_CALL (VNNI_LAST_BYTES)
  }
#undef VNNI_BYTES_CASE
#undef VNNI_LAST_BYTES
}

/* Panels @lp and @lp + 1 side by side into out[0] and out[1] (the same
 * sums as vnni_panel_of's) where the type reads that way (VNNI_PAIR_<T>):
 * 1; otherwise nothing, 0. */
inline int vnni_pair_of (int type, __global const uchar *w, int lp, int K, const int *xq, const int *xs,
    const int *xm, const float *dx, int nb, float16 *out)
{
#define VNNI_PAIR_CALL(T)                                                      \
      if (!VNNI_PAIR_##T)                                                      \
        return 0;                                                              \
      vnni_pair_##T (row_##T (w, 16 * lp, K), row_##T (w, 16 * lp + 16, K), xq, xs, xm, dx, nb, out); \
      return 1;
#define VNNI_PAIR_CASE(code, T) case code: VNNI_PAIR_CALL (T)
  switch (type) {
    VNNI_TYPE_CODES (VNNI_PAIR_CASE)
    default: VNNI_LAST_CALL (VNNI_PAIR_CALL)
  }
#undef VNNI_PAIR_CASE
#undef VNNI_PAIR_CALL
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
#define VNNI_TILE_CALL(T) wp = row_##T (w, 16 * lp, K); TILE_SWITCH (T, rows, m0) break;
#define VNNI_TILE_CASE(code, T) case code: VNNI_TILE_CALL (T)
  switch (type) {
    VNNI_TYPE_CODES (VNNI_TILE_CASE)
    default: VNNI_LAST_CALL (VNNI_TILE_CALL)
  }
#undef VNNI_TILE_CASE
#undef VNNI_TILE_CALL
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
