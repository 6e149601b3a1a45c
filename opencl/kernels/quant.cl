/* quant.cl: y (+)= x · Wᵀ + bias for weights in llama.cpp's block-quantized
 * types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL,
 * IQ4_XS; ggml's block layouts, described in opencl/vtp-quant.h; the
 * lattice types IQ3_* and IQ2_* are in quant-lattice.cl, the products of
 * weights of several types in quant-multi.cl). Activations and accumulation stay F32. Needs
 * linear.cl's macros (it follows it in the program).
 *
 * Weight layouts (VtpTensor.layout, set by vtp_linear_weight_new):
 *  0  plain: row n is the K / QK blocks of ggml, row-major (a GGUF tensor
 *     as it is); GPUs, and tensors not packed.
 *  1  panels of 16 rows (CPUs): the first N & ~15 rows as panels, each the
 *     K / QK blocks of its 16 rows one after the other; a panel block is
 *     the 16 rows' blocks with every field transposed, field after field in
 *     the block's order: a field of C units of u bytes at byte offset o of a
 *     block is at 16 o in the panel block, unit i of row j at 16 o + (16 i +
 *     j) u. So one vload16 gives a byte (or, from the f16 fields, a scale)
 *     of the 16 rows at once. Except the quants of every type (the low and
 *     high bits of Q5_K and Q6_K too) and the 12 scale bytes of Q4_K and
 *     Q5_K ("quad" fields, k4_scales): there byte i of row j is
 *     at 16 o + 64 (i / 4) + 4 j + i % 4,
 *     four consecutive bytes of a row in one 32-bit lane, as an int8 dot
 *     product instruction reads them (one vload16 of uint: 4 bytes of the
 *     16 rows). The N % 16 last rows follow, plain. Same size as layout 0
 *     (vtp-linear.c packs it: pack_blocks_p16). Q6_K's fields are split by
 *     half instead (Q6_QL etc. below), so that a kernel reads its panel
 *     block front to back. Q5_0's and Q5_1's fifth bits (one 32-bit word a
 *     row, a quad field) are reordered within the word (q5_bits below).
 *
 * Kernels, layout 1 (CPUs; local size 1, explicit 16-wide vectors):
 *  - qlinear_p16_<T>_<TM>, TM = 1..4: a TM x 16 tile of y, block by block:
 *    the 16 rows' integer quants are converted to float and multiplied into
 *    per-block sums, which are scaled once per (sub-)block. TM = 1: decode.
 *  - qlinear_p16g_<T>: more rows: each work-item dequantizes 256 steps of
 *    its panel into private memory once and runs 6 x 16 tiles over them
 *    (as linear_p16g_<T>).
 *  - qlinear_vnni_<T> (x86 CPUs, built with -DVTP_X86_INT8: every type
 *    with AVX-512 VNNI, -DVTP_X86_VNNI; all but the lattice types with
 *    AVX2 alone): the decode GEMV in int8: each work-item quantizes x
 *    to int8 (quantize_group: per block of 32 for Q8_0 / Q4_0, per
 *    super-block of 256 for the K-quants, as llama.cpp's Q8_0 and Q8_K
 *    activations) and runs P panels with vpdpbusd (64 byte products an
 *    instruction, against 16 float FMAs).
 * Layout 0 uses linear.cl's kernels (gemv_<T>_<MR>, gemm_tiled_<T>,
 * gemm_<T>) through row_<T> / load1_<T> / load8_<T> below. */

#define QK_q8_0 32
#define QK_q4_0 32
#define QK_q4_k 256
#define QK_q5_k 256
#define QK_q6_k 256
#define BB_q8_0 34
#define BB_q4_0 18
#define BB_q4_k 144
#define BB_q5_k 176
#define BB_q6_k 210
#define QK_q4_1 32
#define QK_q5_0 32
#define QK_q5_1 32
#define BB_q4_1 20
#define BB_q5_0 22
#define BB_q5_1 24
#define QK_q3_k 256
#define QK_q2_k 256
#define BB_q3_k 110
#define BB_q2_k 84
#define QK_iq4_nl 32
#define QK_iq4_xs 256
#define BB_iq4_nl 18
#define BB_iq4_xs 136

/* ---- layout 0: one element or eight (k a multiple of 8) of row @r ---- */

#define DEFINE_ROW(T)                                                          \
inline __global const uchar *row_##T (__global const uchar *w, int n, int K)   \
{                                                                              \
  return w + (size_t) n * (K / QK_##T) * BB_##T;                               \
}
DEFINE_ROW (q8_0)
DEFINE_ROW (q4_0)
DEFINE_ROW (q4_k)
DEFINE_ROW (q5_k)
DEFINE_ROW (q6_k)
DEFINE_ROW (q4_1)
DEFINE_ROW (q5_0)
DEFINE_ROW (q5_1)
DEFINE_ROW (q3_k)
DEFINE_ROW (q2_k)
DEFINE_ROW (iq4_nl)
DEFINE_ROW (iq4_xs)

inline float half_at (__global const uchar *p) { return vload_half (0, (__global const half *) p); }

inline float load1_q8_0 (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_q8_0;
  return (float) ((__global const char *) b)[2 + k % 32] * half_at (b);
}
inline float8 load8_q8_0 (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_q8_0;
  return convert_float8 (vload8 (0, (__global const char *) b + 2 + k % 32)) * half_at (b);
}

inline float load1_q4_0 (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_q4_0;
  const uint j = k % 32, q = b[2 + j % 16];
  return (float) ((int) (j < 16 ? q & 15 : q >> 4) - 8) * half_at (b);
}
inline float8 load8_q4_0 (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_q4_0;
  const uint j = k % 32;
  const uchar8 q = vload8 (0, b + 2 + j % 16);
  return convert_float8 (convert_int8 (j < 16 ? q & (uchar8) 15 : q >> (uchar8) 4) - 8) * half_at (b);
}

/* Q4_1, Q5_0, Q5_1 ("legacy" blocks of 32): d at 0, then m (Q4_1, Q5_1),
 * then the fifth bits (Q5_0, Q5_1: bit j of a little-endian word for
 * element j), then the nibbles as Q4_0's; w = d q + m or d (q - 16). The
 * offsets of m, the bits and the nibbles in a ggml block (0: none): */
#define LEGACY_ROW_q4_1 2, 0, 4
#define LEGACY_ROW_q5_0 0, 2, 6
#define LEGACY_ROW_q5_1 2, 4, 8
inline uint legacy_q1 (__global const uchar *b, int qh_off, int q_off, uint j)
{
  const uint q = b[q_off + j % 16], lo = j < 16 ? q & 15 : q >> 4;
  return qh_off ? lo | (((b[qh_off + j / 8] >> (j % 8)) & 1u) << 4) : lo;
}
inline float legacy_w1 (__global const uchar *b, int m_off, int qh_off, int q_off, uint j)
{
  const uint q = legacy_q1 (b, qh_off, q_off, j);
  return m_off ? (float) q * half_at (b) + half_at (b + m_off) : (float) ((int) q - 16) * half_at (b);
}
/* Elements j .. j + 7 (j a multiple of 8: one nibble half, one bits byte). */
inline float8 legacy_w8 (__global const uchar *b, int m_off, int qh_off, int q_off, uint j)
{
  const uchar8 q = vload8 (0, b + q_off + j % 16);
  uint8 v = convert_uint8 (j < 16 ? q & (uchar8) 15 : q >> (uchar8) 4);
  if (qh_off)
    v |= (((uint8) b[qh_off + j / 8] >> (uint8) (0, 1, 2, 3, 4, 5, 6, 7)) & 1u) << 4;
  return m_off ? convert_float8 (v) * half_at (b) + half_at (b + m_off)
      : convert_float8 (convert_int8 (v) - 16) * half_at (b);
}
#define DEFINE_LEGACY_LOADS(T)                                                 \
inline float load1_##T (__global const uchar *r, size_t k)                     \
{                                                                              \
  return legacy_w1 (r + k / 32 * BB_##T, LEGACY_ROW_##T, k % 32);              \
}                                                                              \
inline float8 load8_##T (__global const uchar *r, size_t k)                    \
{                                                                              \
  return legacy_w8 (r + k / 32 * BB_##T, LEGACY_ROW_##T, k % 32);              \
}
DEFINE_LEGACY_LOADS (q4_1)
DEFINE_LEGACY_LOADS (q5_0)
DEFINE_LEGACY_LOADS (q5_1)

/* Q3_K, Q2_K: element e of a super-block in half h = e / 128, quarter j =
 * (e % 128) / 32 (bits 2 j of its qs byte), at l = e % 32; sub-block e / 16.
 * Q3_K: hmask[32] at 0, qs[64] at 32, scales[12] at 96, d at 108; scale i
 * (6 bits, the factor s - 32) from the low or high nibble of byte i % 8 and
 * bits 2 (i / 4) of byte 8 + i % 4; Q2_K: scales[16] at 0 (low nibble the
 * scale, high the min), qs[64] at 16, d at 80, dmin at 82. */
inline int q3_scale1 (__global const uchar *s, int i)
{
  return (int) (((s[i % 8] >> (4 * (i / 8))) & 15) | (((s[8 + i % 4] >> (2 * (i / 4))) & 3) << 4)) - 32;
}
inline float load1_q3_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q3_k;
  const int e = k % 256, h = e / 128, j = (e % 128) / 32, l = e % 32;
  const int q = ((b[32 + 32 * h + l] >> (2 * j)) & 3) - ((b[l] >> (4 * h + j)) & 1 ? 0 : 4);
  return half_at (b + 108) * (float) q3_scale1 (b + 96, e / 16) * (float) q;
}
inline float8 load8_q3_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q3_k;
  const int e = k % 256, h = e / 128, j = (e % 128) / 32, l = e % 32;
  const int8 q = convert_int8 ((vload8 (0, b + 32 + 32 * h + l) >> (uchar8) (2 * j)) & (uchar8) 3)
      + 4 * convert_int8 ((vload8 (0, b + l) >> (uchar8) (4 * h + j)) & (uchar8) 1) - 4;
  return half_at (b + 108) * (float) q3_scale1 (b + 96, e / 16) * convert_float8 (q);
}
inline float load1_q2_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q2_k;
  const int e = k % 256, h = e / 128, j = (e % 128) / 32, l = e % 32, sc = b[e / 16];
  return half_at (b + 80) * (float) (sc & 15) * (float) ((b[16 + 32 * h + l] >> (2 * j)) & 3)
      - half_at (b + 82) * (float) (sc >> 4);
}
inline float8 load8_q2_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q2_k;
  const int e = k % 256, h = e / 128, j = (e % 128) / 32, l = e % 32, sc = b[e / 16];
  const float8 q = convert_float8 (convert_int8 ((vload8 (0, b + 16 + 32 * h + l) >> (uchar8) (2 * j)) & (uchar8) 3));
  return half_at (b + 80) * (float) (sc & 15) * q - half_at (b + 82) * (float) (sc >> 4);
}

/* IQ4_NL, IQ4_XS: 4-bit indices (as Q4_0's nibbles) into llama.cpp's
 * kvalues_iq4nl; IQ4_NL: d at 0, indices at 2; IQ4_XS: d at 0, scales_h
 * at 2, scales_l[4] at 4, indices at 8 (sub-block i of 32 at 8 + 16 i),
 * sub-block i's scale (6 bits, the factor s - 32) from nibble i % 2 of
 * scales_l[i / 2] and bits 2 i of scales_h. */
__constant char iq4_values[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
inline int iq4xs_scale1 (__global const uchar *b, int i)
{
  const uint sh = (uint) b[2] | ((uint) b[3] << 8);
  return (int) (((b[4 + i / 2] >> (4 * (i % 2))) & 15) | (((sh >> (2 * i)) & 3) << 4)) - 32;
}
inline float load1_iq4_nl (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_iq4_nl;
  const uint j = k % 32, q = b[2 + j % 16];
  return (float) iq4_values[j < 16 ? q & 15 : q >> 4] * half_at (b);
}
/* The values of 8 indices (j a multiple of 8: one nibble half) at @q. */
inline float8 iq4_values8 (__global const uchar *q, uint j)
{
  const uchar8 b = vload8 (0, q + j % 16);
  uchar idx[8];
  float v[8];
  vstore8 (j < 16 ? b & (uchar8) 15 : b >> (uchar8) 4, 0, idx);
  for (int i = 0; i < 8; i++)
    v[i] = iq4_values[idx[i]];
  return vload8 (0, v);
}
inline float8 load8_iq4_nl (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 32 * BB_iq4_nl;
  return iq4_values8 (b + 2, k % 32) * half_at (b);
}
inline float load1_iq4_xs (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_iq4_xs;
  const uint e = k % 256, i = e / 32, l = e % 32, q = b[8 + 16 * i + l % 16];
  return half_at (b) * (float) iq4xs_scale1 (b, i) * (float) iq4_values[l < 16 ? q & 15 : q >> 4];
}
inline float8 load8_iq4_xs (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_iq4_xs;
  const uint e = k % 256, i = e / 32;
  return half_at (b) * (float) iq4xs_scale1 (b, i) * iq4_values8 (b + 8 + 16 * i, e % 32);
}

/* Q4_K / Q5_K: scale and min of sub-block j from the 12 packed bytes s. */
inline float2 scale_min_k4 (__global const uchar *s, int j)
{
  if (j < 4)
    return (float2) (s[j] & 63, s[j + 4] & 63);
  return (float2) ((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4), (s[j + 4] >> 4) | ((s[j] >> 6) << 4));
}

/* The (scale, min) of element k's sub-block as d * s and dmin * m. */
inline float2 k4_scale (__global const uchar *b, int k)
{
  const int c = k / 64, sub = 2 * c + (k % 64) / 32;
  const float2 sm = scale_min_k4 (b + 4, sub);
  return (float2) (half_at (b) * sm.x, half_at (b + 2) * sm.y);
}

inline float load1_q4_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q4_k;
  const int e = k % 256, c = e / 64, l = e % 32;
  const uint q = b[16 + 32 * c + l];
  const float2 dm = k4_scale (b, e);
  return dm.x * (float) ((e % 64) < 32 ? q & 15 : q >> 4) - dm.y;
}
inline float8 load8_q4_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q4_k;
  const int e = k % 256, c = e / 64, l = e % 32;
  const uchar8 q = vload8 (0, b + 16 + 32 * c + l);
  const float2 dm = k4_scale (b, e);
  return dm.x * convert_float8 ((e % 64) < 32 ? q & (uchar8) 15 : q >> (uchar8) 4) - dm.y;
}

inline float load1_q5_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q5_k;
  const int e = k % 256, c = e / 64, l = e % 32, hi = (e % 64) >= 32;
  const uint q = b[48 + 32 * c + l], h = (b[16 + l] >> (2 * c + hi)) & 1;
  const float2 dm = k4_scale (b, e);
  return dm.x * (float) ((hi ? q >> 4 : q & 15) | (h << 4)) - dm.y;
}
inline float8 load8_q5_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q5_k;
  const int e = k % 256, c = e / 64, l = e % 32, hi = (e % 64) >= 32;
  const uchar8 q = vload8 (0, b + 48 + 32 * c + l);
  const uchar8 h = (vload8 (0, b + 16 + l) >> (uchar8) (2 * c + hi)) & (uchar8) 1;
  const float2 dm = k4_scale (b, e);
  return dm.x * convert_float8 ((hi ? q >> (uchar8) 4 : q & (uchar8) 15) | (h << (uchar8) 4)) - dm.y;
}

/* Q6_K element e of a block: half h = e / 128; quarter u = (e % 128) / 32
 * takes ql[64 h + l (+ 32 for odd u)] (low nibble for u < 2) and bits 2 u
 * of qh[32 h + l]; scale 8 h + l / 16 + 2 u. */
inline float load1_q6_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q6_k;
  const int e = k % 256, h = e / 128, u = (e % 128) / 32, l = e % 32;
  const uint ql = b[64 * h + l + 32 * (u & 1)], qh = b[128 + 32 * h + l];
  const int q = (int) ((u < 2 ? ql & 15 : ql >> 4) | (((qh >> (2 * u)) & 3) << 4)) - 32;
  const float sd = half_at (b + 208) * (float) ((__global const char *) b)[192 + 8 * h + l / 16 + 2 * u];
  return sd * (float) q;
}
inline float8 load8_q6_k (__global const uchar *r, size_t k)
{
  __global const uchar *b = r + k / 256 * BB_q6_k;
  const int e = k % 256, h = e / 128, u = (e % 128) / 32, l = e % 32;
  const uchar8 ql = vload8 (0, b + 64 * h + l + 32 * (u & 1)), qh = vload8 (0, b + 128 + 32 * h + l);
  const uchar8 q = (u < 2 ? ql & (uchar8) 15 : ql >> (uchar8) 4) | (((qh >> (uchar8) (2 * u)) & (uchar8) 3) << (uchar8) 4);
  const float sd = half_at (b + 208) * (float) ((__global const char *) b)[192 + 8 * h + l / 16 + 2 * u];
  return sd * convert_float8 (convert_int8 (q) - 32);
}

/* ---- layout 1: panel blocks ---- */

inline float16 half16_at (__global const uchar *p) { return vload_half16 (0, (__global const half *) p); }
/* Bytes to float through int: PoCL leaves the direct 8-bit -> float
 * conversion scalar (measured: the Q6_K GEMV at half speed for it). */
inline float16 to_float16 (uchar16 v) { return convert_float16 (convert_int16 (v)); }
inline float16 s8_to_float16 (char16 v) { return convert_float16 (convert_int16 (v)); }

/* Quad fields: the 4 bytes of group g of the 16 rows, one per lane. */
inline uint16 quad_at (__global const uchar *p, int g) { return vload16 (g, (__global const uint *) p); }

