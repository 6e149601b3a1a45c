/* linear.cl: y[m, n] (+)= sum_k x[m, k] * W[n, k] + bias[n]; x, y, bias F32,
 * W F32, F16 or BF16, accumulation in F32. vtp-linear.c picks the kernel.
 *
 * Weight layouts (VtpTensor.layout, set by vtp_linear_weight_new):
 *  0  plain: PyTorch [N, K] row-major (GPUs, and any tensor not packed).
 *  1  panels of 16 output columns (CPUs): the first N16 = N & ~15 rows are
 *     stored as N16 / 16 panels [K][16] one after the other, the 16 weights
 *     of a step k contiguous: element (n, k) at (n & ~15) * K + k * 16 + j,
 *     j = n % 16 (F32, F16), j = (n % 8) * 2 + (n % 16) / 8 (BF16: columns c
 *     and c + 8 share a 32-bit word). The last N - N16 rows follow, plain
 *     (element (n, k) at n * K + k, as in layout 0). Same size as layout 0.
 *
 * Kernels, layout 1 (written for CPUs: AVX2 has 16 registers of 8 floats;
 * local size 1, explicit float16 vectors):
 *  - linear_p16_<T>_<TM>, TM = 1..6: a work-item computes a TM x 16 tile of
 *    y; each step k loads the 16 weights of the panel (2 registers) and
 *    multiplies in each of the TM x values broadcast (2 TM FMAs). Weights are
 *    read once, sequentially, in 4 segments of K side by side for small TM
 *    (more memory streams: more bandwidth). TM = 1: the decode GEMV with
 *    $VTP_GEMV_STREAM=0 and the 7th row of 7 (6 + 1); TM = 6 (12
 *    accumulators): the GEMM, at the FMA peak for F32 weights.
 *  - linear_p16s_<T>: the decode GEMV, a run of panels a work-item, each
 *    read as one stream (below).
 *  - linear_p16g_<T>: GEMM for F16/BF16 weights: 6 x 16 tiles like
 *    linear_p16_<T>_6, but each work-item does up to 8 tiles of up to three
 *    panels side by side (6 x 48) and converts their weights to F32 once
 *    per block of 128 steps.
 * Kernels, layout 0:
 *  - gemv_<T>_<MR>, MR = 1, 2, 4, 8: a work-group of L items computes L / S
 *    outputs, S lanes per output stride along the weight row (coalesced on
 *    GPUs), for MR rows of x at once (weights read once per MR rows), lanes
 *    summed in local memory. Any L; S a power of two dividing L (1 on CPUs).
 *  - gemm_tiled_<T> (GPUs): 16 x 16 work-items, 64 x 64 tile of y (4 x 4 per
 *    item), x and W staged through local memory 16 steps of K at a time.
 *  - gemm_<T>: a 2 x 4 tile of float8 dot products per work-item, any local
 *    size; the fallback where a work-group of 256 is not possible. */

/* Loops over the rows of a tile must be unrolled for the accumulators to
 * live in registers (PoCL's LLVM leaves them in memory otherwise: 2.5x
 * slower). */
#define UNROLL _Pragma ("unroll")

#define GEMM_TM 2
#define GEMM_TN 4
#define TILE 64
#define TILE_K 16

/* The 16 weights of step k of a panel (K steps) as floats. */
inline float16 load16_f32 (__global const float *w, int k, int K) { return vload16 (k, w); }
inline float16 load16_f16 (__global const half *w, int k, int K) { return vload_half16 (k, w); }
/* BF16 panels with K even hold steps k and k + 1 of column j in 32-bit
 * word j of their pair (k even in the low half): the bfloat16 dot
 * product's operand, which linear_p16g_bf16dot reads as it is; a shift or
 * a mask gives one step's 16 floats. With K odd (vtp-linear.c's pack_p16)
 * a step's 16 weights are 8 pairs (column j, column j + 8) per word. */
inline float16 load16_bf16 (__global const ushort *w, int k, int K)
{
  if (K & 1) {
    const uint8 v = vload8 (k, (__global const uint *) w);
    return (float16) (as_float8 (v << (uint8) 16), as_float8 (v & (uint8) 0xffff0000u));
  }
  const uint16 v = vload16 (k >> 1, (__global const uint *) w);
  return as_float16 ((k & 1) ? v & (uint16) 0xffff0000u : v << (uint16) 16);
}

/* Steps k and k + 1 (k even, K even) with one load where the layout pairs
 * them (BF16: PAIRED_bf16), two otherwise (unused). */
#define PAIRED_f32 0
#define PAIRED_f16 0
#define PAIRED_bf16 1
inline void load2_f32 (__global const float *w, int k, int K, float16 *w0, float16 *w1) { *w0 = vload16 (k, w); *w1 = vload16 (k + 1, w); }
inline void load2_f16 (__global const half *w, int k, int K, float16 *w0, float16 *w1) { *w0 = vload_half16 (k, w); *w1 = vload_half16 (k + 1, w); }
inline void load2_bf16 (__global const ushort *w, int k, int K, float16 *w0, float16 *w1)
{
  const uint16 v = vload16 (k >> 1, (__global const uint *) w);
  *w0 = as_float16 (v << (uint16) 16);
  *w1 = as_float16 (v & (uint16) 0xffff0000u);
}

/* Stores one 16-wide row of a tile: y = acc (+ bias) (+ y). */
inline void store16 (float16 r, __global float *yp, __global const float *bp, int has_bias,
    int accumulate)
{
  if (has_bias)
    r += vload16 (0, bp);
  if (accumulate)
    r += vload16 (0, yp);
  vstore16 (r, 0, yp);
}

/* Two neighbouring panels' rows (s[0], s[1]) stored as store16 does. */
inline void store16_pair (const float16 *s, __global float *yp, __global const float *bp, int has_bias,
    int accumulate)
{
  store16 (s[0], yp, bp, has_bias, accumulate);
  store16 (s[1], yp + 16, bp + 16, has_bias, accumulate);
}

/* Where a tile's sums start: y (when added to) plus the bias, the
 * products added after, in the order of k. linear_p16g_<T> (whose partial
 * sums stay in y between blocks of K) and the one-segment linear_p16_<T>_<TM>
 * (TM >= 4) both start there, so that a row's result is the same bits in
 * either (vtp-linear.c: every row of a product of more than 6 rows goes
 * through one of them). */
inline float16 tile_start (__global const float *yp, __global const float *bp, int has_bias, int from_y)
{
  float16 a = from_y ? vload16 (0, yp) : 0.0f;
  if (has_bias)
    a += vload16 (0, bp);
  return a;
}

/* ---- layout 1: panels of 16 columns ---- */

/* The outputs n0 .. N - 1 (< 16, the plain rows after the panels) of rows
 * m0 .. m1 - 1: float8 dot products. */
/* The GEMM kernels' work-item over panels of 16 rows of W and tiles of 6
 * rows of x: tiles t0 .. t0 + nt - 1 (up to @tiles) of panel n0 / 16, which
 * dimension is which by @panel_major; the plain rows after the last panel
 * go to p16_tail_<T> (declared below), nothing left: return. */
