/* vtp-host-pages.c: see vtp-host-pages.h. */
#include "vtp-host-pages.h"
#include "vtp-switch.h"
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE VTP_HUGE_PAGE_BYTES

static gsize live_bytes;        /* atomic (g_atomic_pointer_*) */

gboolean
vtp_host_pages_wanted (void)
{
  return vtp_switch_on ("VTP_HUGE_PAGES");
}

static gsize
page_rounded (gsize bytes)
{
  const gsize page = (gsize) sysconf (_SC_PAGESIZE);
  return (bytes + page - 1) / page * page;
}

gpointer
vtp_host_pages_alloc (gsize bytes)
{
  const gsize len = page_rounded (bytes);
  /* over-map by one 2 MB page, keep the part from the first 2 MB boundary
   * on: address space only, nothing is touched yet */
  char *raw = mmap (NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  char *p;
  gsize head, tail;

  if (raw == MAP_FAILED)
    return NULL;
  p = (char *) (((uintptr_t) raw + HUGE_PAGE - 1) & ~(uintptr_t) (HUGE_PAGE - 1));
  head = (gsize) (p - raw);
  tail = HUGE_PAGE - head;
  if (head)
    munmap (raw, head);
  if (tail)
    munmap (p + len, tail);
#ifdef MADV_HUGEPAGE
  /* advice, not a requirement: where the kernel has no transparent huge
   * pages (or they are off) the memory works in 4 KB pages as before */
  if (vtp_host_pages_wanted ())
    madvise (p, len, MADV_HUGEPAGE);
#endif
  g_atomic_pointer_add (&live_bytes, (gssize) len);
  return p;
}

void
vtp_host_pages_free (gpointer p, gsize bytes)
{
  const gsize len = page_rounded (bytes);

  if (!p)
    return;
  munmap (p, len);
  g_atomic_pointer_add (&live_bytes, -(gssize) len);
}

guint64
vtp_host_pages_live_bytes (void)
{
  return (guint64) (gsize) g_atomic_pointer_get (&live_bytes);
}
