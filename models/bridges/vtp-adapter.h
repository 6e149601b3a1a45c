/* vtp-adapter.h: the visual side of LLaMA-Adapter V2 multimodal (model-spec
 * 5.1): OpenAI CLIP features -> clip_proj + LayerNorm -> visual query
 * tokens through the timm visual blocks -> visual_proj + LayerNorm = vq,
 * added to each adapted layer's adaption prompt. The LLM side (gates,
 * adapted attention) is vtp-llama-adapter.c's. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-vision.h"

G_BEGIN_DECLS

typedef struct {
  VtpAdapterConfig cfg;
  VtpVisionConfig blocks_cfg;     /* the visual blocks as a ViT config (timm names) */
  gint llm_dim;
  VtpDevice *dev;
  VtpTensor *clip_proj_w, *clip_proj_b, *clip_norm_w, *clip_norm_b;
  VtpTensor *visual_query;        /* [query_len, v_embed_dim] */
  VtpVisionLayer *blocks;         /* v_depth */
  VtpTensor *visual_proj_w, *visual_proj_b, *visual_norm_w, *visual_norm_b;
  VtpTensor *adapter_query;       /* [query_layer * query_len, llm_dim] */
} VtpAdapter;

typedef struct {
  gint n_features;                /* CLIP tokens per image */
  VtpVisionState *blocks;         /* query_len + n_features rows */
  VtpTensor *vq;                  /* [query_len, llm_dim] */
} VtpAdapterState;

/* Loads a V2 multimodal adapter directory (tools/convert_llama_adapter.py);
 * other forms have no visual side and are refused with a sentence saying so. */
VtpAdapter *vtp_adapter_load (VtpCheckpoint *c, VtpDevice *dev, VtpWeightType wtype, GError **error);
void vtp_adapter_free (VtpAdapter *a);
/* vtp_adapter_load through the process-wide cache (vtp-model-cache.h). */
VtpAdapter *vtp_adapter_acquire (VtpCheckpoint *c, VtpDevice *dev, VtpWeightType wtype, GError **error);

/* Rows of the prompts it makes: query_layer * query_len. */
gint vtp_adapter_prompt_rows (const VtpAdapter *a);

VtpAdapterState *vtp_adapter_state_new (const VtpAdapter *a, gint n_features, GError **error);
void vtp_adapter_state_free (VtpAdapterState *s);

/* @prompts [prompt_rows, llm_dim] = adapter_query + vq(@features
 * [n_features, clip_dim]). Enqueues only; errors become pending. */
void vtp_adapter_forward (VtpAdapter *a, VtpAdapterState *s, const VtpTensor *features, VtpTensor *prompts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpAdapter, vtp_adapter_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpAdapterState, vtp_adapter_state_free)

G_END_DECLS
