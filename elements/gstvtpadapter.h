#pragma once
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_ADAPTER (gst_vtp_adapter_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpAdapter, gst_vtp_adapter, GST, VTP_ADAPTER, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vtpadapter);

G_END_DECLS