/* Q4_K / Q5_K: the 12 scale bytes of the 16 rows of a panel block, laid as
 * quads (vtp-linear.c): dword lane r of group i holds bytes 4 i .. 4 i + 3
 * of row r, so that three loads give every 6-bit scale and min of the 16
 * rows, and the mins of sub-blocks 0-3 and 4-7 come out as quads of bytes
 * that an int8 dot product takes as they are (k4_mins). Byte layout of
 * the 12 (ggml's): 0-3 scales 0-3 (low 6 bits; top 2: scales 4-7's high
 * bits), 4-7 mins 0-3 (top 2: mins 4-7's high bits), 8-11 scales 4-7's low
 * nibble | mins 4-7's low nibble << 4. */
typedef struct {
  uint16 q0, q1, q2;
} K4Scales;

inline K4Scales k4_scales (__global const uchar *s)
{
  return (K4Scales) { quad_at (s, 0), quad_at (s, 1), quad_at (s, 2) };
}

/* The scale and the min of sub-block j of the 16 rows. */
inline int16 k4_sc (K4Scales k, int j)
{
  if (j < 4)
    return as_int16 ((k.q0 >> (8 * j)) & 63u);
  return as_int16 (((k.q2 >> (8 * (j - 4))) & 15u) | (((k.q0 >> (8 * (j - 4) + 6)) & 3u) << 4));
}
inline int16 k4_mn (K4Scales k, int j)
{
  if (j < 4)
    return as_int16 ((k.q1 >> (8 * j)) & 63u);
  return as_int16 (((k.q2 >> (8 * (j - 4) + 4)) & 15u) | (((k.q1 >> (8 * (j - 4) + 6)) & 3u) << 4));
}

/* The mins of sub-blocks 4 h .. 4 h + 3 of each row, one byte each. */
inline uint16 k4_mins (K4Scales k, int h)
{
  return h == 0 ? k.q1 & 0x3f3f3f3fu : ((k.q2 >> 4) & 0x0f0f0f0fu) | (((k.q1 >> 6) & 0x03030303u) << 4);
}

/* The scales of sub-blocks 2 c and 2 c + 1 of the 16 rows times d, their
 * mins times dmin: what the Q4_K / Q5_K float readers multiply by (@k
 * decoded once a super-block). */
inline void scales_k4_pair (K4Scales k, int c, float16 d, float16 dmin, float16 *s1, float16 *m1, float16 *s2,
    float16 *m2)
{
  *s1 = convert_float16 (k4_sc (k, 2 * c)) * d;
  *m1 = convert_float16 (k4_mn (k, 2 * c)) * dmin;
  *s2 = convert_float16 (k4_sc (k, 2 * c + 1)) * d;
  *m2 = convert_float16 (k4_mn (k, 2 * c + 1)) * dmin;
}

/* Dequantizes panel block @pb (the QK steps of one block of 16 rows) into
 * @out: step k's 16 values at out[16 k]. */
/* Byte t of each lane, sign-extended (Q8_0) or as Q4_0's two nibbles minus 8. */
inline float16 quad_s8 (uint16 v, int t) { return convert_float16 ((as_int16 (v) << (24 - 8 * t)) >> 24); }
inline float16 quad_lo4 (uint16 v, int t) { return convert_float16 (as_int16 ((v >> (8 * t)) & 15u) - 8); }
inline float16 quad_hi4 (uint16 v, int t) { return convert_float16 (as_int16 ((v >> (8 * t + 4)) & 15u) - 8); }
/* Byte i of the 16 rows of a quad field. */
inline uchar16 quad_u8 (__global const uchar *p, int i) { return convert_uchar16 ((quad_at (p, i / 4) >> (8 * (i % 4))) & 0xffu); }

inline void dq_panel_q8_0 (__global const uchar *pb, float *out)
{
  const float16 d = half16_at (pb);
  for (int g = 0; g < 8; g++) {
    const uint16 v = quad_at (pb + 32, g);
    UNROLL
    for (int t = 0; t < 4; t++)
      vstore16 (quad_s8 (v, t) * d, 4 * g + t, out);
  }
}

inline void dq_panel_q4_0 (__global const uchar *pb, float *out)
{
  const float16 d = half16_at (pb);
  for (int g = 0; g < 4; g++) {
    const uint16 v = quad_at (pb + 32, g);
    UNROLL
    for (int t = 0; t < 4; t++) {
      vstore16 (quad_lo4 (v, t) * d, 4 * g + t, out);
      vstore16 (quad_hi4 (v, t) * d, 4 * g + t + 16, out);
    }
  }
}

/* Q4_K (qh = 0) and Q5_K: fields d, dmin, scales[12], (qh[32],) q[128]. */
inline void dq_panel_k4 (__global const uchar *pb, __global const uchar *qh, __global const uchar *q,
    float *out)
{
  const K4Scales k = k4_scales (pb + 64);
  const float16 d = half16_at (pb), dmin = half16_at (pb + 32);
  for (int c = 0; c < 4; c++) {
    float16 s1, m1, s2, m2;
    scales_k4_pair (k, c, d, dmin, &s1, &m1, &s2, &m2);
    for (int l = 0; l < 32; l++) {
      const uchar16 v = quad_u8 (q, 32 * c + l);
      uchar16 lo = v & (uchar16) 15, hi = v >> (uchar16) 4;
      if (qh) {
        const uchar16 h = quad_u8 (qh, l);
        lo |= ((h >> (uchar16) (2 * c)) & (uchar16) 1) << (uchar16) 4;
        hi |= ((h >> (uchar16) (2 * c + 1)) & (uchar16) 1) << (uchar16) 4;
      }
      vstore16 (s1 * to_float16 (lo) - m1, 64 * c + l, out);
      vstore16 (s2 * to_float16 (hi) - m2, 64 * c + 32 + l, out);
    }
  }
}
inline void dq_panel_q4_k (__global const uchar *pb, float *out) { dq_panel_k4 (pb, 0, pb + 256, out); }
inline void dq_panel_q5_k (__global const uchar *pb, float *out) { dq_panel_k4 (pb, pb + 256, pb + 768, out); }

/* Q6_K panel block, in the order the kernels read it: per half h of the
 * 256 elements, its ql bytes (64 x 16, quad), qh bytes (32 x 16, quad) and
 * its 8 scales (8 x 16 signed); d at 3328. (Fields one after the other, as
 * for the other types, had each half jump between three regions 1-3 KB
 * apart: the prefetcher lost them, and the int8 GEMV ran at 15 GB/s from
 * memory against Q4_K's 38.) */
#define Q6_HALF 1664
inline __global const uchar *q6_ql (__global const uchar *pb, int h) { return pb + h * Q6_HALF; }
inline __global const uchar *q6_qh (__global const uchar *pb, int h) { return pb + h * Q6_HALF + 1024; }

/* The four quants of step l of half h. */
inline void q6_quarters (__global const uchar *pb, int h, int l, float16 q[4])
{
  const uchar16 a = quad_u8 (q6_ql (pb, h), l), b = quad_u8 (q6_ql (pb, h), l + 32);
  const uchar16 qh = quad_u8 (q6_qh (pb, h), l);
  q[0] = s8_to_float16 (as_char16 ((a & (uchar16) 15) | ((qh & (uchar16) 3) << (uchar16) 4)) - (char16) 32);
  q[1] = s8_to_float16 (as_char16 ((b & (uchar16) 15) | (((qh >> (uchar16) 2) & (uchar16) 3) << (uchar16) 4)) - (char16) 32);
  q[2] = s8_to_float16 (as_char16 ((a >> (uchar16) 4) | (((qh >> (uchar16) 4) & (uchar16) 3) << (uchar16) 4)) - (char16) 32);
  q[3] = s8_to_float16 (as_char16 ((b >> (uchar16) 4) | ((qh >> (uchar16) 6) << (uchar16) 4)) - (char16) 32);
}
/* Scale i (0..15) of the 16 rows: loaded as 4 aligned words (a char16
 * load from global memory became 8 two-byte inserts). */
inline float16 q6_scale (__global const uchar *pb, int i)
{
  return s8_to_float16 (as_char16 (vload4 (0, (__global const uint *) (pb + (i / 8) * Q6_HALF + 1536
      + 16 * (i % 8)))));
}
inline int16 q6_scale_i (__global const uchar *pb, int i)
{
  return convert_int16 (as_char16 (vload4 (0, (__global const uint *) (pb + (i / 8) * Q6_HALF + 1536
      + 16 * (i % 8)))));
}

inline void dq_panel_q6_k (__global const uchar *pb, float *out)
{
  const float16 d = half16_at (pb + 3328);
  for (int h = 0; h < 2; h++)
    for (int l = 0; l < 32; l++) {
      float16 q[4];
      q6_quarters (pb, h, l, q);
      for (int u = 0; u < 4; u++)
        vstore16 (d * q6_scale (pb, 8 * h + l / 16 + 2 * u) * q[u], 128 * h + 32 * u + l, out);
    }
}

/* Block dot products of the GEMV: add the block at @pb (steps kb ..) times
 * the TM rows of x to acc. The steps are unrolled into NA independent
 * accumulator chains per row: with a single chain the FMA latency, not the
 * memory, bounds a one-row GEMV (measured: Q4_0 at 11 GB/s, 20 G weights/s,
 * with one chain per block). */
#define NA(TM) ((TM) == 1 ? 4 : (TM) == 2 ? 2 : 1)

/* Sum of the 32 floats at p, without a long chain of dependent adds. */
inline float sum32 (__global const float *p)
{
  const float16 v = vload16 (0, p) + vload16 (1, p);
  const float8 h = v.lo + v.hi;
  return hsum8 (h);
}

/* NA (TM) zeroed accumulator chains s for each of TM rows; then each row's
 * chains summed, times @scale, added to acc[row]. */
#define CHAINS_ZERO(s, TM)                                                     \
  float16 s[NA (TM)][TM];                                                      \
  UNROLL                                                                       \
  for (int a = 0; a < NA (TM); a++)                                            \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      s[a][i] = 0.0f;
#define CHAINS_ADD(s, TM, scale)                                               \
  UNROLL                                                                       \
  for (int i = 0; i < TM; i++) {                                               \
    float16 t = s[0][i];                                                       \
    UNROLL                                                                     \
    for (int a = 1; a < NA (TM); a++)                                          \
      t += s[a][i];                                                            \
    acc[i] = fma (scale, t, acc[i]);                                           \
  }

#define DEFINE_BLOCK_DOTS(TM)                                                  \
inline void dot_q8_0_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  CHAINS_ZERO (s, TM)                                                          \
  UNROLL                                                                       \
  for (int k = 0; k < 32; k++) {                                               \
    const float16 wv = quad_s8 (quad_at (pb + 32, k / 4), k % 4);              \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      s[k % NA (TM)][i] = fma ((float16) xr[i][kb + k], wv, s[k % NA (TM)][i]); \
  }                                                                            \
  const float16 d = half16_at (pb);                                            \
  CHAINS_ADD (s, TM, d)                                                        \
}                                                                              \
                                                                               \
inline void dot_q4_0_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  CHAINS_ZERO (s, TM)                                                          \
  UNROLL                                                                       \
  for (int l = 0; l < 16; l++) {                                               \
    const uint16 v = quad_at (pb + 32, l / 4);                                 \
    const float16 lo = quad_lo4 (v, l % 4), hi = quad_hi4 (v, l % 4);         \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++) {                                             \
      s[(2 * l) % NA (TM)][i] = fma ((float16) xr[i][kb + l], lo, s[(2 * l) % NA (TM)][i]); \
      s[(2 * l + 1) % NA (TM)][i] = fma ((float16) xr[i][kb + l + 16], hi, s[(2 * l + 1) % NA (TM)][i]); \
    }                                                                          \
  }                                                                            \
  const float16 d = half16_at (pb);                                            \
  CHAINS_ADD (s, TM, d)                                                        \
}                                                                              \
                                                                               \
/* Q4_K, Q5_K: sum over a sub-block of d s q - dmin m = d s (q . x) -          \
 * dmin m (sum of x); two chains per half of a 64-chunk. */                    \
inline void dot_k4_##TM (__global const uchar *pb, __global const uchar *qh,   \
    __global const uchar *q, __global const float **xr, int kb, float16 *acc)  \
{                                                                              \
  const float16 d = half16_at (pb), dmin = half16_at (pb + 32);                \
  const K4Scales k = k4_scales (pb + 64);                                      \
  for (int c = 0; c < 4; c++) {                                                \
    float16 s1, m1, s2, m2, a[2][TM], b[2][TM];                                \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++)                                               \
      a[0][i] = a[1][i] = b[0][i] = b[1][i] = 0.0f;                            \
    UNROLL                                                                     \
    for (int l = 0; l < 32; l++) {                                             \
      const uchar16 v = quad_u8 (q, 32 * c + l);                               \
      uchar16 lo = v & (uchar16) 15, hi = v >> (uchar16) 4;                    \
      if (qh) {                                                                \
        const uchar16 h = quad_u8 (qh, l);                                     \
        lo |= ((h >> (uchar16) (2 * c)) & (uchar16) 1) << (uchar16) 4;         \
        hi |= ((h >> (uchar16) (2 * c + 1)) & (uchar16) 1) << (uchar16) 4;     \
      }                                                                        \
      const float16 fl = to_float16 (lo), fh = to_float16 (hi);                \
      UNROLL                                                                   \
      for (int i = 0; i < TM; i++) {                                           \
        a[l % 2][i] = fma ((float16) xr[i][kb + 64 * c + l], fl, a[l % 2][i]); \
        b[l % 2][i] = fma ((float16) xr[i][kb + 64 * c + 32 + l], fh, b[l % 2][i]); \
      }                                                                        \
    }                                                                          \
    scales_k4_pair (k, c, d, dmin, &s1, &m1, &s2, &m2);                        \
    UNROLL                                                                     \
    for (int i = 0; i < TM; i++) {                                             \
      const float xa = sum32 (xr[i] + kb + 64 * c), xb = sum32 (xr[i] + kb + 64 * c + 32); \
      acc[i] += (s1 * (a[0][i] + a[1][i]) - m1 * xa) + (s2 * (b[0][i] + b[1][i]) - m2 * xb); \
    }                                                                          \
  }                                                                            \
}                                                                              \
inline void dot_q4_k_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  dot_k4_##TM (pb, 0, pb + 256, xr, kb, acc);                                  \
}                                                                              \
inline void dot_q5_k_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  dot_k4_##TM (pb, pb + 256, pb + 768, xr, kb, acc);                           \
}                                                                              \
                                                                               \
inline void dot_q6_k_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  const float16 d = half16_at (pb + 3328);                                     \
  for (int h = 0; h < 2; h++)                                                  \
    for (int g = 0; g < 2; g++) {                                              \
      float16 s[4][TM];                                                        \
      UNROLL                                                                   \
      for (int u = 0; u < 4; u++)                                              \
        UNROLL                                                                 \
        for (int i = 0; i < TM; i++)                                           \
          s[u][i] = 0.0f;                                                      \
      UNROLL                                                                   \
      for (int l = 16 * g; l < 16 * g + 16; l++) {                             \
        float16 q[4];                                                          \
        q6_quarters (pb, h, l, q);                                             \
        UNROLL                                                                 \
        for (int u = 0; u < 4; u++)                                            \
          UNROLL                                                               \
          for (int i = 0; i < TM; i++)                                         \
            s[u][i] = fma ((float16) xr[i][kb + 128 * h + 32 * u + l], q[u], s[u][i]); \
      }                                                                        \
      UNROLL                                                                   \
      for (int u = 0; u < 4; u++) {                                            \
        const float16 sd = d * q6_scale (pb, 8 * h + g + 2 * u);               \
        UNROLL                                                                 \
        for (int i = 0; i < TM; i++)                                           \
          acc[i] = fma (sd, s[u][i], acc[i]);                                  \
      }                                                                        \
    }                                                                          \
}

DEFINE_BLOCK_DOTS (1)
DEFINE_BLOCK_DOTS (2)
DEFINE_BLOCK_DOTS (3)
DEFINE_BLOCK_DOTS (4)

/* qlinear_p16_<T>_<TM>: rows m0 .. m0 + TM - 1 (clamped reads, stores < M)
 * of panel n0 / 16, or the plain rows after the panels. */
#define DEFINE_QPANEL(T, TM)                                                   \
__kernel void qlinear_p16_##T##_##TM (__global const float *x, int x_off,     \
    __global const uchar *w, __global const float *bias, int has_bias,         \
    __global float *y, int y_off, int M, int K, int N, int accumulate)         \
{                                                                              \
  const int m0 = get_global_id (0) * TM, n0 = get_global_id (1) * 16;          \
  const int nb = K / QK_##T;                                                   \
  __global const uchar *wp = row_##T (w, n0, K);                               \
  __global const float *xr[TM];                                                \
  float16 acc[TM];                                                             \
  if (m0 >= M || n0 >= N)                                                      \
    return;                                                                    \
  if (n0 + 16 > N) {                                                           \
    p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, m0, min (m0 + TM, M), \
        K, N, n0, accumulate);                                                 \
    return;                                                                    \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TM; i++) {                                               \
    xr[i] = x + x_off + (size_t) min (m0 + i, M - 1) * K;                      \
    acc[i] = 0.0f;                                                             \
  }                                                                            \
  for (int b = 0; b < nb; b++)                                                 \
    dot_##T##_##TM (wp + (size_t) b * 16 * BB_##T, xr, b * QK_##T, acc);       \
  UNROLL                                                                       \
  for (int i = 0; i < TM; i++)                                                 \
    if (m0 + i < M)                                                            \
      store16 (acc[i], y + y_off + (size_t) (m0 + i) * N + n0, bias + n0, has_bias, \
          accumulate);                                                         \
}

/* qlinear_p16g_<T>: as linear_p16g_<T> (tiles of 6 x 16, up to @tiles per
 * work-item, @panel_major), the panel dequantized 256 steps at a time. */
