/* vtp-gguf-config.h: GGUF metadata into the config.json that
 * vtp-gguf-checkpoint synthesizes (members added to a JsonBuilder inside
 * an object). */
#pragma once
#include <json-glib/json-glib.h>
#include "vtp-gguf.h"

G_BEGIN_DECLS

/* u32 metadata @key as @member; @fallback (>= 0) when absent, -1: required
 * (an error naming the key when absent). */
gboolean vtp_gguf_config_u32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, gint64 fallback,
    GError **error);
/* f32 metadata @key as @member; @fallback when absent. */
gboolean vtp_gguf_config_f32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, float fallback,
    GError **error);

G_END_DECLS
