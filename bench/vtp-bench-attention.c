/* vtp-bench-attention: speed of one attention call on a device.
 *
 *   vtp-bench-attention NQ NK HEADS KV_HEADS HEAD_DIM [causal] [REPS] [rows1] [f16|q8_0]
 *
 * Random q, k, v; prints the best and median time and GFLOP/s (4·H·NQ·NK·d:
 * the two products; the softmax is not counted), the GB/s of keys and
 * values read (2·NK·KV_HEADS·d values: what bounds a decode step, NQ 1) and
 * the device's float FMA peak measured by vtp-probe in the same run.
 * "rows1" forces the kernel of one query row per work-item (by giving it a
 * score scratch with no spare rows), to compare it with the blocked one;
 * "f16" keeps k and v in F16, as a KV cache of kv-type=f16, "q8_0" in Q8_0
 * blocks, as kv-type=q8_0. ViT-L/14-336's
 * layer: 577 577 16 16 64; a 600-token LLaMA prefill: 600 600 32 4 64
 * causal; a LLaVA-1.5-7B decode step at depth 1024: 1 1025 32 32 128 causal. */
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>
#include "bench-util.h"
#include "vtp-ops.h"
#include "vtp-probe.h"

static void
die (const char *what, GError *error)
{
  g_printerr ("vtp-bench-attention: %s: %s\n", what, error ? error->message : "failed");
  exit (1);
}

