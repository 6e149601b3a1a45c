/* vtp-gguf-tokenizer.c: GGUF tokenizer metadata -> a vtp tokenizer. */
#include "vtp-gguf-tokenizer.h"
#include "vtp-error.h"
#include "vtp-wordpiece.h"
#include "vtp-tok-private.h"
#include <json-glib/json-glib.h>
#include <string.h>

/* llama.cpp's token types (tokenizer.ggml.token_type) */
enum {
  TOKEN_NORMAL = 1,
  TOKEN_UNKNOWN = 2,
  TOKEN_CONTROL = 3,
  TOKEN_USER_DEFINED = 4,
  TOKEN_UNUSED = 5,
  TOKEN_BYTE = 6,
};

/* What every kind reads: the pieces and their types. */
typedef struct {
  const char *const *tokens;
  const gsize *lengths;
  gsize n;
  gint32 *types;      /* all TOKEN_NORMAL when the file has no token_type */
} Vocab;

static gboolean
read_vocab (VtpGguf *g, Vocab *v, GError **error)
{
  gsize n_types;

  v->tokens = vtp_gguf_get_string_array (g, "tokenizer.ggml.tokens", &v->n, &v->lengths, error);
  if (!v->tokens)
    return FALSE;
  if (v->n == 0 || v->n > G_MAXINT32) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tokenizer.ggml.tokens has %" G_GSIZE_FORMAT
        " pieces, expected 1 to 2^31 - 1", g->path, v->n);
    return FALSE;
  }
  for (gsize i = 0; i < v->n; i++)
    if (!g_utf8_validate_len (v->tokens[i], v->lengths[i], NULL)) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: piece %" G_GSIZE_FORMAT " of tokenizer.ggml.tokens "
          "is not valid UTF-8 (or holds a NUL byte)", g->path, i);
      return FALSE;
    }
  if (!vtp_gguf_find (g, "tokenizer.ggml.token_type")) {
    v->types = g_new (gint32, v->n);
    for (gsize i = 0; i < v->n; i++)
      v->types[i] = TOKEN_NORMAL;
    return TRUE;
  }
  if (!(v->types = vtp_gguf_get_i32_array (g, "tokenizer.ggml.token_type", &n_types, error)))
    return FALSE;
  if (n_types != v->n) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tokenizer.ggml.token_type has %" G_GSIZE_FORMAT
        " entries, tokenizer.ggml.tokens %" G_GSIZE_FORMAT, g->path, n_types, v->n);
    return FALSE;
  }
  return TRUE;
}

/* The tokens matched literally in the text: control, unknown and
 * user-defined ones. */
static gboolean
is_added (gint32 type)
{
  return type == TOKEN_CONTROL || type == TOKEN_UNKNOWN || type == TOKEN_USER_DEFINED;
}

/* An optional token id: -1 when absent, an error when outside the vocab. */
static gboolean
get_id (VtpGguf *g, const char *key, gsize n_vocab, gint32 *out, GError **error)
{
  guint32 v;
  if (!vtp_gguf_find (g, key))
    return TRUE;
  if (!vtp_gguf_get_u32 (g, key, &v, error))
    return FALSE;
  if (v >= n_vocab) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: %s is %u, outside the vocabulary of %" G_GSIZE_FORMAT
        " pieces", g->path, key, v, n_vocab);
    return FALSE;
  }
  *out = (gint32) v;
  return TRUE;
}

static gboolean
get_bool_default (VtpGguf *g, const char *key, gboolean def, gboolean *out, GError **error)
{
  *out = def;
  return !vtp_gguf_find (g, key) || vtp_gguf_get_bool (g, key, out, error);
}

