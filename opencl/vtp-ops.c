/* vtp-ops.c: kernel launchers. Shapes are checked here, at the boundary,
 * so that the kernels can trust their arguments. */
#include "vtp-ops.h"

#include "vtp-launch.h"
#include "vtp-switch.h"

static gboolean
check_rowwise (const char *op, const VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows,
    const VtpTensor *w)
{
  const gint64 D = vtp_tensor_cols (x);
  return check (x->dtype == VTP_DTYPE_F32 && y->dtype == VTP_DTYPE_F32, op, "tensors must be f32")
      && check (vtp_tensor_cols (y) == D, op, "output width %" G_GINT64_FORMAT " differs from input %"
          G_GINT64_FORMAT, vtp_tensor_cols (y), D)
      && check (!w || vtp_tensor_n_elements (w) == D, op, "weight has %" G_GINT64_FORMAT
          " elements, rows have %" G_GINT64_FORMAT, w ? vtp_tensor_n_elements (w) : 0, D)
      && check (rows_in (x, row, n_rows) && rows_in (y, row, n_rows), op, "rows out of range");
}

void
vtp_op_layernorm (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *b, float eps)
{
  const gint64 D = vtp_tensor_cols (x);
  const size_t wg = x->dev->reduce_wg, global[1] = { n_rows * wg }, local[1] = { wg };

  if (vtp_error_is_pending () || !check_rowwise ("layernorm", y, x, row, n_rows, w)
      || !check_rowwise ("layernorm", y, x, row, n_rows, b))
    return;
  LAUNCH (x->dev, "layernorm", 1, global, local, A_MEM (x), A_MEM (y), A_INT (row * D),
      A_MEM (w), A_MEM (b), A_INT (D), A_FLOAT (eps), A_LOCAL (wg * sizeof (float)));
}

void
vtp_op_rmsnorm (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows,
    const VtpTensor *w, float eps)
{
  const gint64 D = vtp_tensor_cols (x);
  const size_t wg = x->dev->reduce_wg, global[1] = { n_rows * wg }, local[1] = { wg };

  if (vtp_error_is_pending () || !check_rowwise ("rmsnorm", y, x, row, n_rows, w))
    return;
  LAUNCH (x->dev, "rmsnorm", 1, global, local, A_MEM (x), A_MEM (y), A_INT (row * D),
      A_MEM (w), A_INT (D), A_FLOAT (eps), A_LOCAL (wg * sizeof (float)));
}

void
vtp_op_linear_multi_norm (const VtpTensor *x, gint64 x_row, gint64 n_rows, const VtpTensor *norm_w, float eps,
    VtpTensor *xn, const VtpLinearOut *outs, gint n_outs, const VtpLinearRope *rope)
{
  if (vtp_linear_multi_norm_fused (x, x_row, n_rows, norm_w, eps, outs, n_outs, rope))
    return;
  vtp_op_rmsnorm (xn, x, x_row, n_rows, norm_w, eps);
  vtp_op_linear_multi (xn, x_row, n_rows, outs, n_outs);
  if (rope && !vtp_error_is_pending ()
      && check (n_outs >= 2 && rope->head_dim > 0, "linear after rmsnorm", "RoPE needs q and k outputs"))
    vtp_op_rope_qk (outs[0].y, outs[0].y_row, (gint) (outs[0].w->shape[0] / rope->head_dim), outs[1].y,
        outs[1].y_row, (gint) (outs[1].w->shape[0] / rope->head_dim), n_rows, rope->head_dim, rope->table,
        rope->interleaved ? VTP_ROPE_INTERLEAVED : VTP_ROPE_HALF);
}

static void
elementwise (const char *name, VtpTensor *x, const VtpTensor *other, gint64 row, gint64 n_rows)
{
  const gint64 D = vtp_tensor_cols (x);
  const size_t global[1] = { n_rows * D };

  if (vtp_error_is_pending () || !check_rowwise (name, x, other ? other : x, row, n_rows, NULL))
    return;
  if (other)
    LAUNCH (x->dev, name, 1, global, NULL, A_MEM (x), A_MEM (other), A_INT (row * D));
  else
    LAUNCH (x->dev, name, 1, global, NULL, A_MEM (x), A_INT (row * D));
}

/* The activations computed 16 values a work-item (activation.cl). */
static void
elementwise16 (const char *name, VtpTensor *x, gint64 row, gint64 n_rows)
{
  const gint64 D = vtp_tensor_cols (x), n = n_rows * D;
  const size_t global[1] = { MAX ((n + 15) / 16, 1) };

  if (vtp_error_is_pending () || !check_rowwise (name, x, x, row, n_rows, NULL))
    return;
  LAUNCH (x->dev, name, 1, global, NULL, A_MEM (x), A_INT (row * D), A_INT (n));
}
void vtp_op_gelu_erf (VtpTensor *x, gint64 row, gint64 n_rows) { elementwise16 ("gelu_erf", x, row, n_rows); }
void vtp_op_quick_gelu (VtpTensor *x, gint64 row, gint64 n_rows) { elementwise16 ("quick_gelu", x, row, n_rows); }
void vtp_op_gelu_tanh (VtpTensor *x, gint64 row, gint64 n_rows) { elementwise ("gelu_tanh", x, NULL, row, n_rows); }
void vtp_op_silu (VtpTensor *x, gint64 row, gint64 n_rows) { elementwise ("silu", x, NULL, row, n_rows); }
void vtp_op_relu (VtpTensor *x, gint64 row, gint64 n_rows) { elementwise ("relu", x, NULL, row, n_rows); }
void vtp_op_silu_mul (VtpTensor *g, const VtpTensor *up, gint64 row, gint64 n_rows) { elementwise ("silu_mul", g, up, row, n_rows); }
void vtp_op_add (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows) { elementwise ("add_inplace", y, x, row, n_rows); }
void vtp_op_mul (VtpTensor *y, const VtpTensor *x, gint64 row, gint64 n_rows) { elementwise ("mul_inplace", y, x, row, n_rows); }

