/* vtp-launch.h: what the kernel launchers (vtp-ops.c, vtp-linear.c) share:
 * argument packing, the locked enqueue, and shape checks that record a
 * pending error. Internal to opencl/. */
#pragma once
#include "vtp-tensor.h"

typedef struct {
  size_t size;
  const void *value;            /* NULL with size > 0: local memory */
} VtpArg;

extern const cl_mem vtp_null_mem;

#define A_MEM(t) ((VtpArg) { sizeof (cl_mem), &(t)->mem })
#define A_OPT_MEM(t) ((VtpArg) { sizeof (cl_mem), (t) ? (const void *) &(t)->mem : (const void *) &vtp_null_mem })
#define A_INT(v) ((VtpArg) { sizeof (cl_int), &(cl_int) { (cl_int) (v) } })
#define A_FLOAT(v) ((VtpArg) { sizeof (cl_float), &(cl_float) { (cl_float) (v) } })
#define A_LOCAL(n) ((VtpArg) { (n), NULL })

/* Sets the arguments of kernel @name and enqueues it, under the device lock.
 * A zero global size enqueues nothing. */
void vtp_launch (VtpDevice *dev, const char *name, guint dims, const size_t *global,
    const size_t *local, guint n_args, const VtpArg *args);

#define LAUNCH(dev, name, dims, global, local, ...)                            \
  do {                                                                         \
    const VtpArg args_[] = { __VA_ARGS__ };                                    \
    vtp_launch ((dev), (name), (dims), (global), (local), G_N_ELEMENTS (args_), args_); \
  } while (0)

/* Records "@op: message" as the pending shape error unless @ok. */
gboolean vtp_check (gboolean ok, const char *op, const char *format, ...) G_GNUC_PRINTF (3, 4);
#define check vtp_check

/* TRUE when rows [row, row + n_rows) exist in @t. */
gboolean vtp_rows_in (const VtpTensor *t, gint64 row, gint64 n_rows);
#define rows_in vtp_rows_in

/* How vtp_op_linear computes one row of x times @w (vtp-linear.c): the
 * int8 GEMV's panel function (its type code in quant-multi.cl's
 * vnni_panel_of, x quantized in groups of *@int8_group blocks of 32) or
 * the float panels' (32, 33, 34: F32, F16, BF16: linear_p16s_<T>), or -1
 * when another kernel computes it. */
gint vtp_linear_gemv_panels (const VtpDevice *dev, const VtpTensor *w, gint *int8_group);

/* Bytes of the int8 copy of @n_rows rows of x @K wide (quantize_rows_q8's
 * scratch: the rows, then their blocks' scales, half-block sums and
 * super-blocks' mins). */
gsize vtp_linear_int8_rows_bytes (gint64 n_rows, gint64 K);

/* Kernel name suffix of a weight dtype ("f32", "f16", "bf16"), NULL for others. */
const char *vtp_weight_suffix (VtpDType t);
