/* vtp-tok-unigram.c: the Unigram model (tokenizers' models::unigram, the
 * SentencePiece algorithm T5 / Flan-T5 ship): a vocabulary of [piece,
 * score] pairs and the segmentation of a word whose scores sum highest
 * (Viterbi over every vocab piece that starts at each char).
 *
 * As tokenizers does (Unigram::encode_optimized, then tokenize):
 *   - a char that no single-char piece covers is an unknown piece scored
 *     min(scores) - 10; runs of unknown pieces (and the unk piece itself,
 *     when the text spells it) are fused into one string;
 *   - ties keep the path found first (positions are visited left to right,
 *     a node is replaced only by a strictly higher score);
 *   - each piece's string is looked up again: a fused run that happens to
 *     be a vocab piece takes that id; else its <0xXX> pieces when
 *     byte_fallback and all of them exist; else unk_id. */
#include "vtp-tok-private.h"
#include <string.h>

#define UNK_PENALTY 10.0

/* One lattice position: the best path ending here */
typedef struct {
  double score;
  gint64 start;           /* where its last piece starts; -1: not reached */
  gint32 id;
} UniNode;

gsize
tok_unigram_node_size (void)
{
  return sizeof (UniNode);
}

/* Relaxes the node at @end with piece @id of @score from @start */
static inline void
relax (UniNode *nodes, gsize start, gsize end, gint32 id, double score)
{
  double cand = score + nodes[start].score;
  if (nodes[end].start < 0 || cand > nodes[end].score) {
    nodes[end].score = cand;
    nodes[end].start = start;
    nodes[end].id = id;
  }
}

/* The forward pass: every vocab piece that is a prefix of w[start..] */
static gboolean
viterbi (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GError **error)
{
  UniNode *nodes;
  g_array_set_size (sc->nodes, n + 1);
  nodes = (UniNode *) sc->nodes->data;
  for (gsize i = 0; i <= n; i++) {
    nodes[i].score = 0.0;
    nodes[i].start = -1;
    nodes[i].id = -1;
  }
  for (gsize start = 0; start < n;) {
    gsize mblen = tok_utf8_char_len ((guchar) w[start]);
    gboolean single = FALSE;
    g_string_truncate (sc->key, 0);
    for (gsize end = start; end < n && end - start < tok->max_token_len;) {
      gsize l = tok_utf8_char_len ((guchar) w[end]);
      gint32 id;
      g_string_append_len (sc->key, w + end, l);
      end += l;
      if (end > n)
        break;
      if (tok_vocab_get (tok, sc->key->str, &id)) {
        relax (nodes, start, end, id, tok->scores[id]);
        if (end - start == mblen)
          single = TRUE;
      }
    }
    if (!single) {
      if (tok->unk_id < 0) {
        g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT, "%s: the text has a char that no piece of "
            "model.vocab covers, and model.unk_id is null", tok->name);
        return FALSE;
      }
      relax (nodes, start, start + mblen, tok->unk_id, tok->min_score - UNK_PENALTY);
    }
    start += mblen;
  }
  return TRUE;
}

/* The id of one piece of the best path: its string's vocab id, else its
 * byte pieces, else unk */
static gboolean
emit_piece (const VtpTokenizer *tok, const char *s, gsize len, GArray *out, GError **error)
{
  char *t = g_strndup (s, len);
  gint32 id;
  gboolean known = tok_vocab_get (tok, t, &id);
  g_free (t);
  if (known) {
    g_array_append_val (out, id);
    return TRUE;
  }
  if (tok->byte_fallback) {
    gboolean all = TRUE;
    for (gsize i = 0; i < len; i++)
      all = all && tok->byte_ids[(guchar) s[i]] >= 0;
    if (all) {
      for (gsize i = 0; i < len; i++)
        g_array_append_val (out, tok->byte_ids[(guchar) s[i]]);
      return TRUE;
    }
  }
  if (tok->unk_id < 0) {
    g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT, "%s: model.unk_id is null, but the input needs it",
        tok->name);
    return FALSE;
  }
  g_array_append_val (out, tok->unk_id);
  return TRUE;
}

