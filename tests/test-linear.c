/* test-linear.c: vtp_op_linear against a double loop, for every weight
 * dtype, weights packed by vtp_linear_weight_new and plain [N, K] tensors,
 * the GEMV (1 row), short (2..9 rows) and GEMM paths and their thresholds,
 * row offsets, bias, accumulation, and odd sizes (K not a multiple of 8 or
 * 16, N not a multiple of 16, N below one panel). Each case also runs with
 * VTP_LINEAR_AS_GPU=1, which makes a CPU device take the GPU kernels (plain
 * weights, work-group GEMV, local-memory tiled GEMM) so that they are
 * checked without a GPU. On CPUs with AVX512-BF16, products of more than 6
 * rows with packed BF16 weights take bfloat16 dot products: their reference
 * rounds x to bfloat16 as the kernel does (except in the plain columns past
 * the last whole panel, computed in float), and the GEMM cases also run
 * with the float kernels. /linear/panel-major: products large enough to
 * list their work-items panel fastest give the bits of smaller ones;
 * /linear/one-panel: the float GEMM with one panel a work-item where the
 * device takes three (AVX-512); /linear/amx-bf16: the bfloat16 GEMM with
 * AMX tiles (skipped without AMX-BF16); /linear/gpu-fused: the GPU's
 * decode products in one launch (q | k | v: gemv3_<T>; the gated MLP's
 * products and activation: gemv_swiglu_<T>) give the bits of their
 * launches one by one, for 1 to 8 rows. */
#include "test-util.h"
#include "vtp-fault.h"

typedef enum { W_PLAIN, W_PACKED } WeightKind;

static VtpTensor *
weight_new (float *w, gint64 n, gint64 k, VtpDType dtype, WeightKind kind)
{
  g_autoptr (GError) error = NULL;
  VtpTensor *t;
  void *host;

  if (kind == W_PLAIN)
    return upload_as (w, n, k, dtype);
  /* round w as upload_as does, then hand the host copy to the packer */
  if (dtype == VTP_DTYPE_F32) {
    host = g_memdup2 (w, n * k * sizeof (float));
  } else {
    guint16 *h = g_new (guint16, n * k);
    for (gint64 i = 0; i < n * k; i++) {
      h[i] = dtype == VTP_DTYPE_F16 ? vtp_f32_to_f16 (w[i]) : vtp_f32_to_bf16 (w[i]);
      w[i] = dtype == VTP_DTYPE_F16 ? vtp_f16_to_f32 (h[i]) : vtp_bf16_to_f32 (h[i]);
    }
    host = h;
  }
  t = vtp_linear_weight_new (dev, dtype, n, k, host, &error);
  g_assert_no_error (error);
  g_free (host);
  return t;
}

