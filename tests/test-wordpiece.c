/* test-wordpiece.c: vtp's BERT WordPiece tokenizer (models/tokenizers/vtp-wordpiece.c)
 * against the ids and strings of HuggingFace `tokenizers`, written by
 * tools/make_wordpiece_fixtures.py into tests/fixtures/wordpiece/:
 *   - every corpus string through an uncased and a cased trained vocabulary,
 *     each loaded four ways (tokenizer.json, vocab.txt, and the two folders
 *     through vtp_wordpiece_new_from_dir): ids, ids without specials, and
 *     the decodes with and without skip_special_tokens;
 *   - a tokenizer.json with unusual settings (added-token flags, no
 *     clean_text, lowercase without strip_accents, file truncation);
 *   - truncation (right and left), random-id decodes;
 *   - every Unicode code point through each BertNormalizer step and the
 *     pre-tokenizer (unicode.tsv);
 *   - error cases (missing / malformed files, unsupported components,
 *     invalid UTF-8, unknown ids), random input, and a timing print. */
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include "vtp-wordpiece.h"
#include "tokenizer-test-util.h"

#ifndef VTP_SOURCE_DIR
#define VTP_SOURCE_DIR "."
#endif

/* ------------------------------------------------------------------------ */
/* Fixture access */

static char *
fixture_file (const char *a, const char *b)
{
  const char *root = g_getenv ("VTP_FIXTURES_DIR");
  if (root)
    return g_build_filename (root, "wordpiece", a, b, NULL);
  return g_build_filename (VTP_SOURCE_DIR, "tests", "fixtures", "wordpiece", a, b, NULL);
}

static GPtrArray *
load_jsonl (const char *name)
{
  g_autofree char *path = fixture_file (name, NULL);
  return read_jsonl (path, "tools/make_wordpiece_fixtures.py");
}

static JsonObject *
load_meta (JsonParser **keep)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_file ("meta.json", NULL);
  *keep = json_parser_new ();
  if (!json_parser_load_from_file (*keep, path, &error))
    g_error ("cannot read fixture %s: %s", path, error->message);
  return json_node_get_object (json_parser_get_root (*keep));
}

static const char *
row_text (GPtrArray *rows, guint i)
{
  return json_object_get_string_member (json_node_get_object (rows->pdata[i]), "text");
}

static GArray *
encode_ok (VtpWordPiece *wp, const char *text, gboolean add_special, gint max_len)
{
  g_autoptr (GError) error = NULL;
  GArray *ids = vtp_wordpiece_encode (wp, text, add_special, max_len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (ids);
  return ids;
}

static char *
decode_ok (VtpWordPiece *wp, const GArray *ids, gboolean skip)
{
  g_autoptr (GError) error = NULL;
  char *s = vtp_wordpiece_decode (wp, (const gint32 *) ids->data, ids->len, skip, &error);
  g_assert_no_error (error);
  return s;
}

/* ------------------------------------------------------------------------ */
/* The corpus through the uncased / cased tokenizers, four loading paths */

typedef enum { LOAD_JSON, LOAD_VOCAB, LOAD_DIR_JSON, LOAD_DIR_VOCAB } LoadPath;
static const char *const load_names[] = { "tokenizer.json", "vocab.txt", "dir with tokenizer.json",
  "dir with vocab.txt" };

static VtpWordPiece *
open_variant (const char *variant, LoadPath how, JsonObject *vmeta)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *vocab_dir = g_strdup_printf ("%s-vocab", variant);
  gboolean lowercase = strcmp (variant, "uncased") == 0;
  VtpWordPiece *wp = NULL;

  switch (how) {
    case LOAD_JSON: {
      g_autofree char *path = fixture_file (variant, "tokenizer.json");
      wp = vtp_wordpiece_new_from_file (path, &error);
      break;
    }
    case LOAD_VOCAB: {
      g_autofree char *path = fixture_file (vocab_dir, "vocab.txt");
      wp = vtp_wordpiece_new_from_vocab (path, lowercase, lowercase ? -1 : 0, &error);
      g_assert_no_error (error);
      g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[DEC]"), ==, -1);
      /* as InstructBLIP does: tokenizer.add_special_tokens({"bos_token": "[DEC]"}) */
      g_assert_cmpint (vtp_wordpiece_add_token (wp, "[DEC]", TRUE), ==, json_object_get_int_member (vmeta, "dec_id"));
      break;
    }
    case LOAD_DIR_JSON: {
      g_autofree char *dir = fixture_file (variant, NULL);
      wp = vtp_wordpiece_new_from_dir (dir, &error);
      break;
    }
    case LOAD_DIR_VOCAB: {
      g_autofree char *dir = fixture_file (vocab_dir, NULL);
      wp = vtp_wordpiece_new_from_dir (dir, &error);
      break;
    }
  }
  g_assert_no_error (error);
  g_assert_nonnull (wp);
  return wp;
}

