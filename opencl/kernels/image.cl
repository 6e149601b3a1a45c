/* image.cl: image preprocessing on the device, bit-exact with Pillow's
 * two-pass resampling on 8-bit images (Resample.c): integer coefficients with
 * 22 fractional bits, each pass rounded and clipped back to uint8,
 * horizontal pass first. Coefficients and bounds come from the host
 * (models/vtp-image.c computes them exactly as Pillow does). */

#define RESAMPLE_PRECISION_BITS 22

inline uchar clip8 (int v)
{
  return (uchar) clamp (v >> RESAMPLE_PRECISION_BITS, 0, 255);
}

/* Any packed RGB-family frame -> tight RGB: the region of the frame whose
 * top-left pixel is (x0, y0), width pixels wide (the whole frame, or a
 * region of interest cropped before the resize). */
__kernel void image_pack_rgb (__global const uchar *src, int row_stride, int pixel_stride,
    int off_r, int off_g, int off_b, __global uchar *dst, int width, int x0, int y0)
{
  const int x = get_global_id (0), y = get_global_id (1);
  __global const uchar *p = src + (size_t) (y0 + y) * row_stride + (size_t) (x0 + x) * pixel_stride;
  __global uchar *o = dst + ((size_t) y * width + x) * 3;
  o[0] = p[off_r];
  o[1] = p[off_g];
  o[2] = p[off_b];
}

/* Horizontal pass: src [*, in_w, 3] rows from row0, dst [rows, out_w, 3]. */
__kernel void image_resample_h (__global const uchar *src, int in_w, int row0,
    __global uchar *dst, int out_w, __global const int *bounds,
    __global const int *coeffs, int ksize)
{
  const int x = get_global_id (0), y = get_global_id (1);
  const int xmin = bounds[2 * x], xn = bounds[2 * x + 1];
  __global const int *k = coeffs + (size_t) x * ksize;
  __global const uchar *row = src + ((size_t) (row0 + y) * in_w + xmin) * 3;
  int s0 = 1 << (RESAMPLE_PRECISION_BITS - 1), s1 = s0, s2 = s0;
  for (int i = 0; i < xn; i++) {
    s0 += row[3 * i] * k[i];
    s1 += row[3 * i + 1] * k[i];
    s2 += row[3 * i + 2] * k[i];
  }
  __global uchar *o = dst + ((size_t) y * out_w + x) * 3;
  o[0] = clip8 (s0);
  o[1] = clip8 (s1);
  o[2] = clip8 (s2);
}

/* Vertical pass: src [*, w, 3], dst [out_h, w, 3]; bounds relative to src row 0. */
__kernel void image_resample_v (__global const uchar *src, int w,
    __global uchar *dst, __global const int *bounds, __global const int *coeffs, int ksize)
{
  const int x = get_global_id (0), y = get_global_id (1);
  const int ymin = bounds[2 * y], yn = bounds[2 * y + 1];
  __global const int *k = coeffs + (size_t) y * ksize;
  int s0 = 1 << (RESAMPLE_PRECISION_BITS - 1), s1 = s0, s2 = s0;
  for (int i = 0; i < yn; i++) {
    __global const uchar *p = src + ((size_t) (ymin + i) * w + x) * 3;
    s0 += p[0] * k[i];
    s1 += p[1] * k[i];
    s2 += p[2] * k[i];
  }
  __global uchar *o = dst + ((size_t) y * w + x) * 3;
  o[0] = clip8 (s0);
  o[1] = clip8 (s1);
  o[2] = clip8 (s2);
}

/* Crop (top, left may be negative: outside pixels are 0, as HF pads),
 * rescale and normalize into planar float [3, ch, cw]. */
__kernel void image_crop_normalize (__global const uchar *src, int w, int h,
    int top, int left, __global float *dst, int cw, int ch,
    float scale, float m0, float m1, float m2, float s0, float s1, float s2)
{
  const int x = get_global_id (0), y = get_global_id (1);
  const int sx = x + left, sy = y + top;
  const int inside = sx >= 0 && sx < w && sy >= 0 && sy < h;
  const float mean[3] = { m0, m1, m2 }, std[3] = { s0, s1, s2 };
  for (int c = 0; c < 3; c++) {
    const float u = inside ? src[((size_t) sy * w + sx) * 3 + c] : 0.0f;
    dst[((size_t) c * ch + y) * cw + x] = (u * scale - mean[c]) / std[c];
  }
}