/* CPUs take 32 query rows per work-item when there are enough rows to fill
 * the lanes (prefill, the vision tower, the Q-Former), the head fits its
 * private block in whole steps of 8 value columns (EVA ViT-g's 88 too),
 * and the score scratch has room for the last block's 32 rows
 * (VTP_ATTENTION_SCORE_PAD_ROWS beyond heads × rows). */
static gboolean
attention_rows16_fits (const VtpDevice *dev, gint64 nq, gint64 nk, const VtpTensor *scores,
    const VtpAttention *a)
{
  return dev->kind == VTP_DEVICE_KIND_CPU && !a->pos_bias && nq >= 8 && a->head_dim % 8 == 0 && a->head_dim <= 128
      && vtp_tensor_n_elements (scores) >= ((gint64) a->n_heads * nq + VTP_ATTENTION_SCORE_PAD_ROWS) * nk;
}

/* The CPU kernels for many query rows (attention_rows16, attention-amx.cl)
 * take a head a work-item, its blocks of 32 rows one after the other, and
 * where the heads are fewer than 8 a share of them: at most nq / 32
 * shares, so that each share's scores (32 rows of nk) stay within the
 * region of nq rows (+ VTP_ATTENTION_SCORE_PAD_ROWS) a head. */
static gint64
attention_splits (gint64 nq, const VtpAttention *a)
{
  return CLAMP ((8 + a->n_heads - 1) / a->n_heads, 1, MAX (1, nq / 32));
}

/* attention-amx.cl: a model that multiplies in bfloat16 on a CPU with
 * AMX-BF16, F32 keys and values, heads of 64 or 128, the blocked kernel's
 * score region (attention_rows16_fits); off with $VTP_ATTENTION_AMX=0 */
static gboolean
attention_amx_fits (const VtpDevice *dev, gint64 nq, gint64 nk, const VtpTensor *k, const VtpTensor *scores,
    const VtpAttention *a)
{
  return a->bf16 && dev->amx_bf16 && k->dtype == VTP_DTYPE_F32 && (a->head_dim == 64 || a->head_dim == 128)
      && attention_rows16_fits (dev, nq, nk, scores, a) && vtp_switch_on ("VTP_ATTENTION_AMX");
}

/* attention_tiled (attention-kv.cl): many query rows on a device that is
 * not a CPU (CPUs have their own kernels above), heads of at most 128, no
 * position bias, and the tile's ~42 KB of local memory; $VTP_ATTENTION_TILED
 * = 0 / 1 turns it off / on (the tests run it on PoCL). */
#define ATT_TILE_Q 16
#define ATT_TILE_WG 64
#define ATT_TILE_LOCAL_BYTES ((16 * 128 + 32 * 129 + 32 * 128 + 16 * 32 + 3 * 16) * 4)
static gboolean
attention_tiled_fits (const VtpDevice *dev, gint64 nq, const VtpAttention *a)
{
  return nq >= 2 && !a->pos_bias && a->head_dim <= 128 && dev->local_mem >= ATT_TILE_LOCAL_BYTES
      && vtp_switch_int ("VTP_ATTENTION_TILED", dev->kind != VTP_DEVICE_KIND_CPU, 0, 1);
}

/* Keys and values as AMX tiles once (kv_to_bf16_amx, into two scratch
 * buffers), then each head's blocks of 32 query rows, one after the other
 * in a work-item, whose scores rows stay in its cache. */
static void
attention_amx (VtpTensor *out, gint64 out_row, const VtpTensor *q, gint64 q_row, gint64 nq,
    const VtpTensor *k, const VtpTensor *v, gint64 kv_row, gint64 nk, VtpTensor *scores, const VtpAttention *a)
{
  VtpDevice *dev = q->dev;
  const gint64 qw = vtp_tensor_cols (q), kvw = vtp_tensor_cols (k), ow = vtp_tensor_cols (out);
  const gint64 nkc = (nk + 31) / 32;
  const gsize bytes = (gsize) a->n_kv_heads * nkc * 32 * a->head_dim * 2;       /* bfloat16, keys padded to 32 */
  const size_t kglobal[2] = { nkc, a->n_kv_heads }, global[2] = { attention_splits (nq, a), a->n_heads };
  const size_t one[2] = { 1, 1 };
  cl_int err_k, err_v;
  cl_mem kt = vtp_device_scratch_take (dev, bytes, &err_k), vt = vtp_device_scratch_take (dev, bytes, &err_v);

  if (check (err_k == CL_SUCCESS && err_v == CL_SUCCESS, "attention",
          "no room for the bfloat16 tiles of %" G_GINT64_FORMAT " keys and values", nk)) {
    LAUNCH (dev, "kv_to_bf16_amx", 2, kglobal, one, A_MEM (k), A_MEM (v), A_INT (kv_row * kvw), A_INT (kvw),
        A_INT (nk), A_INT (a->head_dim), ((VtpArg) { sizeof (cl_mem), &kt }), ((VtpArg) { sizeof (cl_mem), &vt }));
    LAUNCH (dev, "attention_amx_bf16", 2, global, one, A_MEM (q), A_INT (q_row * qw), A_INT (qw),
        ((VtpArg) { sizeof (cl_mem), &kt }), ((VtpArg) { sizeof (cl_mem), &vt }),
        A_MEM (out), A_INT (out_row * ow), A_INT (ow),
        A_MEM (scores), A_INT (nq), A_INT (nk), A_INT (a->n_heads), A_INT (a->n_kv_heads),
        A_INT (a->head_dim), A_INT (a->causal), A_INT (a->q_pos0), A_FLOAT (a->scale));
  }
  if (kt)
    vtp_device_scratch_give (dev, kt);
  if (vt)
    vtp_device_scratch_give (dev, vt);
}

