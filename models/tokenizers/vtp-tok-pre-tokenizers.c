/* vtp-tok-pre-tokenizers.c: the pre-tokenizers, which cut a piece of
 * normalized text into the words the model sees one by one:
 *   Metaspace         spaces to "▁" (or the replacement), a "▁" prepended
 *                     per prepend_scheme, split before each "▁" when split
 *   BertPreTokenizer  split at whitespace (dropped) and around punctuation
 *   ByteLevel         GPT-2's: a space prepended (add_prefix_space), split
 *                     by GPT-2's regex (use_regex), every byte written as
 *                     its bytes_to_unicode character
 *   WhitespaceSplit   split at whitespace (dropped): T5's, before Metaspace
 *   Split             by Llama 3's (or Qwen2's, or GPT-2's) regex, each
 *                     match a word: before a ByteLevel without use_regex
 *   Sequence          each in turn, on each word of the one before.
 * Words are spans of a stage buffer (TokScratch.buf / .words): stage r's
 * words are the input of stage 1 - r; the first stage reads the piece in
 * place. */
#include "vtp-tok-private.h"
#include <string.h>

static void
word_add (GArray *words, gsize start, gsize end, gboolean first)
{
  TokWord w = { start, end, first };
  if (end > start)
    g_array_append_val (words, w);
}

/* Metaspace::pre_tokenize on one word, appended to @out / @words */
static void
metaspace (const TokPreOp *op, const char *s, gsize n, gboolean is_first, GString *out, GArray *words)
{
  gsize base = out->len, piece;
  gboolean starts = n > 0 && (s[0] == ' ' || (n >= op->rep_len && memcmp (s, op->rep, op->rep_len) == 0));
  if (!starts && (op->scheme == SCHEME_ALWAYS || (op->scheme == SCHEME_FIRST && is_first)))
    g_string_append_len (out, op->rep, op->rep_len);
  for (gsize i = 0; i < n; i++) {
    if (s[i] == ' ')
      g_string_append_len (out, op->rep, op->rep_len);
    else
      g_string_append_c (out, s[i]);
  }
  if (!op->split) {
    word_add (words, base, out->len, is_first);
    return;
  }
  /* split before every replacement char (MergedWithNext) */
  piece = base;
  for (gsize i = base; i < out->len;) {
    if (i + op->rep_len <= out->len && memcmp (out->str + i, op->rep, op->rep_len) == 0) {
      word_add (words, piece, i, is_first && piece == base);
      piece = i;
      i += op->rep_len;
    } else {
      i += tok_utf8_char_len ((guchar) out->str[i]);
    }
  }
  word_add (words, piece, out->len, is_first && piece == base);
}

/* BertPreTokenizer on one word */
static void
bert (const char *s, gsize n, gboolean is_first, GString *out, GArray *words)
{
  gsize base = out->len, word = 0;
  g_string_append_len (out, s, n);
  for (gsize i = 0; i < n;) {
    gsize l = tok_utf8_char_len ((guchar) s[i]);
    gunichar c = l == 1 ? (guchar) s[i] : g_utf8_get_char (s + i);
    gboolean ws = tok_is_white_space (c);
    if (ws || tok_is_bert_punct (c)) {
      word_add (words, base + word, base + i, is_first && word == 0);
      if (!ws)
        word_add (words, base + i, base + i + l, is_first && i == 0);
      word = i + l;
    }
    i += l;
  }
  word_add (words, base + word, base + n, is_first && word == 0);
}

/* WhitespaceSplit on one word: the runs between whitespace chars (Rust's
 * char::is_whitespace) */
static void
whitespace_split (const char *s, gsize n, gboolean is_first, GString *out, GArray *words)
{
  gsize base = out->len, word = 0;
  g_string_append_len (out, s, n);
  for (gsize i = 0; i < n;) {
    gsize l = tok_utf8_char_len ((guchar) s[i]);
    gunichar c = l == 1 ? (guchar) s[i] : g_utf8_get_char (s + i);
    if (tok_is_white_space (c)) {
      word_add (words, base + word, base + i, is_first && word == 0);
      word = i + l;
    }
    i += l;
  }
  word_add (words, base + word, base + n, is_first && word == 0);
}

static gboolean
is_other (gunichar c)
{
  return !tok_is_white_space (c) && !tok_is_letter (c) && !tok_is_number (c);
}

