/* test-ops.c: every kernel against a plain double-precision loop on random
 * data (the fidelity to the reference models is tested on fixtures elsewhere;
 * this pins down each kernel's indexing, tails, offsets and dtypes). */

#include "test-util.h"

static void
test_norms (void)
{
  GRand *r = g_rand_new_with_seed (7);
  const gint64 rows = 5, D = 131;
  float *x = random_floats (r, rows * D, 3.0), *w = random_floats (r, D, 1.0), *b = random_floats (r, D, 1.0);
  for (gint64 i = 0; i < rows * D; i++)
    x[i] += 2.0f;               /* non-zero mean */
  VtpTensor *tx = upload (x, rows, D), *tw = upload (w, 1, D), *tb = upload (b, 1, D);
  VtpTensor *ty = upload (x, rows, D);
  double *want = g_new0 (double, rows * D);
  float *got;

  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i];
  for (gint64 row = 1; row < 4; row++) {
    double mean = 0, var = 0;
    for (gint64 i = 0; i < D; i++)
      mean += x[row * D + i];
    mean /= D;
    for (gint64 i = 0; i < D; i++)
      var += (x[row * D + i] - mean) * (x[row * D + i] - mean);
    var /= D;
    for (gint64 i = 0; i < D; i++)
      want[row * D + i] = (x[row * D + i] - mean) / sqrt (var + 1e-5) * w[i] + b[i];
  }
  vtp_op_layernorm (ty, tx, 1, 3, tw, tb, 1e-5f);
  got = device_values (ty);
  assert_close (got, want, rows * D, 1e-5, "layernorm");
  g_free (got);

  for (gint64 row = 0; row < rows; row++) {
    double ms = 0;
    for (gint64 i = 0; i < D; i++)
      ms += (double) x[row * D + i] * x[row * D + i];
    ms /= D;
    for (gint64 i = 0; i < D; i++)
      want[row * D + i] = w[i] * (x[row * D + i] / sqrt (ms + 1e-6));
  }
  vtp_op_rmsnorm (tx, tx, 0, rows, tw, 1e-6f);   /* in place */
  got = device_values (tx);
  assert_close (got, want, rows * D, 1e-5, "rmsnorm");
  g_free (got); g_free (want); g_free (x); g_free (w); g_free (b);
  vtp_tensor_free (tx); vtp_tensor_free (ty); vtp_tensor_free (tw); vtp_tensor_free (tb);
  g_rand_free (r);
}

