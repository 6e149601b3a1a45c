/* rope.cl: rotary position embedding, in place, on token-major rows.
 * interleaved = 0: HF rotate_half layout, dimension j pairs with j + d/2;
 * interleaved = 1: Meta layout, pairs (2j, 2j+1).
 * The angle is computed as HF does it: float position times float inv_freq. */

__kernel void rope (__global float *x, int off, int stride, int d, int pos0,
    __global const float *inv_freq, int interleaved)
{
  const int j = get_global_id (0), h = get_global_id (1), t = get_global_id (2);
  __global float *r = x + off + (size_t) t * stride + h * d;
  const float angle = (float) (pos0 + t) * inv_freq[j];
  const float c = cos (angle), s = sin (angle);
  const int a = interleaved ? 2 * j : j;
  const int b = interleaved ? 2 * j + 1 : j + d / 2;
  const float x0 = r[a], x1 = r[b];
  r[a] = x0 * c - x1 * s;
  r[b] = x1 * c + x0 * s;
}
