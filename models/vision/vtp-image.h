/* vtp-image.h: image preprocessing on the device, as the checkpoints'
 * processors do it (CLIPImageProcessor, BlipImageProcessor, torchvision's
 * Resize + CenterCrop): Pillow resampling on 8-bit pixels (bit-exact),
 * center crop, rescale, normalize, planar float output. */
#pragma once
#include <json-glib/json-glib.h>
#include "vtp-tensor.h"

G_BEGIN_DECLS

typedef enum {
  VTP_RESIZE_NONE,
  VTP_RESIZE_SHORTEST_EDGE,   /* short side -> size, long side int(size * long / short) */
  VTP_RESIZE_EXACT,           /* -> width x height, aspect ignored */
} VtpResizeMode;

typedef enum {
  VTP_RESAMPLE_BICUBIC,       /* PIL 3 */
  VTP_RESAMPLE_BILINEAR,      /* PIL 2 */
} VtpResample;

typedef enum {
  VTP_CROP_FLOOR,             /* HF center_crop: top = (H - h) // 2 */
  VTP_CROP_ROUND,             /* torchvision: top = round((H - h) / 2), half to even */
} VtpCropRounding;

typedef struct {
  VtpResizeMode resize;
  gint shortest_edge;
  gint resize_width, resize_height;
  VtpResample resample;
  gboolean crop;
  gint crop_width, crop_height;
  VtpCropRounding crop_rounding;
  float rescale;              /* 1/255 */
  float mean[3], std[3];      /* normalize: (x * rescale - mean) / std */
} VtpImageConfig;

/* Pixel layouts of packed 8-bit frames. */
typedef enum {
  VTP_PIXELS_RGB, VTP_PIXELS_BGR, VTP_PIXELS_RGBA, VTP_PIXELS_BGRA,
  VTP_PIXELS_ARGB, VTP_PIXELS_ABGR,
} VtpPixelLayout;

/* CLIPImageProcessor defaults for a square input of @size. */
void vtp_image_config_clip_default (VtpImageConfig *c, gint size);
/* Reads an HF image-processor JSON object (preprocessor_config.json, or the
 * "image_processor" member of processor_config.json) over the defaults in @c. */
gboolean vtp_image_config_parse (JsonObject *o, const char *where, VtpImageConfig *c, GError **error);
/* Output size after resize and crop of a @w x @h input. */
void vtp_image_config_output_size (const VtpImageConfig *c, gint w, gint h, gint *out_w, gint *out_h);

/* Whether a @sw x @sh downscaled copy of a @w x @h source loses nothing the
 * preprocessing keeps: every side it resizes to is still reached by
 * downsampling (never upsampling) and the output size is the same. */
gboolean vtp_image_config_source_is_enough (const VtpImageConfig *c, gint w, gint h, gint sw, gint sh);

typedef struct _VtpImagePreprocessor VtpImagePreprocessor;

VtpImagePreprocessor *vtp_image_preprocessor_new (VtpDevice *dev, const VtpImageConfig *config);
void vtp_image_preprocessor_free (VtpImagePreprocessor *p);

/* Uploads one packed frame (rows of @stride bytes) and writes the model
 * input [3, out_h, out_w] F32 into @out. */
gboolean vtp_image_preprocess (VtpImagePreprocessor *p, const guint8 *pixels, gint width, gint height,
    gint stride, VtpPixelLayout layout, VtpTensor *out, GError **error);

/* A rectangle of a frame, in pixels. */
typedef struct {
  gint x, y, width, height;
} VtpImageRect;

/* The same in two steps, for several regions of one frame: the frame is
 * uploaded once, then each run preprocesses @region of it (NULL: the whole
 * frame) as if it were the image: the crop happens on the device before
 * the resize, exactly as cropping the picture first would give. A region
 * must lie inside the frame and not be empty. */
gboolean vtp_image_preprocessor_upload (VtpImagePreprocessor *p, const guint8 *pixels, gint width, gint height,
    gint stride, VtpPixelLayout layout, GError **error);
gboolean vtp_image_preprocessor_run (VtpImagePreprocessor *p, const VtpImageRect *region, VtpTensor *out,
    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpImagePreprocessor, vtp_image_preprocessor_free)

G_END_DECLS
