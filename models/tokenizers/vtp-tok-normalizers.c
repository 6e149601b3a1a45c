/* vtp-tok-normalizers.c: the normalizers (Prepend, Replace with a String
 * or Regex pattern (vtp-tok-regex.c), BertNormalizer, Strip, Precompiled (its lookup in
 * vtp-tok-precompiled.c), and Sequences of them). Each keeps, per byte of
 * its output, the original offset of the char that byte comes from, as
 * tokenizers' NormalizedString alignments do: Metaspace's prepend_scheme
 * "first" asks whether a piece starts at offset 0 of the original text. */
#include "vtp-tok-private.h"
#include <string.h>

void
tok_norm_op_clear (gpointer p)
{
  TokNormOp *op = p;
  g_free (op->a);
  g_free (op->b);
  g_free (op->trie);
  tok_regex_free (op->re);
}

void
tok_norm_init (TokNorm *nm, const char *s, gsize n)
{
  nm->s = g_string_new_len (s, n);
  nm->align = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n);
  g_array_set_size (nm->align, n);
  for (gsize i = 0; i < n;) {
    gsize l = tok_utf8_char_len ((guchar) s[i]);
    for (gsize k = 0; k < l && i + k < n; k++)
      g_array_index (nm->align, gsize, i + k) = i;
    i += l;
  }
}

void
tok_norm_clear (TokNorm *nm)
{
  g_string_free (nm->s, TRUE);
  g_array_free (nm->align, TRUE);
}

static void
norm_replace_with (TokNorm *nm, GString *s, GArray *align)
{
  g_string_free (nm->s, TRUE);
  g_array_free (nm->align, TRUE);
  nm->s = s;
  nm->align = align;
}

/* Appends @len bytes of @s, all aligned to @a */
static void
append_aligned (GString *out, GArray *al, const char *s, gsize len, gsize a)
{
  g_string_append_len (out, s, len);
  for (gsize k = 0; k < len; k++)
    g_array_append_val (al, a);
}

/* Prepend: only on a non-empty string; the new chars align to the first char */
static void
apply_prepend (const TokNormOp *op, TokNorm *nm)
{
  if (nm->s->len == 0 || op->a_len == 0)
    return;
  gsize a0 = g_array_index (nm->align, gsize, 0);
  g_string_prepend_len (nm->s, op->a, op->a_len);
  g_array_set_size (nm->align, nm->align->len + op->a_len);
  memmove (&g_array_index (nm->align, gsize, op->a_len), &g_array_index (nm->align, gsize, 0),
      (nm->align->len - op->a_len) * sizeof (gsize));
  for (gsize i = 0; i < op->a_len; i++)
    g_array_index (nm->align, gsize, i) = a0;
}

/* The next match of Replace's pattern at or after @from */
static gboolean
replace_find (const TokNormOp *op, const char *s, gsize n, gsize from, gsize *start, gsize *end)
{
  if (op->re)
    return tok_regex_find (op->re, s, n, from, start, end);
  for (gsize i = from; i + op->a_len <= n; i++)
    if (memcmp (s + i, op->a, op->a_len) == 0) {
      *start = i;
      *end = i + op->a_len;
      return TRUE;
    }
  return FALSE;
}

/* Replace (a string or a regex): leftmost non-overlapping matches; the new
 * chars align to the last replaced char, as NormalizedString::replace does */
static void
apply_replace (const TokNormOp *op, TokNorm *nm)
{
  const char *s = nm->s->str;
  gsize n = nm->s->len, last = 0, ms, me;
  GString *out = NULL;
  GArray *al = NULL;
  while (replace_find (op, s, n, last, &ms, &me) && me > ms) {
    if (!out) {
      out = g_string_sized_new (n + 16);
      al = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n + 16);
    }
    gsize a = g_array_index (nm->align, gsize, me - 1);
    g_string_append_len (out, s + last, ms - last);
    g_array_append_vals (al, &g_array_index (nm->align, gsize, last), ms - last);
    append_aligned (out, al, op->b, op->b_len, a);
    last = me;
  }
  if (out) {
    g_string_append_len (out, s + last, n - last);
    g_array_append_vals (al, &g_array_index (nm->align, gsize, last), n - last);
    norm_replace_with (nm, out, al);
  }
}

