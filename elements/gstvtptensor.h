/* gstvtptensor.h: how tensors travel between vtp elements.
 *
 * Caps: application/x-vtp-tensor, kind=(string)K, tokens=(int)N, width=(int)D
 *   kind vision-features   encoder output: [N, D] image features
 *   kind image-embeddings  projector output: [N, D] rows spliced in place of
 *                          the prompt's <image> token (LLaVA)
 *   kind query-embeddings  Q-Former output: [Q, D] queries put before the
 *                          prompt (BLIP-2, InstructBLIP)
 *   kind adapter-prompts   vtpadapter output: [layers x positions, D] the
 *                          adaption prompts of LLaMA-Adapter V2, layer by
 *                          layer; caps also carry layers=(int) and
 *                          adapter=(string) (its directory), which
 *                          vtpllm's own adapter must match
 * Buffers hold one GstVtpMemory: a VtpTensor that stays on the compute
 * device; mapping it (appsink, filesink) downloads a host copy. */
#pragma once
#include <gst/gst.h>
#include "vtp-tensor.h"

G_BEGIN_DECLS

#define GST_VTP_TENSOR_MEDIA_TYPE "application/x-vtp-tensor"
#define GST_VTP_KIND_VISION_FEATURES "vision-features"
#define GST_VTP_KIND_IMAGE_EMBEDDINGS "image-embeddings"
#define GST_VTP_KIND_QUERY_EMBEDDINGS "query-embeddings"
#define GST_VTP_KIND_ADAPTER_PROMPTS "adapter-prompts"

/* Template caps of a tensor pad of @kind, any dimensions. */
GstCaps *gst_vtp_tensor_caps_any (const char *kind);
GstCaps *gst_vtp_tensor_caps_new (const char *kind, gint tokens, gint width);
/* Reads fixed tensor caps; FALSE when the caps are not of @kind. */
gboolean gst_vtp_tensor_caps_parse (const GstCaps *caps, const char *kind, gint *tokens, gint *width);

#define GST_VTP_ALLOCATOR_NAME "VtpTensorMemory"

/* A buffer holding @tensor (taken). */
GstBuffer *gst_vtp_buffer_new_tensor (VtpTensor *tensor);
/* The tensor in @buf when it is a vtp tensor buffer, else NULL. */
VtpTensor *gst_vtp_buffer_peek_tensor (GstBuffer *buf);
/* The [rows, cols] F32 tensor in @buf on @dev: the buffer's own when it is
 * one, else its bytes uploaded into *scratch (reallocated as needed). */
VtpTensor *gst_vtp_buffer_get_tensor (GstBuffer *buf, VtpDevice *dev, gint rows, gint cols,
    VtpTensor **scratch, GError **error);

G_END_DECLS
