/* vtp-graph-spec.c: reading and checking graph files (see vtp-graph-spec.h). */
#include "vtp-graph-spec.h"
#include "vtp-json.h"
#include "vtp-model-path.h"
#include <string.h>

G_DEFINE_QUARK (vtp-graph-error-quark, vtp_graph_error)
/* a GType for introspection: Vtp.GraphError, the domain of GLib.Error */
G_DEFINE_ENUM_TYPE (VtpGraphError, vtp_graph_error,
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_PARSE, "parse"),
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_INVALID, "invalid"),
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_PARAMETER, "parameter"),
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_LINK, "link"),
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_INPUT, "input"),
    G_DEFINE_ENUM_VALUE (VTP_GRAPH_ERROR_RUN, "run"))

static const char *const param_types[] = { "string", "path", "int", "number", "boolean", NULL };

/* "FILE: $.PATH: what" */
static gboolean G_GNUC_PRINTF (5, 6)
fail (GError **error, VtpGraphError code, const char *file, const char *path, const char *fmt, ...)
{
  va_list ap;
  g_autofree char *what = NULL;

  va_start (ap, fmt);
  what = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (error, VTP_GRAPH_ERROR, code, "%s: %s: %s", file, path, what);
  return FALSE;
}

static const char *
node_kind (JsonNode *n)
{
  if (JSON_NODE_HOLDS_OBJECT (n))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (n))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (n))
    return "null";
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    return "a string";
  if (json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    return "a boolean";
  return "a number";
}

/* Members of @o not in @known are errors: a typo is not silently ignored. */
static gboolean
check_members (JsonObject *o, const char *const *known, const char *file, const char *path, GError **error)
{
  g_autoptr (GList) members = json_object_get_members (o);

  for (GList *l = members; l; l = l->next) {
    if (!g_strv_contains (known, l->data)) {
      g_autofree char *list = g_strjoinv (", ", (char **) known);
      return fail (error, VTP_GRAPH_ERROR_INVALID, file, path, "unknown member \"%s\" (expected %s)",
          (const char *) l->data, list);
    }
  }
  return TRUE;
}

/* A string member; NULL (and an error when @required) if absent or not a string. */
static const char *
get_string (JsonObject *o, const char *member, gboolean required, const char *file, const char *path,
    GError **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (!n) {
    if (required)
      fail (error, VTP_GRAPH_ERROR_INVALID, file, path, "missing member \"%s\" (a string)", member);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING) {
    fail (error, VTP_GRAPH_ERROR_INVALID, file, path, "\"%s\" must be a string, not %s", member, node_kind (n));
    return NULL;
  }
  return json_node_get_string (n);
}

/* A boolean member into @out, left as it is when absent; FALSE (an error)
 * when it is anything but true or false. */
static gboolean
get_boolean (JsonObject *o, const char *member, gboolean *out, const char *file, const char *path, GError **error)
{
  JsonNode *n = json_object_get_member (o, member);

  if (!n)
    return TRUE;
  /* json-glib's own getter meets an array or object with a critical */
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail (error, VTP_GRAPH_ERROR_INVALID, file, path, "\"%s\" must be true or false, not %s", member,
        node_kind (n));
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* A scalar as text: strings as they are, numbers and booleans as JSON
 * writes them. NULL for arrays, objects and null. */
static char *
scalar_text (JsonNode *n)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!JSON_NODE_HOLDS_VALUE (n))
    return NULL;
  if (json_node_get_value_type (n) == G_TYPE_STRING)
    return g_strdup (json_node_get_string (n));
  if (json_node_get_value_type (n) == G_TYPE_BOOLEAN)
    return g_strdup (json_node_get_boolean (n) ? "true" : "false");
  if (json_node_get_value_type (n) == G_TYPE_INT64)
    return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
  return g_strdup (g_ascii_dtostr (buf, sizeof buf, json_node_get_double (n)));
}

static gboolean
valid_name (const char *s)
{
  if (!*s)
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_' && *s != '-')
      return FALSE;
  return TRUE;
}

static void
clear_param (VtpGraphParam *p)
{
  g_free (p->name);
  g_free (p->description);
  g_free (p->default_value);
}

static void
clear_property (VtpGraphProperty *p)
{
  g_free (p->name);
  g_free (p->value);
  g_free (p->param);
}

