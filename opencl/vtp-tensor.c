#include "vtp-tensor.h"
#include "vtp-fault.h"

gsize
vtp_dtype_size (VtpDType t)
{
  switch (t) {
    case VTP_DTYPE_F32: case VTP_DTYPE_I32: return 4;
    case VTP_DTYPE_F16: case VTP_DTYPE_BF16: return 2;
    case VTP_DTYPE_U8: return 1;
    case VTP_DTYPE_I64: return 8;
    default: return 0;
  }
}

gboolean
vtp_dtype_is_quantized (VtpDType t)
{
  return vtp_dtype_block_elements (t) > 1;
}

guint
vtp_dtype_block_elements (VtpDType t)
{
  switch (t) {
    case VTP_DTYPE_Q8_0: case VTP_DTYPE_Q4_0: case VTP_DTYPE_Q4_1: case VTP_DTYPE_Q5_0: case VTP_DTYPE_Q5_1:
    case VTP_DTYPE_IQ4_NL:
      return 32;
    case VTP_DTYPE_Q4_K: case VTP_DTYPE_Q5_K: case VTP_DTYPE_Q6_K: case VTP_DTYPE_Q3_K: case VTP_DTYPE_Q2_K:
    case VTP_DTYPE_IQ4_XS: case VTP_DTYPE_IQ3_XXS: case VTP_DTYPE_IQ3_S: case VTP_DTYPE_IQ2_XXS:
    case VTP_DTYPE_IQ2_XS: case VTP_DTYPE_IQ2_S: case VTP_DTYPE_IQ1_S: case VTP_DTYPE_IQ1_M:
      return 256;
    default: return 1;
  }
}

gsize
vtp_dtype_block_bytes (VtpDType t)
{
  /* ggml's block sizes: scale(s) + packed quants (vtp-quant.h) */
  switch (t) {
    case VTP_DTYPE_Q8_0: return 34;
    case VTP_DTYPE_Q4_0: return 18;
    case VTP_DTYPE_Q4_K: return 144;
    case VTP_DTYPE_Q5_K: return 176;
    case VTP_DTYPE_Q6_K: return 210;
    case VTP_DTYPE_Q4_1: return 20;
    case VTP_DTYPE_Q5_0: return 22;
    case VTP_DTYPE_Q5_1: return 24;
    case VTP_DTYPE_Q3_K: return 110;
    case VTP_DTYPE_Q2_K: return 84;
    case VTP_DTYPE_IQ4_NL: return 18;
    case VTP_DTYPE_IQ4_XS: return 136;
    case VTP_DTYPE_IQ3_XXS: return 98;
    case VTP_DTYPE_IQ3_S: return 110;
    case VTP_DTYPE_IQ2_XXS: return 66;
    case VTP_DTYPE_IQ2_XS: return 74;
    case VTP_DTYPE_IQ2_S: return 82;
    case VTP_DTYPE_IQ1_S: return 50;
    case VTP_DTYPE_IQ1_M: return 56;
    default: return vtp_dtype_size (t);
  }
}

gsize
vtp_dtype_row_bytes (VtpDType t, gint64 cols)
{
  return (gsize) (cols / vtp_dtype_block_elements (t)) * vtp_dtype_block_bytes (t);
}

float
vtp_f16_to_f32 (guint16 h)
{
  return vtp_f16_to_f32_inline (h);
}

guint16
vtp_f32_to_f16 (float f)
{
  union { float f; guint32 u; } v = { f };
  const guint32 sign = (v.u >> 16) & 0x8000;
  const gint32 exp = (gint32) ((v.u >> 23) & 0xff) - 127 + 15;
  guint32 mant = v.u & 0x7fffff;

  if (((v.u >> 23) & 0xff) == 0xff)           /* inf or nan */
    return sign | 0x7c00 | (mant ? 0x200 : 0);
  if (exp >= 31)
    return sign | 0x7c00;
  if (exp <= 0) {
    /* subnormal half (or zero): shift the full mantissa, round to nearest even */
    guint32 m, shift, half_bit, rest;
    if (exp < -10)
      return sign;
    m = mant | 0x800000;
    shift = 14 - exp;
    half_bit = 1u << (shift - 1);
    rest = m & ((1u << shift) - 1);
    m >>= shift;
    if (rest > half_bit || (rest == half_bit && (m & 1)))
      m++;
    return sign | m;
  }
  {
    guint32 h = sign | ((guint32) exp << 10) | (mant >> 13);
    const guint32 rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
      h++;                      /* may carry into the exponent: still correct */
    return h;
  }
}