static void
test_corpus (gconstpointer data)
{
  const char *variant = data;
  g_autoptr (JsonParser) mp = NULL;
  JsonObject *meta = load_meta (&mp);
  JsonObject *vmeta = json_object_get_object_member (meta, variant);
  g_autoptr (GPtrArray) corpus = load_jsonl ("corpus.jsonl");
  g_autofree char *exp_name = g_strdup_printf ("expected-%s.jsonl", variant);
  g_autoptr (GPtrArray) rows = load_jsonl (exp_name);

  g_assert_cmpuint (corpus->len, ==, rows->len);
  g_assert_cmpuint (corpus->len, ==, json_object_get_int_member (meta, "n_corpus"));
  g_assert_cmpuint (corpus->len, >=, 2000);

  for (LoadPath how = LOAD_JSON; how <= LOAD_DIR_VOCAB; how++) {
    g_autoptr (VtpWordPiece) wp = open_variant (variant, how, vmeta);
    g_autofree char *what = g_strdup_printf ("%s (%s)", variant, load_names[how]);
    Tally te = { what, 0, 0 }, td = { what, 0, 0 };
    gint32 cls = json_object_get_int_member (vmeta, "cls_id"), sep = json_object_get_int_member (vmeta, "sep_id");

    g_assert_cmpuint (vtp_wordpiece_get_vocab_size (wp), ==, json_object_get_int_member (vmeta, "vocab_size"));
    g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[DEC]"), ==, json_object_get_int_member (vmeta, "dec_id"));
    g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[UNK]"), ==, json_object_get_int_member (vmeta, "unk_id"));
    g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[PAD]"), ==, json_object_get_int_member (vmeta, "pad_id"));
    g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[MASK]"), ==, json_object_get_int_member (vmeta, "mask_id"));
    g_assert_true (vtp_wordpiece_is_special (wp, cls));
    g_assert_true (vtp_wordpiece_is_special (wp, json_object_get_int_member (vmeta, "dec_id")));
    /* only the uncased folders say truncation_side "left", as InstructBLIP's */
    g_assert_cmpint (vtp_wordpiece_get_truncation_left (wp), ==,
        (how == LOAD_DIR_JSON || how == LOAD_DIR_VOCAB) && strcmp (variant, "uncased") == 0);

    for (guint i = 0; i < rows->len; i++) {
      const char *text = row_text (corpus, i);
      JsonObject *r = json_node_get_object (rows->pdata[i]);
      g_autoptr (GArray) want = json_ids (r, "ids");
      g_autoptr (GArray) got = encode_ok (wp, text, TRUE, 0);
      g_autoptr (GArray) got_ns = encode_ok (wp, text, FALSE, 0);
      g_autoptr (GArray) want_ns = g_array_new (FALSE, FALSE, sizeof (gint32));
      g_autofree char *d = decode_ok (wp, want, FALSE);
      g_autofree char *ds = decode_ok (wp, want, TRUE);

      g_assert_cmpuint (want->len, >=, 2);
      g_assert_cmpint (g_array_index (want, gint32, 0), ==, cls);
      g_assert_cmpint (g_array_index (want, gint32, want->len - 1), ==, sep);
      g_array_append_vals (want_ns, &g_array_index (want, gint32, 1), want->len - 2);
      report_ids (&te, "encode", text, want, got);
      report_ids (&te, "encode(add_special_tokens=False)", text, want_ns, got_ns);
      report_str (&td, "decode", text, json_object_get_string_member (r, "dec"), d);
      report_str (&td, "decode(skip_special_tokens)", text, json_object_get_string_member (r, "dec_skip"), ds);
    }
    g_print ("# %s: %u/%u encodes, %u/%u decodes identical to HF\n", what, te.checked - te.failed, te.checked,
        td.checked - td.failed, td.checked);
    g_assert_cmpuint (te.failed, ==, 0);
    g_assert_cmpuint (td.failed, ==, 0);
  }
}

/* ------------------------------------------------------------------------ */
/* The variants tokenizer.json */

static void
test_variants (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_file ("variants", "tokenizer.json");
  g_autoptr (VtpWordPiece) wp = vtp_wordpiece_new_from_file (path, &error);
  g_autoptr (JsonParser) mp = NULL;
  JsonObject *meta = load_meta (&mp);
  JsonObject *vmeta = json_object_get_object_member (meta, "variants");
  JsonObject *ids_o = json_object_get_object_member (vmeta, "token_ids");
  g_autoptr (GPtrArray) rows = load_jsonl ("expected-variants.jsonl");
  Tally te = { "variants", 0, 0 }, td = { "variants", 0, 0 };
  JsonObjectIter it;
  const char *key;
  JsonNode *val;

  g_assert_no_error (error);
  g_assert_cmpuint (vtp_wordpiece_get_vocab_size (wp), ==, json_object_get_int_member (vmeta, "vocab_size"));
  g_assert_true (vtp_wordpiece_get_truncation_left (wp));
  json_object_iter_init (&it, ids_o);
  while (json_object_iter_next (&it, &key, &val))
    g_assert_cmpint (vtp_wordpiece_token_to_id (wp, key), ==, json_node_get_int (val));
  g_assert_cmpuint (rows->len, ==, json_object_get_int_member (vmeta, "n_expected"));
  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    const char *text = json_object_get_string_member (r, "text");
    g_autoptr (GArray) want = json_ids (r, "ids");
    g_autoptr (GArray) want_ns = json_ids (r, "ids_nospecial");
    g_autoptr (GArray) got = encode_ok (wp, text, TRUE, 0);
    g_autoptr (GArray) got_ns = encode_ok (wp, text, FALSE, 0);
    g_autofree char *d = decode_ok (wp, want, FALSE);
    g_autofree char *ds = decode_ok (wp, want, TRUE);
    report_ids (&te, "encode", text, want, got);
    report_ids (&te, "encode(add_special_tokens=False)", text, want_ns, got_ns);
    report_str (&td, "decode", text, json_object_get_string_member (r, "dec"), d);
    report_str (&td, "decode(skip_special_tokens)", text, json_object_get_string_member (r, "dec_skip"), ds);
  }
  g_print ("# variants: %u/%u encodes, %u/%u decodes identical to HF\n", te.checked - te.failed, te.checked,
      td.checked - td.failed, td.checked);
  g_assert_cmpuint (te.failed, ==, 0);
  g_assert_cmpuint (td.failed, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Truncation and decoding */

static void
test_truncation (void)
{
  g_autoptr (GPtrArray) rows = load_jsonl ("truncation.jsonl");
  Tally t = { "truncation", 0, 0 };
  VtpWordPiece *wps[2];

  for (guint k = 0; k < 2; k++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = fixture_file (k == 0 ? "uncased" : "cased", "tokenizer.json");
    wps[k] = vtp_wordpiece_new_from_file (path, &error);
    g_assert_no_error (error);
  }
  g_assert_cmpuint (rows->len, >=, 500);
  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    VtpWordPiece *wp = wps[strcmp (json_object_get_string_member (r, "variant"), "uncased") == 0 ? 0 : 1];
    const char *text = json_object_get_string_member (r, "text");
    gint m = json_object_get_int_member (r, "max_length");
    g_autoptr (GArray) want = json_ids (r, "ids");
    g_autoptr (GArray) want_ns = json_ids (r, "ids_nospecial");
    g_autoptr (GArray) got = NULL;
    g_autoptr (GArray) got_ns = NULL;
    g_autofree char *label = g_strdup_printf ("max_length %d, %s side", m, json_object_get_string_member (r, "side"));
    vtp_wordpiece_set_truncation_side (wp, strcmp (json_object_get_string_member (r, "side"), "left") == 0);
    got = encode_ok (wp, text, TRUE, m);
    got_ns = encode_ok (wp, text, FALSE, m);
    report_ids (&t, label, text, want, got);
    report_ids (&t, label, text, want_ns, got_ns);
  }
  g_print ("# truncation: %u/%u identical to HF\n", t.checked - t.failed, t.checked);
  vtp_wordpiece_free (wps[0]);
  vtp_wordpiece_free (wps[1]);
  g_assert_cmpuint (t.failed, ==, 0);
}

