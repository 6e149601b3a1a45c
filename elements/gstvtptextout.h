/* gstvtptextout.h: when vtpllm's text is shown and for how long.
 *
 * Frame time (files, subtitles): a description carries the PTS of the frame
 * it describes and lasts until the next description starts (it is held
 * until then, or until EOS), or a fixed duration when one is set; gaps a
 * fixed duration leaves are announced with GAP events so that textoverlay
 * and muxers never wait for text that will not come.
 *
 * Output time (live): a description is stamped with the stream time at
 * which it is ready, so that it shows on the video at once. A refresher
 * thread keeps the text (or, before the first one, a GAP) covering the
 * next refresh interval of the running clock, so that the text stays until
 * the next one replaces it, and an overlay waiting for text never holds the
 * video back. Repeats are flagged DROPPABLE (nothing new in them).
 *
 * All pushes on the source pad go through here, from the streaming thread
 * and the refresher, one at a time. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  GST_VTP_TIMESTAMPS_AUTO,      /* output time when the pipeline is live, else frame time */
  GST_VTP_TIMESTAMPS_FRAME,
  GST_VTP_TIMESTAMPS_OUTPUT,
} GstVtpTimestamps;

GType gst_vtp_timestamps_get_type (void);
#define GST_TYPE_VTP_TIMESTAMPS (gst_vtp_timestamps_get_type ())

typedef struct _GstVtpTextOut GstVtpTextOut;

GstVtpTextOut *gst_vtp_text_out_new (GstElement *element, GstPad *srcpad);
void gst_vtp_text_out_free (GstVtpTextOut *t);

/* Settings (any thread; the mode applies from the next start).
 * @duration: fixed text duration, GST_CLOCK_TIME_NONE: until the next
 * description; @refresh: output time's refresh interval. */
void gst_vtp_text_out_configure (GstVtpTextOut *t, GstVtpTimestamps mode, GstClockTime duration,
    GstClockTime refresh);

/* READY->PAUSED: start; then, on the first segment, set_live says whether
 * upstream is live (asked only when needs_live, for the auto mode) and the
 * mode is fixed until the next start. PAUSED->PLAYING and back: the
 * refresher pushes only while PLAYING. PAUSED->READY (after the pads are
 * deactivated): everything held is dropped, the refresher stops. */
void gst_vtp_text_out_start (GstVtpTextOut *t);
gboolean gst_vtp_text_out_needs_live (GstVtpTextOut *t);
void gst_vtp_text_out_set_live (GstVtpTextOut *t, gboolean live);
void gst_vtp_text_out_play (GstVtpTextOut *t, gboolean playing);
void gst_vtp_text_out_stop (GstVtpTextOut *t);

/* From the sink pad's serialized events: the segment in force, time that
 * went by without a description (GAP events, frames ends), EOS (pushes what
 * is held), flushes (drop what is held, refuse pushes while flushing). */
void gst_vtp_text_out_segment (GstVtpTextOut *t, const GstSegment *segment);
void gst_vtp_text_out_covered (GstVtpTextOut *t, GstClockTime end);
GstFlowReturn gst_vtp_text_out_drain (GstVtpTextOut *t);
void gst_vtp_text_out_flush (GstVtpTextOut *t, gboolean flushing);

/* A description of the frame at @pts (@frame_duration may be NONE).
 * @final: FALSE for the text so far while it grows (the buffer is flagged
 * DELTA_UNIT; in frame time it is pushed at once with no duration). */
GstFlowReturn gst_vtp_text_out_push (GstVtpTextOut *t, const char *text, GstClockTime pts,
    GstClockTime frame_duration, gboolean final);

/* A finished description, with its structure (gstvtpdescription.h): every
 * buffer that shows it carries it as its description meta ("vtp-description",
 * gstvtpmeta.h); in output time so do the repeats and the partial texts
 * that follow, until the next finished one. */
GstFlowReturn gst_vtp_text_out_push_description (GstVtpTextOut *t, const char *text, GstClockTime pts,
    GstClockTime frame_duration, const GstStructure *description);

/* The answer to a text prompt at @pts lasting @duration (either may be
 * NONE), with its @description as gst_vtp_text_out_push_description()
 * puts it: in frame time pushed at once with the prompt's own time (or
 * with the fixed text duration), not held until the next one; in output
 * time as gst_vtp_text_out_push_description() does it. */
GstFlowReturn gst_vtp_text_out_push_answer (GstVtpTextOut *t, const char *text, GstClockTime pts,
    GstClockTime duration, const GstStructure *description);

G_END_DECLS
