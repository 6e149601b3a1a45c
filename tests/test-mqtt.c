/* test-mqtt.c: vtpmqttsink against a real broker (issue 18, item 5).
 *
 * A mosquitto broker on loopback (a free port, a config file of its own),
 * a subscriber made with libmosquitto in this process: the descriptions
 * arrive as JSON, member for member and byte for byte; partial texts and
 * repeats are not published; with the broker killed the descriptions are
 * counted undelivered, one warning goes to the bus, no error, the
 * pipeline goes on; with the broker restarted on the same port the sink
 * reconnects (an info on the bus) and publishes again, and the counters
 * add up. A broker that is not there from the start, and a topic that
 * cannot be published to. Skipped (77) without the mosquitto binary
 * (Debian's mosquitto package). */
#include <glib/gstdio.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstharness.h>
#include <json-glib/json-glib.h>
#include <mosquitto.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include "fixture-path.h"

#define WAIT_US (20 * G_USEC_PER_SEC)   /* generous: a loaded machine; every wait returns when done */

static const char *mosquitto_path;
static char *tmpdir;

/* ---- the broker ---- */

typedef struct {
  GPid pid;
  int port;
  char *conf;
} Broker;

static int
free_port (void)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  socklen_t len = sizeof a;
  int fd = socket (AF_INET, SOCK_STREAM, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &a, sizeof a), ==, 0);
  g_assert_cmpint (getsockname (fd, (struct sockaddr *) &a, &len), ==, 0);
  close (fd);
  return ntohs (a.sin_port);
}

static gboolean
port_open (int port)
{
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons (port),
    .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
  int fd = socket (AF_INET, SOCK_STREAM, 0);
  gboolean ok = connect (fd, (struct sockaddr *) &a, sizeof a) == 0;

  close (fd);
  return ok;
}

/* The broker dies with the test, a failed one included (it holds the
 * test's output open: meson would wait for it). */
static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
broker_start (Broker *b)
{
  const char *argv[] = { mosquitto_path, "-c", b->conf, NULL };
  g_autoptr (GError) error = NULL;
  gint64 until = g_get_monotonic_time () + WAIT_US;

  g_assert_true (g_spawn_async (NULL, (char **) argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL,
          die_with_parent, NULL, &b->pid, &error));
  g_assert_no_error (error);
  while (!port_open (b->port)) {
    g_assert_cmpint (g_get_monotonic_time (), <, until);
    g_assert_cmpint (waitpid (b->pid, NULL, WNOHANG), ==, 0);    /* still running */
    g_usleep (20000);
  }
}

/* A broker listening on b->port (plain) and whatever @listeners adds. */
static void
broker_new_with (Broker *b, const char *listeners)
{
  g_autofree char *text = NULL;

  b->port = free_port ();
  b->conf = g_build_filename (tmpdir, "mosquitto.conf", NULL);
  /* on loopback only, anyone; errors and warnings to standard error; as
   * this user (run as root, mosquitto would become user mosquitto, which
   * clears its parent-death signal: a failed test would leave it running) */
  text = g_strdup_printf ("allow_anonymous true\npersistence false\n"
      "log_dest stderr\nlog_type error\nlog_type warning\nuser %s\nlistener %d 127.0.0.1\n%s",
      g_get_user_name (), b->port, listeners ? listeners : "");
  g_assert_true (g_file_set_contents (b->conf, text, -1, NULL));
  broker_start (b);
}

static void
broker_new (Broker *b)
{
  broker_new_with (b, NULL);
}