#define QG_KB 256
#define DEFINE_QPANEL_GROUP(T)                                                 \
__kernel void qlinear_p16g_##T (__global const float *x, int x_off,           \
    __global const uchar *w, __global const float *bias, int has_bias,         \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    int tiles, int panel_major)                                                \
{                                                                              \
  TILES_OF_PANEL (T)                                                           \
  __global const uchar *wp = row_##T (w, n0, K);                               \
  float wbuf[QG_KB * 16];                                                      \
  for (int k0 = 0; k0 < K; k0 += QG_KB) {                                      \
    const int kn = min (QG_KB, K - k0);                                        \
    for (int b = 0; b < kn / QK_##T; b++)                                      \
      dq_panel_##T (wp + (size_t) (k0 / QK_##T + b) * 16 * BB_##T, wbuf + b * QK_##T * 16); \
    p16_tiles_1 (x, x_off, y, y_off, bias, has_bias, M, K, N, accumulate, n0, t0, nt, k0, kn, wbuf); \
  }                                                                            \
}


#define DEFINE_QLINEAR(T)                                                      \
  DEFINE_PANEL_TAIL (T, uchar)                                                 \
  DEFINE_QPANEL (T, 1)                                                         \
  DEFINE_QPANEL (T, 2)                                                         \
  DEFINE_QPANEL (T, 3)                                                         \
  DEFINE_QPANEL (T, 4)                                                         \
  DEFINE_QPANEL_GROUP (T)                                                      \
  DEFINE_PLAIN (T, uchar)

/* Q4_1, Q5_0, Q5_1 panel blocks: d of the 16 rows at 0, m at 32 (Q4_1,
 * Q5_1), the rows' fifth-bit words (one quad group) after them, then the
 * nibbles as Q4_0's. The offsets of m, the bits and the nibbles (0: none),
 * all three, the bits and the nibbles, and m alone: */
#define LEGACY_PANEL_q4_1 32, 0, 64
#define LEGACY_PANEL_q5_0 0, 32, 96
#define LEGACY_PANEL_q5_1 32, 64, 128
#define LEGACY_QUAD_q4_1 0, 64
#define LEGACY_QUAD_q5_0 32, 96
#define LEGACY_QUAD_q5_1 64, 128
#define LEGACY_M_q4_1 32
#define LEGACY_M_q5_0 0
#define LEGACY_M_q5_1 32
/* Byte t of each lane: the 4 or 5 bits of element 16 h + 4 g + t. The
 * packer put that element's fifth bit at bit 8 t + 4 h + g of its row's
 * word (vtp-linear.c spread_q5_bits), so one shift and one mask bring the
 * four bytes' bits to their bit 0. */
inline uint16 q5_bits (__global const uchar *pb, int qh_off, int g, int h)
{
  return ((quad_at (pb + qh_off, 0) >> (4 * h + g)) & 0x01010101u) << 4;
}
inline uint16 legacy_quad (__global const uchar *pb, int qh_off, int q_off, int g, int h)
{
  const uint16 v = quad_at (pb + q_off, g), q = h ? (v >> 4) & 0x0f0f0f0fu : v & 0x0f0f0f0fu;
  return qh_off ? q | q5_bits (pb, qh_off, g, h) : q;
}
/* The 16 rows' weights of step 16 h + 4 g + t, from legacy_quad's @q. */
inline float16 legacy_w16 (__global const uchar *pb, int m_off, uint16 q, int t)
{
  const int16 qi = as_int16 ((q >> (8 * t)) & 0xffu);
  return m_off ? convert_float16 (qi) * half16_at (pb) + half16_at (pb + m_off)
      : convert_float16 (qi - 16) * half16_at (pb);
}
inline void dq_panel_legacy (__global const uchar *pb, int m_off, int qh_off, int q_off, float *out)
{
  for (int h = 0; h < 2; h++)
    for (int g = 0; g < 4; g++) {
      const uint16 q = legacy_quad (pb, qh_off, q_off, g, h);
      UNROLL
      for (int t = 0; t < 4; t++)
        vstore16 (legacy_w16 (pb, m_off, q, t), 16 * h + 4 * g + t, out);
    }
}
/* The float GEMV's block dots (as DEFINE_BLOCK_DOTS): the block's weights
 * step by step, NA (TM) chains a row. */
#define DEFINE_LEGACY_DOTS(T, TM)                                              \
inline void dot_##T##_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  CHAINS_ZERO (s, TM)                                                          \
  UNROLL                                                                       \
  for (int h = 0; h < 2; h++)                                                  \
    UNROLL                                                                     \
    for (int g = 0; g < 4; g++) {                                              \
      const uint16 q = legacy_quad (pb, LEGACY_QUAD_##T, g, h);                \
      UNROLL                                                                   \
      for (int t = 0; t < 4; t++) {                                            \
        const int k = 16 * h + 4 * g + t;                                      \
        const float16 wv = legacy_w16 (pb, LEGACY_M_##T, q, t);                \
        UNROLL                                                                 \
        for (int i = 0; i < TM; i++)                                           \
          s[k % NA (TM)][i] = fma ((float16) xr[i][kb + k], wv, s[k % NA (TM)][i]); \
      }                                                                        \
    }                                                                          \
  CHAINS_ADD (s, TM, 1.0f)                                                     \
}
#define DEFINE_LEGACY_PANEL(T)                                                 \
inline void dq_panel_##T (__global const uchar *pb, float *out) { dq_panel_legacy (pb, LEGACY_PANEL_##T, out); } \
DEFINE_LEGACY_DOTS (T, 1)                                                      \
DEFINE_LEGACY_DOTS (T, 2)                                                      \
DEFINE_LEGACY_DOTS (T, 3)                                                      \
DEFINE_LEGACY_DOTS (T, 4)
DEFINE_LEGACY_PANEL (q4_1)
DEFINE_LEGACY_PANEL (q5_0)
DEFINE_LEGACY_PANEL (q5_1)

/* Q3_K, Q2_K panel blocks: Q3_K's hmask at 0, qs at 512, the 12 scale bytes
 * at 1536 (all quad fields), d at 1728; Q2_K's 16 scale bytes (quad) at 0,
 * qs at 256, d at 1280, dmin at 1312. Quad group g (0..7) of half h of qs
 * holds, in byte t of each lane, the 2-bit quants of elements 128 h + 32 j
 * + 4 g + t at bits 2 j; group g of hmask their third bits at bit 4 h + j. */
#define Q3_QS 512
#define Q3_SC 1536
#define Q3_D 1728
#define Q2_QS 256
#define Q2_D 1280
#define Q2_DMIN 1312
inline uint16 low2_quad (__global const uchar *qs, int h, int j, int g)
{
  return (quad_at (qs, 8 * h + g) >> (2 * j)) & 0x03030303u;
}
/* Q3_K's q + 4 (0..7) from a qs quad @v and an hmask quad @hv: quarter j's
 * two bits of each byte from v, bit k = 4 h + j of hv as their third (one
 * bit select and one mask after the shifts) */
inline uint16 q3_bits (uint16 v, uint16 hv, int j, int k)
{
  const uint16 hb = k >= 2 ? hv >> (k - 2) : hv << (2 - k);
  return bitselect (v >> (2 * j), hb, (uint16) 0x04040404u) & 0x07070707u;
}
/* ... of elements 128 h + 32 j + 4 g + t, byte t of each lane */
inline uint16 q3_quad (__global const uchar *pb, int h, int j, int g)
{
  return q3_bits (quad_at (pb + Q3_QS, 8 * h + g), quad_at (pb, g), j, 4 * h + j);
}
/* Scale i (0..15) of the 16 rows: Q3_K's s - 32 (the packer re-laid them
 * as 6-bit fields: vtp-linear.c relay_q3_scales); Q2_K's scale and min. */
inline int16 q3_scale16 (__global const uchar *pb, int i)
{
  if (i < 15)
    return as_int16 (quad_at (pb + Q3_SC, i / 5) << (26 - 6 * (i % 5))) >> 26;
  return as_int16 (((quad_at (pb + Q3_SC, 0) >> 30) | ((quad_at (pb + Q3_SC, 1) >> 30) << 2)
      | ((quad_at (pb + Q3_SC, 2) >> 30) << 4)) << 26) >> 26;
}
inline int16 q2_scale16 (__global const uchar *pb, int i) { return as_int16 ((quad_at (pb, i / 4) >> (8 * (i % 4))) & 15u); }
inline int16 q2_min16 (__global const uchar *pb, int i) { return as_int16 ((quad_at (pb, i / 4) >> (8 * (i % 4) + 4)) & 15u); }
/* The 16 rows' weights of the 4 steps 128 h + 32 j + 4 g + t (t = 0..3),
 * as the host dequantizes them: a float factor per sub-block times q. */
inline void low_k_w16 (__global const uchar *pb, int q2, int h, int j, int g, float16 *w)
{
  const int sb = 8 * h + 2 * j + g / 4;
  if (q2) {
    const float16 dl = half16_at (pb + Q2_D) * convert_float16 (q2_scale16 (pb, sb));
    const float16 ml = half16_at (pb + Q2_DMIN) * convert_float16 (q2_min16 (pb, sb));
    const uint16 q = low2_quad (pb + Q2_QS, h, j, g);
    UNROLL
    for (int t = 0; t < 4; t++)
      w[t] = dl * convert_float16 (as_int16 ((q >> (8 * t)) & 0xffu)) - ml;
  } else {
    const float16 dl = half16_at (pb + Q3_D) * convert_float16 (q3_scale16 (pb, sb));
    const uint16 q = q3_quad (pb, h, j, g);
    UNROLL
    for (int t = 0; t < 4; t++)
      w[t] = dl * convert_float16 (as_int16 ((q >> (8 * t)) & 0xffu) - 4);
  }
}
inline void dq_panel_low_k (__global const uchar *pb, int q2, float *out)
{
  for (int h = 0; h < 2; h++)
    for (int j = 0; j < 4; j++)
      for (int g = 0; g < 8; g++) {
        float16 w[4];
        low_k_w16 (pb, q2, h, j, g, w);
        UNROLL
        for (int t = 0; t < 4; t++)
          vstore16 (w[t], 128 * h + 32 * j + 4 * g + t, out);
      }
}
#define DEFINE_LOW_K_DOTS(T, Q2, TM)                                           \
inline void dot_##T##_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  CHAINS_ZERO (s, TM)                                                          \
  for (int h = 0; h < 2; h++)                                                  \
    for (int j = 0; j < 4; j++)                                                \
      UNROLL                                                                   \
      for (int g = 0; g < 8; g++) {                                            \
        float16 w[4];                                                          \
        low_k_w16 (pb, Q2, h, j, g, w);                                        \
        UNROLL                                                                 \
        for (int t = 0; t < 4; t++)                                            \
          UNROLL                                                               \
          for (int i = 0; i < TM; i++)                                         \
            s[t % NA (TM)][i] = fma ((float16) xr[i][kb + 128 * h + 32 * j + 4 * g + t], w[t], \
                s[t % NA (TM)][i]);                                            \
      }                                                                        \
  CHAINS_ADD (s, TM, 1.0f)                                                     \
}
#define DEFINE_LOW_K_PANEL(T, Q2)                                              \
inline void dq_panel_##T (__global const uchar *pb, float *out) { dq_panel_low_k (pb, Q2, out); } \
DEFINE_LOW_K_DOTS (T, Q2, 1)                                                   \
DEFINE_LOW_K_DOTS (T, Q2, 2)                                                   \
DEFINE_LOW_K_DOTS (T, Q2, 3)                                                   \
DEFINE_LOW_K_DOTS (T, Q2, 4)
DEFINE_LOW_K_PANEL (q3_k, 0)
DEFINE_LOW_K_PANEL (q2_k, 1)

/* IQ4_NL panel blocks as Q4_0's; IQ4_XS's: d at 0, scales_h at 32 (a
 * ushort a row), scales_l at 64 (quad: a row's 4 bytes in its lane),
 * indices at 128 (quad). */
#define IQ4XS_SH 32
#define IQ4XS_SL 64
#define IQ4XS_Q 128
/* Sub-block i's s - 32 of the 16 rows, from their scales_l and scales_h
 * (iq4xs_scale_bits: loaded once a super-block) */
inline int16 iq4xs_scale_of (int16 sl, int16 sh, int i)
{
  return (((sl >> (4 * i)) & 15) | (((sh >> (2 * i)) & 3) << 4)) - 32;
}
inline void iq4xs_scale_bits (__global const uchar *pb, int16 *sl, int16 *sh)
{
  *sl = as_int16 (quad_at (pb + IQ4XS_SL, 0));
  *sh = convert_int16 (vload16 (0, (__global const ushort *) (pb + IQ4XS_SH)));
}
inline int16 iq4xs_scale16 (__global const uchar *pb, int i)
{
  int16 sl, sh;
  iq4xs_scale_bits (pb, &sl, &sh);
  return iq4xs_scale_of (sl, sh, i);
}
/* The values of the 16 rows' indices in byte t of each lane of @q. */
inline float16 iq4_w16 (uint16 q, int t)
{
  const char16 kv = vload16 (0, iq4_values);
  return convert_float16 (convert_int16 (shuffle (kv, convert_uchar16 ((q >> (8 * t)) & 15u))));
}
inline void dq_panel_iq4_nl (__global const uchar *pb, float *out)
{
  const float16 d = half16_at (pb);
  for (int g = 0; g < 4; g++) {
    const uint16 v = quad_at (pb + 32, g);
    UNROLL
    for (int t = 0; t < 4; t++) {
      vstore16 (iq4_w16 (v, t) * d, 4 * g + t, out);
      vstore16 (iq4_w16 (v >> 4, t) * d, 4 * g + t + 16, out);
    }
  }
}
inline void dq_panel_iq4_xs (__global const uchar *pb, float *out)
{
  for (int i = 0; i < 8; i++) {
    const float16 dl = half16_at (pb) * convert_float16 (iq4xs_scale16 (pb, i));
    for (int g = 0; g < 4; g++) {
      const uint16 v = quad_at (pb + IQ4XS_Q, 4 * i + g);
      UNROLL
      for (int t = 0; t < 4; t++) {
        vstore16 (iq4_w16 (v, t) * dl, 32 * i + 4 * g + t, out);
        vstore16 (iq4_w16 (v >> 4, t) * dl, 32 * i + 4 * g + t + 16, out);
      }
    }
  }
}
/* The float GEMV's block dots: a block of 32 (IQ4_NL) or a sub-block of
 * IQ4_XS, its weights step by step. */
#define DEFINE_IQ4_DOTS(TM)                                                    \
inline void iq4_dot32_##TM (__global const uchar *q, float16 dl, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  CHAINS_ZERO (s, TM)                                                          \
  UNROLL                                                                       \
  for (int g = 0; g < 4; g++) {                                                \
    const uint16 v = quad_at (q, g);                                           \
    UNROLL                                                                     \
    for (int t = 0; t < 4; t++) {                                              \
      const float16 lo = iq4_w16 (v, t), hi = iq4_w16 (v >> 4, t);             \
      UNROLL                                                                   \
      for (int i = 0; i < TM; i++) {                                           \
        s[(2 * t) % NA (TM)][i] = fma ((float16) xr[i][kb + 4 * g + t], lo, s[(2 * t) % NA (TM)][i]); \
        s[(2 * t + 1) % NA (TM)][i] = fma ((float16) xr[i][kb + 16 + 4 * g + t], hi, s[(2 * t + 1) % NA (TM)][i]); \
      }                                                                        \
    }                                                                          \
  }                                                                            \
  CHAINS_ADD (s, TM, dl)                                                       \
}                                                                              \
inline void dot_iq4_nl_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  iq4_dot32_##TM (pb + 32, half16_at (pb), xr, kb, acc);                       \
}                                                                              \
inline void dot_iq4_xs_##TM (__global const uchar *pb, __global const float **xr, int kb, float16 *acc) \
{                                                                              \
  for (int i = 0; i < 8; i++)                                                  \
    iq4_dot32_##TM (pb + IQ4XS_Q + 256 * i, half16_at (pb) * convert_float16 (iq4xs_scale16 (pb, i)), xr, \
        kb + 32 * i, acc);                                                     \
}
DEFINE_IQ4_DOTS (1)
DEFINE_IQ4_DOTS (2)
DEFINE_IQ4_DOTS (3)
DEFINE_IQ4_DOTS (4)

DEFINE_QLINEAR (q8_0)
DEFINE_QLINEAR (q4_0)
DEFINE_QLINEAR (q4_k)
DEFINE_QLINEAR (q5_k)
DEFINE_QLINEAR (q6_k)
DEFINE_QLINEAR (q4_1)
DEFINE_QLINEAR (q5_0)
DEFINE_QLINEAR (q5_1)
DEFINE_QLINEAR (q3_k)
DEFINE_QLINEAR (q2_k)
DEFINE_QLINEAR (iq4_nl)
DEFINE_QLINEAR (iq4_xs)

#ifdef VTP_X86_INT8
/* The int8 decode GEMV (see the top of the file). Host side: vtp-linear.c
 * launches it for one row of x when the device's int8_dot is set: with
 * AVX-512 VNNI (-DVTP_X86_VNNI) or, without it, with AVX2 (the same
 * kernels, each 64-byte dot product as two 256-bit halves, dpbusd below).
 * The names say vnni for both. */
typedef int vtp_v16si __attribute__ ((vector_size (64)));
/* The int8 functions start on 64-byte boundaries, so that a change to one
 * type's code does not move another's loops against the front end's
 * 64-byte windows: with LLVM's 16, the block types' prefetches unrolled
 * (below) made the Q4_K_M decode, which runs none of their code, 0.92-0.94x
 * (in one process, vtp-bench-llm -a VTP_KERNEL_DEFINES=...); with 64 it
 * decodes alike either way (1.001x), and Q8_0 / Q4_0 alike at 16 or 64
 * (1.000x, 1.02x). */
