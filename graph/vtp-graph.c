/* vtp-graph.c: a graph file run on an input (see vtp-graph.h). The
 * pipeline is built element by element from the checked spec: values go
 * to properties as GValues, never through a launch string, so a model path
 * with spaces or quotes works. */
#include "vtp-graph.h"
#include "vtp-graph-spec.h"
#include "vtp-graph-input.h"
#include <string.h>

struct _VtpGraph {
  GObject parent;
  VtpGraphSpec *spec;
  GHashTable *values;           /* parameter name -> value text */
  double duration;              /* live inputs: seconds, 0: until stopped */
  gboolean embeddings;          /* runs give #VtpGraph::embeddings instead of descriptions */

  GMutex lock;                  /* the running pipeline, for vtp_graph_stop */
  GstElement *pipeline;
  VtpGraphInput *input;         /* what it runs on */
  guint64 input_duration;       /* ns, once known */
  gboolean stop;
};

enum { PROP_DURATION = 1, PROP_EMBEDDINGS };
enum { SIGNAL_TEXT, SIGNAL_STATISTICS, SIGNAL_PROGRESS, SIGNAL_SKIPPED, SIGNAL_EMBEDDINGS, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VtpGraph, vtp_graph, G_TYPE_OBJECT)

static VtpGraph *
graph_from_spec (VtpGraphSpec *spec)
{
  VtpGraph *g = g_object_new (VTP_TYPE_GRAPH, NULL);

  g->spec = spec;
  for (guint i = 0; i < spec->params->len; i++) {
    const VtpGraphParam *p = &g_array_index (spec->params, VtpGraphParam, i);
    if (p->default_value)
      g_hash_table_insert (g->values, g_strdup (p->name), g_strdup (p->default_value));
  }
  return g;
}

VtpGraph *
vtp_graph_new_from_file (const char *path, GError **error)
{
  VtpGraphSpec *spec;

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  return (spec = vtp_graph_spec_load (path, error)) ? graph_from_spec (spec) : NULL;
}

VtpGraph *
vtp_graph_new_from_data (const char *json, const char *name, GError **error)
{
  VtpGraphSpec *spec;

  if (!gst_is_initialized ())
    gst_init (NULL, NULL);
  return (spec = vtp_graph_spec_parse (json, -1, name, error)) ? graph_from_spec (spec) : NULL;
}

const char *
vtp_graph_get_name (VtpGraph *g)
{
  return g->spec->name;
}

char **
vtp_graph_list_parameters (VtpGraph *g)
{
  char **names = g_new0 (char *, g->spec->params->len + 1);
  for (guint i = 0; i < g->spec->params->len; i++)
    names[i] = g_strdup (g_array_index (g->spec->params, VtpGraphParam, i).name);
  return names;
}

char *
vtp_graph_describe_parameter (VtpGraph *g, const char *name)
{
  static const char *const types[] = { "string", "path", "int", "number", "boolean" };
  const VtpGraphParam *p = vtp_graph_spec_find_param (g->spec, name);

  if (!p)
    return NULL;
  if (p->required)
    return g_strdup_printf ("%s, required: %s", types[p->type], p->description ? p->description : "");
  return g_strdup_printf ("%s, default \"%s\": %s", types[p->type], p->default_value ? p->default_value
      : "(the element's)", p->description ? p->description : "");
}

gboolean
vtp_graph_set_parameter (VtpGraph *g, const char *name, const char *value, GError **error)
{
  const VtpGraphParam *p = vtp_graph_spec_find_param (g->spec, name);

  if (!p) {
    g_auto (GStrv) names = vtp_graph_list_parameters (g);
    g_autofree char *list = g_strjoinv (", ", names);
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: no parameter \"%s\" (the graph has: %s)",
        g->spec->file, name, *list ? list : "none");
    return FALSE;
  }
  if (!vtp_graph_param_check (g->spec, p, value, error))
    return FALSE;
  g_hash_table_insert (g->values, g_strdup (name), g_strdup (value));
  return TRUE;
}

