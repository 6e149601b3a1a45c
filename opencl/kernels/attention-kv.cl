/* attention-kv.cl: the kernels that read or write the key and value
 * caches, built three times (vtp-device.c puts this file in the program
 * three times): with KV_TYPE 0 for F32 caches, under the names below, with
 * KV_TYPE 1 for F16 caches (kv-type=f16), the names with _f16 after them,
 * and with KV_TYPE 2 for Q8_0 caches (kv-type=q8_0), the names with _q8_0.
 * Caches hold rows of n_kv_heads * head_dim values, addressed by the index
 * of a value (a Q8_0 cache's values sit in llama.cpp's blocks of 32: an F16
 * scale, then 32 int8). An F16 cache's values are the F32 keys and values
 * rounded to nearest even when written; a Q8_0 cache's, a block's values
 * quantized as ggml's quantize_row_q8_0_ref does (kv_store_block). Both
 * are widened exactly when read (an int8 times an F16 scale fits a float),
 * so the arithmetic is the F32 kernels' on those values. */

#if KV_TYPE == 1
#define KV_T half
#define KV_NAME(n) n##_f16
#define kv_load(p, i) vload_half (0, (p) + (i))
#define kv_load8(p, i) vload_half8 (0, (p) + (i))
#define kv_store(x, p, i) vstore_half_rte ((x), 0, (p) + (i))
#define kv_bytes_at(p, i) ((__global const uchar *) ((p) + (i)))
#define kv_row_bytes(d) ((d) * 2)
#elif KV_TYPE == 2
#define KV_T uchar
#define KV_NAME(n) n##_q8_0
/* value i's block, and its int8 */
#define kv_block(p, i) ((p) + (size_t) ((i) >> 5) * 34)
/* the block's scale: PoCL's scalar vload_half is a slow routine, its
 * vector form one instruction (16 bytes of the 34-byte block converted,
 * the first kept: 2.8x faster decode attention than vload_half) */
#define kv_scale(p, i) vload_half8 (0, (__global const half *) kv_block (p, i)).s0
#define kv_load(p, i) ((float) ((__global const char *) kv_block (p, i))[2 + ((i) & 31)] * kv_scale (p, i))
/* 8 values from i, a multiple of 8: never across a block */
#define kv_load8(p, i) (convert_float8 (vload8 (0, (__global const char *) kv_block (p, i) + 2 + ((i) & 31))) \
    * kv_scale (p, i))
/* 16 values from i, a multiple of 16: half a block, one scale */
#define kv_load16(p, i) (convert_float16 (vload16 (0, (__global const char *) kv_block (p, i) + 2 + ((i) & 31))) \
    * kv_scale (p, i))
#define kv_bytes_at(p, i) ((__global const uchar *) kv_block (p, i))
#define kv_row_bytes(d) (((d) / 32 + 1) * 34)

/* Values x[0 .. 31] into the block at @b, as ggml's quantize_row_q8_0_ref
 * (and the gguf package): d = amax / 127, each value times 1 / d rounded
 * half away from zero, d stored as F16 (to nearest even). */
inline void kv_store_block (__global const float *x, __global uchar *b)
{
  float amax = 0.0f;
  for (int i = 0; i < 32; i++)
    amax = fmax (amax, fabs (x[i]));
  const float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
  vstore_half_rte (d, 0, (__global half *) b);
  for (int i = 0; i < 32; i++)
    ((__global char *) b)[2 + i] = (char) convert_int (round (x[i] * id));
}
#else
#define KV_T float
#define KV_NAME(n) n
#define kv_load(p, i) ((p)[i])
#define kv_load8(p, i) vload8 (0, (p) + (i))
#define kv_store(x, p, i) ((p)[i] = (x))
#define kv_bytes_at(p, i) ((__global const uchar *) ((p) + (i)))
#define kv_row_bytes(d) ((d) * 4)
#endif

/* The d values from value i of cache @p into the cache ahead of their use
 * (CPUs under PoCL): one head's rows are a whole row of all heads apart,
 * 4-16 KB, too far for the hardware prefetcher, so a decode step's walk
 * down the keys and values waited on each row's lines in turn. */
#ifdef VTP_POCL_CPU
#define kv_prefetch_row_to(p, i, d, locality)                                  \
  for (int pf_ = 0; pf_ < kv_row_bytes (d); pf_ += 64)                         \
    __builtin_prefetch (kv_bytes_at (p, i) + pf_, 0, locality)
#define kv_prefetch_row(p, i, d) kv_prefetch_row_to (p, i, d, 3)
#define kv_prefetch_row_l2(p, i, d) kv_prefetch_row_to (p, i, d, 1)
#else
#define kv_prefetch_row(p, i, d)
#define kv_prefetch_row_l2(p, i, d)
#endif

/* The exponentials of the scores s[0 .. last - 1] less their maximum @mx,
 * in place, a work-item's share (@lid of @lsz): returns the sum of its
 * share. In float8 steps: vector exp is several times cheaper. */
inline float KV_NAME (exp_scores) (__global float *s, int last, float mx, int lid, int lsz)
{
  float8 sum8 = 0.0f;
  float sum = 0.0f;
  const int last8 = last & ~7;
  for (int j = lid * 8; j < last8; j += lsz * 8) {
    const float8 e = exp (vload8 (0, s + j) - mx);
    vstore8 (e, 0, s + j);
    sum8 += e;
  }
  for (int j = last8 + lid; j < last; j += lsz) {
    const float e = exp (s[j] - mx);
    s[j] = e;
    sum += e;
  }
  return sum + hsum8 (sum8);
}

/* After the key pass of attend_row: the softmax of the scores s[0 .. last
 * - 1] (@mx: their maximum over this work-item's keys) and the value rows
 * from index vh (rows kv_stride apart) weighed by it, into o. */
