/* vtp-tokenizer.c: HuggingFace `tokenizers`, id-exact, for the tokenizer.json
 * files of Llama (BPE with byte fallback), GPT-2 / OPT (byte-level BPE),
 * BERT (WordPiece) and T5 (Unigram). The parts live in models/tokenizers/vtp-tok-*.c, one
 * file a role (vtp-tok-private.h lists them); this file runs them in the
 * order of tokenizers' TokenizerImpl::encode:
 *   1. added tokens that are not "normalized" are cut out of the raw text
 *      (leftmost-longest, AddedVocabulary::find_matches with its lstrip /
 *      rstrip / single_word rules);
 *   2. each remaining piece is normalized on its own (so Llama's legacy
 *      Prepend("▁") applies after every added token), and "normalized"
 *      added tokens are cut out of the normalized text;
 *   3. the pre-tokenizer cuts each remaining piece into words; prepend_scheme
 *      "first" means "this piece starts at byte 0 of the original text",
 *      which the normalizers' alignments tell;
 *   4. the model turns each word into ids;
 *   5. truncation, then the post-processor's specials.
 * Decoding maps ids to pieces and runs the decoder chain on the list. */
#include "vtp-tok-private.h"
#include "vtp-error.h"
#include <string.h>

G_DEFINE_QUARK (vtp-tokenizer-error-quark, vtp_tokenizer_error)

/* ------------------------------------------------------------------------ */
/* The object and its vocabulary */

VtpTokenizer *
tok_alloc (const char *name, GQuark domain, TokModelKind model)
{
  VtpTokenizer *tok = g_new0 (VtpTokenizer, 1);
  tok->name = g_strdup (name);
  tok->domain = domain;
  tok->model = model;
  tok->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->vocab_r = g_hash_table_new (g_direct_hash, g_direct_equal);
  tok->unk_id = -1;
  tok->max_chars = 100;
  tok_bpe_alloc_merges (tok, 0);
  for (guint b = 0; b < 256; b++)
    tok->byte_ids[b] = -1;
  tok->norm_ops = g_array_new (FALSE, FALSE, sizeof (TokNormOp));
  g_array_set_clear_func (tok->norm_ops, tok_norm_op_clear);
  tok->pre_ops = g_array_new (FALSE, FALSE, sizeof (TokPreOp));
  tok->dec_ops = g_array_new (FALSE, FALSE, sizeof (TokDecOp));
  g_array_set_clear_func (tok->dec_ops, tok_dec_op_clear);
  tok->added_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->added_r = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, tok_added_token_free);
  tok->special_set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->max_added_id = -1;
  return tok;
}

void
vtp_tokenizer_free (VtpTokenizer *tok)
{
  if (!tok)
    return;
  g_free (tok->name);
  g_hash_table_unref (tok->vocab_r);
  g_hash_table_unref (tok->vocab);
  g_free (tok->merges);
  g_free (tok->scores);
  g_free (tok->unk_token);
  g_free (tok->prefix);
  g_free (tok->suffix);
  g_array_unref (tok->norm_ops);
  g_array_unref (tok->pre_ops);
  if (tok->tmpl)
    g_array_unref (tok->tmpl);
  g_array_unref (tok->dec_ops);
  g_hash_table_unref (tok->added_map);
  g_hash_table_unref (tok->added_r);
  g_hash_table_unref (tok->special_set);
  tok_matcher_clear (&tok->raw_m);
  tok_matcher_clear (&tok->norm_m);
  g_free (tok);
}

gboolean
tok_vocab_get (const VtpTokenizer *tok, const char *piece, gint32 *id)
{
  gpointer v;
  if (!g_hash_table_lookup_extended (tok->vocab, piece, NULL, &v))
    return FALSE;
  *id = GPOINTER_TO_INT (v);
  return TRUE;
}

