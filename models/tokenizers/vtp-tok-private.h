/* vtp-tok-private.h: the parts of vtp's tokenizer, shaped as HuggingFace
 * `tokenizers` shapes a tokenizer.json:
 *
 *   added tokens   vtp-tok-added.c         cut out of the text first
 *   normalizer     vtp-tok-normalizers.c   Prepend, Replace, BertNormalizer, Strip
 *                  vtp-tok-regex.c         the Regex patterns of Replace
 *                  vtp-tok-precompiled.c   Precompiled (SentencePiece's charsmap)
 *   pre_tokenizer  vtp-tok-pre-tokenizers.c Metaspace, BertPreTokenizer, ByteLevel,
 *                                          WhitespaceSplit
 *   model          vtp-tok-bpe.c           BPE (byte fallback; byte-level when
 *                                          the pre-tokenizer is ByteLevel)
 *                  vtp-tok-wordpiece.c     WordPiece
 *                  vtp-tok-unigram.c       Unigram (T5's SentencePiece model)
 *   post_processor vtp-tok-post-processors.c TemplateProcessing, Bert/Roberta
 *                                          Processing, ByteLevel
 *   decoder        vtp-tok-decoders.c      Replace, ByteFallback, Fuse, Strip,
 *                                          Metaspace, WordPiece, ByteLevel
 *
 * vtp-tok-loader.c reads a tokenizer.json into these (vtp-tok-json.c has its
 * JSON helpers), vtp-tok-unicode.c the character classes they share, and
 * models/tokenizers/vtp-tokenizer.c runs the pipeline behind the public VtpTokenizer
 * API. Everything here is internal to libvtp-models. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include "vtp-tokenizer.h"

G_BEGIN_DECLS

/* ------------------------------------------------------------------------ */
/* Unicode (vtp-tok-unicode.c) */

gsize tok_utf8_valid_prefix (const guchar *s, gsize n);
static inline gsize
tok_utf8_char_len (guchar c)
{
  return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
}
/* Rust's String::from_utf8_lossy: one U+FFFD per maximal invalid subpart */
void tok_append_utf8_lossy (GString *out, const guint8 *b, gsize n);
gboolean tok_is_white_space (gunichar c);   /* Rust char::is_whitespace, regex \s */
gboolean tok_is_word_char (gunichar c);     /* Rust regex \w */
gboolean tok_is_letter (gunichar c);        /* \p{L} */
gboolean tok_is_number (gunichar c);        /* \p{N} */
/* tokenizers' frozen tables (BertNormalizer, BertPreTokenizer) */
gboolean tok_is_bert_control (gunichar c);
gboolean tok_is_bert_punct (gunichar c);
gboolean tok_is_nonspacing_mark (gunichar c);
gboolean tok_is_cjk (gunichar c);
/* Whether an extended grapheme cluster goes on from @prev to @next (the
 * rules that matter to clusters under 6 bytes) */
gboolean tok_grapheme_joins (gunichar prev, gunichar next);
void tok_append_lower (GString *out, gunichar c);
void tok_append_nfd (GString *out, const char *in, gsize n);
/* GPT-2's bytes_to_unicode: the character standing for each byte (UTF-8,
 * NUL-terminated), and the byte of a character (-1 when none) */
const char *tok_byte_char (guint8 b);
gint tok_char_byte (gunichar c);

/* ------------------------------------------------------------------------ */
/* The regex subset of Replace patterns (vtp-tok-regex.c): NULL when
 * @pattern is outside it */
typedef struct _TokRegex TokRegex;
TokRegex *tok_regex_new (const char *pattern);
void tok_regex_free (TokRegex *re);
/* The leftmost match at or after byte @from of @s[@n]: [*@start, *@end) */
gboolean tok_regex_find (const TokRegex *re, const char *s, gsize n, gsize from, gsize *start, gsize *end);

/* ------------------------------------------------------------------------ */
/* Loading helpers (vtp-tok-json.c) */

typedef struct {
  const char *name;     /* prefixes every message */
  GError **error;
  GQuark domain;        /* VTP_TOKENIZER_ERROR or VTP_WORDPIECE_ERROR: same codes */
  const char *json;     /* the file's text, when it is one (NULL: none) */
  gsize json_len;
} TokLd;

gboolean tok_fail (TokLd *ld, gint code, const char *fmt, ...) G_GNUC_PRINTF (3, 4);
char *tok_describe (JsonNode *n);
gboolean tok_fail_type (TokLd *ld, const char *path, JsonNode *n, const char *expected);
gboolean tok_is_null (JsonNode *n);
gboolean tok_is_string (JsonNode *n);
gboolean tok_is_int (JsonNode *n);
/* A string member; absent or null gives @dflt, an error when @dflt is NULL
 * and not @nullable */
