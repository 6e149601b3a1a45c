/* tokenizer-test-util.h: what the tokenizer tests (test-tokenizer,
 * test-wordpiece) share to compare vtp with HF tokenizers' fixtures: .jsonl
 * rows, id lists, and mismatch bookkeeping that prints the first few in
 * full. Header-only. */
#pragma once
#include <glib.h>
#include <json-glib/json-glib.h>
#include <string.h>

/* One JsonNode (object) per line of the .jsonl file at @path; @made_by
 * names the script that writes it, for the message when it is missing */
static G_GNUC_UNUSED GPtrArray *
read_jsonl (const char *path, const char *made_by)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  g_auto (GStrv) lines = NULL;
  GPtrArray *rows = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);

  if (!g_file_get_contents (path, &data, NULL, &error))
    g_error ("cannot read fixture %s: %s (run %s)", path, error->message, made_by);
  lines = g_strsplit (data, "\n", -1);
  for (guint i = 0; lines[i]; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    if (!*lines[i])
      continue;
    if (!json_parser_load_from_data (p, lines[i], -1, &error))
      g_error ("%s:%u: %s", path, i + 1, error->message);
    g_ptr_array_add (rows, json_parser_steal_root (p));
  }
  return rows;
}

/* The array of ids @o[@key] as a GArray of gint32 */
static G_GNUC_UNUSED GArray *
json_ids (JsonObject *o, const char *key)
{
  JsonArray *a = json_object_get_array_member (o, key);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 v = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

static G_GNUC_UNUSED char *
ids_str (const GArray *ids)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; ids && i < ids->len; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", g_array_index (ids, gint32, i));
  g_string_append (s, "]");
  return g_string_free (s, FALSE);
}

static G_GNUC_UNUSED gboolean
ids_equal (const GArray *a, const GArray *b)
{
  return a && b && a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, a->len * sizeof (gint32)) == 0);
}

/* @s escaped and quoted, cut at 300 chars */
static G_GNUC_UNUSED char *
quoted (const char *s)
{
  g_autofree char *e = g_strescape (s ? s : "(null)", NULL);
  if (strlen (e) > 300)
    return g_strdup_printf ("\"%.300s\"... (%" G_GSIZE_FORMAT " bytes)", e, strlen (s));
  return g_strdup_printf ("\"%s\"", e);
}

/* Mismatch bookkeeping: the first few are printed in full */
typedef struct {
  const char *what;
  guint checked, failed;
} Tally;

static G_GNUC_UNUSED void
report_ids (Tally *t, const char *label, const char *text, const GArray *want, const GArray *got)
{
  t->checked++;
  if (ids_equal (want, got))
    return;
  if (t->failed++ < 5) {
    g_autofree char *q = quoted (text);
    g_autofree char *w = ids_str (want);
    g_autofree char *g = ids_str (got);
    g_printerr ("MISMATCH %s %s: text %s\n  HF:  %s\n  vtp: %s\n", t->what, label, q, w, g);
  }
}

static G_GNUC_UNUSED void
report_str (Tally *t, const char *label, const char *context, const char *want, const char *got)
{
  t->checked++;
  if (got && g_strcmp0 (want, got) == 0)
    return;
  if (t->failed++ < 5) {
    g_autofree char *c = quoted (context);
    g_autofree char *w = quoted (want);
    g_autofree char *g = quoted (got);
    g_printerr ("MISMATCH %s %s: for %s\n  HF:  %s\n  vtp: %s\n", t->what, label, c, w, g);
  }
}

/* Loads @len bytes of @data named @name: FALSE and @error when it is
 * refused, else TRUE after encoding and decoding some text with it */
typedef gboolean (*TryLoad) (const char *data, gsize len, const char *name, GError **error);

/* Every truncation (a step of 1 + cut / @step_div) and @n_corrupt random
 * corruptions of the file at @path: an error naming the file, or a working
 * tokenizer, never a crash */
static G_GNUC_UNUSED void
check_malformed_files (const char *path, guint step_div, guint n_corrupt, TryLoad try_load)
{
  static const char junk[] = "{}[]\":,0123456789 -+.eEnultrfas\\x\xc3\xa9";
  g_autofree char *data = NULL;
  gsize len;
  GRand *rng = g_rand_new_with_seed (42);
  guint n_err = 0, n_ok = 0;

  g_assert_true (g_file_get_contents (path, &data, &len, NULL));
  for (gsize cut = 0; cut < len; cut += 1 + cut / step_div) {
    g_autoptr (GError) error = NULL;
    g_assert_false (try_load (data, cut, "cut.json", &error));
    g_assert_nonnull (error);
    g_assert_true (g_str_has_prefix (error->message, "cut.json: "));
    n_err++;
  }
  for (guint i = 0; i < n_corrupt; i++) {
    g_autoptr (GError) error = NULL;
    g_autofree char *copy = g_memdup2 (data, len);
    for (guint k = 0; k < 1 + i % 4; k++)
      copy[g_rand_int_range (rng, 0, len)] = junk[g_rand_int_range (rng, 0, sizeof junk - 1)];
    if (try_load (copy, len, "bad.json", &error)) {
      n_ok++;
    } else {
      g_assert_nonnull (error);
      n_err++;
    }
  }
  g_test_message ("malformed files: %u rejected, %u still loadable", n_err, n_ok);
  g_rand_free (rng);
}
