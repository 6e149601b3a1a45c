/* test-sampler.c: greedy, temperature, top-k and top-p sampling; the
 * greedy choice on the device (vtp_op_argmax) against the host's.
 *  - /sampler/warpers: the tokens the sampler keeps are those transformers'
 *    TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper keep
 *    (tests/fixtures/sampler, made by tools/make_sampler_fixtures.py), 139
 *    cases of 7 to 32064 logits.
 *  - /sampler/device: vtp_op_sample draws the token the host draws with the
 *    same uniform draw, on those cases and on NaNs and infinities, with
 *    work-groups of 1 (CPUs' reduce_wg), 64 and 256 (a GPU's); a draw within
 *    1e-5 of a token's edge (of the kept mass) may go either way.
 *  - /sampler/speed (-m perf): the host's time to draw a token from 32000
 *    logits, greedy and with three settings. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>
#include "fixture-path.h"
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

typedef struct {
  gint n;
  VtpSamplerParams params;
  const float *logits;
  const guint8 *kept;
  const char *shape;
} WarperCase;

typedef struct {
  JsonParser *parser;
  char *logits, *kept;
  WarperCase *cases;
  guint n_cases;
} WarperFixture;

static void
warper_fixture_load (WarperFixture *f)
{
  g_autofree char *dir = fixture_path ("sampler");
  g_autofree char *manifest = g_build_filename (dir, "manifest.json", NULL);
  g_autofree char *logits = g_build_filename (dir, "logits.f32", NULL);
  g_autofree char *kept = g_build_filename (dir, "kept.u8", NULL);
  g_autoptr (GError) error = NULL;
  gsize n_logits, n_kept;
  JsonArray *cases;

  f->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (f->parser, manifest, &error));
  g_assert_true (g_file_get_contents (logits, &f->logits, &n_logits, &error));
  g_assert_true (g_file_get_contents (kept, &f->kept, &n_kept, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (n_logits, ==, 4 * n_kept);
  cases = json_object_get_array_member (json_node_get_object (json_parser_get_root (f->parser)), "cases");
  f->n_cases = json_array_get_length (cases);
  f->cases = g_new0 (WarperCase, f->n_cases);
  for (guint c = 0; c < f->n_cases; c++) {
    JsonObject *o = json_array_get_object_element (cases, c);
    WarperCase *w = &f->cases[c];
    const gint64 at = json_object_get_int_member (o, "offset");
    w->n = json_object_get_int_member (o, "n");
    g_assert_cmpint (at + w->n, <=, (gint64) n_kept);
    w->params.temperature = json_object_get_double_member (o, "temperature");
    w->params.top_k = json_object_get_int_member (o, "top_k");
    w->params.top_p = json_object_get_double_member (o, "top_p");
    w->params.seed = 1000 + c;
    w->logits = (const float *) f->logits + at;
    w->kept = (const guint8 *) f->kept + at;
    w->shape = json_object_get_string_member (o, "shape");
  }
}

static void
warper_fixture_clear (WarperFixture *f)
{
  g_object_unref (f->parser);
  g_free (f->logits);
  g_free (f->kept);
  g_free (f->cases);
}

/* The kept tokens against transformers' warpers, token by token. */
static void
test_warpers (void)
{
  WarperFixture f;

  warper_fixture_load (&f);
  g_assert_cmpuint (f.n_cases, >=, 100);
  for (guint c = 0; c < f.n_cases; c++) {
    const WarperCase *w = &f.cases[c];
    g_autoptr (VtpSampler) s = vtp_sampler_new (&w->params, w->n);
    g_autofree guint8 *kept = g_new (guint8, w->n);
    gint count = vtp_sampler_keep (s, w->logits, kept), want = 0;

    for (gint i = 0; i < w->n; i++) {
      want += w->kept[i];
      if (kept[i] != w->kept[i])
        g_error ("case %u (%d logits, %s, T %g, top-k %d, top-p %g): token %d %s by vtp, %s by transformers", c,
            w->n, w->shape, w->params.temperature, w->params.top_k, w->params.top_p, i,
            kept[i] ? "kept" : "dropped", w->kept[i] ? "kept" : "dropped");
    }
    g_assert_cmpint (count, ==, want);
  }
  warper_fixture_clear (&f);
}

/* Where the draw @u falls among the kept tokens' running masses (double
 * sums, in the vocabulary's order, the host's weights): the distance to
 * the nearest edge over the whole kept mass, 1 when nothing is kept. */
