/* vtp-graph-input.h: what a graph describes: an image, a directory of
 * images, a video file, GStreamer's test video or a live source, as the
 * elements in front of the graph's input element; or prompts for a graph
 * that is a language model alone. */
#pragma once
#include <gst/gst.h>

G_BEGIN_DECLS

typedef struct _VtpGraphInput VtpGraphInput;

/* Reads @input: an image file (by extension), a directory (its images,
 * sorted by name), another file (a video), a URI ("file://" as the path it
 * names; another scheme read by its GStreamer source through uridecodebin:
 * an image by its extension, else a stream; "rtsp://" is live),
 * "live:URI" or "live:VIDEO-FILE" (paced as a camera's frames and the
 * newest wins), "testsrc[:FRAMES]", "live:testsrc", "live:/dev/videoN";
 * text: "text:PROMPT", or a .txt file of prompts, one a line (each a
 * text/x-raw buffer at its index in seconds).
 * Errors name the input. */
VtpGraphInput *vtp_graph_input_new (const char *input, GError **error);
void vtp_graph_input_free (VtpGraphInput *in);

/* Whether @path names an image by its extension. */
gboolean vtp_graph_input_is_image_file (const char *path);

gboolean vtp_graph_input_is_live (VtpGraphInput *in);
gboolean vtp_graph_input_is_directory (VtpGraphInput *in);
/* Whether @in is text: "text:PROMPT" or a .txt file (its prompts are
 * vtp_graph_input_source_at (i seconds)). */
gboolean vtp_graph_input_is_text (VtpGraphInput *in);
/* The number of images (an image, a directory) or prompts (text), else 0. */
guint vtp_graph_input_images (VtpGraphInput *in);
/* The duration known without asking the pipeline (testsrc:FRAMES), else NONE. */
guint64 vtp_graph_input_known_duration (VtpGraphInput *in);
/* Whether @object is the element reading the input or inside it (its
 * errors say the input cannot be read). */
gboolean vtp_graph_input_owns (VtpGraphInput *in, GstObject *object);
/* An error message of the input's reader as a person reads it (*@text: the
 * message with the reason from the debug text when it adds one, "Failed to
 * connect."); FALSE when it is no input problem (caps not negotiated). */
gboolean vtp_graph_input_describe_error (GstMessage *m, char **text);
/* Adds the source elements to @bin, linked to @first. */
gboolean vtp_graph_input_attach (VtpGraphInput *in, GstBin *bin, GstElement *first, GError **error);
/* Once the pipeline plays: images start being fed (frame i at i seconds). */
void vtp_graph_input_start (VtpGraphInput *in);
/* After the pipeline is stopped. */
void vtp_graph_input_finish (VtpGraphInput *in);
/* After vtp_graph_input_finish(): the images of a directory that were
 * skipped because they could not be decoded, of @total. */
guint vtp_graph_input_unreadable (VtpGraphInput *in, guint *total);
/* The file or source the frame at @pts came from (text: the prompt). */
const char *vtp_graph_input_source_at (VtpGraphInput *in, guint64 pts);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpGraphInput, vtp_graph_input_free)

G_END_DECLS
