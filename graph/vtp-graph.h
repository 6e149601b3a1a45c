/* vtp-graph.h: the application API: a graph file becomes a running
 * GStreamer pipeline on an input, and each description comes back through
 * the "text" signal with its timing. Usable from Python through
 * GObject introspection (namespace Vtp).
 *
 *   VtpGraph *g = vtp_graph_new_from_file ("graphs/llava-1.5.json", &error);
 *   vtp_graph_set_parameter (g, "model", "/models/llava-1.5-7b-hf", &error);
 *   g_signal_connect (g, "text", G_CALLBACK (on_text), NULL);
 *   vtp_graph_run (g, "clip.mp4", &error);
 */
#pragma once
#include <glib-object.h>

G_BEGIN_DECLS

/* What libvtp-graph exports: the declarations of this header and nothing
 * else (the library is built with hidden visibility; its other headers
 * are internal). */
#pragma GCC visibility push(default)

/**
 * VTP_GRAPH_ERROR:
 *
 * The error domain of the graph API: its codes are #VtpGraphError.
 */
#define VTP_GRAPH_ERROR (vtp_graph_error_quark ())
GQuark vtp_graph_error_quark (void);

/**
 * VtpGraphError:
 * @VTP_GRAPH_ERROR_PARSE: the graph cannot be read or found, is not JSON, or
 *   not the graph format
 * @VTP_GRAPH_ERROR_INVALID: a member is missing, unknown or of the wrong kind
 * @VTP_GRAPH_ERROR_PARAMETER: a parameter is unknown, missing or of the wrong type
 * @VTP_GRAPH_ERROR_LINK: two pads cannot be linked
 * @VTP_GRAPH_ERROR_INPUT: the input cannot be read
 * @VTP_GRAPH_ERROR_RUN: the pipeline failed while running
 *
 * What went wrong, in the #VTP_GRAPH_ERROR domain.
 */
typedef enum {
  VTP_GRAPH_ERROR_PARSE,
  VTP_GRAPH_ERROR_INVALID,
  VTP_GRAPH_ERROR_PARAMETER,
  VTP_GRAPH_ERROR_LINK,
  VTP_GRAPH_ERROR_INPUT,
  VTP_GRAPH_ERROR_RUN,
} VtpGraphError;

GType vtp_graph_error_get_type (void);
#define VTP_TYPE_GRAPH_ERROR (vtp_graph_error_get_type ())

/**
 * vtp_graph_find_file:
 * @name: a graph file's path, or a graph's name: "llava-1.5" or
 *   "llava-1.5.json"
 * @error: the name and the directories searched, when there is no such graph
 *
 * Finds a graph file. An existing file, or a @name with a directory
 * separator, is a path and is returned as it is. Otherwise the name, with
 * ".json" appended when it has no such ending, is looked up in the
 * directories of vtp_graph_get_search_path(): those of `$VTP_GRAPH_PATH`
 * (colon-separated), then the source tree's `graphs/` when the library
 * runs from its build directory, then the installed `share/vtp/graphs`.
 *
 * Returns: (transfer full) (type filename) (nullable): the graph file's path
 */
char *vtp_graph_find_file (const char *name, GError **error);

/**
 * vtp_graph_get_search_path:
 *
 * Returns: (transfer full) (array zero-terminated=1) (element-type filename):
 *   the directories vtp_graph_find_file() searches, in order
 */
char **vtp_graph_get_search_path (void);

#define VTP_TYPE_GRAPH (vtp_graph_get_type ())
G_DECLARE_FINAL_TYPE (VtpGraph, vtp_graph, VTP, GRAPH, GObject)

/**
 * vtp_graph_new_from_file:
 * @path: a graph file (docs/graph-format.md)
 * @error: the file, the JSON path and what was expected, when it is not valid
 *
 * Reads and checks a graph: its elements must exist (the vtp plugin on
 * GST_PLUGIN_PATH), its properties and links fit.
 *
 * Returns: (transfer full) (nullable): the graph
 */
VtpGraph *vtp_graph_new_from_file (const char *path, GError **error);

/**
 * vtp_graph_new_from_data:
 * @json: a graph, as JSON text (an app may build it with json-glib)
 * @name: what errors call it (a file name, "my-app")
 * @error: the JSON path and what was expected, when it is not valid
 *
 * Returns: (transfer full) (nullable): the graph
 */
