/* vtp-device.c: device discovery, the per-process device table, kernel build. */
#include "vtp-device.h"
#include "vtp-fault.h"
#include "vtp-host-pages.h"
#include "vtp-kernels-resources.h"
#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* The kernel sources, concatenated in this order into one program, each
 * after its preamble: attention-kv.cl and decode-layer.cl are there three
 * times, for F32, F16 and Q8_0 key and value caches. */
static const struct {
  const char *file, *preamble;
} kernel_files[] = {
  { "common.cl", "" }, { "linear.cl", "" }, { "linear-amx.cl", "" }, { "attention-amx.cl", "" }, { "quant.cl", "" }, { "iq-grids.cl", "" },
  { "quant-lattice.cl", "" }, { "quant-multi.cl", "" }, { "quant-amx.cl", "" }, { "probe.cl", "" },
  { "norm.cl", "" },
  { "activation.cl", "" }, { "gemv-norm.cl", "" }, { "attention.cl", "" }, { "attention-kv.cl", "#define KV_TYPE 0\n" },
  { "attention-kv.cl", "#define KV_TYPE 1\n" }, { "attention-kv.cl", "#define KV_TYPE 2\n" }, { "rope.cl", "" },
  { "decode-layer.cl", "#define KV_TYPE 0\n" }, { "decode-layer.cl", "#define KV_TYPE 1\n" },
  { "decode-layer.cl", "#define KV_TYPE 2\n" }, { "embed.cl", "" }, { "sample.cl", "" },
  { "image.cl", "" },
};

static GMutex devices_lock;
static GHashTable *devices;     /* cl_device_id -> VtpDevice (weak: removed on last unref) */

G_DEFINE_BOXED_TYPE (VtpDevice, vtp_device, vtp_device_ref, vtp_device_unref)

const char *
vtp_cl_strerror (cl_int err)
{
  switch (err) {
    case CL_SUCCESS: return "success";
    case CL_DEVICE_NOT_FOUND: return "device not found";
    case CL_DEVICE_NOT_AVAILABLE: return "device not available";
    case CL_COMPILER_NOT_AVAILABLE: return "compiler not available";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "memory object allocation failure";
    case CL_OUT_OF_RESOURCES: return "out of resources";
    case CL_OUT_OF_HOST_MEMORY: return "out of host memory";
    case CL_MAP_FAILURE: return "map failure";
    case CL_BUILD_PROGRAM_FAILURE: return "build program failure";
    case CL_INVALID_VALUE: return "invalid value";
    case CL_INVALID_PLATFORM: return "invalid platform";
    case CL_INVALID_DEVICE: return "invalid device";
    case CL_INVALID_CONTEXT: return "invalid context";
    case CL_INVALID_COMMAND_QUEUE: return "invalid command queue";
    case CL_INVALID_MEM_OBJECT: return "invalid memory object";
    case CL_INVALID_PROGRAM: return "invalid program";
    case CL_INVALID_KERNEL_NAME: return "invalid kernel name";
    case CL_INVALID_KERNEL: return "invalid kernel";
    case CL_INVALID_ARG_INDEX: return "invalid kernel argument index";
    case CL_INVALID_ARG_VALUE: return "invalid kernel argument value";
    case CL_INVALID_ARG_SIZE: return "invalid kernel argument size";
    case CL_INVALID_KERNEL_ARGS: return "invalid kernel arguments";
    case CL_INVALID_WORK_DIMENSION: return "invalid work dimension";
    case CL_INVALID_WORK_GROUP_SIZE: return "invalid work-group size";
    case CL_INVALID_WORK_ITEM_SIZE: return "invalid work-item size";
    case CL_INVALID_GLOBAL_OFFSET: return "invalid global offset";
    case CL_INVALID_BUFFER_SIZE: return "invalid buffer size";
    case CL_INVALID_OPERATION: return "invalid operation";
    case -1001: /* CL_PLATFORM_NOT_FOUND_KHR */ return "no OpenCL platform (is an ICD such as pocl-opencl-icd installed?)";
    default: return "OpenCL error";
  }
}

static char *
device_info_string (cl_device_id id, cl_device_info what)
{
  size_t n = 0;
  char *s;

  if (clGetDeviceInfo (id, what, 0, NULL, &n) != CL_SUCCESS || n == 0)
    return g_strdup ("?");
  s = g_malloc0 (n + 1);
  clGetDeviceInfo (id, what, n, s, NULL);
  return g_strstrip (s);
}

