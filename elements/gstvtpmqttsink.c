/**
 * SECTION:element-vtpmqttsink
 * @title: vtpmqttsink
 *
 * Publishes each description vtpllm makes as one JSON object to an MQTT
 * broker (libmosquitto), so that any number of machines can feed one
 * broker and one subscriber reads them all (docs/mqtt.md).
 *
 * The object (one line, members left out when unknown): stream
 * (#GstVtpMqttSink:stream-id), hostname (this machine's), seq (1, 2, ...:
 * the descriptions this element received since it started, published or
 * not, so that a subscriber sees what it missed), source (vtp-run --mqtt:
 * the input the description is of, e.g. a directory's file), pts and pts_ns (the
 * described frame's PTS, in seconds exact to the nanosecond and in
 * nanoseconds; a live pipeline's buffers carry the time the text was
 * ready, the description its frame's), duration (the frame's, seconds),
 * utc (the wall-clock time of publishing, ISO 8601 to the millisecond),
 * text, prompt, latency_ms (from the frame's arrival at vtpencoder to the
 * text), tokens, prefill_ms, tokens_per_second, frames_received,
 * frames_dropped (vtpencoder's counts), and for a frame described region by
 * region (vtpencoder roi=true) regions: [{text, roi_type, roi_id, x, y,
 * width, height}]. Members vtp-run --format json also has keep its names
 * and units. These
 * come from the buffer's "vtp-description" meta; a text buffer without one
 * (from another element) gives stream, hostname, seq, its PTS, duration,
 * utc and its text.
 *
 * Partial texts (buffers flagged DELTA_UNIT, vtpllm's #GstVtpLlm:partial-text)
 * and repeats (flagged DROPPABLE, vtpllm's output time refreshing its text)
 * are not published: each description is published once.
 *
 * The broker connection runs in a thread of its own: connecting, and
 * reconnecting after the broker went away (after 0.5 s, then twice as long
 * each time up to 5 s), never holds the pipeline back. While there is no
 * connection each description is counted in #GstVtpMqttSink:undelivered
 * and dropped, not queued: a description says what a camera sees now, and
 * a backlog published on reconnection would report old scenes as new
 * (set #GstVtpMqttSink:retain to give a subscriber that connects later the
 * last one). Messages handed to the connection are counted in
 * #GstVtpMqttSink:published when libmosquitto reports them sent: written
 * to the connection at QoS 0 (a broker that dies then loses them
 * unnoticed), acknowledged by the broker at QoS 1 and 2 (resent after a
 * reconnection; those still unacknowledged when the element stops count
 * as undelivered). More than 1000 messages waiting for the connection
 * (a broker slower than the descriptions) also count as undelivered.
 *
 * The first description waits for the first connection attempt to end,
 * at most 2 seconds: a pipeline whose first text comes at once (a short
 * file, a text prompt) does not lose it to the connection's start.
 *
 * Bus messages: an element warning the first time the broker cannot be
 * reached or the connection is lost (once until it is back), an element
 * info when the connection is back, and on every change an element
 * message "vtp-mqtt" with fields connected (boolean), broker (host:port),
 * published and undelivered (guint64). At EOS the element waits for the
 * messages in flight, at most 5 seconds, while connected.
 *
 * #GstBaseSink:sync is FALSE by default (publish each description when it
 * is made).
 *
 * TLS: #GstVtpMqttSink:tls (or a #GstVtpMqttSink:tls-ca-file) encrypts
 * the connection and checks the broker's certificate against the CA file,
 * or against the system's CAs (/etc/ssl/certs) without one, and its name
 * against #GstVtpMqttSink:host (unless #GstVtpMqttSink:tls-insecure);
 * #GstVtpMqttSink:tls-cert-file and #GstVtpMqttSink:tls-key-file give a
 * client certificate for brokers that require one (`require_certificate
 * true`). A file that cannot be read is an error at start; a broker whose
 * certificate does not check out is reported as unreachable (a warning),
 * as any failed connection.
 *
 * Presence: with #GstVtpMqttSink:status-topic set, the element publishes
 * (retained, QoS 1) {"stream", "hostname", "status": "online", "utc"} there
 * on every connection, {"status": "offline", "reason": "stopped", ...}
 * when it stops, and leaves the broker a last will with
 * {"status": "offline", "reason": "connection lost"} that the broker
 * publishes if the connection ends otherwise (the process killed, the
 * machine or its network gone, no ping within 1.5 times
 * #GstVtpMqttSink:keepalive). So a subscriber to the status topics of many
 * machines knows which cameras are up, including those that died without a
 * word. Status messages are not counted in #GstVtpMqttSink:published.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 videotestsrc is-live=true ! video/x-raw,width=320,height=240,framerate=10/1 ! \
 *   vtpencoder model=llava min-interval=2000000000 ! vtpprojector model=llava ! vtpllm model=llava ! \
 *   vtpmqttsink host=broker.local topic='vtp/{host}/{stream}' stream-id=door
 * ]|
 * and, anywhere: `mosquitto_sub -h broker.local -t 'vtp/#' -v`. Over TLS on
 * port 8883, with the camera's presence on a status topic:
 * |[
 * ... ! vtpllm model=llava ! vtpmqttsink host=broker.example.org port=8883 tls-ca-file=/etc/vtp/ca.pem \
 *   topic='vtp/{host}/{stream}' status-topic='vtp/status/{host}/{stream}' stream-id=door
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "gstvtpmqttsink.h"
#include "gstvtpmeta.h"
#include "vtp-json-write.h"
#include <errno.h>
#include <mosquitto.h>
#include <stdio.h>
#include <string.h>

GST_DEBUG_CATEGORY_STATIC (gst_vtp_mqtt_sink_debug);
#define GST_CAT_DEFAULT gst_vtp_mqtt_sink_debug

#define DEFAULT_HOST "localhost"
#define DEFAULT_PORT 1883
#define DEFAULT_TOPIC "vtp/descriptions"
#define DEFAULT_QOS 0
#define DEFAULT_KEEPALIVE 60
#define DEFAULT_RETAIN FALSE

#define RETRY_FIRST_MS 500      /* reconnection: the first wait, doubled each time ... */
#define RETRY_MAX_MS 5000       /* ... up to this */
#define LOOP_TIMEOUT_MS 200     /* the network thread looks at its quit flag this often */
#define MAX_IN_FLIGHT 1000      /* messages handed to libmosquitto and not yet sent (or acknowledged) */
#define DRAIN_TIMEOUT_US (5 * G_USEC_PER_SEC)   /* EOS: how long to wait for them */
#define FIRST_WAIT_US (2 * G_USEC_PER_SEC)      /* the first description: how long to wait for the first attempt */
#define SYSTEM_CA_PATH "/etc/ssl/certs"          /* tls without tls-ca-file: Debian's CA store (ca-certificates) */

