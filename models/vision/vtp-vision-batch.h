/* vtp-vision-batch.h: one batching engine per loaded vision tower, shared
 * by every caller that encodes with it (vtpencoder batch=N, one element per
 * camera; docs/batching.md, "Batched vision encoding"). A caller hands it
 * its picture (pixels already on the device) and where the features go,
 * and blocks until they are encoded. The engine's thread takes every
 * request that is waiting when it is free, up to the most any caller asked
 * for, and encodes them together (vtp_vision_tower_forward_many: one matrix
 * product per projection for all their tokens, the weights read once);
 * each picture's features are the bits it gets alone. Nothing waits on
 * purpose: a request that finds the engine idle is encoded at once, alone,
 * and the frames that come meanwhile go together next. No GStreamer here. */
#pragma once
#include "vtp-vision.h"

G_BEGIN_DECLS

typedef struct _VtpVisionBatch VtpVisionBatch;

/* The engine of @m, made (with its thread) on first use, for up to
 * @max_images pictures at a time (1 .. 64); later callers share it (it is
 * kept in the model cache), and one that asks for more makes it grow to
 * that many from its next batch. Pair with vtp_vision_batch_release, before
 * @m itself is released. */
VtpVisionBatch *vtp_vision_batch_acquire (VtpVisionTower *m, gint max_images, GError **error);
/* The last release stops the thread (no request may be running then). */
void vtp_vision_batch_release (VtpVisionBatch *b);
gint vtp_vision_batch_max_images (const VtpVisionBatch *b);
/* While paused the engine starts no batch: requests queue, and resuming
 * encodes them together (up to max_images at a time). For tests, and for
 * an application that wants a set of pictures encoded as one batch. */
void vtp_vision_batch_set_paused (VtpVisionBatch *b, gboolean paused);
/* Requests waiting for a batch (for tests). */
guint vtp_vision_batch_queued (VtpVisionBatch *b);

/* What one request went through. */
typedef struct {
  double wait_ms;               /* from the request to the start of its batch */
  double encode_ms;             /* its batch's encoding (enqueued work: the device may still run it) */
  gint images;                  /* pictures in its batch, itself included */
} VtpVisionBatchStats;

/* Encodes @pixels ([3, S, S] F32 on the tower's device) into @features
 * ([rows, width] F32, vtp_vision_tower_feature_rows/width) in the engine's
 * next batch; blocks until the batch is enqueued on the device (whose
 * queue runs in order, so what the caller enqueues next sees the
 * features). Neither tensor may be touched by anyone else until this
 * returns. FALSE with @error when the batch failed (every picture of it
 * gets the error). @stats may be NULL. */
gboolean vtp_vision_batch_encode (VtpVisionBatch *b, VtpTensor *pixels, VtpTensor *features,
    VtpVisionBatchStats *stats, GError **error);

G_END_DECLS
