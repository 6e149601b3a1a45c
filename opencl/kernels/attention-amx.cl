/* attention-amx.cl: attention of many query rows with AMX-BF16 tile
 * products, for models that multiply in bfloat16 (weight-type=bf16:
 * VtpAttention.bf16) on CPUs with AMX-BF16 (-DVTP_X86_AMX_BF16; vtp-ops.c
 * takes it for F32 keys and values, head_dim 64 or 128,
 * no position bias). q, k, v and the softmax's probabilities are rounded
 * to bfloat16 (to nearest even) as PyTorch's bf16 attention has them; the
 * scores, the softmax and the sums stay in float. head_dim: 64 or 128. Follows linear-amx.cl
 * in the program (bf16_bits16, bf16_pairs, vtp_tile, AMX_BF16).
 *
 * kv_to_bf16_amx first lays each kv head's keys and values out as AMX
 * B tiles, once per call for every query block:
 *  - keys, for q·kᵀ: tile (g, key block kb of 16, head chunk dc of 32) at
 *    kt[((g · nkb + kb) · ndc + dc) · 256] words, word [p][j] = the pair
 *    (k[16 kb + j][32 dc + 2 p], ... + 1), low half first;
 *  - values, for p·v: tile (g, key chunk kc of 32, column block cb of 16)
 *    at vt[((g · nkc + kc) · ncb + cb) · 256], word [p][c] = the pair
 *    (v[32 kc + 2 p][16 cb + c], v[32 kc + 2 p + 1][16 cb + c]);
 * keys from nk on zeros. attention_amx_bf16 then takes one head a
 * work-item (or a share of its blocks, where the heads are fewer than 8),
 * 32 query rows at a time (two A tiles of q): raw scores 16 keys at a time
 * into its rows of @scores ([row][key]; the same 32 rows for each block,
 * so they stay in its core's cache), the softmax row by row in float
 * (scale and causal mask applied there), and the probabilities of 32 keys
 * at a time as an A tile against 4 value tiles (4 C tiles of 16 x 16
 * outputs).
 *
 * Measured on 2 cores of an Intel Xeon with AMX: the bench model's
 * ViT-L/14-336 + projector at weight-type=bf16 (vtp-bench -V -w bf16 -r 3,
 * VTP_ATTENTION_AMX=0 / 1 alternating) 618-624 -> 460-467 ms, attention
 * ~14 -> ~6.5 ms a layer (VTP_PROFILE_KERNELS=1); the 1.1B LLM's causal
 * prefill of 600 at bf16 (vtp-bench-llm -w bf16 -p 600 -n 1 -r 3)
 * 510-514 -> 575-577 tokens/s (Llama-family models set VtpAttention.bf16
 * at bf16 too). Then (2026-12-07) a work-item per head instead of per 32
 * rows, whose scores rows are written (one tile store per 16 x 16 scores)
 * and read back from L2 rather than from memory (a work-item per block
 * wrote 21 MB of scores a layer, each store a miss: 67% of the score
 * step's time), and the probabilities rounded by vcvtne2ps2bf16: ~5.5-6
 * -> ~4.0 ms a layer. */
#ifdef VTP_X86_AMX_BF16

#define AA_MAX_D 128

/* bf16_pairs by vcvtne2ps2bf16 (the same bits but float subnormals read
 * as zero, which tdpbf16ps does with bfloat16 ones anyway), for the tile
 * functions, whose target has AVX512-BF16: inlined there (a call between
 * functions built for different targets garbles vectors passed by value) */
AMX_BF16 __attribute__ ((always_inline)) inline uint16 bf16_pairs_amx (float16 lo, float16 hi)
{
  return as_uint16 ((vtp_bf_v16si) __builtin_ia32_cvtne2ps2bf16_512 ((vtp_bf_v16sf) hi, (vtp_bf_v16sf) lo));
}

__kernel void kv_to_bf16_amx (__global const float *k, __global const float *v, int kv_off, int kv_stride,
    int nk, int d, __global uint *kt, __global uint *vt)
{
  const int kc = get_global_id (0), g = get_global_id (1);
  const int nkc = get_global_size (0), ndc = d / 32, ncb = d / 16;
  uint tile[256];

  /* the two key blocks of 16 of this chunk */
  for (int b = 0; b < 2; b++) {
    const int kb = 2 * kc + b;
    for (int dc = 0; dc < ndc; dc++) {
      for (int j = 0; j < 16; j++) {
        const int key = 16 * kb + j;
        uint16 w = 0;
        if (key < nk) {
          __global const float *kr = k + kv_off + (size_t) key * kv_stride + g * d + 32 * dc;
          w = bf16_pairs (vload16 (0, kr), vload16 (1, kr));
        }
        for (int p = 0; p < 16; p++)
          tile[16 * p + j] = w[p];
      }
      __global uint *o = kt + (((size_t) g * 2 * nkc + kb) * ndc + dc) * 256;
      for (int p = 0; p < 16; p++)
        vstore16 (vload16 (p, tile), p, o);
    }
  }
  for (int cb = 0; cb < ncb; cb++) {
    __global uint *o = vt + (((size_t) g * nkc + kc) * ncb + cb) * 256;
    for (int p = 0; p < 16; p++) {
      const int key = 32 * kc + 2 * p;
      __global const float *vr = v + kv_off + (size_t) key * kv_stride + g * d + 16 * cb;
      const float16 a = key < nk ? vload16 (0, vr) : 0.0f;
      const float16 b = key + 1 < nk ? vload16 (0, vr + kv_stride) : 0.0f;
      vstore16 (bf16_bits16 (a) | (bf16_bits16 (b) << 16), p, o);
    }
  }
}

