/* vtp-bench-linear: speed of one matrix product y = x · Wᵀ on a device.
 *
 *   vtp-bench-linear M K N TYPE [REPS] [plain|rows|pages]
 *
 * TYPE: f32, f16, bf16, or a block-quantized type (q8_0, q4_0, q4_1, q5_0,
 * q5_1, q2_k, q3_k, q4_k, q5_k, q6_k: random weights quantized by vtp;
 * iq4_nl, iq4_xs, iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s, iq1_s, iq1_m:
 * random blocks).
 *
 * x [M, K] F32, W [N, K] uploaded through vtp_linear_weight_new (the packed
 * layout of the device), or as a plain row-major tensor with "plain".
 * "rows": the M rows as the decode steps of M streams (vtp_op_linear_rows:
 * each row's arithmetic as a lone row's; the int8 tiles of a few rows).
 * $VTP_DEVICE picks the device. One warm-up run, then REPS timed runs (each
 * ended by clFinish); prints the best and the median time, GFLOP/s
 * (2·M·N·K / time) and GB/s of weight bytes read (N·K·sizeof(dtype) / time,
 * the figure that matters for the decode GEMV), and the device's float FMA
 * (and int8 dot product) peak measured by vtp-probe. For M <= 8 it also prints
 * the host's read bandwidth (every core summing its share of 256 MiB), the
 * ceiling of a GEMV on a CPU device, measured in the same run since the
 * figure drifts on shared machines.
 *
 * "pages": an A/B of the CPU device's 2 MB pages (vtp-host-pages.h) in one
 * process: two sets of copies of W, one made with $VTP_HUGE_PAGES=0 (the
 * driver's 4 KB pages) and one with 1, each set over 256 MB so that every
 * product reads W from memory, not from a cache, as a decode step does; REPS
 * rounds, each timing one pass over either set (in turn, which first
 * alternating); prints each set's median time per product and the median
 * of the rounds' speed ratios (2 MB over 4 KB). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench-util.h"
#include "bench-weights.h"
#include "vtp-bandwidth.h"
#include "vtp-linear.h"
#include "vtp-probe.h"
#include "vtp-quant.h"


static void
die (const char *what, GError *error)
{
  g_printerr ("vtp-bench-linear: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

/* One product, waited for; in ms. */
static gboolean as_rows;

static double
run_once (VtpDevice *dev, VtpTensor *y, VtpTensor *x, VtpTensor *w, gint64 M)
{
  g_autoptr (GError) error = NULL;
  gint64 t0 = g_get_monotonic_time ();

  (as_rows ? vtp_op_linear_rows : vtp_op_linear) (y, 0, x, 0, M, w, NULL, FALSE);
  if (!vtp_device_finish (dev, &error) || !vtp_error_take_pending (&error))
    die ("run", error);
  return (g_get_monotonic_time () - t0) / 1000.0;
}