static void
test_decode (void)
{
  g_autoptr (GPtrArray) rows = load_jsonl ("decode.jsonl");
  Tally t = { "decode", 0, 0 };
  VtpWordPiece *wps[2];

  for (guint k = 0; k < 2; k++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = fixture_file (k == 0 ? "uncased" : "cased", "tokenizer.json");
    wps[k] = vtp_wordpiece_new_from_file (path, &error);
    g_assert_no_error (error);
  }
  for (guint i = 0; i < rows->len; i++) {
    JsonObject *r = json_node_get_object (rows->pdata[i]);
    VtpWordPiece *wp = wps[strcmp (json_object_get_string_member (r, "variant"), "uncased") == 0 ? 0 : 1];
    g_autoptr (GArray) ids = json_ids (r, "ids");
    g_autofree char *ctx = ids_str (ids);
    g_autofree char *d = decode_ok (wp, ids, FALSE);
    g_autofree char *ds = decode_ok (wp, ids, TRUE);
    report_str (&t, "decode", ctx, json_object_get_string_member (r, "dec"), d);
    report_str (&t, "decode(skip_special_tokens)", ctx, json_object_get_string_member (r, "dec_skip"), ds);
  }
  g_print ("# decode: %u/%u identical to HF\n", t.checked - t.failed, t.checked);
  vtp_wordpiece_free (wps[0]);
  vtp_wordpiece_free (wps[1]);
  g_assert_cmpuint (t.failed, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Every code point (unicode.tsv) */

typedef struct {
  gunichar lo, hi;
  char clean, pre;
  char *strip, *lower;
} URow;

/* The expected output for @c of an "=", "-", "+N", "J" or "h:X,Y" code */
static void
append_expected (GString *s, gunichar c, const char *code)
{
  if (strcmp (code, "=") == 0)
    g_string_append_unichar (s, c);
  else if (strcmp (code, "-") == 0)
    ;
  else if (code[0] == '+' || (code[0] == '-' && code[1]))
    g_string_append_unichar (s, c + (gint) g_ascii_strtoll (code, NULL, 10));
  else if (strcmp (code, "J") == 0) {     /* Hangul syllable -> L V (T) */
    gunichar si = c - 0xAC00;
    g_string_append_unichar (s, 0x1100 + si / 588);
    g_string_append_unichar (s, 0x1161 + (si % 588) / 28);
    if (si % 28)
      g_string_append_unichar (s, 0x11A7 + si % 28);
  } else if (g_str_has_prefix (code, "h:")) {
    g_auto (GStrv) parts = g_strsplit (code + 2, ",", -1);
    for (guint i = 0; parts[i]; i++)
      g_string_append_unichar (s, (gunichar) g_ascii_strtoull (parts[i], NULL, 16));
  } else {
    g_error ("unicode.tsv: bad code \"%s\"", code);
  }
}

static VtpWordPiece *
mini (const char *normalizer, const char *pre, const char *post)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *json = g_strdup_printf ("{\"version\":\"1.0\",\"added_tokens\":[],\"normalizer\":%s,"
      "\"pre_tokenizer\":%s,\"post_processor\":%s,\"decoder\":null,\"model\":{\"type\":\"WordPiece\","
      "\"unk_token\":\"[UNK]\",\"continuing_subword_prefix\":\"##\",\"max_input_chars_per_word\":100,"
      "\"vocab\":{\"[UNK]\":0,\"a\":1,\"[CLS]\":2,\"[SEP]\":3,\"b\":4,\"##b\":5,\"ab\":6}}}",
      normalizer, pre, post);
  VtpWordPiece *wp = vtp_wordpiece_new_from_data (json, -1, "mini.json", &error);
  g_assert_no_error (error);
  return wp;
}

#define BERT_NORM(clean, cjk, strip, lower) "{\"type\":\"BertNormalizer\",\"clean_text\":" clean \
    ",\"handle_chinese_chars\":" cjk ",\"strip_accents\":" strip ",\"lowercase\":" lower "}"

static void
test_unicode (void)
{
  g_autofree char *path = fixture_file ("unicode.tsv", NULL);
  g_autofree char *data = NULL;
  g_auto (GStrv) lines = NULL;
  GArray *rows = g_array_new (FALSE, FALSE, sizeof (URow));
  VtpWordPiece *norms[3] = {
    mini (BERT_NORM ("true", "false", "false", "false"), "null", "null"),
    mini (BERT_NORM ("false", "false", "true", "false"), "null", "null"),
    mini (BERT_NORM ("false", "false", "false", "true"), "null", "null"),
  };
  g_autoptr (VtpWordPiece) pre = mini ("null", "{\"type\":\"BertPreTokenizer\"}", "null");
  static const char *const step[] = { "clean_text", "strip_accents", "lowercase", "pre_tokenizer" };
  guint n_fail[4] = { 0 }, n_checked = 0;
  /* chunks of code points, each followed by a separator '|' */
  GString *in = g_string_new (NULL), *want[4];
  GArray *chunk = g_array_new (FALSE, FALSE, sizeof (gunichar));
  const gchar *step_env = g_getenv ("VTP_WORDPIECE_UNICODE_STEP");
  guint stride = step_env ? MAX (1, atoi (step_env)) : 1;

  for (guint k = 0; k < 4; k++)
    want[k] = g_string_new (NULL);
  if (!g_file_get_contents (path, &data, NULL, NULL))
    g_error ("cannot read fixture %s (run tools/make_wordpiece_fixtures.py)", path);
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_auto (GStrv) f = NULL;
    URow r;
    if (!*lines[i] || lines[i][0] == '#')
      continue;
    f = g_strsplit (lines[i], "\t", -1);
    g_assert_cmpuint (g_strv_length (f), ==, 6);
    r.lo = g_ascii_strtoull (f[0], NULL, 16);
    r.hi = g_ascii_strtoull (f[1], NULL, 16);
    r.clean = f[2][0];
    r.pre = f[3][0];
    r.strip = g_strdup (f[4]);
    r.lower = g_strdup (f[5]);
    g_array_append_val (rows, r);
  }
  g_assert_cmpuint (rows->len, >, 1000);

  for (guint ri = 0; ri <= rows->len; ri++) {
    const URow *r = ri < rows->len ? &g_array_index (rows, URow, ri) : NULL;
    for (gunichar c = r ? r->lo : 0; r && c <= r->hi; c++) {
      if (c == '|' || (c % stride != 0 && r->lo != r->hi))
        continue;
      g_array_append_val (chunk, c);
      g_string_append_unichar (in, c);
      g_string_append_c (in, '|');
      /* clean_text */
      if (r->clean == 'k')
        g_string_append_unichar (want[0], c);
      else if (r->clean == 's')
        g_string_append_c (want[0], ' ');
      g_string_append_c (want[0], '|');
      append_expected (want[1], c, r->strip);
      g_string_append_c (want[1], '|');
      append_expected (want[2], c, r->lower);
      g_string_append_c (want[2], '|');
      /* "a" c "a" through BertPreTokenizer + WordPiece(vocab a): */
      g_string_append (want[3], r->pre == 'w' ? "1 1 " : r->pre == 'p' ? "1 0 1 " : "0 ");
    }
    if (chunk->len < 4096 && r)
      continue;
    /* run the chunk through each step */
    for (guint k = 0; k < 4; k++) {
      g_autoptr (GError) error = NULL;
      g_autofree char *got = NULL;
      if (k < 3) {
        got = vtp_wordpiece_normalize (norms[k], in->str, &error);
      } else {
        GString *probe = g_string_new (NULL);
        for (guint j = 0; j < chunk->len; j++) {
          g_string_append_c (probe, 'a');
          g_string_append_unichar (probe, g_array_index (chunk, gunichar, j));
          g_string_append (probe, "a ");
        }
        g_autoptr (GArray) ids = vtp_wordpiece_encode (pre, probe->str, FALSE, 0, &error);
        GString *s = g_string_new (NULL);
        for (guint j = 0; ids && j < ids->len; j++)
          g_string_append_printf (s, "%d ", g_array_index (ids, gint32, j));
        got = g_string_free (s, FALSE);
        g_string_free (probe, TRUE);
      }
      g_assert_no_error (error);
      if (strcmp (got, want[k]->str) != 0) {
        /* find the first code point that differs, one at a time */
        for (guint j = 0; j < chunk->len; j++) {
          gunichar c = g_array_index (chunk, gunichar, j);
          char buf[16];
          g_autofree char *one = NULL;
          buf[g_unichar_to_utf8 (c, buf)] = 0;
          if (k < 3) {
            one = vtp_wordpiece_normalize (norms[k], buf, NULL);
          } else {
            g_autofree char *probe = g_strdup_printf ("a%sa", buf);
            g_autoptr (GArray) ids = vtp_wordpiece_encode (pre, probe, FALSE, 0, NULL);
            one = g_strdup_printf ("%u ids", ids->len);
          }
          if (n_fail[k]++ < 5)
            g_printerr ("unicode %s: U+%04X gives \"%s\" (chunk differs from HF)\n", step[k], c, one);
          break;
        }
      }
    }
    n_checked += chunk->len;
    g_array_set_size (chunk, 0);
    g_string_truncate (in, 0);
    for (guint k = 0; k < 4; k++)
      g_string_truncate (want[k], 0);
  }
  g_print ("# unicode: %u code points (every %u-th of each run), chunks differing from HF: clean_text %u, "
      "strip_accents %u, lowercase %u, pre_tokenizer %u\n", n_checked, stride, n_fail[0], n_fail[1], n_fail[2],
      n_fail[3]);
  for (guint i = 0; i < rows->len; i++) {
    g_free (g_array_index (rows, URow, i).strip);
    g_free (g_array_index (rows, URow, i).lower);
  }
  g_array_free (rows, TRUE);
  g_array_free (chunk, TRUE);
  g_string_free (in, TRUE);
  for (guint k = 0; k < 4; k++) {
    g_string_free (want[k], TRUE);
    if (k < 3)
      vtp_wordpiece_free (norms[k]);
  }
  g_assert_cmpuint (n_checked, >, stride > 1 ? 1000 : 1100000);
  for (guint k = 0; k < 4; k++)
    g_assert_cmpuint (n_fail[k], ==, 0);
}

