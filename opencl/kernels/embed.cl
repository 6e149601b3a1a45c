/* embed.cl: token embedding gather and the ViT patch embedding steps. */

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
