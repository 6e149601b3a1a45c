/* fuzz-target.h: what every fuzz target shares. Each target is one file
 * defining LLVMFuzzerTestOneInput; libFuzzer (-Dfuzzing=true) or
 * standalone-driver.c calls it. A target must return 0, free what it made
 * and clear its GError: a leak, a crash or a GLib critical is a finding. */
#pragma once
#include <glib.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <stddef.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* G_DEBUG=fatal-criticals ends a process with SIGTRAP, which libFuzzer
 * does not take for a crash: it exited without writing the input (the
 * campaign's first config finding). Turned into SIGABRT, the critical is a
 * crash with its input saved like any other. */
static void
fuzz_trap_to_abort (int sig)
{
  (void) sig;
  abort ();
}

__attribute__ ((constructor)) static void
fuzz_catch_traps (void)
{
  signal (SIGTRAP, fuzz_trap_to_abort);
}

/* The bytes as a NUL-terminated string (NULs inside are kept; the
 * parsers that take a length see them). */
static inline char *
fuzz_strndup (const uint8_t *data, size_t size)
{
  char *s = g_malloc (size + 1);
  memcpy (s, data, size);
  s[size] = '\0';
  return s;
}

/* A committed fixture, by path from the source tree; aborts when missing,
 * since a target that silently fuzzes nothing is worse than none. */
static inline char *
fuzz_fixture (const char *relative)
{
  char *path = g_build_filename (VTP_SOURCE_DIR, relative, NULL);
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("fuzz fixture %s is missing", path);
  return path;
}