VtpGraph *vtp_graph_new_from_data (const char *json, const char *name, GError **error);

/**
 * vtp_graph_get_name:
 * @graph: a graph
 *
 * Returns: the graph's "name"
 */
const char *vtp_graph_get_name (VtpGraph *graph);

/**
 * vtp_graph_list_parameters:
 * @graph: a graph
 *
 * Returns: (transfer full) (array zero-terminated=1): the parameters' names
 */
char **vtp_graph_list_parameters (VtpGraph *graph);

/**
 * vtp_graph_describe_parameter:
 * @graph: a graph
 * @name: a parameter
 *
 * Returns: (transfer full) (nullable): "type, required|default VALUE: description"
 */
char *vtp_graph_describe_parameter (VtpGraph *graph, const char *name);

/**
 * vtp_graph_set_parameter:
 * @graph: a graph
 * @name: a parameter the graph declares
 * @value: its value as text (a path, a number...)
 * @error: an unknown parameter, a path that does not exist, a bad number
 *
 * Returns: whether it was set
 */
gboolean vtp_graph_set_parameter (VtpGraph *graph, const char *name, const char *value, GError **error);

/**
 * vtp_graph_run:
 * @graph: a graph whose required parameters are set
 * @input: an image file, a directory of images, a video file, a URI
 *   ("file://", "http(s)://", "rtsp://": live), "testsrc[:FRAMES]"
 *   (GStreamer's test video, 30 fps), "live:testsrc", "live:/dev/videoN"
 *   (a camera), "live:URI" or "live:VIDEO-FILE" (paced as a camera's frames);
 *   for a graph whose input element takes text (a language model alone),
 *   "text:PROMPT" or a .txt file of prompts, one a line
 * @error: what failed (a missing parameter, an unreadable input or a URI
 *   that cannot be reached, %VTP_GRAPH_ERROR_INPUT; a pipeline error;
 *   a directory's images that could not be decoded, %VTP_GRAPH_ERROR_INPUT
 *   after the others were described, each one emitted as #VtpGraph::skipped)
 *
 * Builds the pipeline and runs it to the end of the input (a live input:
 * for #VtpGraph:duration seconds, or until vtp_graph_stop()). Descriptions
 * are emitted as #VtpGraph::text from the calling thread.
 *
 * Returns: whether the input was described to its end
 */
gboolean vtp_graph_run (VtpGraph *graph, const char *input, GError **error);

/**
 * vtp_graph_stop:
 * @graph: a running graph
 *
 * Ends a run (any thread): the description in progress finishes, then
 * vtp_graph_run() returns.
 */
void vtp_graph_stop (VtpGraph *graph);

/**
 * vtp_graph_get_input_size:
 * @graph: a graph
 * @images: (out) (optional): the input's images (an image: 1, a directory:
 *   its images) or prompts (text inputs), else 0
 * @duration: (out) (optional): the input's duration in ns (a video file,
 *   once the pipeline knows it; testsrc:FRAMES), else %G_MAXUINT64 (live
 *   inputs, images, not known yet)
 *
 * How much the input being described holds, for progress displays (N of
 * M images, an ETA). Call it during vtp_graph_run(), from any thread, e.g.
 * in a #VtpGraph::text handler.
 *
 * Returns: whether a run is in progress
 */
gboolean vtp_graph_get_input_size (VtpGraph *graph, guint *images, guint64 *duration);

/**
 * vtp_graph_probe_input:
 * @input: an input as vtp_graph_run() takes it
 * @is_directory: (out) (optional): whether @input is a directory of pictures
 * @images: (out) (optional): the pictures @input holds (a picture: 1, a
 *   directory: its pictures) or its prompts (text:PROMPT: 1, a .txt file:
 *   its lines), else 0 (video, streams, test sources)
 *
 * What @input is, before any run and without opening a pipeline: for an
 * application's labels and progress display.
 *
 * Returns: whether @input names something vtp_graph_run() would try (an
 *   existing file or directory, a URI, a test or live source)
 */
gboolean vtp_graph_probe_input (const char *input, gboolean *is_directory, guint *images);

#pragma GCC visibility pop

G_END_DECLS
