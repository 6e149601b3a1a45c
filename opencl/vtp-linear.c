/* vtp-linear.c: weight upload (packed into panels on CPUs) and the choice
 * of kernel of linear.cl for each product; layouts and kernels are described
 * there.
 *
 * CPUs: weights in layout 1 (panels of 16 outputs, repacked at upload, same
 * size). Up to 6 rows: one launch of linear_p16_<T>_<rows> (weights read
 * once; 1 row: the decode GEMV). Beyond: 6-row tiles (linear_p16_f32_6, or
 * linear_p16g_<T> for F16/BF16, which converts each weight block of up to
 * three panels once for 8 tiles), the rows left over in a launch of their
 * own height or, from 3 of them on, in one more clamped tile.
 * GPUs: weights stay plain [N, K]; up to GEMV_MAX_ROWS rows a work-group
 * cooperative GEMV (work-group reduce_wg, 16 lanes per output, coalesced row
 * reads, local reduction), beyond a 64 x 64 local-memory tiled GEMM (16 x 16
 * work-groups; the simple gemm_<T> where a kernel cannot take 256 items).
 * Plain tensors on a CPU go through gemv_<T> with one work-item per output.
 *
 * $VTP_LINEAR_AS_GPU (tests): take the GPU layout and kernels on any device. */
#include <string.h>
#include "vtp-linear.h"
#include "vtp-switch.h"
#include "vtp-quant.h"
#include "vtp-launch.h"
#include "vtp-fault.h"
#include "vtp-host-threads.h"

#define LAYOUT_PLAIN 0
#define LAYOUT_P16 1            /* see linear.cl */
#define PANEL 16
#define PANEL_TM 6              /* linear_p16_<T>_1 .. _6 exist */
#define STREAM_P 16             /* linear_p16s_<T>: most panels a work-item takes (8 .. 32 within 3%) */
#define VNNI_P 32               /* qlinear_vnni_<T>: most panels a work-item takes (8 .. 128 measured: 32 best) */
#define VNNI_MAX_K 16384        /* and its longest row (quant.cl) */
#define QPANEL_TM 4             /* qlinear_p16_<T>_1 .. _4 exist (quant.cl) */
#define FEW_ROWS 12             /* qgemm_vnni_few_<T>, qgemm_vnni_few3: up to this many rows (2 tiles a panel) */
#define GROUP_TILES 8           /* tiles of PANEL_TM rows per work-item of linear_p16g */
/* The GEMMs' work-items each take a group of tiles of rows of one panel
 * (int8_gemm, bf16_gemm, linear_p16g_<T>, qlinear_p16g_<T> with the float
 * threshold). Listed tile group fastest,
 * consecutive work-items share a panel while x's rows stream by, which
 * pays while x's copy stays in the cache across the panels; beyond these
 * sizes of it the launches list them panel fastest instead (the kernels'
 * panel_major), so that consecutive work-items share a block of x's rows
 * held in L2 while the panels stream by. Measured with vtp-bench-linear on
 * 2 cores of the Zen 4 EPYC (1 MB of L2 each), best of 5-10 runs, both
 * orders: int8 (Q8_0) 512 x 4096 x 1024 (2 MB of x) 476 → 543 GFLOP/s,
 * 1154 x 2048 x 5632 630 → 649, 512 x 2048 x 5632 (1 MB) 636 / 639;
 * float (F16) 577 x 4096 x 1024 (9.4 MB) 204 → 200, 2308 x 4096 x 1024
 * (38 MB) 186 → 201, 4616 x 1024 x 4096 (19 MB) 195 → 199; bfloat16
 * 4616 x 2048 x 5632 (19 MB) 382 → 360, 4616 x 4096 x 1024 (38 MB) 324
 * → 354. (Several pictures' tokens through a vision tower together are
 * such products: docs/batching.md.) */
#define PANEL_MAJOR_INT8_BYTES ((gsize) 2 << 20)
#define PANEL_MAJOR_FLOAT_BYTES ((gsize) 16 << 20)
#define PANEL_MAJOR_BF16_BYTES ((gsize) 32 << 20)
/* ... and only while the weights stay in the cache themselves: panel
 * fastest reads them once per block of rows, from memory when they do not
 * (LLaVA-1.5-7B's down projection, 11008 x 4096, 25 MB in Q4_K: 512 rows
 * 72.3 → 78.0 ms panel fastest, Q6_K 256 rows 49.6 → 61.4; the 1.1B
 * model's, 6.5 MB, 19.4 → 19.1). */
#define PANEL_MAJOR_MAX_WEIGHT_BYTES ((gsize) 16 << 20)

static gboolean
panel_major (gsize x_copy_bytes, gsize threshold, const VtpTensor *w)
{
  return x_copy_bytes >= threshold && vtp_tensor_n_bytes (w) <= PANEL_MAJOR_MAX_WEIGHT_BYTES;
}

/* Panels side by side in a work-item of linear_p16g_<T>: 3 where the CPU
 * has AVX-512's 32 vector registers (18 accumulators of 16 floats; each
 * broadcast of x serves 48 outputs), 1 on AVX2 (16 registers of 8 floats:
 * one panel's 6 accumulators fill 12). $VTP_P16G_PANELS (1-3) overrides
 * it for A/B runs. Measured on 2 cores of the Intel Xeon with AMX
 * (vtp-bench-linear, F16, medians of 10): 512 x 2048 x 5632 201 → 265
 * GFLOP/s with 2 panels, 512 x 5632 x 2048 233 → 263, 512 x 2048 x 2048
 * 170 → 265; 3 panels (with linear.cl's PG_KB 128 instead of 256) 6-7%
 * more again (512 x 2048 x 5632 237-247 → 257-264, alternating); the 1.1B
 * model's prefill of 512 (vtp-bench-llm -p 512 -r 3) 94 → 118-131
 * tokens/s with 2, then 109-113 → 117-126 (alternating pairs) with 3. */
static gint
p16g_panels (const VtpDevice *dev)
{
  return vtp_switch_int ("VTP_P16G_PANELS", dev->avx512 ? 3 : 1, 1, 3);
}

/* A GEMM launch's global size: @tile_groups x @panels work-items, in the
 * order @pm says (the kernels read their ids the same way). */
static void
gemm_global (size_t tile_groups, size_t panels, gboolean pm, size_t global[2])
{
  global[0] = pm ? panels : tile_groups;
  global[1] = pm ? tile_groups : panels;
}
#define GEMV_MAX_ROWS 8         /* GPUs: rows up to which gemv_<T> is used */
#define GEMM_TM 2               /* must match linear.cl */
#define GEMM_TN 4
#define TILE 64

/* @src is often the mapped checkpoint, where a safetensors header of odd
 * length leaves the elements unaligned: they are read with memcpy (one
 * load all the same), never through a cast pointer. */
static inline guint32
load32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, sizeof v);
  return v;
}

static inline guint16
load16 (const guint8 *p)
{
  guint16 v;
  memcpy (&v, p, sizeof v);
  return v;
}

/* Packs rows [@p0, @p1) (whole panels) of @src [n, k] (elements of @es
 * bytes) into layout 1; @pairs (BF16):
 * with k even, the 32-bit word j of step pair (2i, 2i + 1) holds column j's
 * two steps, 2i in the low half (the bfloat16 dot product's operand, so
 * that linear.cl's GEMM reads panels as they are), with k odd the 16
 * elements of a step ordered c0 c8 c1 c9 ... c7 c15 (linear.cl's
 * load16_bf16 reads either). Done in blocks
 * of KB steps, a row of the panel at a time: reading the 16 rows side by side
 * instead thrashes the cache when k * es is a multiple of 4 KiB (3x slower). */
static void
pack_p16 (void *dst, const void *src, gint64 p0, gint64 p1, gint64 k, gsize es, gboolean pairs)
{
  const gint64 KB = 256;
  guint8 *d = dst;
  const guint8 *s = src;

  for (gint64 p = p0; p < p1; p += PANEL)
    for (gint64 k0 = 0; k0 < k; k0 += KB) {
      const gint64 k1 = MIN (k, k0 + KB);
      for (gint64 j = 0; j < PANEL; j++) {
        const gint64 slot = pairs ? (j % 8) * 2 + j / 8 : j;
        const guint8 *r = s + (p + j) * k * es;
        if (pairs && k % 2 == 0) {
          /* even K: each 32-bit word holds steps kk and kk + 1 of column j
           * (the bfloat16 dot product's operand, read as it is) */
          guint16 *o = (guint16 *) d + p * k;
          for (gint64 kk = k0; kk < k1; kk++)
            o[(kk / 2) * 2 * PANEL + 2 * j + kk % 2] = load16 (r + kk * 2);
        } else if (es == 4) {
          guint32 *o = (guint32 *) d + p * k + slot;
          for (gint64 kk = k0; kk < k1; kk++)
            o[kk * PANEL] = load32 (r + kk * 4);
        } else {
          guint16 *o = (guint16 *) d + p * k + slot;
          for (gint64 kk = k0; kk < k1; kk++)
            o[kk * PANEL] = load16 (r + kk * 2);
        }
      }
    }
}

/* Block-quantized types in layout 1: each field of a block (a run of
 * @count units of @unit bytes at byte @offset) is transposed across the 16
 * rows of a panel, so that a kernel reads one unit of 16 rows with one
 * vector load; @quad fields (bytes) keep 4 consecutive bytes of a row
 * together, as an int8 dot product instruction takes them (quant.cl
 * describes the layout). */
