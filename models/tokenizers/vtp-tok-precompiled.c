/* vtp-tok-precompiled.c: the Precompiled normalizer, SentencePiece's
 * normalization rules as a model carries them (T5's nmt_nfkc): the
 * "precompiled_charsmap", base64 of
 *   u32 (little-endian)  the trie's size in bytes
 *   u32[size / 4]        a double-array trie (darts-clone's units) whose
 *                        keys are UTF-8 strings and whose values are
 *                        offsets into the strings below
 *   the replacements     NUL-terminated UTF-8 strings, one after another.
 *
 * tokenizers applies it as its normalizers::precompiled does, which is not
 * SentencePiece's longest match:
 *   - the text is cut into extended grapheme clusters;
 *   - a cluster under 6 bytes is looked up whole, and the first key (the
 *     shortest) that is a prefix of it replaces all of it, the rest of the
 *     cluster dropped;
 *   - otherwise each char of the cluster is looked up alone;
 *   - a lookup stops at a NUL byte. */
#include "vtp-tok-private.h"
#include <string.h>

/* The fields of a darts-clone unit */
static inline gboolean
unit_has_leaf (guint32 u)
{
  return (u >> 8) & 1;
}

static inline guint32
unit_value (guint32 u)
{
  return u & 0x7FFFFFFFu;
}

static inline guint32
unit_label (guint32 u)
{
  return u & (0x80000000u | 0xFFu);
}

static inline gsize
unit_offset (guint32 u)
{
  return (gsize) (u >> 10) << ((u & (1u << 9)) >> 6);
}

/* The value of the shortest key that is a prefix of @s[@n]; FALSE when none
 * (or when the trie points outside itself, where tokenizers would panic) */
static gboolean
first_prefix (const TokNormOp *op, const guchar *s, gsize n, guint32 *value)
{
  gsize pos = unit_offset (op->trie[0]);
  for (gsize i = 0; i < n && s[i] != 0; i++) {
    guint32 u;
    pos ^= s[i];
    if (pos >= op->n_trie)
      return FALSE;
    u = op->trie[pos];
    if (unit_label (u) != s[i])
      return FALSE;
    pos ^= unit_offset (u);
    if (unit_has_leaf (u)) {
      if (pos >= op->n_trie)
        return FALSE;
      *value = unit_value (op->trie[pos]);
      return TRUE;
    }
  }
  return FALSE;
}

/* The replacement of @s[@n] (not NUL-terminated) and its length, or NULL */
static const char *
transform (const TokNormOp *op, const char *s, gsize n, gsize *len)
{
  guint32 v;
  const char *r, *end;
  if (!first_prefix (op, (const guchar *) s, n, &v) || v > op->a_len)
    return NULL;
  r = op->a + v;
  end = memchr (r, 0, op->a_len - v);
  *len = end ? (gsize) (end - r) : op->a_len - v;
  /* an offset inside a char would make tokenizers panic; leave the text */
  return g_utf8_validate (r, *len, NULL) ? r : NULL;
}

/* The output and its alignments as NormalizedString::transform makes
 * them from (char, change) pairs: a char whose change is not positive
 * takes the alignment of the next unconsumed char of the input and
 * consumes it and -change more; a positive change is an insertion,
 * aligned to the byte before. tokenizers' Precompiled gives the first char
 * of a replacement the change (its chars - the cluster's chars), the
 * others 1, 2, ..., and an untouched char 0; a replacement that is empty
 * gives nothing, so the input falls behind: the alignments drift, as
 * they do in tokenizers (they matter to prepend_scheme "first"). */
typedef struct {
  const TokNorm *in;
  TokNorm out;
  gsize consumed;         /* bytes of the input consumed */
} Emit;

static void
emit_char (Emit *e, const char *c, gsize len, gint64 change)
{
  const GArray *al = e->in->align;
  const char *s = e->in->s->str;
  gsize n = e->in->s->len, a;
  if (change > 0) {
    a = e->consumed >= 1 ? g_array_index (al, gsize, MIN (e->consumed, n) - 1) : 0;
  } else {
    a = e->consumed < n ? g_array_index (al, gsize, e->consumed) : n ? g_array_index (al, gsize, n - 1) : 0;
    for (gint64 k = 0; k <= -change && e->consumed < n; k++)
      e->consumed += tok_utf8_char_len ((guchar) s[e->consumed]);
  }
  g_string_append_len (e->out.s, c, len);
  for (gsize k = 0; k < len; k++)
    g_array_append_val (e->out.align, a);
}

