/* vtp-quant.h: llama.cpp's block-quantized weight types, in ggml's own
 * block layouts so that GGUF tensors are used as they are, with the host
 * quantizers and dequantizers.
 *
 *   type  block  bytes  per block                                   bits/weight
 *   Q8_0    32     34   f16 d; int8 q[32]; w = d q                        8.5
 *   Q4_0    32     18   f16 d; q[32] as nibbles; w = d (q - 8)            4.5
 *   Q4_K   256    144   f16 d, dmin; 8 sub-blocks of 32 with 6-bit
 *                       scale s and min m; 4-bit q; w = d s q - dmin m    4.5
 *   Q5_K   256    176   as Q4_K with a fifth bit per weight               5.5
 *   Q6_K   256    210   16 sub-blocks of 16 with int8 scale s; 6-bit q;
 *                       f16 d; w = d s (q - 32)                         6.5625
 *   Q4_1    32     20   f16 d, m; q[32] as nibbles; w = d q + m           5
 *   Q5_0    32     22   f16 d; 32 fifth bits; nibbles; w = d (q - 16)     5.5
 *   Q5_1    32     24   f16 d, m; fifth bits; nibbles; w = d q + m        6
 *   Q3_K   256    110   16 sub-blocks of 16 with 6-bit s; 2 low bits in
 *                       qs, a third in hmask; f16 d; w = d (s - 32) (q - 4)  3.4375
 *   Q2_K   256     84   16 sub-blocks of 16 with 4-bit s and m; 2-bit q;
 *                       f16 d, dmin; w = d s q - dmin m                 2.625
 *   IQ4_NL  32     18   f16 d; 4-bit indices into kvalues; w = d kvalues[q]  4.5
 *   IQ4_XS 256    136   f16 d; 8 sub-blocks of 32 with 6-bit s; 4-bit
 *                       indices; w = d (s - 32) kvalues[q]              4.25
 *   IQ3_XXS 256    98   f16 d; per group of 4 an 8-bit index into
 *                       vtp_iq3xxs_grid; per 8 a 7-bit sign index; a
 *                       4-bit s per 32; w = d (2 s + 1) / 4 g (+-)      3.0625
 *   IQ3_S  256    110   f16 d; 9-bit indices into vtp_iq3s_grid (per 4);
 *                       a sign bit a weight; 4-bit s per 32;
 *                       w = d (2 s + 1) g (+-)                          3.4375
 *   IQ2_XXS 256    66   f16 d; per group of 8 an 8-bit index into
 *                       vtp_iq2xxs_grid and a 7-bit sign index; 4-bit s
 *                       per 32; w = d (2 s + 1) / 8 g (+-)              2.0625
 *   IQ2_XS 256     74   f16 d; per 8 a 9-bit index and a 7-bit sign
 *                       index; 4-bit s per 16; w as IQ2_XXS's           2.3125
 *   IQ2_S  256     82   f16 d; per 8 a 10-bit index, a sign bit a
 *                       weight; 4-bit s per 16; w as IQ2_XXS's          2.5625
 *   IQ1_S  256     50   f16 d; per 8 an 11-bit index into vtp_iq1s_grid
 *                       (values -1, 0, 1); per 32 a 3-bit s and a delta
 *                       sign; w = d (2 s + 1) (g +- 1/8)               1.5625
 *   IQ1_M  256     56   as IQ1_S with a 3-bit s per 16 and a delta sign
 *                       per 8; d's 16 bits in the scales' top nibbles  1.75
 *
 * (Q4_1, Q5_0 and Q5_1 are llama.cpp's older 32-blocks: whole files of
 * them exist, and llama-quantize writes them in K-quant files for the
 * matrices whose rows are not whole super-blocks: Q5_0 for Q4_K, Q5_1
 * for Q5_K.) Q3_K and Q2_K are the K-quants of llama-quantize's smallest
 * files (Q3_K_S/M/L, Q2_K). IQ4_NL and IQ4_XS index a fixed non-linear
 * table of 16 int8 values (llama.cpp's kvalues_iq4nl): the 4-bit types of
 * llama.cpp's importance-matrix files (IQ4_XS), and the fallback of its
 * IQ files for rows that are not whole super-blocks (IQ4_NL); vtp reads
 * them and quantizes to them. The IQ3, IQ2 and IQ1 types are
 * llama.cpp's lattice types (importance-matrix files: IQ3_XXS / XS / S / M,
 * IQ2_XXS / XS / S / M, IQ1_S / M): a group of 4 or 8 magnitudes is one entry of a
 * fixed table of points (iq-grids.cl, tools/make_iq_grids.py), the signs
 * come apart: explicit bits, or a 7-bit index whose eighth bit is the
 * parity of the seven (ggml's ksigns_iq2xs); IQ1's points are signed
 * (-1, 0, 1) and shifted by a delta of 1/8. vtp reads them, and does not
 * quantize to them.
 *
 * Dequantization follows ggml's arithmetic step by step (the products are
 * formed in the same order), so it is bit-exact against the reference. All
 * the types but the lattice ones have quantizers, ggml's method with its
 * float operations in the same order (vtp-quant.c is built without fused
 * multiply-adds): Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 as quantize_row_*_ref (also the
 * gguf package's quants module), bit-exact; Q2_K, Q3_K, Q4_K, Q5_K and
 * Q6_K as quantize_row_q*_K_ref, IQ4_NL and IQ4_XS as quantize_iq4_nl /
 * quantize_iq4_xs, which is what llama-quantize runs for them without
 * an importance matrix, bit-exact against llama.cpp's own build (ggml
 * 0.25.3, whose ggml-quants.c has no FMA either; a build of it with FMA
 * contraction chooses other scales in a few percent of super-blocks). */
