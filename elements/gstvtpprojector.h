#pragma once
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_PROJECTOR (gst_vtp_projector_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpProjector, gst_vtp_projector, GST, VTP_PROJECTOR, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vtpprojector);

G_END_DECLS