typedef struct {
  guint16 offset, count, unit;
  gboolean quad;
  guint16 dest;     /* where it goes: byte 16 dest of the panel block */
} BlockField;

static const BlockField *
block_fields (VtpDType t)
{
  static const BlockField q8_0[] = { { 0, 1, 2, FALSE, 0 }, { 2, 32, 1, TRUE, 2 }, { 0 } };
  static const BlockField q4_0[] = { { 0, 1, 2, FALSE, 0 }, { 2, 16, 1, TRUE, 2 }, { 0 } };
  /* d, m, qs; d, qh, qs; d, m, qh, qs (qh's bits re-laid: relay_panel_block) */
  static const BlockField q4_1[] = { { 0, 2, 2, FALSE, 0 }, { 4, 16, 1, TRUE, 4 }, { 0 } };
  static const BlockField q5_0[] = { { 0, 1, 2, FALSE, 0 }, { 2, 4, 1, TRUE, 2 }, { 6, 16, 1, TRUE, 6 }, { 0 } };
  static const BlockField q5_1[] = { { 0, 2, 2, FALSE, 0 }, { 4, 4, 1, TRUE, 4 }, { 8, 16, 1, TRUE, 8 }, { 0 } };
  /* the K-quants' 12 scale bytes as quads too (quant.cl's k4_scales) */
  static const BlockField q4_k[] = { { 0, 2, 2, FALSE, 0 }, { 4, 12, 1, TRUE, 4 }, { 16, 128, 1, TRUE, 16 },
    { 0 } };
  static const BlockField q5_k[] = { { 0, 2, 2, FALSE, 0 }, { 4, 12, 1, TRUE, 4 }, { 16, 32, 1, TRUE, 16 },
    { 48, 128, 1, TRUE, 48 }, { 0 } };
  /* by half (quant.cl: Q6_HALF): ql, qh and scales of elements 0..127,
   * then of 128..255, then d */
  static const BlockField q6_k[] = { { 0, 64, 1, TRUE, 0 }, { 128, 32, 1, TRUE, 64 }, { 192, 8, 1, FALSE, 96 },
    { 64, 64, 1, TRUE, 104 }, { 160, 32, 1, TRUE, 168 }, { 200, 8, 1, FALSE, 200 }, { 208, 1, 2, FALSE, 208 },
    { 0 } };
  /* hmask, qs, scales, d; scales (a byte a sub-block), qs, d, dmin */
  static const BlockField q3_k[] = { { 0, 32, 1, TRUE, 0 }, { 32, 64, 1, TRUE, 32 }, { 96, 12, 1, TRUE, 96 },
    { 108, 1, 2, FALSE, 108 }, { 0 } };
  static const BlockField q2_k[] = { { 0, 16, 1, TRUE, 0 }, { 16, 64, 1, TRUE, 16 }, { 80, 2, 2, FALSE, 80 },
    { 0 } };
  /* IQ4_NL as Q4_0; IQ4_XS: d, scales_h, scales_l (a quad: one lane a row), qs */
  static const BlockField iq4_xs[] = { { 0, 2, 2, FALSE, 0 }, { 4, 4, 1, TRUE, 4 }, { 8, 128, 1, TRUE, 8 },
    { 0 } };
  /* the lattice types: every field a run of units (bytes, IQ2_XS's 16-bit
   * groups, IQ3_XXS's sign words, IQ2_XXS's index and sign words, IQ1_S's
   * 16-bit high bits and IQ1_M's scale words), looked up per unit, never
   * fed to the dot product as they are */
  static const BlockField iq3_xxs[] = { { 0, 1, 2, FALSE, 0 }, { 2, 64, 1, FALSE, 2 }, { 66, 8, 4, FALSE, 66 },
    { 0 } };
  static const BlockField iq3_s[] = { { 0, 1, 2, FALSE, 0 }, { 2, 108, 1, FALSE, 2 }, { 0 } };
  static const BlockField iq2_xxs[] = { { 0, 1, 2, FALSE, 0 }, { 2, 16, 4, FALSE, 2 }, { 0 } };
  static const BlockField iq2_xs[] = { { 0, 1, 2, FALSE, 0 }, { 2, 32, 2, FALSE, 2 }, { 66, 8, 1, FALSE, 66 },
    { 0 } };
  static const BlockField iq2_s[] = { { 0, 1, 2, FALSE, 0 }, { 2, 80, 1, FALSE, 2 }, { 0 } };
  static const BlockField iq1_s[] = { { 0, 1, 2, FALSE, 0 }, { 2, 32, 1, FALSE, 2 }, { 34, 8, 2, FALSE, 34 },
    { 0 } };
  static const BlockField iq1_m[] = { { 0, 48, 1, FALSE, 0 }, { 48, 4, 2, FALSE, 48 }, { 0 } };
  switch (t) {
    case VTP_DTYPE_Q8_0: return q8_0;
    case VTP_DTYPE_IQ4_NL: return q4_0;
    case VTP_DTYPE_IQ3_XXS: return iq3_xxs;
    case VTP_DTYPE_IQ3_S: return iq3_s;
    case VTP_DTYPE_IQ2_XXS: return iq2_xxs;
    case VTP_DTYPE_IQ2_XS: return iq2_xs;
    case VTP_DTYPE_IQ2_S: return iq2_s;
    case VTP_DTYPE_IQ1_S: return iq1_s;
    case VTP_DTYPE_IQ1_M: return iq1_m;
    case VTP_DTYPE_IQ4_XS: return iq4_xs;
    case VTP_DTYPE_Q4_0: return q4_0;
    case VTP_DTYPE_Q4_K: return q4_k;
    case VTP_DTYPE_Q5_K: return q5_k;
    case VTP_DTYPE_Q6_K: return q6_k;
    case VTP_DTYPE_Q4_1: return q4_1;
    case VTP_DTYPE_Q5_0: return q5_0;
    case VTP_DTYPE_Q5_1: return q5_1;
    case VTP_DTYPE_Q3_K: return q3_k;
    case VTP_DTYPE_Q2_K: return q2_k;
    default: return NULL;
  }
}

/* ggml's fifth bits of a Q5 block (bit e for element e) reordered for the
 * int8 kernels: element e = 16 h + 4 g + t (low / high nibbles h, quad
 * group g, byte t of the group) to bit 8 t + 4 h + g, so that one shift by
 * 4 h + g and one mask leave the bits of a quad group's four bytes at the
 * bottom of each byte (quant.cl's q5_bits). */
static guint32
spread_q5_bits (guint32 h)
{
  guint32 r = 0;
  for (gint e = 0; e < 32; e++)
    r |= ((h >> e) & 1u) << (8 * (e % 4) + 4 * (e / 16) + (e % 16) / 4);
  return r;
}

/* Q3_K's 16 six-bit scales re-laid in a row's 12 bytes (3 words, @w) for
 * the kernels (quant.cl's q3_scale16): each as s - 32 in 6-bit two's
 * complement, scales 5 v .. 5 v + 4 at bits 0, 6, .. 24 of word v, scale
 * 15's bits 2 v and 2 v + 1 at bits 30 and 31 of word v; so that two shifts
 * give one (ggml's packing took seven operations: measured 28% of the
 * Q3_K GEMV's time). */
static void
relay_q3_scales (const guint8 *scales, guint32 *w)
{
  w[0] = w[1] = w[2] = 0;
  for (gint i = 0; i < 16; i++) {
    const guint32 v = vtp_quant_scale_q3_k (scales, i) ^ 32;
    if (i < 15)
      w[i / 5] |= v << (6 * (i % 5));
    else
      for (gint k = 0; k < 3; k++)
        w[k] |= ((v >> (2 * k)) & 3) << 30;
  }
}

/* The fields of a packed panel block @pb whose bits the kernels read in
 * another order than ggml's, re-laid within each row's own bytes: Q5_0's
 * and Q5_1's fifth bits (a word a row, at byte 32 / 64), Q3_K's scales
 * (three words a row, at byte 16 x 96). */
static void
relay_panel_block (VtpDType t, guint8 *pb)
{
  const gsize at = t == VTP_DTYPE_Q5_0 ? 32 : t == VTP_DTYPE_Q5_1 ? 64 : t == VTP_DTYPE_Q3_K ? PANEL * 96 : 0;
  const gint words = t == VTP_DTYPE_Q3_K ? 3 : 1;

  if (!at)
    return;
  for (gint j = 0; j < PANEL; j++) {
    /* word v of row j: its lane of quad group v */
    guint8 raw[12];
    guint32 w[3];
    for (gint v = 0; v < words; v++)
      memcpy (raw + 4 * v, pb + at + 64 * v + 4 * j, 4);
    if (t == VTP_DTYPE_Q3_K)
      relay_q3_scales (raw, w);
    else
      w[0] = spread_q5_bits (raw[0] | (raw[1] << 8) | (raw[2] << 16) | ((guint32) raw[3] << 24));
    for (gint v = 0; v < words; v++) {
      const guint32 le = GUINT32_TO_LE (w[v]);
      memcpy (pb + at + 64 * v + 4 * j, &le, 4);
    }
  }
}

/* Copies @f of row @j's block @blk into its place in the panel block @pb:
 * a quad field four bytes at a time (they stay together), any other a unit
 * at a time (the constant sizes make plain moves of the memcpys). */
