/* vtp-decode-layer.c: the fused decode layer's host side (decode-layer.cl):
 * a launch a layer (one row, or the batch's two halves), and the checks
 * vtp-decode-step.c's whole step in one launch shares. */
#include "vtp-decode-layer.h"
#include "vtp-decode-layer-checks.h"
#include "vtp-launch.h"
#include "vtp-ops.h"
#include "vtp-switch.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>


VtpTensor *
vtp_decode_layer_sync_new (VtpDevice *dev, gint layers, GError **error)
{
  const gint64 n = (gint64) VTP_DECODE_SYNC_INTS * MAX (layers, 1);
  g_autofree gint32 *zeros = g_new0 (gint32, n);
  VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, &n, zeros, error);
  if (!t)
    g_prefix_error (error, "The fused decode layer's counters: ");
  return t;
}

/* The counters a fused launch of @kernel takes are vtp_decode_layer_sync_new's,
 * for @layers layers */
gboolean
vtp_decode_sync_check (const VtpTensor *sync, gint layers, const char *kernel)
{
  return check (sync->dtype == VTP_DTYPE_I32 && vtp_tensor_n_elements (sync) >= (gint64) VTP_DECODE_SYNC_INTS * layers, kernel,
      "sync is not %d x %d I32 (vtp_decode_layer_sync_new)", VTP_DECODE_SYNC_INTS, layers);
}

VtpAttention
vtp_decode_attention_of (const VtpDecodeLayer *l)
{
  const VtpAttention a = { l->n_heads, l->n_kv_heads, l->head_dim, TRUE, l->pos, 1.0f / sqrtf ((float) l->head_dim) };
  return a;
}

/* The panel kernels of @l's products (vtp_linear_gemv_panels): @codes for
 * q, k, v, o, gate, up, down (OPT: up none, 0), @groups x's int8 grouping
 * for q | k | v, o, gate | up, down (0: float panels). FALSE when a product
 * takes another kernel, products of one x would copy it differently (all
 * float, or all int8 of one grouping), or with @int8_only one is float. */
static gboolean
layer_panels (const VtpDevice *dev, const VtpDecodeLayer *l, gboolean int8_only, gint *codes, gint *groups)
{
  const VtpTensor *w[7] = { l->wq, l->wk, l->wv, l->wo, l->w_gate, l->opt ? NULL : l->w_up, l->w_down };
  /* which x each product reads, and whether it is the first to */
  static const gint x_of[7] = { 0, 0, 0, 1, 2, 2, 3 }, first[7] = { 1, 0, 0, 1, 1, 0, 1 };

  for (gint i = 0; i < 7; i++) {
    gint g = 0;
    codes[i] = w[i] ? vtp_linear_gemv_panels (dev, w[i], &g) : 0;
    if (codes[i] < 0 || (int8_only && w[i] && g == 0) || (first[i] ? 0 : w[i] && g != groups[x_of[i]]))
      return FALSE;
    if (first[i])
      groups[x_of[i]] = g;
  }
  return TRUE;
}

static gboolean
bias_fits (const VtpTensor *b, gint64 n)
{
  return !b || (b->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (b) == n);
}

/* decode-layer.cl's @biases: bit i set where product i (q, k, v, o, gate, up, down) has one */
gint
vtp_decode_bias_bits (const VtpTensor *bq, const VtpTensor *bk, const VtpTensor *bv, const VtpTensor *bo,
    const VtpTensor *b_gate, const VtpTensor *b_up, const VtpTensor *b_down)
{
  const VtpTensor *b[7] = { bq, bk, bv, bo, b_gate, b_up, b_down };
  gint bits = 0;
  for (gint i = 0; i < 7; i++)
    bits |= (b[i] != NULL) << i;
  return bits;
}

/* The layer's weights, norms and biases fit a hidden size of @D, @QD query
 * and @KD key values, @I intermediate (the pending error otherwise). */
