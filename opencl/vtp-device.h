/* vtp-device.h: one OpenCL device, its context, its in-order queue and its
 * kernels, built once and shared by every vtp element and model of a process. */
#pragma once
#include <glib-object.h>
#include <CL/cl.h>
#include "vtp-error.h"

G_BEGIN_DECLS

typedef enum {
  VTP_DEVICE_KIND_CPU,
  VTP_DEVICE_KIND_GPU,
  VTP_DEVICE_KIND_OTHER,
} VtpDeviceKind;

typedef struct {
  gint ref_count;
  cl_platform_id platform;
  cl_device_id id;
  cl_context context;
  cl_command_queue queue;
  cl_program program;
  GHashTable *kernels;       /* name -> cl_kernel */
  GRecMutex lock;            /* held while setting kernel args and enqueueing */
  GPtrArray *scratch;        /* cl_mem: free scratch buffers (vtp_device_scratch_take) */
  gint lost;                 /* atomic: vtp_device_note_error saw the device gone */
  char *name;                /* "platform / device" */
  VtpDeviceKind kind;
  guint reduce_wg;           /* work-group size of row reductions (1 on CPUs) */
  guint64 global_mem;
  guint64 max_alloc;
  guint64 local_mem;         /* bytes of local memory a work-group may use */
  guint compute_units;
  /* The x86 CPU under PoCL has int8 dot products: the products of
   * quantized weights take them (activations quantized to int8 per block
   * of 32, or of 256 for the K-quants, as llama.cpp does). With AVX-512
   * VNNI (int8_vnni) every quantized type; with AVX2 alone the types but
   * the lattice ones (IQ3_*, IQ2_*, IQ1_*), each vpdpbusd done as
   * vpmaddubsw + vpmaddwd on 256-bit halves (quant.cl). Off with
   * $VTP_QUANT_DOT=float (then every path computes on the dequantized
   * weights in float); $VTP_QUANT_DOT=avx2 takes the AVX2 way on a CPU
   * with VNNI too (its tests). */
  gboolean int8_dot;
  gboolean int8_vnni;
  /* ... and AVX512-BF16: the products of many rows (prefill, the vision
   * tower) with BF16 weights round their activations to bfloat16 and take
   * bfloat16 dot products (vdpbf16ps, float sums), as llama.cpp and
   * PyTorch's bf16 do. Off with $VTP_BF16_DOT=float. */
  gboolean bf16_dot;
  /* ... and AMX-INT8, whose tile state Linux granted this process: the
   * int8 GEMM of Q8_0 weights takes AMX tile products (quant-amx.cl; the
   * VNNI GEMM's results, bit for bit). Off with $VTP_AMX=0. */
  gboolean amx_int8;
  /* ... and AMX-BF16 (with bf16_dot): the bfloat16 GEMM takes AMX tile
   * products (linear-amx.cl) where K is a multiple of 32. Off with
   * $VTP_AMX=0 too. */
  gboolean amx_bf16;
  /* PoCL on the host CPU (kernels built with -DVTP_POCL_CPU: prefetches,
   * the fused decode layer of decode-layer.cl) */
  gboolean pocl_cpu;
  /* ... an x86 CPU with AVX-512F (32 registers of 16 floats: the float
   * GEMM's work-items take two panels, vtp-linear.c's p16g_panels) */
  gboolean avx512;
} VtpDevice;

#define VTP_TYPE_DEVICE (vtp_device_get_type ())
GType vtp_device_get_type (void);

/* The environment variable that picks the device when no property does. */
#define VTP_DEVICE_ENV "VTP_DEVICE"

/* Returns the process-wide device matching @spec, creating it (and building
 * its kernels) on first use. @spec: NULL (use $VTP_DEVICE, else "auto"),
 * "auto" (first GPU, else first CPU), "gpu", "cpu", "gpu:N", "cpu:N",
 * "P:D" (platform and device index), or a case-insensitive substring of
 * "platform / device". */
