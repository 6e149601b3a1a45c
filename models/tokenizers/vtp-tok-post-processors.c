/* vtp-tok-post-processors.c: the post-processors, reduced to what they do
 * to one encoded text: the special ids around it, as a template of ids
 * with -1 standing for the text ($A).
 *   TemplateProcessing  the "single" template
 *   BertProcessing      cls $A sep
 *   RobertaProcessing   cls $A sep (its add_prefix_space / trim_offsets
 *                       change offsets only)
 *   ByteLevel           nothing to the ids (trim_offsets: offsets only)
 *   Sequence            each in turn, the text of one being the $A of the
 *                       next */
#include "vtp-tok-private.h"
#include <string.h>

/* @tmpl's $A replaced by the current template: the result of applying
 * the current one first, then @tmpl */
static void
compose (VtpTokenizer *tok, GArray *tmpl, guint n_specials)
{
  GArray *out;
  if (!tok->tmpl) {
    tok->tmpl = tmpl;
    tok->n_specials = n_specials;
    return;
  }
  out = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < tmpl->len; i++) {
    gint32 v = g_array_index (tmpl, gint32, i);
    if (v >= 0)
      g_array_append_val (out, v);
    else
      g_array_append_vals (out, tok->tmpl->data, tok->tmpl->len);
  }
  g_array_unref (tok->tmpl);
  g_array_unref (tmpl);
  tok->tmpl = out;
  tok->n_specials += n_specials;
}

void
tok_post_set_cls_sep (VtpTokenizer *tok, gint32 cls, gint32 sep)
{
  GArray *t = g_array_new (FALSE, FALSE, sizeof (gint32));
  gint32 a = -1;
  guint n = 0;
  if (cls >= 0)
    g_array_append_val (t, cls), n++;
  g_array_append_val (t, a);
  if (sep >= 0)
    g_array_append_val (t, sep), n++;
  compose (tok, t, n);
}

GArray *
tok_post_process (const VtpTokenizer *tok, GArray *body)
{
  GArray *out;
  if (!tok->tmpl)
    return body;
  out = g_array_sized_new (FALSE, FALSE, sizeof (gint32), body->len + tok->tmpl->len);
  for (guint k = 0; k < tok->tmpl->len; k++) {
    gint32 v = g_array_index (tok->tmpl, gint32, k);
    if (v >= 0)
      g_array_append_val (out, v);
    else
      g_array_append_vals (out, body->data, body->len);
  }
  g_array_free (body, TRUE);
  return out;
}

/* ------------------------------------------------------------------------ */
/* Loading */

/* BertProcessing's / RobertaProcessing's "cls" / "sep": ["[CLS]", 101] */
static gboolean
get_token_pair (TokLd *ld, JsonObject *o, const char *path, const char *key, gint32 *id)
{
  JsonNode *n = json_object_get_member (o, key);
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
  char *p = g_strdup_printf ("%s.%s", path, key);
  gboolean ok = a && json_array_get_length (a) == 2 && tok_is_string (json_array_get_element (a, 0))
      && tok_is_int (json_array_get_element (a, 1)) && json_array_get_int_element (a, 1) >= 0
      && json_array_get_int_element (a, 1) <= G_MAXINT32;
  if (!ok)
    tok_fail_type (ld, p, n, "a pair [\"token\", id]");
  else
    *id = (gint32) json_array_get_int_element (a, 1);
  g_free (p);
  return ok;
}

/* A SpecialToken's ids from "special_tokens", appended to @tmpl */
static gboolean
special_token_ids (TokLd *ld, JsonObject *specials, const char *path, const char *id, const char *pp, GArray *tmpl,
    guint *n_specials)
{
  JsonNode *st = json_object_get_member (specials, id);
  JsonNode *ids = st && JSON_NODE_HOLDS_OBJECT (st) ? json_object_get_member (json_node_get_object (st), "ids") : NULL;
  JsonArray *ia;
  if (!st)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s.id is \"%s\", which %s.special_tokens lacks", path, id, pp);
  if (!ids || !JSON_NODE_HOLDS_ARRAY (ids)) {
    char *p3 = g_strdup_printf ("%s.special_tokens[\"%s\"].ids", pp, id);
    gboolean r = tok_fail_type (ld, p3, ids, "an array of ids");
    g_free (p3);
    return r;
  }
  ia = json_node_get_array (ids);
  for (guint k = 0; k < json_array_get_length (ia); k++) {
    JsonNode *e = json_array_get_element (ia, k);
    gint32 v;
    if (!tok_is_int (e) || json_node_get_int (e) < 0 || json_node_get_int (e) > G_MAXINT32) {
      char *p3 = g_strdup_printf ("%s.special_tokens[\"%s\"].ids[%u]", pp, id, k);
      gboolean r = tok_fail_type (ld, p3, e, "a token id");
      g_free (p3);
      return r;
    }
    v = (gint32) json_node_get_int (e);
    g_array_append_val (tmpl, v);
    (*n_specials)++;
  }
  return TRUE;
}