#ifndef VNNI_FN_ALIGN
#define VNNI_FN_ALIGN 64
#endif
#ifdef VTP_X86_VNNI
#define VNNI __attribute__ ((target ("avx512vnni,avx512bw,avx512vl"), aligned (VNNI_FN_ALIGN)))
#else
#define VNNI __attribute__ ((target ("avx2,fma,f16c"), aligned (VNNI_FN_ALIGN)))
#endif
#define VNNI_MAX_K 16384       /* longest row (vtp-linear.c checks) */
/* Where the K-quant GEMV prefetches, from the super-block it is about to
 * read (bytes; -1: none). 0: that super-block's own lines, all requested
 * before the first is used (measured on the bench LLM's Q4_K_M decode on
 * the Zen 4 EPYC, interleaved runs: no prefetch 27-32 tokens/s, 0: 33-39,
 * 512 to 16384 bytes ahead: 26-29; Q8_0 and Q4_0 gain nothing: not for
 * them). Set with $VTP_KERNEL_DEFINES (-DVNNI_PREFETCH=N) to try others. */
#ifndef VNNI_PREFETCH
#define VNNI_PREFETCH 0
#endif
/* The same for the types of 32-weight blocks (Q8_0, Q4_0, ...): none on
 * the Zen 4 EPYC; on Intel CPUs their lines 2048 bytes ahead
 * (VNNI_PREFETCH_L2_BLOCKS below). */
#ifndef VNNI_PREFETCH_BLOCKS
#ifdef VTP_CPU_INTEL
#define VNNI_PREFETCH_BLOCKS 2048
#else
#define VNNI_PREFETCH_BLOCKS -1
#endif
#endif
/* On Intel CPUs (VTP_CPU_INTEL, from the host) every type's GEMV, and the
 * few-row tiles below their TILE_AHEAD_ROWS, also request the lines
 * VNNI_PREFETCH_L2 bytes further on into L2 (locality 1; -1: not). One
 * core of the 2-core Xeon with AMX reads at most ~15 GB/s from memory
 * (half the machine's 30) and the GEMV's own requests alone kept ~75% of
 * it; with these the 1.1B's decode products (vtp-bench-kernel-ab TYPE 1,
 * 8 alternating rounds, median speed ratios) read Q4_K 1.19x and Q8_0
 * 1.07x faster, and a 16384 x 65536 product (vtp-bench-linear 1 16384
 * 65536 TYPE 20, medians) Q4_0 18.2 -> 24.6 GB/s, Q4_K 22.0 -> 26.2, Q6_K
 * 21.1 -> 27.2, Q8_0 26.2 -> 29.2 (6912 or 13824 bytes ahead alike or
 * worse; into L3 only (locality 0) 10.9; without the own lines into L1
 * 21.6). On the Zen 4 lines ahead into L2 measured 0.96-0.97x there (the
 * tiles' comment below): not for it. */
/* The one-row GEMVs of these types read two panels side by side
 * (vnni_pair_<T>: two memory streams a core, besides the lines requested
 * ahead). On 2 cores of the Intel Xeon with AMX, a 16384 x 65536 product
 * (vtp-bench-linear 1 16384 65536 TYPE 10, alternating, means of 2 runs'
 * medians, GB/s one panel ->
 * two): Q8_0 27.0 -> 28.8, Q4_0 24.4 -> 26.5, Q5_0 25.5 -> 26.7, IQ4_NL
 * 23.7 -> 27.7, Q2_K 21.1 -> 23.6; the others read alike or slower with
 * two (Q4_1, IQ4_XS, Q3_K alike; Q4_K 25.8 -> 24.3, Q5_K 27.4 -> 23.3, Q6_K
 * 29.5 -> 23.8: their unpacking, twice the registers, is the bound).
 * -DVNNI_PAIRS=0 turns it off. */
#ifndef VNNI_PAIRS
#define VNNI_PAIRS 1
#endif
#define VNNI_PAIR_q8_0 VNNI_PAIRS
#define VNNI_PAIR_q4_0 VNNI_PAIRS
#define VNNI_PAIR_q5_0 VNNI_PAIRS
#define VNNI_PAIR_iq4_nl VNNI_PAIRS
#define VNNI_PAIR_q2_k VNNI_PAIRS
#define VNNI_PAIR_q4_1 0
#define VNNI_PAIR_q5_1 0
#define VNNI_PAIR_q3_k 0
#define VNNI_PAIR_q4_k 0
#define VNNI_PAIR_q5_k 0
#define VNNI_PAIR_q6_k 0
#define VNNI_PAIR_iq4_xs 0
#define VNNI_PAIR_iq3_xxs 0             /* the lattice types: not measured */
#define VNNI_PAIR_iq3_s 0
#define VNNI_PAIR_iq2_xxs 0
#define VNNI_PAIR_iq2_xs 0
#define VNNI_PAIR_iq2_s 0
#define VNNI_PAIR_iq1_s 0
#define VNNI_PAIR_iq1_m 0
#ifndef VNNI_PREFETCH_L2
#ifdef VTP_CPU_INTEL
#define VNNI_PREFETCH_L2 9216
#else
#define VNNI_PREFETCH_L2 -1
#endif
#endif
/* The GEMV of the types of 32-weight blocks (Q8_0, Q4_0, ...) on Intel
 * CPUs, since 2026-12-07 (fourth session): their lines 2048 bytes ahead
 * into L2 (VNNI_PREFETCH_L2_BLOCKS) and into L1 (VNNI_PREFETCH_BLOCKS,
 * above), the requests unrolled (as loops they were a third of the
 * Q4_0 pair's instructions). A C loop with the Q4_0 pair's arithmetic read
 * 24-25 GB/s with no requests, 25-27 with its lines 9216 ahead into L2,
 * 30-33 with them 2048 ahead into L1 (its loads alone: 31-32): the
 * arithmetic leaves too few loads in flight for requests from further
 * on. On the Xeon with AMX, the 1.1B's decode from empty in one process
 * (vtp-bench-llm -p 1 -n 64 -r 4 -a VTP_KERNEL_DEFINES=..., which builds
 * the kernels again for each value), against 9216 ahead into L2 only:
 * Q8_0 1.125x, Q4_0 1.12x (1024, 1536 or 3072 ahead, into either, alike
 * or up to 4% slower); a Q4_0 product alone (vtp-bench-linear 1 2048
 * 524288 q4_0 10) 25-26 -> 28-30 GB/s (the same requests as loops:
 * 26.0-26.1). The K-quants keep 9216 into L2 and their loops: unrolled,
 * their 2 x 36 requests a super-block decoded Q4_K_M at 0.92x (again in
 * the fifth session, with the functions aligned: 0.934x at 2048, 0.864x
 * at their own distances), and 2048 ahead gained nothing over 9216 as
 * loops (0.98x); docs/performance.md lists the other orders tried. */
#ifndef VNNI_PREFETCH_L2_BLOCKS
#ifdef VTP_CPU_INTEL
#define VNNI_PREFETCH_L2_BLOCKS 2048
#else
#define VNNI_PREFETCH_L2_BLOCKS -1
#endif
#endif
/* The @bytes lines @ahead bytes past @pb, into L2 */
#define PREFETCH_L2_AHEAD(pb, ahead, bytes)                                    \
  for (int c_ = 0; (ahead) >= 0 && c_ < (bytes); c_ += 64)                     \
    __builtin_prefetch ((pb) + (ahead) + c_, 0, 1);
/* The @bytes lines @l1 bytes past @pb into L1 and those @l2 past it into
 * L2 (-1: none), the requests unrolled (a block of 32's few lines: as
 * loops they were a third of the Q4_0 pair's instructions) */
#define PREFETCH_UNROLLED(pb, bytes, l1, l2)                                   \
  UNROLL                                                                       \
  for (int c_ = 0; (l1) >= 0 && c_ < (bytes); c_ += 64)                        \
    __builtin_prefetch ((pb) + (l1) + c_);                                     \
  UNROLL                                                                       \
  for (int c_ = 0; (l2) >= 0 && c_ < (bytes); c_ += 64)                        \
    __builtin_prefetch ((pb) + (l2) + c_, 0, 1);

typedef char vtp_v64qi __attribute__ ((vector_size (64)));
#ifdef VTP_X86_VNNI
/* acc + the sums of 4 products of unsigned bytes of u and signed bytes of
 * s, per 32-bit lane */
VNNI inline int16 dpbusd (int16 acc, int16 u, int16 s)
{
  return as_int16 (__builtin_ia32_vpdpbusd512 ((vtp_v16si) acc, (vtp_v16si) u, (vtp_v16si) s));
}
/* acc + the sums of the products of the two signed 16-bit halves of a and b */
VNNI inline int16 dpwssd (int16 acc, int16 a, int16 b)
{
  return as_int16 (__builtin_ia32_vpdpwssd512 ((vtp_v16si) acc, (vtp_v16si) a, (vtp_v16si) b));
}
/* The bytes of t picked by the bytes of idx within each 128-bit lane
 * (vpshufb: an index with its top bit set gives 0) */
VNNI inline int16 shuffle_bytes (uint16 t, uint16 idx)
{
  return as_int16 (__builtin_ia32_pshufb512 ((vtp_v64qi) t, (vtp_v64qi) idx));
}
/* Signed weight bytes w against x's signed bytes: dpbusd takes w + 128
 * (unsigned), and W8_BIAS (128) times the sum of x's bytes comes off
 * after, as the caller does */
#define W8_BIAS 128
VNNI inline int16 dp_w8 (int16 acc, int16 w, int16 x)
{
  return dpbusd (acc, w ^ (int16) 0x80808080, x);
}
#else
/* AVX2: the same sums per 32-bit lane from 256-bit halves, vpmaddubsw
 * (pairs of byte products added into 16 bits, saturating) then vpmaddwd
 * by ones (the pairs into the lane). Exact while each pair's sum fits in
 * 16 bits: every caller's unsigned bytes are at most 63 (the 4-, 5- and
 * 6-bit quants, the K-quants' mins) or 128 (dp_w8's |w|) against x's
 * int8 copy, which is within -127 .. 127 (quantize_group): 2 x 128 x 127
 * < 2^15. (vnni_block_k4's high nibbles in place, up to 240, would not be:
 * K4_HI_IN_PLACE is off here.) */
typedef char vtp_v32qi __attribute__ ((vector_size (32)));
typedef short vtp_v16hi __attribute__ ((vector_size (32)));
VNNI inline int8 dpbusd8 (int8 acc, int8 u, int8 s)
{
  const vtp_v16hi pairs = __builtin_ia32_pmaddubsw256 ((vtp_v32qi) u, (vtp_v32qi) s);
  return acc + as_int8 (__builtin_ia32_pmaddwd256 (pairs, (vtp_v16hi) (short16) 1));
}
VNNI inline int16 dpbusd (int16 acc, int16 u, int16 s)
{
  return (int16) (dpbusd8 (acc.lo, u.lo, s.lo), dpbusd8 (acc.hi, u.hi, s.hi));
}
VNNI inline int16 dpwssd (int16 acc, int16 a, int16 b)
{
  return acc + (int16) (as_int8 (__builtin_ia32_pmaddwd256 ((vtp_v16hi) a.lo, (vtp_v16hi) b.lo)),
      as_int8 (__builtin_ia32_pmaddwd256 ((vtp_v16hi) a.hi, (vtp_v16hi) b.hi)));
}
VNNI inline int16 shuffle_bytes (uint16 t, uint16 idx)
{
  return (int16) (as_int8 (__builtin_ia32_pshufb256 ((vtp_v32qi) t.lo, (vtp_v32qi) idx.lo)),
      as_int8 (__builtin_ia32_pshufb256 ((vtp_v32qi) t.hi, (vtp_v32qi) idx.hi)));
}
/* Signed weight bytes w against x's: |w| (at most 128, unsigned) times x
 * with w's sign (vpsignb; 0 where w is 0), llama.cpp's way on AVX2; no
 * bias to take off */
#define W8_BIAS 0
VNNI inline int8 dp_w8_8 (int8 acc, int8 w, int8 x)
{
  const vtp_v32qi u = __builtin_elementwise_abs ((vtp_v32qi) w);
  return dpbusd8 (acc, as_int8 (u), as_int8 (__builtin_ia32_psignb256 ((vtp_v32qi) x, (vtp_v32qi) w)));
}
VNNI inline int16 dp_w8 (int16 acc, int16 w, int16 x)
{
  return (int16) (dp_w8_8 (acc.lo, w.lo, x.lo), dp_w8_8 (acc.hi, w.hi, x.hi));
}
#endif

/* The largest |x| of x[0..31]. */
inline float amax32 (__global const float *x)
{
  const float16 m = fmax (fabs (vload16 (0, x)), fabs (vload16 (1, x)));
  const float8 m8 = fmax (m.lo, m.hi);
  const float4 m4 = fmax (m8.lo, m8.hi);
  return fmax (fmax (m4.x, m4.y), fmax (m4.z, m4.w));
}

#ifndef QX_RINT_ADD
#define QX_RINT_ADD 1
#endif
/* rint (v) as ints, for |v| <= 2^22: v + 1.5 * 2^23 lands where floats are
 * the integers, rounded to the nearest, ties to even (the add's own
 * rounding: rint's), and its bits are those of 1.5 * 2^23 plus that
 * integer (checked against rintf for every float in [-128, 128], 2.25e9
 * of them: none differs). Two instructions a vector where PoCL's rint is
 * a sequence of ~15: the decode's int8 copies of x took 13.2 -> 10.6 us a
 * layer of the 1.1B (a temporary trace, medians; most of the rest is x's
 * lines coming from the other core). QX_RINT_ADD 0: rint. */
inline int16 rint_small (float16 v)
{
  if (QX_RINT_ADD)
    return as_int16 (v + 12582912.0f) - 0x4b400000;
  return convert_int16 (rint (v));
}
/* x[0..31] times id as int8 (8 lanes of 4 bytes into q), the sums of its
 * two halves into sum[0], sum[1] (Q6_K's scales cover 16). */
inline void quantize32 (__global const float *x, float id, int *q, int *sum)
{
  const float16 a = vload16 (0, x), b = vload16 (1, x);
  /* |x id| <= 127: rint and plain conversions (PoCL's saturating,
   * rounding conversions are not vectorized) */
  const char16 qa = convert_char16 (rint_small (a * id));
  const char16 qb = convert_char16 (rint_small (b * id));
  const short8 ta = convert_short8 (qa.lo) + convert_short8 (qa.hi);
  const short8 tb = convert_short8 (qb.lo) + convert_short8 (qb.hi);
  const int4 sa = convert_int4 (ta.lo) + convert_int4 (ta.hi), sb = convert_int4 (tb.lo) + convert_int4 (tb.hi);
  const int4 ia = as_int4 (qa), ib = as_int4 (qb);
  sum[0] = (sa.x + sa.y) + (sa.z + sa.w);
  sum[1] = (sb.x + sb.y) + (sb.z + sb.w);
  q[0] = ia.x; q[1] = ia.y; q[2] = ia.z; q[3] = ia.w;
  q[4] = ib.x; q[5] = ib.y; q[6] = ib.z; q[7] = ib.w;
}

/* x[0 .. 32 g - 1] to int8 with one scale, amax / 127, returned: g = 1
 * for Q8_0 and Q4_0 weights (llama.cpp's Q8_0 activations), g = 8 for the
 * K-quants (its Q8_K: one scale per super-block, so that a super-block's
 * sub-block sums times their integer scales add up in integers and only
 * the super-block's total is scaled in float). */
inline float quantize_group (__global const float *x, int g, int *q, int *sum)
{
  float m = 0.0f;
  for (int b = 0; b < g; b++)
    m = fmax (m, amax32 (x + 32 * b));
  /* llama.cpp's two scales: Q8_0's d = amax / 127, id = 1 / d; Q8_K's id
   * = 127 / amax, d = 1 / id (its sign aside: the same products) */
  float d, id;
  if (g > 1) {
    id = m != 0.0f ? 127.0f / m : 0.0f;
    d = m != 0.0f ? 1.0f / id : 0.0f;
  } else {
    d = m / 127.0f;
    id = d != 0.0f ? 1.0f / d : 0.0f;
  }
  for (int b = 0; b < g; b++)
    quantize32 (x + 32 * b, id, q + 8 * b, sum + 2 * b);
  return d;
}

/* x's 8 sub-block sums of a super-block (S_j = sum[2 j] + sum[2 j + 1])
 * as quads of bytes for the K-quant mins' int8 dot products (k4_mins):
 * S = 64 hi + lo with lo in 0 .. 63 and hi in -64 .. 63 (|S| <= 32 * 127);
 * m[0], m[1]: the hi bytes of sub-blocks 0-3, 4-7; m[2], m[3]: the lo. */
inline void k4_x_mins (const int *sum, int *m)
{
  for (int h = 0; h < 2; h++) {
    uint hi = 0, lo = 0;
    for (int t = 0; t < 4; t++) {
      const int S = sum[2 * (4 * h + t)] + sum[2 * (4 * h + t) + 1];
      hi |= (uint) ((S >> 6) & 255) << (8 * t);
      lo |= (uint) (S & 63) << (8 * t);
    }
    m[h] = (int) hi;
    m[2 + h] = (int) lo;
  }
}

/* A row of x, @nb blocks of 32, to int8 in groups of @g blocks
 * (quantize_group); dx holds each block's scale (a group's blocks the
 * same one); for the K-quants (g = 8) xm each super-block's k4_x_mins. */
inline void quantize_x (__global const float *x, int nb, int g, int *xq, int *xs, float *dx, int *xm)
{
  for (int b = 0; b < nb; b += g) {
    const float d = quantize_group (x + 32 * b, g, xq + 8 * b, xs + 2 * b);
    for (int i = 0; i < g; i++)
      dx[b + i] = d;
    if (g == 8)
      k4_x_mins (xs + 2 * b, xm + b / 2);
  }
}

/* One block of 16 rows: sum (w q) dw dx. Q8_0's signed weights go in as
 * dp_w8 takes them, Q4_0's nibbles as they are (q - 8 stored as q): the
 * offset times the sum of x's bytes comes off after. */
