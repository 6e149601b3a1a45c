/* vtp-model-cache.h: loaded model parts shared across elements and
 * pipelines of a process. Two vtpllm elements on the same checkpoint,
 * device and weight type use one copy of the weights on the device: the
 * parts are read-only once loaded (every forward pass has its own state). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef gpointer (*VtpModelLoadFunc) (gpointer user_data, GError **error);

/* The part cached under @key, loaded by @load on first use (loads are
 * serialized). Pair with vtp_model_cache_release. */
gpointer vtp_model_cache_acquire (const char *key, VtpModelLoadFunc load, gpointer user_data,
    GDestroyNotify free_func, GError **error);
void vtp_model_cache_release (gpointer part);
/* Number of parts alive in the cache. */
guint vtp_model_cache_size (void);

G_END_DECLS
