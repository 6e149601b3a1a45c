#pragma once
#include <gst/base/gstbasetransform.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_QFORMER (gst_vtp_qformer_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpQFormer, gst_vtp_qformer, GST, VTP_QFORMER, GstBaseTransform)

GST_ELEMENT_REGISTER_DECLARE (vtpqformer);

G_END_DECLS