gboolean
tok_unigram_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out, GError **error)
{
  const UniNode *nodes;
  GArray *ends;           /* piece boundaries from the end: (start, end) pairs, unk runs fused */
  gboolean ok = TRUE;
  gsize end = n, run_end = 0;
  gboolean in_run = FALSE;

  if (n == 0)
    return TRUE;
  if (!viterbi (tok, sc, w, n, error))
    return FALSE;
  nodes = (const UniNode *) sc->nodes->data;
  ends = g_array_new (FALSE, FALSE, sizeof (gsize));
  while (end > 0) {
    gsize start = (gsize) nodes[end].start;
    if (nodes[end].id == tok->unk_id) {
      if (!in_run)
        run_end = end;
      in_run = TRUE;
    } else {
      if (in_run) {
        g_array_append_val (ends, end);
        g_array_append_val (ends, run_end);
        in_run = FALSE;
      }
      g_array_append_val (ends, start);
      g_array_append_val (ends, end);
    }
    end = start;
  }
  if (in_run) {
    gsize zero = 0;
    g_array_append_val (ends, zero);
    g_array_append_val (ends, run_end);
  }
  for (gint i = (gint) ends->len - 2; ok && i >= 0; i -= 2) {
    gsize a = g_array_index (ends, gsize, i), b = g_array_index (ends, gsize, i + 1);
    ok = emit_piece (tok, w + a, b - a, out, error);
  }
  g_array_free (ends, TRUE);
  return ok;
}

/* ------------------------------------------------------------------------ */
/* Loading */

/* One "vocab" entry: ["piece", score] */
static gboolean
parse_entry (TokLd *ld, JsonNode *e, guint i, const char **piece, double *score)
{
  JsonArray *a = e && JSON_NODE_HOLDS_ARRAY (e) ? json_node_get_array (e) : NULL;
  JsonNode *s, *v;
  GType t;
  if (!a || json_array_get_length (a) != 2 || !tok_is_string (s = json_array_get_element (a, 0))
      || !JSON_NODE_HOLDS_VALUE (v = json_array_get_element (a, 1))
      || ((t = json_node_get_value_type (v)) != G_TYPE_DOUBLE && t != G_TYPE_INT64)) {
    char *p = g_strdup_printf ("model.vocab[%u]", i);
    gboolean r = tok_fail_type (ld, p, e, "a pair [\"piece\", score]");
    g_free (p);
    return r;
  }
  *piece = json_node_get_string (s);
  *score = t == G_TYPE_DOUBLE ? json_node_get_double (v) : (double) json_node_get_int (v);
  return TRUE;
}

gboolean
tok_parse_unigram (TokLd *ld, VtpTokenizer *tok, JsonObject *o)
{
  JsonNode *vn = json_object_get_member (o, "vocab"), *un = json_object_get_member (o, "unk_id");
  JsonArray *a;
  guint n;
  gint64 unk_id = -1;

  if (!vn || !JSON_NODE_HOLDS_ARRAY (vn))
    return tok_fail_type (ld, "model.vocab", vn, "an array of [\"piece\", score] pairs");
  a = json_node_get_array (vn);
  n = json_array_get_length (a);
  if (n >= G_MAXINT32)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.vocab has %u pieces, too many", n);
  if (!tok_is_null (un) && !tok_get_uint (ld, o, "model", "unk_id", 0, &unk_id))
    return FALSE;
  if (!tok_get_bool (ld, o, "model", "byte_fallback", FALSE, &tok->byte_fallback))
    return FALSE;
  if (unk_id >= 0 && unk_id >= n)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.unk_id is %" G_GINT64_FORMAT ", outside model.vocab "
        "(%u pieces)", unk_id, n);
  tok->scores = g_new (double, MAX (n, 1));
  tok->min_score = G_MAXDOUBLE;
  for (guint i = 0; i < n; i++) {
    const char *piece = NULL;
    double score = 0.0;
    if (!parse_entry (ld, json_array_get_element (a, i), i, &piece, &score))
      return FALSE;
    /* a repeated piece: the later id, as collecting into tokenizers' HashMap */
    tok_vocab_insert (tok, piece, strlen (piece), (gint32) i, FALSE);
    tok->scores[i] = score;
  }
  /* the scores as tokenizers reads them (serde_json's rounding) */
  tok_json_unigram_scores (ld->json, ld->json_len, tok->scores, n);
  for (guint i = 0; i < n; i++)
    tok->min_score = MIN (tok->min_score, tok->scores[i]);
  /* every id decodes to its piece, a repeated one too */
  for (guint i = 0; i < n; i++) {
    const char *piece = json_array_get_string_element (json_node_get_array (json_array_get_element (a, i)), 0);
    gpointer key;
    if (g_hash_table_lookup_extended (tok->vocab, piece, &key, NULL))
      g_hash_table_replace (tok->vocab_r, GINT_TO_POINTER ((gint) i), key);
  }
  tok->n_vocab = n;
  tok->unk_id = (gint32) unk_id;
  if (unk_id >= 0)
    tok->unk_token = g_strdup (g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER ((gint) unk_id)));
  for (guint b = 0; b < 256; b++) {
    char code[8];
    g_snprintf (code, sizeof code, "<0x%02X>", b);
    if (!tok_vocab_get (tok, code, &tok->byte_ids[b]))
      tok->byte_ids[b] = -1;
  }
  return TRUE;
}
