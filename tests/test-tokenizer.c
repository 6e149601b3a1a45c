/* test-tokenizer.c: vtp's tokenizer (models/tokenizers/vtp-tokenizer.c) against the ids
 * and strings of HuggingFace `tokenizers`, written by
 * tools/make_tokenizer_fixtures.py into tests/fixtures/tokenizer/:
 *   - small trained tokenizers (committed, always run): legacy Llama layout,
 *     non-legacy Metaspace, and a variant with unusual flags;
 *   - the real Llama-2 tokenizer.json from $VTP_SHARED_DIR (default
 *     <source>/../shared), skipped when absent: every corpus string's ids with
 *     and without <image> as an added special token, and the decodes;
 *   - error cases, malformed files and random input (no crash, clear errors);
 *   - a timing print (load, encode throughput). */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vtp-tokenizer.h"
#include "tokenizer-test-util.h"
#include "vtp-checkpoint.h"
#include "vtp-parts.h"

#ifndef VTP_SOURCE_DIR
#define VTP_SOURCE_DIR "."
#endif

/* ------------------------------------------------------------------------ */
/* Fixture access */

static char *
fixture_dir (void)
{
  const char *root = g_getenv ("VTP_FIXTURES_DIR");
  if (root)
    return g_build_filename (root, "tokenizer", NULL);
  return g_build_filename (VTP_SOURCE_DIR, "tests", "fixtures", "tokenizer", NULL);
}

static char *
fixture_file (const char *a, const char *b)
{
  g_autofree char *dir = fixture_dir ();
  return g_build_filename (dir, a, b, NULL);
}

static char *
llama2_path (void)
{
  const char *shared = g_getenv ("VTP_SHARED_DIR");
  g_autofree char *def = g_build_filename (VTP_SOURCE_DIR, "..", "shared", NULL);
  return g_build_filename (shared ? shared : def, "testdata", "tokenizers", "llama2-7b", "tokenizer.json", NULL);
}

static GPtrArray *
load_jsonl (const char *path)
{
  return read_jsonl (path, "tools/make_tokenizer_fixtures.py");
}

static JsonObject *
load_json_object (const char *path, JsonParser **keep)
{
  g_autoptr (GError) error = NULL;
  *keep = json_parser_new ();
  if (!json_parser_load_from_file (*keep, path, &error))
    g_error ("cannot read fixture %s: %s", path, error->message);
  return json_node_get_object (json_parser_get_root (*keep));
}

static const char *
opt_string (JsonObject *o, const char *key, const char *dflt)
{
  return json_object_has_member (o, key) ? json_object_get_string_member (o, key) : dflt;
}

static GArray *
encode_ok (VtpTokenizer *tok, const char *text, gboolean add_special)
{
  g_autoptr (GError) error = NULL;
  GArray *ids = vtp_tokenizer_encode (tok, text, add_special, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ids);
  return ids;
}

static char *
decode_ok (VtpTokenizer *tok, const GArray *ids, gboolean skip)
{
  g_autoptr (GError) error = NULL;
  char *s = vtp_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len, skip, &error);
  g_assert_no_error (error);
  return s;
}

static void
check_decode_cases (VtpTokenizer *tok, const char *path, Tally *t)
{
  g_autoptr (GPtrArray) rows = load_jsonl (path);
  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    g_autoptr (GArray) ids = json_ids (r, "ids");
    g_autofree char *ctx = ids_str (ids);
    g_autofree char *d = decode_ok (tok, ids, FALSE);
    g_autofree char *ds = decode_ok (tok, ids, TRUE);
    report_str (t, "decode", ctx, json_object_get_string_member (r, "dec"), d);
    report_str (t, "decode(skip_special)", ctx, json_object_get_string_member (r, "dec_skip"), ds);
  }
}

/* ------------------------------------------------------------------------ */
/* Small trained tokenizers: always present */

static void
test_small (gconstpointer data)
{
  const char *name = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *tok_path = fixture_file (name, "tokenizer.json");
  g_autofree char *exp_path = fixture_file (name, "expected.jsonl");
  g_autofree char *dec_path = fixture_file (name, "decode.jsonl");
  g_autofree char *meta_path = fixture_file (name, "meta.json");
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_file (tok_path, &error);
  g_autoptr (JsonParser) mp = NULL;
  JsonObject *meta = load_json_object (meta_path, &mp);
  g_autoptr (GPtrArray) rows = load_jsonl (exp_path);
  Tally te = { name, 0, 0 }, td = { name, 0, 0 };
  JsonObject *ids_o;
  JsonObjectIter it;
  const char *key;
  JsonNode *val;

  g_assert_no_error (error);
  g_assert_nonnull (tok);
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (tok), ==, json_object_get_int_member (meta, "vocab_size"));
  g_assert_cmpint (vtp_tokenizer_get_bos_id (tok), ==, json_object_get_int_member (meta, "bos_id"));
  ids_o = json_object_get_object_member (meta, "token_ids");
  json_object_iter_init (&it, ids_o);
  while (json_object_iter_next (&it, &key, &val))
    g_assert_cmpint (vtp_tokenizer_token_to_id (tok, key), ==, json_node_get_int (val));
  g_assert_cmpuint (rows->len, ==, json_object_get_int_member (meta, "n_expected"));
  g_assert_cmpuint (rows->len, >=, 300);

  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    const char *text = json_object_get_string_member (r, "text");
    g_autoptr (GArray) want = json_ids (r, "ids");
    g_autoptr (GArray) want_ns = json_ids (r, "ids_nospecial");
    g_autoptr (GArray) got = encode_ok (tok, text, TRUE);
    g_autoptr (GArray) got_ns = encode_ok (tok, text, FALSE);
    g_autofree char *d = decode_ok (tok, want, FALSE);
    g_autofree char *ds = decode_ok (tok, want, TRUE);
    report_ids (&te, "encode", text, want, got);
    report_ids (&te, "encode(add_special_tokens=False)", text, want_ns, got_ns);
    /* a decode left out is the text itself (the bytelevel-* fixtures) */
    report_str (&td, "decode", text, json_object_get_string_member_with_default (r, "dec", text), d);
    report_str (&td, "decode(skip_special)", text, json_object_get_string_member_with_default (r, "dec_skip", text),
        ds);
  }
  check_decode_cases (tok, dec_path, &td);
  g_print ("# %s: %u/%u encodes, %u/%u decodes identical to HF\n", name, te.checked - te.failed, te.checked,
      td.checked - td.failed, td.checked);
  g_assert_cmpuint (te.failed, ==, 0);
  g_assert_cmpuint (td.failed, ==, 0);
}