/* "added_tokens": one entry per token matched literally */
static void
add_added_tokens (JsonBuilder *b, const Vocab *v)
{
  json_builder_set_member_name (b, "added_tokens");
  json_builder_begin_array (b);
  for (gsize i = 0; i < v->n; i++) {
    if (!is_added (v->types[i]))
      continue;
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_int_value (b, i);
    json_builder_set_member_name (b, "content");
    json_builder_add_string_value (b, v->tokens[i]);
    json_builder_set_member_name (b, "single_word");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_set_member_name (b, "lstrip");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_set_member_name (b, "rstrip");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_set_member_name (b, "normalized");
    json_builder_add_boolean_value (b, FALSE);
    json_builder_set_member_name (b, "special");
    json_builder_add_boolean_value (b, v->types[i] != TOKEN_USER_DEFINED);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
}

static void
add_vocab_object (JsonBuilder *b, const Vocab *v)
{
  json_builder_set_member_name (b, "vocab");
  json_builder_begin_object (b);
  for (gsize i = 0; i < v->n; i++) {
    json_builder_set_member_name (b, v->tokens[i]);
    json_builder_add_int_value (b, i);
  }
  json_builder_end_object (b);
}

/* Opens {"type": @type, ...} as the value of @member (NULL: an array
 * element); the caller adds the fields and closes it */
static void
begin_typed (JsonBuilder *b, const char *member, const char *type)
{
  if (member)
    json_builder_set_member_name (b, member);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
}

/* The top-level object opened, with the version and the added tokens */
static void
begin_tokenizer_json (JsonBuilder *b, const Vocab *v)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "version");
  json_builder_add_string_value (b, "1.0");
  add_added_tokens (b, v);
}

/* One {"type": ..., "pattern": {"String": from}, "content": to} */
static void
add_replace (JsonBuilder *b, const char *from, const char *to)
{
  begin_typed (b, NULL, "Replace");
  json_builder_set_member_name (b, "pattern");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "String");
  json_builder_add_string_value (b, from);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "content");
  json_builder_add_string_value (b, to);
  json_builder_end_object (b);
}

static void
add_typed (JsonBuilder *b, const char *type)
{
  begin_typed (b, NULL, type);
  json_builder_end_object (b);
}

static char *
builder_to_json (JsonBuilder *b, gsize *len)
{
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  return json_generator_to_data (gen, len);
}

/* Every piece once: a JSON vocab maps pieces to ids. */
static gboolean
check_unique (VtpGguf *g, const Vocab *v, GHashTable *ids, GError **error)
{
  for (gsize i = 0; i < v->n; i++) {
    gpointer prev;
    if (g_hash_table_lookup_extended (ids, v->tokens[i], NULL, &prev)) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: tokenizer.ggml.tokens holds the piece \"%s\" "
          "twice (ids %d and %" G_GSIZE_FORMAT "), which vtp does not support", g->path, v->tokens[i],
          GPOINTER_TO_INT (prev), i);
      return FALSE;
    }
    g_hash_table_insert (ids, (gpointer) v->tokens[i], GINT_TO_POINTER ((gint) i));
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* "llama": SentencePiece BPE through a tokenizer.json */

typedef struct {
  gint32 left, right, merged;
  gfloat score;                   /* the merged piece's */
  glong left_chars, right_chars;
} SpmMerge;

/* transformers' GGUF converter (SentencePieceExtractor's generate_merges):
 * every split of every piece into two pieces of the vocabulary is a merge;
 * best score of the merged piece first, then the longer left part, the
 * longer right part, and the vocabulary order. Equal to the merges of
 * Llama-2's tokenizer.json (testdata/tokenizers/llama2-7b). */
static gint
compare_spm_merges (gconstpointer pa, gconstpointer pb)
{
  const SpmMerge *a = pa, *b = pb;
  if (a->score != b->score)
    return a->score > b->score ? -1 : 1;
  if (a->left_chars != b->left_chars)
    return a->left_chars > b->left_chars ? -1 : 1;
  if (a->right_chars != b->right_chars)
    return a->right_chars > b->right_chars ? -1 : 1;
  return a->merged < b->merged ? -1 : a->merged > b->merged;
}