float
vtp_bf16_to_f32 (guint16 b)
{
  union { guint32 u; float f; } v = { (guint32) b << 16 };
  return v.f;
}

guint16
vtp_f32_to_bf16 (float f)
{
  union { float f; guint32 u; } v = { f };
  if ((v.u & 0x7fffffff) > 0x7f800000)
    return (v.u >> 16) | 0x40;
  return (v.u + 0x7fff + ((v.u >> 16) & 1)) >> 16;
}

const char *
vtp_dtype_name (VtpDType t)
{
  static const char *const names[] = { "f32", "f16", "bf16", "i32", "u8", "i64",
    "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "q4_1", "q5_0", "q5_1",
    "q3_k", "q2_k", "iq4_nl", "iq4_xs", "iq3_xxs", "iq3_s", "iq2_xxs", "iq2_xs", "iq2_s",
    "iq1_s", "iq1_m" };
  return (guint) t < G_N_ELEMENTS (names) ? names[t] : "?";
}

gint64
vtp_tensor_n_elements (const VtpTensor *t)
{
  gint64 n = 1;
  for (gint i = 0; i < t->ndim; i++)
    n *= t->shape[i];
  return n;
}

gsize
vtp_tensor_n_bytes (const VtpTensor *t)
{
  return (gsize) vtp_tensor_rows (t) * vtp_dtype_row_bytes (t->dtype, vtp_tensor_cols (t));
}

gint64
vtp_tensor_cols (const VtpTensor *t)
{
  return t->ndim ? t->shape[t->ndim - 1] : 1;
}

gint64
vtp_tensor_rows (const VtpTensor *t)
{
  return vtp_tensor_n_elements (t) / MAX (vtp_tensor_cols (t), 1);
}

char *
vtp_tensor_describe (const VtpTensor *t)
{
  GString *s = g_string_new ("[");
  for (gint i = 0; i < t->ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->shape[i]);
  g_string_append_printf (s, "] %s", vtp_dtype_name (t->dtype));
  return g_string_free (s, FALSE);
}

static guint64 next_serial;    /* the last tensor's serial */

VtpTensor *
vtp_tensor_new (VtpDevice *dev, VtpDType dtype, gint ndim, const gint64 *shape, GError **error)
{
  VtpTensor *t;
  cl_int err;
  gsize bytes;

  g_return_val_if_fail (ndim >= 1 && ndim <= VTP_MAX_DIMS, NULL);
  t = g_new0 (VtpTensor, 1);
  t->serial = __atomic_add_fetch (&next_serial, 1, __ATOMIC_RELAXED);
  t->dev = vtp_device_ref (dev);
  t->dtype = dtype;
  t->ndim = ndim;
  for (gint i = 0; i < ndim; i++)
    t->shape[i] = shape[i];
  bytes = MAX (vtp_tensor_n_bytes (t), 4);
  if (bytes > dev->max_alloc) {
    char *d = vtp_tensor_describe (t);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "A %s tensor needs %" G_GSIZE_FORMAT " bytes, more than one buffer may hold on %s (%"
        G_GUINT64_FORMAT ")", d, bytes, dev->name, dev->max_alloc);
    g_free (d);
    vtp_tensor_free (t);
    return NULL;
  }
  t->mem = vtp_device_create_buffer (dev, bytes, &err);
  if (err != CL_SUCCESS) {
    char *d = vtp_tensor_describe (t);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "Could not allocate a %s tensor (%" G_GSIZE_FORMAT " bytes) on %s: %s",
        d, bytes, dev->name, vtp_cl_strerror (err));
    g_free (d);
    vtp_tensor_free (t);
    return NULL;
  }
  return t;
}

VtpTensor *
vtp_tensor_new_2d (VtpDevice *dev, VtpDType dtype, gint64 rows, gint64 cols, GError **error)
{
  gint64 shape[2] = { rows, cols };
  return vtp_tensor_new (dev, dtype, 2, shape, error);
}

