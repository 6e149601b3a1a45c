/* vtp-wordpiece.h: the BERT WordPiece tokenizer of InstructBLIP's Q-Former,
 * giving exactly the ids of HuggingFace `tokenizers` (and of transformers'
 * BertTokenizer / BertTokenizerFast built from a vocab.txt). It is the
 * shared tokenizer of vtp-tokenizer.h with a WordPiece model
 * (vtp_wordpiece_get_tokenizer), plus the loaders BERT users need (vocab.txt,
 * a transformers folder) and truncation.
 *
 * Supported, honouring the file literally (anything else is refused with a
 * VTP_WORDPIECE_ERROR_UNSUPPORTED error that names the field):
 *   model          WordPiece (vocab, unk_token, continuing_subword_prefix,
 *                  max_input_chars_per_word)
 *   added_tokens   special / normalized / lstrip / rstrip / single_word
 *   normalizer     null, BertNormalizer (clean_text, handle_chinese_chars,
 *                  strip_accents true / false / null = follow lowercase,
 *                  lowercase)
 *   pre_tokenizer  null, BertPreTokenizer
 *   post_processor null, TemplateProcessing (the "single" template),
 *                  BertProcessing
 *   decoder        null, WordPiece (prefix, cleanup)
 *   truncation     null or {max_length, direction, stride 0}
 *   padding        null or BatchLongest (no effect on one encode)
 *
 * (As a VtpTokenizer, any of vtp-tokenizer.h's parts load as well; these
 * functions refuse a model that is not WordPiece.)
 *
 * Unicode: tokenizers classifies characters with tables frozen at an old
 * Unicode version (crate unicode_categories: control / format / private use,
 * punctuation, nonspacing marks) and lowercases with Rust's char::to_lowercase
 * (a recent Unicode). vtp-tok-unicode.c carries those classes as range tables
 * measured from tokenizers (tools/make_wordpiece_fixtures.py --c-tables), and
 * uses GLib only for NFD (g_utf8_normalize) and for lowercasing, with
 * measured exceptions where GLib 2.74 differs: U+0130 (-> "i̇"), Roman
 * numerals and circled letters (which g_unichar_tolower leaves alone), the
 * Unicode 16/17 case pairs, and U+11938 (which tokenizers does not
 * decompose); the tables are in models/tokenizers/vtp-tok-unicode.c.
 * tests/fixtures/wordpiece/unicode.tsv checks every code point.
 * Not covered: canonical reordering of two adjacent combining marks whose
 * combining class tokenizers' older NFD tables do not know (marks assigned
 * after Unicode 9) and which strip_accents keeps.
 *
 * Encoding and decoding do not modify the tokenizer, so they may run in
 * several threads at once (but not at the same time as an add_token or
 * set_truncation_side). */
#pragma once
#include <glib.h>
#include "vtp-tokenizer.h"

G_BEGIN_DECLS

/* Its own error domain, with VtpTokenizerError's codes */
#define VTP_WORDPIECE_ERROR (vtp_wordpiece_error_quark ())
GQuark vtp_wordpiece_error_quark (void);
typedef VtpTokenizerError VtpWordPieceError;
#define VTP_WORDPIECE_ERROR_FILE VTP_TOKENIZER_ERROR_FILE
#define VTP_WORDPIECE_ERROR_PARSE VTP_TOKENIZER_ERROR_PARSE
#define VTP_WORDPIECE_ERROR_UNSUPPORTED VTP_TOKENIZER_ERROR_UNSUPPORTED
#define VTP_WORDPIECE_ERROR_INPUT VTP_TOKENIZER_ERROR_INPUT

typedef struct _VtpWordPiece VtpWordPiece;

/* From a tokenizer.json (model.type "WordPiece"). */
VtpWordPiece *vtp_wordpiece_new_from_file (const char *tokenizer_json, GError **error);
/* The same from memory. @len: bytes of @json, or -1 when NUL-terminated.
 * @name_for_errors prefixes every error message (NULL: "tokenizer.json"). */
VtpWordPiece *vtp_wordpiece_new_from_data (const char *json, gssize len, const char *name_for_errors,
    GError **error);