/* Killed as a crash kills it: the sink's connection simply ends. */
static void
broker_kill (Broker *b)
{
  g_assert_cmpint (kill (b->pid, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (b->pid, NULL, 0), ==, b->pid);
  g_spawn_close_pid (b->pid);
  b->pid = 0;
}

static void
broker_free (Broker *b)
{
  if (b->pid)
    broker_kill (b);
  unlink (b->conf);
  g_free (b->conf);
}

/* ---- the subscriber (libmosquitto's own thread) ---- */

typedef struct {
  struct mosquitto *mosq;
  GAsyncQueue *messages;        /* "topic\npayload" strings */
  GMutex lock;
  GCond cond;
  gboolean subscribed;
} Subscriber;

static void
sub_on_connect (struct mosquitto *mosq, void *data, int rc)
{
  if (rc == 0)
    g_assert_cmpint (mosquitto_subscribe (mosq, NULL, "vtp/#", 1), ==, MOSQ_ERR_SUCCESS);
}

static void
sub_on_subscribe (struct mosquitto *mosq, void *data, int mid, int n, const int *granted)
{
  Subscriber *s = data;

  g_mutex_lock (&s->lock);
  s->subscribed = TRUE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
sub_on_disconnect (struct mosquitto *mosq, void *data, int rc)
{
  Subscriber *s = data;

  g_mutex_lock (&s->lock);
  s->subscribed = FALSE;
  g_cond_broadcast (&s->cond);
  g_mutex_unlock (&s->lock);
}

static void
sub_on_message (struct mosquitto *mosq, void *data, const struct mosquitto_message *m)
{
  Subscriber *s = data;

  g_async_queue_push (s->messages, g_strdup_printf ("%s\n%.*s", m->topic, m->payloadlen, (const char *) m->payload));
}

/* Waits until the subscriber is subscribed (@want) or has lost its connection. */
static void
subscriber_wait_for (Subscriber *s, gboolean want)
{
  gint64 until = g_get_monotonic_time () + WAIT_US;

  g_mutex_lock (&s->lock);
  while (s->subscribed != want)
    g_assert_true (g_cond_wait_until (&s->cond, &s->lock, until));
  g_mutex_unlock (&s->lock);
}

static void
subscriber_wait (Subscriber *s)
{
  subscriber_wait_for (s, TRUE);
}

static Subscriber *
subscriber_new (int port)
{
  Subscriber *s = g_new0 (Subscriber, 1);

  g_mutex_init (&s->lock);
  g_cond_init (&s->cond);
  s->messages = g_async_queue_new_full (g_free);
  s->mosq = mosquitto_new (NULL, TRUE, s);
  g_assert_nonnull (s->mosq);
  mosquitto_connect_callback_set (s->mosq, sub_on_connect);
  mosquitto_subscribe_callback_set (s->mosq, sub_on_subscribe);
  mosquitto_disconnect_callback_set (s->mosq, sub_on_disconnect);
  mosquitto_message_callback_set (s->mosq, sub_on_message);
  /* after the broker's restart: again within a second */
  mosquitto_reconnect_delay_set (s->mosq, 1, 1, FALSE);
  g_assert_cmpint (mosquitto_connect_async (s->mosq, "127.0.0.1", port, 60), ==, MOSQ_ERR_SUCCESS);
  g_assert_cmpint (mosquitto_loop_start (s->mosq), ==, MOSQ_ERR_SUCCESS);
  subscriber_wait (s);
  return s;
}

static void
subscriber_free (Subscriber *s)
{
  mosquitto_disconnect (s->mosq);
  mosquitto_loop_stop (s->mosq, FALSE);
  mosquitto_destroy (s->mosq);
  g_async_queue_unref (s->messages);
  g_mutex_clear (&s->lock);
  g_cond_clear (&s->cond);
  g_free (s);
}

/* The next message: its topic in *topic, its payload returned. */
static char *
next_message (Subscriber *s, char **topic)
{
  char *m = g_async_queue_timeout_pop (s->messages, WAIT_US);
  char *nl;

  if (!m)
    g_error ("no message from the broker within %d s", (int) (WAIT_US / G_USEC_PER_SEC));
  nl = strchr (m, '\n');
  *topic = g_strndup (m, nl - m);
  nl = g_strdup (nl + 1);
  g_free (m);
  return nl;
}

/* ---- the sink ---- */

/* A text buffer as vtpllm makes it: the text (with vtpllm newline=true's
 * line end), the frame's times, the description meta with every field
 * gst_vtp_description_new gives a frame from vtpencoder. */
static GstBuffer *
description_buffer (const char *text, GstClockTime pts)
{
  g_autofree char *line = g_strconcat (text, "\n", NULL);
  GstBuffer *buf = gst_buffer_new_memdup (line, strlen (line));
  GstCustomMeta *m = gst_buffer_add_custom_meta (buf, "vtp-description");

  g_assert_nonnull (m);
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
  gst_structure_set (gst_custom_meta_get_structure (m), "text", G_TYPE_STRING, text,
      "prompt", G_TYPE_STRING, "What is in the picture?", "pts", G_TYPE_UINT64, pts,
      "duration", G_TYPE_UINT64, GST_SECOND / 10, "tokens", G_TYPE_UINT, 7, "prefill-ms", G_TYPE_DOUBLE, 3.25,
      "decode-tokens-per-second", G_TYPE_DOUBLE, 41.54, "latency-ms", G_TYPE_DOUBLE, 19.728999999999999,
      "frames-received", G_TYPE_UINT64, (guint64) 10, "frames-dropped", G_TYPE_UINT64, (guint64) 2, NULL);
  return buf;
}

static GstBuffer *
plain_buffer (const char *text, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buf = gst_buffer_new_memdup (text, strlen (text));

  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

static guint64
counter (GstElement *sink, const char *name)
{
  guint64 n;

  g_object_get (sink, name, &n, NULL);
  return n;
}

static gboolean
is_connected (GstElement *sink)
{
  gboolean c;

  g_object_get (sink, "connected", &c, NULL);
  return c;
}

/* Waits until the sink's connected property is @want. */
static void
wait_connected (GstElement *sink, gboolean want)
{
  gint64 until = g_get_monotonic_time () + WAIT_US;

  while (is_connected (sink) != want) {
    if (g_get_monotonic_time () > until)
      g_error ("vtpmqttsink not %s within %d s", want ? "connected" : "disconnected",
          (int) (WAIT_US / G_USEC_PER_SEC));
    g_usleep (10000);
  }
}

static void
wait_counter (GstElement *sink, const char *name, guint64 want)
{
  gint64 until = g_get_monotonic_time () + WAIT_US;

  while (counter (sink, name) != want) {
    if (g_get_monotonic_time () > until)
      g_error ("vtpmqttsink's %s is %" G_GUINT64_FORMAT ", not %" G_GUINT64_FORMAT, name, counter (sink, name), want);
    g_usleep (10000);
  }
}

/* The messages of @type on @bus so far; the last one's text in *text. */
static guint
count_messages (GstBus *bus, GstMessageType type, char **text)
{
  GstMessage *m;
  guint n = 0;

  while ((m = gst_bus_pop_filtered (bus, type))) {
    g_autoptr (GError) error = NULL;
    if (type == GST_MESSAGE_WARNING)
      gst_message_parse_warning (m, &error, NULL);
    else if (type == GST_MESSAGE_INFO)
      gst_message_parse_info (m, &error, NULL);
    else if (type == GST_MESSAGE_ERROR)
      gst_message_parse_error (m, &error, NULL);
    if (text && error) {
      g_free (*text);
      *text = g_strdup (error->message);
    }
    gst_message_unref (m);
    n++;
  }
  return n;
}

/* The payload with its utc member (the wall clock) checked and taken out. */
static char *
without_utc (const char *json)
{
  const char *at = strstr (json, ",\"utc\":\"");
  const char *end;
  g_autofree char *utc = NULL, *before = NULL;

  g_assert_nonnull (at);
  end = strchr (at + 8, '"');
  g_assert_nonnull (end);
  utc = g_strndup (at + 8, end - at - 8);
  g_assert_true (g_regex_match_simple ("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$", utc, 0, 0));
  before = g_strndup (json, at - json);
  return g_strconcat (before, end + 1, NULL);
}

static JsonObject *
parse (const char *json)
{
  JsonParser *p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonObject *o;

  g_assert_true (json_parser_load_from_data (p, json, -1, &error));
  g_assert_no_error (error);
  o = json_object_ref (json_node_get_object (json_parser_get_root (p)));
  g_object_unref (p);
  return o;
}

/* Waits for one message of @type (a warning, an info, an error) on @bus; its text. */
static char *
wait_message (GstBus *bus, GstMessageType type)
{
  GstMessage *m = gst_bus_timed_pop_filtered (bus, WAIT_US * GST_USECOND, type);
  g_autoptr (GError) error = NULL;

  if (!m)
    g_error ("no %s message within %d s", gst_message_type_get_name (type), (int) (WAIT_US / G_USEC_PER_SEC));
  if (type == GST_MESSAGE_WARNING)
    gst_message_parse_warning (m, &error, NULL);
  else if (type == GST_MESSAGE_ERROR)
    gst_message_parse_error (m, &error, NULL);
  else
    gst_message_parse_info (m, &error, NULL);
  gst_message_unref (m);
  return g_strdup (error->message);
}

static GstHarness *
sink_harness (int port, const char *topic, GstBus *bus)
{
  GstElement *sink = gst_element_factory_make ("vtpmqttsink", "cam-sink");
  GstHarness *h;

  g_assert_nonnull (sink);
  g_object_set (sink, "host", "127.0.0.1", "port", port, "topic", topic, NULL);
  gst_element_set_bus (sink, bus);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  return h;
}

static void
test_publish_and_reconnect (void)
{
  Broker b = { 0 };
  Subscriber *sub;
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  GstElement *sink;
  g_autofree char *want_topic = g_strdup_printf ("vtp/%s/door", g_get_host_name ());
  g_autofree char *quoted_host = NULL, *text = NULL;
  char *topic, *json, *rest, *want;
  JsonObject *o;

  {
    JsonNode *n = json_node_init_string (json_node_alloc (), g_get_host_name ());
    quoted_host = json_to_string (n, FALSE);
    json_node_unref (n);
  }
  broker_new (&b);
  sub = subscriber_new (b.port);

  h = sink_harness (b.port, "vtp/{host}/{stream}", bus);
  sink = h->element;
  g_object_set (sink, "stream-id", "door", "qos", 1, NULL);
  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  gst_harness_play (h);
  wait_connected (sink, TRUE);

  /* a description: every member, byte for byte (the wall clock aside) */
  g_assert_cmpint (gst_harness_push (h, description_buffer ("a red square on a \"blue\" ground", 1500 * GST_MSECOND)),
      ==, GST_FLOW_OK);
  json = next_message (sub, &topic);
  g_print ("%s %s\n", topic, json);
  g_assert_cmpstr (topic, ==, want_topic);
  rest = without_utc (json);
  want = g_strdup_printf ("{\"stream\":\"door\",\"hostname\":%s,\"seq\":1,\"pts\":1.5,\"pts_ns\":1500000000,"
      "\"duration\":0.1,\"text\":\"a red square on a \\\"blue\\\" ground\",\"prompt\":\"What is in the picture?\","
      "\"latency_ms\":19.7,\"tokens\":7,\"prefill_ms\":3.2,\"tokens_per_second\":41.5,\"frames_received\":10,"
      "\"frames_dropped\":2}", quoted_host);
  g_assert_cmpstr (rest, ==, want);
  o = parse (json);
  g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, "a red square on a \"blue\" ground");
  g_assert_cmpint (json_object_get_int_member (o, "pts_ns"), ==, 1500000000);
  g_assert_cmpfloat (json_object_get_double_member (o, "latency_ms"), ==, 19.7);
  json_object_unref (o);
  g_free (topic);
  g_free (json);
  g_free (rest);
  g_free (want);

  /* partial texts and repeats are not published; a text buffer without a
   * description: its own text and times */
  {
    GstBuffer *partial = plain_buffer ("a red", 2 * GST_SECOND, GST_CLOCK_TIME_NONE);
    GstBuffer *repeat = description_buffer ("a red square", 1500 * GST_MSECOND);
    GST_BUFFER_FLAG_SET (partial, GST_BUFFER_FLAG_DELTA_UNIT);
    GST_BUFFER_FLAG_SET (repeat, GST_BUFFER_FLAG_DROPPABLE);
    g_assert_cmpint (gst_harness_push (h, partial), ==, GST_FLOW_OK);
    g_assert_cmpint (gst_harness_push (h, repeat), ==, GST_FLOW_OK);
  }
  g_assert_cmpint (gst_harness_push (h, plain_buffer ("plain \xc3\xa9t\xc3\xa9 text", 2 * GST_SECOND,
              GST_SECOND / 2)), ==, GST_FLOW_OK);
  json = next_message (sub, &topic);
  g_print ("%s %s\n", topic, json);
  rest = without_utc (json);
  want = g_strdup_printf ("{\"stream\":\"door\",\"hostname\":%s,\"seq\":2,\"pts\":2.0,\"pts_ns\":2000000000,"
      "\"duration\":0.5,\"text\":\"plain \xc3\xa9t\xc3\xa9 text\"}", quoted_host);
  g_assert_cmpstr (rest, ==, want);
  g_free (topic);
  g_free (json);
  g_free (rest);
  g_free (want);
  wait_counter (sink, "published", 2);  /* QoS 1: acknowledged */

  /* QoS 0 (changed while running), and a frame described region by region */
  g_object_set (sink, "qos", 0, NULL);
  {
    GstBuffer *buf = description_buffer ("door: a person\nwindow: a cat", 2500 * GST_MSECOND);
    GstStructure *d = gst_custom_meta_get_structure (gst_buffer_get_custom_meta (buf, "vtp-description"));
    GValue regions = G_VALUE_INIT;
    gst_value_array_init (&regions, 2);
    for (guint i = 0; i < 2; i++) {
      GValue v = G_VALUE_INIT;
      GstStructure *r = gst_structure_new ("vtp-description", "text", G_TYPE_STRING, i ? "a cat" : "a person",
          "roi-index", G_TYPE_UINT, i, "roi-id", G_TYPE_INT, 10 + i, "roi-type", G_TYPE_STRING, i ? "window" : "door",
          "x", G_TYPE_UINT, 8 * i, "y", G_TYPE_UINT, 4, "width", G_TYPE_UINT, 32, "height", G_TYPE_UINT, 16, NULL);
      g_value_init (&v, GST_TYPE_STRUCTURE);
      gst_value_set_structure (&v, r);
      gst_structure_free (r);
      gst_value_array_append_and_take_value (&regions, &v);
    }
    gst_structure_take_value (d, "regions", &regions);
    g_assert_cmpint (gst_harness_push (h, buf), ==, GST_FLOW_OK);
  }
  json = next_message (sub, &topic);
  g_print ("%s %s\n", topic, json);
  rest = without_utc (json);
  want = g_strdup_printf ("{\"stream\":\"door\",\"hostname\":%s,\"seq\":3,\"pts\":2.5,\"pts_ns\":2500000000,"
      "\"duration\":0.1,\"text\":\"door: a person\\nwindow: a cat\",\"prompt\":\"What is in the picture?\","
      "\"latency_ms\":19.7,\"tokens\":7,\"prefill_ms\":3.2,\"tokens_per_second\":41.5,\"frames_received\":10,"
      "\"frames_dropped\":2,\"regions\":[{\"text\":\"a person\",\"roi_type\":\"door\",\"roi_id\":10,\"x\":0,"
      "\"y\":4,\"width\":32,\"height\":16},{\"text\":\"a cat\",\"roi_type\":\"window\",\"roi_id\":11,\"x\":8,"
      "\"y\":4,\"width\":32,\"height\":16}]}", quoted_host);
  g_assert_cmpstr (rest, ==, want);
  g_free (topic);
  g_free (json);
  g_free (rest);
  g_free (want);
  wait_counter (sink, "published", 3);  /* QoS 0: written */
  g_object_set (sink, "qos", 1, NULL);
  g_assert_cmpuint (counter (sink, "undelivered"), ==, 0);
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_WARNING, NULL), ==, 0);

  /* the broker dies: counted, one warning, no error, the pipeline goes on */
  broker_kill (&b);
  wait_connected (sink, FALSE);
  subscriber_wait_for (sub, FALSE);     /* so that it is subscribed again below */
  for (int i = 0; i < 3; i++)
    g_assert_cmpint (gst_harness_push (h, description_buffer ("lost", (3 + i) * GST_SECOND)), ==, GST_FLOW_OK);
  g_assert_cmpuint (counter (sink, "undelivered"), ==, 3);
  g_assert_cmpuint (counter (sink, "published"), ==, 3);
  text = wait_message (bus, GST_MESSAGE_WARNING);
  g_print ("warning: %s\n", text);
  g_assert_nonnull (strstr (text, "lost its connection to the MQTT broker"));
  g_clear_pointer (&text, g_free);
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_ERROR, NULL), ==, 0);

  /* back on the same port: reconnected (an info), published again */
  broker_start (&b);
  wait_connected (sink, TRUE);
  subscriber_wait (sub);
  g_assert_cmpint (gst_harness_push (h, description_buffer ("a green circle", 6 * GST_SECOND)), ==, GST_FLOW_OK);
  json = next_message (sub, &topic);
  g_print ("%s %s\n", topic, json);
  o = parse (json);
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 7);
  g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, "a green circle");
  g_assert_cmpfloat (json_object_get_double_member (o, "pts"), ==, 6.0);
  json_object_unref (o);
  g_free (topic);
  g_free (json);
  wait_counter (sink, "published", 4);
  g_assert_cmpuint (counter (sink, "undelivered"), ==, 3);
  text = wait_message (bus, GST_MESSAGE_INFO);
  g_print ("info: %s\n", text);
  g_assert_nonnull (strstr (text, "connected to the MQTT broker"));
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_WARNING, NULL), ==, 0);
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_ERROR, NULL), ==, 0);
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  g_assert_cmpuint (g_async_queue_length (sub->messages), ==, 0);

  gst_harness_teardown (h);
  subscriber_free (sub);
  broker_free (&b);
  gst_bus_set_flushing (bus, TRUE);   /* its messages hold the element */
  gst_object_unref (bus);
}

