#include "gstvtpcommon.h"
#include "gstvtpcontext.h"

GType
gst_vtp_weight_type_get_type (void)
{
  static gsize type = 0;
  static const GEnumValue values[] = {
    { VTP_WEIGHTS_KEEP, "As stored in the checkpoint", "auto" },
    { VTP_WEIGHTS_F32, "32-bit float (exact, twice the memory of f16)", "f32" },
    { VTP_WEIGHTS_F16, "16-bit float (half the memory and bandwidth)", "f16" },
    { 0, NULL, NULL },
  };
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVtpWeightType", values));
  return type;
}

gboolean
gst_vtp_handle_context_query (GstElement *element, GstQuery *query, VtpDevice *dev)
{
  const char *type = NULL;
  GstContext *context;

  if (GST_QUERY_TYPE (query) != GST_QUERY_CONTEXT || !dev)
    return FALSE;
  gst_query_parse_context_type (query, &type);
  if (g_strcmp0 (type, GST_VTP_DEVICE_CONTEXT_TYPE) != 0)
    return FALSE;
  context = gst_vtp_context_new (dev);
  gst_query_set_context (query, context);
  gst_context_unref (context);
  return TRUE;
}
