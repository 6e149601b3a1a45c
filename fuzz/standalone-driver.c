/* standalone-driver.c: runs a fuzz target without libFuzzer, so that the
 * normal build (gcc, no sanitizers) has a fuzz smoke run in its tests:
 * every seed of the corpus once, then a bounded number of deterministic
 * mutations of them (bit flips, truncations, byte insertions, duplicated
 * chunks, interesting integers, splices), from a fixed seed, so that a
 * failure reproduces on the next run. A crash or a GLib critical (the
 * tests run with G_DEBUG=fatal-criticals) fails the test; --save writes
 * each input before it runs, so the one that killed it is on disk.
 *
 *   standalone-driver [-n MUTATIONS] [-t SECONDS] [--save FILE] PATH...
 *
 * PATH is a file or a directory of files (the corpus). The mutations stop
 * at -n (default 2000) or after -t seconds (default 5), whichever first. */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define MAX_INPUT_BYTES (1 << 20)

static guint64 rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: the same sequence on every machine, unlike GRand's seeding */
static guint64
rng (void)
{
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545f4914f6cdd1dull;
}

static gsize
below (gsize n)
{
  return n ? rng () % n : 0;
}

/* values that sit on the edges of length and count fields */
static const guint64 interesting[] = {
  0, 1, 2, 7, 8, 16, 32, 64, 127, 128, 255, 256, 0x7fff, 0x8000, 0xffff, 0x10000,
  0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull, 0xffffffffffffffffull,
};

/* bytes that change the meaning of text formats (JSON, templates) */
static const char tokens[] = "{}[]\":,0-9e.\\u\n {prompt}<image>";

/* GByteArray is a GArray of bytes underneath; GLib has no insert for it */
static void
insert (GByteArray *b, gsize pos, const guint8 *bytes, gsize n)
{
  g_array_insert_vals ((GArray *) b, pos, bytes, n);
}

static void
mutate_once (GByteArray *b, GPtrArray *seeds)
{
  gsize pos = below (b->len + 1), n;
  guint8 byte;

  switch (below (8)) {
    case 0:                     /* flip a bit */
      if (b->len)
        b->data[below (b->len)] ^= 1u << below (8);
      break;
    case 1:                     /* truncate */
      g_byte_array_set_size (b, pos);
      break;
    case 2:                     /* insert random bytes */
      n = 1 + below (16);
      for (gsize i = 0; i < n && b->len < MAX_INPUT_BYTES; i++) {
        byte = (guint8) rng ();
        insert (b, pos, &byte, 1);
      }
      break;
    case 3:                     /* duplicate a chunk somewhere else */
      if (b->len) {
        gsize from = below (b->len);
        g_autofree guint8 *chunk = NULL;
        n = 1 + below (256);   /* not inside MIN: it evaluates twice */
        n = MIN (n, b->len - from);
        chunk = g_memdup2 (b->data + from, n);
        if (b->len + n <= MAX_INPUT_BYTES)
          insert (b, pos, chunk, n);
      }
      break;
    case 4:                     /* overwrite with an interesting integer, little-endian */
      if (b->len) {
        guint64 v = interesting[below (G_N_ELEMENTS (interesting))];
        gsize width = (gsize) 1 << below (4);
        pos = below (b->len);
        for (gsize i = 0; i < width && pos + i < b->len; i++)
          b->data[pos + i] = (guint8) (v >> (8 * i));
      }
      break;
    case 5:                     /* a syntax byte of the text formats */
      byte = (guint8) tokens[below (sizeof tokens - 1)];
      if (b->len && below (2))
        b->data[below (b->len)] = byte;
      else if (b->len < MAX_INPUT_BYTES)
        insert (b, pos, &byte, 1);
      break;
    case 6:                     /* erase a range */
      if (b->len) {
        pos = below (b->len);
        n = 1 + below (64);
        g_byte_array_remove_range (b, pos, MIN (n, b->len - pos));
      }
      break;
    default:                    /* splice: the tail of another seed */
      {
        GBytes *other = g_ptr_array_index (seeds, below (seeds->len));
        gsize other_len;
        const guint8 *o = g_bytes_get_data (other, &other_len);
        gsize from = below (other_len + 1);
        g_byte_array_set_size (b, pos);
        g_byte_array_append (b, o + from, MIN (other_len - from, MAX_INPUT_BYTES - b->len));
      }
      break;
  }
}

