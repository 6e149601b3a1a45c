/* vtp-wordpiece.c: the BERT WordPiece tokenizer of InstructBLIP's Q-Former:
 * the shared tokenizer (vtp-tokenizer.h, parts in models/tokenizers/) with
 * a WordPiece model, and what BERT users load it from besides a
 * tokenizer.json: a vocab.txt with BertTokenizer's pipeline, and a
 * transformers tokenizer folder (tokenizer_config.json's added tokens,
 * special tokens and truncation side). */
#include "vtp-wordpiece.h"
#include "vtp-tok-private.h"
#include "vtp-json.h"
#include <string.h>

G_DEFINE_QUARK (vtp-wordpiece-error-quark, vtp_wordpiece_error)

struct _VtpWordPiece {
  VtpTokenizer *tok;
};

static VtpWordPiece *
wrap (VtpTokenizer *tok)
{
  VtpWordPiece *wp;
  if (!tok)
    return NULL;
  wp = g_new0 (VtpWordPiece, 1);
  wp->tok = tok;
  return wp;
}

void
vtp_wordpiece_free (VtpWordPiece *wp)
{
  if (!wp)
    return;
  vtp_tokenizer_free (wp->tok);
  g_free (wp);
}

VtpTokenizer *
vtp_wordpiece_get_tokenizer (VtpWordPiece *wp)
{
  g_return_val_if_fail (wp != NULL, NULL);
  return wp->tok;
}

VtpTokenizer *
vtp_wordpiece_steal_tokenizer (VtpWordPiece *wp)
{
  VtpTokenizer *tok;
  g_return_val_if_fail (wp != NULL, NULL);
  tok = g_steal_pointer (&wp->tok);
  g_free (wp);
  return tok;
}

/* ------------------------------------------------------------------------ */
/* Encoding, decoding, lookups: the shared tokenizer's */

GArray *
vtp_wordpiece_encode (VtpWordPiece *wp, const char *text, gboolean add_special, gint max_len, GError **error)
{
  g_return_val_if_fail (wp != NULL, NULL);
  return tok_encode (wp->tok, text, text ? strlen (text) : 0, add_special, max_len, error);
}

char *
vtp_wordpiece_normalize (VtpWordPiece *wp, const char *text, GError **error)
{
  gsize n, valid;
  g_return_val_if_fail (wp != NULL, NULL);
  if (!text) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT, "%s: input text is NULL", wp->tok->name);
    return NULL;
  }
  n = strlen (text);
  valid = tok_utf8_valid_prefix ((const guchar *) text, n);
  if (valid != n) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT,
        "%s: input text is not valid UTF-8 (byte 0x%02X at offset %" G_GSIZE_FORMAT ")", wp->tok->name,
        (guchar) text[valid], valid);
    return NULL;
  }
  return tok_normalize_string (wp->tok, text, n);
}

char *
vtp_wordpiece_decode (VtpWordPiece *wp, const gint32 *ids, gsize n, gboolean skip_special, GError **error)
{
  g_return_val_if_fail (wp != NULL, NULL);
  return vtp_tokenizer_decode (wp->tok, ids, n, skip_special, error);
}

const char *
vtp_wordpiece_id_to_token (VtpWordPiece *wp, gint32 id)
{
  g_return_val_if_fail (wp != NULL, NULL);
  return vtp_tokenizer_id_to_token (wp->tok, id);
}

gint32
vtp_wordpiece_token_to_id (VtpWordPiece *wp, const char *token)
{
  g_return_val_if_fail (wp != NULL, -1);
  return vtp_tokenizer_token_to_id (wp->tok, token);
}

gsize
vtp_wordpiece_get_vocab_size (VtpWordPiece *wp)
{
  g_return_val_if_fail (wp != NULL, 0);
  return vtp_tokenizer_get_vocab_size (wp->tok);
}

gboolean
vtp_wordpiece_is_special (VtpWordPiece *wp, gint32 id)
{
  g_return_val_if_fail (wp != NULL, FALSE);
  return vtp_tokenizer_is_special (wp->tok, id);
}