/* The graph's elements with their properties set, linked, in @bin. */
static gboolean
add_elements (VtpGraph *g, GstBin *bin, GstElement **input, GstElement **output, GError **error)
{
  const VtpGraphSpec *spec = g->spec;
  g_autofree GstElement **els = g_new0 (GstElement *, spec->elements->len);

  for (guint i = 0; i < spec->elements->len; i++) {
    const VtpGraphElement *e = &g_array_index (spec->elements, VtpGraphElement, i);
    if (!(els[i] = gst_element_factory_make (e->factory, e->name))) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INVALID, "%s: $.elements[%u]: cannot make %s",
          spec->file, i, e->factory);
      return FALSE;
    }
    gst_bin_add (bin, els[i]);
    for (guint j = 0; j < e->properties->len; j++) {
      const VtpGraphProperty *p = &g_array_index (e->properties, VtpGraphProperty, j);
      const char *text = p->param ? g_hash_table_lookup (g->values, p->param) : p->value;
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (els[i]), p->name);
      GValue v = G_VALUE_INIT;
      g_autofree char *why = NULL;

      if (!text)
        continue;               /* an unset optional parameter: the element's default */
      if (!vtp_graph_value_from_text (pspec, text, &v, &why)) {
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: parameter \"%s\" for %s's %s: %s",
            spec->file, p->param, e->name, p->name, why);
        g_value_unset (&v);
        return FALSE;
      }
      g_object_set_property (G_OBJECT (els[i]), p->name, &v);
      g_value_unset (&v);
    }
  }
  for (guint i = 0; i < spec->links->len; i++) {
    const VtpGraphLink *l = &g_array_index (spec->links, VtpGraphLink, i);
    if (!gst_element_link_pads (els[l->from], l->from_pad, els[l->to], l->to_pad)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_LINK, "%s: $.links[%u]: %s cannot be linked to %s",
          spec->file, i, GST_ELEMENT_NAME (els[l->from]), GST_ELEMENT_NAME (els[l->to]));
      return FALSE;
    }
  }
  *input = els[spec->input];
  *output = els[spec->output];
  return TRUE;
}

static gboolean
check_required (VtpGraph *g, GError **error)
{
  for (guint i = 0; i < g->spec->params->len; i++) {
    const VtpGraphParam *p = &g_array_index (g->spec->params, VtpGraphParam, i);
    if (p->required && !g_hash_table_contains (g->values, p->name)) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: parameter \"%s\" is required (%s): "
          "set it (vtp-run: --set %s=...)", g->spec->file, p->name, p->description ? p->description : p->name,
          p->name);
      return FALSE;
    }
  }
  return TRUE;
}

