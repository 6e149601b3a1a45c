#include "vtp-image.h"
#include "vtp-config.h"
#include "vtp-ops.h"
#include <math.h>
#include <string.h>

static const float clip_mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
static const float clip_std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };

void
vtp_image_config_clip_default (VtpImageConfig *c, gint size)
{
  memset (c, 0, sizeof *c);
  c->resize = VTP_RESIZE_SHORTEST_EDGE;
  c->shortest_edge = size;
  c->resample = VTP_RESAMPLE_BICUBIC;
  c->crop = TRUE;
  c->crop_width = c->crop_height = size;
  c->crop_rounding = VTP_CROP_FLOOR;
  c->rescale = 1.0f / 255.0f;
  memcpy (c->mean, clip_mean, sizeof c->mean);
  memcpy (c->std, clip_std, sizeof c->std);
}

/* "size": 224 | {"shortest_edge": n} | {"height": h, "width": w} */
static gboolean
parse_size (JsonObject *o, const char *key, const char *where, gboolean is_crop, VtpImageConfig *c, GError **error)
{
  JsonNode *n = json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
  gint v;

  if (!n || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (n)) {
    if (!vtp_json_int (o, key, 0, where, &v, error))
      return FALSE;
    if (is_crop)
      c->crop_width = c->crop_height = v;
    else {
      c->resize = VTP_RESIZE_SHORTEST_EDGE;
      c->shortest_edge = v;
    }
  } else if (JSON_NODE_HOLDS_OBJECT (n)) {
    JsonObject *s = json_node_get_object (n);
    g_autofree char *w = g_strdup_printf ("%s: %s", where, key);
    gint se = 0, hh = 0, ww = 0;
    if (!vtp_json_int (s, "shortest_edge", 0, w, &se, error) || !vtp_json_int (s, "height", 0, w, &hh, error)
        || !vtp_json_int (s, "width", 0, w, &ww, error))
      return FALSE;
    if (is_crop && hh > 0 && ww > 0) {
      c->crop_width = ww;
      c->crop_height = hh;
    } else if (!is_crop && se > 0) {
      c->resize = VTP_RESIZE_SHORTEST_EDGE;
      c->shortest_edge = se;
    } else if (!is_crop && hh > 0 && ww > 0) {
      c->resize = VTP_RESIZE_EXACT;
      c->resize_width = ww;
      c->resize_height = hh;
    } else {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s has neither %s", where, key,
          is_crop ? "height and width" : "shortest_edge nor height and width");
      return FALSE;
    }
  } else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s is neither a number nor an object", where, key);
    return FALSE;
  }
  return TRUE;
}

static gboolean
parse_triplet (JsonObject *o, const char *key, const char *where, float out[3], GError **error)
{
  JsonNode *n = json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
  JsonArray *a;

  if (!n || JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (JSON_NODE_HOLDS_VALUE (n) && (json_node_get_value_type (n) == G_TYPE_INT64
          || json_node_get_value_type (n) == G_TYPE_DOUBLE)) {
    out[0] = out[1] = out[2] = (float) json_node_get_double (n);
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_ARRAY (n) || json_array_get_length (a = json_node_get_array (n)) != 3) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s must be a number or a list of 3", where, key);
    return FALSE;
  }
  for (guint i = 0; i < 3; i++) {
    JsonNode *e = json_array_get_element (a, i);
    const GType t = JSON_NODE_HOLDS_VALUE (e) ? json_node_get_value_type (e) : G_TYPE_INVALID;
    if (t != G_TYPE_INT64 && t != G_TYPE_DOUBLE) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s[%u] must be a number", where, key, i);
      return FALSE;
    }
    out[i] = (float) json_node_get_double (e);
  }
  return TRUE;
}