enum {
  PROP_0,
  PROP_HOST,
  PROP_PORT,
  PROP_TOPIC,
  PROP_CLIENT_ID,
  PROP_USERNAME,
  PROP_PASSWORD,
  PROP_QOS,
  PROP_KEEPALIVE,
  PROP_RETAIN,
  PROP_STREAM_ID,
  PROP_PUBLISHED,
  PROP_UNDELIVERED,
  PROP_CONNECTED,
  PROP_TLS,
  PROP_TLS_CA_FILE,
  PROP_TLS_CERT_FILE,
  PROP_TLS_KEY_FILE,
  PROP_TLS_INSECURE,
  PROP_STATUS_TOPIC,
};

struct _GstVtpMqttSink {
  GstBaseSink parent;

  /* properties (object lock) */
  char *host, *topic, *client_id, *username, *password, *stream_id;
  char *tls_ca_file, *tls_cert_file, *tls_key_file, *status_topic;
  gint port, qos, keepalive;
  gboolean retain, tls, tls_insecure;

  /* set at start, read-only until stop */
  struct mosquitto *mosq;
  GThread *thread;
  char *broker;                 /* "host:port", for messages */
  char *hostname;
  gint run_port, run_keepalive;
  char *run_host;
  char *run_status_topic;       /* status-topic expanded; NULL: none */
  char *run_stream;

  /* the connection's state and the counters (lock) */
  GMutex lock;
  GCond cond;
  gboolean quit, connected, was_connected, outage_reported, unlocked;
  gboolean attempted;           /* the first connection attempt has succeeded or failed */
  char *reason;                 /* why the last attempt failed, from the callbacks */
  guint retry_ms;
  GHashTable *in_flight;        /* mid -> qos + 1: handed to libmosquitto, not yet reported sent */
  GHashTable *sent_early;       /* mids reported sent before mosquitto_publish returned */
  GHashTable *status_mids;      /* status messages handed to libmosquitto, not yet sent: not descriptions */
  guint64 published, undelivered, seq;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("text/x-raw, format=(string)utf8"));

#define gst_vtp_mqtt_sink_parent_class parent_class
G_DEFINE_TYPE (GstVtpMqttSink, gst_vtp_mqtt_sink, GST_TYPE_BASE_SINK);
GST_ELEMENT_REGISTER_DEFINE (vtpmqttsink, "vtpmqttsink", GST_RANK_NONE, GST_TYPE_VTP_MQTT_SINK);

/* ---- the connection (the network thread and libmosquitto's callbacks, which it runs) ---- */

