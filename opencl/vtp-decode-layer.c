/* vtp-decode-layer.c: the fused decode layer's host side (decode-layer.cl). */
#include "vtp-decode-layer.h"
#include "vtp-launch.h"
#include "vtp-ops.h"
#include "vtp-switch.h"
#include <math.h>
#include <stdlib.h>

#define SYNC_INTS 32            /* decode-layer.cl: DL_FINISHED + 1 */

VtpTensor *
vtp_decode_layer_sync_new (VtpDevice *dev, GError **error)
{
  const gint32 zeros[SYNC_INTS] = { 0 };
  const gint64 n = SYNC_INTS;
  VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, &n, zeros, error);
  if (!t)
    g_prefix_error (error, "The fused decode layer's counters: ");
  return t;
}

static VtpAttention
attention_of (const VtpDecodeLayer *l)
{
  const VtpAttention a = { l->n_heads, l->n_kv_heads, l->head_dim, TRUE, l->pos, 1.0f / sqrtf ((float) l->head_dim) };
  return a;
}

/* The panel codes of products that share one x (q | k | v; gate | up):
 * all float, or all int8 with one grouping; -1 otherwise. */
static gint
shared_x_group (const VtpDevice *dev, const VtpTensor *const *ws, gint n, gint *codes)
{
  gint group = 0;
  for (gint i = 0; i < n; i++) {
    gint g;
    if ((codes[i] = vtp_linear_gemv_panels (dev, ws[i], &g)) < 0 || (i > 0 && g != group))
      return -1;
    group = g;
  }
  return group;
}

static gboolean
bias_fits (const VtpTensor *b, gint64 n)
{
  return !b || (b->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (b) == n);
}

/* decode-layer.cl's @biases: bit i set where product i (q, k, v, o, gate, up, down) has one */
static gint
bias_bits (const VtpDecodeLayer *l)
{
  const VtpTensor *b[7] = { l->bq, l->bk, l->bv, l->bo, l->b_gate, l->b_up, l->b_down };
  gint bits = 0;
  for (gint i = 0; i < 7; i++)
    bits |= (b[i] != NULL) << i;
  return bits;
}

gboolean
vtp_decode_layer_fits (const VtpDecodeLayer *l)
{
  const VtpDevice *dev = l->x->dev;
  const VtpTensor *qkv[3] = { l->wq, l->wk, l->wv }, *gu[2] = { l->w_gate, l->w_up };
  const gboolean f32_cache = l->k_cache->dtype == VTP_DTYPE_F32;
  gint codes[3], g;

  return dev->pocl_cpu && dev->reduce_wg == 1 && vtp_switch_on ("VTP_DECODE_LAYER")
      && (f32_cache ? !l->k_new : l->k_new && l->v_new)
      && shared_x_group (dev, qkv, 3, codes) >= 0 && shared_x_group (dev, gu, 2, codes) >= 0
      && vtp_linear_gemv_panels (dev, l->wo, &g) >= 0 && vtp_linear_gemv_panels (dev, l->w_down, &g) >= 0;
}

