#include "vtp-bandwidth.h"
#include "bench-util.h"
#include "vtp-host-pages.h"

typedef float V4 __attribute__ ((vector_size (16)));

struct _VtpBandwidthProbe {
  V4 *buf;
  gsize n;                      /* vectors */
};

typedef struct {
  const V4 *p;
  gsize n;
  float sum;
} ReadJob;

static gpointer
read_job (gpointer data)
{
  ReadJob *j = data;
  const gsize q = j->n / 4;
  const V4 *p0 = j->p, *p1 = p0 + q, *p2 = p1 + q, *p3 = p2 + q;
  V4 s0 = { 0 }, s1 = { 0 }, s2 = { 0 }, s3 = { 0 };
  for (gsize i = 0; i + 2 <= q; i += 2) {
    s0 += p0[i] + p0[i + 1];
    s1 += p1[i] + p1[i + 1];
    s2 += p2[i] + p2[i + 1];
    s3 += p3[i] + p3[i + 1];
  }
  s0 += s1 + s2 + s3;
  j->sum = s0[0] + s0[1] + s0[2] + s0[3];
  return NULL;
}

VtpBandwidthProbe *
vtp_bandwidth_probe_new (gsize bytes)
{
  VtpBandwidthProbe *p = g_new0 (VtpBandwidthProbe, 1);
  p->n = bytes / sizeof (V4);
  /* the kind of memory the CPU device's weights and caches are in
   * (vtp-host-pages.h): on 4 KB pages a stream reads slower */
  p->buf = vtp_host_pages_alloc (p->n * sizeof (V4));
  if (!p->buf)
    g_error ("vtp_bandwidth_probe_new: no memory for %" G_GSIZE_FORMAT " bytes", bytes);
  for (gsize i = 0; i < p->n; i++)
    for (gint u = 0; u < 4; u++)
      p->buf[i][u] = (float) ((i + u) & 7);
  return p;
}

double
vtp_bandwidth_probe_run (VtpBandwidthProbe *p, gint passes, double *median_gbs)
{
  const guint threads = g_get_num_processors ();
  ReadJob *jobs = g_new0 (ReadJob, threads);
  GThread **th = g_new0 (GThread *, threads);
  double *gbs = g_new0 (double, MAX (passes, 1)), mid, best;

  for (gint rep = 0; rep < passes; rep++) {
    gint64 t0 = g_get_monotonic_time ();
    for (guint t = 0; t < threads; t++) {
      jobs[t] = (ReadJob) { p->buf + t * (p->n / threads), p->n / threads, 0 };
      th[t] = g_thread_new ("bw", read_job, &jobs[t]);
    }
    for (guint t = 0; t < threads; t++)
      g_thread_join (th[t]);
    gbs[rep] = p->n * sizeof (V4) / ((g_get_monotonic_time () - t0) * 1e3);
  }
  mid = median (gbs, MAX (passes, 1));       /* sorts */
  best = gbs[MAX (passes, 1) - 1];
  if (median_gbs)
    *median_gbs = mid;
  g_free (gbs);
  g_free (jobs);
  g_free (th);
  return best;
}

void
vtp_bandwidth_probe_free (VtpBandwidthProbe *p)
{
  if (!p)
    return;
  vtp_host_pages_free (p->buf, p->n * sizeof (V4));
  g_free (p);
}