/* An element message "vtp-mqtt" with the connection's state and the counters. */
static void
post_state (GstVtpMqttSink *self)
{
  GstStructure *s;

  g_mutex_lock (&self->lock);
  s = gst_structure_new ("vtp-mqtt", "connected", G_TYPE_BOOLEAN, self->connected, "broker", G_TYPE_STRING,
      self->broker, "published", G_TYPE_UINT64, self->published, "undelivered", G_TYPE_UINT64, self->undelivered,
      NULL);
  g_mutex_unlock (&self->lock);
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* The presence message of status-topic: {"stream", "hostname", "status",
 * "reason" (offline only), "utc" (not in the last will, which the broker
 * keeps from the connection's start)}. */
static char *
status_json (GstVtpMqttSink *self, const char *status, const char *reason, gboolean with_time)
{
  GString *json = g_string_new ("{\"stream\":");

  vtp_json_write_string (json, self->run_stream);
  g_string_append (json, ",\"hostname\":");
  vtp_json_write_string (json, self->hostname);
  g_string_append (json, ",\"status\":");
  vtp_json_write_string (json, status);
  if (reason) {
    g_string_append (json, ",\"reason\":");
    vtp_json_write_string (json, reason);
  }
  if (with_time) {
    g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
    g_autofree char *utc = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
    g_string_append_printf (json, ",\"utc\":\"%s.%03dZ\"", utc, g_date_time_get_microsecond (now) / 1000);
  }
  g_string_append_c (json, '}');
  return g_string_free (json, FALSE);
}

/* Publishes a presence message (retained, QoS 1) to status-topic; its mid
 * is kept apart from the descriptions' (on_publish). From the network
 * thread only (a callback or the thread itself). */
static void
publish_status (GstVtpMqttSink *self, const char *status, const char *reason)
{
  g_autofree char *json = status_json (self, status, reason, TRUE);
  int mid = 0, rc;

  /* at QoS 1 on_publish comes with the broker's acknowledgement, which
   * this same thread reads later in mosquitto_loop: the mid is recorded
   * before it can come */
  rc = mosquitto_publish (self->mosq, &mid, self->run_status_topic, strlen (json), json, 1, TRUE);
  g_mutex_lock (&self->lock);
  if (rc == MOSQ_ERR_SUCCESS)
    g_hash_table_add (self->status_mids, GINT_TO_POINTER (mid));
  g_mutex_unlock (&self->lock);
  if (rc != MOSQ_ERR_SUCCESS)
    GST_DEBUG_OBJECT (self, "status %s not published: %s", status, mosquitto_strerror (rc));
  else
    GST_DEBUG_OBJECT (self, "%s: %s", self->run_status_topic, json);
}

static gboolean
status_pending (GstVtpMqttSink *self)
{
  gboolean pending;

  g_mutex_lock (&self->lock);
  pending = g_hash_table_size (self->status_mids) > 0;
  g_mutex_unlock (&self->lock);
  return pending;
}

static void
on_connect (struct mosquitto *mosq, void *data, int rc)
{
  GstVtpMqttSink *self = data;
  gboolean back;

  if (rc != 0) {
    /* refused by the broker (a bad user name or password, a client id it
     * will not take): the connection fails, the thread says why */
    g_mutex_lock (&self->lock);
    g_free (self->reason);
    self->reason = g_strdup_printf ("the broker refused the connection: %s", mosquitto_connack_string (rc));
    g_mutex_unlock (&self->lock);
    return;
  }
  g_mutex_lock (&self->lock);
  self->connected = TRUE;
  back = self->outage_reported;
  self->outage_reported = FALSE;
  self->was_connected = TRUE;
  self->attempted = TRUE;
  self->retry_ms = RETRY_FIRST_MS;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "connected to %s", self->broker);
  if (self->run_status_topic)
    publish_status (self, "online", NULL);
  if (back)
    GST_ELEMENT_INFO (self, RESOURCE, OPEN_WRITE, ("vtpmqttsink is connected to the MQTT broker at %s again: "
            "descriptions are published again", self->broker), (NULL));
  post_state (self);
}

/* Called for a lost connection and for a failed attempt alike. QoS 0
 * messages libmosquitto had not written are dropped with the connection. */
static void
on_disconnect (struct mosquitto *mosq, void *data, int rc)
{
  GstVtpMqttSink *self = data;
  GHashTableIter iter;
  gpointer qos;
  gboolean was;
  guint lost = 0;

  g_mutex_lock (&self->lock);
  was = self->connected;
  self->connected = FALSE;
  g_hash_table_remove_all (self->status_mids);  /* the next connection says "online" anew */
  g_hash_table_iter_init (&iter, self->in_flight);
  while (g_hash_table_iter_next (&iter, NULL, &qos))
    if (GPOINTER_TO_INT (qos) == 1) {
      g_hash_table_iter_remove (&iter);
      lost++;
    }
  self->undelivered += lost;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "disconnected from %s (%s), %u QoS 0 messages lost", self->broker,
      mosquitto_strerror (rc), lost);
  if (was)
    post_state (self);
}

static void
on_publish (struct mosquitto *mosq, void *data, int mid)
{
  GstVtpMqttSink *self = data;

  g_mutex_lock (&self->lock);
  if (g_hash_table_remove (self->status_mids, GINT_TO_POINTER (mid)))
    ;                           /* presence, not a description */
  else if (g_hash_table_remove (self->in_flight, GINT_TO_POINTER (mid)))
    self->published++;
  else                          /* mosquitto_publish has not returned yet: render counts it */
    g_hash_table_add (self->sent_early, GINT_TO_POINTER (mid));
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

static void
on_log (struct mosquitto *mosq, void *data, int level, const char *text)
{
  GST_LOG_OBJECT (data, "libmosquitto: %s", text);
}

/* A connection attempt failed or the connection was lost: the warning,
 * once until the broker is back. */
static void
connection_failed (GstVtpMqttSink *self, int rc, int err)
{
  g_autofree char *reason = NULL;
  gboolean report, lost;

  g_mutex_lock (&self->lock);
  reason = g_steal_pointer (&self->reason);
  if (!reason)
    reason = g_strdup (rc == MOSQ_ERR_ERRNO ? g_strerror (err) : mosquitto_strerror (rc));
  self->connected = FALSE;
  report = !self->outage_reported;
  lost = self->was_connected;
  self->outage_reported = TRUE;
  g_mutex_unlock (&self->lock);
  GST_DEBUG_OBJECT (self, "no connection to %s: %s", self->broker, reason);
  if (report && lost)
    GST_ELEMENT_WARNING (self, RESOURCE, WRITE, ("vtpmqttsink lost its connection to the MQTT broker at %s (%s): "
            "descriptions are counted as undelivered until it is back", self->broker, reason), (NULL));
  else if (report)
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_WRITE, ("vtpmqttsink cannot reach the MQTT broker at %s (%s): "
            "descriptions are counted as undelivered until it can", self->broker, reason), (NULL));
  /* the first description waits for this (after the warning: it is on the bus before it goes on) */
  g_mutex_lock (&self->lock);
  self->attempted = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
}

/* Waits before the next attempt (or until told to quit); FALSE to quit. */
static gboolean
wait_retry (GstVtpMqttSink *self)
{
  gint64 until;
  gboolean go_on;

  g_mutex_lock (&self->lock);
  until = g_get_monotonic_time () + self->retry_ms * (gint64) 1000;
  self->retry_ms = MIN (self->retry_ms * 2, RETRY_MAX_MS);
  while (!self->quit && g_cond_wait_until (&self->cond, &self->lock, until))
    ;
  go_on = !self->quit;
  g_mutex_unlock (&self->lock);
  return go_on;
}

static gboolean
quitting (GstVtpMqttSink *self)
{
  gboolean quit;

  g_mutex_lock (&self->lock);
  quit = self->quit;
  g_mutex_unlock (&self->lock);
  return quit;
}

/* Connects, runs libmosquitto's network loop (callbacks included),
 * reconnects for as long as the element runs; libmosquitto's own thread
 * (mosquitto_loop_start) would stop for good at an error such as a host
 * name that does not resolve at that moment. */
static gpointer
network_thread (gpointer data)
{
  GstVtpMqttSink *self = data;
  gboolean need_connect = TRUE;
  int rc;

  while (!quitting (self)) {
    if (need_connect) {
      /* host name resolution blocks here, not in the pipeline */
      rc = mosquitto_connect_async (self->mosq, self->run_host, self->run_port, self->run_keepalive);
      if (rc != MOSQ_ERR_SUCCESS) {
        connection_failed (self, rc, errno);
        if (!wait_retry (self))
          break;
        continue;
      }
      need_connect = FALSE;
    }
    rc = mosquitto_loop (self->mosq, LOOP_TIMEOUT_MS, 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      /* the connection failed or was lost (on_disconnect has run) */
      connection_failed (self, rc, errno);
      need_connect = TRUE;
      if (!wait_retry (self))
        break;
    }
  }
  /* stopping: a clean goodbye when connected ("offline" first, then a
   * DISCONNECT, after which the broker drops the last will) */
  g_mutex_lock (&self->lock);
  need_connect = self->connected;
  g_mutex_unlock (&self->lock);
  if (need_connect && self->run_status_topic) {
    publish_status (self, "offline", "stopped");
    for (int i = 0; i < 20 && status_pending (self) && mosquitto_loop (self->mosq, 100, 1) == MOSQ_ERR_SUCCESS; i++)
      ;
  }
  if (need_connect && mosquitto_disconnect (self->mosq) == MOSQ_ERR_SUCCESS)
    for (int i = 0; i < 10 && mosquitto_loop (self->mosq, 100, 1) == MOSQ_ERR_SUCCESS; i++)
      ;
  return NULL;
}

/* ---- GstBaseSink ---- */

static void
library_init (void)
{
  static gsize done = 0;

  /* once per process; never cleaned up, other users of libmosquitto may be
   * around (it only ever fails on Windows' sockets) */
  if (g_once_init_enter (&done))
    g_once_init_leave (&done, mosquitto_lib_init () == MOSQ_ERR_SUCCESS ? 1 : 2);
}

/* The topic for @stream: {stream} and {host} replaced. */
static char *
expand_topic (const char *topic, const char *stream, const char *host)
{
  GString *s = g_string_new (topic);

  g_string_replace (s, "{stream}", stream, 0);
  g_string_replace (s, "{host}", host, 0);
  return g_string_free (s, FALSE);
}

static char *
stream_name (GstVtpMqttSink *self)
{
  char *id;

  GST_OBJECT_LOCK (self);
  id = self->stream_id && *self->stream_id ? g_strdup (self->stream_id) : g_strdup (GST_OBJECT_NAME (self));
  GST_OBJECT_UNLOCK (self);
  return id;
}

/* The TLS files, checked before anything connects: a file that is not
 * there or cannot be read names itself (libmosquitto only says "invalid
 * arguments"); a certificate needs its key and the other way round. */
static gboolean
check_tls_files (GstVtpMqttSink *self, const char *ca, const char *cert, const char *key)
{
  const char *files[] = { ca, cert, key }, *props[] = { "tls-ca-file", "tls-cert-file", "tls-key-file" };

  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    FILE *f;
    if (!files[i])
      continue;
    f = fopen (files[i], "rb");
    if (!f) {
      GST_ELEMENT_ERROR (self, RESOURCE, NOT_FOUND, ("vtpmqttsink cannot read its %s \"%s\": %s", props[i],
              files[i], g_strerror (errno)), (NULL));
      return FALSE;
    }
    fclose (f);
  }
  if (!cert != !key) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink's client certificate needs both tls-cert-file "
            "and tls-key-file (%s is not set)", cert ? "tls-key-file" : "tls-cert-file"), (NULL));
    return FALSE;
  }
  return TRUE;
}

