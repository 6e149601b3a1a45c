/* vtp-clip.h: the CLIP vision tower (HF CLIPVisionModel) and the selection
 * of vision features a bridge reads: hidden states of one or more layers,
 * concatenated along the width, with or without the CLS token. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *ln1_w, *ln1_b, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  VtpTensor *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} VtpClipLayer;

/* Which hidden states leave the tower, and how. */
typedef struct {
  gint n_layers;
  gint layers[VTP_MAX_FEATURE_LAYERS];   /* indices into the L + 1 hidden states (0 = embeddings) */
  gboolean keep_cls;
} VtpClipFeatures;

typedef struct {
  VtpClipVisionConfig cfg;
  VtpClipFeatures features;
  VtpDevice *dev;
  gint n_tokens;              /* patches + CLS */
  VtpTensor *patch_w;         /* [D, 3·p·p] */
  VtpTensor *class_emb, *pos_emb, *pre_ln_w, *pre_ln_b;
  gint n_layers;              /* layers loaded: up to the deepest selected */
  VtpClipLayer *layers;
} VtpClipVision;

/* Activations of one forward pass. */
typedef struct {
  VtpTensor *pixels;          /* [3, S, S] */
  VtpTensor *cols, *patches, *h, *x, *q, *k, *v, *attn, *mlp, *scores;
} VtpClipState;

/* Loads the tower found under @prefix ("vision_tower.vision_model.").
 * Only the layers up to the deepest feature layer are loaded. */
VtpClipVision *vtp_clip_vision_load (VtpCheckpoint *c, const char *prefix, const VtpClipVisionConfig *cfg,
    const VtpClipFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_clip_vision_free (VtpClipVision *m);
/* vtp_clip_vision_load through the process-wide cache (vtp-model-cache.h). */
VtpClipVision *vtp_clip_vision_acquire (VtpCheckpoint *c, const char *prefix, const VtpClipVisionConfig *cfg,
    const VtpClipFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error);

/* Rows and width of the features the tower gives. */
gint vtp_clip_vision_feature_rows (const VtpClipVision *m);
gint vtp_clip_vision_feature_width (const VtpClipVision *m);

VtpClipState *vtp_clip_state_new (const VtpClipVision *m, GError **error);
void vtp_clip_state_free (VtpClipState *s);

/* Runs the tower on s->pixels and writes the selected features into
 * @features ([rows, width] F32). Enqueues only; errors become pending. */
void vtp_clip_vision_forward (VtpClipVision *m, VtpClipState *s, VtpTensor *features);

/* Like forward, but also copies every computed hidden state into
 * @hidden ([n_layers + 1, tokens, D]) for fidelity tests. */
void vtp_clip_vision_forward_all (VtpClipVision *m, VtpClipState *s, VtpTensor *features, VtpTensor *hidden);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpClipVision, vtp_clip_vision_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpClipState, vtp_clip_state_free)

G_END_DECLS
