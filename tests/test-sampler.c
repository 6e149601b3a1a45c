/* test-sampler.c: greedy, temperature, top-k and top-p sampling; the
 * greedy choice on the device (vtp_op_argmax) against the host's. */
#include <math.h>
#include "vtp-ops.h"
#include "vtp-sampler.h"

static void
test_greedy (void)
{
  const float logits[6] = { 0.1f, 2.0f, -1.0f, 2.0f, 1.9f, 0.0f };
  VtpSamplerParams p = { 0 };
  g_autoptr (VtpSampler) s = vtp_sampler_new (&p, 6);
  g_assert_cmpint (vtp_sampler_sample (s, logits), ==, 1);     /* first of the tied maxima, as torch.argmax */
}

/* The first index of the largest, NaNs never greater, as a plain loop
 * over logits[best] (vtp_argmax's lanes and tail must agree with it) */
static gint
argmax_loop (const float *l, gint n)
{
  gint best = 0;
  for (gint i = 1; i < n; i++)
    if (l[i] > l[best])
      best = i;
  return best;
}

/* vtp_argmax against the plain loop on lengths 1 .. 80 and 32000, with
 * ties (values from a few levels), NaNs, infinities, signed zeros, and the
 * maximum in every lane and in the tail. */
static void
test_argmax (void)
{
  static float l[32000];
  const float levels[] = { -INFINITY, -1.0f, -0.0f, 0.0f, 0.5f, 2.0f, NAN, INFINITY };
  guint32 r = 12345;

  for (gint trial = 0; trial < 4000; trial++) {
    const gint n = trial % 97 == 0 ? 32000 : 1 + trial % 80;
    const gint kinds = trial % 3 == 0 ? 8 : trial % 3 == 1 ? 6 : 3;  /* with / without NaN, infinities */
    for (gint i = 0; i < n; i++) {
      r = r * 1664525u + 1013904223u;
      l[i] = trial % 5 == 4 ? (float) (r >> 8) / 16777216.0f : levels[(r >> 16) % kinds + (kinds == 3 ? 2 : 0)];
    }
    g_assert_cmpint (vtp_argmax (l, n), ==, argmax_loop (l, n));
  }
  for (gint n = 1; n <= 40; n++)
    for (gint at = 0; at < n; at++) {
      for (gint i = 0; i < n; i++)
        l[i] = (float) (i % 3);
      l[at] = 5.0f;
      g_assert_cmpint (vtp_argmax (l, n), ==, at);
    }
}

/* vtp_op_argmax on the device against vtp_argmax: row 1 of two (an
 * offset), into element 1 of three, with the patterns of test_argmax and
 * the edge cases (a NaN first, only NaNs after it, every value -inf, one
 * logit, a vocabulary of 32064), with one work-item (CPUs' reduce_wg) and
 * work-groups of 64 and 256 (a GPU's tree, run here on the CPU). */
static void
test_argmax_device (void)
{
  g_autoptr (GError) error = NULL;
  VtpDevice *dev = vtp_device_get (NULL, &error);
  const float levels[] = { -INFINITY, -1.0f, -0.0f, 0.0f, 0.5f, 2.0f, NAN, INFINITY };
  const gint64 three = 3;
  const guint wgs[] = { 1, 64, 256 };
  const guint keep = dev ? dev->reduce_wg : 1;
  VtpTensor *ids;
  guint32 r = 777;

  g_assert_no_error (error);
  ids = vtp_tensor_new (dev, VTP_DTYPE_I32, 1, &three, &error);
  g_assert_no_error (error);
  for (gint trial = 0; trial < 60; trial++) {
    const gint n = trial == 0 ? 32064 : trial == 1 ? 1 : trial % 7 == 0 ? 32000 : 1 + (trial * 37) % 300;
    const gint kinds = trial % 3 == 0 ? 8 : trial % 3 == 1 ? 6 : 3;
    g_autofree float *l = g_new (float, 2 * (gsize) n);
    gint64 shape[2] = { 2, n };
    VtpTensor *t;
    gint want;

    for (gint i = 0; i < 2 * n; i++) {
      r = r * 1664525u + 1013904223u;
      l[i] = trial % 5 == 4 ? (float) (r >> 8) / 16777216.0f : levels[(r >> 16) % kinds + (kinds == 3 ? 2 : 0)];
    }
    float *row = l + n;
    if (trial == 2)
      row[0] = NAN;                             /* a NaN first: 0 */
    if (trial == 3)
      for (gint i = 1; i < n; i++)
        row[i] = NAN;                           /* only NaNs after the first */
    if (trial == 5)
      for (gint i = 0; i < n; i++)
        row[i] = -INFINITY;                     /* all alike: the first */
    if (trial == 6)
      for (gint i = 0; i < n; i++)
        row[i] = i % 11 == 10 ? 3.0f : 1.0f;    /* ties far apart: the first */
    want = vtp_argmax (row, n);
    t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, l, &error);
    g_assert_no_error (error);
    for (guint w = 0; w < G_N_ELEMENTS (wgs); w++) {
      gint32 got[3] = { -1, -1, -1 };
      g_assert_true (vtp_tensor_write (ids, 0, got, sizeof got, &error));
      dev->reduce_wg = wgs[w];
      vtp_op_argmax (ids, 1, t, 1);
      dev->reduce_wg = keep;
      g_assert_true (vtp_error_take_pending (&error));
      g_assert_true (vtp_tensor_read (ids, 0, got, sizeof got, &error));
      g_assert_no_error (error);
      if (got[1] != want)
        g_error ("trial %d, n %d, work-group %u: device argmax %d, host %d", trial, n, wgs[w], got[1], want);
      g_assert_cmpint (got[0], ==, -1);
      g_assert_cmpint (got[2], ==, -1);
    }
    vtp_tensor_free (t);
  }
  /* a shape error names the op and leaves the ids as they were */
  {
    const gint64 shape[2] = { 1, 4 };
    const float l[4] = { 0 };
    VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, l, &error);
    g_assert_no_error (error);
    vtp_op_argmax (ids, 3, t, 0);
    g_assert_false (vtp_error_take_pending (&error));
    g_assert_nonnull (strstr (error->message, "argmax"));
    g_clear_error (&error);
    vtp_op_argmax (ids, 0, t, 1);
    g_assert_false (vtp_error_take_pending (&error));
    g_clear_error (&error);
    vtp_tensor_free (t);
  }
  vtp_tensor_free (ids);
  vtp_device_unref (dev);
}

