#pragma once
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_ENCODER (gst_vtp_encoder_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpEncoder, gst_vtp_encoder, GST, VTP_ENCODER, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vtpencoder);

G_END_DECLS