gboolean tok_get_str (TokLd *ld, JsonObject *o, const char *path, const char *key, const char *dflt,
    gboolean nullable, const char **out);
gboolean tok_get_bool (TokLd *ld, JsonObject *o, const char *path, const char *key, gboolean dflt, gboolean *out);
gboolean tok_get_uint (TokLd *ld, JsonObject *o, const char *path, const char *key, gint64 dflt, gint64 *out);
gboolean tok_get_char (TokLd *ld, JsonObject *o, const char *path, const char *key, gunichar *out);
/* A JSON number's text as tokenizers (serde_json) reads it: not always
 * the nearest double (vtp-tok-json.c says how) */
double tok_json_number (const char *s, gsize n, gboolean *ok);
/* The scores of the top-level model.vocab's [piece, score] pairs of
 * @json, read that way; FALSE when they are not @n pairs */
gboolean tok_json_unigram_scores (const char *json, gsize len, double *scores, guint n);
/* A component object and its "type" */
gboolean tok_get_type (TokLd *ld, JsonNode *n, const char *path, JsonObject **obj, const char **type);
/* A Replace pattern {"String": "..."} (Regex patterns are refused unless
 * @re, which then gets them compiled, NULL for a String) */
gboolean tok_get_pattern (TokLd *ld, JsonObject *o, const char *path, char **out, TokRegex **re);
/* Each element of @o[@member] (an array) given to @parse with its path */
typedef gboolean (*TokParseEntry) (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path);
gboolean tok_parse_sequence (TokLd *ld, VtpTokenizer *tok, JsonObject *o, const char *path, const char *member,
    TokParseEntry parse);

/* ------------------------------------------------------------------------ */
/* The parts */

typedef enum { SCHEME_ALWAYS, SCHEME_FIRST, SCHEME_NEVER } TokPrependScheme;

typedef enum { NORM_PREPEND, NORM_REPLACE, NORM_BERT, NORM_STRIP, NORM_PRECOMPILED } TokNormKind;
typedef struct {
  TokNormKind kind;
  TokRegex *re;           /* REPLACE with a Regex pattern (@a is its text) */
  char *a, *b;            /* PREPEND: the prefix; REPLACE: pattern, replacement;
                           * PRECOMPILED: the normalized strings (NUL-separated) */
  gsize a_len, b_len;
  gboolean clean_text, chinese, strip_accents, lowercase;   /* BERT */
  gboolean left, right;   /* STRIP */
  guint32 *trie;          /* PRECOMPILED: the double-array trie's units */
  gsize n_trie;
} TokNormOp;

typedef enum { PRE_METASPACE, PRE_BERT, PRE_BYTE_LEVEL, PRE_WHITESPACE_SPLIT, PRE_SPLIT } TokPreKind;
/* The splitting regexes vtp knows (vtp-tok-pre-tokenizers.c spells them
 * out): GPT-2's, and Llama 3's, which Qwen2 uses with single digits. */
typedef enum { SPLIT_GPT2, SPLIT_LLAMA3 } TokSplitRegex;
typedef struct {
  TokPreKind kind;
  char rep[8];            /* METASPACE: the replacement char in UTF-8 */
  gsize rep_len;
  TokPrependScheme scheme;
  gboolean split;         /* METASPACE */
  gboolean add_prefix_space, use_regex;   /* BYTE_LEVEL */
  TokSplitRegex regex;    /* SPLIT; BYTE_LEVEL with use_regex (GPT-2's there, unless a GGUF says otherwise) */
  guint max_digits;       /* SPLIT_LLAMA3: the longest run of numbers a piece takes (3; Qwen2: 1) */
} TokPreOp;

typedef enum { DEC_REPLACE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE, DEC_WORDPIECE,
  DEC_BYTE_LEVEL } TokDecKind;
typedef struct {
  TokDecKind kind;
  char *a, *b;            /* REPLACE: pattern, content; WORDPIECE: prefix */
  gunichar ch;            /* STRIP: content; METASPACE: replacement */
  gint64 start, stop;     /* STRIP */
  TokPrependScheme scheme;/* METASPACE */
  gboolean cleanup;       /* WORDPIECE */
} TokDecOp;

typedef enum { MODEL_BPE, MODEL_WORDPIECE, MODEL_UNIGRAM } TokModelKind;