static gboolean
weights_check (const VtpDecodeLayer *l, gint64 D, gint64 QD, gint64 KD, gint64 I)
{
  return check (l->n_heads > 0 && l->n_kv_heads > 0 && l->n_heads % l->n_kv_heads == 0 && l->head_dim % 2 == 0,
          "decode_layer", "%d heads do not divide into %d kv heads of an even size", l->n_heads, l->n_kv_heads)
      && check (l->wq->shape[0] == QD && l->wk->shape[0] == KD && l->wv->shape[0] == KD && l->wo->shape[0] == D
          && (l->opt || (l->w_up->shape[0] == I && vtp_tensor_cols (l->w_up) == D)) && l->w_down->shape[0] == D
          && vtp_tensor_cols (l->wq) == D && vtp_tensor_cols (l->wk) == D && vtp_tensor_cols (l->wv) == D
          && vtp_tensor_cols (l->wo) == QD && vtp_tensor_cols (l->w_gate) == D && vtp_tensor_cols (l->w_down) == I,
          "decode_layer", "weights do not fit a hidden size of %" G_GINT64_FORMAT ", %d x %d query and %d x %d key "
          "heads", D, l->n_heads, l->head_dim, l->n_kv_heads, l->head_dim)
      && check (vtp_tensor_n_elements (l->attn_norm) == D && vtp_tensor_n_elements (l->ffn_norm) == D
          && l->attn_norm->dtype == VTP_DTYPE_F32 && l->ffn_norm->dtype == VTP_DTYPE_F32
          && (!l->opt || (l->attn_norm_b && l->ffn_norm_b && bias_fits (l->attn_norm_b, D)
              && bias_fits (l->ffn_norm_b, D))), "decode_layer", "norm weights (and OPT's biases) are not %"
          G_GINT64_FORMAT " F32", D)
      && check (bias_fits (l->bq, QD) && bias_fits (l->bk, KD) && bias_fits (l->bv, KD) && bias_fits (l->bo, D)
          && bias_fits (l->b_gate, I) && bias_fits (l->b_up, I) && bias_fits (l->b_down, D), "decode_layer",
          "a bias is not F32 of its product's width");
}

/* Work-items of a fused launch: one a compute unit ($VTP_DECODE_LAYER_GROUPS:
 * another count, for the tests: any count computes the same) */
size_t
vtp_decode_work_items (const VtpDevice *dev)
{
  return (size_t) vtp_switch_int ("VTP_DECODE_LAYER_GROUPS", (gint) dev->compute_units, 1, 64);
}

gboolean
vtp_decode_layer_fits (const VtpDecodeLayer *l)
{
  const VtpDevice *dev = l->x->dev;
  const gboolean f32_cache = l->k_cache->dtype == VTP_DTYPE_F32;
  gint codes[7], groups[4];

  return dev->pocl_cpu && dev->reduce_wg == 1 && vtp_switch_on ("VTP_DECODE_LAYER")
      && (f32_cache ? !l->k_new : l->k_new && l->v_new) && layer_panels (dev, l, FALSE, codes, groups);
}

/* The checks of a one-row layer @l for @kernel, its type codes and groups
 * through the arrays (the pending error otherwise). */