static void
clear_element (VtpGraphElement *e)
{
  g_free (e->name);
  g_free (e->factory);
  g_array_unref (e->properties);
}

static void
clear_link (VtpGraphLink *l)
{
  g_free (l->from_pad);
  g_free (l->to_pad);
}

void
vtp_graph_spec_free (VtpGraphSpec *spec)
{
  if (!spec)
    return;
  g_free (spec->file);
  g_free (spec->name);
  g_free (spec->description);
  g_array_unref (spec->params);
  g_array_unref (spec->elements);
  g_array_unref (spec->links);
  g_free (spec);
}

const VtpGraphParam *
vtp_graph_spec_find_param (const VtpGraphSpec *spec, const char *name)
{
  for (guint i = 0; i < spec->params->len; i++)
    if (!strcmp (g_array_index (spec->params, VtpGraphParam, i).name, name))
      return &g_array_index (spec->params, VtpGraphParam, i);
  return NULL;
}

static gint
find_element (const VtpGraphSpec *spec, const char *name)
{
  for (guint i = 0; i < spec->elements->len; i++)
    if (!strcmp (g_array_index (spec->elements, VtpGraphElement, i).name, name))
      return (gint) i;
  return -1;
}

gboolean
vtp_graph_param_check (const VtpGraphSpec *spec, const VtpGraphParam *p, const char *value, GError **error)
{
  char *end = NULL;
  const char *expected = NULL;

  switch (p->type) {
    case VTP_PARAM_STRING:
      return TRUE;
    case VTP_PARAM_PATH:
      if (g_file_test (value, G_FILE_TEST_EXISTS))
        return TRUE;
      if (p->model) {
        /* the elements' own lookup: a name in $VTP_MODEL_PATH */
        g_autofree char *found = NULL, *why = NULL;
        if ((found = vtp_model_path_resolve (value, &why)))
          return TRUE;
        g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: parameter \"%s\" (%s): %s",
            spec->file, p->name, p->description ? p->description : "a model", why);
        return FALSE;
      }
      g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: parameter \"%s\": %s does not exist "
          "(expected %s)", spec->file, p->name, value, p->description ? p->description : "a path");
      return FALSE;
    case VTP_PARAM_INT:
      g_ascii_strtoll (value, &end, 10);
      expected = "an integer";
      break;
    case VTP_PARAM_NUMBER:
      g_ascii_strtod (value, &end);
      expected = "a number";
      break;
    case VTP_PARAM_BOOLEAN:
      if (!strcmp (value, "true") || !strcmp (value, "false"))
        return TRUE;
      expected = "true or false";
      break;
  }
  if (end && end != value && *end == '\0')
    return TRUE;
  g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARAMETER, "%s: parameter \"%s\": \"%s\" is not %s",
      spec->file, p->name, value, expected);
  return FALSE;
}

static gboolean
parse_params (VtpGraphSpec *spec, JsonObject *root, GError **error)
{
  static const char *const known[] = { "type", "description", "required", "default", NULL };
  JsonNode *n = json_object_get_member (root, "parameters");
  g_autoptr (GList) names = NULL;

  if (!n)
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, "$.parameters", "expected an object of "
        "parameters, not %s", node_kind (n));
  names = json_object_get_members (json_node_get_object (n));
  for (GList *l = names; l; l = l->next) {
    g_autofree char *path = g_strdup_printf ("$.parameters.%s", (const char *) l->data);
    JsonNode *pn = json_object_get_member (json_node_get_object (n), l->data);
    JsonObject *po;
    VtpGraphParam p = { 0 };
    const char *type;
    JsonNode *d;

    if (!valid_name (l->data))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "a parameter name is letters, digits, - and _");
    if (!JSON_NODE_HOLDS_OBJECT (pn))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "expected an object with \"type\", not %s",
          node_kind (pn));
    po = json_node_get_object (pn);
    if (!check_members (po, known, spec->file, path, error) || !(type = get_string (po, "type", TRUE, spec->file,
                path, error)))
      return FALSE;
    if (!g_strv_contains (param_types, type)) {
      g_autofree char *list = g_strjoinv (", ", (char **) param_types);
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "type \"%s\" is not one of %s", type, list);
    }
    for (p.type = 0; strcmp (param_types[p.type], type); p.type++)
      ;
    if ((json_object_has_member (po, "description")
            && !get_string (po, "description", TRUE, spec->file, path, error))
        || !get_boolean (po, "required", &p.required, spec->file, path, error))
      return FALSE;
    p.name = g_strdup (l->data);
    p.description = g_strdup (json_object_get_string_member_with_default (po, "description", NULL));
    if ((d = json_object_get_member (po, "default")) && !(p.default_value = scalar_text (d))) {
      clear_param (&p);
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "\"default\" must be a string, number or "
          "boolean, not %s", node_kind (d));
    }
    g_array_append_val (spec->params, p);
  }
  return TRUE;
}