gboolean
vtp_image_config_parse (JsonObject *o, const char *where, VtpImageConfig *c, GError **error)
{
  gboolean do_resize, do_crop, do_rescale, do_normalize;
  gint resample;
  float rescale = c->rescale ? c->rescale : 1.0f / 255.0f;

  if (!vtp_json_bool (o, "do_resize", TRUE, where, &do_resize, error)
      || !vtp_json_bool (o, "do_center_crop", c->crop, where, &do_crop, error)
      || !vtp_json_bool (o, "do_rescale", TRUE, where, &do_rescale, error)
      || !vtp_json_bool (o, "do_normalize", TRUE, where, &do_normalize, error)
      || !vtp_json_int (o, "resample", 3, where, &resample, error)
      || !vtp_json_float (o, "rescale_factor", rescale, where, &rescale, error)
      || !parse_size (o, "size", where, FALSE, c, error)
      || !parse_size (o, "crop_size", where, TRUE, c, error)
      || !parse_triplet (o, "image_mean", where, c->mean, error)
      || !parse_triplet (o, "image_std", where, c->std, error))
    return FALSE;
  {
    const char *rounding = vtp_json_string (o, "crop_rounding", "floor");
    if (!g_strcmp0 (rounding, "round_half_even"))
      c->crop_rounding = VTP_CROP_ROUND;
    else if (!g_strcmp0 (rounding, "floor"))
      c->crop_rounding = VTP_CROP_FLOOR;
    else {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: crop_rounding \"%s\" is not floor or round_half_even",
          where, rounding);
      return FALSE;
    }
  }
  if (resample != 2 && resample != 3) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG,
        "%s: resample %d is not supported (2 bilinear, 3 bicubic)", where, resample);
    return FALSE;
  }
  c->resample = resample == 3 ? VTP_RESAMPLE_BICUBIC : VTP_RESAMPLE_BILINEAR;
  if (!do_resize)
    c->resize = VTP_RESIZE_NONE;
  c->crop = do_crop;
  c->rescale = do_rescale ? rescale : 1.0f;
  if (!do_normalize) {
    c->mean[0] = c->mean[1] = c->mean[2] = 0.0f;
    c->std[0] = c->std[1] = c->std[2] = 1.0f;
  }
  return TRUE;
}

static void
resized_size (const VtpImageConfig *c, gint w, gint h, gint *rw, gint *rh)
{
  switch (c->resize) {
    case VTP_RESIZE_NONE:
      *rw = w;
      *rh = h;
      break;
    case VTP_RESIZE_EXACT:
      *rw = c->resize_width;
      *rh = c->resize_height;
      break;
    case VTP_RESIZE_SHORTEST_EDGE:
      /* as transformers' get_resize_output_image_size: the long side is truncated */
      if (w <= h) {
        *rw = c->shortest_edge;
        *rh = (gint) ((gint64) c->shortest_edge * h / w);
      } else {
        *rh = c->shortest_edge;
        *rw = (gint) ((gint64) c->shortest_edge * w / h);
      }
      break;
  }
}

void
vtp_image_config_output_size (const VtpImageConfig *c, gint w, gint h, gint *out_w, gint *out_h)
{
  if (c->crop) {
    *out_w = c->crop_width;
    *out_h = c->crop_height;
  } else
    resized_size (c, w, h, out_w, out_h);
}

gboolean
vtp_image_config_source_is_enough (const VtpImageConfig *c, gint w, gint h, gint sw, gint sh)
{
  gint rw, rh, srw, srh;

  if (sw == w && sh == h)
    return TRUE;
  switch (c->resize) {
    case VTP_RESIZE_NONE:
      return FALSE;
    case VTP_RESIZE_EXACT:
      return sw >= c->resize_width && sh >= c->resize_height;
    case VTP_RESIZE_SHORTEST_EDGE:
      if (MIN (sw, sh) < c->shortest_edge)
        return FALSE;
      /* without a crop the output size follows the source's: it must not change */
      resized_size (c, w, h, &rw, &rh);
      resized_size (c, sw, sh, &srw, &srh);
      return c->crop ? srw >= c->crop_width && srh >= c->crop_height : srw == rw && srh == rh;
  }
  return FALSE;
}

/* ---- Pillow's resampling coefficients (Resample.c), computed the same way ---- */

#define PRECISION_BITS (32 - 8 - 2)

static double
bicubic_filter (double x)
{
  const double a = -0.5;
  if (x < 0.0)
    x = -x;
  if (x < 1.0)
    return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0)
    return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

