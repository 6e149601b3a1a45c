/* vtp-json-write.h: how vtp writes the numbers of its JSON results, shared
 * by vtp-run --format json and vtpmqttsink so that both read the same:
 * milliseconds and speeds to one decimal (json-glib writes a double with
 * all 17 digits, 19.728999999999999; people read these lines too), times
 * in seconds exact to the nanosecond, strings quoted by json-glib.
 * Header-only, GLib and json-glib only. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <math.h>

/* @x with one decimal (19.7), or null when it is no number. */
static inline void
vtp_json_write_tenths (GString *s, double x)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (!isfinite (x))
    g_string_append (s, "null");
  else
    g_string_append (s, g_ascii_formatd (buf, sizeof buf, "%.1f", x));
}

/* @ns (nanoseconds) as seconds, exact to the nanosecond without trailing
 * zeros (1.0, 0.033333333), or -1 when unknown (G_MAXUINT64). */
static inline void
vtp_json_write_seconds (GString *s, guint64 ns)
{
  if (ns == G_MAXUINT64) {
    g_string_append (s, "-1");
    return;
  }
  g_string_append_printf (s, "%" G_GUINT64_FORMAT ".%09u", ns / 1000000000, (guint) (ns % 1000000000));
  while (s->str[s->len - 1] == '0' && s->str[s->len - 2] != '.')
    g_string_truncate (s, s->len - 1);
}

/* @text as a JSON string, quotes and escapes included. */
static inline void
vtp_json_write_string (GString *s, const char *text)
{
  JsonNode *n = json_node_init_string (json_node_alloc (), text);
  char *quoted = json_to_string (n, FALSE);

  g_string_append (s, quoted);
  g_free (quoted);
  json_node_unref (n);
}
