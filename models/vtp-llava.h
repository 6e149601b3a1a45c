/* vtp-llava.h: what a model directory holds and where, for the LLaVA path:
 * a llava-hf checkpoint (tower + projector + LLM), or a plain CLIP vision
 * model, or a plain Llama. Each element asks for its part. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-vision.h"
#include "vtp-image.h"
#include "vtp-llama.h"

G_BEGIN_DECLS

typedef struct {
  char *model_type;
  gboolean has_vision, has_projector, has_text;
  VtpLlavaConfig cfg;           /* vision / text parts valid per the flags */
} VtpLlavaParts;

/* Reads config.json's model_type: "llava", "clip_vision_model", "clip" or "llama". */
gboolean vtp_llava_parts_read (VtpCheckpoint *c, VtpLlavaParts *parts, GError **error);
void vtp_llava_parts_clear (VtpLlavaParts *parts);

/* Where the vision tower's tensors start ("vision_tower.vision_model." ...). */
const char *vtp_llava_vision_prefix (VtpCheckpoint *c, GError **error);
const char *vtp_llava_projector_prefix (VtpCheckpoint *c, GError **error);

/* The checkpoint's feature selection (llava) or LLaVA's defaults (-2, drop CLS). */
void vtp_llava_features (const VtpLlavaParts *parts, VtpVisionFeatures *features);

/* The image processor settings: preprocessor_config.json, else the
 * "image_processor" of processor_config.json, else CLIP's defaults. */
gboolean vtp_llava_image_config (VtpCheckpoint *c, const VtpVisionConfig *vision, VtpImageConfig *out,
    GError **error);

G_END_DECLS
