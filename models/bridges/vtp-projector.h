/* vtp-projector.h: LLaVA's multimodal projector: vision features to LLM
 * embeddings, one linear layer (LLaVA) or linear-GELU-linear (LLaVA-1.5). */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"

G_BEGIN_DECLS

typedef struct {
  VtpProjectorType type;
  VtpActivation act;
  gint in_width, out_width;
  VtpTensor *w1, *b1, *w2, *b2;   /* biases NULL without multimodal_projector_bias */
  VtpDevice *dev;
} VtpProjector;

/* Loads "<prefix>linear_1.*" (and linear_2.*) for @in_width-wide features. */
VtpProjector *vtp_projector_load (VtpCheckpoint *c, const char *prefix, const VtpLlavaConfig *cfg,
    gint in_width, VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_projector_free (VtpProjector *p);
/* vtp_projector_load through the process-wide cache (vtp-model-cache.h). */
VtpProjector *vtp_projector_acquire (VtpCheckpoint *c, const char *prefix, const VtpLlavaConfig *cfg,
    gint in_width, VtpDevice *dev, VtpWeightType wtype, GError **error);

/* out[0..rows) = projector(in[0..rows)); @hidden is scratch [>= rows, out_width]
 * (unused by the linear type). Enqueues only. */
void vtp_projector_forward (VtpProjector *p, const VtpTensor *in, gint rows, VtpTensor *hidden, VtpTensor *out);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpProjector, vtp_projector_free)

G_END_DECLS