static inline void
pack_field (guint8 *pb, const guint8 *blk, const BlockField *f, gint j)
{
  guint8 *d = pb + PANEL * f->dest;

  if (f->quad) {
    for (gint i = 0; i < f->count; i += 4)
      memcpy (d + (gsize) i * PANEL + 4 * j, blk + i, 4);
    return;
  }
  switch (f->unit) {
    case 1:
      for (gint i = 0; i < f->count; i++)
        d[(gsize) i * PANEL + j] = blk[i];
      break;
    case 2:
      for (gint i = 0; i < f->count; i++)
        memcpy (d + ((gsize) i * PANEL + j) * 2, blk + 2 * i, 2);
      break;
    default:
      g_assert (f->unit == 4);
      for (gint i = 0; i < f->count; i++)
        memcpy (d + ((gsize) i * PANEL + j) * 4, blk + 4 * i, 4);
  }
}

/* Packs rows [@p0, @p1) (whole panels) of @src (rows of @k elements of
 * block type @t, ggml layout) into layout 1: same size, panels of 16 rows. */
static void
pack_blocks_p16 (void *dst, const void *src, gint64 p0, gint64 p1, gint64 k, VtpDType t)
{
  const gsize bb = vtp_dtype_block_bytes (t), row = vtp_dtype_row_bytes (t, k);
  const gint64 nb = k / vtp_dtype_block_elements (t);
  const BlockField *fields = block_fields (t);
  guint8 *d = dst;
  const guint8 *s = src;

  for (gint64 p = p0; p < p1; p += PANEL)
    for (gint64 b = 0; b < nb; b++) {
      guint8 *pb = d + p * row + b * PANEL * bb;
      for (const BlockField *f = fields; f->count; f++)
        for (gint j = 0; j < PANEL; j++)
          pack_field (pb, s + (p + j) * row + b * bb + f->offset, f, j);
      relay_panel_block (t, pb);
    }
}

/* What a share of the cores packs (vtp_host_threads_run). */
typedef struct {
  void *dst;
  const void *src;
  gint64 k;
  VtpDType dtype;
} PackJob;

static void
pack_share (gint64 p0, gint64 p1, gpointer data)
{
  const PackJob *j = data;

  if (vtp_dtype_is_quantized (j->dtype))
    pack_blocks_p16 (j->dst, j->src, p0, p1, j->k, j->dtype);
  else
    pack_p16 (j->dst, j->src, p0, p1, j->k, vtp_dtype_size (j->dtype), j->dtype == VTP_DTYPE_BF16);
}

/* Packs @src [n, k] of @dtype into layout 1, the panels shared by the cores
 * (a 1.1B model's 630 MB of Q4_K_M took 2.6 s on one core, byte by byte),
 * the rows after the last panel as they are. */
#define PACK_MIN_SHARE_BYTES ((gsize) 1 << 20)

static void
pack_panels (void *dst, const void *src, gint64 n, gint64 k, VtpDType dtype)
{
  const gint64 n16 = n & ~(gint64) (PANEL - 1);
  const gsize row = vtp_dtype_row_bytes (dtype, k);
  PackJob job = { dst, src, k, dtype };

  vtp_host_threads_run (n16, PANEL, MAX ((gint64) (PACK_MIN_SHARE_BYTES / MAX (row, 1)), PANEL), pack_share, &job);
  memcpy ((guint8 *) dst + n16 * row, (const guint8 *) src + n16 * row, (n - n16) * row);
}

/* TRUE where the GPU kernels and layout serve: non-CPU devices, and any
 * device while $VTP_LINEAR_AS_GPU is set (so that tests check the GPU
 * kernels on a CPU). */
static gboolean
as_gpu (const VtpDevice *dev)
{
  return dev->kind != VTP_DEVICE_KIND_CPU || g_getenv ("VTP_LINEAR_AS_GPU") != NULL;
}

/* Packs @data ([n, k] of @t's type) into @t's panels straight in the
 * buffer: on a CPU device the map is the buffer itself, no copy. A map,
 * unmap or wait that fails (or that VTP_FAULT=copy or finish fails) is an
 * error: a weight half uploaded must not be used. (A host staging copy
 * would not help where the map fails for want of memory: it needs as
 * much.) */
static gboolean
pack_into (VtpTensor *t, gconstpointer data, gint64 n, gint64 k, GError **error)
{
  VtpDevice *dev = t->dev;
  const gsize bytes = vtp_tensor_n_bytes (t);
  g_autofree char *d = NULL;
  void *dst = NULL;
  cl_int err = vtp_device_copy_fault ();

  if (err == CL_SUCCESS)
    dst = clEnqueueMapBuffer (dev->queue, t->mem, CL_TRUE, CL_MAP_WRITE_INVALIDATE_REGION, 0, bytes, 0, NULL,
        NULL, &err);
  if (err != CL_SUCCESS || !dst) {
    vtp_device_note_error (dev, err);
    d = vtp_tensor_describe (t);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Could not map a %s tensor (%" G_GSIZE_FORMAT " bytes) on "
        "%s to pack weights into it: %s", d, bytes, dev->name, vtp_cl_strerror (err ? err : CL_MAP_FAILURE));
    return FALSE;
  }
  pack_panels (dst, data, n, k, t->dtype);
  err = clEnqueueUnmapMemObject (dev->queue, t->mem, dst, 0, NULL, NULL);
  /* injected after the real unmap, so that nothing stays mapped */
  if (err == CL_SUCCESS)
    err = vtp_device_copy_fault ();
  if (err != CL_SUCCESS) {
    vtp_device_note_error (dev, err);
    d = vtp_tensor_describe (t);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Could not unmap a %s tensor (%" G_GSIZE_FORMAT " bytes) on "
        "%s after packing weights into it: %s", d, bytes, dev->name, vtp_cl_strerror (err));
    return FALSE;
  }
  return vtp_device_finish (dev, error);
}

VtpTensor *
vtp_linear_weight_new (VtpDevice *dev, VtpDType dtype, gint64 n, gint64 k,
    gconstpointer data, GError **error)
{
  gint64 shape[2] = { n, k };
  VtpTensor *t;

  g_return_val_if_fail (vtp_weight_suffix (dtype) != NULL, NULL);
  g_return_val_if_fail (k % vtp_dtype_block_elements (dtype) == 0, NULL);
  if (as_gpu (dev) || n < PANEL)
    return vtp_tensor_new_from_data (dev, dtype, 2, shape, data, error);

  t = vtp_tensor_new (dev, dtype, 2, shape, error);
  if (!t)
    return NULL;
  if (!pack_into (t, data, n, k, error)) {
    vtp_tensor_free (t);
    return NULL;
  }
  t->layout = LAYOUT_P16;
  return t;
}

/* Panels a work-item of the int8 GEMV takes out of @np: x is quantized
 * once per work-item, so as many as the compute units allow, up to VNNI_P. */
static gint
vnni_panels_per_item (const VtpDevice *dev, gint64 np)
{
  return (gint) CLAMP (np / (gint64) dev->compute_units, 1, VNNI_P);
}

/* Largest work-group size kernel @name accepts on @dev. */
static size_t
kernel_max_wg (VtpDevice *dev, const char *name)
{
  size_t wg = 0;

  vtp_device_lock (dev);
  if (clGetKernelWorkGroupInfo (vtp_device_kernel (dev, name), dev->id, CL_KERNEL_WORK_GROUP_SIZE,
          sizeof wg, &wg, NULL) != CL_SUCCESS)
    wg = 1;
  vtp_device_unlock (dev);
  return wg;
}

/* The rows of x a gemv_<T>_<MR> work-group takes: MR for @n_rows. */
static gint
gemv_rows (gint64 n_rows)
{
  return n_rows <= 1 ? 1 : n_rows <= 2 ? 2 : n_rows <= 4 ? 4 : 8;
}

/* A GPU's work-group for kernel @name of the gemv family: @L work-items,
 * @S lanes an output. */
static void
gemv_group (VtpDevice *dev, const char *name, gint64 K, size_t *L, size_t *S)
{
  const size_t want = dev->kind == VTP_DEVICE_KIND_CPU ? 256 : dev->reduce_wg;
  const size_t max = MIN (want, kernel_max_wg (dev, name));

  *L = 1;
  while (*L * 2 <= max)
    *L *= 2;
  /* lanes per output: 16 (measured on an H200 with 8 .. 128: 16 best or
   * near it for F16 and F32, K 2048 .. 8192), fewer for short rows */
  *S = MIN (*L, 16);
  while (*S > 1 && (gint64) *S * 8 > K + 7)
    *S /= 2;
}

/* How many of x's blocks of 32 share an int8 scale for products with
 * weights of type @t (quant.cl's quantize_group): one for Q8_0 and Q4_0,
 * a super-block's 8 for the K-quants. */
static gint
int8_group (VtpDType t)
{
  return (gint) (vtp_dtype_block_elements (t) / 32);
}

/* The parts of int8_rows_new's scratch for @n_rows rows of width @K
 * (bytes): the int8 rows at 0, the blocks' scales at d_off, the
 * half-block sums at s_off, then (K-quant groups) each super-block's
 * sub-block sums cut in bytes for the mins (quant.cl's k4_mins_at: 16
 * bytes a super-block), @bytes in all. */
