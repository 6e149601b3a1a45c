/* vtp-host-pages.h: host memory for the big buffers of a CPU device, in
 * 2 MB pages where the kernel gives them.
 *
 * A decode step streams every weight once from memory. On 4 KB pages each
 * 4 KB of a weight stream costs a page walk (and, in a virtual machine, a
 * walk of the host's tables too) and stops the hardware prefetchers at a
 * page's end; 2 MB pages take both away. Linux hands anonymous memory 2 MB
 * pages only where asked (transparent huge pages in "madvise" mode, the
 * default of many distributions), so vtp asks (madvise MADV_HUGEPAGE) for
 * the buffers it makes the OpenCL CPU device use in place
 * (CL_MEM_USE_HOST_PTR). docs/performance.md "2 MB pages" has the figures. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

#define VTP_HUGE_PAGE_BYTES ((gsize) 2 << 20)
/* Below this a buffer stays the driver's (a few KB: vectors, norms' weights,
 * which the caches hold anyway). From it on, buffers share 2 MB pages
 * (vtp-host-pages.c), so even the k and v products of a small model,
 * a few hundred KB, are read from 2 MB pages. */
#define VTP_HOST_PAGES_MIN_BYTES ((gsize) 64 << 10)
/* The mappings buffers are carved out of: this, or a larger buffer's
 * size rounded up to whole 2 MB pages. What a mapping left unused when the
 * next buffer did not fit costs at most the rest of one 2 MB page (the
 * untouched pages after it cost nothing): on the 1.1B Q4_K_M with 64 MB
 * mappings peak RSS was 852 MB, with 256 MB 845, with the driver's own
 * buffers 838 (docs/performance.md "ninth session"). */
#define VTP_HOST_PAGES_SLAB_BYTES ((gsize) 256 << 20)

/* Whether vtp asks for 2 MB pages: yes unless $VTP_HUGE_PAGES is 0
 * (vtp-switch.h). */
gboolean vtp_host_pages_wanted (void);

/* @bytes of zeroed memory starting on a page (4 KB) boundary. Where
 * vtp_host_pages_wanted, it is carved out of mappings of whole 2 MB pages
 * advised for them, right after the buffer carved before it, so that all
 * of it can be in 2 MB pages and none is spent on rounding up (a 2 MB page
 * at most a mapping); otherwise it is a mapping of its own, starting on a
 * 2 MB boundary, in 4 KB pages. NULL when the system refuses the mapping.
 * Free with vtp_host_pages_free (@bytes). */
gpointer vtp_host_pages_alloc (gsize bytes);
void vtp_host_pages_free (gpointer p, gsize bytes);
/* Bytes of vtp_host_pages_alloc not freed yet, over the process. */
guint64 vtp_host_pages_live_bytes (void);

G_END_DECLS