/* No broker from the start: one warning, everything undelivered, no error. */
static void
test_no_broker (void)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = sink_harness (free_port (), "vtp/descriptions", bus);
  g_autofree char *text = NULL;

  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  gst_harness_play (h);
  for (int i = 0; i < 4; i++)
    g_assert_cmpint (gst_harness_push (h, description_buffer ("nobody listens", i * GST_SECOND)), ==, GST_FLOW_OK);
  g_assert_cmpuint (counter (h->element, "undelivered"), ==, 4);
  g_assert_cmpuint (counter (h->element, "published"), ==, 0);
  g_assert_false (is_connected (h->element));
  text = wait_message (bus, GST_MESSAGE_WARNING);
  g_print ("warning: %s\n", text);
  g_assert_nonnull (strstr (text, "cannot reach the MQTT broker at 127.0.0.1:"));
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_ERROR, NULL), ==, 0);
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);   /* its messages hold the element */
  gst_object_unref (bus);
}

/* A topic with a wildcard: an element error at start, in a sentence
 * (before GstBaseSink's own "Failed to start"). */
/* @sink (its bus @bus) does not start: an element error holding @want,
 * posted before GstBaseSink's own "failed to start", which is dropped. */
static void
expect_start_error (GstElement *sink, GstBus *bus, const char *want)
{
  g_autofree char *text = NULL;

  g_assert_cmpint (gst_element_set_state (sink, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
  text = wait_message (bus, GST_MESSAGE_ERROR);
  g_print ("error: %s\n", text);
  g_assert_nonnull (strstr (text, want));
  gst_element_set_state (sink, GST_STATE_NULL);
  gst_bus_set_flushing (bus, TRUE);
  gst_bus_set_flushing (bus, FALSE);
}

static void
test_bad_topic (void)
{
  GstBus *bus = gst_bus_new ();
  GstElement *sink = gst_element_factory_make ("vtpmqttsink", NULL);

  gst_element_set_bus (sink, bus);
  g_object_set (sink, "port", free_port (), "topic", "vtp/+/{stream}", NULL);
  expect_start_error (sink, bus, "topic \"vtp/+/vtpmqttsink");
  gst_object_unref (sink);
  gst_bus_set_flushing (bus, TRUE);   /* its messages hold the element */
  gst_object_unref (bus);
}


/* ---- TLS ---- */

/* Runs openssl with @args (a command line); FALSE when it fails. */
static gboolean
openssl (const char *dir, const char *args)
{
  g_autofree char *cmd = g_strdup_printf ("openssl %s", args);
  g_auto (GStrv) argv = NULL;
  int status = -1;

  g_assert_true (g_shell_parse_argv (cmd, NULL, &argv, NULL));
  if (!g_spawn_sync (dir, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
          NULL, NULL, NULL, NULL, &status, NULL))
    return FALSE;
  return g_spawn_check_wait_status (status, NULL);
}

/* A CA @name (name.key, name.pem) in @dir. */
static gboolean
make_ca (const char *dir, const char *name)
{
  g_autofree char *args = g_strdup_printf ("req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=%s-ca "
      "-keyout %s.key -out %s.pem", name, name, name);
  return openssl (dir, args);
}

/* A certificate @name (name.key, name.pem) signed by CA @ca, for subject
 * alternative names @san ("IP:127.0.0.1,DNS:localhost"). */
static gboolean
make_cert (const char *dir, const char *ca, const char *name, const char *san)
{
  g_autofree char *req = g_strdup_printf ("req -newkey rsa:2048 -nodes -subj /CN=%s -keyout %s.key -out %s.csr",
      name, name, name);
  g_autofree char *ext = g_strdup_printf ("%s/%s.ext", dir, name);
  g_autofree char *ext_text = g_strdup_printf ("subjectAltName=%s\n", san);
  g_autofree char *sign = g_strdup_printf ("x509 -req -in %s.csr -CA %s.pem -CAkey %s.key -CAcreateserial "
      "-days 2 -extfile %s.ext -out %s.pem", name, ca, ca, name, name);

  g_assert_true (g_file_set_contents (ext, ext_text, -1, NULL));
  return openssl (dir, req) && openssl (dir, sign);
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d && (name = g_dir_read_name (d))) {
    g_autofree char *path = g_build_filename (dir, name, NULL);
    g_unlink (path);
  }
  if (d)
    g_dir_close (d);
  g_rmdir (dir);
}

/* A playing sink on @port, topic vtp/{stream}, with more properties given
 * as name/value pairs (the TLS and status settings, read at start). */
static GstHarness *
sink_with_valist (int port, GstBus *bus, const char *stream, const char *first, va_list ap)
{
  GstElement *sink = gst_element_factory_make ("vtpmqttsink", "cam-sink");
  GstHarness *h;

  /* all set before the harness, which starts the element */
  g_object_set (sink, "host", "127.0.0.1", "port", port, "topic", "vtp/{stream}", "stream-id", stream, NULL);
  g_object_set_valist (G_OBJECT (sink), first, ap);
  gst_element_set_bus (sink, bus);
  h = gst_harness_new_with_element (sink, "sink", NULL);
  gst_object_unref (sink);
  gst_harness_set_src_caps_str (h, "text/x-raw,format=utf8");
  gst_harness_play (h);
  return h;
}

static GstHarness *
sink_with (int port, GstBus *bus, const char *stream, const char *first, ...)
{
  GstHarness *h;
  va_list ap;

  va_start (ap, first);
  h = sink_with_valist (port, bus, stream, first, ap);
  va_end (ap);
  return h;
}

static void
sink_with_free (GstHarness *h, GstBus *bus)
{
  gst_harness_teardown (h);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

/* A sink with these settings is refused by the broker: a "cannot reach"
 * warning, not connected, its description counted undelivered, no error. */
static void
expect_refused (int port, const char *stream, const char *first, ...)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  g_autofree char *text = NULL;
  va_list ap;

  va_start (ap, first);
  h = sink_with_valist (port, bus, stream, first, ap);
  va_end (ap);
  text = wait_message (bus, GST_MESSAGE_WARNING);
  g_print ("%s: %s\n", stream, text);
  g_assert_nonnull (strstr (text, "cannot reach the MQTT broker at 127.0.0.1:"));
  g_assert_false (is_connected (h->element));
  g_assert_cmpint (gst_harness_push (h, description_buffer ("refused", GST_SECOND)), ==, GST_FLOW_OK);
  g_assert_cmpuint (counter (h->element, "undelivered"), ==, 1);
  g_assert_cmpuint (count_messages (bus, GST_MESSAGE_ERROR, NULL), ==, 0);
  sink_with_free (h, bus);
}

/* A sink with these settings connects and its description reaches @sub
 * on vtp/@stream. */
static void
expect_published (Subscriber *sub, int port, const char *stream, const char *first, ...)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  g_autofree char *topic = NULL, *json = NULL, *want_topic = g_strdup_printf ("vtp/%s", stream);
  g_autofree char *want_text = g_strdup_printf ("\"text\":\"published by %s\"", stream);
  g_autofree char *text = g_strdup_printf ("published by %s", stream);
  va_list ap;

  va_start (ap, first);
  h = sink_with_valist (port, bus, stream, first, ap);
  va_end (ap);
  wait_connected (h->element, TRUE);
  g_assert_cmpint (gst_harness_push (h, description_buffer (text, GST_SECOND)), ==, GST_FLOW_OK);
  json = next_message (sub, &topic);
  g_assert_cmpstr (topic, ==, want_topic);
  g_assert_nonnull (strstr (json, want_text));
  wait_counter (h->element, "published", 1);
  sink_with_free (h, bus);
}

