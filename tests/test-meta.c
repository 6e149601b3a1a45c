/* test-meta.c: results on the frames (issue 15, items 4 and 5).
 *
 * The "vtp-description" meta (a GstCustomMeta) survives copies, scaling and
 * conversion; vtpattach matches text to frames as textoverlay does (frame
 * time exact, gaps, foreign text, waiting, the described frame only) and
 * puts region descriptions back onto their ROI metas; whole pipelines on
 * the tiny LLaVA fixture give every frame the description of the last
 * described frame before it, equal to the vtp-text messages; vtpencoder
 * roi=true describes each region of interest exactly as the same pixels
 * cropped and described as a picture of their own (with a region's own
 * prompt), clips regions partly outside the frame, skips empty ones with a
 * warning, and roi=false ignores them. */
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include "test-gst-util.h"
#include "vtp-jpeg.h"

#define W 96
#define H 64

/* ---- the meta itself ---- */

static GstBuffer *
buffer_with_description (const char *text, GstClockTime pts)
{
  GstBuffer *buf = gst_buffer_new ();
  GstCustomMeta *m = gst_buffer_add_custom_meta (buf, "vtp-description");
  g_assert_nonnull (m);
  gst_structure_set (gst_custom_meta_get_structure (m), "text", G_TYPE_STRING, text, "pts", G_TYPE_UINT64, pts,
      NULL);
  return buf;
}

static const GstStructure *
description_of (GstBuffer *buf)
{
  GstCustomMeta *m = gst_buffer_get_custom_meta (buf, "vtp-description");
  return m ? gst_custom_meta_get_structure (m) : NULL;
}

/* Registered by the plugin, read with GStreamer's API only; copies,
 * videoconvert and videoscale keep it. */
static void
test_custom_meta (void)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe, *src, *sink;
  GstBuffer *buf, *copy;
  GstSample *sample;
  const GstStructure *s;
  guint8 *px;

  /* loading an element of the plugin registers the meta */
  gst_object_unref (gst_object_ref_sink (gst_element_factory_make ("vtpattach", NULL)));
  g_assert_nonnull (gst_meta_get_info ("vtp-description"));
  g_assert_true (gst_meta_info_is_custom (gst_meta_get_info ("vtp-description")));

  buf = buffer_with_description ("a red square", 0);
  copy = gst_buffer_copy (buf);
  g_assert_cmpstr (gst_structure_get_string (description_of (copy), "text"), ==, "a red square");
  g_assert_cmpstr (gst_structure_get_name (description_of (copy)), ==, "vtp-description");
  gst_buffer_unref (copy);
  gst_buffer_unref (buf);

  pipe = gst_parse_launch ("appsrc name=src caps=video/x-raw,format=RGB,width=96,height=64,framerate=10/1 "
      "format=time ! videoconvert ! videoscale ! video/x-raw,format=I420,width=48,height=32 ! "
      "appsink name=sink sync=false", &error);
  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  px = g_malloc0 (W * H * 3);
  buf = gst_buffer_new_wrapped (px, W * H * 3);
  s = description_of (buf);
  g_assert_null (s);
  gst_buffer_add_custom_meta (buf, "vtp-description");
  gst_structure_set (gst_custom_meta_get_structure (gst_buffer_get_custom_meta (buf, "vtp-description")),
      "text", G_TYPE_STRING, "a black frame", NULL);
  GST_BUFFER_PTS (buf) = 0;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
  g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (src), buf), ==, GST_FLOW_OK);
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  s = description_of (gst_sample_get_buffer (sample));
  g_assert_nonnull (s);
  g_assert_cmpstr (gst_structure_get_string (s, "text"), ==, "a black frame");
  gst_sample_unref (sample);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

/* ---- vtpattach on its own, text and frames pushed by hand ---- */

static GstBuffer *
frame_at (GstClockTime pts, GstClockTime dur)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, 16, NULL);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  return buf;
}

static GstBuffer *
text_at (const char *text, GstClockTime pts, GstClockTime dur, gboolean meta, GstClockTime described)
{
  GstBuffer *buf = gst_buffer_new_memdup (text, strlen (text));
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = dur;
  if (meta) {
    GstCustomMeta *m = gst_buffer_add_custom_meta (buf, "vtp-description");
    gst_structure_set (gst_custom_meta_get_structure (m), "text", G_TYPE_STRING, text, "pts", G_TYPE_UINT64,
        described, NULL);
  }
  return buf;
}

/* The description's text on the next frame out of @h, NULL when it has none. */
static char *
next_frame_text (GstHarness *h, GstClockTime *described)
{
  GstBuffer *out = gst_harness_pull (h);
  const GstStructure *s;
  char *text = NULL;

  g_assert_nonnull (out);
  if ((s = description_of (out))) {
    text = g_strdup (gst_structure_get_string (s, "text"));
    if (described)
      g_assert_true (gst_structure_get_uint64 (s, "pts", described));
  }
  gst_buffer_unref (out);
  return text;
}

typedef struct {
  GstHarness *h;
  GstBuffer *buf;
} PushJob;

static gpointer
push_thread (gpointer data)
{
  PushJob *job = data;
  return GINT_TO_POINTER (gst_harness_push (job->h, job->buf));
}

#define S GST_SECOND

