/* vtp-bench-kernel-ab: versions of the linear kernels side by side in one
 * process, on a decode step's products.
 *
 *   vtp-bench-kernel-ab TYPE ROWS DIR_A DIR_B [DIR ...] [-l LAYERS] [-t STEPS] [-r ROUNDS]
 *
 * Each DIR holds a copy of opencl/kernels (common.cl, linear.cl, quant.cl,
 * iq-grids.cl, quant-lattice.cl: edit them there) and optionally a file
 * "defines" with more build options (-DNAME=VALUE). Every DIR's program is
 * built with vtp's own options (vtp_device_kernel_options) and those; the
 * weights are vtp's own, packed once by
 * vtp_linear_weight_new: the products of a 1.1B TinyLlama-shaped decode
 * step (LAYERS x q|k|v 2560 x 2048, o 2048 x 2048, gate|up 11264 x 2048,
 * down 2048 x 5632, then the head 32000 x 2048; about 0.6 GB in Q4_K, so
 * read from memory as decode reads them) in TYPE, for ROWS rows of x
 * (the decode steps of ROWS streams). Each round runs STEPS steps with
 * every version in turn (which first rotating) and times each; the end
 * prints, per version, the median over rounds of its speed over the first
 * version's in the same round.
 *
 * Why: this machine's memory speed drifts by 10-30% within minutes, so
 * builds timed one after the other compare badly (docs/performance.md);
 * in one process, alternating round by round, a few percent show.
 *
 * The kernels run: ROWS = 1, qlinear_vnni_<T> (quantized types) or
 * linear_p16s_<T> (f16, bf16, f32); 2 .. 12 rows, quantize_rows_q8 and
 * qgemm_vnni_few_<T>, or linear_p16_<T>_<ROWS> (up to 6). So a CPU device
 * with vtp's packed panels and, for quantized types, AVX-512 VNNI (the
 * int8 kernels). The first step's outputs of every version are compared
 * with the first version's, bit for bit, and differences reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench-util.h"
#include "bench-weights.h"
#include "vtp-device.h"
#include "vtp-launch.h"
#include "vtp-linear.h"
#include "vtp-quant.h"
#include "vtp-tensor.h"

#define MAX_VERSIONS 8
#define N_SHAPES 5
static const gint64 shapes[N_SHAPES][2] = {
  { 2560, 2048 }, { 2048, 2048 }, { 11264, 2048 }, { 2048, 5632 }, { 32000, 2048 },
};

typedef struct {
  VtpDevice *dev;
  VtpDType dtype;
  gint rows;
  cl_kernel kernel[MAX_VERSIONS], quantize[MAX_VERSIONS];
  GPtrArray *weights;           /* VtpTensor *, in step order */
  VtpTensor *x[2], *y[N_SHAPES]; /* x of width 2048 / 5632; an output per shape */
  cl_mem scratch;               /* x's int8 copy */
} Bench;

