/* vtp-tensor.h: a typed, shaped buffer on a VtpDevice. Activations are F32;
 * weights keep their checkpoint type (F32, F16, BF16, or one of llama.cpp's
 * block-quantized types, see vtp-quant.h) and are converted in the kernels
 * that read them. */
#pragma once
#include "vtp-device.h"

G_BEGIN_DECLS

typedef enum {
  VTP_DTYPE_F32,
  VTP_DTYPE_F16,
  VTP_DTYPE_BF16,
  VTP_DTYPE_I32,
  VTP_DTYPE_U8,
  VTP_DTYPE_I64,        /* host side only: token ids in checkpoints and fixtures */
  /* llama.cpp's block-quantized weight types (ggml's block layouts, see
   * vtp-quant.h): a row of K elements is K / block elements blocks */
  VTP_DTYPE_Q8_0,
  VTP_DTYPE_Q4_0,
  VTP_DTYPE_Q4_K,
  VTP_DTYPE_Q5_K,
  VTP_DTYPE_Q6_K,
  VTP_DTYPE_Q4_1,
  VTP_DTYPE_Q5_0,
  VTP_DTYPE_Q5_1,
  VTP_DTYPE_Q3_K,
  VTP_DTYPE_Q2_K,
  VTP_DTYPE_IQ4_NL,
  VTP_DTYPE_IQ4_XS,
  VTP_DTYPE_IQ3_XXS,
  VTP_DTYPE_IQ3_S,
  VTP_DTYPE_IQ2_XXS,
  VTP_DTYPE_IQ2_XS,
  VTP_DTYPE_IQ2_S,
  VTP_DTYPE_IQ1_S,
  VTP_DTYPE_IQ1_M,
} VtpDType;

#define VTP_MAX_DIMS 4

typedef struct {
  VtpDevice *dev;
  cl_mem mem;
  VtpDType dtype;
  gint ndim;
  gint64 shape[VTP_MAX_DIMS];
  guint layout;         /* 0: plain row-major; other values belong to the op that
                         * packed the tensor (vtp-linear.c for weights) */
  guint64 serial;       /* no other tensor of the process gets it (a table of
                         * buffers' device addresses compares it: vtp-decode-step.c) */
} VtpTensor;

/* Bytes per element; 0 for the block-quantized types (use the block or row
 * sizes below, which serve every type). */
gsize vtp_dtype_size (VtpDType t);
gboolean vtp_dtype_is_quantized (VtpDType t);
/* Elements per block (1 for the plain types) and bytes per block. */
guint vtp_dtype_block_elements (VtpDType t);
gsize vtp_dtype_block_bytes (VtpDType t);
/* Bytes of a row of @cols elements (@cols a multiple of the block). */
gsize vtp_dtype_row_bytes (VtpDType t, gint64 cols);
/* Scalar conversions (round to nearest even), for loading and tests. */
float vtp_f16_to_f32 (guint16 h);
/* vtp_f16_to_f32 inline, for loops over many values (quantizing F16
 * weights at load): the half's exponent and mantissa moved into a float's
 * places and the exponent rebased (+112); infinities and NaNs get the
 * float's all-ones exponent (their payload kept); zero and subnormal
 * halves are made (1 + m / 1024) 2^-14 and 2^-14 taken away, which leaves
 * m 2^-24 exactly without a subnormal float on the way (a host that
 * flushes subnormals, -ffast-math's startup code, gets the same values). */
static inline float
vtp_f16_to_f32_inline (guint16 h)
{
  const guint32 exp = h & 0x7c00;
  union { guint32 u; float f; } v = { ((guint32) (h & 0x7fff) << 13) + (112u << 23) };

  if (exp == 0x7c00)
    v.u |= 0x7f800000u;
  else if (exp == 0) {
    v.u += 1u << 23;
    v.f -= 0x1p-14f;
  }
  v.u |= (guint32) (h & 0x8000) << 16;
  return v.f;
}
guint16 vtp_f32_to_f16 (float f);
float vtp_bf16_to_f32 (guint16 b);
guint16 vtp_f32_to_bf16 (float f);
const char *vtp_dtype_name (VtpDType t);

/* Allocates an uninitialised tensor; NULL (and @error) when the device has no room. */
VtpTensor *vtp_tensor_new (VtpDevice *dev, VtpDType dtype, gint ndim, const gint64 *shape, GError **error);
VtpTensor *vtp_tensor_new_2d (VtpDevice *dev, VtpDType dtype, gint64 rows, gint64 cols, GError **error);
/* Allocates and fills from host memory (@data holds the whole tensor). */
VtpTensor *vtp_tensor_new_from_data (VtpDevice *dev, VtpDType dtype, gint ndim, const gint64 *shape,
    gconstpointer data, GError **error);
void vtp_tensor_free (VtpTensor *t);

gint64 vtp_tensor_n_elements (const VtpTensor *t);
gsize vtp_tensor_n_bytes (const VtpTensor *t);
/* Rows = product of all dimensions but the last; cols = the last. */
gint64 vtp_tensor_rows (const VtpTensor *t);
gint64 vtp_tensor_cols (const VtpTensor *t);
/* "[577, 1024] f32" */
char *vtp_tensor_describe (const VtpTensor *t);

/* Blocking copies between host and device; byte offsets into the tensor. */
gboolean vtp_tensor_write (VtpTensor *t, gsize offset, gconstpointer data, gsize n_bytes, GError **error);
gboolean vtp_tensor_read (const VtpTensor *t, gsize offset, gpointer data, gsize n_bytes, GError **error);
/* A read that the host collects later (vtp_tensor_read_finish): enqueued
 * behind the work queued so far, and the queue flushed, so that the host
 * can queue more work before it waits (a decode step ahead of the token
 * it reads). @data must stay valid until the read is finished. */
typedef struct {
  cl_event done;              /* NULL: none in flight */
  VtpDevice *dev;
  gsize n_bytes;
  char *what;                 /* the tensor, for the error */
} VtpTensorReading;
gboolean vtp_tensor_read_start (const VtpTensor *t, gsize offset, gpointer data, gsize n_bytes, VtpTensorReading *r,
    GError **error);
/* Waits for @r's bytes (nothing to do when none is in flight); with
 * @error NULL only waits, as a caller that gives up does before freeing
 * the destination. */
gboolean vtp_tensor_read_finish (VtpTensorReading *r, GError **error);
/* Device-side copy of @n_bytes (enqueued; errors become pending). */
void vtp_tensor_copy (VtpTensor *dst, gsize dst_offset, const VtpTensor *src, gsize src_offset, gsize n_bytes);
/* Device-side copy of a block of @rows x @cols elements between row-major
 * tensors of the same element type (rows of each tensor = its last dimension). */
void vtp_tensor_copy_rect (VtpTensor *dst, gint64 dst_row, gint64 dst_col, const VtpTensor *src,
    gint64 src_row, gint64 src_col, gint64 rows, gint64 cols);
/* Reads a whole F32 tensor into a new host array (for tests and tools). */
float *vtp_tensor_read_f32 (const VtpTensor *t, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpTensor, vtp_tensor_free)

G_END_DECLS