static char *
platform_name (cl_platform_id p)
{
  size_t n = 0;
  char *s;

  if (clGetPlatformInfo (p, CL_PLATFORM_NAME, 0, NULL, &n) != CL_SUCCESS || n == 0)
    return g_strdup ("?");
  s = g_malloc0 (n + 1);
  clGetPlatformInfo (p, CL_PLATFORM_NAME, n, s, NULL);
  return g_strstrip (s);
}

typedef struct {
  cl_platform_id platform;
  cl_device_id device;
  guint platform_index, device_index;
  VtpDeviceKind kind;
  char *label;                  /* "platform / device" */
} DeviceEntry;

static void
device_entry_clear (gpointer p)
{
  g_free (((DeviceEntry *) p)->label);
}

/* Every device of every platform, in platform order. */
static GArray *
enumerate_devices (GError **error)
{
  cl_uint n_platforms = 0;
  cl_platform_id *platforms;
  GArray *out;
  cl_int err;

  /* VTP_FAULT=platform: no ICD found, as the loader says it */
  err = vtp_fault_platform () ? -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ : clGetPlatformIDs (0, NULL, &n_platforms);
  if (err != CL_SUCCESS || n_platforms == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "No OpenCL platform found (%s); install an OpenCL driver, e.g. "
        "'apt-get install pocl-opencl-icd' for the CPU",
        err != CL_SUCCESS && err != -1001 ? vtp_cl_strerror (err) : "none registered");
    return NULL;
  }
  platforms = g_new0 (cl_platform_id, n_platforms);
  clGetPlatformIDs (n_platforms, platforms, NULL);
  out = g_array_new (FALSE, TRUE, sizeof (DeviceEntry));
  g_array_set_clear_func (out, device_entry_clear);
  for (cl_uint p = 0; p < n_platforms; p++) {
    cl_uint n_devices = 0;
    cl_device_id *ids;
    char *pname;

    /* VTP_FAULT=platform: this platform answers that it has no device */
    if (vtp_fault_platform () || clGetDeviceIDs (platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &n_devices) != CL_SUCCESS
        || n_devices == 0)
      continue;
    ids = g_new0 (cl_device_id, n_devices);
    clGetDeviceIDs (platforms[p], CL_DEVICE_TYPE_ALL, n_devices, ids, NULL);
    pname = platform_name (platforms[p]);
    for (cl_uint d = 0; d < n_devices; d++) {
      DeviceEntry e = { platforms[p], ids[d], p, d, VTP_DEVICE_KIND_OTHER, NULL };
      cl_device_type type = 0;
      char *dname = device_info_string (ids[d], CL_DEVICE_NAME);

      clGetDeviceInfo (ids[d], CL_DEVICE_TYPE, sizeof type, &type, NULL);
      if (type & CL_DEVICE_TYPE_GPU)
        e.kind = VTP_DEVICE_KIND_GPU;
      else if (type & CL_DEVICE_TYPE_CPU)
        e.kind = VTP_DEVICE_KIND_CPU;
      e.label = g_strdup_printf ("%s / %s", pname, dname);
      g_free (dname);
      g_array_append_val (out, e);
    }
    g_free (pname);
    g_free (ids);
  }
  g_free (platforms);
  if (out->len == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "OpenCL platforms are registered but expose no device");
    g_array_unref (out);
    return NULL;
  }
  return out;
}

static const char *
kind_name (VtpDeviceKind k)
{
  return k == VTP_DEVICE_KIND_GPU ? "gpu" : k == VTP_DEVICE_KIND_CPU ? "cpu" : "other";
}

