/* gstvtpmeta.h: what travels with a frame's tensors from element to
 * element: the prompt it was bridged with (so that one prompt set on
 * vtpqformer, whose Q-Former reads the instruction, also reaches vtpllm),
 * and when the frame reached vtpencoder and how many frames were dropped
 * before it (for vtpllm's latency and drop reports). */
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

typedef struct {
  GstMeta meta;
  gint64 arrival_us;            /* g_get_monotonic_time () when vtpencoder received the frame */
  guint64 frames_received;      /* frames vtpencoder had received, this one included */
  guint64 frames_dropped;       /* of which were not described (newest-wins or rate limit) */
} GstVtpFrameMeta;

GType gst_vtp_frame_meta_api_get_type (void);
#define GST_VTP_FRAME_META_API_TYPE (gst_vtp_frame_meta_api_get_type ())
const GstMetaInfo *gst_vtp_frame_meta_get_info (void);

GstVtpFrameMeta *gst_buffer_add_vtp_frame_meta (GstBuffer *buffer, gint64 arrival_us, guint64 frames_received,
    guint64 frames_dropped);
#define gst_buffer_get_vtp_frame_meta(b) \
  ((GstVtpFrameMeta *) gst_buffer_get_meta ((b), GST_VTP_FRAME_META_API_TYPE))

G_END_DECLS