static double
bilinear_filter (double x)
{
  if (x < 0.0)
    x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

typedef struct {
  gint ksize;
  gint *bounds;               /* [out, 2]: first input index, count */
  gint *coeffs;               /* [out, ksize], fixed point */
} Coeffs;

static void
coeffs_clear (Coeffs *k)
{
  g_free (k->bounds);
  g_free (k->coeffs);
  memset (k, 0, sizeof *k);
}

static void
precompute_coeffs (gint in_size, gint out_size, VtpResample resample, Coeffs *out)
{
  const double support_1 = resample == VTP_RESAMPLE_BICUBIC ? 2.0 : 1.0;
  double (*filter) (double) = resample == VTP_RESAMPLE_BICUBIC ? bicubic_filter : bilinear_filter;
  const double scale = (double) in_size / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = support_1 * filterscale;
  const gint ksize = (gint) ceil (support) * 2 + 1;
  double *k = g_new0 (double, ksize);

  out->ksize = ksize;
  out->bounds = g_new0 (gint, 2 * out_size);
  out->coeffs = g_new0 (gint, (gsize) out_size * ksize);
  for (gint xx = 0; xx < out_size; xx++) {
    const double center = (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    double ww = 0.0;
    gint xmin = (gint) (center - support + 0.5), xmax = (gint) (center + support + 0.5);

    if (xmin < 0)
      xmin = 0;
    if (xmax > in_size)
      xmax = in_size;
    xmax -= xmin;
    for (gint x = 0; x < xmax; x++) {
      k[x] = filter ((x + xmin - center + 0.5) * ss);
      ww += k[x];
    }
    for (gint x = 0; x < xmax; x++) {
      double v = ww != 0.0 ? k[x] / ww : k[x];
      out->coeffs[xx * ksize + x] = (gint) (v < 0 ? -0.5 + v * (1 << PRECISION_BITS)
          : 0.5 + v * (1 << PRECISION_BITS));
    }
    out->bounds[2 * xx] = xmin;
    out->bounds[2 * xx + 1] = xmax;
  }
  g_free (k);
}

static gint
crop_offset (gint size, gint crop, VtpCropRounding rounding)
{
  const gint d = size - crop;
  if (rounding == VTP_CROP_FLOOR)
    return d >= 0 ? d / 2 : -((-d + 1) / 2);          /* Python floor division */
  if (d < 0)
    return -((-d) / 2);                               /* torchvision pads (crop - size) // 2 first */
  /* round(d / 2) with ties to even */
  return (d % 2 == 0) ? d / 2 : ((d / 2) % 2 == 0 ? d / 2 : d / 2 + 1);
}

struct _VtpImagePreprocessor {
  VtpDevice *dev;
  VtpImageConfig config;
  /* The uploaded frame: its size, rows and pixel layout. */
  VtpTensor *frame;
  gsize frame_capacity;
  gint frame_w, frame_h, frame_stride, pixel_stride, off[3];
  /* State that depends on the size of the image resized (the frame or a
   * region of it), rebuilt when that size changes. */
  gint in_w, in_h;
  gint rw, rh, row0, rows;
  gboolean vertical_first;
  Coeffs h, v;
  VtpTensor *rgb, *tmp, *resized;
  VtpTensor *h_bounds, *h_coeffs, *v_bounds, *v_coeffs;
};

VtpImagePreprocessor *
vtp_image_preprocessor_new (VtpDevice *dev, const VtpImageConfig *config)
{
  VtpImagePreprocessor *p = g_new0 (VtpImagePreprocessor, 1);
  p->dev = vtp_device_ref (dev);
  p->config = *config;
  return p;
}

static void
clear_size_state (VtpImagePreprocessor *p)
{
  VtpTensor **ts[] = { &p->rgb, &p->tmp, &p->resized, &p->h_bounds, &p->h_coeffs, &p->v_bounds, &p->v_coeffs };
  for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
    g_clear_pointer (ts[i], vtp_tensor_free);
  coeffs_clear (&p->h);
  coeffs_clear (&p->v);
  p->in_w = p->in_h = 0;
}

void
vtp_image_preprocessor_free (VtpImagePreprocessor *p)
{
  if (!p)
    return;
  clear_size_state (p);
  g_clear_pointer (&p->frame, vtp_tensor_free);
  vtp_device_unref (p->dev);
  g_free (p);
}

static VtpTensor *
upload_ints (VtpDevice *dev, const gint *v, gint64 n, GError **error)
{
  VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, &n, v, error);

  if (!t)
    g_prefix_error (error, "The resize tables: ");
  return t;
}

static VtpTensor *
new_bytes (VtpDevice *dev, gint64 n, GError **error)
{
  return vtp_tensor_new (dev, VTP_DTYPE_U8, 1, &n, error);
}

/* Resize coefficients and buffers for a @w x @h image (the frame, or the
 * region of it that is described). */
static gboolean
prepare_size (VtpImagePreprocessor *p, gint w, gint h, GError **error)
{
  if (p->in_w == w && p->in_h == h)
    return TRUE;
  clear_size_state (p);
  resized_size (&p->config, w, h, &p->rw, &p->rh);
  if (p->rw <= 0 || p->rh <= 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A %dx%d image resizes to nothing", w, h);
    return FALSE;
  }
  p->row0 = 0;
  p->rows = h;
  /* Pillow 13 runs the vertical pass first when the height shrinks by more
   * than twice what the width does (read off its ImagingResampleInner);
   * earlier Pillows always ran the horizontal pass first. The order changes
   * the rounding of the intermediate image, so it must be followed. */
  p->vertical_first = p->rw != w && p->rh < h && h - p->rh > 2 * (w - p->rw);
  if (p->rh != h) {
    precompute_coeffs (h, p->rh, p->config.resample, &p->v);
    if (p->rw != w && !p->vertical_first) {
      /* the horizontal pass only needs the rows the vertical pass reads */
      p->row0 = p->v.bounds[0];
      p->rows = p->v.bounds[2 * p->rh - 2] + p->v.bounds[2 * p->rh - 1] - p->row0;
      for (gint i = 0; i < p->rh; i++)
        p->v.bounds[2 * i] -= p->row0;
    }
  }
  if (p->rw != w)
    precompute_coeffs (w, p->rw, p->config.resample, &p->h);
  if (!(p->rgb = new_bytes (p->dev, (gint64) w * h * 3, error))
      || !(p->tmp = new_bytes (p->dev, (gint64) MAX (p->rw * p->rows, w * p->rh) * 3, error))
      || !(p->resized = new_bytes (p->dev, (gint64) p->rw * p->rh * 3, error))
      || (p->h.ksize && (!(p->h_bounds = upload_ints (p->dev, p->h.bounds, 2 * p->rw, error))
          || !(p->h_coeffs = upload_ints (p->dev, p->h.coeffs, (gint64) p->rw * p->h.ksize, error))))
      || (p->v.ksize && (!(p->v_bounds = upload_ints (p->dev, p->v.bounds, 2 * p->rh, error))
          || !(p->v_coeffs = upload_ints (p->dev, p->v.coeffs, (gint64) p->rh * p->v.ksize, error))))) {
    clear_size_state (p);
    return FALSE;
  }
  p->in_w = w;
  p->in_h = h;
  return TRUE;
}

static void
layout_offsets (VtpPixelLayout layout, gint *pixel_stride, gint off[3])
{
  static const gint table[][4] = {
    [VTP_PIXELS_RGB] = { 3, 0, 1, 2 }, [VTP_PIXELS_BGR] = { 3, 2, 1, 0 },
    [VTP_PIXELS_RGBA] = { 4, 0, 1, 2 }, [VTP_PIXELS_BGRA] = { 4, 2, 1, 0 },
    [VTP_PIXELS_ARGB] = { 4, 1, 2, 3 }, [VTP_PIXELS_ABGR] = { 4, 3, 2, 1 },
  };
  *pixel_stride = table[layout][0];
  off[0] = table[layout][1];
  off[1] = table[layout][2];
  off[2] = table[layout][3];
}

gboolean
vtp_image_preprocessor_upload (VtpImagePreprocessor *p, const guint8 *pixels, gint width, gint height,
    gint stride, VtpPixelLayout layout, GError **error)
{
  gint pixel_stride, off[3];
  gsize need;

  p->frame_w = p->frame_h = 0;
  if (width <= 0 || height <= 0 || width > 32768 || height > 32768) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Image size %dx%d is not supported (1 to 32768 pixels a side)",
        width, height);
    return FALSE;
  }
  layout_offsets (layout, &pixel_stride, off);
  if (stride < width * pixel_stride) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Row stride %d is shorter than a %d-pixel row", stride, width);
    return FALSE;
  }
  /* enough for any layout's last row, so that the buffer serves them all */
  need = (gsize) stride * (height - 1) + (gsize) width * 4;
  if (need > p->frame_capacity) {
    g_clear_pointer (&p->frame, vtp_tensor_free);
    p->frame_capacity = 0;
    if (!(p->frame = new_bytes (p->dev, need, error)))
      return FALSE;
    p->frame_capacity = need;
  }
  if (!vtp_tensor_write (p->frame, 0, pixels, (gsize) stride * (height - 1) + (gsize) width * pixel_stride, error)) {
    g_prefix_error (error, "Uploading the pixels of a %dx%d frame: ", width, height);
    return FALSE;
  }
  p->frame_w = width;
  p->frame_h = height;
  p->frame_stride = stride;
  p->pixel_stride = pixel_stride;
  memcpy (p->off, off, sizeof off);
  return TRUE;
}