/* Strip: whitespace (Rust's char::is_whitespace) off either end */
static void
apply_strip (const TokNormOp *op, TokNorm *nm)
{
  const char *s = nm->s->str;
  gsize start = 0, end = nm->s->len;
  while (op->left && start < end) {
    gsize l = tok_utf8_char_len ((guchar) s[start]);
    if (!tok_is_white_space (g_utf8_get_char (s + start)))
      break;
    start += l;
  }
  while (op->right && end > start) {
    const char *p = g_utf8_prev_char (s + end);
    if (!tok_is_white_space (g_utf8_get_char (p)))
      break;
    end = p - s;
  }
  if (start == 0 && end == nm->s->len)
    return;
  g_string_truncate (nm->s, end);
  g_string_erase (nm->s, 0, start);
  g_array_set_size (nm->align, end);
  g_array_remove_range (nm->align, 0, start);
}

/* Whether every byte of @s is in [@lo, @hi] */
static gboolean
all_bytes_in (const GString *s, guchar lo, guchar hi)
{
  for (gsize i = 0; i < s->len; i++)
    if ((guchar) s->str[i] < lo || (guchar) s->str[i] > hi)
      return FALSE;
  return TRUE;
}

/* BertNormalizer's clean_text and handle_chinese_chars, char by char */
static void
bert_clean (const TokNormOp *op, TokNorm *nm)
{
  const char *s = nm->s->str;
  gsize n = nm->s->len;
  GString *out;
  GArray *al;

  if (all_bytes_in (nm->s, 0x20, 0x7E))   /* printable ASCII: nothing to drop, space or pad */
    return;
  out = g_string_sized_new (n + 16);
  al = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n + 16);
  for (gsize i = 0; i < n;) {
    gsize l = tok_utf8_char_len ((guchar) s[i]);
    gsize a = g_array_index (nm->align, gsize, i);
    gunichar c = l == 1 ? (guchar) s[i] : g_utf8_get_char (s + i);
    if (op->clean_text && (c == 0 || c == 0xFFFD || tok_is_bert_control (c))) {
      /* dropped */
    } else if (op->clean_text && tok_is_white_space (c)) {
      append_aligned (out, al, " ", 1, a);
    } else if (op->chinese && c >= 0x3400 && tok_is_cjk (c)) {
      append_aligned (out, al, " ", 1, a);
      append_aligned (out, al, s + i, l, a);
      append_aligned (out, al, " ", 1, a);
    } else {
      append_aligned (out, al, s + i, l, a);
    }
    i += l;
  }
  norm_replace_with (nm, out, al);
}

/* strip_accents: NFD, then the nonspacing marks dropped. NFD runs on the
 * whole text (canonical reordering crosses chars). With @exact the
 * alignments come from char-by-char NFD when that gives the same text
 * (always, unless marks were reordered); else (and without @exact, when
 * no pre-tokenizer asks) every byte takes the first char's. */
static void
bert_strip_accents (TokNorm *nm, gboolean exact)
{
  GString *d, *per, *out;
  GArray *dal, *al;

  if (all_bytes_in (nm->s, 0x00, 0xC2))   /* below U+00C0 nothing decomposes, no mark */
    return;
  d = g_string_sized_new (nm->s->len + 16);
  per = g_string_sized_new (nm->s->len + 16);
  dal = g_array_sized_new (FALSE, FALSE, sizeof (gsize), nm->s->len + 16);
  tok_append_nfd (d, nm->s->str, nm->s->len);
  for (gsize i = 0; exact && i < nm->s->len;) {
    gsize l = tok_utf8_char_len ((guchar) nm->s->str[i]), before = per->len;
    tok_append_nfd (per, nm->s->str + i, l);
    for (gsize k = before; k < per->len; k++)
      g_array_append_val (dal, g_array_index (nm->align, gsize, i));
    i += l;
  }
  if (per->len != d->len || memcmp (per->str, d->str, d->len) != 0) {
    gsize a0 = nm->align->len ? g_array_index (nm->align, gsize, 0) : 0;
    g_array_set_size (dal, d->len);
    for (gsize k = 0; k < d->len; k++)
      g_array_index (dal, gsize, k) = a0;
  }
  g_string_free (per, TRUE);
  out = g_string_sized_new (d->len);
  al = g_array_sized_new (FALSE, FALSE, sizeof (gsize), d->len);
  for (gsize i = 0; i < d->len;) {
    gsize l = tok_utf8_char_len ((guchar) d->str[i]);
    if (l == 1 || !tok_is_nonspacing_mark (g_utf8_get_char (d->str + i))) {
      g_string_append_len (out, d->str + i, l);
      g_array_append_vals (al, &g_array_index (dal, gsize, i), l);
    }
    i += l;
  }
  g_string_free (d, TRUE);
  g_array_free (dal, TRUE);
  norm_replace_with (nm, out, al);
}

