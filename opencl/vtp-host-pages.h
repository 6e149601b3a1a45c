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
/* Below this a buffer stays the driver's: its 2 MB pages could only be the
 * partial ones at its ends, which Linux makes of 4 KB pages anyway. */
#define VTP_HOST_PAGES_MIN_BYTES VTP_HUGE_PAGE_BYTES

/* Whether vtp asks for 2 MB pages: yes unless $VTP_HUGE_PAGES is 0
 * (vtp-switch.h). */
gboolean vtp_host_pages_wanted (void);

/* @bytes of zeroed memory starting on a 2 MB boundary, advised for 2 MB
 * pages where vtp_host_pages_wanted (the part of it that covers whole 2 MB
 * pages gets them, the rest stays in 4 KB pages: no memory is spent on
 * rounding up); NULL when the system refuses the mapping. Free with
 * vtp_host_pages_free (@bytes). */
gpointer vtp_host_pages_alloc (gsize bytes);
void vtp_host_pages_free (gpointer p, gsize bytes);
/* Bytes of vtp_host_pages_alloc not freed yet, over the process. */
guint64 vtp_host_pages_live_bytes (void);

G_END_DECLS
