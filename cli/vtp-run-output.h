/* vtp-run-output.h: vtp-run's three output formats: plain text (times as
 * H:MM:SS.mmm), JSON lines (milliseconds and speeds to one decimal, times
 * in seconds exact to the nanosecond and as H:MM:SS.mmm), SubRip. */
#pragma once
#include <glib.h>
#include <stdio.h>

typedef enum { OUTPUT_TEXT, OUTPUT_JSON, OUTPUT_SRT } OutputFormat;

/* Plain text: what goes before each description. */
typedef enum {
  LABEL_NONE,                   /* one image */
  LABEL_SOURCE,                 /* a directory: the image's path */
  LABEL_TIME,                   /* video: the frame's time */
  LABEL_STREAM,                 /* several inputs: the input, then the frame's time */
} TextLabel;

typedef struct _RunOutput RunOutput;

/* A time for people: "H:MM:SS.mmm" (milliseconds, truncated as SubRip's
 * are), "-:--:--.---" when unknown. */
#define RUN_OUTPUT_TIME_LEN 32
void run_output_time (guint64 ns, char out[RUN_OUTPUT_TIME_LEN]);

RunOutput *run_output_new (FILE *out, OutputFormat format, TextLabel label);
/* How the next description was made: its tokens, the LLM's prefill, decoding speed (JSON only). */
void run_output_statistics (RunOutput *o, guint tokens, double prefill_ms, double tokens_per_second);
/* Several inputs: the next description is input @index's, @input (JSON:
 * "stream" and "input"; plain text: "[input] [time] text"). */
void run_output_stream (RunOutput *o, guint index, const char *input);
/* One description (pts and duration in ns, NONE when unknown). */
void run_output_text (RunOutput *o, const char *source, const char *text, guint64 pts, guint64 duration,
    double latency_ms);
/* Writes what waits (the last subtitle cue), frees. */
void run_output_finish (RunOutput *o);