/* ------------------------------------------------------------------------ */
/* API details */

static GArray *
ids_of (const gint32 *v, guint n)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_array_append_vals (a, v, n);
  return a;
}

static void
assert_ids (VtpWordPiece *wp, const char *text, gboolean add_special, gint max_len, const gint32 *want, guint n)
{
  g_autoptr (GArray) got = encode_ok (wp, text, add_special, max_len);
  g_autoptr (GArray) w = ids_of (want, n);
  if (!ids_equal (w, got)) {
    g_autofree char *a = ids_str (w);
    g_autofree char *b = ids_str (got);
    g_error ("\"%s\" (max_len %d): expected %s, got %s", text, max_len, a, b);
  }
}

static void
test_api (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpWordPiece) wp = mini (BERT_NORM ("true", "true", "null", "true"), "{\"type\":\"BertPreTokenizer\"}",
      "{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\",3],\"cls\":[\"[CLS]\",2]}");
  g_autofree char *s = NULL;

  g_assert_cmpuint (vtp_wordpiece_get_vocab_size (wp), ==, 7);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "ab"), ==, 6);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "zz"), ==, -1);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, NULL), ==, -1);
  g_assert_cmpstr (vtp_wordpiece_id_to_token (wp, 5), ==, "##b");
  g_assert_null (vtp_wordpiece_id_to_token (wp, 7));
  g_assert_null (vtp_wordpiece_id_to_token (wp, -1));
  g_assert_false (vtp_wordpiece_is_special (wp, 2));   /* no added_tokens in the mini file */

  /* greedy longest match: "abb" = ab ##b; "ba" has no "##a": the word is [UNK] */
  assert_ids (wp, "abb", TRUE, 0, (gint32[]) { 2, 6, 5, 3 }, 4);
  assert_ids (wp, "AB ba", FALSE, 0, (gint32[]) { 6, 0 }, 2);
  assert_ids (wp, "", TRUE, 0, (gint32[]) { 2, 3 }, 2);
  assert_ids (wp, "", FALSE, 0, NULL, 0);
  /* truncation: specials count; below them tokenizers does not truncate */
  assert_ids (wp, "a b a b", TRUE, 4, (gint32[]) { 2, 1, 4, 3 }, 4);
  assert_ids (wp, "a b a b", TRUE, 2, (gint32[]) { 2, 3 }, 2);
  assert_ids (wp, "a b a b", TRUE, 1, (gint32[]) { 2, 1, 4, 1, 4, 3 }, 6);
  assert_ids (wp, "a b a b", FALSE, 1, (gint32[]) { 1 }, 1);
  vtp_wordpiece_set_truncation_side (wp, TRUE);
  assert_ids (wp, "a b a ab", TRUE, 4, (gint32[]) { 2, 1, 6, 3 }, 4);
  assert_ids (wp, "a b a ab", TRUE, 100, (gint32[]) { 2, 1, 4, 1, 6, 3 }, 6);
  vtp_wordpiece_set_truncation_side (wp, FALSE);

  /* added tokens: [DEC] at the next id, special, matched in the raw text */
  g_assert_cmpint (vtp_wordpiece_add_token (wp, "[DEC]", TRUE), ==, 7);
  g_assert_cmpint (vtp_wordpiece_add_token (wp, "[DEC]", TRUE), ==, 7);
  g_assert_cmpint (vtp_wordpiece_add_token (wp, "ab", TRUE), ==, 6);     /* in the vocab: keeps its id */
  g_assert_cmpint (vtp_wordpiece_add_token (wp, "Xyz", FALSE), ==, 8);   /* normalized: matches "xyz" */
  g_assert_cmpint (vtp_wordpiece_add_token (wp, "", TRUE), ==, -1);
  g_assert_cmpuint (vtp_wordpiece_get_vocab_size (wp), ==, 9);
  g_assert_true (vtp_wordpiece_is_special (wp, 7));
  g_assert_false (vtp_wordpiece_is_special (wp, 8));
  g_assert_cmpstr (vtp_wordpiece_id_to_token (wp, 8), ==, "xyz");       /* HF gives the normalized form */
  assert_ids (wp, "a[DEC]b [dec] XYZ", FALSE, 0, (gint32[]) { 1, 7, 4, 0, 0, 0, 8 }, 7);
  s = vtp_wordpiece_decode (wp, (gint32[]) { 2, 1, 5, 7, 4, 3 }, 6, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "[CLS] a ##b [DEC] b [SEP]");   /* no decoder: joined by spaces */
  g_free (s);
  s = vtp_wordpiece_decode (wp, (gint32[]) { 2, 1, 5, 7, 4, 3 }, 6, TRUE, &error);
  g_assert_cmpstr (s, ==, "[CLS] a ##b b [SEP]");         /* [CLS] is not an added token here */
  g_clear_pointer (&s, g_free);

  /* normalize */
  s = vtp_wordpiece_normalize (wp, "Ça\tVA\x01 中文 İ", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "ca va  中  文  i");
  g_clear_pointer (&s, g_free);

  /* the WordPiece decoder and its cleanup */
  {
    g_autoptr (VtpWordPiece) d2 = NULL;
    g_autofree char *j = g_strdup_printf ("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"[UNK]\":0,\"a\":1,"
        "\"##b\":2,\".\":3,\"'\":4,\"s\":5,\"##s\":6}},\"decoder\":{\"type\":\"WordPiece\",\"prefix\":\"##\","
        "\"cleanup\":true}}");
    d2 = vtp_wordpiece_new_from_data (j, -1, "dec.json", &error);
    g_assert_no_error (error);
    s = vtp_wordpiece_decode (d2, (gint32[]) { 2, 1, 2, 3, 1, 4, 5, 6 }, 8, FALSE, &error);
    g_assert_no_error (error);
    g_assert_cmpstr (s, ==, "##b ab. a ' ss");   /* the first token keeps its "##"; " ." -> "." */
    g_clear_pointer (&s, g_free);
  }
}

