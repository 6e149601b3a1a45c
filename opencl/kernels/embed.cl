/* embed.cl: tokens in and out: the token embedding gather, the greedy
 * token choice (argmax_row; sample.cl draws one); and the ViT patch
 * embedding steps. */

#define DEFINE_EMBED(T, WT)                                                    \
__kernel void embed_##T (__global const int *ids, __global const WT *table,  \
    __global float *out, int out_off, int D, int V)                            \
{                                                                              \
  const int c = get_global_id (0), t = get_global_id (1);                      \
  const int id = clamp (ids[t], 0, V - 1);                                     \
  out[out_off + (size_t) t * D + c] = load1_##T (table, (size_t) id * D + c);  \
}

DEFINE_EMBED (f32, float)
DEFINE_EMBED (f16, half)
DEFINE_EMBED (bf16, ushort)

/* (v, i) beats (bv, bi): larger, or as large and earlier; a NaN never
 * (every comparison with it is false) */
inline int argmax_beats (float v, int i, float bv, int bi)
{
  return v > bv || (v == bv && i < bi);
}

/* The first index of the largest of the @n logits at @x, NaNs never the
 * largest; INT_MAX when all are NaNs. Every work-item of the group (up to
 * 256) takes every L-th logit from its own, then a tree in local memory;
 * all get the answer. */
inline int group_argmax (__global const float *x, int n, __local float *lv, __local int *li)
{
  const int l = get_local_id (0), L = get_local_size (0);
  float bv = -INFINITY;
  int bi = INT_MAX, best;
  for (int i = l; i < n; i += L) {
    const float v = x[i];
    if (argmax_beats (v, i, bv, bi))
      bv = v, bi = i;
  }
  lv[l] = bv;
  li[l] = bi;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int w = L / 2; w > 0; w /= 2) {
    if (l < w && argmax_beats (lv[l + w], li[l + w], lv[l], li[l])) {
      lv[l] = lv[l + w];
      li[l] = li[l + w];
    }
    barrier (CLK_LOCAL_MEM_FENCE);
  }
  best = li[0];
  barrier (CLK_LOCAL_MEM_FENCE);
  return best;
}

/* The greedy token of @n logits at @x whose group_argmax is @best: it, or
 * 0 when the first is a NaN (or all are): vtp_argmax's answer
 * (vtp-sampler.c), so a greedy decode picks the same tokens whether the
 * host or the device chooses. */
inline int greedy_token (__global const float *x, int n, int best)
{
  return n <= 0 || isnan (x[0]) || best == INT_MAX ? 0 : best;
}

/* ids[id_at] = the greedy token of the @n logits at @off. One work-group
 * of up to 256 work-items (the device's reduce_wg; 1 on CPUs). */
__kernel void argmax_row (__global const float *logits, int off, int n, __global int *ids, int id_at)
{
  __local float lv[256];
  __local int li[256];
  __global const float *x = logits + off;
  const int best = greedy_token (x, n, group_argmax (x, n, lv, li));
  if (get_local_id (0) == 0)
    ids[id_at] = best;
}

/* img [3, H, W] -> cols [P, 3*p*p], patches row-major over the (H/p, W/p)
 * grid, columns ordered (channel, ky, kx) as the conv weight [D, 3, p, p]. */
__kernel void im2col_patches (__global const float *img, __global float *cols,
    int H, int W, int p)
{
  const int col = get_global_id (0), patch = get_global_id (1);
  const int gw = W / p;
  const int c = col / (p * p), ky = (col / p) % p, kx = col % p;
  const int y = (patch / gw) * p + ky, xx = (patch % gw) * p + kx;
  cols[(size_t) patch * 3 * p * p + col] = img[((size_t) c * H + y) * W + xx];
}

/* out[0] = cls + pos[0]; out[i + 1] = patches[i] + pos[i + 1]. */
__kernel void vit_assemble (__global const float *patches, __global const float *cls,
    __global const float *pos, __global float *out, int out_off, int D)
{
  const int c = get_global_id (0), t = get_global_id (1);
  const float v = t == 0 ? cls[c] : patches[(size_t) (t - 1) * D + c];
  out[out_off + (size_t) t * D + c] = v + pos[(size_t) t * D + c];
}