/* What the language-model elements get for a checkpoint folder holding a
 * tokenizer.json: vtp_model_tokenizer_new on a folder of blip2-tiny's
 * config and weights with a fixture's tokenizer.json, encoding as HF does */
typedef struct {
  const char *fixture, *model_type;
  gint32 bos, eos;
} ModelDirCase;

static void
test_model_dir (gconstpointer data)
{
  const ModelDirCase *mc = data;
  static const char *const files[] = { "config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors" };
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp = g_dir_make_tmp ("vtp-tokdir-XXXXXX", &error);
  g_autofree char *src_dir = g_build_filename (VTP_SOURCE_DIR, "tests", "fixtures", "blip2-tiny", NULL);
  g_autofree char *tok_src = fixture_file (mc->fixture, "tokenizer.json");
  g_autofree char *tok_dst = g_build_filename (tmp, "tokenizer.json", NULL);
  g_autofree char *exp_path = fixture_file (mc->fixture, "expected.jsonl");
  g_autofree char *data_ = NULL;
  g_autoptr (GPtrArray) rows = load_jsonl (exp_path);
  VtpCheckpoint *c;
  VtpTokenizer *tok;
  gsize len;

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *src = g_build_filename (src_dir, files[i], NULL);
    g_autofree char *dst = g_build_filename (tmp, files[i], NULL);
    g_autofree char *abs = g_canonicalize_filename (src, NULL);
    g_assert_cmpint (symlink (abs, dst), ==, 0);
  }
  g_assert_true (g_file_get_contents (tok_src, &data_, &len, &error));
  g_assert_true (g_file_set_contents (tok_dst, data_, len, &error));
  c = vtp_checkpoint_open (tmp, &error);
  g_assert_no_error (error);
  tok = vtp_model_tokenizer_new (c, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vtp_tokenizer_get_model_type (tok), ==, mc->model_type);
  g_assert_cmpint (vtp_tokenizer_get_bos_id (tok), ==, mc->bos);
  g_assert_cmpint (vtp_tokenizer_get_eos_id (tok), ==, mc->eos);
  for (guint i = 0; i < MIN (rows->len, 300); i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    g_autoptr (GArray) want = json_ids (r, "ids");
    g_autoptr (GArray) got = encode_ok (tok, json_object_get_string_member (r, "text"), TRUE);
    g_assert_true (ids_equal (want, got));
  }
  vtp_tokenizer_free (tok);
  vtp_checkpoint_unref (c);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *dst = g_build_filename (tmp, files[i], NULL);
    g_unlink (dst);
  }
  g_unlink (tok_dst);
  g_rmdir (tmp);
}

/* T5's tokenizer (flan-t5's layout): </s> appended, no BOS, the sentinels
 * special, <pad> / </s> / <unk> at 0 / 1 / 2 */
static void
test_unigram_api (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_file ("unigram-flan-t5", "tokenizer.json");
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_file (path, &error);
  g_autoptr (GArray) ids = NULL;
  gint32 x0, x99;
  char *s;

  g_assert_no_error (error);
  g_assert_cmpstr (vtp_tokenizer_get_model_type (tok), ==, "Unigram");
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<pad>"), ==, 0);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "</s>"), ==, 1);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<unk>"), ==, 2);
  g_assert_cmpint (vtp_tokenizer_get_bos_id (tok), ==, -1);
  g_assert_cmpint (vtp_tokenizer_get_eos_id (tok), ==, 1);
  x0 = vtp_tokenizer_token_to_id (tok, "<extra_id_0>");
  x99 = vtp_tokenizer_token_to_id (tok, "<extra_id_99>");
  /* the sentinels close the vocabulary, <extra_id_99> first */
  g_assert_cmpint (x99, >, 1000);
  g_assert_cmpint (x0, ==, x99 + 99);
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (tok), ==, (gsize) x0 + 1);
  g_assert_true (vtp_tokenizer_is_special (tok, x0));
  g_assert_true (vtp_tokenizer_is_special (tok, 1));

  ids = vtp_tokenizer_encode (tok, "", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 1);
  g_clear_pointer (&ids, g_array_unref);
  ids = vtp_tokenizer_encode (tok, "a <extra_id_0> b", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_array_index (ids, gint32, ids->len - 1), ==, 1);
  {
    guint n_x0 = 0;
    for (guint i = 0; i < ids->len; i++)
      n_x0 += g_array_index (ids, gint32, i) == x0;
    g_assert_cmpuint (n_x0, ==, 1);
  }
  s = vtp_tokenizer_decode (tok, (const gint32 *) ids->data, ids->len, TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "a b");
  g_free (s);
}

