/* vtp-run --mqtt: a small pipeline of its own, appsrc ! vtpmqttsink, fed
 * one buffer per description with the "vtp-description" meta vtpllm puts
 * on its text (the fields vtp-run's signals give), so that the JSON on the
 * broker is the one vtpmqttsink publishes from a pipeline (docs/mqtt.md),
 * reconnection, TLS and presence included. */
#include "vtp-run-mqtt.h"
#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <string.h>

#define FINISH_TIMEOUT (10 * GST_SECOND)        /* EOS: the sink itself gives what is in flight 5 s */

struct _RunMqtt {
  GstElement *pipeline, *src, *sink;
  char *prompt;
  /* the statistics of the next description */
  gboolean have_stats;
  guint tokens;
  double prefill_ms, tokens_per_second;
};

/* The sink's warnings and notices on standard error as they come (a
 * broker that cannot be reached, a connection back). */
static GstBusSyncReply
on_bus (GstBus *bus, GstMessage *msg, gpointer data)
{
  g_autoptr (GError) error = NULL;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, NULL);
      g_printerr ("vtp-run: MQTT: %s\n", error->message);
      break;
    case GST_MESSAGE_INFO:
      gst_message_parse_info (msg, &error, NULL);
      g_printerr ("vtp-run: MQTT: %s\n", error->message);
      break;
    default:
      return GST_BUS_PASS;
  }
  return GST_BUS_DROP;
}

/* One NAME=VALUE word on the sink, its value checked as the property's type and range. */
static gboolean
set_setting (GstElement *sink, const char *word, GError **error)
{
  g_auto (GStrv) kv = g_strsplit (word, "=", 2);
  GParamSpec *pspec;
  g_auto (GValue) value = G_VALUE_INIT;

  if (!kv[0] || !kv[1] || !*kv[0]) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--mqtt: \"%s\": expected NAME=VALUE "
        "(a vtpmqttsink property, e.g. host=broker.local)", word);
    return FALSE;
  }
  pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (sink), kv[0]);
  if (!pspec || !(pspec->flags & G_PARAM_WRITABLE) || pspec->owner_type == GST_TYPE_OBJECT) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--mqtt: vtpmqttsink has no property \"%s\" "
        "to set (gst-inspect-1.0 vtpmqttsink lists them)", kv[0]);
    return FALSE;
  }
  g_value_init (&value, pspec->value_type);
  if (!gst_value_deserialize_with_pspec (&value, kv[1], pspec) || g_param_value_validate (pspec, &value)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--mqtt: %s=%s: not a valid value (%s)", kv[0],
        kv[1], g_param_spec_get_blurb (pspec));
    return FALSE;
  }
  g_object_set_property (G_OBJECT (sink), kv[0], &value);
  return TRUE;
}

/* The error the sink posted when it failed to start. */
static void
start_error (RunMqtt *m, GError **error)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (m->pipeline);
  g_autoptr (GstMessage) msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_autoptr (GError) err = NULL;

  if (msg)
    gst_message_parse_error (msg, &err, NULL);
  g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--mqtt: %s",
      err ? err->message : "vtpmqttsink did not start");
}

static void
run_mqtt_free (RunMqtt *m)
{
  gst_element_set_state (m->pipeline, GST_STATE_NULL);
  gst_object_unref (m->src);
  gst_object_unref (m->sink);
  gst_object_unref (m->pipeline);
  g_free (m->prompt);
  g_free (m);
}

