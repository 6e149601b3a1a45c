/* fuzz-prompt.c: a prompt template and a prompt (the input split at its
 * first NUL; without one, the whole input is both) tokenized as the
 * language model elements do it, with the committed llava-tiny-a
 * tokenizer: with its <image> token, and with none (the text split at the
 * marker). Then the ids decoded as an answer. */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-prompt.h"

static VtpTokenizer *
tokenizer (void)
{
  static VtpTokenizer *tok;
  static gsize inited;

  /* built once: the tokenizer is not what this target fuzzes */
  if (g_once_init_enter (&inited)) {
    g_autofree char *path = fuzz_fixture ("tests/fixtures/llava-tiny-a/tokenizer.json");
    g_autoptr (GError) error = NULL;
    if (!(tok = vtp_tokenizer_new_from_file (path, &error)))
      g_error ("%s", error->message);
    g_once_init_leave (&inited, 1);
  }
  return tok;
}

static void
encode (VtpTokenizer *tok, const char *template, const char *prompt, gint32 image_token, gboolean required)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autofree char *answer = NULL;
  gint pos = -2;

  if (!(ids = vtp_prompt_encode (tok, template, prompt, image_token, required, &pos, &error)))
    return;
  g_assert (pos >= -1 && pos < (gint) ids->len);
  answer = vtp_prompt_decode_answer (tok, (const gint32 *) ids->data, ids->len, &error);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  VtpTokenizer *tok = tokenizer ();
  g_autofree char *template = fuzz_strndup (data, size);
  const char *nul = memchr (data, 0, size);
  const char *prompt = nul ? template + (nul - (const char *) data) + 1 : template;
  gint32 image_token = vtp_tokenizer_token_to_id (tok, VTP_IMAGE_MARKER);

  encode (tok, template, prompt, image_token, TRUE);
  encode (tok, template, prompt, image_token, FALSE);
  encode (tok, template, prompt, -1, TRUE);
  return 0;
}
