/* test-host-pages.c: vtp's memory for the CPU device's buffers
 * (vtp-host-pages.h), in a process of its own so that no other buffer
 * shares its mappings: buffers carved one after another out of mappings
 * of 2 MB pages, zeroed, a shared 2 MB page kept while a buffer is on it,
 * memory handed out again reading as zeros, a large buffer in a mapping
 * of its own that goes when it goes, and carving from two threads at once. */

#include "vtp-host-pages.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define HUGE_PAGE VTP_HUGE_PAGE_BYTES
#define PAGE 4096

/* AnonHugePages of the mapping that holds @p (/proc/self/smaps), in kB;
 * -1 where no mapping holds it or smaps cannot be read. */
static gint64
anon_huge_kb (const void *p)
{
  FILE *f = fopen ("/proc/self/smaps", "r");
  char line[512];
  gboolean inside = FALSE;
  gint64 kb = -1;

  if (!f)
    return -1;
  while (fgets (line, sizeof line, f)) {
    unsigned long lo, hi;
    long long v;
    if (sscanf (line, "%lx-%lx ", &lo, &hi) == 2 && strchr (line, '-') < strchr (line, ' '))
      inside = (uintptr_t) p >= lo && (uintptr_t) p < hi;
    else if (inside && sscanf (line, "AnonHugePages: %lld kB", &v) == 1) {
      kb = v;
      break;
    }
  }
  fclose (f);
  return kb;
}

/* Whether this kernel gives 2 MB pages to memory that asks for them. */
static gboolean
thp_available (void)
{
  g_autofree char *mode = NULL;
  return g_file_get_contents ("/sys/kernel/mm/transparent_hugepage/enabled", &mode, NULL, NULL)
      && !strstr (mode, "[never]");
}

/* Whether a mapping of this process holds @p */
static gboolean
mapped (const void *p)
{
  unsigned char v;
  return mincore ((void *) ((uintptr_t) p & ~(uintptr_t) (PAGE - 1)), PAGE, &v) == 0;
}

static void
assert_all (const guint8 *p, gsize bytes, guint8 value)
{
  for (gsize i = 0; i < bytes; i += 512)
    g_assert_cmpuint (p[i], ==, value);
  g_assert_cmpuint (p[bytes - 1], ==, value);
}

/* Runs first: the process has no buffer yet. */
static void
test_carve (void)
{
  const gsize small = 300 * 1024 + 5, rounded = (small + PAGE - 1) / PAGE * PAGE;
  const guint64 before = vtp_host_pages_live_bytes ();
  guint8 *a = vtp_host_pages_alloc (small), *b = vtp_host_pages_alloc (small), *c, *d, *big;

  g_assert_cmpuint (before, ==, 0);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  /* the first buffer starts a mapping; the next one follows it */
  g_assert_cmpuint ((uintptr_t) a % HUGE_PAGE, ==, 0);
  g_assert_true (b == a + rounded);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, 2 * rounded);
  assert_all (a, small, 0);
  assert_all (b, small, 0);
  memset (a, 0x5a, small);
  memset (b, 0xa5, small);
  if (thp_available ()) {
    const gint64 kb = anon_huge_kb (a);
    g_test_message ("AnonHugePages of the mapping of two 300 KB buffers, touched: %" G_GINT64_FORMAT " kB", kb);
    /* both in the one 2 MB page at the mapping's start (given on a fresh
     * machine; where memory is too fragmented this says so and goes on) */
    if (kb < 2048)
      g_test_message ("no 2 MB page was given here (fragmented memory?)");
  }

  /* a's 2 MB page holds b too: it must stay as it is */
  vtp_host_pages_free (a, small);
  assert_all (b, small, 0xa5);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, rounded);

  /* the mapping emptied is carved again from its start, reading zeros */
  vtp_host_pages_free (b, small);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, 0);
  c = vtp_host_pages_alloc (small);
  g_assert_true (c == a);
  assert_all (c, small, 0);

  /* a buffer larger than a mapping gets one of its own (whole 2 MB pages),
   * and carving goes on where it was; that mapping goes with the buffer */
  big = vtp_host_pages_alloc (VTP_HOST_PAGES_SLAB_BYTES + HUGE_PAGE + 123);
  g_assert_nonnull (big);
  g_assert_cmpuint ((uintptr_t) big % HUGE_PAGE, ==, 0);
  assert_all (big, VTP_HOST_PAGES_SLAB_BYTES + HUGE_PAGE + 123, 0);
  d = vtp_host_pages_alloc (small);
  g_assert_true (d == c + rounded);
  big[0] = 1;
  vtp_host_pages_free (big, VTP_HOST_PAGES_SLAB_BYTES + HUGE_PAGE + 123);
  g_assert_false (mapped (big));
  g_assert_true (mapped (d));

  /* a buffer that does not fit in what is left starts a new mapping */
  {
    const gsize rest = VTP_HOST_PAGES_SLAB_BYTES - 2 * rounded;
    guint8 *e = vtp_host_pages_alloc (rest + PAGE);
    g_assert_nonnull (e);
    g_assert_cmpuint ((uintptr_t) e % HUGE_PAGE, ==, 0);
    assert_all (e, rest + PAGE, 0);
    vtp_host_pages_free (e, rest + PAGE);
  }
  vtp_host_pages_free (c, small);
  vtp_host_pages_free (d, small);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, 0);
}

