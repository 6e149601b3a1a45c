/* vtp-prompt.h: the text around the image: a template with {prompt} and
 * one <image> marker, tokenized as the model's processor does it. */
#pragma once
#include "vtp-tokenizer.h"

G_BEGIN_DECLS

/* LLaVA-1.5's conversation format, as llava-hf's examples use it. */
#define VTP_LLAVA_TEMPLATE "USER: <image>\n{prompt} ASSISTANT:"
#define VTP_IMAGE_MARKER "<image>"

/* LLaMA-Adapter's Alpaca instruction format (the adaption prompts carry
 * the image; the text has no marker). */
#define VTP_ALPACA_TEMPLATE "Below is an instruction that describes a task. Write a response that appropriately " \
  "completes the request.\n\n### Instruction:\n{prompt}\n\n### Response:"

/* The InstructBLIP / BLIP-2 form: the raw prompt; the queries go first. */
#define VTP_PLAIN_TEMPLATE "{prompt}"

/* Fills @template's "{prompt}" with @prompt, tokenizes it with the BOS the
 * tokenizer adds, and finds the @image_token marker; returns the ids
 * (gint32) and sets *image_pos (-1 when the template has no marker and
 * @marker_required is FALSE), or NULL and an error naming the problem.
 * @image_token -1 (a vocabulary without one) with @marker_required: the
 * text is split at the marker's text and the two sides tokenized apart (the
 * BOS on the first), with a placeholder id at *image_pos. */
GArray *vtp_prompt_encode (VtpTokenizer *tok, const char *template, const char *prompt, gint32 image_token,
    gboolean marker_required, gint *image_pos, GError **error);

/* The template (in the form above: {prompt} and <image>) of a chat
 * template's family, recognised by the turn markers its Jinja text writes
 * (GGUF's tokenizer.chat_template, tokenizer_config.json's chat_template):
 * ChatML, Llama 3, Gemma, Llama 2 / Mistral ([INST]), Vicuna (USER: /
 * ASSISTANT:, LLaVA-1.5's). The image goes first in the user's turn, as
 * the LLaVA releases of each family put it. NULL for another template (the
 * caller keeps its default); *family (if non-NULL) gets the family's name. */
const char *vtp_prompt_template_for_chat (const char *chat_template, const char **family);

/* @template for a text-only prompt: its <image> marker taken out with the
 * newline (or space) after it, so that a chat form written for a picture
 * ("USER: <image>\n{prompt} ASSISTANT:") becomes the same turn without one
 * ("USER: {prompt} ASSISTANT:"). A copy of @template when it has none. */
char *vtp_prompt_template_without_image (const char *template);

/* The text of generated @ids, as transformers' decode(skip_special_tokens=True)
 * gives it: special tokens and ids the tokenizer does not know (the padded
 * rows of a vocabulary such as LLaVA's 32064) are left out. */
char *vtp_prompt_decode_answer (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, GError **error);

G_END_DECLS
