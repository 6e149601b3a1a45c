/* vtp-bandwidth.h: the host's memory read bandwidth, every core summing its
 * share of a buffer as 4 interleaved streams (one stream per core leaves
 * much of the bandwidth unused on some machines; the CPU GEMV kernels read 4
 * streams per work-item too). It bounds decode speed on CPU devices:
 * tokens/s <= bandwidth / bytes of weights read per token. */
#pragma once
#include <glib.h>

typedef struct _VtpBandwidthProbe VtpBandwidthProbe;

/* A probe over @bytes of memory (allocated and touched once), in 2 MB
 * pages as the CPU device's buffers are unless $VTP_HUGE_PAGES is 0. */
VtpBandwidthProbe *vtp_bandwidth_probe_new (gsize bytes);
/* Best of @passes full reads, in GB/s; their median into @median_gbs when
 * not NULL. Report both: on some shared machines the memory's speed moves
 * between two levels within seconds (docs/performance.md), and the best
 * pass alone says what it reaches, not what a run had. */
double vtp_bandwidth_probe_run (VtpBandwidthProbe *p, gint passes, double *median_gbs);
void vtp_bandwidth_probe_free (VtpBandwidthProbe *p);