/* Picks the entry @spec names; see vtp_device_get. */
static const DeviceEntry *
match_spec (GArray *all, const char *spec, GError **error)
{
  guint a, b;
  char tail;

  if (g_ascii_strcasecmp (spec, "auto") == 0) {
    for (guint i = 0; i < all->len; i++)
      if (g_array_index (all, DeviceEntry, i).kind == VTP_DEVICE_KIND_GPU)
        return &g_array_index (all, DeviceEntry, i);
    for (guint i = 0; i < all->len; i++)
      if (g_array_index (all, DeviceEntry, i).kind == VTP_DEVICE_KIND_CPU)
        return &g_array_index (all, DeviceEntry, i);
    return &g_array_index (all, DeviceEntry, 0);
  }
  if (g_ascii_strncasecmp (spec, "gpu", 3) == 0 || g_ascii_strncasecmp (spec, "cpu", 3) == 0) {
    VtpDeviceKind want = g_ascii_tolower (spec[0]) == 'g' ? VTP_DEVICE_KIND_GPU : VTP_DEVICE_KIND_CPU;
    guint nth = 0, seen = 0;

    if (spec[3] == ':' && sscanf (spec + 4, "%u%c", &nth, &tail) != 1)
      goto bad;
    else if (spec[3] != ':' && spec[3] != '\0')
      goto substring;
    for (guint i = 0; i < all->len; i++) {
      const DeviceEntry *e = &g_array_index (all, DeviceEntry, i);
      if (e->kind == want && seen++ == nth)
        return e;
    }
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "No OpenCL %s device number %u on this machine (it has %u); "
        "'vtp-bench --list-devices' lists them", kind_name (want), nth, seen);
    return NULL;
  }
  if (sscanf (spec, "%u:%u%c", &a, &b, &tail) == 2) {
    for (guint i = 0; i < all->len; i++) {
      const DeviceEntry *e = &g_array_index (all, DeviceEntry, i);
      if (e->platform_index == a && e->device_index == b)
        return e;
    }
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "No OpenCL device %u on platform %u", b, a);
    return NULL;
  }
substring:
  for (guint i = 0; i < all->len; i++) {
    const DeviceEntry *e = &g_array_index (all, DeviceEntry, i);
    char *l = g_ascii_strdown (e->label, -1), *s = g_ascii_strdown (spec, -1);
    gboolean hit = strstr (l, s) != NULL;
    g_free (l);
    g_free (s);
    if (hit)
      return e;
  }
bad:
  g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
      "Device \"%s\" does not name an OpenCL device: use auto, cpu, gpu, cpu:N, "
      "gpu:N, PLATFORM:DEVICE or part of a device name", spec);
  return NULL;
}

char *
vtp_device_kernel_sources (void)
{
  GString *src = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (kernel_files); i++) {
    char *path = g_strconcat ("/org/vtp/kernels/", kernel_files[i].file, NULL);
    GBytes *b = g_resource_lookup_data (vtp_kernels_get_resource (), path, 0, NULL);
    gsize n;
    const char *data;

    g_assert (b != NULL);       /* compiled into the library */
    data = g_bytes_get_data (b, &n);
    g_string_append_printf (src, "\n/* ---- %s ---- */\n%s", kernel_files[i].file, kernel_files[i].preamble);
    g_string_append_len (src, data, n);
    g_bytes_unref (b);
    g_free (path);
  }
  return g_string_free (src, FALSE);
}

/* PoCL on the host CPU: its clang takes __builtin_prefetch (attention-kv.cl). */
static gboolean
is_pocl_cpu (const VtpDevice *dev)
{
  return dev->kind == VTP_DEVICE_KIND_CPU && strstr (dev->name, "Portable Computing Language") != NULL;
}

/* PoCL on an x86 host CPU for which @test (__builtin_cpu_supports or
 * __builtin_cpu_is) holds: PoCL compiles kernels for the host CPU, and
 * clang lets a kernel use an instruction through a target attribute once
 * the host is known to have it. */
#if defined(__x86_64__) && defined(__GNUC__)
#define POCL_X86_HAS(dev, test) (is_pocl_cpu (dev) && (test))
#else
#define POCL_X86_HAS(dev, test) FALSE
#endif

/* VNNI's int8 dot products (quant.cl) */
static gboolean
has_x86_vnni (const VtpDevice *dev)
{
  return POCL_X86_HAS (dev, __builtin_cpu_supports ("avx512vnni") && __builtin_cpu_supports ("avx512bw"));
}

/* AVX2's (vpmaddubsw, vpmaddwd: quant.cl's dpbusd without VNNI), with the
 * FMA and F16C that PoCL's haswell target and the kernels' float steps
 * take */
static gboolean
has_x86_avx2 (const VtpDevice *dev)
{
  return POCL_X86_HAS (dev, __builtin_cpu_supports ("avx2") && __builtin_cpu_supports ("fma")
      && __builtin_cpu_supports ("f16c"));
}

/* AVX-512F (vtp-device.h) */
static gboolean
has_x86_avx512 (const VtpDevice *dev)
{
  return POCL_X86_HAS (dev, __builtin_cpu_supports ("avx512f"));
}