gboolean
vtp_decode_layer_check (const VtpDecodeLayer *l, gint *codes, gint *groups, const char *kernel)
{
  const VtpDevice *dev = l->x->dev;
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0];
  const gint64 QD = (gint64) l->n_heads * l->head_dim, KD = (gint64) l->n_kv_heads * l->head_dim;
  const gboolean store = l->k_new != NULL;
  const VtpTensor *kn = store ? l->k_new : l->k_cache, *vn = store ? l->v_new : l->v_cache;

  return check (dev->pocl_cpu && layer_panels (dev, l, FALSE, codes, groups), kernel,
          "the device or the weights' types do not take the fused layer (vtp_decode_layer_fits)")
      && weights_check (l, D, QD, KD, I)
      && check (vtp_tensor_cols (l->xn) == D && vtp_tensor_cols (l->q) >= QD && vtp_tensor_cols (l->attn) >= QD
          && vtp_tensor_cols (l->gate) == I && (l->opt || (vtp_tensor_cols (l->up) == I
              && vtp_tensor_cols (l->rope) == l->head_dim))
          && vtp_tensor_n_elements (l->scores) >= (gint64) l->n_heads * (l->pos + 1), kernel,
          "scratch rows too narrow for the layer")
      && check (vtp_tensor_cols (l->k_cache) == KD && vtp_tensor_cols (l->v_cache) == KD
          && l->v_cache->dtype == l->k_cache->dtype && rows_in (l->k_cache, l->pos, 1) && rows_in (l->v_cache, l->pos, 1)
          && (!store || (vtp_tensor_cols (kn) == KD && vtp_tensor_cols (vn) == KD && kn->dtype == VTP_DTYPE_F32
              && vn->dtype == VTP_DTYPE_F32 && (l->k_cache->dtype == VTP_DTYPE_F16
                  || (l->k_cache->dtype == VTP_DTYPE_Q8_0 && KD % 32 == 0)))),
          kernel, "caches must be [> %d, %" G_GINT64_FORMAT "] F32, or F16 / Q8_0 with F32 new rows", l->pos, KD);
}

/* The name of @kernel for @l's cache type: decode_layer, decode_layer_f16 .. */
void
vtp_decode_kernel_name (const VtpDecodeLayer *l, const char *kernel, char *name, gsize size)
{
  g_snprintf (name, size, "%s%s", kernel, l->k_cache->dtype == VTP_DTYPE_F16 ? "_f16"
      : l->k_cache->dtype == VTP_DTYPE_Q8_0 ? "_q8_0" : "");
}

void
vtp_op_decode_layer (const VtpDecodeLayer *l)
{
  VtpDevice *dev = l->x->dev;
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0];
  const gint64 KD = (gint64) l->n_kv_heads * l->head_dim;
  const gboolean store = l->k_new != NULL;
  const VtpAttention a = vtp_decode_attention_of (l);
  const size_t global[1] = { vtp_decode_work_items (dev) }, one[1] = { 1 };
  VtpTensor *kn = store ? l->k_new : l->k_cache, *vn = store ? l->v_new : l->v_cache;
  gint codes[7], groups[4];
  char name[48];

  if (vtp_error_is_pending () || !vtp_decode_layer_check (l, codes, groups, "decode_layer")
      || !vtp_decode_sync_check (l->sync, 1, "decode_layer"))
    return;
  vtp_decode_kernel_name (l, "decode_layer", name, sizeof name);
  LAUNCH (dev, name, 1, global, one,
      A_MEM (l->x), A_MEM (l->xn), A_MEM (l->q), A_MEM (kn), A_MEM (vn), A_INT (store ? 0 : (gint64) l->pos * KD),
      A_INT (store), A_MEM (l->k_cache), A_MEM (l->v_cache), A_MEM (l->attn), A_MEM (l->gate),
      A_OPT_MEM (l->opt ? NULL : l->up), A_MEM (l->scores), A_OPT_MEM (l->opt ? NULL : l->rope), A_MEM (l->attn_norm),
      A_MEM (l->ffn_norm), A_OPT_MEM (l->attn_norm_b), A_OPT_MEM (l->ffn_norm_b), A_INT (l->opt),
      A_MEM (l->wq), A_MEM (l->wk), A_MEM (l->wv), A_MEM (l->wo), A_MEM (l->w_gate),
      A_OPT_MEM (l->opt ? NULL : l->w_up),
      A_MEM (l->w_down), A_OPT_MEM (l->bq), A_OPT_MEM (l->bk), A_OPT_MEM (l->bv), A_OPT_MEM (l->bo),
      A_OPT_MEM (l->b_gate), A_OPT_MEM (l->b_up), A_OPT_MEM (l->b_down),
      A_INT (vtp_decode_bias_bits (l->bq, l->bk, l->bv, l->bo, l->b_gate, l->b_up, l->b_down)), A_INT (codes[0]),
      A_INT (codes[1]), A_INT (codes[2]), A_INT (codes[3]), A_INT (codes[4]), A_INT (codes[5]), A_INT (codes[6]),
      A_INT (groups[0]), A_INT (groups[1]), A_INT (groups[2]), A_INT (groups[3]),
      A_INT (D), A_INT (I), A_INT (l->n_heads), A_INT (l->n_kv_heads), A_INT (l->head_dim), A_INT (l->pos),
      A_FLOAT (l->eps), A_FLOAT (a.scale), A_INT (l->interleaved), A_INT (vtp_attention_gqa_fits (dev, &a)),
      A_MEM (l->sync));
}

