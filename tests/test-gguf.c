/* test-gguf.c: vtp's GGUF reader (models/formats/vtp-gguf.c) against
 * tests/fixtures/gguf/small.gguf, written by tools/make_gguf_fixtures.py
 * with the `gguf` package, and small.json next to it (every key and tensor
 * as gguf-py reads them); then corrupted copies of that file made here
 * (truncations at every offset, huge counts and lengths, overlapping or
 * misaligned tensors, bad magic / version / types, random byte flips), each
 * of which must give an error and never a crash (run it under valgrind). */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include "vtp-gguf.h"
#include "vtp-error.h"
#include "fixture-path.h"

static GBytes *fixture_bytes;
static JsonParser *fixture_parser;
static JsonObject *meta;

static void
load_fixture (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *gguf_path = fixture_path ("gguf/small.gguf");
  g_autofree char *json_path = fixture_path ("gguf/small.json");
  char *data;
  gsize len;

  if (!g_file_get_contents (gguf_path, &data, &len, &error))
    g_error ("cannot read %s: %s (run tools/make_gguf_fixtures.py)", gguf_path, error->message);
  fixture_bytes = g_bytes_new_take (data, len);
  fixture_parser = json_parser_new ();
  if (!json_parser_load_from_file (fixture_parser, json_path, &error))
    g_error ("cannot read %s: %s", json_path, error->message);
  meta = json_node_get_object (json_parser_get_root (fixture_parser));
}

static JsonObject *
tensor_meta (guint i)
{
  return json_array_get_object_element (json_object_get_array_member (meta, "tensors"), i);
}

static gint64
offset_of (const char *key, const char *which)
{
  return json_object_get_int_member (json_object_get_object_member (
      json_object_get_object_member (meta, "offsets"), key), which);
}

/* ------------------------------------------------------------------------ */
/* The valid file */