/* The end of the GPT-2 regex's match starting at code point @i of @c[@n]:
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * the alternatives in the regex's order, the first that matches wins. */
static gsize
gpt2_piece_end (const gunichar *c, gsize n, gsize i)
{
  gsize j, k;

  /* the contractions (case-sensitive, as GPT-2's regex) */
  if (c[i] == '\'' && i + 1 < n) {
    gunichar a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return i + 3;
  }
  /* one optional space, then a run of one class */
  j = (c[i] == ' ' && i + 1 < n) ? i + 1 : i;
  if (tok_is_letter (c[j])) {
    while (j < n && tok_is_letter (c[j]))
      j++;
    return j;
  }
  if (tok_is_number (c[j])) {
    while (j < n && tok_is_number (c[j]))
      j++;
    return j;
  }
  if (is_other (c[j])) {
    while (j < n && is_other (c[j]))
      j++;
    return j;
  }
  /* `\s+(?!\S)`: a whitespace run up to the end of the text, or all of it
   * but its last char when a non-space follows (that char then starts the
   * next piece, as the space of " word"); else `\s+` takes the single
   * whitespace char. */
  for (k = i; k < n && tok_is_white_space (c[k]); k++)
    ;
  if (k == n || k - i == 1)
    return k;
  return k - 1;
}

/* The end of Llama 3's regex's match starting at code point @i of @c[@n]
 * (Qwen2's: @max_digits 1 for \p{N}{1,3}):
 *   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}
 *   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
 * the alternatives in order, the first that matches wins. The contractions
 * compare ASCII-case-insensitively, as llama.cpp does (no code point
 * outside ASCII lowercases to one of these letters). */
