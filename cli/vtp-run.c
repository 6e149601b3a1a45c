/* vtp-run: runs a graph file on an image, a directory of images, a video
 * file or a live source, and writes the descriptions as plain text, JSON
 * lines or SubRip subtitles. A graph may be named ("llava-1.5"): it is
 * looked up by vtp_graph_find_file() ($VTP_GRAPH_PATH, share/vtp/graphs).
 *
 *   vtp-run graphs/llava-1.5.json --set model=/models/llava-1.5-7b-hf \
 *       --input cat.jpg --prompt "What is in the picture?"
 *   vtp-run text --set model=/models/Llama-2-7b-chat-hf --prompt "Why is the sky blue?"
 *
 * Exit status: 0 described to the end (or to --duration, --max-descriptions,
 * Ctrl-C); 1 the pipeline failed; 2 bad usage, graph or parameter; 3 the
 * input cannot be read (a directory: some of its images, after the others
 * were described).
 *
 * --format embeddings writes no descriptions: the embeddings each picture's
 * bridge hands the language model, and the language model's input
 * embeddings of captions (text inputs, --captions), as .npy files with an
 * index.json in the --output directory (docs/embeddings.md):
 *
 *   vtp-run llava-1.5 --set model=world-models/llava --input pictures/ \
 *       --captions captions.txt --format embeddings --output emb/
 *
 * --mqtt publishes each description to an MQTT broker as well, as JSON
 * (vtpmqttsink's, docs/mqtt.md), the sink's properties as NAME=VALUE words:
 *
 *   vtp-run llava-1.5 --set model=world-models/llava-tuned --input live:/dev/video0 \
 *       --mqtt "host=broker.local topic=vtp/{host}/{stream} stream-id=door"
 *
 * Several --input run side by side in one process, one instance of the
 * graph each, their language models decoding together (vtp-run-streams.c):
 *
 *   vtp-run llava-1.5 --set model=M --input rtsp://door/stream --input rtsp://yard/stream -f json
 *
 * On a terminal, standard error shows one progress line (totals, an ETA),
 * taken off before each result is printed; elsewhere nothing but errors. */
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <locale.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <glib-unix.h>
#include <gst/gst.h>
#include "vtp-graph.h"
#include "vtp-run-output.h"
#include "vtp-run-embeddings.h"
#include "vtp-run-mqtt.h"
#include "vtp-run-streams.h"

enum { EXIT_RUN = 1, EXIT_USAGE = 2, EXIT_INPUT = 3 };

typedef struct {
  RunOutput *out;
  RunEmbeddings *embeddings;    /* --format embeddings */
  RunMqtt *mqtt;                /* --mqtt */
  GError *embeddings_error;     /* the first file that could not be written */
  VtpGraph *graph;
  gboolean progress;            /* a progress line: standard error is a terminal, no --quiet */
  guint max;                    /* --max-descriptions, 0: all */
  double live_seconds;          /* --duration */
  gint64 start, running_since;  /* monotonic µs; running_since 0 while loading */

  GMutex lock;                  /* the terminal and what is below (the timer redraws from another thread) */
  gboolean shown;               /* a progress line is on the terminal */
  const char *phase;
  guint described, skipped;
  guint images;                 /* the input's, 0: video */
  guint64 duration;             /* the input's (ns), NONE: live or not known */
  guint64 media_done;           /* video: the end of the last described frame (ns) */
} Run;