/* TLS on the client: the broker's certificate checked against @ca, or the
 * system's CAs without one; a client certificate when given. */
static gboolean
tls_set (GstVtpMqttSink *self, const char *ca, const char *cert, const char *key, gboolean insecure)
{
  int rc = mosquitto_tls_set (self->mosq, ca, ca ? NULL : SYSTEM_CA_PATH, cert, key, NULL);

  if (rc == MOSQ_ERR_SUCCESS)
    rc = mosquitto_tls_insecure_set (self->mosq, insecure);
  if (rc != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink could not set up TLS with CA %s%s%s: %s",
            ca ? ca : SYSTEM_CA_PATH, cert ? " and client certificate " : "", cert ? cert : "",
            mosquitto_strerror (rc)), (NULL));
    return FALSE;
  }
  GST_INFO_OBJECT (self, "TLS, CA %s%s", ca ? ca : SYSTEM_CA_PATH, insecure ? ", host name not checked" : "");
  return TRUE;
}

static gboolean
gst_vtp_mqtt_sink_start (GstBaseSink *sink)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);
  g_autofree char *client_id = NULL, *username = NULL, *password = NULL, *topic = NULL, *stream = NULL;
  g_autofree char *expanded = NULL, *status_topic = NULL, *ca = NULL, *cert = NULL, *key = NULL;
  gboolean tls, insecure;
  int rc;

  library_init ();
  stream = stream_name (self);
  GST_OBJECT_LOCK (self);
  g_free (self->run_host);
  self->run_host = g_strdup (self->host);
  self->run_port = self->port;
  self->run_keepalive = self->keepalive;
  client_id = g_strdup (self->client_id);
  username = g_strdup (self->username);
  password = g_strdup (self->password);
  topic = g_strdup (self->topic);
  status_topic = self->status_topic && *self->status_topic ? g_strdup (self->status_topic) : NULL;
  ca = self->tls_ca_file && *self->tls_ca_file ? g_strdup (self->tls_ca_file) : NULL;
  cert = self->tls_cert_file && *self->tls_cert_file ? g_strdup (self->tls_cert_file) : NULL;
  key = self->tls_key_file && *self->tls_key_file ? g_strdup (self->tls_key_file) : NULL;
  tls = self->tls || ca || cert || key;
  insecure = self->tls_insecure;
  GST_OBJECT_UNLOCK (self);

  if (!self->run_host || !*self->run_host) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink needs the broker's host name or address in its "
            "host property"), (NULL));
    return FALSE;
  }
  if (!self->hostname)
    self->hostname = g_strdup (g_get_host_name ());
  expanded = expand_topic (topic ? topic : "", stream, self->hostname);
  if (mosquitto_pub_topic_check (expanded) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink's topic \"%s\" cannot be published to: an MQTT "
            "topic must not be empty nor hold + or #", expanded), (NULL));
    return FALSE;
  }
  g_free (self->run_stream);
  self->run_stream = g_strdup (stream);
  g_clear_pointer (&self->run_status_topic, g_free);
  if (status_topic) {
    self->run_status_topic = expand_topic (status_topic, stream, self->hostname);
    if (mosquitto_pub_topic_check (self->run_status_topic) != MOSQ_ERR_SUCCESS) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink's status-topic \"%s\" cannot be published to: "
              "an MQTT topic must not be empty nor hold + or #", self->run_status_topic), (NULL));
      return FALSE;
    }
  }
  if (!check_tls_files (self, ca, cert, key))
    return FALSE;
  g_free (self->broker);
  self->broker = strchr (self->run_host, ':') ? g_strdup_printf ("[%s]:%d", self->run_host, self->run_port)
      : g_strdup_printf ("%s:%d", self->run_host, self->run_port);

  /* a client id of our own only when asked for: libmosquitto makes a
   * random one for a clean session */
  self->mosq = mosquitto_new (client_id && *client_id ? client_id : NULL, TRUE, self);
  if (!self->mosq) {
    GST_ELEMENT_ERROR (self, RESOURCE, FAILED, ("vtpmqttsink could not create its MQTT client: %s",
            g_strerror (errno)), ("mosquitto_new"));
    return FALSE;
  }
  mosquitto_threaded_set (self->mosq, TRUE);
  mosquitto_connect_callback_set (self->mosq, on_connect);
  mosquitto_disconnect_callback_set (self->mosq, on_disconnect);
  mosquitto_publish_callback_set (self->mosq, on_publish);
  mosquitto_log_callback_set (self->mosq, on_log);
  if (username && *username && (rc = mosquitto_username_pw_set (self->mosq, username, password)) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink could not use its user name and password: %s",
            mosquitto_strerror (rc)), (NULL));
    g_clear_pointer (&self->mosq, mosquitto_destroy);
    return FALSE;
  }
  if (tls && !tls_set (self, ca, cert, key, insecure)) {
    g_clear_pointer (&self->mosq, mosquitto_destroy);
    return FALSE;
  }
  if (self->run_status_topic) {
    g_autofree char *will = status_json (self, "offline", "connection lost", FALSE);
    if ((rc = mosquitto_will_set (self->mosq, self->run_status_topic, strlen (will), will, 1, TRUE))
        != MOSQ_ERR_SUCCESS) {
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink could not leave the broker its last will on "
              "\"%s\": %s", self->run_status_topic, mosquitto_strerror (rc)), (NULL));
      g_clear_pointer (&self->mosq, mosquitto_destroy);
      return FALSE;
    }
  }

  g_mutex_lock (&self->lock);
  self->quit = FALSE;
  self->connected = self->was_connected = self->outage_reported = self->unlocked = self->attempted = FALSE;
  self->retry_ms = RETRY_FIRST_MS;
  self->published = self->undelivered = self->seq = 0;
  g_clear_pointer (&self->reason, g_free);
  g_hash_table_remove_all (self->in_flight);
  g_hash_table_remove_all (self->sent_early);
  g_hash_table_remove_all (self->status_mids);
  g_mutex_unlock (&self->lock);
  self->thread = g_thread_new ("vtpmqttsink", network_thread, self);
  GST_INFO_OBJECT (self, "publishing to %s, topic %s", self->broker, expanded);
  return TRUE;
}