static void
test_attach_timing (void)
{
  GstElement *e = gst_element_factory_make ("vtpattach", NULL);
  GstHarness *video = gst_harness_new_with_element (e, "video_sink", "src");
  GstHarness *text = gst_harness_new_with_element (e, "text_sink", NULL);
  GstClockTime described;
  char *t;

  gst_harness_set_src_caps_str (video, "video/x-raw,format=RGB,width=4,height=4,framerate=2/1");
  gst_harness_set_src_caps_str (text, "text/x-raw,format=utf8");

  /* a description of the frame at 1 s, shown until 3 s (frame time) */
  g_assert_cmpint (gst_harness_push (text, text_at ("one", 1 * S, 2 * S, TRUE, 1 * S)), ==, GST_FLOW_OK);
  /* before it: nothing (it starts later, no waiting) */
  g_assert_cmpint (gst_harness_push (video, frame_at (S / 2, S / 2)), ==, GST_FLOW_OK);
  g_assert_null (next_frame_text (video, NULL));
  /* the described frame and the one after it */
  gst_harness_push (video, frame_at (1 * S, S / 2));
  t = next_frame_text (video, &described);
  g_assert_cmpstr (t, ==, "one");
  g_assert_cmpuint (described, ==, 1 * S);
  g_free (t);
  gst_harness_push (video, frame_at (2 * S, S / 2));
  t = next_frame_text (video, &described);
  g_assert_cmpstr (t, ==, "one");
  g_assert_cmpuint (described, ==, 1 * S);
  g_free (t);
  /* attach=described: only the frame the description is of */
  g_object_set (e, "attach", 1, NULL);
  gst_harness_push (video, frame_at (2 * S + S / 2, S / 4));
  g_assert_null (next_frame_text (video, NULL));
  g_object_set (e, "attach", 0, NULL);

  /* a gap: no text from 3 s to 4 s; the frame at 3 s does not wait */
  g_assert_true (gst_harness_push_event (text, gst_event_new_gap (3 * S, 1 * S)));
  gst_harness_push (video, frame_at (3 * S, S / 2));
  g_assert_null (next_frame_text (video, NULL));

  /* text from another element, without the meta: its text and times */
  gst_harness_push (text, text_at ("plain", 4 * S, 1 * S, FALSE, 0));
  gst_harness_push (video, frame_at (4 * S, S / 2));
  t = next_frame_text (video, &described);
  g_assert_cmpstr (t, ==, "plain");
  g_assert_cmpuint (described, ==, 4 * S);
  g_free (t);

  /* a partial text with no finished description behind it counts as a gap */
  gst_harness_push (video, frame_at (4 * S + S / 2, S / 2));
  g_free (next_frame_text (video, NULL));
  {
    GstBuffer *partial = text_at ("pa", 5 * S, 1 * S, FALSE, 0);
    GST_BUFFER_FLAG_SET (partial, GST_BUFFER_FLAG_DELTA_UNIT);
    gst_harness_push (text, partial);
  }
  gst_harness_push (video, frame_at (5 * S, S / 2));
  g_assert_null (next_frame_text (video, NULL));

  /* wait-text: a frame waits for the text of its time */
  {
    PushJob job = { video, frame_at (10 * S, S / 2) };
    GThread *thread = g_thread_new ("video", push_thread, &job);
    g_usleep (200000);
    g_assert_cmpuint (gst_harness_buffers_in_queue (video), ==, 0);
    gst_harness_push (text, text_at ("ten", 10 * S, 1 * S, TRUE, 10 * S));
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (thread)), ==, GST_FLOW_OK);
    t = next_frame_text (video, NULL);
    g_assert_cmpstr (t, ==, "ten");
    g_free (t);
  }
  /* wait-text=false: never */
  g_object_set (e, "wait-text", FALSE, NULL);
  gst_harness_push (video, frame_at (12 * S, S / 2));
  g_assert_null (next_frame_text (video, NULL));
  g_object_set (e, "wait-text", TRUE, NULL);
  /* nor after the text's EOS */
  g_assert_true (gst_harness_push_event (text, gst_event_new_eos ()));
  gst_harness_push (video, frame_at (13 * S, S / 2));
  g_assert_null (next_frame_text (video, NULL));

  gst_harness_teardown (text);
  gst_harness_teardown (video);
  gst_object_unref (e);
}

/* A frame waiting for its text, and a text waiting for the video, leave
 * when the element stops. */
static void
test_attach_stop (void)
{
  for (guint which = 0; which < 2; which++) {
    GstElement *e = gst_element_factory_make ("vtpattach", NULL);
    GstHarness *video = gst_harness_new_with_element (e, "video_sink", "src");
    GstHarness *text = gst_harness_new_with_element (e, "text_sink", NULL);
    PushJob job;
    GThread *thread;

    gst_harness_set_src_caps_str (video, "video/x-raw,format=RGB,width=4,height=4,framerate=2/1");
    gst_harness_set_src_caps_str (text, "text/x-raw,format=utf8");
    if (which == 0)
      job = (PushJob) { video, frame_at (1 * S, S / 2) };       /* waits: no text yet */
    else {
      gst_harness_push (text, text_at ("one", 1 * S, 1 * S, TRUE, 1 * S));
      job = (PushJob) { text, text_at ("two", 2 * S, 1 * S, TRUE, 2 * S) };     /* waits: "one" not shown yet */
    }
    thread = g_thread_new ("push", push_thread, &job);
    g_usleep (100000);
    gst_element_set_state (e, GST_STATE_NULL);
    g_assert_cmpint (GPOINTER_TO_INT (g_thread_join (thread)), ==, GST_FLOW_FLUSHING);
    gst_harness_teardown (text);
    gst_harness_teardown (video);
    gst_object_unref (e);
  }
}

