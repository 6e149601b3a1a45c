/* gstvtpmqttsink.h: vtpmqttsink, each description published as JSON to an
 * MQTT broker (libmosquitto). Built when meson finds libmosquitto
 * (-Dmqtt=auto, the default; Debian's libmosquitto-dev). */
#pragma once
#include <gst/gst.h>
#include <gst/base/gstbasesink.h>

G_BEGIN_DECLS

#define GST_TYPE_VTP_MQTT_SINK (gst_vtp_mqtt_sink_get_type ())
G_DECLARE_FINAL_TYPE (GstVtpMqttSink, gst_vtp_mqtt_sink, GST, VTP_MQTT_SINK, GstBaseSink)

GST_ELEMENT_REGISTER_DECLARE (vtpmqttsink);

G_END_DECLS