typedef struct {
  gsize d_off, s_off, bytes;
} Int8Rows;

static Int8Rows
int8_rows_layout (gint64 n_rows, gint64 K)
{
  const gsize d_off = (gsize) n_rows * K, s_off = d_off + (gsize) n_rows * (K / 32) * 4;
  return (Int8Rows) { d_off, s_off, s_off + (gsize) n_rows * (K / 32) * 8 + (gsize) n_rows * (K / 256) * 16 };
}

gsize
vtp_linear_int8_rows_bytes (gint64 n_rows, gint64 K)
{
  return int8_rows_layout (n_rows, K).bytes;
}

/* The int8 GEMM of quant.cl: x's rows quantized once into a scratch buffer
 * (int8_rows_new, in groups of @group blocks), then tiles of 6 rows per
 * panel (GROUP_TILES a work-item) per product (int8_gemm). The scratch
 * layout depends on the rows and K only, so products of the same x and
 * group share it (xcopy_*). */
static cl_mem
int8_rows_new (VtpDevice *dev, const VtpTensor *x, gint64 x_row, gint64 n_rows, gint group)
{
  const gint64 K = vtp_tensor_cols (x), nb = K / 32;
  const Int8Rows at = int8_rows_layout (n_rows, K);
  const size_t qglobal[2] = { nb / group, n_rows }, one[2] = { 1, 1 };
  cl_int err;
  cl_mem scratch = vtp_device_scratch_take (dev, at.bytes, &err);

  if (!check (err == CL_SUCCESS, "linear", "no room for the int8 copy of %" G_GINT64_FORMAT " rows of x: %s",
          n_rows, vtp_cl_strerror (err)))
    return NULL;
  LAUNCH (dev, "quantize_rows_q8", 2, qglobal, one, A_MEM (x), A_INT (x_row * K), A_INT (K),
      ((VtpArg) { sizeof (cl_mem), &scratch }), A_INT (at.d_off), A_INT (at.s_off), A_INT (group));
  return scratch;
}

/* quant-amx.cl's qgemm_amx_q8_0: Q8_0 weights, 16 rows or more (its
 * tiles' height) */
static gboolean
amx_gemm_serves (const VtpDevice *dev, gint64 n_rows, const VtpTensor *w)
{
  return dev->amx_int8 && n_rows >= 16 && w->dtype == VTP_DTYPE_Q8_0;
}

static void
int8_gemm (VtpDevice *dev, cl_mem scratch, VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row,
    gint64 n_rows, const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  const gint64 N = w->shape[0], K = vtp_tensor_cols (w);
  const Int8Rows at = int8_rows_layout (n_rows, K);
  const gint64 tiles = (n_rows + PANEL_TM - 1) / PANEL_TM, per_item = MIN (tiles, GROUP_TILES);
  const size_t global[2] = { (tiles + per_item - 1) / per_item, (N + PANEL - 1) / PANEL }, one[2] = { 1, 1 };
  char name[48];

  if (n_rows <= FEW_ROWS) {
    /* a few rows: P panels a work-item, as the one-row GEMV */
    const gint64 np = N / PANEL;
    const gint P = vnni_panels_per_item (dev, MAX (np, 1));
    const size_t fglobal[1] = { MAX ((np + P - 1) / P, 1) }, fone[1] = { 1 };
    g_snprintf (name, sizeof name, "qgemm_vnni_few_%s", vtp_weight_suffix (w->dtype));
    LAUNCH (dev, name, 1, fglobal, fone, A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias),
        A_INT (bias != NULL), A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K), A_INT (N), A_INT (accumulate),
        ((VtpArg) { sizeof (cl_mem), &scratch }), A_INT (at.d_off), A_INT (at.s_off), A_INT (P));
    return;
  }
  g_snprintf (name, sizeof name, "qgemm_%s_%s", amx_gemm_serves (dev, n_rows, w) ? "amx" : "vnni",
      vtp_weight_suffix (w->dtype));
  {
    const gint pm = panel_major ((gsize) n_rows * K, PANEL_MAJOR_INT8_BYTES, w);   /* x's int8 copy */
    size_t g2[2];
    gemm_global (global[0], global[1], pm, g2);
    LAUNCH (dev, name, 2, g2, one, A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias), A_INT (bias != NULL),
        A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K), A_INT (N), A_INT (accumulate),
        ((VtpArg) { sizeof (cl_mem), &scratch }), A_INT (at.d_off), A_INT (at.s_off), A_INT (per_item), A_INT (pm));
  }
}

/* The bfloat16 GEMM of linear.cl (BF16 weights in panels, a CPU with
 * AVX512-BF16): x's rows rounded to bfloat16 pairs once into a scratch
 * buffer (tile-major, whole tiles; bf16_rows_new), then tiles of BF16_TM
 * rows of two panels (GROUP_TILES tiles a work-item) per product
 * (bf16_gemm); q, k and v (vtp_op_linear_multi) share one conversion. */
#define BF16_TM 12              /* BG_TM of linear.cl */

static gboolean
bf16_gemm_serves (const VtpDevice *dev, gint64 n_rows, const VtpTensor *w)
{
  return w->layout == LAYOUT_P16 && w->dtype == VTP_DTYPE_BF16 && dev->bf16_dot && n_rows > PANEL_TM
      && vtp_tensor_cols (w) % 2 == 0;
}

/* linear-amx.cl's AMX-BF16 GEMM in place of linear_p16g_bf16dot: K in
 * whole tile products of 32 steps; x's copy in tiles of AMX_TILE_ROWS rows.
 * A work-item takes AMX_ITEM_PAIRS pairs of panels (128 columns) and up to
 * AMX_ITEM_BLOCKS blocks of 32 rows, in K blocks of AMX_K_CHUNKS tile
 * products (256 steps: a pair of panels' K block is 16 KB and stays in L1
 * for every block of rows, a block of rows' 16 KB for its 4 products; x's
 * K block, 320 rows of 512 bytes, stays in L2 for every pair). Chosen on 2
 * cores of the Intel Xeon with AMX by the bf16 encode (vtp-bench -V -w
 * bf16, medians of 6-8 alternating runs, ms): K blocks of 16 chunks 441,
 * 32 430, 8 401, 4 424; 20 blocks of rows a work-item 410, 10 388-404, 5
 * 439; 2 pairs 411, 8 pairs 400-403 (the GEMM of before, 2 x 2 tiles over
 * all of K, 465). $VTP_AMX_PAIRS (1-8), $VTP_AMX_BLOCKS and
 * $VTP_AMX_K_CHUNKS override them for such runs (vtp_switch_int). */
#define AMX_TILE_ROWS 16
#define AMX_ITEM_PAIRS 4
#define AMX_MAX_PAIRS 8         /* linear-amx.cl's */
#define AMX_ITEM_BLOCKS 10
#define AMX_K_CHUNKS 8

static gboolean
amx_bf16_serves (const VtpDevice *dev, gint64 K)
{
  return dev->amx_bf16 && K % 32 == 0;
}

/* A scratch buffer (vtp_device_scratch_take) holding the conversion: give
 * it back after the last launch that reads it. NULL (and a pending error)
 * when there is no room. */
static cl_mem
bf16_rows_new (VtpDevice *dev, const VtpTensor *x, gint64 x_row, gint64 n_rows)
{
  const gint64 K = vtp_tensor_cols (x);
  const gboolean amx = amx_bf16_serves (dev, K);
  const gint tm = amx ? AMX_TILE_ROWS : BF16_TM;
  /* AMX: an even count of tiles (linear_amx_bf16 multiplies two at a time;
   * the rows past n_rows are zeros) */
  const gint64 tiles = amx ? (n_rows + 2 * tm - 1) / (2 * tm) * 2 : (n_rows + tm - 1) / tm;
  const size_t global[1] = { tiles }, one[1] = { 1 };
  cl_int err;
  cl_mem scratch = vtp_device_scratch_take (dev, (gsize) tiles * tm * K * 2, &err);

  if (!check (err == CL_SUCCESS, "linear", "no room for the bfloat16 copy of %" G_GINT64_FORMAT " rows of x: %s",
          n_rows, vtp_cl_strerror (err)))
    return NULL;
  LAUNCH (dev, amx ? "x_to_bf16_amx" : "x_to_bf16_pairs", 1, global, one, A_MEM (x),
      A_INT (x_row * K), A_INT (n_rows), A_INT (K), ((VtpArg) { sizeof (cl_mem), &scratch }));
  return scratch;
}

