/* test-jpeg.c: vtp's JPEG path (MJPEG cameras): the DCT scale picked for a
 * model, full-size decoding against GStreamer's jpegdec ! videoconvert,
 * scaled decoding against a box-filtered full decode, corrupt frames, and
 * vtpencoder taking image/jpeg. */
#include <gst/check/gstharness.h>
#include <math.h>
#include <string.h>
#include "fixture-path.h"
#include "jpeg-util.h"
#include "vtp-jpeg.h"
#include "vtp-error.h"

static void
test_plan (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg ("smpte", 640, 480);
  VtpImageConfig clip, exact;
  VtpJpegSize plan;
  g_autoptr (GError) error = NULL;
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);

  /* CLIP 224: 4/8 gives 320x240 (3/8 would give 240x180, short side < 224) */
  vtp_image_config_clip_default (&clip, 224);
  g_assert_true (vtp_jpeg_plan (data, size, &clip, TRUE, &plan, &error));
  g_assert_cmpint (plan.width, ==, 640);
  g_assert_cmpint (plan.height, ==, 480);
  g_assert_cmpint (plan.scale_num, ==, 4);
  g_assert_cmpint (plan.out_width, ==, 320);
  g_assert_cmpint (plan.out_height, ==, 240);
  /* LLaVA's 336: 4/8 is too small, and 6/8 (no SIMD) is not used: full size */
  vtp_image_config_clip_default (&clip, 336);
  g_assert_true (vtp_jpeg_plan (data, size, &clip, TRUE, &plan, &error));
  g_assert_cmpint (plan.scale_num, ==, 8);
  /* an exact 224x224 resize (BLIP) needs both sides: 224/480 -> 4/8 */
  exact = clip;
  exact.resize = VTP_RESIZE_EXACT;
  exact.resize_width = exact.resize_height = 224;
  exact.crop = FALSE;
  g_assert_true (vtp_jpeg_plan (data, size, &exact, TRUE, &plan, &error));
  g_assert_cmpint (plan.scale_num, ==, 4);
  /* scaling off: full size */
  g_assert_true (vtp_jpeg_plan (data, size, &clip, FALSE, &plan, &error));
  g_assert_cmpint (plan.scale_num, ==, 8);
  g_assert_cmpint (plan.out_width, ==, 640);

  /* a header claiming more than VTP_JPEG_MAX_PIXELS (the fuzz campaign's
   * kind: a few bytes, a huge frame) is refused before anything is
   * allocated or decoded; 16384 x 16384 (268 million) is still taken */
  {
    g_autofree guint8 *big = g_memdup2 (data, size);
    gboolean patched = FALSE;
    for (gsize i = 0; i + 8 < size && !patched; i++)
      if (big[i] == 0xff && (big[i + 1] == 0xc0 || big[i + 1] == 0xc2)) {   /* SOF0 / SOF2 */
        big[i + 5] = big[i + 7] = 0xea;                                   /* height, width 60000 */
        big[i + 6] = big[i + 8] = 0x60;                                   /* (libjpeg's own limit: 65500) */
        patched = TRUE;
      }
    g_assert_true (patched);
    g_assert_false (vtp_jpeg_plan (big, size, &clip, TRUE, &plan, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "60000 x 60000 pixels"));
    g_assert_nonnull (strstr (error->message, "more than the 268 million pixels vtp decodes"));
    g_clear_error (&error);
    for (gsize i = 0; i + 8 < size; i++)
      if (big[i] == 0xff && (big[i + 1] == 0xc0 || big[i + 1] == 0xc2)) {
        big[i + 5] = big[i + 7] = 0x40;                                   /* 16384 x 16384 */
        big[i + 6] = big[i + 8] = 0x00;
        break;
      }
    g_assert_true (vtp_jpeg_plan (big, size, &clip, TRUE, &plan, &error));
    g_assert_no_error (error);
    g_assert_cmpint (plan.width, ==, 16384);
  }
}

/* Full size: the same pixels as jpegdec ! videoconvert, up to the colour
 * conversion (libjpeg's own vs videoconvert's from I420). */
static void
test_full_decode (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg ("smpte", 320, 240);
  g_autoptr (GError) error = NULL;
  VtpJpegSize plan;
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);
  gint w, h;
  g_autofree guint8 *want = gst_decode_jpeg (jpeg, 1, &w, &h);
  g_autofree guint8 *got = NULL;
  double sum = 0;
  gint worst = 0;
  gsize close = 0;

  g_assert_true (vtp_jpeg_plan (data, size, NULL, FALSE, &plan, &error));
  g_assert_cmpint (plan.out_width, ==, w);
  g_assert_cmpint (plan.out_height, ==, h);
  got = g_malloc ((gsize) w * h * 3);
  g_assert_true (vtp_jpeg_decode (data, size, &plan, got, &error));
  for (gsize i = 0; i < (gsize) w * h * 3; i++) {
    gint d = abs ((gint) got[i] - want[i]);
    worst = MAX (worst, d);
    sum += d;
    close += d <= 4;
  }
  /* the two upsample chroma differently: colour-bar edges differ a lot, the
   * rest hardly */
  g_test_message ("full decode vs jpegdec ! videoconvert: mean |diff| %.3f, max %d, %.2f%% within 4 levels",
      sum / ((gsize) w * h * 3), worst, 100.0 * close / ((gsize) w * h * 3));
  g_assert_cmpfloat (sum / ((gsize) w * h * 3), <, 4.0);
  g_assert_cmpfloat ((double) close / ((gsize) w * h * 3), >, 0.9);
}