/* vocab.txt details: universal newlines, repeated tokens, required specials */
static void
test_vocab_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vtp-wordpiece-XXXXXX", &error);
  g_autofree char *path = g_build_filename (dir, "vocab.txt", NULL);
  g_autofree char *cfg = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_autoptr (VtpWordPiece) wp = NULL;

  g_assert_no_error (error);
  /* \r\n, \r and \n all end lines; "hello" is repeated (the later id wins);
   * no newline at the end */
  g_assert_true (g_file_set_contents (path, "[PAD]\r\n[UNK]\r[CLS]\n[SEP]\nhello\n##s\n[MASK]\nhello\nworld", -1, NULL));
  wp = vtp_wordpiece_new_from_vocab (path, TRUE, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[UNK]"), ==, 1);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[CLS]"), ==, 2);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "hello"), ==, 7);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "world"), ==, 8);
  g_assert_null (vtp_wordpiece_id_to_token (wp, 4));
  g_assert_cmpuint (vtp_wordpiece_get_vocab_size (wp), ==, 8);
  assert_ids (wp, "Hello [MASK] worlds", TRUE, 0, (gint32[]) { 2, 7, 6, 8, 5, 3 }, 6);
  g_clear_pointer (&wp, vtp_wordpiece_free);

  /* a folder with vocab.txt and tokenizer_config.json */
  g_assert_true (g_file_set_contents (path, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nHello\n##s\n", -1, NULL));
  g_assert_true (g_file_set_contents (cfg, "{\"do_lower_case\": false, \"bos_token\": \"[DEC]\", "
      "\"truncation_side\": \"left\", \"added_tokens_decoder\": {\"9\": {\"content\": \"<x>\", \"special\": true}, "
      "\"8\": {\"content\": \"<y>\", \"special\": false, \"normalized\": false}}}", -1, NULL));
  wp = vtp_wordpiece_new_from_dir (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "<y>"), ==, 8);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "<x>"), ==, 9);
  g_assert_cmpint (vtp_wordpiece_token_to_id (wp, "[DEC]"), ==, 10);
  g_assert_true (vtp_wordpiece_get_truncation_left (wp));
  assert_ids (wp, "Hello hello<x>Hellos", TRUE, 0, (gint32[]) { 2, 6, 5, 9, 6, 7, 3 }, 7);
  g_clear_pointer (&wp, vtp_wordpiece_free);

  /* an id that does not follow */
  g_assert_true (g_file_set_contents (cfg, "{\"added_tokens_decoder\": {\"12\": {\"content\": \"<x>\"}}}", -1, NULL));
  wp = vtp_wordpiece_new_from_dir (dir, &error);
  g_assert_null (wp);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "added_tokens_decoder[\"12\"]: \"<x>\" would get id 8, not 12"));
  g_assert_true (g_str_has_prefix (error->message, cfg));
  g_clear_error (&error);
  /* malformed tokenizer_config.json */
  g_assert_true (g_file_set_contents (cfg, "{\"do_lower_case\": \"yes\"}", -1, NULL));
  wp = vtp_wordpiece_new_from_dir (dir, &error);
  g_assert_null (wp);
  g_assert_nonnull (strstr (error->message, "tokenizer_config.do_lower_case is \"yes\", expected true or false"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (cfg, "{\"do_lower_case\": ", -1, NULL));
  wp = vtp_wordpiece_new_from_dir (dir, &error);
  g_assert_null (wp);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "not valid JSON"));
  g_clear_error (&error);
  g_remove (cfg);

  /* a vocab without [CLS]; an empty one; not UTF-8 */
  g_assert_true (g_file_set_contents (path, "[PAD]\n[UNK]\n[SEP]\nhello\n", -1, NULL));
  wp = vtp_wordpiece_new_from_vocab (path, TRUE, -1, &error);
  g_assert_null (wp);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_PARSE);
  g_assert_nonnull (strstr (error->message, "the CLS token \"[CLS]\" is not in the vocabulary"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "", -1, NULL));
  wp = vtp_wordpiece_new_from_vocab (path, TRUE, -1, &error);
  g_assert_null (wp);
  g_assert_nonnull (strstr (error->message, "the vocabulary is empty"));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "[UNK]\n\xff\xfe\n", -1, NULL));
  wp = vtp_wordpiece_new_from_vocab (path, TRUE, -1, &error);
  g_assert_null (wp);
  g_assert_nonnull (strstr (error->message, "not valid UTF-8"));
  g_clear_error (&error);
  g_remove (path);

  /* a folder with neither file */
  wp = vtp_wordpiece_new_from_dir (dir, &error);
  g_assert_null (wp);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE);
  g_assert_nonnull (strstr (error->message, "no tokenizer.json and no vocab.txt"));
  g_clear_error (&error);
  g_rmdir (dir);
}