VNNI inline float16 vnni_block_q8_0 (__global const uchar *pb, const int *xq, int xs, float dx, float16 acc)
{
  int16 s = 0;
  UNROLL
  for (int g = 0; g < 8; g++)
    s = dp_w8 (s, as_int16 (quad_at (pb + 32, g)), (int16) xq[g]);
  return fma (half16_at (pb) * dx, convert_float16 (s - W8_BIAS * xs), acc);
}

VNNI inline float16 vnni_block_q4_0 (__global const uchar *pb, const int *xq, int xs, float dx, float16 acc)
{
  int16 s = 0;
  UNROLL
  for (int g = 0; g < 4; g++) {
    const uint16 v = quad_at (pb + 32, g);
    s = dpbusd (s, as_int16 (v & 0x0f0f0f0fu), (int16) xq[g]);
    s = dpbusd (s, as_int16 ((v >> 4) & 0x0f0f0f0fu), (int16) xq[4 + g]);
  }
  return fma (half16_at (pb) * dx, convert_float16 (s - 8 * xs), acc);
}

/* Q4_1, Q5_0, Q5_1: the unsigned 4- or 5-bit q go in as they are; Q5_0's
 * offset (16) times the sum of x's bytes comes off after, as Q4_0's; the
 * min m of Q4_1 and Q5_1 multiplies that sum (m dx sum xq: x's block sum
 * as llama.cpp's Q8_1 activations carry it). */