inline void KV_NAME (weigh_values) (__global const KV_T *v, size_t vh, int kv_stride, int last, int d, float mx,
    __global float *s, __global float *o, int lid, int lsz, __local float *scratch)
{
  const int d8 = d & ~7;

  mx = group_max (mx, scratch);
  const float inv = 1.0f / group_sum (KV_NAME (exp_scores) (s, last, mx, lid, lsz), scratch);
  barrier (CLK_GLOBAL_MEM_FENCE);

  if (lsz == 1 && d8 == d && d <= 8 * ATTENTION_MAX_D8) {
    /* one work-item: walk the value rows in order, accumulating all of d */
    float8 acc[ATTENTION_MAX_D8];
    const int n8 = d / 8;
    for (int c = 0; c < n8; c++)
      acc[c] = 0.0f;
    for (int j = 0; j < last; j++) {
      const float p = s[j];
      const size_t vr = vh + (size_t) j * kv_stride;
      if (j + KV_PREFETCH_ROWS < last)
        kv_prefetch_row (v, vr + (size_t) KV_PREFETCH_ROWS * kv_stride, d);
#if KV_TYPE == 2
      if ((d & 15) == 0)
        for (int c = 0; c < n8; c += 2) {
          const float16 vv = kv_load16 (v, vr + 8 * c);
          acc[c] = fma ((float8) p, vv.lo, acc[c]);
          acc[c + 1] = fma ((float8) p, vv.hi, acc[c + 1]);
        }
      else
#endif
      for (int c = 0; c < n8; c++)
        acc[c] = fma ((float8) p, kv_load8 (v, vr + 8 * c), acc[c]);
    }
    for (int c = 0; c < n8; c++)
      vstore8 (acc[c] * inv, c, o);
    return;
  }
  for (int c = lid * 8; c < d8; c += lsz * 8) {
    float8 acc = 0.0f;
    for (int j = 0; j < last; j++)
      acc = fma ((float8) s[j], kv_load8 (v, vh + (size_t) j * kv_stride + c), acc);
    vstore8 (acc * inv, 0, o + c);
  }
  for (int c = d8 + lid; c < d; c += lsz) {
    float acc = 0.0f;
    for (int j = 0; j < last; j++)
      acc = fma (s[j], kv_load (v, vh + (size_t) j * kv_stride + c), acc);
    o[c] = acc * inv;
  }
}

/* The dot products of queries qr + u qstep with the key rows from index kr
 * + u kstep of cache k (u < n <= 4, 1 <= n), each summed in one order (float8
 * lanes along the row, then hsum8, then the tail; the same bits whichever
 * caller), the n in independent chains of multiply-adds. attend_row takes
 * 4 keys of one query (qstep 0), attend_group one key for 4 query heads
 * (kstep 0: the key row read, and widened, once for the 4). */
inline float4 KV_NAME (dot4) (__global const float *qr, int qstep, __global const KV_T *k, size_t kr, size_t kstep,
    int d, int n)
{
  const int d8 = d & ~7;
  /* lanes u >= n repeat lane n - 1 (their sums unused): no branch on u, so
   * the compiler keeps the loads a zero step makes alike as one */
  const int q1 = min (1, n - 1) * qstep, q2 = min (2, n - 1) * qstep, q3 = min (3, n - 1) * qstep;
  const size_t k1 = min (1, n - 1) * kstep, k2 = min (2, n - 1) * kstep, k3 = min (3, n - 1) * kstep;
  const int qo[4] = { 0, q1, q2, q3 };
  const size_t ko[4] = { 0, k1, k2, k3 };
  float8 a8[4];
  float a[4];

#pragma unroll
  for (int u = 0; u < 4; u++) {
    a8[u] = 0.0f;
    a[u] = 0.0f;
  }
#if KV_TYPE == 2
  /* Q8_0: 16 values a scale (heads start on a multiple of 16 when d is
   * one; rows are whole blocks), the same products in the same order */
  if ((d & 15) == 0) {
    for (int c = 0; c < d; c += 16)
#pragma unroll
      for (int u = 0; u < 4; u++) {
        const float16 kk = kv_load16 (k, kr + ko[u] + c);
        a8[u] = fma (vload8 (0, qr + qo[u] + c), kk.lo, a8[u]);
        a8[u] = fma (vload8 (0, qr + qo[u] + c + 8), kk.hi, a8[u]);
      }
  } else
#endif
  for (int c = 0; c < d8; c += 8)
#pragma unroll
    for (int u = 0; u < 4; u++)
      a8[u] = fma (vload8 (0, qr + qo[u] + c), kv_load8 (k, kr + ko[u] + c), a8[u]);
  for (int c = d8; c < d; c++)
#pragma unroll
    for (int u = 0; u < 4; u++)
      a[u] = fma (qr[qo[u] + c], kv_load (k, kr + ko[u] + c), a[u]);
  return (float4) (a[0] + hsum8 (a8[0]), a[1] + hsum8 (a8[1]), a[2] + hsum8 (a8[2]), a[3] + hsum8 (a8[3]));
}

/* One query row of one head: qr its d values, kh / vh the indices of the
 * head's first key / value in caches k / v (rows kv_stride apart), keys 0
 * .. last - 1, pb the position bias by key (or none), s the scores'
 * scratch (last floats), o the output row; the work-group's lsz items
 * share the keys. */