/* One bus message; FALSE when the run is over (EOS or error). */
static gboolean
handle_message (VtpGraph *g, GstMessage *m, VtpGraphInput *in, GError **error)
{
  const GstStructure *s;

  switch (GST_MESSAGE_TYPE (m)) {
    case GST_MESSAGE_EOS:
      return FALSE;
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) e = NULL;
      g_autofree char *debug = NULL, *why = NULL;
      gst_message_parse_error (m, &e, &debug);
      /* the input's own errors (an image that cannot be decoded) name the
       * file already and stay input errors; its reader's (a stream that
       * cannot be reached or decoded) name the input */
      if (e->domain == VTP_GRAPH_ERROR)
        g_propagate_error (error, g_steal_pointer (&e));
      else if (vtp_graph_input_owns (in, GST_MESSAGE_SRC (m)) && vtp_graph_input_describe_error (m, &why))
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: cannot read this input: %s",
            vtp_graph_input_source_at (in, GST_CLOCK_TIME_NONE), why);
      else
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_RUN, "%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
            e->message);
      return FALSE;
    }
    case GST_MESSAGE_ELEMENT:
      s = gst_message_get_structure (m);
      if (gst_structure_has_name (s, "vtp-text")) {
        guint64 pts = GST_CLOCK_TIME_NONE, duration = GST_CLOCK_TIME_NONE;
        double latency = 0, prefill = 0, tps = 0;
        guint tokens = 0;
        gst_structure_get_uint64 (s, "pts", &pts);
        gst_structure_get_uint64 (s, "duration", &duration);
        gst_structure_get_double (s, "latency-ms", &latency);
        gst_structure_get (s, "tokens", G_TYPE_UINT, &tokens, "prefill-ms", G_TYPE_DOUBLE, &prefill,
            "decode-tokens-per-second", G_TYPE_DOUBLE, &tps, NULL);
        g_signal_emit (g, signals[SIGNAL_STATISTICS], 0, vtp_graph_input_source_at (in, pts), tokens, prefill, tps);
        g_signal_emit (g, signals[SIGNAL_TEXT], 0, vtp_graph_input_source_at (in, pts),
            gst_structure_get_string (s, "text"), pts, duration, latency);
      } else if (gst_structure_has_name (s, "vtp-embeddings")) {
        guint64 pts = GST_CLOCK_TIME_NONE;
        guint tokens = 0, width = 0;
        GBytes *data = NULL;
        gst_structure_get (s, "pts", G_TYPE_UINT64, &pts, "tokens", G_TYPE_UINT, &tokens, "width", G_TYPE_UINT,
            &width, "data", G_TYPE_BYTES, &data, NULL);
        g_signal_emit (g, signals[SIGNAL_EMBEDDINGS], 0, vtp_graph_input_source_at (in, pts),
            gst_structure_get_string (s, "kind"), pts, tokens, width, data, NULL);
        g_bytes_unref (data);
      } else if (gst_structure_has_name (s, "vtp-skipped"))
        g_signal_emit (g, signals[SIGNAL_SKIPPED], 0, gst_structure_get_string (s, "source"),
            gst_structure_get_string (s, "message"));
      return TRUE;
    default:
      return TRUE;
  }
}

/* A directory's images that could not be decoded were skipped (each
 * reported by #VtpGraph::skipped); the run still fails on them, as an
 * input error, so a caller never takes a partial result for a whole one. */
static gboolean
check_unreadable (VtpGraphInput *in, const char *input, GError **error)
{
  guint total, bad = vtp_graph_input_unreadable (in, &total);

  if (!bad)
    return TRUE;
  g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: %u of %u images could not be read (each was "
      "reported as it was skipped); the others were described", input, bad, total);
  return FALSE;
}

/* The graph's language model element (vtpllm), NULL when it has none. */
static GstElement *
find_llm (GstBin *bin)
{
  GstIterator *it = gst_bin_iterate_elements (bin);
  GValue v = G_VALUE_INIT;
  GstElement *found = NULL;

  while (!found && gst_iterator_next (it, &v) == GST_ITERATOR_OK) {
    GstElement *e = g_value_get_object (&v);
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && !g_strcmp0 (GST_OBJECT_NAME (f), "vtpllm"))
      found = gst_object_ref (e);
    g_value_reset (&v);
  }
  g_value_unset (&v);
  gst_iterator_free (it);
  return found;
}

static gboolean
no_llm (VtpGraph *g, GError **error)
{
  g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INVALID, "%s: embeddings are taken where a bridge hands "
      "them to the language model, vtpllm's input, and this graph has no vtpllm", g->spec->file);
  return FALSE;
}

/* Embeddings mode, a picture input: each tensor arriving at vtpllm (the
 * bridge's rows, as the language model would read them) goes to the bus
 * as "vtp-embeddings" and no further: nothing is generated. */