/* Appends a region's description to @regions (a GstValueArray). */
static void
add_region (GValue *regions, guint index, gint id, const char *type, const char *text)
{
  GstStructure *s = gst_structure_new ("vtp-description", "text", G_TYPE_STRING, text, "roi-index", G_TYPE_UINT,
      index, "roi-id", G_TYPE_INT, id, "roi-type", G_TYPE_STRING, type, NULL);
  GValue v = G_VALUE_INIT;

  g_value_init (&v, GST_TYPE_STRUCTURE);
  gst_value_set_structure (&v, s);
  gst_structure_free (s);
  gst_value_array_append_and_take_value (regions, &v);
}

/* The regions of a description go onto the described frame's ROI metas:
 * the roi-index-th, when id and type agree. */
static void
test_attach_regions (void)
{
  GstElement *e = gst_element_factory_make ("vtpattach", NULL);
  GstHarness *video = gst_harness_new_with_element (e, "video_sink", "src");
  GstHarness *text = gst_harness_new_with_element (e, "text_sink", NULL);
  GstBuffer *buf = text_at ("door: open\nwindow: shut", 1 * S, 1 * S, TRUE, 1 * S), *frame, *out;
  GstStructure *s = (GstStructure *) description_of (buf);
  GValue regions = G_VALUE_INIT;
  GstVideoRegionOfInterestMeta *rois[3];
  const char *const names[] = { "door", "window", "car" };

  gst_harness_set_src_caps_str (video, "video/x-raw,format=RGB,width=4,height=4,framerate=2/1");
  gst_harness_set_src_caps_str (text, "text/x-raw,format=utf8");
  gst_value_array_init (&regions, 3);
  add_region (&regions, 0, 7, "door", "open");
  add_region (&regions, 1, 8, "window", "shut");
  /* not this frame's third region (another id): left alone */
  add_region (&regions, 2, 99, "car", "blue");
  gst_structure_take_value (s, "regions", &regions);
  gst_harness_push (text, buf);

  frame = frame_at (1 * S, S / 2);
  for (guint i = 0; i < 3; i++) {
    rois[i] = gst_buffer_add_video_region_of_interest_meta (frame, names[i], i, i, 2, 2);
    rois[i]->id = 7 + i;
  }
  gst_harness_push (video, frame);
  out = gst_harness_pull (video);
  {
    gpointer state = NULL;
    GstMeta *m;
    guint i = 0;
    while ((m = gst_buffer_iterate_meta_filtered (out, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
      GstStructure *p = gst_video_region_of_interest_meta_get_param ((GstVideoRegionOfInterestMeta *) m,
          "vtp-description");
      if (i < 2) {
        g_assert_nonnull (p);
        g_assert_cmpstr (gst_structure_get_string (p, "text"), ==, i == 0 ? "open" : "shut");
      } else
        g_assert_null (p);
      i++;
    }
    g_assert_cmpuint (i, ==, 3);
  }
  /* the next frame (not the described one) gets the description, not the regions */
  gst_buffer_unref (out);
  frame = frame_at (1 * S + S / 2, S / 2);
  gst_buffer_add_video_region_of_interest_meta (frame, "door", 0, 0, 2, 2)->id = 7;
  gst_harness_push (video, frame);
  out = gst_harness_pull (video);
  g_assert_nonnull (description_of (out));
  g_assert_null (gst_video_region_of_interest_meta_get_param (gst_buffer_get_video_region_of_interest_meta_id (out,
              7), "vtp-description"));
  gst_buffer_unref (out);

  gst_harness_teardown (text);
  gst_harness_teardown (video);
  gst_object_unref (e);
}

/* ---- whole pipelines on the tiny LLaVA fixture ---- */

typedef struct {
  gint x, y, w, h;
  const char *type;
  gint id;
  const char *prompt;           /* "vtp-prompt" parameter, or NULL */
} Roi;

typedef struct {
  gboolean qformer;             /* set before starting: InstructBLIP's fixture and bridge, the prompt on the bridge */
  GstElement *pipe, *src, *enc, *llm, *attach, *sink;
  GPtrArray *frames;            /* GstBuffer: the video frames out of vtpattach */
  GPtrArray *texts;             /* GstStructure: the vtp-text messages */
  GPtrArray *warnings;          /* char *: warning messages */
} Run;

/* appsrc (RGB W x H) ! tee; the video through vtpattach to an appsink, the
 * model in frame time to vtpattach's text pad. */
static void
run_start_regions (Run *r, gboolean roi, const char *prompt, guint frame_interval, gint w, gint h,
    const char *regions)
{
  g_autofree char *model = fixture_path (r->qformer ? "instructblip-tiny" : "llava-tiny-a");
  /* w 0: JPEG frames */
  g_autofree char *caps = w ? g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,framerate=10/1", w, h)
      : g_strdup ("image/jpeg,framerate=10/1");
  g_autoptr (GError) error = NULL;
  GstElement *proj;

  g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time ! vtpregions name=regions ! tee name=t "
      "t. ! queue max-size-buffers=0 max-size-bytes=0 max-size-time=0 ! vtpattach name=a ! appsink name=sink "
      "sync=false wait-on-eos=false t. ! vtpencoder name=enc ! %s name=proj ! vtpllm name=llm ! a.text_sink",
      r->qformer ? "vtpqformer" : "vtpprojector");

  r->pipe = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  r->src = gst_bin_get_by_name (GST_BIN (r->pipe), "src");
  r->enc = gst_bin_get_by_name (GST_BIN (r->pipe), "enc");
  r->llm = gst_bin_get_by_name (GST_BIN (r->pipe), "llm");
  r->attach = gst_bin_get_by_name (GST_BIN (r->pipe), "a");
  r->sink = gst_bin_get_by_name (GST_BIN (r->pipe), "sink");
  proj = gst_bin_get_by_name (GST_BIN (r->pipe), "proj");
  if (regions) {
    GstElement *e = gst_bin_get_by_name (GST_BIN (r->pipe), "regions");
    g_object_set (e, "regions", regions, NULL);
    gst_object_unref (e);
  }
  g_object_set (r->src, "caps", gst_caps_from_string (caps), NULL);
  g_object_set (r->enc, "model", model, "roi", roi, "frame-interval", frame_interval, NULL);
  g_object_set (proj, "model", model, NULL);
  g_object_set (r->llm, "model", model, "max-new-tokens", 8, "timestamps", 1 /* frame */, NULL);
  if (prompt)
    g_object_set (r->qformer ? proj : r->llm, "prompt", prompt, NULL);
  gst_object_unref (proj);
  r->frames = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_buffer_unref);
  r->texts = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  r->warnings = g_ptr_array_new_with_free_func (g_free);
  g_assert_cmpint (gst_element_set_state (r->pipe, GST_STATE_PLAYING), !=, GST_STATE_CHANGE_FAILURE);
}