/* Over TLS: the broker's certificate checked against the CA given (a sink
 * trusting another CA does not connect, one warning, descriptions counted
 * undelivered), against the host name unless tls-insecure, a client
 * certificate where the broker requires one; a CA file that is not there
 * is an error at start that names it. The subscriber reads everything on
 * the broker's plain listener. */
static void
test_tls (void)
{
  g_autofree char *dir = g_build_filename (tmpdir, "tls", NULL);
  g_autofree char *ca = g_build_filename (dir, "ca.pem", NULL);
  g_autofree char *other_ca = g_build_filename (dir, "other.pem", NULL);
  g_autofree char *client_cert = g_build_filename (dir, "client.pem", NULL);
  g_autofree char *client_key = g_build_filename (dir, "client.key", NULL);
  g_autofree char *listeners = NULL;
  int tls_port = free_port (), tls_client_port = free_port (), tls_noname_port = free_port ();
  Broker b = { 0 };
  Subscriber *sub;
  GstBus *bus;

  g_assert_cmpint (g_mkdir (dir, 0700), ==, 0);
  if (!make_ca (dir, "ca") || !make_ca (dir, "other") || !make_cert (dir, "ca", "server", "IP:127.0.0.1,DNS:localhost")
      || !make_cert (dir, "ca", "noname", "DNS:broker.invalid") || !make_cert (dir, "ca", "client", "DNS:client")) {
    remove_dir (dir);
    g_test_skip ("openssl could not make the test certificates");
    return;
  }
  /* three TLS listeners: server certificate only; a client certificate
   * required; a server certificate without this host's names */
  listeners = g_strdup_printf ("listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
      "listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
      "require_certificate true\n"
      "listener %d 127.0.0.1\ncafile %s/ca.pem\ncertfile %s/noname.pem\nkeyfile %s/noname.key\n",
      tls_port, dir, dir, dir, tls_client_port, dir, dir, dir, tls_noname_port, dir, dir, dir);
  broker_new_with (&b, listeners);
  sub = subscriber_new (b.port);

  expect_published (sub, tls_port, "tls", "tls-ca-file", ca, NULL);
  expect_refused (tls_port, "wrong-ca", "tls-ca-file", other_ca, NULL);
  /* a certificate that does not name 127.0.0.1: refused, unless tls-insecure */
  expect_refused (tls_noname_port, "noname", "tls-ca-file", ca, NULL);
  expect_published (sub, tls_noname_port, "insecure", "tls-ca-file", ca, "tls-insecure", TRUE, NULL);
  /* a broker that requires a client certificate: not without one */
  expect_refused (tls_client_port, "anonymous", "tls-ca-file", ca, NULL);
  expect_published (sub, tls_client_port, "client", "tls-ca-file", ca, "tls-cert-file", client_cert,
      "tls-key-file", client_key, NULL);

  /* files that are not there, a certificate without its key: errors at start */
  {
    const char *missing = "/nonexistent/ca.pem";
    GstElement *sink = gst_element_factory_make ("vtpmqttsink", NULL);
    bus = gst_bus_new ();
    gst_element_set_bus (sink, bus);
    g_object_set (sink, "port", tls_port, "tls-ca-file", missing, NULL);
    expect_start_error (sink, bus, "cannot read its tls-ca-file \"/nonexistent/ca.pem\"");
    g_object_set (sink, "tls-ca-file", ca, "tls-cert-file", client_cert, NULL);
    expect_start_error (sink, bus, "needs both tls-cert-file and tls-key-file (tls-key-file is not set)");
    gst_object_unref (sink);
    gst_bus_set_flushing (bus, TRUE);
    gst_object_unref (bus);
  }

  subscriber_free (sub);
  broker_free (&b);
  remove_dir (dir);
}