/* the bfloat16 dot product (vdpbf16ps, linear.cl) */
static gboolean
has_x86_bf16_dot (const VtpDevice *dev)
{
  return POCL_X86_HAS (dev, __builtin_cpu_supports ("avx512bf16"));
}

/* AVX512-VBMI (byte permutes and bit-field gathers): the IQ3 kernels'
 * lookups without gathers (quant-lattice.cl), unless VTP_IQ_LOOKUP=gather
 * asks for the gathers (tests/meson.build runs both). */
static gboolean
has_x86_vbmi (const VtpDevice *dev)
{
  return dev->int8_vnni && POCL_X86_HAS (dev, __builtin_cpu_supports ("avx512vbmi"))
      && g_strcmp0 (g_getenv ("VTP_IQ_LOOKUP"), "gather") != 0;
}

/* AMX-INT8 (quant-amx.cl's tile products; @feature_bit 25) or AMX-BF16
 * (linear-amx.cl's; bit 22): the CPU has it (CPUID leaf 7, EDX bit 24
 * AMX-TILE and that bit) and Linux lets this process use
 * the tiles' 8 KB of register state (arch_prctl ARCH_REQ_XCOMP_PERM for
 * XTILEDATA, which a process must ask for before its first tile
 * instruction; granted for all its threads, PoCL's workers included). */
static gboolean
has_x86_amx (guint feature_bit)
{
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
  unsigned a, b, c, d;

  if (!__get_cpuid_count (7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << feature_bit)))
    return FALSE;
  return syscall (SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
#else
  return FALSE;
#endif
}

/* An Intel CPU under PoCL: the int8 products' prefetch settings differ
 * (quant.cl's VNNI_PREFETCH_L2, measured on a Xeon and a Zen 4). */
static gboolean
is_intel_cpu (const VtpDevice *dev)
{
  return POCL_X86_HAS (dev, __builtin_cpu_is ("intel"));
}

char *
vtp_device_kernel_options (const VtpDevice *dev)
{
  /* $VTP_KERNEL_DEFINES: more build options, for trying a kernel's
   * tunables (e.g. -DVNNI_PREFETCH=8192) without rebuilding */
  return g_strdup_printf ("-cl-std=CL1.2 -w%s%s%s%s%s%s%s%s%s %s", dev->avx512 ? " -DVTP_X86_AVX512" : "",
      dev->int8_dot ? " -DVTP_X86_INT8" : "",
      dev->int8_vnni ? " -DVTP_X86_VNNI" : "", has_x86_vbmi (dev) ? " -DVTP_X86_VBMI" : "", dev->bf16_dot ? " -DVTP_X86_BF16" : "",
      dev->amx_int8 ? " -DVTP_X86_AMX" : "", dev->amx_bf16 ? " -DVTP_X86_AMX_BF16" : "",
      is_pocl_cpu (dev) ? " -DVTP_POCL_CPU" : "", is_intel_cpu (dev) ? " -DVTP_CPU_INTEL" : "",
      g_getenv ("VTP_KERNEL_DEFINES") ? g_getenv ("VTP_KERNEL_DEFINES") : "");
}

static void
release_kernel (gpointer k)
{
  clReleaseKernel (k);
}

/* An empty name -> cl_kernel table that releases its kernels */
static GHashTable *
kernel_table_new (void)
{
  return g_hash_table_new_full (g_str_hash, g_str_equal, g_free, release_kernel);
}

/* Builds the program with the options of now into dev->program and
 * dev->kernels (empty on entry). */