static void
run_start (Run *r, gboolean roi, const char *prompt, guint frame_interval, gint w, gint h)
{
  run_start_regions (r, roi, prompt, frame_interval, w, h, NULL);
}

/* A frame of @size bytes (RGB, or JPEG) with these regions of interest. */
static void
run_push_bytes (Run *r, const guint8 *data, gsize size, GstClockTime pts, const Roi *rois, guint n_rois)
{
  GstBuffer *buf = gst_buffer_new_memdup (data, size);

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
  for (guint i = 0; i < n_rois; i++) {
    GstVideoRegionOfInterestMeta *m = gst_buffer_add_video_region_of_interest_meta (buf, rois[i].type, rois[i].x,
        rois[i].y, rois[i].w, rois[i].h);
    m->id = rois[i].id;
    if (rois[i].prompt)
      gst_video_region_of_interest_meta_add_param (m, gst_structure_new ("vtp-prompt", "prompt", G_TYPE_STRING,
              rois[i].prompt, NULL));
  }
  g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (r->src), buf), ==, GST_FLOW_OK);
}

static void
run_push (Run *r, const guint8 *rgb, gint w, gint h, GstClockTime pts, const Roi *rois, guint n_rois)
{
  run_push_bytes (r, rgb, (gsize) w * h * 3, pts, rois, n_rois);
}

/* EOS, then everything that came out. */
static void
run_finish (Run *r)
{
  GstBus *bus = gst_element_get_bus (r->pipe);
  GstSample *sample;
  gboolean eos = FALSE;

  gst_app_src_end_of_stream (GST_APP_SRC (r->src));
  while (!eos) {
    GstMessage *m = gst_bus_timed_pop_filtered (bus, 120 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR
        | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
    g_assert_nonnull (m);
    switch (GST_MESSAGE_TYPE (m)) {
      case GST_MESSAGE_ERROR: {
        g_autoptr (GError) err = NULL;
        gst_message_parse_error (m, &err, NULL);
        g_error ("pipeline error: %s", err->message);
        break;
      }
      case GST_MESSAGE_WARNING: {
        GError *err = NULL;
        gst_message_parse_warning (m, &err, NULL);
        g_test_message ("warning: %s", err->message);
        g_ptr_array_add (r->warnings, g_strdup (err->message));
        g_error_free (err);
        break;
      }
      case GST_MESSAGE_ELEMENT:
        if (gst_message_has_name (m, "vtp-text")) {
          g_autofree char *str = gst_structure_to_string (gst_message_get_structure (m));
          g_test_message ("%s", str);
          g_ptr_array_add (r->texts, gst_structure_copy (gst_message_get_structure (m)));
        }
        break;
      default:
        eos = TRUE;
        break;
    }
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (r->sink), 0))) {
    g_ptr_array_add (r->frames, gst_buffer_ref (gst_sample_get_buffer (sample)));
    gst_sample_unref (sample);
  }
}

static void
run_clear (Run *r)
{
  gst_element_set_state (r->pipe, GST_STATE_NULL);
  gst_object_unref (r->src);
  gst_object_unref (r->enc);
  gst_object_unref (r->llm);
  gst_object_unref (r->attach);
  gst_object_unref (r->sink);
  gst_object_unref (r->pipe);
  g_ptr_array_unref (r->frames);
  g_ptr_array_unref (r->texts);
  g_ptr_array_unref (r->warnings);
}

/* Two halves that look nothing alike. */
static guint8 *
test_frame (void)
{
  guint8 *rgb = g_malloc (W * H * 3);
  for (gint y = 0; y < H; y++)
    for (gint x = 0; x < W; x++) {
      guint8 *p = rgb + (y * W + x) * 3;
      if (x < W / 2) {
        p[0] = (guint8) (x * 5);
        p[1] = (guint8) (y * 4);
        p[2] = 200;
      } else {
        const gboolean on = ((x / 6) + (y / 6)) % 2;
        p[0] = on ? 250 : 10;
        p[1] = on ? 220 : 30;
        p[2] = (guint8) (y * 3);
      }
    }
  return rgb;
}

static guint8 *
crop (const guint8 *rgb, gint x, gint y, gint w, gint h)
{
  guint8 *out = g_malloc ((gsize) w * h * 3);
  for (gint r = 0; r < h; r++)
    memcpy (out + (gsize) r * w * 3, rgb + ((gsize) (y + r) * W + x) * 3, (gsize) w * 3);
  return out;
}

