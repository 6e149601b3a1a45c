/* linear-amx.cl: the bfloat16 GEMM (prefill, encode) of BF16 weights with
 * Intel's AMX tile instructions, on CPUs that have AMX-BF16 (built with
 * -DVTP_X86_AMX_BF16, which comes with -DVTP_X86_BF16: vtp-device.c asks
 * Linux for the tile state first; vtp-linear.c takes it in place of
 * linear_p16g_bf16dot where K is a multiple of 32). Follows linear.cl in
 * the program (its panels, bf16_bits16 and p16_tail_bf16).
 *
 * One tdpbf16ps multiplies a 16 x 32 tile of x's rows in bfloat16 by a
 * 32 x 16 tile of weights and adds the 16 x 16 products to float sums:
 * 16384 flops, where a vdpbf16ps makes 64. The BF16 panels (K even) hold
 * steps k and k + 1 of a column in one 32-bit word, 16 columns a row of
 * 64 bytes: AMX's B-tile layout, so 32 steps of a panel load as they are
 * (16 rows of 64 bytes, contiguous). x's rows are rounded to bfloat16 once
 * into A tiles laid out one after the other (x_to_bf16_amx), so that each
 * A tile is 1 KB in one piece. As linear_p16g_bf16dot: x rounded to
 * bfloat16, the products summed in float (AMX's order within a tile,
 * bfloat16 subnormals read as zero), the plain columns past the last whole
 * panel in float.
 *
 * Measured on 2 cores of an Intel Xeon with AMX (VTP_AMX=0 / 1: the
 * vdpbf16ps GEMM / this): 577 x 1024 x 4096 (vtp-bench-linear, BF16,
 * medians of 10) 190 -> 1500 GFLOP/s; ViT-L/14-336 + projector at
 * weight-type=bf16 (vtp-bench -V -w bf16) 2292 -> 838 ms; the 1.1B bench
 * LLM's prefill of 512 at bf16 (vtp-bench-llm -w bf16 -p 512) 85.7 ->
 * 367.8 tokens/s. Then, the sums kept in C tiles over all of K (2 x 2
 * tiles, 4 blocks of rows a work-item) -> K blocks of 8 tile products
 * over 4 pairs of panels and up to 10 blocks of rows (amx_bf16_item;
 * medians of 6-8 alternating runs): the bf16 encode 465 -> 388-404 ms,
 * the bf16 prefill of 600 500 -> 545 tokens/s.
 *
 * What bounds it there (single-core loops in C, tile data from memset
 * pages: pages never written all read the one zero page, always in L1,
 * and zeros make the products cheaper): tdpbf16ps alone on random data
 * 5.5 ns (16 cycles; ~3 TFLOP/s a core); the 2 x 2 step with its four
 * tile loads from L1 8-10 ns, with x streamed from L2 9-11 ns. */
#ifdef VTP_X86_AMX_BF16

#define AMX_BF16 __attribute__ ((target ("amx-tile,amx-bf16,avx512f,avx512bf16")))
#define AT_ROWS 16              /* rows of x an A tile holds */
#define AT_STEPS 32             /* steps of K a tile product takes */

/* bfloat16 pairs of 2 x 16 floats (an A tile row's 32 steps): word j =
 * bf16 (a[2 j]) | bf16 (a[2 j + 1]) << 16 for the 32 floats a = (lo, hi) */
inline uint16 bf16_pairs (float16 lo, float16 hi)
{
  const uint16 l = bf16_bits16 (lo), h = bf16_bits16 (hi);
  return (uint16) (l.even, h.even) | ((uint16) (l.odd, h.odd) << 16);
}

/* x's rows as bfloat16 A tiles: step k (< K, a multiple of 32) of row m =
 * 16 t + i is at xb[((t K / 32 + k / 32) 16 + i) 32 + k % 32], rows from M
 * on zeros. A work-item per tile of 16 rows. */
__kernel void x_to_bf16_amx (__global const float *x, int x_off, int M, int K, __global ushort *xb)
{
  const int t = get_global_id (0), nc = K / AT_STEPS;
  for (int i = 0; i < AT_ROWS; i++) {
    const int m = t * AT_ROWS + i;
    __global const float *xr = x + x_off + (size_t) m * K;
    __global uint *o = (__global uint *) (xb + ((size_t) t * nc * AT_ROWS + i) * AT_STEPS);
    if (m < M)
      for (int c = 0; c < nc; c++)
        vstore16 (bf16_pairs (vload16 (0, xr + c * AT_STEPS), vload16 (1, xr + c * AT_STEPS)), 0,
            o + (size_t) c * AT_ROWS * 16);
    else
      for (int c = 0; c < nc; c++)
        vstore16 ((uint16) 0, 0, o + (size_t) c * AT_ROWS * 16);
  }
}