static void
check_key (VtpGguf *g, const char *key, JsonObject *e)
{
  const char *type = json_object_get_string_member (e, "type");
  JsonNode *value = json_object_get_member (e, "value");
  const VtpGgufKv *kv = vtp_gguf_find (g, key);
  g_autoptr (GError) error = NULL;

  g_assert_nonnull (kv);
  g_assert_cmpstr (vtp_gguf_value_type_name (kv->type), ==, type);
  if (!strcmp (type, "STRING")) {
    const char *want = json_node_get_string (value);
    g_assert_cmpstr (vtp_gguf_get_string (g, key, &error), ==, want);
    g_assert_no_error (error);
    if (!strcmp (key, "test.string_nul"))
      g_assert_true (kv->lengths[0] == 3 && memcmp (kv->strings[0], "a\0b", 4) == 0);
  } else if (!strcmp (type, "BOOL")) {
    gboolean b;
    g_assert_true (vtp_gguf_get_bool (g, key, &b, &error));
    g_assert_cmpint (b, ==, json_node_get_boolean (value));
  } else if (!strcmp (type, "FLOAT32")) {
    gfloat f;
    g_assert_true (vtp_gguf_get_f32 (g, key, &f, &error));
    g_assert_cmpfloat (f, ==, (gfloat) json_node_get_double (value));
  } else if (!strcmp (type, "FLOAT64")) {
    gfloat f;
    gboolean exact = (gdouble) (gfloat) json_node_get_double (value) == json_node_get_double (value);
    g_assert_cmpint (vtp_gguf_get_f32 (g, key, &f, &error), ==, exact);
    if (exact)
      g_assert_cmpfloat (f, ==, json_node_get_double (value));
    else {
      g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
      g_clear_error (&error);
    }
  } else if (!strcmp (type, "ARRAY")) {
    const char *at = json_object_get_string_member (e, "array_type");
    JsonArray *a = json_node_get_array (value);
    guint64 n;
    g_assert_true (vtp_gguf_get_array_length (g, key, &n, &error));
    g_assert_cmpuint (n, ==, json_array_get_length (a));
    g_assert_cmpstr (vtp_gguf_value_type_name (kv->array_type), ==, at);
    if (!strcmp (at, "STRING")) {
      gsize ns;
      const gsize *lens;
      const char *const *sv = vtp_gguf_get_string_array (g, key, &ns, &lens, &error);
      g_assert_no_error (error);
      g_assert_cmpuint (ns, ==, n);
      g_assert_null (sv[ns]);
      for (guint i = 0; i < ns; i++) {
        g_assert_cmpstr (sv[i], ==, json_array_get_string_element (a, i));
        g_assert_cmpuint (lens[i], ==, strlen (sv[i]));
      }
    } else if (!strcmp (at, "FLOAT32")) {
      gsize nf;
      g_autofree gfloat *f = vtp_gguf_get_f32_array (g, key, &nf, &error);
      g_assert_no_error (error);
      for (guint i = 0; i < nf; i++)
        g_assert_cmpfloat (f[i], ==, (gfloat) json_array_get_double_element (a, i));
    } else if (!strcmp (at, "BOOL")) {
      for (guint i = 0; i < n; i++)
        g_assert_cmpint (kv->data[i], ==, json_array_get_boolean_element (a, i));
    } else {
      /* integers: as INT32 when every element fits */
      gboolean fits = TRUE;
      gsize ni;
      g_autofree gint32 *v = NULL;
      for (guint i = 0; i < n; i++) {
        gint64 x = json_array_get_int_element (a, i);
        fits = fits && x >= G_MININT32 && x <= G_MAXINT32;
      }
      v = vtp_gguf_get_i32_array (g, key, &ni, &error);
      g_assert_cmpint (v != NULL, ==, fits);
      if (fits) {
        g_assert_cmpuint (ni, ==, n);
        for (guint i = 0; i < n; i++)
          g_assert_cmpint (v[i], ==, json_array_get_int_element (a, i));
      } else {
        g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
        g_assert_nonnull (strstr (error->message, key));
        g_clear_error (&error);
      }
    }
  } else {
    /* integer scalars: through the widest getter of their signedness, and
     * through u32 / i32 exactly when the value fits */
    gint64 want_s = json_node_get_int (value);
    guint32 u32;
    gint32 i32;
    gboolean big_unsigned = !strcmp (type, "UINT64");
    if (big_unsigned) {
      guint64 u64;
      g_assert_true (vtp_gguf_get_u64 (g, key, &u64, &error));
      /* json-glib reads 2^63 + 5 as a wrapped gint64 */
      g_assert_cmpuint (u64, ==, (guint64) want_s);
    } else {
      gint64 i64;
      g_assert_true (vtp_gguf_get_i64 (g, key, &i64, &error));
      g_assert_cmpint (i64, ==, want_s);
    }
    g_assert_no_error (error);
    g_assert_cmpint (vtp_gguf_get_u32 (g, key, &u32, NULL), ==,
        !big_unsigned && want_s >= 0 && want_s <= G_MAXUINT32);
    g_assert_cmpint (vtp_gguf_get_i32 (g, key, &i32, NULL), ==,
        !big_unsigned && want_s >= G_MININT32 && want_s <= G_MAXINT32);
  }
  g_assert_no_error (error);
}