/* ------------------------------------------------------------------------ */
/* The real Llama-2 tokenizer (skipped when absent) */

static VtpTokenizer *
llama2_or_skip (JsonParser **meta_parser, JsonObject **meta)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = llama2_path ();
  g_autofree char *meta_path = fixture_file ("llama2-meta.json", NULL);
  g_autofree char *data = NULL;
  g_autofree char *sha = NULL;
  gsize len;
  VtpTokenizer *tok;

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    g_autofree char *msg = g_strdup_printf ("%s is absent (set VTP_SHARED_DIR to the folder holding "
        "testdata/tokenizers/llama2-7b/tokenizer.json)", path);
    g_test_skip (msg);
    return NULL;
  }
  *meta = load_json_object (meta_path, meta_parser);
  g_assert_true (g_file_get_contents (path, &data, &len, &error));
  sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, len);
  if (g_strcmp0 (sha, json_object_get_string_member (*meta, "tokenizer_json_sha256")) != 0)
    g_error ("%s (sha256 %s) is not the file the fixtures were made from (sha256 %s); rerun "
        "tools/make_tokenizer_fixtures.py", path, sha, json_object_get_string_member (*meta, "tokenizer_json_sha256"));
  tok = vtp_tokenizer_new_from_data (data, len, path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (tok);
  return tok;
}

static void
test_llama2_corpus (void)
{
  g_autoptr (JsonParser) mp = NULL;
  JsonObject *meta = NULL;
  g_autoptr (VtpTokenizer) base = llama2_or_skip (&mp, &meta);
  g_autoptr (VtpTokenizer) img = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = llama2_path ();
  g_autofree char *corpus_path = fixture_file ("corpus.jsonl", NULL);
  g_autofree char *exp_path = fixture_file ("llama2-expected.jsonl", NULL);
  g_autofree char *dec_path = fixture_file ("llama2-decode.jsonl", NULL);
  g_autoptr (GPtrArray) corpus = NULL;
  g_autoptr (GPtrArray) rows = NULL;
  Tally te = { "llama2", 0, 0 }, td = { "llama2", 0, 0 };
  guint n_image = 0;

  if (!base)
    return;
  img = vtp_tokenizer_new_from_file (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (base), ==, json_object_get_int_member (meta, "vocab_size"));
  g_assert_cmpint (vtp_tokenizer_add_token (img, "<image>", TRUE), ==, json_object_get_int_member (meta, "image_id"));
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (img), ==, json_object_get_int_member (meta, "vocab_size_image"));
  g_assert_cmpint (vtp_tokenizer_get_bos_id (base), ==, json_object_get_int_member (meta, "bos_id"));

  corpus = load_jsonl (corpus_path);
  rows = load_jsonl (exp_path);
  g_assert_cmpuint (corpus->len, ==, rows->len);
  g_assert_cmpuint (corpus->len, >=, 2000);
  for (guint i = 0; i < rows->len; i++) {
    const char *text = json_object_get_string_member (json_node_get_object (corpus->pdata[i]), "text");
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    g_autoptr (GArray) want = json_ids (r, "ids");
    g_autoptr (GArray) want_i = json_object_has_member (r, "ids_image") ? json_ids (r, "ids_image") : NULL;
    g_autoptr (GArray) got = encode_ok (base, text, TRUE);
    g_autoptr (GArray) got_i = encode_ok (img, text, TRUE);
    g_autofree char *d = decode_ok (base, want, FALSE);
    g_autofree char *ds = decode_ok (base, want, TRUE);
    const char *dec = json_object_get_string_member (r, "dec");
    const char *dec_skip = opt_string (r, "dec_skip", text);

    report_ids (&te, "encode", text, want, got);
    report_str (&td, "decode", text, dec, d);
    report_str (&td, "decode(skip_special)", text, dec_skip, ds);
    report_ids (&te, "encode with <image>", text, want_i ? want_i : want, got_i);
    if (want_i) {
      g_autofree char *di = decode_ok (img, want_i, FALSE);
      g_autofree char *dis = decode_ok (img, want_i, TRUE);
      n_image++;
      report_str (&td, "decode with <image>", text, json_object_get_string_member (r, "dec_image"), di);
      report_str (&td, "decode(skip_special) with <image>", text,
          json_object_get_string_member (r, "dec_image_skip"), dis);
    }
  }
  check_decode_cases (img, dec_path, &td);
  g_print ("# llama2: %u corpus strings (%u change with <image>): %u/%u encodes, %u/%u decodes identical to HF\n",
      rows->len, n_image, te.checked - te.failed, te.checked, td.checked - td.failed, td.checked);
  g_assert_cmpuint (te.failed, ==, 0);
  g_assert_cmpuint (td.failed, ==, 0);
}