VtpTensor *
vtp_tensor_new_from_data (VtpDevice *dev, VtpDType dtype, gint ndim, const gint64 *shape,
    gconstpointer data, GError **error)
{
  VtpTensor *t = vtp_tensor_new (dev, dtype, ndim, shape, error);

  if (t && !vtp_tensor_write (t, 0, data, vtp_tensor_n_bytes (t), error)) {
    vtp_tensor_free (t);
    return NULL;
  }
  return t;
}

void
vtp_tensor_free (VtpTensor *t)
{
  if (!t)
    return;
  vtp_device_release_buffer (t->mem);
  vtp_device_unref (t->dev);
  g_free (t);
}

gboolean
vtp_tensor_write (VtpTensor *t, gsize offset, gconstpointer data, gsize n_bytes, GError **error)
{
  cl_int err;

  g_return_val_if_fail (offset + n_bytes <= vtp_tensor_n_bytes (t), FALSE);
  if (n_bytes == 0)
    return TRUE;
  if ((err = vtp_device_copy_fault ()) == CL_SUCCESS)
    err = clEnqueueWriteBuffer (t->dev->queue, t->mem, CL_TRUE, offset, n_bytes, data, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    g_autofree char *d = vtp_tensor_describe (t);
    vtp_device_note_error (t->dev, err);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Could not upload %" G_GSIZE_FORMAT
        " bytes to a %s tensor on %s: %s", n_bytes, d, t->dev->name, vtp_cl_strerror (err));
    return FALSE;
  }
  return TRUE;
}

/* A read back that failed: the device noted, @error naming the tensor. */
static gboolean
read_failed (VtpDevice *dev, const char *what, gsize n_bytes, cl_int err, GError **error)
{
  vtp_device_note_error (dev, err);
  g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Could not read %" G_GSIZE_FORMAT
      " bytes back from a %s tensor on %s: %s", n_bytes, what, dev->name, vtp_cl_strerror (err));
  return FALSE;
}

gboolean
vtp_tensor_read (const VtpTensor *t, gsize offset, gpointer data, gsize n_bytes, GError **error)
{
  cl_int err;

  g_return_val_if_fail (offset + n_bytes <= vtp_tensor_n_bytes (t), FALSE);
  if (n_bytes == 0)
    return TRUE;
  if ((err = vtp_device_copy_fault ()) == CL_SUCCESS)
    err = clEnqueueReadBuffer (t->dev->queue, t->mem, CL_TRUE, offset, n_bytes, data, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    g_autofree char *d = vtp_tensor_describe (t);
    return read_failed (t->dev, d, n_bytes, err, error);
  }
  return TRUE;
}

gboolean
vtp_tensor_read_start (const VtpTensor *t, gsize offset, gpointer data, gsize n_bytes, VtpTensorReading *r,
    GError **error)
{
  cl_int err;

  g_return_val_if_fail (offset + n_bytes <= vtp_tensor_n_bytes (t) && r->done == NULL, FALSE);
  r->dev = t->dev;
  r->n_bytes = n_bytes;
  g_free (r->what);
  r->what = vtp_tensor_describe (t);
  if ((err = vtp_device_copy_fault ()) == CL_SUCCESS)
    err = clEnqueueReadBuffer (t->dev->queue, t->mem, CL_FALSE, offset, n_bytes, data, 0, NULL, &r->done);
  if (err == CL_SUCCESS)
    err = clFlush (t->dev->queue);
  if (err != CL_SUCCESS) {
    read_failed (t->dev, r->what, n_bytes, err, error);
    vtp_tensor_read_finish (r, NULL);
    return FALSE;
  }
  return TRUE;
}

gboolean
vtp_tensor_read_finish (VtpTensorReading *r, GError **error)
{
  cl_int err, status = CL_COMPLETE;

  if (!r->done) {
    g_clear_pointer (&r->what, g_free);
    return TRUE;
  }
  err = clWaitForEvents (1, &r->done);
  /* a command that failed on the device ends its event with a negative status */
  if (err == CL_SUCCESS || err == CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST)
    clGetEventInfo (r->done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof status, &status, NULL);
  if (err == CL_SUCCESS && status < 0)
    err = status;
  clReleaseEvent (r->done);
  r->done = NULL;
  if (err != CL_SUCCESS && error)
    read_failed (r->dev, r->what, r->n_bytes, err, error);
  g_clear_pointer (&r->what, g_free);
  return err == CL_SUCCESS;
}

