/* vtp-bpe-bytes.c: byte-level BPE (GPT-2). */
#include "vtp-bpe-bytes.h"
#include "vtp-error.h"
#include <string.h>

typedef struct {
  guint64 pair;       /* left id << 32 | right id: the hash key */
  guint32 rank;
  gint32 id;          /* the merged token */
} Merge;

struct _VtpBpeBytes {
  char *name;
  VtpBpePre pre;
  gsize n_tokens;
  char **tokens;              /* byte-level form, NUL-terminated */
  gsize *lengths;
  GHashTable *token_ids;      /* piece -> id + 1 */
  Merge *merges;
  GHashTable *merge_index;    /* &Merge.pair -> Merge */
  gboolean *special;          /* per id */
  gint32 *special_ids;        /* matched in the text, longest first */
  gsize n_special;
  char byte_char[256][3];     /* byte -> its character in UTF-8 */
  gint16 char_byte[324];      /* character (< 324) -> byte, -1 if none */
};

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves,
 * the other 68 take the characters from U+0100 on, in byte order. */
static void
init_byte_map (VtpBpeBytes *bpe)
{
  guint next = 256;
  for (guint c = 0; c < G_N_ELEMENTS (bpe->char_byte); c++)
    bpe->char_byte[c] = -1;
  for (guint b = 0; b < 256; b++) {
    gboolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    gunichar c = printable ? b : next++;
    gint n = g_unichar_to_utf8 (c, bpe->byte_char[b]);
    bpe->byte_char[b][n] = '\0';
    bpe->char_byte[c] = b;
  }
}

static gint32
lookup (VtpBpeBytes *bpe, const char *piece)
{
  return GPOINTER_TO_INT (g_hash_table_lookup (bpe->token_ids, piece)) - 1;
}

gint32
vtp_bpe_bytes_token_to_id (VtpBpeBytes *bpe, const char *piece)
{
  return lookup (bpe, piece);
}

const char *
vtp_bpe_bytes_id_to_token (VtpBpeBytes *bpe, gint32 id)
{
  return id >= 0 && (gsize) id < bpe->n_tokens ? bpe->tokens[id] : NULL;
}

gsize
vtp_bpe_bytes_get_vocab_size (VtpBpeBytes *bpe)
{
  return bpe->n_tokens;
}

static gint
longer_first (gconstpointer a, gconstpointer b, gpointer user_data)
{
  VtpBpeBytes *bpe = user_data;
  gsize la = bpe->lengths[*(const gint32 *) a], lb = bpe->lengths[*(const gint32 *) b];
  return la < lb ? 1 : la > lb ? -1 : 0;
}

VtpBpeBytes *
vtp_bpe_bytes_new (const char *const *tokens, const gsize *lengths, gsize n_tokens, const char *const *merges,
    gsize n_merges, const gint32 *special, gsize n_special, VtpBpePre pre, const char *name, GError **error)
{
  g_autoptr (VtpBpeBytes) bpe = g_new0 (VtpBpeBytes, 1);

  bpe->name = g_strdup (name ? name : "byte-level BPE");
  bpe->pre = pre;
  init_byte_map (bpe);
  if (n_tokens == 0 || n_tokens > G_MAXINT32) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the vocabulary has %" G_GSIZE_FORMAT
        " tokens, expected 1 to 2^31 - 1", bpe->name, n_tokens);
    return NULL;
  }
  bpe->n_tokens = n_tokens;
  bpe->tokens = g_new0 (char *, n_tokens + 1);
  bpe->lengths = g_new (gsize, n_tokens);
  bpe->special = g_new0 (gboolean, n_tokens);
  bpe->token_ids = g_hash_table_new (g_str_hash, g_str_equal);
  for (gsize i = 0; i < n_tokens; i++) {
    bpe->lengths[i] = lengths ? lengths[i] : strlen (tokens[i]);
    bpe->tokens[i] = g_strndup (tokens[i], bpe->lengths[i]);
    /* the first of duplicate pieces keeps the piece */
    if (!g_hash_table_contains (bpe->token_ids, bpe->tokens[i]))
      g_hash_table_insert (bpe->token_ids, bpe->tokens[i], GINT_TO_POINTER ((gint) i + 1));
  }

  /* merges: "left right", split at the first space after the first byte
   * (byte-level pieces hold "Ġ", never a space) */
  bpe->merges = g_new0 (Merge, MAX (n_merges, 1));
  bpe->merge_index = g_hash_table_new (g_int64_hash, g_int64_equal);
  for (gsize i = 0; i < n_merges; i++) {
    const char *m = merges[i];
    const char *sp = m[0] ? strchr (m + 1, ' ') : NULL;
    g_autofree char *left = sp ? g_strndup (m, sp - m) : NULL;
    g_autofree char *joined = sp ? g_strconcat (left, sp + 1, NULL) : NULL;
    gint32 l = sp ? lookup (bpe, left) : -1, r = sp ? lookup (bpe, sp + 1) : -1;
    gint32 id = sp ? lookup (bpe, joined) : -1;
    Merge *mg = &bpe->merges[i];
    if (!sp || l < 0 || r < 0 || id < 0) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: merge %" G_GSIZE_FORMAT " \"%s\" is not two "
          "pieces of the vocabulary whose concatenation is one too", bpe->name, i, m);
      return NULL;
    }
    mg->pair = (guint64) l << 32 | (guint32) r;
    mg->rank = i;
    mg->id = id;
    if (!g_hash_table_contains (bpe->merge_index, &mg->pair))   /* the best rank wins */
      g_hash_table_insert (bpe->merge_index, &mg->pair, mg);
  }

  bpe->special_ids = g_new0 (gint32, MAX (n_special, 1));
  for (gsize i = 0; i < n_special; i++) {
    if (special[i] < 0 || (gsize) special[i] >= n_tokens) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: special token id %d is outside the vocabulary "
          "of %" G_GSIZE_FORMAT, bpe->name, special[i], n_tokens);
      return NULL;
    }
    bpe->special[special[i]] = TRUE;
    if (bpe->lengths[special[i]] > 0)
      bpe->special_ids[bpe->n_special++] = special[i];
  }
  g_qsort_with_data (bpe->special_ids, bpe->n_special, sizeof (gint32), longer_first, bpe);
  return g_steal_pointer (&bpe);
}

