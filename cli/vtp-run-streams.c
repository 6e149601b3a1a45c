/* vtp-run-streams.c: several inputs at once (vtp-run-streams.h). */
#include "vtp-run-streams.h"
#include <stdio.h>
#include <string.h>
#include <glib-unix.h>

typedef struct Streams Streams;

typedef struct {
  Streams *all;
  guint index;
  const char *input;
  VtpGraph *g;
  gboolean ok;
  GError *error;
  /* the statistics of its next description (all->lock) */
  guint tokens;
  double prefill_ms, tokens_per_second;
} Stream;

struct Streams {
  GMutex lock;                  /* the outputs and what follows */
  RunOutput *out;
  RunMqtt *mqtt;
  guint described, max;
  Stream *s;
  guint n;
};

static void
stop_all (Streams *all)
{
  for (guint i = 0; i < all->n; i++)
    vtp_graph_stop (all->s[i].g);
}

static void
on_statistics (VtpGraph *g, const char *source, guint tokens, double prefill_ms, double tokens_per_second,
    gpointer data)
{
  Stream *s = data;

  g_mutex_lock (&s->all->lock);
  s->tokens = tokens;
  s->prefill_ms = prefill_ms;
  s->tokens_per_second = tokens_per_second;
  g_mutex_unlock (&s->all->lock);
}

static void
on_text (VtpGraph *g, const char *source, const char *text, guint64 pts, guint64 duration, double latency,
    gpointer data)
{
  Stream *s = data;
  Streams *all = s->all;
  gboolean stop;

  g_mutex_lock (&all->lock);
  if (all->max && all->described >= all->max) {
    g_mutex_unlock (&all->lock);  /* one in progress when --max-descriptions was reached */
    return;
  }
  run_output_statistics (all->out, s->tokens, s->prefill_ms, s->tokens_per_second);
  run_output_stream (all->out, s->index, s->input);
  run_output_text (all->out, source, text, pts, duration, latency);
  if (all->mqtt) {
    run_mqtt_statistics (all->mqtt, s->tokens, s->prefill_ms, s->tokens_per_second);
    run_mqtt_text (all->mqtt, source, text, pts, duration, latency);
  }
  all->described++;
  stop = all->max && all->described == all->max;
  g_mutex_unlock (&all->lock);
  if (stop)
    stop_all (all);
}

static void
on_skipped (VtpGraph *g, const char *source, const char *message, gpointer data)
{
  Stream *s = data;

  g_mutex_lock (&s->all->lock);
  fprintf (stderr, "vtp-run: skipped %s\n", message);
  g_mutex_unlock (&s->all->lock);
}

static gpointer
run_thread (gpointer data)
{
  Stream *s = data;

  s->ok = vtp_graph_run (s->g, s->input, &s->error);
  return NULL;
}

static gpointer
run_loop (gpointer loop)
{
  g_main_loop_run (loop);
  return NULL;
}

static gboolean
on_interrupt (gpointer data)
{
  stop_all (data);
  return G_SOURCE_CONTINUE;
}

gboolean
run_set_parameters (VtpGraph *g, char **sets, GError **error)
{
  for (guint i = 0; sets && sets[i]; i++) {
    g_auto (GStrv) kv = g_strsplit (sets[i], "=", 2);
    if (!kv[1]) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "--set %s: expected NAME=VALUE", sets[i]);
      return FALSE;
    }
    if (!vtp_graph_set_parameter (g, kv[0], kv[1], error))
      return FALSE;
  }
  return TRUE;
}

/* Input @i's instance: @r->first for the first, a new one with the same
 * parameters for the others; "batch" the number of inputs where the graph
 * has it and --set did not give it. */
static VtpGraph *
instance (const RunStreams *r, guint i, guint n, GError **error)
{
  g_autoptr (VtpGraph) g = i == 0 ? g_object_ref (r->first) : vtp_graph_new_from_file (r->graph_file, error);
  g_auto (GStrv) params = NULL;
  gboolean batch_set = FALSE;

  if (!g)
    return NULL;
  if (i > 0 && !run_set_parameters (g, r->sets, error))
    return NULL;
  if (i > 0 && r->prompt && !vtp_graph_set_parameter (g, "prompt", r->prompt, error))
    return NULL;
  for (guint k = 0; r->sets && r->sets[k]; k++)
    batch_set |= g_str_has_prefix (r->sets[k], "batch=");
  params = vtp_graph_list_parameters (g);
  if (!batch_set && g_strv_contains ((const char *const *) params, "batch")) {
    g_autofree char *value = g_strdup_printf ("%u", n);
    if (!vtp_graph_set_parameter (g, "batch", value, error))
      return NULL;
  }
  g_object_set (g, "duration", r->duration, NULL);
  return g_steal_pointer (&g);
}

gboolean
run_streams (const RunStreams *r, guint *described, GError **error)
{
  const guint n = g_strv_length (r->inputs);
  Streams all = { .out = r->out, .mqtt = r->mqtt, .max = r->max, .n = n };
  g_autofree GThread **threads = g_new0 (GThread *, n);
  gboolean ok = TRUE;
  guint sigint;

  g_mutex_init (&all.lock);
  all.s = g_new0 (Stream, n);
  for (guint i = 0; i < n; i++) {
    Stream *s = &all.s[i];
    s->all = &all;
    s->index = i;
    s->input = r->inputs[i];
    if (!(s->g = instance (r, i, n, error))) {
      g_prefix_error (error, "--input %s: ", s->input);
      ok = FALSE;
      break;
    }
    g_signal_connect (s->g, "statistics", G_CALLBACK (on_statistics), s);
    g_signal_connect (s->g, "text", G_CALLBACK (on_text), s);
    g_signal_connect (s->g, "skipped", G_CALLBACK (on_skipped), s);
  }
  if (ok) {
    /* Ctrl-C stops them all: the default context's loop in a thread of its own */
    GMainLoop *loop = g_main_loop_new (NULL, FALSE);
    GThread *signals;
    sigint = g_unix_signal_add (SIGINT, on_interrupt, &all);
    signals = g_thread_new ("vtp-run-signals", run_loop, loop);
    for (guint i = 0; i < n; i++)
      threads[i] = g_thread_new ("vtp-run-input", run_thread, &all.s[i]);
    for (guint i = 0; i < n; i++)
      g_thread_join (threads[i]);
    g_source_remove (sigint);
    g_main_loop_quit (loop);
    g_thread_join (signals);
    g_main_loop_unref (loop);
    for (guint i = 0; i < n && ok; i++)
      if (!all.s[i].ok) {
        g_propagate_prefixed_error (error, g_steal_pointer (&all.s[i].error), "--input %s: ", all.s[i].input);
        ok = FALSE;
      }
  }
  for (guint i = 0; i < n; i++) {
    g_clear_object (&all.s[i].g);
    g_clear_error (&all.s[i].error);
  }
  g_free (all.s);
  g_mutex_clear (&all.lock);
  *described = all.described;
  return ok;
}