typedef struct {
  guint64 key;            /* (left id << 32) | right id; EMPTY when free */
  guint32 rank;
  gint32 new_id;
} TokMerge;

typedef struct {
  char *content;
  char *normed;           /* the normalized content when it differs (HF's normalized_cache) */
  gboolean special, normalized, lstrip, rstrip, single_word;
} TokAddedToken;

typedef struct {
  char *pat;
  gsize len;
  gint32 id;
} TokPattern;

typedef struct {
  TokPattern *pats;       /* sorted by first byte, then longest first */
  guint n;
  guint start[257];       /* pats[start[b] .. start[b + 1]) begin with byte b */
} TokMatcher;

/* A span of text: [start, end) and, where it was cut, the added token */
typedef struct {
  gsize start, end;
  gint32 id;              /* -1: not an added token */
} TokSplit;

struct _VtpTokenizer {
  char *name;
  GQuark domain;          /* of the errors it reports */

  /* model: the vocabulary both models have */
  TokModelKind model;
  GHashTable *vocab;      /* piece (owned) -> GINT_TO_POINTER (id) */
  GHashTable *vocab_r;    /* GINT_TO_POINTER (id) -> piece (borrowed from vocab) */
  guint n_vocab;
  char *unk_token;        /* NULL: none */
  char *prefix;           /* continuing_subword_prefix (NULL for BPE: none) */
  gsize prefix_len;
  /* BPE */
  TokMerge *merges;
  guint64 merges_mask;
  gint32 unk_id;          /* -1 when unk_token is not in the vocab (an error when needed) */
  gboolean fuse_unk, byte_fallback, ignore_merges;
  char *suffix;           /* end_of_word_suffix */
  gint32 byte_ids[256];   /* <0xXX> ids, -1 if absent */
  /* WordPiece */
  guint64 max_chars;      /* max_input_chars_per_word */
  gsize max_token_len;    /* bytes of the longest vocab piece */
  /* Unigram (unk_id, byte_fallback, byte_ids as BPE's) */
  double *scores;         /* per id */
  double min_score;

  /* normalizer, pre-tokenizer, decoder: flattened Sequences */
  gboolean has_normalizer;
  GArray *norm_ops;       /* TokNormOp */
  GArray *pre_ops;        /* TokPreOp; empty: the whole piece is one word */
  gboolean has_decoder;
  GArray *dec_ops;        /* TokDecOp */

  /* post-processor: the single template, special ids with -1 for $A */
  GArray *tmpl;           /* gint32; NULL: no post-processor */
  guint n_specials;       /* ids the template adds */

  /* truncation (as the file's "truncation" or the caller's max_len) */
  gint64 trunc_max;       /* 0: none */
  gboolean trunc_left;

  /* added vocabulary */
  GHashTable *added_map;  /* content (owned) -> id */
  GHashTable *added_r;    /* id -> TokAddedToken* (owned) */
  GHashTable *special_set;/* content (owned) */
  gint64 max_added_id;    /* -1: none */
  gboolean loading;       /* matchers are refreshed once, after loading */
  TokMatcher raw_m, norm_m;
};

/* An empty tokenizer of @model, errors in @domain named @name */
VtpTokenizer *tok_alloc (const char *name, GQuark domain, TokModelKind model);

/* Vocabulary (vtp-tokenizer.c) */
gboolean tok_vocab_get (const VtpTokenizer *tok, const char *piece, gint32 *id);
/* Adds a model piece; a repeated piece takes the later id unless
 * @first_wins, a repeated id the later piece */
void tok_vocab_insert (VtpTokenizer *tok, const char *piece, gsize len, gint32 id, gboolean first_wins);
/* The id of the model's unk_token, or an INPUT error */
gboolean tok_unk_id (const VtpTokenizer *tok, gint32 *id, GError **error);

/* Scratch buffers of one encode call (so that encoding is reentrant) */
typedef struct {
  GArray *syms, *heap;    /* BPE */
  GString *key;
  GString *buf[2];        /* pre-tokenizer stages */
  GArray *words[2];       /* TokWord per stage */
  GArray *splits, *splits2;
  GArray *nodes;          /* Unigram's lattice */
} TokScratch;

/* Added tokens (vtp-tok-added.c) */
gint32 tok_added_add (VtpTokenizer *tok, const char *content, gboolean special, gboolean normalized,
    gboolean lstrip, gboolean rstrip, gboolean single_word);
void tok_added_refresh (VtpTokenizer *tok);
void tok_added_find (const VtpTokenizer *tok, const TokMatcher *m, const char *s, gsize n, GArray *splits);
void tok_matcher_clear (TokMatcher *m);
void tok_added_token_free (gpointer p);