gboolean
vtp_graph_value_from_text (GParamSpec *pspec, const char *text, GValue *value, char **why)
{
  g_value_init (value, pspec->value_type);
  if (G_VALUE_HOLDS_STRING (value)) {
    g_value_set_string (value, text);
    return TRUE;
  }
  if (!gst_value_deserialize (value, text)) {
    *why = g_strdup_printf ("\"%s\" is not a %s", text, g_type_name (pspec->value_type));
    return FALSE;
  }
  if (g_param_value_validate (pspec, value)) {
    *why = g_strdup_printf ("%s is out of range for %s", text, g_type_name (pspec->value_type));
    return FALSE;
  }
  return TRUE;
}

/* The element's properties: each one writable, each literal of its type,
 * each "${name}" a declared parameter. */
static gboolean
parse_properties (VtpGraphSpec *spec, VtpGraphElement *e, JsonNode *n, const char *epath, GObjectClass *klass,
    gboolean vtp_element, GError **error)
{
  g_autoptr (GList) names = NULL;
  g_autofree char *ppath = g_strdup_printf ("%s.properties", epath);

  if (!JSON_NODE_HOLDS_OBJECT (n))
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, ppath, "expected an object, not %s", node_kind (n));
  names = json_object_get_members (json_node_get_object (n));
  for (GList *l = names; l; l = l->next) {
    g_autofree char *path = g_strdup_printf ("%s.%s", ppath, (const char *) l->data);
    JsonNode *vn = json_object_get_member (json_node_get_object (n), l->data);
    GParamSpec *pspec = g_object_class_find_property (klass, l->data);
    VtpGraphProperty p = { 0 };
    g_autofree char *text = scalar_text (vn);

    if (!pspec || !(pspec->flags & G_PARAM_WRITABLE) || (pspec->flags & G_PARAM_CONSTRUCT_ONLY))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "%s has no writable property \"%s\"",
          e->factory, (const char *) l->data);
    if (!text)
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "expected a string, number or boolean, not %s",
          node_kind (vn));
    if (g_str_has_prefix (text, "${") && g_str_has_suffix (text, "}")) {
      g_autofree char *param = g_strndup (text + 2, strlen (text) - 3);
      if (!vtp_graph_spec_find_param (spec, param))
        return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "no parameter \"%s\" is declared in "
            "$.parameters", param);
      /* a vtp element's model or adapter takes a name in $VTP_MODEL_PATH */
      if (vtp_element && (!strcmp (pspec->name, "model") || !strcmp (pspec->name, "adapter")))
        for (guint i = 0; i < spec->params->len; i++)
          if (!strcmp (g_array_index (spec->params, VtpGraphParam, i).name, param))
            g_array_index (spec->params, VtpGraphParam, i).model = TRUE;
      p.param = g_steal_pointer (&param);
    } else {
      GValue v = G_VALUE_INIT;
      g_autofree char *why = NULL;
      gboolean ok = vtp_graph_value_from_text (pspec, text, &v, &why);
      g_value_unset (&v);
      if (!ok)
        return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "%s", why);
      p.value = g_steal_pointer (&text);
    }
    p.name = g_strdup (l->data);
    g_array_append_val (e->properties, p);
  }
  return TRUE;
}

