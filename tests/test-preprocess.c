/* test-preprocess.c: vtp's device preprocessing against transformers'
 * image processors (PIL backend) on images of many sizes and aspect ratios:
 * CLIPImageProcessor with LLaVA-1.5's settings (336 px shortest edge,
 * 336x336 center crop; tools/make_llava_fixtures.py) and BlipImageProcessor
 * (plain 224x224 resize, every pass order Pillow picks;
 * tools/make_blip_fixtures.py). Required: within 2/255 of a pixel; Pillow's
 * resampling is reproduced bit for bit, so the test also reports how many
 * values differ at all. */
#include <math.h>
#include "test-gst-util.h"
#include "vtp-image.h"
#include "vtp-safetensors.h"
#include <json-glib/json-glib.h>

static void
test_processor (gconstpointer fixture)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *ref_path = g_build_filename (dir, "reference.safetensors", NULL);
  g_autofree char *meta_path = g_build_filename (dir, "reference.json", NULL);
  g_autoptr (VtpSafetensors) ref = vtp_safetensors_open (ref_path, &error);
  g_autoptr (JsonParser) meta = json_parser_new ();
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpTensor) out = NULL;
  JsonArray *cases;
  JsonObject *root, *size;
  guint n_cases;
  gint S;

  g_assert_no_error (error);
  g_assert_true (json_parser_load_from_file (meta, meta_path, &error));
  root = json_node_get_object (json_parser_get_root (meta));
  cases = json_object_get_array_member (root, "cases");
  n_cases = json_array_get_length (cases);
  g_assert_cmpuint (n_cases, >=, 5);
  size = json_object_get_object_member (root, "size");
  if (json_object_has_member (size, "shortest_edge")) {
    S = json_object_get_int_member (size, "shortest_edge");
    vtp_image_config_clip_default (&ic, S);          /* + center crop S x S */
  } else {
    S = json_object_get_int_member (size, "height");
    g_assert_cmpint (json_object_get_int_member (size, "width"), ==, S);
    vtp_image_config_clip_default (&ic, S);
    ic.resize = VTP_RESIZE_EXACT;
    ic.resize_width = ic.resize_height = S;
    ic.crop = FALSE;
  }
  pre = vtp_image_preprocessor_new (dev, &ic);
  out = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, S, S }, &error);
  g_assert_no_error (error);

  for (guint i = 0; i < n_cases; i++) {
    JsonObject *c = json_array_get_object_element (cases, i);
    g_autofree char *png = g_build_filename (dir, json_object_get_string_member (c, "file"), NULL);
    g_autofree char *key = g_strdup_printf ("processed-%u", i);
    const VtpStTensor *want = vtp_safetensors_find (ref, key);
    g_autofree guint8 *rgb = NULL;
    g_autofree float *got = NULL;
    gint w, h, differing = 0;
    double worst_px = 0, worst_norm = 0;

    rgb = load_rgb (png, &w, &h);
    g_assert_cmpint (w, ==, json_object_get_int_member (c, "width"));
    g_assert_cmpint (h, ==, json_object_get_int_member (c, "height"));
    g_assert_nonnull (want);
    g_assert_true (vtp_image_preprocess (pre, rgb, w, h, w * 3, VTP_PIXELS_RGB, out, &error));
    g_assert_no_error (error);
    got = vtp_tensor_read_f32 (out, &error);
    g_assert_no_error (error);
    for (gint ch = 0; ch < 3; ch++)
      for (gint p = 0; p < S * S; p++) {
        const gsize k = (gsize) ch * S * S + p;
        /* transformers' pixel value, rebuilt from its exact uint8 image */
        const float ref_norm = (want->data[k] / 255.0f - ic.mean[ch]) / ic.std[ch];
        const double px = fabs (got[k] * ic.std[ch] + ic.mean[ch] - want->data[k] / 255.0) * 255.0;
        worst_norm = MAX (worst_norm, fabs (got[k] - ref_norm));
        worst_px = MAX (worst_px, px);
        differing += px > 0.5;
      }
    g_test_message ("%s %dx%d: max error %.3g pixel levels (%.3g normalized), %d values differ",
        json_object_get_string_member (c, "file"), w, h, worst_px, worst_norm, differing);
    g_assert_cmpfloat (worst_px, <=, 2.0);
    g_assert_cmpfloat (worst_norm, <=, 2.0 / 255.0 / 0.2613);
  }
}

