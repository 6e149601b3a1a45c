/* vtp-bpe-bytes.h: byte-level BPE, the tokenizer of GPT-2 (and of OPT,
 * RoBERTa...): the text is split by GPT-2's pre-tokenizer regex, each
 * piece's UTF-8 bytes are mapped to printable characters (GPT-2's
 * bytes_to_unicode: "Ġ" is the space byte), and the pieces' characters are
 * merged by rank-ordered merges. Decoding maps the characters back to bytes.
 *
 * Built from a vocabulary and merges (GGUF's tokenizer.ggml.tokens and
 * tokenizer.ggml.merges, or, later, an HF tokenizer.json with a ByteLevel
 * pre-tokenizer). The ids are those of HF tokenizers' ByteLevel BPE
 * (add_prefix_space false) and of llama.cpp's "gpt-2" pre-tokenizer.
 *
 * Special tokens (GGUF control and user-defined tokens) are matched
 * literally in the text before pre-tokenization, as HF does with added
 * tokens. Encoding and decoding do not modify the tokenizer: they may run
 * in several threads at once. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct _VtpBpeBytes VtpBpeBytes;

typedef enum {
  VTP_BPE_PRE_GPT2,   /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
} VtpBpePre;

/* @tokens: @n_tokens pieces in byte-level form (id = index; @lengths may be
 * NULL for NUL-terminated pieces); @merges: @n_merges "left right" strings,
 * best first; @special: ids matched literally in the text (may be NULL).
 * Errors (VTP_ERROR_FORMAT) name @name_for_errors and the merge or token. */
VtpBpeBytes *vtp_bpe_bytes_new (const char *const *tokens, const gsize *lengths, gsize n_tokens,
    const char *const *merges, gsize n_merges, const gint32 *special, gsize n_special, VtpBpePre pre,
    const char *name_for_errors, GError **error);
void vtp_bpe_bytes_free (VtpBpeBytes *bpe);

/* The ids of @len bytes of @text (-1: NUL-terminated), a GArray of gint32;
 * NULL and a VTP_ERROR_INPUT error when the text is not valid UTF-8. */
GArray *vtp_bpe_bytes_encode (VtpBpeBytes *bpe, const char *text, gssize len, GError **error);
/* The text of @ids (special tokens as their text unless @skip_special);
 * bytes that do not form valid UTF-8 become U+FFFD. NULL and a
 * VTP_ERROR_INPUT error for an id outside the vocabulary. */
char *vtp_bpe_bytes_decode (VtpBpeBytes *bpe, const gint32 *ids, gsize n_ids, gboolean skip_special,
    GError **error);

gint32 vtp_bpe_bytes_token_to_id (VtpBpeBytes *bpe, const char *piece);   /* -1 if absent */
const char *vtp_bpe_bytes_id_to_token (VtpBpeBytes *bpe, gint32 id);      /* NULL if unknown */
gsize vtp_bpe_bytes_get_vocab_size (VtpBpeBytes *bpe);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpBpeBytes, vtp_bpe_bytes_free)

G_END_DECLS