/* From a vocab.txt (one token per line, id = line number; lines end at \n,
 * \r\n or \r as Python reads them) with BertTokenizer's pipeline:
 * BertNormalizer(clean_text, handle_chinese_chars, @strip_accents: 1 / 0 /
 * -1 = follow @lowercase, @lowercase), BertPreTokenizer, WordPiece(unk
 * [UNK], "##", 100 chars), [CLS] $A [SEP], WordPiece decoder with cleanup;
 * [PAD] [UNK] [CLS] [SEP] [MASK] are special added tokens when the vocab has
 * them ([UNK], [CLS] and [SEP] must be there). */
VtpWordPiece *vtp_wordpiece_new_from_vocab (const char *vocab_txt, gboolean lowercase, gint strip_accents,
    GError **error);
/* Opens a Q-Former tokenizer folder as transformers does: tokenizer.json if
 * present, else vocab.txt with tokenizer_config.json's do_lower_case,
 * strip_accents, tokenize_chinese_chars and *_token names. Either way
 * tokenizer_config.json (when present) adds its added_tokens_decoder entries
 * and the special tokens it names (bos_token "[DEC]") that the tokenizer
 * lacks, and sets the truncation side from "truncation_side" (InstructBLIP's
 * qformer_tokenizer saves "left"). */
VtpWordPiece *vtp_wordpiece_new_from_dir (const char *dir, GError **error);
void vtp_wordpiece_free (VtpWordPiece *wp);

/* Like tokenizers' encode(text, add_special_tokens=add_special).ids, with
 * truncation as transformers' tokenizer(text, truncation=True,
 * max_length=max_len) does it: at most @max_len ids including the specials,
 * dropping text tokens from the truncation side (right unless the file or
 * folder says left, see set_truncation_side). @max_len 0: no truncation
 * beyond what the tokenizer.json's own "truncation" asks for. As in
 * tokenizers, a @max_len below the number of specials the post-processor
 * adds (max_len 1 with [CLS] $A [SEP]) does not truncate at all (an unsigned
 * wrap-around there); without specials @max_len counts text tokens only.
 * A GArray of gint32; NULL and an INPUT error when @text is not valid
 * UTF-8. */
GArray *vtp_wordpiece_encode (VtpWordPiece *wp, const char *text, gboolean add_special, gint max_len,
    GError **error);
/* Like Tokenizer.decode(ids, skip_special_tokens=skip_special) (tokenizers,
 * not transformers' extra clean_up_tokenization_spaces). Where HF silently
 * drops an id it does not know, this returns NULL and an INPUT error. */
char *vtp_wordpiece_decode (VtpWordPiece *wp, const gint32 *ids, gsize n, gboolean skip_special, GError **error);
/* Like tokenizer.normalizer.normalize_str(text): the normalized text
 * (a copy of @text when there is no normalizer). */
char *vtp_wordpiece_normalize (VtpWordPiece *wp, const char *text, GError **error);

gint32 vtp_wordpiece_token_to_id (VtpWordPiece *wp, const char *token);  /* -1 if absent */
/* Like id_to_token; NULL if unknown. Valid until the next add_token. */
const char *vtp_wordpiece_id_to_token (VtpWordPiece *wp, gint32 id);
gsize vtp_wordpiece_get_vocab_size (VtpWordPiece *wp);   /* get_vocab_size(with_added_tokens=True) */
gboolean vtp_wordpiece_is_special (VtpWordPiece *wp, gint32 id);
/* Like add_special_tokens([content]) (special: normalized=FALSE) or
 * add_tokens([content]) (not special: normalized=TRUE): the token's existing
 * id, or the next free one (InstructBLIP's "[DEC]" gets 30522 with
 * bert-base-uncased). -1 for "". */
gint32 vtp_wordpiece_add_token (VtpWordPiece *wp, const char *content, gboolean special);
/* The side vtp_wordpiece_encode truncates: TRUE = left (keep the end of the
 * text), as transformers' truncation_side="left". */
void vtp_wordpiece_set_truncation_side (VtpWordPiece *wp, gboolean left);
gboolean vtp_wordpiece_get_truncation_left (VtpWordPiece *wp);

/* The tokenizer inside, for code that takes any VtpTokenizer (borrowed;
 * vtp_tokenizer_encode adds no truncation) */
VtpTokenizer *vtp_wordpiece_get_tokenizer (VtpWordPiece *wp);
/* Frees @wp and returns the tokenizer inside, now the caller's */
VtpTokenizer *vtp_wordpiece_steal_tokenizer (VtpWordPiece *wp);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpWordPiece, vtp_wordpiece_free)

G_END_DECLS
