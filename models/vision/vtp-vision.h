/* vtp-vision.h: the ViT image encoders (HF CLIPVisionModel; the EVA tower
 * of BLIP-2 / InstructBLIP) and the selection of vision features a bridge
 * reads: hidden states of one or more layers, concatenated along the width,
 * with or without the CLS token, optionally through the post-LayerNorm. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *ln1_w, *ln1_b, *q_w, *q_b, *k_w, *k_b, *v_w, *v_b, *o_w, *o_b;
  VtpTensor *ln2_w, *ln2_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
} VtpVisionLayer;

/* Which hidden states leave the tower, and how. */
typedef struct {
  gint n_layers;
  gint layers[VTP_MAX_FEATURE_LAYERS];   /* indices into the L + 1 hidden states (0 = embeddings) */
  gboolean keep_cls;
  gboolean post_norm;         /* apply post_layernorm (one layer only: BLIP's image_embeds) */
  gboolean projection;        /* then the visual projection (OpenAI CLIP for LLaMA-Adapter; needs post_norm) */
} VtpVisionFeatures;

typedef struct {
  VtpVisionConfig cfg;
  VtpVisionFeatures features;
  VtpDevice *dev;
  gint n_tokens;              /* patches + CLS */
  VtpTensor *patch_w, *patch_b;   /* [D, 3·p·p]; bias EVA only */
  VtpTensor *class_emb, *pos_emb;
  VtpTensor *pre_ln_w, *pre_ln_b;   /* CLIP only */
  VtpTensor *post_ln_w, *post_ln_b; /* with features.post_norm */
  VtpTensor *proj;                  /* [projection_dim, D], with features.projection */
  gint n_layers;              /* layers loaded: up to the deepest selected */
  VtpVisionLayer *layers;
} VtpVisionTower;

/* Activations of one forward pass: of up to n_images images at once (h,
 * x, q, k, v, attn and mlp hold their tokens one image after the other;
 * the patches and scores one image at a time). */
typedef struct {
  VtpTensor *pixels;          /* [3, S, S] */
  VtpTensor *cols, *patches, *h, *x, *q, *k, *v, *attn, *mlp, *scores;
  gint n_images;
} VtpVisionState;

/* Loads the tower found under @prefix ("vision_tower.vision_model.").
 * Only the layers up to the deepest feature layer are loaded. */
VtpVisionTower *vtp_vision_tower_load (VtpCheckpoint *c, const char *prefix, const VtpVisionConfig *cfg,
    const VtpVisionFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_vision_tower_free (VtpVisionTower *m);
/* vtp_vision_tower_load through the process-wide cache (vtp-model-cache.h). */
VtpVisionTower *vtp_vision_tower_acquire (VtpCheckpoint *c, const char *prefix, const VtpVisionConfig *cfg,
    const VtpVisionFeatures *features, VtpDevice *dev, VtpWeightType wtype, GError **error);

/* Rows and width of the features the tower gives. */
gint vtp_vision_tower_feature_rows (const VtpVisionTower *m);
gint vtp_vision_tower_feature_width (const VtpVisionTower *m);

VtpVisionState *vtp_vision_state_new (const VtpVisionTower *m, GError **error);
/* A state for up to @n_images images encoded together
 * (vtp_vision_tower_forward_many); its own pixels serve one. */
VtpVisionState *vtp_vision_state_new_many (const VtpVisionTower *m, gint n_images, GError **error);
void vtp_vision_state_free (VtpVisionState *s);

/* Runs the tower on s->pixels and writes the selected features into
 * @features ([rows, width] F32). Enqueues only; errors become pending. */
void vtp_vision_tower_forward (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features);
/* Runs the tower on @n images at once (n <= s->n_images): image i's pixels
 * ([3, S, S] F32 on the tower's device) from pixels[i], its features into
 * features[i]. Every matrix product takes the n images' tokens as one
 * matrix (the weights read once for all of them); attention runs image by
 * image. Each image's features are the ones a forward of it alone gives,
 * bit for bit (test-vision-batch). Enqueues only; errors become pending. */
void vtp_vision_tower_forward_many (VtpVisionTower *m, VtpVisionState *s, VtpTensor *const *pixels,
    VtpTensor *const *features, gint n);

/* Like forward, but also copies every computed hidden state into
 * @hidden ([n_layers + 1, tokens, D]) for fidelity tests. */
void vtp_vision_tower_forward_all (VtpVisionTower *m, VtpVisionState *s, VtpTensor *features, VtpTensor *hidden);

/* The transformer blocks on their own (LLaMA-Adapter's visual blocks use
 * them, VTP_VISION_TIMM names): block @i's tensors under the loader's
 * prefix, a state for @T tokens (no pixel buffers), and one pre-LN block
 * over rows [0, T) of s->h, in place. */
void vtp_vision_layer_load (VtpLoader *l, const VtpVisionConfig *cfg, gint i, VtpVisionLayer *y);
void vtp_vision_layer_clear (VtpVisionLayer *y);
VtpVisionState *vtp_vision_blocks_state_new (VtpDevice *dev, const VtpVisionConfig *cfg, gint T, GError **error);
void vtp_vision_block_forward (const VtpVisionConfig *cfg, const VtpVisionLayer *y, VtpVisionState *s, gint T);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpVisionTower, vtp_vision_tower_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpVisionState, vtp_vision_state_free)

G_END_DECLS
