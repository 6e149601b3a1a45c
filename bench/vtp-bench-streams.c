/* vtp-bench-streams: several cameras on one model, vtpllm batch off and
 * on, in one run (docs/batching.md). For each stream count S: S
 * videotestsrc branches (red, blue, SMPTE bars, checkers, again...), not
 * live, each through vtpencoder ! vtpprojector (--bridge) ! vtpllm, first with
 * batch=0 (each stream encodes and decodes alone in its own thread), then
 * with batch=S on vtpencoder and vtpllm (the model's shared engines encode
 * the frames that wait together and decode the streams together), the two
 * alternating --repeats times. Every frame is described (not live: no
 * frame is dropped), so the rate is the pipeline's throughput. Prints per
 * run: descriptions, descriptions/s (between the first and the last
 * description on the bus), generated tokens/s (the same span), mean latency-ms (the
 * bus's: from a frame's arrival at vtpencoder to its text) and mean
 * batch-streams.
 *
 * --text: each stream is an appsrc of --frames text prompts (a question
 * about a colour, different per stream and frame) into vtpllm alone, no
 * picture: the language model's share, for models whose vision tower
 * would take most of the time on a CPU.
 *
 * --bridge: the element between vtpencoder and vtpllm, vtpprojector
 * (LLaVA, the default) or vtpqformer (BLIP-2, InstructBLIP).
 *
 *   vtp-bench-streams --model DIR [--text] [--bridge E] [--weight-type T] [--streams 1,2,4]
 *       [--frames 30] [--max-new-tokens 24] [--repeats 2]
 *
 * Needs the plugin on GST_PLUGIN_PATH. */
#include <gst/gst.h>
#include <gst/app/gstappsrc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const patterns[] = { "red", "blue", "smpte", "checkers-8" };

typedef struct {
  guint texts;
  guint64 tokens;
  double seconds, latency_sum, streams_sum;
  gint64 first_us, last_us;
} Result;

static const char *const colours[] = { "red", "green", "blue", "yellow", "white", "black", "purple", "orange" };

/* --text: stream @i's prompts, then its end. */
static void
push_prompts (GstElement *pipe, gint i, gint frames)
{
  g_autofree char *name = g_strdup_printf ("src%d", i);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), name);

  for (gint f = 0; f < frames; f++) {
    g_autofree char *q = g_strdup_printf ("Write one sentence about a %s %s.", colours[(i + f) % G_N_ELEMENTS (colours)],
        f % 2 ? "car" : "house");
    const gsize n = strlen (q);
    gst_app_src_push_buffer (GST_APP_SRC (src), gst_buffer_new_wrapped (g_steal_pointer (&q), n));
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  gst_object_unref (src);
}

