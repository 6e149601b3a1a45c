/* vtp-host-threads.c: see vtp-host-threads.h. */
#include "vtp-host-threads.h"

#define MAX_THREADS 64

typedef struct {
  VtpHostRangeFunc func;
  gpointer data;
  gint64 begin, end;
} Share;

static gpointer
run_share (gpointer user_data)
{
  const Share *s = user_data;
  s->func (s->begin, s->end, s->data);
  return NULL;
}

static gint
thread_cap (void)
{
  const char *env = g_getenv ("VTP_HOST_THREADS");
  const gint cores = (gint) g_get_num_processors ();
  gint64 cap;

  if (!env || !*env)
    return cores;
  cap = g_ascii_strtoll (env, NULL, 10);
  return cap >= 1 ? (gint) MIN (cap, MAX_THREADS) : cores;
}

void
vtp_host_threads_run (gint64 n, gint64 grain, gint64 min_share, VtpHostRangeFunc func, gpointer data)
{
  const gint64 units = (n + grain - 1) / MAX (grain, 1);
  gint64 threads = MIN (MIN (thread_cap (), MAX_THREADS), n / MAX (min_share, 1));
  Share shares[MAX_THREADS];
  GThread *t[MAX_THREADS] = { NULL };

  g_return_if_fail (grain >= 1 && n >= 0);
  threads = CLAMP (MIN (threads, units), 1, MAX_THREADS);
  for (gint i = 0; i < threads; i++) {
    shares[i] = (Share) { func, data, MIN (units * i / threads * grain, n), MIN (units * (i + 1) / threads * grain, n) };
    if (i)
      t[i] = g_thread_try_new ("vtp-host", run_share, &shares[i], NULL);
  }
  run_share (&shares[0]);
  for (gint i = 1; i < threads; i++) {
    if (t[i])
      g_thread_join (t[i]);
    else
      run_share (&shares[i]);
  }
}