/* ---- several streams' rows ---- */

VtpTensor *
vtp_decode_rows_scratch_new (VtpDevice *dev, gint max_rows, gint64 max_k, GError **error)
{
  const gint64 n = (gint64) vtp_linear_int8_rows_bytes (max_rows, max_k);
  VtpTensor *t = vtp_tensor_new (dev, VTP_DTYPE_U8, 1, &n, error);
  if (!t)
    g_prefix_error (error, "The fused batched layer's int8 rows: ");
  return t;
}

/* The layer's part of @l (for layer_panels and weights_check). */
VtpDecodeLayer
vtp_decode_layer_of_rows (const VtpDecodeRows *l)
{
  const VtpDecodeLayer layer = { .x = l->x, .attn_norm = l->attn_norm, .ffn_norm = l->ffn_norm, .wq = l->wq,
    .wk = l->wk, .wv = l->wv, .wo = l->wo, .w_gate = l->w_gate, .w_up = l->w_up, .w_down = l->w_down, .bq = l->bq,
    .bk = l->bk, .bv = l->bv, .bo = l->bo, .b_gate = l->b_gate, .b_up = l->b_up, .b_down = l->b_down,
    .n_heads = l->n_heads, .n_kv_heads = l->n_kv_heads, .head_dim = l->head_dim };
  return layer;
}

gboolean
vtp_decode_rows_fits (const VtpDecodeRows *l)
{
  const VtpDevice *dev = l->x->dev;
  const VtpDecodeLayer layer = vtp_decode_layer_of_rows (l);
  gint codes[7], groups[4];

  return dev->pocl_cpu && dev->int8_dot && vtp_switch_on ("VTP_DECODE_LAYER") && l->n_rows >= 2
      && l->n_rows <= VTP_DECODE_ROWS_MAX && layer_panels (dev, &layer, TRUE, codes, groups);
}

/* The checks both halves make; the type codes and groups through the arrays. */
gboolean
vtp_decode_rows_check (const VtpDecodeRows *l, gint *codes, gint *groups)
{
  const VtpDevice *dev = l->x->dev;
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0], M = l->n_rows;
  const gint64 QD = (gint64) l->n_heads * l->head_dim, KD = (gint64) l->n_kv_heads * l->head_dim;
  const gint64 max_k = MAX (MAX (D, QD), I);
  const VtpDecodeLayer layer = vtp_decode_layer_of_rows (l);

  return check (dev->pocl_cpu && dev->int8_dot && layer_panels (dev, &layer, TRUE, codes, groups),
          "decode_rows", "the device or the weights' types do not take the fused rows (vtp_decode_rows_fits)")
      && check (M >= 2 && M <= VTP_DECODE_ROWS_MAX, "decode_rows", "%" G_GINT64_FORMAT " rows, not 2 .. %d", M,
          VTP_DECODE_ROWS_MAX)
      && weights_check (&layer, D, QD, KD, I)
      && check (vtp_tensor_cols (l->xn) == D && vtp_tensor_cols (l->q) == QD && vtp_tensor_cols (l->attn) == QD
          && vtp_tensor_cols (l->k) == KD && vtp_tensor_cols (l->v) == KD && vtp_tensor_cols (l->gate) == I
          && vtp_tensor_cols (l->up) == I && vtp_tensor_cols (l->rope) == l->head_dim && rows_in (l->x, 0, M)
          && rows_in (l->xn, 0, M) && rows_in (l->q, 0, M) && rows_in (l->k, 0, M) && rows_in (l->v, 0, M)
          && rows_in (l->attn, 0, M) && rows_in (l->gate, 0, M) && rows_in (l->up, 0, M) && rows_in (l->rope, 0, M),
          "decode_rows", "the batch's rows do not fit %" G_GINT64_FORMAT " rows of the layer", M)
      && check (vtp_tensor_n_bytes (l->scratch) >= vtp_linear_int8_rows_bytes (M, max_k), "decode_rows",
          "the int8 scratch is smaller than %" G_GSIZE_FORMAT " bytes", vtp_linear_int8_rows_bytes (M, max_k))
      && vtp_decode_sync_check (l->sync, 1, "decode_rows");
}