static void
test_llama2_api (void)
{
  g_autoptr (JsonParser) mp = NULL;
  JsonObject *meta = NULL;
  g_autoptr (VtpTokenizer) tok = llama2_or_skip (&mp, &meta);
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = NULL;
  gint32 the;

  if (!tok)
    return;
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<unk>"), ==, 0);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<s>"), ==, 1);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "</s>"), ==, 2);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<0x0A>"), ==, 13);
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, "<image>"), ==, -1);
  g_assert_cmpstr (vtp_tokenizer_id_to_token (tok, 1), ==, "<s>");
  g_assert_cmpstr (vtp_tokenizer_id_to_token (tok, 31999), !=, NULL);
  g_assert_null (vtp_tokenizer_id_to_token (tok, 32000));
  g_assert_null (vtp_tokenizer_id_to_token (tok, -1));
  g_assert_true (vtp_tokenizer_is_special (tok, 1));
  g_assert_true (vtp_tokenizer_is_special (tok, 2));
  g_assert_false (vtp_tokenizer_is_special (tok, 13));
  g_assert_false (vtp_tokenizer_is_special (tok, 40000));

  /* the real Llama-2 vocabulary (Mistral's, once at testdata/tokenizers/llama2,
   * has "▁the" 272 and ":" 28747) */
  g_assert_cmpint (vtp_tokenizer_token_to_id (tok, ":"), ==, 29901);
  ids = vtp_tokenizer_encode (tok, "Hello world", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (g_array_index (ids, gint32, 1), ==, 15043);
  g_assert_cmpint (g_array_index (ids, gint32, 2), ==, 3186);
  g_clear_pointer (&ids, g_array_unref);
  /* a piece already in the vocab keeps its id; the vocab does not grow */
  the = vtp_tokenizer_token_to_id (tok, "▁the");
  g_assert_cmpint (the, ==, 278);
  g_assert_cmpint (vtp_tokenizer_add_token (tok, "▁the", FALSE), ==, the);
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (tok), ==, 32000);
  /* new tokens get the next ids; re-adding is a no-op */
  g_assert_cmpint (vtp_tokenizer_add_token (tok, "<image>", TRUE), ==, 32000);
  g_assert_cmpint (vtp_tokenizer_add_token (tok, "<image>", TRUE), ==, 32000);
  g_assert_cmpint (vtp_tokenizer_add_token (tok, "<video>", TRUE), ==, 32001);
  g_assert_cmpint (vtp_tokenizer_add_token (tok, "", TRUE), ==, -1);
  g_assert_cmpuint (vtp_tokenizer_get_vocab_size (tok), ==, 32002);
  g_assert_true (vtp_tokenizer_is_special (tok, 32000));
  g_assert_cmpstr (vtp_tokenizer_id_to_token (tok, 32001), ==, "<video>");

  ids = vtp_tokenizer_encode (tok, "", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 1);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 1);
  g_clear_pointer (&ids, g_array_unref);
  ids = vtp_tokenizer_encode (tok, "", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 0);
  g_clear_pointer (&ids, g_array_unref);
  ids = vtp_tokenizer_encode (tok, "USER: <image>\nhi", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, 1);
  {
    guint n_image = 0;
    for (guint i = 0; i < ids->len; i++)
      n_image += g_array_index (ids, gint32, i) == 32000;
    g_assert_cmpuint (n_image, ==, 1);
  }
}

/* ------------------------------------------------------------------------ */
/* Errors and robustness */

#define MINI_MODEL "{\"type\":\"BPE\",\"unk_token\":\"<unk>\",\"vocab\":{\"<unk>\":0,\"<s>\":1,\"a\":2,\"b\":3,\"ab\":4}," \
    "\"merges\":[\"a b\"]}"
#define MINI_POST "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<s>\",\"type_id\":0}}," \
    "{\"Sequence\":{\"id\":\"A\",\"type_id\":0}}],\"special_tokens\":{\"<s>\":{\"id\":\"<s>\",\"ids\":[1],\"tokens\":[\"<s>\"]}}}"

static char *
mini_json (const char *normalizer, const char *pre, const char *post, const char *decoder, const char *model)
{
  return g_strdup_printf ("{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":"
      "[{\"id\":1,\"content\":\"<s>\",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,"
      "\"normalized\":false,\"special\":true}],\"normalizer\":%s,\"pre_tokenizer\":%s,"
      "\"post_processor\":%s,\"decoder\":%s,\"model\":%s}", normalizer, pre, post, decoder, model);
}

