/* gstvtpdescription.h: what vtpllm says about a frame, as a structure: the
 * "vtp-description" that rides on its text buffers (and, through
 * vtpattach, on the video frames) and, renamed "vtp-text", goes to the bus.
 * A frame described region by region (vtpencoder roi=true) gives one
 * description per region, gathered here into one for the frame. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

/* The description of @frame (the tensor buffer vtpllm described: its
 * timestamps, and vtpencoder's frame and region metas): text, prompt, pts,
 * duration, tokens, prefill-ms, decode-tokens-per-second; latency-ms,
 * frames-received, frames-dropped when vtpencoder made the frame; for a
 * region roi-index, roi-id, roi-type, x, y, width, height. */
GstStructure *gst_vtp_description_new (GstBuffer *frame, const char *text, const char *prompt, guint tokens,
    double prefill_ms, double tokens_per_second);

typedef struct _GstVtpRegionGroup GstVtpRegionGroup;

GstVtpRegionGroup *gst_vtp_region_group_new (void);
void gst_vtp_region_group_free (GstVtpRegionGroup *g);
/* Forgets the regions gathered so far (flushes). */
void gst_vtp_region_group_reset (GstVtpRegionGroup *g);

/* Takes @description, of @frame. A whole frame's comes back as it is. A
 * region's is kept until the last region of its frame, whose call returns
 * the frame's description: the regions' texts one a line (each after its
 * roi-type), the frame's times and counts, tokens summed, and the regions'
 * descriptions in "regions" (an array of structures). NULL while regions
 * of the frame are still to come. */
GstStructure *gst_vtp_region_group_add (GstVtpRegionGroup *g, GstBuffer *frame, GstStructure *description);

G_END_DECLS
