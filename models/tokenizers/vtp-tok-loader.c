/* vtp-tok-loader.c: a tokenizer.json into a VtpTokenizer, one field at a
 * time, each to the file of its role: model (vtp-tok-bpe.c,
 * vtp-tok-wordpiece.c, vtp-tok-unigram.c), normalizer, pre_tokenizer, post_processor, decoder,
 * added_tokens; truncation and padding here. Anything vtp does not
 * implement is refused with an UNSUPPORTED error that names the field. */
#include "vtp-tok-private.h"
#include "vtp-json.h"
#include <string.h>

static const char *const model_names[] = { "BPE", "WordPiece", "Unigram" };

/* "model": its type (absent: BPE when it has merges, as tokenizers'
 * untagged reading tries BPE first; Unigram when "vocab" is an array) */
static gboolean
parse_model (TokLd *ld, VtpTokenizer *tok, JsonNode *n, gint want)
{
  JsonObject *o;
  const char *type;

  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return tok_fail_type (ld, "model", n, "an object");
  o = json_node_get_object (n);
  if (!tok_get_str (ld, o, "model", "type", NULL, TRUE, &type))
    return FALSE;
  if (!type && json_object_get_member (o, "vocab") && JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "vocab"))
      && !json_object_has_member (o, "merges"))
    type = "Unigram";
  else if (!type && json_object_has_member (o, "merges"))
    type = want == MODEL_WORDPIECE ? NULL : "BPE";
  else if (!type)
    type = want == MODEL_BPE ? "BPE" : "WordPiece";
  if (!type)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model has \"merges\" (a BPE model), expected a "
        "WordPiece model");
  if (want >= 0 && strcmp (type, model_names[want]) != 0)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.type is \"%s\", expected \"%s\"", type,
        model_names[want]);
  if (strcmp (type, "BPE") == 0) {
    tok->model = MODEL_BPE;
    return tok_parse_bpe (ld, tok, o);
  }
  if (strcmp (type, "WordPiece") == 0) {
    tok->model = MODEL_WORDPIECE;
    return tok_parse_wordpiece (ld, tok, o);
  }
  if (strcmp (type, "Unigram") == 0) {
    tok->model = MODEL_UNIGRAM;
    return tok_parse_unigram (ld, tok, o);
  }
  return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.type is \"%s\", expected \"BPE\", \"WordPiece\" "
      "or \"Unigram\"", type);
}

static gboolean
parse_truncation (TokLd *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonObject *o;
  const char *dir;
  gint64 stride;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return tok_fail_type (ld, "truncation", n, "null or an object");
  o = json_node_get_object (n);
  if (!tok_is_int (json_object_get_member (o, "max_length")))
    return tok_fail_type (ld, "truncation.max_length", json_object_get_member (o, "max_length"), "an integer");
  if (!tok_get_uint (ld, o, "truncation", "max_length", 0, &tok->trunc_max)
      || !tok_get_uint (ld, o, "truncation", "stride", 0, &stride)
      || !tok_get_str (ld, o, "truncation", "direction", "Right", FALSE, &dir))
    return FALSE;
  if (stride != 0)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "truncation.stride is %" G_GINT64_FORMAT ", only 0 is "
        "supported", stride);
  if (strcmp (dir, "Left") == 0)
    tok->trunc_left = TRUE;
  else if (strcmp (dir, "Right") != 0)
    return tok_fail_type (ld, "truncation.direction", json_object_get_member (o, "direction"),
        "\"Left\" or \"Right\"");
  if (tok->trunc_max == 0)   /* tokenizers' max_length 0 keeps nothing; not worth a special case */
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "truncation.max_length is 0");
  return TRUE;
}

static gboolean
parse_padding (TokLd *ld, JsonNode *n)
{
  JsonNode *s;
  char *d;
  gboolean r;
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return tok_fail_type (ld, "padding", n, "null or an object");
  s = json_object_get_member (json_node_get_object (n), "strategy");
  if (tok_is_string (s) && strcmp (json_node_get_string (s), "BatchLongest") == 0)
    return TRUE;    /* pads a batch to its longest: nothing for one text */
  d = tok_describe (s);
  r = tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "padding.strategy is %s; only null padding or "
      "\"BatchLongest\" is supported", d);
  g_free (d);
  return r;
}