/* Without 2 MB pages wanted, each buffer is a mapping of its own. */
static void
test_own_mappings (void)
{
  const gsize bytes = 5 * HUGE_PAGE + 123;
  guint8 *p, *q;

  g_setenv ("VTP_HUGE_PAGES", "0", TRUE);
  p = vtp_host_pages_alloc (bytes);
  q = vtp_host_pages_alloc (bytes);
  g_unsetenv ("VTP_HUGE_PAGES");
  g_assert_nonnull (p);
  g_assert_nonnull (q);
  g_assert_cmpuint ((uintptr_t) p % HUGE_PAGE, ==, 0);
  g_assert_cmpuint ((uintptr_t) q % HUGE_PAGE, ==, 0);
  assert_all (p, bytes, 0);
  memset (p, 0x5a, bytes);
  assert_all (q, bytes, 0);
  vtp_host_pages_free (p, bytes);
  g_assert_false (mapped (p));
  vtp_host_pages_free (q, bytes);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, 0);
}

typedef struct {
  guint seed;
  gboolean ok;
} Churn;

/* Buffers of random sizes taken and given back, each filled with its own
 * byte and checked before it goes: two threads carving at once must never
 * hand out the same bytes twice. */
static gpointer
churn (gpointer data)
{
  Churn *c = data;
  GRand *r = g_rand_new_with_seed (c->seed);
  guint8 *live[16] = { 0 };
  gsize size[16] = { 0 };

  c->ok = TRUE;
  for (gint i = 0; i < 2000; i++) {
    const gint k = g_rand_int_range (r, 0, 16);
    const guint8 mark = (guint8) (16 * c->seed + k);
    if (live[k]) {
      for (gsize j = 0; j < size[k]; j += 997)
        c->ok &= live[k][j] == mark;
      c->ok &= live[k][size[k] - 1] == mark;
      vtp_host_pages_free (live[k], size[k]);
      live[k] = NULL;
    } else {
      size[k] = (gsize) g_rand_int_range (r, 1, 6 << 20);
      live[k] = vtp_host_pages_alloc (size[k]);
      c->ok &= live[k] && live[k][0] == 0 && live[k][size[k] - 1] == 0;
      if (live[k])
        memset (live[k], mark, size[k]);
    }
  }
  for (gint k = 0; k < 16; k++)
    if (live[k])
      vtp_host_pages_free (live[k], size[k]);
  g_rand_free (r);
  return NULL;
}

static void
test_threads (void)
{
  Churn c[2] = { { 1, FALSE }, { 2, FALSE } };
  GThread *t = g_thread_new ("churn", churn, &c[1]);

  churn (&c[0]);
  g_thread_join (t);
  g_assert_true (c[0].ok);
  g_assert_true (c[1].ok);
  g_assert_cmpuint (vtp_host_pages_live_bytes (), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("VTP_HUGE_PAGES");
  g_test_add_func ("/host-pages/carve", test_carve);
  g_test_add_func ("/host-pages/own-mappings", test_own_mappings);
  g_test_add_func ("/host-pages/threads", test_threads);
  return g_test_run ();
}