static gboolean
parse_elements (VtpGraphSpec *spec, JsonObject *root, GError **error)
{
  static const char *const known[] = { "name", "factory", "properties", NULL };
  JsonNode *n = json_object_get_member (root, "elements");
  JsonArray *a;

  if (!n || !JSON_NODE_HOLDS_ARRAY (n) || !json_array_get_length (json_node_get_array (n)))
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, "$.elements", "expected a non-empty array of "
        "elements%s%s", n ? ", not " : "", n ? node_kind (n) : "");
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    g_autofree char *path = g_strdup_printf ("$.elements[%u]", i);
    JsonNode *en = json_array_get_element (a, i);
    JsonObject *eo;
    const char *name, *factory_name;
    g_autoptr (GstElementFactory) factory = NULL;
    GstPluginFeature *loaded;
    VtpGraphElement e = { 0 };
    GObjectClass *klass;
    JsonNode *props;
    gboolean ok = TRUE;

    if (!JSON_NODE_HOLDS_OBJECT (en))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "expected an object, not %s", node_kind (en));
    eo = json_node_get_object (en);
    if (!check_members (eo, known, spec->file, path, error)
        || !(name = get_string (eo, "name", TRUE, spec->file, path, error))
        || !(factory_name = get_string (eo, "factory", TRUE, spec->file, path, error)))
      return FALSE;
    if (!valid_name (name))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "element name \"%s\": letters, digits, - "
          "and _ only", name);
    if (find_element (spec, name) >= 0)
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "a second element named \"%s\"", name);
    if (!(factory = gst_element_factory_find (factory_name)))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "unknown element \"%s\" (no such GStreamer "
          "element is installed%s)", factory_name, g_str_has_prefix (factory_name, "vtp") ? "; is the vtp plugin "
          "on GST_PLUGIN_PATH?" : "");
    if (!(loaded = gst_plugin_feature_load (GST_PLUGIN_FEATURE (factory))))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "element \"%s\" cannot be loaded",
          factory_name);
    gst_object_unref (factory);
    factory = GST_ELEMENT_FACTORY (loaded);
    e.name = g_strdup (name);
    e.factory = g_strdup (factory_name);
    e.properties = g_array_new (FALSE, TRUE, sizeof (VtpGraphProperty));
    g_array_set_clear_func (e.properties, (GDestroyNotify) clear_property);
    if ((props = json_object_get_member (eo, "properties"))) {
      klass = g_type_class_ref (gst_element_factory_get_element_type (factory));
      ok = parse_properties (spec, &e, props, path, klass,
          !g_strcmp0 (gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (factory)), "vtp"), error);
      g_type_class_unref (klass);
    }
    g_array_append_val (spec->elements, e);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* "name" or "name.pad" of a link end. */
static gboolean
link_end (VtpGraphSpec *spec, JsonObject *lo, const char *member, const char *path, guint *index, char **pad,
    GError **error)
{
  const char *s = get_string (lo, member, TRUE, spec->file, path, error);
  g_auto (GStrv) parts = NULL;
  gint i;

  if (!s)
    return FALSE;
  parts = g_strsplit (s, ".", 2);
  /* g_strsplit ("") gives no parts at all, and "enc." an empty pad name:
   * neither names anything to link */
  if (!parts[0] || !*parts[0] || (parts[1] && !*parts[1]))
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "\"%s\" is \"%s\": expected an element "
        "name from $.elements, or \"element.pad\"", member, s);
  if ((i = find_element (spec, parts[0])) < 0)
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "\"%s\": no element named \"%s\" in "
        "$.elements", member, parts[0]);
  *index = i;
  *pad = parts[1] ? g_strdup (parts[1]) : NULL;
  return TRUE;
}

/* The caps a factory's pad template of @direction (named @pad, or any)
 * allows; NULL when it has none. */