/* lowercase, as Rust's char::to_lowercase, char by char */
static void
bert_lower (TokNorm *nm)
{
  GString *out;
  GArray *al;

  if (all_bytes_in (nm->s, 0x00, 0x7F)) {   /* ASCII: in place, one byte each */
    for (gsize i = 0; i < nm->s->len; i++)
      nm->s->str[i] = g_ascii_tolower (nm->s->str[i]);
    return;
  }
  out = g_string_sized_new (nm->s->len + 8);
  al = g_array_sized_new (FALSE, FALSE, sizeof (gsize), nm->s->len + 8);
  for (gsize i = 0; i < nm->s->len;) {
    gsize l = tok_utf8_char_len ((guchar) nm->s->str[i]), before = out->len;
    gsize a = g_array_index (nm->align, gsize, i);
    tok_append_lower (out, l == 1 ? (guchar) nm->s->str[i] : g_utf8_get_char (nm->s->str + i));
    for (gsize k = before; k < out->len; k++)
      g_array_append_val (al, a);
    i += l;
  }
  norm_replace_with (nm, out, al);
}

/* Whether a pre-tokenizer asks where the pieces start in the original
 * text (Metaspace's prepend_scheme "first") */
static gboolean
needs_alignments (const VtpTokenizer *tok)
{
  for (guint k = 0; k < tok->pre_ops->len; k++) {
    const TokPreOp *op = &g_array_index (tok->pre_ops, TokPreOp, k);
    if (op->kind == PRE_METASPACE && op->scheme == SCHEME_FIRST)
      return TRUE;
  }
  return FALSE;
}

void
tok_normalize (const VtpTokenizer *tok, TokNorm *nm)
{
  for (guint k = 0; k < tok->norm_ops->len; k++) {
    const TokNormOp *op = &g_array_index (tok->norm_ops, TokNormOp, k);
    switch (op->kind) {
      case NORM_PREPEND:
        apply_prepend (op, nm);
        break;
      case NORM_REPLACE:
        apply_replace (op, nm);
        break;
      case NORM_STRIP:
        apply_strip (op, nm);
        break;
      case NORM_PRECOMPILED:
        tok_apply_precompiled (op, nm);
        break;
      case NORM_BERT:
        if (op->clean_text || op->chinese)
          bert_clean (op, nm);
        if (op->strip_accents)
          bert_strip_accents (nm, needs_alignments (tok));
        if (op->lowercase)
          bert_lower (nm);
        break;
    }
  }
}