inline void KV_NAME (attend_row) (__global const float *qr, __global const KV_T *k, __global const KV_T *v,
    size_t kh, size_t vh, int kv_stride, int last, int d, float scale, __global const float *pb, __global float *s,
    __global float *o, int lid, int lsz, __local float *scratch)
{
  float mx = -INFINITY;
  int j = lid;
  /* one work-item (CPUs): 4 keys at a time (4 chains of multiply-adds
   * instead of one: a Q8_0 cache's decode step at depth 1025, 7B's heads,
   * 0.47 -> 0.40 ms; F32 and F16 ones, held by their rows' cache misses,
   * unchanged) */
  for (; lsz == 1 && j + 4 <= last; j += 4) {
    const size_t kr = kh + (size_t) j * kv_stride;
#pragma unroll
    for (int u = 0; u < 4; u++)
      if (j + u + KV_PREFETCH_ROWS < last)
        kv_prefetch_row (k, kr + (size_t) (u + KV_PREFETCH_ROWS) * kv_stride, d);
    const float4 dots = KV_NAME (dot4) (qr, 0, k, kr, kv_stride, d, 4) * scale;
#pragma unroll
    for (int u = 0; u < 4; u++) {
      float x = dots[u];
      if (pb)
        x += pb[j + u];
      s[j + u] = x;
      mx = fmax (mx, x);
    }
  }
  for (; j < last; j += lsz) {
    const size_t kr = kh + (size_t) j * kv_stride;
    if (j + KV_PREFETCH_ROWS * lsz < last)
      kv_prefetch_row (k, kr + (size_t) KV_PREFETCH_ROWS * lsz * kv_stride, d);
    float x = KV_NAME (dot4) (qr, 0, k, kr, 0, d, 1).s0 * scale;
    if (pb)
      x += pb[j];
    s[j] = x;
    mx = fmax (mx, x);
  }
  KV_NAME (weigh_values) (v, vh, kv_stride, last, d, mx, s, o, lid, lsz, scratch);
}

__kernel void KV_NAME (attention) (__global const float *q, int q_off, int q_stride,
    __global const KV_T *k, __global const KV_T *v, int kv_off, int kv_stride,
    __global float *out, int out_off, int out_stride,
    __global float *scores, int nq, int nk, int H, int Hkv, int d,
    int causal, int q_pos0, float scale, __global const float *pos_bias, int pb_stride, int pb_center,
    __local float *scratch)
{
  const int qi = get_group_id (0), h = get_group_id (1);
  const int g = h / (H / Hkv);
  const int last = causal ? min (nk, q_pos0 + qi + 1) : nk;
  __global const float *pb = pb_stride > 0 ? pos_bias + h * pb_stride + pb_center - (q_pos0 + qi) : 0;

  KV_NAME (attend_row) (q + q_off + (size_t) qi * q_stride + h * d, k, v, (size_t) kv_off + g * d,
      (size_t) kv_off + g * d, kv_stride, last, d, scale, pb, scores + ((size_t) h * nq + qi) * nk, out + out_off + (size_t) qi * out_stride + h * d,
      get_local_id (0), get_local_size (0), scratch);
}

/* One work-item's share of grouped-query attention on CPUs (attend_group's
 * way for head sizes other than 64 and 128): query heads
 * h0 .. h1 - 1 (those of one kv head; head h's query at qr + (h - h0) d,
 * its scores at s + (h - h0) s_stride, its output at o + (h - h0) d) over
 * keys 0 .. last - 1 from index kh (rows kv_stride apart), 4 heads at a
 * time over each key row: a row is read (and widened) once for 4 heads
 * instead of once a head, with 4 independent chains of multiply-adds. Each
 * head's scores are attend_row's products in its order (the same bits),
 * then its softmax and value pass are attend_row's (weigh_values). */
inline void KV_NAME (attend_group4) (__global const float *qr, int h0, int h1, __global const KV_T *k,
    __global const KV_T *v, size_t kh, int kv_stride, int last, int d, float scale, __global float *s,
    size_t s_stride, __global float *o, __local float *scratch)
{
  for (int b = h0; b < h1; b += 4, qr += 4 * d, s += 4 * s_stride, o += 4 * d) {
    const int n = min (4, h1 - b);
    float mx[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };

    for (int j = 0; j < last; j++) {
      const size_t kr = kh + (size_t) j * kv_stride;

      if (j + KV_PREFETCH_ROWS < last)
        kv_prefetch_row (k, kr + (size_t) KV_PREFETCH_ROWS * kv_stride, d);
      const float4 dots = KV_NAME (dot4) (qr, d, k, kr, 0, d, n) * scale;
#pragma unroll
      for (int u = 0; u < 4; u++)
        if (u < n) {
          s[u * s_stride + j] = dots[u];
          mx[u] = fmax (mx[u], dots[u]);
        }
    }
    for (int u = 0; u < n; u++)
      KV_NAME (weigh_values) (v, kh, kv_stride, last, d, mx[u], s + u * s_stride, o + u * d, 0, 1, scratch);
  }
}

/* Values i .. i + 15 of cache @p as floats (i a multiple of 16: never
 * across a Q8_0 block's scale); the values kv_load8 widens */
#if KV_TYPE == 1
#define kv_load16v(p, i) vload_half16 (0, (p) + (i))
#elif KV_TYPE == 2
#define kv_load16v(p, i) kv_load16 (p, i)
#else
#define kv_load16v(p, i) vload16 (0, (p) + (i))
#endif

/* The value pass of attend_heads8 for heads of D16 * 16 values: heads 0 ..
 * n - 1's weights (exp_scores' exponentials, head u's at s + u s_stride,
 * times inv[u]) over value rows 0 .. last - 1 from index vh, VH heads at a
 * time (VH * D16 = 16 accumulators), each row widened once for them; each
 * output value one chain of multiply-adds down the rows, as weigh_values'
 * (the same bits). */