static void
test_activations (void)
{
  GRand *r = g_rand_new_with_seed (11);
  const gint64 rows = 3, D = 77;
  float *x = random_floats (r, rows * D, 5.0), *u = random_floats (r, rows * D, 2.0);
  double *want = g_new (double, rows * D);
  VtpTensor *t, *tu = upload (u, rows, D);
  float *got;

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = i >= D ? 0.5 * x[i] * (1 + erf (x[i] / sqrt (2.0))) : x[i];
  vtp_op_gelu_erf (t, 1, 2);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-6, "gelu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] / (1 + exp (-1.702 * x[i]));
  vtp_op_quick_gelu (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "quick_gelu");
  g_free (got); vtp_tensor_free (t);

  /* the other projector_hidden_act functions (transformers' formulas) */
  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = 0.5 * x[i] * (1 + tanh (sqrt (2 / G_PI) * (x[i] + 0.044715 * pow (x[i], 3))));
  vtp_op_gelu_tanh (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "gelu_tanh");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] / (1 + exp (-(double) x[i]));
  vtp_op_silu (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "silu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] < 0 ? 0 : x[i];
  vtp_op_relu (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 0, "relu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] / (1 + exp (-(double) x[i])) * u[i];
  vtp_op_silu_mul (t, tu, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "silu_mul");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = (double) x[i] + u[i];
  vtp_op_add (t, tu, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-6, "add");
  g_free (got); vtp_tensor_free (t);

  g_free (x); g_free (u); g_free (want); vtp_tensor_free (tu);
  g_rand_free (r);
}

/* @pad_rows: extra score rows; VTP_ATTENTION_SCORE_PAD_ROWS lets CPUs take
 * the blocked kernel (32 query rows per work-item) where the shape allows */
static void
attention_case_scratch (gint H, gint Hkv, gint d, gint nq, gint nk, gboolean causal, gint q_pos0,
    gint pad_rows)
{
  GRand *r = g_rand_new_with_seed (H * 31 + d * 7 + nq + nk);
  const gint qw = H * d, kw = Hkv * d + 3;          /* kv rows wider than needed: stride test */
  const gint q_row = 1, kv_row = 2;
  float *q = random_floats (r, (nq + q_row) * qw, 1.0);
  float *k = random_floats (r, (nk + kv_row) * kw, 1.0), *v = random_floats (r, (nk + kv_row) * kw, 1.0);
  VtpTensor *tq = upload (q, nq + q_row, qw), *tk = upload (k, nk + kv_row, kw), *tv = upload (v, nk + kv_row, kw);
  VtpTensor *to = upload (q, nq + q_row, qw);
  g_autoptr (GError) error = NULL;
  VtpTensor *ts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, H * nq + pad_rows, nk, &error);
  double *want = g_new (double, (nq + q_row) * qw), *p = g_new (double, nk);
  const float scale = 1.0f / sqrtf (d);
  VtpAttention a = { H, Hkv, d, causal, q_pos0, scale };
  float *got;

  for (gint i = 0; i < (nq + q_row) * qw; i++)
    want[i] = q[i];
  for (gint h = 0; h < H; h++) {
    gint g = h / (H / Hkv);
    for (gint i = 0; i < nq; i++) {
      gint last = causal ? MIN (nk, q_pos0 + i + 1) : nk;
      double mx = -INFINITY, sum = 0;
      for (gint j = 0; j < last; j++) {
        double s = 0;
        for (gint c = 0; c < d; c++)
          s += (double) q[(q_row + i) * qw + h * d + c] * k[(kv_row + j) * kw + g * d + c];
        p[j] = s * scale;
        mx = MAX (mx, p[j]);
      }
      for (gint j = 0; j < last; j++)
        sum += (p[j] = exp (p[j] - mx));
      for (gint c = 0; c < d; c++) {
        double o = 0;
        for (gint j = 0; j < last; j++)
          o += p[j] * v[(kv_row + j) * kw + g * d + c];
        want[(q_row + i) * qw + h * d + c] = o / sum;
      }
    }
  }
  g_assert_no_error (error);
  vtp_op_attention (to, q_row, tq, q_row, nq, tk, tv, kv_row, nk, ts, &a);
  got = device_values (to);
  assert_close (got, want, (nq + q_row) * qw, 2e-6, "attention");
  g_free (got); g_free (want); g_free (p); g_free (q); g_free (k); g_free (v);
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (to); vtp_tensor_free (ts);
  g_rand_free (r);
}

static void
attention_case (gint H, gint Hkv, gint d, gint nq, gint nk, gboolean causal, gint q_pos0)
{
  attention_case_scratch (H, Hkv, d, nq, nk, causal, q_pos0, 0);
  attention_case_scratch (H, Hkv, d, nq, nk, causal, q_pos0, VTP_ATTENTION_SCORE_PAD_ROWS);
}

static void
test_attention (void)
{
  attention_case (4, 4, 16, 9, 9, FALSE, 0);      /* ViT: bidirectional */
  attention_case (4, 2, 16, 9, 9, TRUE, 0);       /* GQA prefill */
  attention_case (6, 2, 12, 1, 14, TRUE, 13);     /* decode step, odd head_dim */
  attention_case (2, 1, 64, 3, 10, TRUE, 7);      /* chunk after a cache */
  attention_case (16, 16, 64, 40, 40, FALSE, 0);  /* ViT-shaped, a second block of 8 rows */
  attention_case (8, 2, 64, 37, 50, TRUE, 13);    /* GQA chunk after a cache, 8-key steps and tail */
  attention_case (4, 4, 128, 20, 20, TRUE, 0);    /* head_dim 128 (7B) */
  attention_case (2, 2, 32, 16, 577, FALSE, 0);   /* Q-Former-like: few queries, many keys */
  attention_case (4, 4, 88, 45, 45, FALSE, 0);    /* EVA ViT-g's head_dim 88 (BLIP-2, InstructBLIP) */
  attention_case (3, 1, 40, 33, 36, TRUE, 3);     /* head_dim 40: steps of 8, causal */
}

