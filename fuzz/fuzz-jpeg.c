/* fuzz-jpeg.c: a JPEG frame (an MJPEG camera's, or an image file's) planned
 * at full size and at the scale a 336-pixel CLIP model needs, and decoded. */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-jpeg.h"

/* a frame larger than this is planned but not decoded: the decode of a
 * 65535 x 65535 header would only measure memory, not find bugs. The
 * bound is on the frame, not on the output: libjpeg reads every block of
 * a frame whatever the scale, and keeps a progressive frame's
 * coefficients whole (2 bytes a pixel and component): a 22-byte frame
 * with a 65491 x 2198 header, decoded at 1/8 (8187 x 275 out), took the
 * campaign from 11,000 to about 500 executions/s, in libjpeg's memsets
 * and ASan's checks of them. vtp's code runs the same below and above
 * the bound. */
#define MAX_PIXELS (2048 * 2048)

static void
decode (const uint8_t *data, size_t size, const VtpImageConfig *config)
{
  g_autofree guint8 *rgb = NULL;
  VtpJpegSize plan;

  if (!vtp_jpeg_plan (data, size, config, config != NULL, &plan, NULL))
    return;
  g_assert (plan.out_width > 0 && plan.out_height > 0);
  g_assert (plan.out_width <= plan.width && plan.out_height <= plan.height);
  if ((gint64) plan.width * plan.height > MAX_PIXELS)
    return;
  rgb = g_malloc ((gsize) plan.out_width * plan.out_height * 3);
  vtp_jpeg_decode (data, size, &plan, rgb, NULL);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  VtpImageConfig config;

  vtp_image_config_clip_default (&config, 336);
  decode (data, size, NULL);
  decode (data, size, &config);
  return 0;
}