gint32
vtp_wordpiece_add_token (VtpWordPiece *wp, const char *content, gboolean special)
{
  g_return_val_if_fail (wp != NULL, -1);
  return tok_added_add (wp->tok, content, special, !special, FALSE, FALSE, FALSE);
}

void
vtp_wordpiece_set_truncation_side (VtpWordPiece *wp, gboolean left)
{
  g_return_if_fail (wp != NULL);
  wp->tok->trunc_left = left;
}

gboolean
vtp_wordpiece_get_truncation_left (VtpWordPiece *wp)
{
  g_return_val_if_fail (wp != NULL, FALSE);
  return wp->tok->trunc_left;
}

/* ------------------------------------------------------------------------ */
/* Loading: tokenizer.json */

VtpWordPiece *
vtp_wordpiece_new_from_data (const char *json, gssize len, const char *name_for_errors, GError **error)
{
  return wrap (tok_load_json (json, len, name_for_errors, VTP_WORDPIECE_ERROR, MODEL_WORDPIECE, error));
}

VtpWordPiece *
vtp_wordpiece_new_from_file (const char *path, GError **error)
{
  return wrap (tok_load_json_file (path, VTP_WORDPIECE_ERROR, MODEL_WORDPIECE, error));
}

/* ------------------------------------------------------------------------ */
/* Loading: vocab.txt (BertTokenizer) */

typedef struct {
  gboolean lowercase;
  gint strip_accents;         /* -1: follow lowercase */
  gboolean chinese;
  const char *unk, *sep, *cls, *pad, *mask;
} VocabOpts;

/* BertTokenizer's pipeline over a vocabulary: BertNormalizer,
 * BertPreTokenizer, WordPiece("##", 100 chars), [CLS] $A [SEP], the
 * WordPiece decoder with cleanup; the named specials in the vocab become
 * special added tokens */
static void
set_bert_pipeline (VtpTokenizer *tok, const VocabOpts *vo)
{
  TokNormOp norm = { .kind = NORM_BERT, .clean_text = TRUE, .chinese = vo->chinese, .lowercase = vo->lowercase,
    .strip_accents = vo->strip_accents < 0 ? vo->lowercase : vo->strip_accents != 0 };
  TokPreOp pre = { .kind = PRE_BERT };
  TokDecOp dec = { .kind = DEC_WORDPIECE, .a = g_strdup ("##"), .cleanup = TRUE };
  const char *specials[] = { vo->unk, vo->sep, vo->pad, vo->cls, vo->mask };
  gint32 cls = -1, sep = -1;

  tok->unk_token = g_strdup (vo->unk);
  tok->prefix = g_strdup ("##");
  tok->prefix_len = 2;
  tok->has_normalizer = TRUE;
  g_array_append_val (tok->norm_ops, norm);
  g_array_append_val (tok->pre_ops, pre);
  tok->has_decoder = TRUE;
  g_array_append_val (tok->dec_ops, dec);
  tok_vocab_get (tok, vo->cls, &cls);
  tok_vocab_get (tok, vo->sep, &sep);
  tok_post_set_cls_sep (tok, cls, sep);
  tok->loading = TRUE;
  for (guint k = 0; k < G_N_ELEMENTS (specials); k++) {
    gint32 dummy;
    if (specials[k] && tok_vocab_get (tok, specials[k], &dummy))
      tok_added_add (tok, specials[k], TRUE, FALSE, FALSE, FALSE, FALSE);
  }
  tok->loading = FALSE;
  tok_added_refresh (tok);
}

