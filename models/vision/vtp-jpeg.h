/* vtp-jpeg.h: JPEG frames (MJPEG cameras) decoded with libjpeg-turbo
 * straight to about the size the model needs: the IDCT scales by 1/8, 1/4
 * or 1/2, so a 1920x1080 frame for a 336-pixel model is decoded at half
 * the size (a quarter of the pixels) for a fraction of the work. The scaled image then
 * goes through the same preprocessing as any frame. */
#pragma once
#include "vtp-image.h"

G_BEGIN_DECLS

typedef struct {
  gint width, height;           /* of the coded image */
  gint out_width, out_height;   /* decoded */
  gint scale_num;               /* of 8 */
} VtpJpegSize;

/* Reads the header of @data and picks the smallest scale whose output still
 * satisfies @config (vtp_image_config_source_is_enough); @config NULL or
 * @scale FALSE: full size. */
/* The largest frame vtp decodes, in pixels (268 million: beyond any
 * camera's; a bound on what a frame's header alone can make it allocate
 * and decode). */
#define VTP_JPEG_MAX_PIXELS ((guint64) 1 << 28)

gboolean vtp_jpeg_plan (const guint8 *data, gsize size, const VtpImageConfig *config, gboolean scale,
    VtpJpegSize *plan, GError **error);

/* Decodes @data as packed RGB at @plan's output size, into @rgb (at least
 * out_width * out_height * 3 bytes). Corrupt data is an error that names
 * what libjpeg found; a truncated frame decodes with the missing part gray,
 * as jpegdec does. */
gboolean vtp_jpeg_decode (const guint8 *data, gsize size, const VtpJpegSize *plan, guint8 *rgb, GError **error);

G_END_DECLS