void
vtp_op_decode_rows_in (const VtpDecodeRows *l)
{
  VtpDevice *dev = l->x->dev;
  const size_t global[1] = { vtp_decode_work_items (dev) }, one[1] = { 1 };
  gint codes[7], groups[4];

  if (vtp_error_is_pending () || !vtp_decode_rows_check (l, codes, groups))
    return;
  LAUNCH (dev, "decode_rows_in", 1, global, one, A_MEM (l->x), A_MEM (l->xn), A_MEM (l->q), A_MEM (l->k),
      A_MEM (l->v), A_MEM (l->rope), A_MEM (l->attn_norm), A_MEM (l->wq), A_MEM (l->wk), A_MEM (l->wv),
      A_OPT_MEM (l->bq), A_OPT_MEM (l->bk), A_OPT_MEM (l->bv), A_INT (vtp_decode_bias_bits (l->bq, l->bk, l->bv, NULL, NULL,
          NULL, NULL)), A_INT (codes[0]), A_INT (codes[1]), A_INT (codes[2]), A_INT (groups[0]), A_MEM (l->scratch),
      A_INT (l->n_rows), A_INT (vtp_tensor_cols (l->x)), A_INT (l->n_heads), A_INT (l->n_kv_heads),
      A_INT (l->head_dim), A_FLOAT (l->eps), A_INT (l->interleaved), A_MEM (l->sync));
}

void
vtp_op_decode_rows_out (const VtpDecodeRows *l)
{
  VtpDevice *dev = l->x->dev;
  const size_t global[1] = { vtp_decode_work_items (dev) }, one[1] = { 1 };
  gint codes[7], groups[4];

  if (vtp_error_is_pending () || !vtp_decode_rows_check (l, codes, groups))
    return;
  LAUNCH (dev, "decode_rows_out", 1, global, one, A_MEM (l->x), A_MEM (l->xn), A_MEM (l->attn), A_MEM (l->gate),
      A_MEM (l->up), A_MEM (l->ffn_norm), A_MEM (l->wo), A_MEM (l->w_gate), A_MEM (l->w_up), A_MEM (l->w_down),
      A_OPT_MEM (l->bo), A_OPT_MEM (l->b_gate), A_OPT_MEM (l->b_up), A_OPT_MEM (l->b_down),
      A_INT (vtp_decode_bias_bits (NULL, NULL, NULL, l->bo, l->b_gate, l->b_up, l->b_down)), A_INT (codes[3]),
      A_INT (codes[4]), A_INT (codes[5]), A_INT (codes[6]), A_INT (groups[1]), A_INT (groups[2]), A_INT (groups[3]),
      A_MEM (l->scratch), A_INT (l->n_rows), A_INT (vtp_tensor_cols (l->x)),
      A_INT ((gint64) l->n_heads * l->head_dim), A_INT (l->w_gate->shape[0]), A_FLOAT (l->eps), A_MEM (l->sync));
}
