/* rope.cl: rotary position embedding, in place, on token-major rows.
 * interleaved = 0: HF rotate_half layout, dimension j pairs with j + d/2;
 * interleaved = 1: Meta layout, pairs (2j, 2j+1).
 * The angle is computed as HF does it: float position times float inv_freq.
 *
 * rope_angles writes each row's cos (columns 0 .. d/2 - 1) and sin
 * (d/2 .. d - 1) once; rope_qk rotates the query and key heads of the same
 * rows with them in one launch. (Every layer recomputing them was the
 * decode's third most costly kernel: PoCL's sin and cos reduce their
 * argument the long way.) */

/* Angle j of position @pos into the row at @row (decode-layer.cl's
 * decode_token computes its step's row with it too). */
inline void rope_angle_at (__global float *row, int d, int pos, __global const float *inv_freq, int j)
{
  const float angle = (float) pos * inv_freq[j];
  row[j] = cos (angle);
  row[d / 2 + j] = sin (angle);
}

__kernel void rope_angles (__global float *table, int d, int pos0, __global const float *inv_freq)
{
  const int j = get_global_id (0), t = get_global_id (1);
  rope_angle_at (table + (size_t) t * d, d, pos0 + t, inv_freq, j);
}

/* Pair j of the head at @r rotated by its row's angles (@row: cos, sin). */
inline void rope_pair (__global float *r, __global const float *row, int d, int j, int interleaved)
{
  const float c = row[j], s = row[d / 2 + j];
  const int a = interleaved ? 2 * j : j;
  const int b = interleaved ? 2 * j + 1 : j + d / 2;
  const float x0 = r[a], x1 = r[b];
  r[a] = x0 * c - x1 * s;
  r[b] = x1 * c + x0 * s;
}

/* Heads 0 .. nq - 1 of row t are q's, the next ones k's. */
__kernel void rope_qk (__global float *q, int q_off, int q_stride, int nq, __global float *k, int k_off,
    int k_stride, int d, __global const float *table, int interleaved)
{
  const int j = get_global_id (0), h = get_global_id (1), t = get_global_id (2);
  __global float *r = h < nq ? q + q_off + (size_t) t * q_stride + h * d
      : k + k_off + (size_t) t * k_stride + (h - nq) * d;
  rope_pair (r, table + (size_t) t * d, d, j, interleaved);
}
