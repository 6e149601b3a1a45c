/* vtp-switch.h: the switches that turn one of vtp's faster paths off, for
 * A/B measurements (vtp-bench-llm --alternate NAME=0,1, vtp-bench-linear's
 * "pages"): on unless the environment variable is "0", read at each use so
 * that a bench can flip it between runs in one process. */
#pragma once
#include <glib.h>
#include <stdlib.h>

static inline gboolean
vtp_switch_on (const char *name)
{
  return g_strcmp0 (g_getenv (name), "0") != 0;
}

/* A count that the environment variable @name may set for such runs
 * (clamped to @lo .. @hi), else @fallback; read at each use too. */
static inline gint
vtp_switch_int (const char *name, gint fallback, gint lo, gint hi)
{
  const char *v = g_getenv (name);

  return v ? CLAMP (atoi (v), lo, hi) : fallback;
}
