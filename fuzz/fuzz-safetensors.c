/* fuzz-safetensors.c: a .safetensors file: the 8-byte header length, the
 * JSON header and the tensor table (dtypes, shapes, data_offsets checked
 * against the data and each other). */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-safetensors.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GBytes) bytes = g_bytes_new (data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpSafetensors) st = vtp_safetensors_new_from_bytes (bytes, "fuzz.safetensors", &error);
  GHashTableIter it;
  gpointer value;

  if (!st)
    return 0;
  /* what a loader does next: read every tensor's bytes and describe it */
  g_hash_table_iter_init (&it, st->tensors);
  while (g_hash_table_iter_next (&it, NULL, &value)) {
    const VtpStTensor *t = value;
    g_autofree char *shape = vtp_shape_to_string (t->ndim, t->shape);
    g_assert (shape != NULL);
    guint8 sum = 0;

    for (gsize i = 0; i < t->n_bytes; i++)
      sum ^= t->data[i];
    (void) sum;
    g_assert (vtp_safetensors_find (st, t->name) == t);
  }
  return 0;
}