/* ---- presence: status topic and last will ---- */

/* The child of test_status_and_will: a sink with a status topic on the
 * broker at @port that publishes one description and waits to be killed. */
static int
status_child (int port)
{
  GstBus *bus = gst_bus_new ();
  GstHarness *h = sink_with (port, bus, "cam-killed", "status-topic", "vtp/status/{stream}", NULL);

  wait_connected (h->element, TRUE);
  g_assert_cmpint (gst_harness_push (h, description_buffer ("about to die", GST_SECOND)), ==, GST_FLOW_OK);
  for (;;)
    g_usleep (G_USEC_PER_SEC);
  return 0;
}

/* Reads messages until one on @topic; its payload parsed. */
static JsonObject *
message_on (Subscriber *sub, const char *want)
{
  for (;;) {
    g_autofree char *topic = NULL, *json = next_message (sub, &topic);
    g_print ("%s %s\n", topic, json);
    if (g_strcmp0 (topic, want) == 0)
      return parse (json);
  }
}

static void
assert_status (JsonObject *o, const char *stream, const char *status, const char *reason)
{
  g_assert_cmpstr (json_object_get_string_member (o, "stream"), ==, stream);
  g_assert_cmpstr (json_object_get_string_member (o, "hostname"), ==, g_get_host_name ());
  g_assert_cmpstr (json_object_get_string_member (o, "status"), ==, status);
  if (reason)
    g_assert_cmpstr (json_object_get_string_member (o, "reason"), ==, reason);
  else
    g_assert_false (json_object_has_member (o, "reason"));
  json_object_unref (o);
}

