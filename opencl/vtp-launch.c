#include "vtp-launch.h"
#include "vtp-fault.h"
#include <stdio.h>

const cl_mem vtp_null_mem = NULL;

/* VTP_PROFILE_KERNELS=1: every launch waits for its kernel, and the wall
 * time of each kernel name (enqueue to finish, so launch overhead
 * included) is summed and printed at exit. A developer's tool: the waits
 * serialize the queue. Each name's first call is counted apart: it
 * includes PoCL's compilation of the kernel for its launch shape and the
 * first touch of its buffers (35 ms for a 64 us kernel, measured), which
 * made the per-call times of kernels called once or twice a run
 * misleading. */
typedef struct {
  guint64 calls;                /* after the first */
  gint64 us;                    /* after the first */
  gint64 first_us;
} KernelTime;

static GHashTable *profile;   /* name -> KernelTime, under the device lock */
static gint profile_on = -1;

static gint
compare_time (gconstpointer a, gconstpointer b, gpointer table)
{
  const KernelTime *x = g_hash_table_lookup (table, *(char *const *) a);
  const KernelTime *y = g_hash_table_lookup (table, *(char *const *) b);
  return x->us < y->us ? 1 : x->us > y->us ? -1 : 0;
}

static void
profile_print (void)
{
  g_autofree gpointer *names = NULL;
  guint n = 0;
  gint64 total = 0;

  names = g_hash_table_get_keys_as_array (profile, &n);
  g_qsort_with_data (names, n, sizeof (gpointer), compare_time, profile);
  for (guint i = 0; i < n; i++)
    total += ((KernelTime *) g_hash_table_lookup (profile, names[i]))->us;
  fprintf (stderr, "%-28s %10s %12s %9s %6s %14s\n", "kernel", "calls", "total ms", "us/call", "share",
      "first call ms");
  for (guint i = 0; i < n; i++) {
    const KernelTime *t = g_hash_table_lookup (profile, names[i]);
    fprintf (stderr, "%-28s %10" G_GUINT64_FORMAT " %12.1f %9.1f %5.1f%% %14.1f\n", (char *) names[i], t->calls,
        t->us / 1e3, (double) t->us / MAX (t->calls, 1), 100.0 * t->us / MAX (total, 1), t->first_us / 1e3);
  }
}

static gboolean
profiling (void)
{
  if (G_UNLIKELY (profile_on < 0)) {
    profile_on = g_getenv ("VTP_PROFILE_KERNELS") != NULL;
    if (profile_on) {
      profile = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
      atexit (profile_print);
    }
  }
  return profile_on;
}

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
  /* VTP_FAULT=lost: as a lost device refuses it; VTP_FAULT=enqueue: as a
   * device out of resources refuses it */
  if (err == CL_SUCCESS && G_UNLIKELY (vtp_fault_lost ()))
    err = CL_DEVICE_NOT_AVAILABLE;
  else if (err == CL_SUCCESS && G_UNLIKELY (vtp_fault_enqueue (name)))
    err = CL_OUT_OF_RESOURCES;
  if (G_UNLIKELY (profiling ()) && err == CL_SUCCESS) {
    gint64 t0;
    KernelTime *t;
    clFinish (dev->queue);
    t0 = g_get_monotonic_time ();
    err = clEnqueueNDRangeKernel (dev->queue, k, dims, NULL, global, local, 0, NULL, NULL);
    clFinish (dev->queue);
    if (!(t = g_hash_table_lookup (profile, name))) {
      t = g_new0 (KernelTime, 1);
      t->first_us = g_get_monotonic_time () - t0;
      g_hash_table_insert (profile, g_strdup (name), t);
    } else {
      t->calls++;
      t->us += g_get_monotonic_time () - t0;
    }
  } else if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel (dev->queue, k, dims, NULL, global, local, 0, NULL, NULL);
  vtp_device_unlock (dev);
  if (err != CL_SUCCESS) {
    vtp_device_note_error (dev, err);
    vtp_error_set_pending (VTP_ERROR_DEVICE, "Kernel %s failed on %s: %s", name, dev->name,
        vtp_cl_strerror (err));
  }
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
    case VTP_DTYPE_Q4_1: case VTP_DTYPE_Q5_0: case VTP_DTYPE_Q5_1: case VTP_DTYPE_Q3_K: case VTP_DTYPE_Q2_K:
    case VTP_DTYPE_IQ4_NL: case VTP_DTYPE_IQ4_XS: case VTP_DTYPE_IQ3_XXS: case VTP_DTYPE_IQ3_S:
    case VTP_DTYPE_IQ2_XXS: case VTP_DTYPE_IQ2_XS: case VTP_DTYPE_IQ2_S: case VTP_DTYPE_IQ1_S: case VTP_DTYPE_IQ1_M:
      return vtp_dtype_name (t);
    default: return NULL;
  }
}