static void
expect_load_error (const char *json, gint code, const char *substring)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_data (json, -1, "mini.json", &error);
  g_assert_null (tok);
  g_assert_error (error, VTP_TOKENIZER_ERROR, code);
  if (!strstr (error->message, substring) || !g_str_has_prefix (error->message, "mini.json: "))
    g_error ("error \"%s\" lacks \"%s\"", error->message, substring);
  g_test_message ("ok: %s", error->message);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpTokenizer) tok = NULL;
  g_autofree char *good = mini_json ("null", "null", MINI_POST, "null", MINI_MODEL);
  g_autoptr (GArray) ids = NULL;
  char *s;

  /* the mini tokenizer itself loads and works */
  tok = vtp_tokenizer_new_from_data (good, -1, "mini.json", &error);
  g_assert_no_error (error);
  ids = vtp_tokenizer_encode (tok, "abab", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_assert_cmpint (g_array_index (ids, gint32, 1), ==, 4);
  g_clear_pointer (&ids, g_array_unref);
  ids = vtp_tokenizer_encode (tok, "xxa", FALSE, &error);   /* fused unknowns? fuse_unk is false: two <unk> */
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_clear_pointer (&ids, g_array_unref);

  /* missing file */
  {
    g_autoptr (VtpTokenizer) t = vtp_tokenizer_new_from_file ("/nonexistent/dir/tokenizer.json", &error);
    g_assert_null (t);
    g_assert_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_FILE);
    g_assert_nonnull (strstr (error->message, "/nonexistent/dir/tokenizer.json"));
    g_clear_error (&error);
  }
  /* not JSON, truncated, wrong shapes */
  expect_load_error ("", VTP_TOKENIZER_ERROR_PARSE, "not valid JSON");
  {
    g_autofree char *trunc = g_strndup (good, strlen (good) / 2);
    expect_load_error (trunc, VTP_TOKENIZER_ERROR_PARSE, "not valid JSON");
  }
  expect_load_error ("[1, 2]", VTP_TOKENIZER_ERROR_PARSE, "the top level is an array, expected an object");
  expect_load_error ("{\"version\":\"1.0\"}", VTP_TOKENIZER_ERROR_PARSE, "model is missing");
  expect_load_error ("{\"version\":\"2.0\",\"model\":" MINI_MODEL "}", VTP_TOKENIZER_ERROR_UNSUPPORTED,
      "version is \"2.0\", expected \"1.0\"");
  expect_load_error ("{\"truncation\":{\"max_length\":4,\"stride\":1},\"model\":" MINI_MODEL "}",
      VTP_TOKENIZER_ERROR_UNSUPPORTED, "truncation.stride is 1");
  expect_load_error ("{\"model\":{\"type\":\"WordLevel\",\"vocab\":{}}}", VTP_TOKENIZER_ERROR_UNSUPPORTED,
      "model.type is \"WordLevel\", expected \"BPE\", \"WordPiece\" or \"Unigram\"");
  expect_load_error ("{\"model\":{\"type\":\"Unigram\",\"vocab\":{}}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.vocab is an object, expected an array of [\"piece\", score] pairs");
  expect_load_error ("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",-1.5],[\"b\"]]}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.vocab[1] is an array, expected a pair [\"piece\", score]");
  expect_load_error ("{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",\"x\"]]}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.vocab[0] is an array, expected a pair [\"piece\", score]");
  expect_load_error ("{\"model\":{\"type\":\"Unigram\",\"unk_id\":1,\"vocab\":[[\"a\",0.0]]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.unk_id is 1, outside model.vocab (1 pieces)");
  expect_load_error ("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"AAAAAAA=\"},"
      "\"model\":" MINI_MODEL "}", VTP_TOKENIZER_ERROR_PARSE, "normalizer.precompiled_charsmap: the trie size is 0 bytes");
  expect_load_error ("{\"normalizer\":{\"type\":\"Precompiled\",\"precompiled_charsmap\":\"CAAAAAAA\"},"
      "\"model\":" MINI_MODEL "}", VTP_TOKENIZER_ERROR_PARSE, "within the 2 bytes that follow");
  expect_load_error ("{\"normalizer\":{\"type\":\"Precompiled\"},\"model\":" MINI_MODEL "}",
      VTP_TOKENIZER_ERROR_PARSE, "normalizer.precompiled_charsmap is missing, expected a string");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"merges\":[]}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.vocab is missing, expected an object");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0}}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.merges is missing, expected an array");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":\"x\"},\"merges\":[]}}", VTP_TOKENIZER_ERROR_PARSE,
      "model.vocab[\"a\"] is \"x\", expected a token id");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":0},\"merges\":[]}}",
      VTP_TOKENIZER_ERROR_PARSE, "is given to both");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a b\"]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.merges[0]: the merged piece \"ab\" is not in model.vocab");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[\"a c\"]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.merges[0]: \"c\" is not in model.vocab");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a  a\"]}}",
      VTP_TOKENIZER_ERROR_PARSE, "expected two pieces separated by one space");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[[\"a\"]]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.merges[0] is an array, expected a pair");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0},\"merges\":[\"a a\", [\"a\",\"a\"]]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.merges must hold only");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"dropout\":0.1,\"vocab\":{},\"merges\":[]}}",
      VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.dropout is 0.1");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"fuse_unk\":1,\"vocab\":{},\"merges\":[]}}",
      VTP_TOKENIZER_ERROR_PARSE, "model.fuse_unk is 1, expected true or false");
  expect_load_error ("{\"added_tokens\":[{\"id\":0}],\"model\":" MINI_MODEL "}", VTP_TOKENIZER_ERROR_PARSE,
      "added_tokens[0].content is missing, expected a string");

  /* unsupported components, each named */
  {
    struct { const char *n, *p, *pp, *d; gint code; const char *msg; } cases[] = {
      { "{\"type\":\"NFC\"}", "null", "null", "null", VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.type is \"NFC\": not supported" },
      { "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"Prepend\",\"prepend\":\"x\"},{\"type\":\"Lowercase\"}]}",
        "null", "null", "null", VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.normalizers[1].type is \"Lowercase\"" },
      { "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"\\\\s+\"},\"content\":\"x\"}", "null", "null", "null",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.pattern.Regex is \"\\s+\": vtp reads literal chars" },
      { "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"[ab]\"},\"content\":\"x\"}", "null", "null", "null",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.pattern.Regex is \"[ab]\"" },
      { "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"a|b*\"},\"content\":\"x\"}", "null", "null", "null",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.pattern.Regex is \"a|b*\"" },
      { "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\"a+b*c\"},\"content\":\"x\"}", "null", "null", "null",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.pattern.Regex is \"a+b*c\"" },
      { "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" {2,}?\"},\"content\":\"x\"}", "null", "null", "null",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "normalizer.pattern.Regex is \" {2,}?\"" },
      { "null", "null", "null", "{\"type\":\"Replace\",\"pattern\":{\"Regex\":\" +\"},\"content\":\"x\"}",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "decoder.pattern is a Regex pattern" },
      { "{\"type\":\"Strip\",\"strip_left\":1}", "null", "null", "null", VTP_TOKENIZER_ERROR_PARSE,
        "normalizer.strip_left is 1, expected true or false" },
      { "{\"type\":\"Prepend\"}", "null", "null", "null", VTP_TOKENIZER_ERROR_PARSE,
        "normalizer.prepend is missing, expected a string" },
      { "null", "{\"type\":\"Whitespace\"}", "null", "null", VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "pre_tokenizer.type is \"Whitespace\", expected one of" },
      { "null", "{\"type\":\"Metaspace\",\"replacement\":\"ab\"}", "null", "null", VTP_TOKENIZER_ERROR_PARSE,
        "pre_tokenizer.replacement is \"ab\", expected a single character" },
      { "null", "{\"type\":\"Metaspace\",\"replacement\":\"_\",\"prepend_scheme\":\"sometimes\"}", "null", "null",
        VTP_TOKENIZER_ERROR_PARSE, "pre_tokenizer.prepend_scheme is \"sometimes\"" },
      { "null", "null", "{\"type\":\"Foo\"}", "null", VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "post_processor.type is \"Foo\", expected one of" },
      { "null", "null", "{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":\"<x>\",\"type_id\":0}}],"
        "\"special_tokens\":{}}", "null", VTP_TOKENIZER_ERROR_PARSE, "which post_processor.special_tokens lacks" },
      { "null", "null", "null", "{\"type\":\"CTC\"}", VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "decoder.type is \"CTC\", expected one of" },
      { "null", "null", "null", "{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"Fuse\"},{\"type\":\"BPEDecoder\"}]}",
        VTP_TOKENIZER_ERROR_UNSUPPORTED, "decoder.decoders[1].type is \"BPEDecoder\"" },
      { "null", "null", "null", "{\"type\":\"Strip\",\"content\":\" \",\"start\":-1,\"stop\":0}",
        VTP_TOKENIZER_ERROR_PARSE, "decoder.start is -1, expected a non-negative integer" },
      { "null", "null", "null", "{\"decoders\":[]}", VTP_TOKENIZER_ERROR_PARSE,
        "decoder.type is missing, expected a string" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      g_autofree char *j = mini_json (cases[i].n, cases[i].p, cases[i].pp, cases[i].d, MINI_MODEL);
      expect_load_error (j, cases[i].code, cases[i].msg);
    }
  }

  /* invalid input */
  ids = vtp_tokenizer_encode (tok, "ab\xC3\x28", TRUE, &error);
  g_assert_null (ids);
  g_assert_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "not valid UTF-8 (byte 0xC3 at offset 2)"));
  g_clear_error (&error);
  ids = vtp_tokenizer_encode (tok, "\xED\xA0\x80", TRUE, &error);    /* a surrogate */
  g_assert_null (ids);
  g_assert_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT);
  g_clear_error (&error);
  ids = vtp_tokenizer_encode (tok, "\xC0\x80", TRUE, &error);        /* overlong */
  g_assert_null (ids);
  g_clear_error (&error);
  ids = vtp_tokenizer_encode_len (tok, "a\0b", 3, FALSE, &error);    /* NUL is valid UTF-8 */
  g_assert_no_error (error);
  g_assert_cmpuint (ids->len, ==, 3);
  g_clear_pointer (&ids, g_array_unref);
  s = vtp_tokenizer_decode (tok, (gint32[]) { 2, 99, 3 }, 3, FALSE, &error);
  g_assert_null (s);
  g_assert_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "id 99"));
  g_clear_error (&error);
  s = vtp_tokenizer_decode (tok, (gint32[]) { -5 }, 1, FALSE, &error);
  g_assert_null (s);
  g_assert_nonnull (strstr (error->message, "id -5"));
  g_clear_error (&error);
  s = vtp_tokenizer_decode (tok, NULL, 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
  /* a <0x00> piece decodes to a NUL byte */
  {
    g_autofree char *path = fixture_file ("small-legacy", "tokenizer.json");
    g_autoptr (VtpTokenizer) t = vtp_tokenizer_new_from_file (path, &error);
    gint32 nul = vtp_tokenizer_token_to_id (t, "<0x00>"), a = vtp_tokenizer_token_to_id (t, "a");
    gsize len = 0;
    g_autofree char *d = vtp_tokenizer_decode_len (t, (gint32[]) { a, nul, a }, 3, FALSE, &len, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (len, ==, 3);
    g_assert_cmpmem (d, len, "a\0a", 3);
  }
  /* no decoder: tokens joined by spaces, as HF does */
  s = vtp_tokenizer_decode (tok, (gint32[]) { 1, 4, 2 }, 3, FALSE, &error);
  g_assert_cmpstr (s, ==, "<s> ab a");
  g_free (s);
  s = vtp_tokenizer_decode (tok, (gint32[]) { 1, 4, 2 }, 3, TRUE, &error);
  g_assert_cmpstr (s, ==, "ab a");
  g_free (s);
}

static gboolean
try_load (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_data (data, len, name, error);
  g_autoptr (GArray) ids = NULL;
  g_autofree char *s = NULL;
  if (!tok)
    return FALSE;
  ids = vtp_tokenizer_encode (tok, "hello <s> world 😀 é", TRUE, NULL);
  s = ids ? vtp_tokenizer_decode (tok, (gint32 *) ids->data, ids->len, FALSE, NULL) : NULL;
  return TRUE;
}

/* Every truncation and many corruptions of a real file: an error or a
 * working tokenizer, never a crash */
static void
test_malformed_files (void)
{
  g_autofree char *path = fixture_file ("small-legacy", "tokenizer.json");
  /* a Unigram one: the scores read again from the text, the charsmap's trie */
  g_autofree char *uni = fixture_file ("unigram-t5-small", "tokenizer.json");
  check_malformed_files (path, 7, 300, try_load);
  check_malformed_files (uni, 7, 300, try_load);
}

/* Random bytes and random ids: errors for invalid UTF-8 / unknown ids,
 * otherwise ids in range, and never a crash */
static void
test_random_input (void)
{
  static const char *const names[] = { "small-legacy", "small-metaspace", "small-variants", "bytelevel-gpt2",
    "bytelevel-roberta", "bytelevel-opt", "bytelevel-noregex", "unigram-t5-small", "unigram-flan-t5",
    "unigram-bytes" };
  GRand *rng = g_rand_new_with_seed (7);

  for (guint t = 0; t < G_N_ELEMENTS (names); t++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = fixture_file (names[t], "tokenizer.json");
    g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_file (path, &error);
    gsize vocab;
    g_assert_no_error (error);
    vocab = vtp_tokenizer_get_vocab_size (tok);
    for (guint i = 0; i < 2000; i++) {
      guint8 buf[64];
      guint n = g_rand_int_range (rng, 0, sizeof buf);
      g_autoptr (GArray) ids = NULL;
      for (guint k = 0; k < n; k++)
        buf[k] = i % 2 ? (guint8) g_rand_int_range (rng, 0, 256) : (guint8) " ab<>s/\xe2\x96\x81\xc3\xa9"[g_rand_int_range (rng, 0, 12)];
      ids = vtp_tokenizer_encode_len (tok, (const char *) buf, n, i % 3 != 0, &error);
      if (!ids) {
        g_assert_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT);
        g_clear_error (&error);
        continue;
      }
      for (guint k = 0; k < ids->len; k++) {
        gint32 id = g_array_index (ids, gint32, k);
        g_assert_true (id >= 0 && (gsize) id < vocab);
      }
      {
        g_autofree char *s = vtp_tokenizer_decode (tok, (gint32 *) ids->data, ids->len, i % 2, &error);
        g_assert_no_error (error);
        g_assert_true (g_utf8_validate (s, -1, NULL));
      }
    }
    for (guint i = 0; i < 500; i++) {
      gint32 ids[16];
      guint n = g_rand_int_range (rng, 0, 16);
      for (guint k = 0; k < n; k++)
        ids[k] = g_rand_int_range (rng, 0, vocab);
      g_autofree char *s = vtp_tokenizer_decode (tok, ids, n, i % 2, &error);
      g_assert_no_error (error);
      g_assert_nonnull (s);
    }
  }
  g_rand_free (rng);
}