static void
test_rope (void)
{
  GRand *r = g_rand_new_with_seed (5);
  const gint H = 3, d = 8, rows = 4, pos0 = 5, w = H * d;
  float *x = random_floats (r, rows * w, 1.0), inv[4];
  double *want = g_new (double, rows * w);

  for (gint j = 0; j < d / 2; j++)
    inv[j] = 1.0f / powf (10000.0f, (float) (2 * j) / d);
  for (gint layout = 0; layout < 2; layout++) {
    VtpTensor *t = upload (x, rows, w), *tf = upload (inv, 1, d / 2);
    float *got;
    for (gint i = 0; i < rows * w; i++)
      want[i] = x[i];
    for (gint t_ = 1; t_ < rows; t_++)
      for (gint h = 0; h < H; h++)
        for (gint j = 0; j < d / 2; j++) {
          double ang = (float) (pos0 + t_ - 1) * inv[j];
          gint a = layout ? 2 * j : j, b = layout ? 2 * j + 1 : j + d / 2;
          double x0 = x[t_ * w + h * d + a], x1 = x[t_ * w + h * d + b];
          want[t_ * w + h * d + a] = x0 * cos (ang) - x1 * sin (ang);
          want[t_ * w + h * d + b] = x1 * cos (ang) + x0 * sin (ang);
        }
    /* as q (row 1 on) and k (row 0 on) of one launch: k's rows are q's
     * shifted by one, so k's row i must come out as q's row i + 1 */
    VtpTensor *tk = upload (x + w, rows - 1, w), *table = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, d, NULL);
    vtp_op_rope_angles (table, rows - 1, d, pos0, tf);
    vtp_op_rope_qk (t, 1, H, tk, 0, H, rows - 1, d, table, layout ? VTP_ROPE_INTERLEAVED : VTP_ROPE_HALF);
    got = device_values (t);
    assert_close (got, want, rows * w, 2e-6, layout ? "rope interleaved" : "rope half");
    g_free (got);
    got = device_values (tk);
    assert_close (got, want + w, (rows - 1) * w, 2e-6, layout ? "rope interleaved (k)" : "rope half (k)");
    g_free (got); vtp_tensor_free (t); vtp_tensor_free (tf); vtp_tensor_free (tk); vtp_tensor_free (table);
  }
  g_free (x); g_free (want);
  g_rand_free (r);
}