/* One special token of a TemplateProcessing: the piece in "single" and its
 * entry in "special_tokens" (written by the caller in two passes). */
static void
add_template_token (JsonBuilder *b, const Vocab *v, gint32 id, gboolean entry)
{
  json_builder_begin_object (b);
  if (entry) {
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, v->tokens[id]);
    json_builder_set_member_name (b, "ids");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, id);
    json_builder_end_array (b);
    json_builder_set_member_name (b, "tokens");
    json_builder_begin_array (b);
    json_builder_add_string_value (b, v->tokens[id]);
    json_builder_end_array (b);
  } else {
    json_builder_set_member_name (b, "SpecialToken");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "id");
    json_builder_add_string_value (b, v->tokens[id]);
    json_builder_set_member_name (b, "type_id");
    json_builder_add_int_value (b, 0);
    json_builder_end_object (b);
  }
  json_builder_end_object (b);
}

/* BOS / EOS around the text as add_bos / add_eos say, as transformers'
 * GGUF converter writes it, so that the VtpTokenizer alone (an element's
 * prompt encoding with add_special) adds what llama.cpp adds.
 * vtp_gguf_tokenizer_encode encodes without it and adds them itself. */
static void
add_post_processor (JsonBuilder *b, const VtpGgufTokenizer *tok, const Vocab *v)
{
  const gboolean bos = tok->add_bos && tok->bos_id >= 0, eos = tok->add_eos && tok->eos_id >= 0;

  begin_typed (b, "post_processor", "TemplateProcessing");
  json_builder_set_member_name (b, "single");
  json_builder_begin_array (b);
  if (bos)
    add_template_token (b, v, tok->bos_id, FALSE);
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "Sequence");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "id");
  json_builder_add_string_value (b, "A");
  json_builder_set_member_name (b, "type_id");
  json_builder_add_int_value (b, 0);
  json_builder_end_object (b);
  json_builder_end_object (b);
  if (eos)
    add_template_token (b, v, tok->eos_id, FALSE);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "special_tokens");
  json_builder_begin_object (b);
  if (bos) {
    json_builder_set_member_name (b, v->tokens[tok->bos_id]);
    add_template_token (b, v, tok->bos_id, TRUE);
  }
  if (eos && (!bos || tok->eos_id != tok->bos_id)) {
    json_builder_set_member_name (b, v->tokens[tok->eos_id]);
    add_template_token (b, v, tok->eos_id, TRUE);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
}

static GArray *
spm_merges (const Vocab *v, const gfloat *scores, GHashTable *ids)
{
  GArray *merges = g_array_new (FALSE, FALSE, sizeof (SpmMerge));
  for (gsize i = 0; i < v->n; i++) {
    const char *t = v->tokens[i];
    glong n_chars = g_utf8_strlen (t, -1);
    glong k = 1;
    for (const char *p = g_utf8_next_char (t); *p; p = g_utf8_next_char (p), k++) {
      g_autofree char *left = g_strndup (t, p - t);
      gpointer l, r;
      if (g_hash_table_lookup_extended (ids, left, NULL, &l)
          && g_hash_table_lookup_extended (ids, p, NULL, &r)) {
        SpmMerge m = { GPOINTER_TO_INT (l), GPOINTER_TO_INT (r), i, scores[i], k, n_chars - k };
        g_array_append_val (merges, m);
      }
    }
  }
  g_array_sort (merges, compare_spm_merges);
  return merges;
}

