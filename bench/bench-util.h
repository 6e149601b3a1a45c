/* bench-util.h: the small helpers every vtp benchmark uses (header-only). */
#pragma once
#include <glib.h>
#include <stdlib.h>

static G_GNUC_UNUSED double
now_ms (void)
{
  return g_get_monotonic_time () / 1000.0;
}

static G_GNUC_UNUSED int
cmp_double (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Sorts @v. */
static G_GNUC_UNUSED double
median (double *v, gint n)
{
  qsort (v, n, sizeof (double), cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