/* A replacement for a cluster of @old_chars chars */
static void
emit_replacement (Emit *e, const char *r, gsize len, gint64 old_chars)
{
  gint64 new_chars = g_utf8_strlen (r, len), i = 0;
  for (const char *p = r; p < r + len; p = g_utf8_next_char (p), i++)
    emit_char (e, p, g_utf8_next_char (p) - p, i == 0 ? new_chars - old_chars : i);
}

/* The end of the grapheme cluster that starts at @i */
static gsize
cluster_end (const char *s, gsize n, gsize i)
{
  gunichar prev = g_utf8_get_char (s + i);
  gsize j = i + tok_utf8_char_len ((guchar) s[i]);
  while (j < n) {
    gunichar next = g_utf8_get_char (s + j);
    if (!tok_grapheme_joins (prev, next))
      break;
    prev = next;
    j += tok_utf8_char_len ((guchar) s[j]);
  }
  return j;
}

void
tok_apply_precompiled (const TokNormOp *op, TokNorm *nm)
{
  const char *s = nm->s->str;
  gsize n = nm->s->len;
  Emit e = { nm, { g_string_sized_new (n + 16), g_array_sized_new (FALSE, FALSE, sizeof (gsize), n + 16) }, 0 };

  for (gsize i = 0; i < n;) {
    gsize end = cluster_end (s, n, i), len;
    gint64 chars = g_utf8_strlen (s + i, end - i);
    const char *r;
    if (end - i < 6 && (r = transform (op, s + i, end - i, &len))) {
      emit_replacement (&e, r, len, chars);
      i = end;
      continue;
    }
    while (i < end) {
      gsize l = tok_utf8_char_len ((guchar) s[i]);
      if ((r = transform (op, s + i, l, &len)))
        emit_replacement (&e, r, len, chars);    /* the cluster's count, as tokenizers does */
      else
        emit_char (&e, s + i, l, 0);
      i += l;
    }
  }
  g_string_free (nm->s, TRUE);
  g_array_free (nm->align, TRUE);
  *nm = e.out;
}

/* ------------------------------------------------------------------------ */
/* Loading */

gboolean
tok_parse_precompiled (TokLd *ld, TokNormOp *op, JsonObject *o, const char *path)
{
  const char *b64;
  guchar *data;
  gsize len;
  guint32 trie_bytes;
  gboolean ok = FALSE;

  op->kind = NORM_PRECOMPILED;
  if (!tok_get_str (ld, o, path, "precompiled_charsmap", NULL, FALSE, &b64))
    return FALSE;
  data = g_base64_decode (b64, &len);
  if (len < 4) {
    tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s.precompiled_charsmap is %" G_GSIZE_FORMAT " bytes of base64 data, "
        "expected a trie size and a trie", path, len);
    goto out;
  }
  trie_bytes = GUINT32_FROM_LE (*(const guint32 *) data);
  if (trie_bytes % 4 != 0 || trie_bytes == 0 || trie_bytes > len - 4) {
    tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s.precompiled_charsmap: the trie size is %u bytes, expected a "
        "multiple of 4, above 0, within the %" G_GSIZE_FORMAT " bytes that follow", path, trie_bytes, len - 4);
    goto out;
  }
  /* NULs separate the strings: Rust's from_utf8 allows them, g_utf8_validate does not */
  if (tok_utf8_valid_prefix (data + 4 + trie_bytes, len - 4 - trie_bytes) != len - 4 - trie_bytes) {
    tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s.precompiled_charsmap: the replacement strings after the trie are "
        "not valid UTF-8", path);
    goto out;
  }
  op->n_trie = trie_bytes / 4;
  op->trie = g_new (guint32, op->n_trie);
  for (gsize k = 0; k < op->n_trie; k++) {
    guint32 u;
    memcpy (&u, data + 4 + 4 * k, 4);
    op->trie[k] = GUINT32_FROM_LE (u);
  }
  op->a_len = len - 4 - trie_bytes;
  op->a = g_malloc (op->a_len + 1);
  memcpy (op->a, data + 4 + trie_bytes, op->a_len);
  op->a[op->a_len] = 0;
  ok = TRUE;
out:
  g_free (data);
  return ok;
}