#define DEFINE_VALUES16(D16, VH)                                               \
inline void KV_NAME (values16_##D16) (__global const KV_T *v, size_t vh, int kv_stride, int last, \
    __global const float *s, size_t s_stride, int n, const float *inv, __global float *o) \
{                                                                              \
  for (int u0 = 0; u0 < n; u0 += VH) {                                         \
    const int m = min (VH, n - u0);                                            \
    float16 acc[VH][D16];                                                      \
    _Pragma ("unroll") for (int u = 0; u < VH; u++)                            \
      _Pragma ("unroll") for (int c = 0; c < D16; c++)                         \
        acc[u][c] = 0.0f;                                                      \
    for (int j = 0; j < last; j++) {                                           \
      const size_t vr = vh + (size_t) j * kv_stride;                           \
      float pj[VH];                                                            \
      if (j + KV_PREFETCH_ROWS < last)                                         \
        kv_prefetch_row (v, vr + (size_t) KV_PREFETCH_ROWS * kv_stride, 16 * D16); \
      _Pragma ("unroll") for (int u = 0; u < VH; u++)                          \
        pj[u] = u < m ? s[(size_t) (u0 + u) * s_stride + j] : 0.0f;            \
      _Pragma ("unroll") for (int c = 0; c < D16; c++) {                       \
        const float16 vv = kv_load16v (v, vr + 16 * c);                        \
        _Pragma ("unroll") for (int u = 0; u < VH; u++)                        \
          acc[u][c] = fma ((float16) pj[u], vv, acc[u][c]);                    \
      }                                                                        \
    }                                                                          \
    for (int u = 0; u < m; u++)                                                \
      _Pragma ("unroll") for (int c = 0; c < D16; c++)                         \
        vstore16 (acc[u][c] * inv[u0 + u], 0, o + (size_t) (u0 + u) * 16 * D16 + 16 * c); \
  }                                                                            \
}
DEFINE_VALUES16 (4, 4)
DEFINE_VALUES16 (8, 2)

/* attend_group's query heads b .. b + n - 1 (n <= 8) for head sizes d of
 * 64 and 128: a pass over the keys for all n, two heads in the 16 lanes of
 * a float16 (lanes 0-7 the first's 8 chains of multiply-adds along the key
 * row, dot4's in its order: the same bits; lanes 8-15 the second's), each
 * key row widened once for the n; each head's softmax (exp_scores, as
 * weigh_values: the same bits); the
 * value rows widened once for 4 heads of 64 or 2 of 128 (values16_<d/16>).
 * At the 1.1B's decode depth of 544 (8 heads a kv head of 64), with 4
 * heads a pass over the keys (a float8 a head) and a pass over the values
 * a head (attend_group4), the attention took ~4x the time of reading its
 * caches. */
inline void KV_NAME (attend_heads8) (__global const float *qr, int n, __global const KV_T *k,
    __global const KV_T *v, size_t kh, int kv_stride, int last, int d, float scale, __global float *s,
    size_t s_stride, __global float *o)
{
  const int n16 = d / 16, np = (n + 1) / 2;
  float16 qp[4][16];
  float mx[8], inv[8];

  for (int p = 0; p < np; p++) {
    const int a = 2 * p, b = min (2 * p + 1, n - 1);
    for (int c = 0; c < 2 * n16; c++)
      qp[p][c] = (float16) (vload8 (0, qr + (size_t) a * d + 8 * c), vload8 (0, qr + (size_t) b * d + 8 * c));
  }
  float16 mxv[4] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY };
  for (int j = 0; j < last; j++) {
    const size_t kr = kh + (size_t) j * kv_stride;
    float16 acc[4] = { 0.0f, 0.0f, 0.0f, 0.0f };

    if (j + KV_PREFETCH_ROWS < last)
      kv_prefetch_row (k, kr + (size_t) KV_PREFETCH_ROWS * kv_stride, d);
#if ATT_V_AHEAD
    kv_prefetch_row_l2 (v, kr, d);
#endif
    for (int c = 0; c < n16; c++) {
      const float16 kk = kv_load16v (k, kr + 16 * c);
      const float16 lo = (float16) (kk.lo, kk.lo), hi = (float16) (kk.hi, kk.hi);
#pragma unroll
      for (int p = 0; p < 4; p++)
        if (p < np) {
          acc[p] = fma (qp[p][2 * c], lo, acc[p]);
          acc[p] = fma (qp[p][2 * c + 1], hi, acc[p]);
        }
    }
#pragma unroll
    for (int p = 0; p < 4; p++)
      if (p < np) {
        /* hsum8 of each half in the vector: its additions, pair by pair
         * (lanes 0 and 8 end with the sums); then dot4's: the tail's 0
         * plus the lanes', times the scale */
        const float16 h4 = acc[p] + acc[p].s45670123cdef89ab;
        const float16 h2 = h4 + h4.s1032547698badcfe;
        const float16 dot = (0.0f + (h2 + h2.s23016745ab89efcd)) * scale;
        mxv[p] = fmax (mxv[p], dot);
        s[(size_t) (2 * p) * s_stride + j] = dot.s0;
        if (2 * p + 1 < n)
          s[(size_t) (2 * p + 1) * s_stride + j] = dot.s8;
      }
  }
  for (int p = 0; p < np; p++) {
    mx[2 * p] = mxv[p].s0;
    mx[2 * p + 1] = mxv[p].s8;
  }
  for (int u = 0; u < n; u++)
    inv[u] = 1.0f / KV_NAME (exp_scores) (s + (size_t) u * s_stride, last, mx[u], 0, 1);
  if (d == 64)
    KV_NAME (values16_4) (v, kh, kv_stride, last, s, s_stride, n, inv, o);
  else
    KV_NAME (values16_8) (v, kh, kv_stride, last, s, s_stride, n, inv, o);
}

/* One work-item's share of grouped-query attention on CPUs: query heads
 * h0 .. h1 - 1 (those of one kv head; head h's query at qr + (h - h0) d,
 * its scores at s + (h - h0) s_stride, its output at o + (h - h0) d) over
 * keys 0 .. last - 1 from index kh (rows kv_stride apart): each key row
 * read and widened once for several heads, each head's scores attend_row's
 * products in its order (the same bits), then its softmax and value pass
 * attend_row's arithmetic (weigh_values): attend_heads8 for heads of 64
 * and 128, attend_group4 for the others. */
inline void KV_NAME (attend_group) (__global const float *qr, int h0, int h1, __global const KV_T *k,
    __global const KV_T *v, size_t kh, int kv_stride, int last, int d, float scale, __global float *s,
    size_t s_stride, __global float *o, __local float *scratch)
{
  if (ATTEND_HEADS8 && (d == 64 || d == 128)) {
    for (int b = h0; b < h1; b += 8)
      KV_NAME (attend_heads8) (qr + (size_t) (b - h0) * d, min (8, h1 - b), k, v, kh, kv_stride, last, d, scale,
          s + (size_t) (b - h0) * s_stride, s_stride, o + (size_t) (b - h0) * d);
    return;
  }
  KV_NAME (attend_group4) (qr, h0, h1, k, v, kh, kv_stride, last, d, scale, s, s_stride, o, scratch);
}