/* Every tile instruction of a query block in two functions (scores, then
 * probabilities times values), each called once per block or pass: LLVM
 * configures the tiles (ldtilecfg) on entry to a function that uses them
 * and releases them on return, which took 77% of a 16-key step when each
 * step was a call of its own. */

/* The scores of rows 16 r .. 16 r + 15 (r < rt), 16 keys at a time
 * (q's A tiles qa, ndc of them a row tile, times the key tiles of kv head
 * kt), as they are (the softmax scales and masks them), into st[row][key]
 * for rows < nrows and keys < last: a whole tile (16 rows below nrows, 16
 * keys below nk) straight from the tile register, rows nk floats apart;
 * the others through c, row by row. (Scaled and masked here, 16 rows of
 * vector stores a tile, the scores took half of the attention's time.) */
AMX_BF16 void amx_scores (const uint *qa, __global const uint *kt, int ndc, int rt, int nrows, int last,
    __global float *st, int nk)
{
  float c[256] __attribute__ ((aligned (64)));
  for (int kb = 0; 16 * kb < last; kb++)
    for (int r = 0; r < rt; r++) {
      vtp_tile acc = __builtin_ia32_tilezero_internal (16, 64);
      for (int dc = 0; dc < ndc; dc++) {
        const vtp_tile a = __builtin_ia32_tileloadd64_internal (16, 64, qa + 256 * (r * ndc + dc), 64);
        const vtp_tile b = __builtin_ia32_tileloadd64_internal (16, 64, kt + 256 * (kb * ndc + dc), 64);
        acc = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, acc, a, b);
      }
      __global float *s0 = st + (size_t) 16 * r * nk + 16 * kb;
      const int whole = 16 * r + 16 <= nrows && 16 * kb + 16 <= nk;
      /* flat addresses: PoCL's CPU devices have one address space */
      __builtin_ia32_tilestored64_internal (16, 64, whole ? (void *) (size_t) s0 : (void *) c,
          whole ? nk * 4 : 64, acc);
      if (!whole)
        for (int i = 0; i < 16 && 16 * r + i < nrows; i++)
          for (int j = 0; j < 16 && 16 * kb + j < last; j++)
            s0[(size_t) i * nk + j] = c[16 * i + j];
    }
}

/* Rows 16 r .. 16 r + 15's exponentials (st, rows < nrows, keys < last;
 * zeros elsewhere) 32 keys at a time as an A tile, times 4 value tiles of
 * each key chunk (vt: the first of the 4 of chunk 0, chunks ncb tiles
 * apart), into c (4 C tiles of 16 x 16, one after the other) */
AMX_BF16 void amx_values (__global const float *st, int nk, int r, int nrows, int last,
    __global const uint *vt, int ncb, float *c)
{
  uint pa[256] __attribute__ ((aligned (64)));
  vtp_tile c0 = __builtin_ia32_tilezero_internal (16, 64);
  vtp_tile c1 = __builtin_ia32_tilezero_internal (16, 64);
  vtp_tile c2 = __builtin_ia32_tilezero_internal (16, 64);
  vtp_tile c3 = __builtin_ia32_tilezero_internal (16, 64);
  for (int kc = 0; 32 * kc < last; kc++) {
    for (int i = 0; i < 16; i++) {
      const int row = 16 * r + i;
      __global const float *sr = st + (size_t) row * nk + 32 * kc;
      if (row < nrows && 32 * kc + 32 <= last)
        vstore16 (bf16_pairs_amx (vload16 (0, sr), vload16 (1, sr)), i, pa);
      else {
        float e[32];
        for (int j = 0; j < 32; j++)
          e[j] = row < nrows && 32 * kc + j < last ? sr[j] : 0.0f;
        vstore16 (bf16_pairs_amx (vload16 (0, e), vload16 (1, e)), i, pa);
      }
    }
    __global const uint *vk = vt + (size_t) kc * ncb * 256;
    const vtp_tile a = __builtin_ia32_tileloadd64_internal (16, 64, pa, 64);
    const vtp_tile b0 = __builtin_ia32_tileloadd64_internal (16, 64, vk, 64);
    c0 = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, c0, a, b0);
    const vtp_tile b1 = __builtin_ia32_tileloadd64_internal (16, 64, vk + 256, 64);
    c1 = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, c1, a, b1);
    const vtp_tile b2 = __builtin_ia32_tileloadd64_internal (16, 64, vk + 512, 64);
    c2 = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, c2, a, b2);
    const vtp_tile b3 = __builtin_ia32_tileloadd64_internal (16, 64, vk + 768, 64);
    c3 = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, c3, a, b3);
  }
  __builtin_ia32_tilestored64_internal (16, 64, c, 64, c0);
  __builtin_ia32_tilestored64_internal (16, 64, c + 256, 64, c1);
  __builtin_ia32_tilestored64_internal (16, 64, c + 512, 64, c2);
  __builtin_ia32_tilestored64_internal (16, 64, c + 768, 64, c3);
}

