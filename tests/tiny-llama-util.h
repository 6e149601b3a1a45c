/* tiny-llama-util.h: the tiny Llama of tests/fixtures/gguf-tiny opened as
 * the batched-decoding tests use it (test-batch-decode, test-batch-engine),
 * and their made-up prompts. Needs fidelity-util.h (fixture_path) and the
 * test's own `dev`. */
#pragma once
#include <string.h>
#include "vtp-parts.h"
#include "vtp-llama.h"
#include "vtp-lm.h"

typedef struct {
  VtpCheckpoint *ckpt;
  VtpModelParts parts;
  VtpLlamaNames names;
  VtpLlama *llm;
} TinyLlama;

/* @type: f32, q8_0, q4_0 (the files' types), or f16 (the F32 file loaded as F16). */
static inline void
tiny_llama_open (TinyLlama *m, VtpDevice *device, const char *type)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path ("gguf-tiny");
  const gboolean f16 = strcmp (type, "f16") == 0;
  g_autofree char *name = g_strdup_printf ("llm-%s.gguf", f16 ? "f32" : type);
  g_autofree char *path = g_build_filename (dir, name, NULL);

  m->ckpt = vtp_checkpoint_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (m->ckpt, &m->parts, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_llama_find_names (m->ckpt, &m->parts.text, &m->names, &error));
  m->llm = vtp_llama_load (m->ckpt, &m->names, &m->parts.text, NULL, device, f16 ? VTP_WEIGHTS_F16 : VTP_WEIGHTS_KEEP,
      &error);
  g_assert_no_error (error);
}

static inline void
tiny_llama_close (TinyLlama *m)
{
  vtp_llama_free (m->llm);
  vtp_model_parts_clear (&m->parts);
  vtp_checkpoint_unref (m->ckpt);
}

/* @s as a stream of @m's model: a VtpLm that frees @s with it (vtp_lm_free),
 * the model borrowed. */
static inline VtpLm *
tiny_llama_stream (TinyLlama *m, VtpLlamaState *s)
{
  VtpLm *lm = g_new (VtpLm, 1);

  vtp_lm_view_llama (lm, m->llm, s);
  lm->owns_state = TRUE;
  return lm;
}

/* Prompt @i: BOS and a few ids, a different length for each stream. */
static inline GArray *
tiny_llama_prompt (TinyLlama *m, gint i)
{
  static const gint lens[] = { 3, 11, 6, 17, 9, 2, 14, 5 };
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  const gint32 bos = 1;

  g_array_append_val (ids, bos);
  for (gint j = 0; j < lens[i % G_N_ELEMENTS (lens)]; j++) {
    gint32 id = 3 + (gint32) (((guint32) (i * 131 + j) * 2654435761u) % (guint32) (m->parts.text.vocab_size - 3));
    g_array_append_val (ids, id);
  }
  return ids;
}
