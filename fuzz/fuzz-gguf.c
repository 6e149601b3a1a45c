/* fuzz-gguf.c: a GGUF file (header, metadata, tensor table), then what vtp
 * builds from one without touching a device: the tokenizer of its
 * tokenizer.ggml.* metadata (encode and decode of a fixed text), the
 * mmproj readers, the checkpoint view with its synthesized config.json,
 * and that config read as vtp_model_parts_read reads it. */
#include <string.h>
#include "fuzz-target.h"
#include "fuzz-checkpoint.h"
#include "vtp-gguf.h"
#include "vtp-gguf-tokenizer.h"
#include "vtp-gguf-checkpoint.h"
#include "vtp-gguf-mmproj.h"
#include "vtp-parts.h"

static const char text[] = "Hello world! <s>What is in the image?</s> caf\xc3\xa9 \xf0\x9f\x98\x80 12";

/* every getter on every key, as the readers ask for them */
static void
read_metadata (VtpGguf *g)
{
  for (guint i = 0; i < g->kvs->len; i++) {
    const VtpGgufKv *kv = g_ptr_array_index (g->kvs, i);
    g_autofree gint32 *ints = NULL;
    g_autofree gfloat *floats = NULL;
    guint32 u32;
    gint64 i64;
    gfloat f;
    gboolean b;
    gsize n;

    vtp_gguf_get_u32 (g, kv->key, &u32, NULL);
    vtp_gguf_get_i64 (g, kv->key, &i64, NULL);
    vtp_gguf_get_f32 (g, kv->key, &f, NULL);
    vtp_gguf_get_bool (g, kv->key, &b, NULL);
    (void) vtp_gguf_get_string (g, kv->key, NULL);
    (void) vtp_gguf_get_string_array (g, kv->key, &n, NULL, NULL);
    ints = vtp_gguf_get_i32_array (g, kv->key, &n, NULL);
    floats = vtp_gguf_get_f32_array (g, kv->key, &n, NULL);
  }
  for (guint i = 0; i < vtp_gguf_n_tensors (g); i++)
    g_assert (vtp_gguf_find_tensor (g, vtp_gguf_tensor (g, i)->name) == vtp_gguf_tensor (g, i));
}

static void
tokenize (VtpGguf *g)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGgufTokenizer) tok = vtp_gguf_tokenizer_new (g, &error);
  g_autoptr (GArray) ids = NULL;
  g_autofree char *decoded = NULL;

  if (!tok)
    return;
  if (!(ids = vtp_gguf_tokenizer_encode (tok, text, -1, TRUE, &error)))
    return;
  decoded = vtp_gguf_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len, TRUE, &error);
  g_clear_error (&error);
  for (guint i = 0; i < ids->len; i++)
    (void) vtp_gguf_tokenizer_id_to_token (tok, g_array_index (ids, gint32, i));
}

static void
as_checkpoint (VtpGguf *g)
{
  g_autoptr (GError) error = NULL;
  VtpCheckpoint *c = fuzz_checkpoint_new ();
  const char *arch = vtp_gguf_get_string (g, "general.architecture", NULL);
  VtpModelParts parts;

  /* the checkpoint owns the file from here */
  if (!g_strcmp0 (arch, "clip"))
    c->gguf_vision = g;
  else
    c->gguf = g;
  if (vtp_gguf_checkpoint_fill_opened (c, &error)) {
    if (vtp_model_parts_read (c, &parts, &error)) {
      g_autoptr (VtpTokenizer) tok = vtp_model_tokenizer_new (c, &error);
      (void) tok;
      g_clear_error (&error);
    }
    vtp_model_parts_clear (&parts);
  }
  vtp_checkpoint_unref (c);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  VtpGguf *g = vtp_gguf_new_from_bytes (bytes, "fuzz.gguf", &error);
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonParser) pre = NULL;
  const char *fc1 = NULL;
  gint64 width = 0;

  if (!g)
    return 0;
  read_metadata (g);
  tokenize (g);
  if (vtp_gguf_mmproj_fc1_name (g, &fc1, NULL)) {
    json_builder_begin_object (b);
    vtp_gguf_mmproj_config (g, b, &width, NULL);
    pre = vtp_gguf_mmproj_preprocessor (g, NULL);
  }
  as_checkpoint (g);
  return 0;
}