#define TILES_OF_PANEL(T)                                                      \
  const int t0 = get_global_id (panel_major) * tiles, n0 = get_global_id (1 - panel_major) * 16; \
  const int nt = min (tiles, (M + 5) / 6 - t0);                                \
  if (nt <= 0 || n0 >= N)                                                      \
    return;                                                                    \
  if (n0 + 16 > N) {                                                           \
    p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, t0 * 6,               \
        min ((t0 + nt) * 6, M), K, N, n0, accumulate);                         \
    return;                                                                    \
  }

#define DEFINE_PANEL_TAIL(T, WT)                                               \
inline void p16_tail_##T (__global const float *x, int x_off,                  \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int m0, int m1, int K, int N, int n0,        \
    int accumulate)                                                            \
{                                                                              \
  const int k8 = K & ~7;                                                       \
  for (int m = m0; m < m1; m++) {                                              \
    __global const float *xm = x + x_off + (size_t) m * K;                     \
    for (int n = n0; n < N; n++) {                                             \
      __global const WT *wr = row_##T (w, n, K);                               \
      float8 a = 0.0f;                                                         \
      float s;                                                                 \
      for (int k = 0; k < k8; k += 8)                                          \
        a = fma (vload8 (0, xm + k), load8_##T (wr, k), a);                    \
      s = hsum8 (a);                                                           \
      for (int k = k8; k < K; k++)                                             \
        s = fma (xm[k], load1_##T (wr, k), s);                                 \
      if (has_bias)                                                            \
        s += bias[n];                                                          \
      __global float *yp = y + y_off + (size_t) m * N + n;                     \
      *yp = accumulate ? *yp + s : s;                                          \
    }                                                                          \
  }                                                                            \
}

/* PoCL on the CPU: linear_p16_<T>_<TM> of P16_AHEAD_ROWS_<T> rows or more
 * (a few streams' decode steps) requests its panel's lines P16_AHEAD_BYTES
 * ahead into L2, a line every 64 / (16 sizeof (WT)) steps of 16 weights,
 * so that the reads run while the rows compute, as quant.cl's few-row
 * tiles do (TILE_PREFETCH, where the measurements of the idea are).
 * Measured on the 1.1B decode's 89 products in one process (weights from
 * memory, the kernel before and after built side by side, 6-8 alternating
 * rounds, median speed ratios): F16 1.29-1.63 at 4 rows (two runs), 1.52
 * at 5, 1.95 at 6; BF16 1.13 at 4, 1.69 at 6; F32 (twice the bytes for
 * the same arithmetic) 0.96 at 4, 1.00 at 6: not for it; at 2 and 3 rows
 * (K walked in 4 segments) F16 0.95 and 0.99: hence from 4. */
#ifdef VTP_POCL_CPU
#ifndef P16_AHEAD_BYTES
#define P16_AHEAD_BYTES 9216
#endif
#define P16_AHEAD_ROWS_f16 4
#define P16_AHEAD_ROWS_bf16 4
#define P16_AHEAD_ROWS_f32 1000
#define p16_prefetch_ahead(T, TM, WT, wp, k)                                   \
  if (TM >= P16_AHEAD_ROWS_##T && (k) % (64 / (16 * sizeof (WT))) == 0)        \
    __builtin_prefetch ((__global const uchar *) ((wp) + (size_t) (k) * 16) + P16_AHEAD_BYTES, 0, 1)
#else
#define p16_prefetch_ahead(T, TM, WT, wp, k)
#endif

/* A work-item: rows m0 .. m0 + TM - 1 (the last tile clamps its reads to row
 * M - 1 and stores only rows < M) of panel n0 / 16.
 * KS: K is cut in KS segments walked side by side, i.e. KS streams of
 * weights per work-item (a single stream leaves memory bandwidth unused);
 * KA: sets of accumulators (segment u adds into set u % KA) so that the FMA
 * chains are independent when TM is small (then latency, not throughput,
 * bounds them); 2 x TM x KA + 3 must fit the 16 AVX2 registers. */
#define DEFINE_PANEL(T, WT, TM, KS, KA)                                        \
__kernel void linear_p16_##T##_##TM (__global const float *x, int x_off,      \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate)         \
{                                                                              \
  const int m0 = get_global_id (0) * TM, n0 = get_global_id (1) * 16;          \
  __global const float *xr[TM];                                                \
  __global const WT *wp = w + (size_t) n0 * K;                                 \
  float16 acc[KA][TM];                                                         \
  const int kseg = K / KS;                                                     \
  if (m0 >= M || n0 >= N)                                                      \
    return;                                                                    \
  if (n0 + 16 > N) {                                                           \
    p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, m0, min (m0 + TM, M), \
        K, N, n0, accumulate);                                                 \
    return;                                                                    \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TM; i++)                                                 \
    xr[i] = x + x_off + (size_t) min (m0 + i, M - 1) * K;                      \
  UNROLL                                                                       \
  for (int u = 0; u < KA; u++)                                                 \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      acc[u][i] = 0.0f;                                                        \
  if (KS == 1 && KA == 1)                                                      \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      acc[0][i] = tile_start (y + y_off + (size_t) (m0 + i) * N + n0, bias + n0, has_bias, \
          accumulate && m0 + i < M);                                           \
  int k = 0;                                                                   \
  /* paired BF16 steps: both from one load, the multiply-adds in the order   \
   * of the loop below (the same results) */                                 \
  if (PAIRED_##T && (K & 1) == 0 && (kseg & 1) == 0)                           \
    for (; k < kseg; k += 2) {                                                 \
      float16 w0[KS], w1[KS];                                                  \
      UNROLL                                                                   \
      for (int u = 0; u < KS; u++)                                             \
        p16_prefetch_ahead (T, TM, WT, wp, k + u * kseg);                      \
      UNROLL                                                                   \
      for (int u = 0; u < KS; u++)                                             \
        load2_##T (wp, k + u * kseg, K, &w0[u], &w1[u]);                        \
      UNROLL                                                                   \
      for (int u = 0; u < KS; u++)                                             \
        UNROLL                                                                 \
        for (int i = 0; i < TM; i++)                                           \
          acc[u % KA][i] = fma ((float16) xr[i][k + u * kseg], w0[u], acc[u % KA][i]); \
      UNROLL                                                                   \
      for (int u = 0; u < KS; u++)                                             \
        UNROLL                                                                 \
        for (int i = 0; i < TM; i++)                                           \
          acc[u % KA][i] = fma ((float16) xr[i][k + 1 + u * kseg], w1[u], acc[u % KA][i]); \
    }                                                                          \
  for (; k < kseg; k++) {                                                      \
    UNROLL                                                                     \
    for (int u = 0; u < KS; u++)                                               \
      p16_prefetch_ahead (T, TM, WT, wp, k + u * kseg);                        \
    UNROLL                                                                     \
    for (int u = 0; u < KS; u++) {                                             \
      const float16 wv = load16_##T (wp, k + u * kseg, K);                     \
      UNROLL                                                                   \
      for (int i = 0; i < TM; i++)                                             \
        acc[u % KA][i] = fma ((float16) xr[i][k + u * kseg], wv, acc[u % KA][i]); \
    }                                                                          \
  }                                                                            \
  for (int k = kseg * KS; k < K; k++) {                                        \
    const float16 wv = load16_##T (wp, k, K);                                  \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      acc[0][i] = fma ((float16) xr[i][k], wv, acc[0][i]);                     \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TM; i++) {                                               \
    float16 r = acc[0][i];                                                     \
    UNROLL                                                                     \
    for (int u = 1; u < KA; u++)                                               \
      r += acc[u][i];                                                          \
    if (m0 + i < M && KS == 1 && KA == 1)                                      \
      vstore16 (r, 0, y + y_off + (size_t) (m0 + i) * N + n0);                 \
    else if (m0 + i < M)                                                       \
      store16 (r, y + y_off + (size_t) (m0 + i) * N + n0, bias + n0, has_bias, \
          accumulate);                                                         \
  }                                                                            \
}

/* The tiles t0 .. t0 + nt - 1 (6 rows each) of NP panels from n0 / 16 on
 * over steps k0 .. k0 + kn - 1, whose 16 NP weights each are in @wbuf as
 * F32 (converted or dequantized once by the caller; step k's at k 16 NP,
 * panel after panel); partial sums stay in y between blocks (bias added
 * with the first). Each output's sum is the same chain (tile_start, then
 * the steps in the order of k) whatever NP: NP = 3 serves each broadcast
 * of x to 48 outputs, 18 independent FMA chains and 9 loads per 18 FMAs,
 * where NP = 1 has 6 chains (two FMA units of 4 cycles' latency want 8)
 * and 7 loads per 6 FMAs. Shared by linear_p16g_<T> and qlinear_p16g_<T>. */
#define DEFINE_P16_TILES(NP)                                                   \
inline void p16_tiles_##NP (__global const float *x, int x_off, __global float *y, int y_off, \
    __global const float *bias, int has_bias, int M, int K, int N, int accumulate, int n0, int t0, int nt, \
    int k0, int kn, const float *wbuf)                                         \
{                                                                              \
  for (int t = 0; t < nt; t++) {                                               \
    const int m0 = (t0 + t) * 6;                                               \
    __global const float *xr[6];                                               \
    __global float *yr[6];                                                     \
    float16 acc[6][NP];                                                        \
    UNROLL                                                                     \
    for (int i = 0; i < 6; i++) {                                              \
      xr[i] = x + x_off + (size_t) min (m0 + i, M - 1) * K + k0;               \
      yr[i] = y + y_off + (size_t) (m0 + i) * N + n0;                          \
      UNROLL                                                                   \
      for (int p = 0; p < NP; p++)                                             \
        if (k0 == 0)                                                           \
          acc[i][p] = tile_start (yr[i] + 16 * p, bias + n0 + 16 * p, has_bias, accumulate && m0 + i < M); \
        else                                                                   \
          acc[i][p] = m0 + i < M ? vload16 (0, yr[i] + 16 * p) : 0.0f;        \
    }                                                                          \
    for (int k = 0; k < kn; k++) {                                             \
      float16 wv[NP];                                                          \
      UNROLL                                                                   \
      for (int p = 0; p < NP; p++)                                             \
        wv[p] = vload16 (k * NP + p, wbuf);                                    \
      UNROLL                                                                   \
      for (int i = 0; i < 6; i++) {                                            \
        const float16 xv = (float16) xr[i][k];                                 \
        UNROLL                                                                 \
        for (int p = 0; p < NP; p++)                                           \
          acc[i][p] = fma (xv, wv[p], acc[i][p]);                              \
      }                                                                        \
    }                                                                          \
    UNROLL                                                                     \
    for (int i = 0; i < 6; i++)                                                \
      if (m0 + i < M)                                                          \
        UNROLL                                                                 \
        for (int p = 0; p < NP; p++)                                           \
          vstore16 (acc[i][p], 0, yr[i] + 16 * p);                             \
  }                                                                            \
}
DEFINE_P16_TILES (1)
DEFINE_P16_TILES (2)
DEFINE_P16_TILES (3)

/* GEMM for F16/BF16 weights: a work-item computes @tiles tiles of 6 x 16
 * (rows 6 * tiles * its tile group on; rows from M on are computed from
 * row M - 1 and not stored) of @panels panels side by side, 1 to 3
 * (panels @panels j on, fewer where the count of whole panels runs out;
 * vtp-linear.c's p16g_panels: 3 for AVX-512's 32 registers, 18
 * accumulators of 16 floats, where AVX2's 16 registers of 8 floats hold one
 * panel's 12 halves); @panel_major: the panels are global id 0 and the
 * tile group id 1 (vtp-linear.c's PANEL_MAJOR_*), else the other way
 * round. The work-items past the panels take the last, partial panel (N
 * not a multiple of 16), which is plain. K is walked in blocks of PG_KB
 * steps whose weights are converted to F32 once, into private memory (L1:
 * 24 KB for 3 panels), then serve every tile; partial sums stay in y
 * between blocks. Conversion then costs 1 / tiles of what it does in
 * linear_p16_<T>_6, where it takes ~20% of the time. */
#ifndef PG_KB
#define PG_KB 128
#endif
#define DEFINE_PANEL_GROUP(T, WT)                                              \
__kernel void linear_p16g_##T (__global const float *x, int x_off,            \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    int tiles, int panel_major, int panels)                                    \
{                                                                              \
  const int t0 = get_global_id (panel_major) * tiles, n0 = get_global_id (1 - panel_major) * 16 * panels; \
  const int nt = min (tiles, (M + 5) / 6 - t0), np = min (panels, (N >> 4) - (n0 >> 4)); \
  __global const WT *wp = w + (size_t) n0 * K;                                 \
  float wbuf[PG_KB * 48];                                                      \
  if (nt <= 0)                                                                 \
    return;                                                                    \
  if (np <= 0) {                                                               \
    if ((N & 15) != 0)                                                         \
      p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, t0 * 6,             \
          min ((t0 + nt) * 6, M), K, N, N & ~15, accumulate);                  \
    return;                                                                    \
  }                                                                            \
  for (int k0 = 0; k0 < K; k0 += PG_KB) {                                      \
    const int kn = min (PG_KB, K - k0);                                        \
    for (int k = 0; k < kn; k++)                                               \
      for (int p = 0; p < np; p++)                                             \
        vstore16 (load16_##T (wp + (size_t) 16 * p * K, k0 + k, K), np * k + p, wbuf); \
    if (np == 3)                                                               \
      p16_tiles_3 (x, x_off, y, y_off, bias, has_bias, M, K, N, accumulate, n0, t0, nt, k0, kn, wbuf); \
    else if (np == 2)                                                          \
      p16_tiles_2 (x, x_off, y, y_off, bias, has_bias, M, K, N, accumulate, n0, t0, nt, k0, kn, wbuf); \
    else                                                                       \
      p16_tiles_1 (x, x_off, y, y_off, bias, has_bias, M, K, N, accumulate, n0, t0, nt, k0, kn, wbuf); \
  }                                                                            \
}

/* ---- layout 0: plain [N, K] ---- */

/* gemv_sums_<T>_<MR>: the MR sums (rows m0 .. m0 + mc - 1 of x, @xb
 * their first) of weight row @wr, each over its S lanes: lane 0 holds them
 * in @s afterwards. Every work-item of the group calls it (barriers; the
 * scratch: L * MR floats). gemv_<T>_<MR> and the fused decode GEMVs
 * (gemv3_<T>_<MR>, gemv_swiglu_<T>_<MR>) share it, so that an output is
 * the same bits whichever computes it. */
#define DEFINE_GEMV_SUMS(T, WT, MR) DEFINE_GEMV_SUMS_X (T, WT, MR, gemv_sums, __global)
/* ... with x in @XAS memory (__local: the norm-fused GEMVs' normalized row) */
#define DEFINE_GEMV_SUMS_X(T, WT, MR, NAME, XAS)                               \
inline void NAME##_##T##_##MR (XAS const float *xb,                          \
    __global const WT *wr, int K, int S, int mc, __local float *scratch,      \
    float *s)                                                                  \
{                                                                              \
  const int lid = get_local_id (0), L = get_local_size (0);                    \
  const int lane = lid % S;                                                    \
  const int k8 = K & ~7;                                                       \
  float8 acc[MR];                                                              \
  UNROLL                                                                       \
  for (int i = 0; i < MR; i++)                                                 \
    acc[i] = 0.0f;                                                             \
  for (int k = lane * 8; k < k8; k += S * 8) {                                 \
    const float8 wv = load8_##T (wr, k);                                       \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      if (i < mc)                                                              \
        acc[i] = fma (vload8 (0, xb + (size_t) i * K + k), wv, acc[i]);        \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < MR; i++)                                                 \
    s[i] = hsum8 (acc[i]);                                                     \
  for (int k = k8 + lane; k < K; k += S) {                                     \
    const float wv = load1_##T (wr, k);                                        \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      if (i < mc)                                                              \
        s[i] = fma (xb[(size_t) i * K + k], wv, s[i]);                         \
  }                                                                            \
  if (S > 1) {                                                                 \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      scratch[i * L + lid] = s[i];                                             \
    barrier (CLK_LOCAL_MEM_FENCE);                                             \
    for (int h = S / 2; h > 0; h >>= 1) {                                      \
      if (lane < h)                                                            \
        UNROLL                                                                 \
        for (int i = 0; i < MR; i++)                                           \
          scratch[i * L + lid] += scratch[i * L + lid + h];                    \
      barrier (CLK_LOCAL_MEM_FENCE);                                           \
    }                                                                          \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      s[i] = scratch[i * L + lid];                                             \
  }                                                                            \
}

/* gemv_<T>_<MR>: rows m0 .. m0 + MR - 1 (fewer in the last group) of x;
 * the MR sums of each output are reduced over its S lanes together. */
#define DEFINE_GEMV(T, WT, MR)                                                 \
DEFINE_GEMV_SUMS (T, WT, MR)                                                   \
__kernel void gemv_##T##_##MR (__global const float *x, int x_off,            \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    int S, __local float *scratch)                                             \
{                                                                              \
  const int lid = get_local_id (0), L = get_local_size (0);                    \
  const int n = get_group_id (0) * (L / S) + lid / S;                          \
  const int m0 = get_group_id (1) * MR, mc = min (MR, M - m0);                 \
  float s[MR];                                                                 \
  gemv_sums_##T##_##MR (x + x_off + (size_t) m0 * K,                           \
      row_##T (w, min (n, N - 1), K), K, S, mc, scratch, s);                   \
  if (lid % S == 0 && n < N)                                                   \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      if (i < mc) {                                                            \
        __global float *yp = y + y_off + (size_t) (m0 + i) * N + n;            \
        const float v = has_bias ? s[i] + bias[n] : s[i];                      \
        *yp = accumulate ? *yp + v : v;                                        \
      }                                                                        \
}

/* The fused decode GEMVs below come in two kinds: NORM 0 on x as it is,
 * NORM 1 (TAG _norm, one row) on x's RMS norm, computed by each work-group
 * into local memory first (rmsnorm_to_local, gemv-norm.cl: the bits of
 * the rmsnorm kernel), so that the norm needs no launch of its own. */
#define GEMV_NORM_ARGS_0
#define GEMV_NORM_ARGS_1 , __global const float *nw, float eps, int rw, __local float *xs
#define GEMV_NORM_STEP_0(xr, K, scratch)
#define GEMV_NORM_STEP_1(xr, K, scratch) rmsnorm_to_local (xr, nw, K, eps, rw, xs, scratch);
#define GEMV_SUMS_0(T, MR) gemv_sums_##T##_##MR
#define GEMV_SUMS_1(T, MR) gemv_lsums_##T##_##MR
#define GEMV_X_0(xb) (xb)
#define GEMV_X_1(xb) (xs)
/* ... and gemv3_norm (one row) gives each work-item's slot two rows of an
 * output, computed one after the other: rows (2n, 2n + 1), or with RoPE
 * for q and k (outputs 0 and 1; rope_d > 0: the head size, the angle row
 * at @rope as rope_angles writes it) a rotation pair, rotated as
 * rope_pair rotates it before it is stored (the bits of rope_qk after the
 * products). Every work-item takes the same path through the barriers of
 * the sums (PoCL computed wrong sums when the pairs' path was a branch of
 * its own). */
#define GEMV3_ROPE_ARGS_0
#define GEMV3_ROPE_ARGS_1 , __global const float *rope, int rope_off, int rope_d, int rope_il
#define GEMV3_STORE_0(T, MR)                                                   \
  float s[MR];                                                                 \
  GEMV_SUMS_0 (T, MR) (x + x_off + (size_t) m0 * K,                            \
      row_##T (w, min (n, N - 1), K), K, S, mc, scratch, s);                   \
  if (lid % S == 0 && n < N)                                                   \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      if (i < mc)                                                              \
        y[y_off + (size_t) (m0 + i) * N + n] = hb ? s[i] + b[n] : s[i];
#define GEMV3_STORE_1(T, MR)                                                   \
  const int rot = rope_d > 0 && o < 2, hd = max (rope_d / 2, 1);               \
  const int h = n / hd, j = n % hd;                                            \
  const int a = rot ? h * rope_d + (rope_il ? 2 * j : j) : 2 * n;              \
  const int c = rot ? a + (rope_il ? 1 : hd) : 2 * n + 1;                      \
  float sa[1], sc[1];                                                          \
  rmsnorm_to_local (x + x_off, nw, K, eps, rw, xs, scratch);                   \
  gemv_lsums_##T##_1 (xs, row_##T (w, min (a, N - 1), K), K, S, 1, scratch, sa); \
  barrier (CLK_LOCAL_MEM_FENCE);                                               \
  gemv_lsums_##T##_1 (xs, row_##T (w, min (c, N - 1), K), K, S, 1, scratch, sc); \
  if (lid % S == 0 && n < N / 2) {                                             \
    const float x0 = hb ? sa[0] + b[a] : sa[0], x1 = hb ? sc[0] + b[c] : sc[0]; \
    if (rot) {                                                                 \
      const float cs = rope[rope_off + j], sn = rope[rope_off + hd + j];       \
      y[y_off + a] = x0 * cs - x1 * sn;                                        \
      y[y_off + c] = x1 * cs + x0 * sn;                                        \
    } else {                                                                   \
      y[y_off + a] = x0;                                                       \
      y[y_off + c] = x1;                                                       \
    }                                                                          \
  }

/* gemv3<TAG>_<T>_<MR> (GPUs' decode): up to three products of the same
 * rows of x in one launch (q | k | v): output o's groups follow output
 * o - 1's (G0, G1 groups), each output computed as gemv_<T>_<MR> computes
 * it (not added to). An output of N = 0 has no groups. The _norm kind's
 * slots are pairs of rows (GEMV3_STORE_1). */
#define GEMV3_OUT(WT, o)                                                       \
    __global const WT *w##o, __global const float *b##o, int hb##o,            \
    __global float *y##o, int y##o##_off, int N##o
#define DEFINE_GEMV3(T, WT, MR, NORM, TAG)                                     \
__kernel void gemv3##TAG##_##T##_##MR (__global const float *x, int x_off,    \
    int M, int K, int S, __local float *scratch, GEMV3_OUT (WT, 0), int G0,    \
    GEMV3_OUT (WT, 1), int G1, GEMV3_OUT (WT, 2) GEMV_NORM_ARGS_##NORM         \
    GEMV3_ROPE_ARGS_##NORM)                                                    \
{                                                                              \
  const int lid = get_local_id (0), L = get_local_size (0);                    \
  const int g = get_group_id (0), o = g < G0 ? 0 : g < G0 + G1 ? 1 : 2;        \
  const int n = (g - (o == 0 ? 0 : o == 1 ? G0 : G0 + G1)) * (L / S) + lid / S; \
  __global const WT *w = o == 0 ? w0 : o == 1 ? w1 : w2;                       \
  __global const float *b = o == 0 ? b0 : o == 1 ? b1 : b2;                    \
  __global float *y = o == 0 ? y0 : o == 1 ? y1 : y2;                          \
  const int hb = o == 0 ? hb0 : o == 1 ? hb1 : hb2;                            \
  const int y_off = o == 0 ? y0_off : o == 1 ? y1_off : y2_off;                \
  const int N = o == 0 ? N0 : o == 1 ? N1 : N2;                                \
  const int m0 = get_group_id (1) * MR, mc = min (MR, M - m0);                 \
  GEMV3_STORE_##NORM (T, MR)                                                   \
}

/* gemv_swiglu<TAG>_<T>_<MR> (GPUs' decode): the gated MLP's two products
 * and its activation in one launch: y = silu (x Wgᵀ + bg) (x Wuᵀ + bu),
 * each product computed as gemv_<T>_<MR> computes it and the activation
 * as silu_mul does (silu_times), so the same bits as the three launches. */
#define DEFINE_GEMV_SWIGLU(T, WT, MR, NORM, TAG)                               \
__kernel void gemv_swiglu##TAG##_##T##_##MR (__global const float *x,         \
    int x_off, __global const WT *wg, __global const float *bg, int hbg,       \
    __global const WT *wu, __global const float *bu, int hbu,                  \
    __global float *y, int y_off, int M, int K, int N, int S,                  \
    __local float *scratch GEMV_NORM_ARGS_##NORM)                              \
{                                                                              \
  const int lid = get_local_id (0), L = get_local_size (0);                    \
  const int n = get_group_id (0) * (L / S) + lid / S;                          \
  const int m0 = get_group_id (1) * MR, mc = min (MR, M - m0);                 \
  float sg[MR], su[MR];                                                        \
  GEMV_NORM_STEP_##NORM (x + x_off, K, scratch)                                \
  GEMV_SUMS_##NORM (T, MR) (GEMV_X_##NORM (x + x_off + (size_t) m0 * K),       \
      row_##T (wg, min (n, N - 1), K), K, S, mc, scratch, sg);                 \
  /* every lane has its sums out of the scratch before it is used again */    \
  barrier (CLK_LOCAL_MEM_FENCE);                                               \
  GEMV_SUMS_##NORM (T, MR) (GEMV_X_##NORM (x + x_off + (size_t) m0 * K),       \
      row_##T (wu, min (n, N - 1), K), K, S, mc, scratch, su);                 \
  if (lid % S == 0 && n < N)                                                   \
    UNROLL                                                                     \
    for (int i = 0; i < MR; i++)                                               \
      if (i < mc)                                                              \
        y[y_off + (size_t) (m0 + i) * N + n] =                                 \
            silu_times (hbg ? sg[i] + bg[n] : sg[i], hbu ? su[i] + bu[n] : su[i]); \
}

/* For the float types only (DEFINE_LINEAR): the quantized types' plain
 * GEMVs (quant.cl's DEFINE_PLAIN) have no fused kinds yet, which would
 * add 8 kernels a type to the program's build. */
#define DEFINE_GEMV_FUSED(T, WT)                                               \
  DEFINE_GEMV3 (T, WT, 1, 0, )                                                 \
  DEFINE_GEMV3 (T, WT, 2, 0, )                                                 \
  DEFINE_GEMV3 (T, WT, 4, 0, )                                                 \
  DEFINE_GEMV3 (T, WT, 8, 0, )                                                 \
  DEFINE_GEMV_SWIGLU (T, WT, 1, 0, )                                           \
  DEFINE_GEMV_SWIGLU (T, WT, 2, 0, )                                           \
  DEFINE_GEMV_SWIGLU (T, WT, 4, 0, )                                           \
  DEFINE_GEMV_SWIGLU (T, WT, 8, 0, )

#define DEFINE_PLAIN(T, WT)                                                    \
  DEFINE_GEMV (T, WT, 1)                                                       \
  DEFINE_GEMV (T, WT, 2)                                                       \
  DEFINE_GEMV (T, WT, 4)                                                       \
  DEFINE_GEMV (T, WT, 8)                                                       \
                                                                               \
__kernel __attribute__ ((reqd_work_group_size (16, 16, 1)))                    \
void gemm_tiled_##T (__global const float *x, int x_off,                       \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate)         \
{                                                                              \
  __local float xs[TILE_K][TILE + 1];                                          \
  __local float ws[TILE_K][TILE + 1];                                          \
  const int lx = get_local_id (0), ly = get_local_id (1), tid = ly * 16 + lx;  \
  const int n0 = get_group_id (0) * TILE, m0 = get_group_id (1) * TILE;       \
  float acc[4][4];                                                             \
  for (int i = 0; i < 4; i++)                                                  \
    for (int j = 0; j < 4; j++)                                                \
      acc[i][j] = 0.0f;                                                        \
  for (int k0 = 0; k0 < K; k0 += TILE_K) {                                     \
    for (int e = 0; e < TILE * TILE_K / 256; e++) {                            \
      const int idx = tid + e * 256, r = idx / TILE_K, kk = idx % TILE_K;      \
      const int k = k0 + kk;                                                   \
      xs[kk][r] = m0 + r < M && k < K ? x[x_off + (size_t) (m0 + r) * K + k] : 0.0f; \
      ws[kk][r] = n0 + r < N && k < K ? load1_##T (row_##T (w, n0 + r, K), k) : 0.0f; \
    }                                                                          \
    barrier (CLK_LOCAL_MEM_FENCE);                                             \
    for (int kk = 0; kk < TILE_K; kk++) {                                      \
      float a[4], b[4];                                                        \
      for (int i = 0; i < 4; i++) {                                            \
        a[i] = xs[kk][ly + 16 * i];                                            \
        b[i] = ws[kk][lx + 16 * i];                                            \
      }                                                                        \
      for (int i = 0; i < 4; i++)                                              \
        for (int j = 0; j < 4; j++)                                            \
          acc[i][j] = fma (a[i], b[j], acc[i][j]);                             \
    }                                                                          \
    barrier (CLK_LOCAL_MEM_FENCE);                                             \
  }                                                                            \
  for (int i = 0; i < 4; i++) {                                                \
    const int m = m0 + ly + 16 * i;                                            \
    if (m >= M)                                                                \
      break;                                                                   \
    for (int j = 0; j < 4; j++) {                                              \
      const int n = n0 + lx + 16 * j;                                          \
      if (n < N) {                                                             \
        __global float *yp = y + y_off + (size_t) m * N + n;                   \
        float v = acc[i][j];                                                   \
        if (has_bias)                                                          \
          v += bias[n];                                                        \
        *yp = accumulate ? *yp + v : v;                                        \
      }                                                                        \
    }                                                                          \
  }                                                                            \
}                                                                              \
                                                                               \
__kernel void gemm_##T (__global const float *x, int x_off,                  \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate)         \
{                                                                              \
  const int n0 = get_global_id (0) * GEMM_TN, m0 = get_global_id (1) * GEMM_TM;\
  if (n0 >= N || m0 >= M)                                                      \
    return;                                                                    \
  __global const float *xr[GEMM_TM];                                           \
  __global const WT *wr[GEMM_TN];                                              \
  float8 acc[GEMM_TM][GEMM_TN];                                                \
  for (int i = 0; i < GEMM_TM; i++)                                            \
    xr[i] = x + x_off + (size_t) min (m0 + i, M - 1) * K;                      \
  for (int j = 0; j < GEMM_TN; j++)                                            \
    wr[j] = row_##T (w, min (n0 + j, N - 1), K);                               \
  for (int i = 0; i < GEMM_TM; i++)                                            \
    for (int j = 0; j < GEMM_TN; j++)                                          \
      acc[i][j] = 0.0f;                                                        \
  const int k8 = K & ~7;                                                       \
  for (int k = 0; k < k8; k += 8) {                                            \
    float8 wv[GEMM_TN];                                                        \
    for (int j = 0; j < GEMM_TN; j++)                                          \
      wv[j] = load8_##T (wr[j], k);                                            \
    for (int i = 0; i < GEMM_TM; i++) {                                        \
      float8 xv = vload8 (0, xr[i] + k);                                       \
      for (int j = 0; j < GEMM_TN; j++)                                        \
        acc[i][j] = fma (xv, wv[j], acc[i][j]);                                \
    }                                                                          \
  }                                                                            \
  for (int i = 0; i < GEMM_TM; i++) {                                          \
    if (m0 + i >= M)                                                           \
      break;                                                                   \
    for (int j = 0; j < GEMM_TN; j++) {                                        \
      if (n0 + j >= N)                                                         \
        break;                                                                 \
      float s = hsum8 (acc[i][j]);                                             \
      for (int k = k8; k < K; k++)                                             \
        s = fma (xr[i][k], load1_##T (wr[j], k), s);                           \
      if (has_bias)                                                            \
        s += bias[n0 + j];                                                     \
      __global float *yp = y + y_off + (size_t) (m0 + i) * N + n0 + j;         \
      *yp = accumulate ? *yp + s : s;                                          \
    }                                                                          \
  }                                                                            \
}

/* The decode GEMV (one row of x) over panels: a work-item takes @panels
 * consecutive panels and reads each as one stream, 4 sets of accumulators
 * taking the steps k in turn. So each core streams a long stretch of W
 * from one place (a work-item's 32 panels of K 2048 F16: 2 MB), where one
 * panel a work-item with its K cut in 4 segments (linear_p16_<T>_1) had
 * the two cores take turns over neighbouring 64 KB: an F16 product read
 * from memory 1.1-1.2x faster on the Zen 4 EPYC, the 1.1B's F16 decode
 * 1.03-1.08x (docs/performance.md "The F16 GEMV's streams"). */
/* Intel CPUs (-DVTP_CPU_INTEL): the BF16 decode GEMV (p16s_panel_bf16: one
 * 64-byte load a pair of steps) also requests its lines P16S_AHEAD_BYTES
 * ahead into L2, as quant.cl's int8 GEMVs do there (VNNI_PREFETCH_L2).
 * Measured on 2 cores of the Intel Xeon with AMX, alternating: the 1.1B's
 * lm_head alone (vtp-bench-linear 1 2048 32000 bf16 20) 18.7-19.9 → 28.5-29.2
 * GB/s (medians); the 1.1B's decode at bf16 (vtp-bench-llm -w bf16 -p 1 -n 64
 * -r 3) 9.57-9.59 → 13.10-13.18 tokens/s. The F16 GEMV (16-byte loads and
 * conversions) reads at the memory's speed without, and decoded 2-8% slower
 * with them: not for it. -DP16S_AHEAD_BYTES=-1 turns it off. Those were
 * 9216 bytes ahead; 1024 since 2026-12-07 (fourth session, with two
 * panels side by side): the 1.1B's decode at bf16 in one process
 * (vtp-bench-llm -w bf16 -p 1 -n 48 -r 4 -a VTP_KERNEL_DEFINES=...)
 * 1.09-1.10x with 1024 or 2048, 1.06x with 4096 (1024 against 512, 1536,
 * 2048: 1.02-1.03x); LLaVA-1.5-7B-shaped (-m llava-7b -w bf16 -p 1 -n 8
 * -r 2) 2.01 -> 2.21 tokens/s (0.90 of the probe). Nearer lines leave
 * fewer requests to wait for in the core's queue (quant.cl,
 * VNNI_PREFETCH_L2_BLOCKS). */
#ifndef P16S_AHEAD_BYTES
#ifdef VTP_CPU_INTEL
#define P16S_AHEAD_BYTES 1024
#else
#define P16S_AHEAD_BYTES -1
#endif
#endif
#define p16s_prefetch(T, wp, k)                                                \
  if (PAIRED_##T && P16S_AHEAD_BYTES >= 0) {                                   \
    __builtin_prefetch ((__global const uchar *) ((wp) + (size_t) (k) * 16) + P16S_AHEAD_BYTES, 0, 1); \
    __builtin_prefetch ((__global const uchar *) ((wp) + (size_t) (k) * 16) + P16S_AHEAD_BYTES + 64, 0, 1); \
  }
#define DEFINE_PANEL_STREAM(T, WT)                                             \
/* One panel's 16 sums over x's row @xr (the panel's weights at @wp). */      \
inline float16 p16s_panel_##T (__global const float *xr, __global const WT *wp, int K) \
{                                                                              \
  float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;                           \
  int k = 0;                                                                   \
  if ((K & 1) == 0)                                                            \
    for (; k + 4 <= K; k += 4) {                                               \
      float16 w0, w1, w2, w3;                                                  \
      p16s_prefetch (T, wp, k)                                                 \
      load2_##T (wp, k, K, &w0, &w1);                                          \
      load2_##T (wp, k + 2, K, &w2, &w3);                                      \
      a0 = fma ((float16) xr[k], w0, a0);                                      \
      a1 = fma ((float16) xr[k + 1], w1, a1);                                  \
      a2 = fma ((float16) xr[k + 2], w2, a2);                                  \
      a3 = fma ((float16) xr[k + 3], w3, a3);                                  \
    }                                                                          \
  for (; k < K; k++)                                                           \
    a0 = fma ((float16) xr[k], load16_##T (wp, k, K), a0);                     \
  return (a0 + a1) + (a2 + a3);                                                \
}                                                                              \
                                                                               \
/* Panels @wp and the next (16 K weights on) side by side: their sums as      \
 * p16s_panel_##T gives them, bit for bit (the same 4 sets of accumulators    \
 * each), into @y0 and @y1; two memory streams a core instead of one. On 2    \
 * cores of the Xeon with AMX (alternating runs, medians): a 16384 x 65536    \
 * F16 product (vtp-bench-linear 1 16384 65536 f16 10) 26.9-27.5 -> 29.1-30.8 \
 * GB/s, the 1.1B's F16 decode (vtp-bench-llm -p 1 -n 64 -r 3) 0.79-0.86 ->   \
 * 0.91-0.99 of the host's read bandwidth; BF16 (which requests lines ahead   \
 * into L2) 0.87-0.89 -> 0.89-0.90 (docs/performance.md "Two panels side by  \
 * side"). Out of line: a build with it inlined into decode-layer.cl's      \
 * products decoded Q4_K_M (whose panels never pair) at 0.90x. */            \
__attribute__ ((noinline)) void p16s_pair_##T (__global const float *xr, __global const WT *wp, int K, float16 *y0, \
    float16 *y1)                                                               \
{                                                                              \
  __global const WT *vp = wp + (size_t) 16 * K;                                \
  float16 a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;                           \
  float16 b0 = 0.0f, b1 = 0.0f, b2 = 0.0f, b3 = 0.0f;                           \
  int k = 0;                                                                   \
  if ((K & 1) == 0)                                                            \
    for (; k + 4 <= K; k += 4) {                                               \
      float16 w0, w1, w2, w3, v0, v1, v2, v3;                                  \
      p16s_prefetch (T, wp, k)                                                 \
      p16s_prefetch (T, vp, k)                                                 \
      load2_##T (wp, k, K, &w0, &w1);                                          \
      load2_##T (wp, k + 2, K, &w2, &w3);                                      \
      load2_##T (vp, k, K, &v0, &v1);                                          \
      load2_##T (vp, k + 2, K, &v2, &v3);                                      \
      const float16 x0 = xr[k], x1 = xr[k + 1], x2 = xr[k + 2], x3 = xr[k + 3]; \
      a0 = fma (x0, w0, a0);                                                   \
      a1 = fma (x1, w1, a1);                                                   \
      a2 = fma (x2, w2, a2);                                                   \
      a3 = fma (x3, w3, a3);                                                   \
      b0 = fma (x0, v0, b0);                                                   \
      b1 = fma (x1, v1, b1);                                                   \
      b2 = fma (x2, v2, b2);                                                   \
      b3 = fma (x3, v3, b3);                                                   \
    }                                                                          \
  for (; k < K; k++) {                                                         \
    a0 = fma ((float16) xr[k], load16_##T (wp, k, K), a0);                     \
    b0 = fma ((float16) xr[k], load16_##T (vp, k, K), b0);                     \
  }                                                                            \
  *y0 = (a0 + a1) + (a2 + a3);                                                 \
  *y1 = (b0 + b1) + (b2 + b3);                                                 \
}                                                                              \
                                                                               \
__kernel void linear_p16s_##T (__global const float *x, int x_off,            \
    __global const WT *w, __global const float *bias, int has_bias,            \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    int panels)                                                                \
{                                                                              \
  const int p0 = get_global_id (0) * panels;                                   \
  for (int p = p0; p < p0 + panels; p++) {                                     \
    const int n0 = p * 16;                                                     \
    if (n0 >= N)                                                               \
      return;                                                                  \
    if (p + 1 < p0 + panels && n0 + 32 <= N) {                                 \
      float16 s[2];                                                            \
      p16s_pair_##T (x + x_off, w + (size_t) n0 * K, K, &s[0], &s[1]);         \
      store16_pair (s, y + y_off + n0, bias + n0, has_bias, accumulate);       \
      p++;                                                                     \
      continue;                                                                \
    }                                                                          \
    if (n0 + 16 > N) {                                                         \
      p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, 0, 1, K, N, n0,     \
          accumulate);                                                         \
      return;                                                                  \
    }                                                                          \
    store16 (p16s_panel_##T (x + x_off, w + (size_t) n0 * K, K), y + y_off + n0, \
        bias + n0, has_bias, accumulate);                                      \
  }                                                                            \
}

#define DEFINE_LINEAR(T, WT)                                                   \
  DEFINE_PANEL_TAIL (T, WT)                                                    \
  DEFINE_PANEL_STREAM (T, WT)                                                  \
  DEFINE_PANEL (T, WT, 1, 4, 4)                                                \
  DEFINE_PANEL (T, WT, 2, 4, 2)                                                \
  DEFINE_PANEL (T, WT, 3, 4, 2)                                                \
  DEFINE_PANEL (T, WT, 4, 1, 1)                                                \
  DEFINE_PANEL (T, WT, 5, 1, 1)                                                \
  DEFINE_PANEL (T, WT, 6, 1, 1)                                                \
  DEFINE_PANEL_GROUP (T, WT)                                                   \
  DEFINE_PLAIN (T, WT)                                                         \
  DEFINE_GEMV_FUSED (T, WT)

DEFINE_LINEAR (f32, float)
DEFINE_LINEAR (f16, half)
DEFINE_LINEAR (bf16, ushort)

#ifdef VTP_X86_BF16
/* ---- bfloat16 dot products (CPUs with AVX512-BF16; vtp-linear.c launches
 * these for BF16 weights in layout 1 and more than PANEL_TM rows) ----
 *
 * vdpbf16ps adds, in each 32-bit lane i, a[2i]·b[2i] + a[2i+1]·b[2i+1] (the
 * two bfloat16 of the lane, low half first) to a float: two steps of K at
 * once, at twice the FMA's rate. x's rows are rounded to bfloat16 once, as
 * pairs of steps (x_to_bf16_pairs); the weight panels (K even) already
 * pair steps k and k + 1 of a column in each 32-bit word (load16_bf16), so
 * the instruction reads them as they are. Sums stay in float. (Until
 * 2026-12-05 the panels paired columns j and j + 8 of a step and each
 * work-item regrouped every block of them: 5-18% of the GEMM's time.) */
typedef float vtp_bf_v16sf __attribute__ ((vector_size (64)));
typedef int vtp_bf_v16si __attribute__ ((vector_size (64)));
#define BF16DOT __attribute__ ((target ("avx512bf16,avx512f")))
#define BG_KB 256               /* steps of K per block (partial sums in y between blocks) */
#define BG_TM 12                /* rows per tile (vtp-linear.c's BF16_TM) */

BF16DOT inline float16 dpbf16 (float16 acc, uint16 a, uint16 b)
{
  return as_float16 (__builtin_ia32_dpbf16ps_512 ((vtp_bf_v16sf) acc, (vtp_bf_v16si) a, (vtp_bf_v16si) b));
}

/* float → bfloat16 bits, rounded to nearest even; NaN stays a (quiet) NaN */
inline uint16 bf16_bits16 (float16 f)
{
  const uint16 u = as_uint16 (f);
  return select ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16, (u >> 16) | 0x40u, as_uint16 (isnan (f)));
}

/* x's rows as bfloat16 pairs, tile-major for linear_p16g_bf16dot: pair p
 * (steps 2p, 2p + 1; bf16 (x[m, 2p]) | bf16 (x[m, 2p + 1]) << 16) of row
 * m = 12 t + i is at xb[(t · K / 2 + p) · 12 + i], so that a step pair's 12
 * rows are adjacent. A work-item per tile, 8 pairs of its 12 rows at a
 * time, transposed through private memory (rows from M on are zeros). K is
 * even. */
__kernel void x_to_bf16_pairs (__global const float *x, int x_off, int M, int K, __global uint *xb)
{
  const int t = get_global_id (0), K2 = K / 2;
  __global uint *o = xb + (size_t) t * K2 * BG_TM;
  uint tmp[BG_TM * 8];
  int p = 0;
  for (; p + 8 <= K2; p += 8) {
    UNROLL
    for (int i = 0; i < BG_TM; i++) {
      const int m = t * BG_TM + i;
      uint8 pairs = 0;
      if (m < M) {
        const uint16 a = bf16_bits16 (vload16 (0, x + x_off + (size_t) m * K + 2 * p));
        pairs = a.even | (a.odd << 16);
      }
      vstore8 (pairs, i, tmp);
    }
    for (int j = 0; j < 8; j++)
      UNROLL
      for (int i = 0; i < BG_TM; i++)
        o[(size_t) (p + j) * BG_TM + i] = tmp[i * 8 + j];
  }
  for (; p < K2; p++)
    for (int i = 0; i < BG_TM; i++) {
      const int m = t * BG_TM + i;
      __global const float *xr = x + x_off + (size_t) min (m, M - 1) * K + 2 * p;
      const uint16 a = bf16_bits16 ((float16) (xr[0], xr[1], 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
      o[(size_t) p * BG_TM + i] = m < M ? a.s0 | (a.s1 << 16) : 0;
    }
}

/* acc[j][i] += the dot products of the pn step pairs of panel j (of @np:
 * 1 or 2; its pairs from @wa, @wb: 16 columns a pair) with row i's pairs at
 * xt[BG_TM p + i], for TR rows (acc[i] and acc[BG_TM + i], i < TR): BG_TM
 * rows, or 4 of the last, partial tile (xt and acc offset to them), so
 * that its missing rows cost no dot products. Each row's chain is the same
 * in either (the same bits). Two panels share each broadcast of x: 2 loads
 * of weights and 12 of x per 24 dot products (with one panel the
 * broadcasts held it to ~64% of the instruction's peak). Out of line with
 * the target attribute: the kernel cannot carry it (PoCL inlines kernels
 * into a work-group function built for the plain CPU, as quant.cl notes). */
#define DEFINE_BF16_TILES2(TR)                                                 \
BF16DOT void bf16_tiles2_##TR (__global const uint *wa, __global const uint *wb, int np, int pn, \
    __global const uint *xt, float16 *acc)                                     \
{                                                                              \
  float16 a[TR], b[TR];                                                        \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++) {                                               \
    a[i] = acc[i];                                                             \
    b[i] = acc[BG_TM + i];                                                     \
  }                                                                            \
  if (np == 2)                                                                 \
    for (int p = 0; p < pn; p++) {                                             \
      const uint16 va = vload16 (p, wa), vb = vload16 (p, wb);                 \
      UNROLL                                                                   \
      for (int i = 0; i < TR; i++) {                                           \
        const uint16 xv = (uint16) xt[p * BG_TM + i];                          \
        a[i] = dpbf16 (a[i], xv, va);                                          \
        b[i] = dpbf16 (b[i], xv, vb);                                          \
      }                                                                        \
    }                                                                          \
  else                                                                         \
    for (int p = 0; p < pn; p++) {                                             \
      const uint16 va = vload16 (p, wa);                                       \
      UNROLL                                                                   \
      for (int i = 0; i < TR; i++)                                             \
        a[i] = dpbf16 (a[i], (uint16) xt[p * BG_TM + i], va);                  \
    }                                                                          \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++) {                                               \
    acc[i] = a[i];                                                             \
    acc[BG_TM + i] = b[i];                                                     \
  }                                                                            \
}

DEFINE_BF16_TILES2 (12)
DEFINE_BF16_TILES2 (4)

/* The GEMM: a work-item computes @tiles tiles of BG_TM rows (rows from M on
 * are computed as zeros and not stored; @panel_major as linear_p16g_<T>'s)
 * of two panels, 2 j and 2 j + 1 (one
 * where the count of whole panels is odd), K in blocks of BG_KB steps whose
 * weights (8 KB a panel, step pairs as the instruction takes them: K is
 * even here) serve every tile from the cache; partial sums stay in y
 * between blocks (bias added with the first). The work-items past the
 * panels take the last, partial panel (N not a multiple of 16), which is
 * plain: p16_tail_bf16 on x in float. */
__kernel void linear_p16g_bf16dot (__global const float *x, int x_off,
    __global const ushort *w, __global const float *bias, int has_bias,
    __global float *y, int y_off, int M, int K, int N, int accumulate,
    __global const uint *xb, int tiles, int panel_major)
{
  const int t0 = get_global_id (panel_major) * tiles, n0 = get_global_id (1 - panel_major) * 32;
  const int nt = min (tiles, (M + BG_TM - 1) / BG_TM - t0), K2 = K / 2;
  const int np = min (2, (N >> 4) - (n0 >> 4));
  __global const uint *wa = (__global const uint *) (w + (size_t) n0 * K);
  __global const uint *wb = (__global const uint *) (w + (size_t) (n0 + 16 * (np - 1)) * K);
  if (nt <= 0)
    return;
  if (np <= 0) {
    if ((N & 15) == 0)
      return;
    p16_tail_bf16 (x, x_off, w, bias, has_bias, y, y_off, t0 * BG_TM, min ((t0 + nt) * BG_TM, M), K, N,
        N & ~15, accumulate);
    return;
  }
  for (int k0 = 0; k0 < K; k0 += BG_KB) {
    const int p0 = k0 / 2, pn = min (BG_KB, K - k0) / 2;
    for (int t = 0; t < nt; t++) {
      const int m0 = (t0 + t) * BG_TM;
      float16 acc[2 * BG_TM];
      UNROLL
      for (int j = 0; j < 2; j++)
        UNROLL
        for (int i = 0; i < BG_TM; i++) {
          __global const float *yr = y + y_off + (size_t) (m0 + i) * N + n0 + 16 * j;
          acc[j * BG_TM + i] = j < np && m0 + i < M && (k0 > 0 || accumulate) ? vload16 (0, yr) : 0.0f;
          if (j < np && k0 == 0 && has_bias)
            acc[j * BG_TM + i] += vload16 (0, bias + n0 + 16 * j);
        }
      __global const uint *xt = xb + ((size_t) (t0 + t) * K2 + p0) * BG_TM;
      if (m0 + BG_TM <= M)
        bf16_tiles2_12 (wa + 16 * p0, wb + 16 * p0, np, pn, xt, acc);
      else
        for (int i0 = 0; m0 + i0 < M; i0 += 4)
          bf16_tiles2_4 (wa + 16 * p0, wb + 16 * p0, np, pn, xt + i0, acc + i0);
      for (int j = 0; j < np; j++)
        UNROLL
        for (int i = 0; i < BG_TM; i++)
          if (m0 + i < M)
            vstore16 (acc[j * BG_TM + i], 0, y + y_off + (size_t) (m0 + i) * N + n0 + 16 * j);
    }
  }
}
#endif
