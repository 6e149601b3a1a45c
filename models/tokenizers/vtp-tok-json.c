/* vtp-tok-json.c: the small JSON readers every part of the tokenizer.json
 * loader uses, each failing with a message that names the file, the field's
 * path and what was expected there. */
#include "vtp-tok-private.h"
#include <stdarg.h>
#include <string.h>

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

/* ------------------------------------------------------------------------ */
/* Numbers as tokenizers reads them
 *
 * tokenizers parses tokenizer.json with serde_json's default number
 * reading, which is not correctly rounded: the decimal digits are gathered
 * into a u64 (digits past its range dropped, the exponent adjusted), and
 * the value is that integer as an f64, multiplied or divided once by the
 * f64 nearest 10^|exponent|. A Unigram score written with 16 or 17 digits
 * can come out one unit in the last place away from strtod's value, and a
 * Viterbi tie then breaks the other way. So the scores are read again
 * from the file's text, this way. */

static double pow10_table[309];

static gpointer
init_pow10 (gpointer unused)
{
  for (guint k = 0; k < G_N_ELEMENTS (pow10_table); k++) {
    char buf[16];
    g_snprintf (buf, sizeof buf, "1e%u", k);
    pow10_table[k] = g_ascii_strtod (buf, NULL);   /* the nearest f64, as Rust's literals */
  }
  return NULL;
}

static double
f64_from_parts (gboolean positive, guint64 significand, gint64 exponent)
{
  static GOnce once = G_ONCE_INIT;
  double f = (double) significand;
  g_once (&once, init_pow10, NULL);
  for (;;) {
    guint64 a = exponent < 0 ? (guint64) -exponent : (guint64) exponent;
    if (a < G_N_ELEMENTS (pow10_table)) {
      if (exponent >= 0)
        f *= pow10_table[a];
      else
        f /= pow10_table[a];
      break;
    }
    if (f == 0.0 || exponent >= 0)   /* (serde fails on a positive overflow; the file is valid here) */
      break;
    f /= 1e308;
    exponent += 308;
  }
  return positive ? f : -f;
}

/* Whether significand * 10 + digit overflows a u64 */
static inline gboolean
u64_overflows (guint64 s, guint digit)
{
  return s >= G_MAXUINT64 / 10 && (s > G_MAXUINT64 / 10 || digit > G_MAXUINT64 % 10);
}

double
tok_json_number (const char *s, gsize n, gboolean *ok)
{
  const char *p = s, *end = s + n;
  gboolean positive = TRUE, exp_positive = TRUE, fraction = FALSE, has_exp = FALSE, dropping = FALSE;
  guint64 sig = 0;
  gint64 exponent = 0, e = 0;

  *ok = FALSE;
  if (p < end && *p == '-')
    positive = FALSE, p++;
  if (p == end || !g_ascii_isdigit (*p))
    return 0.0;
  for (; p < end && (g_ascii_isdigit (*p) || (*p == '.' && !fraction)); p++) {
    guint d;
    if (*p == '.') {
      fraction = TRUE;
      continue;
    }
    d = *p - '0';
    /* once the u64 is full, every further digit is dropped: before the
     * point each scales the value by 10 */
    dropping = dropping || u64_overflows (sig, d);
    if (dropping) {
      if (!fraction)
        exponent++;
      continue;
    }
    sig = sig * 10 + d;
    if (fraction)
      exponent--;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    has_exp = TRUE;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      exp_positive = *p++ == '+';
    for (; p < end && g_ascii_isdigit (*p); p++)
      e = MIN (e * 10 + (*p - '0'), (gint64) G_MAXINT32);
    exponent = exp_positive ? exponent + e : exponent - e;
  }
  if (p != end)
    return 0.0;
  *ok = TRUE;
  if (!fraction && !has_exp && !dropping)
    return positive ? (double) sig : -(double) sig;   /* an integer (u64 / i64), then as f64 */
  return f64_from_parts (positive, sig, exponent);
}

/* A minimal walk over JSON text already checked by json-glib */

static const char *
skip_ws (const char *p, const char *end)
{
  while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
    p++;
  return p;
}

static const char *
skip_string (const char *p, const char *end)
{
  if (p >= end || *p != '"')
    return NULL;
  for (p++; p < end; p++) {
    if (*p == '\\')
      p++;
    else if (*p == '"')
      return p + 1;
  }
  return NULL;
}

static const char *
skip_value (const char *p, const char *end, guint depth)
{
  p = skip_ws (p, end);
  if (p >= end || depth > 256)
    return NULL;
  if (*p == '"')
    return skip_string (p, end);
  if (*p == '[' || *p == '{') {
    char close = *p == '[' ? ']' : '}';
    p = skip_ws (p + 1, end);
    if (p < end && *p == close)
      return p + 1;
    for (;;) {
      if (close == '}') {
        if (!(p = skip_string (skip_ws (p, end), end)) || (p = skip_ws (p, end)) >= end || *p != ':')
          return NULL;
        p++;
      }
      if (!(p = skip_value (p, end, depth + 1)) || (p = skip_ws (p, end)) >= end)
        return NULL;
      if (*p == close)
        return p + 1;
      if (*p != ',')
        return NULL;
      p++;
    }
  }
  while (p < end && !strchr (",]} \t\n\r", *p))
    p++;
  return p;
}

/* The value of member @key of the object at @p (the last, as json-glib
 * keeps), or NULL */
static const char *
find_member (const char *p, const char *end, const char *key)
{
  const char *found = NULL;
  gsize kl = strlen (key);
  p = skip_ws (p, end);
  if (p >= end || *p != '{')
    return NULL;
  p = skip_ws (p + 1, end);
  if (p < end && *p == '}')
    return NULL;
  for (;;) {
    const char *k = skip_ws (p, end), *ke = skip_string (k, end), *v;
    if (!ke || (p = skip_ws (ke, end)) >= end || *p != ':')
      return NULL;
    v = skip_ws (p + 1, end);
    if ((gsize) (ke - k) == kl + 2 && memcmp (k + 1, key, kl) == 0)
      found = v;
    if (!(p = skip_value (v, end, 0)) || (p = skip_ws (p, end)) >= end)
      return NULL;
    if (*p == '}')
      return found;
    if (*p != ',')
      return NULL;
    p++;
  }
}

gboolean
tok_json_unigram_scores (const char *json, gsize len, double *scores, guint n)
{
  const char *end = json + len, *p;
  guint i = 0;
  if (!json || !(p = find_member (json, end, "model")) || !(p = find_member (p, end, "vocab")) || *p != '[')
    return FALSE;
  p = skip_ws (p + 1, end);
  while (p < end && *p != ']') {
    const char *num;
    gboolean ok;
    if (*p != '[' || !(p = skip_string (skip_ws (p + 1, end), end)) || (p = skip_ws (p, end)) >= end || *p != ',')
      return FALSE;
    num = skip_ws (p + 1, end);
    if (!(p = skip_value (num, end, 0)) || i >= n)
      return FALSE;
    scores[i++] = tok_json_number (num, p - num, &ok);
    if (!ok || (p = skip_ws (p, end)) >= end || *p != ']')
      return FALSE;
    p = skip_ws (p + 1, end);
    if (p < end && *p == ',')
      p = skip_ws (p + 1, end);
  }
  return i == n;
}
