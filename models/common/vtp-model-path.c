/* vtp-model-path.c: model names to paths (see vtp-model-path.h). */
#include "vtp-model-path.h"
#include <string.h>

static gboolean
is_gguf_name (const char *path)
{
  return g_str_has_suffix (path, ".gguf") || g_str_has_suffix (path, ".GGUF");
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static gboolean
is_mmproj_name (const char *name)
{
  return !g_ascii_strncasecmp (name, "mmproj", 6);
}

gboolean
vtp_model_path_ggufs_in_dir (const char *dir, char **text, char **mmproj, char **why)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr (GPtrArray) texts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) mmprojs = g_ptr_array_new_with_free_func (g_free);
  GPtrArray *found[2] = { texts, mmprojs };
  char **out[2] = { text, mmproj };
  const char *name;

  *text = *mmproj = NULL;
  for (name = d ? g_dir_read_name (d) : NULL; name; name = g_dir_read_name (d))
    if (is_gguf_name (name))
      g_ptr_array_add (found[is_mmproj_name (name)], g_strdup (name));
  for (guint k = 0; k < 2; k++) {
    if (found[k]->len == 1)
      *out[k] = g_build_filename (dir, g_ptr_array_index (found[k], 0), NULL);
    else if (found[k]->len > 1) {
      g_autofree char *list = NULL;
      g_ptr_array_sort (found[k], compare_names);
      g_ptr_array_add (found[k], NULL);
      list = g_strjoinv (", ", (char **) found[k]->pdata);
      if (why)
        *why = g_strdup_printf ("%s holds several GGUF %s (%s): name the file to use", dir,
            k ? "mmproj files" : "models", list);
      g_clear_pointer (text, g_free);
      g_clear_pointer (mmproj, g_free);
      return FALSE;
    }
  }
  return TRUE;
}

/* A model directory or a .gguf file at @path, canonical; NULL when @path
 * is neither (*@why set only when it is a directory that cannot be used).
 * A directory of GGUF files stands for its text model's file when it holds
 * no mmproj file, for itself (the pair) otherwise. */
static char *
model_at (const char *path, char **why)
{
  g_autofree char *dir = NULL, *config = NULL, *peft = NULL, *text = NULL, *mmproj = NULL;

  if (g_file_test (path, G_FILE_TEST_IS_REGULAR) && is_gguf_name (path))
    return g_canonicalize_filename (path, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_DIR))
    return NULL;
  dir = g_canonicalize_filename (path, NULL);
  config = g_build_filename (dir, "config.json", NULL);
  peft = g_build_filename (dir, "adapter_config.json", NULL);
  if (!g_file_test (config, G_FILE_TEST_EXISTS) && !g_file_test (peft, G_FILE_TEST_EXISTS)) {
    if (!vtp_model_path_ggufs_in_dir (dir, &text, &mmproj, why))
      return NULL;
    if (text && !mmproj)
      return g_steal_pointer (&text);
  }
  return g_steal_pointer (&dir);
}

char *
vtp_model_path_resolve (const char *model, char **why)
{
  const char *path_env = g_getenv (VTP_MODEL_PATH_ENV);
  g_autoptr (GString) tried = g_string_new (model);
  g_autofree char *local = NULL;
  char *found;

  if ((found = model_at (model, &local)) || local)
    goto out;
  if (path_env && !g_path_is_absolute (model)) {
    g_auto (GStrv) dirs = g_strsplit (path_env, ":", -1);
    for (guint i = 0; dirs[i]; i++) {
      g_autofree char *p = NULL;
      if (!*dirs[i])
        continue;
      p = g_build_filename (dirs[i], model, NULL);
      if ((found = model_at (p, &local)) || local)
        goto out;
      g_string_append_printf (tried, ", %s", p);
    }
  }
  local = g_strdup_printf ("Model directory or .gguf file \"%s\" not found (looked at %s; set %s to search more "
      "directories)", model, tried->str, VTP_MODEL_PATH_ENV);
out:
  if (found)
    return found;
  if (why)
    *why = g_steal_pointer (&local);
  return NULL;
}
