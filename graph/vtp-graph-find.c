/* vtp-graph-find.c: graph files found by name (see vtp_graph_find_file()
 * in vtp-graph.h): $VTP_GRAPH_PATH, the source tree's graphs/ when the
 * library runs from its build directory, the installed share/vtp/graphs. */
#define _GNU_SOURCE             /* dladdr */
#include "vtp-graph.h"
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* VTP_GRAPHS_DIR: PREFIX/DATADIR/vtp/graphs; VTP_GRAPH_BUILD_DIR: where
 * meson builds this library; VTP_SOURCE_GRAPHS_DIR: the source tree's
 * graphs/ (all three from graph/meson.build) */

/* Whether this library is the one in its build directory (uninstalled),
 * not a copy installed elsewhere (a prefix, a DESTDIR). */
static gboolean
running_uninstalled (void)
{
  Dl_info info;
  g_autofree char *dir = NULL;
  char here[PATH_MAX], build[PATH_MAX];

  if (!dladdr ((void *) running_uninstalled, &info) || !info.dli_fname)
    return FALSE;
  dir = g_path_get_dirname (info.dli_fname);
  return realpath (dir, here) && realpath (VTP_GRAPH_BUILD_DIR, build) && !strcmp (here, build);
}

char **
vtp_graph_get_search_path (void)
{
  GPtrArray *dirs = g_ptr_array_new ();
  const char *env = g_getenv ("VTP_GRAPH_PATH");

  if (env) {
    g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
    for (guint i = 0; parts[i]; i++)
      if (parts[i][0])
        g_ptr_array_add (dirs, g_strdup (parts[i]));
  }
  if (running_uninstalled ())
    g_ptr_array_add (dirs, g_strdup (VTP_SOURCE_GRAPHS_DIR));
  g_ptr_array_add (dirs, g_strdup (VTP_GRAPHS_DIR));
  g_ptr_array_add (dirs, NULL);
  return (char **) g_ptr_array_free (dirs, FALSE);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The graphs' names in @dirs, sorted, each once: "blip2, llava-1.5, ..." */
static char *
list_graphs (char **dirs)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  GString *s = g_string_new (NULL);

  for (guint i = 0; dirs[i]; i++) {
    g_autoptr (GDir) d = g_dir_open (dirs[i], 0, NULL);
    const char *f;
    while (d && (f = g_dir_read_name (d))) {
      /* schema.json is the format's JSON Schema, not a graph */
      if (!g_str_has_suffix (f, ".json") || !strcmp (f, "schema.json"))
        continue;
      g_autofree char *name = g_strndup (f, strlen (f) - strlen (".json"));
      if (!g_ptr_array_find_with_equal_func (names, name, g_str_equal, NULL))
        g_ptr_array_add (names, g_steal_pointer (&name));
    }
  }
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", (char *) names->pdata[i]);
  return g_string_free (s, FALSE);
}

char *
vtp_graph_find_file (const char *name, GError **error)
{
  g_auto (GStrv) dirs = NULL;
  g_autofree char *file = NULL, *where = NULL, *names = NULL;

  g_return_val_if_fail (name != NULL, NULL);
  if (!*name) {
    g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARSE, "expected a graph file or a graph's name, "
        "not an empty string");
    return NULL;
  }
  /* a path: loading it names the file in any error */
  if (strchr (name, G_DIR_SEPARATOR) || g_file_test (name, G_FILE_TEST_IS_REGULAR))
    return g_strdup (name);
  file = g_str_has_suffix (name, ".json") ? g_strdup (name) : g_strconcat (name, ".json", NULL);
  dirs = vtp_graph_get_search_path ();
  for (guint i = 0; dirs[i]; i++) {
    g_autofree char *path = g_build_filename (dirs[i], file, NULL);
    if (g_file_test (path, G_FILE_TEST_IS_REGULAR))
      return g_steal_pointer (&path);
  }
  where = g_strjoinv (", ", dirs);
  names = list_graphs (dirs);
  g_set_error (error, VTP_GRAPH_ERROR, VTP_GRAPH_ERROR_PARSE, "%s: no such graph file, nor a graph of that name "
      "in %s (VTP_GRAPH_PATH adds directories); the graphs there: %s", name, where, *names ? names : "none");
  return NULL;
}