static GstCaps *
template_caps (const char *factory_name, GstPadDirection direction, const char *pad)
{
  g_autoptr (GstElementFactory) factory = gst_element_factory_find (factory_name);
  GstCaps *caps = NULL;

  for (const GList *l = gst_element_factory_get_static_pad_templates (factory); l; l = l->next) {
    GstStaticPadTemplate *t = l->data;
    if (t->direction != direction || (pad && !g_str_equal (t->name_template, pad)
            && !(t->presence == GST_PAD_REQUEST && strchr (t->name_template, '%'))))
      continue;
    if (!caps)
      caps = gst_caps_new_empty ();
    caps = gst_caps_merge (caps, gst_static_caps_get (&t->static_caps));
  }
  return caps;
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Whether @factory has a pad template of @direction whose caps are ANY
 * (a queue, a tee: they pass anything and convert nothing). */
static gboolean
has_any_template (GstElementFactory *factory, GstPadDirection direction)
{
  for (const GList *l = gst_element_factory_get_static_pad_templates (factory); l; l = l->next) {
    GstStaticPadTemplate *t = l->data;
    g_autoptr (GstCaps) caps = NULL;
    if (t->direction != direction)
      continue;
    caps = gst_static_caps_get (&t->static_caps);
    if (gst_caps_is_any (caps))
      return TRUE;
  }
  return FALSE;
}

/* The installed elements that take @out and give @in (what could go
 * between two pads that do not link), sorted: "a, b or c"; NULL if none. */
static char *
elements_between (GstCaps *out, GstCaps *in)
{
  GList *all = gst_registry_get_feature_list (gst_registry_get (), GST_TYPE_ELEMENT_FACTORY);
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GString *s;

  for (GList *l = all; l; l = l->next) {
    GstElementFactory *f = l->data;
    if (gst_element_factory_can_sink_any_caps (f, out) && gst_element_factory_can_src_any_caps (f, in)
        && !has_any_template (f, GST_PAD_SINK) && !has_any_template (f, GST_PAD_SRC))
      g_ptr_array_add (names, (gpointer) GST_OBJECT_NAME (f));
  }
  if (!names->len) {
    gst_plugin_feature_list_free (all);
    return NULL;
  }
  g_ptr_array_sort (names, compare_names);
  s = g_string_new (NULL);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i == 0 ? "" : i + 1 == names->len ? " or " : ", ",
        (const char *) names->pdata[i]);
  gst_plugin_feature_list_free (all);
  return g_string_free (s, FALSE);
}

static gboolean
check_link (VtpGraphSpec *spec, const VtpGraphLink *link, const char *path, GError **error)
{
  const VtpGraphElement *from = &g_array_index (spec->elements, VtpGraphElement, link->from);
  const VtpGraphElement *to = &g_array_index (spec->elements, VtpGraphElement, link->to);
  g_autoptr (GstCaps) out = template_caps (from->factory, GST_PAD_SRC, link->from_pad);
  g_autoptr (GstCaps) in = template_caps (to->factory, GST_PAD_SINK, link->to_pad);
  g_autofree char *out_s = NULL, *in_s = NULL, *between = NULL;

  if (!out)
    return fail (error, VTP_GRAPH_ERROR_LINK, spec->file, path, "%s (%s) has no output pad%s%s", from->name,
        from->factory, link->from_pad ? " named " : "", link->from_pad ? link->from_pad : "");
  if (!in)
    return fail (error, VTP_GRAPH_ERROR_LINK, spec->file, path, "%s (%s) has no input pad%s%s", to->name,
        to->factory, link->to_pad ? " named " : "", link->to_pad ? link->to_pad : "");
  if (gst_caps_can_intersect (out, in))
    return TRUE;
  out_s = gst_caps_to_string (out);
  in_s = gst_caps_to_string (in);
  between = elements_between (out, in);
  return fail (error, VTP_GRAPH_ERROR_LINK, spec->file, path, "%s (%s) gives %s but %s (%s) takes %s: they "
      "cannot be linked%s%s%s", from->name, from->factory, out_s, to->name, to->factory, in_s,
      between ? " (an element that goes between: " : "", between ? between : "", between ? ")" : "");
}

static gboolean
parse_links (VtpGraphSpec *spec, JsonObject *root, GError **error)
{
  static const char *const known[] = { "from", "to", NULL };
  JsonNode *n = json_object_get_member (root, "links");
  JsonArray *a;

  if (!n)
    return spec->elements->len == 1 ? TRUE : fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, "$.links",
        "missing: %u elements need links", spec->elements->len);
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, "$.links", "expected an array of {\"from\", \"to\"}, "
        "not %s", node_kind (n));
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    g_autofree char *path = g_strdup_printf ("$.links[%u]", i);
    JsonNode *ln = json_array_get_element (a, i);
    VtpGraphLink link = { 0 };
    gboolean ok;

    if (!JSON_NODE_HOLDS_OBJECT (ln))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "expected {\"from\": \"a\", \"to\": \"b\"}, "
          "not %s", node_kind (ln));
    ok = check_members (json_node_get_object (ln), known, spec->file, path, error)
        && link_end (spec, json_node_get_object (ln), "from", path, &link.from, &link.from_pad, error)
        && link_end (spec, json_node_get_object (ln), "to", path, &link.to, &link.to_pad, error)
        && check_link (spec, &link, path, error);
    g_array_append_val (spec->links, link);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* $.input takes the frames (a sink pad), $.output gives the text (a
 * source pad). */
