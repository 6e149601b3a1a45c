/* vtp-run: runs a graph file on an image, a directory of images, a video
 * file or a live source, and writes the descriptions as plain text, JSON
 * lines or SubRip subtitles. A graph may be named ("llava-1.5"): it is
 * looked up by vtp_graph_find_file() ($VTP_GRAPH_PATH, share/vtp/graphs).
 *
 *   vtp-run graphs/llava-1.5.json --set model=/models/llava-1.5-7b-hf \
 *       --input cat.jpg --prompt "What is in the picture?"
 *
 * Exit status: 0 described to the end; 1 the pipeline failed; 2 bad usage,
 * graph or parameter; 3 the input cannot be read (a directory: some of its
 * images, after the others were described). */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <locale.h>
#include <unistd.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include "vtp-graph.h"
#include "vtp-graph-spec.h"
#include "vtp-graph-input.h"
#include "vtp-run-output.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

typedef struct {
  RunOutput *out;
  gboolean quiet, tty;
  guint described;
  gint64 start;
} Run;

static void
on_text (VtpGraph *g, const char *source, const char *text, guint64 pts, guint64 duration, double latency,
    gpointer data)
{
  Run *run = data;
  run_output_text (run->out, source, text, pts, duration, latency);
  run->described++;
  if (!run->quiet && run->tty)
    fprintf (stderr, "\rvtp-run: %u described, %.1f s", run->described,
        (g_get_monotonic_time () - run->start) / 1e6);
}

static void
on_statistics (VtpGraph *g, const char *source, guint tokens, double prefill_ms, double tokens_per_second,
    gpointer data)
{
  Run *run = data;
  run_output_statistics (run->out, tokens, prefill_ms, tokens_per_second);
}

static void
on_progress (VtpGraph *g, const char *what, gpointer data)
{
  Run *run = data;
  if (!run->quiet)
    fprintf (stderr, "vtp-run: %s (%.1f s)\n", what, (g_get_monotonic_time () - run->start) / 1e6);
}

/* A directory's image that cannot be decoded: named now, even with
 * --quiet, while the run goes on with the others. */
static void
on_skipped (VtpGraph *g, const char *source, const char *message, gpointer data)
{
  Run *run = data;
  fprintf (stderr, "%svtp-run: skipped %s\n", run->tty && run->described && !run->quiet ? "\n" : "", message);
}

/* Ctrl-C: the description in progress finishes, then the run ends. */
static gboolean
on_interrupt (gpointer data)
{
  vtp_graph_stop (data);
  return G_SOURCE_CONTINUE;
}

/* Runs the default context (for the SIGINT source) until the process ends;
 * holds its own reference to the loop. */
static gpointer
signal_loop (gpointer data)
{
  g_main_loop_run (data);
  g_main_loop_unref (data);
  return NULL;
}

static int
exit_code (const GError *e)
{
  if (e->domain != VTP_GRAPH_ERROR)
    return EXIT_RUN;
  switch (e->code) {
    case VTP_GRAPH_ERROR_RUN: return EXIT_RUN;
    case VTP_GRAPH_ERROR_INPUT: return EXIT_INPUT;
    default: return EXIT_USAGE;
  }
}

static void
list_parameters (VtpGraph *g)
{
  g_auto (GStrv) names = vtp_graph_list_parameters (g);
  printf ("%s parameters:\n", vtp_graph_get_name (g));
  for (guint i = 0; names[i]; i++) {
    g_autofree char *d = vtp_graph_describe_parameter (g, names[i]);
    printf ("  %-16s %s\n", names[i], d);
  }
}

