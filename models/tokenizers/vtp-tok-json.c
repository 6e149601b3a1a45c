/* vtp-tok-json.c: the small JSON readers every part of the tokenizer.json
 * loader uses, each failing with a message that names the file, the field's
 * path and what was expected there. */
#include "vtp-tok-private.h"
#include <stdarg.h>

gboolean
tok_fail (TokLd *ld, gint code, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (ld->error, ld->domain, code, "%s: %s", ld->name, msg);
  g_free (msg);
  return FALSE;
}

/* "missing", "null", "an object", "\"text\"", "12", ... for error messages */
char *
tok_describe (JsonNode *n)
{
  if (!n)
    return g_strdup ("missing");
  switch (JSON_NODE_TYPE (n)) {
    case JSON_NODE_NULL:
      return g_strdup ("null");
    case JSON_NODE_OBJECT:
      return g_strdup ("an object");
    case JSON_NODE_ARRAY:
      return g_strdup ("an array");
    case JSON_NODE_VALUE:
      break;
  }
  switch (json_node_get_value_type (n)) {
    case G_TYPE_STRING: {
      const char *s = json_node_get_string (n);
      if (g_utf8_strlen (s, -1) > 40) {
        char buf[200];
        g_utf8_strncpy (buf, s, 40);
        return g_strdup_printf ("\"%s...\"", buf);
      }
      return g_strdup_printf ("\"%s\"", s);
    }
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", json_node_get_double (n));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (n) ? "true" : "false");
    default:
      return g_strdup ("a value");
  }
}

gboolean
tok_fail_type (TokLd *ld, const char *path, JsonNode *n, const char *expected)
{
  char *d = tok_describe (n);
  gboolean r = tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s is %s, expected %s", path, d, expected);
  g_free (d);
  return r;
}

gboolean
tok_is_null (JsonNode *n)
{
  return !n || JSON_NODE_HOLDS_NULL (n);
}

gboolean
tok_is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

gboolean
tok_is_int (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_INT64;
}

/* @path.@key as one string, for a message */
static gboolean
fail_member (TokLd *ld, const char *path, const char *key, JsonNode *n, const char *expected)
{
  char *p = g_strdup_printf ("%s.%s", path, key);
  gboolean r = tok_fail_type (ld, p, n, expected);
  g_free (p);
  return r;
}

gboolean
tok_get_str (TokLd *ld, JsonObject *o, const char *path, const char *key, const char *dflt, gboolean nullable,
    const char **out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (tok_is_null (n) && (dflt || nullable))
    return TRUE;
  if (!tok_is_string (n))
    return fail_member (ld, path, key, n, nullable ? "a string or null" : "a string");
  *out = json_node_get_string (n);
  return TRUE;
}

gboolean
tok_get_bool (TokLd *ld, JsonObject *o, const char *path, const char *key, gboolean dflt, gboolean *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (tok_is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN)
    return fail_member (ld, path, key, n, "true or false");
  *out = json_node_get_boolean (n);
  return TRUE;
}

gboolean
tok_get_uint (TokLd *ld, JsonObject *o, const char *path, const char *key, gint64 dflt, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (tok_is_null (n))
    return TRUE;
  if (!tok_is_int (n) || json_node_get_int (n) < 0)
    return fail_member (ld, path, key, n, "a non-negative integer");
  *out = json_node_get_int (n);
  return TRUE;
}

/* A single-char string member (Rust's char) */
gboolean
tok_get_char (TokLd *ld, JsonObject *o, const char *path, const char *key, gunichar *out)
{
  const char *s;
  if (!tok_get_str (ld, o, path, key, NULL, FALSE, &s))
    return FALSE;
  if (g_utf8_strlen (s, -1) != 1)
    return fail_member (ld, path, key, json_object_get_member (o, key), "a single character");
  *out = g_utf8_get_char (s);
  return TRUE;
}

gboolean
tok_get_type (TokLd *ld, JsonNode *n, const char *path, JsonObject **obj, const char **type)
{
  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return tok_fail_type (ld, path, n, "an object");
  *obj = json_node_get_object (n);
  return tok_get_str (ld, *obj, path, "type", NULL, FALSE, type);
}

gboolean
tok_parse_sequence (TokLd *ld, VtpTokenizer *tok, JsonObject *o, const char *path, const char *member,
    TokParseEntry parse)
{
  JsonNode *arr = json_object_get_member (o, member);
  JsonArray *a;

  if (!arr || !JSON_NODE_HOLDS_ARRAY (arr))
    return fail_member (ld, path, member, arr, "an array");
  a = json_node_get_array (arr);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    char *p = g_strdup_printf ("%s.%s[%u]", path, member, i);
    gboolean ok = parse (ld, tok, json_array_get_element (a, i), p);
    g_free (p);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}
