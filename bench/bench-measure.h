/* bench-measure.h: the measurements vtp-bench and vtp-bench-llm share
 * (header-only). */
#pragma once
#include <sys/resource.h>
#include "bench-util.h"
#include "vtp-bandwidth.h"
#include "vtp-generate.h"

/* Decode of @n tokens from the logits the prefill left (greedy, or with
 * @sampling where not NULL), EOS ignored, in tokens/s: the first token
 * comes from the prefill's logits, so decode steps = tokens - 1. 0 and
 * @error on failure. */
static G_GNUC_UNUSED double
decode_tokens_per_s (VtpLm *lm, gint n, const VtpSamplerParams *sampling, GError **error)
{
  VtpGenerateParams gp = { n, { 0 }, FALSE };
  g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
  double t0;

  if (sampling)
    gp.sampling = *sampling;
  t0 = now_ms ();
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

/* The decode speed against the read bandwidth measured in the same run:
 * the bytes of weights a token reads, both probe figures, the speed limit
 * they imply and the fraction of it reached. Two fractions, because this
 * machine's memory moves between two speeds within seconds
 * (docs/performance.md): against the best pass (a lower bound on the
 * fraction) and against the median pass. */
static G_GNUC_UNUSED void
print_decode_against_bandwidth (double tokens_per_s, gsize bytes_per_token, double bw, double bw_median)
{
  const double limit = bw * 1e9 / bytes_per_token, limit_median = bw_median * 1e9 / bytes_per_token;

  g_print ("llm_weight_bytes_per_token: %" G_GSIZE_FORMAT "\n", bytes_per_token);
  g_print ("host_read_bandwidth_gb_s: %.1f\n", bw);
  g_print ("host_read_bandwidth_median_gb_s: %.1f\n", bw_median);
  g_print ("decode_limit_tokens_per_s: %.2f\n", limit);
  g_print ("decode_fraction_of_limit: %.2f\n", tokens_per_s / limit);
  g_print ("decode_fraction_of_median_limit: %.2f\n", tokens_per_s / limit_median);
}
