/* gstvtpmeta.h: the prompt a frame was bridged with, carried on the
 * buffer, so that one prompt set on vtpqformer (whose Q-Former reads the
 * instruction) also reaches vtpllm, frame by frame. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct {
  GstMeta meta;
  char *prompt;
} GstVtpPromptMeta;

GType gst_vtp_prompt_meta_api_get_type (void);
#define GST_VTP_PROMPT_META_API_TYPE (gst_vtp_prompt_meta_api_get_type ())

const GstMetaInfo *gst_vtp_prompt_meta_get_info (void);

GstVtpPromptMeta *gst_buffer_add_vtp_prompt_meta (GstBuffer *buffer, const char *prompt);
#define gst_buffer_get_vtp_prompt_meta(b) \
  ((GstVtpPromptMeta *) gst_buffer_get_meta ((b), GST_VTP_PROMPT_META_API_TYPE))

G_END_DECLS
