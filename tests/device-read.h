/* device-read.h: a device tensor's values on the host, after checking that
 * the work queued before succeeded (header-only, for the tests). */
#pragma once
#include "vtp-tensor.h"
#include "vtp-error.h"

static G_GNUC_UNUSED float *
device_values (const VtpTensor *t)
{
  g_autoptr (GError) error = NULL;
  float *v;
  g_assert_true (vtp_error_take_pending (&error));
  g_assert_no_error (error);
  v = vtp_tensor_read_f32 (t, &error);
  g_assert_no_error (error);
  return v;
}
