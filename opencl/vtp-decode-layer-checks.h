/* vtp-decode-layer-checks.h: what the fused decode layer's launches
 * (vtp-decode-layer.c) and the whole step in one launch (vtp-decode-step.c)
 * share: their checks and launch sizes (internal to libvtp-opencl). */
#pragma once
#include "vtp-decode-layer.h"
#include "vtp-ops.h"

G_BEGIN_DECLS

#define VTP_DECODE_SYNC_INTS 32 /* decode-layer.cl: DL_SYNC_INTS, a layer's counters */

/* The counters a fused launch of @kernel takes are vtp_decode_layer_sync_new's,
 * for @layers layers (the pending error otherwise). */
gboolean vtp_decode_sync_check (const VtpTensor *sync, gint layers, const char *kernel);
/* @l's heads, its position and the attention's scale. */
VtpAttention vtp_decode_attention_of (const VtpDecodeLayer *l);
/* decode-layer.cl's @biases: bit i set where product i (q, k, v, o, gate,
 * up, down) has one. */
gint vtp_decode_bias_bits (const VtpTensor *bq, const VtpTensor *bk, const VtpTensor *bv, const VtpTensor *bo,
    const VtpTensor *b_gate, const VtpTensor *b_up, const VtpTensor *b_down);
/* Work-items of a fused launch. */
size_t vtp_decode_work_items (const VtpDevice *dev);
/* The checks of a one-row layer @l for @kernel, its type codes and groups
 * through the arrays (the pending error otherwise). */
gboolean vtp_decode_layer_check (const VtpDecodeLayer *l, gint *codes, gint *groups, const char *kernel);
/* The name of @kernel for @l's cache type: decode_layer, decode_layer_f16 ... */
void vtp_decode_kernel_name (const VtpDecodeLayer *l, const char *kernel, char *name, gsize size);
/* The layer's part of the rows @l (for the checks). */
VtpDecodeLayer vtp_decode_layer_of_rows (const VtpDecodeRows *l);
/* The checks both halves of the rows make; the type codes and groups
 * through the arrays (the pending error otherwise). */
gboolean vtp_decode_rows_check (const VtpDecodeRows *l, gint *codes, gint *groups);

G_END_DECLS
