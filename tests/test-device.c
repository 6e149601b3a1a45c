/* test-device.c: the CPU device's buffers in vtp's memory of 2 MB pages
 * (vtp-host-pages.h; the memory itself: test-host-pages.c): where they
 * are, that kernels read and write them as they do the driver's own
 * buffers, and that releasing one frees its memory; and the kernels built
 * again with other options (vtp_device_rebuild_kernels). */

#include "test-util.h"
#include "vtp-fault.h"
#include "vtp-host-pages.h"
#include <stdint.h>

/* The flags and host pointer the driver reports for @t's buffer. */
static void
buffer_info (const VtpTensor *t, cl_mem_flags *flags, void **host)
{
  g_assert_cmpint (clGetMemObjectInfo (t->mem, CL_MEM_FLAGS, sizeof *flags, flags, NULL), ==, CL_SUCCESS);
  g_assert_cmpint (clGetMemObjectInfo (t->mem, CL_MEM_HOST_PTR, sizeof *host, host, NULL), ==, CL_SUCCESS);
}

/* y = rmsnorm (x) over @rows rows of 4096 in a tensor of vtp's memory and
 * in one of the driver's: the same bits. */
static void
test_buffers (void)
{
  const gint64 rows = 192, D = 4096;     /* 3 MB */
  GRand *r = g_rand_new_with_seed (3);
  float *x = random_floats (r, rows * D, 2.0), *w = random_floats (r, D, 1.0), *got[2];
  VtpTensor *tw = upload (w, 1, D);
  const guint64 before = vtp_host_pages_live_bytes ();

  for (gint h = 0; h < 2; h++) {
    VtpTensor *tx, *small;
    cl_mem_flags flags;
    void *host;

    g_setenv ("VTP_HUGE_PAGES", h ? "1" : "0", TRUE);
    tx = upload (x, rows, D);
    small = upload (x, 1, D);
    buffer_info (tx, &flags, &host);
    if (h && dev->kind == VTP_DEVICE_KIND_CPU) {
      g_assert_true (flags & CL_MEM_USE_HOST_PTR);
      g_assert_cmpuint ((uintptr_t) host % 4096, ==, 0);
      g_assert_cmpuint (vtp_host_pages_live_bytes (), >=, before + rows * D * 4);
    } else
      g_assert_false (flags & CL_MEM_USE_HOST_PTR);
    /* below VTP_HOST_PAGES_MIN_BYTES the driver's own */
    g_assert_cmpuint (D * 4, <, VTP_HOST_PAGES_MIN_BYTES);
    buffer_info (small, &flags, &host);
    g_assert_false (flags & CL_MEM_USE_HOST_PTR);
    vtp_op_rmsnorm (tx, tx, 0, rows, tw, 1e-6f);
    got[h] = device_values (tx);
    vtp_tensor_free (tx);
    vtp_tensor_free (small);
    /* the driver calls the release back once the buffer is unused */
    for (gint i = 0; i < 100 && vtp_host_pages_live_bytes () != before; i++)
      g_usleep (10000);
    g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, before);
  }
  g_unsetenv ("VTP_HUGE_PAGES");
  g_assert_cmpmem (got[0], rows * D * 4, got[1], rows * D * 4);
  for (gint64 i = 0; i < rows * D; i += 4097)
    g_assert_cmpfloat (got[0][i], !=, x[i]);    /* the kernel ran */
  g_free (got[0]); g_free (got[1]); g_free (x); g_free (w);
  vtp_tensor_free (tw);
  g_rand_free (r);
}

/* An RMSNorm of fixed rows by the kernels of now, the values back */
static float *
rmsnorm_now (const float *x, const float *w, gint64 rows, gint64 D)
{
  VtpTensor *tx = upload (x, rows, D), *tw = upload (w, 1, D);
  float *got;

  vtp_op_rmsnorm (tx, tx, 0, rows, tw, 1e-6f);
  got = device_values (tx);
  vtp_tensor_free (tx);
  vtp_tensor_free (tw);
  return got;
}

/* vtp_device_rebuild_kernels: built with $VTP_KERNEL_DEFINES as set at
 * the call (a define the compiler refuses fails it, so it is read then),
 * launches use the new kernels, and a failed build keeps those of before */
static void
test_rebuild (void)
{
  const gint64 rows = 3, D = 256;
  GRand *r = g_rand_new_with_seed (5);
  float *x = random_floats (r, rows * D, 2.0), *w = random_floats (r, D, 1.0);
  float *want = rmsnorm_now (x, w, rows, D), *got;
  g_autoptr (GError) error = NULL;
  g_autofree char *options = NULL;

  g_setenv ("VTP_KERNEL_DEFINES", "-DVTP_TEST_REBUILD=1", TRUE);
  g_assert_true (vtp_device_rebuild_kernels (dev, &error));
  g_assert_no_error (error);
  options = vtp_device_kernel_options (dev);
  g_assert_nonnull (strstr (options, "-DVTP_TEST_REBUILD=1"));
  got = rmsnorm_now (x, w, rows, D);
  g_assert_cmpmem (got, rows * D * 4, want, rows * D * 4);
  g_free (got);

  /* a failed build (injected, as a compiler error would fail it) */
  vtp_fault_set (VTP_FAULT_BUILD, 0, NULL);
  g_assert_false (vtp_device_rebuild_kernels (dev, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "Building the vtp kernels"));
  g_clear_error (&error);
  vtp_fault_set (VTP_FAULT_NONE, 0, NULL);
  got = rmsnorm_now (x, w, rows, D);
  g_assert_cmpmem (got, rows * D * 4, want, rows * D * 4);
  g_free (got);

  /* PoCL on the CPU: a tunable of linear.cl's CPU kernels set to what
   * does not compile, read at the call */
  if (dev->pocl_cpu) {
    g_setenv ("VTP_KERNEL_DEFINES", "-DP16_AHEAD_BYTES=(", TRUE);
    g_assert_false (vtp_device_rebuild_kernels (dev, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_DEVICE);
    g_clear_error (&error);
    got = rmsnorm_now (x, w, rows, D);
    g_assert_cmpmem (got, rows * D * 4, want, rows * D * 4);
    g_free (got);
  }

  g_unsetenv ("VTP_KERNEL_DEFINES");
  g_assert_true (vtp_device_rebuild_kernels (dev, &error));
  got = rmsnorm_now (x, w, rows, D);
  g_assert_cmpmem (got, rows * D * 4, want, rows * D * 4);
  g_free (got);
  g_free (want); g_free (x); g_free (w);
  g_rand_free (r);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_message ("device: %s", dev->name);
  g_test_add_func ("/device/host-pages/buffers", test_buffers);
  g_test_add_func ("/device/rebuild-kernels", test_rebuild);
  return g_test_run ();
}