VNNI inline float16 vnni_block_legacy (__global const uchar *pb, int m_off, int qh_off, int q_off, const int *xq,
    int xs, float dx, float16 acc)
{
  int16 s = 0;
  UNROLL
  for (int g = 0; g < 4; g++) {
    s = dpbusd (s, as_int16 (legacy_quad (pb, qh_off, q_off, g, 0)), (int16) xq[g]);
    s = dpbusd (s, as_int16 (legacy_quad (pb, qh_off, q_off, g, 1)), (int16) xq[4 + g]);
  }
  if (m_off)
    return fma (half16_at (pb + m_off) * dx, (float16) (float) xs, fma (half16_at (pb) * dx, convert_float16 (s), acc));
  return fma (half16_at (pb) * dx, convert_float16 (s - 16 * xs), acc);
}
#define DEFINE_VNNI_SUPER_LEGACY(T)                                            \
VNNI inline float16 vnni_super_##T (__global const uchar *pb, const int *xq, const int *xs, const int *xm, \
    const float *dx, float16 a)                                                \
{                                                                              \
  return vnni_block_legacy (pb, LEGACY_PANEL_##T, xq, xs[0] + xs[1], dx[0], a); \
}
DEFINE_VNNI_SUPER_LEGACY (q4_1)
DEFINE_VNNI_SUPER_LEGACY (q5_0)
DEFINE_VNNI_SUPER_LEGACY (q5_1)

/* Q3_K, Q2_K super-block of 16 rows, x quantized with one scale dx for the
 * super-block: per sub-block of 16 the sums of q xq in integers, times the
 * sub-block's scale; Q3_K's offset 4 times x's sub-block sums (xs) comes
 * off each; Q2_K's mins times them make a second integer sum. */
VNNI inline float16 vnni_super_q3_k (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 acc)
{
  int16 isum = 0;
  UNROLL
  for (int h = 0; h < 2; h++) {
    /* each quad group's qs and hmask loaded once for its four quarters j:
     * s[j][0 | 1], the quarter's two sub-blocks */
    int16 s[4][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
    UNROLL
    for (int g = 0; g < 8; g++) {
      const uint16 v = quad_at (pb + Q3_QS, 8 * h + g), hv = quad_at (pb, g);
      UNROLL
      for (int j = 0; j < 4; j++)
        s[j][g / 4] = dpbusd (s[j][g / 4], as_int16 (q3_bits (v, hv, j, 4 * h + j)), (int16) xq[32 * h + 8 * j + g]);
    }
    UNROLL
    for (int j = 0; j < 4; j++) {
      const int sb = 8 * h + 2 * j;
      isum += q3_scale16 (pb, sb) * (s[j][0] - 4 * xs[sb]) + q3_scale16 (pb, sb + 1) * (s[j][1] - 4 * xs[sb + 1]);
    }
  }
  return fma (half16_at (pb + Q3_D) * dx[0], convert_float16 (isum), acc);
}
VNNI inline float16 vnni_super_q2_k (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 acc)
{
  int16 isum = 0, msum = 0;
  for (int h = 0; h < 2; h++) {
    int16 s[4][2] = { { 0, 0 }, { 0, 0 }, { 0, 0 }, { 0, 0 } };
    UNROLL
    for (int g = 0; g < 8; g++) {
      const uint16 v = quad_at (pb + Q2_QS, 8 * h + g);
      UNROLL
      for (int j = 0; j < 4; j++)
        s[j][g / 4] = dpbusd (s[j][g / 4], as_int16 ((v >> (2 * j)) & 0x03030303u), (int16) xq[32 * h + 8 * j + g]);
    }
    UNROLL
    for (int j = 0; j < 4; j++) {
      const int sb = 8 * h + 2 * j;
      isum += q2_scale16 (pb, sb) * s[j][0] + q2_scale16 (pb, sb + 1) * s[j][1];
      msum += q2_min16 (pb, sb) * xs[sb] + q2_min16 (pb, sb + 1) * xs[sb + 1];
    }
  }
  acc = fma (half16_at (pb + Q2_D) * dx[0], convert_float16 (isum), acc);
  return fma (half16_at (pb + Q2_DMIN) * -dx[0], convert_float16 (msum), acc);
}

/* IQ4_NL, IQ4_XS: each index byte looked up (vpshufb, the table in every
 * 128-bit lane), iq4_dot: with VNNI as its value + 128, unsigned, with
 * 128 times x's sums off after (IQ4_BIAS); with AVX2 as its value, signed,
 * through dp_w8 (no bias). */
#ifdef VTP_X86_VNNI
/* kvalues_iq4nl + 128, four bytes a word */
#define IQ4_TABLE 0x3f2d1801u, 0x766a5d4fu, 0xa6998d81u, 0xf1d9c5b5u
#define IQ4_BIAS 128
#else
/* kvalues_iq4nl */
#define IQ4_TABLE 0xbfad9881u, 0xf6eaddcfu, 0x26190d01u, 0x71594535u
#define IQ4_BIAS 0
#endif
VNNI inline int16 iq4_lookup (uint16 idx)
{
  return shuffle_bytes ((uint16) (IQ4_TABLE, IQ4_TABLE, IQ4_TABLE, IQ4_TABLE), idx);
}
VNNI inline int16 iq4_dot (int16 acc, int16 values, int16 x)
{
#ifdef VTP_X86_VNNI
  return dpbusd (acc, values, x);
#else
  return dp_w8 (acc, values, x);
#endif
}
/* The 32 indices of one block of 16 rows (quad groups at @q) against x's
 * block at xq: sum of value xq (IQ4_BIAS sum xq off). */
VNNI inline int16 iq4_block_sum (__global const uchar *q, const int *xq, int xs)
{
  int16 s = 0;
  UNROLL
  for (int g = 0; g < 4; g++) {
    const uint16 v = quad_at (q, g);
    s = iq4_dot (s, iq4_lookup (v & 0x0f0f0f0fu), (int16) xq[g]);
    s = iq4_dot (s, iq4_lookup ((v >> 4) & 0x0f0f0f0fu), (int16) xq[4 + g]);
  }
  return s - IQ4_BIAS * xs;
}
VNNI inline float16 vnni_super_iq4_nl (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 acc)
{
  return fma (half16_at (pb) * dx[0], convert_float16 (iq4_block_sum (pb + 32, xq, xs[0] + xs[1])), acc);
}
VNNI inline float16 vnni_super_iq4_xs (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 acc)
{
  int16 isum = 0, sl, sh;
  iq4xs_scale_bits (pb, &sl, &sh);
  for (int i = 0; i < 8; i++)
    isum += iq4xs_scale_of (sl, sh, i) * iq4_block_sum (pb + IQ4XS_Q + 256 * i, xq + 8 * i, xs[2 * i] + xs[2 * i + 1]);
  return fma (half16_at (pb) * dx[0], convert_float16 (isum), acc);
}

/* Q4_K / Q5_K super-block of 16 rows, x quantized with one scale dx for
 * the super-block: d dx (sum over sub-blocks of s sum q xq) - dmin dx
 * (sum of m sum xq), the sums in integers: the mins' sum as four int8 dot
 * products of the mins' bytes with x's sub-block sums cut in bytes (xm,
 * k4_x_mins: 64 sum (m hi) + sum (m lo)). The 5th bit of Q5_K comes from
 * qh (quad too: group g of qh holds the bits of elements 4 g .. 4 g + 3 of
 * each 64-chunk, bit 2 c for the low half, 2 c + 1 for the high). */
VNNI inline int16 k4_min_sum (K4Scales k, const int *xm)
{
  const int16 m03 = as_int16 (k4_mins (k, 0)), m47 = as_int16 (k4_mins (k, 1));
  const int16 hi = dpbusd (dpbusd (0, m03, (int16) xm[0]), m47, (int16) xm[1]);
  return hi * 64 + dpbusd (dpbusd (0, m03, (int16) xm[2]), m47, (int16) xm[3]);
}

/* Byte j (0-3) of each 32-bit lane of v, zero-extended: one vpshufb */
VNNI inline int16 byte_of_lanes (uint16 v, int j)
{
  const uint c = 0x80808000u | (uint) j;
  const uint16 ctrl = (uint16) (c, c + 4, c + 8, c + 12, c, c + 4, c + 8, c + 12, c, c + 4, c + 8, c + 12, c, c + 4,
      c + 8, c + 12);
  return shuffle_bytes (v, ctrl);
}

/* Fewer instructions a Q4_K super-block, the same integers (the same
 * bits): K4_HI_IN_PLACE: the high nibbles taken where they are (v & 0xf0,
 * sixteen times their value; the sums shifted back by 4 once a chunk)
 * instead of shifted down, one instruction less a quad; K4_SCALES_SHUFFLED:
 * the 8 scales' bytes put together once (sc03, sc47), each chunk's scales
 * then one byte shuffle each instead of 2 to 6 shifts and masks, and the
 * mins' quad loaded after the loop (loaded before it, LLVM kept it through
 * the loop as 8 quarters and put it together again: 15 instructions more).
 * The one-row GEMV's code for a super-block (objdump of the cached kernel):
 * 149 -> 120 instructions. On the
 * 2-core Xeon with AMX, the 1.1B Q4_K_M decode in one process
 * (vtp-bench-llm -p 1 -n 64 -r 6..10 -a VTP_KERNEL_DEFINES=..., against
 * both off): the first alone 1.010-1.020x (three runs), both 1.001-1.029x
 * (three); the GEMV is bound by its reads (docs/performance.md, "eighth
 * session"), so a fifth fewer instructions is a per cent or two. Q5_K (its
 * fifth bit from qh) keeps the shift for its high nibbles. */
#ifndef K4_HI_IN_PLACE
#ifdef VTP_X86_VNNI
#define K4_HI_IN_PLACE 1
#else
#define K4_HI_IN_PLACE 0        /* AVX2's dpbusd: bytes of 240 would saturate */
#endif
#endif
#ifndef K4_SCALES_SHUFFLED
#define K4_SCALES_SHUFFLED 1
#endif
/* The sums of a Q4_K / Q5_K sub-block's products, K4_RUN quad
 * groups (of 8) at a time, and that run's sum times the sub-block's scale
 * into isum (k4_scaled). VNNI: a run is the whole sub-block (the sums in
 * 32 bits, vpdpbusd). AVX2: runs of 4, their sums in the 16-bit pairs that
 * vpmaddubsw leaves (|sum| <= 4 x 2 x 31 x 127 < 2^15 for Q5_K's 5 bits),
 * which one vpmaddwd by the scale (signed, in both halves of each lane) adds up
 * and scales: per run and row one instruction a 256-bit half, where
 * dpbusd's sums take a vpmaddwd and an add for each group, and the scale a
 * vpmulld. The same integers either way. */
#ifdef VTP_X86_VNNI
#define K4_RUN 8
VNNI inline int16 k4_dot (int16 acc, int16 u, int16 s) { return dpbusd (acc, u, s); }
VNNI inline int16 k4_scaled (int16 isum, int16 s, int16 sc) { return isum + s * sc; }
#else
#define K4_RUN 4
VNNI inline int16 k4_dot (int16 acc, int16 u, int16 s)
{
  return (int16) (as_int8 ((vtp_v16hi) acc.lo + __builtin_ia32_pmaddubsw256 ((vtp_v32qi) u.lo, (vtp_v32qi) s.lo)),
      as_int8 ((vtp_v16hi) acc.hi + __builtin_ia32_pmaddubsw256 ((vtp_v32qi) u.hi, (vtp_v32qi) s.hi)));
}
VNNI inline int16 k4_scaled (int16 isum, int16 s, int16 sc) { return dpwssd (isum, s, (sc & 0xffff) | (sc << 16)); }
#endif

VNNI inline float16 vnni_block_k4 (__global const uchar *pb, __global const uchar *qh, __global const uchar *q,
    const int *xq, const int *xm, const float *dx, float16 acc)
{
  /* the scales need q0 and q2 (k4_sc too); the mins' q1 comes after the loop */
  const K4Scales k = { quad_at (pb + 64, 0), 0, quad_at (pb + 64, 2) };
  const uint16 sc03 = k.q0 & 0x3f3f3f3fu, sc47 = (k.q2 & 0x0f0f0f0fu) | ((k.q0 >> 2) & 0x30303030u);
  const int hi_shift = !qh && K4_HI_IN_PLACE ? 4 : 0;
  int16 isum = 0;
  for (int c = 0; c < 4; c++)
    UNROLL
    for (int run = 0; run < 8; run += K4_RUN) {
      int16 s1 = 0, s2 = 0;
      UNROLL
      for (int g = run; g < run + K4_RUN; g++) {
        const uint16 v = quad_at (q, 8 * c + g);
        uint16 lo = v & 0x0f0f0f0fu, hi = hi_shift ? v & 0xf0f0f0f0u : (v >> 4) & 0x0f0f0f0fu;
        if (qh) {
          const uint16 h = quad_at (qh, g);
          lo |= ((h >> (2 * c)) & 0x01010101u) << 4;
          hi |= ((h >> (2 * c + 1)) & 0x01010101u) << 4;
        }
        s1 = k4_dot (s1, as_int16 (lo), (int16) xq[16 * c + g]);
        s2 = k4_dot (s2, as_int16 (hi), (int16) xq[16 * c + 8 + g]);
      }
      s2 >>= hi_shift;
      if (K4_SCALES_SHUFFLED)
        isum = k4_scaled (k4_scaled (isum, s1, byte_of_lanes (c < 2 ? sc03 : sc47, (2 * c) & 3)), s2,
            byte_of_lanes (c < 2 ? sc03 : sc47, (2 * c + 1) & 3));
      else
        isum = k4_scaled (k4_scaled (isum, s1, k4_sc (k, 2 * c)), s2, k4_sc (k, 2 * c + 1));
    }
  acc = fma (half16_at (pb) * dx[0], convert_float16 (isum), acc);
  const K4Scales km = { k.q0, quad_at (pb + 64, 1), k.q2 };
  return fma (half16_at (pb + 32) * -dx[0], convert_float16 (k4_min_sum (km, xm)), acc);
}

/* The panel loops take a block of 32 (Q8_0, Q4_0) or a super-block of 256
 * (the K-quants: 8 of x's blocks) at a time. */
VNNI inline float16 vnni_super_q4_k (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 a)
{
  return vnni_block_k4 (pb, 0, pb + 256, xq, xm, dx, a);
}
VNNI inline float16 vnni_super_q5_k (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 a)
{
  return vnni_block_k4 (pb, pb + 256, pb + 768, xq, xm, dx, a);
}
VNNI inline float16 vnni_super_q8_0 (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 a)
{
  return vnni_block_q8_0 (pb, xq, xs[0] + xs[1], dx[0], a);
}
VNNI inline float16 vnni_super_q4_0 (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 a)
{
  return vnni_block_q4_0 (pb, xq, xs[0] + xs[1], dx[0], a);
}

/* The super-block's two halves unrolled: on 2 cores of the Xeon with AMX
 * the one-row Q6_K GEMV read a long product (vtp-bench-linear 1 2048 262144
 * q6_k 10, best) at 26.8 GB/s with the loop, 30.2 unrolled; the 1.1B's
 * products (vtp-bench-kernel-ab q6_k 1 A B -r 8) 1.121x; its Q4_K_M decode
 * (Q6_K head, half its down products; vtp-bench-llm -p 1 -n 64 -r 6 -a
 * VTP_KERNEL_DEFINES=-DQ6K_UNROLL_HALVES=0,-DQ6K_UNROLL_HALVES=1) 1.030x,
 * Q4_0's (Q6_K head) 1.018x. The same arithmetic, the same bits. */
#ifndef Q6K_UNROLL_HALVES
#define Q6K_UNROLL_HALVES 1
#endif
/* Q6_K super-block of 16 rows: quarter u (32 elements, x's block 4 h + u)
 * of half h takes its low 4 bits from its ql (quad group 8 (u & 1) + g,
 * low nibbles for u < 2) and 2 high bits from its qh (group g, bits 2 u);
 * a scale per 16 elements: d dx (sum of s (sum q xq - 32 sum xq)), in
 * integers up to the super-block's total (x quantized with one scale for
 * the super-block). */
VNNI inline float16 vnni_super_q6_k (__global const uchar *pb, const int *xq, const int *xs, const int *xm,
    const float *dx, float16 acc)
{
  int16 isum = 0;
#if Q6K_UNROLL_HALVES
  UNROLL
#endif
  for (int h = 0; h < 2; h++) {
    /* s[u][i]: quarter u (i < 2) or u + 2 (i >= 2), first or second 16;
     * each qh group serves both quarter pairs (loaded once) */
    int16 s[2][4] = { { 0, 0, 0, 0 }, { 0, 0, 0, 0 } };
    UNROLL
    for (int g = 0; g < 8; g++) {
      const uint16 hv = quad_at (q6_qh (pb, h), g);
      UNROLL
      for (int u = 0; u < 2; u++) {
        const uint16 v = quad_at (q6_ql (pb, h), 8 * u + g);
        const uint16 lo = (v & 0x0f0f0f0fu) | (((hv >> (2 * u)) & 0x03030303u) << 4);
        const uint16 hi = ((v >> 4) & 0x0f0f0f0fu) | (((hv >> (2 * u + 4)) & 0x03030303u) << 4);
        s[u][g / 4] = dpbusd (s[u][g / 4], as_int16 (lo), (int16) xq[8 * (4 * h + u) + g]);
        s[u][2 + g / 4] = dpbusd (s[u][2 + g / 4], as_int16 (hi), (int16) xq[8 * (4 * h + u + 2) + g]);
      }
    }
    UNROLL
    for (int u = 0; u < 2; u++)
      UNROLL
      for (int second = 0; second < 2; second++)
        UNROLL
        for (int hi = 0; hi < 2; hi++) {
          const int i = 2 * hi + second, q = u + 2 * hi, blk = 4 * h + q;
          isum += q6_scale_i (pb, 8 * h + second + 2 * q) * (s[u][i] - 32 * xs[2 * blk + second]);
        }
  }
  return fma (half16_at (pb + 3328) * dx[0], convert_float16 (isum), acc);
}

/* The lines a GEMV requests for its panel's (super-)block at @pb: a
 * super-block's into L1 VNNI_PREFETCH bytes on and into L2
 * VNNI_PREFETCH_L2 on; a block of 32's (unrolled) VNNI_PREFETCH_BLOCKS
 * and VNNI_PREFETCH_L2_BLOCKS on (-1: none) */
#define VNNI_BLOCK_PREFETCH(T, pb)                                             \
  if (QK_##T > 32) {                                                           \
    for (int c_ = 0; VNNI_PREFETCH >= 0 && c_ < 16 * BB_##T; c_ += 64)         \
      __builtin_prefetch ((pb) + VNNI_PREFETCH + c_);                          \
    PREFETCH_L2_AHEAD (pb, VNNI_PREFETCH_L2, 16 * BB_##T)                      \
  } else {                                                                     \
    PREFETCH_UNROLLED (pb, 16 * BB_##T, VNNI_PREFETCH_BLOCKS, VNNI_PREFETCH_L2_BLOCKS) \
  }

/* The kernel itself cannot carry the target attribute (PoCL inlines it into
 * a work-group function built for the plain CPU, where the instruction
 * cannot be selected): the blocks of a panel run in a function of their own,
 * which LLVM keeps out of line, one call per panel. (Two panels read side
 * by side, for two memory streams a core, measured slower on the Zen 4
 * EPYC: Q4_0 decode of the bench LLM 26-29 against 31-37 tokens/s,
 * interleaved runs; on the Xeon with AMX the block types' products read
 * faster so: vnni_pair_<T> and VNNI_PAIR_<T> above.) */
#define DEFINE_QVNNI(T)                                                        \
VNNI float16 vnni_panel_##T (__global const uchar *pa, const int *xq, const int *xs, \
    const int *xm, const float *dx, int nb)                                    \
{                                                                              \
  const int per = QK_##T / 32;                                                 \
  float16 a = 0.0f;                                                            \
  for (int b = 0; b < nb; b += per) {                                          \
    __global const uchar *pb = pa + (size_t) (b / per) * 16 * BB_##T;          \
    VNNI_BLOCK_PREFETCH (T, pb)                                                \
    a = vnni_super_##T (pb, xq + 8 * b, xs + 2 * b, xm + b / 2, dx + b, a);    \
  }                                                                            \
  return a;                                                                    \
}                                                                              \
                                                                               \
/* Panels @pa and @pa2 side by side (two memory streams a core), each as     \
 * vnni_panel_##T computes it (the same bits), into out[0] and out[1]. */     \
VNNI void vnni_pair_##T (__global const uchar *pa, __global const uchar *pa2, const int *xq, \
    const int *xs, const int *xm, const float *dx, int nb, float16 *out)       \
{                                                                              \
  const int per = QK_##T / 32;                                                 \
  float16 a = 0.0f, c = 0.0f;                                                  \
  for (int b = 0; b < nb; b += per) {                                          \
    __global const uchar *pb = pa + (size_t) (b / per) * 16 * BB_##T;          \
    __global const uchar *pb2 = pa2 + (size_t) (b / per) * 16 * BB_##T;        \
    VNNI_BLOCK_PREFETCH (T, pb)                                                \
    VNNI_BLOCK_PREFETCH (T, pb2)                                               \
    a = vnni_super_##T (pb, xq + 8 * b, xs + 2 * b, xm + b / 2, dx + b, a);    \
    c = vnni_super_##T (pb2, xq + 8 * b, xs + 2 * b, xm + b / 2, dx + b, c);   \
  }                                                                            \
  out[0] = a;                                                                  \
  out[1] = c;                                                                  \
}                                                                              \
                                                                               \
/* One row of x, panels P * id .. of W (up to VNNI_P), and the plain rows     \
 * after the last panel in the last work-item. x is quantized whole first      \
 * (K <= VNNI_MAX_K), so that each panel is then read in one sequential sweep  \
 * (panels read a chunk at a time in turn left the memory bandwidth half      \
 * used: short streams defeat the prefetcher). */                             \
__kernel void qlinear_vnni_##T (__global const float *x, int x_off,           \
    __global const uchar *w, __global const float *bias, int has_bias,         \
    __global float *y, int y_off, int M, int K, int N, int accumulate, int P)  \
{                                                                              \
  const int np = N / 16, p0 = get_global_id (0) * P, pn = min (P, np - p0);    \
  const int nb = K / 32;                                                       \
  int xq[VNNI_MAX_K / 4], xs[VNNI_MAX_K / 16], xm[VNNI_MAX_K / 64];            \
  float dx[VNNI_MAX_K / 32];                                                   \
  quantize_x (x + x_off, nb, QK_##T / 32, xq, xs, dx, xm);                     \
  for (int p = 0; p < pn; p++) {                                               \
    if (VNNI_PAIR_##T && p + 1 < pn) {                                         \
      float16 s[2];                                                            \
      vnni_pair_##T (row_##T (w, 16 * (p0 + p), K), row_##T (w, 16 * (p0 + p + 1), K), xq, xs, xm, dx, nb, s); \
      store16_pair (s, y + y_off + 16 * (p0 + p), bias + 16 * (p0 + p), has_bias, accumulate); \
      p++;                                                                     \
      continue;                                                                \
    }                                                                          \
    store16 (vnni_panel_##T (row_##T (w, 16 * (p0 + p), K), xq, xs, xm, dx, nb), \
        y + y_off + 16 * (p0 + p), bias + 16 * (p0 + p), has_bias, accumulate); \
  }                                                                            \
  if (p0 + max (pn, 0) >= np && 16 * np < N)                                   \
    p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, 0, 1, K, N, 16 * np, accumulate); \
}

/* ---- the int8 GEMM (prefill, encode: more rows than QPANEL_TM) ---- */

/* x's rows to int8 in groups of @g blocks of 32 (quantize_group), once
 * for the whole product: q [M, K] bytes at 0, the blocks' scales [M, K /
 * 32] floats at d_off (a group's blocks the same), the half-block sums [M,
 * K / 16] ints at s_off of @scratch (bytes). One work-item a group. */
/* Row m's k4_x_mins in a scratch of M rows: after the M rows' half-block
 * sums (vtp-linear.c's int8_rows_layout), 4 ints a super-block. */
inline __global int *k4_mins_at (__global const uchar *scratch, int s_off, int M, int K, int m)
{
  return (__global int *) (scratch + s_off + (size_t) M * (K / 32) * 8) + (size_t) m * (K / 64);
}

/* Blocks b .. b + g - 1 of row m of x (rows K apart) into the scratch of
 * M rows. */
inline void quantize_rows_q8_at (__global const float *x, int K, __global uchar *scratch, int d_off, int s_off,
    int g, int M, int b, int m)
{
  const int nb = K / 32;
  int q[8 * 8], sums[2 * 8];
  const float d = quantize_group (x + (size_t) m * K + 32 * b, g, q, sums);
  __global int *qo = (__global int *) (scratch + (size_t) m * K + 32 * b);
  for (int i = 0; i < 8 * g; i++)
    qo[i] = q[i];
  for (int i = 0; i < g; i++)
    ((__global float *) (scratch + d_off))[(size_t) m * nb + b + i] = d;
  for (int i = 0; i < 2 * g; i++)
    ((__global int *) (scratch + s_off))[2 * ((size_t) m * nb + b) + i] = sums[i];
  if (g == 8) {
    /* the super-block's k4_x_mins, after every row's sums (k4_mins_at) */
    int xm[4];
    k4_x_mins (sums, xm);
    for (int i = 0; i < 4; i++)
      k4_mins_at (scratch, s_off, M, K, m)[b / 2 + i] = xm[i];
  }
}

__kernel void quantize_rows_q8 (__global const float *x, int x_off, int K, __global uchar *scratch, int d_off,
    int s_off, int g)
{
  quantize_rows_q8_at (x + x_off, K, scratch, d_off, s_off, g, get_global_size (1), get_global_id (0) * g,
      get_global_id (1));
}

/* For a few rows (M <= 12: the decode steps of a few streams, where each
 * panel is read from memory once, by its first tile of rows) the tiles
 * request the weights' cache lines before they use them; a prefill's tiles
 * read each panel many times, from the cache after the first, and do not.
 * Up to 3 rows the K-quant and lattice tiles request a super-block's own
 * lines, all at once before its first use, into L1, as the one-row GEMV
 * does (VNNI_PREFETCH). From TILE_AHEAD_ROWS_<T> rows on, where a
 * super-block's arithmetic takes as long as reading it, every tile
 * requests the lines VNNI_TILE_AHEAD_BYTES further on (the next panel's
 * first lines at a panel's end: a work-item's panels follow each other in
 * memory) into L2 only (locality 1), so that the reads run while it
 * computes. Measured on the Zen 4 EPYC, on the 1.1B decode's products in
 * one process (22 layers + head, weights from memory, 8-12 alternating rounds, median
 * speed ratios against the super-block's own lines / none): Q4_K 1.06-1.30
 * at 4 rows (four runs), 1.40 at 6, 1.36 at 8, 1.29 at 12, 1.03 at 3 and
 * 0.97 at 2 (hence from 4); Q6_K 1.07 / 1.45 at 4 / 8; Q4_0 1.20 / 1.50; Q5_0 1.22, Q5_1
 * 1.30 at 4; Q8_0 (twice the bytes for the same arithmetic) 0.95 at 4,
 * 1.02 at 5, 1.23 at 6, 1.19 at 8 (hence from 6); IQ4_NL 1.29, IQ4_XS
 * 1.23 / 1.40 at 4 / 8; Q3_K 1.03, IQ3_XXS 1.07, IQ2_XXS 1.01 at 4 (their
 * arithmetic, not the reads, holds them). 4 and 8 super-blocks ahead
 * measured alike; into L1 instead, 0.76 and 0.62 (1 and 2 ahead); both
 * the own lines into L1 and the lines ahead, 0.69. The one-row GEMV with
 * lines 2 or 4 super-blocks ahead into L2: 0.96-0.97 (16 rounds; Q8_0's
 * 1.00): not taken. bench/vtp-bench-kernel-ab measures such versions.
 * $VTP_KERNEL_DEFINES -DVNNI_TILE_PREFETCH=0 turns all of it off. */
#ifndef VNNI_TILE_PREFETCH
#define VNNI_TILE_PREFETCH 1
#endif
/* 9216 bytes: 4 Q4_K super-blocks of 16 rows. On Intel CPUs 2048 since
 * 2026-12-07 (fourth session; see VNNI_PREFETCH_L2_BLOCKS): the 1.1B's
 * streams decoding together in one process (vtp-bench-llm -p 16 -n 33 -r
 * 3..4 --streams S -a VTP_KERNEL_DEFINES=-DX,-DVNNI_TILE_AHEAD_BYTES=2048),
 * aggregate speed over 9216's: Q4_K_M 1.065-1.08x at 4 streams, 1.073x at
 * 8, Q8_0 1.026x at 4, Q4_0 0.99-1.01x at 2 and 4. */
#ifndef VNNI_TILE_AHEAD_BYTES
#ifdef VTP_CPU_INTEL
#define VNNI_TILE_AHEAD_BYTES 2048
#else
#define VNNI_TILE_AHEAD_BYTES 9216
#endif
#endif
/* Where the GEMV requests lines ahead (VNNI_PREFETCH_L2 >= 0: Intel CPUs)
 * the block types' tiles request theirs from 2 rows on: on the 2-core
 * Xeon with AMX (the same products, 6 rounds, against from the rows
 * below) Q4_0 1.41x at 2 rows and 1.34x at 3, Q8_0 1.05x and 1.12x, Q4_1,
 * Q5_0, IQ4_XS 1.29-1.32x at 2; and the K-quant tiles of 2 and 3 rows
 * request the lines VNNI_PREFETCH_L2 ahead besides their own: Q4_K 0.98x
 * and 1.15x, Q6_K 1.19x and 1.11x. -DVNNI_PREFETCH_L2=-1 turns all of it
 * off. */
#if VNNI_PREFETCH_L2 >= 0
#define TILE_AHEAD_ROWS_BLOCKS(rows) 2
#else
#define TILE_AHEAD_ROWS_BLOCKS(rows) rows
#endif
#define TILE_AHEAD_ROWS_q8_0 TILE_AHEAD_ROWS_BLOCKS (6)
#define TILE_AHEAD_ROWS_q4_0 TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS_q4_1 TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS_q5_0 TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS_q5_1 TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS_iq4_nl TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS_iq4_xs TILE_AHEAD_ROWS_BLOCKS (4)
#define TILE_AHEAD_ROWS 4               /* the K-quants and lattice types */
/* The lines VNNI_TILE_AHEAD_BYTES past the @bytes at @pb, into L2 */
#define TILE_PREFETCH_LINES_AHEAD(pb, bytes) PREFETCH_L2_AHEAD (pb, VNNI_TILE_AHEAD_BYTES, bytes)
/* On Intel CPUs the Q4_K, Q5_K and Q6_K tiles of TILE_AHEAD_ROWS rows and
 * more also request a super-block's own lines into L1 before its first use
 * (own_l1 = TILE_K_OWN_LINES), besides the lines ahead into L2. On the
 * 2-core Xeon with AMX, decode products (vtp-bench-kernel-ab TYPE ROWS, 6
 * rounds, median speed ratios against the L2 requests alone): Q4_K 1.154x
 * at 4 rows, 1.103x at 8, 1.049x at 12; Q5_K 1.164x at 4; Q6_K 1.124x at 4
 * and 1.123x at 8 (their own lines 2304 or 4608 bytes on instead: Q4_K
 * 1.040 / 1.050x); Q3_K 0.994x, Q2_K 1.034x, IQ3_XXS 0.987x, IQ2_XS 1.000x
 * at 4: not for them. (On the Zen 4 EPYC both requests measured 0.69x,
 * the comment above: Intel only.) -DTILE_K_OWN_LINES=0 turns it off. */
#ifndef TILE_K_OWN_LINES
#ifdef VTP_CPU_INTEL
#define TILE_K_OWN_LINES 1
#else
#define TILE_K_OWN_LINES 0
#endif
#endif
/* K-quant and lattice tiles: a super-block's own lines up to 3 rows (and
 * on Intel the lines VNNI_PREFETCH_L2 ahead); from TILE_AHEAD_ROWS on the
 * lines ahead into L2, and with @own_l1 its own lines into L1 too */
#define TILE_PREFETCH(pb, bytes, own_l1)                                       \
  if (VNNI_TILE_PREFETCH && M <= 12 && m0 == 0) {                              \
    if (M >= TILE_AHEAD_ROWS) {                                                \
      for (int c_ = 0; (own_l1) && c_ < (bytes); c_ += 64)                     \
        __builtin_prefetch ((pb) + c_);                                        \
      TILE_PREFETCH_LINES_AHEAD (pb, bytes)                                    \
    } else {                                                                   \
      for (int c_ = 0; c_ < (bytes); c_ += 64)                                 \
        __builtin_prefetch ((pb) + c_);                                        \
      PREFETCH_L2_AHEAD (pb, VNNI_PREFETCH_L2, bytes)                          \
    }                                                                          \
  }
/* On Intel CPUs the tiles of the 4- and 5-bit types of 32-weight blocks
 * (TILE_L1_<T>) also request their lines TILE_L1_AHEAD_BYTES on into L1,
 * both requests unrolled, as their one-row GEMV does
 * (VNNI_PREFETCH_BLOCKS): their arithmetic leaves too few loads in flight
 * for the L2 requests alone. On the 2-core Xeon with AMX, the decode
 * products of 4 rows (vtp-bench-kernel-ab TYPE 4, 6 rounds, median speed
 * ratios against the L2 requests alone): Q4_0 1.105x, Q4_1 1.052x, Q5_0
 * 1.075x, Q5_1 1.150x, IQ4_NL 1.088x (Q4_0 at 2 / 8 rows 1.076 / 1.066x);
 * Q8_0 0.994x and IQ4_XS 1.001x: not for them. The 1.1B's Q4_0 streams
 * decoding together (vtp-bench-llm -p 16 -n 33 -r 4 --streams S -a
 * VTP_KERNEL_DEFINES=...), aggregate over before: 1.082x at 2 streams,
 * 1.075x at 4 (1.050x in another run), 1.032x at 8 (2048 bytes ahead
 * 1.061 / 1.047 / 1.035x, 1024 at 4 streams 1.004x). -1: none. */
#ifndef TILE_L1_AHEAD_BYTES
#ifdef VTP_CPU_INTEL
#define TILE_L1_AHEAD_BYTES 3072
#else
#define TILE_L1_AHEAD_BYTES -1
#endif
#endif
#define TILE_L1_q8_0 0
#define TILE_L1_q4_0 1
#define TILE_L1_q4_1 1
#define TILE_L1_q5_0 1
#define TILE_L1_q5_1 1
#define TILE_L1_iq4_nl 1
#define TILE_L1_iq4_xs 0
/* Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, IQ4_XS tiles: nothing below their
 * row count (they never prefetched) */
#define TILE_PREFETCH_BLOCK(T, pb)                                             \
  if (VNNI_TILE_PREFETCH && M <= 12 && M >= TILE_AHEAD_ROWS_##T && m0 == 0) {  \
    if (TILE_L1_##T && TILE_L1_AHEAD_BYTES >= 0) {                             \
      PREFETCH_UNROLLED (pb, 16 * BB_##T, TILE_L1_AHEAD_BYTES, VNNI_TILE_AHEAD_BYTES) \
    } else {                                                                   \
      TILE_PREFETCH_LINES_AHEAD (pb, 16 * BB_##T)                              \
    }                                                                          \
  }

/* The 6 rows' pointers into the scratch of quantize_rows_q8. */
#define TILE_ROWS(R)                                                              \
  enum { TR = R };                                                             \
  const int nb = K / 32;                                                       \
  __global const int *xq[TR], *xs[TR], *xm[TR];                                  \
  __global const float *dx[TR];                                                 \
  float16 acc[TR];                                                              \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++) {                                                \
    const int m = min (m0 + i, M - 1);                                         \
    xq[i] = (__global const int *) (scratch + (size_t) m * K);                 \
    dx[i] = (__global const float *) (scratch + d_off) + (size_t) m * nb;      \
    xs[i] = (__global const int *) (scratch + s_off) + 2 * (size_t) m * nb;    \
    xm[i] = k4_mins_at (scratch, s_off, M, K, m);                              \
    acc[i] = 0.0f;                                                             \
  }

/* 6 rows x the 16 rows of panel @wp, block by block: the weights' bytes are
 * unpacked once per block for the 6 rows. */
#define DEFINE_VNNI_TILE(T, R, GROUPS, UNPACK, OFFSET)                            \
VNNI void vnni_tile_##T##_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, \
    int K, int m0, int M, float16 *out)                                        \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int b = 0; b < nb; b++) {                                               \
    __global const uchar *pb = wp + (size_t) b * 16 * BB_##T;                  \
    TILE_PREFETCH_BLOCK (T, pb)                                                \
    int16 s[TR] = { 0 };                                                      \
    UNROLL                                                                     \
    for (int g = 0; g < GROUPS; g++) {                                         \
      UNPACK                                                                   \
    }                                                                          \
    const float16 d = half16_at (pb);                                          \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++)                                                \
      acc[i] = fma (d * dx[i][b], convert_float16 (s[i] - OFFSET * (xs[i][2 * b] + xs[i][2 * b + 1])), acc[i]); \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++)                                                  \
    out[i] = acc[i];                                                           \
}

