/* test-util.h: small helpers shared by the kernel tests (header-only). */
#pragma once
#include "device-read.h"
#include <math.h>
#include <string.h>
#include "vtp-ops.h"

static VtpDevice *dev;

static G_GNUC_UNUSED float *
random_floats (GRand *r, gsize n, double scale)
{
  float *v = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    v[i] = (float) (g_rand_double_range (r, -1.0, 1.0) * scale);
  return v;
}

static G_GNUC_UNUSED VtpTensor *
upload (const float *v, gint64 rows, gint64 cols)
{
  gint64 shape[2] = { rows, cols };
  g_autoptr (GError) error = NULL;
  VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, v, &error);
  g_assert_no_error (error);
  return t;
}

/* Uploads @v converted to @dtype; @v is replaced by the rounded values so the
 * reference sees exactly what the device sees. */
static G_GNUC_UNUSED VtpTensor *
upload_as (float *v, gint64 rows, gint64 cols, VtpDType dtype)
{
  gint64 shape[2] = { rows, cols }, n = rows * cols;
  g_autoptr (GError) error = NULL;
  VtpTensor *t;
  guint16 *h;

  if (dtype == VTP_DTYPE_F32)
    return upload (v, rows, cols);
  h = g_new (guint16, n);
  for (gint64 i = 0; i < n; i++) {
    h[i] = dtype == VTP_DTYPE_F16 ? vtp_f32_to_f16 (v[i]) : vtp_f32_to_bf16 (v[i]);
    v[i] = dtype == VTP_DTYPE_F16 ? vtp_f16_to_f32 (h[i]) : vtp_bf16_to_f32 (h[i]);
  }
  t = vtp_tensor_new_from_data (dev, dtype, 2, shape, h, &error);
  g_assert_no_error (error);
  g_free (h);
  return t;
}

static G_GNUC_UNUSED void
assert_close (const float *got, const double *want, gsize n, double atol, const char *what)
{
  double worst = 0;
  gsize at = 0;
  for (gsize i = 0; i < n; i++) {
    double e = fabs (got[i] - want[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  if (!(worst <= atol))
    g_error ("%s: max abs error %g at %" G_GSIZE_FORMAT " (got %g, want %g), tolerance %g",
        what, worst, at, got[at], want[at], atol);
}

/* x's first @M rows times @w in one product give the bits they give in
 * products of @piece rows (the GEMMs' work-item order changes with the
 * size of x's copy, vtp-linear.c's PANEL_MAJOR_*; the arithmetic must
 * not). */
static G_GNUC_UNUSED void
assert_same_as_pieces (const VtpTensor *x, gint64 M, const VtpTensor *w, gint64 piece, const char *what)
{
  g_autoptr (GError) error = NULL;
  const gint64 N = w->shape[0];
  g_autofree float *zeros = g_new0 (float, M * N);
  VtpTensor *ya = upload (zeros, M, N), *yb = upload (zeros, M, N);
  g_autofree float *got = NULL, *want = NULL;

  vtp_op_linear (ya, 0, x, 0, M, w, NULL, FALSE);
  for (gint64 m = 0; m < M; m += piece)
    vtp_op_linear (yb, m, x, m, MIN (piece, M - m), w, NULL, FALSE);
  vtp_error_take_pending (&error);
  g_assert_no_error (error);
  got = device_values (ya);
  want = device_values (yb);
  for (gint64 i = 0; i < M * N; i++)
    if (memcmp (&got[i], &want[i], sizeof (float)) != 0)
      g_error ("%s: %" G_GINT64_FORMAT " rows in one product: element %" G_GINT64_FORMAT " is %.9g, in products "
          "of %" G_GINT64_FORMAT " rows %.9g", what, M, i, got[i], piece, want[i]);
  vtp_tensor_free (ya);
  vtp_tensor_free (yb);
}
