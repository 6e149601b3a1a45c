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
 * 367.8 tokens/s. The sums stay in C tiles over the whole of K (no store
 * between blocks, unlike the int8 GEMM's per-block scales). */
#ifdef VTP_X86_AMX_BF16

#define AMX_BF16 __attribute__ ((target ("amx-tile,amx-bf16,avx512f")))
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

/* R tiles of 16 rows (xa: the first's A tiles; the next R - 1 follow, nc
 * apart) times P panels (wa, wb) over all of K, into c (R P tiles of 16 x 16
 * floats, row tile after row tile, panel after panel): with R = P = 2, 4 C,
 * 2 A and 2 B tiles, AMX's 8 registers, and each tile loaded serves two
 * products. */
#define AMX_LOAD_A(r)                                                          \
  const vtp_tile ta##r = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, xa + ((size_t) (r) * nc + ch) * 512, 64);
#define AMX_LOAD_B(p)                                                          \
  const vtp_tile tb##p = __builtin_ia32_tileloadd64_internal (AT_ROWS, 64, w##p + (size_t) ch * 512, 64);
#define AMX_BF16_TILES(R, P)                                                   \
AMX_BF16 void amx_bf16_tiles_##R##_##P (__global const ushort *xa, __global const ushort *w0, \
    __global const ushort *w1, int nc, float *c)                               \
{                                                                              \
  vtp_tile c00 = __builtin_ia32_tilezero_internal (AT_ROWS, 64);               \
  vtp_tile c01 = __builtin_ia32_tilezero_internal (AT_ROWS, 64);               \
  vtp_tile c10 = __builtin_ia32_tilezero_internal (AT_ROWS, 64);               \
  vtp_tile c11 = __builtin_ia32_tilezero_internal (AT_ROWS, 64);               \
  for (int ch = 0; ch < nc; ch++) {                                            \
    AMX_LOAD_A (0)                                                             \
    AMX_LOAD_B (0)                                                             \
    c00 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c00, ta0, tb0);  \
    if (P == 2) {                                                              \
      AMX_LOAD_B (1)                                                           \
      c01 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c01, ta0, tb1); \
      if (R == 2) {                                                            \
        AMX_LOAD_A (1)                                                         \
        c10 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c10, ta1, tb0); \
        c11 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c11, ta1, tb1); \
      }                                                                        \
    } else if (R == 2) {                                                       \
      AMX_LOAD_A (1)                                                           \
      c10 = __builtin_ia32_tdpbf16ps_internal (AT_ROWS, 64, 64, c10, ta1, tb0); \
    }                                                                          \
  }                                                                            \
  __builtin_ia32_tilestored64_internal (AT_ROWS, 64, c, 64, c00);              \
  if (P == 2)                                                                  \
    __builtin_ia32_tilestored64_internal (AT_ROWS, 64, c + 256, 64, c01);      \
  if (R == 2) {                                                                \
    __builtin_ia32_tilestored64_internal (AT_ROWS, 64, c + 256 * P, 64, c10);  \
    if (P == 2)                                                                \
      __builtin_ia32_tilestored64_internal (AT_ROWS, 64, c + 768, 64, c11);    \
  }                                                                            \
}
AMX_BF16_TILES (1, 1)
AMX_BF16_TILES (1, 2)
AMX_BF16_TILES (2, 1)
AMX_BF16_TILES (2, 2)

/* The GEMM: a work-item computes @tiles blocks of 32 rows (two A tiles;
 * rows from M on are zeros in xb and not stored) of two panels, 2 j and
 * 2 j + 1 (one where the count of whole panels is odd); @panel_major as
 * linear_p16g_<T>'s. The work-items past the panels take the last, partial
 * panel (N not a multiple of 16), which is plain: p16_tail_bf16 on x in
 * float. y = the tile products + bias (+ y). */
__kernel void linear_amx_bf16 (__global const float *x, int x_off,
    __global const ushort *w, __global const float *bias, int has_bias,
    __global float *y, int y_off, int M, int K, int N, int accumulate,
    __global const ushort *xb, int tiles, int panel_major)
{
  const int b0 = get_global_id (panel_major) * tiles, n0 = get_global_id (1 - panel_major) * 32;
  const int mt = (M + AT_ROWS - 1) / AT_ROWS, nb = min (tiles, (mt + 1) / 2 - b0);
  const int np = min (2, (N >> 4) - (n0 >> 4)), nc = K / AT_STEPS;
  __global const ushort *w0 = w + (size_t) n0 * K, *w1 = w + (size_t) (n0 + 16 * (np - 1)) * K;
  if (nb <= 0)
    return;
  if (np <= 0) {
    if ((N & 15) != 0)
      p16_tail_bf16 (x, x_off, w, bias, has_bias, y, y_off, b0 * 2 * AT_ROWS,
          min ((b0 + nb) * 2 * AT_ROWS, M), K, N, N & ~15, accumulate);
    return;
  }
  for (int b = b0; b < b0 + nb; b++) {
    const int t = 2 * b, rt = min (2, mt - t);
    __global const ushort *xa = xb + (size_t) t * nc * AT_ROWS * AT_STEPS;
    float c[4 * 256] __attribute__ ((aligned (64)));
    if (rt == 2 && np == 2)
      amx_bf16_tiles_2_2 (xa, w0, w1, nc, c);
    else if (rt == 2)
      amx_bf16_tiles_2_1 (xa, w0, w1, nc, c);
    else if (np == 2)
      amx_bf16_tiles_1_2 (xa, w0, w1, nc, c);
    else
      amx_bf16_tiles_1_1 (xa, w0, w1, nc, c);
    for (int r = 0; r < rt; r++)
      for (int p = 0; p < np; p++)
        for (int i = 0; i < AT_ROWS; i++) {
          const int m = (t + r) * AT_ROWS + i;
          if (m < M)
            store16 (vload16 (0, c + (r * np + p) * 256 + i * 16),
                y + y_off + (size_t) m * N + n0 + 16 * p, bias + n0 + 16 * p, has_bias, accumulate);
        }
  }
}

#endif