void
tok_vocab_insert (VtpTokenizer *tok, const char *piece, gsize len, gint32 id, gboolean first_wins)
{
  char *t = g_strndup (piece, len);
  gpointer old;
  if (g_hash_table_lookup_extended (tok->vocab, t, NULL, &old)) {
    if (first_wins) {
      /* the later id still decodes to the piece */
      g_hash_table_replace (tok->vocab_r, GINT_TO_POINTER (id), g_hash_table_lookup (tok->vocab_r, old));
      g_free (t);
      return;
    }
    g_hash_table_remove (tok->vocab_r, old);
  }
  g_hash_table_replace (tok->vocab, t, GINT_TO_POINTER (id));
  g_hash_table_replace (tok->vocab_r, GINT_TO_POINTER (id), t);
  tok->max_token_len = MAX (tok->max_token_len, len);
}

gboolean
tok_unk_id (const VtpTokenizer *tok, gint32 *id, GError **error)
{
  if (!tok->unk_token || !tok_vocab_get (tok, tok->unk_token, id)) {
    g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT,
        "%s: model.unk_token \"%s\" is not in model.vocab, but the input needs it", tok->name,
        tok->unk_token ? tok->unk_token : "(none)");
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Encoding */

static void
scratch_init (TokScratch *sc)
{
  sc->syms = g_array_new (FALSE, FALSE, tok_bpe_sym_size ());
  sc->heap = g_array_new (FALSE, FALSE, tok_bpe_heap_item_size ());
  sc->key = g_string_new (NULL);
  for (guint i = 0; i < 2; i++) {
    sc->buf[i] = g_string_new (NULL);
    sc->words[i] = g_array_new (FALSE, FALSE, sizeof (TokWord));
  }
  sc->splits = g_array_new (FALSE, FALSE, sizeof (TokSplit));
  sc->splits2 = g_array_new (FALSE, FALSE, sizeof (TokSplit));
  sc->nodes = g_array_new (FALSE, FALSE, tok_unigram_node_size ());
}

static void
scratch_clear (TokScratch *sc)
{
  g_array_free (sc->syms, TRUE);
  g_array_free (sc->heap, TRUE);
  g_string_free (sc->key, TRUE);
  for (guint i = 0; i < 2; i++) {
    g_string_free (sc->buf[i], TRUE);
    g_array_free (sc->words[i], TRUE);
  }
  g_array_free (sc->splits, TRUE);
  g_array_free (sc->splits2, TRUE);
  g_array_free (sc->nodes, TRUE);
}

/* The pre-tokenizer, then the model, on one piece of normalized text */
static gboolean
pretokenize_and_model (const VtpTokenizer *tok, TokScratch *sc, const char *s, gsize n, gboolean is_first,
    GArray *out, GError **error)
{
  GArray *words;
  const char *text = tok_pre_tokenize (tok, sc, s, n, is_first, &words);
  for (guint k = 0; k < words->len; k++) {
    const TokWord *w = &g_array_index (words, TokWord, k);
    gboolean ok;
    switch (tok->model) {
      case MODEL_BPE: ok = tok_bpe_word (tok, sc, text + w->start, w->end - w->start, out, error); break;
      case MODEL_WORDPIECE: ok = tok_wordpiece_word (tok, sc, text + w->start, w->end - w->start, out, error); break;
      default: ok = tok_unigram_word (tok, sc, text + w->start, w->end - w->start, out, error); break;
    }
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

/* A piece of the raw text between non-normalized added tokens, at
 * @orig_start in the input */
static gboolean
encode_piece (const VtpTokenizer *tok, TokScratch *sc, const char *s, gsize n, gsize orig_start, GArray *out,
    GError **error)
{
  TokNorm nm;
  gboolean ok = TRUE;

  tok_norm_init (&nm, s, n);
  if (tok->has_normalizer)
    tok_normalize (tok, &nm);
  tok_added_find (tok, &tok->norm_m, nm.s->str, nm.s->len, sc->splits2);
  for (guint k = 0; ok && k < sc->splits2->len; k++) {
    TokSplit sp = g_array_index (sc->splits2, TokSplit, k);
    if (sp.id >= 0) {
      g_array_append_val (out, sp.id);
      continue;
    }
    if (sp.end <= sp.start)
      continue;
    gboolean is_first = orig_start + g_array_index (nm.align, gsize, sp.start) == 0;
    ok = pretokenize_and_model (tok, sc, nm.s->str + sp.start, sp.end - sp.start, is_first, out, error);
  }
  tok_norm_clear (&nm);
  return ok;
}

/* Truncation as TokenizerImpl::post_process: the limit less the specials
 * the post-processor adds (a limit below them wraps around in tokenizers'
 * unsigned arithmetic: no truncation) */
static void
truncate_body (const VtpTokenizer *tok, GArray *body, gboolean add_special, gint64 max_len)
{
  gint64 limit = max_len > 0 ? max_len : tok->trunc_max;
  gint64 n_added = add_special && tok->tmpl ? tok->n_specials : 0;
  if (limit <= 0 || limit < n_added || body->len <= limit - n_added)
    return;
  if (tok->trunc_left)
    g_array_remove_range (body, 0, body->len - (limit - n_added));
  else
    g_array_set_size (body, limit - n_added);
}

GArray *
tok_encode (VtpTokenizer *tok, const char *text, gsize n, gboolean add_special, gint64 max_len, GError **error)
{
  gsize valid;
  GArray *body;
  TokScratch sc;
  gboolean ok = TRUE;

  if (!text) {
    g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT, "%s: input text is NULL", tok->name);
    return NULL;
  }
  valid = tok_utf8_valid_prefix ((const guchar *) text, n);
  if (valid != n) {
    g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT,
        "%s: input text is not valid UTF-8 (byte 0x%02X at offset %" G_GSIZE_FORMAT ")", tok->name,
        (guchar) text[valid], valid);
    return NULL;
  }

  scratch_init (&sc);
  body = g_array_new (FALSE, FALSE, sizeof (gint32));
  tok_added_find (tok, &tok->raw_m, text, n, sc.splits);
  for (guint k = 0; ok && k < sc.splits->len; k++) {
    TokSplit sp = g_array_index (sc.splits, TokSplit, k);
    if (sp.id >= 0)
      g_array_append_val (body, sp.id);
    else if (sp.end > sp.start)
      ok = encode_piece (tok, &sc, text + sp.start, sp.end - sp.start, sp.start, body, error);
  }
  scratch_clear (&sc);
  if (!ok) {
    g_array_free (body, TRUE);
    return NULL;
  }
  truncate_body (tok, body, add_special, max_len);
  return add_special ? tok_post_process (tok, body) : body;
}

GArray *
vtp_tokenizer_encode_len (VtpTokenizer *tok, const char *text, gssize len, gboolean add_special, GError **error)
{
  g_return_val_if_fail (tok != NULL, NULL);
  return tok_encode (tok, text, text && len < 0 ? strlen (text) : (gsize) MAX (len, 0), add_special, 0, error);
}

GArray *
vtp_tokenizer_encode (VtpTokenizer *tok, const char *text, gboolean add_special, GError **error)
{
  return vtp_tokenizer_encode_len (tok, text, -1, add_special, error);
}

/* ------------------------------------------------------------------------ */
/* Lookups, added tokens */

gint32
vtp_tokenizer_add_token_full (VtpTokenizer *tok, const char *content, gboolean special, gboolean normalized,
    gboolean lstrip, gboolean rstrip, gboolean single_word)
{
  g_return_val_if_fail (tok != NULL, -1);
  return tok_added_add (tok, content, special, normalized, lstrip, rstrip, single_word);
}

gint32
vtp_tokenizer_add_token (VtpTokenizer *tok, const char *content, gboolean special)
{
  return vtp_tokenizer_add_token_full (tok, content, special, !special, FALSE, FALSE, FALSE);
}

const char *
vtp_tokenizer_id_to_token (VtpTokenizer *tok, gint32 id)
{
  const TokAddedToken *t;
  g_return_val_if_fail (tok != NULL, NULL);
  if (id < 0)
    return NULL;
  t = g_hash_table_lookup (tok->added_r, GINT_TO_POINTER (id));
  if (t)
    return t->normed ? t->normed : t->content;
  return g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER (id));
}

