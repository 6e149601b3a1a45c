/* vtp-graph-input.c: the sources in front of a graph (see vtp-graph-input.h). */
#include "vtp-graph-input.h"
#include "vtp-graph-spec.h"
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <string.h>

typedef enum {
  INPUT_IMAGES, INPUT_VIDEO, INPUT_URI, INPUT_TESTSRC, INPUT_LIVE_TESTSRC, INPUT_CAMERA,
  INPUT_TEXT,                   /* prompts for a language model alone: text:PROMPT, a .txt file */
} InputKind;

/* rtspsrc's jitter buffer: its default (2 s) would make every description
 * 2 s late; 200 ms still evens out a LAN's jitter */
#define RTSP_LATENCY_MS 200

struct _VtpGraphInput {
  InputKind kind;
  char *name;                   /* as given */
  char *uri;                    /* INPUT_VIDEO, INPUT_URI: what uridecodebin reads */
  gboolean live;                /* described live: newest frame wins, --duration applies */
  gboolean paced;               /* live: by the "live:" prefix on a source that is not live itself */
  GPtrArray *images;            /* paths or URIs, INPUT_IMAGES; the prompts, INPUT_TEXT */
  GstElement *readers[2];       /* the elements reading and decoding the input (their errors are the input's) */
  guint frames;                 /* INPUT_TESTSRC */
  gboolean directory;           /* INPUT_IMAGES from a directory: a bad image is skipped */
  GstElement *appsrc;           /* INPUT_IMAGES, INPUT_TEXT: where the feeder pushes */
  GThread *feeder;
  guint unreadable;             /* images skipped (the feeder's until it is joined) */
};

static const char *const image_extensions[] = { ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
  ".ppm", ".pnm", NULL };

gboolean
vtp_graph_input_is_image_file (const char *path)
{
  g_autofree char *lower = g_ascii_strdown (path, -1);
  for (guint i = 0; image_extensions[i]; i++)
    if (g_str_has_suffix (lower, image_extensions[i]))
      return TRUE;
  return FALSE;
}

static gint
compare_paths (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* A directory's images (@dir: the input's path, or the path its file://
 * URI names), sorted by name. */
static gboolean
list_images (VtpGraphInput *in, const char *dir_path, GError **error)
{
  g_autoptr (GError) e = NULL;
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, &e);
  const char *entry;

  if (!dir) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s", e->message);
    return FALSE;
  }
  while ((entry = g_dir_read_name (dir)))
    if (vtp_graph_input_is_image_file (entry))
      g_ptr_array_add (in->images, g_build_filename (dir_path, entry, NULL));
  if (!in->images->len) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no images in this directory (looked for "
        "png, jpg, jpeg, bmp, gif, webp, tif, tiff, ppm, pnm)", in->name);
    return FALSE;
  }
  g_ptr_array_sort (in->images, compare_paths);
  return TRUE;
}

/* Schemes whose streams are live by nature (rtspsrc's: RTSP over UDP,
 * TCP, HTTP tunnel, TLS). */
static gboolean
is_rtsp_scheme (const char *scheme)
{
  static const char *const rtsp[] = { "rtsp", "rtspu", "rtspt", "rtsph", "rtsps", "rtspsu", "rtspst", "rtspsh",
    NULL };
  return g_strv_contains (rtsp, scheme);
}

/* The scheme of "scheme://..." (lower case), else NULL: "testsrc:90" or a
 * file named "a:b.png" is no URI. */
static char *
uri_scheme (const char *input)
{
  const char *scheme = g_uri_peek_scheme (input);
  return scheme && g_str_has_prefix (input + strlen (scheme), "://") ? g_strdup (scheme) : NULL;
}

/* The path part of @uri, unescaped (for its extension), or NULL. */
static char *
uri_path (const char *uri)
{
  g_autoptr (GUri) u = g_uri_parse (uri, G_URI_FLAGS_NONE, NULL);
  return u ? g_strdup (g_uri_get_path (u)) : NULL;
}

static const char input_kinds[] = "an input is an image, a directory of images, a video file, a URI (file://, "
    "http(s)://, rtsp://), live:URI, live:VIDEO, testsrc[:FRAMES], live:testsrc or live:/dev/videoN; for a "
    "language model alone, text:PROMPT or a .txt file of prompts";

/* Prompts for a graph whose input element takes text: "text:PROMPT", or
 * a .txt file, one prompt a line (blank lines skipped). */