/* Grouped-query attention on CPUs (attend_group): one work-item a (query
 * row, kv head), its rep = H / Hkv query heads. No position bias: the
 * host takes this kernel only without one. */
__kernel void KV_NAME (attention_gqa) (__global const float *q, int q_off, int q_stride,
    __global const KV_T *k, __global const KV_T *v, int kv_off, int kv_stride,
    __global float *out, int out_off, int out_stride,
    __global float *scores, int nq, int nk, int H, int Hkv, int d,
    int causal, int q_pos0, float scale, __local float *scratch)
{
  const int qi = get_global_id (0), g = get_global_id (1), rep = H / Hkv, h0 = g * rep;
  const int last = causal ? min (nk, q_pos0 + qi + 1) : nk;

  KV_NAME (attend_group) (q + q_off + (size_t) qi * q_stride + (size_t) h0 * d, h0, h0 + rep, k, v,
      (size_t) kv_off + g * d, kv_stride, last, d, scale, scores + ((size_t) h0 * nq + qi) * nk, (size_t) nq * nk,
      out + out_off + (size_t) qi * out_stride + (size_t) h0 * d, scratch);
}

/* Decode steps of up to 4 streams of one model in one launch (batched
 * decoding, vtp-llama-batch.c): row row0 + i of q / out is stream i's
 * query (one position), which attends over keys 0 .. nk_i - 1 of its own caches
 * (k_i, v_i: rows kv_stride apart) with its own scores' scratch s_i, and
 * with a position bias where pbs_i (the bias table's row stride) is not 0:
 * head h's bias of key j at pb_i[h pbs_i + pbo_i + j] (T5).
 * One work-group per (stream, head); with @gqa (CPUs, no position bias),
 * one work-item per (stream, kv head), its query heads together
 * (attend_group). */
#define STREAM_ARGS(i) __global const KV_T *k##i, __global const KV_T *v##i, __global float *s##i, int nk##i, \
  __global const float *pb##i, int pbs##i, int pbo##i
__kernel void KV_NAME (attention_streams4) (int row0, __global const float *q, int q_stride, __global float *out,
    int out_stride, int kv_stride, int H, int Hkv, int d, float scale, __local float *scratch, int gqa,
    STREAM_ARGS (0), STREAM_ARGS (1), STREAM_ARGS (2), STREAM_ARGS (3))
{
  const int i = get_group_id (0), h = get_group_id (1), g = gqa ? h : h / (H / Hkv);
  __global const KV_T *k = i == 0 ? k0 : i == 1 ? k1 : i == 2 ? k2 : k3;
  __global const KV_T *v = i == 0 ? v0 : i == 1 ? v1 : i == 2 ? v2 : v3;
  __global float *s = i == 0 ? s0 : i == 1 ? s1 : i == 2 ? s2 : s3;
  const int nk = i == 0 ? nk0 : i == 1 ? nk1 : i == 2 ? nk2 : nk3;
  __global const float *pbt = i == 0 ? pb0 : i == 1 ? pb1 : i == 2 ? pb2 : pb3;
  const int pbs = i == 0 ? pbs0 : i == 1 ? pbs1 : i == 2 ? pbs2 : pbs3;
  const int pbo = i == 0 ? pbo0 : i == 1 ? pbo1 : i == 2 ? pbo2 : pbo3;
  __global const float *pb = pbs > 0 ? pbt + h * pbs + pbo : 0;

  if (gqa) {
    const int rep = H / Hkv, h0 = g * rep;
    KV_NAME (attend_group) (q + (size_t) (row0 + i) * q_stride + (size_t) h0 * d, h0, h0 + rep, k, v, g * d,
        kv_stride, nk, d, scale, s + (size_t) h0 * nk, nk, out + (size_t) (row0 + i) * out_stride + (size_t) h0 * d,
        scratch);
    return;
  }
  KV_NAME (attend_row) (q + (size_t) (row0 + i) * q_stride + h * d, k, v, g * d, g * d, kv_stride, nk, d, scale, pb,
      s + (size_t) h * nk, out + (size_t) (row0 + i) * out_stride + h * d, get_local_id (0), get_local_size (0),
      scratch);
}

/* The new key and value rows of up to 4 streams (rows row0 + i of kn /
 * vn, w floats) into row pos_i of each stream's caches (k_i, v_i). One work-item
 * a stream. (A Q8_0 cache's w is a multiple of 32: vtp-ops.c checks.) */
#define APPEND_ARGS(i) __global KV_T *k##i, __global KV_T *v##i, int pos##i
__kernel void KV_NAME (kv_append4) (int row0, __global const float *kn, __global const float *vn, int w,
    APPEND_ARGS (0), APPEND_ARGS (1), APPEND_ARGS (2), APPEND_ARGS (3))
{
  const int i = get_global_id (0);
  __global KV_T *k = i == 0 ? k0 : i == 1 ? k1 : i == 2 ? k2 : k3;
  __global KV_T *v = i == 0 ? v0 : i == 1 ? v1 : i == 2 ? v2 : v3;
  const int pos = i == 0 ? pos0 : i == 1 ? pos1 : i == 2 ? pos2 : pos3;

#if KV_TYPE == 2
  for (int c = 0; c < w; c += 32) {
    kv_store_block (kn + (size_t) (row0 + i) * w + c, kv_block (k, (size_t) pos * w + c));
    kv_store_block (vn + (size_t) (row0 + i) * w + c, kv_block (v, (size_t) pos * w + c));
  }
#else
  for (int c = 0; c < w; c++) {
    kv_store (kn[(size_t) (row0 + i) * w + c], k, (size_t) pos * w + c);
    kv_store (vn[(size_t) (row0 + i) * w + c], v, (size_t) pos * w + c);
  }
#endif
}

