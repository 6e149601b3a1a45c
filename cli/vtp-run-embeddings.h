/* vtp-run-embeddings.h: vtp-run --format embeddings: the embeddings each
 * picture's bridge hands the language model, and the language model's
 * input embeddings of captions, as .npy files in a directory with an
 * index (docs/embeddings.md). */
#pragma once
#include <glib.h>

typedef struct _RunEmbeddings RunEmbeddings;

/* Makes @dir (and its parents) when needed and checks that files can be
 * written in it; NULL with the reason otherwise. */
RunEmbeddings *run_embeddings_new (const char *dir, const char *graph, GError **error);
/* One picture's (@ids NULL) or caption's embeddings, float32 [tokens,
 * width] in host order: written as the next image-NNNN.npy or
 * text-NNNN.npy (*@file: its name, valid until freed). */
gboolean run_embeddings_add (RunEmbeddings *e, const char *source, const char *kind, guint64 pts, guint tokens,
    guint width, GBytes *data, GBytes *ids, const char **file, GError **error);
/* Writes the pooled matrices and index.json. */
gboolean run_embeddings_finish (RunEmbeddings *e, GError **error);
void run_embeddings_free (RunEmbeddings *e);
/* Writes @data, float32 [rows, cols] in host order, as a .npy file. */
gboolean run_embeddings_write_npy (const char *path, const float *data, guint rows, guint cols, GError **error);