VtpDevice *vtp_device_get (const char *spec, GError **error);
VtpDevice *vtp_device_ref (VtpDevice *dev);
void vtp_device_unref (VtpDevice *dev);

/* A new read-write buffer of @bytes on @dev (clCreateBuffer), NULL with
 * *@err set when it cannot be had. Every device buffer of vtp comes from
 * here, so that VTP_FAULT=alloc (vtp-fault.h) can refuse any of them. */
cl_mem vtp_device_create_buffer (VtpDevice *dev, gsize bytes, cl_int *err);
/* What VTP_FAULT answers a copy (an upload, a read-back, a map or unmap, a
 * copy between buffers) in the driver's place: CL_SUCCESS when no fault
 * fires; CL_DEVICE_NOT_AVAILABLE once the device is lost (lost), else
 * CL_OUT_OF_RESOURCES (copy). */
cl_int vtp_device_copy_fault (void);
/* Every failed OpenCL call on @dev reports its code here: the codes of a
 * device that is gone (not available, its queue or context invalid,
 * NVIDIA's -9999 after a faulting kernel) mark it lost, and the next
 * vtp_device_get opens the device anew instead of sharing it. */
void vtp_device_note_error (VtpDevice *dev, cl_int err);
/* Whether @dev was marked lost. */
gboolean vtp_device_is_lost (VtpDevice *dev);
/* Releases a buffer of vtp_device_create_buffer. */
void vtp_device_release_buffer (cl_mem mem);
/* Bytes in vtp's device buffers now and at most so far, over every device
 * of the process (the benches' memory budget: weights, KV caches,
 * activations and scratch). */
void vtp_device_buffer_bytes (guint64 *live, guint64 *peak);
/* A scratch buffer of at least @bytes for work enqueued right after (a
 * converted copy of x that a product's kernels read), given back with
 * vtp_device_scratch_give as soon as those kernels are enqueued: the queue
 * runs in order, so whoever takes the buffer next enqueues after them.
 * Reused rather than created per product: a few MB created and released
 * per product in a prefill made the process heap grow (glibc's adaptive
 * mmap threshold moves allocations of a size once freed into the heap,
 * where they fragment). */
cl_mem vtp_device_scratch_take (VtpDevice *dev, gsize bytes, cl_int *err);
void vtp_device_scratch_give (VtpDevice *dev, cl_mem mem);

/* The kernels' program source, every file after its preamble in the order
 * vtp builds it (free with g_free): tests/test-kernel-isas.c compiles it
 * for the x86 instruction sets the machine lacks. */
char *vtp_device_kernel_sources (void);

/* The options vtp builds its kernels with on @dev (the device's
 * instructions, PoCL on the CPU, $VTP_KERNEL_DEFINES); free with g_free.
 * bench/vtp-bench-kernel-ab builds its versions with them too. */
char *vtp_device_kernel_options (const VtpDevice *dev);

/* Builds the kernels again with the options of now ($VTP_KERNEL_DEFINES
 * as set now) and launches those from then on, after waiting for the work
 * queued; on an error the kernels of before stay. For A/B tests of kernel
 * tunables in one process (vtp-bench-llm --alternate VTP_KERNEL_DEFINES=...):
 * the program is otherwise built once, when the device opens. */
gboolean vtp_device_rebuild_kernels (VtpDevice *dev, GError **error);

/* A kernel of the shared program; only call between lock and unlock. */
cl_kernel vtp_device_kernel (VtpDevice *dev, const char *name);
void vtp_device_lock (VtpDevice *dev);
void vtp_device_unlock (VtpDevice *dev);

/* Waits until everything enqueued on the device has run. */
gboolean vtp_device_finish (VtpDevice *dev, GError **error);

/* One line per OpenCL device on this machine, with the spec that selects it. */
char *vtp_device_list_all (void);

const char *vtp_cl_strerror (cl_int err);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpDevice, vtp_device_unref)

G_END_DECLS