/* A device-side copy that failed, as a pending error naming both tensors. */
static void
copy_failed (const char *what, gsize n_bytes, const VtpTensor *src, const VtpTensor *dst, cl_int err)
{
  g_autofree char *s = vtp_tensor_describe (src);
  g_autofree char *d = vtp_tensor_describe (dst);

  vtp_device_note_error (dst->dev, err);
  vtp_error_set_pending (VTP_ERROR_DEVICE, "Could not copy %s%" G_GSIZE_FORMAT " bytes from a %s tensor to a %s "
      "tensor on %s: %s", what, n_bytes, s, d, dst->dev->name, vtp_cl_strerror (err));
}

void
vtp_tensor_copy (VtpTensor *dst, gsize dst_offset, const VtpTensor *src, gsize src_offset, gsize n_bytes)
{
  cl_int err;

  if (vtp_error_is_pending () || n_bytes == 0)
    return;
  if (dst_offset + n_bytes > vtp_tensor_n_bytes (dst) || src_offset + n_bytes > vtp_tensor_n_bytes (src)) {
    vtp_error_set_pending (VTP_ERROR_SHAPE, "tensor copy of %" G_GSIZE_FORMAT " bytes out of bounds", n_bytes);
    return;
  }
  if ((err = vtp_device_copy_fault ()) == CL_SUCCESS)
    err = clEnqueueCopyBuffer (dst->dev->queue, src->mem, dst->mem, src_offset, dst_offset, n_bytes, 0, NULL, NULL);
  if (err != CL_SUCCESS)
    copy_failed ("", n_bytes, src, dst, err);
}

void
vtp_tensor_copy_rect (VtpTensor *dst, gint64 dst_row, gint64 dst_col, const VtpTensor *src,
    gint64 src_row, gint64 src_col, gint64 rows, gint64 cols)
{
  const gsize es = vtp_dtype_size (dst->dtype);
  const gint64 dw = vtp_tensor_cols (dst), sw = vtp_tensor_cols (src);
  size_t src_origin[3], dst_origin[3], region[3];
  cl_int err;

  if (vtp_error_is_pending () || rows == 0 || cols == 0)
    return;
  if (src->dtype != dst->dtype || dst_row < 0 || src_row < 0 || dst_col < 0 || src_col < 0
      || dst_row + rows > vtp_tensor_rows (dst) || src_row + rows > vtp_tensor_rows (src)
      || dst_col + cols > dw || src_col + cols > sw) {
    vtp_error_set_pending (VTP_ERROR_SHAPE, "block copy of %" G_GINT64_FORMAT "x%" G_GINT64_FORMAT
        " out of bounds", rows, cols);
    return;
  }
  src_origin[0] = src_col * es; src_origin[1] = src_row; src_origin[2] = 0;
  dst_origin[0] = dst_col * es; dst_origin[1] = dst_row; dst_origin[2] = 0;
  region[0] = cols * es; region[1] = rows; region[2] = 1;
  if ((err = vtp_device_copy_fault ()) == CL_SUCCESS)
    err = clEnqueueCopyBufferRect (dst->dev->queue, src->mem, dst->mem, src_origin, dst_origin, region,
        sw * es, 0, dw * es, 0, 0, NULL, NULL);
  if (err != CL_SUCCESS)
    copy_failed ("a block of ", (gsize) (rows * cols) * es, src, dst, err);
}

float *
vtp_tensor_read_f32 (const VtpTensor *t, GError **error)
{
  float *out;

  g_return_val_if_fail (t->dtype == VTP_DTYPE_F32, NULL);
  out = g_new (float, MAX (vtp_tensor_n_elements (t), 1));
  if (!vtp_tensor_read (t, 0, out, vtp_tensor_n_bytes (t), error)) {
    g_free (out);
    return NULL;
  }
  return out;
}
