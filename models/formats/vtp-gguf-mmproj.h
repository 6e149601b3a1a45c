/* vtp-gguf-mmproj.h: llama.cpp's LLaVA "mmproj" GGUF (general.architecture
 * "clip": the CLIP vision tower and the LLaVA projector, as llama.cpp's
 * converters write them) presented as the vision half of a llava-hf
 * checkpoint, so that vtpencoder and vtpprojector read it with the code that
 * reads safetensors.
 *
 * Names: v.patch_embd, v.class_embd, v.position_embd, v.pre_ln and
 * v.blk.N.{attn_q, attn_k, attn_v, attn_out, ln1, ln2, ffn_up, ffn_down} go
 * under "vision_tower.vision_model." with CLIP's names; mm.0 and mm.2 are
 * the projector's linear_1 and linear_2 under "multi_modal_projector.".
 * The legacy converter calls fc1 "ffn_down" and fc2 "ffn_up" (the newer one
 * the other way round), so the two are told apart by shape, as llama.cpp
 * does: fc1 maps the hidden size to the intermediate one.
 *
 * Layers: with a LLaVA projector the legacy converter drops the tower's last
 * layer (LLaVA-1.5 reads the second-to-last hidden state) and writes
 * clip.vision.block_count = the layers kept, so the feature is the last
 * stored layer's output; clip.vision.feature_layer (LLaVA-NeXT style, indices
 * into the hidden states) is used as it is when present. */
#pragma once
#include <json-glib/json-glib.h>
#include "vtp-gguf.h"

G_BEGIN_DECLS

/* The llava-hf name of mmproj tensor @name ("v.blk.3.attn_q.weight" ->
 * "vision_tower.vision_model.encoder.layers.3.self_attn.q_proj.weight");
 * @fc1_name is the GGUF name ("ffn_up" or "ffn_down") that holds fc1 in
 * this file. A copy of @name when it has no other. */
char *vtp_gguf_mmproj_hf_name (const char *name, const char *fc1_name);
/* The reverse, for error messages; NULL when @name is not a vision or
 * projector tensor. */
char *vtp_gguf_mmproj_gguf_name (const char *name);

/* Which GGUF layer name holds fc1 ("ffn_up" or "ffn_down"), from the shapes
 * of layer 0; FALSE and an error naming the file when neither fits. */
gboolean vtp_gguf_mmproj_fc1_name (VtpGguf *g, const char **out, GError **error);

/* Adds the llava config members of the vision half to @b (inside the root
 * object): vision_config, vision_feature_layer, the select strategy, the
 * projector's activation and bias, image_seq_length. *projector_out gets
 * the projector's output width (the language model's hidden size). */
gboolean vtp_gguf_mmproj_config (VtpGguf *g, JsonBuilder *b, gint64 *projector_out, GError **error);

/* preprocessor_config.json as CLIPImageProcessor would read it for this
 * tower: shortest edge and crop of clip.vision.image_size, the file's
 * image_mean and image_std. */
JsonParser *vtp_gguf_mmproj_preprocessor (VtpGguf *g, GError **error);

G_END_DECLS
