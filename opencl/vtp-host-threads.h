/* vtp-host-threads.h: host work shared by the cores.
 *
 * Loading a model is host work: quantizing F16 weights at load (the
 * K-quants' scale search, ~70 ns a weight) and repacking every weight into
 * a CPU device's panels (vtp-linear.c). Done on one thread it left a
 * machine's other cores idle while a pipeline waited to start. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

/* A share [begin, end) of the range of vtp_host_threads_run, with its
 * caller's @data. */
typedef void (*VtpHostRangeFunc) (gint64 begin, gint64 end, gpointer data);

/* Runs @func over [0, @n) cut into one contiguous share a core, each share
 * a multiple of @grain (the last excepted) and no share smaller than
 * @min_share (so that a small range stays on the calling thread); the
 * calling thread takes the first share and returns when every share is
 * done. $VTP_HOST_THREADS sets the number of threads instead of the
 * cores' (1: all on the caller; tests take more than the cores to cut a
 * range in uneven shares). A thread that cannot be started leaves its
 * share to the caller. */
void vtp_host_threads_run (gint64 n, gint64 grain, gint64 min_share, VtpHostRangeFunc func, gpointer data);

G_END_DECLS