gint32
vtp_tokenizer_token_to_id (VtpTokenizer *tok, const char *piece)
{
  gpointer v;
  gint32 id;
  g_return_val_if_fail (tok != NULL, -1);
  if (!piece)
    return -1;
  if (g_hash_table_lookup_extended (tok->added_map, piece, NULL, &v))
    return GPOINTER_TO_INT (v);
  if (tok_vocab_get (tok, piece, &id))
    return id;
  return -1;
}

gsize
vtp_tokenizer_get_vocab_size (VtpTokenizer *tok)
{
  GHashTableIter it;
  gpointer k;
  gsize n;
  g_return_val_if_fail (tok != NULL, 0);
  n = tok->n_vocab;
  g_hash_table_iter_init (&it, tok->added_map);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (tok->vocab, k))
      n++;
  return n;
}

gint32
vtp_tokenizer_get_bos_id (VtpTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, -1);
  if (!tok->tmpl || tok->tmpl->len == 0)
    return -1;
  return g_array_index (tok->tmpl, gint32, 0);
}

gint32
vtp_tokenizer_get_eos_id (VtpTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, -1);
  if (!tok->tmpl || tok->tmpl->len == 0)
    return -1;
  return g_array_index (tok->tmpl, gint32, tok->tmpl->len - 1);
}

