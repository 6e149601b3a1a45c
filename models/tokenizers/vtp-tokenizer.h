/* vtp-tokenizer.h: a byte-exact reimplementation of HuggingFace
 * `tokenizers` for the tokenizer.json files of the language models and
 * bridges vtp runs: Llama-style BPE (SentencePiece converted: "▁" word
 * boundaries, <0xXX> byte fallback), GPT-2 / OPT byte-level BPE, BERT
 * WordPiece and T5 / Flan-T5's Unigram (SentencePiece). One type whatever the model inside; the parts are in
 * models/tokenizers/vtp-tok-*.c, one file a role (vtp-tok-private.h).
 *
 * Supported, honouring the file literally (anything else is refused with a
 * VTP_TOKENIZER_ERROR_UNSUPPORTED error that names the field):
 *   model          BPE (vocab; merges as "a b" strings or [a, b] pairs;
 *                  unk_token, fuse_unk, byte_fallback, ignore_merges,
 *                  continuing_subword_prefix, end_of_word_suffix;
 *                  dropout null or 0), WordPiece (vocab, unk_token,
 *                  continuing_subword_prefix, max_input_chars_per_word),
 *                  Unigram ([piece, score] vocab, unk_id, byte_fallback)
 *   added_tokens   special / normalized / lstrip / rstrip / single_word
 *   normalizer     null, Prepend, Replace (String pattern, or a Regex of
 *                  literal chars, quantifiers, \A \z ^ $ and |: what
 *                  transformers' SentencePiece converters write),
 *                  BertNormalizer, Strip, Precompiled (SentencePiece's
 *                  charsmap), Sequence of those
 *   pre_tokenizer  null, Metaspace (prepend_scheme always/first/never,
 *                  split), BertPreTokenizer, ByteLevel (add_prefix_space,
 *                  use_regex; trim_offsets), WhitespaceSplit, Sequence of
 *                  those
 *   post_processor null, TemplateProcessing (the "single" template),
 *                  BertProcessing, RobertaProcessing, ByteLevel, Sequence
 *   decoder        null, Replace, ByteFallback, Fuse, Strip, Metaspace,
 *                  WordPiece, ByteLevel, Sequence
 *   truncation     null or {max_length, direction, stride 0}
 *   padding        null or BatchLongest (no effect on one encode)
 * Encoding and decoding do not modify the tokenizer, so they may run in
 * several threads at once (but not at the same time as an add_token).
 *
 * NFC/NFKC/NFD/NFKD normalizers are refused: HF uses Unicode 9-era tables
 * (unicode-normalization-alignments) and GLib newer ones, so the results
 * differ for characters assigned since. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define VTP_TOKENIZER_ERROR (vtp_tokenizer_error_quark ())
GQuark vtp_tokenizer_error_quark (void);

typedef enum {
  VTP_TOKENIZER_ERROR_FILE,         /* the file cannot be read */
  VTP_TOKENIZER_ERROR_PARSE,        /* not JSON, or a field is missing / mistyped / inconsistent */
  VTP_TOKENIZER_ERROR_UNSUPPORTED,  /* valid for HF, but a component vtp does not implement */
  VTP_TOKENIZER_ERROR_INPUT,        /* bad encode/decode input (invalid UTF-8, unknown id) */
} VtpTokenizerError;

typedef struct _VtpTokenizer VtpTokenizer;

VtpTokenizer *vtp_tokenizer_new_from_file (const char *path, GError **error);
/* @len: bytes of @json, or -1 when NUL-terminated. @name_for_errors prefixes
 * every error message (NULL: "tokenizer.json"). */
VtpTokenizer *vtp_tokenizer_new_from_data (const char *json, gssize len, const char *name_for_errors,
    GError **error);
void vtp_tokenizer_free (VtpTokenizer *tok);

/* Like tokenizers' Tokenizer.encode(text, add_special_tokens=add_special).ids:
 * a GArray of gint32. NULL and an INPUT error when @text is not valid UTF-8. */