__kernel void attention_amx_bf16 (__global const float *q, int q_off, int q_stride,
    __global const uint *kt, __global const uint *vt,
    __global float *out, int out_off, int out_stride,
    __global float *scores, int nq, int nk, int H, int Hkv, int d,
    int causal, int q_pos0, float scale)
{
  const int h = get_global_id (1), g = h / (H / Hkv), splits = get_global_size (0);
  const int ndc = d / 32, ncb = d / 16, nkc = (nk + 31) / 32, nkb = 2 * nkc;
  /* this work-item's scores, reused for each of its blocks of rows */
  __global float *st = scores + ((size_t) h * splits + get_global_id (0)) * min (32, nq) * nk;
  uint qa[2 * (AA_MAX_D / 32) * 256];
  float c[4 * 256] __attribute__ ((aligned (64)));
  float inv[32];

  for (int r0 = get_global_id (0) * 32; r0 < nq; r0 += splits * 32) {
    const int nrows = min (32, nq - r0), rt = (nrows + 15) / 16;
    const int last = causal ? min (nk, q_pos0 + r0 + nrows) : nk;

    /* q's rows as A tiles: row tile r, head chunk dc at qa[(r ndc + dc) 256] */
    for (int r = 0; r < rt; r++)
      for (int i = 0; i < 16; i++) {
        const int row = 16 * r + i;
        __global const float *qr = q + q_off + (size_t) (r0 + row) * q_stride + h * d;
        for (int dc = 0; dc < ndc; dc++)
          vstore16 (row < nrows ? bf16_pairs (vload16 (0, qr + 32 * dc), vload16 (1, qr + 32 * dc)) : (uint16) 0,
              i, qa + (r * ndc + dc) * 256);
      }

    /* scores, 16 keys at a time, scaled and masked */
    amx_scores (qa, kt + (size_t) g * nkb * ndc * 256, ndc, rt, nrows, last, st, nk);

    /* the softmax, row by row (16 keys at a time): exponentials of the
     * scaled scores in place (exp ((s - max) scale), scale > 0), zeros for
     * the keys a causal row does not see (up to last, which the values
     * read), 1 / sum kept */
    for (int row = 0; row < nrows; row++) {
      __global float *sr = st + (size_t) row * nk;
      const int lim = causal ? min (last, q_pos0 + r0 + row + 1) : last, lim16 = lim & ~15;
      float16 m16 = -INFINITY, s16 = 0.0f;
      float mx, sum = 0.0f;
      for (int j = 0; j < lim16; j += 16)
        m16 = fmax (m16, vload16 (0, sr + j));
      const float8 m8 = fmax (m16.lo, m16.hi);
      const float4 m4 = fmax (m8.lo, m8.hi);
      mx = fmax (fmax (m4.x, m4.y), fmax (m4.z, m4.w));
      for (int j = lim16; j < lim; j++)
        mx = fmax (mx, sr[j]);
      for (int j = 0; j < lim16; j += 16) {
        const float16 e = exp ((vload16 (0, sr + j) - mx) * scale);
        vstore16 (e, 0, sr + j);
        s16 += e;
      }
      for (int j = lim16; j < lim; j++) {
        const float e = exp ((sr[j] - mx) * scale);
        sr[j] = e;
        sum += e;
      }
      for (int j = lim; j < last; j++)
        sr[j] = 0.0f;
      sum += hsum8 (s16.lo + s16.hi);
      inv[row] = 1.0f / sum;
    }

    /* probabilities times values, 4 column blocks (64 columns) at a time */
    for (int r = 0; r < rt; r++)
      for (int cb0 = 0; cb0 < ncb; cb0 += 4) {
        amx_values (st, nk, r, nrows, last, vt + ((size_t) g * nkc * ncb + cb0) * 256, ncb, c);
        for (int i = 0; i < 16 && 16 * r + i < nrows; i++) {
          const int row = 16 * r + i;
          __global float *o = out + out_off + (size_t) (r0 + row) * out_stride + h * d + 16 * cb0;
          for (int b = 0; b < 4; b++)
            vstore16 (vload16 (i, c + 256 * b) * inv[row], b, o);
        }
      }
  }
}

#endif