static void
run (const guint8 *data, gsize size, const char *save)
{
  /* a copy of exactly @size bytes, so that a read past the end is one
   * valgrind or a sanitizer sees; malloc, not g_memdup2, which gives NULL
   * for the empty input (libFuzzer never passes NULL, and memchr / memcpy
   * of NULL are undefined even for 0 bytes: UBSan) */
  guint8 *copy = malloc (size);

  if (size)
    memcpy (copy, data, size);

  if (save)
    g_file_set_contents (save, (const char *) data, size, NULL);
  LLVMFuzzerTestOneInput (copy, size);
  free (copy);
}

static gint
by_name (gconstpointer a, gconstpointer b)
{
  return strcmp (*(char *const *) a, *(char *const *) b);
}

static void
add_path (GPtrArray *names, const char *path)
{
  g_autoptr (GDir) dir = NULL;
  const char *entry;

  if (!g_file_test (path, G_FILE_TEST_IS_DIR)) {
    g_ptr_array_add (names, g_strdup (path));
    return;
  }
  if (!(dir = g_dir_open (path, 0, NULL)))
    g_error ("cannot read the corpus %s", path);
  while ((entry = g_dir_read_name (dir)))
    g_ptr_array_add (names, g_build_filename (path, entry, NULL));
}

int
main (int argc, char **argv)
{
  gint mutations = 2000;
  gdouble seconds = 5;
  g_autofree char *save = NULL;
  g_auto (GStrv) paths = NULL;
  GOptionEntry entries[] = {
    { "mutations", 'n', 0, G_OPTION_ARG_INT, &mutations, "Mutated inputs to run (default 2000)", "N" },
    { "seconds", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Stop the mutations after this long (default 5)", "S" },
    { "save", 0, 0, G_OPTION_ARG_FILENAME, &save, "Write each input here before running it", "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &paths, NULL, "PATH..." },
    { NULL }
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("PATH... - run a fuzz target on a corpus");
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) seeds = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GTimer) timer = g_timer_new ();
  gint done = 0;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error) || !paths) {
    g_printerr ("%s\n", error ? error->message : "give a corpus directory or files");
    return 2;
  }
  for (guint i = 0; paths[i]; i++)
    add_path (names, paths[i]);
  g_ptr_array_sort (names, by_name);
  if (names->len == 0)
    g_error ("the corpus is empty");

  for (guint i = 0; i < names->len; i++) {
    char *contents;
    gsize len;
    if (!g_file_get_contents (g_ptr_array_index (names, i), &contents, &len, &error))
      g_error ("%s", error->message);
    g_ptr_array_add (seeds, g_bytes_new_take (contents, len));
    run ((const guint8 *) contents, len, save);
  }
  g_print ("%u seeds run\n", names->len);

  for (; done < mutations && g_timer_elapsed (timer, NULL) < seconds; done++) {
    GBytes *seed = g_ptr_array_index (seeds, below (seeds->len));
    g_autoptr (GByteArray) b = g_byte_array_new ();
    gsize len;
    const guint8 *data = g_bytes_get_data (seed, &len);
    guint ops = 1 + below (4);

    g_byte_array_append (b, data, len);
    for (guint k = 0; k < ops; k++)
      mutate_once (b, seeds);
    run (b->data, b->len, save);
  }
  g_print ("%d mutations run in %.1f s\n", done, g_timer_elapsed (timer, NULL));
  return 0;
}
