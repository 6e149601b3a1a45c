/* test-gguf-tokenizer.c: tokenizers built from GGUF metadata
 * (models/tokenizers/vtp-gguf-tokenizer.c) against llama.cpp's reference
 * vectors: $VTP_SHARED_DIR/testdata/gguf-vocab/ggml-vocab-{llama-spm,gpt-2,
 * bert-bge}.gguf with their .inp (test strings) and .out (ids made by the
 * original HF tokenizers, without BOS/EOS). Skipped when the folder is
 * absent (default <source>/../shared). */
#include <glib.h>
#include <string.h>
#include "vtp-gguf-tokenizer.h"
#include "vtp-error.h"
#include "fixture-path.h"

#ifndef VTP_SOURCE_DIR
#define VTP_SOURCE_DIR "."
#endif

/* Where a vocabulary is: the shared test data, this repository's
 * fixtures (vocabularies made by tools/make_bpe_split_fixtures.py, ids by
 * llama.cpp), or llama.cpp's own models/ folder ($VTP_LLAMACPP_VOCAB_DIR,
 * e.g. the one bench/compare-llamacpp.sh unpacks: its Llama 3 and Qwen2
 * vocabularies are not committed here). */
typedef enum { VOCAB_SHARED, VOCAB_FIXTURE, VOCAB_LLAMACPP } VocabPlace;

static char *
vocab_path (const char *name, VocabPlace place)
{
  const char *shared = g_getenv ("VTP_SHARED_DIR"), *llamacpp = g_getenv ("VTP_LLAMACPP_VOCAB_DIR");
  g_autofree char *def = g_build_filename (VTP_SOURCE_DIR, "..", "shared", NULL);
  g_autofree char *file = g_strdup_printf ("ggml-vocab-%s.gguf", name);
  g_autofree char *fixture = NULL;

  switch (place) {
    case VOCAB_SHARED:
      return g_build_filename (shared ? shared : def, "testdata", "gguf-vocab", file, NULL);
    case VOCAB_FIXTURE:
      fixture = g_build_filename ("gguf-vocab", file, NULL);
      return fixture_path (fixture);
    case VOCAB_LLAMACPP:
      return llamacpp ? g_build_filename (llamacpp, file, NULL) : NULL;
  }
  return NULL;
}

/* The .inp strings as llama.cpp's test-tokenizer-0 reads them: split at
 * "\n__ggml_vocab_test__\n"; the text after the last separator is a test
 * only when it is not empty (the file ends with a separator, so there is
 * no such test). */
static GPtrArray *
read_inputs (const char *path)
{
  static const char sep[] = "\n__ggml_vocab_test__\n";
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize len, pos = 0;
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  if (!g_file_get_contents (path, &data, &len, &error))
    g_error ("cannot read %s: %s", path, error->message);
  while (pos < len) {
    const char *next = g_strstr_len (data + pos, len - pos, sep);
    gsize end = next ? (gsize) (next - data) : len;
    g_ptr_array_add (out, g_strndup (data + pos, end - pos));
    if (!next)
      break;
    pos = end + strlen (sep);
  }
  return out;
}

/* One GArray of gint32 per .out line (numbers separated by spaces). */
static GPtrArray *
read_outputs (const char *path)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);

  if (!g_file_get_contents (path, &data, NULL, &error))
    g_error ("cannot read %s: %s", path, error->message);
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto (GStrv) words = NULL;
    GArray *ids;
    if (!lines[i + 1] && !lines[i][0])
      break;      /* after the last newline */
    ids = g_array_new (FALSE, FALSE, sizeof (gint32));
    words = g_strsplit (g_strstrip (lines[i]), " ", -1);
    for (guint k = 0; words[k]; k++)
      if (words[k][0]) {
        gint32 id = (gint32) g_ascii_strtoll (words[k], NULL, 10);
        g_array_append_val (ids, id);
      }
    g_ptr_array_add (out, ids);
  }
  return out;
}

