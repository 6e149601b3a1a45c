/* vtp-bench-live: the live pipeline of docs/live-video.md for a while, with
 * any bridge: a 30 fps live videotestsrc, the video branch through
 * textoverlay (waiting for text) to a synchronised sink, the description
 * branch through vtpencoder, the bridge and vtpllm. Prints frames produced
 * and rendered on time, descriptions and their latency.
 *
 *   vtp-bench-live --llm DIR [--encoder DIR] [--bridge vtpprojector|vtpqformer|vtpadapter]
 *       [--bridge-model DIR] [--adapter DIR] [--seconds 60] [--max-new-tokens 16]
 *       [--width 320 --height 240] [--sample-every S]
 *
 * --sample-every S prints, every S seconds, the process's resident memory
 * (VmRSS) and the counts so far: the soak of scripts/soak.sh. */
#include <stdio.h>
#include <string.h>
#include "live-run.h"

/* VmRSS of this process, kB (0 if /proc is not there). */
static guint64
rss_kb (void)
{
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL) || !(line = strstr (status, "VmRSS:")))
    return 0;
  return g_ascii_strtoull (line + 6, NULL, 10);
}

static void
print_sample (double elapsed_s, const void *stats, gpointer data)
{
  const LiveStats *st = stats;
  printf ("sample t=%.0f s rss_kb=%" G_GUINT64_FORMAT " frames=%d texts=%u warnings=%u\n", elapsed_s, rss_kb (),
      g_atomic_int_get (&st->produced), st->texts, st->warnings);
  fflush (stdout);
}

/* The first of @factories GStreamer does not know, or NULL. Checked
 * before the launch line: gst_parse_launch makes a pipeline without an
 * unknown element (only a non-fatal error), and the benchmark then ran
 * on it into CRITICALs and "0 descriptions" with exit status 0. */
static const char *
missing_factory (const char *const *factories)
{
  for (guint i = 0; factories[i]; i++) {
    GstElementFactory *f = gst_element_factory_find (factories[i]);
    if (!f)
      return factories[i];
    gst_object_unref (f);
  }
  return NULL;
}

static void
set_model (GstElement *pipe, const char *name, const char *property, const char *value)
{
  GstElement *e = gst_bin_get_by_name (GST_BIN (pipe), name);
  g_object_set (e, property, value, NULL);
  gst_object_unref (e);
}

