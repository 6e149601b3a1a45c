/* gstvtpcommon.h: what every vtp element shares: the weight-type property
 * enum, answering context queries, and turning a GError into an element
 * error with a human sentence. */
#pragma once
#include <gst/gst.h>
#include "vtp-checkpoint.h"

G_BEGIN_DECLS

#define GST_TYPE_VTP_WEIGHT_TYPE (gst_vtp_weight_type_get_type ())
GType gst_vtp_weight_type_get_type (void);

/* The properties every vtp element has: which model, on which device, with
 * weights of which type. */
typedef struct {
  char *model;
  char *device;
  VtpWeightType weight_type;
} GstVtpModelSettings;

enum {
  GST_VTP_PROP_MODEL = 1,
  GST_VTP_PROP_DEVICE,
  GST_VTP_PROP_WEIGHT_TYPE,
  GST_VTP_N_COMMON_PROPS,       /* an element's own properties start here */
};

/* Installs "model", "device" and "weight-type"; @model_blurb says what
 * the model directory must hold. */
void gst_vtp_install_common_properties (GObjectClass *klass, const char *model_blurb);
/* For set_property / get_property, under the object lock: TRUE when
 * @prop_id is one of the common properties (and it was handled). */
gboolean gst_vtp_model_settings_set (GstVtpModelSettings *s, guint prop_id, const GValue *value);
gboolean gst_vtp_model_settings_get (const GstVtpModelSettings *s, guint prop_id, GValue *value);
void gst_vtp_model_settings_clear (GstVtpModelSettings *s);

/* What start() does first: copies @s (taking the object lock) into
 * @copy, opens the device (*dev) and the checkpoint (*ckpt). Posts an
 * element error and returns FALSE when one of them cannot be had. */
gboolean gst_vtp_open_model (GstElement *element, const GstVtpModelSettings *s, GstVtpModelSettings *copy,
    VtpDevice **dev, VtpCheckpoint **ckpt);

/* A new tensor buffer [rows, cols] on @dev carrying @inbuf's timestamps,
 * for a transform's prepare_output_buffer; posts an element error when the
 * device has no room. */
GstFlowReturn gst_vtp_prepare_tensor_output (GstElement *element, VtpDevice *dev, gint rows, gint cols,
    GstBuffer *inbuf, GstBuffer **outbuf);

/* Answers a context query for the vtp device when @dev is set. */
gboolean gst_vtp_handle_context_query (GstElement *element, GstQuery *query, VtpDevice *dev);

/* @caps (taken) narrowed to @filter when there is one, for transform_caps. */
GstCaps *gst_vtp_caps_filter (GstCaps *caps, GstCaps *filter);

/* Whether the pipeline upstream of @sinkpad is live (a latency query). */
gboolean gst_vtp_upstream_is_live (GstPad *sinkpad);

/* Posts @error as an element error: the message is the human sentence,
 * the debug string says where it came from. */
#define GST_VTP_ELEMENT_ERROR(el, domain, code, error, what)                   \
  GST_ELEMENT_ERROR ((el), domain, code, ("%s", (error)->message),            \
      ("%s", (what)))

G_END_DECLS