static gboolean
build_spm (VtpGguf *g, VtpGgufTokenizer *tok, const Vocab *v, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GArray) merges = NULL;
  g_autofree gfloat *scores = NULL;
  g_autofree char *json = NULL;
  g_autoptr (GError) local = NULL;
  gsize n_scores, len;
  gboolean add_space_prefix;

  if (!(scores = vtp_gguf_get_f32_array (g, "tokenizer.ggml.scores", &n_scores, error)))
    return FALSE;
  if (n_scores != v->n) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tokenizer.ggml.scores has %" G_GSIZE_FORMAT
        " entries, tokenizer.ggml.tokens %" G_GSIZE_FORMAT, g->path, n_scores, v->n);
    return FALSE;
  }
  if (!check_unique (g, v, ids, error)
      || !get_bool_default (g, "tokenizer.ggml.add_space_prefix", TRUE, &add_space_prefix, error))
    return FALSE;
  if (tok->unk_id < 0)
    tok->unk_id = 0;      /* llama.cpp's default for SentencePiece */
  merges = spm_merges (v, scores, ids);

  begin_tokenizer_json (b, v);

  /* SentencePiece's dummy prefix and spaces as "▁" */
  begin_typed (b, "normalizer", "Sequence");
  json_builder_set_member_name (b, "normalizers");
  json_builder_begin_array (b);
  if (add_space_prefix) {
    begin_typed (b, NULL, "Prepend");
    json_builder_set_member_name (b, "prepend");
    json_builder_add_string_value (b, "\u2581");
    json_builder_end_object (b);
  }
  add_replace (b, " ", "\u2581");
  json_builder_end_array (b);
  json_builder_end_object (b);

  begin_typed (b, "decoder", "Sequence");
  json_builder_set_member_name (b, "decoders");
  json_builder_begin_array (b);
  add_replace (b, "\u2581", " ");
  add_typed (b, "ByteFallback");
  add_typed (b, "Fuse");
  if (add_space_prefix) {
    begin_typed (b, NULL, "Strip");
    json_builder_set_member_name (b, "content");
    json_builder_add_string_value (b, " ");
    json_builder_set_member_name (b, "start");
    json_builder_add_int_value (b, 1);
    json_builder_set_member_name (b, "stop");
    json_builder_add_int_value (b, 0);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  begin_typed (b, "model", "BPE");
  json_builder_set_member_name (b, "unk_token");
  json_builder_add_string_value (b, v->tokens[tok->unk_id]);
  json_builder_set_member_name (b, "fuse_unk");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "byte_fallback");
  json_builder_add_boolean_value (b, TRUE);
  add_vocab_object (b, v);
  json_builder_set_member_name (b, "merges");
  json_builder_begin_array (b);
  for (guint i = 0; i < merges->len; i++) {
    const SpmMerge *m = &g_array_index (merges, SpmMerge, i);
    json_builder_begin_array (b);
    json_builder_add_string_value (b, v->tokens[m->left]);
    json_builder_add_string_value (b, v->tokens[m->right]);
    json_builder_end_array (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);
  add_post_processor (b, tok, v);
  json_builder_end_object (b);

  json = builder_to_json (b, &len);
  if (!(tok->tok = vtp_tokenizer_new_from_data (json, len, g->path, &local))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the SentencePiece vocabulary: %s", g->path,
        local->message);
    return FALSE;
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* "bert": WordPiece through a tokenizer.json */

/* llama.cpp's converter stores BERT vocabularies in "phantom space" form:
 * a word-initial piece gets a "▁" prefix ("the" -> "▁the"), a continuation
 * loses its "##" ("##s" -> "s"), bracketed specials ("[CLS]", "[unused0]")
 * stay. Back to WordPiece's form, unless the file already has "##" pieces
 * (then it was written as WordPiece has it). */
static gboolean
is_phantom_space (const Vocab *v)
{
  for (gsize i = 0; i < v->n; i++)
    if (g_str_has_prefix (v->tokens[i], "##"))
      return FALSE;
  return TRUE;
}

static char *
wordpiece_piece (const char *t)
{
  gsize len = strlen (t);
  if (len >= 2 && t[0] == '[' && t[len - 1] == ']')
    return g_strdup (t);
  if (g_str_has_prefix (t, "\u2581"))
    return g_strdup (t + strlen ("\u2581"));
  return g_strconcat ("##", t, NULL);
}

static gboolean
build_wordpiece (VtpGguf *g, VtpGgufTokenizer *tok, const Vocab *gguf_vocab, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr (GPtrArray) pieces = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *json = NULL;
  g_autoptr (GError) local = NULL;
  Vocab wp_vocab = *gguf_vocab, *v = &wp_vocab;
  VtpWordPiece *wp;
  gsize len;

  if (is_phantom_space (gguf_vocab)) {
    for (gsize i = 0; i < gguf_vocab->n; i++)
      g_ptr_array_add (pieces, wordpiece_piece (gguf_vocab->tokens[i]));
    g_ptr_array_add (pieces, NULL);
    wp_vocab.tokens = (const char *const *) pieces->pdata;
    wp_vocab.lengths = NULL;     /* unused here */
  }
  if (!check_unique (g, v, ids, error))
    return FALSE;
  if (tok->unk_id < 0) {
    gpointer id;
    if (!g_hash_table_lookup_extended (ids, "[UNK]", NULL, &id)) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: a WordPiece vocabulary needs "
          "tokenizer.ggml.unknown_token_id or an \"[UNK]\" piece", g->path);
      return FALSE;
    }
    tok->unk_id = GPOINTER_TO_INT (id);
  }

  begin_tokenizer_json (b, v);

  /* BERT uncased, as llama.cpp's WPM tokenizer (GGUF has no casing flag) */
  begin_typed (b, "normalizer", "BertNormalizer");
  json_builder_set_member_name (b, "clean_text");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "handle_chinese_chars");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "strip_accents");
  json_builder_add_null_value (b);
  json_builder_set_member_name (b, "lowercase");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "pre_tokenizer");
  add_typed (b, "BertPreTokenizer");

  begin_typed (b, "decoder", "WordPiece");
  json_builder_set_member_name (b, "prefix");
  json_builder_add_string_value (b, "##");
  json_builder_set_member_name (b, "cleanup");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);

  begin_typed (b, "model", "WordPiece");
  json_builder_set_member_name (b, "unk_token");
  json_builder_add_string_value (b, v->tokens[tok->unk_id]);
  json_builder_set_member_name (b, "continuing_subword_prefix");
  json_builder_add_string_value (b, "##");
  json_builder_set_member_name (b, "max_input_chars_per_word");
  json_builder_add_int_value (b, 100);
  add_vocab_object (b, v);
  json_builder_end_object (b);
  add_post_processor (b, tok, v);
  json_builder_end_object (b);

  json = builder_to_json (b, &len);
  if (!(wp = vtp_wordpiece_new_from_data (json, len, g->path, &local))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the WordPiece vocabulary: %s", g->path,
        local->message);
    return FALSE;
  }
  tok->tok = vtp_wordpiece_steal_tokenizer (wp);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* "gpt2": byte-level BPE */