static void
test_linear_case (gint64 M, gint64 K, gint64 N, VtpDType dtype, WeightKind kind,
    gboolean with_bias, gboolean accumulate)
{
  GRand *r = g_rand_new_with_seed (M * 1000003 + K * 101 + N * 7 + dtype * 3 + kind);
  const gint64 x_row = 1, y_row = 2;        /* exercise the row offsets */
  float *x = random_floats (r, (M + x_row + 1) * K, 1.0);
  float *w = random_floats (r, N * K, 0.5);
  float *b = random_floats (r, N, 1.0);
  float *y0 = random_floats (r, (M + y_row + 1) * N, 1.0);
  VtpTensor *tx = upload (x, M + x_row + 1, K), *tw = weight_new (w, N, K, dtype, kind);
  VtpTensor *tb = upload (b, 1, N), *ty = upload (y0, M + y_row + 1, N);
  double *want = g_new (double, (M + y_row + 1) * N);
  size_t bytes = 0;
  char what[160];
  float *got;

  /* the weights take what their dtype needs, however they are laid out */
  g_assert_cmpint (clGetMemObjectInfo (tw->mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL), ==, CL_SUCCESS);
  g_assert_cmpuint (bytes, ==, MAX (N * K * vtp_dtype_size (dtype), 4));
  g_assert_cmpint (tw->shape[0], ==, N);
  g_assert_cmpint (tw->shape[1], ==, K);
  if (kind == W_PLAIN)
    g_assert_cmpuint (tw->layout, ==, 0);

  /* the bfloat16 path (vtp-linear.c): x rounded to bfloat16 in the whole panels */
  const gboolean bf16_x = dev->bf16_dot && dtype == VTP_DTYPE_BF16 && tw->layout == 1 && M > 6 && K % 2 == 0
      && !g_getenv ("VTP_LINEAR_AS_GPU");

  /* the rows around the product (before y_row, after the last) must stay */
  for (gint64 i = 0; i < (M + y_row + 1) * N; i++)
    want[i] = y0[i];
  for (gint64 m = 0; m < M; m++)
    for (gint64 n = 0; n < N; n++) {
      double s = with_bias ? b[n] : 0;
      for (gint64 k = 0; k < K; k++) {
        const float xv = x[(m + x_row) * K + k];
        s += (double) (bf16_x && n < (N & ~15) ? vtp_bf16_to_f32 (vtp_f32_to_bf16 (xv)) : xv) * w[n * K + k];
      }
      want[(m + y_row) * N + n] = accumulate ? want[(m + y_row) * N + n] + s : s;
    }
  vtp_op_linear (ty, y_row, tx, x_row, M, tw, with_bias ? tb : NULL, accumulate);
  got = device_values (ty);
  g_snprintf (what, sizeof what, "linear M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%"
      G_GINT64_FORMAT " %s %s layout %u%s%s%s%s", M, K, N, vtp_dtype_name (dtype),
      kind == W_PLAIN ? "plain" : "packed", tw->layout, with_bias ? " bias" : "",
      accumulate ? " accumulate" : "", g_getenv ("VTP_LINEAR_AS_GPU") ? " as-gpu" : "",
      bf16_x ? " bf16-dot" : "");
  if (g_test_verbose ())
    g_printerr ("%s\n", what);
  assert_close (got, want, (M + y_row + 1) * N, 1e-4 * sqrt (K), what);
  g_free (got); g_free (want); g_free (x); g_free (w); g_free (b); g_free (y0);
  vtp_tensor_free (tx); vtp_tensor_free (tw); vtp_tensor_free (tb); vtp_tensor_free (ty);
  g_rand_free (r);
}

static const VtpDType types[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_BF16 };

/* Every case with both weight kinds and all dtypes. */
static void
run_case (gint64 M, gint64 K, gint64 N, gboolean with_bias, gboolean accumulate)
{
  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (gint kind = W_PLAIN; kind <= W_PACKED; kind++)
      test_linear_case (M, K, N, types[t], kind, with_bias, accumulate);
}

/* One row: the decode GEMV. */
static void
test_gemv (void)
{
  run_case (1, 64, 48, TRUE, FALSE);
  run_case (1, 37, 5, FALSE, TRUE);             /* fewer outputs than a panel */
  run_case (1, 1000, 300, TRUE, TRUE);          /* 18 panels + 12 plain rows */
  run_case (1, 3, 16, FALSE, FALSE);            /* K shorter than the segments */
  run_case (1, 1, 33, TRUE, FALSE);
  run_case (1, 2051, 64, FALSE, FALSE);         /* K odd, 4 segments + a rest */
  run_case (1, 256, 16 * 70 + 5, TRUE, TRUE);   /* runs of 16 panels a work-item, the last short, + 5 rows */
}

/* 2..9 rows: one launch per up to 6 rows, every tile height. */
static void
test_short (void)
{
  for (gint64 m = 2; m <= 9; m++) {
    run_case (m, 100, 40, TRUE, m % 2 == 0);
    run_case (m, 37, 16, m % 3 == 0, TRUE);
  }
  run_case (3, 7, 19, TRUE, FALSE);
}

/* Many rows: GEMM (groups of tiles with converted weight blocks for F16 and
 * BF16 from 12 rows on; several K blocks, several groups, plain rest). */
static void
test_gemm (void)
{
  run_case (12, 300, 32, FALSE, FALSE);
  run_case (13, 100, 40, TRUE, TRUE);
  run_case (33, 588, 40, TRUE, FALSE);          /* ViT patch embedding K */
  run_case (61, 520, 50, TRUE, TRUE);           /* 2 groups of tiles, 1 row rest */
  run_case (70, 96, 130, FALSE, TRUE);          /* N % 16 = 2 */
  run_case (66, 24, 7, TRUE, FALSE);            /* N below one panel */
  run_case (2, 3, 1, TRUE, FALSE);
  run_case (25, 101, 32, TRUE, FALSE);          /* K odd: no bfloat16 pairs */
  run_case (7, 512, 48, FALSE, TRUE);           /* 7 rows: one bfloat16 tile, 3 panels */
}