static void
amx_bf16_gemm (VtpDevice *dev, cl_mem xb, VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row,
    gint64 n_rows, const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  const gint64 N = w->shape[0], K = vtp_tensor_cols (w);
  const gint pairs = vtp_switch_int ("VTP_AMX_PAIRS", AMX_ITEM_PAIRS, 1, AMX_MAX_PAIRS);
  const gint item_blocks = vtp_switch_int ("VTP_AMX_BLOCKS", AMX_ITEM_BLOCKS, 1, 1 << 20);
  const gint k_chunks = vtp_switch_int ("VTP_AMX_K_CHUNKS", AMX_K_CHUNKS, 1, 1 << 20);
  /* the blocks of 32 rows shared out evenly among as few work-items as
   * item_blocks allows; the partial panel (N % 16) in a work-item of its
   * own */
  const gint64 blocks = (n_rows + 2 * AMX_TILE_ROWS - 1) / (2 * AMX_TILE_ROWS);
  const gint64 row_items = (blocks + item_blocks - 1) / item_blocks, per_item = (blocks + row_items - 1) / row_items;
  const size_t global[2] = { (N / PANEL + 2 * pairs - 1) / (2 * pairs) + (N % PANEL != 0), row_items };
  const size_t one[2] = { 1, 1 };
  cl_int err = CL_SUCCESS;
  /* the C tiles between K blocks: 4 KB per block of rows and pair */
  cl_mem sums = K / 32 > k_chunks
      ? vtp_device_scratch_take (dev, global[0] * global[1] * per_item * pairs * 4096, &err) : NULL;

  if (!check (err == CL_SUCCESS, "linear", "no room for the bfloat16 GEMM's sums: %s", vtp_cl_strerror (err)))
    return;
  LAUNCH (dev, "linear_amx_bf16", 2, global, one, A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias),
      A_INT (bias != NULL), A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K), A_INT (N),
      A_INT (accumulate), ((VtpArg) { sizeof (cl_mem), &xb }), A_INT (per_item), A_INT (pairs), A_INT (k_chunks),
      ((VtpArg) { sizeof (cl_mem), sums ? (const void *) &sums : (const void *) &vtp_null_mem }));
  if (sums)
    vtp_device_scratch_give (dev, sums);
}

static void
bf16_gemm (VtpDevice *dev, cl_mem xb, VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row,
    gint64 n_rows, const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  const gint64 N = w->shape[0], K = vtp_tensor_cols (w);
  const size_t one[2] = { 1, 1 };
  size_t global[2];

  if (amx_bf16_serves (dev, K)) {
    amx_bf16_gemm (dev, xb, y, y_row, x, x_row, n_rows, w, bias, accumulate);
    return;
  }

  /* tiles of BF16_TM rows; two whole panels a work-item, then one for the
   * partial panel if any */
  const gint64 tiles = (n_rows + BF16_TM - 1) / BF16_TM, per_item = MIN (tiles, GROUP_TILES);
  const gint pm = panel_major ((gsize) n_rows * K * 2, PANEL_MAJOR_BF16_BYTES, w);     /* x's bfloat16 copy */

  gemm_global ((tiles + per_item - 1) / per_item, (N / PANEL + 1) / 2 + (N % PANEL != 0), pm, global);
  LAUNCH (dev, "linear_p16g_bf16dot", 2, global, one, A_MEM (x), A_INT (x_row * K),
      A_MEM (w), A_OPT_MEM (bias), A_INT (bias != NULL), A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K),
      A_INT (N), A_INT (accumulate), ((VtpArg) { sizeof (cl_mem), &xb }), A_INT (per_item), A_INT (pm));
}

/* The products of many rows that read a converted copy of x: bfloat16
 * pairs (BF16 weights) or int8 blocks (block-quantized weights), made once
 * per x for every product that reads it (vtp_op_linear_multi). */
typedef enum { XCOPY_NONE, XCOPY_BF16, XCOPY_INT8, XCOPY_INT8_SUPER } XCopy;

/* The int8 copy for weights of type @t: per block or per super-block. */
static XCopy
xcopy_int8 (VtpDType t)
{
  return int8_group (t) > 1 ? XCOPY_INT8_SUPER : XCOPY_INT8;
}

/* The int8 products (quant.cl, quant-lattice.cl) take @w's panels: every
 * quantized type with AVX-512 VNNI; with AVX2 alone all but the lattice
 * types, whose lookups want AVX-512's permutes (they keep the float
 * kernels there). */
gboolean
vtp_linear_takes_int8 (const VtpTensor *w)
{
  if (w->layout != LAYOUT_P16 || !vtp_dtype_is_quantized (w->dtype) || !w->dev->int8_dot)
    return FALSE;
  if (w->dev->int8_vnni)
    return TRUE;
  switch (w->dtype) {
    case VTP_DTYPE_IQ3_XXS: case VTP_DTYPE_IQ3_S: case VTP_DTYPE_IQ2_XXS: case VTP_DTYPE_IQ2_XS:
    case VTP_DTYPE_IQ2_S: case VTP_DTYPE_IQ1_S: case VTP_DTYPE_IQ1_M:
      return FALSE;
    default:
      return TRUE;
  }
}

static XCopy
xcopy_kind (const VtpDevice *dev, gint64 n_rows, const VtpTensor *w, gboolean as_rows)
{
  if (as_rows)
    /* rows of separate decode steps (vtp_op_linear_rows): each row's
     * arithmetic as alone, where the lone row takes the int8 GEMV */
    return vtp_linear_takes_int8 (w) && n_rows > 1 && vtp_tensor_cols (w) <= VNNI_MAX_K ? xcopy_int8 (w->dtype)
        : XCOPY_NONE;
  if (bf16_gemm_serves (dev, n_rows, w))
    return XCOPY_BF16;
  /* 2 rows and more (a short prefill, a prefill's last piece): the int8
   * products of a few rows, then the int8 GEMM; 1 row takes the GEMV */
  if (vtp_linear_takes_int8 (w) && n_rows > 1)
    return xcopy_int8 (w->dtype);
  return XCOPY_NONE;
}

static gint vnni_type_code (VtpDType t);

/* Two or three products of a few rows (up to FEW_ROWS: the decode steps of
 * a few streams, q | k | v and gate | up) in one launch of
 * qgemm_vnni_few3, when every weight is in whole panels and each y is
 * written, not added to. FALSE: not launched (the caller runs them one by
 * one). */
static gboolean
int8_gemm_few3 (VtpDevice *dev, cl_mem scratch, const VtpTensor *x, gint64 n_rows, const VtpLinearOut *outs,
    gint n_outs, gboolean accumulate)
{
  const gint64 K = vtp_tensor_cols (x);
  const Int8Rows at = int8_rows_layout (n_rows, K);
  gint np[3] = { 0, 0, 0 };
  gint64 total = 0;

  if (n_rows > FEW_ROWS || n_outs < 2 || n_outs > 3 || accumulate)
    return FALSE;
  for (gint i = 0; i < n_outs; i++) {
    if (outs[i].w->shape[0] % PANEL)
      return FALSE;
    total += np[i] = (gint) (outs[i].w->shape[0] / PANEL);
  }
  {
    const gint P = vnni_panels_per_item (dev, total);
    const VtpLinearOut *o2 = n_outs > 2 ? &outs[2] : &outs[0];   /* a third of 0 panels */
    const size_t global[1] = { (total + P - 1) / P }, one[1] = { 1 };
    LAUNCH (dev, "qgemm_vnni_few3", 1, global, one, A_INT (n_rows), A_INT (K), A_INT (P),
        ((VtpArg) { sizeof (cl_mem), &scratch }), A_INT (at.d_off), A_INT (at.s_off),
        A_MEM (outs[0].w), A_OPT_MEM (outs[0].bias), A_INT (outs[0].bias != NULL), A_MEM (outs[0].y),
        A_INT (outs[0].y_row * outs[0].w->shape[0]), A_INT (np[0]), A_INT (vnni_type_code (outs[0].w->dtype)),
        A_MEM (outs[1].w), A_OPT_MEM (outs[1].bias), A_INT (outs[1].bias != NULL), A_MEM (outs[1].y),
        A_INT (outs[1].y_row * outs[1].w->shape[0]), A_INT (np[1]), A_INT (vnni_type_code (outs[1].w->dtype)),
        A_MEM (o2->w), A_OPT_MEM (o2->bias), A_INT (o2->bias != NULL), A_MEM (o2->y),
        A_INT (o2->y_row * o2->w->shape[0]), A_INT (n_outs > 2 ? np[2] : 0), A_INT (vnni_type_code (o2->w->dtype)));
  }
  return TRUE;
}

/* The products @outs of the same rows of x, on one copy of x. */
static void
xcopy_products (VtpDevice *dev, XCopy kind, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpLinearOut *outs, gint n_outs, gboolean accumulate)
{
  cl_mem xc = kind == XCOPY_BF16 ? bf16_rows_new (dev, x, x_row, n_rows)
      : int8_rows_new (dev, x, x_row, n_rows, int8_group (outs[0].w->dtype));   /* the same for all (one kind) */

  if (!xc)
    return;
  if (kind != XCOPY_BF16 && int8_gemm_few3 (dev, xc, x, n_rows, outs, n_outs, accumulate)) {
    vtp_device_scratch_give (dev, xc);
    return;
  }
  for (gint i = 0; i < n_outs; i++)
    (kind == XCOPY_BF16 ? bf16_gemm : int8_gemm) (dev, xc, outs[i].y, outs[i].y_row, x, x_row, n_rows, outs[i].w,
        outs[i].bias, accumulate);
  vtp_device_scratch_give (dev, xc);
}