/* A span of time for people: "4.2 s", "1:05", "1:02:03". */
static void
format_span (double seconds, gboolean tenths, char *out, gsize len)
{
  const guint s = (guint) (seconds + 0.5);

  if (seconds < 60)
    g_snprintf (out, len, tenths ? "%.1f s" : "%.0f s", seconds);
  else if (s < 3600)
    g_snprintf (out, len, "%u:%02u", s / 60, s % 60);
  else
    g_snprintf (out, len, "%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
}

/* Takes the progress line off the terminal (lock held): what is printed
 * next starts on an empty line. */
static void
clear_progress (Run *run)
{
  if (run->shown) {
    fputs ("\r\033[K", stderr);
    fflush (stderr);
    run->shown = FALSE;
  }
}

/* The progress line (lock held): where the run is, the totals, an ETA. */
static void
draw_progress (Run *run)
{
  const gint64 now = g_get_monotonic_time ();
  const double elapsed = (now - run->start) / 1e6;
  const double running = run->running_since ? (now - run->running_since) / 1e6 : 0;
  g_autoptr (GString) line = g_string_new ("vtp-run: ");
  char span[32], total[32];
  double eta = -1;
  struct winsize ws;

  if (!run->progress || !run->phase)
    return;
  if (!run->running_since)
    g_string_append_printf (line, "%s", run->phase);
  else if (run->images > 1) {
    const guint done = run->described + run->skipped;
    g_string_append_printf (line, "%u of %u images", MIN (done, run->images), run->images);
    if (done && done < run->images)
      eta = running / done * (run->images - done);
  } else if (run->images == 1)
    g_string_append (line, "describing the image");
  else {
    if (GST_CLOCK_TIME_IS_VALID (run->duration)) {
      run_output_time (MIN (run->media_done, run->duration), span);
      run_output_time (run->duration, total);
      /* H:MM:SS of H:MM:SS, without the milliseconds */
      span[strlen (span) - 4] = total[strlen (total) - 4] = '\0';
      g_string_append_printf (line, "%s of %s, ", span, total);
      if (run->media_done && run->media_done < run->duration)
        eta = running * (run->duration - run->media_done) / run->media_done;
    }
    g_string_append_printf (line, "%u described", run->described);
    if (run->live_seconds > 0)
      eta = MAX (run->live_seconds - running, 0);
  }
  format_span (elapsed, TRUE, span, sizeof span);
  g_string_append_printf (line, ", %s", span);
  if (eta >= 0) {
    format_span (eta, FALSE, span, sizeof span);
    g_string_append_printf (line, run->live_seconds > 0 ? ", %s left" : ", ETA %s", span);
  }
  /* one terminal line: a wrapped one would not be cleared by \r */
  if (!ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) && ws.ws_col > 1 && line->len >= ws.ws_col)
    g_string_truncate (line, g_utf8_offset_to_pointer (line->str, ws.ws_col - 1) - line->str);
  fprintf (stderr, "\r\033[K%s", line->str);
  fflush (stderr);
  run->shown = TRUE;
}

/* Once a second, from the signals thread: the times move on. */
static gboolean
on_tick (gpointer data)
{
  Run *run = data;

  g_mutex_lock (&run->lock);
  if (run->shown)
    draw_progress (run);
  g_mutex_unlock (&run->lock);
  return G_SOURCE_CONTINUE;
}

static void
on_text (VtpGraph *g, const char *source, const char *text, guint64 pts, guint64 duration, double latency,
    gpointer data)
{
  Run *run = data;

  if (run->max && run->described >= run->max)
    return;                     /* the description in progress when --max-descriptions was reached */
  g_mutex_lock (&run->lock);
  clear_progress (run);
  run_output_text (run->out, source, text, pts, duration, latency);
  if (run->mqtt)
    run_mqtt_text (run->mqtt, source, text, pts, duration, latency);
  run->described++;
  if (GST_CLOCK_TIME_IS_VALID (pts))
    run->media_done = pts + (GST_CLOCK_TIME_IS_VALID (duration) ? duration : 0);
  if (!GST_CLOCK_TIME_IS_VALID (run->duration))
    vtp_graph_get_input_size (g, NULL, &run->duration);
  draw_progress (run);
  g_mutex_unlock (&run->lock);
  if (run->max && run->described == run->max)
    vtp_graph_stop (g);
}

/* --format embeddings: one picture's or caption's rows, to a file at once. */
static void
on_embeddings (VtpGraph *g, const char *source, const char *kind, guint64 pts, guint tokens, guint width,
    GBytes *data, GBytes *ids, gpointer user_data)
{
  Run *run = user_data;
  GError *error = NULL;
  const char *file;

  if (run->max && run->described >= run->max)
    return;
  g_mutex_lock (&run->lock);
  clear_progress (run);
  if (!run->embeddings_error) {
    if (run_embeddings_add (run->embeddings, source, kind, pts, tokens, width, data, ids, &file, &error)) {
      printf ("%s [%u, %u] %s: %s\n", file, tokens, width, kind, source);
      fflush (stdout);
    } else {
      run->embeddings_error = error;
      vtp_graph_stop (g);
    }
  }
  run->described++;
  draw_progress (run);
  g_mutex_unlock (&run->lock);
  if (run->max && run->described == run->max)
    vtp_graph_stop (g);
}

static void
on_statistics (VtpGraph *g, const char *source, guint tokens, double prefill_ms, double tokens_per_second,
    gpointer data)
{
  Run *run = data;
  g_mutex_lock (&run->lock);
  run_output_statistics (run->out, tokens, prefill_ms, tokens_per_second);
  if (run->mqtt)
    run_mqtt_statistics (run->mqtt, tokens, prefill_ms, tokens_per_second);
  g_mutex_unlock (&run->lock);
}