void
vtp_bpe_bytes_free (VtpBpeBytes *bpe)
{
  if (!bpe)
    return;
  g_clear_pointer (&bpe->token_ids, g_hash_table_unref);
  g_clear_pointer (&bpe->merge_index, g_hash_table_unref);
  g_strfreev (bpe->tokens);
  g_free (bpe->lengths);
  g_free (bpe->merges);
  g_free (bpe->special);
  g_free (bpe->special_ids);
  g_free (bpe->name);
  g_free (bpe);
}

/* ------------------------------------------------------------------------ */
/* Pre-tokenizer */

/* \s of the regex (Unicode White_Space), which GLib's g_unichar_isspace
 * does not quite match (it lacks U+000B and U+0085). */
static gboolean
is_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
      || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F
      || c == 0x3000;
}

static gboolean
is_letter (gunichar c)
{
  switch (g_unichar_type (c)) {
    case G_UNICODE_LOWERCASE_LETTER: case G_UNICODE_MODIFIER_LETTER: case G_UNICODE_OTHER_LETTER:
    case G_UNICODE_TITLECASE_LETTER: case G_UNICODE_UPPERCASE_LETTER:
      return TRUE;
    default:
      return FALSE;
  }
}

static gboolean
is_number (gunichar c)
{
  switch (g_unichar_type (c)) {
    case G_UNICODE_DECIMAL_NUMBER: case G_UNICODE_LETTER_NUMBER: case G_UNICODE_OTHER_NUMBER:
      return TRUE;
    default:
      return FALSE;
  }
}

static gboolean
is_other (gunichar c)
{
  return !is_space (c) && !is_letter (c) && !is_number (c);
}

/* The end of the GPT-2 regex's match starting at code point @i of @c[@n]:
 * the alternatives in the regex's order, the first that matches wins. */
static gsize
gpt2_piece_end (const gunichar *c, gsize n, gsize i)
{
  gsize j, k;

  /* 's|'t|'re|'ve|'m|'ll|'d (case-sensitive, as GPT-2's regex) */
  if (c[i] == '\'' && i + 1 < n) {
    gunichar a = c[i + 1], b = i + 2 < n ? c[i + 2] : 0;
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
      return i + 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
      return i + 3;
  }
  /* ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: one optional space, then a
   * run of one class */
  j = (c[i] == ' ' && i + 1 < n) ? i + 1 : i;
  if (is_letter (c[j])) {
    while (j < n && is_letter (c[j]))
      j++;
    return j;
  }
  if (is_number (c[j])) {
    while (j < n && is_number (c[j]))
      j++;
    return j;
  }
  if (is_other (c[j])) {
    while (j < n && is_other (c[j]))
      j++;
    return j;
  }
  /* `\s+(?!\S)`: a whitespace run up to the end of the text, or all of it
   * but its last character when a non-space follows (that character then
   * starts the next piece, e.g. as the space of " word"); else `\s+`
   * takes the single whitespace character. */
  for (k = i; k < n && is_space (c[k]); k++)
    ;
  if (k == n || k - i == 1)
    return k;
  return k - 1;
}

/* ------------------------------------------------------------------------ */
/* Encode */

/* BPE over the bytes of one piece: start from one symbol per byte, then
 * repeatedly merge the adjacent pair of the best rank (the leftmost among
 * equal ranks), as HF tokenizers' BPE does. */