/* What the pipeline says of a picture on its own. */
static char *
describe_picture_with (gboolean qformer, const guint8 *rgb, gint w, gint h, const char *prompt)
{
  Run r = { qformer };
  char *text;

  run_start (&r, FALSE, prompt, 1, w, h);
  run_push (&r, rgb, w, h, 0, NULL, 0);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 1);
  text = g_strdup (gst_structure_get_string (g_ptr_array_index (r.texts, 0), "text"));
  run_clear (&r);
  return text;
}

static char *
describe_picture (const guint8 *rgb, gint w, gint h, const char *prompt)
{
  return describe_picture_with (FALSE, rgb, w, h, prompt);
}

static GstStructure *
roi_param (GstBuffer *frame, guint index)
{
  gpointer state = NULL;
  GstMeta *m;
  guint i = 0;

  while ((m = gst_buffer_iterate_meta_filtered (frame, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    if (i++ == index)
      return gst_video_region_of_interest_meta_get_param ((GstVideoRegionOfInterestMeta *) m, "vtp-description");
  g_assert_not_reached ();
  return NULL;
}

/* Every frame carries the description of the last described frame before
 * it (frame time), the same as the vtp-text message; the text buffers too. */
static void
test_frames (void)
{
  g_autofree guint8 *rgb = test_frame ();
  Run r = { 0 };

  run_start (&r, FALSE, NULL, 2, W, H);
  for (guint i = 0; i < 6; i++) {
    rgb[i] ^= 0xff;             /* frames differ */
    run_push (&r, rgb, W, H, i * GST_SECOND / 10, NULL, 0);
  }
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 3);
  g_assert_cmpuint (r.frames->len, ==, 6);
  for (guint i = 0; i < 6; i++) {
    GstBuffer *f = g_ptr_array_index (r.frames, i);
    const GstStructure *d = description_of (f), *msg = g_ptr_array_index (r.texts, i / 2);
    guint64 pts;
    g_assert_nonnull (d);
    g_assert_true (gst_structure_get_uint64 (d, "pts", &pts));
    g_assert_cmpuint (pts, ==, (i / 2) * 2 * GST_SECOND / 10);
    g_assert_cmpstr (gst_structure_get_string (d, "text"), ==, gst_structure_get_string (msg, "text"));
    g_assert_cmpstr (gst_structure_get_string (d, "prompt"), ==, "What is in the picture?");
    g_assert_true (gst_structure_has_field (d, "latency-ms") && gst_structure_has_field (d, "tokens"));
  }
  run_clear (&r);

  /* attach=described */
  run_start (&r, FALSE, NULL, 2, W, H);
  g_object_set (r.attach, "attach", 1, NULL);
  for (guint i = 0; i < 4; i++)
    run_push (&r, rgb, W, H, i * GST_SECOND / 10, NULL, 0);
  run_finish (&r);
  g_assert_cmpuint (r.frames->len, ==, 4);
  for (guint i = 0; i < 4; i++)
    g_assert_true ((description_of (g_ptr_array_index (r.frames, i)) != NULL) == (i % 2 == 0));
  run_clear (&r);
}

/* vtpllm's own text buffers carry the description, in frame and output
 * time (and the repeats of output time too). */
static void
test_text_buffers (void)
{
  g_autofree char *model = fixture_path ("llava-tiny-a");
  g_autofree guint8 *rgb = test_frame ();

  for (gint mode = 1; mode <= 2; mode++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *desc = g_strdup_printf ("appsrc name=src format=time caps=video/x-raw,format=RGB,width=%d,"
        "height=%d,framerate=10/1 ! vtpencoder model=%s ! vtpprojector model=%s ! vtpllm model=%s "
        "max-new-tokens=6 timestamps=%d ! appsink name=sink sync=false", W, H, model, model, model, mode);
    GstElement *pipe = gst_parse_launch (desc, &error), *src, *sink;
    GstSample *sample;
    guint n = 0;

    g_assert_no_error (error);
    src = gst_bin_get_by_name (GST_BIN (pipe), "src");
    sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
    gst_element_set_state (pipe, GST_STATE_PLAYING);
    for (guint i = 0; i < 3; i++) {
      GstBuffer *buf = gst_buffer_new_memdup (rgb, W * H * 3);
      GST_BUFFER_PTS (buf) = i * GST_SECOND / 10;
      GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
      gst_app_src_push_buffer (GST_APP_SRC (src), buf);
    }
    gst_app_src_end_of_stream (GST_APP_SRC (src));
    while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
      GstBuffer *buf = gst_sample_get_buffer (sample);
      const GstStructure *d = description_of (buf);
      GstMapInfo map;
      g_assert_nonnull (d);
      g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
      g_assert_cmpmem (map.data, map.size, gst_structure_get_string (d, "text"),
          strlen (gst_structure_get_string (d, "text")));
      gst_buffer_unmap (buf, &map);
      if (mode == 1) {
        guint64 pts;
        g_assert_true (gst_structure_get_uint64 (d, "pts", &pts));
        g_assert_cmpuint (pts, ==, GST_BUFFER_PTS (buf));
      }
      gst_sample_unref (sample);
      n++;
    }
    g_assert_cmpuint (n, >=, mode == 1 ? 3 : 1);
    gst_element_set_state (pipe, GST_STATE_NULL);
    gst_object_unref (src);
    gst_object_unref (sink);
    gst_object_unref (pipe);
  }
}

/* Live (output time): a frame carries the newest description when it
 * passes, never one of a later frame. */
static void
test_live (void)
{
  g_autofree char *model = fixture_path ("llava-tiny-a");
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = g_strdup_printf ("videotestsrc is-live=true num-buffers=15 pattern=ball ! "
      "video/x-raw,format=RGB,width=64,height=48,framerate=10/1 ! tee name=t "
      "t. ! queue ! vtpattach name=a ! appsink name=sink "
      "t. ! vtpencoder model=%s ! vtpprojector model=%s ! vtpllm model=%s max-new-tokens=6 ! a.text_sink",
      model, model, model);
  GstElement *pipe = gst_parse_launch (desc, &error), *sink;
  GstSample *sample;
  guint with = 0, n = 0;

  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    GstBuffer *buf = gst_sample_get_buffer (sample);
    const GstStructure *d = description_of (buf);
    guint64 pts;
    n++;
    if (d) {
      with++;
      g_assert_true (gst_structure_get_uint64 (d, "pts", &pts));
      g_assert_cmpuint (pts, <=, GST_BUFFER_PTS (buf));
      g_assert_nonnull (gst_structure_get_string (d, "text"));
    }
    gst_sample_unref (sample);
  }
  g_test_message ("%u of %u live frames carry a description", with, n);
  g_assert_cmpuint (n, ==, 15);
  g_assert_cmpuint (with, >, 0);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

/* Two regions: two descriptions, each the one of its region's pixels
 * described on their own (with the region's own prompt for the second),
 * back on the right ROI meta. */
static void
test_roi_two (void)
{
  g_autofree guint8 *rgb = test_frame ();
  g_autofree guint8 *left = crop (rgb, 0, 0, W / 2, H), *right = crop (rgb, W / 2, 0, W / 2, H);
  g_autofree char *want0 = describe_picture (left, W / 2, H, NULL);
  g_autofree char *want1 = describe_picture (right, W / 2, H, "Describe the picture.");
  g_autofree char *joined = g_strdup_printf ("left: %s\nright: %s", want0, want1);
  const Roi rois[] = {
    { 0, 0, W / 2, H, "left", 11, NULL },
    { W / 2, 0, W / 2, H, "right", 12, "Describe the picture." },
  };
  Run r = { 0 };
  GstBuffer *frame;
  const GstStructure *d;
  guint64 n;

  g_test_message ("left: \"%s\", right: \"%s\"", want0, want1);
  g_assert_cmpstr (want0, !=, want1);   /* else the test could not tell them apart */
  run_start (&r, TRUE, NULL, 1, W, H);
  run_push (&r, rgb, W, H, 0, rois, 2);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 2);
  for (guint i = 0; i < 2; i++) {
    const GstStructure *msg = g_ptr_array_index (r.texts, i);
    guint index, x, width;
    gint id;
    g_assert_true (gst_structure_get_uint (msg, "roi-index", &index) && gst_structure_get_int (msg, "roi-id", &id)
        && gst_structure_get_uint (msg, "x", &x) && gst_structure_get_uint (msg, "width", &width));
    g_assert_cmpuint (index, ==, i);
    g_assert_cmpint (id, ==, rois[i].id);
    g_assert_cmpstr (gst_structure_get_string (msg, "roi-type"), ==, rois[i].type);
    g_assert_cmpuint (x, ==, (guint) rois[i].x);
    g_assert_cmpuint (width, ==, (guint) rois[i].w);
    g_assert_cmpstr (gst_structure_get_string (msg, "text"), ==, i == 0 ? want0 : want1);
    g_assert_cmpstr (gst_structure_get_string (msg, "prompt"), ==, i == 0 ? "What is in the picture?"
        : "Describe the picture.");
  }
  g_assert_cmpuint (r.frames->len, ==, 1);
  frame = g_ptr_array_index (r.frames, 0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 0), "text"), ==, want0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 1), "text"), ==, want1);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 1), "prompt"), ==, "Describe the picture.");
  d = description_of (frame);
  g_assert_nonnull (d);
  g_assert_cmpstr (gst_structure_get_string (d, "text"), ==, joined);
  g_assert_cmpuint (gst_value_array_get_size (gst_structure_get_value (d, "regions")), ==, 2);
  g_object_get (r.enc, "regions-described", &n, NULL);
  g_assert_cmpuint (n, ==, 2);
  run_clear (&r);

  /* the same regions from vtpregions (what gst-launch users write) */
  run_start_regions (&r, TRUE, NULL, 1, W, H, "0,0,48,64:left; 48,0,48,64:right:Describe the picture.");
  run_push (&r, rgb, W, H, 0, NULL, 0);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 2);
  frame = g_ptr_array_index (r.frames, 0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 0), "text"), ==, want0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 1), "text"), ==, want1);
  g_assert_cmpstr (gst_structure_get_string (description_of (frame), "text"), ==, joined);
  run_clear (&r);
}