#pragma once
#include "vtp-tensor.h"

G_BEGIN_DECLS

#define VTP_QK_0 32        /* elements per Q8_0 / Q4_0 block */
#define VTP_QK_K 256       /* elements per K-quant super-block */

typedef struct {
  guint16 d;
  gint8 q[32];
} VtpBlockQ8_0;

typedef struct {
  guint16 d;
  guint8 q[16];          /* element j in the low nibble of q[j], j + 16 in the high */
} VtpBlockQ4_0;

typedef struct {
  guint16 d, m;
  guint8 q[16];          /* as Q4_0's */
} VtpBlockQ4_1;

typedef struct {
  guint16 d;
  guint8 qh[4];          /* bit j of the little-endian word: the fifth bit of element j */
  guint8 q[16];          /* as Q4_0's: element j in the low nibble of q[j], j + 16 in the high */
} VtpBlockQ5_0;

typedef struct {
  guint16 d, m;
  guint8 qh[4];
  guint8 q[16];
} VtpBlockQ5_1;

typedef struct {
  guint16 d, dmin;
  guint8 scales[12];     /* 8 six-bit scales and 8 six-bit mins, packed */
  guint8 q[128];         /* chunk c of 64: q[32 c + l] low = element 64 c + l, high = 64 c + 32 + l */
} VtpBlockQ4_K;

typedef struct {
  guint16 d, dmin;
  guint8 scales[12];
  guint8 qh[32];         /* bit 2 c of qh[l]: fifth bit of 64 c + l; bit 2 c + 1: of 64 c + 32 + l */
  guint8 q[128];
} VtpBlockQ5_K;

typedef struct {
  guint8 ql[128];        /* low 4 bits */
  guint8 qh[64];         /* high 2 bits */
  gint8 scales[16];      /* one per 16 elements */
  guint16 d;
} VtpBlockQ6_K;

/* In both: element e of a super-block is in half h = e / 128, quarter j =
 * (e % 128) / 32 (bits 2 j .. 2 j + 1 of its qs byte), at l = e % 32: qs[32 h
 * + l]; its sub-block is e / 16. */
typedef struct {
  guint8 hmask[32];      /* bit 4 h + j of hmask[l]: the third bit (set: q, clear: q - 4) */
  guint8 qs[64];
  guint8 scales[12];     /* 16 six-bit scales, packed (vtp_quant_scale_q3_k) */
  guint16 d;
} VtpBlockQ3_K;

typedef struct {
  guint8 scales[16];     /* low nibble the scale, high nibble the min of sub-block i */
  guint8 qs[64];
  guint16 d, dmin;
} VtpBlockQ2_K;

typedef struct {
  guint16 d;
  guint8 q[16];          /* indices, as Q4_0's nibbles */
} VtpBlockIQ4_NL;

typedef struct {
  guint16 d;
  guint16 scales_h;      /* bits 2 i, 2 i + 1: the high bits of sub-block i's scale */
  guint8 scales_l[4];    /* nibble i % 2 of byte i / 2: its low bits */
  guint8 q[128];         /* sub-block i: q[16 i + l] low nibble = element 32 i + l, high = 32 i + 16 + l */
} VtpBlockIQ4_XS;

/* llama.cpp's lattice blocks: the quants of sub-block i (32 elements) */
typedef struct {
  guint16 d;
  guint8 qs[64];         /* 8 grid indices of sub-block i at 8 i (a group of 4 each) */
  guint8 sas[32];        /* a little-endian word a sub-block: 4 sign indices of 7 bits, the scale in bits 28-31 */
} VtpBlockIQ3_XXS;

typedef struct {
  guint16 d;
  guint8 qs[64];         /* low 8 bits of the 8 grid indices of sub-block i at 8 i */
  guint8 qh[8];          /* bit k of qh[i]: the ninth bit of index k of sub-block i */
  guint8 signs[32];      /* a byte a group of 8, bit j: element j negative */
  guint8 scales[4];      /* sub-block i: nibble i % 2 of byte i / 2 */
} VtpBlockIQ3_S;

typedef struct {
  guint16 d;
  guint8 qs[64];         /* sub-block i at 8 i: 4 grid indices, then a word of 4 sign indices and the scale (bits 28-31) */
} VtpBlockIQ2_XXS;