/* Normalizers (vtp-tok-normalizers.c): text with the original offset
 * (relative to the piece) of the char each byte comes from */
typedef struct {
  GString *s;
  GArray *align;          /* gsize per byte */
} TokNorm;
void tok_norm_init (TokNorm *nm, const char *s, gsize n);
void tok_norm_clear (TokNorm *nm);
void tok_normalize (const VtpTokenizer *tok, TokNorm *nm);
char *tok_normalize_string (const VtpTokenizer *tok, const char *s, gsize n);
gboolean tok_parse_normalizer (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path);
/* Precompiled (vtp-tok-precompiled.c): @op from the base64 charsmap, and
 * the normalizer applied */
gboolean tok_parse_precompiled (TokLd *ld, TokNormOp *op, JsonObject *o, const char *path);
void tok_apply_precompiled (const TokNormOp *op, TokNorm *nm);
void tok_norm_op_clear (gpointer p);

/* Pre-tokenizers (vtp-tok-pre-tokenizers.c): the words of a piece of
 * normalized text: *@words (in @sc) holds their spans of the text returned
 * (@s itself, or a buffer of @sc) */
typedef struct {
  gsize start, end;
  gboolean first;         /* starts at offset 0 of the original text */
} TokWord;
const char *tok_pre_tokenize (const VtpTokenizer *tok, TokScratch *sc, const char *s, gsize n, gboolean is_first,
    GArray **words);
gboolean tok_parse_pre_tokenizer (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path);
gboolean tok_parse_prepend_scheme (TokLd *ld, JsonObject *o, const char *path, TokPrependScheme *out);

/* Models (vtp-tok-bpe.c, vtp-tok-wordpiece.c): one word's ids appended */
gboolean tok_bpe_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out,
    GError **error);
gboolean tok_parse_bpe (TokLd *ld, VtpTokenizer *tok, JsonObject *o);
/* "vocab": {piece: id} (BPE's and WordPiece's alike) */
gboolean tok_parse_vocab (TokLd *ld, VtpTokenizer *tok, JsonObject *o);
/* One merge, @left and @right: its rank, and errors naming @what[@index] */
gboolean tok_bpe_add_merge (TokLd *ld, VtpTokenizer *tok, const char *what, guint index, const char *left,
    const char *right, guint32 rank, GString *scratch);
void tok_bpe_alloc_merges (VtpTokenizer *tok, guint n);
void tok_bpe_find_byte_pieces (VtpTokenizer *tok);
/* The sizes of BPE's scratch elements (TokScratch.syms / .heap) */
gsize tok_bpe_sym_size (void);
gsize tok_bpe_heap_item_size (void);
gboolean tok_wordpiece_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out,
    GError **error);
gboolean tok_parse_wordpiece (TokLd *ld, VtpTokenizer *tok, JsonObject *o);
gboolean tok_unigram_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out,
    GError **error);
gboolean tok_parse_unigram (TokLd *ld, VtpTokenizer *tok, JsonObject *o);
gsize tok_unigram_node_size (void);   /* of TokScratch.nodes' elements */

/* Post-processors (vtp-tok-post-processors.c) */
gboolean tok_parse_post_processor (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path);
/* Sets the template to [@cls] $A [@sep] (-1: leave that side out) */
void tok_post_set_cls_sep (VtpTokenizer *tok, gint32 cls, gint32 sep);
GArray *tok_post_process (const VtpTokenizer *tok, GArray *body);

/* Decoders (vtp-tok-decoders.c): @pieces (GString*) through the chain */
GPtrArray *tok_decode_pieces (const VtpTokenizer *tok, GPtrArray *pieces);
gboolean tok_parse_decoder (TokLd *ld, VtpTokenizer *tok, JsonNode *n, const char *path);
void tok_dec_op_clear (gpointer p);

/* The tokenizer.json loader (vtp-tok-loader.c). @want_model: -1 any, else
 * the TokModelKind the caller needs */
VtpTokenizer *tok_load_json (const char *json, gssize len, const char *name, GQuark domain, gint want_model,
    GError **error);
VtpTokenizer *tok_load_json_file (const char *path, GQuark domain, gint want_model, GError **error);

/* The whole encode: added tokens, normalizer, pre-tokenizer, model,
 * truncation (@max_len, else the file's), post-processor */
GArray *tok_encode (VtpTokenizer *tok, const char *text, gsize n, gboolean add_special, gint64 max_len,
    GError **error);

G_END_DECLS