/* The GEMM cases again with the float kernels where the device would take
 * bfloat16 dot products for BF16 weights. */
static void
test_gemm_float (void)
{
  const gboolean bf16_dot = dev->bf16_dot;

  if (!bf16_dot) {
    g_test_skip ("the device has no bfloat16 dot products: test_gemm covered the float kernels");
    return;
  }
  dev->bf16_dot = FALSE;
  test_gemm ();
  dev->bf16_dot = bf16_dot;
}

/* vtp_op_linear_multi over many rows (q | k | v of a vision tower or a
 * prefill: with BF16 weights one bfloat16 copy of x serves the three)
 * equals the products one by one, bit for bit, for every weight type. */
static void
test_multi_rows (void)
{
  const gint64 M = 30, K = 520, Ns[3] = { 64, 40, 50 };

  for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
    GRand *r = g_rand_new_with_seed (77 + t);
    float *x = random_floats (r, M * K, 1.0);
    VtpTensor *tx = upload (x, M, K), *tw[3], *tb[3], *ty[3], *tz[3];
    VtpLinearOut outs[3];

    for (gint i = 0; i < 3; i++) {
      float *w = random_floats (r, Ns[i] * K, 0.5), *b = random_floats (r, Ns[i], 1.0);
      g_autofree float *zeros = g_new0 (float, M * Ns[i]);
      tw[i] = weight_new (w, Ns[i], K, types[t], W_PACKED);
      tb[i] = i == 1 ? NULL : upload (b, 1, Ns[i]);
      ty[i] = upload (zeros, M, Ns[i]);
      tz[i] = upload (zeros, M, Ns[i]);
      outs[i] = (VtpLinearOut) { ty[i], 0, tw[i], tb[i] };
      g_free (w);
      g_free (b);
    }
    vtp_op_linear_multi (tx, 0, M, outs, 3);
    for (gint i = 0; i < 3; i++) {
      g_autofree float *got = NULL, *want = NULL;
      vtp_op_linear (tz[i], 0, tx, 0, M, tw[i], tb[i], FALSE);
      got = device_values (ty[i]);
      want = device_values (tz[i]);
      if (memcmp (got, want, M * Ns[i] * sizeof (float)) != 0)
        g_error ("linear_multi %s output %d differs from vtp_op_linear", vtp_dtype_name (types[t]), i);
      vtp_tensor_free (tw[i]); vtp_tensor_free (tb[i]); vtp_tensor_free (ty[i]); vtp_tensor_free (tz[i]);
    }
    g_free (x);
    vtp_tensor_free (tx);
    g_rand_free (r);
  }
}

/* Products whose copy of x outgrows the cache list their work-items panel
 * fastest (vtp-linear.c's PANEL_MAJOR_*: F16 from 16 MB of float x, BF16
 * from 32 MB of bfloat16 x): the same rows give the same bits as in
 * products of 64 rows, listed tile group fastest. */
static void
test_panel_major (void)
{
  const VtpDType ts[2] = { VTP_DTYPE_F16, VTP_DTYPE_BF16 };
  const gint64 Ms[2] = { 1100, 4200 }, K = 4096, N = 32, PIECE = 64;

  for (guint t = 0; t < 2; t++) {
    const gint64 M = Ms[t];
    GRand *r = g_rand_new_with_seed (93 + t);
    g_autofree float *x = random_floats (r, M * K, 1.0);
    g_autofree float *w = random_floats (r, N * K, 0.5);
    VtpTensor *tx = upload (x, M, K), *tw = weight_new (w, N, K, ts[t], W_PACKED);

    assert_same_as_pieces (tx, M, tw, PIECE, vtp_dtype_name (ts[t]));
    vtp_tensor_free (tw); vtp_tensor_free (tx);
    g_rand_free (r);
  }
}

/* The float GEMM with one panel a work-item (as on CPUs without AVX-512)
 * where the device takes three: the reference cases, and the same bits as
 * three panels give, and two (each output is the same chain of
 * multiply-adds). */