/* With InstructBLIP's Q-Former, whose queries read the prompt: a region's
 * own prompt replaces vtpqformer's for the queries and the LLM alike. */
static void
test_roi_qformer (void)
{
  g_autofree guint8 *rgb = test_frame ();
  g_autofree guint8 *left = crop (rgb, 0, 0, W / 2, H), *right = crop (rgb, W / 2, 0, W / 2, H);
  g_autofree char *want0 = describe_picture_with (TRUE, left, W / 2, H, "What is unusual about this image?");
  g_autofree char *want1 = describe_picture_with (TRUE, right, W / 2, H, "Describe the picture.");
  const Roi rois[] = {
    { 0, 0, W / 2, H, "left", 1, NULL }, { W / 2, 0, W / 2, H, "right", 2, "Describe the picture." },
  };
  Run r = { TRUE };

  run_start (&r, TRUE, "What is unusual about this image?", 1, W, H);
  run_push (&r, rgb, W, H, 0, rois, 2);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 2);
  g_assert_cmpstr (gst_structure_get_string (g_ptr_array_index (r.texts, 0), "text"), ==, want0);
  g_assert_cmpstr (gst_structure_get_string (g_ptr_array_index (r.texts, 1), "text"), ==, want1);
  g_assert_cmpstr (gst_structure_get_string (g_ptr_array_index (r.texts, 1), "prompt"), ==, "Describe the picture.");
  run_clear (&r);
}