static GstPadProbeReturn
tap_embeddings (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  const GstStructure *c = caps && gst_caps_get_size (caps) == 1 ? gst_caps_get_structure (caps, 0) : NULL;
  GstElement *llm = GST_ELEMENT (data);
  gint tokens = 0, width = 0;
  GstMapInfo map;
  GBytes *bytes;

  if (!c || !gst_structure_has_name (c, "application/x-vtp-tensor"))
    return GST_PAD_PROBE_OK;    /* text prompts: described as usual */
  if (!gst_structure_get_int (c, "tokens", &tokens) || !gst_structure_get_int (c, "width", &width)
      || tokens <= 0 || width <= 0 || !gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_ELEMENT_ERROR (llm, STREAM, FAILED, ("The embeddings at vtpllm's input cannot be read"),
        ("caps %" GST_PTR_FORMAT, caps));
    return GST_PAD_PROBE_DROP;
  }
  if (map.size != (gsize) tokens * width * sizeof (float)) {
    gst_buffer_unmap (buf, &map);
    GST_ELEMENT_ERROR (llm, STREAM, FAILED, ("The embeddings at vtpllm's input hold %" G_GSIZE_FORMAT " bytes, "
            "not %d x %d floats", map.size, tokens, width), (NULL));
    return GST_PAD_PROBE_DROP;
  }
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buf, &map);
  gst_element_post_message (llm, gst_message_new_element (GST_OBJECT (llm), gst_structure_new ("vtp-embeddings",
              "pts", G_TYPE_UINT64, (guint64) GST_BUFFER_PTS (buf), "kind", G_TYPE_STRING,
              gst_structure_get_string (c, "kind"), "tokens", G_TYPE_UINT, (guint) tokens, "width", G_TYPE_UINT,
              (guint) width, "data", G_TYPE_BYTES, bytes, NULL)));
  g_bytes_unref (bytes);
  return GST_PAD_PROBE_DROP;
}

/* Embeddings mode, a text input: the graph's language model alone, loaded
 * unlinked (vtpllm then takes any input: no prompt is needed), gives each
 * prompt's (caption's) input embeddings through its embed-text signal. */
static gboolean
embed_texts (VtpGraph *g, VtpGraphInput *in, GError **error)
{
  g_autoptr (GstElement) pipe = gst_pipeline_new (g->spec->name);
  g_autoptr (GstElement) llm = NULL;
  g_autoptr (GstPad) sink = NULL, peer = NULL;
  g_autoptr (GstBus) bus = NULL;
  GstElement *first, *last;
  gboolean ok = TRUE, stopped = FALSE;

  if (!add_elements (g, GST_BIN (pipe), &first, &last, error))
    return FALSE;
  if (!(llm = find_llm (GST_BIN (pipe))))
    return no_llm (g, error);
  sink = gst_element_get_static_pad (llm, "sink");
  if ((peer = gst_pad_get_peer (sink)))
    gst_pad_unlink (peer, sink);
  bus = gst_element_get_bus (pipe);
  g_signal_emit (g, signals[SIGNAL_PROGRESS], 0, "loading the models");
  if (gst_element_set_state (llm, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (m) {
      handle_message (g, m, in, error);
      gst_message_unref (m);
    } else
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_RUN, "%s: the language model does not load",
          g->spec->file);
    gst_element_set_state (llm, GST_STATE_NULL);
    return FALSE;
  }
  g_signal_emit (g, signals[SIGNAL_PROGRESS], 0, "running");
  for (guint i = 0; ok && !stopped && i < vtp_graph_input_images (in); i++) {
    const char *text = vtp_graph_input_source_at (in, i * GST_SECOND);
    GstStructure *s = NULL;
    g_signal_emit_by_name (llm, "embed-text", text, &s);
    if (!s || !gst_structure_has_name (s, "vtp-text-embeddings")) {
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_INPUT, "%s: %s", text,
          s ? gst_structure_get_string (s, "message") : "no embeddings");
      ok = FALSE;
    } else {
      gint tokens = 0, width = 0;
      GBytes *data = NULL, *ids = NULL;
      gst_structure_get (s, "tokens", G_TYPE_INT, &tokens, "width", G_TYPE_INT, &width, "data", G_TYPE_BYTES,
          &data, "ids", G_TYPE_BYTES, &ids, NULL);
      g_signal_emit (g, signals[SIGNAL_EMBEDDINGS], 0, text, "text", (guint64) i * GST_SECOND, (guint) tokens,
          (guint) width, data, ids);
      g_bytes_unref (data);
      g_bytes_unref (ids);
    }
    if (s)
      gst_structure_free (s);
    g_mutex_lock (&g->lock);
    stopped = g->stop;
    g_mutex_unlock (&g->lock);
  }
  gst_element_set_state (llm, GST_STATE_NULL);
  return ok;
}