/* ------------------------------------------------------------------------ */
/* Errors */

#define MINI_MODEL "{\"type\":\"WordPiece\",\"unk_token\":\"[UNK]\",\"vocab\":{\"[UNK]\":0,\"a\":1}}"

static void
expect_load_error (const char *json, gint code, const char *substring)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpWordPiece) wp = vtp_wordpiece_new_from_data (json, -1, "mini.json", &error);
  g_assert_null (wp);
  g_assert_error (error, VTP_WORDPIECE_ERROR, code);
  if (!strstr (error->message, substring) || !g_str_has_prefix (error->message, "mini.json: "))
    g_error ("error \"%s\" lacks \"%s\"", error->message, substring);
  g_test_message ("ok: %s", error->message);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpWordPiece) wp = mini (BERT_NORM ("true", "true", "null", "true"), "{\"type\":\"BertPreTokenizer\"}",
      "null");
  g_autoptr (GArray) ids = NULL;
  char *s;

  /* missing files */
  {
    g_autoptr (VtpWordPiece) t = vtp_wordpiece_new_from_file ("/nonexistent/dir/tokenizer.json", &error);
    g_assert_null (t);
    g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE);
    g_assert_true (g_str_has_prefix (error->message, "/nonexistent/dir/tokenizer.json: cannot read"));
    g_clear_error (&error);
    t = vtp_wordpiece_new_from_vocab ("/nonexistent/vocab.txt", TRUE, -1, &error);
    g_assert_null (t);
    g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE);
    g_assert_true (g_str_has_prefix (error->message, "/nonexistent/vocab.txt: cannot read"));
    g_clear_error (&error);
    t = vtp_wordpiece_new_from_dir ("/nonexistent/dir", &error);
    g_assert_null (t);
    g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_FILE);
    g_clear_error (&error);
  }
  /* malformed JSON and wrong shapes, each error naming the field */
  expect_load_error ("", VTP_WORDPIECE_ERROR_PARSE, "not valid JSON");
  expect_load_error ("{\"model\": ", VTP_WORDPIECE_ERROR_PARSE, "not valid JSON");
  expect_load_error ("[1, 2]", VTP_WORDPIECE_ERROR_PARSE, "the top level is an array, expected an object");
  expect_load_error ("{\"version\":\"1.0\"}", VTP_WORDPIECE_ERROR_PARSE, "model is missing");
  expect_load_error ("{\"version\":\"2.0\",\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_UNSUPPORTED,
      "version is \"2.0\", expected \"1.0\"");
  expect_load_error ("{\"model\":{\"type\":\"BPE\",\"vocab\":{},\"merges\":[]}}", VTP_WORDPIECE_ERROR_UNSUPPORTED,
      "model.type is \"BPE\", expected \"WordPiece\"");
  expect_load_error ("{\"model\":{\"type\":\"Unigram\",\"vocab\":[]}}", VTP_WORDPIECE_ERROR_UNSUPPORTED,
      "model.type is \"Unigram\", expected \"WordPiece\"");
  expect_load_error ("{\"model\":{\"vocab\":{},\"merges\":[]}}", VTP_WORDPIECE_ERROR_UNSUPPORTED, "a BPE model");
  expect_load_error ("{\"model\":{\"type\":\"WordPiece\"}}", VTP_WORDPIECE_ERROR_PARSE,
      "model.vocab is missing, expected an object");
  expect_load_error ("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":\"x\"}}}", VTP_WORDPIECE_ERROR_PARSE,
      "model.vocab[\"a\"] is \"x\", expected a token id");
  expect_load_error ("{\"model\":{\"type\":\"WordPiece\",\"vocab\":{\"a\":0,\"b\":0}}}", VTP_WORDPIECE_ERROR_PARSE,
      "model.vocab: id 0 is given to both");
  expect_load_error ("{\"model\":{\"type\":\"WordPiece\",\"unk_token\":5,\"vocab\":{}}}", VTP_WORDPIECE_ERROR_PARSE,
      "model.unk_token is 5, expected a string");
  expect_load_error ("{\"model\":{\"type\":\"WordPiece\",\"max_input_chars_per_word\":-1,\"vocab\":{}}}",
      VTP_WORDPIECE_ERROR_PARSE, "model.max_input_chars_per_word is -1, expected a non-negative integer");
  expect_load_error ("{\"added_tokens\":[{\"id\":0}],\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_PARSE,
      "added_tokens[0].content is missing, expected a string");
  expect_load_error ("{\"added_tokens\":{},\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_PARSE,
      "added_tokens is an object, expected an array");
  expect_load_error ("{\"normalizer\":{\"type\":\"NFD\"},\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_UNSUPPORTED,
      "normalizer.type is \"NFD\": not supported");
  expect_load_error ("{\"normalizer\":{\"type\":\"BertNormalizer\",\"lowercase\":\"yes\"},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_PARSE, "normalizer.lowercase is \"yes\", expected true or false");
  expect_load_error ("{\"normalizer\":{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFD\"},{\"type\":\"Lowercase\"}]},"
      "\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_UNSUPPORTED, "normalizer.normalizers[0].type is \"NFD\"");
  expect_load_error ("{\"pre_tokenizer\":{\"type\":\"Whitespace\"},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_UNSUPPORTED, "pre_tokenizer.type is \"Whitespace\", expected one of");
  expect_load_error ("{\"pre_tokenizer\":{},\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_PARSE,
      "pre_tokenizer.type is missing, expected a string");
  expect_load_error ("{\"post_processor\":{\"type\":\"RobertaProcessing\"},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_PARSE, "post_processor.sep is missing, expected a pair");
  expect_load_error ("{\"post_processor\":{\"type\":\"BertProcessing\",\"sep\":[\"[SEP]\"],\"cls\":[\"[CLS]\",1]},"
      "\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_PARSE, "post_processor.sep is an array, expected a pair");
  expect_load_error ("{\"post_processor\":{\"type\":\"TemplateProcessing\",\"single\":[{\"SpecialToken\":{\"id\":"
      "\"[X]\",\"type_id\":0}}],\"special_tokens\":{}},\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_PARSE,
      "post_processor.single[0].SpecialToken.id is \"[X]\", which post_processor.special_tokens lacks");
  expect_load_error ("{\"decoder\":{\"type\":\"CTC\"},\"model\":" MINI_MODEL "}", VTP_WORDPIECE_ERROR_UNSUPPORTED,
      "decoder.type is \"CTC\", expected one of");
  expect_load_error ("{\"decoder\":{\"type\":\"WordPiece\",\"cleanup\":1},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_PARSE, "decoder.cleanup is 1, expected true or false");
  expect_load_error ("{\"truncation\":{\"max_length\":8,\"stride\":2},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_UNSUPPORTED, "truncation.stride is 2");
  expect_load_error ("{\"truncation\":{\"max_length\":8,\"direction\":\"Up\"},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_PARSE, "truncation.direction is \"Up\", expected \"Left\" or \"Right\"");
  expect_load_error ("{\"padding\":{\"strategy\":{\"Fixed\":16}},\"model\":" MINI_MODEL "}",
      VTP_WORDPIECE_ERROR_UNSUPPORTED, "padding.strategy is an object");

  /* invalid input */
  ids = vtp_wordpiece_encode (wp, "ab\xC3\x28", TRUE, 0, &error);
  g_assert_null (ids);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "not valid UTF-8 (byte 0xC3 at offset 2)"));
  g_clear_error (&error);
  ids = vtp_wordpiece_encode (wp, "\xED\xA0\x80", TRUE, 0, &error);    /* a surrogate */
  g_assert_null (ids);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
  g_clear_error (&error);
  ids = vtp_wordpiece_encode (wp, "\xC0\x80", TRUE, 0, &error);        /* overlong */
  g_assert_null (ids);
  g_clear_error (&error);
  ids = vtp_wordpiece_encode (wp, "\xF4\x90\x80\x80", TRUE, 0, &error); /* above U+10FFFF */
  g_assert_null (ids);
  g_clear_error (&error);
  ids = vtp_wordpiece_encode (wp, NULL, TRUE, 0, &error);
  g_assert_null (ids);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
  g_clear_error (&error);
  s = vtp_wordpiece_normalize (wp, "\xFF", &error);
  g_assert_null (s);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
  g_clear_error (&error);
  s = vtp_wordpiece_decode (wp, (gint32[]) { 1, 99, 0 }, 3, FALSE, &error);
  g_assert_null (s);
  g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "cannot decode id 99 (position 1)"));
  g_clear_error (&error);
  s = vtp_wordpiece_decode (wp, (gint32[]) { -5 }, 1, FALSE, &error);
  g_assert_null (s);
  g_assert_nonnull (strstr (error->message, "id -5"));
  g_clear_error (&error);
  s = vtp_wordpiece_decode (wp, NULL, 0, FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (s, ==, "");
  g_free (s);
  /* an unk_token missing from the vocab is an error only when needed */
  {
    g_autoptr (VtpWordPiece) t = vtp_wordpiece_new_from_data ("{\"model\":{\"type\":\"WordPiece\",\"unk_token\":"
        "\"<unk>\",\"vocab\":{\"a\":0}}}", -1, "nounk.json", &error);
    g_assert_no_error (error);
    ids = vtp_wordpiece_encode (t, "a", TRUE, 0, &error);     /* no pre-tokenizer: one word */
    g_assert_no_error (error);
    g_assert_cmpuint (ids->len, ==, 1);
    g_clear_pointer (&ids, g_array_unref);
    ids = vtp_wordpiece_encode (t, "a b", TRUE, 0, &error);
    g_assert_null (ids);
    g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
    g_assert_nonnull (strstr (error->message, "nounk.json: model.unk_token \"<unk>\" is not in model.vocab"));
    g_clear_error (&error);
  }
}