static gboolean
gst_vtp_mqtt_sink_stop (GstBaseSink *sink)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);
  guint left;

  if (!self->mosq)
    return TRUE;
  g_mutex_lock (&self->lock);
  self->quit = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  g_thread_join (g_steal_pointer (&self->thread));
  g_clear_pointer (&self->mosq, mosquitto_destroy);

  g_mutex_lock (&self->lock);
  left = g_hash_table_size (self->in_flight);
  self->undelivered += left;
  g_hash_table_remove_all (self->in_flight);
  g_hash_table_remove_all (self->sent_early);
  self->connected = FALSE;
  g_mutex_unlock (&self->lock);
  GST_INFO_OBJECT (self, "stopped: %" G_GUINT64_FORMAT " published, %" G_GUINT64_FORMAT " undelivered (%u "
      "not sent at the end)", self->published, self->undelivered, left);
  return TRUE;
}

/* Copies a "vtp-description" field to a JSON member. */
static void
add_uint (GString *json, const GstStructure *s, const char *field, const char *member)
{
  const GValue *v = gst_structure_get_value (s, field);

  if (!v)
    return;
  if (G_VALUE_HOLDS_UINT (v))
    g_string_append_printf (json, ",\"%s\":%u", member, g_value_get_uint (v));
  else if (G_VALUE_HOLDS_INT (v))
    g_string_append_printf (json, ",\"%s\":%d", member, g_value_get_int (v));
  else if (G_VALUE_HOLDS_UINT64 (v))
    g_string_append_printf (json, ",\"%s\":%" G_GUINT64_FORMAT, member, g_value_get_uint64 (v));
}

static void
add_tenths (GString *json, const GstStructure *s, const char *field, const char *member)
{
  double x;

  if (!gst_structure_get_double (s, field, &x))
    return;
  g_string_append_printf (json, ",\"%s\":", member);
  vtp_json_write_tenths (json, x);
}

static void
add_string (GString *json, const GstStructure *s, const char *field, const char *member)
{
  const char *text = gst_structure_get_string (s, field);

  if (!text)
    return;
  g_string_append_printf (json, ",\"%s\":", member);
  vtp_json_write_string (json, text);
}

static void
add_time (GString *json, const char *member, GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return;
  g_string_append_printf (json, ",\"%s\":", member);
  vtp_json_write_seconds (json, t);
}

/* The regions of a frame described region by region. */
static void
add_regions (GString *json, const GstStructure *desc)
{
  const GValue *regions = gst_structure_get_value (desc, "regions");
  guint n;

  if (!regions || !GST_VALUE_HOLDS_ARRAY (regions))
    return;
  n = gst_value_array_get_size (regions);
  g_string_append (json, ",\"regions\":[");
  for (guint i = 0; i < n; i++) {
    const GValue *v = gst_value_array_get_value (regions, i);
    const GstStructure *r = GST_VALUE_HOLDS_STRUCTURE (v) ? gst_value_get_structure (v) : NULL;
    const char *text = r ? gst_structure_get_string (r, "text") : NULL;

    g_string_append (json, i ? ",{\"text\":" : "{\"text\":");
    vtp_json_write_string (json, text ? text : "");
    if (r) {
      add_string (json, r, "roi-type", "roi_type");
      add_uint (json, r, "roi-id", "roi_id");
      add_uint (json, r, "x", "x");
      add_uint (json, r, "y", "y");
      add_uint (json, r, "width", "width");
      add_uint (json, r, "height", "height");
    }
    g_string_append_c (json, '}');
  }
  g_string_append_c (json, ']');
}