gboolean
vtp_graph_run (VtpGraph *g, const char *input, GError **error)
{
  g_autoptr (VtpGraphInput) in = NULL;
  GstElement *pipe, *first, *last, *sink;
  GstBus *bus;
  gboolean ok = TRUE, running = TRUE;
  gint64 end = 0;

  if (!check_required (g, error) || !(in = vtp_graph_input_new (input, error)))
    return FALSE;
  if (g->embeddings && vtp_graph_input_is_text (in)) {
    g_mutex_lock (&g->lock);
    g->input = in;
    g->stop = FALSE;
    g_mutex_unlock (&g->lock);
    ok = embed_texts (g, in, error);
    g_mutex_lock (&g->lock);
    g->input = NULL;
    g_mutex_unlock (&g->lock);
    return ok;
  }
  pipe = gst_pipeline_new (g->spec->name);
  sink = gst_element_factory_make ("fakesink", NULL);
  g_object_set (sink, "sync", vtp_graph_input_is_live (in), "async", FALSE, NULL);
  gst_bin_add (GST_BIN (pipe), sink);
  if (!add_elements (g, GST_BIN (pipe), &first, &last, error) || !gst_element_link (last, sink)
      || !vtp_graph_input_attach (in, GST_BIN (pipe), first, error)) {
    if (error && !*error)
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_LINK, "%s: the output element gives no text",
          g->spec->file);
    gst_object_unref (pipe);
    return FALSE;
  }
  if (g->embeddings) {
    GstElement *llm = find_llm (GST_BIN (pipe));
    GstPad *pad;
    if (!llm) {
      gst_object_unref (pipe);
      return no_llm (g, error);
    }
    pad = gst_element_get_static_pad (llm, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, tap_embeddings, llm, gst_object_unref);
    gst_object_unref (pad);
  }
  g_mutex_lock (&g->lock);
  g->pipeline = gst_object_ref (pipe);
  g->input = in;
  g->input_duration = vtp_graph_input_known_duration (in);
  g->stop = FALSE;
  g_mutex_unlock (&g->lock);

  bus = gst_element_get_bus (pipe);
  g_signal_emit (g, signals[SIGNAL_PROGRESS], 0, "loading the models");
  if (gst_element_set_state (pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    GstMessage *m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    if (m) {
      handle_message (g, m, in, error);
      gst_message_unref (m);
    } else
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_RUN, "%s: the pipeline does not start", g->spec->file);
    ok = FALSE;
    running = FALSE;
  } else {
    g_signal_emit (g, signals[SIGNAL_PROGRESS], 0, "running");
    vtp_graph_input_start (in);
  }
  if (g->duration > 0 && vtp_graph_input_is_live (in))
    end = g_get_monotonic_time () + (gint64) (g->duration * G_USEC_PER_SEC);
  while (running) {
    GstMessage *m = gst_bus_timed_pop (bus, 100 * GST_MSECOND);
    if (m) {
      running = handle_message (g, m, in, error);
      ok = ok && !(error && *error) && GST_MESSAGE_TYPE (m) != GST_MESSAGE_ERROR;
      gst_message_unref (m);
    }
    if (end && g_get_monotonic_time () >= end) {
      end = 0;
      vtp_graph_stop (g);
    }
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  vtp_graph_input_finish (in);  /* the feeder's pushes fail once the pipeline is stopped */
  if (ok)
    ok = check_unreadable (in, input, error);
  g_mutex_lock (&g->lock);
  g_clear_object (&g->pipeline);
  g->input = NULL;
  g_mutex_unlock (&g->lock);
  gst_object_unref (bus);
  gst_object_unref (pipe);
  return ok;
}