/* ------------------------------------------------------------------------ */
/* Timing (printed, not asserted) */

static void
test_timing (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *llama = llama2_path ();
  g_autofree char *small = fixture_file ("small-legacy", "tokenizer.json");
  g_autofree char *corpus_path = fixture_file ("corpus.jsonl", NULL);
  g_autoptr (GPtrArray) corpus = load_jsonl (corpus_path);
  const char *path = g_file_test (llama, G_FILE_TEST_EXISTS) ? llama : small;
  g_autoptr (VtpTokenizer) tok = NULL;
  GString *text = g_string_new (NULL);
  gint64 t0, t1;
  double best = 1e9, load_ms;
  guint n_tokens = 0, reps = 0;

  t0 = g_get_monotonic_time ();
  tok = vtp_tokenizer_new_from_file (path, &error);
  t1 = g_get_monotonic_time ();
  g_assert_no_error (error);
  load_ms = (t1 - t0) / 1000.0;
  vtp_tokenizer_add_token (tok, "<image>", TRUE);

  /* ~10 KB of varied corpus text */
  for (guint i = 0; text->len < 10240; i = (i + 37) % corpus->len) {
    const char *s = json_object_get_string_member (json_node_get_object (corpus->pdata[i]), "text");
    if (strlen (s) < 400)
      g_string_append (text, s), g_string_append_c (text, ' ');
  }
  for (gint64 start = g_get_monotonic_time (); reps < 5 || g_get_monotonic_time () - start < 300000; reps++) {
    gint64 a = g_get_monotonic_time ();
    g_autoptr (GArray) ids = vtp_tokenizer_encode (tok, text->str, TRUE, &error);
    gint64 b = g_get_monotonic_time ();
    g_assert_no_error (error);
    n_tokens = ids->len;
    best = MIN (best, (b - a) / 1000.0);
  }
  g_print ("# timing (%s): load %.1f ms; encode %" G_GSIZE_FORMAT " bytes -> %u tokens in %.3f ms (best of %u) = %.1f MB/s\n",
      path == llama ? "llama2" : "small-legacy", load_ms, text->len, n_tokens, best, reps,
      text->len / (best / 1000.0) / 1e6);
  /* the same text through a T5 layout (Precompiled, Unigram's Viterbi) */
  {
    g_autofree char *t5 = fixture_file ("unigram-flan-t5", "tokenizer.json");
    g_autoptr (VtpTokenizer) ut = vtp_tokenizer_new_from_file (t5, &error);
    double ubest = 1e9;
    g_assert_no_error (error);
    for (guint r = 0; r < 20; r++) {
      gint64 a = g_get_monotonic_time ();
      g_autoptr (GArray) ids = vtp_tokenizer_encode (ut, text->str, TRUE, &error);
      g_assert_no_error (error);
      n_tokens = ids->len;
      ubest = MIN (ubest, (g_get_monotonic_time () - a) / 1000.0);
    }
    g_print ("# timing (unigram-flan-t5): encode %" G_GSIZE_FORMAT " bytes -> %u tokens in %.3f ms = %.1f MB/s\n",
        text->len, n_tokens, ubest, text->len / (ubest / 1000.0) / 1e6);
  }
  g_string_free (text, TRUE);
}