/* Key and value caches are F32, F16 or Q8_0 (attention-kv.cl's three
 * builds); a Q8_0 cache's rows of @w values are whole blocks of 32, and
 * heads start on a multiple of 8 values (the kernels read 8 at a time,
 * never across a block; @head_dim 0: no heads to check). */
static gboolean
kv_type_fits (VtpDType t, gint64 w, gint head_dim)
{
  if (t == VTP_DTYPE_Q8_0)
    return w % 32 == 0 && head_dim % 8 == 0;
  return t == VTP_DTYPE_F32 || t == VTP_DTYPE_F16;
}

static gboolean
kv_dtype_ok (const VtpTensor *t, gint head_dim)
{
  return kv_type_fits (t->dtype, vtp_tensor_cols (t), head_dim);
}

gboolean
vtp_kv_cache_check (VtpDType t, gint n_kv_heads, gint head_dim, GError **error)
{
  const gint64 w = (gint64) n_kv_heads * head_dim;

  if (t != VTP_DTYPE_F32 && t != VTP_DTYPE_F16 && t != VTP_DTYPE_Q8_0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "A KV cache of type %s: the cache types are f32, f16 and q8_0",
        vtp_dtype_name (t));
    return FALSE;
  }
  if (!kv_type_fits (t, w, head_dim)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "A Q8_0 KV cache (kv-type=q8_0) needs rows of whole blocks of "
        "32 values and a head size that is a multiple of 8; this model's rows are %d heads x %d = %" G_GINT64_FORMAT
        " values: use kv-type=f16", n_kv_heads, head_dim, w);
    return FALSE;
  }
  return TRUE;
}

#define KV_TYPES "both F32, both F16 or both Q8_0 (rows of whole blocks of 32, head_dim a multiple of 8)"

/* attention-kv.cl's kernel @name for caches of type @t, into @buf */
static const char *
kv_kernel (char buf[48], const char *name, VtpDType t)
{
  g_snprintf (buf, 48, "%s%s", name, t == VTP_DTYPE_F16 ? "_f16" : t == VTP_DTYPE_Q8_0 ? "_q8_0" : "");
  return buf;
}

/* CPUs (one work-item a row), grouped-query attention: a work-item takes a
 * kv head's query heads together (attend_group; the same bits as a head a
 * work-item, which VTP_ATTENTION_GQA=0 brings back) */
gboolean
vtp_attention_gqa_fits (const VtpDevice *dev, const VtpAttention *a)
{
  const gint rep = a->n_heads / a->n_kv_heads;
  return dev->reduce_wg == 1 && rep > 1 && rep <= VTP_ATTENTION_GQA_MAX_REP
      && vtp_switch_on ("VTP_ATTENTION_GQA");
}

