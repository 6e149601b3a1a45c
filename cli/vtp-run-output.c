/* vtp-run-output.c: vtp-run's output formats (see vtp-run-output.h). */
#include "vtp-run-output.h"
#include "vtp-srt.h"
#include <gst/gst.h>
#include <json-glib/json-glib.h>
#include <string.h>

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
};

RunOutput *
run_output_new (FILE *out, OutputFormat format, TextLabel label)
{
  RunOutput *o = g_new0 (RunOutput, 1);
  o->out = out;
  o->format = format;
  o->label = label;
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
run_output_text (RunOutput *o, const char *source, const char *text, guint64 pts, guint64 duration,
    double latency_ms)
{
  const double seconds = GST_CLOCK_TIME_IS_VALID (pts) ? pts / 1e9 : -1;

  o->n++;
  switch (o->format) {
    case OUTPUT_TEXT:
      if (o->label == LABEL_SOURCE)
        fprintf (o->out, "%s: %s\n", source, text);
      else if (o->label == LABEL_TIME)
        fprintf (o->out, "[%" GST_TIME_FORMAT "] %s\n", GST_TIME_ARGS (pts), text);
      else
        fprintf (o->out, "%s\n", text);
      break;
    case OUTPUT_JSON: {
      g_autoptr (JsonBuilder) b = json_builder_new ();
      g_autoptr (JsonGenerator) gen = json_generator_new ();
      g_autoptr (JsonNode) root = NULL;
      g_autofree char *line = NULL;
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "source");
      json_builder_add_string_value (b, source);
      json_builder_set_member_name (b, "pts");
      json_builder_add_double_value (b, seconds);
      json_builder_set_member_name (b, "duration");
      json_builder_add_double_value (b, GST_CLOCK_TIME_IS_VALID (duration) ? duration / 1e9 : -1);
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, text);
      json_builder_set_member_name (b, "latency_ms");
      json_builder_add_double_value (b, latency_ms);
      json_builder_set_member_name (b, "tokens");
      json_builder_add_int_value (b, o->tokens);
      json_builder_set_member_name (b, "prefill_ms");
      json_builder_add_double_value (b, o->prefill_ms);
      json_builder_set_member_name (b, "tokens_per_second");
      json_builder_add_double_value (b, o->tokens_per_second);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      json_generator_set_root (gen, root);
      line = json_generator_to_data (gen, NULL);
      fprintf (o->out, "%s\n", line);
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
  g_free (o);
}
