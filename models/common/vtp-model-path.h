/* vtp-model-path.h: where a model named by the user is: a directory or a
 * .gguf file given as a path, or a name looked up in the directories of
 * $VTP_MODEL_PATH. One lookup for the elements (vtp_checkpoint_open) and
 * for vtp-run and libvtp-graph, which check a graph's model parameters
 * before anything is loaded. GLib only: no device, no model code. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* Where relative model names are looked up (colon-separated directories). */
#define VTP_MODEL_PATH_ENV "VTP_MODEL_PATH"

/* Resolves @model: a model directory or a .gguf file, as a path (absolute,
 * or relative to the working directory), else, for a relative name, the
 * first directory of $VTP_MODEL_PATH holding it. A directory of GGUF files
 * without config.json stands for its text model's file when it holds no
 * mmproj file. Returns the canonical path, or NULL with *@why (when @why is
 * not NULL) saying what was looked at, or why a directory cannot be used. */
char *vtp_model_path_resolve (const char *model, char **why);

/* The GGUF files of a directory without config.json: its only .gguf not
 * named mmproj* (the text model) and its only mmproj*.gguf, either NULL
 * when absent; FALSE with *@why listing them when there are several of a
 * kind. */
gboolean vtp_model_path_ggufs_in_dir (const char *dir, char **text, char **mmproj, char **why);

G_END_DECLS
