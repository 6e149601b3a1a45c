/* test-linear.c: vtp_op_linear (GEMV and GEMM paths, every weight dtype,
 * row offsets, bias, accumulation, odd sizes) against a double loop. */
#include "test-util.h"

static void
test_linear_case (gint64 M, gint64 K, gint64 N, VtpDType dtype, gboolean with_bias, gboolean accumulate)
{
  GRand *r = g_rand_new_with_seed (M * 1000003 + K * 101 + N + dtype);
  const gint64 x_row = 1, y_row = 2;        /* exercise the row offsets */
  float *x = random_floats (r, (M + x_row) * K, 1.0);
  float *w = random_floats (r, N * K, 0.5);
  float *b = random_floats (r, N, 1.0);
  float *y0 = random_floats (r, (M + y_row) * N, 1.0);
  VtpTensor *tx = upload (x, M + x_row, K), *tw = upload_as (w, N, K, dtype);
  VtpTensor *tb = upload (b, 1, N), *ty = upload (y0, M + y_row, N);
  double *want = g_new (double, (M + y_row) * N);
  char what[96];
  float *got;

  for (gint64 i = 0; i < (M + y_row) * N; i++)
    want[i] = y0[i];
  for (gint64 m = 0; m < M; m++)
    for (gint64 n = 0; n < N; n++) {
      double s = with_bias ? b[n] : 0;
      for (gint64 k = 0; k < K; k++)
        s += (double) x[(m + x_row) * K + k] * w[n * K + k];
      want[(m + y_row) * N + n] = accumulate ? want[(m + y_row) * N + n] + s : s;
    }
  vtp_op_linear (ty, y_row, tx, x_row, M, tw, with_bias ? tb : NULL, accumulate);
  got = download (ty);
  g_snprintf (what, sizeof what, "linear M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%"
      G_GINT64_FORMAT " %s", M, K, N, vtp_dtype_name (dtype));
  assert_close (got, want, (M + y_row) * N, 1e-4 * sqrt (K), what);
  g_free (got); g_free (want); g_free (x); g_free (w); g_free (b); g_free (y0);
  vtp_tensor_free (tx); vtp_tensor_free (tw); vtp_tensor_free (tb); vtp_tensor_free (ty);
  g_rand_free (r);
}

static void
test_linear (void)
{
  const VtpDType types[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_BF16 };
  for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
    test_linear_case (1, 64, 48, types[t], TRUE, FALSE);
    test_linear_case (1, 37, 5, types[t], FALSE, TRUE);
    test_linear_case (7, 100, 13, types[t], TRUE, TRUE);
    test_linear_case (33, 588, 40, types[t], TRUE, FALSE);
    test_linear_case (2, 3, 1, types[t], TRUE, FALSE);
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/linear/products", test_linear);
  return g_test_run ();
}