static gboolean
text_input (VtpGraphInput *in, const char *input, GError **error)
{
  in->kind = INPUT_TEXT;
  if (g_str_has_prefix (input, "text:")) {
    char *prompt = g_strstrip (g_strdup (input + 5));
    if (!g_utf8_validate (prompt, -1, NULL) || !*prompt) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: expected text:PROMPT with a prompt in "
          "UTF-8", input);
      g_free (prompt);
      return FALSE;
    }
    g_ptr_array_add (in->images, prompt);
    return TRUE;
  }
  {
    g_autofree char *contents = NULL;
    g_auto (GStrv) lines = NULL;
    g_autoptr (GError) e = NULL;
    gsize length;
    if (!g_file_get_contents (input, &contents, &length, &e)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s", e->message);
      return FALSE;
    }
    if (!g_utf8_validate_len (contents, length, NULL)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: a .txt input holds prompts, one a line, "
          "in UTF-8: this file is not UTF-8 text", input);
      return FALSE;
    }
    lines = g_strsplit (contents, "\n", -1);
    for (guint i = 0; lines[i]; i++)
      if (*g_strstrip (lines[i]))
        g_ptr_array_add (in->images, g_strdup (lines[i]));
  }
  if (!in->images->len) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no prompt in it (a .txt input holds prompts, "
        "one a line)", input);
    return FALSE;
  }
  return TRUE;
}

/* A local path: an image, a directory or a video (errors name the input
 * as given). */
static gboolean
local_input (VtpGraphInput *in, const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR)) {
    in->kind = INPUT_IMAGES;
    in->directory = TRUE;
    return list_images (in, path, error);
  }
  if (g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
    g_autofree char *absolute = NULL;
    in->kind = vtp_graph_input_is_image_file (path) ? INPUT_IMAGES : INPUT_VIDEO;
    if (in->kind == INPUT_IMAGES) {
      g_ptr_array_add (in->images, g_strdup (path));
      return TRUE;
    }
    /* a video through uridecodebin, as any URI */
    absolute = g_canonicalize_filename (path, NULL);
    in->uri = g_filename_to_uri (absolute, NULL, NULL);
    return TRUE;
  }
  g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no such file or directory (%s)", in->name,
      input_kinds);
  return FALSE;
}

/* A URI: file:// as the local path it names (a video read by
 * uridecodebin), another scheme through the GStreamer source that reads
 * it: an image by its extension, else a stream; rtsp is live. */
static gboolean
uri_input (VtpGraphInput *in, const char *uri, const char *scheme, gboolean live, GError **error)
{
  g_autofree char *path = NULL;

  if (!strcmp (scheme, "file")) {
    g_autoptr (GError) e = NULL;
    if (!(path = g_filename_from_uri (uri, NULL, &e))) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: %s", in->name, e->message);
      return FALSE;
    }
    if (live && !g_file_test (path, G_FILE_TEST_IS_REGULAR)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: live: takes a video file, a stream or a "
          "camera", in->name);
      return FALSE;
    }
    if (!live)
      return local_input (in, path, error);
  } else if (!gst_uri_protocol_is_supported (GST_URI_SRC, scheme)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no installed GStreamer source reads %s:// "
        "URIs%s", in->name, scheme, is_rtsp_scheme (scheme) || !strncmp (scheme, "http", 4)
        ? " (rtspsrc and souphttpsrc are in gstreamer1.0-plugins-good)" : "");
    return FALSE;
  } else if (!live && !is_rtsp_scheme (scheme) && (path = uri_path (uri)) && vtp_graph_input_is_image_file (path)) {
    in->kind = INPUT_IMAGES;
    g_ptr_array_add (in->images, g_strdup (uri));
    return TRUE;
  }
  in->kind = INPUT_URI;
  in->uri = g_strdup (uri);
  in->live = live || is_rtsp_scheme (scheme);
  in->paced = live && !is_rtsp_scheme (scheme);
  return TRUE;
}