/* Scaled: close to the full decode averaged over each 8/M block. */
static void
test_scaled_decode (void)
{
  g_autoptr (GBytes) jpeg = make_jpeg ("pinwheel", 640, 480);
  g_autoptr (GError) error = NULL;
  VtpImageConfig clip;
  VtpJpegSize full, half;
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);
  g_autofree guint8 *big = NULL, *small = NULL;
  double sum = 0;

  vtp_image_config_clip_default (&clip, 224);
  g_assert_true (vtp_jpeg_plan (data, size, &clip, TRUE, &half, &error));
  g_assert_cmpint (half.scale_num, ==, 4);
  g_assert_true (vtp_jpeg_plan (data, size, NULL, FALSE, &full, &error));
  big = g_malloc ((gsize) full.out_width * full.out_height * 3);
  small = g_malloc ((gsize) half.out_width * half.out_height * 3);
  g_assert_true (vtp_jpeg_decode (data, size, &full, big, &error));
  g_assert_true (vtp_jpeg_decode (data, size, &half, small, &error));
  for (gint y = 0; y < half.out_height; y++)
    for (gint x = 0; x < half.out_width; x++)
      for (gint c = 0; c < 3; c++) {
        double box = 0;
        for (gint dy = 0; dy < 2; dy++)
          for (gint dx = 0; dx < 2; dx++)
            box += big[((gsize) (2 * y + dy) * full.out_width + 2 * x + dx) * 3 + c];
        sum += fabs (box / 4 - small[((gsize) y * half.out_width + x) * 3 + c]);
      }
  sum /= (double) half.out_width * half.out_height * 3;
  g_test_message ("4/8 decode vs 2x2 box of the full decode: mean |diff| %.3f levels", sum);
  g_assert_cmpfloat (sum, <, 3.0);
}

static void
test_corrupt (void)
{
  const guint8 junk[] = "this is not a JPEG frame at all";
  g_autoptr (GError) error = NULL;
  VtpJpegSize plan;

  g_assert_false (vtp_jpeg_plan (junk, sizeof junk, NULL, FALSE, &plan, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "Not a JPEG frame"));
}

/* vtpencoder takes image/jpeg; scaled and full-size decoding give nearly the
 * same features. */
static void
test_encoder_jpeg (void)
{
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  g_autoptr (GBytes) jpeg = make_jpeg ("smpte", 320, 240);
  GstBuffer *out[2];
  GstMapInfo a, b;
  double worst = 0, diff2 = 0, norm2 = 0;

  for (gint i = 0; i < 2; i++) {
    GstElement *e = gst_element_factory_make ("vtpencoder", NULL);
    GstHarness *h;
    g_object_set (e, "model", dir, "jpeg-scaling", i == 0, NULL);
    h = gst_harness_new_with_element (e, "sink", "src");
    gst_object_unref (e);
    gst_harness_set_src_caps_str (h, "image/jpeg,width=320,height=240,framerate=30/1");
    out[i] = gst_harness_push_and_pull (h, gst_buffer_new_wrapped_bytes (jpeg));
    g_assert_nonnull (out[i]);
    gst_harness_teardown (h);
  }
  g_assert_true (gst_buffer_map (out[0], &a, GST_MAP_READ));
  g_assert_true (gst_buffer_map (out[1], &b, GST_MAP_READ));
  g_assert_cmpuint (a.size, ==, b.size);
  for (gsize i = 0; i < a.size / 4; i++) {
    const double d = ((float *) a.data)[i] - ((float *) b.data)[i];
    worst = MAX (worst, fabs (d));
    diff2 += d * d;
    norm2 += ((float *) b.data)[i] * ((float *) b.data)[i];
  }
  /* the tiny random fixture magnifies pixel differences more than a trained
   * encoder: a loose bound on the relative RMS difference */
  g_test_message ("features, scaled vs full-size JPEG decode: relative RMS diff %.4f, max |diff| %.4f",
      sqrt (diff2 / norm2), worst);
  g_assert_cmpfloat (sqrt (diff2 / norm2), <, 0.1);
  gst_buffer_unmap (out[0], &a);
  gst_buffer_unmap (out[1], &b);
  gst_buffer_unref (out[0]);
  gst_buffer_unref (out[1]);
}

/* @jpeg damaged: its first 100 bytes only (the header cut short), or its
 * start marker overwritten (not a JPEG at all). */
