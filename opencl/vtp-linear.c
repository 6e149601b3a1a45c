/* vtp-linear.c: launchers for linear.cl. */
#include "vtp-linear.h"
#include "vtp-launch.h"

VtpTensor *
vtp_linear_weight_new (VtpDevice *dev, VtpDType dtype, gint64 n, gint64 k,
    gconstpointer data, GError **error)
{
  gint64 shape[2] = { n, k };
  g_return_val_if_fail (vtp_weight_suffix (dtype) != NULL, NULL);
  return vtp_tensor_new_from_data (dev, dtype, 2, shape, data, error);
}

/* Rows up to which a product is done as GEMV (weights read once per row). */
#define GEMV_MAX_ROWS 1
#define GEMM_TM 2               /* must match linear.cl */
#define GEMM_TN 4

void
vtp_op_linear (VtpTensor *y, gint64 y_row, const VtpTensor *x, gint64 x_row, gint64 n_rows,
    const VtpTensor *w, const VtpTensor *bias, gboolean accumulate)
{
  const gint64 N = w->shape[0], K = vtp_tensor_cols (w);
  const char *suffix = vtp_weight_suffix (w->dtype);
  char name[32];

  if (vtp_error_is_pending () || n_rows == 0)
    return;
  if (!check (suffix && w->ndim == 2, "linear", "weights must be 2-D f32/f16/bf16")
      || !check (x->dtype == VTP_DTYPE_F32 && y->dtype == VTP_DTYPE_F32, "linear", "activations must be f32")
      || !check (vtp_tensor_cols (x) == K, "linear", "input has %" G_GINT64_FORMAT
          " columns, weights [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "] need %" G_GINT64_FORMAT,
          vtp_tensor_cols (x), N, K, K)
      || !check (vtp_tensor_cols (y) == N, "linear", "output has %" G_GINT64_FORMAT
          " columns, weights give %" G_GINT64_FORMAT, vtp_tensor_cols (y), N)
      || !check (!bias || vtp_tensor_n_elements (bias) == N, "linear", "bias size differs from %"
          G_GINT64_FORMAT, N)
      || !check (rows_in (x, x_row, n_rows) && rows_in (y, y_row, n_rows), "linear", "rows out of range"))
    return;

  if (n_rows <= GEMV_MAX_ROWS) {
    const size_t wg = x->dev->reduce_wg;
    const size_t global[2] = { N * wg, n_rows }, local[2] = { wg, 1 };
    g_snprintf (name, sizeof name, "gemv_%s", suffix);
    LAUNCH (x->dev, name, 2, global, local,
        A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias), A_INT (bias != NULL),
        A_MEM (y), A_INT (y_row * N), A_INT (K), A_INT (N), A_INT (accumulate),
        A_LOCAL (wg * sizeof (float)));
  } else {
    const size_t global[2] = { (N + GEMM_TN - 1) / GEMM_TN, (n_rows + GEMM_TM - 1) / GEMM_TM };
    g_snprintf (name, sizeof name, "gemm_%s", suffix);
    LAUNCH (x->dev, name, 2, global, NULL,
        A_MEM (x), A_INT (x_row * K), A_MEM (w), A_OPT_MEM (bias), A_INT (bias != NULL),
        A_MEM (y), A_INT (y_row * N), A_INT (n_rows), A_INT (K), A_INT (N), A_INT (accumulate));
  }
}