VtpGraphInput *
vtp_graph_input_new (const char *input, GError **error)
{
  g_autoptr (VtpGraphInput) in = g_new0 (VtpGraphInput, 1);
  g_autofree char *scheme = NULL;
  const char *live_of = g_str_has_prefix (input, "live:") ? input + 5 : NULL;

  in->name = g_strdup (input);
  in->images = g_ptr_array_new_with_free_func (g_free);
  if (g_str_has_prefix (input, "text:") || (g_str_has_suffix (input, ".txt")
          && g_file_test (input, G_FILE_TEST_IS_REGULAR))) {
    if (!text_input (in, input, error))
      return NULL;
  } else if (!strcmp (input, "testsrc") || g_str_has_prefix (input, "testsrc:")) {
    char *end = NULL;
    in->kind = INPUT_TESTSRC;
    in->frames = input[7] ? (guint) g_ascii_strtoull (input + 8, &end, 10) : 90;
    if (!in->frames || (end && *end)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: expected testsrc:FRAMES with FRAMES > 0",
          input);
      return NULL;
    }
  } else if (!g_strcmp0 (live_of, "testsrc")) {
    in->kind = INPUT_LIVE_TESTSRC;
    in->live = TRUE;
  } else if (live_of && (scheme = uri_scheme (live_of))) {
    if (!uri_input (in, live_of, scheme, TRUE, error))
      return NULL;
  } else if (live_of && (g_str_has_prefix (live_of, "/dev/") || !g_file_test (live_of, G_FILE_TEST_IS_REGULAR))) {
    in->kind = INPUT_CAMERA;
    in->live = TRUE;
    if (!g_file_test (live_of, G_FILE_TEST_EXISTS)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no such camera device or video file",
          live_of);
      return NULL;
    }
  } else if (live_of) {
    /* a video file played as a camera would give it */
    g_autofree char *absolute = g_canonicalize_filename (live_of, NULL);
    g_autofree char *uri = g_filename_to_uri (absolute, NULL, NULL);
    if (!uri_input (in, uri, "file", TRUE, error))
      return NULL;
  } else if ((scheme = uri_scheme (input))) {
    if (!uri_input (in, input, scheme, FALSE, error))
      return NULL;
  } else if (!local_input (in, input, error))
    return NULL;
  return g_steal_pointer (&in);
}

void
vtp_graph_input_free (VtpGraphInput *in)
{
  if (!in)
    return;
  vtp_graph_input_finish (in);
  g_clear_object (&in->appsrc);
  g_clear_object (&in->readers[0]);
  g_clear_object (&in->readers[1]);
  g_ptr_array_unref (in->images);
  g_free (in->uri);
  g_free (in->name);
  g_free (in);
}

gboolean
vtp_graph_input_is_live (VtpGraphInput *in)
{
  return in->live;
}

gboolean
vtp_graph_input_is_directory (VtpGraphInput *in)
{
  return in->directory;
}

gboolean
vtp_graph_input_is_text (VtpGraphInput *in)
{
  return in->kind == INPUT_TEXT;
}

guint
vtp_graph_input_images (VtpGraphInput *in)
{
  return in->kind == INPUT_IMAGES || in->kind == INPUT_TEXT ? in->images->len : 0;
}

guint64
vtp_graph_input_known_duration (VtpGraphInput *in)
{
  return in->kind == INPUT_TESTSRC ? gst_util_uint64_scale (in->frames, GST_SECOND, 30) : GST_CLOCK_TIME_NONE;
}

gboolean
vtp_graph_input_owns (VtpGraphInput *in, GstObject *object)
{
  for (guint i = 0; i < G_N_ELEMENTS (in->readers); i++)
    if (in->readers[i] && (object == GST_OBJECT (in->readers[i]) || gst_object_has_as_ancestor (object,
                GST_OBJECT (in->readers[i]))))
      return TRUE;
  return FALSE;
}

const char *
vtp_graph_input_source_at (VtpGraphInput *in, guint64 pts)
{
  if ((in->kind == INPUT_IMAGES || in->kind == INPUT_TEXT) && GST_CLOCK_TIME_IS_VALID (pts)
      && pts / GST_SECOND < in->images->len)
    return in->images->pdata[pts / GST_SECOND];
  return in->name;
}

/* decodebin's video pad to @data (the converter); other streams to a fakesink.
 * A pad without caps is taken for the video too: decodebin exposes the
 * decoder's pad that way when the data ended before the decoder could make
 * a picture (a truncated image), and only on the converter's side does its
 * end of stream reach the sink and end the decode. */