/* One piece of a "single" template: {"Sequence": {"id": "A"}} or
 * {"SpecialToken": {"id": ...}} */
static gboolean
parse_template_piece (TokLd *ld, JsonObject *specials, JsonNode *pn, const char *path, const char *pp, GArray *tmpl,
    guint *n_specials)
{
  JsonObject *po = pn && JSON_NODE_HOLDS_OBJECT (pn) ? json_node_get_object (pn) : NULL;
  JsonNode *inner;
  const char *id;
  gboolean ok = FALSE;
  char *p2;

  if (!po || json_object_get_size (po) != 1)
    return tok_fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
  if ((inner = json_object_get_member (po, "Sequence"))) {
    p2 = g_strdup_printf ("%s.Sequence", path);
    if (!JSON_NODE_HOLDS_OBJECT (inner))
      tok_fail_type (ld, p2, inner, "an object");
    else if (tok_get_str (ld, json_node_get_object (inner), p2, "id", NULL, FALSE, &id)) {
      if (g_ascii_strcasecmp (id, "A") != 0)
        tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.id is \"%s\", expected \"A\" in the single template",
            p2, id);
      else {
        gint32 m = -1;
        g_array_append_val (tmpl, m);
        ok = TRUE;
      }
    }
    g_free (p2);
    return ok;
  }
  if (!(inner = json_object_get_member (po, "SpecialToken")))
    return tok_fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
  p2 = g_strdup_printf ("%s.SpecialToken", path);
  if (!JSON_NODE_HOLDS_OBJECT (inner))
    tok_fail_type (ld, p2, inner, "an object");
  else if (tok_get_str (ld, json_node_get_object (inner), p2, "id", NULL, FALSE, &id))
    ok = special_token_ids (ld, specials, p2, id, pp, tmpl, n_specials);
  g_free (p2);
  return ok;
}

static gboolean
parse_template (TokLd *ld, VtpTokenizer *tok, JsonObject *o, const char *pp)
{
  JsonNode *single = json_object_get_member (o, "single");
  JsonNode *sp = json_object_get_member (o, "special_tokens");
  GArray *tmpl;
  guint n_specials = 0;
  JsonArray *a;
  char *p;

  p = g_strdup_printf ("%s.single", pp);
  if (!single || !JSON_NODE_HOLDS_ARRAY (single)) {
    tok_fail_type (ld, p, single, "an array of template pieces");
    g_free (p);
    return FALSE;
  }
  g_free (p);
  if (!sp || !JSON_NODE_HOLDS_OBJECT (sp)) {
    p = g_strdup_printf ("%s.special_tokens", pp);
    tok_fail_type (ld, p, sp, "an object");
    g_free (p);
    return FALSE;
  }
  tmpl = g_array_new (FALSE, FALSE, sizeof (gint32));
  a = json_node_get_array (single);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    char *path = g_strdup_printf ("%s.single[%u]", pp, i);
    gboolean ok = parse_template_piece (ld, json_node_get_object (sp), json_array_get_element (a, i), path, pp, tmpl,
        &n_specials);
    g_free (path);
    if (!ok) {
      g_array_unref (tmpl);
      return FALSE;
    }
  }
  compose (tok, tmpl, n_specials);
  return TRUE;
}

gboolean
tok_parse_post_processor (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  if (!tok_get_type (ld, n, path, &o, &type))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return tok_parse_sequence (ld, tok, o, path, "processors", tok_parse_post_processor);
  if (strcmp (type, "TemplateProcessing") == 0)
    return parse_template (ld, tok, o, path);
  if (strcmp (type, "BertProcessing") == 0 || strcmp (type, "RobertaProcessing") == 0) {
    gint32 cls, sep;
    if (!get_token_pair (ld, o, path, "sep", &sep) || !get_token_pair (ld, o, path, "cls", &cls))
      return FALSE;
    tok_post_set_cls_sep (tok, cls, sep);
    return TRUE;
  }
  if (strcmp (type, "ByteLevel") == 0) {
    gboolean b;
    return tok_get_bool (ld, o, path, "trim_offsets", TRUE, &b) && tok_get_bool (ld, o, path, "add_prefix_space",
        TRUE, &b);
  }
  return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.type is \"%s\", expected one of \"TemplateProcessing\", "
      "\"BertProcessing\", \"RobertaProcessing\", \"ByteLevel\", \"Sequence\" (or a null post_processor)", path, type);
}