gboolean
vtp_graph_get_input_size (VtpGraph *g, guint *images, guint64 *duration)
{
  gboolean running;
  gint64 d;

  g_mutex_lock (&g->lock);
  running = g->input != NULL;
  if (images)
    *images = running ? vtp_graph_input_images (g->input) : 0;
  if (running && !GST_CLOCK_TIME_IS_VALID (g->input_duration) && !vtp_graph_input_is_live (g->input)
      && !vtp_graph_input_images (g->input) && gst_element_query_duration (g->pipeline, GST_FORMAT_TIME, &d)
      && d > 0)
    g->input_duration = d;
  if (duration)
    *duration = running ? g->input_duration : GST_CLOCK_TIME_NONE;
  g_mutex_unlock (&g->lock);
  return running;
}

gboolean
vtp_graph_probe_input (const char *input, gboolean *is_directory, guint *images)
{
  g_autoptr (VtpGraphInput) in = input ? vtp_graph_input_new (input, NULL) : NULL;

  if (is_directory)
    *is_directory = in && vtp_graph_input_is_directory (in);
  if (images)
    *images = in ? vtp_graph_input_images (in) : 0;
  return in != NULL;
}

void
vtp_graph_stop (VtpGraph *g)
{
  GstElement *pipe = NULL;

  g_mutex_lock (&g->lock);
  if (g->pipeline && !g->stop)
    pipe = gst_object_ref (g->pipeline);
  g->stop = TRUE;
  g_mutex_unlock (&g->lock);
  if (pipe) {
    /* EOS from the sources: what is being described finishes */
    gst_element_send_event (pipe, gst_event_new_eos ());
    gst_object_unref (pipe);
  }
}