static gboolean
build_program (VtpDevice *dev, GError **error)
{
  char *src = vtp_device_kernel_sources ();
  const char *srcs[1] = { src };
  cl_int err;
  cl_uint n_kernels = 0;
  cl_kernel *kernels;
  char *options, *fault_kernel;
  gboolean injected;
  gint64 t0 = g_get_monotonic_time ();

  dev->program = clCreateProgramWithSource (dev->context, 1, srcs, NULL, &err);
  g_free (src);
  if (err != CL_SUCCESS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "Could not create the kernel program on %s: %s", dev->name, vtp_cl_strerror (err));
    return FALSE;
  }
  options = vtp_device_kernel_options (dev);
  /* an injected fault (VTP_FAULT=build) fails as a compiler error would,
   * without running the compiler */
  injected = vtp_fault_build ();
  err = injected ? CL_BUILD_PROGRAM_FAILURE : clBuildProgram (dev->program, 1, &dev->id, options, NULL, NULL);
  g_free (options);
  if (err != CL_SUCCESS) {
    size_t n = 0;
    char *log;

    if (injected)
      log = g_strdup ("(no compiler log: the failure was injected by " VTP_FAULT_ENV "=build or vtp_fault_set)");
    else {
      clGetProgramBuildInfo (dev->program, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
      log = g_malloc0 (n + 1);
      clGetProgramBuildInfo (dev->program, dev->id, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    }
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "Building the vtp kernels for %s failed (%s):\n%s", dev->name, vtp_cl_strerror (err), log);
    g_free (log);
    return FALSE;
  }
  if (g_getenv ("VTP_KERNEL_BUILD_LOG")) {
    size_t n = 0;
    g_autofree char *log = NULL;
    clGetProgramBuildInfo (dev->program, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    log = g_malloc0 (n + 1);
    clGetProgramBuildInfo (dev->program, dev->id, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    g_printerr ("vtp kernel build log for %s:\n%s\n", dev->name, log);
  }
  clCreateKernelsInProgram (dev->program, 0, NULL, &n_kernels);
  kernels = g_new0 (cl_kernel, n_kernels);
  clCreateKernelsInProgram (dev->program, n_kernels, kernels, NULL);
  for (cl_uint i = 0; i < n_kernels; i++) {
    char name[128] = { 0 };
    clGetKernelInfo (kernels[i], CL_KERNEL_FUNCTION_NAME, sizeof name - 1, name, NULL);
    g_hash_table_insert (dev->kernels, g_strdup (name), kernels[i]);
  }
  g_free (kernels);
  /* an enqueue fault on a kernel that is not there would never fire */
  if ((fault_kernel = vtp_fault_armed_kernel ()) && !g_hash_table_contains (dev->kernels, fault_kernel))
    g_warning ("The enqueue fault armed for kernel %s will never fire: the vtp program has no such kernel",
        fault_kernel);
  g_free (fault_kernel);
  g_debug ("built %u vtp kernels for %s in %.1f ms", n_kernels, dev->name,
      (g_get_monotonic_time () - t0) / 1000.0);
  return TRUE;
}

gboolean
vtp_device_rebuild_kernels (VtpDevice *dev, GError **error)
{
  cl_program old_program;
  GHashTable *old_kernels;
  gboolean ok;

  vtp_device_lock (dev);
  clFinish (dev->queue);
  old_program = dev->program;
  old_kernels = dev->kernels;
  dev->program = NULL;
  dev->kernels = kernel_table_new ();
  if ((ok = build_program (dev, error))) {
    g_hash_table_unref (old_kernels);
    clReleaseProgram (old_program);
  } else {
    /* the kernels of before stay */
    g_hash_table_unref (dev->kernels);
    if (dev->program)
      clReleaseProgram (dev->program);
    dev->program = old_program;
    dev->kernels = old_kernels;
  }
  vtp_device_unlock (dev);
  return ok;
}

static void
device_free (VtpDevice *dev)
{
  if (dev->scratch) {
    for (guint i = 0; i < dev->scratch->len; i++)
      vtp_device_release_buffer (dev->scratch->pdata[i]);
    g_ptr_array_unref (dev->scratch);
  }
  if (dev->kernels)
    g_hash_table_unref (dev->kernels);
  if (dev->program)
    clReleaseProgram (dev->program);
  /* Work may still be in flight (a pipeline stopped on an error): let it end
   * before the queue goes, so nothing runs on the device's threads while the
   * process tears down its libraries. */
  if (dev->queue) {
    clFinish (dev->queue);
    clReleaseCommandQueue (dev->queue);
  }
  if (dev->context)
    clReleaseContext (dev->context);
  g_rec_mutex_clear (&dev->lock);
  g_free (dev->name);
  g_free (dev);
}

/* @dev's context and in-order queue. VTP_FAULT=context refuses either, as
 * a device taken by another process or gone refuses it. */
static gboolean
create_context (VtpDevice *dev, const cl_context_properties *props, GError **error)
{
  const char *what = "an OpenCL context";
  cl_int err = CL_DEVICE_NOT_AVAILABLE;

  if (G_LIKELY (!vtp_fault_context ()))
    dev->context = clCreateContext (props, 1, &dev->id, NULL, NULL, &err);
  if (err == CL_SUCCESS) {
    what = "a command queue";
    err = CL_OUT_OF_RESOURCES;
    if (G_LIKELY (!vtp_fault_context ()))
      dev->queue = clCreateCommandQueue (dev->context, dev->id, 0, &err);
  }
  if (err != CL_SUCCESS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Could not open OpenCL device %s: creating %s failed: %s",
        dev->name, what, vtp_cl_strerror (err));
    return FALSE;
  }
  return TRUE;
}

static VtpDevice *
device_open (const DeviceEntry *e, GError **error)
{
  VtpDevice *dev = g_new0 (VtpDevice, 1);
  cl_context_properties props[] = { CL_CONTEXT_PLATFORM, (cl_context_properties) e->platform, 0 };

  dev->ref_count = 1;
  dev->platform = e->platform;
  dev->id = e->device;
  dev->kind = e->kind;
  dev->name = g_strdup (e->label);
  dev->reduce_wg = e->kind == VTP_DEVICE_KIND_CPU ? 1 : 256;
  g_rec_mutex_init (&dev->lock);
  dev->kernels = kernel_table_new ();
  clGetDeviceInfo (dev->id, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof dev->global_mem, &dev->global_mem, NULL);
  clGetDeviceInfo (dev->id, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof dev->max_alloc, &dev->max_alloc, NULL);
  clGetDeviceInfo (dev->id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof dev->compute_units, &dev->compute_units, NULL);
  clGetDeviceInfo (dev->id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof dev->local_mem, &dev->local_mem, NULL);
  dev->compute_units = MAX (dev->compute_units, 1);
  dev->pocl_cpu = is_pocl_cpu (dev);
  dev->avx512 = has_x86_avx512 (dev);
  {
    const char *quant_dot = g_getenv ("VTP_QUANT_DOT");
    dev->int8_vnni = has_x86_vnni (dev) && g_strcmp0 (quant_dot, "float") != 0 && g_strcmp0 (quant_dot, "avx2") != 0;
    dev->int8_dot = dev->int8_vnni || (has_x86_avx2 (dev) && g_strcmp0 (quant_dot, "float") != 0);
  }
  dev->bf16_dot = has_x86_bf16_dot (dev) && g_strcmp0 (g_getenv ("VTP_BF16_DOT"), "float") != 0;
  dev->amx_int8 = dev->int8_vnni && g_strcmp0 (g_getenv ("VTP_AMX"), "0") != 0 && has_x86_amx (25);
  dev->amx_bf16 = dev->bf16_dot && g_strcmp0 (g_getenv ("VTP_AMX"), "0") != 0 && has_x86_amx (22);
  if (dev->kind != VTP_DEVICE_KIND_CPU) {
    size_t max_wg = 0;
    clGetDeviceInfo (dev->id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof max_wg, &max_wg, NULL);
    while (dev->reduce_wg > 1 && dev->reduce_wg > max_wg)
      dev->reduce_wg /= 2;
  }

  if (!create_context (dev, props, error) || !build_program (dev, error)) {
    device_free (dev);
    return NULL;
  }
  /* VTP_FAULT=lost: a device lost before is left behind */
  vtp_fault_device_opened ();
  return dev;
}

VtpDevice *
vtp_device_get (const char *spec, GError **error)
{
  g_autoptr (GArray) all = NULL;
  const DeviceEntry *e;
  VtpDevice *dev;

  if (!vtp_fault_init (error))
    return NULL;
  if (!spec || !*spec)
    spec = g_getenv (VTP_DEVICE_ENV);
  if (!spec || !*spec)
    spec = "auto";

  g_mutex_lock (&devices_lock);
  all = enumerate_devices (error);
  if (!all || !(e = match_spec (all, spec, error))) {
    g_mutex_unlock (&devices_lock);
    return NULL;
  }
  if (!devices)
    devices = g_hash_table_new (g_direct_hash, g_direct_equal);
  dev = g_hash_table_lookup (devices, e->device);
  /* a lost device stays with those who hold it; others get a new one */
  if (dev && g_atomic_int_get (&dev->lost)) {
    g_hash_table_remove (devices, e->device);
    dev = NULL;
  }
  if (dev)
    g_atomic_int_inc (&dev->ref_count);
  else if ((dev = device_open (e, error)))
    g_hash_table_insert (devices, e->device, dev);
  g_mutex_unlock (&devices_lock);
  return dev;
}

VtpDevice *
vtp_device_ref (VtpDevice *dev)
{
  g_atomic_int_inc (&dev->ref_count);
  return dev;
}

void
vtp_device_unref (VtpDevice *dev)
{
  if (!dev)
    return;
  g_mutex_lock (&devices_lock);
  if (g_atomic_int_dec_and_test (&dev->ref_count)) {
    /* (a lost device's entry may be its successor's by now) */
    if (devices && g_hash_table_lookup (devices, dev->id) == dev)
      g_hash_table_remove (devices, dev->id);
    device_free (dev);
  }
  g_mutex_unlock (&devices_lock);
}

static GMutex buffer_bytes_lock;
static guint64 buffer_bytes, buffer_bytes_peak;

typedef struct {
  gpointer p;
  gsize bytes;
} HostPages;

static void CL_CALLBACK
host_pages_release (cl_mem mem, void *data)
{
  HostPages *h = data;

  vtp_host_pages_free (h->p, h->bytes);
  g_free (h);
}

/* A CPU device's big buffer in vtp's own memory of 2 MB pages
 * (vtp-host-pages.h), which the driver uses in place; NULL where that
 * memory or such a buffer cannot be had (then the driver allocates). */
static cl_mem
create_buffer_in_host_pages (VtpDevice *dev, gsize bytes)
{
  HostPages *h;
  cl_mem mem;
  cl_int err;

  if (dev->kind != VTP_DEVICE_KIND_CPU || bytes < VTP_HOST_PAGES_MIN_BYTES || !vtp_host_pages_wanted ())
    return NULL;
  h = g_new (HostPages, 1);
  h->bytes = bytes;
  h->p = vtp_host_pages_alloc (bytes);
  mem = h->p ? clCreateBuffer (dev->context, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, h->p, &err) : NULL;
  if (mem && clSetMemObjectDestructorCallback (mem, host_pages_release, h) == CL_SUCCESS)
    return mem;
  /* no callback will free the memory: let the buffer go first, then it */
  if (mem)
    clReleaseMemObject (mem);
  vtp_host_pages_free (h->p, bytes);
  g_free (h);
  return NULL;
}

static cl_mem
create_buffer (VtpDevice *dev, gsize bytes, cl_int *err)
{
  cl_mem mem = create_buffer_in_host_pages (dev, bytes);

  if (mem)
    *err = CL_SUCCESS;
  else
    mem = clCreateBuffer (dev->context, CL_MEM_READ_WRITE, bytes, NULL, err);

  if (mem) {
    g_mutex_lock (&buffer_bytes_lock);
    buffer_bytes += bytes;
    buffer_bytes_peak = MAX (buffer_bytes_peak, buffer_bytes);
    g_mutex_unlock (&buffer_bytes_lock);
  }
  return mem;
}

cl_int
vtp_device_copy_fault (void)
{
  if (G_UNLIKELY (vtp_fault_lost ()))
    return CL_DEVICE_NOT_AVAILABLE;
  return G_UNLIKELY (vtp_fault_copy ()) ? CL_OUT_OF_RESOURCES : CL_SUCCESS;
}

void
vtp_device_note_error (VtpDevice *dev, cl_int err)
{
  if (err != CL_DEVICE_NOT_AVAILABLE && err != CL_INVALID_COMMAND_QUEUE && err != CL_INVALID_CONTEXT
      && err != -9999 /* NVIDIA: a kernel read or wrote out of bounds; the context is unusable */)
    return;
  g_atomic_int_set (&dev->lost, 1);
}

gboolean
vtp_device_is_lost (VtpDevice *dev)
{
  return dev && g_atomic_int_get (&dev->lost);
}

/* VTP_FAULT=alloc: refused as a device out of memory refuses it */
static gboolean
alloc_refused (cl_int *err)
{
  if (!vtp_fault_alloc ())
    return FALSE;
  *err = CL_MEM_OBJECT_ALLOCATION_FAILURE;
  return TRUE;
}

cl_mem
vtp_device_create_buffer (VtpDevice *dev, gsize bytes, cl_int *err)
{
  return alloc_refused (err) ? NULL : create_buffer (dev, bytes, err);
}

void
vtp_device_release_buffer (cl_mem mem)
{
  size_t size = 0;

  if (!mem)
    return;
  clGetMemObjectInfo (mem, CL_MEM_SIZE, sizeof size, &size, NULL);
  g_mutex_lock (&buffer_bytes_lock);
  buffer_bytes -= MIN (buffer_bytes, size);
  g_mutex_unlock (&buffer_bytes_lock);
  clReleaseMemObject (mem);
}

void
vtp_device_buffer_bytes (guint64 *live, guint64 *peak)
{
  g_mutex_lock (&buffer_bytes_lock);
  *live = buffer_bytes;
  *peak = buffer_bytes_peak;
  g_mutex_unlock (&buffer_bytes_lock);
}

#define SCRATCH_MIN ((gsize) 1 << 16)
#define SCRATCH_KEEP 4          /* free scratch buffers kept for reuse */

static gsize
mem_size (cl_mem mem)
{
  size_t size = 0;
  clGetMemObjectInfo (mem, CL_MEM_SIZE, sizeof size, &size, NULL);
  return size;
}

cl_mem
vtp_device_scratch_take (VtpDevice *dev, gsize bytes, cl_int *err)
{
  gsize size = SCRATCH_MIN;
  cl_mem mem = NULL;
  guint best = G_MAXUINT;

  /* a reused buffer fails an injected allocation fault as a new one does,
   * so that the faults do not depend on what an earlier run left */
  if (alloc_refused (err))
    return NULL;
  vtp_device_lock (dev);
  /* the smallest free one that is large enough */
  for (guint i = 0; dev->scratch && i < dev->scratch->len; i++) {
    const gsize s = mem_size (dev->scratch->pdata[i]);
    if (s >= bytes && (best == G_MAXUINT || s < mem_size (dev->scratch->pdata[best])))
      best = i;
  }
  if (best != G_MAXUINT) {
    mem = g_ptr_array_steal_index_fast (dev->scratch, best);
    *err = CL_SUCCESS;
  }
  vtp_device_unlock (dev);
  if (mem)
    return mem;
  /* sizes in powers of two, so that products of similar sizes share */
  while (size < bytes && size < G_MAXSIZE / 2)
    size *= 2;
  if (size > dev->max_alloc && bytes <= dev->max_alloc)
    size = bytes;
  return create_buffer (dev, size, err);
}

void
vtp_device_scratch_give (VtpDevice *dev, cl_mem mem)
{
  if (!mem)
    return;
  vtp_device_lock (dev);
  if (!dev->scratch)
    dev->scratch = g_ptr_array_new ();
  if (dev->scratch->len < SCRATCH_KEEP) {
    g_ptr_array_add (dev->scratch, mem);
    mem = NULL;
  }
  vtp_device_unlock (dev);
  vtp_device_release_buffer (mem);
}

cl_kernel
vtp_device_kernel (VtpDevice *dev, const char *name)
{
  cl_kernel k = g_hash_table_lookup (dev->kernels, name);

  if (!k)
    g_error ("vtp kernel %s is not in the program: the kernel sources and the "
        "launcher disagree", name);
  return k;
}

void
vtp_device_lock (VtpDevice *dev)
{
  g_rec_mutex_lock (&dev->lock);
}

void
vtp_device_unlock (VtpDevice *dev)
{
  g_rec_mutex_unlock (&dev->lock);
}

gboolean
vtp_device_finish (VtpDevice *dev, GError **error)
{
  /* VTP_FAULT=finish: the wait fails as it does when work on the queue
   * failed; the queue still drains, so that nothing runs on after it */
  cl_int err = clFinish (dev->queue);

  if (err == CL_SUCCESS && G_UNLIKELY (vtp_fault_lost ()))
    err = CL_DEVICE_NOT_AVAILABLE;
  else if (err == CL_SUCCESS && G_UNLIKELY (vtp_fault_finish ()))
    err = CL_OUT_OF_RESOURCES;
  if (err != CL_SUCCESS) {
    vtp_device_note_error (dev, err);
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE,
        "Waiting for the work queued on %s failed: %s", dev->name, vtp_cl_strerror (err));
    return FALSE;
  }
  return TRUE;
}

char *
vtp_device_list_all (void)
{
  GError *error = NULL;
  g_autoptr (GArray) all = enumerate_devices (&error);
  GString *s = g_string_new (NULL);
  guint n_kind[3] = { 0 };

  if (!all) {
    g_string_append_printf (s, "%s\n", error->message);
    g_error_free (error);
    return g_string_free (s, FALSE);
  }
  for (guint i = 0; i < all->len; i++) {
    const DeviceEntry *e = &g_array_index (all, DeviceEntry, i);
    g_string_append_printf (s, "%u:%u  %s:%u  %s\n", e->platform_index, e->device_index,
        kind_name (e->kind), n_kind[e->kind]++, e->label);
  }
  return g_string_free (s, FALSE);
}