/* The split regex and ignore_merges of llama.cpp's byte-level BPE
 * pre-tokenizer @pre (NULL: none given, GPT-2's); FALSE for one vtp does
 * not implement. Llama 3's tokenizer.json sets ignore_merges, Qwen2's not. */
static gboolean
bpe_pre_type (const char *pre, VtpBpeSplit *split, gboolean *ignore_merges)
{
  static const struct { const char *name; VtpBpeSplit split; gboolean ignore_merges; } types[] = {
    { "gpt-2", VTP_BPE_SPLIT_GPT2, FALSE }, { "default", VTP_BPE_SPLIT_GPT2, FALSE },
    { "llama-bpe", VTP_BPE_SPLIT_LLAMA3, TRUE }, { "llama3", VTP_BPE_SPLIT_LLAMA3, TRUE },
    { "llama-v3", VTP_BPE_SPLIT_LLAMA3, TRUE }, { "qwen2", VTP_BPE_SPLIT_QWEN2, FALSE },
  };
  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (!pre || strcmp (pre, types[i].name) == 0) {
      *split = types[i].split;
      *ignore_merges = types[i].ignore_merges;
      return TRUE;
    }
  return FALSE;
}

static gboolean
build_bpe_bytes (VtpGguf *g, VtpGgufTokenizer *tok, const Vocab *v, GError **error)
{
  const char *const *merges;
  gsize n_merges;
  g_autoptr (GArray) added = g_array_new (FALSE, FALSE, sizeof (gint32));

  VtpBpeSplit split;
  gboolean ignore_merges = FALSE;

  if (!bpe_pre_type (tok->pre, &split, &ignore_merges)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: tokenizer.ggml.pre is \"%s\"; vtp implements the "
        "byte-level BPE pre-tokenizers \"gpt-2\" (and \"default\"), \"llama-bpe\" (Llama 3: also \"llama3\", "
        "\"llama-v3\") and \"qwen2\"", g->path, tok->pre);
    return FALSE;
  }
  if (!(merges = vtp_gguf_get_string_array (g, "tokenizer.ggml.merges", &n_merges, NULL, error)))
    return FALSE;
  /* control, unknown and user-defined tokens are matched literally, all
   * skipped by decode's skip_special */
  for (gsize i = 0; i < v->n; i++)
    if (is_added (v->types[i])) {
      gint32 id = i;
      g_array_append_val (added, id);
    }
  tok->tok = vtp_tokenizer_new_byte_level_bpe (v->tokens, v->lengths, v->n, merges, n_merges,
      (const gint32 *) added->data, NULL, added->len, split, ignore_merges, g->path, error);
  if (!tok->tok)
    return FALSE;
  /* BOS / EOS as add_bos / add_eos say, as for "llama" */
  if ((tok->add_bos && tok->bos_id >= 0) || (tok->add_eos && tok->eos_id >= 0))
    tok_post_set_cls_sep (tok->tok, tok->add_bos ? tok->bos_id : -1, tok->add_eos ? tok->eos_id : -1);
  return TRUE;
}