/* Every packed layout gives the same input as RGB. */
static void
test_layouts (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const gint w = 37, h = 23;
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpTensor) out = NULL;
  g_autofree guint8 *rgb = g_new (guint8, w * h * 3), *packed = g_new0 (guint8, (w * 4 + 8) * h);
  g_autofree float *want = NULL;
  const struct { VtpPixelLayout layout; gint bpp, r, g, b; } layouts[] = {
    { VTP_PIXELS_BGR, 3, 2, 1, 0 }, { VTP_PIXELS_RGBA, 4, 0, 1, 2 }, { VTP_PIXELS_BGRA, 4, 2, 1, 0 },
    { VTP_PIXELS_ARGB, 4, 1, 2, 3 }, { VTP_PIXELS_ABGR, 4, 3, 2, 1 },
  };

  for (gint i = 0; i < w * h * 3; i++)
    rgb[i] = (guint8) (i * 37 + i / 7);
  vtp_image_config_clip_default (&ic, 16);
  pre = vtp_image_preprocessor_new (dev, &ic);
  out = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, 16, 16 }, &error);
  g_assert_true (vtp_image_preprocess (pre, rgb, w, h, w * 3, VTP_PIXELS_RGB, out, &error));
  want = vtp_tensor_read_f32 (out, &error);
  g_assert_no_error (error);
  for (guint l = 0; l < G_N_ELEMENTS (layouts); l++) {
    const gint stride = w * layouts[l].bpp + 8;       /* padded rows */
    g_autofree float *got = NULL;
    for (gint y = 0; y < h; y++)
      for (gint x = 0; x < w; x++) {
        guint8 *p = packed + y * stride + x * layouts[l].bpp;
        p[layouts[l].r] = rgb[(y * w + x) * 3];
        p[layouts[l].g] = rgb[(y * w + x) * 3 + 1];
        p[layouts[l].b] = rgb[(y * w + x) * 3 + 2];
      }
    g_assert_true (vtp_image_preprocess (pre, packed, w, h, stride, layouts[l].layout, out, &error));
    got = vtp_tensor_read_f32 (out, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (got, 3 * 16 * 16 * sizeof (float), want, 3 * 16 * 16 * sizeof (float));
  }
}

static void
test_bad_input (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpTensor) out = NULL;
  guint8 px[12] = { 0 };

  vtp_image_config_clip_default (&ic, 16);
  pre = vtp_image_preprocessor_new (dev, &ic);
  out = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, 8, 8 }, &error);
  g_assert_false (vtp_image_preprocess (pre, px, 2, 2, 6, VTP_PIXELS_RGB, out, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "[3, 16, 16]"));
  g_clear_error (&error);
  g_assert_false (vtp_image_preprocess (pre, px, 0, 2, 6, VTP_PIXELS_RGB, out, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_false (vtp_image_preprocess (pre, px, 4, 1, 6, VTP_PIXELS_RGB, out, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
}

/* Extreme sizes and aspect ratios go through (no crash, finite values). */
static void
test_extreme_sizes (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const gint sizes[][2] = { { 1, 1 }, { 1, 999 }, { 2000, 2 }, { 3, 5 }, { 4000, 3000 } };
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpTensor) out = NULL;

  vtp_image_config_clip_default (&ic, 24);
  pre = vtp_image_preprocessor_new (dev, &ic);
  out = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, 24, 24 }, &error);
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++) {
    const gint w = sizes[i][0], h = sizes[i][1];
    g_autofree guint8 *px = g_new (guint8, (gsize) w * h * 3);
    g_autofree float *got = NULL;
    for (gsize k = 0; k < (gsize) w * h * 3; k++)
      px[k] = (guint8) (k * 7);
    g_assert_true (vtp_image_preprocess (pre, px, w, h, w * 3, VTP_PIXELS_RGB, out, &error));
    g_assert_no_error (error);
    got = vtp_tensor_read_f32 (out, &error);
    for (gint k = 0; k < 3 * 24 * 24; k++)
      g_assert_true (isfinite (got[k]) && fabsf (got[k]) < 3.0f);
  }
}

