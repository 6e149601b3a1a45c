#include "vtp-prompt.h"
#include "vtp-error.h"
#include <string.h>

/* A vocabulary without an image token: the text before the marker is
 * tokenized with the BOS, the text after it on its own, and a placeholder
 * row stands where the image goes (as llama.cpp's mtmd tokenizes the text
 * chunks around an image). */
static GArray *
encode_split (VtpTokenizer *tok, const char *text, gint *image_pos, GError **error)
{
  const char *marker = strstr (text, VTP_IMAGE_MARKER);
  g_autoptr (GArray) before = NULL, after = NULL;
  const gint32 placeholder = 0;

  if (!marker || strstr (marker + strlen (VTP_IMAGE_MARKER), VTP_IMAGE_MARKER)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, !marker
        ? "The text \"%s\" has no %s marker where the image goes"
        : "The text \"%s\" has more than one %s marker: one image per prompt", text, VTP_IMAGE_MARKER);
    return NULL;
  }
  if (!(before = vtp_tokenizer_encode_len (tok, text, marker - text, TRUE, error))
      || !(after = vtp_tokenizer_encode (tok, marker + strlen (VTP_IMAGE_MARKER), FALSE, error)))
    return NULL;
  *image_pos = (gint) before->len;
  g_array_append_val (before, placeholder);
  g_array_append_vals (before, after->data, after->len);
  return g_steal_pointer (&before);
}

static guint
count_markers (const char *s)
{
  guint n = 0;

  for (const char *p = s; (p = strstr (p, VTP_IMAGE_MARKER)); p += strlen (VTP_IMAGE_MARKER))
    n++;
  return n;
}

/* The template and the prompt each checked for what only the template may
 * hold: the placeholder, and (when the image needs one, or the template
 * has one) a single <image> marker, never one in the prompt. The errors
 * blame the one at fault and quote it. */
static gboolean
check_parts (const char *template, const char *prompt, gboolean marker_required, GError **error)
{
  guint in_template = count_markers (template), in_prompt = prompt ? count_markers (prompt) : 0;

  if (!strstr (template, "{prompt}")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt template \"%s\" has no {prompt} placeholder "
        "where the prompt goes", template);
    return FALSE;
  }
  if (in_template > 1) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt template \"%s\" has %u %s markers: one image "
        "per prompt, so one marker", template, in_template, VTP_IMAGE_MARKER);
    return FALSE;
  }
  if (marker_required && in_template == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt template \"%s\" has no %s marker: the image "
        "goes where it stands (LLaVA-1.5's template is \"USER: <image>\\n{prompt} ASSISTANT:\")", template,
        VTP_IMAGE_MARKER);
    return FALSE;
  }
  if (in_template == 1 && in_prompt > 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The prompt \"%s\" contains %s: only the template marks "
        "where the image goes (one image per prompt)", prompt, VTP_IMAGE_MARKER);
    return FALSE;
  }
  return TRUE;
}

GArray *
vtp_prompt_encode (VtpTokenizer *tok, const char *template, const char *prompt, gint32 image_token,
    gboolean marker_required, gint *image_pos, GError **error)
{
  g_autoptr (GString) text = g_string_new (template);
  g_autoptr (GArray) ids = NULL;
  gint found = 0;

  if (!check_parts (template, prompt, marker_required, error))
    return NULL;
  g_string_replace (text, "{prompt}", prompt ? prompt : "", 0);
  if (image_token < 0 && marker_required)
    return encode_split (tok, text->str, image_pos, error);
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
    /* the template's marker is there (check_parts): the tokenizer did not
     * read it as the image token, or the text made more than one */
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, found == 0
        ? "The text \"%s\" has no %s where the image goes: this model's tokenizer does not read the template's "
          "%s as its image token"
        : "The text \"%s\" reads as more than one %s: one image per prompt", text->str, VTP_IMAGE_MARKER,
        VTP_IMAGE_MARKER);
    return NULL;
  }
  return g_steal_pointer (&ids);
}

const char *
vtp_prompt_template_for_chat (const char *chat_template, const char **family)
{
  static const struct {
    const char *marker, *marker2, *family, *template;
  } families[] = {
    { "<|im_start|>", NULL, "ChatML", "<|im_start|>user\n<image>\n{prompt}<|im_end|>\n<|im_start|>assistant\n" },
    { "<|start_header_id|>", NULL, "Llama 3",
      "<|start_header_id|>user<|end_header_id|>\n\n<image>\n{prompt}<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n" },
    { "<start_of_turn>", NULL, "Gemma", "<start_of_turn>user\n<image>\n{prompt}<end_of_turn>\n<start_of_turn>model\n" },
    { "[INST]", NULL, "Llama 2 / Mistral", "[INST] <image>\n{prompt} [/INST]" },
    { "USER:", "ASSISTANT:", "Vicuna", VTP_LLAVA_TEMPLATE },
  };

  for (guint i = 0; chat_template && i < G_N_ELEMENTS (families); i++)
    if (strstr (chat_template, families[i].marker)
        && (!families[i].marker2 || strstr (chat_template, families[i].marker2))) {
      if (family)
        *family = families[i].family;
      return families[i].template;
    }
  if (family)
    *family = NULL;
  return NULL;
}

char *
vtp_prompt_template_without_image (const char *template)
{
  const char *at = template ? strstr (template, VTP_IMAGE_MARKER) : NULL;
  const char *after;
  GString *s;

  if (!at)
    return g_strdup (template);
  after = at + strlen (VTP_IMAGE_MARKER);
  if (*after == '\n' || *after == ' ')
    after++;
  s = g_string_new_len (template, at - template);
  g_string_append (s, after);
  return g_string_free (s, FALSE);
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