static void
on_pad_added (GstElement *dec, GstPad *pad, gpointer data)
{
  GstElement *conv = data;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const char *media = caps ? gst_structure_get_name (gst_caps_get_structure (caps, 0)) : "video/";
  GstPad *sink = gst_element_get_static_pad (conv, "sink");

  if (g_str_has_prefix (media, "video/") && !gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  else {
    GstElement *fake = gst_element_factory_make ("fakesink", NULL);
    GstPad *fsink = gst_element_get_static_pad (fake, "sink");
    g_object_set (fake, "async", FALSE, NULL);
    gst_bin_add (GST_BIN (GST_ELEMENT_PARENT (dec)), fake);
    gst_element_sync_state_with_parent (fake);
    gst_pad_link (pad, fsink);
    gst_object_unref (fsink);
  }
  gst_object_unref (sink);
}

static GstElement *
make (GstBin *bin, const char *factory)
{
  GstElement *e = gst_element_factory_make (factory, NULL);
  if (e)
    gst_bin_add (bin, e);
  return e;
}

gboolean
vtp_graph_input_describe_error (GstMessage *m, char **text)
{
  g_autoptr (GError) e = NULL;
  g_autofree char *debug = NULL;
  GstElementFactory *f = GST_IS_ELEMENT (GST_MESSAGE_SRC (m)) ? gst_element_get_factory (GST_ELEMENT
      (GST_MESSAGE_SRC (m))) : NULL;
  const char *reason;

  gst_message_parse_error (m, &e, &debug);
  /* the debug text ends with the reason after the element's path:
   * "gstrtspsrc.c(...): ...: /GstPipeline:.../GstRTSPSrc:source:\nFailed to connect." */
  reason = debug ? strrchr (debug, '\n') : NULL;
  reason = reason && reason[1] ? reason + 1 : NULL;
  if (reason && strstr (reason, "not-negotiated")) {
    /* the video reached a graph that does not take it: no input problem */
    *text = g_strdup (e->message);
    return FALSE;
  }
  if (g_error_matches (e, GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED) && f
      && GST_OBJECT_FLAG_IS_SET (GST_MESSAGE_SRC (m), GST_ELEMENT_FLAG_SOURCE))
    /* a source that only returned an error (souphttpsrc when the server
     * cannot be reached): "Internal data stream error" says nothing */
    *text = g_strdup_printf ("%s stopped with an error (GST_DEBUG=%s:5 shows why)", GST_OBJECT_NAME (f),
        GST_OBJECT_NAME (f));
  else if (reason && !strstr (e->message, reason))
    *text = g_strdup_printf ("%s (%s)", e->message, reason);
  else
    *text = g_strdup (e->message);
  return TRUE;
}

static GstElement *
test_video (GstBin *bin, gboolean live, guint frames)
{
  GstElement *src = make (bin, "videotestsrc"), *filter = make (bin, "capsfilter");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,width=320,height=240,framerate=30/1");

  g_object_set (src, "is-live", live, "pattern", 18 /* ball */, NULL);
  if (frames)
    g_object_set (src, "num-buffers", (gint) frames, NULL);
  g_object_set (filter, "caps", caps, NULL);
  gst_caps_unref (caps);
  gst_element_link (src, filter);
  return filter;
}

/* uridecodebin's source, once made: rtspsrc with a short jitter buffer
 * that drops what comes too late rather than delaying everything after. */
static void
on_source_setup (GstElement *uridecodebin, GstElement *source, gpointer data)
{
  GstElementFactory *f = gst_element_get_factory (source);

  if (f && !strcmp (GST_OBJECT_NAME (f), "rtspsrc"))
    g_object_set (source, "latency", (guint) RTSP_LATENCY_MS, "drop-on-latency", TRUE, NULL);
}

/* A paced input (live: on a file or an HTTP stream) reaches the model as a
 * camera's frames would: at their time, the newest winning while the model
 * is busy. The pipeline is not live, so the input element's drop-frames
 * (vtpencoder's auto) is made "always" unless the graph chose otherwise. */
static void
newest_frame_wins (GstElement *first)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (first), "drop-frames");
  GValue v = G_VALUE_INIT;

  if (!pspec || !G_IS_PARAM_SPEC_ENUM (pspec))
    return;
  g_value_init (&v, pspec->value_type);
  g_object_get_property (G_OBJECT (first), "drop-frames", &v);
  if (g_param_value_defaults (pspec, &v))
    gst_util_set_object_arg (G_OBJECT (first), "drop-frames", "always");
  g_value_unset (&v);
}

/* Whether @element's sink pad takes text prompts (vtpllm alone). */
static gboolean
takes_text (GstElement *element)
{
  g_autoptr (GstPad) sink = gst_element_get_static_pad (element, "sink");
  g_autoptr (GstCaps) takes = sink ? gst_pad_query_caps (sink, NULL) : NULL;
  g_autoptr (GstCaps) text = gst_caps_from_string ("text/x-raw,format=utf8");

  return takes && gst_caps_can_intersect (takes, text);
}