static VtpTensor *
random_tensor (VtpDevice *dev, GRand *r, gint64 rows, gint64 cols)
{
  g_autoptr (GError) error = NULL;
  const gint64 shape[2] = { rows, cols };
  g_autofree float *f = g_new (float, rows * cols);
  VtpTensor *t;

  for (gint64 i = 0; i < rows * cols; i++)
    f[i] = (float) g_rand_double_range (r, -1, 1);
  if (!(t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, f, &error)))
    die ("upload", error);
  return t;
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  VtpDevice *dev;
  VtpAttention a = { 0 };
  gint64 nq, nk;
  gint reps = 10;
  gboolean rows1 = FALSE;
  VtpDType kv_type = VTP_DTYPE_F32;
  VtpTensor *q, *k, *v, *out, *scores;
  double *t, flop;
  GRand *r;

  if (argc < 6) {
    g_printerr ("usage: %s NQ NK HEADS KV_HEADS HEAD_DIM [causal] [REPS] [rows1] [f16|q8_0]\n", argv[0]);
    return 2;
  }
  nq = g_ascii_strtoll (argv[1], NULL, 10);
  nk = g_ascii_strtoll (argv[2], NULL, 10);
  a.n_heads = atoi (argv[3]);
  a.n_kv_heads = atoi (argv[4]);
  a.head_dim = atoi (argv[5]);
  for (gint i = 6; i < argc; i++) {
    if (strcmp (argv[i], "causal") == 0)
      a.causal = TRUE;
    else if (strcmp (argv[i], "rows1") == 0)
      rows1 = TRUE;
    else if (strcmp (argv[i], "f16") == 0)
      kv_type = VTP_DTYPE_F16;
    else if (strcmp (argv[i], "q8_0") == 0)
      kv_type = VTP_DTYPE_Q8_0;
    else
      reps = MAX (1, atoi (argv[i]));
  }
  if (nq < 1 || nk < 1 || a.n_heads < 1 || a.n_kv_heads < 1 || a.head_dim < 1
      || a.n_heads % a.n_kv_heads || (a.causal && nq > nk)) {
    g_printerr ("NQ, NK, HEADS, KV_HEADS, HEAD_DIM must be positive, KV_HEADS divide HEADS, "
        "NQ <= NK when causal\n");
    return 2;
  }
  a.q_pos0 = nk - nq;
  a.scale = 1.0f / sqrtf (a.head_dim);
  if (!(dev = vtp_device_get (NULL, &error)))
    die ("device", error);
  r = g_rand_new_with_seed (42);
  q = random_tensor (dev, r, nq, (gint64) a.n_heads * a.head_dim);
  k = random_tensor (dev, r, nk, (gint64) a.n_kv_heads * a.head_dim);
  v = random_tensor (dev, r, nk, (gint64) a.n_kv_heads * a.head_dim);
  out = random_tensor (dev, r, nq, (gint64) a.n_heads * a.head_dim);
  if (kv_type != VTP_DTYPE_F32) {
    /* the same values rounded or quantized into caches of that type, as
     * kv-type=f16 / q8_0 stores them */
    VtpTensor *k16 = vtp_kv_cache_check (kv_type, a.n_kv_heads, a.head_dim, &error)
        ? vtp_tensor_new_2d (dev, kv_type, nk, (gint64) a.n_kv_heads * a.head_dim, &error) : NULL;
    VtpTensor *v16 = k16 ? vtp_tensor_new_2d (dev, kv_type, nk, (gint64) a.n_kv_heads * a.head_dim, &error)
        : NULL;
    if (!v16)
      die ("caches", error);
    vtp_op_kv_write (k16, v16, 0, k, v, 0, nk);
    vtp_tensor_free (k);
    vtp_tensor_free (v);
    k = k16;
    v = v16;
  }
  if (!(scores = vtp_tensor_new_2d (dev, VTP_DTYPE_F32,
              (gint64) a.n_heads * nq + (rows1 ? 0 : VTP_ATTENTION_SCORE_PAD_ROWS), nk, &error)))
    die ("scratch", error);

  t = g_new (double, reps + 1);
  for (gint i = 0; i <= reps; i++) {          /* the first run compiles */
    const gint64 t0 = g_get_monotonic_time ();
    vtp_op_attention (out, 0, q, 0, nq, k, v, 0, nk, scores, &a);
    if (!vtp_device_finish (dev, &error) || !vtp_error_take_pending (&error))
      die ("run", error);
    t[i] = (g_get_monotonic_time () - t0) / 1000.0;
  }
  qsort (t + 1, reps, sizeof (double), cmp_double);
  flop = 4.0 * a.n_heads * nq * nk * a.head_dim * (a.causal ? 0.5 : 1.0);
  printf ("attention nq=%" G_GINT64_FORMAT " nk=%" G_GINT64_FORMAT " heads=%d/%d d=%d%s%s, %s keys and values, on %s\n",
      nq, nk, a.n_heads, a.n_kv_heads, a.head_dim, a.causal ? " causal" : "", rows1 ? " rows1" : "",
      vtp_dtype_name (kv_type),
      dev->name);
  printf ("best %.3f ms  %.1f GFLOP/s  |  median %.3f ms  %.1f GFLOP/s\n", t[1], flop / t[1] / 1e6,
      t[1 + reps / 2], flop / t[1 + reps / 2] / 1e6);
  {
    const double kv_bytes = 2.0 * nk * vtp_dtype_row_bytes (kv_type, (gint64) a.n_kv_heads * a.head_dim);
    printf ("keys and values read: %.1f MB, best %.1f GB/s  |  median %.1f GB/s\n", kv_bytes / 1e6,
        kv_bytes / t[1] / 1e6, kv_bytes / t[1 + reps / 2] / 1e6);
  }
  {
    const double fma = vtp_probe_fma_gflops (dev, &error);
    if (fma <= 0)
      die ("probe", error);
    printf ("device float FMA peak %.0f GFLOP/s (probe): best run at %.0f%% of it\n", fma,
        100 * flop / t[1] / 1e6 / fma);
  }
  g_free (t);
  vtp_tensor_free (q); vtp_tensor_free (k); vtp_tensor_free (v);
  vtp_tensor_free (out); vtp_tensor_free (scores);
  g_rand_free (r);
  vtp_device_unref (dev);
  return 0;
}
