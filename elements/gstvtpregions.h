#pragma once
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_REGIONS (gst_vtp_regions_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpRegions, gst_vtp_regions, GST, VTP_REGIONS, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vtpregions);

G_END_DECLS