void
vtp_op_attention (VtpTensor *out, gint64 out_row, const VtpTensor *q, gint64 q_row, gint64 nq,
    const VtpTensor *k, const VtpTensor *v, gint64 kv_row, gint64 nk,
    VtpTensor *scores, const VtpAttention *a)
{
  const gint64 qw = vtp_tensor_cols (q), kvw = vtp_tensor_cols (k), ow = vtp_tensor_cols (out);
  const size_t wg = q->dev->reduce_wg, global[2] = { nq * wg, a->n_heads }, local[2] = { wg, 1 };
  char name[48];

  if (vtp_error_is_pending () || nq == 0)
    return;
  if (!check (a->n_kv_heads > 0 && a->n_heads % a->n_kv_heads == 0, "attention",
          "%d heads do not divide into %d kv heads", a->n_heads, a->n_kv_heads)
      || !check (qw >= (gint64) a->n_heads * a->head_dim && ow >= (gint64) a->n_heads * a->head_dim,
          "attention", "query/output rows narrower than %d heads x %d", a->n_heads, a->head_dim)
      || !check (kv_dtype_ok (k, a->head_dim) && v->dtype == k->dtype, "attention", "keys and values must be " KV_TYPES)
      || !check (kvw >= (gint64) a->n_kv_heads * a->head_dim && vtp_tensor_cols (v) == kvw,
          "attention", "key/value rows narrower than %d kv heads x %d", a->n_kv_heads, a->head_dim)
      || !check (rows_in (q, q_row, nq) && rows_in (out, out_row, nq) && rows_in (k, kv_row, nk)
          && rows_in (v, kv_row, nk), "attention", "rows out of range")
      || !check (vtp_tensor_n_elements (scores) >= (gint64) a->n_heads * nq * nk, "attention",
          "score scratch too small for %d heads x %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT,
          a->n_heads, nq, nk)
      || !check (!a->pos_bias || (a->pos_bias->dtype == VTP_DTYPE_F32 && vtp_tensor_rows (a->pos_bias) == a->n_heads
          && a->pos_bias_center - (a->q_pos0 + nq - 1) >= 0
          && a->pos_bias_center + (a->causal ? 0 : nk - 1 - a->q_pos0) < vtp_tensor_cols (a->pos_bias)), "attention",
          "position bias [%d heads, W] F32 must cover relative positions %" G_GINT64_FORMAT " .. %" G_GINT64_FORMAT
          " around column %d", a->n_heads, -(a->q_pos0 + nq - 1), a->causal ? 0 : nk - 1 - a->q_pos0,
          a->pos_bias_center))
    return;
  if (attention_tiled_fits (q->dev, nq, a)) {
    const size_t tglobal[2] = { (nq + ATT_TILE_Q - 1) / ATT_TILE_Q * ATT_TILE_WG, a->n_heads };
    const size_t tlocal[2] = { ATT_TILE_WG, 1 };
    LAUNCH (q->dev, kv_kernel (name, "attention_tiled", k->dtype), 2, tglobal, tlocal,
        A_MEM (q), A_INT (q_row * qw), A_INT (qw),
        A_MEM (k), A_MEM (v), A_INT (kv_row * kvw), A_INT (kvw),
        A_MEM (out), A_INT (out_row * ow), A_INT (ow),
        A_INT (nq), A_INT (nk), A_INT (a->n_heads), A_INT (a->n_kv_heads),
        A_INT (a->head_dim), A_INT (a->causal), A_INT (a->q_pos0), A_FLOAT (a->scale));
    return;
  }
  if (attention_amx_fits (q->dev, nq, nk, k, scores, a)) {
    attention_amx (out, out_row, q, q_row, nq, k, v, kv_row, nk, scores, a);
    return;
  }
  if (attention_rows16_fits (q->dev, nq, nk, scores, a)) {
    /* a work-group per work-item (PoCL would make fewer, larger groups
     * of so few work-items, leaving a core idle); with fewer than 32 rows,
     * each head's 32 x nk scores run into the next heads' region: the
     * heads then in one work-group, one after the other */
    const size_t global16[2] = { attention_splits (nq, a), a->n_heads }, one_group[2] = { 1, a->n_heads };
    const size_t one[2] = { 1, 1 };
    LAUNCH (q->dev, kv_kernel (name, "attention_rows16", k->dtype), 2, global16, nq < 32 ? one_group : one,
        A_MEM (q), A_INT (q_row * qw), A_INT (qw),
        A_MEM (k), A_MEM (v), A_INT (kv_row * kvw), A_INT (kvw),
        A_MEM (out), A_INT (out_row * ow), A_INT (ow),
        A_MEM (scores), A_INT (nq), A_INT (nk), A_INT (a->n_heads), A_INT (a->n_kv_heads),
        A_INT (a->head_dim), A_INT (a->causal), A_INT (a->q_pos0), A_FLOAT (a->scale));
    return;
  }
  if (vtp_attention_gqa_fits (q->dev, a) && !a->pos_bias) {
    /* CPUs, grouped-query attention: a work-item a kv head's query heads */
    const size_t gglobal[2] = { nq, a->n_kv_heads }, glocal[2] = { 1, 1 };
    LAUNCH (q->dev, kv_kernel (name, "attention_gqa", k->dtype), 2, gglobal, glocal,
        A_MEM (q), A_INT (q_row * qw), A_INT (qw),
        A_MEM (k), A_MEM (v), A_INT (kv_row * kvw), A_INT (kvw),
        A_MEM (out), A_INT (out_row * ow), A_INT (ow),
        A_MEM (scores), A_INT (nq), A_INT (nk), A_INT (a->n_heads), A_INT (a->n_kv_heads),
        A_INT (a->head_dim), A_INT (a->causal), A_INT (a->q_pos0), A_FLOAT (a->scale), A_LOCAL (sizeof (float)));
    return;
  }
  LAUNCH (q->dev, kv_kernel (name, "attention", k->dtype), 2, global, local,
      A_MEM (q), A_INT (q_row * qw), A_INT (qw),
      A_MEM (k), A_MEM (v), A_INT (kv_row * kvw), A_INT (kvw),
      A_MEM (out), A_INT (out_row * ow), A_INT (ow),
      A_MEM (scores), A_INT (nq), A_INT (nk), A_INT (a->n_heads), A_INT (a->n_kv_heads),
      A_INT (a->head_dim), A_INT (a->causal), A_INT (a->q_pos0), A_FLOAT (a->scale),
      A_OPT_MEM (a->pos_bias), A_INT (a->pos_bias ? vtp_tensor_cols (a->pos_bias) : 0), A_INT (a->pos_bias_center),
      A_LOCAL (wg * sizeof (float)));
}

#define STREAMS_PER_LAUNCH 4   /* attention_streams4, kv_append4 */