static gboolean
parse_ends (VtpGraphSpec *spec, JsonObject *root, GError **error)
{
  const char *members[] = { "input", "output" };
  const GstPadDirection dirs[] = { GST_PAD_SINK, GST_PAD_SRC };
  guint *ends[] = { &spec->input, &spec->output };

  for (guint i = 0; i < 2; i++) {
    g_autofree char *path = g_strdup_printf ("$.%s", members[i]);
    const char *name = get_string (root, members[i], TRUE, spec->file, "$", error);
    g_autoptr (GstCaps) caps = NULL;
    gint e;

    if (!name)
      return FALSE;
    if ((e = find_element (spec, name)) < 0)
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "no element named \"%s\" in $.elements", name);
    if (!(caps = template_caps (g_array_index (spec->elements, VtpGraphElement, e).factory, dirs[i], NULL)))
      return fail (error, VTP_GRAPH_ERROR_INVALID, spec->file, path, "%s has no %s pad", name,
          i == 0 ? "input" : "output");
    *ends[i] = e;
  }
  return TRUE;
}

VtpGraphSpec *
vtp_graph_spec_parse (const char *json, gssize length, const char *file, GError **error)
{
  static const char *const known[] = { "vtp-graph", "name", "description", "parameters", "elements", "links",
    "input", "output", NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (VtpGraphSpec) spec = g_new0 (VtpGraphSpec, 1);
  g_autoptr (GError) json_error = NULL;
  JsonObject *root;
  JsonNode *version;
  const char *name;

  spec->file = g_strdup (file);
  spec->params = g_array_new (FALSE, TRUE, sizeof (VtpGraphParam));
  g_array_set_clear_func (spec->params, (GDestroyNotify) clear_param);
  spec->elements = g_array_new (FALSE, TRUE, sizeof (VtpGraphElement));
  g_array_set_clear_func (spec->elements, (GDestroyNotify) clear_element);
  spec->links = g_array_new (FALSE, TRUE, sizeof (VtpGraphLink));
  g_array_set_clear_func (spec->links, (GDestroyNotify) clear_link);
  if (!vtp_json_parser_load (parser, json, length, &json_error)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARSE, "%s: not valid JSON: %s", file, json_error->message);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    fail (error, VTP_GRAPH_ERROR_PARSE, file, "$", "a graph is a JSON object (docs/graph-format.md)");
    return NULL;
  }
  root = json_node_get_object (json_parser_get_root (parser));
  version = json_object_get_member (root, "vtp-graph");
  if (!version || !JSON_NODE_HOLDS_VALUE (version) || json_node_get_value_type (version) != G_TYPE_INT64
      || json_node_get_int (version) != 1) {
    fail (error, VTP_GRAPH_ERROR_PARSE, file, "$.vtp-graph", "expected 1 (the format version)");
    return NULL;
  }
  if (!check_members (root, known, file, "$", error) || !(name = get_string (root, "name", TRUE, file, "$", error)))
    return NULL;
  spec->name = g_strdup (name);
  if (json_object_has_member (root, "description") && !get_string (root, "description", TRUE, file, "$", error))
    return NULL;
  spec->description = g_strdup (json_object_get_string_member_with_default (root, "description", NULL));
  if (!parse_params (spec, root, error) || !parse_elements (spec, root, error) || !parse_links (spec, root, error)
      || !parse_ends (spec, root, error))
    return NULL;
  return g_steal_pointer (&spec);
}

VtpGraphSpec *
vtp_graph_spec_load (const char *path, GError **error)
{
  g_autofree char *text = NULL;
  gsize length;
  g_autoptr (GError) io_error = NULL;

  if (!g_file_get_contents (path, &text, &length, &io_error)) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARSE, "%s", io_error->message);
    return NULL;
  }
  return vtp_graph_spec_parse (text, length, path, error);
}