gboolean
vtp_tokenizer_is_special (VtpTokenizer *tok, gint32 id)
{
  const char *s = vtp_tokenizer_id_to_token (tok, id);
  return s && g_hash_table_contains (tok->special_set, s);
}

const char *
vtp_tokenizer_get_model_type (VtpTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, NULL);
  if (tok->model == MODEL_WORDPIECE)
    return "WordPiece";
  if (tok->model == MODEL_UNIGRAM)
    return "Unigram";
  for (guint k = 0; k < tok->pre_ops->len; k++)
    if (g_array_index (tok->pre_ops, TokPreOp, k).kind == PRE_BYTE_LEVEL)
      return "ByteLevelBPE";
  return "BPE";
}

/* ------------------------------------------------------------------------ */
/* Decoding */

static void
gstring_free (gpointer p)
{
  g_string_free (p, TRUE);
}

char *
vtp_tokenizer_decode_len (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special, gsize *out_len,
    GError **error)
{
  GPtrArray *pieces;
  GString *res;

  g_return_val_if_fail (tok != NULL, NULL);
  if (n_ids > 0 && !ids) {
    g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT, "%s: ids is NULL", tok->name);
    return NULL;
  }
  pieces = g_ptr_array_new_with_free_func (gstring_free);
  for (gsize i = 0; i < n_ids; i++) {
    const char *s = vtp_tokenizer_id_to_token (tok, ids[i]);
    if (!s) {
      g_set_error (error, tok->domain, VTP_TOKENIZER_ERROR_INPUT,
          "%s: cannot decode id %d (position %" G_GSIZE_FORMAT "): not in the vocabulary", tok->name, ids[i], i);
      g_ptr_array_unref (pieces);
      return NULL;
    }
    if (skip_special && g_hash_table_contains (tok->special_set, s))
      continue;
    g_ptr_array_add (pieces, g_string_new (s));
  }
  if (tok->has_decoder)
    pieces = tok_decode_pieces (tok, pieces);
  res = g_string_new (NULL);
  for (guint i = 0; i < pieces->len; i++) {
    if (!tok->has_decoder && i > 0)
      g_string_append_c (res, ' ');
    g_string_append_len (res, ((GString *) pieces->pdata[i])->str, ((GString *) pieces->pdata[i])->len);
  }
  g_ptr_array_unref (pieces);
  if (out_len)
    *out_len = res->len;
  return g_string_free (res, FALSE);
}

char *
vtp_tokenizer_decode (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special, GError **error)
{
  return vtp_tokenizer_decode_len (tok, ids, n_ids, skip_special, NULL, error);
}

/* ------------------------------------------------------------------------ */
/* Loading */

VtpTokenizer *
vtp_tokenizer_new_from_data (const char *json, gssize len, const char *name_for_errors, GError **error)
{
  return tok_load_json (json, len, name_for_errors, VTP_TOKENIZER_ERROR, -1, error);
}

