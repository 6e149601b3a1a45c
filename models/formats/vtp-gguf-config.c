#include "vtp-gguf-config.h"

gboolean
vtp_gguf_config_u32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, gint64 fallback,
    GError **error)
{
  guint32 v;

  if (!vtp_gguf_find (g, key) && fallback >= 0)
    v = (guint32) fallback;
  else if (!vtp_gguf_get_u32 (g, key, &v, error))
    return FALSE;
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
  return TRUE;
}

gboolean
vtp_gguf_config_f32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, float fallback,
    GError **error)
{
  float v = fallback;

  if (vtp_gguf_find (g, key) && !vtp_gguf_get_f32 (g, key, &v, error))
    return FALSE;
  json_builder_set_member_name (b, member);
  json_builder_add_double_value (b, v);
  return TRUE;
}
