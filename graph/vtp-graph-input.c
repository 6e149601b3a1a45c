/* vtp-graph-input.c: the sources in front of a graph (see vtp-graph-input.h). */
#include "vtp-graph-input.h"
#include "vtp-graph-spec.h"
#include <gst/app/gstappsrc.h>
#include <gst/app/gstappsink.h>
#include <string.h>

typedef enum { INPUT_IMAGES, INPUT_VIDEO, INPUT_TESTSRC, INPUT_LIVE_TESTSRC, INPUT_CAMERA } InputKind;

struct _VtpGraphInput {
  InputKind kind;
  char *name;                   /* as given */
  GPtrArray *images;            /* paths, INPUT_IMAGES */
  guint frames;                 /* INPUT_TESTSRC */
  gboolean directory;           /* INPUT_IMAGES from a directory: a bad image is skipped */
  GstElement *appsrc;           /* INPUT_IMAGES: where the feeder pushes */
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

static gboolean
list_images (VtpGraphInput *in, GError **error)
{
  g_autoptr (GError) e = NULL;
  g_autoptr (GDir) dir = g_dir_open (in->name, 0, &e);
  const char *entry;

  if (!dir) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s", e->message);
    return FALSE;
  }
  while ((entry = g_dir_read_name (dir)))
    if (vtp_graph_input_is_image_file (entry))
      g_ptr_array_add (in->images, g_build_filename (in->name, entry, NULL));
  if (!in->images->len) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no images in this directory (looked for "
        "png, jpg, jpeg, bmp, gif, webp, tif, tiff, ppm, pnm)", in->name);
    return FALSE;
  }
  g_ptr_array_sort (in->images, compare_paths);
  return TRUE;
}

VtpGraphInput *
vtp_graph_input_new (const char *input, GError **error)
{
  g_autoptr (VtpGraphInput) in = g_new0 (VtpGraphInput, 1);

  in->name = g_strdup (input);
  in->images = g_ptr_array_new_with_free_func (g_free);
  if (!strcmp (input, "testsrc") || g_str_has_prefix (input, "testsrc:")) {
    char *end = NULL;
    in->kind = INPUT_TESTSRC;
    in->frames = input[7] ? (guint) g_ascii_strtoull (input + 8, &end, 10) : 90;
    if (!in->frames || (end && *end)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: expected testsrc:FRAMES with FRAMES > 0",
          input);
      return NULL;
    }
  } else if (!strcmp (input, "live:testsrc"))
    in->kind = INPUT_LIVE_TESTSRC;
  else if (g_str_has_prefix (input, "live:")) {
    in->kind = INPUT_CAMERA;
    if (!g_file_test (input + 5, G_FILE_TEST_EXISTS)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no such camera device", input + 5);
      return NULL;
    }
  } else if (g_file_test (input, G_FILE_TEST_IS_DIR)) {
    in->kind = INPUT_IMAGES;
    in->directory = TRUE;
    if (!list_images (in, error))
      return NULL;
  } else if (g_file_test (input, G_FILE_TEST_IS_REGULAR)) {
    in->kind = vtp_graph_input_is_image_file (input) ? INPUT_IMAGES : INPUT_VIDEO;
    if (in->kind == INPUT_IMAGES)
      g_ptr_array_add (in->images, g_strdup (input));
  } else {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: no such file or directory (an input is an "
        "image, a directory of images, a video file, testsrc[:FRAMES], live:testsrc or live:/dev/videoN)", input);
    return NULL;
  }
  return g_steal_pointer (&in);
}

void
vtp_graph_input_free (VtpGraphInput *in)
{
  if (!in)
    return;
  vtp_graph_input_finish (in);
  g_clear_object (&in->appsrc);
  g_ptr_array_unref (in->images);
  g_free (in->name);
  g_free (in);
}

gboolean
vtp_graph_input_is_live (VtpGraphInput *in)
{
  return in->kind == INPUT_LIVE_TESTSRC || in->kind == INPUT_CAMERA;
}

const char *
vtp_graph_input_source_at (VtpGraphInput *in, guint64 pts)
{
  if (in->kind == INPUT_IMAGES && GST_CLOCK_TIME_IS_VALID (pts) && pts / GST_SECOND < in->images->len)
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

gboolean
vtp_graph_input_attach (VtpGraphInput *in, GstBin *bin, GstElement *first, GError **error)
{
  GstElement *conv = make (bin, "videoconvert"), *src;

  switch (in->kind) {
    case INPUT_IMAGES:
      in->appsrc = gst_object_ref (make (bin, "appsrc"));
      g_object_set (in->appsrc, "format", GST_FORMAT_TIME, "block", TRUE, "max-buffers", (guint64) 2, NULL);
      gst_element_link (in->appsrc, conv);
      break;
    case INPUT_VIDEO:
    case INPUT_CAMERA:
      src = make (bin, in->kind == INPUT_VIDEO ? "filesrc" : "v4l2src");
      if (!src) {
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: v4l2src is not installed "
            "(gstreamer1.0-plugins-good)", in->name);
        return FALSE;
      }
      g_object_set (src, in->kind == INPUT_VIDEO ? "location" : "device", in->kind == INPUT_VIDEO ? in->name
          : in->name + 5, NULL);
      {
        GstElement *dec = make (bin, "decodebin");
        gst_element_link (src, dec);
        g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), conv);
      }
      break;
    case INPUT_TESTSRC:
    case INPUT_LIVE_TESTSRC:
      gst_element_link (test_video (bin, in->kind == INPUT_LIVE_TESTSRC, in->frames), conv);
      break;
  }
  if (!gst_element_link (conv, first)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_LINK, "the graph's input element %s does not take video",
        GST_ELEMENT_NAME (first));
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
  GstElement *pipe = gst_pipeline_new (NULL), *src = make (GST_BIN (pipe), "filesrc"),
      *dec = make (GST_BIN (pipe), "decodebin"), *conv = make (GST_BIN (pipe), "videoconvert"),
      *sink = make (GST_BIN (pipe), "appsink");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=RGB");
  GstSample *sample = NULL;
  GstBus *bus = gst_element_get_bus (pipe);
  GstMessage *m;

  g_object_set (src, "location", path, NULL);
  g_object_set (sink, "caps", caps, "sync", FALSE, NULL);
  gst_caps_unref (caps);
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
    if (m && GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR)
      gst_message_parse_error (m, &e, NULL);
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: cannot decode this image: %s", path,
        e ? e->message : "the file ended before a picture came out (truncated or damaged?)");
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

void
vtp_graph_input_start (VtpGraphInput *in)
{
  if (in->kind == INPUT_IMAGES && !in->feeder)
    in->feeder = g_thread_new ("vtp-graph-images", feed_images, in);
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