void
vtp_op_attention_streams (VtpTensor *out, const VtpTensor *q, const VtpTensor *k_new, const VtpTensor *v_new,
    const VtpStreamKV *kv, gint n, const VtpAttention *a)
{
  const gint64 qw = vtp_tensor_cols (q), ow = vtp_tensor_cols (out), KD = (gint64) a->n_kv_heads * a->head_dim;
  const size_t wg = q->dev->reduce_wg;
  const gboolean append = k_new != NULL;   /* else: over the keys as they are */

  if (vtp_error_is_pending () || n == 0)
    return;
  if (!check (a->n_kv_heads > 0 && a->n_heads % a->n_kv_heads == 0, "attention_streams",
          "%d heads do not divide into %d kv heads", a->n_heads, a->n_kv_heads)
      || !check ((k_new == NULL) == (v_new == NULL), "attention_streams", "new keys without new values")
      || !check (q->dtype == VTP_DTYPE_F32 && out->dtype == VTP_DTYPE_F32
          && (!append || (k_new->dtype == VTP_DTYPE_F32 && v_new->dtype == VTP_DTYPE_F32)), "attention_streams",
          "tensors must be f32")
      || !check (qw >= (gint64) a->n_heads * a->head_dim && ow >= (gint64) a->n_heads * a->head_dim,
          "attention_streams", "query/output rows narrower than %d heads x %d", a->n_heads, a->head_dim)
      || !check (!append || (vtp_tensor_cols (k_new) == KD && vtp_tensor_cols (v_new) == KD), "attention_streams",
          "new key/value rows are not %d kv heads x %d wide", a->n_kv_heads, a->head_dim)
      || !check (rows_in (q, 0, n) && rows_in (out, 0, n) && (!append || (rows_in (k_new, 0, n)
          && rows_in (v_new, 0, n))), "attention_streams", "%d streams: rows out of range", n))
    return;
  for (gint i = 0; i < n; i++) {
    const gint64 nk = kv[i].n_past + append;
    if (!check (kv_dtype_ok (kv[i].k_cache, a->head_dim) && kv[i].v_cache->dtype == kv[i].k_cache->dtype
            && vtp_tensor_cols (kv[i].k_cache) == KD && vtp_tensor_cols (kv[i].v_cache) == KD
            && nk >= 1 && rows_in (kv[i].k_cache, 0, nk) && rows_in (kv[i].v_cache, 0, nk),
            "attention_streams", "stream %d: caches are not " KV_TYPES " [>= %" G_GINT64_FORMAT ", %"
            G_GINT64_FORMAT "]", i, nk, KD)
        || !check (vtp_tensor_n_elements (kv[i].scores) >= (gint64) a->n_heads * nk,
            "attention_streams", "stream %d: score scratch too small for %d heads x %" G_GINT64_FORMAT, i,
            a->n_heads, nk)
        || !check (!kv[i].pos_bias || (kv[i].pos_bias->dtype == VTP_DTYPE_F32
            && vtp_tensor_rows (kv[i].pos_bias) == a->n_heads && kv[i].pos_bias_center - (nk - 1) >= 0
            && kv[i].pos_bias_center < vtp_tensor_cols (kv[i].pos_bias)), "attention_streams",
            "stream %d: the position bias is not F32 [%d heads, covering keys 0 .. %" G_GINT64_FORMAT "]", i,
            a->n_heads, nk - 1))
      return;
  }
  /* a launch takes up to 4 consecutive streams whose caches have one type
   * (the streams of a batch may have been made with other kv types) */
  for (gint i0 = 0, m; i0 < n; i0 += m) {
    const VtpDType t = kv[i0].k_cache->dtype;
    const VtpStreamKV *s[STREAMS_PER_LAUNCH];
    char name[48];
    for (m = 1; m < STREAMS_PER_LAUNCH && i0 + m < n && kv[i0 + m].k_cache->dtype == kv[i0].k_cache->dtype; m++)
      ;
    gint nk[STREAMS_PER_LAUNCH], pbs[STREAMS_PER_LAUNCH], pbo[STREAMS_PER_LAUNCH];
    gboolean gqa = vtp_attention_gqa_fits (q->dev, a);
    /* (the slots past m repeat the first stream: no work-group reads them) */
    for (gint j = 0; j < STREAMS_PER_LAUNCH; j++) {
      s[j] = &kv[i0 + (j < m ? j : 0)];
      nk[j] = s[j]->n_past + append;
      /* the query sits at position nk - 1: its bias row starts at
       * center - (nk - 1) (a stride of 0: no bias) */
      pbs[j] = s[j]->pos_bias ? (gint) vtp_tensor_cols (s[j]->pos_bias) : 0;
      pbo[j] = s[j]->pos_bias ? s[j]->pos_bias_center - (nk[j] - 1) : 0;
      gqa = gqa && !s[j]->pos_bias;
    }
    const size_t one[1] = { 1 }, streams[1] = { m }, global[2] = { m * wg, gqa ? a->n_kv_heads : a->n_heads };
    const size_t local[2] = { wg, 1 };
    if (append)
      LAUNCH (q->dev, kv_kernel (name, "kv_append4", t), 1, streams, one, A_INT (i0), A_MEM (k_new), A_MEM (v_new), A_INT (KD),
          A_MEM (s[0]->k_cache), A_MEM (s[0]->v_cache), A_INT (s[0]->n_past),
          A_MEM (s[1]->k_cache), A_MEM (s[1]->v_cache), A_INT (s[1]->n_past),
          A_MEM (s[2]->k_cache), A_MEM (s[2]->v_cache), A_INT (s[2]->n_past),
          A_MEM (s[3]->k_cache), A_MEM (s[3]->v_cache), A_INT (s[3]->n_past));
#define BIAS_ARGS(j) A_OPT_MEM (s[j]->pos_bias), A_INT (pbs[j]), A_INT (pbo[j])
    LAUNCH (q->dev, kv_kernel (name, "attention_streams4", t), 2, global, local, A_INT (i0), A_MEM (q), A_INT (qw), A_MEM (out), A_INT (ow),
        A_INT (KD), A_INT (a->n_heads), A_INT (a->n_kv_heads), A_INT (a->head_dim), A_FLOAT (a->scale),
        A_LOCAL (wg * sizeof (float)), A_INT (gqa),
        A_MEM (s[0]->k_cache), A_MEM (s[0]->v_cache), A_MEM (s[0]->scores), A_INT (nk[0]), BIAS_ARGS (0),
        A_MEM (s[1]->k_cache), A_MEM (s[1]->v_cache), A_MEM (s[1]->scores), A_INT (nk[1]), BIAS_ARGS (1),
        A_MEM (s[2]->k_cache), A_MEM (s[2]->v_cache), A_MEM (s[2]->scores), A_INT (nk[2]), BIAS_ARGS (2),
        A_MEM (s[3]->k_cache), A_MEM (s[3]->v_cache), A_MEM (s[3]->scores), A_INT (nk[3]), BIAS_ARGS (3));
#undef BIAS_ARGS
  }
}

