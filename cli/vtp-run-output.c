/* vtp-run-output.c: vtp-run's output formats (see vtp-run-output.h). */
#include "vtp-run-output.h"
#include "vtp-json-write.h"
#include "vtp-srt.h"
#include <gst/gst.h>
#include <string.h>

void
run_output_time (guint64 ns, char out[RUN_OUTPUT_TIME_LEN])
{
  guint64 ms;

  if (!GST_CLOCK_TIME_IS_VALID (ns)) {
    g_strlcpy (out, "-:--:--.---", RUN_OUTPUT_TIME_LEN);
    return;
  }
  ms = ns / GST_MSECOND;
  g_snprintf (out, RUN_OUTPUT_TIME_LEN, "%u:%02u:%02u.%03u", (guint) (ms / 3600000), (guint) (ms / 60000 % 60),
      (guint) (ms / 1000 % 60), (guint) (ms % 1000));
}

struct _RunOutput {
  FILE *out;
  OutputFormat format;
  TextLabel label;
  guint n;
  /* SubRip: a cue is written when the next one starts */
  guint cues;
  char *cue_text;
  guint64 cue_start, cue_end;
  /* the statistics of the description to come */
  guint tokens;
  double prefill_ms, tokens_per_second;
  /* and its input, when there are several (run_output_stream) */
  gint stream;
  char *input;
};

RunOutput *
run_output_new (FILE *out, OutputFormat format, TextLabel label)
{
  RunOutput *o = g_new0 (RunOutput, 1);
  o->out = out;
  o->format = format;
  o->label = label;
  o->stream = -1;
  return o;
}

/* The pending cue, ending at @end (or at its own end). */
static void
write_cue (RunOutput *o, guint64 end)
{
  char from[16], to[16];

  if (!o->cue_text)
    return;
  if (GST_CLOCK_TIME_IS_VALID (end) && end > o->cue_start)
    o->cue_end = end;
  vtp_srt_time (o->cue_start, from);
  vtp_srt_time (o->cue_end, to);
  fprintf (o->out, "%u\n%s --> %s\n%s\n\n", ++o->cues, from, to, o->cue_text);
  g_clear_pointer (&o->cue_text, g_free);
}

void
run_output_statistics (RunOutput *o, guint tokens, double prefill_ms, double tokens_per_second)
{
  o->tokens = tokens;
  o->prefill_ms = prefill_ms;
  o->tokens_per_second = tokens_per_second;
}

void
run_output_stream (RunOutput *o, guint index, const char *input)
{
  o->stream = (gint) index;
  g_free (o->input);
  o->input = g_strdup (input);
}

void
run_output_text (RunOutput *o, const char *source, const char *text, guint64 pts, guint64 duration,
    double latency_ms)
{
  char time[RUN_OUTPUT_TIME_LEN];

  o->n++;
  run_output_time (pts, time);
  switch (o->format) {
    case OUTPUT_TEXT:
      if (o->label == LABEL_STREAM)
        fprintf (o->out, "[%s] [%s] %s\n", o->input ? o->input : "", time, text);
      else if (o->label == LABEL_SOURCE)
        fprintf (o->out, "%s: %s\n", source, text);
      else if (o->label == LABEL_TIME)
        fprintf (o->out, "[%s] %s\n", time, text);
      else
        fprintf (o->out, "%s\n", text);
      break;
    case OUTPUT_JSON: {
      g_autoptr (GString) line = g_string_new ("{");
      if (o->stream >= 0) {
        g_string_append_printf (line, "\"stream\":%d,\"input\":", o->stream);
        vtp_json_write_string (line, o->input);
        g_string_append_c (line, ',');
      }
      g_string_append (line, "\"source\":");
      vtp_json_write_string (line, source);
      g_string_append_printf (line, ",\"time\":\"%s\",\"pts\":", time);
      vtp_json_write_seconds (line, pts);
      g_string_append (line, ",\"duration\":");
      vtp_json_write_seconds (line, duration);
      g_string_append (line, ",\"text\":");
      vtp_json_write_string (line, text);
      g_string_append (line, ",\"latency_ms\":");
      vtp_json_write_tenths (line, latency_ms);
      g_string_append_printf (line, ",\"tokens\":%u,\"prefill_ms\":", o->tokens);
      vtp_json_write_tenths (line, o->prefill_ms);
      g_string_append (line, ",\"tokens_per_second\":");
      vtp_json_write_tenths (line, o->tokens_per_second);
      g_string_append (line, "}\n");
      fputs (line->str, o->out);
      break;
    }
    case OUTPUT_SRT:
      if (!GST_CLOCK_TIME_IS_VALID (pts))
        break;
      write_cue (o, pts);
      o->cue_text = vtp_srt_cue_text (text, -1);
      if (!o->cue_text)
        break;
      o->cue_start = pts;
      o->cue_end = pts + (GST_CLOCK_TIME_IS_VALID (duration) ? duration : GST_SECOND);
      break;
  }
  fflush (o->out);
}

void
run_output_finish (RunOutput *o)
{
  write_cue (o, GST_CLOCK_TIME_NONE);
  fflush (o->out);
  g_free (o->input);
  g_free (o);
}