/* The prompts of a text input, into @first as text buffers. */
static gboolean
attach_text (VtpGraphInput *in, GstBin *bin, GstElement *first, GError **error)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string ("text/x-raw,format=utf8");

  in->appsrc = gst_object_ref (make (bin, "appsrc"));
  g_object_set (in->appsrc, "format", GST_FORMAT_TIME, "caps", caps, "block", TRUE, "max-buffers", (guint64) 2,
      NULL);
  /* appsrc's pad takes any caps: whether the element takes text is its sink pad's answer */
  if (!takes_text (first) || !gst_element_link (in->appsrc, first)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_LINK, "%s: the graph's input element %s does not take "
        "text (text:PROMPT and .txt inputs are prompts for a language model alone, as the graph \"text\" runs "
        "it; this graph describes pictures: give it an image, a directory, a video, a URI or a camera)", in->name,
        GST_ELEMENT_NAME (first));
    return FALSE;
  }
  return TRUE;
}

gboolean
vtp_graph_input_attach (VtpGraphInput *in, GstBin *bin, GstElement *first, GError **error)
{
  GstElement *conv, *last, *src, *dec;

  if (in->kind == INPUT_TEXT)
    return attach_text (in, bin, first, error);
  last = conv = make (bin, "videoconvert");
  switch (in->kind) {
    case INPUT_IMAGES:
      in->appsrc = gst_object_ref (make (bin, "appsrc"));
      g_object_set (in->appsrc, "format", GST_FORMAT_TIME, "block", TRUE, "max-buffers", (guint64) 2, NULL);
      gst_element_link (in->appsrc, conv);
      break;
    case INPUT_VIDEO:
    case INPUT_URI:
      dec = make (bin, "uridecodebin");
      in->readers[0] = gst_object_ref (dec);
      g_object_set (dec, "uri", in->uri, NULL);
      g_signal_connect (dec, "source-setup", G_CALLBACK (on_source_setup), NULL);
      g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), conv);
      break;
    case INPUT_CAMERA:
      if (!(src = make (bin, "v4l2src"))) {
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: v4l2src is not installed "
            "(gstreamer1.0-plugins-good)", in->name);
        return FALSE;
      }
      g_object_set (src, "device", in->name + 5, NULL);
      dec = make (bin, "decodebin");
      in->readers[0] = gst_object_ref (src);
      in->readers[1] = gst_object_ref (dec);
      gst_element_link (src, dec);
      g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), conv);
      break;
    case INPUT_TESTSRC:
    case INPUT_LIVE_TESTSRC:
      gst_element_link (test_video (bin, in->kind == INPUT_LIVE_TESTSRC, in->frames), conv);
      break;
    case INPUT_TEXT:
      g_assert_not_reached ();
  }
  if (in->paced) {
    /* frames released at their time, as a camera gives them */
    GstElement *sync = make (bin, "clocksync");
    gst_element_link (conv, sync);
    last = sync;
    newest_frame_wins (first);
  }
  if (!gst_element_link (last, first)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_LINK, "the graph's input element %s does not take video%s",
        GST_ELEMENT_NAME (first), takes_text (first) ? " but text: give it prompts (vtp-run --prompt alone, "
        "text:PROMPT, or a .txt file of prompts, one a line)" : "");
    return FALSE;
  }
  return TRUE;
}

/* One image as an RGB sample, or NULL with the decoder's error. An end of
 * stream before the first picture (a truncated or damaged file the decoder
 * gave up on without an error) ends the wait too. */
static GstSample *
decode_image (const char *path, GError **error)
{
  const gboolean uri = gst_uri_is_valid (path) && strstr (path, "://");
  GstElement *pipe = gst_pipeline_new (NULL), *src = make (GST_BIN (pipe), uri ? "uridecodebin" : "filesrc"),
      *dec = uri ? src : make (GST_BIN (pipe), "decodebin"), *conv = make (GST_BIN (pipe), "videoconvert"),
      *sink = make (GST_BIN (pipe), "appsink");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=RGB");
  GstSample *sample = NULL;
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *m;

  g_object_set (src, uri ? "uri" : "location", path, NULL);
  g_object_set (sink, "caps", caps, "sync", FALSE, NULL);
  gst_caps_unref (caps);
  if (!uri)
    gst_element_link (src, dec);
  gst_element_link (conv, sink);
  g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), conv);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_ERROR | GST_MESSAGE_ASYNC_DONE
      | GST_MESSAGE_EOS);
  if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ASYNC_DONE)
    sample = gst_app_sink_pull_preroll (GST_APP_SINK (sink));
  if (!sample) {
    g_autoptr (GError) e = NULL;
    g_autofree char *why = NULL;
    if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (m, &e, NULL);
      vtp_graph_input_describe_error (m, &why);
    }
    /* not there (a server that cannot be reached, a 404), or not an image;
     * a local file that filesrc could open is one that does not decode
     * (decoders differ in how they fail: with libav's, a damaged PNG ends
     * in a general stream error) */
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: cannot %s this image: %s", path,
        e && (e->domain == GST_RESOURCE_ERROR || (uri && e->code == GST_STREAM_ERROR_FAILED)) ? "read" : "decode",
        why ? why : "the file ended before a picture came out (truncated or damaged?)");
  }
  if (m)
    gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return sample;
}

