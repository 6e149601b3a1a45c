/* vtp-srt.h: SubRip's two rules, shared by vtpsrtenc and vtp-run's
 * --format srt: times as "HH:MM:SS,mmm", and a cue's text without blank
 * lines (a blank line ends a cue). Header-only, GLib only. */
#pragma once
#include <glib.h>

/* @ns (nanoseconds) as "HH:MM:SS,mmm" into @out (16 bytes). */
static inline void
vtp_srt_time (guint64 ns, char out[16])
{
  const guint64 ms = ns / 1000000;
  g_snprintf (out, 16, "%02u:%02u:%02u,%03u", (guint) (ms / 3600000), (guint) (ms / 60000 % 60),
      (guint) (ms / 1000 % 60), (guint) (ms % 1000));
}

/* @text (@len bytes, -1: NUL-terminated) as one cue: each line trimmed,
 * blank lines dropped. NULL when nothing is left or it is not UTF-8. */
static inline char *
vtp_srt_cue_text (const char *text, gssize len)
{
  /* an empty buffer maps to NULL data, which g_strndup would return */
  g_autofree char *raw = len < 0 ? g_strdup (text) : g_strndup (len ? text : "", len);
  g_auto (GStrv) lines = g_strsplit (raw, "\n", -1);
  GString *s = g_string_new (NULL);

  for (guint i = 0; lines[i]; i++) {
    g_strstrip (lines[i]);
    if (*lines[i])
      g_string_append_printf (s, "%s%s", s->len ? "\n" : "", lines[i]);
  }
  if (!s->len || !g_utf8_validate (s->str, -1, NULL)) {
    g_string_free (s, TRUE);
    return NULL;
  }
  return g_string_free (s, FALSE);
}