void
vtp_op_kv_write (VtpTensor *k_cache, VtpTensor *v_cache, gint64 row, const VtpTensor *k_new,
    const VtpTensor *v_new, gint64 src_row, gint64 n)
{
  const gint64 w = vtp_tensor_cols (k_cache);
  /* one work-item a value, or a block of 32 of a Q8_0 cache */
  const size_t global[2] = { k_cache->dtype == VTP_DTYPE_Q8_0 ? w / 32 : w, n };
  char name[48];

  if (vtp_error_is_pending () || n == 0)
    return;
  if (!check (kv_dtype_ok (k_cache, 0) && v_cache->dtype == k_cache->dtype && k_new->dtype == VTP_DTYPE_F32
          && v_new->dtype == VTP_DTYPE_F32, "kv_write", "caches " KV_TYPES ", new rows F32")
      || !check (vtp_tensor_cols (v_cache) == w && vtp_tensor_cols (k_new) == w && vtp_tensor_cols (v_new) == w,
          "kv_write", "new key/value rows are not %" G_GINT64_FORMAT " wide", w)
      || !check (rows_in (k_cache, row, n) && rows_in (v_cache, row, n) && rows_in (k_new, src_row, n)
          && rows_in (v_new, src_row, n), "kv_write", "rows out of range"))
    return;
  LAUNCH (k_cache->dev, kv_kernel (name, "kv_write", k_cache->dtype), 2, global, NULL,
      A_MEM (k_new), A_MEM (v_new), A_INT (src_row), A_INT (w), A_MEM (k_cache), A_MEM (v_cache), A_INT (row));
}

void
vtp_op_adapter_attention (VtpTensor *out, gint64 out_row, const VtpTensor *q, gint64 q_row, gint64 nq,
    const VtpTensor *pk, const VtpTensor *pv, const VtpTensor *gates, gint gate_row, const VtpAttention *a)
{
  const gint64 qw = vtp_tensor_cols (q), pw = vtp_tensor_cols (pk), ow = vtp_tensor_cols (out);
  const gint64 np = vtp_tensor_rows (pk);
  const size_t global[2] = { nq, a->n_heads };

  if (vtp_error_is_pending () || nq == 0)
    return;
  if (!check (a->n_kv_heads > 0 && a->n_heads % a->n_kv_heads == 0, "adapter_attention",
          "%d heads do not divide into %d kv heads", a->n_heads, a->n_kv_heads)
      || !check (np > 0 && np <= 64 && vtp_tensor_rows (pv) == np, "adapter_attention",
          "%" G_GINT64_FORMAT " prompt positions (1 to 64 supported)", np)
      || !check (qw >= (gint64) a->n_heads * a->head_dim && ow >= (gint64) a->n_heads * a->head_dim
          && pw >= (gint64) a->n_kv_heads * a->head_dim && vtp_tensor_cols (pv) == pw, "adapter_attention",
          "rows narrower than the heads")
      || !check (gates->dtype == VTP_DTYPE_F32 && vtp_tensor_cols (gates) == a->n_heads
          && gate_row >= 0 && gate_row < vtp_tensor_rows (gates), "adapter_attention", "gates [rows, %d] F32",
          a->n_heads)
      || !check (rows_in (q, q_row, nq) && rows_in (out, out_row, nq), "adapter_attention", "rows out of range"))
    return;
  LAUNCH (q->dev, "adapter_attention", 2, global, NULL,
      A_MEM (q), A_INT (q_row * qw), A_INT (qw), A_MEM (pk), A_MEM (pv), A_INT (pw), A_INT (np),
      A_MEM (gates), A_INT (gate_row * a->n_heads), A_INT (a->n_heads), A_INT (a->n_kv_heads), A_INT (a->head_dim),
      A_FLOAT (a->scale), A_MEM (out), A_INT (out_row * ow), A_INT (ow));
}

void
vtp_op_rope_angles (VtpTensor *table, gint64 n_rows, gint head_dim, gint pos0, const VtpTensor *inv_freq)
{
  const size_t global[2] = { head_dim / 2, n_rows };

  if (vtp_error_is_pending ()
      || !check (head_dim % 2 == 0 && vtp_tensor_cols (table) == head_dim, "rope", "a table of %" G_GINT64_FORMAT
          " columns for heads of %d", vtp_tensor_cols (table), head_dim)
      || !check (vtp_tensor_n_elements (inv_freq) == head_dim / 2, "rope", "inv_freq size")
      || !check (rows_in (table, 0, n_rows), "rope", "%" G_GINT64_FORMAT " rows for a table of %" G_GINT64_FORMAT,
          n_rows, vtp_tensor_rows (table)))
    return;
  LAUNCH (table->dev, "rope_angles", 2, global, NULL, A_MEM (table), A_INT (head_dim), A_INT (pos0),
      A_MEM (inv_freq));
}