#define TILES_q8_0(R) \
DEFINE_VNNI_TILE (q8_0, R, 8,                                                  \
    const int16 w = as_int16 (quad_at (pb + 32, g));                           \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++)                                               \
      s[i] = dp_w8 (s[i], w, (int16) xq[i][8 * b + g]);,                       \
    W8_BIAS)
#define TILES_q4_0(R) \
DEFINE_VNNI_TILE (q4_0, R, 4,                                                  \
    const uint16 v = quad_at (pb + 32, g);                                     \
    const int16 lo = as_int16 (v & 0x0f0f0f0fu);                               \
    const int16 hi = as_int16 ((v >> 4) & 0x0f0f0f0fu);                        \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++) {                                             \
      s[i] = dpbusd (s[i], lo, (int16) xq[i][8 * b + g]);                      \
      s[i] = dpbusd (s[i], hi, (int16) xq[i][8 * b + 4 + g]);                  \
    },                                                                         \
    8)
TILES_q8_0 (1)
TILES_q4_0 (1)
TILES_q8_0 (2)
TILES_q4_0 (2)
TILES_q8_0 (3)
TILES_q4_0 (3)
TILES_q8_0 (4)
TILES_q4_0 (4)
TILES_q8_0 (5)
TILES_q4_0 (5)
TILES_q8_0 (6)
TILES_q4_0 (6)

/* Q4_1, Q5_0, Q5_1: per block the rows' sums as vnni_block_legacy forms
 * them (the same results). */
#define TILES_LEGACY(T, R)                                                     \
VNNI void vnni_tile_##T##_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, \
    int K, int m0, int M, float16 *out)                                        \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int b = 0; b < nb; b++) {                                               \
    __global const uchar *pb = wp + (size_t) b * 16 * BB_##T;                  \
    TILE_PREFETCH_BLOCK (T, pb)                                                \
    int16 s[TR] = { 0 };                                                      \
    UNROLL                                                                     \
    for (int g = 0; g < 4; g++) {                                              \
      const int16 lo = as_int16 (legacy_quad (pb, LEGACY_QUAD_##T, g, 0));     \
      const int16 hi = as_int16 (legacy_quad (pb, LEGACY_QUAD_##T, g, 1));     \
      UNROLL                                                                   \
      for (int i = 0; i < TR; i++) {                                           \
        s[i] = dpbusd (s[i], lo, (int16) xq[i][8 * b + g]);                    \
        s[i] = dpbusd (s[i], hi, (int16) xq[i][8 * b + 4 + g]);                \
      }                                                                        \
    }                                                                          \
    const float16 d = half16_at (pb);                                          \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++) {                                              \
      const int xsum = xs[i][2 * b] + xs[i][2 * b + 1];                        \
      if (LEGACY_M_##T)                                                        \
        acc[i] = fma (half16_at (pb + LEGACY_M_##T) * dx[i][b], (float16) (float) xsum, \
            fma (d * dx[i][b], convert_float16 (s[i]), acc[i]));               \
      else                                                                     \
        acc[i] = fma (d * dx[i][b], convert_float16 (s[i] - 16 * xsum), acc[i]); \
    }                                                                          \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++)                                                  \
    out[i] = acc[i];                                                           \
}
/* A tile macro M (T, ..., R) for R = 1 .. 6 rows (TILE_SWITCH takes them all). */
#define SIX_TILES(M, ...) M (__VA_ARGS__, 1) M (__VA_ARGS__, 2) M (__VA_ARGS__, 3) \
  M (__VA_ARGS__, 4) M (__VA_ARGS__, 5) M (__VA_ARGS__, 6)
SIX_TILES (TILES_LEGACY, q4_1)
SIX_TILES (TILES_LEGACY, q5_0)
SIX_TILES (TILES_LEGACY, q5_1)

/* Sub-blocks sb and sb + 1's scales (Q2_K: mins) as the 16-bit halves of
 * each lane, for dpwssd. */
inline int16 q3_scale_pair (__global const uchar *pb, int sb)
{
  return (q3_scale16 (pb, sb) & 0xffff) | (q3_scale16 (pb, sb + 1) << 16);
}
inline int16 q2_scale_pair (__global const uchar *pb, int sb) { return q2_scale16 (pb, sb) | (q2_scale16 (pb, sb + 1) << 16); }
inline int16 q2_min_pair (__global const uchar *pb, int sb) { return q2_min16 (pb, sb) | (q2_min16 (pb, sb + 1) << 16); }

/* One super-block of a Q3_K / Q2_K panel unpacked for lowk_sb_<T>_<R>:
 * the quants as dpbusd takes them ([32 h + 8 j + g]), the sub-block scale
 * pairs (and Q2_K's min pairs) as 16-bit halves for dpwssd, d and dmin. */
inline void lowk_unpack (__global const uchar *pb, int q2, int16 *u, int16 *c, int16 *n, float16 *d, float16 *dmin)
{
  for (int h = 0; h < 2; h++)
    for (int j = 0; j < 4; j++) {
      const int sb = 8 * h + 2 * j;
      for (int g = 0; g < 8; g++)
        u[32 * h + 8 * j + g] = as_int16 (q2 ? low2_quad (pb + Q2_QS, h, j, g) : q3_quad (pb, h, j, g));
      c[4 * h + j] = q2 ? q2_scale_pair (pb, sb) : q3_scale_pair (pb, sb);
      n[4 * h + j] = q2 ? q2_min_pair (pb, sb) : 0;
    }
  *d = half16_at (pb + (q2 ? Q2_D : Q3_D));
  *dmin = q2 ? half16_at (pb + Q2_DMIN) : 0.0f;
}
/* Q3_K, Q2_K: lowk_sb_<T>_<R> is one super-block of a tile of R rows, from
 * its unpacked quants @u, scale pairs @c and (Q2_K) min pairs @n. The
 * tiles (vnni_tile_<T>_<R>) unpack each super-block for themselves; the
 * prefill GEMM (qgemm_vnni_<T>, below) once for all the tiles of its
 * work-item (up to GROUP_TILES, vtp-linear.c). */
#define LOWK_SB(T, Q2, R)                                                      \
VNNI void lowk_sb_##T##_##R (const int16 *u, const int16 *c, const int16 *n, float16 d, float16 dmin, \
    __global const uchar *scratch, int d_off, int s_off, int K, int m0, int M, int sbk, float16 *out) \
{                                                                              \
  TILE_ROWS (R)                                                                \
  int16 isum[TR] = { 0 }, msum[TR] = { 0 };                                    \
  (void) acc;                                                                  \
  for (int h = 0; h < 2; h++)                                                  \
    for (int j = 0; j < 4; j++) {                                              \
      const int x0 = 64 * sbk + 32 * h + 8 * j, s0 = 16 * sbk + 8 * h + 2 * j; \
      int16 s1[TR] = { 0 }, s2[TR] = { 0 };                                    \
      UNROLL                                                                   \
      for (int g = 0; g < 4; g++) {                                            \
        const int16 u1 = u[32 * h + 8 * j + g], u2 = u[32 * h + 8 * j + g + 4]; \
        UNROLL                                                                 \
        for (int i = 0; i < TR; i++) {                                         \
          s1[i] = dpbusd (s1[i], u1, (int16) xq[i][x0 + g]);                   \
          s2[i] = dpbusd (s2[i], u2, (int16) xq[i][x0 + g + 4]);               \
        }                                                                      \
      }                                                                        \
      UNROLL                                                                   \
      for (int i = 0; i < TR; i++)                                             \
        if (Q2) {                                                              \
          isum[i] = dpwssd (isum[i], (s1[i] & 0xffff) | (s2[i] << 16), c[4 * h + j]); \
          msum[i] = dpwssd (msum[i], (int16) ((xs[i][s0] & 0xffff) | (xs[i][s0 + 1] << 16)), n[4 * h + j]); \
        } else                                                                 \
          isum[i] = dpwssd (isum[i], ((s1[i] - 4 * xs[i][s0]) & 0xffff) | ((s2[i] - 4 * xs[i][s0 + 1]) << 16), \
              c[4 * h + j]);                                                   \
    }                                                                          \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++) {                                               \
    out[i] = fma (d * dx[i][8 * sbk], convert_float16 (isum[i]), out[i]);      \
    if (Q2)                                                                    \
      out[i] = fma (dmin * -dx[i][8 * sbk], convert_float16 (msum[i]), out[i]); \
  }                                                                            \
}
SIX_TILES (LOWK_SB, q3_k, 0)
SIX_TILES (LOWK_SB, q2_k, 1)

/* Q3_K (Q2 0) and Q2_K tiles: per super-block the rows' sums as
 * vnni_super_q3_k / vnni_super_q2_k form them (the same results), the
 * quants unpacked as the sums use them. (lowk_sb_<T>_<R>'s
 * LOWK_SUPER_SUMS with the unpacking as its expressions measured 15-25%
 * slower here: 4 rows of 2048 x 8192 0.39-0.40 against 0.32-0.34 ms, and so
 * did the scale pairs through q3_scale_pair & co., 0.397 against 0.322:
 * hence written out; these tiles serve the few rows of batched decoding.) */
#define TILES_LOW_K(T, Q2, R)                                                  \
VNNI void vnni_tile_##T##_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, \
    int K, int m0, int M, float16 *out)                                        \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int sbk = 0; sbk < K / 256; sbk++) {                                    \
    __global const uchar *pb = wp + (size_t) sbk * 16 * BB_##T;                \
    TILE_PREFETCH (pb, 16 * BB_##T, 0)                                         \
    int16 isum[TR] = { 0 }, msum[TR] = { 0 };                                  \
    for (int h = 0; h < 2; h++)                                                \
      for (int j = 0; j < 4; j++) {                                            \
        const int sb = 8 * h + 2 * j, x0 = 64 * sbk + 32 * h + 8 * j, s0 = 16 * sbk + sb; \
        int16 s1[TR] = { 0 }, s2[TR] = { 0 };                                  \
        UNROLL                                                                 \
        for (int g = 0; g < 4; g++) {                                          \
          const int16 u1 = as_int16 (Q2 ? low2_quad (pb + Q2_QS, h, j, g) : q3_quad (pb, h, j, g)); \
          const int16 u2 = as_int16 (Q2 ? low2_quad (pb + Q2_QS, h, j, g + 4) : q3_quad (pb, h, j, g + 4)); \
          UNROLL                                                               \
          for (int i = 0; i < TR; i++) {                                       \
            s1[i] = dpbusd (s1[i], u1, (int16) xq[i][x0 + g]);                 \
            s2[i] = dpbusd (s2[i], u2, (int16) xq[i][x0 + g + 4]);             \
          }                                                                    \
        }                                                                      \
        /* the two sub-blocks' sums (|s| < 2^15) and their scales (mins) as \
         * 16-bit pairs: one vpdpwssd a row for each sum */                  \
        if (Q2) {                                                              \
          const int16 c = q2_scale16 (pb, sb) | (q2_scale16 (pb, sb + 1) << 16); \
          const int16 n = q2_min16 (pb, sb) | (q2_min16 (pb, sb + 1) << 16);   \
          UNROLL                                                               \
          for (int i = 0; i < TR; i++) {                                       \
            isum[i] = dpwssd (isum[i], (s1[i] & 0xffff) | (s2[i] << 16), c);   \
            msum[i] = dpwssd (msum[i], (int16) ((xs[i][s0] & 0xffff) | (xs[i][s0 + 1] << 16)), n); \
          }                                                                    \
        } else {                                                               \
          const int16 c = (q3_scale16 (pb, sb) & 0xffff) | (q3_scale16 (pb, sb + 1) << 16); \
          UNROLL                                                               \
          for (int i = 0; i < TR; i++)                                         \
            isum[i] = dpwssd (isum[i], ((s1[i] - 4 * xs[i][s0]) & 0xffff) | ((s2[i] - 4 * xs[i][s0 + 1]) << 16), c); \
        }                                                                      \
      }                                                                        \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++) {                                             \
      if (Q2) {                                                                \
        acc[i] = fma (half16_at (pb + Q2_D) * dx[i][8 * sbk], convert_float16 (isum[i]), acc[i]); \
        acc[i] = fma (half16_at (pb + Q2_DMIN) * -dx[i][8 * sbk], convert_float16 (msum[i]), acc[i]); \
      } else                                                                   \
        acc[i] = fma (half16_at (pb + Q3_D) * dx[i][8 * sbk], convert_float16 (isum[i]), acc[i]); \
    }                                                                          \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++)                                                 \
    out[i] = acc[i];                                                           \
}
SIX_TILES (TILES_LOW_K, q3_k, 0)
SIX_TILES (TILES_LOW_K, q2_k, 1)

/* IQ4_NL (XS 0: a block of 32 a step, its float scale) and IQ4_XS (a
 * super-block a step: the sub-blocks' sums times their scales in
 * integers), as vnni_super_iq4_nl / _xs form them (the same results). */
#define TILES_IQ4(T, XS, R)                                                    \
VNNI void vnni_tile_##T##_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, \
    int K, int m0, int M, float16 *out)                                        \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int b = 0; b < nb; b += XS ? 8 : 1) {                                   \
    __global const uchar *pb = wp + (size_t) (XS ? b / 8 : b) * 16 * BB_##T;   \
    TILE_PREFETCH_BLOCK (T, pb)                                                \
    int16 isum[TR] = { 0 }, sl = 0, sh = 0;                                    \
    if (XS)                                                                    \
      iq4xs_scale_bits (pb, &sl, &sh);                                         \
    for (int i = 0; i < (XS ? 8 : 1); i++) {                                   \
      __global const uchar *q = pb + (XS ? IQ4XS_Q + 256 * i : 32);            \
      int16 s[TR] = { 0 };                                                     \
      UNROLL                                                                   \
      for (int g = 0; g < 4; g++) {                                            \
        const uint16 v = quad_at (q, g);                                       \
        const int16 lo = iq4_lookup (v & 0x0f0f0f0fu), hi = iq4_lookup ((v >> 4) & 0x0f0f0f0fu); \
        UNROLL                                                                 \
        for (int r = 0; r < TR; r++) {                                         \
          s[r] = iq4_dot (s[r], lo, (int16) xq[r][8 * (b + i) + g]);           \
          s[r] = iq4_dot (s[r], hi, (int16) xq[r][8 * (b + i) + 4 + g]);       \
        }                                                                      \
      }                                                                        \
      const int16 sc = XS ? iq4xs_scale_of (sl, sh, i) : 1;                    \
      UNROLL                                                                   \
      for (int r = 0; r < TR; r++) {                                           \
        const int16 t = s[r] - IQ4_BIAS * (xs[r][2 * (b + i)] + xs[r][2 * (b + i) + 1]); \
        isum[r] = XS ? isum[r] + sc * t : t;                                   \
      }                                                                        \
    }                                                                          \
    const float16 d = half16_at (pb);                                          \
    UNROLL                                                                     \
    for (int r = 0; r < TR; r++)                                               \
      acc[r] = fma (d * dx[r][b], convert_float16 (isum[r]), acc[r]);          \
  }                                                                            \
  UNROLL                                                                       \
  for (int r = 0; r < TR; r++)                                                 \
    out[r] = acc[r];                                                           \
}
SIX_TILES (TILES_IQ4, iq4_nl, 0)
SIX_TILES (TILES_IQ4, iq4_xs, 1)

