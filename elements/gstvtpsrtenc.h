#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_SRT_ENC (gst_vtp_srt_enc_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpSrtEnc, gst_vtp_srt_enc, GST, VTP_SRT_ENC, GstElement)

GST_ELEMENT_REGISTER_DECLARE (vtpsrtenc);

G_END_DECLS