static void
linear (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate, gboolean as_rows)
{
  const gint64 N = w->shape[0], K = vtp_tensor_cols (w);
  const char *suffix = vtp_weight_suffix (w->dtype);
  VtpDevice *dev = x->dev;
  char name[48];

  if (vtp_error_is_pending () || n_rows == 0)
    return;
  if (!check (suffix && w->ndim == 2, "linear", "weights must be 2-D f32/f16/bf16 or block-quantized")
      || !check (K % vtp_dtype_block_elements (w->dtype) == 0, "linear", "%" G_GINT64_FORMAT
          " columns are not whole %s blocks", K, vtp_dtype_name (w->dtype))
      || !check (w->layout == LAYOUT_PLAIN || w->layout == LAYOUT_P16, "linear",
          "weights in unknown layout %u", w->layout)
      || !check (x->dtype == VTP_DTYPE_F32 && y->dtype == VTP_DTYPE_F32, "linear", "activations must be f32")
      || !check (!bias || bias->dtype == VTP_DTYPE_F32, "linear", "bias must be f32")
      || !check (vtp_tensor_cols (x) == K, "linear", "input has %" G_GINT64_FORMAT
          " columns, weights [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] need %" G_GINT64_FORMAT,
          vtp_tensor_cols (x), N, K, K)
      || !check (vtp_tensor_cols (y) == N, "linear", "output has %" G_GINT64_FORMAT
          " columns, weights give %" G_GINT64_FORMAT, vtp_tensor_cols (y), N)
      || !check (!bias || vtp_tensor_n_elements (bias) == N, "linear", "bias size differs from %"
          G_GINT64_FORMAT, N)
      || !check (rows_in (x, x_row, n_rows) && rows_in (y, y_row, n_rows), "linear", "rows out of range"))
    return;

#define ARGS_COMMON(rows)                                                      \
  A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias), A_INT (bias != NULL), \
  A_MEM (y), A_INT (y_row * N), A_INT (rows), A_INT (K), A_INT (N), A_INT (accumulate)

  /* many rows on a converted copy of x: bfloat16 pairs or int8 blocks */
  if (xcopy_kind (dev, n_rows, w, as_rows) != XCOPY_NONE) {
    const VtpLinearOut out = { y, y_row, w, bias };
    xcopy_products (dev, xcopy_kind (dev, n_rows, w, as_rows), x, x_row, n_rows, &out, 1, accumulate);
    return;
  }
  if (w->layout == LAYOUT_P16 && vtp_dtype_is_quantized (w->dtype)) {
    /* Up to QPANEL_TM rows: one work-item height per row count (weights
     * read once; 1 row: the decode GEMV). Beyond: tiles of PANEL_TM rows
     * over weights dequantized once per work-item (GROUP_TILES tiles). */
    const size_t local[2] = { 1, 1 };
    if (n_rows == 1 && vtp_linear_takes_int8 (w) && K <= VNNI_MAX_K) {
      /* the int8 GEMV: P panels a work-item (vnni_panels_per_item) */
      const gint64 np = N / PANEL;
      const gint P = vnni_panels_per_item (dev, np);
      const size_t global[1] = { MAX ((np + P - 1) / P, 1) }, one[1] = { 1 };
      g_snprintf (name, sizeof name, "qlinear_vnni_%s", suffix);
      LAUNCH (dev, name, 1, global, one, ARGS_COMMON (n_rows), A_INT (P));
    } else if (n_rows <= QPANEL_TM) {
      const size_t global[2] = { 1, (N + PANEL - 1) / PANEL };
      g_snprintf (name, sizeof name, "qlinear_p16_%s_%d", suffix, (gint) n_rows);
      LAUNCH (dev, name, 2, global, local, ARGS_COMMON (n_rows));
    } else {
      const gint64 tiles = (n_rows + PANEL_TM - 1) / PANEL_TM, per_item = MIN (tiles, GROUP_TILES);
      const gint pm = panel_major ((gsize) n_rows * K * sizeof (float), PANEL_MAJOR_FLOAT_BYTES, w);
      size_t global[2];
      gemm_global ((tiles + per_item - 1) / per_item, (N + PANEL - 1) / PANEL, pm, global);
      g_snprintf (name, sizeof name, "qlinear_p16g_%s", suffix);
      LAUNCH (dev, name, 2, global, local, ARGS_COMMON (n_rows), A_INT (per_item), A_INT (pm));
    }
    return;
  }

  if (w->layout == LAYOUT_P16) {
    /* Up to PANEL_TM rows: one work-item height per row count; up to 2
     * PANEL_TM - 1, a tile of PANEL_TM rows and the rest at their own
     * height. From 2 PANEL_TM rows on, tiles of PANEL_TM rows:
     * linear_p16g_<T> (F16, BF16) or linear_p16_<T>_6 (F32); the rows
     * left over either in a second launch of linear_p16_<T>_4 (a partial
     * tile: its missing rows computed from the last row and not stored),
     * which reads the weights once more (worth about 3 rows of F16 work
     * here), or, from 3 of them on, in one more tile of the first launch.
     * So every row of a product of 12 rows or more is computed by the same
     * tile arithmetic (tile_start in linear.cl) wherever it sits: the same
     * row gives the same bits in a product of 26 rows or of 78 (several
     * images' tokens encoded together, vtp_vision_tower_forward_many). The
     * rest at its own height is faster (its kernels walk K in segments
     * side by side, in another order): kept below 12 rows, where it pays
     * most (7-11 rows of F16 30-45% faster, measured) and no vision tower
     * has so few tokens. */
    const size_t local[2] = { 1, 1 };
    gint64 tiles = n_rows / PANEL_TM, rest = n_rows % PANEL_TM;
    if (n_rows == 1 && vtp_switch_on ("VTP_GEMV_STREAM")) {
      /* the decode GEMV: P panels a work-item, each read as one stream
       * (linear_p16s_<T>; with $VTP_GEMV_STREAM=0 linear_p16_<T>_1 below, a
       * panel a work-item in 4 segments) */
      const gint64 np = (N + PANEL - 1) / PANEL;
      const gint P = (gint) CLAMP (np / (gint64) dev->compute_units, 1, STREAM_P);
      const size_t global[1] = { (np + P - 1) / P }, one[1] = { 1 };
      g_snprintf (name, sizeof name, "linear_p16s_%s", suffix);
      LAUNCH (dev, name, 1, global, one, ARGS_COMMON (n_rows), A_INT (P));
      return;
    }
    if (n_rows < 2 * PANEL_TM) {
      const size_t global[2] = { 1, (N + PANEL - 1) / PANEL };
      for (gint part = 0; part < 2; part++) {
        const gint64 rows = part == 0 ? MIN (n_rows, PANEL_TM) : n_rows - PANEL_TM;
        if (rows <= 0)
          continue;
        g_snprintf (name, sizeof name, "linear_p16_%s_%d", suffix, (gint) rows);
        LAUNCH (dev, name, 2, global, local, ARGS_COMMON (rows));
        x_row += rows;
        y_row += rows;
      }
      return;
    }
    if (rest >= 3) {
      tiles++;
      rest = 0;
    }
    for (gint part = 0; part < 2; part++) {
      /* part 0: the whole tiles (the last maybe partial); 1: the rest */
      const gint64 rows = part == 0 ? MIN (tiles * PANEL_TM, n_rows) : rest;
      const gint64 t = (rows + PANEL_TM - 1) / PANEL_TM;
      if (rows == 0)
        continue;
      if (t >= 2 && w->dtype != VTP_DTYPE_F32) {
        const gint64 per_item = MIN (t, GROUP_TILES);
        const gint pm = panel_major ((gsize) rows * K * sizeof (float), PANEL_MAJOR_FLOAT_BYTES, w);
        size_t global[2];
        /* pp panels a work-item (the last fewer where pp does not divide
         * the count), then a work-item for the partial panel */
        const gint pp = p16g_panels (dev);
        gemm_global ((t + per_item - 1) / per_item, (N / PANEL + pp - 1) / pp + (N % PANEL != 0), pm, global);
        g_snprintf (name, sizeof name, "linear_p16g_%s", suffix);
        LAUNCH (dev, name, 2, global, local, ARGS_COMMON (rows), A_INT (per_item), A_INT (pm), A_INT (pp));
      } else {
        /* the rest (1 or 2 rows) in a tile of 4: the smallest whose
         * arithmetic is the 6-row tile's (one chain over K, tile_start) */
        const gint tm = part == 0 ? PANEL_TM : 4;
        const size_t global[2] = { part == 0 ? t : 1, (N + PANEL - 1) / PANEL };
        g_snprintf (name, sizeof name, "linear_p16_%s_%d", suffix, tm);
        LAUNCH (dev, name, 2, global, local, ARGS_COMMON (rows));
      }
      x_row += rows;
      y_row += rows;
    }
    return;
  }

  if (n_rows <= GEMV_MAX_ROWS || !as_gpu (dev)) {
    /* On a CPU (plain weights: not from vtp_linear_weight_new) the GEMV
     * kernel serves every size: one work-item per output, weights read
     * once per 8 rows. */
    const gint mr = gemv_rows (n_rows);
    size_t L = 1, S = 1;
    g_snprintf (name, sizeof name, "gemv_%s_%d", suffix, mr);
    if (as_gpu (dev))
      gemv_group (dev, name, K, &L, &S);
    {
      const size_t per_group = L / S;
      const size_t global[2] = { (N + per_group - 1) / per_group * L, (n_rows + mr - 1) / mr };
      const size_t local[2] = { L, 1 };
      LAUNCH (dev, name, 2, global, local, ARGS_COMMON (n_rows), A_INT (S),
          A_LOCAL (L * mr * sizeof (float)));
    }
    return;
  }

  g_snprintf (name, sizeof name, "gemm_tiled_%s", suffix);
  if (kernel_max_wg (dev, name) >= 256) {
    const size_t global[2] = { (N + TILE - 1) / TILE * 16, (n_rows + TILE - 1) / TILE * 16 };
    const size_t local[2] = { 16, 16 };
    LAUNCH (dev, name, 2, global, local, ARGS_COMMON (n_rows));
  } else {
    const size_t global[2] = { (N + GEMM_TN - 1) / GEMM_TN, (n_rows + GEMM_TM - 1) / GEMM_TM };
    g_snprintf (name, sizeof name, "gemm_%s", suffix);
    LAUNCH (dev, name, 2, global, NULL, ARGS_COMMON (n_rows));
  }