gboolean
vtp_image_preprocessor_run (VtpImagePreprocessor *p, const VtpImageRect *region, VtpTensor *out, GError **error)
{
  const VtpImageConfig *c = &p->config;
  const VtpImageRect whole = { 0, 0, p->frame_w, p->frame_h };
  const VtpImageRect *r = region ? region : &whole;
  gint out_w, out_h, top = 0, left = 0, width = r->width;
  VtpTensor *src;

  if (!p->frame_w) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "No frame was uploaded to preprocess");
    return FALSE;
  }
  if (r->width <= 0 || r->height <= 0 || r->x < 0 || r->y < 0 || r->x > p->frame_w - r->width
      || r->y > p->frame_h - r->height) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The region %dx%d at (%d, %d) is not inside the %dx%d frame",
        r->width, r->height, r->x, r->y, p->frame_w, p->frame_h);
    return FALSE;
  }
  vtp_image_config_output_size (c, r->width, r->height, &out_w, &out_h);
  if (out->ndim != 3 || out->shape[0] != 3 || out->shape[1] != out_h || out->shape[2] != out_w) {
    g_autofree char *d = vtp_tensor_describe (out);
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE,
        "Preprocessing gives [3, %d, %d] but the model input is %s", out_h, out_w, d);
    return FALSE;
  }
  if (!prepare_size (p, r->width, r->height, error))
    return FALSE;

  /* the crop is where the pixels are read: nothing is copied on the host */
  vtp_op_image_pack_rgb (p->rgb, p->frame, r->x, r->y, r->width, r->height, p->frame_stride, p->pixel_stride,
      p->off);
  src = p->rgb;
  if (p->vertical_first) {
    vtp_op_image_resample_v (p->tmp, src, width, p->rh, p->v_bounds, p->v_coeffs, p->v.ksize);
    vtp_op_image_resample_h (p->resized, p->tmp, width, 0, p->rh, p->rw, p->h_bounds, p->h_coeffs, p->h.ksize);
    src = p->resized;
  } else {
    if (p->h.ksize) {
      vtp_op_image_resample_h (p->tmp, src, width, p->row0, p->rows, p->rw, p->h_bounds, p->h_coeffs, p->h.ksize);
      src = p->tmp;
    }
    if (p->v.ksize) {
      vtp_op_image_resample_v (p->resized, src, p->rw, p->rh, p->v_bounds, p->v_coeffs, p->v.ksize);
      src = p->resized;
    }
  }
  if (c->crop) {
    top = crop_offset (p->rh, c->crop_height, c->crop_rounding);
    left = crop_offset (p->rw, c->crop_width, c->crop_rounding);
  }
  vtp_op_image_crop_normalize (out, src, p->rw, p->rh, top, left, out_w, out_h, c->rescale, c->mean, c->std);
  return vtp_error_take_pending (error);
}

gboolean
vtp_image_preprocess (VtpImagePreprocessor *p, const guint8 *pixels, gint width, gint height,
    gint stride, VtpPixelLayout layout, VtpTensor *out, GError **error)
{
  return vtp_image_preprocessor_upload (p, pixels, width, height, stride, layout, error)
      && vtp_image_preprocessor_run (p, NULL, out, error);
}
