/* gstvtpmeta.h: what travels with a frame's tensors from element to
 * element: the prompt it was bridged with (so that one prompt set on
 * vtpqformer, whose Q-Former reads the instruction, also reaches vtpllm,
 * or the prompt of a region of interest), when the frame reached
 * vtpencoder and how many frames were dropped before it (for vtpllm's
 * latency and drop reports), and which region of the frame a tensor is of
 * (vtpencoder roi=true).
 *
 * And the public one: the description meta, on vtpllm's text buffers and,
 * through vtpattach, on the video frames. */
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

/* The region of interest of the frame a tensor describes (vtpencoder
 * roi=true): @index of the @count regions described for that frame, in the
 * order of the frame's GstVideoRegionOfInterestMeta; @region is a
 * "vtp-region" structure with roi-index (uint: its place among all the
 * frame's ROI metas), roi-id (int), roi-type (string, when it has one), x,
 * y, width, height (uint: the rectangle described, inside the frame). */
typedef struct {
  GstMeta meta;
  guint index, count;
  GstStructure *region;
} GstVtpRegionMeta;

GType gst_vtp_region_meta_api_get_type (void);
#define GST_VTP_REGION_META_API_TYPE (gst_vtp_region_meta_api_get_type ())
const GstMetaInfo *gst_vtp_region_meta_get_info (void);

/* Takes @region. */
GstVtpRegionMeta *gst_buffer_add_vtp_region_meta (GstBuffer *buffer, guint index, guint count,
    GstStructure *region);
#define gst_buffer_get_vtp_region_meta(b) \
  ((GstVtpRegionMeta *) gst_buffer_get_meta ((b), GST_VTP_REGION_META_API_TYPE))

/* The description meta (public: docs/elements.md): a GstCustomMeta named
 * "vtp-description" whose structure, also named "vtp-description", holds
 * the description's fields (text, prompt, pts, duration of the described
 * frame, ...; regions for a frame described region by region). Custom so
 * that C, Python and any other binding read it with GStreamer's own API
 * (gst_buffer_get_custom_meta), without linking vtp; kept through every
 * transform (copies, scaling, conversion): the description does not depend
 * on the pixels' size or format. */
#define GST_VTP_DESCRIPTION_META_NAME "vtp-description"
/* The structure of a region's description, added to its ROI meta as a
 * parameter, has the same name. */
#define GST_VTP_DESCRIPTION_PARAM "vtp-description"
/* The parameter of a ROI meta that gives its own prompt: field "prompt". */
#define GST_VTP_PROMPT_PARAM "vtp-prompt"

/* Registers the meta (once; the name is looked up first). */
const GstMetaInfo *gst_vtp_description_meta_get_info (void);
/* Sets @buffer's description meta (writable buffer) to the fields of
 * @description, replacing the one it had. */
GstCustomMeta *gst_buffer_set_vtp_description (GstBuffer *buffer, const GstStructure *description);
/* The description meta's structure, or NULL. */
const GstStructure *gst_buffer_get_vtp_description (GstBuffer *buffer);

G_END_DECLS