/* The JSON object for @buf (see the documentation above). */
static char *
description_json (GstVtpMqttSink *self, GstBuffer *buf, const char *stream, guint64 seq)
{
  const GstStructure *desc = gst_buffer_get_vtp_description (buf);
  GString *json = g_string_new ("{\"stream\":");
  GstClockTime pts = GST_BUFFER_PTS (buf), duration = GST_BUFFER_DURATION (buf);
  g_autoptr (GDateTime) now = g_date_time_new_now_utc ();
  g_autofree char *utc = g_date_time_format (now, "%Y-%m-%dT%H:%M:%S");
  guint64 t;

  vtp_json_write_string (json, stream);
  g_string_append (json, ",\"hostname\":");
  vtp_json_write_string (json, self->hostname);
  g_string_append_printf (json, ",\"seq\":%" G_GUINT64_FORMAT, seq);
  if (desc)                     /* vtp-run --mqtt: the picture's file, a directory's */
    add_string (json, desc, "source", "source");
  /* the described frame's times, from the description when there is one */
  if (desc) {
    pts = gst_structure_get_uint64 (desc, "pts", &t) ? t : GST_CLOCK_TIME_NONE;
    duration = gst_structure_get_uint64 (desc, "duration", &t) ? t : GST_CLOCK_TIME_NONE;
  }
  add_time (json, "pts", pts);
  if (GST_CLOCK_TIME_IS_VALID (pts))
    g_string_append_printf (json, ",\"pts_ns\":%" G_GUINT64_FORMAT, pts);
  add_time (json, "duration", duration);
  g_string_append_printf (json, ",\"utc\":\"%s.%03dZ\",\"text\":", utc, g_date_time_get_microsecond (now) / 1000);
  if (desc && gst_structure_get_string (desc, "text"))
    vtp_json_write_string (json, gst_structure_get_string (desc, "text"));
  else {
    GstMapInfo map;
    g_autofree char *text = NULL;
    if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
      text = g_utf8_make_valid ((const char *) map.data, map.size);
      gst_buffer_unmap (buf, &map);
    }
    vtp_json_write_string (json, text ? text : "");
  }
  if (desc) {
    add_string (json, desc, "prompt", "prompt");
    add_tenths (json, desc, "latency-ms", "latency_ms");
    add_uint (json, desc, "tokens", "tokens");
    add_tenths (json, desc, "prefill-ms", "prefill_ms");
    add_tenths (json, desc, "decode-tokens-per-second", "tokens_per_second");
    add_uint (json, desc, "frames-received", "frames_received");
    add_uint (json, desc, "frames-dropped", "frames_dropped");
    add_regions (json, desc);
  }
  g_string_append_c (json, '}');
  return g_string_free (json, FALSE);
}

static GstFlowReturn
gst_vtp_mqtt_sink_render (GstBaseSink *sink, GstBuffer *buf)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);
  g_autofree char *stream = NULL, *topic = NULL, *expanded = NULL, *json = NULL;
  gint qos;
  gboolean retain, connected, full;
  guint64 seq;
  int rc, mid = 0;

  /* each description once: not the text so far, not a repeat */
  if (GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT)
      || GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DROPPABLE))
    return GST_FLOW_OK;

  stream = stream_name (self);
  GST_OBJECT_LOCK (self);
  topic = g_strdup (self->topic);
  qos = self->qos;
  retain = self->retain;
  GST_OBJECT_UNLOCK (self);
  expanded = expand_topic (topic ? topic : "", stream, self->hostname);
  if (mosquitto_pub_topic_check (expanded) != MOSQ_ERR_SUCCESS) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("vtpmqttsink's topic \"%s\" cannot be published to: an MQTT "
            "topic must not be empty nor hold + or #", expanded), (NULL));
    return GST_FLOW_ERROR;
  }

  g_mutex_lock (&self->lock);
  seq = ++self->seq;
  /* a description made at once (a short file, a text prompt) would go
   * before the connection is up: it waits for the first attempt, a little */
  if (!self->attempted) {
    gint64 until = g_get_monotonic_time () + FIRST_WAIT_US;
    while (!self->attempted && !self->unlocked && g_cond_wait_until (&self->cond, &self->lock, until))
      ;
  }
  connected = self->connected;
  full = g_hash_table_size (self->in_flight) >= MAX_IN_FLIGHT;
  if (!connected || full)
    self->undelivered++;
  g_mutex_unlock (&self->lock);
  if (!connected || full) {
    GST_LOG_OBJECT (self, "description %" G_GUINT64_FORMAT " undelivered: %s", seq,
        connected ? "too many messages waiting" : "no connection");
    return GST_FLOW_OK;
  }

  json = description_json (self, buf, stream, seq);
  rc = mosquitto_publish (self->mosq, &mid, expanded, strlen (json), json, qos, retain);
  g_mutex_lock (&self->lock);
  if (rc != MOSQ_ERR_SUCCESS)
    self->undelivered++;
  else if (g_hash_table_remove (self->sent_early, GINT_TO_POINTER (mid)))
    self->published++;
  else
    g_hash_table_insert (self->in_flight, GINT_TO_POINTER (mid), GINT_TO_POINTER (qos + 1));
  g_mutex_unlock (&self->lock);
  if (rc != MOSQ_ERR_SUCCESS)
    GST_DEBUG_OBJECT (self, "description %" G_GUINT64_FORMAT " undelivered: %s", seq, mosquitto_strerror (rc));
  else
    GST_LOG_OBJECT (self, "%s: %s", expanded, json);
  return GST_FLOW_OK;
}

