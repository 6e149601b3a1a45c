/* vtp-host-pages.c: see vtp-host-pages.h.
 *
 * Buffers are carved one after another (4 KB apart at most) out of slabs:
 * mappings of whole 2 MB pages, 2 MB aligned, advised for 2 MB pages. A
 * buffer of its own mapping would end in a part of a 2 MB page, which
 * Linux makes of 4 KB pages: with a tensor a mapping, 8% of the 1.1B
 * Q4_K_M's weights (the tails, and the k and v products under 2 MB whole)
 * were in 4 KB pages, where a stream reads at ~0.75 of the speed
 * (docs/performance.md "ninth session"). A slab is carved front to back
 * only; a freed buffer's whole 2 MB pages go back to the system (no other
 * buffer touches them), and a slab is unmapped once it holds no buffer (or
 * carved again from its start, if it is the one being carved). */
#include "vtp-host-pages.h"
#include "vtp-switch.h"
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE VTP_HUGE_PAGE_BYTES
#define SLAB_BYTES VTP_HOST_PAGES_SLAB_BYTES

typedef struct {
  char *base;
  gsize len;                    /* whole 2 MB pages */
  gsize used;                   /* carved so far, from base */
  guint buffers;                /* live buffers in it */
  guint *on_page;               /* live buffers touching each 2 MB page */
} Slab;

static GMutex slabs_lock;
static GPtrArray *slabs;        /* Slab *, every live one */
static Slab *carving;           /* the one new buffers come from */
static gsize live_bytes;        /* atomic (g_atomic_pointer_*) */

gboolean
vtp_host_pages_wanted (void)
{
  return vtp_switch_on ("VTP_HUGE_PAGES");
}

static gsize
rounded (gsize bytes, gsize unit)
{
  return (bytes + unit - 1) / unit * unit;
}

static gsize
page_rounded (gsize bytes)
{
  return rounded (bytes, (gsize) sysconf (_SC_PAGESIZE));
}

/* @len bytes (a multiple of 2 MB when @huge) of address space starting on
 * a 2 MB boundary, nothing touched yet; advised for 2 MB pages if @huge */
static char *
map_aligned (gsize len, gboolean huge)
{
  /* over-map by one 2 MB page, keep the part from the first 2 MB boundary on */
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
  if (huge)
    madvise (p, len, MADV_HUGEPAGE);
#endif
  return p;
}

static Slab *
slab_new (gsize len)
{
  Slab *s;
  char *base = map_aligned (len, TRUE);

  if (!base)
    return NULL;
  s = g_new0 (Slab, 1);
  s->base = base;
  s->len = len;
  s->on_page = g_new0 (guint, len / HUGE_PAGE);
  if (!slabs)
    slabs = g_ptr_array_new ();
  g_ptr_array_add (slabs, s);
  return s;
}

static void
slab_free (Slab *s)
{
  g_ptr_array_remove_fast (slabs, s);
  munmap (s->base, s->len);
  g_free (s->on_page);
  g_free (s);
}

static Slab *
slab_of (gconstpointer p)
{
  for (guint i = 0; slabs && i < slabs->len; i++) {
    Slab *s = slabs->pdata[i];
    if ((const char *) p >= s->base && (const char *) p < s->base + s->len)
      return s;
  }
  return NULL;
}

/* @len bytes (page-rounded) from the slab being carved, or from a new one
 * when they do not fit (then whichever of the two has more room left is
 * carved next) */
static char *
carve (gsize len)
{
  Slab *s = carving;
  char *p;

  if (!s || s->len - s->used < len) {
    Slab *fresh = slab_new (MAX (SLAB_BYTES, rounded (len, HUGE_PAGE)));
    if (!fresh)
      return NULL;
    if (!s || fresh->len - len >= s->len - s->used) {
      if (s && !s->buffers)
        slab_free (s);
      carving = fresh;
    }
    s = fresh;
  }
  p = s->base + s->used;
  s->used += len;
  s->buffers++;
  for (gsize g = (gsize) (p - s->base) / HUGE_PAGE; g * HUGE_PAGE < s->used; g++)
    s->on_page[g]++;
  return p;
}

static void
uncarve (Slab *s, char *p, gsize len)
{
  const gsize from = (gsize) (p - s->base);

  for (gsize g = from / HUGE_PAGE; g * HUGE_PAGE < from + len; g++)
    if (--s->on_page[g] == 0)
      /* no live buffer on it: its memory back to the system (reads as
       * zeros again, as a fresh buffer must) */
      madvise (s->base + g * HUGE_PAGE, HUGE_PAGE, MADV_DONTNEED);
  if (--s->buffers == 0) {
    if (s == carving)
      s->used = 0;              /* every page given back above: all zeros */
    else
      slab_free (s);
  }
}

gpointer
vtp_host_pages_alloc (gsize bytes)
{
  const gsize len = page_rounded (bytes);
  char *p;

  if (vtp_host_pages_wanted ()) {
    g_mutex_lock (&slabs_lock);
    p = carve (len);
    g_mutex_unlock (&slabs_lock);
  } else {
    p = map_aligned (len, FALSE);
  }
  if (p)
    g_atomic_pointer_add (&live_bytes, (gssize) len);
  return p;
}

void
vtp_host_pages_free (gpointer p, gsize bytes)
{
  const gsize len = page_rounded (bytes);
  Slab *s;

  if (!p)
    return;
  g_mutex_lock (&slabs_lock);
  s = slab_of (p);
  if (s)
    uncarve (s, p, len);
  g_mutex_unlock (&slabs_lock);
  if (!s)
    munmap (p, len);
  g_atomic_pointer_add (&live_bytes, -(gssize) len);
}

guint64
vtp_host_pages_live_bytes (void)
{
  return (guint64) (gsize) g_atomic_pointer_get (&live_bytes);
}
