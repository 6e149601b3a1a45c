/* vtp-run-streams.h: vtp-run with several --input (cameras, files): one
 * instance of the graph per input in one process, so the model's weights
 * are loaded once (the model cache), each instance run in a thread of its
 * own, and their language models decode together in the model's shared
 * engine: the graph's "batch" parameter, when it has one, is set to the
 * number of inputs unless --set gives it (docs/batching.md). Descriptions
 * are written as they come, each labelled with its input. */
#pragma once
#include "vtp-graph.h"
#include "vtp-run-output.h"
#include "vtp-run-mqtt.h"

typedef struct {
  VtpGraph *first;              /* the graph with its parameters set: the first input's */
  const char *graph_file;       /* for the others' instances */
  char **sets;                  /* the --set NAME=VALUE words (already checked on @first), may be NULL */
  const char *prompt;           /* --prompt, may be NULL */
  char **inputs;                /* two or more */
  RunOutput *out;
  RunMqtt *mqtt;                /* may be NULL */
  guint max;                    /* --max-descriptions, 0: all */
  double duration;              /* --duration (live inputs), 0: none */
} RunStreams;

/* The --set NAME=VALUE words on @g (vtp-run's one-input path uses it too):
 * FALSE at the first word without '=' or value the graph refuses. */
gboolean run_set_parameters (VtpGraph *g, char **sets, GError **error);

/* Runs every input to its end (or to --max-descriptions, --duration,
 * Ctrl-C, which stop them all). FALSE with the first input's error when
 * one failed (the others ran on); *described counts the descriptions. */
gboolean run_streams (const RunStreams *r, guint *described, GError **error);