static void
test_one_panel (void)
{
  const VtpDType ts[2] = { VTP_DTYPE_F16, VTP_DTYPE_BF16 };
  const gint64 M = 61, K = 520, N = 16 * 5 + 3;

  if (!dev->avx512) {
    g_test_skip ("the device takes one panel a work-item anyway: test_gemm covered it");
    return;
  }
  g_setenv ("VTP_P16G_PANELS", "1", TRUE);
  test_gemm ();
  g_unsetenv ("VTP_P16G_PANELS");
  for (guint t = 0; t < 2; t++) {
    GRand *r = g_rand_new_with_seed (5 + t);
    g_autofree float *x = random_floats (r, M * K, 1.0);
    g_autofree float *w = random_floats (r, N * K, 0.5);
    g_autofree float *b = random_floats (r, N, 1.0);
    g_autofree float *zeros = g_new0 (float, M * N);
    g_autofree float *wide = NULL;
    VtpTensor *tx = upload (x, M, K), *tw = weight_new (w, N, K, ts[t], W_PACKED), *tb = upload (b, 1, N);
    VtpTensor *ty = upload (zeros, M, N);
    const gboolean bf16_dot = dev->bf16_dot;

    dev->bf16_dot = FALSE;
    vtp_op_linear (ty, 0, tx, 0, M, tw, tb, FALSE);
    wide = device_values (ty);
    for (gint p = 1; p <= 2; p++) {
      char panels[2] = { (char) ('0' + p), 0 };
      g_autofree float *got = NULL;
      g_setenv ("VTP_P16G_PANELS", panels, TRUE);
      vtp_op_linear (ty, 0, tx, 0, M, tw, tb, FALSE);
      g_unsetenv ("VTP_P16G_PANELS");
      got = device_values (ty);
      if (memcmp (got, wide, M * N * sizeof (float)) != 0)
        g_error ("linear %s: %d panels a work-item differ from the device's choice", vtp_dtype_name (ts[t]), p);
    }
    dev->bf16_dot = bf16_dot;
    vtp_tensor_free (tx); vtp_tensor_free (tw); vtp_tensor_free (tb); vtp_tensor_free (ty);
    g_rand_free (r);
  }
}

/* The bfloat16 GEMM with AMX tiles (linear-amx.cl), which takes BF16
 * products of more than 6 rows whose K is a multiple of 32: one tile of
 * rows or several, blocks of two and one, work-items of several blocks,
 * one or two panels and the plain columns after them, several K blocks
 * (the sums kept in scratch between them), work-items of rows and of
 * panels. */
static void
test_amx_bf16 (void)
{
  if (!dev->amx_bf16) {
    g_test_skip ("the device has no AMX-BF16 tiles");
    return;
  }
  run_case (7, 64, 48, TRUE, FALSE);            /* 7 rows in one tile; a pair of panels and one */
  run_case (16, 96, 32, FALSE, TRUE);           /* one whole tile */
  run_case (33, 128, 130, TRUE, TRUE);          /* 3 tiles (2 + 1), 4 pairs + 2 plain columns */
  run_case (150, 64, 80, TRUE, FALSE);          /* 10 tiles: work-items of 4 blocks and 1 */
  run_case (40, 1024, 16, FALSE, FALSE);        /* long K, one panel */
  run_case (64, 64, 48, TRUE, TRUE);            /* two whole blocks, a pair and a lone panel, y + bias first */
  run_case (100, 1120, 40, TRUE, TRUE);         /* K blocks of 16, 16 and 3 tile products; sums kept between */
  run_case (64, 1024, 32, FALSE, TRUE);         /* K blocks, y added, no bias */
  run_case (700, 64, 272, TRUE, FALSE);         /* 22 blocks: 2 work-items of rows; 17 panels: items of 8, 8, 1 */
}

/* The GPU kernels, on whatever device runs the test. */
static void
test_as_gpu (void)
{
  g_setenv ("VTP_LINEAR_AS_GPU", "1", TRUE);
  test_gemv ();
  test_short ();
  test_gemm ();
  run_case (130, 70, 200, TRUE, TRUE);          /* several 64 x 64 tiles */
  g_unsetenv ("VTP_LINEAR_AS_GPU");
}

/* The GPU kernels' fused decode products against their launches one by
 * one, bit for bit, in one launch each (counted). */
