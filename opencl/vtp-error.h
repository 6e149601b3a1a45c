/* vtp-error.h: the error domain shared by every vtp layer, and the sticky
 * per-thread error that lets model code enqueue a whole forward pass and
 * check once at the end (as llama2.c reads: one step after another). */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define VTP_ERROR (vtp_error_quark ())
GQuark vtp_error_quark (void);

typedef enum {
  VTP_ERROR_DEVICE,      /* OpenCL failure: no device, build failure, out of memory */
  VTP_ERROR_FILE,        /* a model file is missing, unreadable or truncated */
  VTP_ERROR_FORMAT,      /* a file is readable but malformed (header, JSON, dtype) */
  VTP_ERROR_SHAPE,       /* a tensor or a caps dimension is not what was expected */
  VTP_ERROR_CONFIG,      /* config.json lacks a field or names an unsupported option */
  VTP_ERROR_INPUT,       /* bad runtime input: prompt too long, odd image size */
} VtpErrorCode;

/* Records @code/@format as this thread's pending error unless one is
 * already pending (the first error is the one worth reading). */
void vtp_error_set_pending (VtpErrorCode code, const char *format, ...) G_GNUC_PRINTF (2, 3);
/* TRUE while an error is pending on this thread: operations become no-ops. */
gboolean vtp_error_is_pending (void);
/* Moves the pending error (if any) into @error; returns FALSE when there was one. */
gboolean vtp_error_take_pending (GError **error);

G_END_DECLS
