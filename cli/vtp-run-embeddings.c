/* vtp-run-embeddings.c: vtp-run --format embeddings (see
 * vtp-run-embeddings.h and docs/embeddings.md). */
#include "vtp-run-embeddings.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

typedef struct {
  char *source, *kind, *file;
  guint64 pts;
  guint tokens, width;
  GBytes *ids;                  /* text only */
} Entry;

/* One side: pictures or captions. */
typedef struct {
  const char *prefix;           /* "image", "text" */
  GArray *entries;              /* Entry */
  GArray *pooled;               /* float: one mean row per entry */
  guint width;
} Side;

struct _RunEmbeddings {
  char *dir, *graph;
  Side images, texts;
};

static void
entry_clear (Entry *en)
{
  g_free (en->source);
  g_free (en->kind);
  g_free (en->file);
  g_clear_pointer (&en->ids, g_bytes_unref);
}

static void
side_init (Side *s, const char *prefix)
{
  s->prefix = prefix;
  s->entries = g_array_new (FALSE, TRUE, sizeof (Entry));
  g_array_set_clear_func (s->entries, (GDestroyNotify) entry_clear);
  s->pooled = g_array_new (FALSE, FALSE, sizeof (float));
}

gboolean
run_embeddings_write_npy (const char *path, const float *data, guint rows, guint cols, GError **error)
{
  g_autoptr (GString) header = g_string_new (NULL);
  FILE *f;
  guint16 len;
  gboolean ok;

  g_string_printf (header, "{'descr': '%cf4', 'fortran_order': False, 'shape': (%u, %u), }",
      G_BYTE_ORDER == G_LITTLE_ENDIAN ? '<' : '>', rows, cols);
  /* magic (6) + version (2) + length (2) + header, a multiple of 64, the header ending in a newline */
  while ((10 + header->len + 1) % 64)
    g_string_append_c (header, ' ');
  g_string_append_c (header, '\n');
  len = GUINT16_TO_LE ((guint16) header->len);
  if (!(f = g_fopen (path, "wb"))) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s", path, g_strerror (errno));
    return FALSE;
  }
  ok = fwrite ("\x93NUMPY\x01\x00", 1, 8, f) == 8 && fwrite (&len, 2, 1, f) == 1
      && fwrite (header->str, 1, header->len, f) == header->len
      && (!rows || !cols || fwrite (data, sizeof (float) * cols, rows, f) == rows);
  ok = (fclose (f) == 0) && ok;
  if (!ok)
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s", path, g_strerror (errno));
  return ok;
}

RunEmbeddings *
run_embeddings_new (const char *dir, const char *graph, GError **error)
{
  g_autofree char *probe = g_build_filename (dir, "index.json", NULL);
  RunEmbeddings *e;
  FILE *f;

  if (g_mkdir_with_parents (dir, 0777) != 0) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: cannot make the directory: %s", dir,
        g_strerror (errno));
    return NULL;
  }
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOTDIR, "%s: --format embeddings writes files into a "
        "directory: --output names one (made when missing)", dir);
    return NULL;
  }
  /* index.json now, so that a directory that cannot be written fails before the models load */
  if (!(f = g_fopen (probe, "w"))) {
    g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errno), "%s: %s", probe, g_strerror (errno));
    return NULL;
  }
  fclose (f);
  e = g_new0 (RunEmbeddings, 1);
  e->dir = g_strdup (dir);
  e->graph = g_strdup (graph);
  side_init (&e->images, "image");
  side_init (&e->texts, "text");
  return e;
}