static GstBuffer *
damaged_frame (GBytes *jpeg, gboolean truncate)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);
  guint8 *copy = g_memdup2 (data, truncate ? 100 : size);

  if (!truncate)
    memset (copy, 0x5a, 16);
  return gst_buffer_new_wrapped (copy, truncate ? 100 : size);
}

/* Twelve MJPEG frames through vtpencoder with frames 4 and 7 damaged (their
 * pts in seconds); the element's warnings and errors from its bus. */
static guint
encode_mjpeg (gint max_errors, guint *warnings, guint *errors, char **first_message)
{
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  g_autoptr (GBytes) jpeg = make_jpeg ("smpte", 320, 240);
  GstElement *e = gst_element_factory_make ("vtpencoder", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstMessage *m;
  guint out = 0;
  guint64 corrupt = 0, described = 0;

  /* the harness answers latency queries as live: every frame is wanted here */
  g_object_set (e, "model", dir, "max-errors", max_errors, "drop-frames", 2 /* never */, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_element_set_bus (e, bus);
  gst_harness_set_src_caps_str (h, "image/jpeg,width=320,height=240,framerate=1/1");
  for (guint i = 0; i < 12; i++) {
    GstBuffer *buf = i == 4 || i == 7 ? damaged_frame (jpeg, i == 4) : gst_buffer_new_wrapped_bytes (jpeg);
    GST_BUFFER_PTS (buf) = i * GST_SECOND;
    GST_BUFFER_DURATION (buf) = GST_SECOND;
    GstFlowReturn ret = gst_harness_push (h, buf);
    if (ret != GST_FLOW_OK) {
      g_test_message ("frame %u: %s", i, gst_flow_get_name (ret));
      break;
    }
  }
  gst_harness_push_event (h, gst_event_new_eos ());
  /* the element's worker pushes on; end of stream comes after the last frame */
  for (GstEvent *ev; (ev = gst_harness_pull_event (h)); gst_event_unref (ev))
    if (GST_EVENT_TYPE (ev) == GST_EVENT_EOS) {
      gst_event_unref (ev);
      break;
    }
  out = gst_harness_buffers_in_queue (h);
  g_assert_cmpuint (out, <=, max_errors == 0 ? 5 : 10);
  g_object_get (e, "frames-corrupt", &corrupt, "frames-described", &described, NULL);
  *warnings = *errors = 0;
  while ((m = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING | GST_MESSAGE_ERROR))) {
    g_autoptr (GError) error = NULL;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING) {
      gst_message_parse_warning (m, &error, NULL);
      (*warnings)++;
    } else {
      gst_message_parse_error (m, &error, NULL);
      (*errors)++;
    }
    g_test_message ("%s: %s", GST_MESSAGE_TYPE_NAME (m), error->message);
    if (first_message && !*first_message)
      *first_message = g_strdup (error->message);
    gst_message_unref (m);
  }
  g_test_message ("max-errors %d: %u out, %" G_GUINT64_FORMAT " corrupt", max_errors, out, corrupt);
  if (max_errors < 0 || max_errors >= 1) {
    g_assert_cmpuint (corrupt, ==, 2);
    g_assert_cmpuint (described, ==, out);      /* a skipped frame counts as dropped */
  }
  gst_harness_teardown (h);
  gst_object_unref (e);
  gst_object_unref (bus);
  return out;
}

/* Issue 14, 4: one bad frame of an MJPEG camera stopped the pipeline. Now
 * it is skipped with a warning naming it; only more than max-errors bad
 * frames in a row are an error (0: the first). */
static void
test_encoder_corrupt_frames (void)
{
  g_autofree char *message = NULL;
  guint warnings, errors;

  g_assert_cmpuint (encode_mjpeg (-1, &warnings, &errors, &message), ==, 10);
  g_assert_cmpuint (warnings, ==, 2);
  g_assert_cmpuint (errors, ==, 0);
  g_assert_nonnull (strstr (message, "0:00:04.000000000"));
  g_clear_pointer (&message, g_free);
  g_assert_cmpuint (encode_mjpeg (1, &warnings, &errors, NULL), ==, 10);
  g_assert_cmpuint (warnings, ==, 2);
  g_assert_cmpuint (errors, ==, 0);

  /* max-errors=0: the first bad frame is an error; the frames before it came
   * out, and at most the one already waiting in the slot after it */
  g_assert_cmpuint (encode_mjpeg (0, &warnings, &errors, &message), >=, 4);
  g_assert_cmpuint (warnings, ==, 0);
  g_assert_cmpuint (errors, ==, 1);
  g_assert_nonnull (strstr (message, "0:00:04.000000000"));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/jpeg/plan", test_plan);
  g_test_add_func ("/jpeg/full-decode", test_full_decode);
  g_test_add_func ("/jpeg/scaled-decode", test_scaled_decode);
  g_test_add_func ("/jpeg/corrupt", test_corrupt);
  g_test_add_func ("/jpeg/encoder", test_encoder_jpeg);
  g_test_add_func ("/jpeg/encoder-corrupt-frames", test_encoder_corrupt_frames);
  return g_test_run ();
}
