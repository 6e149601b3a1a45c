/* vtp-lm-input.h: what every language-model family takes as input: pieces
 * of token ids and of precomputed embeddings (image tokens, Q-Former
 * queries), and the host-side gather of token embedding rows from a mapped
 * checkpoint table (only the rows in use travel to the device). */
#pragma once
#include "vtp-safetensors.h"

G_BEGIN_DECLS

/* One piece of the model input: token ids, or rows of precomputed
 * embeddings on the device (as wide as the model's input embeddings). */
typedef struct {
  const gint32 *ids;
  const VtpTensor *embeds;
  gint row0;                  /* first row of @embeds */
  gint n;
} VtpLmSegment;

/* Checks that @t (named @name, in @where) is a float [vocab, width] table
 * the rows can be gathered from. */
gboolean vtp_lm_check_embed_table (const VtpStTensor *t, const char *name, const char *where, gint64 vocab,
    gint64 width, GError **error);

/* Rows @ids[0 .. n) of the [vocab, width] table @t (F32, F16, BF16 or
 * ggml blocks) as floats into @out [n, width]; an INPUT error for an id
 * outside the vocabulary. */
gboolean vtp_lm_gather_rows (const VtpStTensor *t, gint vocab, gint width, const gint32 *ids, gint n, float *out,
    GError **error);

/* The whole [vocab, width] table @t on @dev, for lookups on the device
 * (vtp_op_embed): F32, F16 and BF16 tables as they are, ggml blocks
 * dequantized to F32, so that each row reads as vtp_lm_gather_rows gives
 * it. Made once, at the first call, under its lock (a model shared by
 * streams on several threads); NULL with @error when it cannot be. */
typedef struct {
  GMutex lock;
  VtpTensor *table;
} VtpLmDeviceTable;

void vtp_lm_device_table_init (VtpLmDeviceTable *d);
const VtpTensor *vtp_lm_device_table_get (VtpLmDeviceTable *d, VtpDevice *dev, const VtpStTensor *t, gint vocab,
    gint width, GError **error);
void vtp_lm_device_table_clear (VtpLmDeviceTable *d);

/* The total rows of @segments; an INPUT error when it is 0 or does not fit
 * positions [n_past, max_ctx), or (@all_logits) one chunk of @max_chunk. */
gboolean vtp_lm_check_input (const VtpLmSegment *segments, gint n_segments, gint n_past, gint max_ctx,
    gint max_chunk, gboolean all_logits, gint *total, GError **error);

/* One stream of a decode batch as the families' batched steps check it:
 * its state, the model that state was made for, its positions used and
 * its room. */
typedef struct {
  gconstpointer state, model;
  gint n_past, max_ctx;
} VtpLmBatchStream;

/* An INPUT error for a decode batch made for fewer than one stream. */
gboolean vtp_lm_check_batch_room (gint max_streams, GError **error);
/* An INPUT error, before anything runs, for a batch of @n streams that
 * does not fit 1 .. @max_streams, a stream without a state, of another
 * model than @model or without room for one more position, and the same
 * state twice (the families' vtp_*_decode_batch). */
gboolean vtp_lm_check_batch (gconstpointer model, const VtpLmBatchStream *streams, gint n, gint max_streams,
    GError **error);
/* Defines a family's `static gboolean check_batch (M *m, gint max_streams,
 * S **states, gint n, GError **error)`: vtp_lm_check_batch over its states
 * (each with model, n_past and max_ctx fields). */
#define VTP_LM_DEFINE_CHECK_BATCH(M, S)                                        \
static gboolean                                                                \
check_batch (M *m, gint max_streams, S **states, gint n, GError **error)       \
{                                                                              \
  g_autofree VtpLmBatchStream *streams = g_new0 (VtpLmBatchStream, MAX (n, 1)); \
                                                                               \
  for (gint i = 0; i < n && n <= max_streams; i++)                             \
    if (states[i])                                                             \
      streams[i] = (VtpLmBatchStream) { states[i], states[i]->model, states[i]->n_past, states[i]->max_ctx }; \
  return vtp_lm_check_batch (m, streams, n, max_streams, error);               \
}

/* Rows [from, from + count) of the segments' concatenation, as segments
 * into @out (room for @n_segments); returns how many. */
gint vtp_lm_segments_slice (const VtpLmSegment *segments, gint n_segments, gint from, gint count,
    VtpLmSegment *out);

G_END_DECLS