static VtpWordPiece *
new_from_vocab_opts (const char *path, const VocabOpts *vo, GError **error)
{
  char *data = NULL;
  gsize len = 0, i = 0, line_start = 0, valid;
  gint32 index = 0;
  GError *ferr = NULL;
  VtpTokenizer *tok;

  if (!g_file_get_contents (path, &data, &len, &ferr)) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE, "%s: cannot read the vocabulary: %s", path,
        ferr->message);
    g_error_free (ferr);
    return NULL;
  }
  valid = tok_utf8_valid_prefix ((const guchar *) data, len);
  if (valid != len || memchr (data, 0, len)) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE,
        "%s: not a vocab.txt: not valid UTF-8 text (offset %" G_GSIZE_FORMAT ")", path,
        valid != len ? valid : (gsize) ((char *) memchr (data, 0, len) - data));
    g_free (data);
    return NULL;
  }
  tok = tok_alloc (path, VTP_WORDPIECE_ERROR, MODEL_WORDPIECE);
  /* lines as Python's universal newlines split them: \n, \r\n or \r; a
   * repeated token takes the later id, as a dict built line by line */
  while (i < len) {
    if (data[i] == '\n' || data[i] == '\r') {
      tok_vocab_insert (tok, data + line_start, i - line_start, index++, FALSE);
      if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
        i++;
      line_start = ++i;
    } else {
      i++;
    }
  }
  if (line_start < len)
    tok_vocab_insert (tok, data + line_start, len - line_start, index++, FALSE);
  g_free (data);
  tok->n_vocab = g_hash_table_size (tok->vocab);
  if (tok->n_vocab == 0) {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE, "%s: the vocabulary is empty", path);
    vtp_tokenizer_free (tok);
    return NULL;
  }
  for (guint k = 0; k < 3; k++) {
    const char *need = k == 0 ? vo->unk : k == 1 ? vo->cls : vo->sep;
    gint32 dummy;
    if (!tok_vocab_get (tok, need, &dummy)) {
      g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE,
          "%s: the %s token \"%s\" is not in the vocabulary", path, k == 0 ? "unknown" : k == 1 ? "CLS" : "SEP", need);
      vtp_tokenizer_free (tok);
      return NULL;
    }
  }
  set_bert_pipeline (tok, vo);
  return wrap (tok);
}

VtpWordPiece *
vtp_wordpiece_new_from_vocab (const char *vocab_txt, gboolean lowercase, gint strip_accents, GError **error)
{
  VocabOpts vo = { lowercase, strip_accents, TRUE, "[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]" };
  g_return_val_if_fail (vocab_txt != NULL, NULL);
  return new_from_vocab_opts (vocab_txt, &vo, error);
}

/* ------------------------------------------------------------------------ */
/* Loading: a transformers tokenizer folder */

/* A special-token entry of tokenizer_config.json: "[CLS]" or
 * {"content": "[CLS]", ...} (older files: {"__type": "AddedToken", ...}) */
static gboolean
config_token (TokLd *ld, JsonObject *cfg, const char *key, const char **out)
{
  JsonNode *n = json_object_get_member (cfg, key);
  if (tok_is_null (n))
    return TRUE;
  if (tok_is_string (n)) {
    *out = json_node_get_string (n);
    return TRUE;
  }
  if (JSON_NODE_HOLDS_OBJECT (n)) {
    JsonNode *c = json_object_get_member (json_node_get_object (n), "content");
    if (tok_is_string (c)) {
      *out = json_node_get_string (c);
      return TRUE;
    }
  }
  return tok_fail_type (ld, key, n, "a token string or {\"content\": ...}");
}

static int
cmp_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

/* tokenizer_config.json's added_tokens_decoder, special token names and
 * truncation_side, applied to @wp as transformers does on loading */
