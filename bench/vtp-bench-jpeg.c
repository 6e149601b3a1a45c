/* vtp-bench-jpeg: what an MJPEG camera frame costs before the model sees
 * it. jpegdec ! videoconvert to full-size RGB (a pipeline without vtp's
 * JPEG path) against vtpencoder's libjpeg-turbo decode at the smallest DCT
 * scale for the model's input, and at full size; one run, same frames.
 *
 *   vtp-bench-jpeg [FRAMES] [INPUT_SIZE]   (defaults: 200 frames, 336 = LLaVA-1.5) */
#include <stdio.h>
#include <stdlib.h>
#include "jpeg-util.h"
#include "vtp-jpeg.h"

static double
vtp_decode_ms (GBytes *jpeg, const VtpImageConfig *c, gboolean scale, guint n, VtpJpegSize *plan)
{
  gsize size;
  const guint8 *data = g_bytes_get_data (jpeg, &size);
  guint8 *rgb = NULL;
  gint64 t0 = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++) {
    if (!vtp_jpeg_plan (data, size, c, scale, plan, NULL))
      g_error ("plan failed");
    if (!rgb)
      rgb = g_malloc ((gsize) plan->out_width * plan->out_height * 3);
    if (!vtp_jpeg_decode (data, size, plan, rgb, NULL))
      g_error ("decode failed");
  }
  g_free (rgb);
  return (g_get_monotonic_time () - t0) / 1000.0 / n;
}

int
main (int argc, char **argv)
{
  const guint n = argc > 1 ? (guint) atoi (argv[1]) : 200;
  const gint input = argc > 2 ? atoi (argv[2]) : 336;
  const gint sizes[][2] = { { 640, 480 }, { 1280, 720 }, { 1920, 1080 } };
  VtpImageConfig c;

  gst_init (&argc, &argv);
  vtp_image_config_clip_default (&c, input);
  printf ("%u frames each, model input %d (shortest side + centre crop), pattern smpte, jpegenc quality 90\n", n,
      input);
  printf ("%-10s %22s %26s %22s %8s\n", "frame", "jpegdec+videoconvert", "vtp scaled (scale, size)", "vtp full size",
      "ratio");
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
    g_autoptr (GBytes) jpeg = make_jpeg ("smpte", sizes[s][0], sizes[s][1]);
    VtpJpegSize plan, full;
    gint w, h;
    gint64 t0;
    double gst_ms, scaled_ms, full_ms;
    g_autofree char *label = g_strdup_printf ("%dx%d", sizes[s][0], sizes[s][1]);

    g_free (gst_decode_jpeg (jpeg, 5, &w, &h));    /* warm up */
    t0 = g_get_monotonic_time ();
    g_free (gst_decode_jpeg (jpeg, n, &w, &h));
    gst_ms = (g_get_monotonic_time () - t0) / 1000.0 / n;
    scaled_ms = vtp_decode_ms (jpeg, &c, TRUE, n, &plan);
    full_ms = vtp_decode_ms (jpeg, &c, FALSE, n, &full);
    printf ("%-10s %19.2f ms %9.2f ms (%d/8, %dx%d) %19.2f ms %7.1fx\n", label, gst_ms, scaled_ms,
        plan.scale_num, plan.out_width, plan.out_height, full_ms, gst_ms / scaled_ms);
  }
  return 0;
}
