#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_ATTACH (gst_vtp_attach_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpAttach, gst_vtp_attach, GST, VTP_ATTACH, GstElement)

GST_ELEMENT_REGISTER_DECLARE (vtpattach);

G_END_DECLS
