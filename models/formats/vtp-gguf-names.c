#include "vtp-gguf-names.h"
#include <stdio.h>
#include <string.h>

/* @base with @prefix then a number then a dot: the number, the rest in *part. */
static gboolean
layer_of (const char *base, const char *prefix, gint *layer, const char **part)
{
  const gsize n = strlen (prefix);
  gint used = 0;

  if (strncmp (base, prefix, n) || sscanf (base + n, "%d.%n", layer, &used) != 1 || used == 0 || *layer < 0)
    return FALSE;
  *part = base + n + used;
  return TRUE;
}

char *
vtp_gguf_rename (const VtpGgufNaming *naming, const char *name, gboolean to_vtp)
{
  const char *dot = strrchr (name, '.'), *part;
  const char *from_layer = to_vtp ? naming->gguf_layer : naming->vtp_layer;
  const char *to_layer = to_vtp ? naming->vtp_layer : naming->gguf_layer;
  g_autofree char *base = NULL;
  gint layer;

  if (!dot || (strcmp (dot, ".weight") && strcmp (dot, ".bias")))
    return NULL;
  base = g_strndup (name, dot - name);
  if (layer_of (base, from_layer, &layer, &part)) {
    for (const VtpGgufName *r = naming->layer; r->gguf; r++)
      if (!strcmp (part, to_vtp ? r->gguf : r->vtp))
        return g_strdup_printf ("%s%d.%s%s", to_layer, layer, to_vtp ? r->vtp : r->gguf, dot);
    return NULL;
  }
  for (const VtpGgufName *r = naming->whole; r->gguf; r++)
    if (!strcmp (base, to_vtp ? r->gguf : r->vtp))
      return g_strconcat (to_vtp ? r->vtp : r->gguf, dot, NULL);
  return NULL;
}