/* ------------------------------------------------------------------------ */

/* Whether BOS comes first when the file has no add_bos_token: as
 * llama.cpp decides, yes for SentencePiece and Llama 3's BPE, no for the
 * other byte-level BPEs (GPT-2's, Qwen2's). */
static gboolean
bos_by_default (const VtpGgufTokenizer *tok)
{
  VtpBpeSplit split;
  gboolean ignore_merges;

  if (tok->kind != VTP_GGUF_TOKENIZER_BPE_BYTES)
    return TRUE;
  return tok->pre && bpe_pre_type (tok->pre, &split, &ignore_merges) && split == VTP_BPE_SPLIT_LLAMA3;
}

VtpGgufTokenizer *
vtp_gguf_tokenizer_new (VtpGguf *g, GError **error)
{
  g_autoptr (VtpGgufTokenizer) tok = g_new0 (VtpGgufTokenizer, 1);
  Vocab v = { 0 };
  const char *model, *pre;
  gboolean ok;

  if (!(model = vtp_gguf_get_string (g, "tokenizer.ggml.model", error)))
    return NULL;
  tok->model = g_strdup (model);
  if (!strcmp (model, "llama"))
    tok->kind = VTP_GGUF_TOKENIZER_SPM;
  else if (!strcmp (model, "gpt2"))
    tok->kind = VTP_GGUF_TOKENIZER_BPE_BYTES;
  else if (!strcmp (model, "bert"))
    tok->kind = VTP_GGUF_TOKENIZER_WORDPIECE;
  else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: tokenizer.ggml.model is \"%s\"; vtp implements "
        "\"llama\", \"gpt2\" and \"bert\"", g->path, model);
    return NULL;
  }
  if (vtp_gguf_find (g, "tokenizer.ggml.pre")) {
    if (!(pre = vtp_gguf_get_string (g, "tokenizer.ggml.pre", error)))
      return NULL;
    tok->pre = g_strdup (pre);
  }
  if (vtp_gguf_find (g, "tokenizer.chat_template")) {
    const char *t = vtp_gguf_get_string (g, "tokenizer.chat_template", error);
    if (!t)
      return NULL;
    tok->chat_template = g_strdup (t);
  }
  if (!read_vocab (g, &v, error))
    return NULL;
  tok->n_vocab = v.n;
  tok->bos_id = tok->eos_id = tok->unk_id = tok->pad_id = -1;
  if (tok->kind == VTP_GGUF_TOKENIZER_WORDPIECE) {
    /* [CLS] text [SEP]; the key's spelling is llama.cpp's */
    if (!get_id (g, "tokenizer.ggml.cls_token_id", v.n, &tok->bos_id, error)
        || !get_id (g, "tokenizer.ggml.seperator_token_id", v.n, &tok->eos_id, error)) {
      g_free (v.types);
      return NULL;
    }
  }
  ok = get_id (g, "tokenizer.ggml.bos_token_id", v.n, &tok->bos_id, error)
      && get_id (g, "tokenizer.ggml.eos_token_id", v.n, &tok->eos_id, error)
      && get_id (g, "tokenizer.ggml.unknown_token_id", v.n, &tok->unk_id, error)
      && get_id (g, "tokenizer.ggml.padding_token_id", v.n, &tok->pad_id, error)
      && get_bool_default (g, "tokenizer.ggml.add_bos_token", bos_by_default (tok), &tok->add_bos, error)
      && get_bool_default (g, "tokenizer.ggml.add_eos_token", tok->kind == VTP_GGUF_TOKENIZER_WORDPIECE,
          &tok->add_eos, error);
  if (ok) {
    switch (tok->kind) {
      case VTP_GGUF_TOKENIZER_SPM: ok = build_spm (g, tok, &v, error); break;
      case VTP_GGUF_TOKENIZER_BPE_BYTES: ok = build_bpe_bytes (g, tok, &v, error); break;
      case VTP_GGUF_TOKENIZER_WORDPIECE: ok = build_wordpiece (g, tok, &v, error); break;
    }
  }
  g_free (v.types);
  return ok ? g_steal_pointer (&tok) : NULL;
}

