/* vtp-json.c: JSON text to json-glib, nesting bounded (see vtp-json.h). */
#include "vtp-json.h"
#include <string.h>

G_DEFINE_QUARK (vtp-json-error-quark, vtp_json_error)

/* The byte at which @data first nests deeper than @max arrays and objects,
 * or -1. Brackets in strings do not count (tokenizer vocabularies are full
 * of "[" and "{"). json-glib also reads comments and single-quoted strings,
 * and where they end differs between its versions: after the first '/' or
 * '\'' outside a string, every opening bracket counts and none closes, an
 * upper bound that no quirk of its lexer can hide nesting from. */
static gssize
too_deep_at (const char *data, gsize length, guint max)
{
  guint depth = 0;
  gboolean in_string = FALSE, lenient = FALSE;

  for (gsize i = 0; i < length; i++) {
    const char c = data[i];
    if (in_string && !lenient) {
      if (c == '\\')
        i++;                    /* whatever is escaped, a quote included */
      else if (c == '"')
        in_string = FALSE;
      continue;
    }
    if (c == '[' || c == '{') {
      if (++depth > max)
        return (gssize) i;
    } else if (lenient)
      continue;
    else if ((c == ']' || c == '}') && depth > 0)
      depth--;
    else if (c == '"')
      in_string = TRUE;
    else if (c == '/' || c == '\'')
      lenient = TRUE;
  }
  return -1;
}

gboolean
vtp_json_parser_load (JsonParser *parser, const char *data, gssize length, GError **error)
{
  const gsize n = length < 0 ? strlen (data) : (gsize) length;
  const gssize at = too_deep_at (data, n, VTP_JSON_MAX_DEPTH);

  if (at >= 0) {
    g_set_error (error, VTP_JSON_ERROR, VTP_JSON_ERROR_DEPTH, "arrays and objects nested deeper than %d levels "
        "(at byte %" G_GSSIZE_FORMAT "); vtp reads at most %d", VTP_JSON_MAX_DEPTH, at, VTP_JSON_MAX_DEPTH);
    return FALSE;
  }
  /* an empty file maps to NULL, which json-glib refuses with a critical */
  if (!json_parser_load_from_data (parser, n ? data : "", n, error))
    return FALSE;
  if (!json_parser_get_root (parser)) {
    g_set_error_literal (error, VTP_JSON_ERROR, VTP_JSON_ERROR_EMPTY, "the document is empty");
    return FALSE;
  }
  return TRUE;
}

gboolean
vtp_json_parser_load_file (JsonParser *parser, const char *path, GError **error)
{
  g_autoptr (GMappedFile) map = g_mapped_file_new (path, FALSE, error);

  if (!map)
    return FALSE;
  return vtp_json_parser_load (parser, g_mapped_file_get_contents (map), g_mapped_file_get_length (map), error);
}