static gboolean
try_load (const char *data, gsize len, const char *name, GError **error)
{
  g_autoptr (VtpWordPiece) wp = vtp_wordpiece_new_from_data (data, len, name, error);
  g_autoptr (GArray) ids = NULL;
  g_autofree char *s = NULL;
  if (!wp)
    return FALSE;
  ids = vtp_wordpiece_encode (wp, "hello [SEP] world 😀 é 中", TRUE, 0, NULL);
  s = ids ? vtp_wordpiece_decode (wp, (gint32 *) ids->data, ids->len, FALSE, NULL) : NULL;
  return TRUE;
}

/* Every truncation and many corruptions of a real file: an error or a
 * working tokenizer, never a crash */
static void
test_malformed_files (void)
{
  g_autofree char *path = fixture_file ("variants", "tokenizer.json");
  check_malformed_files (path, 5, 200, try_load);
}

/* Random bytes and random ids: errors for invalid UTF-8 / unknown ids,
 * otherwise ids in range, and never a crash */
static void
test_random_input (void)
{
  static const char *const names[] = { "uncased", "cased", "variants" };
  GRand *rng = g_rand_new_with_seed (7);

  for (guint t = 0; t < G_N_ELEMENTS (names); t++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *path = fixture_file (names[t], "tokenizer.json");
    g_autoptr (VtpWordPiece) wp = vtp_wordpiece_new_from_file (path, &error);
    gsize vocab;
    g_assert_no_error (error);
    vocab = vtp_wordpiece_get_vocab_size (wp);
    for (guint i = 0; i < 1500; i++) {
      char buf[65];
      guint n = g_rand_int_range (rng, 0, sizeof buf - 1);
      g_autoptr (GArray) ids = NULL;
      for (guint k = 0; k < n; k++) {
        buf[k] = i % 2 ? (char) g_rand_int_range (rng, 1, 256)
            : " ab[]SEP#\xc3\xa9\xcc\x81\xe4\xb8\xad."[g_rand_int_range (rng, 0, 18)];
      }
      buf[n] = 0;
      ids = vtp_wordpiece_encode (wp, buf, i % 3 != 0, i % 5 == 0 ? 8 : 0, &error);
      if (!ids) {
        g_assert_error (error, VTP_WORDPIECE_ERROR, VTP_WORDPIECE_ERROR_INPUT);
        g_clear_error (&error);
        continue;
      }
      for (guint k = 0; k < ids->len; k++) {
        gint32 id = g_array_index (ids, gint32, k);
        g_assert_true (id >= 0 && (gsize) id < vocab);
      }
      {
        g_autofree char *s = vtp_wordpiece_decode (wp, (gint32 *) ids->data, ids->len, i % 2, &error);
        g_assert_no_error (error);
        g_assert_true (g_utf8_validate (s, -1, NULL));
      }
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
  g_autofree char *path = fixture_file ("uncased", "tokenizer.json");
  g_autofree char *vpath = fixture_file ("uncased-vocab", "vocab.txt");
  g_autoptr (GPtrArray) corpus = load_jsonl ("corpus.jsonl");
  g_autoptr (VtpWordPiece) wp = NULL;
  g_autoptr (VtpWordPiece) wv = NULL;
  GString *text = g_string_new (NULL);
  gint64 t0, t1, t2;
  double best = 1e9, best_short = 1e9;
  guint n_tokens = 0, reps = 0;

  t0 = g_get_monotonic_time ();
  wp = vtp_wordpiece_new_from_file (path, &error);
  t1 = g_get_monotonic_time ();
  wv = vtp_wordpiece_new_from_vocab (vpath, TRUE, -1, &error);
  t2 = g_get_monotonic_time ();
  g_assert_no_error (error);

  /* ~10 KB of varied corpus text */
  for (guint i = 0; text->len < 10240; i = (i + 37) % corpus->len) {
    const char *s = row_text (corpus, i);
    if (strlen (s) < 400)
      g_string_append (text, s), g_string_append_c (text, ' ');
  }
  for (gint64 start = g_get_monotonic_time (); reps < 5 || g_get_monotonic_time () - start < 300000; reps++) {
    gint64 a = g_get_monotonic_time ();
    g_autoptr (GArray) ids = vtp_wordpiece_encode (wp, text->str, TRUE, 0, &error);
    gint64 b = g_get_monotonic_time ();
    g_autoptr (GArray) ids2 = vtp_wordpiece_encode (wp, "What is unusual about this image?", TRUE, 128, &error);
    gint64 c = g_get_monotonic_time ();
    g_assert_no_error (error);
    n_tokens = ids->len;
    best = MIN (best, (b - a) / 1000.0);
    best_short = MIN (best_short, (c - b) / 1000.0);
  }
  g_print ("# timing: load tokenizer.json %.1f ms, vocab.txt %.1f ms; encode %" G_GSIZE_FORMAT " bytes -> %u tokens "
      "in %.3f ms (best of %u) = %.1f MB/s; a 33-byte instruction in %.1f us\n", (t1 - t0) / 1000.0,
      (t2 - t1) / 1000.0, text->len, n_tokens, best, reps, text->len / (best / 1000.0) / 1e6, best_short * 1000.0);
  g_string_free (text, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/wordpiece/corpus/uncased", "uncased", test_corpus);
  g_test_add_data_func ("/wordpiece/corpus/cased", "cased", test_corpus);
  g_test_add_func ("/wordpiece/variants", test_variants);
  g_test_add_func ("/wordpiece/truncation", test_truncation);
  g_test_add_func ("/wordpiece/decode", test_decode);
  g_test_add_func ("/wordpiece/unicode", test_unicode);
  g_test_add_func ("/wordpiece/api", test_api);
  g_test_add_func ("/wordpiece/vocab-file", test_vocab_file);
  g_test_add_func ("/wordpiece/errors", test_errors);
  g_test_add_func ("/wordpiece/malformed-files", test_malformed_files);
  g_test_add_func ("/wordpiece/random-input", test_random_input);
  g_test_add_func ("/wordpiece/timing", test_timing);
  return g_test_run ();
}
