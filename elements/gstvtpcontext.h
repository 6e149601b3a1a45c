/* gstvtpcontext.h: one compute device per process, shared by the vtp
 * elements of a pipeline through GstContext (type "vtp.device"), the way
 * GstGL shares its display: an application may set its own. */
#pragma once
#include <gst/gst.h>
#include "vtp-device.h"

G_BEGIN_DECLS

#define GST_VTP_DEVICE_CONTEXT_TYPE "vtp.device"

GstContext *gst_vtp_context_new (VtpDevice *dev);
/* The device a context carries (a new reference), or NULL. */
VtpDevice *gst_vtp_context_get_device (GstContext *context);

/* For an element's set_context: takes the device of a vtp context into
 * *dev unless one is set already. */
void gst_vtp_handle_set_context (GstElement *element, GstContext *context, VtpDevice **dev);

/* Makes sure *dev is set: an explicit @spec (the element's "device"
 * property) wins; else a device shared by neighbours or the application;
 * else the default one, which is then announced to the others. */
gboolean gst_vtp_ensure_device (GstElement *element, const char *spec, VtpDevice **dev, GError **error);

G_END_DECLS