/* The CPU kernel for many query rows: a work-item takes 32 query rows of one
 * head, in the 16 lanes of two float16 (rows r0 .. r0 + 15 and r0 + 16 ..
 * r0 + 31), so a key's scores for all the rows are two vectors: the dot
 * products need no horizontal sums, the softmax's maximum and sum run down
 * the keys lane by lane, and every element of a key or value row broadcast
 * from memory serves 32 rows (with 16 rows, the broadcasts, one per
 * multiply-add, held the kernel to ~70% of the FMA peak). The query block
 * is transposed once into private memory (qt[c] = the rows' element c).
 * Scores go through @scores as [key][32 rows], in the work-item's region
 * of 32 × nk floats. Three passes over the keys, each streaming from L2:
 * scores and their maximum, exponentials and their sum, then the value
 * rows, 8 output columns at a time (16 accumulators). A work-item takes a
 * head's blocks of 32 rows one after the other (or a share of them, where
 * the heads are fewer than 8) and reuses its region, which stays in its
 * core's L2: with a work-item and a region per block, the scores (21 MB a
 * ViT-L layer) were written to and read back from memory (2 cores of the
 * Intel Xeon with AMX, the F16 encode's attention, VTP_PROFILE_KERNELS=1:
 * 14.1-14.7 -> 11.7-12.3 ms a layer). */

/* Keys a pass-1 step takes (ATTN_KEYS): 8, 16 accumulators of 16 floats,
 * which AVX-512's 32 registers hold; x86 CPUs without it (16 registers of
 * 8 floats) take 2 keys, and 4 value columns in pass 3 (ATTN_COLS): on 2
 * cores of a Zen 3 EPYC the ViT-L layer's attention (vtp-bench-attention
 * 577 577 16 16 64 10, 3 alternating runs, best) 24.0-24.3 ms with 8 and
 * 8, 14.1-15.3 with 2 and 4 (4 and 4: 16.4-16.7; 2 and 2: 15.7-17.9).
 * -DATTN_KEYS=N / -DATTN_COLS=N to try others. */
#ifndef ATTN_KEYS
#if defined(VTP_POCL_CPU) && !defined(VTP_X86_AVX512)
#define ATTN_KEYS 2
#else
#define ATTN_KEYS 8
#endif
#endif
/* ... and the columns of the values a pass-3 step takes (a divisor of 8) */
#ifndef ATTN_COLS
#if defined(VTP_POCL_CPU) && !defined(VTP_X86_AVX512)
#define ATTN_COLS 4
#else
#define ATTN_COLS 8
#endif
#endif

