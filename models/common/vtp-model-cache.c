#include "vtp-model-cache.h"

typedef struct {
  char *key;
  gpointer part;
  GDestroyNotify free_func;
  gint refs;
} Entry;

static GMutex lock;
static GHashTable *by_key;      /* key -> Entry */
static GHashTable *by_part;     /* part -> Entry */

gpointer
vtp_model_cache_acquire (const char *key, VtpModelLoadFunc load, gpointer user_data,
    GDestroyNotify free_func, GError **error)
{
  Entry *e;
  gpointer part = NULL;

  g_mutex_lock (&lock);
  if (!by_key) {
    by_key = g_hash_table_new (g_str_hash, g_str_equal);
    by_part = g_hash_table_new (g_direct_hash, g_direct_equal);
  }
  e = g_hash_table_lookup (by_key, key);
  if (e) {
    e->refs++;
    part = e->part;
  } else if ((part = load (user_data, error))) {
    e = g_new0 (Entry, 1);
    e->key = g_strdup (key);
    e->part = part;
    e->free_func = free_func;
    e->refs = 1;
    g_hash_table_insert (by_key, e->key, e);
    g_hash_table_insert (by_part, part, e);
  }
  g_mutex_unlock (&lock);
  return part;
}

void
vtp_model_cache_release (gpointer part)
{
  Entry *e;

  if (!part)
    return;
  g_mutex_lock (&lock);
  e = by_part ? g_hash_table_lookup (by_part, part) : NULL;
  if (e && --e->refs == 0) {
    g_hash_table_remove (by_key, e->key);
    g_hash_table_remove (by_part, part);
  } else
    e = NULL;
  g_mutex_unlock (&lock);
  if (e) {
    e->free_func (e->part);
    g_free (e->key);
    g_free (e);
  }
}

guint
vtp_model_cache_size (void)
{
  guint n;
  g_mutex_lock (&lock);
  n = by_key ? g_hash_table_size (by_key) : 0;
  g_mutex_unlock (&lock);
  return n;
}