static void
test_gpu_fused (void)
{
  static const gint64 Ms[] = { 1, 2, 3, 5, 8 }, Ks[] = { 520, 77 }, Ns[3] = { 64, 40, 50 };

  g_setenv ("VTP_LINEAR_AS_GPU", "1", TRUE);
  for (guint t = 0; t < G_N_ELEMENTS (types); t++)
    for (guint mi = 0; mi < G_N_ELEMENTS (Ms); mi++)
      for (guint ki = 0; ki < G_N_ELEMENTS (Ks); ki++) {
        const gint64 M = Ms[mi], K = Ks[ki], row0 = 1;
        GRand *r = g_rand_new_with_seed (300 + t * 10 + mi * 2 + ki);
        g_autofree float *x = random_floats (r, (M + 1) * K, 1.0);
        VtpTensor *tx = upload (x, M + 1, K), *tw[3], *tb[3], *ty[3], *tz[3];
        VtpLinearOut outs[3];
        guint64 launches;

        for (gint i = 0; i < 3; i++) {
          /* the MLP's gate and up (outputs 0 and 1) share a shape */
          const gint64 N = i == 1 ? Ns[0] : Ns[i];
          g_autofree float *w = random_floats (r, N * K, 0.5), *b = random_floats (r, N, 1.0);
          g_autofree float *zeros = g_new0 (float, (M + 1) * N);
          tw[i] = weight_new (w, N, K, types[t], W_PACKED);
          g_assert_cmpint (tw[i]->layout, ==, 0);
          tb[i] = i == 2 ? NULL : upload (b, 1, N);
          ty[i] = upload (zeros, M + 1, N);
          tz[i] = upload (zeros, M + 1, N);
          outs[i] = (VtpLinearOut) { ty[i], row0, tw[i], tb[i] };
        }
        for (gint n_outs = 2; n_outs <= 3; n_outs++) {
          launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
          vtp_op_linear_multi (tx, row0, M, outs, n_outs);
          g_assert_cmpuint (vtp_fault_events (VTP_FAULT_ENQUEUE) - launches, ==, 1);
          for (gint i = 0; i < n_outs; i++) {
            g_autofree float *got = NULL, *want = NULL;
            vtp_op_linear (tz[i], row0, tx, row0, M, tw[i], tb[i], FALSE);
            got = device_values (ty[i]);
            want = device_values (tz[i]);
            if (memcmp (got, want, (M + 1) * vtp_tensor_cols (ty[i]) * sizeof (float)) != 0)
              g_error ("gemv3 %s M %" G_GINT64_FORMAT " K %" G_GINT64_FORMAT " output %d of %d differs from "
                  "vtp_op_linear", vtp_dtype_name (types[t]), M, K, i, n_outs);
          }
        }
        /* gate | up, then silu (gate) up, against one launch into z[2]'s place */
        {
          g_autofree float *got = NULL, *want = NULL;
          g_autofree float *zeros = g_new0 (float, (M + 1) * Ns[0]);
          g_autoptr (GError) error = NULL;
          VtpTensor *fused = upload (zeros, M + 1, Ns[0]);
          g_assert_true (vtp_linear_swiglu_fits (tx, M, tw[0], tw[1]));
          vtp_op_linear_multi (tx, row0, M, outs, 2);
          vtp_op_silu_mul (ty[0], ty[1], row0, M);
          launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
          vtp_op_linear_swiglu (fused, row0, tx, row0, M, NULL, 0.0f, tw[0], tb[0], tw[1], tb[1]);
          g_assert_cmpuint (vtp_fault_events (VTP_FAULT_ENQUEUE) - launches, ==, 1);
          g_assert_true (vtp_error_take_pending (&error));
          got = device_values (fused);
          want = device_values (ty[0]);
          if (memcmp (got, want, (M + 1) * Ns[0] * sizeof (float)) != 0)
            g_error ("gemv_swiglu %s M %" G_GINT64_FORMAT " K %" G_GINT64_FORMAT " differs from the products and "
                "silu_mul", vtp_dtype_name (types[t]), M, K);
          /* gate and up of other shapes: not fused, refused */
          g_assert_false (vtp_linear_swiglu_fits (tx, M, tw[0], tw[2]));
          vtp_op_linear_swiglu (fused, row0, tx, row0, M, NULL, 0.0f, tw[0], tb[0], tw[2], NULL);
          g_assert_false (vtp_error_take_pending (&error));
          g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
          vtp_tensor_free (fused);
        }
        for (gint i = 0; i < 3; i++) {
          vtp_tensor_free (tw[i]); vtp_tensor_free (tb[i]); vtp_tensor_free (ty[i]); vtp_tensor_free (tz[i]);
        }
        vtp_tensor_free (tx);
        g_rand_free (r);
      }
  /* more rows than the GEMV takes: not fused */
  {
    g_autoptr (VtpTensor) x = vtp_tensor_new (dev, VTP_DTYPE_F32, 2, (gint64[]) { 9, 16 }, NULL);
    g_autoptr (VtpTensor) w = vtp_tensor_new (dev, VTP_DTYPE_F16, 2, (gint64[]) { 16, 16 }, NULL);
    g_assert_false (vtp_linear_swiglu_fits (x, 9, w, w));
    g_assert_true (vtp_linear_swiglu_fits (x, 8, w, w));
  }
  g_unsetenv ("VTP_LINEAR_AS_GPU");
  /* and on a CPU device without the switch: not fused */
  if (dev->kind == VTP_DEVICE_KIND_CPU) {
    g_autoptr (VtpTensor) x = vtp_tensor_new (dev, VTP_DTYPE_F32, 2, (gint64[]) { 1, 16 }, NULL);
    g_autoptr (VtpTensor) w = vtp_tensor_new (dev, VTP_DTYPE_F16, 2, (gint64[]) { 16, 16 }, NULL);
    g_assert_false (vtp_linear_swiglu_fits (x, 1, w, w));
  }
}

