/* vtp-tok-wordpiece.c: the WordPiece model (tokenizers' models::wordpiece):
 * greedy longest match from the left, continuing_subword_prefix ("##") on
 * every piece but the first, the whole word unk when some position has no
 * match or the word has more than max_input_chars_per_word chars. */
#include "vtp-tok-private.h"
#include <string.h>

gboolean
tok_wordpiece_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out, GError **error)
{
  guint first = out->len;
  gsize start = 0;
  guint64 nchars = 0;
  gint32 id;

  if (n == 0)
    return TRUE;
  for (gsize i = 0; i < n; i += tok_utf8_char_len ((guchar) w[i]))
    nchars++;
  if (nchars > tok->max_chars)
    goto unk;
  while (start < n) {
    gsize end = n;
    gboolean found = FALSE;
    /* no vocab piece is longer than max_token_len bytes */
    if (end - start > tok->max_token_len) {
      end = start + tok->max_token_len;
      while (end > start && ((guchar) w[end] & 0xC0) == 0x80)
        end--;
    }
    while (start < end) {
      g_string_truncate (sc->key, 0);
      if (start > 0)
        g_string_append_len (sc->key, tok->prefix, tok->prefix_len);
      g_string_append_len (sc->key, w + start, end - start);
      if (tok_vocab_get (tok, sc->key->str, &id)) {
        found = TRUE;
        break;
      }
      end = g_utf8_prev_char (w + end) - w;
    }
    if (!found)
      goto unk;
    g_array_append_val (out, id);
    start = end;
  }
  return TRUE;

unk:
  g_array_set_size (out, first);
  if (!tok_unk_id (tok, &id, error))
    return FALSE;
  g_array_append_val (out, id);
  return TRUE;
}

gboolean
tok_parse_wordpiece (TokLd *ld, VtpTokenizer *tok, JsonObject *o)
{
  const char *s;
  gint64 max_chars;

  if (!tok_get_str (ld, o, "model", "unk_token", "[UNK]", FALSE, &s))
    return FALSE;
  tok->unk_token = g_strdup (s);
  if (!tok_get_str (ld, o, "model", "continuing_subword_prefix", "##", FALSE, &s))
    return FALSE;
  tok->prefix = g_strdup (s);
  tok->prefix_len = strlen (s);
  if (!tok_get_uint (ld, o, "model", "max_input_chars_per_word", 100, &max_chars))
    return FALSE;
  tok->max_chars = max_chars;
  return tok_parse_vocab (ld, tok, o);
}
