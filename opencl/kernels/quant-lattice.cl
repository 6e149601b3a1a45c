/* quant-lattice.cl: llama.cpp's lattice weight types IQ3_XXS, IQ3_S,
 * IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M (ggml's block layouts,
 * opencl/vtp-quant.h; their grids in iq-grids.cl, which precedes this
 * file): the layout-0 loads of the GPU kernels, the panel unpacking shared
 * by the float and int8 kernels, and the int8 GEMV, tiles and GEMM on x86
 * CPUs with VNNI. Follows quant.cl in the program (its macros and helpers)
 * and precedes quant-multi.cl. */

/* ---- the lattice types (IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S, IQ1_M) ----
 * A group of 4 (IQ3) or 8 (IQ2) magnitudes is one entry of a table of
 * points (iq-grids.cl: bytes of a word, two words an IQ2 entry); signs
 * apart (a bit a weight, or a 7-bit index whose eighth bit makes the count
 * even); an odd integer scale 2 s + 1 per 32 (per 16: IQ2_XS, IQ2_S) and
 * a factor 1 / 4 (IQ3_XXS), 1 (IQ3_S) or 1 / 8 (IQ2) to d. IQ1's points
 * are signed (-1, 0, 1) and shifted by +-1/8: the kernels take 8 (g +
 * delta), factor 1 / 8, scale 2 s + 1 per 32 (IQ1_S) or 16 (IQ1_M). */
#define QK_iq3_xxs 256
#define QK_iq3_s 256
#define QK_iq2_xxs 256
#define QK_iq2_xs 256
#define QK_iq2_s 256
#define QK_iq1_s 256
#define QK_iq1_m 256
#define BB_iq3_xxs 98
#define BB_iq3_s 110
#define BB_iq2_xxs 66
#define BB_iq2_xs 74
#define BB_iq2_s 82
#define BB_iq1_s 50
#define BB_iq1_m 56
#define LAT_FACTOR_iq3_xxs 0.25f
#define LAT_FACTOR_iq3_s 1.0f
#define LAT_FACTOR_iq2_xxs 0.125f
#define LAT_FACTOR_iq2_xs 0.125f
#define LAT_FACTOR_iq2_s 0.125f
#define LAT_FACTOR_iq1_s 0.125f
#define LAT_FACTOR_iq1_m 0.125f
/* Every lattice type, for the instantiations */
#define LATTICE_TYPES(M) M (iq3_xxs) M (iq3_s) M (iq2_xxs) M (iq2_xs) M (iq2_s) M (iq1_s) M (iq1_m)
LATTICE_TYPES (DEFINE_ROW)

/* The eight sign bits of a 7-bit sign index (ggml's ksigns_iq2xs). */
inline uint iq_signs8 (uint s7) { return s7 | ((popcount (s7) & 1u) << 7); }
/* A little-endian word at any byte (layout 0's blocks are not aligned). */
inline uint u32_at (__global const uchar *p)
{
  return (uint) p[0] | ((uint) p[1] << 8) | ((uint) p[2] << 16) | ((uint) p[3] << 24);
}
/* The 8 values of words g0 (elements 0-3) and g1 (4-7), negated where bit
 * e of s is set, times db: ggml's products (exact). */
inline float8 iq_group8 (uint g0, uint g1, uint s, float db)
{
  float v[8];
  for (int e = 0; e < 8; e++) {
    const float g = (float) (((e < 4 ? g0 : g1) >> (8 * (e % 4))) & 255u);
    v[e] = db * ((s >> e) & 1u ? -g : g);
  }
  return vload8 (0, v);
}

