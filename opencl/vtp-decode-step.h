/* vtp-decode-step.h: a whole decode step in one launch on PoCL CPUs
 * (decode-layer.cl's decode_token and decode_rows_token): the layers of
 * vtp-decode-layer.h one after another in one kernel, with the head, the
 * RoPE angles and for a batch its streams' attention, without the ~20 us
 * each launch between them costs under PoCL (docs/performance.md
 * "2026-12-07, sixth session"). A kernel's arguments are a fixed list, so
 * the layers' weights and caches reach it through a table of their device
 * addresses (VtpDecodeToken). */
#pragma once
#include "vtp-decode-layer.h"

G_BEGIN_DECLS

/* One stream's step (decode_token): its layers one after another, then the
 * head. The same bits as a launch a layer and the head's vtp_op_rmsnorm
 * and vtp_op_linear. */
typedef struct {
  const VtpTensor *norm;        /* the final RMSNorm's weights [D], F32 */
  const VtpTensor *w;           /* the head's weights [V, D]: a panel kernel's (vtp_linear_gemv_panels) */
  VtpTensor *logits;            /* row @row gets the V logits */
  gint row;
} VtpDecodeHead;

/* The layers' table the launch reads its weights and caches from (their
 * device addresses), made on first use and again whenever the tensors or
 * ints it was made for change (told by the tensors' serials: it holds no
 * reference, so a finished stream's cache is freed at once). */
typedef struct _VtpDecodeToken VtpDecodeToken;
void vtp_decode_token_free (VtpDecodeToken *t);

/* TRUE when @n layers, each taking vtp_decode_layer_fits, take one launch:
 * Llama layers (not OPT's) of one shape sharing their rows, caches of one
 * type, counters for @n layers, and $VTP_DECODE_TOKEN not "0". */
gboolean vtp_decode_token_fits (const VtpDecodeLayer *layers, gint n);
/* TRUE when the head @h goes into the launch after @last, the last layer. */
gboolean vtp_decode_head_fits (const VtpDecodeHead *h, const VtpDecodeLayer *last);

/* Enqueues the step (with the head unless @head is NULL) through the table
 * *@token (made or remade here); with @inv_freq ([head_dim / 2] F32) the
 * launch first writes the position's RoPE angles into row 0 of the
 * layers' rope (as vtp_op_rope_angles), else that row holds them. A bad
 * shape becomes the pending error. */
void vtp_op_decode_token (VtpDecodeToken **token, const VtpDecodeLayer *layers, gint n, const VtpTensor *inv_freq,
    const VtpDecodeHead *head);

/* A whole batched decode step in one launch (decode-layer.cl's
 * decode_rows_token): the streams' RoPE angles, every layer (as
 * decode_rows_in, each stream's cache store and attention, decode_rows_out)
 * and the head, each row's logits into its stream's. The same bits as
 * those launches one by one. Stream i (row i of the layers' rows): */
typedef struct {
  VtpTensor *const *k_cache, *const *v_cache;   /* its caches, one a layer */
  VtpTensor *scores;            /* its attention scores' scratch [>= H (pos + 1)] */
  VtpTensor *logits;            /* its logits' row 0 [V] (with a head) */
  gint pos;                     /* its position */
} VtpDecodeStream;

/* TRUE when the @n layers (each taking vtp_decode_rows_fits, sharing their
 * rows, with counters for n + 1 sets) and the layers' n_rows @streams
 * (caches of one type, F32, F16 or Q8_0) take one launch, and
 * $VTP_DECODE_TOKEN is not "0". */
gboolean vtp_decode_rows_token_fits (const VtpDecodeRows *layers, gint n, const VtpDecodeStream *streams);
/* TRUE when the head @h (its logits' rows 0 .. n_rows - 1) goes into that
 * launch after @last: an int8 panel kernel's weights. */
gboolean vtp_decode_rows_head_fits (const VtpDecodeHead *h, const VtpDecodeRows *last);

/* Enqueues the step (the RoPE angles from @inv_freq; with the head unless
 * @head is NULL) through the table *@token; a bad shape becomes the
 * pending error. */
void vtp_op_decode_rows_token (VtpDecodeToken **token, const VtpDecodeRows *layers, gint n,
    const VtpDecodeStream *streams, const VtpTensor *inv_freq, const VtpDecodeHead *head);

G_END_DECLS