static void
vtp_graph_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  if (prop_id == PROP_DURATION)
    VTP_GRAPH (object)->duration = g_value_get_double (value);
  else if (prop_id == PROP_EMBEDDINGS)
    VTP_GRAPH (object)->embeddings = g_value_get_boolean (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
vtp_graph_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  if (prop_id == PROP_DURATION)
    g_value_set_double (value, VTP_GRAPH (object)->duration);
  else if (prop_id == PROP_EMBEDDINGS)
    g_value_set_boolean (value, VTP_GRAPH (object)->embeddings);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
vtp_graph_finalize (GObject *object)
{
  VtpGraph *g = VTP_GRAPH (object);
  vtp_graph_spec_free (g->spec);
  g_hash_table_unref (g->values);
  g_mutex_clear (&g->lock);
  G_OBJECT_CLASS (vtp_graph_parent_class)->finalize (object);
}

static void
vtp_graph_class_init (VtpGraphClass *klass)
{
  GObjectClass *oc = G_OBJECT_CLASS (klass);

  oc->set_property = vtp_graph_set_property;
  oc->get_property = vtp_graph_get_property;
  oc->finalize = vtp_graph_finalize;
  /**
   * VtpGraph:duration:
   *
   * Live inputs: stop after this many seconds (0: until vtp_graph_stop()).
   */
  g_object_class_install_property (oc, PROP_DURATION, g_param_spec_double ("duration", "Duration",
          "Live inputs: seconds to run (0: until stopped)", 0, G_MAXDOUBLE, 0,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  /**
   * VtpGraph:embeddings:
   *
   * Runs give embeddings, not descriptions (docs/embeddings.md): for each
   * picture (image, directory, video frame) the rows its bridge hands the
   * language model, taken at vtpllm's input (LLaVA's projected image
   * tokens, the Q-Former's queries after the language projection,
   * LLaMA-Adapter V2's adaption prompts), and nothing is generated; for a
   * text input (text:CAPTION, a .txt file of captions, on any graph with a
   * vtpllm) the language model's input embeddings of each caption, from
   * the language model alone. Each comes as #VtpGraph::embeddings. A graph
   * without vtpllm fails the run (%VTP_GRAPH_ERROR_INVALID).
   */
  g_object_class_install_property (oc, PROP_EMBEDDINGS, g_param_spec_boolean ("embeddings", "Embeddings",
          "Runs give the embeddings handed to the language model (#VtpGraph::embeddings), not descriptions", FALSE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  /**
   * VtpGraph::embeddings:
   * @graph: the graph
   * @source: the picture's file or input, or the caption
   * @kind: "image-embeddings" (LLaVA's projector), "query-embeddings"
   *   (Q-Former), "adapter-prompts" (LLaMA-Adapter V2: layer by layer),
   *   or "text" (a caption's input embeddings)
   * @pts: the frame's time (ns; images and captions: their index in seconds)
   * @tokens: rows
   * @width: floats a row (the language model's input width)
   * @data: float32 [tokens, width], row-major, in host byte order
   * @ids: (nullable): text: the caption's token ids (int32 each: the
   *   tokenizer's alone, no BOS or template); NULL for pictures
   *
   * One picture's or caption's embeddings, in #VtpGraph:embeddings runs,
   * emitted from the thread running vtp_graph_run().
   */
  signals[SIGNAL_EMBEDDINGS] = g_signal_new ("embeddings", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 7, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT, G_TYPE_UINT, G_TYPE_BYTES,
      G_TYPE_BYTES);
  /**
   * VtpGraph::text:
   * @graph: the graph
   * @source: the image file, video file or live input described
   * @text: the description
   * @pts: the described frame's time (ns; images: their index in seconds)
   * @duration: the frame's duration (ns)
   * @latency_ms: from the frame's arrival at the encoder to the text
   *
   * A description, emitted from the thread running vtp_graph_run().
   */
  signals[SIGNAL_TEXT] = g_signal_new ("text", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
      G_TYPE_NONE, 5, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_UINT64, G_TYPE_UINT64, G_TYPE_DOUBLE);
  /**
   * VtpGraph::statistics:
   * @graph: the graph
   * @source: the image file, video file or live input described
   * @tokens: the description's length in tokens
   * @prefill_ms: the LLM's prefill of the prompt with the image tokens or queries
   * @tokens_per_second: decoding speed after the prefill: forward steps per
   *   second, the step that produced the end of sequence included
   *
   * How the next #VtpGraph::text was made; emitted just before it, from
   * the same thread.
   */
  signals[SIGNAL_STATISTICS] = g_signal_new ("statistics", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL,
      NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING, G_TYPE_UINT, G_TYPE_DOUBLE, G_TYPE_DOUBLE);
  /**
   * VtpGraph::progress:
   * @graph: the graph
   * @what: "loading the models", "running"
   *
   * Where a run is, for progress displays.
   */
  signals[SIGNAL_PROGRESS] = g_signal_new ("progress", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  /**
   * VtpGraph::skipped:
   * @graph: the graph
   * @source: the image file
   * @message: why it could not be read (names the file)
   *
   * An image of a directory that cannot be decoded: the run goes on with
   * the others and vtp_graph_run() then fails with %VTP_GRAPH_ERROR_INPUT.
   * Emitted from the thread running vtp_graph_run().
   */
  signals[SIGNAL_SKIPPED] = g_signal_new ("skipped", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
      NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vtp_graph_init (VtpGraph *g)
{
  g->values = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  g_mutex_init (&g->lock);
}