/* EOS: what is in flight gets its chance, while connected, for a while. */
static gboolean
gst_vtp_mqtt_sink_event (GstBaseSink *sink, GstEvent *event)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);

  if (GST_EVENT_TYPE (event) == GST_EVENT_EOS && self->mosq) {
    gint64 until = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
    g_mutex_lock (&self->lock);
    while (g_hash_table_size (self->in_flight) && self->connected && !self->unlocked
        && g_cond_wait_until (&self->cond, &self->lock, until))
      ;
    GST_DEBUG_OBJECT (self, "EOS: %u messages still in flight", g_hash_table_size (self->in_flight));
    g_mutex_unlock (&self->lock);
  }
  return GST_BASE_SINK_CLASS (parent_class)->event (sink, event);
}

static gboolean
gst_vtp_mqtt_sink_unlock (GstBaseSink *sink)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);

  g_mutex_lock (&self->lock);
  self->unlocked = TRUE;
  g_cond_broadcast (&self->cond);
  g_mutex_unlock (&self->lock);
  return TRUE;
}

static gboolean
gst_vtp_mqtt_sink_unlock_stop (GstBaseSink *sink)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (sink);

  g_mutex_lock (&self->lock);
  self->unlocked = FALSE;
  g_mutex_unlock (&self->lock);
  return TRUE;
}

/* ---- GObject ---- */