/* A region of a frame (vtpencoder roi=true) preprocesses exactly as the
 * same pixels cropped on the host and given as the whole image: the crop
 * on the device is bit-identical to cropping the picture first (PIL's
 * Image.crop before the processor), for any layout and row padding, for
 * the resize with a center crop and the plain resize (both pass orders). */
static void
test_regions (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const gint W = 97, H = 61, bpp = 4, stride = W * bpp + 12;
  const VtpImageRect regions[] = {
    { 0, 0, W, H }, { 0, 0, 1, 1 }, { W - 1, H - 1, 1, 1 }, { 10, 5, 40, 30 }, { W - 33, 0, 33, H },
    { 3, H - 7, W - 3, 7 }, { 50, 2, 5, 57 }, { 1, 1, 64, 3 },
  };
  g_autofree guint8 *bgra = g_new0 (guint8, (gsize) stride * H);

  g_assert_no_error (error);
  for (gsize k = 0; k < (gsize) stride * H; k++)
    bgra[k] = (guint8) (k * 31 + k / 5);
  for (gint config = 0; config < 2; config++) {
    VtpImageConfig ic;
    g_autoptr (VtpImagePreprocessor) whole = NULL, regional = NULL;
    g_autoptr (VtpTensor) want_t = NULL, got_t = NULL;
    const gint S = 20;

    vtp_image_config_clip_default (&ic, S);
    if (config == 1) {
      ic.resize = VTP_RESIZE_EXACT;
      ic.resize_width = ic.resize_height = S;
      ic.crop = FALSE;
    }
    whole = vtp_image_preprocessor_new (dev, &ic);
    regional = vtp_image_preprocessor_new (dev, &ic);
    want_t = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, S, S }, &error);
    got_t = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { 3, S, S }, &error);
    g_assert_no_error (error);
    /* the frame goes up once; every region is read from it */
    g_assert_true (vtp_image_preprocessor_upload (regional, bgra, W, H, stride, VTP_PIXELS_BGRA, &error));
    for (guint i = 0; i < G_N_ELEMENTS (regions); i++) {
      const VtpImageRect *r = &regions[i];
      g_autofree guint8 *crop = g_new (guint8, (gsize) r->width * r->height * 3);
      g_autofree float *want = NULL, *got = NULL;

      for (gint y = 0; y < r->height; y++)
        for (gint x = 0; x < r->width; x++) {
          const guint8 *p = bgra + (gsize) (r->y + y) * stride + (gsize) (r->x + x) * bpp;
          guint8 *o = crop + ((gsize) y * r->width + x) * 3;
          o[0] = p[2];
          o[1] = p[1];
          o[2] = p[0];
        }
      g_assert_true (vtp_image_preprocess (whole, crop, r->width, r->height, r->width * 3, VTP_PIXELS_RGB, want_t,
              &error));
      g_assert_true (vtp_image_preprocessor_run (regional, r, got_t, &error));
      g_assert_no_error (error);
      want = vtp_tensor_read_f32 (want_t, &error);
      got = vtp_tensor_read_f32 (got_t, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (got, 3 * S * S * sizeof (float), want, 3 * S * S * sizeof (float));
    }
    /* a region not inside the frame, or empty, is refused with its numbers */
    {
      const VtpImageRect bad[] = { { W - 10, 0, 11, 5 }, { 0, -1, 5, 5 }, { 4, 4, 0, 3 } };
      for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
        g_assert_false (vtp_image_preprocessor_run (regional, &bad[i], got_t, &error));
        g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
        g_assert_nonnull (strstr (error->message, "97x61 frame"));
        g_clear_error (&error);
      }
    }
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/preprocess/clip-processor", "preprocess-clip", test_processor);
  g_test_add_data_func ("/preprocess/blip-processor", "preprocess-blip", test_processor);
  g_test_add_func ("/preprocess/layouts", test_layouts);
  g_test_add_func ("/preprocess/bad-input", test_bad_input);
  g_test_add_func ("/preprocess/extreme-sizes", test_extreme_sizes);
  g_test_add_func ("/preprocess/regions", test_regions);
  return g_test_run ();
}