/* Layout 0: elements 8 j .. 8 j + 7 of the block at b. */
inline float8 lat8_iq3_xxs (__global const uchar *b, uint j)
{
  const uint i = j / 4, l = j % 4, sas = u32_at (b + 66 + 4 * i);
  const float db = half_at (b) * (0.5f + (float) (sas >> 28)) * 0.5f;
  return iq_group8 (vtp_iq3xxs_grid[b[2 + 8 * i + 2 * l]], vtp_iq3xxs_grid[b[3 + 8 * i + 2 * l]],
      iq_signs8 ((sas >> (7 * l)) & 127u), db);
}
inline float8 lat8_iq3_s (__global const uchar *b, uint j)
{
  const uint i = j / 4, qh = b[66 + i];
  const float db = half_at (b) * (float) (1 + 2 * ((b[106 + i / 2] >> (4 * (i % 2))) & 15));
  const uint k = 2 * (j % 4);
  return iq_group8 (vtp_iq3s_grid[b[2 + 8 * i + k] | (((qh >> k) & 1u) << 8)],
      vtp_iq3s_grid[b[3 + 8 * i + k] | (((qh >> (k + 1)) & 1u) << 8)], b[74 + j], db);
}
inline float8 lat8_iq2_xxs (__global const uchar *b, uint j)
{
  const uint i = j / 4, l = j % 4, sas = u32_at (b + 6 + 8 * i), g = b[2 + 8 * i + l];
  const float db = half_at (b) * (0.5f + (float) (sas >> 28)) * 0.25f;
  return iq_group8 (vtp_iq2xxs_grid[2 * g], vtp_iq2xxs_grid[2 * g + 1], iq_signs8 ((sas >> (7 * l)) & 127u), db);
}
/* IQ2_XS / IQ2_S: the scale of group j (8 elements; a nibble a 16) */
inline float iq2_db16 (__global const uchar *b, int scales, uint j)
{
  return half_at (b) * (0.5f + (float) ((b[scales + j / 4] >> (4 * (j % 4 / 2))) & 15)) * 0.25f;
}
inline float8 lat8_iq2_xs (__global const uchar *b, uint j)
{
  const uint q = (uint) b[2 + 2 * j] | ((uint) b[3 + 2 * j] << 8), g = q & 511u;
  return iq_group8 (vtp_iq2xs_grid[2 * g], vtp_iq2xs_grid[2 * g + 1], iq_signs8 (q >> 9), iq2_db16 (b, 66, j));
}
inline float8 lat8_iq2_s (__global const uchar *b, uint j)
{
  const uint g = b[2 + j] | (((b[66 + j / 4] >> (2 * (j % 4))) & 3u) << 8);
  return iq_group8 (vtp_iq2s_grid[2 * g], vtp_iq2s_grid[2 * g + 1], b[34 + j], iq2_db16 (b, 74, j));
}
/* IQ1: the grid's bytes are 8 g + 128 (g in -1, 0, 1); dl (g + delta) */
inline float8 iq1_group8 (uint g0, uint g1, float dl, float delta)
{
  float v[8];
  for (int e = 0; e < 8; e++)
    v[e] = dl * ((float) (((int) (((e < 4 ? g0 : g1) >> (8 * (e % 4))) & 255u) - 128) >> 3) + delta);
  return vload8 (0, v);
}
inline float8 lat8_iq1_s (__global const uchar *b, uint j)
{
  const uint i = j / 4, k = j % 4, qh = (uint) b[34 + 2 * i] | ((uint) b[35 + 2 * i] << 8);
  const uint g = b[2 + j] | (((qh >> (3 * k)) & 7u) << 8);
  return iq1_group8 (vtp_iq1s_grid[2 * g], vtp_iq1s_grid[2 * g + 1], half_at (b) * (float) (2 * ((qh >> 12) & 7u) + 1),
      qh & 0x8000u ? -0.125f : 0.125f);
}
/* IQ1_M's d: bits 4 k .. 4 k + 3 in the top nibble of scale word k */
inline float iq1m_d1 (__global const uchar *b)
{
  ushort bits = 0;
  for (int k = 0; k < 4; k++)
    bits |= (ushort) ((b[49 + 2 * k] >> 4) << (4 * k));
  return vload_half (0, (const half *) &bits);
}
inline float8 lat8_iq1_m (__global const uchar *b, uint j)
{
  const uint h = j / 2, q = b[32 + j / 2] >> (4 * (j % 2)), g = b[j] | ((q & 7u) << 8);
  const uint w = (uint) b[48 + 2 * (h / 4)] | ((uint) b[49 + 2 * (h / 4)] << 8);
  return iq1_group8 (vtp_iq1s_grid[2 * g], vtp_iq1s_grid[2 * g + 1],
      iq1m_d1 (b) * (float) (2 * ((w >> (3 * (h % 4))) & 7u) + 1), q & 8u ? -0.125f : 0.125f);
}
#define DEFINE_LATTICE_LOADS(T)                                                \
inline float8 load8_##T (__global const uchar *r, size_t k)                    \
{                                                                              \
  return lat8_##T (r + k / 256 * BB_##T, (k % 256) / 8);                       \
}                                                                              \
inline float load1_##T (__global const uchar *r, size_t k)                     \
{                                                                              \
  float v[8];                                                                  \
  vstore8 (load8_##T (r, k & ~(size_t) 7), 0, v);                              \
  return v[k % 8];                                                             \
}
LATTICE_TYPES (DEFINE_LATTICE_LOADS)


/* The lattice types in layout 1 (every field a run of units, one unit of
 * the 16 rows a vector load): sub-block i (32 elements) of the 16 rows
 * unpacked to signed bytes w[g] (quad group g: elements 4 g .. 4 g + 3, a
 * row a lane) and the odd scales of its two halves (elements 0-15, 16-31;
 * the same for the types with a scale per 32). */
inline int16 u8x16_at (__global const uchar *p) { return convert_int16 (vload16 (0, p)); }
#ifdef VTP_X86_VNNI
/* x86 (AVX-512): the table lookups one vpgatherdd (16 scalar loads and
 * inserts ran the IQ3_XXS GEMV at a tenth of Q4_K's speed, the gather at
 * 0.94 ms for 2048 x 8192 against 1.37; the gathers still take 0.56 ms
 * of it, about 4 ns each on a core. IQ3_XXS's 256 words held in
 * registers, 8 vpermt2d and 7 selects a lookup, measured slower: 1.15
 * against 0.91 ms, and so did 16 scalar loads from the index bytes
 * through a private array: 1.65, and vmovd + vpinsrd quarters in inline
 * assembly, llama.cpp's way: 1.01; 16 scalar loads written as a vector
 * literal become this same gather), the sign masks one vpermd. PoCL's pointers are flat:
 * the table's address as it is. */
#define IQ_X86 __attribute__ ((target ("avx512f,avx512bw,avx512vl")))
IQ_X86 inline uint16 grid16 (__constant uint *t, int16 i)
{
  return as_uint16 (__builtin_ia32_gathersiv16si ((vtp_v16si) (int16) 0, (const void *) (size_t) t,
      (vtp_v16si) i, (unsigned short) 0xffff, 4));
}
/* 0xff in byte t where bit t of the low nibble of s is set */
IQ_X86 inline uint16 sign_mask16 (uint16 s)
{
  const uint16 masks = (uint16) (0x00000000u, 0x000000ffu, 0x0000ff00u, 0x0000ffffu, 0x00ff0000u, 0x00ff00ffu,
      0x00ffff00u, 0x00ffffffu, 0xff000000u, 0xff0000ffu, 0xff00ff00u, 0xff00ffffu, 0xffff0000u, 0xffff00ffu,
      0xffffff00u, 0xffffffffu);
  return as_uint16 (__builtin_ia32_permvarsi512 ((vtp_v16si) masks, (vtp_v16si) (s & 15u)));
}
/* Entries @g (two words each) of the 16 rows: words 2 g into *q0, 2 g + 1
 * into *q1. Two vpgatherdq of 8 entries each and two vpermt2d to sort the
 * words: half the gathered elements of one vpgatherdd a word, IQ2_XXS's
 * GEMV 0.885 -> 0.589 ms for 2048 x 8192. */
typedef long vtp_iq_v8di __attribute__ ((vector_size (64)));
typedef int vtp_iq_v8si __attribute__ ((vector_size (32)));
IQ_X86 inline void grid16x2 (__constant uint *t, int16 g, uint16 *q0, uint16 *q1)
{
  const int8 glo = g.lo, ghi = g.hi;
  const vtp_iq_v8di a = __builtin_ia32_gathersiv8di ((vtp_iq_v8di) (long8) 0, (const void *) (size_t) t,
      (vtp_iq_v8si) glo, (unsigned char) 0xff, 8);
  const vtp_iq_v8di b = __builtin_ia32_gathersiv8di ((vtp_iq_v8di) (long8) 0, (const void *) (size_t) t,
      (vtp_iq_v8si) ghi, (unsigned char) 0xff, 8);
  const int16 even = (int16) (0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  *q0 = as_uint16 (__builtin_ia32_vpermi2vard512 ((vtp_v16si) a, (vtp_v16si) even, (vtp_v16si) b));
  *q1 = as_uint16 (__builtin_ia32_vpermi2vard512 ((vtp_v16si) a, (vtp_v16si) (even + 1), (vtp_v16si) b));
}
#else
#define IQ_X86
/* Entries @i of a table of words, a row a lane. */
inline uint16 grid16 (__constant uint *t, int16 i)
{
  return (uint16) (t[i.s0], t[i.s1], t[i.s2], t[i.s3], t[i.s4], t[i.s5], t[i.s6], t[i.s7], t[i.s8], t[i.s9],
      t[i.sa], t[i.sb], t[i.sc], t[i.sd], t[i.se], t[i.sf]);
}
/* byte t takes bit t (moved to bit 8 t by the product, whose partial
 * products never meet) */
inline uint16 sign_mask16 (uint16 s) { return (((s & 15u) * 0x00204081u) & 0x01010101u) * 0xffu; }
/* Entries @g of a table of two-word entries: words 2 g into *q0, 2 g + 1
 * into *q1. */
inline void grid16x2 (__constant uint *t, int16 g, uint16 *q0, uint16 *q1)
{
  *q0 = grid16 (t, 2 * g);
  *q1 = grid16 (t, 2 * g + 1);
}
#endif
/* The magnitudes g (4 bytes a lane, each >= 1) negated where the low 4
 * bits of @s are set: -g = (g ^ 0xff) + 1 without a carry out of the byte. */
IQ_X86 inline uint16 iq_signed (uint16 g, uint16 s)
{
  const uint16 m = sign_mask16 (s);
  return (g ^ m) + (m & 0x01010101u);
}
/* The eighth sign bit: the parity of the seven. */
IQ_X86 inline uint16 iq_signs8_16 (uint16 s7)
{
  uint16 p = s7 ^ (s7 >> 4);
  p ^= p >> 2;
  return s7 | (((p ^ (p >> 1)) & 1u) << 7);
}
/* The four 7-bit sign indices of a word (bits 7 l ..) completed to their
 * eight bits, group l's in byte l (each byte's parity folds within it). */
IQ_X86 inline uint16 iq_signs8x4 (uint16 w)
{
  const uint16 f = (w & 0x7fu) | ((w << 1) & 0x7f00u) | ((w << 2) & 0x7f0000u) | ((w << 3) & 0x7f000000u);
  uint16 p = f ^ (f >> 4);
  p ^= p >> 2;
  return f | (((p ^ (p >> 1)) & 0x01010101u) << 7);
}

#ifdef VTP_X86_VBMI
/* The IQ3 types' lookups without gathers, where the CPU has AVX512-VBMI
 * (Zen 4, Ice Lake and later): an entry's 4 values are 4 of 8 magnitudes,
 * so iq-grids.cl's vtp_iq3xxs_codes / vtp_iq3s_codes hold each entry in 12
 * bits (a 3-bit index a value). 32 rows' entries at once: word permutes
 * over the codes (eight registers, 64 codes a permute: 4 for IQ3_XXS's
 * 256, 8 for IQ3_S's 512), selects by the index's bits 6, 7 (and 8); then
 * each code widened to a word, its four fields cut into bytes
 * (vpmultishiftqb) and looked up among the 8 magnitudes (vpshufb). The same
 * words as grid16, so the same int8 products bit for bit; a 1.1B decode
 * step's GEMVs 1.64x (IQ3_XXS) and 1.54x (IQ3_S) as fast as with the
 * gathers (vtp-bench-kernel-ab, docs/quantization.md). VTP_IQ_LOOKUP=gather
 * keeps the gathers (vtp-device.c; the quant-gather test). */
typedef short vtp_iq_v32hi __attribute__ ((vector_size (64)));
typedef short vtp_iq_v16hi __attribute__ ((vector_size (32)));
typedef unsigned short vtp_iq_v16hu __attribute__ ((vector_size (32)));
typedef unsigned int vtp_iq_v16su __attribute__ ((vector_size (64)));
#define IQ_VBMI __attribute__ ((target ("avx512f,avx512bw,avx512vl,avx512vbmi")))
/* 16 codes to their entries' 4 magnitude bytes a lane (@v0, @v1: the 8
 * magnitudes as bytes) */
IQ_VBMI inline uint16 iq3_values16 (vtp_iq_v16hi c, uint v0, uint v1)
{
  const vtp_iq_v16su d = __builtin_convertvector ((vtp_iq_v16hu) c, vtp_iq_v16su);
  /* bytes 0-3 of a qword: bits 0, 3, 6, 9 of its low word; 4-7: of its high one */
  const ulong8 fields = (ulong8) 0x2926232009060300ul;
  const uint16 idx = as_uint16 (__builtin_ia32_vpmultishiftqb512 ((vtp_v64qi) fields, (vtp_v64qi) d)) & 0x07070707u;
  const uint16 values = (uint16) (v0, v1, 0, 0, v0, v1, 0, 0, v0, v1, 0, 0, v0, v1, 0, 0);
  return as_uint16 (__builtin_ia32_pshufb512 ((vtp_v64qi) values, (vtp_v64qi) idx));
}
/* Codes @c1 where bit @bit of the indices @i is set, else @c0 */
IQ_VBMI inline vtp_iq_v32hi iq_pick (vtp_iq_v32hi c0, vtp_iq_v32hi c1, vtp_iq_v32hi i, int bit)
{
  return c0 ^ ((c0 ^ c1) & -((i >> bit) & 1));
}
/* Of four permutes' codes @c (indices 0-63, 64-127, ...), each lane's by
 * bits 6 and 7 of its index @i */
IQ_VBMI inline vtp_iq_v32hi iq_pick4 (const vtp_iq_v32hi *c, vtp_iq_v32hi i)
{
  return iq_pick (iq_pick (c[0], c[1], i, 6), iq_pick (c[2], c[3], i, 6), i, 7);
}
/* Words @i0 and @i1 (16 each) as one vector of 32 */
IQ_VBMI inline vtp_iq_v32hi iq_join (ushort16 i0, ushort16 i1)
{
  return __builtin_shufflevector ((vtp_iq_v16hi) i0, (vtp_iq_v16hi) i1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
      14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
}
/* The entries (4 bytes a lane) of codes @c: the first 16 into *a, the next 16 into *b */
IQ_VBMI inline void iq3_split (vtp_iq_v32hi c, uint v0, uint v1, uint16 *a, uint16 *b)
{
  *a = iq3_values16 (__builtin_shufflevector (c, c, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), v0, v1);
  *b = iq3_values16 (__builtin_shufflevector (c, c, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31),
      v0, v1);
}
/* The IQ3 grids' entries of the 32 indices @i (two groups of the 16
 * rows): the first 16 into *a, the next 16 into *b. IQ3_XXS's: 256
 * entries. */
IQ_VBMI inline void iq3xxs_entries32 (vtp_iq_v32hi i, uint16 *a, uint16 *b)
{
  __constant vtp_iq_v32hi *t = (__constant vtp_iq_v32hi *) vtp_iq3xxs_codes;
  vtp_iq_v32hi c[4];
  UNROLL
  for (int k = 0; k < 4; k++)
    c[k] = __builtin_ia32_vpermi2varhi512 (t[2 * k], i, t[2 * k + 1]);
  iq3_split (iq_pick4 (c, i), VTP_IQ3XXS_VALUES, a, b);
}
/* IQ3_S's: 512 entries (9-bit indices) */
IQ_VBMI inline void iq3s_entries32 (vtp_iq_v32hi i, uint16 *a, uint16 *b)
{
  __constant vtp_iq_v32hi *t = (__constant vtp_iq_v32hi *) vtp_iq3s_codes;
  vtp_iq_v32hi c[8];
  UNROLL
  for (int k = 0; k < 8; k++)
    c[k] = __builtin_ia32_vpermi2varhi512 (t[2 * k], i, t[2 * k + 1]);
  iq3_split (iq_pick (iq_pick4 (c, i), iq_pick4 (c + 4, i), i, 8), VTP_IQ3S_VALUES, a, b);
}
#define IQ3_FN IQ_VBMI
#else
#define IQ3_FN IQ_X86
#endif
#define IQ3XXS_QS 32
#define IQ3XXS_SAS 1056
IQ3_FN inline void unpack_iq3_xxs (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  const uint16 sas = vload16 (0, (__global const uint *) (pb + IQ3XXS_SAS + 64 * i));
  const uint16 s8 = iq_signs8x4 (sas);
  UNROLL
  for (int l = 0; l < 4; l++) {
    const uint16 s = s8 >> (8 * l);
    __global const uchar *q = pb + IQ3XXS_QS + 16 * (8 * i + 2 * l);
    uint16 g0, g1;
#ifdef VTP_X86_VBMI
    iq3xxs_entries32 (iq_join (convert_ushort16 (vload16 (0, q)), convert_ushort16 (vload16 (0, q + 16))), &g0,
        &g1);
#else
    g0 = grid16 (vtp_iq3xxs_grid, u8x16_at (q));
    g1 = grid16 (vtp_iq3xxs_grid, u8x16_at (q + 16));
#endif
    w[2 * l] = iq_signed (g0, s);
    w[2 * l + 1] = iq_signed (g1, s >> 4);
  }
  *slo = *shi = 2 * as_int16 (sas >> 28) + 1;
}
#define IQ3S_QS 32
#define IQ3S_QH 1056
#define IQ3S_SIGNS 1184
#define IQ3S_SCALES 1696
IQ3_FN inline void unpack_iq3_s (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  const int16 qh = u8x16_at (pb + IQ3S_QH + 16 * i);
  UNROLL
  for (int k = 0; k < 8; k += 2) {
    const int16 i0 = u8x16_at (pb + IQ3S_QS + 16 * (8 * i + k)) | (((qh >> k) & 1) << 8);
    const int16 i1 = u8x16_at (pb + IQ3S_QS + 16 * (8 * i + k + 1)) | (((qh >> (k + 1)) & 1) << 8);
    const uint16 s = as_uint16 (u8x16_at (pb + IQ3S_SIGNS + 16 * (4 * i + k / 2)));
    uint16 g0, g1;
#ifdef VTP_X86_VBMI
    iq3s_entries32 (iq_join (convert_ushort16 (i0), convert_ushort16 (i1)), &g0, &g1);
#else
    g0 = grid16 (vtp_iq3s_grid, i0);
    g1 = grid16 (vtp_iq3s_grid, i1);
#endif
    w[k] = iq_signed (g0, s);
    w[k + 1] = iq_signed (g1, s >> 4);
  }
  *slo = *shi = 2 * ((u8x16_at (pb + IQ3S_SCALES + 16 * (i / 2)) >> (4 * (i % 2))) & 15) + 1;
}
/* IQ2: a group of 8 (entry @g, sign bits @s) into w[0], w[1] */
IQ_X86 inline void iq2_group16 (__constant uint *grid, int16 g, uint16 s, uint16 *w)
{
  uint16 q0, q1;
  grid16x2 (grid, g, &q0, &q1);
  w[0] = iq_signed (q0, s);
  w[1] = iq_signed (q1, s >> 4);
}
#define IQ2XXS_QS 32
IQ_X86 inline void unpack_iq2_xxs (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  const uint16 idx = vload16 (0, (__global const uint *) (pb + IQ2XXS_QS + 64 * 2 * i));
  const uint16 sas = vload16 (0, (__global const uint *) (pb + IQ2XXS_QS + 64 * (2 * i + 1)));
  const uint16 s8 = iq_signs8x4 (sas);
  UNROLL
  for (int l = 0; l < 4; l++)
    iq2_group16 (vtp_iq2xxs_grid, as_int16 ((idx >> (8 * l)) & 255u), s8 >> (8 * l), w + 2 * l);
  *slo = *shi = 2 * as_int16 (sas >> 28) + 1;
}
#define IQ2XS_QS 32
#define IQ2XS_SCALES 1056
IQ_X86 inline void unpack_iq2_xs (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  UNROLL
  for (int l = 0; l < 4; l++) {
    const uint16 q = convert_uint16 (vload16 (0, (__global const ushort *) (pb + IQ2XS_QS + 32 * (4 * i + l))));
    iq2_group16 (vtp_iq2xs_grid, as_int16 (q & 511u), iq_signs8_16 (q >> 9), w + 2 * l);
  }
  const int16 sc = u8x16_at (pb + IQ2XS_SCALES + 16 * i);
  *slo = 2 * (sc & 15) + 1;
  *shi = 2 * (sc >> 4) + 1;
}
#define IQ2S_QS 32
#define IQ2S_SIGNS 544
#define IQ2S_QH 1056
#define IQ2S_SCALES 1184
IQ_X86 inline void unpack_iq2_s (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  const int16 qh = u8x16_at (pb + IQ2S_QH + 16 * i);
  UNROLL
  for (int l = 0; l < 4; l++) {
    const int16 g = u8x16_at (pb + IQ2S_QS + 16 * (4 * i + l)) | (((qh >> (2 * l)) & 3) << 8);
    iq2_group16 (vtp_iq2s_grid, g, as_uint16 (u8x16_at (pb + IQ2S_SIGNS + 16 * (4 * i + l))), w + 2 * l);
  }
  const int16 sc = u8x16_at (pb + IQ2S_SCALES + 16 * i);
  *slo = 2 * (sc & 15) + 1;
  *shi = 2 * (sc >> 4) + 1;
}
/* IQ1: the 16 rows' groups of 8 (entries @g), every byte moved by the
 * delta (+-1: the grid's bytes are 8 g + 128, none wraps), then signed */
IQ_X86 inline void iq1_group16 (int16 g, int16 neg, uint16 *w)
{
  uint16 q0, q1;
  const uint16 delta = (uint16) 0x01010101u - as_uint16 (neg & 1) * 0x02020202u;
  grid16x2 (vtp_iq1s_grid, g, &q0, &q1);
  w[0] = (q0 + delta) ^ 0x80808080u;
  w[1] = (q1 + delta) ^ 0x80808080u;
}
#define IQ1S_QS 32
#define IQ1S_QH 544
IQ_X86 inline void unpack_iq1_s (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  const int16 qh = convert_int16 (vload16 (0, (__global const ushort *) (pb + IQ1S_QH + 32 * i)));
  UNROLL
  for (int k = 0; k < 4; k++)
    iq1_group16 (u8x16_at (pb + IQ1S_QS + 16 * (4 * i + k)) | (((qh >> (3 * k)) & 7) << 8), qh >> 15, w + 2 * k);
  *slo = *shi = 2 * ((qh >> 12) & 7) + 1;
}
#define IQ1M_QH 512
#define IQ1M_SCALES 768
IQ_X86 inline void unpack_iq1_m (__global const uchar *pb, int i, uint16 *w, int16 *slo, int16 *shi)
{
  UNROLL
  for (int k = 0; k < 4; k++) {
    const int l = 4 * i + k;
    const int16 q = u8x16_at (pb + IQ1M_QH + 16 * (l / 2)) >> (4 * (l % 2));
    iq1_group16 (u8x16_at (pb + 16 * l) | ((q & 7) << 8), q >> 3, w + 2 * k);
  }
  const int16 sc = convert_int16 (vload16 (0, (__global const ushort *) (pb + IQ1M_SCALES + 32 * (i / 2))));
  *slo = 2 * ((sc >> (6 * (i % 2))) & 7) + 1;
  *shi = 2 * ((sc >> (6 * (i % 2) + 3)) & 7) + 1;
}
/* The 16 rows' d: f16 at the panel block's start, IQ1_M's from the top
 * nibbles of its 4 scale words */
inline float16 iq1m_d16 (__global const uchar *pb)
{
  ushort16 bits = 0;
  for (int k = 0; k < 4; k++)
    bits |= (vload16 (0, (__global const ushort *) (pb + IQ1M_SCALES + 32 * k)) >> (ushort) 12) << (ushort) (4 * k);
  ushort b[16];
  vstore16 (bits, 0, b);
  return vload_half16 (0, (const half *) b);
}
#define LAT_D_iq3_xxs half16_at
#define LAT_D_iq3_s half16_at
#define LAT_D_iq2_xxs half16_at
#define LAT_D_iq2_xs half16_at
#define LAT_D_iq2_s half16_at
#define LAT_D_iq1_s half16_at
#define LAT_D_iq1_m iq1m_d16

/* The float kernels: a panel block dequantized (d factor s times the
 * signed values: the host's values exactly), and the GEMV's block dots. */
#define DEFINE_LATTICE_PANEL(T)                                                \
IQ_X86 inline void dq_panel_##T (__global const uchar *pb, float *out)         \
{                                                                              \
  const float16 d = LAT_D_##T (pb) * LAT_FACTOR_##T;                           \
  for (int i = 0; i < 8; i++) {                                                \
    uint16 w[8];                                                               \
    int16 slo, shi;                                                            \
    unpack_##T (pb, i, w, &slo, &shi);                                         \
    const float16 dl = d * convert_float16 (slo), dh = d * convert_float16 (shi); \
    UNROLL                                                                     \
    for (int g = 0; g < 8; g++)                                                \
      UNROLL                                                                   \
      for (int t = 0; t < 4; t++)                                              \
        vstore16 (quad_s8 (w[g], t) * (g < 4 ? dl : dh), 32 * i + 4 * g + t, out); \
  }                                                                            \
}
#define DEFINE_LATTICE_DOTS(T, TM)                                             \
IQ_X86 inline void dot_##T##_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  const float16 d = LAT_D_##T (pb) * LAT_FACTOR_##T;                           \
  for (int i = 0; i < 8; i++) {                                                \
    uint16 w[8];                                                               \
    int16 slo, shi;                                                            \
    unpack_##T (pb, i, w, &slo, &shi);                                         \
    float16 s[2][TM];                                                          \
    UNROLL                                                                     \
    for (int r = 0; r < TM; r++)                                               \
      s[0][r] = s[1][r] = 0.0f;                                                \
    UNROLL                                                                     \
    for (int g = 0; g < 8; g++)                                                \
      UNROLL                                                                   \
      for (int t = 0; t < 4; t++) {                                            \
        const float16 wv = quad_s8 (w[g], t);                                  \
        UNROLL                                                                 \
        for (int r = 0; r < TM; r++)                                           \
          s[g / 4][r] = fma ((float16) xr[r][kb + 32 * i + 4 * g + t], wv, s[g / 4][r]); \
      }                                                                        \
    const float16 dl = d * convert_float16 (slo), dh = d * convert_float16 (shi); \
    UNROLL                                                                     \
    for (int r = 0; r < TM; r++)                                               \
      acc[r] = fma (dh, s[1][r], fma (dl, s[0][r], acc[r]));                   \
  }                                                                            \
}
#define DEFINE_LATTICE(T)                                                      \
  DEFINE_LATTICE_PANEL (T)                                                     \
  DEFINE_LATTICE_DOTS (T, 1)                                                   \
  DEFINE_LATTICE_DOTS (T, 2)                                                   \
  DEFINE_LATTICE_DOTS (T, 3)                                                   \
  DEFINE_LATTICE_DOTS (T, 4)                                                   \
  DEFINE_QLINEAR (T)
LATTICE_TYPES (DEFINE_LATTICE)


#ifdef VTP_X86_VNNI
/* The lattice types: each sub-block unpacked (unpack_<T>: signed bytes),
 * in as w + 128 (unsigned) with 128 times x's half sums off after, as
 * Q8_0's; the halves' sums times their odd scales in integers; d dx times
 * the factor once a super-block. */
VNNI inline void lat_half_sums (const uint16 *w, const int *xq, int16 *lo, int16 *hi)
{
  int16 a = 0, b = 0;
  UNROLL
  for (int g = 0; g < 4; g++) {
    a = dpbusd (a, as_int16 (w[g] ^ 0x80808080u), (int16) xq[g]);
    b = dpbusd (b, as_int16 (w[4 + g] ^ 0x80808080u), (int16) xq[4 + g]);
  }
  *lo = a;
  *hi = b;
}
#define DEFINE_VNNI_SUPER_LATTICE(T)                                           \
VNNI inline float16 vnni_super_##T (__global const uchar *pb, const int *xq, const int *xs, const int *xm, \
    const float *dx, float16 acc)                                              \
{                                                                              \
  int16 isum = 0;                                                              \
  for (int i = 0; i < 8; i++) {                                                \
    uint16 w[8];                                                               \
    int16 slo, shi, a, b;                                                      \
    unpack_##T (pb, i, w, &slo, &shi);                                         \
    lat_half_sums (w, xq + 8 * i, &a, &b);                                     \
    isum += slo * (a - 128 * xs[2 * i]) + shi * (b - 128 * xs[2 * i + 1]);     \
  }                                                                            \
  return fma (LAT_D_##T (pb) * LAT_FACTOR_##T * dx[0], convert_float16 (isum), acc); \
}
LATTICE_TYPES (DEFINE_VNNI_SUPER_LATTICE)


/* The lattice types' tiles: a super-block of the panel unpacked once
 * (lat_unpack_sb_<T>: the quads + 128, u[8 i + g], and sub-block i's two
 * halves' scales, sc[2 i] and sc[2 i + 1]), then the same integer sums
 * and float step as vnni_super_<T> (the same results) for the R rows
 * (lat_sb_<R>, every lattice type's). The tiles (few rows) unpack each
 * super-block for themselves, the prefill GEMM (qgemm_vnni_<T>, below)
 * once for all the tiles of its work-item. */
#define DEFINE_LAT_UNPACK_SB(T)                                                \
VNNI inline void lat_unpack_sb_##T (__global const uchar *pb, uint16 *u, int16 *sc) \
{                                                                              \
  for (int i = 0; i < 8; i++) {                                                \
    uint16 w[8];                                                               \
    unpack_##T (pb, i, w, sc + 2 * i, sc + 2 * i + 1);                         \
    UNROLL                                                                     \
    for (int g = 0; g < 8; g++)                                                \
      u[8 * i + g] = w[g] ^ 0x80808080u;                                       \
  }                                                                            \
}
LATTICE_TYPES (DEFINE_LAT_UNPACK_SB)
/* d: the super-block's d times the type's factor */
#define LAT_SB(R)                                                              \
VNNI void lat_sb_##R (const uint16 *u, const int16 *sc, float16 d, __global const uchar *scratch, int d_off, \
    int s_off, int K, int m0, int M, int sbk, float16 *out)                    \
{                                                                              \
  TILE_ROWS (R)                                                                \
  int16 isum[TR] = { 0 };                                                      \
  (void) acc;                                                                  \
  for (int i = 0; i < 8; i++) {                                                \
    const int b = 8 * sbk + i;                                                 \
    int16 a[TR] = { 0 }, c[TR] = { 0 };                                        \
    UNROLL                                                                     \
    for (int g = 0; g < 4; g++) {                                              \
      const int16 lo = as_int16 (u[8 * i + g]), hi = as_int16 (u[8 * i + 4 + g]); \
      UNROLL                                                                   \
      for (int r = 0; r < TR; r++) {                                           \
        a[r] = dpbusd (a[r], lo, (int16) xq[r][8 * b + g]);                    \
        c[r] = dpbusd (c[r], hi, (int16) xq[r][8 * b + 4 + g]);                \
      }                                                                        \
    }                                                                          \
    UNROLL                                                                     \
    for (int r = 0; r < TR; r++)                                               \
      isum[r] += sc[2 * i] * (a[r] - 128 * xs[r][2 * b]) + sc[2 * i + 1] * (c[r] - 128 * xs[r][2 * b + 1]); \
  }                                                                            \
  UNROLL                                                                       \
  for (int r = 0; r < TR; r++)                                                 \
    out[r] = fma (d * dx[r][8 * sbk], convert_float16 (isum[r]), out[r]);      \
}
LAT_SB (1)
LAT_SB (2)
LAT_SB (3)
LAT_SB (4)
LAT_SB (5)
LAT_SB (6)
#define TILES_LATTICE(T, R)                                                    \
VNNI void vnni_tile_##T##_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, \
    int K, int m0, int M, float16 *out)                                        \
{                                                                              \
  uint16 u[64];                                                                \
  int16 sc[16];                                                                \
  for (int r = 0; r < R; r++)                                                  \
    out[r] = 0.0f;                                                             \
  for (int sb = 0; sb < K / 256; sb++) {                                       \
    __global const uchar *pb = wp + (size_t) sb * 16 * BB_##T;                 \
    TILE_PREFETCH (pb, 16 * BB_##T, 0)                                         \
    lat_unpack_sb_##T (pb, u, sc);                                             \
    lat_sb_##R (u, sc, LAT_D_##T (pb) * LAT_FACTOR_##T, scratch, d_off, s_off, K, m0, M, sb, out); \
  }                                                                            \
}
#define SIX_LATTICE_TILES(T) SIX_TILES (TILES_LATTICE, T)
LATTICE_TYPES (SIX_LATTICE_TILES)


/* qgemm_vnni_<T> of the lattice types: each super-block unpacked once for
 * all the work-item's tiles (lat_unpack_sb_<T>, lat_sb_<R>), as Q3_K's. */
#define LAT_UNPACK(T)                                                          \
  uint16 u[64];                                                                \
  int16 sc[16];                                                                \
  const float16 d = LAT_D_##T (pb) * LAT_FACTOR_##T;                           \
  lat_unpack_sb_##T (pb, u, sc);
#define LAT_CALL(R, T) lat_sb_##R (u, sc, d, scratch, d_off, s_off, K, m0, M, sbk, o)
#define DEFINE_QGEMM_VNNI_LATTICE(T) DEFINE_QGEMM_UNPACKED (T, LAT_UNPACK, LAT_CALL)
LATTICE_TYPES (DEFINE_QGEMM_VNNI_LATTICE)

LATTICE_TYPES (DEFINE_QGEMM_VNNI_FEW)

LATTICE_TYPES (DEFINE_QVNNI)

#endif
