/* vtp-run-mqtt.h: vtp-run --mqtt: each description also published to an
 * MQTT broker, as vtpmqttsink publishes a pipeline's (docs/mqtt.md). */
#pragma once
#include <glib.h>

typedef struct _RunMqtt RunMqtt;

/* @settings: vtpmqttsink properties as NAME=VALUE words, shell-quoted
 * ("host=broker.local port=8883 tls-ca-file=/etc/vtp/ca.pem"); @prompt: the
 * run's prompt (NULL: the graph's). Starts the sink: a property it does not
 * have, a value it refuses or a start error (a TLS file that cannot be
 * read) is an error here, before anything runs. */
RunMqtt *run_mqtt_new (const char *settings, const char *prompt, GError **error);
/* The statistics of the next description (vtp-run's "statistics" signal). */
void run_mqtt_statistics (RunMqtt *m, guint tokens, double prefill_ms, double tokens_per_second);
/* One description: published at once (or counted undelivered). */
void run_mqtt_text (RunMqtt *m, const char *source, const char *text, guint64 pts, guint64 duration,
    double latency_ms);
/* Ends the stream (what is in flight gets up to 5 s while connected),
 * stops the sink; the counts in *published and *undelivered. Frees @m. */
void run_mqtt_finish (RunMqtt *m, guint64 *published, guint64 *undelivered);