/* the most pairs of panels a work-item takes (vtp-linear.c's
 * AMX_ITEM_PAIRS, $VTP_AMX_PAIRS up to its AMX_MAX_PAIRS) */
#define AMX_MAX_PAIRS 8

/* Row @i (< 32) of panel @p's 16 columns in a partial block's tiles in c
 * (amx_bf16_item) */
inline float *amx_partial_row (float *c, int p, int i)
{
  return c + p / 2 * 1024 + (2 * (i / 16) + p % 2) * 256 + (i % 16) * 16;
}

/* A work-item's products: @nb blocks of 32 rows (xa: the first block's two
 * A tiles, nc chunks of 32 steps each; the next blocks follow) times @npan
 * panels (w: the first; the next follow, K apart), over K in blocks of
 * @kbc chunks: for each K block, for each pair of panels, for each block
 * of rows, the 4 C tiles (rows 0-15 and 16-31 by panel a and b) load, take
 * the K block's products and store. So a pair's K block of weights (2 kbc
 * KB) is read from L1 by every block of rows after the first, and the
 * item's rows of x (kbc KB each) stay in L2 for all its panels, where C
 * held over all of K read both from L2 or further for every block (x's
 * copy of 577 x 4096 does not fit the 2 MB L2 of this Xeon). The next
 * pair's K block of weights is requested into L2 while the blocks of rows
 * run: an encode or a prefill reads each weight once, from memory.
 * Between K blocks the sums wait in @cs, not in y, whose rows N floats
 * apart fall in one L1 set where N is a power of two (577 x 1024 x 4096
 * at 1.6 TFLOP/s against 1.96 with N = 4000).
 *
 * 4 C, 2 A and 2 B tiles: AMX's 8 registers; each tile loaded serves two
 * products. Between K blocks the C tiles live in @cs (per pair, per block
 * 4 tiles of 16 x 16 floats, contiguous: rows 0-15 panel a, rows 0-15
 * panel b, rows 16-31 panel a, rows 16-31 panel b), whose next block the
 * loop requests into L1 ahead. The first K block starts them from y
 * (@from_y: y holds y + bias already), from the bias (16 rows of the
 * same 64 bytes: a tile load of stride 0) or from zeros; the last stores
 * the first @nfull blocks (32 rows below M) to y (@y0: block 0's first row
 * at panel 0; rows N apart). A last, partial block starts from c and ends
 * there (per pair 4 tiles as in cs, amx_partial_row), where the caller
 * puts its start (y + bias, the bias or zeros) and takes its rows below M.
 * Where a pair has one panel (odd @npan), wb = wa and panel b's tiles start
 * from zeros and end in c past the pairs (discarded). One function for all of
 * it, as LLVM configures the tiles (ldtilecfg) on every call of a function
 * that uses them; the tile operations take no branch, only their addresses
 * change. */
