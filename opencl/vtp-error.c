#include "vtp-error.h"

G_DEFINE_QUARK (vtp-error-quark, vtp_error)

static void
free_error (gpointer e)
{
  if (e)
    g_error_free (e);
}

static GPrivate pending_error = G_PRIVATE_INIT (free_error);

void
vtp_error_set_pending (VtpErrorCode code, const char *format, ...)
{
  va_list args;

  if (g_private_get (&pending_error))
    return;
  va_start (args, format);
  g_private_set (&pending_error, g_error_new_valist (VTP_ERROR, code, format, args));
  va_end (args);
}

gboolean
vtp_error_is_pending (void)
{
  return g_private_get (&pending_error) != NULL;
}

gboolean
vtp_error_take_pending (GError **error)
{
  GError *e = g_private_get (&pending_error);

  if (!e)
    return TRUE;
  /* g_private_replace would free it; detach first. */
  g_private_set (&pending_error, NULL);
  g_propagate_error (error, e);
  return FALSE;
}
