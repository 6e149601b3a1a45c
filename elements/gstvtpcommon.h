/* gstvtpcommon.h: what every vtp element shares: the weight-type property
 * enum, answering context queries, and turning a GError into an element
 * error with a human sentence. */
#pragma once
#include <gst/gst.h>
#include "vtp-checkpoint.h"

G_BEGIN_DECLS

#define GST_TYPE_VTP_WEIGHT_TYPE (gst_vtp_weight_type_get_type ())
GType gst_vtp_weight_type_get_type (void);

/* Answers a context query for the vtp device when @dev is set. */
gboolean gst_vtp_handle_context_query (GstElement *element, GstQuery *query, VtpDevice *dev);

/* Posts @error as an element error: the message is the human sentence,
 * the debug string says where it came from. */
#define GST_VTP_ELEMENT_ERROR(el, domain, code, error, what)                   \
  GST_ELEMENT_ERROR ((el), domain, code, ("%s", (error)->message),            \
      ("%s", (what)))

G_END_DECLS