static void
die (const char *what, const char *detail)
{
  g_printerr ("vtp-bench-kernel-ab: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit (1);
}

static char *
read_or_empty (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  char *text = NULL;
  return g_file_get_contents (path, &text, NULL, NULL) ? text : g_strdup ("");
}

/* DIR's kernels, built with vtp's options and the DIR's defines. */
static cl_program
build_version (VtpDevice *dev, const char *dir)
{
  static const char *files[] = { "common.cl", "linear.cl", "quant.cl", "iq-grids.cl", "quant-lattice.cl" };
  GString *src = g_string_new (NULL);
  g_autofree char *defines = g_strstrip (read_or_empty (dir, "defines"));
  g_autofree char *options = NULL;
  cl_program program;
  cl_int err;
  const char *text;

  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *f = read_or_empty (dir, files[i]);
    if (!*f)
      die (dir, g_strdup_printf ("no %s there (a copy of opencl/kernels)", files[i]));
    g_string_append_printf (src, "\n/* ---- %s ---- */\n%s", files[i], f);
  }
  {
    g_autofree char *base = vtp_device_kernel_options (dev);
    options = g_strdup_printf ("%s %s", base, defines);
  }
  text = src->str;
  program = clCreateProgramWithSource (dev->context, 1, &text, NULL, &err);
  g_string_free (src, TRUE);
  if (err != CL_SUCCESS || clBuildProgram (program, 1, &dev->id, options, NULL, NULL) != CL_SUCCESS) {
    size_t n = 0;
    g_autofree char *log = NULL;
    clGetProgramBuildInfo (program, dev->id, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    log = g_malloc0 (n + 1);
    clGetProgramBuildInfo (program, dev->id, CL_PROGRAM_BUILD_LOG, n, log, NULL);
    die (dir, log);
  }
  printf ("version %s: %s\n", dir, *defines ? defines : "(no defines)");
  return program;
}

static cl_kernel
kernel_of (cl_program program, const char *name)
{
  cl_int err;
  cl_kernel k = clCreateKernel (program, name, &err);
  if (err != CL_SUCCESS)
    die ("no kernel", name);
  return k;
}

static void
set_args (cl_kernel k, gint n, const gsize *sizes, const void **values)
{
  for (gint i = 0; i < n; i++)
    if (clSetKernelArg (k, i, sizes[i], values[i]) != CL_SUCCESS)
      die ("kernel argument", NULL);
}

/* One product of @w with version @v's kernels, as vtp-linear.c launches
 * them (P panels a work-item: the compute units' share, at most 32 for
 * the int8 GEMV and few-row kernels, 16 for the float GEMV). */
static void
product (Bench *b, gint v, const VtpTensor *w, VtpTensor *x, VtpTensor *y)
{
  const cl_int K = (cl_int) w->shape[1], N = (cl_int) w->shape[0], M = b->rows, zero = 0;
  const gint np = N / 16;
  const gboolean quantized = vtp_dtype_is_quantized (b->dtype);
  const cl_int P = (cl_int) CLAMP (np / (gint) b->dev->compute_units, 1, quantized ? 32 : 16);
  const cl_mem none = NULL;
  const size_t one_item[2] = { 1, 1 };
  cl_int err;

  if (quantized && M > 1) {
    /* x's rows to int8 once (vtp-linear.c's int8_rows_new) */
    const cl_int g = (cl_int) (vtp_dtype_block_elements (b->dtype) / 32);
    const cl_int d_off = M * K, s_off = d_off + M * (K / 32) * 4;
    const size_t qglobal[2] = { K / 32 / g, M };
    const gsize qs[] = { sizeof (cl_mem), 4, 4, sizeof (cl_mem), 4, 4, 4 };
    const void *qv[] = { &x->mem, &zero, &K, &b->scratch, &d_off, &s_off, &g };
    const gsize s[] = { sizeof (cl_mem), 4, sizeof (cl_mem), sizeof (cl_mem), 4, sizeof (cl_mem), 4, 4, 4, 4, 4,
      sizeof (cl_mem), 4, 4, 4 };
    const void *a[] = { &x->mem, &zero, &w->mem, &none, &zero, &y->mem, &zero, &M, &K, &N, &zero, &b->scratch, &d_off,
      &s_off, &P };
    const size_t global = (np + P - 1) / P;
    set_args (b->quantize[v], 7, qs, qv);
    err = clEnqueueNDRangeKernel (b->dev->queue, b->quantize[v], 2, NULL, qglobal, one_item, 0, NULL, NULL);
    set_args (b->kernel[v], 15, s, a);
    err |= clEnqueueNDRangeKernel (b->dev->queue, b->kernel[v], 1, NULL, &global, one_item, 0, NULL, NULL);
  } else {
    const gsize s[] = { sizeof (cl_mem), 4, sizeof (cl_mem), sizeof (cl_mem), 4, sizeof (cl_mem), 4, 4, 4, 4, 4, 4 };
    const void *a[] = { &x->mem, &zero, &w->mem, &none, &zero, &y->mem, &zero, &M, &K, &N, &zero, &P };
    if (M == 1) {
      /* the GEMVs: P panels a work-item */
      const size_t global = (np + P - 1) / P;
      set_args (b->kernel[v], 12, s, a);
      err = clEnqueueNDRangeKernel (b->dev->queue, b->kernel[v], 1, NULL, &global, one_item, 0, NULL, NULL);
    } else {
      /* linear_p16_<T>_<M>: a panel a work-item */
      const size_t global[2] = { 1, np };
      set_args (b->kernel[v], 11, s, a);
      err = clEnqueueNDRangeKernel (b->dev->queue, b->kernel[v], 2, NULL, global, one_item, 0, NULL, NULL);
    }
  }
  if (err != CL_SUCCESS)
    die ("launch", NULL);
}

/* @steps decode steps' products with version @v; seconds. */
static double
run_steps (Bench *b, gint v, gint steps)
{
  const double t0 = now_ms ();

  for (gint s = 0; s < steps; s++)
    for (guint i = 0; i < b->weights->len; i++) {
      const VtpTensor *w = g_ptr_array_index (b->weights, i);
      const gint shape = w->shape[0] == 32000 ? 4 : (gint) (i % 4);
      product (b, v, w, b->x[w->shape[1] == 2048 ? 0 : 1], b->y[shape]);
    }
  if (clFinish (b->dev->queue) != CL_SUCCESS)
    die ("run", NULL);
  return (now_ms () - t0) / 1000.0;
}

int
main (int argc, char **argv)
{
  gint layers = 22, steps = 8, rounds = 8, n_versions;
  GOptionEntry entries[] = {
    { "layers", 'l', 0, G_OPTION_ARG_INT, &layers, "Decoder layers (default 22; 22 adds the head)", "L" },
    { "steps", 't', 0, G_OPTION_ARG_INT, &steps, "Decode steps a version a round (default 8)", "N" },
    { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Rounds (default 8)", "R" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("TYPE ROWS DIR_A DIR_B [DIR ...]");
  g_autoptr (GError) error = NULL;
  Bench b = { 0 };
  gsize bytes = 0;
  double *t[MAX_VERSIONS];
  GRand *r = g_rand_new_with_seed (42);

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || argc < 5 || argc - 3 > MAX_VERSIONS || layers < 1
      || steps < 1 || rounds < 1)
    die ("usage: vtp-bench-kernel-ab TYPE ROWS DIR_A DIR_B [DIR ...] [-l LAYERS] [-t STEPS] [-r ROUNDS] "
        "(at most 8 DIRs)", error ? error->message : NULL);
  n_versions = argc - 3;
  b.dtype = VTP_DTYPE_F32;
  for (gint d = VTP_DTYPE_F32; d <= VTP_DTYPE_IQ1_M; d++)
    if ((d <= VTP_DTYPE_BF16 || vtp_dtype_is_quantized (d)) && strcmp (argv[1], vtp_dtype_name (d)) == 0)
      b.dtype = d;
  if (strcmp (argv[1], vtp_dtype_name (b.dtype)) != 0)
    die ("unknown type", argv[1]);
  b.rows = atoi (argv[2]);
  if (b.rows < 1 || b.rows > (vtp_dtype_is_quantized (b.dtype) ? 12 : 6))
    die ("ROWS", "1 .. 12 for quantized types, 1 .. 6 for f32, f16, bf16");
  if (!(b.dev = vtp_device_get (NULL, &error)))
    die ("device", error->message);
  if (vtp_dtype_is_quantized (b.dtype) && !b.dev->int8_dot)
    die ("device", "the int8 kernels need a CPU with AVX-512 VNNI under PoCL");

  for (gint v = 0; v < n_versions; v++) {
    cl_program p = build_version (b.dev, argv[3 + v]);
    g_autofree char *name = NULL;
    const char *T = vtp_weight_suffix (b.dtype);
    if (vtp_dtype_is_quantized (b.dtype))
      name = b.rows == 1 ? g_strdup_printf ("qlinear_vnni_%s", T) : g_strdup_printf ("qgemm_vnni_few_%s", T);
    else
      name = b.rows == 1 ? g_strdup_printf ("linear_p16s_%s", T) : g_strdup_printf ("linear_p16_%s_%d", T, b.rows);
    b.kernel[v] = kernel_of (p, name);
    if (vtp_dtype_is_quantized (b.dtype))
      b.quantize[v] = kernel_of (p, "quantize_rows_q8");
    clReleaseProgram (p);       /* the kernels keep it */
  }

  b.weights = g_ptr_array_new_with_free_func ((GDestroyNotify) vtp_tensor_free);
  {
    /* 64 distinct rows a shape, repeated: quantizing 0.6 GB of rows would take minutes */
    void *data[N_SHAPES];
    for (gint s = 0; s < N_SHAPES; s++)
      data[s] = bench_random_weights (b.dtype, shapes[s][0], shapes[s][1], 64, r);
    /* 4 products a layer; the head after the 22 layers of the 1.1B model */
    for (gint i = 0; i < 4 * layers + (layers == 22); i++) {
      const gint s = i < 4 * layers ? i % 4 : 4;
      VtpTensor *w = vtp_linear_weight_new (b.dev, b.dtype, shapes[s][0], shapes[s][1], data[s], &error);
      if (!w)
        die ("weights", error->message);
      g_ptr_array_add (b.weights, w);
      bytes += shapes[s][0] * vtp_dtype_row_bytes (b.dtype, shapes[s][1]);
    }
    for (gint s = 0; s < N_SHAPES; s++)
      g_free (data[s]);
  }
  {
    float *xd = g_new (float, (gsize) b.rows * 5632);
    const gint64 w2[2] = { b.rows, 2048 }, w5[2] = { b.rows, 5632 };
    for (gint i = 0; i < b.rows * 5632; i++)
      xd[i] = (float) g_rand_double_range (r, -1, 1);
    b.x[0] = vtp_tensor_new_from_data (b.dev, VTP_DTYPE_F32, 2, w2, xd, &error);
    b.x[1] = b.x[0] ? vtp_tensor_new_from_data (b.dev, VTP_DTYPE_F32, 2, w5, xd, &error) : NULL;
    for (gint s = 0; s < N_SHAPES && b.x[1]; s++)
      if (!(b.y[s] = vtp_tensor_new_2d (b.dev, VTP_DTYPE_F32, b.rows, shapes[s][0], &error)))
        break;
    g_free (xd);
    if (!b.x[1] || !b.y[N_SHAPES - 1])
      die ("buffers", error->message);
    b.scratch = clCreateBuffer (b.dev->context, CL_MEM_READ_WRITE, (gsize) b.rows * 5632 * 2, NULL, NULL);
  }
  printf ("%s, %d row%s, %u products a step (%.0f MB), %d steps a version a round, %d rounds, on %s\n",
      vtp_dtype_name (b.dtype), b.rows, b.rows > 1 ? "s" : "", b.weights->len, bytes / 1e6, steps, rounds, b.dev->name);

  {
    /* every version's outputs of one step against the first version's */
    float *first[N_SHAPES] = { 0 }, *now = g_new (float, (gsize) b.rows * 32000);
    for (gint v = 0; v < n_versions; v++) {
      run_steps (&b, v, 1);
      for (gint s = 0; s < N_SHAPES - (layers != 22); s++) {
        const gsize n = (gsize) b.rows * shapes[s][0];
        gsize differ = 0;
        clEnqueueReadBuffer (b.dev->queue, b.y[s]->mem, CL_TRUE, 0, n * 4, now, 0, NULL, NULL);
        if (v == 0)
          first[s] = g_memdup2 (now, n * 4);
        else
          for (gsize i = 0; i < n; i++)
            differ += now[i] != first[s][i];
        if (differ)
          printf ("version %s: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " outputs of the %" G_GINT64_FORMAT " x %"
              G_GINT64_FORMAT " product differ from %s's\n", argv[3 + v], differ, n, shapes[s][0], shapes[s][1], argv[3]);
      }
    }
    for (gint s = 0; s < N_SHAPES; s++)
      g_free (first[s]);
    g_free (now);
  }

  for (gint v = 0; v < n_versions; v++)
    t[v] = g_new (double, rounds);
  for (gint round = 0; round < rounds; round++) {
    printf ("round %d, GB/s of weights:", round);
    for (gint i = 0; i < n_versions; i++) {
      const gint v = (i + round) % n_versions;
      t[v][round] = run_steps (&b, v, steps);
    }
    for (gint v = 0; v < n_versions; v++)
      printf (" %.1f", bytes * (double) steps / t[v][round] / 1e9);
    printf ("\n");
    fflush (stdout);
  }
  for (gint v = 1; v < n_versions; v++) {
    double *ratio = g_new (double, rounds);
    for (gint round = 0; round < rounds; round++)
      ratio[round] = t[0][round] / t[v][round];
    qsort (ratio, rounds, sizeof (double), cmp_double);
    printf ("%s over %s: median speed ratio %.3f (min %.3f, max %.3f)\n", argv[3 + v], argv[3],
        median (ratio, rounds), ratio[0], ratio[rounds - 1]);
    g_free (ratio);
  }

  for (gint v = 0; v < n_versions; v++) {
    g_free (t[v]);
    clReleaseKernel (b.kernel[v]);
    if (b.quantize[v])
      clReleaseKernel (b.quantize[v]);
  }
  clReleaseMemObject (b.scratch);
  g_ptr_array_unref (b.weights);
  vtp_tensor_free (b.x[0]);
  vtp_tensor_free (b.x[1]);
  for (gint s = 0; s < N_SHAPES; s++)
    vtp_tensor_free (b.y[s]);
  g_rand_free (r);
  vtp_device_unref (b.dev);
  return 0;
}