static gboolean
apply_config (TokLd *ld, VtpWordPiece *wp, JsonObject *cfg)
{
  static const char *const attrs[] = { "bos_token", "eos_token", "unk_token", "sep_token", "pad_token",
    "cls_token", "mask_token" };
  JsonNode *n = json_object_get_member (cfg, "added_tokens_decoder");
  const char *side;

  if (!tok_is_null (n)) {
    JsonObjectIter it;
    const char *key;
    JsonNode *val;
    GArray *ids;
    if (!JSON_NODE_HOLDS_OBJECT (n))
      return tok_fail_type (ld, "added_tokens_decoder", n, "an object {id: token}");
    ids = g_array_new (FALSE, FALSE, sizeof (gint64));
    json_object_iter_init (&it, json_node_get_object (n));
    while (json_object_iter_next (&it, &key, &val)) {
      char *end;
      gint64 id = g_ascii_strtoll (key, &end, 10);
      if (!*key || *end || id < 0 || id > G_MAXINT32 || !JSON_NODE_HOLDS_OBJECT (val)) {
        char *p = g_strdup_printf ("added_tokens_decoder[\"%s\"]", key);
        tok_fail_type (ld, p, val, "a token object under a numeric id");
        g_free (p);
        g_array_unref (ids);
        return FALSE;
      }
      g_array_append_val (ids, id);
    }
    g_array_sort (ids, cmp_int64);
    for (guint i = 0; i < ids->len; i++) {
      gint64 want = g_array_index (ids, gint64, i);
      char *p = g_strdup_printf ("added_tokens_decoder[\"%" G_GINT64_FORMAT "\"]", want);
      char key2[32];
      JsonObject *o;
      const char *content;
      gboolean special, normalized, lstrip, rstrip, single_word, ok;
      gint32 got;
      g_snprintf (key2, sizeof key2, "%" G_GINT64_FORMAT, want);
      o = json_object_get_object_member (json_node_get_object (n), key2);
      ok = o && tok_get_str (ld, o, p, "content", NULL, FALSE, &content)
          && tok_get_bool (ld, o, p, "special", FALSE, &special)
          && tok_get_bool (ld, o, p, "normalized", !special, &normalized)
          && tok_get_bool (ld, o, p, "lstrip", FALSE, &lstrip)
          && tok_get_bool (ld, o, p, "rstrip", FALSE, &rstrip)
          && tok_get_bool (ld, o, p, "single_word", FALSE, &single_word);
      if (!o)   /* a key written twice ("0" and "00"): json-glib keeps one */
        ok = tok_fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s is repeated", p);
      if (ok && vtp_wordpiece_token_to_id (wp, content) < 0) {
        got = tok_added_add (wp->tok, content, special, normalized, lstrip, rstrip, single_word);
        if (got != want)
          ok = tok_fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s: \"%s\" would get id %d, not %" G_GINT64_FORMAT, p,
              content, got, want);
      } else if (ok && vtp_wordpiece_token_to_id (wp, content) != want) {
        ok = tok_fail (ld, VTP_WORDPIECE_ERROR_PARSE, "%s: \"%s\" has id %d in the vocabulary", p, content,
            vtp_wordpiece_token_to_id (wp, content));
      }
      g_free (p);
      if (!ok) {
        g_array_unref (ids);
        return FALSE;
      }
    }
    g_array_unref (ids);
  }
  /* named special tokens the tokenizer lacks are added (bos_token "[DEC]") */
  for (guint i = 0; i < G_N_ELEMENTS (attrs); i++) {
    const char *t = NULL;
    if (!config_token (ld, cfg, attrs[i], &t))
      return FALSE;
    if (t && vtp_wordpiece_token_to_id (wp, t) < 0)
      tok_added_add (wp->tok, t, TRUE, FALSE, FALSE, FALSE, FALSE);
  }
  n = json_object_get_member (cfg, "additional_special_tokens");
  if (!tok_is_null (n)) {
    JsonArray *a;
    if (!JSON_NODE_HOLDS_ARRAY (n))
      return tok_fail_type (ld, "additional_special_tokens", n, "an array");
    a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      const char *t = tok_is_string (e) ? json_node_get_string (e) : NULL;
      if (!t && e && JSON_NODE_HOLDS_OBJECT (e) && tok_is_string (json_object_get_member (json_node_get_object (e), "content")))
        t = json_object_get_string_member (json_node_get_object (e), "content");
      if (!t) {
        char *p = g_strdup_printf ("additional_special_tokens[%u]", i);
        tok_fail_type (ld, p, e, "a token string or {\"content\": ...}");
        g_free (p);
        return FALSE;
      }
      if (vtp_wordpiece_token_to_id (wp, t) < 0)
        tok_added_add (wp->tok, t, TRUE, FALSE, FALSE, FALSE, FALSE);
    }
  }
  if (!tok_get_str (ld, cfg, "tokenizer_config", "truncation_side", NULL, TRUE, &side))
    return FALSE;
  if (side && strcmp (side, "left") == 0)
    wp->tok->trunc_left = TRUE;
  else if (side && strcmp (side, "right") == 0)
    wp->tok->trunc_left = FALSE;
  else if (side)
    return tok_fail_type (ld, "truncation_side", json_object_get_member (cfg, "truncation_side"),
        "\"left\" or \"right\"");
  return TRUE;
}