void
vtp_gguf_tokenizer_free (VtpGgufTokenizer *tok)
{
  if (!tok)
    return;
  vtp_tokenizer_free (tok->tok);
  g_free (tok->model);
  g_free (tok->pre);
  g_free (tok->chat_template);
  g_free (tok);
}

/* The underlying tokenizers report input errors in their own domains. */
static void
to_vtp_error (GError *local, GError **error)
{
  g_set_error_literal (error, VTP_ERROR, VTP_ERROR_INPUT, local->message);
  g_error_free (local);
}

GArray *
vtp_gguf_tokenizer_encode (VtpGgufTokenizer *tok, const char *text, gssize len, gboolean add_special,
    GError **error)
{
  GError *local = NULL;
  GArray *ids;

  /* "llama"'s post-processor adds what add_special adds here: encode
   * without it */
  if (!(ids = vtp_tokenizer_encode_len (tok->tok, text, len, FALSE, &local))) {
    to_vtp_error (local, error);
    return NULL;
  }
  if (add_special && tok->add_bos && tok->bos_id >= 0)
    g_array_prepend_val (ids, tok->bos_id);
  if (add_special && tok->add_eos && tok->eos_id >= 0)
    g_array_append_val (ids, tok->eos_id);
  return ids;
}

char *
vtp_gguf_tokenizer_decode (VtpGgufTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    GError **error)
{
  GError *local = NULL;
  char *s = vtp_tokenizer_decode (tok->tok, ids, n_ids, skip_special, &local);
  if (!s)
    to_vtp_error (local, error);
  return s;
}

const char *
vtp_gguf_tokenizer_id_to_token (VtpGgufTokenizer *tok, gint32 id)
{
  return vtp_tokenizer_id_to_token (tok->tok, id);
}
