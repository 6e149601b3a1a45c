#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_LLM (gst_vtp_llm_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpLlm, gst_vtp_llm, GST, VTP_LLM, GstElement)

GST_ELEMENT_REGISTER_DECLARE (vtpllm);

G_END_DECLS
