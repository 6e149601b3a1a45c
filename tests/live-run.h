/* live-run.h: runs a live pipeline for a while and measures what its
 * viewer and its reader get: source frames, frames the synchronised video
 * sink rendered on time, descriptions and their latency (from the frame's
 * arrival at vtpencoder to the text, the bus message's latency-ms).
 * The pipeline names its elements src (the live source), vsink (the video
 * sink, a GstBaseSink) and enc (vtpencoder). Header-only: shared by
 * tests/test-live.c and bench/vtp-bench-live.c. */
#pragma once
#include <gst/gst.h>

typedef struct {
  gint produced;                /* source frames */
  guint64 rendered, late;       /* by the video sink */
  guint texts;
  double latency_sum, latency_worst, first_text_s;
  guint64 described, dropped;   /* vtpencoder's counts */
  char *last_text;
  guint warnings;               /* warning messages on the bus */
  /* optional: called every sample_s seconds of the run (elapsed seconds,
   * the stats so far: produced, texts, warnings) */
  double sample_s;
  void (*sample) (double elapsed_s, const void *stats, gpointer data);
  gpointer sample_data;
} LiveStats;

static GstPadProbeReturn
live_count_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  g_atomic_int_inc ((gint *) data);
  return GST_PAD_PROBE_OK;
}

/* PLAYING for @seconds, then NULL; an error message aborts with it.
 * @st's sample, sample_s and sample_data are kept (the rest is reset). */
static G_GNUC_UNUSED void
live_run (GstElement *pipe, double seconds, LiveStats *st)
{
  const double sample_s = st->sample_s;
  void (*sample) (double, const void *, gpointer) = st->sample;
  gpointer sample_data = st->sample_data;
  gint64 next_sample;
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src"), *vsink = gst_bin_get_by_name (GST_BIN (pipe),
      "vsink"), *enc = gst_bin_get_by_name (GST_BIN (pipe), "enc");
  GstPad *srcpad = gst_element_get_static_pad (src, "src");
  GstBus *bus = gst_element_get_bus (pipe);
  const gint64 start = g_get_monotonic_time (), end = start + (gint64) (seconds * G_USEC_PER_SEC);
  GstStructure *stats;

  memset (st, 0, sizeof *st);
  st->sample_s = sample_s;
  st->sample = sample;
  st->sample_data = sample_data;
  next_sample = start + (gint64) (sample_s * G_USEC_PER_SEC);
  gst_pad_add_probe (srcpad, GST_PAD_PROBE_TYPE_BUFFER, live_count_buffer, &st->produced, NULL);
  if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    g_error ("the pipeline does not start");
  while (g_get_monotonic_time () < end) {
    GstMessage *m = gst_bus_timed_pop (bus, 100 * GST_MSECOND);
    const GstStructure *s;
    if (sample && sample_s > 0 && g_get_monotonic_time () >= next_sample) {
      sample ((g_get_monotonic_time () - start) / 1e6, st, sample_data);
      next_sample += (gint64) (sample_s * G_USEC_PER_SEC);
    }
    if (!m)
      continue;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_WARNING)
      st->warnings++;
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
      GError *e;
      gst_message_parse_error (m, &e, NULL);
      g_error ("pipeline error: %s", e->message);
    }
    s = gst_message_get_structure (m);
    if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, "vtp-text")) {
      double latency = 0;
      gst_structure_get_double (s, "latency-ms", &latency);
      st->latency_worst = MAX (st->latency_worst, latency);
      st->latency_sum += latency;
      if (!st->texts++)
        st->first_text_s = (g_get_monotonic_time () - start) / 1e6;
      g_free (st->last_text);
      st->last_text = g_strdup (gst_structure_get_string (s, "text"));
    }
    gst_message_unref (m);
  }
  g_object_get (vsink, "stats", &stats, NULL);
  gst_structure_get_uint64 (stats, "rendered", &st->rendered);
  gst_structure_get_uint64 (stats, "dropped", &st->late);
  gst_structure_free (stats);
  g_object_get (enc, "frames-described", &st->described, "frames-dropped", &st->dropped, NULL);
  if (gst_element_set_state (pipe, GST_STATE_NULL) != GST_STATE_CHANGE_SUCCESS)
    g_error ("the pipeline does not stop");
  gst_object_unref (srcpad);
  gst_object_unref (src);
  gst_object_unref (vsink);
  gst_object_unref (enc);
  gst_object_unref (bus);
}