void
vtp_op_decode_layer (const VtpDecodeLayer *l)
{
  VtpDevice *dev = l->x->dev;
  const VtpTensor *qkv[3] = { l->wq, l->wk, l->wv }, *gu[2] = { l->w_gate, l->w_up };
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0];
  const gint H = l->n_heads, Hkv = l->n_kv_heads, d = l->head_dim;
  const gint64 QD = (gint64) H * d, KD = (gint64) Hkv * d;
  const gboolean store = l->k_new != NULL;
  const VtpAttention a = attention_of (l);
  /* a work-item a compute unit ($VTP_DECODE_LAYER_GROUPS: another count, for
   * the tests: any count computes the same) */
  const gchar *groups = g_getenv ("VTP_DECODE_LAYER_GROUPS");
  const size_t global[1] = { groups ? (size_t) CLAMP (atoi (groups), 1, 64) : (size_t) dev->compute_units }, one[1] = { 1 };
  VtpTensor *kn = store ? l->k_new : l->k_cache, *vn = store ? l->v_new : l->v_cache;
  gint tqkv[3] = { 0 }, tgu[2] = { 0 }, g_qkv, g_gu, g_o, g_d, to, td;
  char name[48];

  if (vtp_error_is_pending ())
    return;
  g_qkv = shared_x_group (dev, qkv, 3, tqkv);
  g_gu = shared_x_group (dev, gu, 2, tgu);
  to = vtp_linear_gemv_panels (dev, l->wo, &g_o);
  td = vtp_linear_gemv_panels (dev, l->w_down, &g_d);
  if (!check (g_qkv >= 0 && g_gu >= 0 && to >= 0 && td >= 0 && dev->pocl_cpu, "decode_layer",
          "the device or the weights' types do not take the fused layer (vtp_decode_layer_fits)")
      || !check (H > 0 && Hkv > 0 && H % Hkv == 0 && d % 2 == 0, "decode_layer", "%d heads do not divide into %d kv "
          "heads of an even size", H, Hkv)
      || !check (l->wq->shape[0] == QD && l->wk->shape[0] == KD && l->wv->shape[0] == KD && l->wo->shape[0] == D
          && l->w_up->shape[0] == I && l->w_down->shape[0] == D && vtp_tensor_cols (l->wq) == D
          && vtp_tensor_cols (l->wk) == D && vtp_tensor_cols (l->wv) == D && vtp_tensor_cols (l->wo) == QD
          && vtp_tensor_cols (l->w_gate) == D && vtp_tensor_cols (l->w_up) == D && vtp_tensor_cols (l->w_down) == I,
          "decode_layer", "weights do not fit a hidden size of %" G_GINT64_FORMAT ", %d x %d query and %d x %d key "
          "heads", D, H, d, Hkv, d)
      || !check (vtp_tensor_n_elements (l->attn_norm) == D && vtp_tensor_n_elements (l->ffn_norm) == D
          && l->attn_norm->dtype == VTP_DTYPE_F32 && l->ffn_norm->dtype == VTP_DTYPE_F32, "decode_layer",
          "norm weights are not %" G_GINT64_FORMAT " F32", D)
      || !check (vtp_tensor_cols (l->xn) == D && vtp_tensor_cols (l->q) >= QD && vtp_tensor_cols (l->attn) >= QD
          && vtp_tensor_cols (l->gate) == I && vtp_tensor_cols (l->up) == I && vtp_tensor_cols (l->rope) == d
          && vtp_tensor_n_elements (l->scores) >= (gint64) H * (l->pos + 1), "decode_layer",
          "scratch rows too narrow for the layer")
      || !check (vtp_tensor_cols (l->k_cache) == KD && vtp_tensor_cols (l->v_cache) == KD
          && l->v_cache->dtype == l->k_cache->dtype && rows_in (l->k_cache, l->pos, 1) && rows_in (l->v_cache, l->pos, 1)
          && (!store || (vtp_tensor_cols (kn) == KD && vtp_tensor_cols (vn) == KD && kn->dtype == VTP_DTYPE_F32
              && vn->dtype == VTP_DTYPE_F32 && (l->k_cache->dtype == VTP_DTYPE_F16
                  || (l->k_cache->dtype == VTP_DTYPE_Q8_0 && KD % 32 == 0)))),
          "decode_layer", "caches must be [> %d, %" G_GINT64_FORMAT "] F32, or F16 / Q8_0 with F32 new rows",
          l->pos, KD)
      || !check (bias_fits (l->bq, QD) && bias_fits (l->bk, KD) && bias_fits (l->bv, KD) && bias_fits (l->bo, D)
          && bias_fits (l->b_gate, I) && bias_fits (l->b_up, I) && bias_fits (l->b_down, D), "decode_layer",
          "a bias is not F32 of its product's width")
      || !check (l->sync->dtype == VTP_DTYPE_I32 && vtp_tensor_n_elements (l->sync) >= SYNC_INTS, "decode_layer",
          "sync is not %d I32 (vtp_decode_layer_sync_new)", SYNC_INTS))
    return;
  g_snprintf (name, sizeof name, "decode_layer%s", l->k_cache->dtype == VTP_DTYPE_F16 ? "_f16"
      : l->k_cache->dtype == VTP_DTYPE_Q8_0 ? "_q8_0" : "");
  LAUNCH (dev, name, 1, global, one,
      A_MEM (l->x), A_MEM (l->xn), A_MEM (l->q), A_MEM (kn), A_MEM (vn), A_INT (store ? 0 : (gint64) l->pos * KD),
      A_INT (store), A_MEM (l->k_cache), A_MEM (l->v_cache), A_MEM (l->attn), A_MEM (l->gate), A_MEM (l->up),
      A_MEM (l->scores), A_MEM (l->rope), A_MEM (l->attn_norm), A_MEM (l->ffn_norm),
      A_MEM (l->wq), A_MEM (l->wk), A_MEM (l->wv), A_MEM (l->wo), A_MEM (l->w_gate), A_MEM (l->w_up),
      A_MEM (l->w_down), A_OPT_MEM (l->bq), A_OPT_MEM (l->bk), A_OPT_MEM (l->bv), A_OPT_MEM (l->bo),
      A_OPT_MEM (l->b_gate), A_OPT_MEM (l->b_up), A_OPT_MEM (l->b_down),
      A_INT (bias_bits (l)), A_INT (tqkv[0]), A_INT (tqkv[1]), A_INT (tqkv[2]), A_INT (to), A_INT (tgu[0]),
      A_INT (tgu[1]), A_INT (td), A_INT (g_qkv), A_INT (g_o), A_INT (g_gu), A_INT (g_d),
      A_INT (D), A_INT (I), A_INT (H), A_INT (Hkv), A_INT (d), A_INT (l->pos), A_FLOAT (l->eps), A_FLOAT (a.scale),
      A_INT (l->interleaved), A_INT (vtp_attention_gqa_fits (dev, &a)), A_MEM (l->sync));
}