/* roi=false: the whole frame, whatever regions it has. */
static void
test_roi_off (void)
{
  g_autofree guint8 *rgb = test_frame ();
  g_autofree char *want = describe_picture (rgb, W, H, NULL);
  const Roi rois[] = { { 0, 0, W / 2, H, "left", 1, NULL }, { W / 2, 0, W / 2, H, "right", 2, NULL } };
  Run r = { 0 };
  GstBuffer *frame;

  run_start (&r, FALSE, NULL, 1, W, H);
  run_push (&r, rgb, W, H, 0, rois, 2);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 1);
  g_assert_cmpstr (gst_structure_get_string (g_ptr_array_index (r.texts, 0), "text"), ==, want);
  g_assert_false (gst_structure_has_field (g_ptr_array_index (r.texts, 0), "roi-index"));
  frame = g_ptr_array_index (r.frames, 0);
  g_assert_null (roi_param (frame, 0));
  g_assert_null (roi_param (frame, 1));
  g_assert_cmpstr (gst_structure_get_string (description_of (frame), "text"), ==, want);
  run_clear (&r);
}

/* A region partly outside the frame is described as its part inside. */
static void
test_roi_clipped (void)
{
  g_autofree guint8 *rgb = test_frame ();
  g_autofree guint8 *inside = crop (rgb, 60, 30, W - 60, H - 30);
  g_autofree char *want = describe_picture (inside, W - 60, H - 30, NULL);
  const Roi rois[] = { { 60, 30, 50, 50, "edge", 3, NULL } };
  const GstStructure *msg;
  guint x, y, w, h;
  Run r = { 0 };

  run_start (&r, TRUE, NULL, 1, W, H);
  run_push (&r, rgb, W, H, 0, rois, 1);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 1);
  msg = g_ptr_array_index (r.texts, 0);
  g_assert_true (gst_structure_get (msg, "x", G_TYPE_UINT, &x, "y", G_TYPE_UINT, &y, "width", G_TYPE_UINT, &w,
          "height", G_TYPE_UINT, &h, NULL));
  g_assert_cmpuint (x, ==, 60);
  g_assert_cmpuint (y, ==, 30);
  g_assert_cmpuint (w, ==, W - 60);
  g_assert_cmpuint (h, ==, H - 30);
  g_assert_cmpstr (gst_structure_get_string (msg, "text"), ==, want);
  g_assert_cmpstr (gst_structure_get_string (roi_param (g_ptr_array_index (r.frames, 0), 0), "text"), ==, want);
  g_assert_cmpuint (r.warnings->len, ==, 0);
  run_clear (&r);
}

/* Empty regions, and regions wholly outside, are skipped with a warning
 * each; a frame left without regions is not described. */
static void
test_roi_empty (void)
{
  g_autofree guint8 *rgb = test_frame ();
  const Roi rois[] = {
    { 200, 10, 20, 20, "outside", 1, NULL }, { 10, 10, 0, 20, "flat", 2, NULL }, { 10, 10, 30, 30, "ok", 3, NULL },
  };
  const Roi only_empty[] = { { 5, 5, 20, 0, "flat", 4, NULL } };
  Run r = { 0 };
  GstBuffer *frame;
  guint index;
  guint64 skipped, described;

  run_start (&r, TRUE, NULL, 1, W, H);
  run_push (&r, rgb, W, H, 0, rois, 3);
  run_push (&r, rgb, W, H, GST_SECOND / 10, only_empty, 1);
  run_finish (&r);
  g_assert_cmpuint (r.warnings->len, ==, 3);
  g_assert_nonnull (strstr (g_ptr_array_index (r.warnings, 0), "Skipped region of interest 0 (outside, 20x20 at 200,10)"));
  g_assert_nonnull (strstr (g_ptr_array_index (r.warnings, 0), "it lies outside the 96x64 frame"));
  g_assert_nonnull (strstr (g_ptr_array_index (r.warnings, 1), "Skipped region of interest 1 (flat, 0x20 at 10,10)"));
  g_assert_nonnull (strstr (g_ptr_array_index (r.warnings, 1), "it is empty"));
  g_assert_nonnull (strstr (g_ptr_array_index (r.warnings, 2), "0:00:00.100000000"));
  g_assert_cmpuint (r.texts->len, ==, 1);
  g_assert_true (gst_structure_get_uint (g_ptr_array_index (r.texts, 0), "roi-index", &index));
  g_assert_cmpuint (index, ==, 2);
  frame = g_ptr_array_index (r.frames, 0);
  g_assert_null (roi_param (frame, 0));
  g_assert_null (roi_param (frame, 1));
  g_assert_nonnull (roi_param (frame, 2));
  /* the second frame shows the first one's description (frame time), without regions of its own */
  frame = g_ptr_array_index (r.frames, 1);
  g_assert_nonnull (description_of (frame));
  g_assert_null (roi_param (frame, 0));
  g_object_get (r.enc, "regions-skipped", &skipped, "regions-described", &described, NULL);
  g_assert_cmpuint (skipped, ==, 3);
  g_assert_cmpuint (described, ==, 1);
  run_clear (&r);
}

