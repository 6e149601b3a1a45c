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