/* The same with the RMS norm before the products in their launch
 * (gemv3_norm_<T>, gemv_swiglu_norm_<T>; one row): the bits of
 * vtp_op_rmsnorm and the products after it, with the norm's sum by one
 * work-item (the CPU's reduce_wg, 1) and by a work-group of 256 (a GPU's);
 * q | k | v with q's and k's heads rotated (RoPE, both layouts) against the
 * norm, the products and rope_qk. */
static void
test_gpu_fused_norm (void)
{
  static const gint64 Ks[] = { 520, 77, 2048 }, Ns[3] = { 64, 40, 50 };
  const guint reduce_wg = dev->reduce_wg;

  g_setenv ("VTP_LINEAR_AS_GPU", "1", TRUE);
  for (guint wg = 0; wg < 2; wg++) {
    dev->reduce_wg = wg == 0 ? 1 : 256;
    for (guint t = 0; t < G_N_ELEMENTS (types); t++)
      for (guint ki = 0; ki < G_N_ELEMENTS (Ks); ki++) {
        const gint64 K = Ks[ki], row0 = 2, rows = 3;
        GRand *r = g_rand_new_with_seed (500 + wg * 100 + t * 10 + ki);
        g_autofree float *x = random_floats (r, rows * K, 2.0), *g = random_floats (r, K, 1.5);
        g_autofree float *zx = g_new0 (float, rows * K);
        VtpTensor *tx = upload (x, rows, K), *tg = upload (g, 1, K), *txn = upload (zx, rows, K), *txn2;
        VtpTensor *tw[3], *tb[3], *ty[3], *tz[3], *fused, *plain;
        VtpLinearOut outs[3], refs[3];
        g_autoptr (GError) error = NULL;
        g_autofree float *got = NULL, *want = NULL, *untouched = NULL;
        guint64 launches;

        txn2 = upload (zx, rows, K);
        for (gint i = 0; i < 3; i++) {
          const gint64 N = i == 1 ? Ns[0] : Ns[i];
          g_autofree float *w = random_floats (r, N * K, 0.5), *b = random_floats (r, N, 1.0);
          g_autofree float *zeros = g_new0 (float, rows * N);
          tw[i] = weight_new (w, N, K, types[t], W_PACKED);
          tb[i] = i == 0 ? NULL : upload (b, 1, N);
          ty[i] = upload (zeros, rows, N);
          tz[i] = upload (zeros, rows, N);
          outs[i] = (VtpLinearOut) { ty[i], row0, tw[i], tb[i] };
          refs[i] = (VtpLinearOut) { tz[i], row0, tw[i], tb[i] };
        }
        g_assert_true (vtp_linear_norm_fits (tx, 1, tw[0]));
        g_assert_false (vtp_linear_norm_fits (tx, 2, tw[0]));
        /* q | k | v */
        launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
        vtp_op_linear_multi_norm (tx, row0, 1, tg, 1e-5f, txn, outs, 3, NULL);
        g_assert_cmpuint (vtp_fault_events (VTP_FAULT_ENQUEUE) - launches, ==, 1);
        vtp_op_rmsnorm (txn2, tx, row0, 1, tg, 1e-5f);
        vtp_op_linear_multi (txn2, row0, 1, refs, 3);
        g_assert_true (vtp_error_take_pending (&error));
        for (gint i = 0; i < 3; i++) {
          g_autofree float *a = device_values (ty[i]), *b = device_values (tz[i]);
          if (memcmp (a, b, rows * vtp_tensor_cols (ty[i]) * sizeof (float)) != 0)
            g_error ("gemv3_norm %s K %" G_GINT64_FORMAT " reduce_wg %u output %d differs from rmsnorm and the "
                "products", vtp_dtype_name (types[t]), K, dev->reduce_wg, i);
        }
        untouched = device_values (txn);
        for (gint64 e = 0; e < rows * K; e++)
          g_assert_cmpfloat (untouched[e], ==, 0.0f);
        /* gate | up and the activation */
        {
          g_autofree float *zeros = g_new0 (float, rows * Ns[0]);
          fused = upload (zeros, rows, Ns[0]);
          plain = upload (zeros, rows, Ns[0]);
        }
        launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
        vtp_op_linear_swiglu (fused, row0, tx, row0, 1, tg, 1e-5f, tw[0], tb[0], tw[1], tb[1]);
        g_assert_cmpuint (vtp_fault_events (VTP_FAULT_ENQUEUE) - launches, ==, 1);
        vtp_op_linear_swiglu (plain, row0, txn2, row0, 1, NULL, 0.0f, tw[0], tb[0], tw[1], tb[1]);
        g_assert_true (vtp_error_take_pending (&error));
        got = device_values (fused);
        want = device_values (plain);
        if (memcmp (got, want, rows * Ns[0] * sizeof (float)) != 0)
          g_error ("gemv_swiglu_norm %s K %" G_GINT64_FORMAT " reduce_wg %u differs from rmsnorm and the fused "
              "products", vtp_dtype_name (types[t]), K, dev->reduce_wg);
        for (gint i = 0; i < 3; i++) {
          vtp_tensor_free (tw[i]); vtp_tensor_free (tb[i]); vtp_tensor_free (ty[i]); vtp_tensor_free (tz[i]);
        }
        vtp_tensor_free (fused); vtp_tensor_free (plain);
        /* q | k | v with q's and k's heads rotated (both layouts, heads of
         * 16 and 32) against the norm, the products and rope_qk */
        for (gint il = 0; il < 2; il++) {
          const gint d = il ? 16 : 32;
          const gint64 Nr[3] = { 4 * d, 2 * d, 48 };
          g_autofree float *angles = random_floats (r, d, 1.0);
          g_autofree float *qb = random_floats (r, Nr[0], 1.0);
          VtpTensor *table = upload (angles, 1, d), *rw[3], *ry[3], *rz[3], *qbias = upload (qb, 1, Nr[0]);
          VtpLinearOut ro[3], rr[3];
          const VtpLinearRope rope = { table, d, il };
          for (gint i = 0; i < 3; i++) {
            g_autofree float *w = random_floats (r, Nr[i] * K, 0.5);
            g_autofree float *zeros = g_new0 (float, rows * Nr[i]);
            rw[i] = weight_new (w, Nr[i], K, types[t], W_PACKED);
            ry[i] = upload (zeros, rows, Nr[i]);
            rz[i] = upload (zeros, rows, Nr[i]);
            ro[i] = (VtpLinearOut) { ry[i], row0, rw[i], i == 0 ? qbias : NULL };   /* q with a bias */
            rr[i] = ro[i];
            rr[i].y = rz[i];
          }
          launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
          vtp_op_linear_multi_norm (tx, row0, 1, tg, 1e-5f, txn, ro, 3, &rope);
          g_assert_cmpuint (vtp_fault_events (VTP_FAULT_ENQUEUE) - launches, ==, 1);
          vtp_op_rmsnorm (txn2, tx, row0, 1, tg, 1e-5f);
          vtp_op_linear_multi (txn2, row0, 1, rr, 3);
          vtp_op_rope_qk (rz[0], row0, 4, rz[1], row0, 2, 1, d, table, il ? VTP_ROPE_INTERLEAVED : VTP_ROPE_HALF);
          g_assert_true (vtp_error_take_pending (&error));
          for (gint i = 0; i < 3; i++) {
            g_autofree float *a = device_values (ry[i]), *b = device_values (rz[i]);
            if (memcmp (a, b, rows * Nr[i] * sizeof (float)) != 0) {
              for (gint64 e = 0; e < rows * Nr[i]; e++)
                if (a[e] != b[e])
                  g_printerr ("at %" G_GINT64_FORMAT ": %.9g %.9g\n", e, a[e], b[e]);
              g_error ("gemv3_norm with RoPE %s K %" G_GINT64_FORMAT " reduce_wg %u %s output %d differs from "
                  "rmsnorm, the products and rope_qk", vtp_dtype_name (types[t]), K, dev->reduce_wg,
                  il ? "interleaved" : "half", i);
            }
            vtp_tensor_free (rw[i]); vtp_tensor_free (ry[i]); vtp_tensor_free (rz[i]);
          }
          vtp_tensor_free (table);
          vtp_tensor_free (qbias);
        }
        vtp_tensor_free (tx); vtp_tensor_free (tg); vtp_tensor_free (txn); vtp_tensor_free (txn2);
        g_rand_free (r);
      }
  }
  dev->reduce_wg = reduce_wg;
  g_unsetenv ("VTP_LINEAR_AS_GPU");
}