char *
tok_normalize_string (const VtpTokenizer *tok, const char *s, gsize n)
{
  TokNorm nm;
  tok_norm_init (&nm, s, n);
  tok_normalize (tok, &nm);
  g_array_free (nm.align, TRUE);
  return g_string_free (nm.s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Loading */

gboolean
tok_get_pattern (TokLd *ld, JsonObject *o, const char *path, char **out, TokRegex **re)
{
  JsonNode *n = json_object_get_member (o, "pattern");
  char *p = g_strdup_printf ("%s.pattern", path);
  gboolean r = FALSE;
  if (re)
    *re = NULL;
  if (!n || !JSON_NODE_HOLDS_OBJECT (n)) {
    tok_fail_type (ld, p, n, re ? "an object {\"String\": ...} or {\"Regex\": ...}" : "an object {\"String\": ...}");
  } else {
    JsonObject *po = json_node_get_object (n);
    gboolean is_re = json_object_has_member (po, "Regex");
    JsonNode *s = json_object_get_member (po, is_re ? "Regex" : "String");
    if (is_re && !re) {
      tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s is a Regex pattern; only String patterns are supported", p);
    } else if (!tok_is_string (s) || json_object_get_size (po) != 1) {
      tok_fail_type (ld, p, n, is_re ? "{\"Regex\": \"...\"}" : "{\"String\": \"...\"}");
    } else if (!*json_node_get_string (s)) {
      tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.%s is \"\", an empty pattern is not supported", p,
          is_re ? "Regex" : "String");
    } else if (is_re && !(*re = tok_regex_new (json_node_get_string (s)))) {
      tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.Regex is \"%s\": vtp reads literal chars with quantifiers, "
          "\\A, \\z, ^, $ and | (no classes, groups or patterns that match nothing)", p, json_node_get_string (s));
    } else {
      *out = g_strdup (json_node_get_string (s));
      r = TRUE;
    }
  }
  g_free (p);
  return r;
}

static gboolean
parse_bert (TokLd *ld, TokNormOp *op, JsonObject *o, const char *path)
{
  op->kind = NORM_BERT;
  if (!tok_get_bool (ld, o, path, "clean_text", TRUE, &op->clean_text)
      || !tok_get_bool (ld, o, path, "handle_chinese_chars", TRUE, &op->chinese)
      || !tok_get_bool (ld, o, path, "lowercase", TRUE, &op->lowercase))
    return FALSE;
  /* strip_accents null: follow lowercase */
  if (tok_is_null (json_object_get_member (o, "strip_accents")))
    op->strip_accents = op->lowercase;
  else if (!tok_get_bool (ld, o, path, "strip_accents", FALSE, &op->strip_accents))
    return FALSE;
  return TRUE;
}

gboolean
tok_parse_normalizer (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  TokNormOp op;
  memset (&op, 0, sizeof op);
  if (!tok_get_type (ld, n, path, &o, &type))
    return FALSE;
  tok->has_normalizer = TRUE;
  if (strcmp (type, "Sequence") == 0)
    return tok_parse_sequence (ld, tok, o, path, "normalizers", tok_parse_normalizer);
  if (strcmp (type, "Prepend") == 0) {
    const char *s;
    op.kind = NORM_PREPEND;
    if (!tok_get_str (ld, o, path, "prepend", NULL, FALSE, &s))
      return FALSE;
    op.a = g_strdup (s);
    op.a_len = strlen (s);
  } else if (strcmp (type, "Replace") == 0) {
    const char *content;
    op.kind = NORM_REPLACE;
    if (!tok_get_str (ld, o, path, "content", NULL, FALSE, &content)
        || !tok_get_pattern (ld, o, path, &op.a, &op.re))
      return FALSE;
    op.b = g_strdup (content);
    op.a_len = strlen (op.a);
    op.b_len = strlen (op.b);
  } else if (strcmp (type, "BertNormalizer") == 0) {
    if (!parse_bert (ld, &op, o, path))
      return FALSE;
  } else if (strcmp (type, "Strip") == 0) {
    op.kind = NORM_STRIP;
    if (!tok_get_bool (ld, o, path, "strip_left", FALSE, &op.left)
        || !tok_get_bool (ld, o, path, "strip_right", FALSE, &op.right))
      return FALSE;
  } else if (strcmp (type, "Precompiled") == 0) {
    if (!tok_parse_precompiled (ld, &op, o, path)) {
      tok_norm_op_clear (&op);
      return FALSE;
    }
  } else if (strcmp (type, "NFC") == 0 || strcmp (type, "NFKC") == 0 || strcmp (type, "NFD") == 0
      || strcmp (type, "NFKD") == 0) {
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "%s.type is \"%s\": not supported (tokenizers normalizes with Unicode 9-era tables, GLib with "
        "newer ones, so the ids would differ for newer characters)", path, type);
  } else {
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "%s.type is \"%s\", expected one of \"Sequence\", \"Prepend\", \"Replace\", \"BertNormalizer\", "
        "\"Strip\", \"Precompiled\"", path, type);
  }
  g_array_append_val (tok->norm_ops, op);
  return TRUE;
}
