/* fuzz-graph.c: a graph file (docs/graph-format.md) read and checked
 * against the GStreamer registry: parameters, elements and their
 * properties, links, input and output. The vtp plugin is found through
 * GST_PLUGIN_PATH (meson's test environment sets it; scripts/fuzz.sh
 * too), so that the graphs of graphs/ check their vtp elements. */
#define _GNU_SOURCE             /* dl_iterate_phdr */
#include <string.h>
#include "fuzz-target.h"
#include "vtp-graph-spec.h"

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

#ifdef FUZZ_ASAN
#include <link.h>

/* the sanitizer allocator's interface (clang's and gcc's runtimes both
 * have it; gcc ships no header for it) */
int __sanitizer_get_ownership (const volatile void *p);
size_t __sanitizer_get_allocated_size (const volatile void *p);
int __sanitizer_install_malloc_and_free_hooks (void (*malloc_hook) (const volatile void *, size_t),
    void (*free_hook) (const volatile void *));

/* GLib's quark table is an array that g_quark_new replaces by a copy 2048
 * entries longer each time it fills, leaking the old one on purpose
 * (lock-free readers may still hold it). A graph's caps and structure
 * strings make new quarks, so the fuzzer grows the table, and
 * LeakSanitizer reports the old blocks. tests/lsan.supp suppresses them by
 * their allocation stack (g_quark_from_string, call_init), but GLib has no
 * frame pointers: only the slow unwinder sees those frames, and unwinding
 * every malloc that way made this target 4-10 times slower. Instead, every
 * block the table has used is kept here, reachable, so that no leak check
 * finds it. The table's address (GLib's static `quarks`) is the word of
 * libglib's writable segments that points to a heap block whose entry for
 * a fresh quark of a static string is that very string; a malloc hook
 * looks at it on every allocation, so that a block is seen even when one
 * input grows the table several times (the malloc of the next block comes
 * before the table moves to it). */
static const char quark_probe[] = "vtp-fuzz-graph-quark-probe";
static GQuark probe;
static gpointer *quark_table;
static gpointer quark_blocks[8192];     /* 16 million quarks */
static guint n_quark_blocks;

static gboolean
is_quark_table (gpointer p)
{
  if (!p || !__sanitizer_get_ownership (p) || __sanitizer_get_allocated_size (p) <= probe * sizeof (gpointer))
    return FALSE;
  return ((const char *const *) p)[probe] == quark_probe;
}

static int
find_quark_table (struct dl_phdr_info *info, size_t size, void *data)
{
  (void) size;
  (void) data;
  if (!strstr (info->dlpi_name, "libglib-2.0.so"))
    return 0;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW (Phdr) *ph = &info->dlpi_phdr[i];
    guintptr start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
    if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_W))
      continue;
    for (guintptr a = (start + sizeof (gpointer) - 1) & ~(guintptr) (sizeof (gpointer) - 1);
        a + sizeof (gpointer) <= end; a += sizeof (gpointer))
      if (is_quark_table (*(gpointer *) a)) {
        quark_table = (gpointer *) a;
        return 1;
      }
  }
  return 0;
}

/* runs inside malloc: no allocation, no lock */
static void
keep_quark_block (const volatile void *ptr, size_t size)
{
  gpointer current = __atomic_load_n (quark_table, __ATOMIC_ACQUIRE);
  guint n = __atomic_load_n (&n_quark_blocks, __ATOMIC_ACQUIRE);

  (void) ptr;
  (void) size;
  if (n > 0 && quark_blocks[MIN (n, G_N_ELEMENTS (quark_blocks)) - 1] == current)
    return;
  n = __atomic_fetch_add (&n_quark_blocks, 1, __ATOMIC_ACQ_REL);
  if (n < G_N_ELEMENTS (quark_blocks))
    quark_blocks[n] = current;
}

static void
ignore_free (const volatile void *ptr)
{
  (void) ptr;
}

static void
watch_quark_table (void)
{
  probe = g_quark_from_static_string (quark_probe);
  dl_iterate_phdr (find_quark_table, NULL);
  if (!quark_table) {
    g_printerr ("fuzz-graph: GLib's quark table not found; its growth will be reported as a leak unless "
        "ASAN_OPTIONS has fast_unwind_on_malloc=0 (tests/lsan.supp then matches it)\n");
    return;
  }
  keep_quark_block (NULL, 0);
  __sanitizer_install_malloc_and_free_hooks (keep_quark_block, ignore_free);
}
#else
static void
watch_quark_table (void)
{
}
#endif

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpGraphSpec) spec = NULL;
  static gsize inited;

  if (g_once_init_enter (&inited)) {
    watch_quark_table ();
    gst_init (NULL, NULL);
    g_once_init_leave (&inited, 1);
  }
  spec = vtp_graph_spec_parse ((const char *) data, size, "fuzz.json", &error);
  if (!spec)
    return 0;
  /* a parameter's value checked as vtp-run checks one from the command line */
  for (guint i = 0; i < spec->params->len; i++) {
    const VtpGraphParam *p = &g_array_index (spec->params, VtpGraphParam, i);
    g_assert (vtp_graph_spec_find_param (spec, p->name) == p);
    if (p->default_value && p->type != VTP_PARAM_PATH)
      vtp_graph_param_check (spec, p, p->default_value, NULL);
    vtp_graph_param_check (spec, p, "12", NULL);
  }
  return 0;
}