/* status-topic: "online" retained at every connection, "offline"
 * (stopped) when the element stops; a process killed mid-stream leaves
 * "offline" (connection lost) through its last will; a subscriber that
 * comes later reads both cameras' last state (retained); status messages
 * are not counted as published descriptions. */
static void
test_status_and_will (void)
{
  Broker b = { 0 };
  Subscriber *sub, *late;
  GstBus *bus = gst_bus_new ();
  GstHarness *h;
  g_autofree char *port_text = NULL, *self_exe = g_file_read_link ("/proc/self/exe", NULL);
  const char *argv[] = { self_exe, NULL };
  char **envp;
  GPid child;
  g_autoptr (GError) error = NULL;

  broker_new (&b);
  sub = subscriber_new (b.port);

  h = sink_with (b.port, bus, "cam-stopped", "status-topic", "vtp/status/{stream}", NULL);
  assert_status (message_on (sub, "vtp/status/cam-stopped"), "cam-stopped", "online", NULL);
  g_assert_cmpint (gst_harness_push (h, description_buffer ("still here", GST_SECOND)), ==, GST_FLOW_OK);
  json_object_unref (message_on (sub, "vtp/cam-stopped"));
  wait_counter (h->element, "published", 1);
  gst_harness_teardown (h);
  assert_status (message_on (sub, "vtp/status/cam-stopped"), "cam-stopped", "offline", "stopped");

  /* the killed process */
  port_text = g_strdup_printf ("%d", b.port);
  envp = g_environ_setenv (g_get_environ (), "VTP_MQTT_TEST_CHILD", port_text, TRUE);
  g_assert_nonnull (self_exe);
  g_assert_true (g_spawn_async (NULL, (char **) argv, envp, G_SPAWN_DO_NOT_REAP_CHILD,
          die_with_parent, NULL, &child, &error));
  g_assert_no_error (error);
  g_strfreev (envp);
  assert_status (message_on (sub, "vtp/status/cam-killed"), "cam-killed", "online", NULL);
  json_object_unref (message_on (sub, "vtp/cam-killed"));
  g_assert_cmpint (kill (child, SIGKILL), ==, 0);
  g_assert_cmpint (waitpid (child, NULL, 0), ==, child);
  g_spawn_close_pid (child);
  assert_status (message_on (sub, "vtp/status/cam-killed"), "cam-killed", "offline", "connection lost");

  /* later: the last word of each, retained */
  late = subscriber_new (b.port);
  for (int i = 0; i < 2; i++) {
    g_autofree char *topic = NULL, *json = next_message (late, &topic);
    JsonObject *o = parse (json);
    g_print ("late: %s %s\n", topic, json);
    if (g_str_equal (topic, "vtp/status/cam-killed"))
      assert_status (o, "cam-killed", "offline", "connection lost");
    else {
      g_assert_cmpstr (topic, ==, "vtp/status/cam-stopped");
      assert_status (o, "cam-stopped", "offline", "stopped");
    }
  }
  subscriber_free (late);
  subscriber_free (sub);
  broker_free (&b);
  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}


