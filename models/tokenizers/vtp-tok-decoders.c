/* vtp-tok-decoders.c: the decoders, each tokenizers' decode_chain on the
 * list of pieces (GStrings: a <0x00> piece decodes to a NUL byte):
 *   Replace       a String pattern in every piece
 *   ByteFallback  runs of <0xXX> pieces to their bytes (one U+FFFD per byte
 *                 when the run is not valid UTF-8)
 *   Fuse          all pieces into one
 *   Strip         up to start / stop copies of a char off each piece
 *   Metaspace     "▁" to " ", the first piece's dropped (prepend_scheme)
 *   WordPiece     "##" off continuation pieces, else " " before, cleanup
 *   ByteLevel     the bytes_to_unicode chars back to bytes, all pieces as
 *                 one text (U+FFFD where it is not UTF-8, as Rust's
 *                 from_utf8_lossy)
 *   Sequence      each in turn. */
#include "vtp-tok-private.h"
#include <string.h>

void
tok_dec_op_clear (gpointer p)
{
  TokDecOp *op = p;
  g_free (op->a);
  g_free (op->b);
}

static GString *
replace_all (const GString *s, const char *pat, const char *with)
{
  gsize pl = strlen (pat);
  GString *o = g_string_sized_new (s->len);
  for (gsize i = 0; i < s->len;) {
    if (pl > 0 && i + pl <= s->len && memcmp (s->str + i, pat, pl) == 0) {
      g_string_append (o, with);
      i += pl;
    } else {
      g_string_append_c (o, s->str[i++]);
    }
  }
  return o;
}

/* u8::from_str_radix (s[0..2], 16): an optional '+' then hex digits */
static gboolean
parse_hex_byte (const char *s, guint8 *out)
{
  const char *p = s, *end = s + 2;
  guint v = 0;
  if (*p == '+')
    p++;
  if (p == end)
    return FALSE;
  for (; p < end; p++) {
    gint d = g_ascii_xdigit_value (*p);
    if (d < 0)
      return FALSE;
    v = v * 16 + d;
  }
  *out = (guint8) v;
  return TRUE;
}

static void
gstring_free (gpointer p)
{
  g_string_free (p, TRUE);
}

static GPtrArray *
piece_list_new (void)
{
  return g_ptr_array_new_with_free_func (gstring_free);
}

/* A run of byte pieces: one string if it is valid UTF-8, else one U+FFFD per byte */
static void
flush_bytes (GPtrArray *out, GByteArray *bytes)
{
  if (bytes->len == 0)
    return;
  if (tok_utf8_valid_prefix (bytes->data, bytes->len) == bytes->len) {
    g_ptr_array_add (out, g_string_new_len ((const char *) bytes->data, bytes->len));
  } else {
    for (guint i = 0; i < bytes->len; i++)
      g_ptr_array_add (out, g_string_new ("\xEF\xBF\xBD"));
  }
  g_byte_array_set_size (bytes, 0);
}

static void
byte_fallback (GPtrArray *in, GPtrArray *out)
{
  GByteArray *bytes = g_byte_array_new ();
  for (guint i = 0; i < in->len; i++) {
    GString *t = in->pdata[i];
    guint8 b;
    if (t->len == 6 && memcmp (t->str, "<0x", 3) == 0 && t->str[5] == '>' && parse_hex_byte (t->str + 3, &b)) {
      g_byte_array_append (bytes, &b, 1);
    } else {
      flush_bytes (out, bytes);
      g_ptr_array_add (out, g_string_new_len (t->str, t->len));
    }
  }
  flush_bytes (out, bytes);
  g_byte_array_unref (bytes);
}

/* The byte offsets of the chars of @s (valid UTF-8, NULs allowed) and a
 * sentinel at the end */
static GArray *
chars_of (const GString *s)
{
  GArray *c = g_array_sized_new (FALSE, FALSE, sizeof (gsize), s->len + 1);
  for (gsize i = 0; i < s->len; i += tok_utf8_char_len ((guchar) s->str[i]))
    g_array_append_val (c, i);
  g_array_append_val (c, s->len);
  return c;
}