/* An image that cannot be decoded. One image given alone ends the run
 * with the decoder's error; one of a directory is skipped, so a bad file
 * does not cost the others their descriptions: the run reports it as a
 * "vtp-skipped" element message (source, message) and counts it. */
static void
image_unreadable (VtpGraphInput *in, const char *path, const GError *error)
{
  GstStructure *s;

  if (!in->directory) {
    gst_element_post_message (in->appsrc, gst_message_new_error (GST_OBJECT (in->appsrc), (GError *) error, NULL));
    return;
  }
  in->unreadable++;
  s = gst_structure_new ("vtp-skipped", "source", G_TYPE_STRING, path, "message", G_TYPE_STRING, error->message,
      NULL);
  gst_element_post_message (in->appsrc, gst_message_new_element (GST_OBJECT (in->appsrc), s));
}

/* The feeder thread: image i as a frame at i seconds lasting one second
 * (a skipped image leaves its second empty, so times still name files). */
static gpointer
feed_images (gpointer data)
{
  VtpGraphInput *in = data;

  for (guint i = 0; i < in->images->len; i++) {
    g_autoptr (GError) error = NULL;
    GstSample *sample = decode_image (in->images->pdata[i], &error), *timed;
    GstBuffer *buf;
    GstFlowReturn ret;

    if (!sample) {
      image_unreadable (in, in->images->pdata[i], error);
      if (!in->directory)
        return NULL;
      continue;
    }
    buf = gst_buffer_copy (gst_sample_get_buffer (sample));
    GST_BUFFER_PTS (buf) = i * GST_SECOND;
    GST_BUFFER_DURATION (buf) = GST_SECOND;
    timed = gst_sample_new (buf, gst_sample_get_caps (sample), NULL, NULL);
    ret = gst_app_src_push_sample (GST_APP_SRC (in->appsrc), timed);
    gst_buffer_unref (buf);
    gst_sample_unref (timed);
    gst_sample_unref (sample);
    if (ret != GST_FLOW_OK)
      return NULL;              /* stopping */
  }
  gst_app_src_end_of_stream (GST_APP_SRC (in->appsrc));
  return NULL;
}

/* The feeder thread of a text input: prompt i as a buffer at i seconds
 * lasting one second (so times name prompts, as they name images). */
static gpointer
feed_prompts (gpointer data)
{
  VtpGraphInput *in = data;

  for (guint i = 0; i < in->images->len; i++) {
    const char *prompt = in->images->pdata[i];
    GstBuffer *buf = gst_buffer_new_memdup (prompt, strlen (prompt));
    GST_BUFFER_PTS (buf) = i * GST_SECOND;
    GST_BUFFER_DURATION (buf) = GST_SECOND;
    if (gst_app_src_push_buffer (GST_APP_SRC (in->appsrc), buf) != GST_FLOW_OK)
      return NULL;              /* stopping */
  }
  gst_app_src_end_of_stream (GST_APP_SRC (in->appsrc));
  return NULL;
}

void
vtp_graph_input_start (VtpGraphInput *in)
{
  if (in->kind == INPUT_IMAGES && !in->feeder)
    in->feeder = g_thread_new ("vtp-graph-images", feed_images, in);
  else if (in->kind == INPUT_TEXT && !in->feeder)
    in->feeder = g_thread_new ("vtp-graph-prompts", feed_prompts, in);
}

guint
vtp_graph_input_unreadable (VtpGraphInput *in, guint *total)
{
  if (total)
    *total = in->images->len;
  return in->unreadable;
}

void
vtp_graph_input_finish (VtpGraphInput *in)
{
  if (in->feeder) {
    g_thread_join (in->feeder);
    in->feeder = NULL;
  }
}
