/* quant-amx.cl: the int8 GEMM (prefill, encode) of Q8_0 weights with
 * Intel's AMX tile instructions, on CPUs that have AMX-INT8 (built with
 * -DVTP_X86_AMX: vtp-device.c asks Linux for the tile state first,
 * vtp-linear.c picks qgemm_amx_q8_0 for 16 rows of x or more). Follows
 * quant.cl in the program (its panels, scratch and VNNI tiles).
 *
 * One tdpbssd multiplies a 16 x 32 tile of x's int8 rows by a 32 x 16
 * tile of weights, 8192 byte products, where a vpdpbusd makes 64. The
 * panels' quad fields already are AMX's B-tile layout (quant.cl's header:
 * byte i of panel row j at 64 (i / 4) + 4 j + i % 4, so tile row i / 4
 * holds 4 consecutive k of each of the 16 rows): a Q8_0 block's quants
 * load as they are, 8 tile rows of 64 bytes. Each block's 16 x 16 integer
 * sums go to memory and are scaled and added in float, in the order and
 * with the operations of vnni_tile_q8_0_<R> (the integers are the same
 * exact sums): the outputs are the VNNI GEMM's, bit for bit
 * (tests/test-quant.c /quant/amx).
 *
 * Measured on 2 cores of an Intel Xeon with AMX: the 1.1B bench LLM's
 * prefill of 512 tokens from its Q8_0 GGUF 228-233 -> 298-304 tokens/s
 * (vtp-bench-llm -p 512 -n 1 -r 3, VTP_AMX=0 / 1 alternating); the product
 * 600 x 2048 x 5632 alone 1.15-1.2x. The tile products take little of the
 * time: loading x's tiles (16 rows of 32 bytes, K apart, from L2) and the
 * float scaling of every block's sums hold it. Q4_0 the same way (its
 * nibbles spread to a B tile in memory first) measured no faster than the
 * VNNI tiles (prefill 240-256 tokens/s both): not taken. */
#ifdef VTP_X86_AMX

#define AMX __attribute__ ((target ("amx-tile,amx-int8,avx512vnni,avx512bw,avx512vl")))
#define AMX_ROWS 16             /* rows of x a tile takes */

/* The tile instructions of one block for R tiles of rows in phases (all
 * loads, then the products, then the stores), so that each tile of rows
 * has A and C registers of its own: AMX does not rename its tile
 * registers, and with one A and one C register taken in turn (what LLVM
 * allocates for one tile of rows after the other) every load waited for
 * the last product and every product for the last store. */
#define AMX_LOAD_A(r)                                                          \
  const vtp_tile ta##r = __builtin_ia32_tileloadd64_internal (AMX_ROWS, 32,    \
      xa + (size_t) (r) * AMX_ROWS * K + 32 * b, K);
#define AMX_ZERO_C(r) vtp_tile tc##r = __builtin_ia32_tilezero_internal (AMX_ROWS, 64);
#define AMX_PRODUCT(r) tc##r = __builtin_ia32_tdpbssd_internal (AMX_ROWS, 64, 32, tc##r, ta##r, tb);
#define AMX_STORE_C(r) __builtin_ia32_tilestored64_internal (AMX_ROWS, 64, c + 256 * (r), 64, tc##r);
#define AMX_PHASE_1(OP) OP (0)
#define AMX_PHASE_2(OP) OP (0) OP (1)
#define AMX_PHASE_3(OP) OP (0) OP (1) OP (2)

/* Rows m0 .. m0 + 16 R - 1 of x (quantize_rows_q8's scratch; R tiles of
 * 16, up to 3: with the B tile and their C tiles, 7 of AMX's 8 tile
 * registers) times the Q8_0 panel @wp, into out[0 .. 16 R - 1]; each
 * block's B tile loaded once for the R tiles. */
#define DEFINE_AMX_TILES(R)                                                    \
AMX void amx_tiles_q8_0_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int K, \
    int m0, float16 *out)                                                      \
{                                                                              \
  const int nb = K / 32;                                                       \
  __global const uchar *xa = scratch + (size_t) m0 * K;                        \
  __global const float *dx = (__global const float *) (scratch + d_off) + (size_t) m0 * nb; \
  int c[R * AMX_ROWS * 16] __attribute__ ((aligned (64)));                     \
  for (int i = 0; i < R * AMX_ROWS; i++)                                       \
    out[i] = 0.0f;                                                             \
  for (int b = 0; b < nb; b++) {                                               \
    __global const uchar *pb = wp + (size_t) b * 16 * BB_q8_0;                 \
    const vtp_tile tb = __builtin_ia32_tileloadd64_internal (8, 64, pb + 32, 64); \
    AMX_PHASE_##R (AMX_LOAD_A)                                                 \
    AMX_PHASE_##R (AMX_ZERO_C)                                                 \
    AMX_PHASE_##R (AMX_PRODUCT)                                                \
    AMX_PHASE_##R (AMX_STORE_C)                                                \
    const float16 d = half16_at (pb);                                          \
    for (int i = 0; i < R * AMX_ROWS; i++)                                     \
      out[i] = fma (d * dx[i * nb + b], convert_float16 (vload16 (i, c)), out[i]); \
  }                                                                            \
}
DEFINE_AMX_TILES (1)
DEFINE_AMX_TILES (2)
DEFINE_AMX_TILES (3)

/* qgemm_amx_q8_0: qgemm_vnni_q8_0's work (the same launch: tiles of 6
 * rows, up to @tiles a work-item, of one panel), its rows 16 at a time
 * through amx_tiles_q8_0_<R> and the last fewer than 16 through the VNNI
 * tiles. */
__kernel void qgemm_amx_q8_0 (QGEMM_VNNI_PARAMS)
{
  TILES_OF_PANEL (q8_0)
  __global const uchar *wp = row_q8_0 (w, n0, K);
  const int m0 = t0 * 6, m1 = min (M, (t0 + nt) * 6), rt = min ((m1 - m0) / AMX_ROWS, 3);
  if (rt > 0) {
    float16 acc[3 * AMX_ROWS];
    if (rt == 3)
      amx_tiles_q8_0_3 (wp, scratch, d_off, K, m0, acc);
    else if (rt == 2)
      amx_tiles_q8_0_2 (wp, scratch, d_off, K, m0, acc);
    else
      amx_tiles_q8_0_1 (wp, scratch, d_off, K, m0, acc);
    STORE_TILE_ROWS (acc, m0, rt * AMX_ROWS)
  }
  VNNI_TILES_STORED (q8_0, t0 * 6 + rt * AMX_ROWS, m1)
}

#endif