static GString *
strip (const TokDecOp *op, const GString *t)
{
  GArray *c = chars_of (t);
  gsize nch = c->len - 1, start_cut = 0, stop_cut = nch;
  const gsize *off = (const gsize *) c->data;
  GString *r;
  for (gsize k = 0; k < nch && k < (guint64) op->start; k++) {
    if (g_utf8_get_char (t->str + off[k]) != op->ch)
      break;
    start_cut = k + 1;
  }
  for (gsize k = 0; k < (guint64) op->stop && k < nch; k++) {
    gsize idx = nch - k - 1;
    if (g_utf8_get_char (t->str + off[idx]) != op->ch)
      break;
    stop_cut = idx;
  }
  if (stop_cut < start_cut)    /* where tokenizers would panic */
    stop_cut = start_cut;
  r = g_string_new_len (t->str + off[start_cut], off[stop_cut] - off[start_cut]);
  g_array_free (c, TRUE);
  return r;
}

static GString *
metaspace (const TokDecOp *op, const GString *t, gboolean first)
{
  GString *s = g_string_sized_new (t->len);
  for (gsize k = 0; k < t->len;) {
    gsize l = tok_utf8_char_len ((guchar) t->str[k]);
    if (g_utf8_get_char (t->str + k) == op->ch) {
      if (!(first && op->scheme != SCHEME_NEVER))
        g_string_append_c (s, ' ');
    } else {
      g_string_append_len (s, t->str + k, l);
    }
    k += l;
  }
  return s;
}

/* decoders::wordpiece::cleanup on one piece, in place */
static void
cleanup_piece (GString *t)
{
  static const char *const from[] = { " .", " ?", " !", " ,", " ' ", " n't", " 'm", " do not", " 's", " 've", " 're" };
  static const char *const to[] = { ".", "?", "!", ",", "'", "n't", "'m", " don't", "'s", "'ve", "'re" };
  for (guint r = 0; r < G_N_ELEMENTS (from); r++) {
    GString *o;
    if (!strstr (t->str, from[r]))
      continue;
    o = replace_all (t, from[r], to[r]);
    g_string_assign (t, o->str);
    g_string_free (o, TRUE);
  }
}

static GString *
wordpiece (const TokDecOp *op, const GString *t, gboolean first)
{
  GString *s = g_string_sized_new (t->len + 1);
  if (first)
    g_string_append_len (s, t->str, t->len);
  else if (g_str_has_prefix (t->str, op->a))
    g_string_append_len (s, t->str + strlen (op->a), t->len - strlen (op->a));
  else {
    g_string_append_c (s, ' ');
    g_string_append_len (s, t->str, t->len);
  }
  if (op->cleanup)
    cleanup_piece (s);
  return s;
}

/* Each piece's chars to their bytes; a piece holding a char outside the
 * byte map (an added token's text) is taken as it is */
static void
byte_level (GPtrArray *in, GPtrArray *out)
{
  GByteArray *bytes = g_byte_array_new ();
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < in->len; i++) {
    GString *t = in->pdata[i];
    guint start = bytes->len;
    for (gsize k = 0; k < t->len; k += tok_utf8_char_len ((guchar) t->str[k])) {
      gint b = tok_char_byte (g_utf8_get_char (t->str + k));
      if (b < 0) {
        g_byte_array_set_size (bytes, start);
        g_byte_array_append (bytes, (const guint8 *) t->str, t->len);
        break;
      }
      guint8 bb = b;
      g_byte_array_append (bytes, &bb, 1);
    }
  }
  tok_append_utf8_lossy (s, bytes->data, bytes->len);
  g_ptr_array_add (out, s);
  g_byte_array_unref (bytes);
}

