/* plugin.c: the "vtp" GStreamer plugin: vision-language model elements. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/gst.h>
#include "gstvtpencoder.h"
#include "gstvtpprojector.h"
#include "gstvtpqformer.h"
#include "gstvtpadapter.h"
#include "gstvtpllm.h"
#include "gstvtpsrtenc.h"
#include "gstvtpattach.h"
#include "gstvtpregions.h"
#include "gstvtpmeta.h"
#if VTP_HAVE_MQTT
#include "gstvtpmqttsink.h"
#endif

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ok = FALSE;
  ok |= GST_ELEMENT_REGISTER (vtpencoder, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpprojector, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpqformer, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpadapter, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpllm, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpsrtenc, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpattach, plugin);
  ok |= GST_ELEMENT_REGISTER (vtpregions, plugin);
#if VTP_HAVE_MQTT
  ok |= GST_ELEMENT_REGISTER (vtpmqttsink, plugin);
#endif
  /* the description meta, for applications that read it before any element is made */
  gst_vtp_description_meta_get_info ();
  return ok;
}

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vtp,
    "Vision-language models (image encoders, bridges, language models) on OpenCL",
    plugin_init, VERSION, GST_LICENSE, GST_PACKAGE_NAME, GST_PACKAGE_ORIGIN)