#undef ARGS_COMMON
}

/* A quantized type's code in qlinear3_vnni (quant.cl's vnni_panel_of). */
static gint
vnni_type_code (VtpDType t)
{
  switch (t) {
    case VTP_DTYPE_Q8_0: return 0;
    case VTP_DTYPE_Q4_0: return 1;
    case VTP_DTYPE_Q4_K: return 2;
    case VTP_DTYPE_Q5_K: return 3;
    case VTP_DTYPE_Q6_K: return 4;
    case VTP_DTYPE_Q4_1: return 5;
    case VTP_DTYPE_Q5_0: return 6;
    case VTP_DTYPE_Q5_1: return 7;
    case VTP_DTYPE_Q3_K: return 8;
    case VTP_DTYPE_Q2_K: return 9;
    case VTP_DTYPE_IQ4_NL: return 10;
    case VTP_DTYPE_IQ4_XS: return 11;
    case VTP_DTYPE_IQ3_XXS: return 12;
    case VTP_DTYPE_IQ3_S: return 13;
    case VTP_DTYPE_IQ2_XXS: return 14;
    case VTP_DTYPE_IQ2_XS: return 15;
    case VTP_DTYPE_IQ2_S: return 16;
    case VTP_DTYPE_IQ1_S: return 17;
    default: g_assert (t == VTP_DTYPE_IQ1_M); return 18;
  }
}

gint
vtp_linear_gemv_panels (const VtpDevice *dev, const VtpTensor *w, gint *group)
{
  const gint64 K = vtp_tensor_cols (w);

  *group = 0;
  if (w->layout != LAYOUT_P16 || w->ndim != 2 || w->shape[0] % PANEL)
    return -1;
  if (vtp_dtype_is_quantized (w->dtype)) {
    /* linear's int8 GEMV (qlinear_vnni_<T>) */
    if (!vtp_linear_takes_int8 (w) || K > VNNI_MAX_K)
      return -1;
    *group = int8_group (w->dtype);
    return vnni_type_code (w->dtype);
  }
  /* linear's stream GEMV (linear_p16s_<T>) */
  if (!vtp_switch_on ("VTP_GEMV_STREAM"))
    return -1;
  switch (w->dtype) {
    case VTP_DTYPE_F32: return 32;
    case VTP_DTYPE_F16: return 33;
    case VTP_DTYPE_BF16: return 34;
    default: return -1;
  }
}

/* TRUE where gemv_<T>_<MR> computes @n_rows rows of x times @w: a GPU's
 * few-row product of plain float weights (the fused decode GEMVs built on
 * it: $VTP_GPU_FUSED=0 turns them off, for an A/B on a GPU). */
static gboolean
gpu_gemv_serves (const VtpDevice *dev, gint64 n_rows, const VtpTensor *w)
{
  return as_gpu (dev) && n_rows >= 1 && n_rows <= GEMV_MAX_ROWS && w->layout == LAYOUT_PLAIN && w->ndim == 2
      && !vtp_dtype_is_quantized (w->dtype) && vtp_weight_suffix (w->dtype) != NULL;
}

/* TRUE when @out is a product gemv3_<T> / gemv_swiglu_<T> can compute on
 * @n_rows rows of @x from @x_row, with weights of type @t. */
static gboolean
gpu_gemv_out_fits (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *out, VtpDType t)
{
  const VtpTensor *w = out->w, *b = out->bias;

  return gpu_gemv_serves (x->dev, n_rows, w) && w->dtype == t && vtp_tensor_cols (w) == vtp_tensor_cols (x)
      && x->dtype == VTP_DTYPE_F32 && rows_in (x, x_row, n_rows) && out->y->dtype == VTP_DTYPE_F32
      && vtp_tensor_cols (out->y) == w->shape[0] && rows_in (out->y, out->y_row, n_rows)
      && (!b || (b->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (b) == w->shape[0]));
}

/* The norm's arguments of a fused decode GEMV's _norm kind, after its
 * others: its weight, eps, the rmsnorm kernel's group size, x's row in
 * local memory (@K floats): linear.cl's GEMV_NORM_ARGS_1. */
#define NORM_ARGS(dev, norm_w, eps, K)                                         \
  A_MEM (norm_w), A_FLOAT (eps), A_INT ((dev)->reduce_wg), A_LOCAL ((K) * sizeof (float))

/* q | k | v (or gate | up) on a GPU in one launch of gemv3_<T>_<MR>; FALSE:
 * not launched (the caller runs them one by one). */
/* @rope fits q | k (outputs 0 and 1): whole heads, an angle row of the head size */
static gboolean
rope_fits (const VtpLinearRope *rope, const VtpLinearOut *outs, gint n_outs)
{
  const gint d = rope->head_dim;

  return n_outs >= 2 && d > 0 && d % 2 == 0 && outs[0].w->shape[0] % d == 0 && outs[1].w->shape[0] % d == 0
      && rope->table->dtype == VTP_DTYPE_F32 && vtp_tensor_cols (rope->table) == d
      && rows_in (rope->table, 0, 1);
}

static gboolean
gpu_gemv3 (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpTensor *norm_w, float eps,
    const VtpLinearOut *outs, gint n_outs, const VtpLinearRope *rope)
{
  VtpDevice *dev = x->dev;
  const gint64 K = vtp_tensor_cols (x);
  const gint mr = gemv_rows (n_rows);
  gint64 groups[3] = { 0, 0, 0 }, total = 0;
  size_t L, S;
  char name[48];

  g_return_val_if_fail (!rope || norm_w, FALSE);
  if (n_outs < 2 || n_outs > 3 || !vtp_switch_on ("VTP_GPU_FUSED")
      || (norm_w && !vtp_linear_norm_fits (x, n_rows, outs[0].w)) || (rope && !rope_fits (rope, outs, n_outs)))
    return FALSE;
  for (gint i = 0; i < n_outs; i++)
    if (!gpu_gemv_out_fits (x, x_row, n_rows, &outs[i], outs[0].w->dtype)
        || (norm_w && outs[i].w->shape[0] % 2 != 0))
      return FALSE;
  g_snprintf (name, sizeof name, "gemv3%s_%s_%d", norm_w ? "_norm" : "", vtp_weight_suffix (outs[0].w->dtype), mr);
  gemv_group (dev, name, K, &L, &S);
  for (gint i = 0; i < n_outs; i++) {
    /* the _norm kind's slots are pairs of rows (linear.cl's GEMV3_STORE_1) */
    const gint64 slots = norm_w ? outs[i].w->shape[0] / 2 : outs[i].w->shape[0];
    total += groups[i] = (slots + (gint64) (L / S) - 1) / (gint64) (L / S);
  }
  {
    /* a third output of none when there are two: the first's buffers, N = 0 */
    const VtpLinearOut *o2 = n_outs > 2 ? &outs[2] : &outs[0];
    const size_t global[2] = { total * L, (n_rows + mr - 1) / mr }, local[2] = { L, 1 };
#define GEMV3_ARGS(o, N)                                                       \
  A_MEM ((o)->w), A_OPT_MEM ((o)->bias), A_INT ((o)->bias != NULL), A_MEM ((o)->y), \
  A_INT ((o)->y_row * (o)->w->shape[0]), A_INT (N)
#define GEMV3_COMMON                                                           \
  A_MEM (x), A_INT (x_row * K), A_INT (n_rows), A_INT (K), A_INT (S), A_LOCAL (L * mr * sizeof (float)), \
  GEMV3_ARGS (&outs[0], outs[0].w->shape[0]), A_INT (groups[0]), GEMV3_ARGS (&outs[1], outs[1].w->shape[0]), \
  A_INT (groups[1]), GEMV3_ARGS (o2, n_outs > 2 ? o2->w->shape[0] : 0)
    if (norm_w)
      LAUNCH (dev, name, 2, global, local, GEMV3_COMMON, NORM_ARGS (dev, norm_w, eps, K),
          A_MEM (rope ? rope->table : x), A_INT (0),
          A_INT (rope ? rope->head_dim : 0), A_INT (rope && rope->interleaved));
    else
      LAUNCH (dev, name, 2, global, local, GEMV3_COMMON);
#undef GEMV3_COMMON
#undef GEMV3_ARGS
  }
  return TRUE;
}

gboolean
vtp_linear_norm_fits (const VtpTensor *x, gint64 n_rows, const VtpTensor *w)
{
  VtpDevice *dev = x->dev;
  const gint64 K = vtp_tensor_cols (x);
  size_t L, S;
  char name[48];

  if (n_rows != 1 || !gpu_gemv_serves (dev, n_rows, w) || vtp_tensor_cols (w) != K)
    return FALSE;
  /* both kernels' groups: the norm's sum in the rmsnorm kernel's order (its
   * work-group of reduce_wg; one work-item: row_sum16, whatever the
   * group), x's row and the lanes' sums in local memory */
  for (gint k = 0; k < 2; k++) {
    g_snprintf (name, sizeof name, "%s_%s_1", k ? "gemv_swiglu_norm" : "gemv3_norm", vtp_weight_suffix (w->dtype));
    gemv_group (dev, name, K, &L, &S);
    if ((dev->reduce_wg != 1 && L != dev->reduce_wg) || (guint64) (K + (gint64) L) * sizeof (float) > dev->local_mem)
      return FALSE;
  }
  return TRUE;
}

