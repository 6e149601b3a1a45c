/* vtp-json.h: every JSON file vtp reads (graphs, config.json, tokenizers,
 * safetensors headers) goes to json-glib through here. json-glib parses
 * arrays and objects by recursion, one stack frame per level, so a file
 * nested a hundred thousand deep overflows the stack and kills the host
 * application; the text is scanned first, and nesting deeper than
 * VTP_JSON_MAX_DEPTH is refused. Real files nest a few levels (a
 * tokenizer.json about 6). */
#pragma once
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define VTP_JSON_MAX_DEPTH 512

#define VTP_JSON_ERROR (vtp_json_error_quark ())
GQuark vtp_json_error_quark (void);

typedef enum {
  VTP_JSON_ERROR_DEPTH,         /* nested deeper than VTP_JSON_MAX_DEPTH */
  VTP_JSON_ERROR_EMPTY,         /* no value at all (json-glib accepts that, with a NULL root) */
} VtpJsonError;

/* json_parser_load_from_data, after the depth check; on success the parser
 * has a root. Errors (VTP_JSON_ERROR or json-glib's JSON_PARSER_ERROR) say
 * what is wrong, not in which file: the caller names it. */
gboolean vtp_json_parser_load (JsonParser *parser, const char *data, gssize length, GError **error);

/* The same on the file @path (mapped); G_FILE_ERROR when it cannot be read. */
gboolean vtp_json_parser_load_file (JsonParser *parser, const char *path, GError **error);

G_END_DECLS