static void
on_progress (VtpGraph *g, const char *what, gpointer data)
{
  Run *run = data;

  g_mutex_lock (&run->lock);
  run->phase = g_intern_string (what);
  if (!strcmp (what, "running")) {
    run->running_since = g_get_monotonic_time ();
    vtp_graph_get_input_size (g, &run->images, &run->duration);
  }
  draw_progress (run);
  g_mutex_unlock (&run->lock);
}

/* A directory's image that cannot be decoded: named now, even with
 * --quiet, while the run goes on with the others. */
static void
on_skipped (VtpGraph *g, const char *source, const char *message, gpointer data)
{
  Run *run = data;

  g_mutex_lock (&run->lock);
  clear_progress (run);
  fprintf (stderr, "vtp-run: skipped %s\n", message);
  run->skipped++;
  draw_progress (run);
  g_mutex_unlock (&run->lock);
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
  g_auto (GStrv) inputs = NULL;
  g_autofree char *input = NULL, *prompt = NULL, *format = NULL, *output = NULL, *captions = NULL, *mqtt = NULL;
  double duration = 0;
  gint max = 0;
  gboolean quiet = FALSE, list = FALSE, embeddings = FALSE;
  GOptionEntry entries[] = {
    { "input", 'i', 0, G_OPTION_ARG_FILENAME_ARRAY, &inputs, "Image, directory of images, video file, URI (file://, "
      "http(s)://, rtsp://), live:URI, live:VIDEO, testsrc[:FRAMES], live:testsrc or live:/dev/videoN; for the text "
      "graph: text:PROMPT or a .txt file, one prompt a line. Several --input: all at once in one process, their "
      "language models decoding together (the graph's batch parameter), each description labelled with its input "
      "(text or json output)", "INPUT" },
    { "set", 's', 0, G_OPTION_ARG_STRING_ARRAY, &sets, "Set a graph parameter (repeatable)", "NAME=VALUE" },
    { "prompt", 'p', 0, G_OPTION_ARG_STRING, &prompt, "The same as --set prompt=TEXT; without --input, the "
      "text graph's prompt", "TEXT" },
    { "format", 'f', 0, G_OPTION_ARG_STRING, &format, "Output: text (default), json (one object per line), srt, "
      "or embeddings (.npy files in the --output directory, no descriptions: the rows each picture's bridge hands "
      "the language model, and for text inputs and --captions the language model's input embeddings of each "
      "caption; docs/embeddings.md)", "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output, "Write to FILE instead of standard output (--format "
      "embeddings: the directory, made when missing)", "FILE" },
    { "captions", 'c', 0, G_OPTION_ARG_FILENAME, &captions, "--format embeddings: also embed these captions "
      "(text:CAPTION or a .txt file, one a line; the Nth pairs with the Nth picture)", "CAPTIONS" },
    { "duration", 'd', 0, G_OPTION_ARG_DOUBLE, &duration, "Live inputs: stop after S seconds (default: Ctrl-C)",
      "S" },
    { "max-descriptions", 'n', 0, G_OPTION_ARG_INT, &max, "Stop after N descriptions (any input)", "N" },
    { "mqtt", 'm', 0, G_OPTION_ARG_STRING, &mqtt, "Also publish each description to an MQTT broker as JSON: "
      "vtpmqttsink's properties as NAME=VALUE words, e.g. \"host=broker.local topic=vtp/{host}/{stream} "
      "stream-id=door\" (TLS, presence: docs/mqtt.md)", "SETTINGS" },
    { "list-parameters", 'l', 0, G_OPTION_ARG_NONE, &list, "Print the graph's parameters and exit", NULL },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "No progress line (shown only when standard error is a "
      "terminal)", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("GRAPH - describe images and video with a vtp graph");
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGraph) g = NULL;
  g_autoptr (GMainLoop) loop = NULL;
  OutputFormat fmt = OUTPUT_TEXT;
  Run run = { 0 };
  FILE *out = stdout;
  TextLabel label = LABEL_TIME;
  gboolean ok;

  /* GOption converts string arguments from the locale's charset to UTF-8:
   * without this the charset is ASCII, and a prompt like "é" is refused */
  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (ctx, entries, NULL);
  g_option_context_add_group (ctx, gst_init_get_option_group ());
  g_auto (GStrv) graph_dirs = vtp_graph_get_search_path ();
  g_autofree char *graph_where = g_strjoinv (", ", graph_dirs), *graph_file = NULL, *description = NULL;
  description = g_strdup_printf ("GRAPH: a graph file, or a graph's name (llava-1.5, blip2, ...) looked up in "
      "$VTP_GRAPH_PATH, then: %s.\nExit status: 0 described to the end (or to --duration, "
      "--max-descriptions, Ctrl-C), 1 the pipeline failed, 2 bad usage, graph or parameter (a model not found), "
      "3 the input cannot be read (no such file, a URI that cannot be reached or decoded; a directory: some of "
      "its images, after the others were described, each named as it is skipped).\nThe graph format: "
      "docs/graph-format.md.", graph_where);
  g_option_context_set_description (ctx, description);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc != 2) {
    fprintf (stderr, "vtp-run: %s\n%s", error ? error->message : "expected one graph file",
        g_option_context_get_help (ctx, TRUE, NULL));
    return EXIT_USAGE;
  }
  if (inputs && inputs[0])
    input = g_strdup (inputs[0]);
  if (format && !strcmp (format, "json"))
    fmt = OUTPUT_JSON;
  else if (format && !strcmp (format, "srt"))
    fmt = OUTPUT_SRT;
  else if (format && !strcmp (format, "embeddings"))
    embeddings = TRUE;
  else if (format && strcmp (format, "text")) {
    fprintf (stderr, "vtp-run: --format %s: expected text, json, srt or embeddings\n", format);
    return EXIT_USAGE;
  }
  if (embeddings && !output) {
    fprintf (stderr, "vtp-run: --format embeddings writes files into a directory: name it with --output DIR\n");
    return EXIT_USAGE;
  }
  if (captions && !embeddings) {
    fprintf (stderr, "vtp-run: --captions is for --format embeddings\n");
    return EXIT_USAGE;
  }
  if (max < 0 || duration < 0) {
    fprintf (stderr, "vtp-run: %s: expected a positive number\n", max < 0 ? "--max-descriptions" : "--duration");
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
  if (!run_set_parameters (g, sets, &error)) {
    fprintf (stderr, "vtp-run: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (!input && prompt) {
    /* no picture: the prompt itself is the input, for a graph that is a
     * language model alone (another graph says its input element takes no text) */
    input = g_strconcat ("text:", prompt, NULL);
  } else if (prompt && !vtp_graph_set_parameter (g, "prompt", prompt, &error)) {
    fprintf (stderr, "vtp-run: --prompt: %s\n", error->message);
    return EXIT_USAGE;
  }
  if (inputs && g_strv_length (inputs) > 1) {
    RunStreams r = { g, graph_file, sets, prompt, inputs, NULL, NULL, (guint) max, duration };
    guint described = 0;
    if (fmt == OUTPUT_SRT || embeddings || captions) {
      fprintf (stderr, "vtp-run: several --input write text or json (one subtitle track or embeddings "
          "directory per input: run them one by one)\n");
      return EXIT_USAGE;
    }
    if (output && !(out = fopen (output, "w"))) {
      fprintf (stderr, "vtp-run: %s: %s\n", output, g_strerror (errno));
      return EXIT_USAGE;
    }
    if (mqtt && !(run.mqtt = run_mqtt_new (mqtt, prompt, &error))) {
      fprintf (stderr, "vtp-run: %s\n", error->message);
      return EXIT_USAGE;
    }
    r.out = run.out = run_output_new (out, fmt, LABEL_STREAM);
    r.mqtt = run.mqtt;
    ok = run_streams (&r, &described, &error);
    run_output_finish (run.out);
    if (run.mqtt) {
      guint64 published, undelivered;
      run_mqtt_finish (g_steal_pointer (&run.mqtt), &published, &undelivered);
      if (!quiet || undelivered)
        fprintf (stderr, "vtp-run: MQTT: %" G_GUINT64_FORMAT " published, %" G_GUINT64_FORMAT " undelivered\n",
            published, undelivered);
    }
    if (out != stdout)
      fclose (out);
    if (!quiet && isatty (STDERR_FILENO))
      fprintf (stderr, "vtp-run: %u described from %u inputs\n", described, g_strv_length (inputs));
    if (!ok) {
      fprintf (stderr, "vtp-run: %s\n", error->message);
      return exit_code (error);
    }
    return 0;
  }
  if (!input && !captions) {
    fprintf (stderr, "vtp-run: --input is needed (an image, a directory, a video file, a URI, testsrc, "
        "live:testsrc or live:/dev/videoN; for the text graph, --prompt alone, text:PROMPT or a .txt file)\n");
    return EXIT_USAGE;
  }
  if (embeddings) {
    if (!(run.embeddings = run_embeddings_new (output, vtp_graph_get_name (g), &error))) {
      fprintf (stderr, "vtp-run: %s\n", error->message);
      return EXIT_USAGE;
    }
    g_object_set (g, "embeddings", TRUE, NULL);
    g_signal_connect (g, "embeddings", G_CALLBACK (on_embeddings), &run);
  } else if (output && !(out = fopen (output, "w"))) {
    fprintf (stderr, "vtp-run: %s: %s\n", output, g_strerror (errno));
    return EXIT_USAGE;
  }
  if (mqtt && embeddings) {
    fprintf (stderr, "vtp-run: --mqtt publishes descriptions, which --format embeddings does not make\n");
    return EXIT_USAGE;
  }
  /* the broker's sink starts before the graph: its settings are checked
   * first (a property it lacks, a TLS file it cannot read) */
  if (mqtt && !(run.mqtt = run_mqtt_new (mqtt, prompt, &error))) {
    fprintf (stderr, "vtp-run: %s\n", error->message);
    return EXIT_USAGE;
  }
  g_object_set (g, "duration", duration, NULL);
  {
    /* plain text: a directory's descriptions after their file, an image's
     * alone, video's after their time (an input that cannot be read fails
     * the run below, with this error) */
    gboolean is_directory;
    guint images;
    if (input && vtp_graph_probe_input (input, &is_directory, &images) && (is_directory || images > 1))
      label = LABEL_SOURCE;       /* a directory's file names, a .txt file's prompts */
    else if (images)
      label = LABEL_NONE;
  }
  run.out = run_output_new (out, fmt, label);
  run.graph = g;
  run.progress = !quiet && isatty (STDERR_FILENO);
  run.max = max;
  run.live_seconds = duration;
  run.start = g_get_monotonic_time ();
  run.duration = GST_CLOCK_TIME_NONE;
  g_mutex_init (&run.lock);
  g_signal_connect (g, "statistics", G_CALLBACK (on_statistics), &run);
  g_signal_connect (g, "text", G_CALLBACK (on_text), &run);
  g_signal_connect (g, "progress", G_CALLBACK (on_progress), &run);
  g_signal_connect (g, "skipped", G_CALLBACK (on_skipped), &run);
  loop = g_main_loop_new (NULL, FALSE);
  g_unix_signal_add (SIGINT, on_interrupt, g);
  if (run.progress)
    g_timeout_add_seconds (1, on_tick, &run);
  g_thread_unref (g_thread_new ("vtp-run-signals", signal_loop, g_main_loop_ref (loop)));
  ok = !input || vtp_graph_run (g, input, &error);
  if (ok && captions) {
    /* the captions after the pictures: the language model alone */
    g_mutex_lock (&run.lock);
    ok = !run.embeddings_error && !(run.max && run.described >= run.max);
    g_mutex_unlock (&run.lock);
    ok = !ok || vtp_graph_run (g, captions, &error);
  }
  if (run.embeddings) {
    if (!run.embeddings_error && !run_embeddings_finish (run.embeddings, &run.embeddings_error) && ok)
      ok = FALSE;
    if (run.embeddings_error && !error) {
      error = g_steal_pointer (&run.embeddings_error);
      ok = FALSE;
    }
    g_clear_error (&run.embeddings_error);
    g_clear_pointer (&run.embeddings, run_embeddings_free);
  }
  run_output_finish (run.out);
  if (run.mqtt) {
    guint64 published, undelivered;
    g_mutex_lock (&run.lock);
    run_mqtt_finish (g_steal_pointer (&run.mqtt), &published, &undelivered);
    g_mutex_unlock (&run.lock);
    if (!quiet || undelivered)
      fprintf (stderr, "vtp-run: MQTT: %" G_GUINT64_FORMAT " published, %" G_GUINT64_FORMAT " undelivered\n",
          published, undelivered);
  }
  g_main_loop_quit (loop);
  g_mutex_lock (&run.lock);
  run.progress = FALSE;         /* the timer draws no more */
  clear_progress (&run);
  if (!quiet && isatty (STDERR_FILENO) && (ok || run.described)) {
    char span[32];
    format_span ((g_get_monotonic_time () - run.start) / 1e6, TRUE, span, sizeof span);
    fprintf (stderr, "vtp-run: %u described in %s\n", run.described, span);
  }
  g_mutex_unlock (&run.lock);
  if (out != stdout)
    fclose (out);
  if (!ok) {
    fprintf (stderr, "vtp-run: %s\n", error->message);
    return exit_code (error);
  }
  return 0;
}