RunMqtt *
run_mqtt_new (const char *settings, const char *prompt, GError **error)
{
  RunMqtt *m;
  g_auto (GStrv) words = NULL;
  g_autoptr (GstBus) bus = NULL;
  GError *parse_error = NULL;
  gint n_words = 0;
  GstElement *sink = gst_element_factory_make ("vtpmqttsink", "vtp-run");

  if (!sink) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--mqtt: the vtpmqttsink element is not "
        "available (vtp built without libmosquitto, Debian's libmosquitto-dev)");
    return NULL;
  }
  if (!g_shell_parse_argv (settings, &n_words, &words, &parse_error)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "--mqtt \"%s\": %s (expected vtpmqttsink "
        "properties as NAME=VALUE words, e.g. \"host=broker.local topic=vtp/{host}/{stream}\")", settings,
        parse_error->message);
    g_error_free (parse_error);
    gst_object_unref (sink);
    return NULL;
  }
  m = g_new0 (RunMqtt, 1);
  m->prompt = g_strdup (prompt);
  m->pipeline = gst_pipeline_new ("vtp-run-mqtt");
  m->src = gst_element_factory_make ("appsrc", NULL);
  m->sink = gst_object_ref (sink);
  gst_object_ref (m->src);
  gst_bin_add_many (GST_BIN (m->pipeline), m->src, sink, NULL);
  g_object_set (m->src, "format", GST_FORMAT_TIME, NULL);
  gst_app_src_set_caps (GST_APP_SRC (m->src), gst_caps_from_string ("text/x-raw, format=(string)utf8"));
  if (!gst_element_link (m->src, sink)) {
    g_set_error (error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "--mqtt: could not link appsrc to vtpmqttsink");
    run_mqtt_free (m);
    return NULL;
  }
  for (gint i = 0; i < n_words; i++)
    if (!set_setting (sink, words[i], error)) {
      run_mqtt_free (m);
      return NULL;
    }
  bus = gst_element_get_bus (m->pipeline);
  gst_bus_set_sync_handler (bus, on_bus, NULL, NULL);
  if (gst_element_set_state (m->pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    start_error (m, error);
    run_mqtt_free (m);
    return NULL;
  }
  return m;
}

void
run_mqtt_statistics (RunMqtt *m, guint tokens, double prefill_ms, double tokens_per_second)
{
  m->have_stats = TRUE;
  m->tokens = tokens;
  m->prefill_ms = prefill_ms;
  m->tokens_per_second = tokens_per_second;
}

void
run_mqtt_text (RunMqtt *m, const char *source, const char *text, guint64 pts, guint64 duration, double latency_ms)
{
  /* gst_buffer_new_memdup refuses 0 bytes: an empty text is an empty buffer */
  GstBuffer *buf = *text ? gst_buffer_new_memdup (text, strlen (text)) : gst_buffer_new ();
  GstCustomMeta *meta = gst_buffer_add_custom_meta (buf, "vtp-description");
  GstStructure *s = meta ? gst_custom_meta_get_structure (meta) : NULL;

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  if (s) {
    gst_structure_set (s, "text", G_TYPE_STRING, text, "latency-ms", G_TYPE_DOUBLE, latency_ms, NULL);
    if (source)
      gst_structure_set (s, "source", G_TYPE_STRING, source, NULL);
    if (m->prompt)
      gst_structure_set (s, "prompt", G_TYPE_STRING, m->prompt, NULL);
    if (GST_CLOCK_TIME_IS_VALID (pts))
      gst_structure_set (s, "pts", G_TYPE_UINT64, pts, NULL);
    if (GST_CLOCK_TIME_IS_VALID (duration))
      gst_structure_set (s, "duration", G_TYPE_UINT64, duration, NULL);
    if (m->have_stats)
      gst_structure_set (s, "tokens", G_TYPE_UINT, m->tokens, "prefill-ms", G_TYPE_DOUBLE, m->prefill_ms,
          "decode-tokens-per-second", G_TYPE_DOUBLE, m->tokens_per_second, NULL);
  }
  m->have_stats = FALSE;
  gst_app_src_push_buffer (GST_APP_SRC (m->src), buf);
}

void
run_mqtt_finish (RunMqtt *m, guint64 *published, guint64 *undelivered)
{
  g_autoptr (GstBus) bus = gst_element_get_bus (m->pipeline);
  g_autoptr (GstMessage) msg = NULL;

  gst_app_src_end_of_stream (GST_APP_SRC (m->src));
  msg = gst_bus_timed_pop_filtered (bus, FINISH_TIMEOUT, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  if (msg && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = NULL;
    gst_message_parse_error (msg, &err, NULL);
    g_printerr ("vtp-run: MQTT: %s\n", err->message);
  }
  /* the sink stops ("offline" on its status topic) and counts what was
   * not acknowledged as undelivered: the counts after that */
  gst_element_set_state (m->pipeline, GST_STATE_NULL);
  g_object_get (m->sink, "published", published, "undelivered", undelivered, NULL);
  run_mqtt_free (m);
}