static char *
ids_to_string (const gint32 *ids, gsize n)
{
  GString *s = g_string_new ("[");
  for (gsize i = 0; i < n; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", ids[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

typedef struct {
  const char *name;
  VocabPlace place;
  gboolean round_trips;     /* whether decode(encode(s)) == s for every string */
  gint32 bos, eos, unk, pad;
  gboolean add_bos, add_eos, has_template;
} Case;

static const Case cases[] = {
  { "llama-spm", VOCAB_SHARED, TRUE, 1, 2, 0, -1, TRUE, FALSE, FALSE },
  { "gpt-2", VOCAB_SHARED, TRUE, 50256, 50256, -1, -1, FALSE, FALSE, FALSE },
  { "bert-bge", VOCAB_SHARED, FALSE, 101, 102, 100, 0, TRUE, TRUE, FALSE },
  { "llama-bpe", VOCAB_LLAMACPP, TRUE, 128000, 128001, -1, -1, TRUE, FALSE, FALSE },
  { "qwen2", VOCAB_LLAMACPP, TRUE, 151643, 151643, -1, 151643, FALSE, FALSE, TRUE },
  { "llama3-mini", VOCAB_FIXTURE, TRUE, 0, 1, -1, -1, TRUE, FALSE, FALSE },
  { "qwen2-mini", VOCAB_FIXTURE, TRUE, 0, 0, -1, -1, FALSE, FALSE, FALSE },
};

static void
test_reference (gconstpointer data)
{
  const Case *c = data;
  g_autofree char *path = vocab_path (c->name, c->place);
  g_autofree char *inp_path = NULL;
  g_autofree char *out_path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGguf) g = NULL;
  g_autoptr (VtpGgufTokenizer) tok = NULL;
  g_autoptr (GPtrArray) inputs = NULL;
  g_autoptr (GPtrArray) outputs = NULL;
  g_autofree char *first_diff = NULL;
  guint same = 0, round_trips = 0;
  gint64 t0;

  if (!path || !g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_autofree char *msg = c->place == VOCAB_LLAMACPP ? g_strdup_printf ("ggml-vocab-%s.gguf: set "
        "VTP_LLAMACPP_VOCAB_DIR to llama.cpp's models/ folder to compare with it", c->name)
        : g_strdup_printf ("%s is absent (set VTP_SHARED_DIR to the folder holding testdata/gguf-vocab/)", path);
    g_test_skip (msg);
    return;
  }
  inp_path = g_strconcat (path, ".inp", NULL);
  out_path = g_strconcat (path, ".out", NULL);
  t0 = g_get_monotonic_time ();
  g = vtp_gguf_open (path, &error);
  g_assert_no_error (error);
  tok = vtp_gguf_tokenizer_new (g, &error);
  g_assert_no_error (error);
  g_print ("# %s: loaded in %.1f ms\n", c->name, (g_get_monotonic_time () - t0) / 1000.0);

  g_assert_cmpint (tok->bos_id, ==, c->bos);
  g_assert_cmpint (tok->eos_id, ==, c->eos);
  g_assert_cmpint (tok->unk_id, ==, c->unk);
  g_assert_cmpint (tok->pad_id, ==, c->pad);
  g_assert_cmpint (tok->add_bos, ==, c->add_bos);
  g_assert_cmpint (tok->add_eos, ==, c->add_eos);
  g_assert_true ((tok->chat_template != NULL) == c->has_template);

  inputs = read_inputs (inp_path);
  outputs = read_outputs (out_path);
  g_assert_cmpuint (inputs->len, ==, outputs->len);
  for (guint i = 0; i < inputs->len; i++) {
    const char *text = inputs->pdata[i];
    GArray *want = outputs->pdata[i];
    g_autoptr (GArray) ids = vtp_gguf_tokenizer_encode (tok, text, -1, FALSE, &error);
    g_autoptr (GArray) with_special = vtp_gguf_tokenizer_encode (tok, text, -1, TRUE, &error);
    g_autofree char *dec = NULL;
    g_assert_no_error (error);
    if (ids->len == want->len && (ids->len == 0 || memcmp (ids->data, want->data, ids->len * sizeof (gint32)) == 0))
      same++;
    else if (!first_diff) {
      g_autofree char *e = ids_to_string ((gint32 *) want->data, want->len);
      g_autofree char *a = ids_to_string ((gint32 *) ids->data, ids->len);
      first_diff = g_strdup_printf ("%s: string %u \"%s\": expected %s, got %s", c->name, i, text, e, a);
    }
    /* BOS / EOS around the same ids */
    g_assert_cmpuint (with_special->len, ==, ids->len + c->add_bos + c->add_eos);
    if (c->add_bos)
      g_assert_cmpint (g_array_index (with_special, gint32, 0), ==, c->bos);
    if (c->add_eos)
      g_assert_cmpint (g_array_index (with_special, gint32, with_special->len - 1), ==, c->eos);
    /* the VtpTokenizer alone (what vtp_model_tokenizer_new hands the
     * language model) adds the same through its post-processor */
    {
      g_autoptr (GArray) alone = vtp_tokenizer_encode (tok->tok, text, TRUE, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (alone->len, ==, with_special->len);
      g_assert_cmpmem (alone->data, alone->len * sizeof (gint32), with_special->data,
          with_special->len * sizeof (gint32));
    }

    dec = vtp_gguf_tokenizer_decode (tok, (gint32 *) ids->data, ids->len, FALSE, &error);
    g_assert_no_error (error);
    if (g_strcmp0 (dec, text) == 0)
      round_trips++;
    else if (c->round_trips)
      g_error ("%s: string %u \"%s\" decodes back to \"%s\"", c->name, i, text, dec);
  }
  g_print ("%s: %u/%u identical\n", c->name, same, inputs->len);
  g_print ("# %s: %u/%u round-trip through decode\n", c->name, round_trips, inputs->len);
  if (first_diff)
    g_error ("%s", first_diff);

  /* The whole .inp file as one text, and against Llama-2's tokenizer.json
   * (made from this GGUF by transformers' converter) when it is there:
   * the same merges give the same ids on any text. */
  if (tok->kind == VTP_GGUF_TOKENIZER_SPM) {
    const char *shared = g_getenv ("VTP_SHARED_DIR");
    g_autofree char *def = g_build_filename (VTP_SOURCE_DIR, "..", "shared", NULL);
    g_autofree char *json = g_build_filename (shared ? shared : def, "testdata", "tokenizers", "llama2-7b",
        "tokenizer.json", NULL);
    g_autofree char *all = NULL;
    g_autoptr (VtpTokenizer) hf = NULL;
    g_autoptr (GArray) a = NULL;
    g_autoptr (GArray) b = NULL;
    g_assert_true (g_file_get_contents (inp_path, &all, NULL, NULL));
    if (g_file_test (json, G_FILE_TEST_EXISTS)) {
      hf = vtp_tokenizer_new_from_file (json, &error);
      g_assert_no_error (error);
      a = vtp_gguf_tokenizer_encode (tok, all, -1, FALSE, &error);
      b = vtp_tokenizer_encode (hf, all, FALSE, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (a->len, ==, b->len);
      g_assert_cmpmem (a->data, a->len * sizeof (gint32), b->data, b->len * sizeof (gint32));
      g_print ("# %s: the whole .inp (%u ids) as llama2-7b/tokenizer.json encodes it\n", c->name, a->len);
    }
  }

  /* The fixtures' tokenizer.json (a Split pre-tokenizer with the same
   * regex, then ByteLevel): the same ids, as HF tokenizers gives them
   * (tools/make_bpe_split_fixtures.py checked that it does) */
  if (c->place == VOCAB_FIXTURE) {
    g_autofree char *json_name = g_strdup_printf ("gguf-vocab/%s.tokenizer.json", c->name);
    g_autofree char *json = fixture_path (json_name);
    g_autoptr (VtpTokenizer) hf = vtp_tokenizer_new_from_file (json, &error);
    g_assert_no_error (error);
    for (guint i = 0; i < inputs->len; i++) {
      GArray *want = outputs->pdata[i];
      g_autoptr (GArray) ids = vtp_tokenizer_encode (hf, inputs->pdata[i], FALSE, &error);
      g_assert_no_error (error);
      g_assert_cmpmem (ids->data, ids->len * sizeof (gint32), want->data, want->len * sizeof (gint32));
    }
    g_print ("# %s: %s gives the same %u id lists\n", c->name, json_name, inputs->len);
  }

  /* decode errors and special tokens */
  {
    gint32 bad = (gint32) tok->n_vocab;
    gint32 two[2] = { c->bos, c->eos };
    g_autofree char *skipped = vtp_gguf_tokenizer_decode (tok, two, 2, TRUE, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (skipped, ==, "");
    g_assert_null (vtp_gguf_tokenizer_decode (tok, &bad, 1, FALSE, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_clear_error (&error);
    g_assert_null (vtp_gguf_tokenizer_encode (tok, "\xff", -1, FALSE, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_clear_error (&error);
    g_assert_nonnull (vtp_gguf_tokenizer_id_to_token (tok, 0));
    g_assert_null (vtp_gguf_tokenizer_id_to_token (tok, bad));
  }
}

/* A GGUF without tokenizer metadata: a clear error, no tokenizer. */
static void
test_no_tokenizer (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_path ("gguf/small.gguf");
  g_autoptr (VtpGguf) g = vtp_gguf_open (path, &error);
  g_assert_no_error (error);
  g_assert_null (vtp_gguf_tokenizer_new (g, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "tokenizer.ggml.model"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *name = g_strdup_printf ("/gguf-tokenizer/%s", cases[i].name);
    g_test_add_data_func (name, &cases[i], test_reference);
  }
  g_test_add_func ("/gguf-tokenizer/no-tokenizer", test_no_tokenizer);
  return g_test_run ();
}