/* Packing on a CPU: weights from vtp_linear_weight_new are laid out in
 * panels there (layout 1) once N reaches one panel. */
static void
test_layout (void)
{
  float w[32 * 8];
  VtpTensor *t;
  g_autoptr (GError) error = NULL;

  for (guint i = 0; i < G_N_ELEMENTS (w); i++)
    w[i] = i;
  t = vtp_linear_weight_new (dev, VTP_DTYPE_F32, 32, 8, w, &error);
  g_assert_no_error (error);
  if (dev->kind == VTP_DEVICE_KIND_CPU)
    g_assert_cmpuint (t->layout, ==, 1);
  vtp_tensor_free (t);
  t = vtp_linear_weight_new (dev, VTP_DTYPE_F32, 4, 8, w, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (t->layout, ==, 0);
  vtp_tensor_free (t);
}

/* Bytes of @t on the host. */
static guint8 *
read_bytes (const VtpTensor *t)
{
  g_autoptr (GError) error = NULL;
  guint8 *b = g_malloc (vtp_tensor_n_bytes (t));
  g_assert_true (vtp_tensor_read (t, 0, b, vtp_tensor_n_bytes (t), &error));
  return b;
}

/* Weights straight from a mapped safetensors file start wherever its
 * header ends: after an odd-length header, F16 and F32 elements are
 * unaligned (UBSan: misaligned loads in the packer). The packing is the
 * same as from an aligned copy. */
static void
test_unaligned_source (void)
{
  const VtpDType types[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_BF16 };
  const gint64 n = 40, k = 24;

  for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
    const gsize size = n * k * vtp_dtype_size (types[t]);
    g_autofree guint8 *aligned = g_malloc (size), *odd = g_malloc (size + 1);
    g_autofree guint8 *a = NULL, *b = NULL;
    g_autoptr (GError) error = NULL;
    VtpTensor *ta, *tb;

    for (gsize i = 0; i < size; i++)
      aligned[i] = odd[i + 1] = (guint8) (i * 7 + 3) & 0x3f;     /* small finite values in every type */
    ta = vtp_linear_weight_new (dev, types[t], n, k, aligned, &error);
    g_assert_no_error (error);
    tb = vtp_linear_weight_new (dev, types[t], n, k, odd + 1, &error);
    g_assert_no_error (error);
    g_assert_cmpuint (vtp_tensor_n_bytes (ta), ==, vtp_tensor_n_bytes (tb));
    a = read_bytes (ta);
    b = read_bytes (tb);
    g_assert_cmpmem (a, vtp_tensor_n_bytes (ta), b, vtp_tensor_n_bytes (tb));
    vtp_tensor_free (ta);
    vtp_tensor_free (tb);
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("VTP_LINEAR_AS_GPU");
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/linear/layout", test_layout);
  g_test_add_func ("/linear/unaligned-source", test_unaligned_source);
  g_test_add_func ("/linear/gemv", test_gemv);
  g_test_add_func ("/linear/short", test_short);
  g_test_add_func ("/linear/gemm-float", test_gemm_float);
  g_test_add_func ("/linear/gemm", test_gemm);
  g_test_add_func ("/linear/multi-rows", test_multi_rows);
  g_test_add_func ("/linear/panel-major", test_panel_major);
  g_test_add_func ("/linear/one-panel", test_one_panel);
  g_test_add_func ("/linear/amx-bf16", test_amx_bf16);
  g_test_add_func ("/linear/as-gpu", test_as_gpu);
  g_test_add_func ("/linear/gpu-fused", test_gpu_fused);
  g_test_add_func ("/linear/gpu-fused-norm", test_gpu_fused_norm);
  return g_test_run ();
}