static void
test_seeded_repeatable (void)
{
  float logits[100];
  VtpSamplerParams p = { 1.0f, 0, 1.0f, 1234 };
  g_autoptr (VtpSampler) a = vtp_sampler_new (&p, 100), b = vtp_sampler_new (&p, 100);
  gint first[50], differ = 0;

  for (gint i = 0; i < 100; i++)
    logits[i] = sinf (i * 0.7f);
  for (gint i = 0; i < 50; i++) {
    first[i] = vtp_sampler_sample (a, logits);
    g_assert_cmpint (first[i], ==, vtp_sampler_sample (b, logits));
  }
  vtp_sampler_reset (a);
  for (gint i = 0; i < 50; i++)
    g_assert_cmpint (first[i], ==, vtp_sampler_sample (a, logits));
  p.seed = 99;
  {
    g_autoptr (VtpSampler) c = vtp_sampler_new (&p, 100);
    for (gint i = 0; i < 50; i++)
      differ += vtp_sampler_sample (c, logits) != first[i];
  }
  g_assert_cmpint (differ, >, 10);
}

/* Frequencies follow softmax(logits / T) within sampling noise. */
static void
test_distribution (void)
{
  const float logits[4] = { 1.0f, 0.0f, -1.0f, 0.5f };
  const float T = 0.8f;
  VtpSamplerParams p = { T, 0, 1.0f, 7 };
  g_autoptr (VtpSampler) s = vtp_sampler_new (&p, 4);
  const gint n = 40000;
  gint counts[4] = { 0 };
  double z = 0, want[4];

  for (gint i = 0; i < 4; i++)
    z += (want[i] = exp (logits[i] / T));
  for (gint i = 0; i < n; i++)
    counts[vtp_sampler_sample (s, logits)]++;
  for (gint i = 0; i < 4; i++) {
    const double f = (double) counts[i] / n, pr = want[i] / z;
    g_test_message ("token %d: %.4f sampled, %.4f expected", i, f, pr);
    g_assert_cmpfloat (fabs (f - pr), <, 5 * sqrt (pr * (1 - pr) / n));
  }
}

static void
test_top_k_top_p (void)
{
  const float logits[5] = { 3.0f, 2.9f, 1.0f, 0.5f, 0.0f };
  VtpSamplerParams k2 = { 1.0f, 2, 1.0f, 3 }, p_small = { 1.0f, 0, 0.3f, 3 }, p_mid = { 1.0f, 0, 0.9f, 3 };
  g_autoptr (VtpSampler) a = vtp_sampler_new (&k2, 5), b = vtp_sampler_new (&p_small, 5), c = vtp_sampler_new (&p_mid, 5);
  gboolean seen[5] = { FALSE };

  for (gint i = 0; i < 2000; i++) {
    gint t = vtp_sampler_sample (a, logits);
    g_assert_cmpint (t, <, 2);                               /* only the two best */
    g_assert_cmpint (vtp_sampler_sample (b, logits), ==, 0); /* 0.3 of the mass: the best alone */
    seen[vtp_sampler_sample (c, logits)] = TRUE;
  }
  /* p = 0.9: softmax gives 0.43, 0.39, 0.06, 0.04, 0.02 -> the first three or four */
  g_assert_true (seen[0] && seen[1] && seen[2]);
  g_assert_false (seen[4]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sampler/greedy", test_greedy);
  g_test_add_func ("/sampler/argmax", test_argmax);
  g_test_add_func ("/sampler/argmax-device", test_argmax_device);
  g_test_add_func ("/sampler/seeded", test_seeded_repeatable);
  g_test_add_func ("/sampler/distribution", test_distribution);
  g_test_add_func ("/sampler/top-k-top-p", test_top_k_top_p);
  return g_test_run ();
}