VtpTokenizer *
vtp_tokenizer_new_from_file (const char *path, GError **error)
{
  return tok_load_json_file (path, VTP_TOKENIZER_ERROR, -1, error);
}

/* A byte-level BPE from a vocabulary and merges given as lists (a
 * GGUF's tokenizer.ggml.tokens / .merges): the same BPE model as a
 * tokenizer.json's, with the ByteLevel pre-tokenizer (no prefix space,
 * @split's regex) and decoder. */
VtpTokenizer *
vtp_tokenizer_new_byte_level_bpe (const char *const *tokens, const gsize *lengths, gsize n_tokens,
    const char *const *merges, gsize n_merges, const gint32 *added, const gboolean *added_special, gsize n_added,
    VtpBpeSplit split, gboolean ignore_merges, const char *name, GError **error)
{
  TokLd ld = { name ? name : "byte-level BPE", error, VTP_ERROR };
  VtpTokenizer *tok;
  TokPreOp pre = { .kind = PRE_BYTE_LEVEL, .add_prefix_space = FALSE, .use_regex = TRUE,
    .regex = split == VTP_BPE_SPLIT_GPT2 ? SPLIT_GPT2 : SPLIT_LLAMA3, .max_digits = split == VTP_BPE_SPLIT_QWEN2 ? 1 : 3 };
  TokDecOp dec = { .kind = DEC_BYTE_LEVEL };
  GString *merged;
  gboolean ok = TRUE;

  if (n_tokens == 0 || n_tokens > G_MAXINT32) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the vocabulary has %" G_GSIZE_FORMAT
        " tokens, expected 1 to 2^31 - 1", ld.name, n_tokens);
    return NULL;
  }
  tok = tok_alloc (ld.name, VTP_TOKENIZER_ERROR, MODEL_BPE);   /* encode errors as any VtpTokenizer's */
  /* the first of duplicate pieces keeps the piece */
  for (gsize i = 0; i < n_tokens; i++)
    tok_vocab_insert (tok, tokens[i], lengths ? lengths[i] : strlen (tokens[i]), (gint32) i, TRUE);
  tok->n_vocab = n_tokens;
  tok->ignore_merges = ignore_merges;
  tok_bpe_find_byte_pieces (tok);
  tok_bpe_alloc_merges (tok, n_merges);
  merged = g_string_new (NULL);
  for (gsize i = 0; ok && i < n_merges; i++) {
    /* "left right", split at the first space after the first byte
     * (byte-level pieces hold "Ġ", never a space) */
    const char *m = merges[i];
    const char *sp = m[0] ? strchr (m + 1, ' ') : NULL;
    char *left = sp ? g_strndup (m, sp - m) : NULL;
    if (!sp) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: merge %" G_GSIZE_FORMAT " \"%s\" is not two pieces "
          "separated by a space", ld.name, i, m);
      ok = FALSE;
    } else {
      ok = tok_bpe_add_merge (&ld, tok, "tokenizer.ggml.merges", i, left, sp + 1, i, merged);
      if (!ok && error && *error)
        (*error)->code = VTP_ERROR_FORMAT;
    }
    g_free (left);
  }
  g_string_free (merged, TRUE);
  g_array_append_val (tok->pre_ops, pre);
  g_array_append_val (tok->dec_ops, dec);
  tok->has_decoder = TRUE;
  tok->loading = TRUE;
  for (gsize i = 0; ok && i < n_added; i++) {
    const char *t;
    if (added[i] < 0 || (gsize) added[i] >= n_tokens) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: added token id %d is outside the vocabulary of %"
          G_GSIZE_FORMAT, ld.name, added[i], n_tokens);
      ok = FALSE;
      break;
    }
    t = g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER (added[i]));
    if (t && *t)
      tok_added_add (tok, t, added_special ? added_special[i] : TRUE, FALSE, FALSE, FALSE, FALSE);
  }
  tok->loading = FALSE;
  tok_added_refresh (tok);
  if (!ok) {
    vtp_tokenizer_free (tok);
    return NULL;
  }
  return tok;
}
