/* fuzz-tokenizer-json.c: a HF tokenizer.json (model, added tokens,
 * normalizer, pre-tokenizer, post-processor, decoder), then an encode of a
 * fixed text and a decode of its ids. */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-tokenizer.h"

/* words, a special token, bytes that need byte fallback, an emoji */
static const char text[] = "Hello world, <s>What is in the image?</s> caf\xc3\xa9 \xf0\x9f\x98\x80 \t12 34";

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_data ((const char *) data, size, "fuzz.json", &error);

  if (!tok)
    return 0;
  for (gint special = 0; special < 2; special++) {
    g_autoptr (GArray) ids = vtp_tokenizer_encode (tok, text, special, &error);
    g_autofree char *decoded = NULL;
    gsize len = 0;

    if (!ids) {
      g_clear_error (&error);
      continue;
    }
    decoded = vtp_tokenizer_decode_len (tok, (const gint32 *) ids->data, ids->len, special, &len, &error);
    g_clear_error (&error);
    for (guint i = 0; i < ids->len; i++) {
      gint32 id = g_array_index (ids, gint32, i);
      (void) vtp_tokenizer_id_to_token (tok, id);
      (void) vtp_tokenizer_is_special (tok, id);
    }
  }
  (void) vtp_tokenizer_get_bos_id (tok);
  (void) vtp_tokenizer_get_vocab_size (tok);
  return 0;
}
