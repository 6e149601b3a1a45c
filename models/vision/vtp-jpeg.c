/* vtp-jpeg.c: scaled JPEG decoding with libjpeg-turbo (see vtp-jpeg.h). */
#include "vtp-jpeg.h"
#include "vtp-error.h"
#include <stdio.h>
#include <setjmp.h>
#include <jpeglib.h>

/* libjpeg reports fatal errors through error_exit, which must not return:
 * jump back to the caller with the message. */
typedef struct {
  struct jpeg_error_mgr mgr;
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
} ErrorTrap;

static void
trap_error_exit (j_common_ptr cinfo)
{
  ErrorTrap *trap = (ErrorTrap *) cinfo->err;
  trap->mgr.format_message (cinfo, trap->message);
  longjmp (trap->jump, 1);
}

static void
trap_output_message (j_common_ptr cinfo)
{
  /* warnings (a truncated frame) are not printed; the decode goes on */
}

static void
open_decoder (struct jpeg_decompress_struct *cinfo, ErrorTrap *trap)
{
  cinfo->err = jpeg_std_error (&trap->mgr);
  trap->mgr.error_exit = trap_error_exit;
  trap->mgr.output_message = trap_output_message;
  trap->message[0] = '\0';
  jpeg_create_decompress (cinfo);
}

gboolean
vtp_jpeg_plan (const guint8 *data, gsize size, const VtpImageConfig *config, gboolean scale, VtpJpegSize *plan,
    GError **error)
{
  struct jpeg_decompress_struct cinfo;
  ErrorTrap trap;

  open_decoder (&cinfo, &trap);
  if (setjmp (trap.jump)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "Not a JPEG frame (%" G_GSIZE_FORMAT " bytes): %s", size,
        trap.message);
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  jpeg_mem_src (&cinfo, data, size);
  jpeg_read_header (&cinfo, TRUE);
  /* The header alone sets what the decode costs (libjpeg reads every block
   * at any scale; the encoder sizes its RGB buffer from it): a few bytes
   * claiming 65535 x 65535 must not take minutes and gigabytes. */
  if ((guint64) cinfo.image_width * cinfo.image_height > VTP_JPEG_MAX_PIXELS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "A JPEG frame of %u x %u pixels (%" G_GSIZE_FORMAT " bytes): "
        "more than the %" G_GUINT64_FORMAT " million pixels vtp decodes", cinfo.image_width, cinfo.image_height, size,
        (guint64) VTP_JPEG_MAX_PIXELS / 1000000);
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  plan->width = cinfo.image_width;
  plan->height = cinfo.image_height;
  plan->scale_num = 8;
  /* the smallest scale that keeps what the model reads; only 1/8, 2/8 and
   * 4/8: libjpeg-turbo's other scales have no SIMD IDCT and can be slower
   * than the full-size decode (measured: bench/vtp-bench-jpeg) */
  for (gint m = 1; scale && config && m < 8; m *= 2) {
    gint sw = (gint) (((gint64) plan->width * m + 7) / 8), sh = (gint) (((gint64) plan->height * m + 7) / 8);
    if (vtp_image_config_source_is_enough (config, plan->width, plan->height, sw, sh)) {
      plan->scale_num = m;
      break;
    }
  }
  cinfo.scale_num = plan->scale_num;
  cinfo.scale_denom = 8;
  cinfo.out_color_space = JCS_RGB;
  jpeg_calc_output_dimensions (&cinfo);
  plan->out_width = cinfo.output_width;
  plan->out_height = cinfo.output_height;
  jpeg_destroy_decompress (&cinfo);
  return TRUE;
}

gboolean
vtp_jpeg_decode (const guint8 *data, gsize size, const VtpJpegSize *plan, guint8 *rgb, GError **error)
{
  struct jpeg_decompress_struct cinfo;
  ErrorTrap trap;

  open_decoder (&cinfo, &trap);
  if (setjmp (trap.jump)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "Could not decode the JPEG frame (%" G_GSIZE_FORMAT
        " bytes): %s", size, trap.message);
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  jpeg_mem_src (&cinfo, data, size);
  jpeg_read_header (&cinfo, TRUE);
  if ((gint) cinfo.image_width != plan->width || (gint) cinfo.image_height != plan->height) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "The JPEG frame is %ux%u but the stream's caps said %dx%d",
        cinfo.image_width, cinfo.image_height, plan->width, plan->height);
    jpeg_destroy_decompress (&cinfo);
    return FALSE;
  }
  cinfo.scale_num = plan->scale_num;
  cinfo.scale_denom = 8;
  cinfo.out_color_space = JCS_RGB;
  cinfo.dct_method = JDCT_ISLOW;
  jpeg_start_decompress (&cinfo);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = rgb + (gsize) cinfo.output_scanline * plan->out_width * 3;
    jpeg_read_scanlines (&cinfo, &row, 1);
  }
  jpeg_finish_decompress (&cinfo);
  jpeg_destroy_decompress (&cinfo);
  return TRUE;
}
