#include "vtp-launch.h"

const cl_mem vtp_null_mem = NULL;

void
vtp_launch (VtpDevice *dev, const char *name, guint dims, const size_t *global,
    const size_t *local, guint n_args, const VtpArg *args)
{
  cl_kernel k;
  cl_int err = CL_SUCCESS;

  for (guint d = 0; d < dims; d++)
    if (global[d] == 0)
      return;
  vtp_device_lock (dev);
  k = vtp_device_kernel (dev, name);
  for (guint i = 0; i < n_args && err == CL_SUCCESS; i++)
    err = clSetKernelArg (k, i, args[i].size, args[i].value);
  if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel (dev->queue, k, dims, NULL, global, local, 0, NULL, NULL);
  vtp_device_unlock (dev);
  if (err != CL_SUCCESS)
    vtp_error_set_pending (VTP_ERROR_DEVICE, "Kernel %s failed on %s: %s", name, dev->name,
        vtp_cl_strerror (err));
}

gboolean
vtp_check (gboolean ok, const char *op, const char *format, ...)
{
  va_list args;
  char *msg;

  if (ok)
    return TRUE;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  vtp_error_set_pending (VTP_ERROR_SHAPE, "%s: %s", op, msg);
  g_free (msg);
  return FALSE;
}

gboolean
vtp_rows_in (const VtpTensor *t, gint64 row, gint64 n_rows)
{
  return row >= 0 && n_rows >= 0 && row + n_rows <= vtp_tensor_rows (t);
}

const char *
vtp_weight_suffix (VtpDType t)
{
  switch (t) {
    case VTP_DTYPE_F32: return "f32";
    case VTP_DTYPE_F16: return "f16";
    case VTP_DTYPE_BF16: return "bf16";
    case VTP_DTYPE_Q8_0: case VTP_DTYPE_Q4_0: case VTP_DTYPE_Q4_K: case VTP_DTYPE_Q5_K: case VTP_DTYPE_Q6_K:
      return vtp_dtype_name (t);
    default: return NULL;
  }
}
