#include "vtp-prompt.h"
#include "vtp-error.h"
#include <string.h>

GArray *
vtp_prompt_encode (VtpTokenizer *tok, const char *template, const char *prompt, gint32 image_token,
    gboolean marker_required, gint *image_pos, GError **error)
{
  g_autoptr (GString) text = g_string_new (template);
  g_autoptr (GArray) ids = NULL;
  gint found = 0;

  if (!strstr (template, "{prompt}")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt template \"%s\" has no {prompt} placeholder",
        template);
    return NULL;
  }
  g_string_replace (text, "{prompt}", prompt ? prompt : "", 0);
  if (!(ids = vtp_tokenizer_encode (tok, text->str, TRUE, error)))
    return NULL;
  *image_pos = -1;
  for (guint i = 0; i < ids->len; i++)
    if (g_array_index (ids, gint32, i) == image_token) {
      if (found++ == 0)
        *image_pos = i;
    }
  if (found == 0 && !marker_required)
    return g_steal_pointer (&ids);
  if (found != 1) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, found == 0
        ? "The prompt \"%s\" has no %s marker (token %d) where the image goes"
        : "The prompt \"%s\" has more than one %s marker (token %d): one image per prompt",
        text->str, VTP_IMAGE_MARKER, image_token);
    return NULL;
  }
  return g_steal_pointer (&ids);
}

char *
vtp_prompt_decode_answer (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, GError **error)
{
  g_autoptr (GArray) known = g_array_sized_new (FALSE, FALSE, sizeof (gint32), n_ids);

  for (gsize i = 0; i < n_ids; i++)
    if (vtp_tokenizer_id_to_token (tok, ids[i]))
      g_array_append_val (known, ids[i]);
  return vtp_tokenizer_decode (tok, (const gint32 *) known->data, known->len, TRUE, error);
}