/* JPEG frames (MJPEG cameras): the regions are cut from the full-size
 * decode, whatever jpeg-scaling says. */
static void
test_roi_jpeg (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *rgb = test_frame (), *decoded = g_malloc (W * H * 3), *left = NULL, *right = NULL;
  g_autofree char *want0 = NULL, *want1 = NULL;
  GstElement *enc = gst_parse_launch ("appsrc name=src caps=video/x-raw,format=RGB,width=96,height=64,"
      "framerate=10/1 format=time ! videoconvert ! jpegenc quality=80 ! appsink name=sink", &error);
  GstElement *src = gst_bin_get_by_name (GST_BIN (enc), "src"), *sink = gst_bin_get_by_name (GST_BIN (enc), "sink");
  const Roi rois[] = { { 0, 0, W / 2, H, "left", 1, NULL }, { W / 2, 8, W / 2, H - 8, "right", 2, NULL } };
  GstSample *sample;
  GstMapInfo map;
  VtpJpegSize plan;
  Run r = { 0 };
  GstBuffer *frame;

  g_assert_no_error (error);
  gst_element_set_state (enc, GST_STATE_PLAYING);
  gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_memdup (rgb, W * H * 3));
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  g_assert_true (gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ));
  /* the reference: the same full-size decode, cropped and described as pictures */
  g_assert_true (vtp_jpeg_plan (map.data, map.size, NULL, FALSE, &plan, &error));
  g_assert_cmpint (plan.out_width, ==, W);
  g_assert_true (vtp_jpeg_decode (map.data, map.size, &plan, decoded, &error));
  left = crop (decoded, 0, 0, W / 2, H);
  right = crop (decoded, W / 2, 8, W / 2, H - 8);
  want0 = describe_picture (left, W / 2, H, NULL);
  want1 = describe_picture (right, W / 2, H - 8, NULL);

  run_start (&r, TRUE, NULL, 1, 0, 0);
  run_push_bytes (&r, map.data, map.size, 0, rois, 2);
  run_finish (&r);
  g_assert_cmpuint (r.texts->len, ==, 2);
  frame = g_ptr_array_index (r.frames, 0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 0), "text"), ==, want0);
  g_assert_cmpstr (gst_structure_get_string (roi_param (frame, 1), "text"), ==, want1);
  run_clear (&r);

  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_sample_unref (sample);
  gst_element_set_state (enc, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (enc);
}

/* vtpregions: what it puts on the frames; a list that does not read is an
 * error saying why. */
static void
test_regions_element (void)
{
  GstHarness *h = gst_harness_new ("vtpregions");
  GstVideoRegionOfInterestMeta *m;
  GstBuffer *out;
  GstElement *e;

  g_object_set (h->element, "regions", "1,2,30,40:door:Is it open? Say: yes or no; 5,6,7,8", NULL);
  gst_harness_set_src_caps_str (h, "video/x-raw,format=RGB,width=64,height=48,framerate=10/1");
  out = gst_harness_push_and_pull (h, gst_buffer_new_allocate (NULL, 64 * 48 * 3, NULL));
  m = gst_buffer_get_video_region_of_interest_meta_id (out, 0);
  g_assert_nonnull (m);
  g_assert_cmpstr (g_quark_to_string (m->roi_type), ==, "door");
  g_assert_cmpuint (m->x, ==, 1);
  g_assert_cmpuint (m->h, ==, 40);
  g_assert_cmpstr (gst_structure_get_string (gst_video_region_of_interest_meta_get_param (m, "vtp-prompt"),
          "prompt"), ==, "Is it open? Say: yes or no");
  m = gst_buffer_get_video_region_of_interest_meta_id (out, 1);
  g_assert_nonnull (m);
  g_assert_cmpuint (m->roi_type, ==, 0);
  g_assert_cmpuint (m->w, ==, 7);
  g_assert_null (gst_video_region_of_interest_meta_get_param (m, "vtp-prompt"));
  gst_buffer_unref (out);
  gst_harness_teardown (h);

  e = gst_element_factory_make ("vtpregions", NULL);
  g_object_set (e, "regions", "1,2,3:door", NULL);
  g_free (expect_element_start_error (e, "\"1,2,3:door\" does not start with x,y,width,height"));
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/meta/custom-meta", test_custom_meta);
  g_test_add_func ("/meta/attach-timing", test_attach_timing);
  g_test_add_func ("/meta/attach-regions", test_attach_regions);
  g_test_add_func ("/meta/attach-stop", test_attach_stop);
  g_test_add_func ("/meta/frames", test_frames);
  g_test_add_func ("/meta/text-buffers", test_text_buffers);
  g_test_add_func ("/meta/live", test_live);
  g_test_add_func ("/meta/roi-two", test_roi_two);
  g_test_add_func ("/meta/roi-qformer", test_roi_qformer);
  g_test_add_func ("/meta/roi-off", test_roi_off);
  g_test_add_func ("/meta/roi-clipped", test_roi_clipped);
  g_test_add_func ("/meta/roi-empty", test_roi_empty);
  g_test_add_func ("/meta/roi-jpeg", test_roi_jpeg);
  g_test_add_func ("/meta/regions-element", test_regions_element);
  return g_test_run ();
}