/* The "pages" mode (see the top). */
static void
pages_ab (VtpDevice *dev, VtpDType dtype, gint64 M, gint64 K, gint64 N, const void *wdata, gsize wbytes,
    VtpTensor *x, VtpTensor *y, gint reps)
{
  g_autoptr (GError) error = NULL;
  const gint copies = (gint) MAX (2, ((gsize) 256 << 20) / wbytes + 1);
  VtpTensor **w[2];
  double *t[2], *ratio = g_new (double, reps);

  for (gint h = 0; h < 2; h++) {
    g_setenv ("VTP_HUGE_PAGES", h ? "1" : "0", TRUE);
    w[h] = g_new (VtpTensor *, copies);
    t[h] = g_new (double, reps);
    for (gint c = 0; c < copies; c++)
      if (!(w[h][c] = vtp_linear_weight_new (dev, dtype, N, K, wdata, &error)))
        die ("weights", error);
  }
  g_unsetenv ("VTP_HUGE_PAGES");
  for (gint r = -1; r < reps; r++)
    for (gint i = 0; i < 2; i++) {
      const gint h = (r & 1) ? 1 - i : i;
      double ms = 0;
      for (gint c = 0; c < copies; c++)
        ms += run_once (dev, y, x, w[h][c], M);
      if (r >= 0)
        t[h][r] = ms / copies;
    }
  for (gint r = 0; r < reps; r++)
    ratio[r] = t[0][r] / t[1][r];
  printf ("M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%" G_GINT64_FORMAT " %s on %s, %d copies a set (%.0f MB)\n",
      M, K, N, vtp_dtype_name (dtype), dev->name, copies, copies * wbytes / 1e6);
  for (gint h = 0; h < 2; h++) {
    const double med = median (t[h], reps);
    printf ("%s pages: median %.3f ms a product, %.1f GB/s\n", h ? "2 MB" : "4 KB", med, wbytes / med / 1e6);
  }
  printf ("speed 2 MB over 4 KB, median of %d rounds: %.3f\n", reps, median (ratio, reps));
  for (gint h = 0; h < 2; h++) {
    for (gint c = 0; c < copies; c++)
      vtp_tensor_free (w[h][c]);
    g_free (w[h]);
    g_free (t[h]);
  }
  g_free (ratio);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  VtpDevice *dev;
  VtpDType dtype;
  gint64 M, K, N, shape[2];
  gint reps = 10;
  gboolean plain = FALSE, pages = FALSE;
  gsize wbytes;
  void *wdata;
  float *xdata;
  VtpTensor *w, *x, *y;
  double *t, upload_ms;
  gint64 t0;
  GRand *r;

  if (argc < 5) {
    g_printerr ("usage: %s M K N f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs|iq3_xxs|iq3_s|iq2_xxs|iq2_xs|iq2_s|iq1_s|iq1_m [REPS] [plain|rows|pages]\n", argv[0]);
    return 2;
  }
  M = g_ascii_strtoll (argv[1], NULL, 10);
  K = g_ascii_strtoll (argv[2], NULL, 10);
  N = g_ascii_strtoll (argv[3], NULL, 10);
  for (dtype = VTP_DTYPE_F32; dtype <= VTP_DTYPE_IQ1_M; dtype++)
    if ((dtype <= VTP_DTYPE_BF16 || vtp_dtype_is_quantized (dtype)) && strcmp (argv[4], vtp_dtype_name (dtype)) == 0)
      break;
  if (dtype > VTP_DTYPE_IQ1_M) {
    g_printerr ("the type must be f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl, iq4_xs,\n    iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s, iq1_s or iq1_m\n");
    return 2;
  }
  if (argc > 5)
    reps = MAX (1, atoi (argv[5]));
  if (argc > 6) {
    plain = strcmp (argv[6], "plain") == 0;
    as_rows = strcmp (argv[6], "rows") == 0;
    pages = strcmp (argv[6], "pages") == 0;
  }
  if (M < 1 || K < 1 || N < 1 || K % vtp_dtype_block_elements (dtype)) {
    g_printerr ("M, K, N must be positive, K a multiple of the type's block\n");
    return 2;
  }

  dev = vtp_device_get (NULL, &error);
  if (!dev)
    die ("device", error);

  r = g_rand_new_with_seed (42);
  wbytes = N * vtp_dtype_row_bytes (dtype, K);
  wdata = bench_random_weights (dtype, N, K, 0, r);
  xdata = g_new (float, M * K);
  for (gint64 i = 0; i < M * K; i++)
    xdata[i] = (float) g_rand_double_range (r, -1, 1);

  shape[0] = N;
  shape[1] = K;
  if (pages) {
    shape[0] = M;
    x = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, xdata, &error);
    y = x ? vtp_tensor_new_2d (dev, VTP_DTYPE_F32, M, N, &error) : NULL;
    if (!y)
      die ("input", error);
    pages_ab (dev, dtype, M, K, N, wdata, wbytes, x, y, reps);
    vtp_tensor_free (x);
    vtp_tensor_free (y);
    g_free (wdata);
    g_free (xdata);
    g_rand_free (r);
    vtp_device_unref (dev);
    return 0;
  }
  t0 = g_get_monotonic_time ();
  w = plain ? vtp_tensor_new_from_data (dev, dtype, 2, shape, wdata, &error)
      : vtp_linear_weight_new (dev, dtype, N, K, wdata, &error);
  if (!w)
    die ("weights", error);
  upload_ms = (g_get_monotonic_time () - t0) / 1000.0;
  shape[0] = M;
  x = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, xdata, &error);
  if (!x)
    die ("input", error);
  y = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, M, N, &error);
  if (!y)
    die ("output", error);

  /* one warm-up run (kernel compilation), then @reps runs in up to 5
   * rounds; for GEMV-sized products the host bandwidth is sampled before
   * each round, since it drifts on shared machines */
  t = g_new (double, reps);
  {
    const gboolean gemv = M <= 8;
    const gint rounds = MIN (reps, 5);
    const double flop = 2.0 * M * N * K;
    VtpBandwidthProbe *probe = gemv ? vtp_bandwidth_probe_new ((gsize) 256 << 20) : NULL;
    double bw[10] = { 0 }, best, med;

    run_once (dev, y, x, w, M);
    for (gint r = 0; r < rounds; r++) {
      if (gemv)
        for (gint s = 0; s < 2; s++)
          bw[2 * r + s] = vtp_bandwidth_probe_run (probe, 1, NULL);
      for (gint i = r * reps / rounds; i < (r + 1) * reps / rounds; i++)
        t[i] = run_once (dev, y, x, w, M);
    }
    qsort (t, reps, sizeof (double), cmp_double);
    best = t[0];
    med = t[reps / 2];
    printf ("M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%" G_GINT64_FORMAT
        " %s%s layout=%u on %s (upload %.0f ms)\n", M, K, N, argv[4], plain ? " plain" : as_rows ? " rows" : "",
        w->layout, dev->name, upload_ms);
    printf ("best %.3f ms  %.1f GFLOP/s  %.1f GB/s  |  median %.3f ms  %.1f GFLOP/s  %.1f GB/s\n",
        best, flop / best / 1e6, wbytes / best / 1e6, med, flop / med / 1e6, wbytes / med / 1e6);
    if (gemv) {
      const double bw_median = median (bw, 2 * rounds);       /* sorts */
      printf ("host read bandwidth %.1f GB/s (best of %d samples, %u threads of 4 streams; median %.1f): "
          "best run at %.0f%% of it\n", bw[2 * rounds - 1], 2 * rounds, g_get_num_processors (),
          bw_median, 100 * wbytes / best / 1e6 / bw[2 * rounds - 1]);
    }
    vtp_bandwidth_probe_free (probe);
    {
      /* the roofline's roof, measured on this device in the same run */
      const double fma = vtp_probe_fma_gflops (dev, &error);
      const double int8 = fma > 0 ? vtp_probe_int8_gops (dev, &error) : 0;
      const double bf16 = fma > 0 ? vtp_probe_bf16_gflops (dev, &error) : 0;
      if (fma <= 0)
        die ("probe", error);
      printf ("device float FMA peak %.0f GFLOP/s (probe): best run at %.0f%% of it", fma,
          100 * flop / best / 1e6 / fma);
      if (int8 > 0)
        printf ("; int8 dot product peak %.0f GOP/s", int8);
      if (bf16 > 0)
        printf ("; bfloat16 dot product peak %.0f GFLOP/s", bf16);
      printf ("\n");
    }
  }

  g_free (t);
  g_free (wdata);
  g_free (xdata);
  vtp_tensor_free (w);
  vtp_tensor_free (x);
  vtp_tensor_free (y);
  g_rand_free (r);
  vtp_device_unref (dev);
  return 0;
}