/* Q4_K (qh_off 0) and Q5_K: per 64-chunk c of a super-block, the two
 * sub-blocks' sums for the rows times their scales, in integers; the mins'
 * sum after the super-block (k4_min_sum, fewer registers live in the
 * loop); then the super-block's float step in vnni_block_k4's order (the
 * same results). */
#define TILES_K4(R) \
VNNI void vnni_tile_k4_##R (__global const uchar *wp, int qh_off, int q_off, __global const uchar *scratch, int d_off, \
    int s_off, int K, int m0, int M, float16 *out)                             \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int sb = 0; sb < K / 256; sb++) {                                       \
    __global const uchar *pb = wp + (size_t) sb * 16 * (qh_off ? BB_q5_k : BB_q4_k); \
    TILE_PREFETCH (pb, 16 * (qh_off ? BB_q5_k : BB_q4_k), TILE_K_OWN_LINES)     \
    const K4Scales k = k4_scales (pb + 64);                                    \
    int16 isum[TR] = { 0 };                                                    \
    for (int c = 0; c < 4; c++)                                                \
      for (int run = 0; run < 8; run += K4_RUN) {                              \
      const int b1 = 8 * sb + 2 * c, b2 = b1 + 1;                              \
      int16 s1[TR] = { 0 }, s2[TR] = { 0 };                                    \
      UNROLL                                                                   \
      for (int g = run; g < run + K4_RUN; g++) {                               \
        const uint16 v = quad_at (pb + q_off, 8 * c + g);                      \
        uint16 lo = v & 0x0f0f0f0fu, hi = (v >> 4) & 0x0f0f0f0fu;              \
        if (qh_off) {                                                          \
          const uint16 h = quad_at (pb + qh_off, g);                           \
          lo |= ((h >> (2 * c)) & 0x01010101u) << 4;                           \
          hi |= ((h >> (2 * c + 1)) & 0x01010101u) << 4;                       \
        }                                                                      \
        UNROLL                                                                 \
        for (int i = 0; i < TR; i++) {                                         \
          s1[i] = k4_dot (s1[i], as_int16 (lo), (int16) xq[i][8 * b1 + g]);    \
          s2[i] = k4_dot (s2[i], as_int16 (hi), (int16) xq[i][8 * b2 + g]);    \
        }                                                                      \
      }                                                                        \
      const int16 sc1 = k4_sc (k, 2 * c), sc2 = k4_sc (k, 2 * c + 1);          \
      UNROLL                                                                   \
      for (int i = 0; i < TR; i++)                                             \
        isum[i] = k4_scaled (k4_scaled (isum[i], s1[i], sc1), s2[i], sc2);     \
    }                                                                          \
    const float16 d = half16_at (pb), dmin = half16_at (pb + 32);              \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++) {                                             \
      const int xmi[4] = { xm[i][4 * sb], xm[i][4 * sb + 1], xm[i][4 * sb + 2], xm[i][4 * sb + 3] }; \
      acc[i] = fma (d * dx[i][8 * sb], convert_float16 (isum[i]), acc[i]);     \
      acc[i] = fma (dmin * -dx[i][8 * sb], convert_float16 (k4_min_sum (k, xmi)), acc[i]); \
    }                                                                          \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++)                                                 \
    out[i] = acc[i];                                                           \
}                                                                              \
VNNI void vnni_tile_q4_k_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, int K, \
    int m0, int M, float16 *out)                                               \
{                                                                              \
  vnni_tile_k4_##R (wp, 0, 256, scratch, d_off, s_off, K, m0, M, out);         \
}                                                                              \
VNNI void vnni_tile_q5_k_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, int K, \
    int m0, int M, float16 *out)                                               \
{                                                                              \
  vnni_tile_k4_##R (wp, 256, 768, scratch, d_off, s_off, K, m0, M, out);       \
}
TILES_K4 (1)
TILES_K4 (2)
TILES_K4 (3)
TILES_K4 (4)
TILES_K4 (5)
TILES_K4 (6)

/* Q6_K: per quarter pair (u, u + 2) of half h and per 16 elements (their
 * scale), the 6 rows' sums; 12 accumulators at a time. */
/* The Q6_K tiles' eight (half, quarter, 16) steps of a super-block
 * unrolled: on 2 cores of the Xeon with AMX, the 1.1B's products all in
 * Q6_K (vtp-bench-kernel-ab q6_k ROWS A B -r 4..6) 1.148x at 4 rows,
 * 1.188x at 8, 1.017x at 2 (the half loop alone: 1.025x at 4); its Q4_K_M
 * streams decoding together (vtp-bench-llm -p 16 -n 33 -r 3 --streams S
 * -a VTP_KERNEL_DEFINES=-DQ6K_TILE_UNROLLED=0,-DQ6K_TILE_UNROLLED=1) 0.999x
 * at 4 streams, 1.070x at 8, its 16-token prefill 1.048x; a cold start
 * (-p 4 -n 4 -r 1 --streams 2, empty PoCL cache) 39.9 -> 43.4 s. The same
 * arithmetic, the same bits. -DQ6K_TILE_UNROLLED=0: the loops, which
 * AVX2's 16 registers want: on 2 cores of a Zen 3 EPYC the 1.1B's products
 * all in Q6_K for 12 rows (vtp-bench-kernel-ab q6_k 12 A B -r 6) ran 1.77x
 * faster with them. */
#ifndef Q6K_TILE_UNROLLED
#ifdef VTP_X86_VNNI
#define Q6K_TILE_UNROLLED 1
#else
#define Q6K_TILE_UNROLLED 0
#endif
#endif
#if Q6K_TILE_UNROLLED
#define Q6K_TILE_UNROLL UNROLL
#else
#define Q6K_TILE_UNROLL
#endif
#define TILES_Q6_K(R) \
VNNI void vnni_tile_q6_k_##R (__global const uchar *wp, __global const uchar *scratch, int d_off, int s_off, int K, \
    int m0, int M, float16 *out)                                               \
{                                                                              \
  TILE_ROWS (R)                                                                \
  for (int sb = 0; sb < K / 256; sb++) {                                       \
    __global const uchar *pb = wp + (size_t) sb * 16 * BB_q6_k;                \
    TILE_PREFETCH (pb, 16 * BB_q6_k, TILE_K_OWN_LINES)                         \
    int16 isum[TR] = { 0 };                                                    \
    Q6K_TILE_UNROLL                                                            \
    for (int h = 0; h < 2; h++)                                                \
      Q6K_TILE_UNROLL                                                          \
      for (int u = 0; u < 2; u++)                                              \
        Q6K_TILE_UNROLL                                                        \
        for (int second = 0; second < 2; second++) {                           \
          const int blo = 8 * sb + 4 * h + u, bhi = blo + 2;                   \
          int16 sa[TR] = { 0 }, sc[TR] = { 0 };                                \
          UNROLL                                                               \
          for (int gg = 0; gg < 4; gg++) {                                     \
            const int g = 4 * second + gg;                                     \
            const uint16 v = quad_at (q6_ql (pb, h), 8 * u + g), hv = quad_at (q6_qh (pb, h), g); \
            const uint16 lo = (v & 0x0f0f0f0fu) | (((hv >> (2 * u)) & 0x03030303u) << 4); \
            const uint16 hi = ((v >> 4) & 0x0f0f0f0fu) | (((hv >> (2 * u + 4)) & 0x03030303u) << 4); \
            UNROLL                                                             \
            for (int i = 0; i < TR; i++) {                                     \
              sa[i] = dpbusd (sa[i], as_int16 (lo), (int16) xq[i][8 * blo + g]); \
              sc[i] = dpbusd (sc[i], as_int16 (hi), (int16) xq[i][8 * bhi + g]); \
            }                                                                  \
          }                                                                    \
          const int16 slo = q6_scale_i (pb, 8 * h + second + 2 * u);          \
          const int16 shi = q6_scale_i (pb, 8 * h + second + 2 * (u + 2));    \
          UNROLL                                                               \
          for (int i = 0; i < TR; i++)                                         \
            isum[i] += slo * (sa[i] - 32 * xs[i][2 * blo + second]) + shi * (sc[i] - 32 * xs[i][2 * bhi + second]); \
        }                                                                      \
    const float16 d = half16_at (pb + 3328);                                   \
    UNROLL                                                                     \
    for (int i = 0; i < TR; i++)                                               \
      acc[i] = fma (d * dx[i][8 * sb], convert_float16 (isum[i]), acc[i]);     \
  }                                                                            \
  UNROLL                                                                       \
  for (int i = 0; i < TR; i++)                                                 \
    out[i] = acc[i];                                                           \
}
TILES_Q6_K (1)
TILES_Q6_K (2)
TILES_Q6_K (3)
TILES_Q6_K (4)
TILES_Q6_K (5)
TILES_Q6_K (6)

/* The @rows-row tile (1 .. 6) of rows @m0 .. of panel wp of type T into
 * acc (the names of the kernels below: wp, scratch, d_off, s_off, K, M). */
#define TILE_SWITCH(T, rows, m0)                                               \
  switch (rows) {                                                              \
    case 1: vnni_tile_##T##_1 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
    case 2: vnni_tile_##T##_2 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
    case 3: vnni_tile_##T##_3 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
    case 4: vnni_tile_##T##_4 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
    case 5: vnni_tile_##T##_5 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
    default: vnni_tile_##T##_6 (wp, scratch, d_off, s_off, K, m0, M, acc); break; \
  }

/* qgemm_vnni_<T>: tiles of 6 rows (up to @tiles a work-item) of one panel,
 * from the rows quantize_rows_q8 left in @scratch (@panel_major as
 * linear_p16g_<T>'s). */
#define QGEMM_VNNI_PARAMS                                                      \
    __global const float *x, int x_off, __global const uchar *w, __global const float *bias, int has_bias, \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    __global const uchar *scratch, int d_off, int s_off, int tiles, int panel_major
/* Rows m0 .. m0 + rows - 1 of panel n0 / 16 of y from acc[0 ..] (the
 * names of the kernels' parameters) */
#define STORE_TILE_ROWS(acc, m0, rows)                                         \
  for (int i_ = 0; i_ < (rows); i_++)                                          \
    store16 ((acc)[i_], y + y_off + (size_t) ((m0) + i_) * N + n0, bias + n0, has_bias, accumulate);
/* Rows m_first .. m_end - 1 of panel @wp in tiles of 6 (a last tile of
 * fewer rows: just those), stored */
#define VNNI_TILES_STORED(T, m_first, m_end)                                   \
  for (int m0 = (m_first); m0 < (m_end); m0 += 6) {                            \
    float16 acc[6];                                                            \
    TILE_SWITCH (T, min (6, (m_end) - m0), m0)                                 \
    STORE_TILE_ROWS (acc, m0, min (6, (m_end) - m0))                           \
  }
#define DEFINE_QGEMM_VNNI(T)                                                   \
__kernel void qgemm_vnni_##T (QGEMM_VNNI_PARAMS)                               \
{                                                                              \
  TILES_OF_PANEL (T)                                                           \
  __global const uchar *wp = row_##T (w, n0, K);                               \
  VNNI_TILES_STORED (T, t0 * 6, min (M, (t0 + nt) * 6))                        \
}

DEFINE_QGEMM_VNNI (q8_0)
DEFINE_QGEMM_VNNI (q4_0)
DEFINE_QGEMM_VNNI (q4_k)
DEFINE_QGEMM_VNNI (q5_k)
DEFINE_QGEMM_VNNI (q6_k)
DEFINE_QGEMM_VNNI (q4_1)
DEFINE_QGEMM_VNNI (q5_0)
DEFINE_QGEMM_VNNI (q5_1)
/* The prefill GEMM of the types whose super-blocks a work-item unpacks
 * once for all its tiles (Q3_K and Q2_K here, the lattice types in
 * quant-lattice.cl): tiles of 6 rows in groups of up to 8 (all of them:
 * GROUP_TILES is 8); per super-block of the panel (pb) UNPACK (T) once,
 * then CALL (R, T) on each tile's R rows (m0 .., its accumulators o, the
 * super-block sbk). UNPACK and CALL: the names of function-like macros. */
#define DEFINE_QGEMM_UNPACKED(T, UNPACK, CALL)                                 \
__kernel void qgemm_vnni_##T (QGEMM_VNNI_PARAMS)                               \
{                                                                              \
  TILES_OF_PANEL (T)                                                           \
  __global const uchar *wp = row_##T (w, n0, K);                               \
  float16 acc[8 * 6];                                                          \
  for (int tg = t0; tg < t0 + nt; tg += 8) {                                   \
    const int ng = min (8, t0 + nt - tg);                                      \
    for (int i = 0; i < 6 * ng; i++)                                           \
      acc[i] = 0.0f;                                                           \
    for (int sbk = 0; sbk < K / 256; sbk++) {                                  \
      __global const uchar *pb = wp + (size_t) sbk * 16 * BB_##T;              \
      UNPACK (T)                                                               \
      for (int t = 0; t < ng; t++) {                                           \
        const int m0 = (tg + t) * 6;                                           \
        float16 *o = acc + 6 * t;                                              \
        switch (min (6, M - m0)) {                                             \
          case 1: CALL (1, T); break;                                          \
          case 2: CALL (2, T); break;                                          \
          case 3: CALL (3, T); break;                                          \
          case 4: CALL (4, T); break;                                          \
          case 5: CALL (5, T); break;                                          \
          default: CALL (6, T); break;                                         \
        }                                                                      \
      }                                                                        \
    }                                                                          \
    for (int t = 0; t < ng; t++)                                               \
      for (int i = 0; i < 6 && (tg + t) * 6 + i < M; i++)                      \
        store16 (acc[6 * t + i], y + y_off + (size_t) ((tg + t) * 6 + i) * N + n0, bias + n0, has_bias, \
            accumulate);                                                       \
  }                                                                            \
}
/* Q3_K and Q2_K: lowk_unpack, lowk_sb_<T>_<R> */
#define LOWK_Q2_q3_k 0
#define LOWK_Q2_q2_k 1
#define LOWK_UNPACK(T)                                                         \
  int16 u[64], c[8], n[8];                                                     \
  float16 d, dmin;                                                             \
  lowk_unpack (pb, LOWK_Q2_##T, u, c, n, &d, &dmin);
#define LOWK_CALL(R, T) lowk_sb_##T##_##R (u, c, n, d, dmin, scratch, d_off, s_off, K, m0, M, sbk, o)
DEFINE_QGEMM_UNPACKED (q3_k, LOWK_UNPACK, LOWK_CALL)
DEFINE_QGEMM_UNPACKED (q2_k, LOWK_UNPACK, LOWK_CALL)
DEFINE_QGEMM_VNNI (iq4_nl)
DEFINE_QGEMM_VNNI (iq4_xs)
/* qgemm_vnni_few_<T>: up to 12 rows (the decode steps of a few streams,
 * vtp_op_linear_rows) against @P panels a work-item, one after the other,
 * as the one-row GEMV walks them (one panel a work-item, as qgemm_vnni_<T>
 * takes them, leaves the memory streams short), each panel's rows in
 * tiles of up to 6 (the second reads the panel from the cache); the plain
 * rows after the last panel in the last work-item. */
#define DEFINE_QGEMM_VNNI_FEW(T)                                               \
__kernel void qgemm_vnni_few_##T (__global const float *x, int x_off,         \
    __global const uchar *w, __global const float *bias, int has_bias,         \
    __global float *y, int y_off, int M, int K, int N, int accumulate,         \
    __global const uchar *scratch, int d_off, int s_off, int P)                \
{                                                                              \
  const int np = N / 16, p0 = get_global_id (0) * P, pn = min (P, np - p0);    \
  for (int p = 0; p < pn; p++) {                                               \
    const int n0 = 16 * (p0 + p);                                              \
    __global const uchar *wp = row_##T (w, n0, K);                             \
    for (int m0 = 0; m0 < M; m0 += 6) {                                        \
      float16 acc[6];                                                          \
      TILE_SWITCH (T, min (6, M - m0), m0)                                     \
      for (int i = 0; i < 6 && m0 + i < M; i++)                                \
        store16 (acc[i], y + y_off + (size_t) (m0 + i) * N + n0, bias + n0, has_bias, accumulate); \
    }                                                                          \
  }                                                                            \
  if (p0 + max (pn, 0) >= np && 16 * np < N)                                   \
    p16_tail_##T (x, x_off, w, bias, has_bias, y, y_off, 0, M, K, N, 16 * np, accumulate); \
}

DEFINE_QGEMM_VNNI_FEW (q8_0)
DEFINE_QGEMM_VNNI_FEW (q4_0)
DEFINE_QGEMM_VNNI_FEW (q4_k)
DEFINE_QGEMM_VNNI_FEW (q5_k)
DEFINE_QGEMM_VNNI_FEW (q6_k)
DEFINE_QGEMM_VNNI_FEW (q4_1)
DEFINE_QGEMM_VNNI_FEW (q5_0)
DEFINE_QGEMM_VNNI_FEW (q5_1)
DEFINE_QGEMM_VNNI_FEW (q3_k)
DEFINE_QGEMM_VNNI_FEW (q2_k)
DEFINE_QGEMM_VNNI_FEW (iq4_nl)
DEFINE_QGEMM_VNNI_FEW (iq4_xs)
DEFINE_QVNNI (q8_0)
DEFINE_QVNNI (q4_0)
DEFINE_QVNNI (q4_k)
DEFINE_QVNNI (q5_k)
DEFINE_QVNNI (q6_k)
DEFINE_QVNNI (q4_1)
DEFINE_QVNNI (q5_0)
DEFINE_QVNNI (q5_1)
DEFINE_QVNNI (q3_k)
DEFINE_QVNNI (q2_k)
DEFINE_QVNNI (iq4_nl)
DEFINE_QVNNI (iq4_xs)

#endif