GArray *vtp_tokenizer_encode (VtpTokenizer *tok, const char *text, gboolean add_special, GError **error);
/* The same for @len bytes (-1: NUL-terminated); the text may contain NULs. */
GArray *vtp_tokenizer_encode_len (VtpTokenizer *tok, const char *text, gssize len, gboolean add_special,
    GError **error);

/* Like Tokenizer.decode(ids, skip_special_tokens=skip_special). Where HF
 * silently drops an id it does not know, this returns NULL and an INPUT
 * error naming the id. */
char *vtp_tokenizer_decode (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    GError **error);
/* The same, also giving the length: a <0x00> piece decodes to a NUL byte,
 * which ends the string for vtp_tokenizer_decode's callers. */
char *vtp_tokenizer_decode_len (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    gsize *out_len, GError **error);

/* Like add_special_tokens([content]) (special: normalized=FALSE) or
 * add_tokens([content]) (not special: normalized=TRUE). The id is the
 * piece's existing id (vocab or added) or the next free one. -1 for "". */
gint32 vtp_tokenizer_add_token (VtpTokenizer *tok, const char *content, gboolean special);
/* Like add_tokens([AddedToken(content, ...)]) with every flag explicit. */
gint32 vtp_tokenizer_add_token_full (VtpTokenizer *tok, const char *content, gboolean special,
    gboolean normalized, gboolean lstrip, gboolean rstrip, gboolean single_word);

gint32 vtp_tokenizer_token_to_id (VtpTokenizer *tok, const char *piece);   /* -1 if absent */
/* Like Tokenizer.id_to_token (a normalized added token gives its normalized
 * form, as HF does). NULL if the id is unknown. Valid until the next add. */
const char *vtp_tokenizer_id_to_token (VtpTokenizer *tok, gint32 id);
gsize vtp_tokenizer_get_vocab_size (VtpTokenizer *tok);   /* get_vocab_size(with_added_tokens=True) */
/* The first id of the special token the post-processor's single template
 * starts with (Llama's <s>), -1 if none. */
gint32 vtp_tokenizer_get_bos_id (VtpTokenizer *tok);
/* The last id of the single template when it ends with a special token
 * (BERT's [SEP]), -1 if none; for a template of one special token it is
 * the BOS. */
gint32 vtp_tokenizer_get_eos_id (VtpTokenizer *tok);
/* "BPE", "ByteLevelBPE" (BPE behind a ByteLevel pre-tokenizer),
 * "WordPiece" or "Unigram" */
const char *vtp_tokenizer_get_model_type (VtpTokenizer *tok);
/* Whether @id's token is a special added token (what decode skips). */
gboolean vtp_tokenizer_is_special (VtpTokenizer *tok, gint32 id);

/* How a byte-level BPE cuts text into words before merging: GPT-2's
 * regex, Llama 3's, or Qwen2's (Llama 3's with single digits). */
typedef enum {
  VTP_BPE_SPLIT_GPT2,
  VTP_BPE_SPLIT_LLAMA3,
  VTP_BPE_SPLIT_QWEN2,
} VtpBpeSplit;

/* A byte-level BPE from lists (a GGUF's tokenizer.ggml.tokens and
 * .merges): @n_tokens pieces in byte-level form (id = index; @lengths may
 * be NULL for NUL-terminated pieces; a repeated piece keeps its first id),
 * @n_merges "left right" strings, best first; @added: ids matched literally
 * in the text (special per @added_special, all when NULL). The ByteLevel
 * pre-tokenizer (@split's regex, no prefix space) and decoder, no
 * post-processor; @ignore_merges: a word that is a piece of the vocabulary
 * is that piece, unmerged (Llama 3's). Errors: VTP_ERROR_FORMAT naming
 * @name and the merge. */
VtpTokenizer *vtp_tokenizer_new_byte_level_bpe (const char *const *tokens, const gsize *lengths, gsize n_tokens,
    const char *const *merges, gsize n_merges, const gint32 *added, const gboolean *added_special, gsize n_added,
    VtpBpeSplit split, gboolean ignore_merges, const char *name, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpTokenizer, vtp_tokenizer_free)

G_END_DECLS