int
main (int argc, char **argv)
{
  /* freed on every return: LeakSanitizer (scripts/sanitize.sh) saw the
   * early ones leak */
  g_autofree char *llm = NULL;
  g_autofree char *encoder = NULL;
  g_autofree char *bridge = NULL;
  g_autofree char *bridge_model = NULL;
  g_autofree char *adapter = NULL;
  gint seconds = 60, max_new_tokens = 16, width = 320, height = 240, sample_every = 0;
  GOptionEntry entries[] = {
    { "llm", 0, 0, G_OPTION_ARG_FILENAME, &llm, "Language model directory (and the default for the others)", "DIR" },
    { "encoder", 0, 0, G_OPTION_ARG_FILENAME, &encoder, "Vision tower directory", "DIR" },
    { "bridge", 0, 0, G_OPTION_ARG_STRING, &bridge, "Bridge element (default vtpprojector)", "FACTORY" },
    { "bridge-model", 0, 0, G_OPTION_ARG_FILENAME, &bridge_model, "Bridge directory", "DIR" },
    { "adapter", 0, 0, G_OPTION_ARG_FILENAME, &adapter, "vtpllm's adapter directory", "DIR" },
    { "seconds", 0, 0, G_OPTION_ARG_INT, &seconds, "How long to run (default 60)", "S" },
    { "max-new-tokens", 0, 0, G_OPTION_ARG_INT, &max_new_tokens, "Tokens per description (default 16)", "N" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "Video width (default 320)", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height, "Video height (default 240)", "H" },
    { "sample-every", 0, 0, G_OPTION_ARG_INT, &sample_every,
      "Print resident memory and counts every S seconds (default: never)", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- vtp live pipeline benchmark");
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = NULL;
  GstElement *pipe;
  LiveStats st = { 0 };

  gst_init (&argc, &argv);
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !llm) {
    fprintf (stderr, "%s\n", error ? error->message : "--llm is needed");
    return 2;
  }
  if (!bridge)
    bridge = g_strdup ("vtpprojector");
  if (width < 16 || height < 16 || width > 7680 || height > 4320 || seconds < 1 || sample_every < 0) {
    fprintf (stderr, "vtp-bench-live: --width/--height 16 .. 7680/4320, --seconds >= 1, --sample-every >= 0\n");
    return 2;
  }
  if (!g_str_has_prefix (bridge, "vtp") || strpbrk (bridge, " !=\"'")) {
    fprintf (stderr, "--bridge: vtpprojector, vtpqformer or vtpadapter\n");
    return 2;
  }
  {
    const char *const factories[] = { "vtpencoder", "vtpllm", "videotestsrc", "tee", "queue", "textoverlay",
      "videoconvert", "fakesink", NULL };
    const char *const bridges[] = { bridge, NULL };
    const char *missing = missing_factory (factories), *path = g_getenv ("GST_PLUGIN_PATH");
    if (missing && g_str_has_prefix (missing, "vtp")) {
      fprintf (stderr, "vtp-bench-live: no element \"%s\": the vtp plugin is not on GST_PLUGIN_PATH (%s; set it "
          "to the build's plugins/ directory)\n", missing, path ? path : "unset");
      return 1;
    } else if (missing) {
      fprintf (stderr, "vtp-bench-live: no element \"%s\" (GStreamer's base and good plugins are needed)\n",
          missing);
      return 1;
    } else if (missing_factory (bridges)) {
      fprintf (stderr, "vtp-bench-live: --bridge %s: no such element (vtpprojector, vtpqformer or vtpadapter)\n",
          bridge);
      return 2;
    }
  }
  desc = g_strdup_printf ("videotestsrc name=src is-live=true pattern=ball ! "
      "video/x-raw,format=RGB,width=%d,height=%d,framerate=30/1 ! tee name=t "
      "t. ! queue ! textoverlay name=o ! videoconvert ! fakesink name=vsink sync=true max-lateness=33000000 "
      "t. ! vtpencoder name=enc ! %s name=bridge ! vtpllm name=llm max-new-tokens=%d ! o.text_sink", width, height,
      bridge, max_new_tokens);
  if (!(pipe = gst_parse_launch_full (desc, NULL, GST_PARSE_FLAG_FATAL_ERRORS, &error))) {
    fprintf (stderr, "vtp-bench-live: %s\n", error->message);
    return 1;
  }
  set_model (pipe, "enc", "model", encoder ? encoder : llm);
  set_model (pipe, "bridge", "model", bridge_model ? bridge_model : llm);
  set_model (pipe, "llm", "model", llm);
  if (adapter)
    set_model (pipe, "llm", "adapter", adapter);
  st.sample_s = sample_every;
  st.sample = print_sample;
  if (sample_every > 0)
    print_sample (0, &st, NULL);
  live_run (pipe, seconds, &st);
  printf ("%d s live, %s, %d tokens per description, %dx%d at 30 fps\n", seconds, bridge, max_new_tokens, width,
      height);
  printf ("video: %d frames produced, %" G_GUINT64_FORMAT " rendered on time (%.1f%%), %" G_GUINT64_FORMAT
      " late\n", st.produced, st.rendered, 100.0 * st.rendered / MAX (st.produced, 1), st.late);
  printf ("text: %u descriptions, first after %.1f s, latency mean %.0f ms, worst %.0f ms\n", st.texts,
      st.first_text_s, st.texts ? st.latency_sum / st.texts : 0, st.latency_worst);
  printf ("vtpencoder: %" G_GUINT64_FORMAT " frames described, %" G_GUINT64_FORMAT " dropped\n", st.described,
      st.dropped);
  printf ("bus: %u warnings, no error\n", st.warnings);
  g_free (st.last_text);
  gst_object_unref (pipe);
  return 0;
}