/* vtp-run --mqtt: each description of a run also on the broker, the JSON
 * vtpmqttsink makes (text and source as vtp-run prints them, the run's
 * prompt, the token count), presence through status-topic; bad settings
 * are usage errors before anything runs. */
static void
test_vtp_run (void)
{
  g_autofree char *graph = g_build_filename (VTP_SOURCE_DIR, "graphs", "llava-1.5.json", NULL);
  g_autofree char *model = fixture_path ("llava-tiny-a");
  g_autofree char *set_model = g_strdup_printf ("model=%s", model);
  g_autofree char *image = g_build_filename (model, "image.png", NULL);
  g_autofree char *settings = NULL, *out = NULL, *err = NULL;
  g_auto (GStrv) lines = NULL;
  Broker b = { 0 };
  Subscriber *sub;
  int status = -1;

  broker_new (&b);
  sub = subscriber_new (b.port);
  settings = g_strdup_printf ("host=127.0.0.1 port=%d topic=vtp/{stream} stream-id=cli "
      "status-topic=vtp/status/{stream} qos=1", b.port);
  {
    const char *argv[] = { VTP_RUN_PATH, graph, "--set", set_model, "--set", "max-new-tokens=4", "-i", image,
      "-p", "What is it?", "-f", "json", "-q", "--mqtt", settings, NULL };
    g_autoptr (GError) error = NULL;
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, &err, &status, &error));
    g_assert_no_error (error);
  }
  g_print ("vtp-run: %s%s", out, err);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
  lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 1);
  {
    JsonObject *printed = parse (lines[0]), *o;
    assert_status (message_on (sub, "vtp/status/cli"), "cli", "online", NULL);
    o = message_on (sub, "vtp/cli");
    g_assert_cmpstr (json_object_get_string_member (o, "stream"), ==, "cli");
    g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 1);
    g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, json_object_get_string_member (printed, "text"));
    g_assert_cmpstr (json_object_get_string_member (o, "source"), ==, image);
    g_assert_cmpstr (json_object_get_string_member (o, "prompt"), ==, "What is it?");
    g_assert_cmpint (json_object_get_int_member (o, "tokens"), ==, json_object_get_int_member (printed, "tokens"));
    g_assert_true (json_object_has_member (o, "latency_ms"));
    json_object_unref (o);
    json_object_unref (printed);
    assert_status (message_on (sub, "vtp/status/cli"), "cli", "offline", "stopped");
  }

  /* settings vtpmqttsink cannot take: exit 2, the reason, no description */
  {
    const char *bad[][2] = { { "colour=red", "no property \"colour\"" }, { "port=99999", "port=99999: not a valid "
        "value" }, { "tls-ca-file=/nonexistent/ca.pem", "cannot read its tls-ca-file \"/nonexistent/ca.pem\"" },
      { "host='unclosed", "--mqtt \"host='unclosed\"" } };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      const char *argv[] = { VTP_RUN_PATH, graph, "--set", set_model, "-i", image, "-q", "--mqtt", bad[i][0], NULL };
      g_autofree char *o = NULL, *e = NULL;
      g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &o, &e, &status, NULL));
      g_print ("%s", e);
      g_assert_true (WIFEXITED (status));
      g_assert_cmpint (WEXITSTATUS (status), ==, 2);
      g_assert_cmpstr (o, ==, "");
      g_assert_nonnull (strstr (e, bad[i][1]));
    }
  }
  subscriber_free (sub);
  broker_free (&b);
}

