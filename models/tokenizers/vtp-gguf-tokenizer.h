/* vtp-gguf-tokenizer.h: the tokenizer a GGUF file describes in its
 * tokenizer.ggml.* metadata, built into one of vtp's tokenizers:
 *
 *   "llama"  SentencePiece BPE (tokens, scores, token_type; <0xXX> byte
 *            fallback): a tokenizer.json is made in memory as transformers'
 *            GGUF converter makes it (merges derived from the scores)
 *   "gpt2"   byte-level BPE (tokens, merges; tokenizer.ggml.pre "gpt-2" or
 *            absent): the BPE model with the ByteLevel pre-tokenizer and
 *            decoder (vtp_tokenizer_new_byte_level_bpe)
 *   "bert"   WordPiece, uncased (BertNormalizer lowercase, accents
 *            stripped) from a tokenizer.json made in memory, the pieces
 *            turned back from llama.cpp's "phantom space" form ("▁the",
 *            "s") to WordPiece's ("the", "##s")
 * each one VtpTokenizer (vtp-tokenizer.h).
 *
 * Control (and unknown / user-defined) tokens are matched literally in the
 * text, as HF tokenizers does with special added tokens. The ids are those
 * of HF tokenizers (and of llama.cpp on its reference vectors). */
#pragma once
#include <glib.h>
#include "vtp-gguf.h"
#include "vtp-tokenizer.h"

G_BEGIN_DECLS

typedef enum {
  VTP_GGUF_TOKENIZER_SPM,         /* "llama" */
  VTP_GGUF_TOKENIZER_BPE_BYTES,   /* "gpt2" */
  VTP_GGUF_TOKENIZER_WORDPIECE,   /* "bert" */
} VtpGgufTokenizerKind;

typedef struct {
  VtpGgufTokenizerKind kind;
  char *model;                /* tokenizer.ggml.model */
  char *pre;                  /* tokenizer.ggml.pre; NULL when absent */
  gsize n_vocab;
  /* -1 when the file names none. For "bert", BOS is [CLS]
   * (cls_token_id) and EOS [SEP] (seperator_token_id) unless given. */
  gint32 bos_id, eos_id, unk_id, pad_id;
  /* tokenizer.ggml.add_bos_token / add_eos_token; absent: TRUE / FALSE
   * for "llama", FALSE / FALSE for "gpt2", TRUE / TRUE for "bert" */
  gboolean add_bos, add_eos;
  char *chat_template;        /* tokenizer.chat_template; NULL when absent */
  /* without BOS / EOS in its post-processor for "gpt2" and "bert";
   * "llama"'s adds them as add_bos / add_eos say */
  VtpTokenizer *tok;
} VtpGgufTokenizer;

/* Errors: VTP_ERROR_FORMAT naming the file and key for missing or
 * inconsistent metadata, VTP_ERROR_CONFIG for a tokenizer model or
 * pre-tokenizer vtp does not implement. */
VtpGgufTokenizer *vtp_gguf_tokenizer_new (VtpGguf *gguf, GError **error);
void vtp_gguf_tokenizer_free (VtpGgufTokenizer *tok);

/* The ids of @len bytes of @text (-1: NUL-terminated) as a GArray of
 * gint32; with @add_special, BOS first / EOS last as add_bos / add_eos
 * say. NULL and a VTP_ERROR_INPUT error for text that is not UTF-8. */
GArray *vtp_gguf_tokenizer_encode (VtpGgufTokenizer *tok, const char *text, gssize len, gboolean add_special,
    GError **error);
/* The text of @ids, without the control tokens when @skip_special. NULL
 * and a VTP_ERROR_INPUT error for an id outside the vocabulary. */
char *vtp_gguf_tokenizer_decode (VtpGgufTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    GError **error);
/* The vocabulary's piece of @id ("▁the", "Ġthe", "##ing"); NULL if unknown. */
const char *vtp_gguf_tokenizer_id_to_token (VtpGgufTokenizer *tok, gint32 id);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpGgufTokenizer, vtp_gguf_tokenizer_free)

G_END_DECLS
