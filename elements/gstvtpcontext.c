#include "gstvtpcontext.h"

GST_DEBUG_CATEGORY_STATIC (vtp_context_debug);
#define GST_CAT_DEFAULT vtp_context_debug

static void
init_debug (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (vtp_context_debug, "vtpcontext", 0, "vtp device sharing");
    g_once_init_leave (&once, 1);
  }
}

GstContext *
gst_vtp_context_new (VtpDevice *dev)
{
  GstContext *c = gst_context_new (GST_VTP_DEVICE_CONTEXT_TYPE, TRUE);
  GstStructure *s = gst_context_writable_structure (c);
  gst_structure_set (s, "device", VTP_TYPE_DEVICE, dev, NULL);
  return c;
}

VtpDevice *
gst_vtp_context_get_device (GstContext *context)
{
  const GstStructure *s;
  VtpDevice *dev = NULL;

  if (!context || g_strcmp0 (gst_context_get_context_type (context), GST_VTP_DEVICE_CONTEXT_TYPE) != 0)
    return NULL;
  s = gst_context_get_structure (context);
  if (!gst_structure_get (s, "device", VTP_TYPE_DEVICE, &dev, NULL))
    return NULL;
  return dev;
}

void
gst_vtp_handle_set_context (GstElement *element, GstContext *context, VtpDevice **dev)
{
  VtpDevice *d = gst_vtp_context_get_device (context);

  init_debug ();
  if (!d)
    return;
  /* a lost device (vtp_device_note_error) is not shared on */
  if (vtp_device_is_lost (d)) {
    GST_INFO_OBJECT (element, "not using lost device %s from a context", d->name);
    vtp_device_unref (d);
    return;
  }
  GST_OBJECT_LOCK (element);
  if (!*dev) {
    GST_DEBUG_OBJECT (element, "using device %s from a context", d->name);
    *dev = d;
    d = NULL;
  }
  GST_OBJECT_UNLOCK (element);
  if (d)
    vtp_device_unref (d);
}

/* Asks the peers on @direction for a vtp context. */
static gboolean
query_peers (GstElement *element, GstPadDirection direction, VtpDevice **dev)
{
  GstQuery *q = gst_query_new_context (GST_VTP_DEVICE_CONTEXT_TYPE);
  GstIterator *it = direction == GST_PAD_SRC ? gst_element_iterate_src_pads (element)
      : gst_element_iterate_sink_pads (element);
  GValue item = G_VALUE_INIT;
  gboolean found = FALSE;

  while (!found && gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstPad *pad = g_value_get_object (&item);
    if (gst_pad_peer_query (pad, q)) {
      GstContext *c = NULL;
      gst_query_parse_context (q, &c);
      if (c) {
        gst_vtp_handle_set_context (element, c, dev);
        found = *dev != NULL;
      }
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  gst_query_unref (q);
  return found;
}

gboolean
gst_vtp_ensure_device (GstElement *element, const char *spec, VtpDevice **dev, GError **error)
{
  GstMessage *msg;

  init_debug ();
  if (*dev && vtp_device_is_lost (*dev)) {
    GST_INFO_OBJECT (element, "leaving lost device %s behind", (*dev)->name);
    g_clear_pointer (dev, vtp_device_unref);
  }
  if (*dev)
    return TRUE;
  if (spec && *spec)
    return (*dev = vtp_device_get (spec, error)) != NULL;
  if (query_peers (element, GST_PAD_SRC, dev) || query_peers (element, GST_PAD_SINK, dev))
    return TRUE;
  /* the application may answer synchronously with gst_element_set_context */
  msg = gst_message_new_need_context (GST_OBJECT (element), GST_VTP_DEVICE_CONTEXT_TYPE);
  gst_element_post_message (element, msg);
  if (*dev)
    return TRUE;
  if (!(*dev = vtp_device_get (NULL, error)))
    return FALSE;
  GST_INFO_OBJECT (element, "using device %s", (*dev)->name);
  msg = gst_message_new_have_context (GST_OBJECT (element), gst_vtp_context_new (*dev));
  gst_element_post_message (element, msg);
  return TRUE;
}
