/* fixture-path.h: where the committed test fixtures are (header-only). */
#pragma once
#include <glib.h>
#include <string.h>

/* tests/fixtures/@name, or $VTP_FIXTURES_DIR/@name. */
static G_GNUC_UNUSED char *
fixture_path (const char *name)
{
  const char *root = g_getenv ("VTP_FIXTURES_DIR");
  if (root)
    return g_build_filename (root, name, NULL);
  return g_build_filename (VTP_SOURCE_DIR, "tests", "fixtures", name, NULL);
}

/* A copy of file @src at @dst with the first occurrence of @from (@len
 * bytes) replaced by @to, or (@from NULL) cut to @cut bytes: damaged
 * inputs made in the test from a valid fixture. */
static G_GNUC_UNUSED void
fixture_patched_copy (const char *src, const char *dst, const char *from, const char *to, gsize len, gsize cut)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *data = NULL;
  gsize n, i = 0;

  g_assert_true (g_file_get_contents (src, &data, &n, &error));
  if (from) {
    while (i + len <= n && memcmp (data + i, from, len))
      i++;
    g_assert_cmpuint (i + len, <=, n);
    memcpy (data + i, to, len);
  }
  g_assert_true (g_file_set_contents (dst, data, from ? n : MIN (cut, n), &error));
  g_assert_no_error (error);
}