static gunichar
ascii_lower (gunichar c)
{
  return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static gsize
llama3_piece_end (const gunichar *c, gsize n, gsize i, guint max_digits)
{
  gsize j, k, after_newline = 0;

  if (c[i] == '\'' && i + 1 < n) {
    const gunichar a = ascii_lower (c[i + 1]), b = i + 2 < n ? ascii_lower (c[i + 2]) : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return i + 3;
  }
  /* a letter run, after one char that is no newline, letter or number */
  if (c[i] != '\r' && c[i] != '\n' && !tok_is_number (c[i])) {
    j = tok_is_letter (c[i]) ? i : i + 1;
    if (j < n && tok_is_letter (c[j])) {
      while (j < n && tok_is_letter (c[j]))
        j++;
      return j;
    }
  }
  /* up to max_digits numbers: longer runs come in groups from the left */
  if (tok_is_number (c[i])) {
    for (j = i; j < n && j - i < max_digits && tok_is_number (c[j]); j++)
      ;
    return j;
  }
  /* one optional space, other chars, then newlines */
  j = (c[i] == ' ' && i + 1 < n && is_other (c[i + 1])) ? i + 1 : i;
  if (is_other (c[j])) {
    while (j < n && is_other (c[j]))
      j++;
    while (j < n && (c[j] == '\r' || c[j] == '\n'))
      j++;
    return j;
  }
  /* a whitespace run: up to its last newline if it has one (`\s*[\r\n]+`),
   * else as GPT-2's regex ends */
  for (k = i; k < n && tok_is_white_space (c[k]); k++)
    if (c[k] == '\r' || c[k] == '\n')
      after_newline = k + 1;
  if (after_newline)
    return after_newline;
  if (k == n || k - i == 1)
    return k;
  return k - 1;
}

/* The end of @op's regex's match at code point @i of @c[@n] */
static gsize
piece_end (const TokPreOp *op, const gunichar *c, gsize n, gsize i)
{
  return op->regex == SPLIT_LLAMA3 ? llama3_piece_end (c, n, i, op->max_digits) : gpt2_piece_end (c, n, i);
}

/* @s[@n] as code points: *@cps, and the byte offset of each in *@offs
 * (one more: @n); returns how many */
static gsize
to_code_points (const char *s, gsize n, gunichar **cps, gsize **offs)
{
  gsize m = 0;

  *cps = g_new (gunichar, n + 1);
  *offs = g_new (gsize, n + 1);
  for (gsize i = 0; i < n; i += tok_utf8_char_len ((guchar) s[i])) {
    (*cps)[m] = g_utf8_get_char (s + i);
    (*offs)[m++] = i;
  }
  (*offs)[m] = n;
  return m;
}

/* Split (a regex of TokSplitRegex, behavior Isolated): each match a word of
 * its own; the regexes match every char, so nothing lies between matches */
static void
split (const TokPreOp *op, const char *s, gsize n, gboolean is_first, GString *out, GArray *words)
{
  g_autofree gunichar *cps = NULL;
  g_autofree gsize *offs = NULL;
  const gsize m = to_code_points (s, n, &cps, &offs);
  const gsize base = out->len;

  g_string_append_len (out, s, n);
  for (gsize i = 0; i < m;) {
    const gsize end = piece_end (op, cps, m, i);
    word_add (words, base + offs[i], base + offs[end], is_first && i == 0);
    i = end;
  }
}

/* @n bytes of @s as their bytes_to_unicode chars, one word */
static void
byte_level_word (const char *s, gsize n, gboolean first, GString *out, GArray *words)
{
  gsize start = out->len;
  for (gsize i = 0; i < n; i++)
    g_string_append (out, tok_byte_char ((guint8) s[i]));
  word_add (words, start, out->len, first);
}

/* ByteLevel::pre_tokenize on one word */
static void
byte_level (const TokPreOp *op, const char *s, gsize n, gboolean is_first, GString *out, GArray *words)
{
  g_autofree char *spaced = NULL;
  g_autofree gunichar *cps = NULL;
  g_autofree gsize *offs = NULL;
  gsize m = 0;

  if (op->add_prefix_space && n > 0 && s[0] != ' ') {
    spaced = g_malloc (n + 1);
    spaced[0] = ' ';
    memcpy (spaced + 1, s, n);
    s = spaced;
    n++;
  }
  if (!op->use_regex) {
    byte_level_word (s, n, is_first, out, words);
    return;
  }
  m = to_code_points (s, n, &cps, &offs);
  for (gsize i = 0; i < m;) {
    gsize end = piece_end (op, cps, m, i);
    byte_level_word (s + offs[i], offs[end] - offs[i], is_first && i == 0, out, words);
    i = end;
  }
}

const char *
tok_pre_tokenize (const VtpTokenizer *tok, TokScratch *sc, const char *s, gsize n, gboolean is_first, GArray **words)
{
  const char *in = s;       /* the first stage reads the piece where it is */
  guint r = 0;
  g_array_set_size (sc->words[0], 0);
  word_add (sc->words[0], 0, n, is_first);
  for (guint k = 0; k < tok->pre_ops->len; k++) {
    const TokPreOp *op = &g_array_index (tok->pre_ops, TokPreOp, k);
    GString *out = sc->buf[1 - r];
    GArray *win = sc->words[r], *wout = sc->words[1 - r];
    g_string_truncate (out, 0);
    g_array_set_size (wout, 0);
    for (guint w = 0; w < win->len; w++) {
      const TokWord *wd = &g_array_index (win, TokWord, w);
      const char *ws = in + wd->start;
      gsize wn = wd->end - wd->start;
      switch (op->kind) {
        case PRE_METASPACE: metaspace (op, ws, wn, wd->first, out, wout); break;
        case PRE_BERT: bert (ws, wn, wd->first, out, wout); break;
        case PRE_BYTE_LEVEL: byte_level (op, ws, wn, wd->first, out, wout); break;
        case PRE_WHITESPACE_SPLIT: whitespace_split (ws, wn, wd->first, out, wout); break;
        case PRE_SPLIT: split (op, ws, wn, wd->first, out, wout); break;
      }
    }
    r = 1 - r;
    in = out->str;
  }
  *words = sc->words[r];
  return in;
}

/* ------------------------------------------------------------------------ */
/* Loading */

gboolean
tok_parse_prepend_scheme (TokLd *ld, JsonObject *o, const char *path, TokPrependScheme *out)
{
  const char *s;
  gboolean add_prefix_space = TRUE;
  JsonNode *aps = json_object_get_member (o, "add_prefix_space");
  if (!tok_get_str (ld, o, path, "prepend_scheme", NULL, TRUE, &s))
    return FALSE;
  if (!s || strcmp (s, "always") == 0)
    *out = SCHEME_ALWAYS;
  else if (strcmp (s, "first") == 0)
    *out = SCHEME_FIRST;
  else if (strcmp (s, "never") == 0)
    *out = SCHEME_NEVER;
  else {
    char *p = g_strdup_printf ("%s.prepend_scheme", path);
    tok_fail_type (ld, p, json_object_get_member (o, "prepend_scheme"), "\"always\", \"first\" or \"never\"");
    g_free (p);
    return FALSE;
  }
  if (!tok_is_null (aps)) {
    if (!tok_get_bool (ld, o, path, "add_prefix_space", TRUE, &add_prefix_space))
      return FALSE;
    if (!add_prefix_space) {
      if (*out != SCHEME_NEVER && s)
        return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE,
            "%s.add_prefix_space is false but %s.prepend_scheme is \"%s\"", path, path, s);
      *out = SCHEME_NEVER;
    }
  }
  return TRUE;
}