/* The fuzz seed with a hand-built Precompiled trie
 * (tools/make_fuzz_corpus.py, small_precompiled: the T5 fixture's 320 KB
 * charsmap was over libFuzzer's -max_len). Its rules walked as HF
 * tokenizers 0.23 walks them (ids from its encode): a char to one, to two
 * and to none, a two-char cluster, a 4-byte char; "12" is a key, but each
 * digit is a cluster of its own, so it never matches. */
static void
test_fuzz_seed_charsmap (void)
{
  static const gint32 expected[] = { 3, 30, 5, 23, 23, 9, 3, 34, 4, 36, 5, 3, 28, 3, 36, 8, 3, 2, 3, 54, 3, 18, 14, 1 };
  g_autofree char *path = g_build_filename (VTP_SOURCE_DIR, "fuzz", "corpus", "tokenizer-json",
      "unigram-small-charsmap.json", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpTokenizer) tok = vtp_tokenizer_new_from_file (path, &error);
  g_autoptr (GArray) ids = NULL;

  g_assert_no_error (error);
  ids = vtp_tokenizer_encode (tok, "Hello caf\xc3\xa9 \xf0\x9f\x98\x80\tx \xef\xac\x81 e\xcc\x81 \xef\xbc\xa1 12", TRUE, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (ids->data, ids->len * sizeof (gint32), expected, sizeof expected);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/tokenizer/small/legacy", "small-legacy", test_small);
  g_test_add_data_func ("/tokenizer/small/metaspace", "small-metaspace", test_small);
  g_test_add_data_func ("/tokenizer/small/variants", "small-variants", test_small);
  g_test_add_data_func ("/tokenizer/bytelevel/gpt2", "bytelevel-gpt2", test_small);
  g_test_add_data_func ("/tokenizer/bytelevel/roberta", "bytelevel-roberta", test_small);
  g_test_add_data_func ("/tokenizer/bytelevel/opt", "bytelevel-opt", test_small);
  g_test_add_data_func ("/tokenizer/bytelevel/noregex", "bytelevel-noregex", test_small);
  {
    static const ModelDirCase opt = { "bytelevel-opt", "ByteLevelBPE", 2, -1 };
    static const ModelDirCase t5 = { "unigram-flan-t5", "Unigram", -1, 1 };
    g_test_add_data_func ("/tokenizer/bytelevel/model-dir", &opt, test_model_dir);
    g_test_add_data_func ("/tokenizer/unigram/model-dir", &t5, test_model_dir);
  }
  g_test_add_func ("/tokenizer/unigram/api", test_unigram_api);
  /* Unigram tokenizers in T5's layout (tools/make_unigram_fixtures.py) */
  g_test_add_data_func ("/tokenizer/unigram/t5-small", "unigram-t5-small", test_small);
  g_test_add_data_func ("/tokenizer/unigram/t5", "unigram-t5", test_small);
  g_test_add_func ("/tokenizer/unigram/fuzz-seed-charsmap", test_fuzz_seed_charsmap);
  g_test_add_data_func ("/tokenizer/unigram/t5-large", "unigram-t5-large", test_small);
  g_test_add_data_func ("/tokenizer/unigram/flan-t5", "unigram-flan-t5", test_small);
  g_test_add_data_func ("/tokenizer/unigram/t5-hf4", "unigram-t5-hf4", test_small);
  g_test_add_data_func ("/tokenizer/unigram/spm-regex", "unigram-spm-regex", test_small);
  g_test_add_data_func ("/tokenizer/unigram/bytes", "unigram-bytes", test_small);
  /* the bundled world LLM's tokenizer (tools/world/make_tokenizer_fixture.py) */
  g_test_add_data_func ("/tokenizer/small/world", "world", test_small);
  g_test_add_func ("/tokenizer/llama2/corpus", test_llama2_corpus);
  g_test_add_func ("/tokenizer/llama2/api", test_llama2_api);
  g_test_add_func ("/tokenizer/errors", test_errors);
  g_test_add_func ("/tokenizer/malformed-files", test_malformed_files);
  g_test_add_func ("/tokenizer/random-input", test_random_input);
  g_test_add_func ("/tokenizer/timing", test_timing);
  return g_test_run ();
}