static void
test_valid (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_path ("gguf/small.gguf");
  g_autoptr (VtpGguf) g = vtp_gguf_open (path, &error);
  JsonObject *keys = json_object_get_object_member (meta, "keys");
  GList *members = json_object_get_members (keys);
  const guint8 *base;
  guint n_tensors = json_array_get_length (json_object_get_array_member (meta, "tensors"));

  g_assert_no_error (error);
  g_assert_nonnull (g);
  g_assert_cmpuint (g->version, ==, 3);
  g_assert_cmpuint (g->alignment, ==, json_object_get_int_member (meta, "alignment"));
  g_assert_cmpuint (g->data_offset, ==, json_object_get_int_member (meta, "data_offset"));
  g_assert_cmpuint (g->kvs->len, ==, g_list_length (members));
  for (GList *l = members; l; l = l->next)
    check_key (g, l->data, json_object_get_object_member (keys, l->data));
  g_list_free (members);

  /* widening and refusals, each naming the key */
  {
    guint32 u;
    gint32 i;
    gfloat f;
    g_assert_true (vtp_gguf_get_u32 (g, "test.u8", &u, &error) && u == 200);
    g_assert_true (vtp_gguf_get_i32 (g, "test.small_u32", &i, &error) && i == 7);
    g_assert_true (vtp_gguf_get_i32 (g, "test.i16", &i, &error) && i == -30000);
    g_assert_no_error (error);
    g_assert_false (vtp_gguf_get_i32 (g, "test.u32", &i, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
    g_assert_nonnull (strstr (error->message, "test.u32"));
    g_assert_nonnull (strstr (error->message, "4000000000"));
    g_clear_error (&error);
    g_assert_false (vtp_gguf_get_u32 (g, "test.i8", &u, &error));
    g_assert_nonnull (strstr (error->message, "-100"));
    g_clear_error (&error);
    g_assert_false (vtp_gguf_get_f32 (g, "test.string", &f, &error));
    g_assert_nonnull (strstr (error->message, "STRING"));
    g_clear_error (&error);
    g_assert_null (vtp_gguf_get_string (g, "test.u8", &error));
    g_assert_nonnull (strstr (error->message, "expected STRING"));
    g_clear_error (&error);
    g_assert_null (vtp_gguf_get_string (g, "no.such.key", &error));
    g_assert_nonnull (strstr (error->message, "'no.such.key' is absent"));
    g_assert_nonnull (strstr (error->message, path));
    g_clear_error (&error);
    g_assert_null (vtp_gguf_get_f32_array (g, "test.i32s", &(gsize) { 0 }, &error));
    g_assert_nonnull (strstr (error->message, "array of INT32"));
    g_clear_error (&error);
    g_assert_null (vtp_gguf_get_string_array (g, "test.u8", NULL, NULL, &error));
    g_assert_nonnull (strstr (error->message, "expected an array"));
    g_clear_error (&error);
    g_assert_null (vtp_gguf_find (g, "no.such.key"));
  }

  base = g_bytes_get_data (g->bytes, NULL);
  g_assert_cmpuint (vtp_gguf_n_tensors (g), ==, n_tensors);
  g_assert_null (vtp_gguf_tensor (g, n_tensors));
  g_assert_null (vtp_gguf_find_tensor (g, "absent"));
  for (guint i = 0; i < n_tensors; i++) {
    JsonObject *tm = tensor_meta (i);
    const VtpGgufTensor *t = vtp_gguf_tensor (g, i);
    JsonArray *ne = json_object_get_array_member (tm, "ne");
    g_autofree char *sha = NULL;
    g_assert_cmpstr (t->name, ==, json_object_get_string_member (tm, "name"));
    g_assert_true (vtp_gguf_find_tensor (g, t->name) == t);
    g_assert_cmpuint (t->n_dims, ==, json_array_get_length (ne));
    for (guint d = 0; d < VTP_GGUF_MAX_DIMS; d++)
      g_assert_cmpint (t->ne[d], ==, d < t->n_dims ? json_array_get_int_element (ne, d) : 1);
    g_assert_cmpuint (t->type, ==, json_object_get_int_member (tm, "type_id"));
    g_assert_cmpstr (t->type_name, ==, json_object_get_string_member (tm, "type"));
    g_assert_cmpuint (t->offset, ==, json_object_get_int_member (tm, "offset"));
    g_assert_cmpuint (t->n_bytes, ==, json_object_get_int_member (tm, "n_bytes"));
    g_assert_true (t->data == base + g->data_offset + t->offset);
    sha = g_compute_checksum_for_data (G_CHECKSUM_SHA256, t->data, t->n_bytes);
    g_assert_cmpstr (sha, ==, json_object_get_string_member (tm, "sha256"));
  }
}

static void
test_type_table (void)
{
  guint b, s;
  /* a few entries of gguf-py's GGML_QUANT_SIZES */
  g_assert_true (vtp_gguf_type_traits (12, &b, &s) && b == 256 && s == 144);   /* Q4_K */
  g_assert_true (vtp_gguf_type_traits (39, &b, &s) && b == 32 && s == 17);     /* MXFP4 */
  g_assert_true (vtp_gguf_type_traits (30, &b, &s) && b == 1 && s == 2);       /* BF16 */
  g_assert_cmpstr (vtp_gguf_type_name (23), ==, "IQ4_XS");
  g_assert_null (vtp_gguf_type_name (4));
  g_assert_null (vtp_gguf_type_name (31));
  g_assert_false (vtp_gguf_type_traits (1000, &b, &s));
}

/* ------------------------------------------------------------------------ */
/* Corrupted copies */

static guint8 *
copy_fixture (gsize *len)
{
  const guint8 *d = g_bytes_get_data (fixture_bytes, len);
  return g_memdup2 (d, *len);
}

static void
put_le (guint8 *p, guint64 v, guint n)
{
  for (guint i = 0; i < n; i++)
    p[i] = (v >> (8 * i)) & 0xff;
}

/* Parses @len bytes of @data; returns the error (NULL when it opened). */
static GError *
parse (const guint8 *data, gsize len)
{
  g_autoptr (GBytes) b = g_bytes_new (data, len);
  GError *error = NULL;
  VtpGguf *g = vtp_gguf_new_from_bytes (b, "corrupt.gguf", &error);
  if (g) {
    /* whatever opened must be readable without going out of bounds */
    for (guint i = 0; i < g->kvs->len; i++) {
      const VtpGgufKv *kv = g->kvs->pdata[i];
      gsize n;
      g_free (vtp_gguf_get_i32_array (g, kv->key, &n, NULL));
      g_free (vtp_gguf_get_f32_array (g, kv->key, &n, NULL));
    }
    for (guint i = 0; i < vtp_gguf_n_tensors (g); i++) {
      const VtpGgufTensor *t = vtp_gguf_tensor (g, i);
      guint sum = 0;
      for (gsize k = 0; k < t->n_bytes; k++)
        sum += t->data[k];
      (void) sum;
    }
    vtp_gguf_free (g);
    g_assert_null (error);
  } else {
    g_assert_nonnull (error);
  }
  return error;
}

/* Writes @n bytes (@value little-endian, or @text when not NULL) at @at of
 * a copy and expects an error whose message contains @want. */
static void
expect_error_full (const char *label, gint64 at, guint64 value, const char *text, guint n, const char *want)
{
  gsize len;
  g_autofree guint8 *d = copy_fixture (&len);
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (at + n, <=, (gint64) len);
  if (text)
    memcpy (d + at, text, n);
  else
    put_le (d + at, value, n);
  error = parse (d, len);
  if (!error)
    g_error ("%s: the corrupted file opened without an error", label);
  g_assert_true (error->domain == VTP_ERROR);
  g_assert_cmpint (error->code, ==, VTP_ERROR_FORMAT);
  if (!strstr (error->message, want) || !strstr (error->message, "corrupt.gguf"))
    g_error ("%s: the error '%s' does not say '%s'", label, error->message, want);
  if (g_test_verbose ())
    g_print ("# %s: %s\n", label, error->message);
}

static void
expect_error (const char *label, gint64 at, guint64 value, guint n, const char *want)
{
  expect_error_full (label, at, value, NULL, n, want);
}

static void
test_truncated (void)
{
  gsize len;
  const guint8 *d = g_bytes_get_data (fixture_bytes, &len);
  guint n_tensors = json_array_get_length (json_object_get_array_member (meta, "tensors"));
  JsonObject *last = tensor_meta (n_tensors - 1);
  gsize end = json_object_get_int_member (meta, "data_offset") + json_object_get_int_member (last, "offset")
      + json_object_get_int_member (last, "n_bytes");
  guint n_errors = 0;

  /* every prefix that cuts a tensor or the header fails; the padding after
   * the last tensor is not needed */
  for (gsize n = 0; n < len; n++) {
    g_autoptr (GError) error = parse (d, n);
    if (n < end) {
      if (!error)
        g_error ("truncated to %" G_GSIZE_FORMAT " bytes: opened without an error", n);
      g_assert_true (error->domain == VTP_ERROR && error->code == VTP_ERROR_FORMAT);
      n_errors++;
    } else {
      g_assert_no_error (error);
    }
  }
  g_assert_cmpuint (n_errors, ==, end);
}

static void
test_corrupt (void)
{
  JsonObject *t0 = tensor_meta (0), *t1 = tensor_meta (1), *t2 = tensor_meta (2);
  gint64 kv_u8 = offset_of ("test.u8", "entry");
  gint64 t1_name = json_object_get_int_member (t1, "info_at") + 8;

  expect_error ("bad magic", 0, 'X', 1, "not a GGUF file");
  expect_error ("version 1", 4, 1, 4, "version 1;");
  expect_error ("version 4", 4, 4, 4, "version 4;");
  expect_error ("big-endian", 4, 0x03000000, 4, "big-endian");
  expect_error ("huge tensor count", 8 /* after magic and version */, G_GUINT64_CONSTANT (1) << 62, 8,
      "more than the file's");
  expect_error ("huge kv count", 16, G_MAXUINT64, 8, "more than the file's");
  expect_error ("kv count + 1", 16,
      json_object_get_size (json_object_get_object_member (meta, "keys")) + 1, 8, "");
  expect_error ("key length past the end", kv_u8, 1 << 20, 8, "claims a string of 1048576 bytes");
  expect_error ("key length 2^64-1", kv_u8, G_MAXUINT64, 8, "claims a string");
  expect_error ("string value past the end", offset_of ("test.string", "value"), 5000, 8,
      "claims a string of 5000 bytes");
  expect_error ("string array count", offset_of ("test.strings", "value") + 4, G_GUINT64_CONSTANT (1) << 61, 8,
      "claims 2305843009213693952 strings");
  expect_error ("i32 array count", offset_of ("test.i32s", "value") + 4, G_MAXUINT64 / 2, 8,
      "'test.i32s' claims an array of");
  expect_error ("nested array", offset_of ("test.i32s", "value"), VTP_GGUF_ARRAY, 4, "is an array of ARRAY");
  expect_error ("value type 13", offset_of ("test.u8", "value") - 4, 13, 4, "value type 13");
  expect_error ("bool 2", offset_of ("test.true", "value"), 2, 1, "bool value 2");
  expect_error ("duplicate key", kv_u8 + 8 + 5, 'i', 1, "'test.i8' appears twice");
  expect_error ("NUL in key", kv_u8 + 8 + 2, 0, 1, "contains a NUL byte");
  expect_error ("alignment 3", offset_of ("general.alignment", "value"), 3, 4, "expected a power of two");
  expect_error ("alignment 0", offset_of ("general.alignment", "value"), 0, 4, "expected a power of two");
  expect_error ("alignment as a string", offset_of ("general.alignment", "value") - 4, VTP_GGUF_INT32, 4,
      "expected UINT32");
  /* tensor 1 is "f16.matrix": its name, then n_dims at + 10, ne[] at + 14 */
  g_assert_cmpstr (json_object_get_string_member (t1, "name"), ==, "f16.matrix");
  expect_error_full ("duplicate tensor", t1_name, 0, json_object_get_string_member (t0, "name"), 10,
      "tensor 'f32.vector' appears twice");
  expect_error ("5 dimensions", t1_name + 10, 5, 4, "5 dimensions");
  expect_error ("negative dimension", t1_name + 10 + 4, G_MAXUINT64, 8, "dimension 0 of");
  expect_error ("dimensions overflow", t1_name + 10 + 4 + 8, G_GUINT64_CONSTANT (1) << 62, 8,
      "too large to address");
  expect_error ("overlap", json_object_get_int_member (t1, "offset_at"), json_object_get_int_member (t0, "offset"),
      8, "overlap");
  expect_error ("misaligned tensor", json_object_get_int_member (t1, "offset_at"), 65, 8,
      "not a multiple of the alignment 64");
  expect_error ("tensor past the end", json_object_get_int_member (t1, "offset_at"), 64 * 1000, 8,
      "ends past the end of the file");
  expect_error ("offset overflow", json_object_get_int_member (t1, "offset_at"), G_MAXUINT64 - 63, 8,
      "ends past the end of the file");
  expect_error ("unknown type 31", json_object_get_int_member (t2, "type_at"), 31, 4, "unknown ggml type id 31");
  expect_error ("unknown type 4", json_object_get_int_member (t2, "type_at"), 4, 4, "unknown ggml type id 4");
  expect_error ("row not a multiple of the block", json_object_get_int_member (t2, "type_at"), 12, 4,
      "not a multiple of the type's block of 256");
}

/* Seeded random byte changes in the header: any outcome but a crash. */
static void
test_random (void)
{
  gsize len;
  g_autofree guint8 *d = copy_fixture (&len);
  g_autofree guint8 *orig = g_memdup2 (d, len);
  GRand *rand = g_rand_new_with_seed (42);
  gsize header = json_object_get_int_member (meta, "data_offset");
  guint n_errors = 0, n = g_test_slow () ? 20000 : 3000;

  for (guint i = 0; i < n; i++) {
    guint changes = g_rand_int_range (rand, 1, 4);
    GError *error;
    memcpy (d, orig, len);
    for (guint c = 0; c < changes; c++)
      d[g_rand_int_range (rand, 0, header)] = g_rand_int_range (rand, 0, 256);
    error = parse (d, len);
    n_errors += error != NULL;
    g_clear_error (&error);
  }
  g_rand_free (rand);
  g_print ("# random header changes: %u of %u copies refused\n", n_errors, n);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  load_fixture ();
  g_test_add_func ("/gguf/valid", test_valid);
  g_test_add_func ("/gguf/type-table", test_type_table);
  g_test_add_func ("/gguf/truncated", test_truncated);
  g_test_add_func ("/gguf/corrupt", test_corrupt);
  g_test_add_func ("/gguf/random", test_random);
  int rc = g_test_run ();
  g_bytes_unref (fixture_bytes);
  g_object_unref (fixture_parser);
  return rc;
}