/* One decoder's decode_chain; takes ownership of @in */
static GPtrArray *
decode_step (const TokDecOp *op, GPtrArray *in)
{
  GPtrArray *out = piece_list_new ();
  switch (op->kind) {
    case DEC_REPLACE:
      for (guint i = 0; i < in->len; i++)
        g_ptr_array_add (out, replace_all (in->pdata[i], op->a, op->b));
      break;
    case DEC_BYTE_FALLBACK:
      byte_fallback (in, out);
      break;
    case DEC_FUSE: {
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < in->len; i++)
        g_string_append_len (s, ((GString *) in->pdata[i])->str, ((GString *) in->pdata[i])->len);
      g_ptr_array_add (out, s);
      break;
    }
    case DEC_STRIP:
      for (guint i = 0; i < in->len; i++)
        g_ptr_array_add (out, strip (op, in->pdata[i]));
      break;
    case DEC_METASPACE:
      for (guint i = 0; i < in->len; i++)
        g_ptr_array_add (out, metaspace (op, in->pdata[i], i == 0));
      break;
    case DEC_WORDPIECE:
      for (guint i = 0; i < in->len; i++)
        g_ptr_array_add (out, wordpiece (op, in->pdata[i], i == 0));
      break;
    case DEC_BYTE_LEVEL:
      byte_level (in, out);
      break;
  }
  g_ptr_array_unref (in);
  return out;
}

GPtrArray *
tok_decode_pieces (const VtpTokenizer *tok, GPtrArray *pieces)
{
  for (guint k = 0; k < tok->dec_ops->len; k++)
    pieces = decode_step (&g_array_index (tok->dec_ops, TokDecOp, k), pieces);
  return pieces;
}

/* ------------------------------------------------------------------------ */
/* Loading */

gboolean
tok_parse_decoder (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  TokDecOp op;
  memset (&op, 0, sizeof op);
  if (!tok_get_type (ld, n, path, &o, &type))
    return FALSE;
  tok->has_decoder = TRUE;
  if (strcmp (type, "Sequence") == 0)
    return tok_parse_sequence (ld, tok, o, path, "decoders", tok_parse_decoder);
  else if (strcmp (type, "Replace") == 0) {
    const char *content;
    op.kind = DEC_REPLACE;
    if (!tok_get_str (ld, o, path, "content", NULL, FALSE, &content) || !tok_get_pattern (ld, o, path, &op.a, NULL))
      return FALSE;
    op.b = g_strdup (content);
  } else if (strcmp (type, "ByteFallback") == 0) {
    op.kind = DEC_BYTE_FALLBACK;
  } else if (strcmp (type, "Fuse") == 0) {
    op.kind = DEC_FUSE;
  } else if (strcmp (type, "Strip") == 0) {
    op.kind = DEC_STRIP;
    if (!tok_get_char (ld, o, path, "content", &op.ch) || !tok_get_uint (ld, o, path, "start", 0, &op.start)
        || !tok_get_uint (ld, o, path, "stop", 0, &op.stop))
      return FALSE;
  } else if (strcmp (type, "Metaspace") == 0) {
    op.kind = DEC_METASPACE;
    if (!tok_get_char (ld, o, path, "replacement", &op.ch) || !tok_parse_prepend_scheme (ld, o, path, &op.scheme))
      return FALSE;
  } else if (strcmp (type, "WordPiece") == 0) {
    const char *prefix;
    op.kind = DEC_WORDPIECE;
    if (!tok_get_str (ld, o, path, "prefix", "##", FALSE, &prefix)
        || !tok_get_bool (ld, o, path, "cleanup", TRUE, &op.cleanup))
      return FALSE;
    op.a = g_strdup (prefix);
  } else if (strcmp (type, "ByteLevel") == 0) {
    gboolean b;
    op.kind = DEC_BYTE_LEVEL;
    /* add_prefix_space / trim_offsets / use_regex do nothing in decoding */
    if (!tok_get_bool (ld, o, path, "add_prefix_space", TRUE, &b) || !tok_get_bool (ld, o, path, "trim_offsets",
            TRUE, &b) || !tok_get_bool (ld, o, path, "use_regex", TRUE, &b))
      return FALSE;
  } else {
    return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "%s.type is \"%s\", expected one of \"Sequence\", \"Replace\", \"ByteFallback\", \"Fuse\", "
        "\"Strip\", \"Metaspace\", \"WordPiece\", \"ByteLevel\"", path, type);
  }
  g_array_append_val (tok->dec_ops, op);
  return TRUE;
}