static gboolean
parse_added_tokens (TokLd *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonArray *a;
  if (tok_is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return tok_fail_type (ld, "added_tokens", n, "an array");
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    char *path = g_strdup_printf ("added_tokens[%u]", i);
    gboolean ok = FALSE;
    if (!e || !JSON_NODE_HOLDS_OBJECT (e)) {
      tok_fail_type (ld, path, e, "an object");
    } else {
      JsonObject *o = json_node_get_object (e);
      const char *content;
      gboolean special, normalized, lstrip, rstrip, single_word;
      gint64 id;
      ok = tok_get_str (ld, o, path, "content", NULL, FALSE, &content)
          && tok_get_uint (ld, o, path, "id", 0, &id)
          && tok_get_bool (ld, o, path, "special", FALSE, &special)
          && tok_get_bool (ld, o, path, "normalized", !special, &normalized)
          && tok_get_bool (ld, o, path, "lstrip", FALSE, &lstrip)
          && tok_get_bool (ld, o, path, "rstrip", FALSE, &rstrip)
          && tok_get_bool (ld, o, path, "single_word", FALSE, &single_word);
      /* as in tokenizers, the "id" is only a hint: ids come from add_tokens */
      if (ok)
        tok_added_add (tok, content, special, normalized, lstrip, rstrip, single_word);
    }
    g_free (path);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* The top-level fields in the order they depend on each other: the model
 * (added tokens take ids after it), the normalizer (added tokens are
 * normalized with it), the rest, the added tokens last */
static gboolean
parse_top (TokLd *ld, VtpTokenizer *tok, JsonObject *top, gint want)
{
  const char *version;
  JsonNode *n;

  if (!tok_get_str (ld, top, "tokenizer", "version", NULL, TRUE, &version))
    return FALSE;
  if (version && strcmp (version, "1.0") != 0)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "version is \"%s\", expected \"1.0\"", version);
  if (!(n = json_object_get_member (top, "model")))
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model is missing");
  if (!parse_model (ld, tok, n, want))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "normalizer")) && !tok_parse_normalizer (ld, tok, n, "normalizer"))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "pre_tokenizer"))
      && !tok_parse_pre_tokenizer (ld, tok, n, "pre_tokenizer"))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "post_processor"))
      && !tok_parse_post_processor (ld, tok, n, "post_processor"))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "decoder")) && !tok_parse_decoder (ld, tok, n, "decoder"))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "truncation")) && !parse_truncation (ld, tok, n))
    return FALSE;
  if (!tok_is_null (n = json_object_get_member (top, "padding")) && !parse_padding (ld, n))
    return FALSE;
  return parse_added_tokens (ld, tok, json_object_get_member (top, "added_tokens"));
}

VtpTokenizer *
tok_load_json (const char *json, gssize len, const char *name, GQuark domain, gint want, GError **error)
{
  TokLd ld = { name ? name : "tokenizer.json", error, domain, json, 0 };
  JsonParser *parser;
  GError *perr = NULL;
  JsonNode *root;
  VtpTokenizer *tok;
  gboolean ok;

  g_return_val_if_fail (json != NULL, NULL);
  ld.json_len = len < 0 ? strlen (json) : (gsize) len;
  parser = json_parser_new_immutable ();
  if (!vtp_json_parser_load (parser, json, len, &perr)) {
    tok_fail (&ld, VTP_TOKENIZER_ERROR_PARSE, "not valid JSON: %s", perr->message);
    g_error_free (perr);
    g_object_unref (parser);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    tok_fail_type (&ld, "the top level", root, "an object");
    g_object_unref (parser);
    return NULL;
  }
  tok = tok_alloc (ld.name, domain, want == MODEL_WORDPIECE ? MODEL_WORDPIECE : MODEL_BPE);
  tok->loading = TRUE;
  ok = parse_top (&ld, tok, json_node_get_object (root), want);
  tok->loading = FALSE;
  tok_added_refresh (tok);
  g_object_unref (parser);
  if (!ok) {
    vtp_tokenizer_free (tok);
    return NULL;
  }
  return tok;
}

VtpTokenizer *
tok_load_json_file (const char *path, GQuark domain, gint want, GError **error)
{
  char *data = NULL;
  gsize len = 0;
  GError *ferr = NULL;
  VtpTokenizer *tok;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &data, &len, &ferr)) {
    g_set_error (error, domain, VTP_TOKENIZER_ERROR_FILE, "%s: cannot read the tokenizer: %s", path, ferr->message);
    g_error_free (ferr);
    return NULL;
  }
  tok = tok_load_json (data, len, path, domain, want, error);
  g_free (data);
  return tok;
}