VtpWordPiece *
vtp_wordpiece_new_from_dir (const char *dir, GError **error)
{
  char *json_path, *cfg_path, *vocab_path;
  JsonParser *parser = NULL;
  JsonObject *cfg = NULL;
  VtpWordPiece *wp = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  json_path = g_build_filename (dir, "tokenizer.json", NULL);
  cfg_path = g_build_filename (dir, "tokenizer_config.json", NULL);
  vocab_path = g_build_filename (dir, "vocab.txt", NULL);

  if (g_file_test (cfg_path, G_FILE_TEST_EXISTS)) {
    GError *perr = NULL;
    JsonNode *root;
    parser = json_parser_new_immutable ();
    if (!vtp_json_parser_load_file (parser, cfg_path, &perr)) {
      gboolean io = perr->domain == G_FILE_ERROR;
      g_set_error (error, VTP_WORDPIECE_ERROR, io ? VTP_WORDPIECE_ERROR_FILE : VTP_WORDPIECE_ERROR_PARSE,
          "%s: %s: %s", cfg_path, io ? "cannot read it" : "not valid JSON", perr->message);
      g_error_free (perr);
      goto out;
    }
    root = json_parser_get_root (parser);
    if (!JSON_NODE_HOLDS_OBJECT (root)) {
      TokLd ld = { cfg_path, error, VTP_WORDPIECE_ERROR };
      tok_fail_type (&ld, "the top level", root, "an object");
      goto out;
    }
    cfg = json_node_get_object (root);
  }

  if (g_file_test (json_path, G_FILE_TEST_EXISTS)) {
    wp = vtp_wordpiece_new_from_file (json_path, error);
  } else if (g_file_test (vocab_path, G_FILE_TEST_EXISTS)) {
    VocabOpts vo = { TRUE, -1, TRUE, "[UNK]", "[SEP]", "[CLS]", "[PAD]", "[MASK]" };
    if (cfg) {
      TokLd ld = { cfg_path, error, VTP_WORDPIECE_ERROR };
      JsonNode *sa = json_object_get_member (cfg, "strip_accents");
      gboolean b;
      if (!tok_get_bool (&ld, cfg, "tokenizer_config", "do_lower_case", TRUE, &vo.lowercase)
          || !tok_get_bool (&ld, cfg, "tokenizer_config", "tokenize_chinese_chars", TRUE, &vo.chinese)
          || (!tok_is_null (sa) && !tok_get_bool (&ld, cfg, "tokenizer_config", "strip_accents", FALSE, &b))
          || !config_token (&ld, cfg, "unk_token", &vo.unk) || !config_token (&ld, cfg, "sep_token", &vo.sep)
          || !config_token (&ld, cfg, "cls_token", &vo.cls) || !config_token (&ld, cfg, "pad_token", &vo.pad)
          || !config_token (&ld, cfg, "mask_token", &vo.mask))
        goto out;
      if (!tok_is_null (sa))
        vo.strip_accents = b;
    }
    wp = new_from_vocab_opts (vocab_path, &vo, error);
  } else {
    g_set_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE,
        "%s: no tokenizer.json and no vocab.txt in this folder", dir);
  }
  if (wp && cfg) {
    TokLd ld = { cfg_path, error, VTP_WORDPIECE_ERROR };
    if (!apply_config (&ld, wp, cfg))
      g_clear_pointer (&wp, vtp_wordpiece_free);
  }
out:
  if (parser)
    g_object_unref (parser);
  g_free (json_path);
  g_free (cfg_path);
  g_free (vocab_path);
  return wp;
}