inline void KV_NAME (rows16_block) (__global const float *q, int q_off, int q_stride,
    __global const KV_T *k, __global const KV_T *v, int kv_off, int kv_stride,
    __global float *out, int out_off, int out_stride,
    __global float *st, int nq, int nk, int h, int g, int d,
    int causal, int q_pos0, float scale, int r0)
{
  const int nrows = min (32, nq - r0);
  const int first_masked = q_pos0 + r0 + 1;    /* keys from here are hidden from some rows */
  const int last = causal ? min (nk, q_pos0 + r0 + nrows) : nk;
  const size_t kh = (size_t) kv_off + g * d, vh = kh;
  const float16 lane = (float16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const float16 pos_a = (float16) (q_pos0 + r0) + lane, pos_b = pos_a + 16.0f;
  float qt[ATTN16_MAX_D * 32];

  for (int r = 0; r < 32; r++) {
    __global const float *qr = q + q_off + (size_t) (r0 + r) * q_stride + h * d;
    for (int c = 0; c < d; c++)
      qt[c * 32 + r] = r < nrows ? qr[c] : 0.0f;
  }

  /* pass 1: scores, ATTN_KEYS keys at a time for 2 ATTN_KEYS independent
   * FMA chains */
  float16 mxa = -INFINITY, mxb = -INFINITY;
  int j = 0;
  for (; j + ATTN_KEYS <= last; j += ATTN_KEYS) {
    float16 a[ATTN_KEYS], b[ATTN_KEYS];
#pragma unroll
    for (int u = 0; u < ATTN_KEYS; u++)
      a[u] = b[u] = 0.0f;
    /* 8 elements of each of the 8 keys at a time, each broadcast to the
     * lanes: an F32 cache's straight from memory, an F16 or Q8_0 cache's
     * widened 8 at a time first (one at a time, F16's conversions took 2.2x
     * the time) */
    for (int c0 = 0; c0 < d; c0 += 8) {
#if KV_TYPE != 0
      float kf[ATTN_KEYS][8];
#pragma unroll
      for (int u = 0; u < ATTN_KEYS; u++)
        vstore8 (kv_load8 (k, kh + (size_t) (j + u) * kv_stride + c0), 0, kf[u]);
#define KEY_AT(u, c) kf[u][c]
#else
#define KEY_AT(u, c) k[kh + (size_t) (j + (u)) * kv_stride + c0 + (c)]
#endif
#pragma unroll
      for (int c = 0; c < 8; c++) {
        const float16 qa = vload16 (2 * (c0 + c), qt), qb = vload16 (2 * (c0 + c) + 1, qt);
#pragma unroll
        for (int u = 0; u < ATTN_KEYS; u++) {
          const float16 kv = (float16) KEY_AT (u, c);
          a[u] = fma (qa, kv, a[u]);
          b[u] = fma (qb, kv, b[u]);
        }
      }
#undef KEY_AT
    }
#pragma unroll
    for (int u = 0; u < ATTN_KEYS; u++) {
      float16 sa = a[u] * scale, sb = b[u] * scale;
      if (causal && j + u >= first_masked) {
        sa = select (sa, (float16) -INFINITY, pos_a < (float16) (j + u));
        sb = select (sb, (float16) -INFINITY, pos_b < (float16) (j + u));
      }
      mxa = fmax (mxa, sa);
      mxb = fmax (mxb, sb);
      vstore16 (sa, 2 * (j + u), st);
      vstore16 (sb, 2 * (j + u) + 1, st);
    }
  }
  for (; j < last; j++) {
    float16 a = 0.0f, b = 0.0f;
    for (int c = 0; c < d; c++) {
      const float16 kv = (float16) kv_load (k, kh + (size_t) j * kv_stride + c);
      a = fma (vload16 (2 * c, qt), kv, a);
      b = fma (vload16 (2 * c + 1, qt), kv, b);
    }
    float16 sa = a * scale, sb = b * scale;
    if (causal && j >= first_masked) {
      sa = select (sa, (float16) -INFINITY, pos_a < (float16) j);
      sb = select (sb, (float16) -INFINITY, pos_b < (float16) j);
    }
    mxa = fmax (mxa, sa);
    mxb = fmax (mxb, sb);
    vstore16 (sa, 2 * j, st);
    vstore16 (sb, 2 * j + 1, st);
  }

  /* pass 2: exponentials and their sums */
  float16 suma = 0.0f, sumb = 0.0f;
  for (j = 0; j < last; j++) {
    const float16 ea = exp (vload16 (2 * j, st) - mxa), eb = exp (vload16 (2 * j + 1, st) - mxb);
    vstore16 (ea, 2 * j, st);
    vstore16 (eb, 2 * j + 1, st);
    suma += ea;
    sumb += eb;
  }
  const float16 inva = 1.0f / suma, invb = 1.0f / sumb;

  /* pass 3: probabilities times value rows, ATTN_COLS columns at a time */
  for (int c0 = 0; c0 < d; c0 += ATTN_COLS) {
    float16 acca[ATTN_COLS], accb[ATTN_COLS];
#pragma unroll
    for (int i = 0; i < ATTN_COLS; i++)
      acca[i] = accb[i] = 0.0f;
    for (j = 0; j < last; j++) {
      const float16 pa = vload16 (2 * j, st), pb = vload16 (2 * j + 1, st);
#if KV_TYPE != 0
      /* the 8 elements holding these columns (ATTN_COLS divides 8) */
      float v8[8];
      vstore8 (kv_load8 (v, vh + (size_t) j * kv_stride + (c0 & ~7)), 0, v8);
      const float *vf = v8 + (c0 & 7);
#else
      __global const float *vf = v + vh + (size_t) j * kv_stride + c0;
#endif
#pragma unroll
      for (int i = 0; i < ATTN_COLS; i++) {
        const float16 vv = (float16) vf[i];
        acca[i] = fma (pa, vv, acca[i]);
        accb[i] = fma (pb, vv, accb[i]);
      }
    }
    /* lanes are rows: transpose through private memory on the way out */
#pragma unroll
    for (int i = 0; i < ATTN_COLS; i++) {
      vstore16 (acca[i] * inva, 2 * i, qt);
      vstore16 (accb[i] * invb, 2 * i + 1, qt);
    }
    for (int r = 0; r < nrows; r++) {
      __global float *o = out + out_off + (size_t) (r0 + r) * out_stride + h * d + c0;
      for (int i = 0; i < ATTN_COLS; i++)
        o[i] = qt[i * 32 + r];
    }
  }
}

__kernel void KV_NAME (attention_rows16) (__global const float *q, int q_off, int q_stride,
    __global const KV_T *k, __global const KV_T *v, int kv_off, int kv_stride,
    __global float *out, int out_off, int out_stride,
    __global float *scores, int nq, int nk, int H, int Hkv, int d,
    int causal, int q_pos0, float scale)
{
  const int h = get_global_id (1), splits = get_global_size (0);
  /* this work-item's scores, 32 x nk floats, reused for each of its
   * blocks (the regions min (32, nq) x nk apart, within the launcher's
   * region; with fewer than 32 rows a head's runs into the next heads',
   * which the launcher then runs one after the other) */
  __global float *st = scores + ((size_t) h * splits + get_global_id (0)) * min (32, nq) * nk;
  for (int r0 = get_global_id (0) * 32; r0 < nq; r0 += splits * 32)
    KV_NAME (rows16_block) (q, q_off, q_stride, k, v, kv_off, kv_stride, out, out_off, out_stride, st, nq, nk, h,
        h / (H / Hkv), d, causal, q_pos0, scale, r0);
}

/* Rows [src_row, src_row + n) of the new keys and values (kn, vn, F32, w
 * wide) into rows [pos, pos + n) of the caches. One work-item a value (a
 * block of 32 in a Q8_0 cache). */
/* Value @src of kn and vn (F32) into value @dst of the caches: a block of
 * 32 of a Q8_0 cache from there. */
inline void KV_NAME (kv_write_at) (__global const float *kn, __global const float *vn, size_t src,
    __global KV_T *k, __global KV_T *v, size_t dst)
{
#if KV_TYPE == 2
  kv_store_block (kn + src, kv_block (k, dst));
  kv_store_block (vn + src, kv_block (v, dst));
#else
  kv_store (kn[src], k, dst);
  kv_store (vn[src], v, dst);
#endif
}

__kernel void KV_NAME (kv_write) (__global const float *kn, __global const float *vn, int src_row, int w,
    __global KV_T *k, __global KV_T *v, int pos)
{
  const int c = get_global_id (0) * (KV_TYPE == 2 ? 32 : 1), t = get_global_id (1);

  KV_NAME (kv_write_at) (kn, vn, (size_t) (src_row + t) * w + c, k, v, (size_t) (pos + t) * w + c);
}

/* Attention for many query rows on GPUs (prefill, the vision tower, the
 * Q-Former), in tiles: a work-group of ATT_TILE_WG work-items takes
 * ATT_TILE_Q query rows of one head, walks the keys ATT_TILE_K at a time
 * (their keys and values in local memory) and keeps each row's running
 * maximum, sum and weighted values (the softmax as it goes: online), so
 * no row of scores goes to global memory, where attention () writes all
 * heads x rows x keys of them. The scores are attention ()'s products
 * (q . k times @scale); the exponentials are taken against the maximum so
 * far and rescaled when it grows, so the outputs differ from attention
 * ()'s by rounding only. Heads of at most ATT_TILE_D values; no position
 * bias (vtp_op_attention checks). Work-item w: scores for row w / 4, keys
 * w % 4, + 4, ...; outputs of row w / 4, columns w % 4, + 4, ...
 * Every work-item takes every barrier. */
#ifndef ATT_TILE_Q
#define ATT_TILE_Q 16
#define ATT_TILE_K 32
#define ATT_TILE_D 128
#define ATT_TILE_WG 64
#endif
__kernel __attribute__ ((reqd_work_group_size (ATT_TILE_WG, 1, 1)))
void KV_NAME (attention_tiled) (__global const float *q, int q_off, int q_stride,
    __global const KV_T *k, __global const KV_T *v, int kv_off, int kv_stride,
    __global float *out, int out_off, int out_stride,
    int nq, int nk, int H, int Hkv, int d, int causal, int q_pos0, float scale)
{
  __local float qs[ATT_TILE_Q][ATT_TILE_D];
  __local float ks[ATT_TILE_K][ATT_TILE_D + 1];       /* + 1: rows in different banks */
  __local float vs[ATT_TILE_K][ATT_TILE_D];
  __local float ps[ATT_TILE_Q][ATT_TILE_K];
  __local float row_max[ATT_TILE_Q], row_sum[ATT_TILE_Q], row_scale[ATT_TILE_Q];
  const int w = get_local_id (0), h = get_group_id (1), q0 = get_group_id (0) * ATT_TILE_Q;
  const int g = h / (H / Hkv), r = w / 4, lane = w % 4;
  const size_t kh = (size_t) kv_off + (size_t) g * d;
  /* keys a row of this tile may see: all, or up to the last row's position */
  const int end = causal ? min (nk, q_pos0 + min (nq, q0 + ATT_TILE_Q)) : nk;
  float o[ATT_TILE_D / 4];

  for (int i = w; i < ATT_TILE_Q * d; i += ATT_TILE_WG) {
    const int qr = i / d, c = i % d;
    qs[qr][c] = q0 + qr < nq ? q[q_off + (size_t) (q0 + qr) * q_stride + h * d + c] : 0.0f;
  }
  if (w < ATT_TILE_Q) {
    row_max[w] = -INFINITY;
    row_sum[w] = 0.0f;
  }
#pragma unroll
  for (int i = 0; i < ATT_TILE_D / 4; i++)
    o[i] = 0.0f;

  for (int j0 = 0; j0 < end; j0 += ATT_TILE_K) {
    barrier (CLK_LOCAL_MEM_FENCE);    /* the last tile's values read */
    for (int i = w; i < ATT_TILE_K * d; i += ATT_TILE_WG) {
      const int kr = i / d, c = i % d;
      const size_t at = kh + (size_t) (j0 + kr) * kv_stride + c;
      const int in = j0 + kr < nk;
      ks[kr][c] = in ? kv_load (k, at) : 0.0f;
      vs[kr][c] = in ? kv_load (v, at) : 0.0f;
    }
    barrier (CLK_LOCAL_MEM_FENCE);
    /* scores: row r, keys lane, lane + 4, ... */
    for (int t = lane; t < ATT_TILE_K; t += 4) {
      const int j = j0 + t;
      float s = 0.0f;
      for (int c = 0; c < d; c++)
        s = fma (qs[r][c], ks[t][c], s);
      ps[r][t] = j < nk && (!causal || j <= q_pos0 + q0 + r) && q0 + r < nq ? s * scale : -INFINITY;
    }
    barrier (CLK_LOCAL_MEM_FENCE);
    /* each row's running maximum and sum, its scores made weights */
    if (w < ATT_TILE_Q) {
      const float was = row_max[w];
      float m = was, sum = 0.0f;
      for (int t = 0; t < ATT_TILE_K; t++)
        m = fmax (m, ps[w][t]);
      for (int t = 0; t < ATT_TILE_K; t++) {
        const float p = ps[w][t] == -INFINITY ? 0.0f : exp (ps[w][t] - m);
        ps[w][t] = p;
        sum += p;
      }
      /* nothing seen yet (m -inf): nothing to rescale */
      row_scale[w] = m == -INFINITY ? 1.0f : exp (was - m);
      row_sum[w] = row_sum[w] * row_scale[w] + sum;
      row_max[w] = m;
    }
    barrier (CLK_LOCAL_MEM_FENCE);
    {
      const float a = row_scale[r];
#pragma unroll
      for (int i = 0; i < ATT_TILE_D / 4; i++) {
        const int c = lane + 4 * i;
        if (c < d) {
          float acc = o[i] * a;
          for (int t = 0; t < ATT_TILE_K; t++)
            acc = fma (ps[r][t], vs[t][c], acc);
          o[i] = acc;
        }
      }
    }
  }
  barrier (CLK_LOCAL_MEM_FENCE);
  if (q0 + r < nq) {
    const float inv = row_sum[r] > 0.0f ? 1.0f / row_sum[r] : 0.0f;
    __global float *orow = out + out_off + (size_t) (q0 + r) * out_stride + h * d;
#pragma unroll
    for (int i = 0; i < ATT_TILE_D / 4; i++) {
      const int c = lane + 4 * i;
      if (c < d)
        orow[c] = o[i] * inv;
    }
  }
}

#undef STREAM_ARGS
#undef APPEND_ARGS
#undef KV_T
#undef KV_NAME
#undef kv_load
#undef kv_load8
#undef kv_store
#undef kv_prefetch_row
#undef kv_prefetch_row_l2
#undef kv_prefetch_row_to
#undef kv_bytes_at
#undef kv_row_bytes
#undef kv_block
#undef kv_scale
#undef kv_load16
#undef kv_load16v
#undef DEFINE_VALUES16
#undef KV_TYPE