/* The real thing: vtpllm (the tiny LLaVA fixture) into vtpmqttsink, beside
 * an appsink: each description arrives once, with vtpllm's text, prompt,
 * frame time and statistics. */
static void
test_pipeline (void)
{
  Broker b = { 0 };
  Subscriber *sub;
  g_autofree char *model = fixture_path ("llava-tiny-a");
  g_autoptr (GError) error = NULL;
  g_autofree char *desc = NULL;
  GstElement *pipe, *src, *appsink, *sink;
  GstSample *sample;
  guint n = 0;

  broker_new (&b);
  sub = subscriber_new (b.port);
  desc = g_strdup_printf ("appsrc name=src format=time caps=video/x-raw,format=RGB,width=96,height=64,"
      "framerate=10/1 ! vtpencoder model=%s ! vtpprojector model=%s ! vtpllm model=%s max-new-tokens=6 "
      "timestamps=frame prompt=\"What is it?\" ! tee name=t t. ! queue ! appsink name=out sync=false "
      "t. ! queue ! vtpmqttsink name=mqtt host=127.0.0.1 port=%d stream-id=fixture qos=1", model, model, model,
      b.port);
  pipe = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  appsink = gst_bin_get_by_name (GST_BIN (pipe), "out");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "mqtt");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (guint i = 0; i < 3; i++) {
    guint8 *px = g_malloc (96 * 64 * 3);
    GstBuffer *buf;
    for (guint j = 0; j < 96 * 64 * 3; j++)
      px[j] = (guint8) (j * (i + 3) / 7);
    buf = gst_buffer_new_wrapped (px, 96 * 64 * 3);
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 10;
    GST_BUFFER_DURATION (buf) = GST_SECOND / 10;
    g_assert_cmpint (gst_app_src_push_buffer (GST_APP_SRC (src), buf), ==, GST_FLOW_OK);
  }
  gst_app_src_end_of_stream (GST_APP_SRC (src));
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (appsink)))) {
    GstCustomMeta *m = gst_buffer_get_custom_meta (gst_sample_get_buffer (sample), "vtp-description");
    const GstStructure *d = gst_custom_meta_get_structure (m);
    g_autofree char *topic = NULL, *json = next_message (sub, &topic);
    JsonObject *o = parse (json);
    guint64 pts;
    guint tokens;

    g_print ("%s %s\n", topic, json);
    g_assert_cmpstr (topic, ==, "vtp/descriptions");
    g_assert_cmpstr (json_object_get_string_member (o, "stream"), ==, "fixture");
    g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, n + 1);
    g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, gst_structure_get_string (d, "text"));
    g_assert_cmpstr (json_object_get_string_member (o, "prompt"), ==, gst_structure_get_string (d, "prompt"));
    g_assert_true (gst_structure_get_uint64 (d, "pts", &pts));
    g_assert_cmpuint (pts, ==, n * GST_SECOND / 10);
    g_assert_cmpint (json_object_get_int_member (o, "pts_ns"), ==, pts);
    g_assert_true (gst_structure_get_uint (d, "tokens", &tokens));
    g_assert_cmpint (json_object_get_int_member (o, "tokens"), ==, tokens);
    g_assert_true (json_object_has_member (o, "latency_ms"));
    g_assert_cmpint (json_object_get_int_member (o, "frames_received"), >=, n + 1);
    json_object_unref (o);
    gst_sample_unref (sample);
    n++;
  }
  g_assert_cmpuint (n, ==, 3);
  wait_counter (sink, "published", 3);  /* QoS 1: the acknowledgement may come after the subscriber's copy */
  g_assert_cmpuint (counter (sink, "undelivered"), ==, 0);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (appsink);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  subscriber_free (sub);
  broker_free (&b);
}

int
main (int argc, char **argv)
{
  int ret;

  gst_init (&argc, &argv);
  if (g_getenv ("VTP_MQTT_TEST_CHILD"))
    return status_child (atoi (g_getenv ("VTP_MQTT_TEST_CHILD")));
  g_test_init (&argc, &argv, NULL);
  mosquitto_path = g_getenv ("MOSQUITTO");
  if (!mosquitto_path)
    mosquitto_path = "/usr/sbin/mosquitto";
  if (!g_file_test (mosquitto_path, G_FILE_TEST_IS_EXECUTABLE)) {
    printf ("SKIP: no MQTT broker to test against (%s: Debian's mosquitto package)\n", mosquitto_path);
    return 77;
  }
  mosquitto_lib_init ();
  tmpdir = g_dir_make_tmp ("vtp-mqtt-XXXXXX", NULL);
  g_assert_nonnull (tmpdir);
  g_test_add_func ("/mqtt/publish-and-reconnect", test_publish_and_reconnect);
  g_test_add_func ("/mqtt/no-broker", test_no_broker);
  g_test_add_func ("/mqtt/bad-topic", test_bad_topic);
  g_test_add_func ("/mqtt/pipeline", test_pipeline);
  g_test_add_func ("/mqtt/tls", test_tls);
  g_test_add_func ("/mqtt/status-and-will", test_status_and_will);
  g_test_add_func ("/mqtt/vtp-run", test_vtp_run);
  ret = g_test_run ();
  g_rmdir (tmpdir);
  g_free (tmpdir);
  mosquitto_lib_cleanup ();
  return ret;
}