AMX_BF16 void amx_bf16_item (__global const ushort *xa, __global const ushort *w, int K, int nc,
    int kbc, int npan, int nb, int nfull, __global float *y0, int N, __global const float *bias,
    int from_y, float *c, __global float *cs)
{
  const float zeros[16] __attribute__ ((aligned (64))) = { 0 };
  /* flat addresses: PoCL's CPU devices have one address space, OpenCL C
   * has no cast between two */
  const size_t z = (size_t) zeros, junk = (size_t) (c + AMX_MAX_PAIRS * 1024);
  for (int k0 = 0; k0 < nc; k0 += kbc) {
    const int kn = min (kbc, nc - k0), first = k0 == 0, last = k0 + kn >= nc;
    for (int p = 0; p < npan; p += 2) {
      const int two = p + 1 < npan;
      __global const ushort *wa = w + (size_t) p * 16 * K + (size_t) k0 * 512;
      __global const ushort *wb = two ? wa + (size_t) 16 * K : wa;
      const size_t cp = (size_t) (c + p / 2 * 1024), bi = bias ? (size_t) (bias + 16 * p) : z;
      /* the next pair's K block of weights (or the first pair's next K
       * block) into L2 while this one runs: 16 lines per panel and chunk,
       * from memory (an encode's or a prefill's weights are read once),
       * which would otherwise stall the first block of rows */
      const int np_ = p + 2 < npan ? p + 2 : 0, nk0 = p + 2 < npan ? k0 : k0 + kbc;
      const int nkn = nk0 < nc ? min (kbc, nc - nk0) : 0, nlines = nkn * 16 * min (2, npan - np_);
      __global const uchar *nwa = (__global const uchar *) (w + (size_t) np_ * 16 * K + (size_t) nk0 * 512);
      __global const uchar *nwb = nwa + (size_t) 32 * K;
      const int lstep = (nlines + nb * kn - 1) / (nb * kn);
      for (int b = 0; b < nb; b++) {
        __global const ushort *x0 = xa + ((size_t) 2 * b * nc + k0) * 512, *x1 = x0 + (size_t) nc * 512;
        const int whole = b < nfull;
        const size_t yb = (size_t) (y0 + (size_t) b * 32 * N + 16 * p);
        const size_t home = (size_t) (cs + ((size_t) p / 2 * nb + b) * 1024);
        /* where each C tile goes, and its row stride in bytes */
        const size_t d00 = !last ? home : whole ? yb : cp;
        const size_t d10 = !last ? home + 2048 : whole ? yb + (size_t) 64 * N : cp + 2048;
        const size_t d01 = !last ? home + 1024 : !two ? junk : whole ? d00 + 64 : cp + 1024;
        const size_t d11 = !last ? home + 3072 : !two ? junk + 1024 : whole ? d10 + 64 : cp + 3072;
        const long ds = last && whole ? (long) N * 4 : 64, ds1 = two ? ds : 64;
        /* and where it starts: home, a partial block's start in c, (the
         * tile of) y, the bias or zeros */
        const int in_c = !first || !whole, at_y = !in_c && from_y, at_bias = !in_c && !from_y && bias;
        const size_t c0 = !first ? home : cp;
        const size_t s00 = in_c ? c0 : at_y ? yb : at_bias ? bi : z;
        const size_t s10 = in_c ? c0 + 2048 : at_y ? yb + (size_t) 64 * N : s00;
        const size_t s01 = !two ? z : in_c ? c0 + 1024 : at_y ? yb + 64 : at_bias ? bi + 64 : z;
        const size_t s11 = !two ? z : in_c ? c0 + 3072 : at_y ? yb + (size_t) 64 * N + 64 : s01;
        const long ss = in_c ? 64 : at_y ? (long) N * 4 : 0;
        vtp_tile c00 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, (const void *) s00, ss);
        vtp_tile c01 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, (const void *) s01, two ? ss : 0);
        vtp_tile c10 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, (const void *) s10, ss);
        vtp_tile c11 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, (const void *) s11, two ? ss : 0);
        /* the next block's C lines into L1 while these run: its tiles in
         * home (4 KB) where it reads or writes them, its rows of y (32 of
         * 64 or 128 bytes; for writing) where it does, else the stores and
         * loads wait for lines from L2 or further, y's from memory */
        const int more = b + 1 < nb, ny = more && b + 1 < nfull && (last || (first && from_y));
        __global const uchar *next = (__global const uchar *) (home + 4096);
        __global const uchar *nexty = (__global const uchar *) (yb + (size_t) 128 * N);
        const int pf_home = more && (!first || !last) ? 64 : 0, pf_y = ny ? 32 * (1 + two) : 0;
        const int pf_lines = pf_home + pf_y, pf_step = (pf_lines + kn - 1) / kn;
        for (int ch = 0; ch < kn; ch++) {
          const vtp_tile a0 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, x0 + (size_t) ch * 512, 64);
          const vtp_tile b0 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, wa + (size_t) ch * 512, 64);
          c00 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c00, a0, b0);
          const vtp_tile b1 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, wb + (size_t) ch * 512, 64);
          c01 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c01, a0, b1);
          const vtp_tile a1 = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, x1 + (size_t) ch * 512, 64);
          c10 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c10, a1, b0);
          c11 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c11, a1, b1);
          for (int l = ch * pf_step; l < min ((ch + 1) * pf_step, pf_lines); l++)
            if (l < pf_home)
              __builtin_prefetch (next + 64 * l, 1, 3);
            else
              __builtin_prefetch (nexty + (size_t) ((l - pf_home) >> (two ? 1 : 0)) * N * 4
                  + 64 * ((l - pf_home) & two), 1, 3);
          for (int l = (b * kn + ch) * lstep; l < min ((b * kn + ch + 1) * lstep, nlines); l++)
            __builtin_prefetch (l < nkn * 16 ? nwa + 64 * l : nwb + 64 * (l - nkn * 16), 0, 2);
        }
        __builtin_ia32_tilestored64_internal (AT_ROWS, 64, (void *) d00, ds, c00);
        __builtin_ia32_tilestored64_internal (AT_ROWS, 64, (void *) d01, ds1, c01);
        __builtin_ia32_tilestored64_internal (AT_ROWS, 64, (void *) d10, ds, c10);
        __builtin_ia32_tilestored64_internal (AT_ROWS, 64, (void *) d11, ds1, c11);
      }
    }
  }
}

