/* vtp-safetensors.h: one .safetensors file, memory-mapped; its header parsed
 * and every tensor's extent checked against the file size at open, so a
 * truncated download is reported before any weight is used. */
#pragma once
#include "vtp-tensor.h"

G_BEGIN_DECLS

typedef struct {
  char *name;
  VtpDType dtype;
  gboolean dtype_supported;   /* FALSE for F64, I8, F8...: an error when loaded */
  char *dtype_name;           /* as written in the file ("F16") */
  gint ndim;
  gint64 shape[VTP_MAX_DIMS];
  const guint8 *data;
  gsize n_bytes;
  const char *file;           /* path of the file holding it */
} VtpStTensor;

typedef struct {
  char *path;
  GMappedFile *map;           /* the file; NULL when made from bytes */
  GBytes *bytes;              /* the bytes given to new_from_bytes; NULL for a file */
  GHashTable *tensors;        /* name -> VtpStTensor */
} VtpSafetensors;

VtpSafetensors *vtp_safetensors_open (const char *path, GError **error);
/* The same from memory (kept referenced; @name prefixes error messages):
 * the fuzz target's entry point. Not for checkpoints, whose loaders drop
 * pages of the mapping (vtp_mapped_drop_pages), which would discard
 * memory that no file backs. */
VtpSafetensors *vtp_safetensors_new_from_bytes (GBytes *bytes, const char *name, GError **error);
void vtp_safetensors_free (VtpSafetensors *st);
const VtpStTensor *vtp_safetensors_find (VtpSafetensors *st, const char *name);

/* Drops the pages of the mapped bytes [@data, @data + @n_bytes) from this
 * process's memory (whole pages inside the range only); they come back from
 * the file if read again. Called once a tensor's bytes are on the device,
 * so that a loaded model does not hold its weights twice. */
void vtp_mapped_drop_pages (const void *data, gsize n_bytes);

/* "[577, 1024]" */
char *vtp_shape_to_string (gint ndim, const gint64 *shape);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpSafetensors, vtp_safetensors_free)

G_END_DECLS