static double
draw_margin (VtpSampler *s, const float *logits, gint n, double u)
{
  g_autofree guint8 *kept = g_new (guint8, n);
  g_autofree double *w = g_new (double, n);
  const float top = logits[vtp_argmax (logits, n)];
  double total = 0.0, acc = 0.0, r, margin = 1.0;

  vtp_sampler_keep (s, logits, kept);
  for (gint i = 0; i < n; i++)
    total += w[i] = kept[i] && !isnan (logits[i]) ? exp ((double) logits[i] / s->params.temperature
        - (double) top / s->params.temperature) : 0.0;
  if (!(total > 0.0) || !isfinite (total))
    return 1.0;
  r = u * total;
  for (gint i = 0; i < n; i++)
    if (w[i] > 0.0) {
      acc += w[i];
      margin = MIN (margin, fabs (acc - r) / total);
    }
  return margin;
}

/* One row of logits drawn from on the device (into element 1 of three,
 * the row second of two) with every work-group size and draw in @us,
 * against the host; returns how many draws were too close to call. */
static gint
device_against_host (VtpDevice *dev, VtpTensor *ids, const float *row, gint n, const VtpSamplerParams *p,
    const double *us, gint n_us, const char *what)
{
  g_autoptr (GError) error = NULL;
  const guint wgs[] = { 1, 64, 256 }, keep = dev->reduce_wg;
  const gint64 shape[2] = { 2, n };
  g_autofree float *two = g_new0 (float, 2 * (gsize) n);
  g_autoptr (VtpSampler) s = vtp_sampler_new (p, n);
  VtpTensor *t;
  gint close = 0;

  memcpy (two + n, row, n * sizeof (float));
  for (gint i = 0; i < n; i++)
    two[i] = (float) (n - i);                   /* row 0: another answer */
  t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, two, &error);
  g_assert_no_error (error);
  for (gint k = 0; k < n_us; k++) {
    const VtpSampleArgs args = { p->temperature, p->top_k, p->top_p, us[k] };
    const gint want = vtp_sampler_sample_with (s, row, us[k]);
    const gboolean near = draw_margin (s, row, n, (float) us[k]) < 1e-5;
    for (guint g = 0; g < G_N_ELEMENTS (wgs); g++) {
      gint32 got[3] = { -1, -1, -1 };
      g_assert_true (vtp_tensor_write (ids, 0, got, sizeof got, &error));
      dev->reduce_wg = wgs[g];
      vtp_op_sample (ids, 1, t, 1, &args);
      dev->reduce_wg = keep;
      g_assert_true (vtp_error_take_pending (&error));
      g_assert_true (vtp_tensor_read (ids, 0, got, sizeof got, &error));
      g_assert_no_error (error);
      g_assert_cmpint (got[0], ==, -1);
      g_assert_cmpint (got[2], ==, -1);
      if (got[1] != want) {
        if (!near)
          g_error ("%s (%d logits, T %g, top-k %d, top-p %g), draw %.9f, work-group %u: device %d, host %d", what,
              n, p->temperature, p->top_k, p->top_p, us[k], wgs[g], got[1], want);
        close++;
      }
    }
  }
  vtp_tensor_free (t);
  return close;
}

static void
test_sample_device (void)
{
  g_autoptr (GError) error = NULL;
  VtpDevice *dev = vtp_device_get (NULL, &error);
  const gint64 three = 3;
  double us[24];
  WarperFixture f;
  VtpTensor *ids;
  gint close = 0, draws = 0;

  g_assert_no_error (error);
  ids = vtp_tensor_new (dev, VTP_DTYPE_I32, 1, &three, &error);
  g_assert_no_error (error);
  for (gint k = 0; k < 20; k++)
    us[k] = (k + 0.37) / 20.0;
  us[20] = 0.0;
  us[21] = 0.999999;
  us[22] = 0.5;
  us[23] = 1e-7;
  warper_fixture_load (&f);
  for (guint c = 0; c < f.n_cases; c++) {
    const WarperCase *w = &f.cases[c];
    const gint n_us = w->n > 1000 ? 6 : 24;   /* a vocabulary's size: 6 draws (32 passes each over it) */
    close += device_against_host (dev, ids, w->logits, w->n, &w->params, us, n_us, w->shape);
    draws += 3 * n_us;
  }
  warper_fixture_clear (&f);
  /* NaNs and infinities: never drawn, the argmax where nothing has a weight */
  {
    const float nan_inf[8] = { NAN, -INFINITY, 1.0f, NAN, 0.5f, -INFINITY, 1.0f, NAN };
    const float all_low[5] = { -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY };
    const float nan_first[4] = { NAN, 1.0f, 2.0f, 3.0f };
    const float pos_inf[4] = { 1.0f, INFINITY, 2.0f, INFINITY };
    const VtpSamplerParams plain = { 1.0f, 0, 1.0f, 1 }, both = { 0.8f, 2, 0.6f, 1 }, tight = { 1.0f, 0, 0.0f, 1 };
    const VtpSamplerParams *ps[3] = { &plain, &both, &tight };
    for (gint k = 0; k < 3; k++) {
      close += device_against_host (dev, ids, nan_inf, 8, ps[k], us, 24, "NaNs and -inf");
      close += device_against_host (dev, ids, all_low, 5, ps[k], us, 24, "every logit -inf");
      close += device_against_host (dev, ids, nan_first, 4, ps[k], us, 24, "a NaN first");
      close += device_against_host (dev, ids, pos_inf, 4, ps[k], us, 24, "+inf");
      draws += 4 * 3 * 24;
    }
  }
  g_test_message ("%d of %d draws too close to call went the other way", close, draws);
  g_assert_cmpint (close, <=, draws / 1000);
  /* a shape error names the op; a draw outside [0, 1) is refused */
  {
    const gint64 shape[2] = { 1, 4 };
    const float l[4] = { 0 };
    const VtpSampleArgs bad_u = { 1.0f, 0, 1.0f, 1.0 }, bad_t = { 0.0f, 0, 1.0f, 0.5 };
    VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, shape, l, &error);
    g_assert_no_error (error);
    vtp_op_sample (ids, 3, t, 0, &bad_t);
    g_assert_false (vtp_error_take_pending (&error));
    g_assert_nonnull (strstr (error->message, "sampling"));
    g_clear_error (&error);
    vtp_op_sample (ids, 0, t, 0, &bad_u);
    g_assert_false (vtp_error_take_pending (&error));
    g_clear_error (&error);
    vtp_op_sample (ids, 0, t, 0, &bad_t);
    g_assert_false (vtp_error_take_pending (&error));
    g_clear_error (&error);
    vtp_tensor_free (t);
  }
  vtp_tensor_free (ids);
  vtp_device_unref (dev);
}

