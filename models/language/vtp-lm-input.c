#include "vtp-lm-input.h"
#include "vtp-quant.h"
#include <string.h>

gboolean
vtp_lm_check_embed_table (const VtpStTensor *t, const char *name, const char *where, gint64 vocab, gint64 width,
    GError **error)
{
  g_autofree char *found = NULL;

  if (t && t->ndim == 2 && t->shape[0] == vocab && t->shape[1] == width && t->dtype_supported
      && t->dtype != VTP_DTYPE_I32 && t->dtype != VTP_DTYPE_U8 && t->dtype != VTP_DTYPE_I64)
    return TRUE;
  found = t ? vtp_shape_to_string (t->ndim, t->shape) : NULL;
  g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "%s: tensor '%s' is %s %s, expected a float [%" G_GINT64_FORMAT
      ", %" G_GINT64_FORMAT "] (vocab_size x the embedding width from config.json)", t ? t->file : where, name,
      t ? t->dtype_name : "absent", found ? found : "", vocab, width);
  return FALSE;
}

gboolean
vtp_lm_gather_rows (const VtpStTensor *e, gint vocab, gint width, const gint32 *ids, gint n, float *out,
    GError **error)
{
  for (gint i = 0; i < n; i++) {
    float *row = out + (gsize) i * width;
    if (ids[i] < 0 || ids[i] >= vocab) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Token id %d is outside the vocabulary of %d", ids[i], vocab);
      return FALSE;
    }
    if (e->dtype == VTP_DTYPE_F32) {
      memcpy (row, e->data + (gsize) ids[i] * width * 4, (gsize) width * 4);
    } else if (vtp_dtype_is_quantized (e->dtype)) {
      /* a GGUF's table in ggml blocks: a row is whole blocks */
      const gsize row_bytes = vtp_dtype_row_bytes (e->dtype, width);
      vtp_dequantize_row (e->dtype, e->data + (gsize) ids[i] * row_bytes, width, row);
    } else {
      /* memcpy: the mapped table is unaligned after an odd-length safetensors header */
      const guint8 *h = e->data + (gsize) ids[i] * width * 2;
      for (gint c = 0; c < width; c++) {
        guint16 v;
        memcpy (&v, h + 2 * c, 2);
        row[c] = e->dtype == VTP_DTYPE_F16 ? vtp_f16_to_f32 (v) : vtp_bf16_to_f32 (v);
      }
    }
  }
  return TRUE;
}

/* Rows gathered at a time into the staging buffer of a dequantized table */
#define TABLE_ROWS_AT_ONCE 256

static VtpTensor *
table_to_device (VtpDevice *dev, const VtpStTensor *t, gint vocab, gint width, GError **error)
{
  const gint64 shape[2] = { vocab, width };
  g_autofree float *rows = NULL;
  g_autofree gint32 *ids = NULL;
  VtpTensor *d;

  if (t->dtype == VTP_DTYPE_F32 || t->dtype == VTP_DTYPE_F16 || t->dtype == VTP_DTYPE_BF16)
    return vtp_tensor_new_from_data (dev, t->dtype, 2, shape, t->data, error);
  if (!(d = vtp_tensor_new (dev, VTP_DTYPE_F32, 2, shape, error)))
    return NULL;
  rows = g_new (float, (gsize) TABLE_ROWS_AT_ONCE * width);
  ids = g_new (gint32, TABLE_ROWS_AT_ONCE);
  for (gint r0 = 0; r0 < vocab; r0 += TABLE_ROWS_AT_ONCE) {
    const gint n = MIN (TABLE_ROWS_AT_ONCE, vocab - r0);
    for (gint i = 0; i < n; i++)
      ids[i] = r0 + i;
    if (!vtp_lm_gather_rows (t, vocab, width, ids, n, rows, error)
        || !vtp_tensor_write (d, (gsize) r0 * width * sizeof (float), rows, (gsize) n * width * sizeof (float),
            error)) {
      vtp_tensor_free (d);
      return NULL;
    }
  }
  return d;
}

void
vtp_lm_device_table_init (VtpLmDeviceTable *d)
{
  g_mutex_init (&d->lock);
  d->table = NULL;
}

const VtpTensor *
vtp_lm_device_table_get (VtpLmDeviceTable *d, VtpDevice *dev, const VtpStTensor *t, gint vocab, gint width,
    GError **error)
{
  const VtpTensor *table;

  g_mutex_lock (&d->lock);
  if (!d->table && !(d->table = table_to_device (dev, t, vocab, width, error)))
    g_prefix_error (error, "The token embeddings on the device (%s): ", t->file);
  table = d->table;
  g_mutex_unlock (&d->lock);
  return table;
}

void
vtp_lm_device_table_clear (VtpLmDeviceTable *d)
{
  g_clear_pointer (&d->table, vtp_tensor_free);
  g_mutex_clear (&d->lock);
}

gboolean
vtp_lm_check_input (const VtpLmSegment *segments, gint n_segments, gint n_past, gint max_ctx, gint max_chunk,
    gboolean all_logits, gint *total, GError **error)
{
  gint64 t = 0;

  for (gint i = 0; i < n_segments; i++)
    t += segments[i].n;
  if (t == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The language model got an empty input");
    return FALSE;
  }
  if (n_past + t > max_ctx) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "The input of %" G_GINT64_FORMAT " tokens does not fit the "
        "context: %d of %d positions are free (raise the context length or shorten the prompt)", t,
        max_ctx - n_past, max_ctx);
    return FALSE;
  }
  if (all_logits && t > max_chunk) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "All-position logits need the %" G_GINT64_FORMAT " tokens in "
        "one chunk of at most %d", t, max_chunk);
    return FALSE;
  }
  *total = (gint) t;
  return TRUE;
}

gint
vtp_lm_segments_slice (const VtpLmSegment *segments, gint n_segments, gint from, gint count, VtpLmSegment *out)
{
  gint n = 0, start = 0;

  for (gint i = 0; i < n_segments && count > 0; start += segments[i].n, i++) {
    const VtpLmSegment *g = &segments[i];
    const gint lo = MAX (from, start), hi = MIN (from + count, start + g->n);
    if (lo >= hi)
      continue;
    out[n] = *g;
    if (g->ids)
      out[n].ids = g->ids + (lo - start);
    else
      out[n].row0 = g->row0 + (lo - start);
    out[n].n = hi - lo;
    n++;
  }
  return n;
}

gboolean
vtp_lm_check_batch_room (gint max_streams, GError **error)
{
  if (max_streams >= 1)
    return TRUE;
  g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A decode batch needs room for at least one stream (asked %d)",
      max_streams);
  return FALSE;
}

gboolean
vtp_lm_check_batch (gconstpointer model, const VtpLmBatchStream *streams, gint n, gint max_streams, GError **error)
{
  if (n < 1 || n > max_streams) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "A decode batch of %d streams; this batch takes 1 to %d", n,
        max_streams);
    return FALSE;
  }
  for (gint i = 0; i < n; i++) {
    const VtpLmBatchStream *s = &streams[i];
    if (!s->state || s->model != model) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Stream %d of the decode batch has %s", i,
          s->state ? "a state of another model" : "no state");
      return FALSE;
    }
    if (s->n_past >= s->max_ctx) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Stream %d of the decode batch has no room for another "
          "position: its context of %d positions is full", i, s->max_ctx);
      return FALSE;
    }
    for (gint j = 0; j < i; j++)
      if (streams[j].state == s->state) {
        g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Streams %d and %d of the decode batch have the same "
            "state", j, i);
        return FALSE;
      }
  }
  return TRUE;
}
