/* vtp-gguf-names.h: renaming tensors between llama.cpp's GGUF names and the
 * names vtp's loaders read, by tables, either way. One scheme serves the
 * text model (blk.N.attn_q <-> layers.N.attention.wq) and the mmproj file
 * (v.blk.N.attn_q <-> vision_tower.vision_model.encoder.layers.N.self_attn.q_proj). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  const char *gguf, *vtp;     /* without the layer prefix and the .weight / .bias suffix */
} VtpGgufName;

typedef struct {
  const char *gguf_layer, *vtp_layer;   /* the prefixes before a layer's number: "blk.", "layers." */
  const VtpGgufName *layer;             /* a layer's tensors, { NULL } ended */
  const VtpGgufName *whole;             /* the others, { NULL } ended */
} VtpGgufNaming;

/* @name (a .weight or .bias) renamed by @naming, from GGUF to vtp
 * (@to_vtp) or back; NULL when no rule applies. */
char *vtp_gguf_rename (const VtpGgufNaming *naming, const char *name, gboolean to_vtp);

G_END_DECLS