/* @norm_w: an F32 [K] norm weight, or NULL */
static gboolean
norm_ok (const VtpTensor *x, const VtpTensor *norm_w)
{
  return !norm_w || (norm_w->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (norm_w) == vtp_tensor_cols (x));
}

gboolean
vtp_linear_multi_norm_fused (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpTensor *norm_w, float eps,
    const VtpLinearOut *outs, gint n_outs, const VtpLinearRope *rope)
{
  return !vtp_error_is_pending () && norm_w && norm_ok (x, norm_w)
      && gpu_gemv3 (x, x_row, n_rows, norm_w, eps, outs, n_outs, rope);
}

gboolean
vtp_linear_swiglu_fits (const VtpTensor *x, gint64 n_rows, const VtpTensor *w_gate, const VtpTensor *w_up)
{
  return vtp_switch_on ("VTP_GPU_FUSED") && gpu_gemv_serves (x->dev, n_rows, w_gate)
      && gpu_gemv_serves (x->dev, n_rows, w_up)
      && w_up->dtype == w_gate->dtype && w_up->shape[0] == w_gate->shape[0]
      && vtp_tensor_cols (w_up) == vtp_tensor_cols (w_gate);
}

void
vtp_op_linear_swiglu (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *norm_w, float eps, const VtpTensor *w_gate, const VtpTensor *b_gate, const VtpTensor *w_up,
    const VtpTensor *b_up)
{
  VtpDevice *dev = x->dev;
  const gint64 K = vtp_tensor_cols (x), N = w_gate->shape[0];
  const VtpLinearOut gate = { y, y_row, w_gate, b_gate }, up = { y, y_row, w_up, b_up };
  const gint mr = gemv_rows (n_rows);
  size_t L, S;
  char name[48];

  if (vtp_error_is_pending ()
      || !check (vtp_linear_swiglu_fits (x, n_rows, w_gate, w_up)
          && gpu_gemv_out_fits (x, x_row, n_rows, &gate, w_gate->dtype)
          && gpu_gemv_out_fits (x, x_row, n_rows, &up, w_gate->dtype)
          && norm_ok (x, norm_w) && (!norm_w || vtp_linear_norm_fits (x, n_rows, w_gate)), "linear swiglu",
          "needs up to %d rows (1 after a norm), plain float gate and up weights of one type and shape, f32 "
          "activations", GEMV_MAX_ROWS))
    return;
  g_snprintf (name, sizeof name, "gemv_swiglu%s_%s_%d", norm_w ? "_norm" : "", vtp_weight_suffix (w_gate->dtype),
      mr);
  gemv_group (dev, name, K, &L, &S);
  {
    const size_t per_group = L / S;
    const size_t global[2] = { (N + per_group - 1) / per_group * L, (n_rows + mr - 1) / mr }, local[2] = { L, 1 };
#define SWIGLU_COMMON                                                          \
  A_MEM (x), A_INT (x_row * K), A_MEM (w_gate), A_OPT_MEM (b_gate), A_INT (b_gate != NULL), A_MEM (w_up), \
  A_OPT_MEM (b_up), A_INT (b_up != NULL), A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K), A_INT (N), \
  A_INT (S), A_LOCAL (L * mr * sizeof (float))
    if (norm_w)
      LAUNCH (dev, name, 2, global, local, SWIGLU_COMMON, NORM_ARGS (dev, norm_w, eps, K));
    else
      LAUNCH (dev, name, 2, global, local, SWIGLU_COMMON);
#undef SWIGLU_COMMON
  }
}

/* The outputs of vtp_op_linear_multi one launch can serve (their weights'
 * quantized types may differ). */
static gboolean
multi_fuses (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs, gint n_outs)
{
  const VtpDevice *dev = x->dev;
  const gint64 K = vtp_tensor_cols (x);

  if (n_rows != 1 || !dev->int8_dot || n_outs < 2 || n_outs > 3 || K > VNNI_MAX_K || x->dtype != VTP_DTYPE_F32
      || !rows_in (x, x_row, 1))
    return FALSE;
  for (gint i = 0; i < n_outs; i++) {
    const VtpTensor *w = outs[i].w, *y = outs[i].y, *b = outs[i].bias;
    if (!vtp_linear_takes_int8 (w) || w->ndim != 2 || vtp_tensor_cols (w) != K || w->shape[0] % PANEL || y->dtype != VTP_DTYPE_F32
        || vtp_tensor_cols (y) != w->shape[0] || !rows_in (y, outs[i].y_row, 1)
        || (b && (b->dtype != VTP_DTYPE_F32 || vtp_tensor_n_elements (b) != w->shape[0]))
        || int8_group (w->dtype) != int8_group (outs[0].w->dtype))   /* x quantized one way for all */
      return FALSE;
  }
  return TRUE;
}

void
vtp_op_linear (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  linear (y, y_row, x, x_row, n_rows, w, bias, accumulate, FALSE);
}

void
vtp_op_linear_rows (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  linear (y, y_row, x, x_row, n_rows, w, bias, accumulate, TRUE);
}

static void
linear_multi (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs, gint n_outs,
    gboolean as_rows)
{
  VtpDevice *dev = x->dev;
  const gint64 K = vtp_tensor_cols (x);
  gint np[3] = { 0, 0, 0 };
  gint64 total = 0, items;
  gint P;
  char name[48];

  if (vtp_error_is_pending ())
    return;
  if (gpu_gemv3 (x, x_row, n_rows, NULL, 0.0f, outs, n_outs, NULL))
    return;
  if (!multi_fuses (x, x_row, n_rows, outs, n_outs)) {
    const XCopy kind = n_outs > 0 ? xcopy_kind (dev, n_rows, outs[0].w, as_rows) : XCOPY_NONE;
    gboolean share = kind != XCOPY_NONE && x->dtype == VTP_DTYPE_F32 && rows_in (x, x_row, n_rows);
    for (gint i = 0; i < n_outs; i++)
      share = share && xcopy_kind (dev, n_rows, outs[i].w, as_rows) == kind && vtp_tensor_cols (outs[i].w) == K
          && vtp_tensor_cols (outs[i].y) == outs[i].w->shape[0] && outs[i].y->dtype == VTP_DTYPE_F32
          && rows_in (outs[i].y, outs[i].y_row, n_rows)
          && (!outs[i].bias || (outs[i].bias->dtype == VTP_DTYPE_F32
                  && vtp_tensor_n_elements (outs[i].bias) == outs[i].w->shape[0]));
    if (share && n_outs > 1) {
      /* the products of many rows on a copy of x: converted once for all */
      xcopy_products (dev, kind, x, x_row, n_rows, outs, n_outs, FALSE);
      return;
    }
    for (gint i = 0; i < n_outs; i++)
      linear (outs[i].y, outs[i].y_row, x, x_row, n_rows, outs[i].w, outs[i].bias, FALSE, as_rows);
    return;
  }
  for (gint i = 0; i < n_outs; i++)
    total += np[i] = (gint) (outs[i].w->shape[0] / PANEL);
  P = vnni_panels_per_item (dev, total);
  items = (total + P - 1) / P;
  {
    /* a third product of none when there are two: the first's buffers, 0 panels */
    const VtpLinearOut *o2 = n_outs > 2 ? &outs[2] : &outs[0];
    const size_t global[1] = { items }, one[1] = { 1 };
    g_strlcpy (name, "qlinear3_vnni", sizeof name);
    LAUNCH (dev, name, 1, global, one, A_MEM (x), A_INT (x_row * K), A_INT (K), A_INT (P),
        A_INT (int8_group (outs[0].w->dtype)), A_MEM (outs[0].w), A_OPT_MEM (outs[0].bias), A_INT (outs[0].bias != NULL), A_MEM (outs[0].y),
        A_INT (outs[0].y_row * outs[0].w->shape[0]), A_INT (np[0]), A_INT (vnni_type_code (outs[0].w->dtype)),
        A_MEM (outs[1].w), A_OPT_MEM (outs[1].bias), A_INT (outs[1].bias != NULL), A_MEM (outs[1].y),
        A_INT (outs[1].y_row * outs[1].w->shape[0]), A_INT (np[1]), A_INT (vnni_type_code (outs[1].w->dtype)),
        A_MEM (o2->w), A_OPT_MEM (o2->bias), A_INT (o2->bias != NULL), A_MEM (o2->y),
        A_INT (o2->y_row * o2->w->shape[0]), A_INT (np[2]), A_INT (vnni_type_code (o2->w->dtype)));
  }
}

void
vtp_op_linear_multi (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs, gint n_outs)
{
  linear_multi (x, x_row, n_rows, outs, n_outs, FALSE);
}

void
vtp_op_linear_multi_rows (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpLinearOut *outs, gint n_outs)
{
  linear_multi (x, x_row, n_rows, outs, n_outs, TRUE);
}
