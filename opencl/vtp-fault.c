/* vtp-fault.c: the armed fault and the hooks that fire it (vtp-fault.h). */
#include "vtp-fault.h"
#include "vtp-error.h"
#include <string.h>

static GMutex lock;
static gint armed;                      /* atomic: a fault waits to fire */
static VtpFaultKind armed_kind;         /* the rest under the lock */
static guint remaining;                 /* events of armed_kind until it fires */
static char *armed_kernel;              /* ENQUEUE: only launches of this kernel count */
static guint fired;                     /* atomic */
static guint64 events[VTP_FAULT_N_KINDS];       /* __atomic */
static gint lost;                       /* atomic: the lost fault fired, no device opened since */

static gsize init_done;
static GError *init_error;              /* $VTP_FAULT did not parse */

static const char *const kind_names[] = { "none", "alloc", "build", "enqueue", "copy", "finish",
  "context", "platform", "lost" };
G_STATIC_ASSERT (G_N_ELEMENTS (kind_names) == VTP_FAULT_N_KINDS);

/* Under the lock. */
static void
arm (VtpFaultKind kind, guint nth, const char *kernel)
{
  g_clear_pointer (&armed_kernel, g_free);
  armed_kind = kind;
  remaining = MAX (nth, 1);
  if (kind == VTP_FAULT_ENQUEUE && kernel && *kernel)
    armed_kernel = g_strdup (kernel);
  g_atomic_int_set (&armed, kind != VTP_FAULT_NONE);
}

static gboolean
is_kernel_name (const char *s)
{
  if (!g_ascii_isalpha (*s) && *s != '_')
    return FALSE;
  for (; *s; s++)
    if (!g_ascii_isalnum (*s) && *s != '_')
      return FALSE;
  return TRUE;
}

static gboolean
parse_count (const char *s, guint *n)
{
  guint64 v;

  if (!g_ascii_isdigit (*s) || !g_ascii_string_to_unsigned (s, 10, 1, G_MAXUINT, &v, NULL))
    return FALSE;
  *n = (guint) v;
  return TRUE;
}

/* @spec into a kind, a count and a kernel name (NULL: any); FALSE when it
 * does not parse. */
static gboolean
parse (const char *spec, VtpFaultKind *kind, guint *nth, char **kernel)
{
  g_auto (GStrv) parts = g_strsplit (spec, ":", 0);
  const guint n = g_strv_length (parts);

  *kind = VTP_FAULT_NONE;
  *nth = 1;
  *kernel = NULL;
  if (n == 0 || (n == 1 && (!*parts[0] || !g_ascii_strcasecmp (parts[0], "none"))))
    return TRUE;
  for (guint k = VTP_FAULT_ALLOC; k < VTP_FAULT_N_KINDS; k++)
    if (!g_ascii_strcasecmp (parts[0], kind_names[k]))
      *kind = k;
  if (*kind == VTP_FAULT_NONE || n > 3)
    return FALSE;
  if (n == 1)
    return TRUE;
  if (*kind == VTP_FAULT_ENQUEUE && is_kernel_name (parts[1])) {
    *kernel = g_strdup (parts[1]);
    if (n == 3 && !parse_count (parts[2], nth)) {
      g_clear_pointer (kernel, g_free);
      return FALSE;
    }
    return TRUE;
  }
  return n == 2 && parse_count (parts[1], nth);
}

static gboolean
set_from_string (const char *spec, GError **error)
{
  VtpFaultKind kind;
  guint nth;
  char *kernel;

  if (!parse (spec, &kind, &nth, &kernel)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, VTP_FAULT_ENV "=\"%s\" is not a fault to inject: use "
        "alloc[:N], build[:N], enqueue[:N], enqueue:KERNEL[:N], copy[:N], finish[:N], context[:N], platform[:N] or lost[:N] "
        "(N counts from 1)", spec);
    return FALSE;
  }
  g_mutex_lock (&lock);
  arm (kind, nth, kernel);
  g_mutex_unlock (&lock);
  g_free (kernel);
  return TRUE;
}

gboolean
vtp_fault_init (GError **error)
{
  if (g_once_init_enter (&init_done)) {
    const char *spec = g_getenv (VTP_FAULT_ENV);
    if (spec)
      set_from_string (spec, &init_error);
    g_once_init_leave (&init_done, 1);
  }
  if (init_error) {
    g_set_error_literal (error, init_error->domain, init_error->code, init_error->message);
    return FALSE;
  }
  return TRUE;
}

void
vtp_fault_set (VtpFaultKind kind, guint nth, const char *kernel)
{
  g_return_if_fail (kind < VTP_FAULT_N_KINDS);
  /* the environment is read first, so that it cannot replace this later */
  vtp_fault_init (NULL);
  g_mutex_lock (&lock);
  arm (kind, nth, kernel);
  g_atomic_int_set (&lost, 0);
  g_mutex_unlock (&lock);
}

gboolean
vtp_fault_set_from_string (const char *spec, GError **error)
{
  vtp_fault_init (NULL);
  return set_from_string (spec, error);
}

gboolean
vtp_fault_armed (void)
{
  return g_atomic_int_get (&armed);
}

char *
vtp_fault_armed_kernel (void)
{
  char *k;

  g_mutex_lock (&lock);
  k = g_strdup (armed_kernel);
  g_mutex_unlock (&lock);
  return k;
}

guint
vtp_fault_fired (void)
{
  return (guint) g_atomic_int_get (&fired);
}

guint64
vtp_fault_events (VtpFaultKind kind)
{
  g_return_val_if_fail (kind < VTP_FAULT_N_KINDS, 0);
  return __atomic_load_n (&events[kind], __ATOMIC_RELAXED);
}

/* One event of @kind (@kernel: the launch's kernel): TRUE when it fails. */
static gboolean
hit (VtpFaultKind kind, const char *kernel)
{
  gboolean fire = FALSE;

  __atomic_add_fetch (&events[kind], 1, __ATOMIC_RELAXED);
  if (G_LIKELY (!g_atomic_int_get (&armed)))
    return FALSE;
  g_mutex_lock (&lock);
  if (armed_kind == kind && (!armed_kernel || g_strcmp0 (armed_kernel, kernel) == 0) && --remaining == 0) {
    fire = TRUE;
    arm (VTP_FAULT_NONE, 1, NULL);
    g_atomic_int_inc (&fired);
  }
  g_mutex_unlock (&lock);
  return fire;
}

gboolean
vtp_fault_alloc (void)
{
  return hit (VTP_FAULT_ALLOC, NULL);
}

gboolean
vtp_fault_build (void)
{
  return hit (VTP_FAULT_BUILD, NULL);
}

gboolean
vtp_fault_enqueue (const char *kernel)
{
  return hit (VTP_FAULT_ENQUEUE, kernel);
}

gboolean
vtp_fault_copy (void)
{
  return hit (VTP_FAULT_COPY, NULL);
}

gboolean
vtp_fault_finish (void)
{
  return hit (VTP_FAULT_FINISH, NULL);
}

gboolean
vtp_fault_context (void)
{
  return hit (VTP_FAULT_CONTEXT, NULL);
}

gboolean
vtp_fault_platform (void)
{
  return hit (VTP_FAULT_PLATFORM, NULL);
}

gboolean
vtp_fault_lost (void)
{
  if (hit (VTP_FAULT_LOST, NULL))
    g_atomic_int_set (&lost, 1);
  return g_atomic_int_get (&lost);
}

void
vtp_fault_device_opened (void)
{
  g_atomic_int_set (&lost, 0);
}