static gboolean
run_once (const char *model, gboolean text, const char *bridge, const char *wtype, gint streams, guint batch,
    gint frames, gint max_new_tokens, Result *r)
{
  g_autoptr (GError) error = NULL;
  GString *desc = g_string_new (NULL);
  GstElement *pipe;
  GstBus *bus;
  GstMessage *m;
  gboolean ok = TRUE;

  for (gint i = 0; i < streams; i++)
    if (text)
      g_string_append_printf (desc, "appsrc name=src%d caps=\"text/x-raw,format=utf8\" max-bytes=0 ! "
          "vtpllm model=\"%s\" weight-type=%s batch=%u max-new-tokens=%d ! fakesink sync=false ", i, model, wtype,
          batch, max_new_tokens);
    else
      g_string_append_printf (desc, "videotestsrc pattern=%s num-buffers=%d ! "
          "video/x-raw,format=RGB,width=320,height=240,framerate=30/1 ! vtpencoder model=\"%s\" weight-type=%s "
          "batch=%u ! %s model=\"%s\" weight-type=%s ! vtpllm model=\"%s\" weight-type=%s batch=%u "
          "max-new-tokens=%d ! fakesink ", patterns[i % G_N_ELEMENTS (patterns)], frames, model, wtype, batch, bridge,
          model, wtype, model, wtype, batch, max_new_tokens);
  pipe = gst_parse_launch_full (desc->str, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  g_string_free (desc, TRUE);
  if (!pipe) {
    fprintf (stderr, "vtp-bench-streams: %s\n", error->message);
    return FALSE;
  }
  memset (r, 0, sizeof *r);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (gint i = 0; text && i < streams; i++)
    push_prompts (pipe, i, frames);
  while ((m = gst_bus_timed_pop_filtered (bus, 600 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR
              | GST_MESSAGE_ELEMENT))) {
    const GstStructure *s = gst_message_get_structure (m);
    const GstMessageType type = GST_MESSAGE_TYPE (m);
    if (type == GST_MESSAGE_ERROR) {
      g_autoptr (GError) e = NULL;
      gst_message_parse_error (m, &e, NULL);
      fprintf (stderr, "vtp-bench-streams: %s\n", e->message);
      ok = FALSE;
    } else if (type == GST_MESSAGE_ELEMENT && gst_structure_has_name (s, "vtp-text")) {
      double latency = 0, together = 1;
      guint tokens = 0;
      const gint64 now = g_get_monotonic_time ();
      gst_structure_get_double (s, "latency-ms", &latency);
      gst_structure_get_double (s, "batch-streams", &together);
      gst_structure_get_uint (s, "tokens", &tokens);
      /* the rates count what came after the first description */
      if (!r->texts++)
        r->first_us = now;
      else
        r->tokens += tokens;
      r->last_us = now;
      r->latency_sum += latency;
      r->streams_sum += together;
    }
    gst_message_unref (m);
    if (type != GST_MESSAGE_ELEMENT)
      break;
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  r->seconds = (r->last_us - r->first_us) / 1e6;
  return ok && r->texts == (guint) (streams * frames);
}

int
main (int argc, char **argv)
{
  g_autofree char *model = NULL, *streams_list = NULL, *wtype = NULL, *bridge = NULL;
  gboolean text = FALSE;
  gint frames = 30, max_new_tokens = 24, repeats = 2;
  GOptionEntry entries[] = {
    { "model", 0, 0, G_OPTION_ARG_FILENAME, &model, "A llava-hf directory (e.g. world-models/llava-tuned), or a "
      "BLIP-2 / InstructBLIP one with --bridge vtpqformer", "DIR" },
    { "bridge", 0, 0, G_OPTION_ARG_STRING, &bridge, "vtpprojector (default) or vtpqformer", "E" },
    { "text", 0, 0, G_OPTION_ARG_NONE, &text, "Text prompts into vtpllm alone (no picture)", NULL },
    { "weight-type", 0, 0, G_OPTION_ARG_STRING, &wtype, "The elements' weight-type (default auto)", "T" },
    { "streams", 0, 0, G_OPTION_ARG_STRING, &streams_list, "Stream counts (default 1,2,4)", "LIST" },
    { "frames", 0, 0, G_OPTION_ARG_INT, &frames, "Frames per stream (default 30)", "F" },
    { "max-new-tokens", 0, 0, G_OPTION_ARG_INT, &max_new_tokens, "Tokens per description (default 24)", "N" },
    { "repeats", 0, 0, G_OPTION_ARG_INT, &repeats, "Runs of each (default 2)", "R" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- several streams on one model, batch off and on");
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) counts = NULL;
  GstElement *keeper;

  gst_init (&argc, &argv);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !model) {
    fprintf (stderr, "%s\n", error ? error->message : "--model is needed");
    return 2;
  }
  if (frames < 2 || max_new_tokens < 1 || repeats < 1) {
    fprintf (stderr, "vtp-bench-streams: --frames >= 2, --max-new-tokens >= 1, --repeats >= 1\n");
    return 2;
  }
  if (!wtype)
    wtype = g_strdup ("auto");
  if (!bridge)
    bridge = g_strdup ("vtpprojector");
  if (strcmp (bridge, "vtpprojector") != 0 && strcmp (bridge, "vtpqformer") != 0) {
    fprintf (stderr, "vtp-bench-streams: --bridge: vtpprojector or vtpqformer, not %s\n", bridge);
    return 2;
  }
  if (strpbrk (wtype, " !=\"'")) {
    fprintf (stderr, "vtp-bench-streams: --weight-type: auto, f32, f16, bf16, q8_0, q4_0, q4_k...\n");
    return 2;
  }
  /* a vtpllm holding the model loaded (the model cache) between runs, so
   * that no run counts a load */
  keeper = gst_element_factory_make ("vtpllm", NULL);
  if (!keeper) {
    fprintf (stderr, "vtp-bench-streams: no vtpllm: the vtp plugin is not on GST_PLUGIN_PATH\n");
    return 1;
  }
  g_object_set (keeper, "model", model, NULL);
  gst_util_set_object_arg (G_OBJECT (keeper), "weight-type", wtype);
  if (gst_element_set_state (keeper, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    fprintf (stderr, "vtp-bench-streams: vtpllm cannot load %s\n", model);
    return 1;
  }
  counts = g_strsplit (streams_list ? streams_list : "1,2,4", ",", -1);
  printf ("# %s%s, weight-type %s, %d frames per stream, max-new-tokens %d\n", model, text ? " (text prompts)"
      : strcmp (bridge, "vtpqformer") == 0 ? " (vtpqformer)" : "", wtype, frames, max_new_tokens);
  printf ("streams batch repeat descriptions seconds descriptions_per_s tokens_per_s latency_ms_mean "
      "batch_streams_mean\n");
  for (guint c = 0; counts[c]; c++) {
    const gint streams = atoi (counts[c]);
    if (streams < 1 || streams > 64) {
      fprintf (stderr, "vtp-bench-streams: stream counts 1 to 64, not %s\n", counts[c]);
      return 2;
    }
    for (gint rep = 0; rep < repeats; rep++)
      for (guint batch = 0; batch <= (guint) streams; batch += streams) {
        Result r = { 0 };
        if (!run_once (model, text, bridge, wtype, streams, batch, frames, max_new_tokens, &r)) {
          fprintf (stderr, "vtp-bench-streams: the run of %d streams, batch=%u failed (%u descriptions)\n",
              streams, batch, r.texts);
          return 1;
        }
        printf ("%d %u %d %u %.2f %.2f %.1f %.1f %.2f\n", streams, batch, rep, r.texts, r.seconds,
            (r.texts - 1) / MAX (r.seconds, 1e-6), r.tokens / MAX (r.seconds, 1e-6), r.latency_sum / r.texts,
            r.streams_sum / r.texts);
        fflush (stdout);
      }
  }
  gst_element_set_state (keeper, GST_STATE_NULL);
  gst_object_unref (keeper);
  return 0;
}