/* The GEMM: a work-item computes @rblocks blocks of 32 rows (two A tiles;
 * x's copy holds an even count of tiles, rows from M on zeros, not stored)
 * of up to 2 AMX_MAX_PAIRS whole panels, in K blocks of @kbc chunks (see
 * amx_bf16_item); dimension 0 the panels, 1 the rows. The work-items past
 * the panels take the last, partial panel (N not a multiple of 16), which
 * is plain: p16_tail_bf16 on x in float. y = the tile products + bias
 * (+ y): every row's sums start from y + bias (as linear_p16g_<T>'s), in
 * whole blocks and in the partial one alike, so that a row's bits do not
 * depend on where its block ends (a batch of images gives each image the
 * bits it gets alone: test-vision-batch). */
__kernel void linear_amx_bf16 (__global const float *x, int x_off,
    __global const ushort *w, __global const float *bias, int has_bias,
    __global float *y, int y_off, int M, int K, int N, int accumulate,
    __global const ushort *xb, int rblocks, int ipairs, int kbc, __global float *cs)
{
  const int b0 = get_global_id (1) * rblocks, n0 = get_global_id (0) * ipairs * 32;
  const int mt = (M + AT_ROWS - 1) / AT_ROWS, nb = min (rblocks, (mt + 1) / 2 - b0);
  const int npan = min (2 * ipairs, (N >> 4) - (n0 >> 4)), nc = K / AT_STEPS;
  if (nb <= 0)
    return;
  if (npan <= 0) {
    if ((N & 15) != 0)
      p16_tail_bf16 (x, x_off, w, bias, has_bias, y, y_off, b0 * 2 * AT_ROWS,
          min ((b0 + nb) * 2 * AT_ROWS, M), K, N, N & ~15, accumulate);
    return;
  }
  const int m0 = b0 * 2 * AT_ROWS, nfull = min (nb, (M - m0) / 32);
  __global float *y0 = y + y_off + (size_t) m0 * N + n0;
  const int rows = min (nb * 32, M - m0);
  if (accumulate && has_bias)
    for (int i = 0; i < rows; i++)
      for (int p = 0; p < npan; p++)
        vstore16 (vload16 (0, y0 + (size_t) i * N + 16 * p) + vload16 (0, bias + n0 + 16 * p), 0,
            y0 + (size_t) i * N + 16 * p);
  /* a partial block's sums start in c from where the whole blocks' do: its
   * rows of y (+ bias) where y is added to, else the bias, else zeros */
  float c[(AMX_MAX_PAIRS + 1) * 1024] __attribute__ ((aligned (64)));
  if (nfull < nb)
    for (int p = 0; p < npan; p++)
      for (int i = 0; i < 32; i++) {
        const int m = m0 + nfull * 32 + i;
        vstore16 (accumulate ? (m < M ? vload16 (0, y0 + (size_t) (m - m0) * N + 16 * p) : 0.0f)
            : has_bias ? vload16 (0, bias + n0 + 16 * p) : 0.0f, 0, amx_partial_row (c, p, i));
      }
  amx_bf16_item (xb + (size_t) 2 * b0 * nc * AT_ROWS * AT_STEPS, w + (size_t) n0 * K, K, nc, kbc, npan,
      nb, nfull, y0, N, has_bias ? bias + n0 : NULL, accumulate, c,
      cs + ((size_t) get_global_id (1) * get_global_size (0) + get_global_id (0)) * rblocks * ipairs * 1024);
  if (nfull < nb)
    for (int p = 0; p < npan; p++)
      for (int i = 0; m0 + nfull * 32 + i < M; i++)
        vstore16 (vload16 (0, amx_partial_row (c, p, i)), 0, y0 + (size_t) (nfull * 32 + i) * N + 16 * p);
}

#endif