gboolean
run_embeddings_add (RunEmbeddings *e, const char *source, const char *kind, guint64 pts, guint tokens,
    guint width, GBytes *data, GBytes *ids, const char **file, GError **error)
{
  Side *s = ids ? &e->texts : &e->images;
  gsize size;
  const float *rows = g_bytes_get_data (data, &size);
  g_autofree char *path = NULL;
  Entry en = { 0 };

  if (size != (gsize) tokens * width * sizeof (float) || !tokens) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %u x %u embeddings in %" G_GSIZE_FORMAT " bytes",
        source, tokens, width, size);
    return FALSE;
  }
  if (s->width && s->width != width) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %u-wide embeddings after %u-wide ones", source,
        width, s->width);
    return FALSE;
  }
  s->width = width;
  en.file = g_strdup_printf ("%s-%04u.npy", s->prefix, s->entries->len);
  path = g_build_filename (e->dir, en.file, NULL);
  if (!run_embeddings_write_npy (path, rows, tokens, width, error)) {
    g_free (en.file);
    return FALSE;
  }
  en.source = g_strdup (source);
  en.kind = g_strdup (kind);
  en.pts = pts;
  en.tokens = tokens;
  en.width = width;
  en.ids = ids ? g_bytes_ref (ids) : NULL;
  g_array_append_val (s->entries, en);
  *file = en.file;
  {
    /* the pooled vector: the mean over the rows (in double, then float) */
    g_autofree double *sum = g_new0 (double, width);
    float *mean;
    for (guint t = 0; t < tokens; t++)
      for (guint c = 0; c < width; c++)
        sum[c] += rows[(gsize) t * width + c];
    g_array_set_size (s->pooled, s->pooled->len + width);
    mean = &g_array_index (s->pooled, float, s->pooled->len - width);
    for (guint c = 0; c < width; c++)
      mean[c] = (float) (sum[c] / tokens);
  }
  return TRUE;
}

static gboolean
finish_side (RunEmbeddings *e, Side *s, JsonBuilder *b, GError **error)
{
  g_autofree char *pooled = g_strdup_printf ("%s-pooled.npy", s->prefix);
  g_autofree char *path = g_build_filename (e->dir, pooled, NULL);

  json_builder_set_member_name (b, s == &e->images ? "images" : "texts");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->entries->len; i++) {
    const Entry *en = &g_array_index (s->entries, Entry, i);
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "file");
    json_builder_add_string_value (b, en->file);
    json_builder_set_member_name (b, "source");
    json_builder_add_string_value (b, en->source);
    json_builder_set_member_name (b, "kind");
    json_builder_add_string_value (b, en->kind);
    if (!en->ids) {
      json_builder_set_member_name (b, "pts");
      json_builder_add_double_value (b, en->pts == G_MAXUINT64 ? -1 : en->pts / 1e9);
    }
    json_builder_set_member_name (b, "shape");
    json_builder_begin_array (b);
    json_builder_add_int_value (b, en->tokens);
    json_builder_add_int_value (b, en->width);
    json_builder_end_array (b);
    if (en->ids) {
      gsize n;
      const gint32 *ids = g_bytes_get_data (en->ids, &n);
      json_builder_set_member_name (b, "ids");
      json_builder_begin_array (b);
      for (gsize j = 0; j < n / sizeof (gint32); j++)
        json_builder_add_int_value (b, ids[j]);
      json_builder_end_array (b);
    }
    json_builder_set_member_name (b, "pooled_row");
    json_builder_add_int_value (b, i);
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  if (!s->entries->len)
    return TRUE;
  json_builder_set_member_name (b, s == &e->images ? "images_pooled" : "texts_pooled");
  json_builder_add_string_value (b, pooled);
  return run_embeddings_write_npy (path, (const float *) s->pooled->data, s->entries->len, s->width, error);
}

gboolean
run_embeddings_finish (RunEmbeddings *e, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *path = g_build_filename (e->dir, "index.json", NULL);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "graph");
  json_builder_add_string_value (b, e->graph);
  json_builder_set_member_name (b, "format");
  json_builder_add_string_value (b, "float32 .npy: each entry [tokens, width]; *_pooled [entries, width]");
  json_builder_set_member_name (b, "pooling");
  json_builder_add_string_value (b, "mean over the rows (tokens) of each entry");
  if (!finish_side (e, &e->images, b, error) || !finish_side (e, &e->texts, b, error))
    return FALSE;
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  return json_generator_to_file (gen, path, error);
}

void
run_embeddings_free (RunEmbeddings *e)
{
  if (!e)
    return;
  g_array_unref (e->images.entries);
  g_array_unref (e->images.pooled);
  g_array_unref (e->texts.entries);
  g_array_unref (e->texts.pooled);
  g_free (e->dir);
  g_free (e->graph);
  g_free (e);
}