void
vtp_op_rope_qk (VtpTensor *q, gint64 q_row, gint q_heads, VtpTensor *k, gint64 k_row, gint k_heads,
    gint64 n_rows, gint head_dim, const VtpTensor *table, VtpRopeLayout layout)
{
  const gint64 qw = vtp_tensor_cols (q), kw = k ? vtp_tensor_cols (k) : 0;
  const size_t global[3] = { head_dim / 2, q_heads + (k ? k_heads : 0), n_rows };

  if (vtp_error_is_pending ()
      || !check (qw >= (gint64) q_heads * head_dim && (!k || kw >= (gint64) k_heads * head_dim), "rope",
          "rows of %" G_GINT64_FORMAT " / %" G_GINT64_FORMAT " cannot hold %d / %d heads x %d", qw, kw, q_heads,
          k_heads, head_dim)
      || !check (vtp_tensor_cols (table) == head_dim && rows_in (table, 0, n_rows), "rope", "angle table")
      || !check (rows_in (q, q_row, n_rows) && (!k || rows_in (k, k_row, n_rows)), "rope", "rows out of range"))
    return;
  LAUNCH (q->dev, "rope_qk", 3, global, NULL, A_MEM (q), A_INT (q_row * qw), A_INT (qw), A_INT (q_heads),
      A_MEM (k ? k : q), A_INT (k_row * kw), A_INT (kw), A_INT (head_dim), A_MEM (table),
      A_INT (layout == VTP_ROPE_INTERLEAVED));
}

void
vtp_op_embed (VtpTensor *out, gint64 out_row, const VtpTensor *ids, gint64 n, const VtpTensor *table)
{
  const gint64 D = vtp_tensor_cols (table);
  const char *suffix = vtp_weight_suffix (table->dtype);
  const size_t global[2] = { D, n };
  char name[32];

  if (vtp_error_is_pending ()
      || !check (suffix && ids->dtype == VTP_DTYPE_I32 && vtp_tensor_n_elements (ids) >= n, "embed",
          "needs I32 ids and a float table")
      || !check (vtp_tensor_cols (out) == D && rows_in (out, out_row, n), "embed",
          "output rows of %" G_GINT64_FORMAT " for a table of width %" G_GINT64_FORMAT,
          vtp_tensor_cols (out), D))
    return;
  g_snprintf (name, sizeof name, "embed_%s", suffix);
  LAUNCH (out->dev, name, 2, global, NULL, A_MEM (ids), A_MEM (table), A_MEM (out),
      A_INT (out_row * D), A_INT (D), A_INT (table->shape[0]));
}

/* The checks and the one work-group of a token chosen from row @row of
 * @logits into ids[@id_at] (argmax_row, sample_row; @what names the op in
 * errors): @wg, the largest power of two up to reduce_wg and the kernels'
 * 256 (their trees halve it). FALSE when an error is pending or set. */
static gboolean
token_choice_ok (const char *what, const VtpTensor *ids, gint64 id_at, const VtpTensor *logits, gint64 row,
    size_t *wg)
{
  const gint64 V = vtp_tensor_cols (logits);

  *wg = 1;
  while (*wg * 2 <= MIN (ids->dev->reduce_wg, 256))
    *wg *= 2;
  return !vtp_error_is_pending ()
      && check (logits->dtype == VTP_DTYPE_F32 && rows_in (logits, row, 1), what,
          "needs an F32 row %" G_GINT64_FORMAT " of logits", row)
      && check (ids->dtype == VTP_DTYPE_I32 && id_at >= 0 && id_at < vtp_tensor_n_elements (ids), what,
          "needs an I32 tensor with an element %" G_GINT64_FORMAT, id_at)
      && check (V <= G_MAXINT32 && row * V <= G_MAXINT32, what, "logits too large for 32-bit offsets");
}

void
vtp_op_argmax (VtpTensor *ids, gint64 id_at, const VtpTensor *logits, gint64 row)
{
  const gint64 V = vtp_tensor_cols (logits);
  size_t wg;

  if (!token_choice_ok ("argmax", ids, id_at, logits, row, &wg))
    return;
  LAUNCH (ids->dev, "argmax_row", 1, &wg, &wg, A_MEM (logits), A_INT (row * V), A_INT (V), A_MEM (ids),
      A_INT (id_at));
}

void
vtp_op_sample (VtpTensor *ids, gint64 id_at, const VtpTensor *logits, gint64 row, const VtpSampleArgs *args)
{
  const gint64 V = vtp_tensor_cols (logits);
  size_t wg;

  if (!token_choice_ok ("sampling", ids, id_at, logits, row, &wg)
      || !check (args->temperature > 0.0f && args->u >= 0.0 && args->u < 1.0, "sampling",
          "needs a temperature above 0 and a uniform draw in [0, 1), not %g and %g", args->temperature, args->u))
    return;
  LAUNCH (ids->dev, "sample_row", 1, &wg, &wg, A_MEM (logits), A_INT (row * V), A_INT (V), A_MEM (ids),
      A_INT (id_at), A_FLOAT (args->temperature), A_INT (args->top_k), A_FLOAT (args->top_p),
      A_FLOAT ((float) args->u));
}

