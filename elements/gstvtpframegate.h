/* gstvtpframegate.h: what stands between a video stream and the model, at
 * vtpencoder's sink pad. Upstream never waits for the model: frames go into
 * a one-frame slot and the pad returns; a worker thread takes the slot and
 * runs the element (and everything downstream of it, bridge and LLM) on it.
 * A frame that arrives while the slot is full replaces the waiting one: the
 * newest wins, the replaced one is counted as dropped and leaves a GAP
 * event (its PTS and duration) in its place. Serialized events
 * (caps, segment, EOS...) keep their place among the frames; EOS is passed
 * on after the frames before it are described. A rate limit skips frames
 * (one in N, or one per interval of stream time) before they reach the
 * slot; those frames leave a GAP event too.
 *
 * The gate takes over the pad's chain and event functions and calls the
 * ones it found there (GstBaseTransform's) from its worker. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

typedef enum {
  GST_VTP_DROP_AUTO,            /* newest wins when the pipeline is live, else upstream waits */
  GST_VTP_DROP_ALWAYS,          /* newest wins */
  GST_VTP_DROP_NEVER,           /* upstream waits for the slot: every frame the rate limit lets through is described */
} GstVtpDropMode;

GType gst_vtp_drop_mode_get_type (void);
#define GST_TYPE_VTP_DROP_MODE (gst_vtp_drop_mode_get_type ())

typedef struct {
  guint64 received, described, dropped;
} GstVtpFrameCounts;

typedef struct _GstVtpFrameGate GstVtpFrameGate;

/* Installs a gate on @sinkpad of @element (call from instance init). */
GstVtpFrameGate *gst_vtp_frame_gate_new (GstElement *element, GstPad *sinkpad);
void gst_vtp_frame_gate_free (GstVtpFrameGate *g);

/* READY->PAUSED and PAUSED->READY: start the worker; stop it, dropping
 * what waits (returns once the worker has left the element). */
void gst_vtp_frame_gate_start (GstVtpFrameGate *g);
void gst_vtp_frame_gate_stop (GstVtpFrameGate *g);

/* Settings, read for each frame (any thread). @min_interval_ns: at least
 * this much stream time (PTS) between frames let through, 0: no limit;
 * @frame_interval: one frame in N (1: all). */
void gst_vtp_frame_gate_configure (GstVtpFrameGate *g, GstVtpDropMode mode, guint64 min_interval_ns,
    guint frame_interval);
GstVtpFrameCounts gst_vtp_frame_gate_counts (GstVtpFrameGate *g);

/* While the worker runs the element on a frame: when it arrived
 * (g_get_monotonic_time) and the counts then. */
void gst_vtp_frame_gate_current (GstVtpFrameGate *g, gint64 *arrival_us, GstVtpFrameCounts *counts);

/* The element skipped the frame the worker handed it (a corrupt JPEG):
 * counted as dropped rather than described, so received stays described
 * plus dropped. */
void gst_vtp_frame_gate_skip_current (GstVtpFrameGate *g);

G_END_DECLS
