/* bench-measure.h: the measurements vtp-bench and vtp-bench-llm share
 * (header-only). */
#pragma once
#include <sys/resource.h>
#include "bench-util.h"
#include "vtp-bandwidth.h"
#include "vtp-generate.h"

/* Greedy decode of @n tokens from the logits the prefill left, EOS
 * ignored, in tokens/s: the first token comes from the prefill's logits,
 * so decode steps = tokens - 1. 0 and @error on failure. */
static G_GNUC_UNUSED double
decode_tokens_per_s (VtpLm *lm, gint n, GError **error)
{
  VtpGenerateParams gp = { n, { 0 }, FALSE };
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
  const double t0 = now_ms ();

  if (!vtp_lm_generate (lm, &gp, NULL, NULL, out, NULL, error))
    return 0;
  return (out->len - 1) / ((now_ms () - t0) / 1000.0);
}

/* Peak RSS of the work so far (MB), then the host's read bandwidth (GB/s:
 * the best of 9 passes returned, their median in @median_gbs), in this
 * order so that the probe's own 1 GiB is not counted. */
static G_GNUC_UNUSED double
peak_rss_then_bandwidth (double *rss_mb, double *median_gbs)
{
  struct rusage ru;
  VtpBandwidthProbe *probe;
  double bw;

  getrusage (RUSAGE_SELF, &ru);
  *rss_mb = ru.ru_maxrss / 1024.0;
  probe = vtp_bandwidth_probe_new ((gsize) 1 << 30);
  bw = vtp_bandwidth_probe_run (probe, 9, median_gbs);
  vtp_bandwidth_probe_free (probe);
  return bw;
}