static void
test_embed_and_patches (void)
{
  GRand *r = g_rand_new_with_seed (9);
  const gint V = 10, D = 6, p = 2, H = 4, W = 6, P = (H / p) * (W / p);
  float *table = random_floats (r, V * D, 1.0), *img = random_floats (r, 3 * H * W, 1.0);
  float *cls = random_floats (r, D, 1.0), *pos = random_floats (r, (P + 1) * D, 1.0);
  gint32 ids[3] = { 4, 0, 9 };
  gint64 ishape[1] = { 3 }, imgshape[3] = { 3, H, W };
  g_autoptr (GError) error = NULL;
  VtpTensor *tt = upload_as (table, V, D, VTP_DTYPE_BF16);
  VtpTensor *tid = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, ishape, ids, &error);
  VtpTensor *tout = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 4, D, &error);
  VtpTensor *timg = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 3, imgshape, img, &error);
  VtpTensor *tcols = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, P, 3 * p * p, &error);
  VtpTensor *tcls = upload (cls, 1, D), *tpos = upload (pos, P + 1, D);
  VtpTensor *tpatch = upload (pos, P, D), *tvit = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, P + 1, D, &error);
  double *want = g_new0 (double, 4 * D);
  float *got, *gotc;

  g_assert_no_error (error);
  vtp_op_embed (tout, 1, tid, 3, tt);
  got = device_values (tout);
  for (gint i = 0; i < 3; i++)
    for (gint c = 0; c < D; c++)
      want[(i + 1) * D + c] = table[ids[i] * D + c];
  for (gint c = 0; c < D; c++)
    want[c] = got[c];           /* row 0 untouched, unspecified */
  assert_close (got, want, 4 * D, 0, "embed bf16");
  g_free (got);

  vtp_op_im2col_patches (tcols, timg, p);
  gotc = device_values (tcols);
  for (gint pi = 0; pi < P; pi++)
    for (gint c = 0; c < 3; c++)
      for (gint ky = 0; ky < p; ky++)
        for (gint kx = 0; kx < p; kx++) {
          gint y = (pi / (W / p)) * p + ky, x = (pi % (W / p)) * p + kx;
          g_assert_cmpfloat (gotc[pi * 3 * p * p + c * p * p + ky * p + kx], ==, img[(c * H + y) * W + x]);
        }
  g_free (gotc);

  vtp_op_vit_assemble (tvit, 0, tpatch, tcls, tpos);
  got = device_values (tvit);
  for (gint t = 0; t <= P; t++)
    for (gint c = 0; c < D; c++)
      g_assert_cmpfloat_with_epsilon (got[t * D + c], (t ? pos[(t - 1) * D + c] : cls[c]) + pos[t * D + c], 1e-6);
  g_free (got);

  g_free (table); g_free (img); g_free (cls); g_free (pos); g_free (want);
  vtp_tensor_free (tt); vtp_tensor_free (tid); vtp_tensor_free (tout); vtp_tensor_free (timg);
  vtp_tensor_free (tcols); vtp_tensor_free (tcls); vtp_tensor_free (tpos); vtp_tensor_free (tpatch);
  vtp_tensor_free (tvit);
  g_rand_free (r);
}

static void
test_shape_errors (void)
{
  g_autoptr (GError) error = NULL;
  float x[12] = { 0 };
  VtpTensor *a = upload (x, 3, 4), *w = upload (x, 2, 6), *y = upload (x, 3, 2);

  vtp_op_linear (y, 0, a, 0, 3, w, NULL, FALSE);
  vtp_op_add (y, y, 0, 3);      /* skipped: an error is pending */
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "input has 4 columns"));
  g_clear_error (&error);
  g_assert_true (vtp_error_take_pending (&error));
  vtp_tensor_free (a); vtp_tensor_free (w); vtp_tensor_free (y);
}

static void
test_f16_conversion (void)
{
  const float vals[] = { 0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1e-5f, 5.96e-8f, 1e-9f, 1e6f, 0.1f, 1.0009765625f };
  for (guint i = 0; i < G_N_ELEMENTS (vals); i++) {
    _Float16 h = (_Float16) vals[i];
    guint16 bits;
    memcpy (&bits, &h, 2);
    g_assert_cmphex (vtp_f32_to_f16 (vals[i]), ==, bits);
    g_assert_cmpfloat (vtp_f16_to_f32 (bits), ==, (float) h);
  }
  g_assert_cmpfloat (vtp_bf16_to_f32 (vtp_f32_to_bf16 (1.00390625f)), ==, 1.0f);   /* ties to even */
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_message ("device: %s", dev->name);
  g_test_add_func ("/ops/f16", test_f16_conversion);
  g_test_add_func ("/ops/norms", test_norms);
  g_test_add_func ("/ops/activations", test_activations);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/rope", test_rope);
  g_test_add_func ("/ops/embed-patches", test_embed_and_patches);
  g_test_add_func ("/ops/shape-errors", test_shape_errors);
  return g_test_run ();
}
