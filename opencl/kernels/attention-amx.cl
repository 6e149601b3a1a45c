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
 * keys from nk on zeros. attention_amx_bf16 then takes 32 query rows of
 * one head a work-item (two A tiles of q): scores 16 keys at a time into
 * @scores ([row][key], the region of attention_rows16), the softmax row
 * by row in float, and the probabilities of 32 keys at a time as an A tile
 * against 4 value tiles (4 C tiles of 16 x 16 outputs).
 *
 * Measured on 2 cores of an Intel Xeon with AMX: the bench model's
 * ViT-L/14-336 + projector at weight-type=bf16 (vtp-bench -V -w bf16 -r 3,
 * VTP_ATTENTION_AMX=0 / 1 alternating) 618-624 -> 460-467 ms, attention
 * ~14 -> ~6.5 ms a layer (VTP_PROFILE_KERNELS=1); the 1.1B LLM's causal
 * prefill of 600 at bf16 (vtp-bench-llm -w bf16 -p 600 -n 1 -r 3)
 * 510-514 -> 575-577 tokens/s (Llama-family models set VtpAttention.bf16
 * at bf16 too). */
#ifdef VTP_X86_AMX_BF16

#define AA_MAX_D 128

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
 * kt), scaled, masked (causal: key > q_pos), into st[row][key] for rows <
 * nrows and keys < last */
AMX_BF16 void amx_scores (const uint *qa, __global const uint *kt, int ndc, int rt, int nrows, int last,
    int causal, int q_pos, float scale, __global float *st, int nk)
{
  const float16 lane = (float16) (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  float c[256] __attribute__ ((aligned (64)));
  for (int kb = 0; 16 * kb < last; kb++)
    for (int r = 0; r < rt; r++) {
      vtp_tile acc = __builtin_ia32_tilezero_internal (16, 64);
      for (int dc = 0; dc < ndc; dc++) {
        const vtp_tile a = __builtin_ia32_tileloadd64_internal (16, 64, qa + 256 * (r * ndc + dc), 64);
        const vtp_tile b = __builtin_ia32_tileloadd64_internal (16, 64, kt + 256 * (kb * ndc + dc), 64);
        acc = __builtin_ia32_tdpbf16ps_internal (16, 64, 64, acc, a, b);
      }
      __builtin_ia32_tilestored64_internal (16, 64, c, 64, acc);
      for (int i = 0; i < 16 && 16 * r + i < nrows; i++) {
        const int row = 16 * r + i;
        float16 sv = vload16 (i, c) * scale;
        if (causal)
          sv = select (sv, (float16) -INFINITY, isgreater ((float16) (16 * kb) + lane, (float16) (q_pos + row)));
        __global float *sr = st + (size_t) row * nk + 16 * kb;
        if (16 * kb + 16 <= last)
          vstore16 (sv, 0, sr);
        else {
          float tmp[16];
          vstore16 (sv, 0, tmp);
          for (int j = 0; 16 * kb + j < last; j++)
            sr[j] = tmp[j];
        }
      }
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
        vstore16 (bf16_pairs (vload16 (0, sr), vload16 (1, sr)), i, pa);
      else {
        float e[32];
        for (int j = 0; j < 32; j++)
          e[j] = row < nrows && 32 * kc + j < last ? sr[j] : 0.0f;
        vstore16 (bf16_pairs (vload16 (0, e), vload16 (1, e)), i, pa);
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
  const int r0 = get_global_id (0) * 32, h = get_global_id (1), g = h / (H / Hkv);
  const int nrows = min (32, nq - r0), rt = (nrows + 15) / 16;
  const int last = causal ? min (nk, q_pos0 + r0 + nrows) : nk;
  const int ndc = d / 32, ncb = d / 16, nkc = (nk + 31) / 32, nkb = 2 * nkc;
  __global float *st = scores + ((size_t) h * nq + r0) * nk;
  uint qa[2 * (AA_MAX_D / 32) * 256];
  float c[4 * 256] __attribute__ ((aligned (64)));
  float inv[32];

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
  amx_scores (qa, kt + (size_t) g * nkb * ndc * 256, ndc, rt, nrows, last, causal, q_pos0 + r0, scale, st, nk);

  /* the softmax, row by row (16 keys at a time): exponentials in place,
   * 1 / sum kept */
  const int last16 = last & ~15;
  for (int row = 0; row < nrows; row++) {
    __global float *sr = st + (size_t) row * nk;
    float16 m16 = -INFINITY, s16 = 0.0f;
    float mx, sum = 0.0f;
    for (int j = 0; j < last16; j += 16)
      m16 = fmax (m16, vload16 (0, sr + j));
    const float8 m8 = fmax (m16.lo, m16.hi);
    const float4 m4 = fmax (m8.lo, m8.hi);
    mx = fmax (fmax (m4.x, m4.y), fmax (m4.z, m4.w));
    for (int j = last16; j < last; j++)
      mx = fmax (mx, sr[j]);
    for (int j = 0; j < last16; j += 16) {
      const float16 e = exp (vload16 (0, sr + j) - mx);
      vstore16 (e, 0, sr + j);
      s16 += e;
    }
    for (int j = last16; j < last; j++) {
      const float e = exp (sr[j] - mx);
      sr[j] = e;
      sum += e;
    }
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

#endif