int
main (int argc, char **argv)
{
  g_auto (GStrv) sets = NULL;
  g_autofree char *input = NULL, *prompt = NULL, *format = NULL, *output = NULL;
  double duration = 0;
  gboolean quiet = FALSE, list = FALSE;
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME, &input, "Image, directory of images, video file, testsrc[:FRAMES], "
      "live:testsrc or live:/dev/videoN", "INPUT" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a graph parameter (repeatable)", "NAME=VALUE" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "The same as --set prompt=TEXT", "TEXT" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "Output: text (default), json (one object per line), srt",
      "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to FILE instead of standard output", "FILE" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration, "Live inputs: stop after S seconds (default: Ctrl-C)",
      "S" },
    { "list-parameters", 'l', 0, G_OPTION_ARG_NONE, &list, "Print the graph's parameters and exit", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress on standard error", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("GRAPH - describe images and video with a vtp graph");
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGraph) g = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  OutputFormat fmt = OUTPUT_TEXT;
  Run run = { 0 };
  FILE *out = stdout;
  gboolean ok;

  /* GOption converts string arguments from the locale's charset to UTF-8:
   * without this the charset is ASCII, and a prompt like "é" is refused */
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_auto (GStrv) graph_dirs = vtp_graph_get_search_path ();
  g_autofree char *graph_where = g_strjoinv (", ", graph_dirs), *graph_file = NULL, *description = NULL;
  description = g_strdup_printf ("GRAPH: a graph file, or a graph's name (llava-1.5, blip2, ...) looked up in "
      "$VTP_GRAPH_PATH, then: %s.\nExit status: 0 described to the end, 1 the pipeline failed, 2 bad "
      "usage, graph or parameter, 3 the input cannot be read (a directory: some of its images, after the others "
      "were described; each is named as it is skipped).\nThe graph format: docs/graph-format.md.", graph_where);
  g_option_context_set_description (ctx, description);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vtp-run: %s\n%s", error ? error->message : "expected one graph file",
        g_option_context_get_help (ctx, TRUE, NULL));
    return EXIT_USAGE;
  }
  if (format && !strcmp (format, "json"))
    fmt = OUTPUT_JSON;
  else if (format && !strcmp (format, "srt"))
    fmt = OUTPUT_SRT;
  else if (format && strcmp (format, "text")) {
    fprintf (stderr, "vtp-run: --format %s: expected text, json or srt\n", format);
    return EXIT_USAGE;
  }
  if (!(graph_file = vtp_graph_find_file (argv[1], &error)) || !(g = vtp_graph_new_from_file (graph_file, &error))) {
    fprintf (stderr, "vtp-run: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (list) {
    list_parameters (g);
    return 0;
  }
  for (guint i = 0; sets && sets[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (sets[i], "=", 2);
    if (!kv[1]) {
      fprintf (stderr, "vtp-run: --set %s: expected NAME=VALUE\n", sets[i]);
      return EXIT_USAGE;
    }
    if (!vtp_graph_set_parameter (g, kv[0], kv[1], &error)) {
      fprintf (stderr, "vtp-run: %s\n", error->message);
      return EXIT_USAGE;
    }
  }
  if (prompt && !vtp_graph_set_parameter (g, "prompt", prompt, &error)) {
    fprintf (stderr, "vtp-run: --prompt: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (!input) {
    fprintf (stderr, "vtp-run: --input is needed (an image, a directory, a video file, testsrc, live:testsrc "
        "or live:/dev/videoN)\n");
    return EXIT_USAGE;
  }
  if (output && !(out = fopen (output, "w"))) {
    fprintf (stderr, "vtp-run: %s: %s\n", output, g_strerror (errno));
    return EXIT_USAGE;
  }
  g_object_set (g, "duration", duration, NULL);
  run.out = run_output_new (out, fmt, g_file_test (input, G_FILE_TEST_IS_DIR) ? LABEL_SOURCE
      : vtp_graph_input_is_image_file (input) ? LABEL_NONE : LABEL_TIME);
  run.quiet = quiet;
  run.tty = isatty (fileno (stderr));
  run.start = g_get_monotonic_time ();
  g_signal_connect (g, "statistics", G_CALLBACK (on_statistics), &run);
  g_signal_connect (g, "text", G_CALLBACK (on_text), &run);
  g_signal_connect (g, "progress", G_CALLBACK (on_progress), &run);
  g_signal_connect (g, "skipped", G_CALLBACK (on_skipped), &run);
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_interrupt, g);
  g_thread_unref (g_thread_new ("vtp-run-signals", signal_loop, g_main_loop_ref (loop)));
  ok = vtp_graph_run (g, input, &error);
  run_output_finish (run.out);
  if (!quiet && (ok || run.described))
    fprintf (stderr, "%svtp-run: %u described in %.1f s\n", run.tty && run.described ? "\n" : "", run.described,
        (g_get_monotonic_time () - run.start) / 1e6);
  if (out != stdout)
    fclose (out);
  g_main_loop_quit (loop);
  if (!ok) {
    fprintf (stderr, "vtp-run: %s\n", error->message);
    return exit_code (error);
  }
  return 0;
}