void
vtp_op_im2col_patches (VtpTensor *cols, const VtpTensor *img, gint p)
{
  const gint64 H = img->shape[1], W = img->shape[2], P = (H / p) * (W / p);
  const size_t global[2] = { 3 * p * p, P };

  if (vtp_error_is_pending ()
      || !check (img->ndim == 3 && img->shape[0] == 3 && H % p == 0 && W % p == 0, "patch embedding",
          "image must be [3, H, W] with H and W multiples of %d", p)
      || !check (vtp_tensor_rows (cols) >= P && vtp_tensor_cols (cols) == 3 * p * p, "patch embedding",
          "column buffer too small"))
    return;
  LAUNCH (img->dev, "im2col_patches", 2, global, NULL, A_MEM (img), A_MEM (cols), A_INT (H),
      A_INT (W), A_INT (p));
}

void
vtp_op_vit_assemble (VtpTensor *out, gint64 out_row, const VtpTensor *patches, const VtpTensor *cls,
    const VtpTensor *pos)
{
  const gint64 D = vtp_tensor_cols (out), T = vtp_tensor_rows (pos);
  const size_t global[2] = { D, T };

  if (vtp_error_is_pending ()
      || !check (vtp_tensor_cols (patches) == D && vtp_tensor_n_elements (cls) == D
          && vtp_tensor_cols (pos) == D && vtp_tensor_rows (patches) >= T - 1
          && out_row >= 0 && vtp_tensor_rows (out) >= out_row + T, "vit embeddings",
          "class/position/patch widths differ or the output has no room"))
    return;
  LAUNCH (out->dev, "vit_assemble", 2, global, NULL, A_MEM (patches), A_MEM (cls), A_MEM (pos),
      A_MEM (out), A_INT (out_row * D), A_INT (D));
}

void
vtp_op_image_pack_rgb (VtpTensor *dst, const VtpTensor *src, gint x0, gint y0, gint width, gint height,
    gint row_stride, gint pixel_stride, const gint offsets[3])
{
  const size_t global[2] = { width, height };

  if (vtp_error_is_pending ()
      || !check (x0 >= 0 && y0 >= 0 && (gsize) row_stride * (y0 + height - 1) + (gsize) pixel_stride * (x0 + width)
          <= vtp_tensor_n_bytes (src) && (gsize) width * height * 3 <= vtp_tensor_n_bytes (dst), "image",
          "region outside the frame or frame larger than its buffer"))
    return;
  LAUNCH (src->dev, "image_pack_rgb", 2, global, NULL, A_MEM (src), A_INT (row_stride),
      A_INT (pixel_stride), A_INT (offsets[0]), A_INT (offsets[1]), A_INT (offsets[2]),
      A_MEM (dst), A_INT (width), A_INT (x0), A_INT (y0));
}

void
vtp_op_image_resample_h (VtpTensor *dst, const VtpTensor *src, gint in_w, gint row0, gint rows,
    gint out_w, const VtpTensor *bounds, const VtpTensor *coeffs, gint ksize)
{
  const size_t global[2] = { out_w, rows };

  if (vtp_error_is_pending ()
      || !check ((gsize) (row0 + rows) * in_w * 3 <= vtp_tensor_n_bytes (src)
          && (gsize) rows * out_w * 3 <= vtp_tensor_n_bytes (dst), "image", "resample buffers too small"))
    return;
  LAUNCH (src->dev, "image_resample_h", 2, global, NULL, A_MEM (src), A_INT (in_w), A_INT (row0),
      A_MEM (dst), A_INT (out_w), A_MEM (bounds), A_MEM (coeffs), A_INT (ksize));
}

void
vtp_op_image_resample_v (VtpTensor *dst, const VtpTensor *src, gint w, gint out_h,
    const VtpTensor *bounds, const VtpTensor *coeffs, gint ksize)
{
  const size_t global[2] = { w, out_h };

  if (vtp_error_is_pending ()
      || !check ((gsize) out_h * w * 3 <= vtp_tensor_n_bytes (dst), "image", "resample buffer too small"))
    return;
  LAUNCH (src->dev, "image_resample_v", 2, global, NULL, A_MEM (src), A_INT (w), A_MEM (dst),
      A_MEM (bounds), A_MEM (coeffs), A_INT (ksize));
}

void
vtp_op_image_crop_normalize (VtpTensor *dst, const VtpTensor *src, gint w, gint h,
    gint top, gint left, gint crop_w, gint crop_h, float scale, const float mean[3], const float std[3])
{
  const size_t global[2] = { crop_w, crop_h };

  if (vtp_error_is_pending ()
      || !check (vtp_tensor_n_elements (dst) >= 3 * (gint64) crop_w * crop_h && dst->dtype == VTP_DTYPE_F32
          && (gsize) w * h * 3 <= vtp_tensor_n_bytes (src), "image", "crop buffers too small"))
    return;
  LAUNCH (src->dev, "image_crop_normalize", 2, global, NULL, A_MEM (src), A_INT (w), A_INT (h),
      A_INT (top), A_INT (left), A_MEM (dst), A_INT (crop_w), A_INT (crop_h), A_FLOAT (scale),
      A_FLOAT (mean[0]), A_FLOAT (mean[1]), A_FLOAT (mean[2]),
      A_FLOAT (std[0]), A_FLOAT (std[1]), A_FLOAT (std[2]));
}
