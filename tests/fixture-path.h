/* fixture-path.h: where the committed test fixtures are (header-only). */
#pragma once
#include <glib.h>

/* tests/fixtures/@name, or $VTP_FIXTURES_DIR/@name. */
static G_GNUC_UNUSED char *
fixture_path (const char *name)
{
  const char *root = g_getenv ("VTP_FIXTURES_DIR");
  if (root)
    return g_build_filename (root, name, NULL);
  return g_build_filename (VTP_SOURCE_DIR, "tests", "fixtures", name, NULL);
}
