/* vtp-graph-input.h: what a graph describes: an image, a directory of
 * images, a video file, GStreamer's test video or a live source, as the
 * elements in front of the graph's input element. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _VtpGraphInput VtpGraphInput;

/* Reads @input: an image file (by extension), a directory (its images,
 * sorted by name), another file (a video), "testsrc[:FRAMES]",
 * "live:testsrc", "live:/dev/videoN". Errors name the input. */
VtpGraphInput *vtp_graph_input_new (const char *input, GError **error);
void vtp_graph_input_free (VtpGraphInput *in);

/* Whether @path names an image by its extension. */
gboolean vtp_graph_input_is_image_file (const char *path);

gboolean vtp_graph_input_is_live (VtpGraphInput *in);
/* Adds the source elements to @bin, linked to @first. */
gboolean vtp_graph_input_attach (VtpGraphInput *in, GstBin *bin, GstElement *first, GError **error);
/* Once the pipeline plays: images start being fed (frame i at i seconds). */
void vtp_graph_input_start (VtpGraphInput *in);
/* After the pipeline is stopped. */
void vtp_graph_input_finish (VtpGraphInput *in);
/* After vtp_graph_input_finish(): the images of a directory that were
 * skipped because they could not be decoded, of @total. */
guint vtp_graph_input_unreadable (VtpGraphInput *in, guint *total);
/* The file or source the frame at @pts came from. */
const char *vtp_graph_input_source_at (VtpGraphInput *in, guint64 pts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpGraphInput, vtp_graph_input_free)

G_END_DECLS
