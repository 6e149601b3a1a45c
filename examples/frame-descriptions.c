/* frame-descriptions: read vtp's descriptions off the video frames, in C,
 * with GStreamer's own API (nothing of vtp is linked: the plugin is found
 * on GST_PLUGIN_PATH).
 *
 *   GST_PLUGIN_PATH=build/plugins build/examples/frame-descriptions MODEL [VIDEO] [--regions] [--prompt=TEXT]
 *
 * vtpattach, on the video branch, puts on each frame the description in
 * force at its time: a "vtp-description" meta (a GstCustomMeta) whose
 * structure has text, prompt, pts (of the frame described), duration,
 * tokens, latency-ms... Without VIDEO: 3 seconds of videotestsrc.
 * --regions: vtpregions marks the left and right halves of each frame as
 * regions of interest, vtpencoder roi=true describes each, and each ROI
 * meta of the described frame gets its region's description as a
 * "vtp-description" parameter. */
#include <stdio.h>
#include <string.h>
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>

static void
print_time (GstClockTime t)
{
  printf ("%u:%02u:%06.3f", (guint) (t / (3600 * GST_SECOND)), (guint) (t / (60 * GST_SECOND) % 60),
      (t % (60 * GST_SECOND)) / 1e9);
}

/* What one frame carries. */
static void
print_frame (GstBuffer *buf)
{
  GstCustomMeta *meta = gst_buffer_get_custom_meta (buf, "vtp-description");
  const GstStructure *d;
  guint64 described = GST_CLOCK_TIME_NONE;
  gpointer state = NULL;
  GstMeta *m;

  print_time (GST_BUFFER_PTS (buf));
  if (!meta) {
    printf ("  (no description yet)\n");
    return;
  }
  d = gst_custom_meta_get_structure (meta);
  gst_structure_get_uint64 (d, "pts", &described);
  printf (" %s of ", described == GST_BUFFER_PTS (buf) ? "*" : " ");
  print_time (described);
  printf (": \"%s\"\n", gst_structure_get_string (d, "text"));
  /* on the described frame, each region of interest holds its own description */
  while ((m = gst_buffer_iterate_meta_filtered (buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstVideoRegionOfInterestMeta *roi = (GstVideoRegionOfInterestMeta *) m;
    GstStructure *p = gst_video_region_of_interest_meta_get_param (roi, "vtp-description");
    if (p)
      printf ("    region %d (%s, %ux%u at %u,%u): \"%s\"\n", roi->id, g_quark_to_string (roi->roi_type), roi->w,
          roi->h, roi->x, roi->y, gst_structure_get_string (p, "text"));
  }
}

static GstFlowReturn
on_sample (GstAppSink *sink, gpointer user_data)
{
  GstSample *sample = gst_app_sink_pull_sample (sink);

  print_frame (gst_sample_get_buffer (sample));
  fflush (stdout);
  gst_sample_unref (sample);
  return GST_FLOW_OK;
}

int
main (int argc, char **argv)
{
  const char *model = NULL, *video = NULL, *prompt = NULL;
  gboolean regions = FALSE;
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = NULL;
  GstElement *pipe, *sink;
  GstAppSinkCallbacks callbacks = { .new_sample = on_sample };
  GstMessage *msg;
  int status = 0;

  gst_init (&argc, &argv);
  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--regions"))
      regions = TRUE;
    else if (g_str_has_prefix (argv[i], "--prompt="))
      prompt = argv[i] + strlen ("--prompt=");
    else if (!model)
      model = argv[i];
    else
      video = argv[i];
  }
  if (!model) {
    fprintf (stderr, "usage: %s MODEL [VIDEO] [--regions] [--prompt=TEXT]\n", argv[0]);
    return 2;
  }
  desc = g_strdup_printf ("%s ! video/x-raw,format=RGB%s ! tee name=t "
      "t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! vtpattach name=a ! "
      "appsink name=frames sync=false "
      "t. ! vtpencoder name=encoder frame-interval=10 ! vtpprojector name=projector ! "
      "vtpllm name=llm timestamps=frame max-new-tokens=24 ! a.text_sink",
      video ? "filesrc name=file ! decodebin ! videoconvert" : "videotestsrc num-buffers=30 pattern=ball ! "
      "video/x-raw,width=320,height=240,framerate=10/1 ! videoconvert",
      regions ? " ! vtpregions regions=\"0,0,160,240:left;160,0,160,240:right\"" : "");
  pipe = gst_parse_launch (desc, &error);
  if (!pipe) {
    fprintf (stderr, "%s\n", error->message);
    return 1;
  }
  /* user values go in as properties, never pasted into the description */
  if (video) {
    GstElement *file = gst_bin_get_by_name (GST_BIN (pipe), "file");
    g_object_set (file, "location", video, NULL);
    gst_object_unref (file);
  }
  for (const char *const *name = (const char *const[]) { "encoder", "projector", "llm", NULL }; *name; name++) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipe), *name);
    g_object_set (e, "model", model, NULL);
    gst_object_unref (e);
  }
  {
    GstElement *enc = gst_bin_get_by_name (GST_BIN (pipe), "encoder"), *llm = gst_bin_get_by_name (GST_BIN (pipe),
        "llm");
    g_object_set (enc, "roi", regions, NULL);
    if (prompt)
      g_object_set (llm, "prompt", prompt, NULL);
    gst_object_unref (enc);
    gst_object_unref (llm);
  }

  /* each frame as it comes (the streaming thread calls) */
  sink = gst_bin_get_by_name (GST_BIN (pipe), "frames");
  gst_app_sink_set_callbacks (GST_APP_SINK (sink), &callbacks, NULL, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  msg = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), GST_CLOCK_TIME_NONE, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    fprintf (stderr, "%s\n", err->message);
    status = 1;
  }
  gst_message_unref (msg);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return status;
}