typedef struct {
  guint16 d;
  guint16 qs[32];        /* a group of 8: the grid index in bits 0-8, the sign index in 9-15 */
  guint8 scales[8];      /* sub-block i: low nibble elements 0-15, high 16-31 */
} VtpBlockIQ2_XS;

typedef struct {
  guint16 d;
  guint8 qs[32];         /* low 8 bits of the grid index of group g (8 elements) */
  guint8 signs[32];      /* group g's sign bits */
  guint8 qh[8];          /* bits 2 k, 2 k + 1 of qh[i]: the index's bits 8-9 for group 4 i + k */
  guint8 scales[8];      /* as IQ2_XS's */
} VtpBlockIQ2_S;

typedef struct {
  guint16 d;
  guint8 qs[32];         /* low 8 bits of the grid index of group g (8 elements) */
  guint16 qh[8];         /* sub-block i: bits 3 k .. 3 k + 2 the index's bits 8-10 for group 4 i + k, 12-14 the
                          * scale, 15 the delta's sign (set: -1/8) */
} VtpBlockIQ1_S;

typedef struct {
  guint8 qs[32];         /* low 8 bits of group g's index */
  guint8 qh[16];         /* nibble g % 2 of qh[g / 2]: bits 0-2 the index's bits 8-10, bit 3 the delta's sign */
  guint8 scales[8];      /* 4 little-endian words: bits 3 t .. of word k the 3-bit scale of elements 16 (4 k + t) ..;
                          * bits 12-15 of word k: bits 4 k .. 4 k + 3 of d */
} VtpBlockIQ1_M;

/* The 16 values of IQ4_NL and IQ4_XS indices. */
extern const gint8 vtp_quant_iq4_values[16];

G_STATIC_ASSERT (sizeof (VtpBlockQ8_0) == 34);
G_STATIC_ASSERT (sizeof (VtpBlockQ4_0) == 18);
G_STATIC_ASSERT (sizeof (VtpBlockQ4_K) == 144);
G_STATIC_ASSERT (sizeof (VtpBlockQ5_K) == 176);
G_STATIC_ASSERT (sizeof (VtpBlockQ6_K) == 210);
G_STATIC_ASSERT (sizeof (VtpBlockQ4_1) == 20);
G_STATIC_ASSERT (sizeof (VtpBlockQ5_0) == 22);
G_STATIC_ASSERT (sizeof (VtpBlockQ5_1) == 24);
G_STATIC_ASSERT (sizeof (VtpBlockQ3_K) == 110);
G_STATIC_ASSERT (sizeof (VtpBlockQ2_K) == 84);
G_STATIC_ASSERT (sizeof (VtpBlockIQ4_NL) == 18);
G_STATIC_ASSERT (sizeof (VtpBlockIQ4_XS) == 136);
G_STATIC_ASSERT (sizeof (VtpBlockIQ3_XXS) == 98);
G_STATIC_ASSERT (sizeof (VtpBlockIQ3_S) == 110);
G_STATIC_ASSERT (sizeof (VtpBlockIQ2_XXS) == 66);
G_STATIC_ASSERT (sizeof (VtpBlockIQ2_XS) == 74);
G_STATIC_ASSERT (sizeof (VtpBlockIQ2_S) == 82);
G_STATIC_ASSERT (sizeof (VtpBlockIQ1_S) == 50);
G_STATIC_ASSERT (sizeof (VtpBlockIQ1_M) == 56);

/* Scale @i (0..15) of a Q3_K block, 0..63 (the weight's factor is s - 32):
 * the low 4 bits from byte i % 8 (low nibble for i < 8), the high 2 from
 * byte 8 + i % 4 (bits 2 (i / 4)). */
guint8 vtp_quant_scale_q3_k (const guint8 *scales, gint i);

/* Scale and min of sub-block @j (0..7) of a Q4_K / Q5_K block. */
void vtp_quant_scale_min_k4 (const guint8 *scales, gint j, guint8 *scale, guint8 *min);

/* Writes the @n (a multiple of the block) floats of @x as blocks of @type
 * to @out (vtp_dtype_row_bytes (type, n) bytes). FALSE for a type without a
 * quantizer (not a block type). The K-quants search their scales: 40-70 ns
 * per weight on one core, against 3-7 for Q8_0 / Q4_0. */
gboolean vtp_quantize_row (VtpDType type, const float *x, gint64 n, void *out);
/* The whether-it-can question, for callers that choose a type. */
gboolean vtp_quant_can_quantize (VtpDType type);
/* How many f16 scales a block of @t has (d, then dmin or m), and scale
 * @i of @block set to the f16 @v: for tools that make random blocks with
 * finite scales (IQ1_M keeps its d in four nibbles). */
gint vtp_quant_f16_count (VtpDType t);
void vtp_quant_set_f16 (VtpDType t, guint8 *block, gint i, guint16 v);
/* Dequantizes @n elements (a multiple of the block) of @type from @in. */
void vtp_dequantize_row (VtpDType type, const void *in, gint64 n, float *out);

G_END_DECLS