static gboolean
bpe_piece (VtpBpeBytes *bpe, const guint8 *s, gsize len, GArray *out, GError **error)
{
  g_autofree gint32 *sym = g_new (gint32, len);
  gsize n = len;

  for (gsize i = 0; i < len; i++) {
    sym[i] = lookup (bpe, bpe->byte_char[s[i]]);
    if (sym[i] < 0) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the vocabulary lacks the piece of byte 0x%02X "
          "(\"%s\")", bpe->name, s[i], bpe->byte_char[s[i]]);
      return FALSE;
    }
  }
  while (n > 1) {
    const Merge *best = NULL;
    gsize at = 0;
    for (gsize i = 0; i + 1 < n; i++) {
      guint64 pair = (guint64) sym[i] << 32 | (guint32) sym[i + 1];
      const Merge *m = g_hash_table_lookup (bpe->merge_index, &pair);
      if (m && (!best || m->rank < best->rank))
        best = m, at = i;
    }
    if (!best)
      break;
    sym[at] = best->id;
    memmove (sym + at + 1, sym + at + 2, (n - at - 2) * sizeof (gint32));
    n--;
  }
  g_array_append_vals (out, sym, n);
  return TRUE;
}

/* Plain text (no special tokens): pre-tokenize, then BPE each piece. */
static gboolean
encode_plain (VtpBpeBytes *bpe, const char *text, gsize len, GArray *out, GError **error)
{
  g_autofree gunichar *cps = g_new (gunichar, len + 1);
  g_autofree gsize *offs = g_new (gsize, len + 1);    /* byte offset of each code point */
  gsize n = 0;

  for (const char *p = text; p < text + len; p = g_utf8_next_char (p)) {
    cps[n] = g_utf8_get_char (p);
    offs[n++] = p - text;
  }
  offs[n] = len;
  for (gsize i = 0; i < n;) {
    gsize end = gpt2_piece_end (cps, n, i);
    if (!bpe_piece (bpe, (const guint8 *) text + offs[i], offs[end] - offs[i], out, error))
      return FALSE;
    i = end;
  }
  return TRUE;
}

/* The special token that @s (@n bytes) starts with, -1 if none. */
static gint32
special_at (VtpBpeBytes *bpe, const char *s, gsize n)
{
  for (gsize k = 0; k < bpe->n_special; k++) {
    gint32 id = bpe->special_ids[k];
    if (bpe->lengths[id] <= n && memcmp (s, bpe->tokens[id], bpe->lengths[id]) == 0)
      return id;
  }
  return -1;
}

GArray *
vtp_bpe_bytes_encode (VtpBpeBytes *bpe, const char *text, gssize len, GError **error)
{
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
  gsize n = len < 0 ? strlen (text) : (gsize) len;
  gsize start = 0;

  if (!g_utf8_validate_len (text, n, NULL)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "%s: the text to encode is not valid UTF-8", bpe->name);
    return NULL;
  }
  /* special tokens split the text; the longest one matching wins */
  for (gsize i = 0; i < n;) {
    gint32 id = special_at (bpe, text + i, n - i);
    if (id < 0) {
      i++;
      continue;
    }
    if (!encode_plain (bpe, text + start, i - start, out, error))
      return NULL;
    g_array_append_val (out, id);
    i += bpe->lengths[id];
    start = i;
  }
  if (!encode_plain (bpe, text + start, n - start, out, error))
    return NULL;
  return g_steal_pointer (&out);
}

/* ------------------------------------------------------------------------ */
/* Decode */

char *
vtp_bpe_bytes_decode (VtpBpeBytes *bpe, const gint32 *ids, gsize n_ids, gboolean skip_special, GError **error)
{
  g_autoptr (GByteArray) bytes = g_byte_array_new ();

  for (gsize i = 0; i < n_ids; i++) {
    const char *t = vtp_bpe_bytes_id_to_token (bpe, ids[i]);
    gsize start = bytes->len;
    if (!t) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "%s: cannot decode id %d: the vocabulary has %"
          G_GSIZE_FORMAT " tokens", bpe->name, ids[i], bpe->n_tokens);
      return NULL;
    }
    if (skip_special && bpe->special[ids[i]])
      continue;
    /* each character back to its byte; a piece holding a character outside
     * the byte map (a special token's text) is kept as it is, as HF's
     * ByteLevel decoder does */
    for (const char *p = t; *p; p = g_utf8_next_char (p)) {
      gunichar c = g_utf8_get_char_validated (p, -1);
      if (c >= G_N_ELEMENTS (bpe->char_byte) || bpe->char_byte[c] < 0) {
        g_byte_array_set_size (bytes, start);
        g_byte_array_append (bytes, (const guint8 *) t, bpe->lengths[ids[i]]);
        break;
      }
      guint8 b = bpe->char_byte[c];
      g_byte_array_append (bytes, &b, 1);
    }
  }
  if (bytes->len == 0)
    return g_strdup ("");
  return g_utf8_make_valid ((const char *) bytes->data, bytes->len);
}