static void
set_string (GstVtpMqttSink *self, char **field, const GValue *value)
{
  GST_OBJECT_LOCK (self);
  g_free (*field);
  *field = g_value_dup_string (value);
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_mqtt_sink_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (object);

  switch (prop_id) {
    case PROP_HOST:
      set_string (self, &self->host, value);
      break;
    case PROP_TOPIC:
      set_string (self, &self->topic, value);
      break;
    case PROP_CLIENT_ID:
      set_string (self, &self->client_id, value);
      break;
    case PROP_USERNAME:
      set_string (self, &self->username, value);
      break;
    case PROP_PASSWORD:
      set_string (self, &self->password, value);
      break;
    case PROP_STREAM_ID:
      set_string (self, &self->stream_id, value);
      break;
    case PROP_PORT:
      GST_OBJECT_LOCK (self);
      self->port = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_QOS:
      GST_OBJECT_LOCK (self);
      self->qos = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_KEEPALIVE:
      GST_OBJECT_LOCK (self);
      self->keepalive = g_value_get_int (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_RETAIN:
      GST_OBJECT_LOCK (self);
      self->retain = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TLS:
      GST_OBJECT_LOCK (self);
      self->tls = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TLS_INSECURE:
      GST_OBJECT_LOCK (self);
      self->tls_insecure = g_value_get_boolean (value);
      GST_OBJECT_UNLOCK (self);
      break;
    case PROP_TLS_CA_FILE:
      set_string (self, &self->tls_ca_file, value);
      break;
    case PROP_TLS_CERT_FILE:
      set_string (self, &self->tls_cert_file, value);
      break;
    case PROP_TLS_KEY_FILE:
      set_string (self, &self->tls_key_file, value);
      break;
    case PROP_STATUS_TOPIC:
      set_string (self, &self->status_topic, value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_vtp_mqtt_sink_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_HOST:
      g_value_set_string (value, self->host);
      break;
    case PROP_TOPIC:
      g_value_set_string (value, self->topic);
      break;
    case PROP_CLIENT_ID:
      g_value_set_string (value, self->client_id);
      break;
    case PROP_USERNAME:
      g_value_set_string (value, self->username);
      break;
    case PROP_STREAM_ID:
      g_value_set_string (value, self->stream_id);
      break;
    case PROP_PORT:
      g_value_set_int (value, self->port);
      break;
    case PROP_QOS:
      g_value_set_int (value, self->qos);
      break;
    case PROP_KEEPALIVE:
      g_value_set_int (value, self->keepalive);
      break;
    case PROP_RETAIN:
      g_value_set_boolean (value, self->retain);
      break;
    case PROP_TLS:
      g_value_set_boolean (value, self->tls);
      break;
    case PROP_TLS_INSECURE:
      g_value_set_boolean (value, self->tls_insecure);
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, self->tls_ca_file);
      break;
    case PROP_TLS_CERT_FILE:
      g_value_set_string (value, self->tls_cert_file);
      break;
    case PROP_TLS_KEY_FILE:
      g_value_set_string (value, self->tls_key_file);
      break;
    case PROP_STATUS_TOPIC:
      g_value_set_string (value, self->status_topic);
      break;
    case PROP_PUBLISHED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->published);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_UNDELIVERED:
      g_mutex_lock (&self->lock);
      g_value_set_uint64 (value, self->undelivered);
      g_mutex_unlock (&self->lock);
      break;
    case PROP_CONNECTED:
      g_mutex_lock (&self->lock);
      g_value_set_boolean (value, self->connected);
      g_mutex_unlock (&self->lock);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vtp_mqtt_sink_finalize (GObject *object)
{
  GstVtpMqttSink *self = GST_VTP_MQTT_SINK (object);

  g_free (self->host);
  g_free (self->topic);
  g_free (self->client_id);
  g_free (self->username);
  g_free (self->password);
  g_free (self->stream_id);
  g_free (self->run_host);
  g_free (self->broker);
  g_free (self->hostname);
  g_free (self->reason);
  g_hash_table_unref (self->in_flight);
  g_hash_table_unref (self->sent_early);
  g_hash_table_unref (self->status_mids);
  g_free (self->tls_ca_file);
  g_free (self->tls_cert_file);
  g_free (self->tls_key_file);
  g_free (self->status_topic);
  g_free (self->run_status_topic);
  g_free (self->run_stream);
  g_mutex_clear (&self->lock);
  g_cond_clear (&self->cond);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_mqtt_sink_class_init (GstVtpMqttSinkClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseSinkClass *sink_class = GST_BASE_SINK_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY;
  const GParamFlags live = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  gobject_class->set_property = gst_vtp_mqtt_sink_set_property;
  gobject_class->get_property = gst_vtp_mqtt_sink_get_property;
  gobject_class->finalize = gst_vtp_mqtt_sink_finalize;
  sink_class->start = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_start);
  sink_class->stop = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_stop);
  sink_class->render = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_render);
  sink_class->event = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_event);
  sink_class->unlock = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_unlock);
  sink_class->unlock_stop = GST_DEBUG_FUNCPTR (gst_vtp_mqtt_sink_unlock_stop);

  g_object_class_install_property (gobject_class, PROP_HOST,
      g_param_spec_string ("host", "Broker host", "The MQTT broker's host name or address (read at start)",
          DEFAULT_HOST, rw));
  g_object_class_install_property (gobject_class, PROP_PORT,
      g_param_spec_int ("port", "Broker port", "The MQTT broker's TCP port (read at start)", 1, 65535,
          DEFAULT_PORT, rw));
  g_object_class_install_property (gobject_class, PROP_TOPIC,
      g_param_spec_string ("topic", "Topic", "The topic each description is published to; {stream} stands for "
          "stream-id, {host} for this machine's host name (vtp/{host}/{stream}: a topic per machine and camera)",
          DEFAULT_TOPIC, live));
  g_object_class_install_property (gobject_class, PROP_CLIENT_ID,
      g_param_spec_string ("client-id", "Client id", "The MQTT client id (read at start); unset: a random one. "
          "Two clients with the same id push each other off the broker", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_USERNAME,
      g_param_spec_string ("username", "User name", "The user name given to the broker (read at start); unset: "
          "none (anonymous)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_PASSWORD,
      g_param_spec_string ("password", "Password", "The password given with username (read at start; not "
          "readable)", NULL, G_PARAM_WRITABLE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  /* GstBaseSink's "qos" (QoS events upstream, a boolean) means nothing
   * for a sink of text; MQTT's quality of service takes its name */
  g_object_class_install_property (gobject_class, PROP_QOS,
      g_param_spec_int ("qos", "MQTT QoS", "MQTT quality of service: 0 at most once (counted published when "
          "written to the connection), 1 at least once, 2 exactly once (counted when the broker acknowledges)",
          0, 2, DEFAULT_QOS, live));
  g_object_class_install_property (gobject_class, PROP_KEEPALIVE,
      g_param_spec_int ("keepalive", "Keepalive", "Seconds between pings when nothing is published; a broker "
          "that does not answer within 1.5 times this is taken for gone (read at start)", 5, 65535,
          DEFAULT_KEEPALIVE, rw));
  g_object_class_install_property (gobject_class, PROP_RETAIN,
      g_param_spec_boolean ("retain", "Retain", "Ask the broker to keep the last description of the topic for "
          "subscribers that come later", DEFAULT_RETAIN, live));
  g_object_class_install_property (gobject_class, PROP_STREAM_ID,
      g_param_spec_string ("stream-id", "Stream id", "What identifies this stream (camera) in the JSON's stream "
          "member and {stream} of the topic; unset: the element's name", NULL, live));
  g_object_class_install_property (gobject_class, PROP_PUBLISHED,
      g_param_spec_uint64 ("published", "Published", "Descriptions sent since the start (QoS 0: written to the "
          "connection; 1 and 2: acknowledged by the broker)", 0, G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_UNDELIVERED,
      g_param_spec_uint64 ("undelivered", "Undelivered", "Descriptions dropped since the start: no connection "
          "to the broker, lost with a connection, too many waiting, or not acknowledged at the end", 0,
          G_MAXUINT64, 0, ro));
  g_object_class_install_property (gobject_class, PROP_CONNECTED,
      g_param_spec_boolean ("connected", "Connected", "Whether the broker is connected now", FALSE, ro));
  g_object_class_install_property (gobject_class, PROP_TLS,
      g_param_spec_boolean ("tls", "TLS", "Connect over TLS (read at start; brokers listen for it on port 8883 "
          "by convention): the broker's certificate is checked against tls-ca-file, or the system's CAs in "
          SYSTEM_CA_PATH " when that is unset. Setting tls-ca-file, tls-cert-file or tls-key-file implies it",
          FALSE, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file", "PEM file of the CA(s) the broker's certificate must "
          "come from (read at start; implies tls)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_CERT_FILE,
      g_param_spec_string ("tls-cert-file", "TLS client certificate", "PEM file of this client's certificate, "
          "for brokers that require one (read at start; needs tls-key-file; implies tls)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_KEY_FILE,
      g_param_spec_string ("tls-key-file", "TLS client key", "PEM file of the key of tls-cert-file, not "
          "encrypted (read at start; implies tls)", NULL, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_INSECURE,
      g_param_spec_boolean ("tls-insecure", "TLS without host name check", "Do not check that the broker's "
          "certificate names host (its CA is still checked): for brokers reached by an address their "
          "certificate does not list. Anyone between can then pose as the broker", FALSE, rw));
  g_object_class_install_property (gobject_class, PROP_STATUS_TOPIC,
      g_param_spec_string ("status-topic", "Status topic", "Where this stream's presence is published, "
          "retained: \"online\" on every connection, \"offline\" when the element stops, and as the last "
          "will the broker publishes when the connection ends without a goodbye ({stream} and {host} as in "
          "topic; read at start). Unset: none", NULL, rw));

  gst_element_class_set_static_metadata (element_class, "VTP MQTT publisher", "Sink/Network",
      "Publishes each description as JSON to an MQTT broker", "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  GST_DEBUG_CATEGORY_INIT (gst_vtp_mqtt_sink_debug, "vtpmqttsink", 0, "VTP MQTT publisher");
}

static void
gst_vtp_mqtt_sink_init (GstVtpMqttSink *self)
{
  self->host = g_strdup (DEFAULT_HOST);
  self->port = DEFAULT_PORT;
  self->topic = g_strdup (DEFAULT_TOPIC);
  self->qos = DEFAULT_QOS;
  self->keepalive = DEFAULT_KEEPALIVE;
  self->retain = DEFAULT_RETAIN;
  g_mutex_init (&self->lock);
  g_cond_init (&self->cond);
  self->in_flight = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->sent_early = g_hash_table_new (g_direct_hash, g_direct_equal);
  self->status_mids = g_hash_table_new (g_direct_hash, g_direct_equal);
  gst_base_sink_set_sync (GST_BASE_SINK (self), FALSE);
}