/* The Split patterns vtp matches (as tokenizer.json spells them) */
static const struct {
  const char *pattern;
  TokSplitRegex regex;
  guint max_digits;
} split_patterns[] = {
  { "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", SPLIT_LLAMA3, 3 },                            /* Llama 3 */
  { "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
    "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+", SPLIT_LLAMA3, 1 },                            /* Qwen2 */
  { "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", SPLIT_GPT2, 0 },
};

/* Split: one of split_patterns, each match a word ("Isolated") */
static gboolean
parse_split (TokLd *ld, TokPreOp *op, JsonObject *o, const char *path)
{
  JsonNode *pn = json_object_get_member (o, "pattern"), *rn;
  const char *behavior, *pattern;
  gboolean invert;

  op->kind = PRE_SPLIT;
  if (!tok_get_str (ld, o, path, "behavior", NULL, FALSE, &behavior)
      || !tok_get_bool (ld, o, path, "invert", FALSE, &invert))
    return FALSE;
  if (!pn || !JSON_NODE_HOLDS_OBJECT (pn) || !(rn = json_object_get_member (json_node_get_object (pn), "Regex"))
      || !tok_is_string (rn)) {
    char *p = g_strdup_printf ("%s.pattern", path);
    gboolean r = tok_fail_type (ld, p, pn, "an object {\"Regex\": ...}");
    g_free (p);
    return r;
  }
  pattern = json_node_get_string (rn);
  for (guint i = 0; i < G_N_ELEMENTS (split_patterns); i++)
    if (strcmp (pattern, split_patterns[i].pattern) == 0) {
      op->regex = split_patterns[i].regex;
      op->max_digits = split_patterns[i].max_digits;
      if (strcmp (behavior, "Isolated") != 0 || invert)
        return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s: behavior \"%s\"%s; vtp splits \"Isolated\", "
            "not inverted", path, behavior, invert ? ", inverted" : "");
      return TRUE;
    }
  return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.pattern.Regex is \"%s\"; vtp knows GPT-2's, Llama 3's "
      "and Qwen2's splitting patterns only", path, pattern);
}

gboolean
tok_parse_pre_tokenizer (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  TokPreOp op;
  memset (&op, 0, sizeof op);
  if (!tok_get_type (ld, n, path, &o, &type))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return tok_parse_sequence (ld, tok, o, path, "pretokenizers", tok_parse_pre_tokenizer);
  if (strcmp (type, "Metaspace") == 0) {
    gunichar rep;
    op.kind = PRE_METASPACE;
    if (!tok_get_char (ld, o, path, "replacement", &rep) || !tok_parse_prepend_scheme (ld, o, path, &op.scheme)
        || !tok_get_bool (ld, o, path, "split", TRUE, &op.split))
      return FALSE;
    op.rep_len = g_unichar_to_utf8 (rep, op.rep);
    op.rep[op.rep_len] = 0;
  } else if (strcmp (type, "BertPreTokenizer") == 0) {
    op.kind = PRE_BERT;
  } else if (strcmp (type, "WhitespaceSplit") == 0) {
    op.kind = PRE_WHITESPACE_SPLIT;
  } else if (strcmp (type, "ByteLevel") == 0) {
    gboolean trim_offsets;
    op.kind = PRE_BYTE_LEVEL;
    /* trim_offsets changes offsets only, never ids */
    if (!tok_get_bool (ld, o, path, "add_prefix_space", TRUE, &op.add_prefix_space)
        || !tok_get_bool (ld, o, path, "use_regex", TRUE, &op.use_regex)
        || !tok_get_bool (ld, o, path, "trim_offsets", TRUE, &trim_offsets))
      return FALSE;
  } else if (strcmp (type, "Split") == 0) {
    if (!parse_split (ld, &op, o, path))
      return FALSE;
  } else {
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.type is \"%s\", expected one of \"Metaspace\", "
        "\"BertPreTokenizer\", \"ByteLevel\", \"WhitespaceSplit\", \"Split\", \"Sequence\" (or a null "
        "pre_tokenizer)", path, type);
  }
  g_array_append_val (tok->pre_ops, op);
  return TRUE;
}