/* NaNs and -inf are never drawn; +inf, or nothing with a weight, gives the
 * argmax; top-p 0 keeps the most likely token (and its ties) alone. */
static void
test_edges (void)
{
  const float nan_inf[8] = { NAN, -INFINITY, 1.0f, NAN, 0.5f, -INFINITY, 1.0f, NAN };
  const float all_low[3] = { -INFINITY, -INFINITY, -INFINITY };
  const float pos_inf[4] = { 1.0f, INFINITY, 2.0f, INFINITY };
  const float ties[5] = { 0.0f, 2.0f, 1.0f, 2.0f, 1.9f };
  VtpSamplerParams p = { 1.0f, 0, 1.0f, 5 }, zero_p = { 1.0f, 0, 0.0f, 5 };
  g_autoptr (VtpSampler) a = vtp_sampler_new (&p, 8), b = vtp_sampler_new (&p, 3), c = vtp_sampler_new (&p, 4);
  g_autoptr (VtpSampler) d = vtp_sampler_new (&zero_p, 5);
  gboolean seen[5] = { FALSE };

  for (gint i = 0; i < 500; i++) {
    const gint t = vtp_sampler_sample (a, nan_inf);
    g_assert_true (t == 2 || t == 4 || t == 6);
    g_assert_cmpint (vtp_sampler_sample (b, all_low), ==, 0);
    g_assert_cmpint (vtp_sampler_sample (c, pos_inf), ==, 1);
    seen[vtp_sampler_sample (d, ties)] = TRUE;
  }
  g_assert_true (seen[1] && seen[3]);
  g_assert_false (seen[0] || seen[2] || seen[4]);
}

static void
test_speed (void)
{
  static float l[32000];
  const VtpSamplerParams ps[4] = { { 0.0f, 0, 1.0f, 1 }, { 1.0f, 0, 1.0f, 1 }, { 0.8f, 40, 0.95f, 1 },
    { 0.8f, 0, 0.9f, 1 } };
  guint32 r = 1;

  /* uniform logits over [-4, 4) with a token 10 higher every 997 */
  for (gint i = 0; i < 32000; i++) {
    r = r * 1664525u + 1013904223u;
    l[i] = ((r >> 8) / 16777216.0f - 0.5f) * 8.0f + (i % 997 == 0 ? 10.0f : 0.0f);
  }
  for (guint k = 0; k < G_N_ELEMENTS (ps); k++) {
    g_autoptr (VtpSampler) s = vtp_sampler_new (&ps[k], 32000);
    gint64 t0 = g_get_monotonic_time ();
    gint sum = 0;
    for (gint i = 0; i < 200; i++)
      sum += vtp_sampler_sample (s, l);
    g_test_minimized_result ((g_get_monotonic_time () - t0) / 200.0, "temperature %g, top-k %d, top-p %g: "
        "%.1f us a token from 32000 logits (%d)", ps[k].temperature, ps[k].top_k, ps[k].top_p,
        (g_get_monotonic_time () - t0) / 200.0, sum);
  }
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
  g_test_add_func ("/sampler/edges", test_edges);
  g_test_add_func ("/sampler/warpers", test_warpers);
  g_test_add_func ("/sampler/device", test_sample_device);
  if (g_test_perf ())
    g_test_add_func ("/sampler/speed", test_speed);
  return g_test_run ();
}
