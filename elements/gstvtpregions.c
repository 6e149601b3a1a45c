/**
 * SECTION:element-vtpregions
 * @title: vtpregions
 *
 * Marks fixed regions of every frame as regions of interest
 * (GstVideoRegionOfInterestMeta), for vtpencoder roi=true to describe: the
 * zones of a fixed camera (a door, a parking space, a till), or a stand-in
 * for a detector while a pipeline is put together. Each region may have a
 * type (the ROI meta's roi_type) and its own prompt (a "vtp-prompt"
 * parameter, field "prompt"). Regions are numbered from 0 in the order
 * given (the ROI meta's id). The frames (raw video, or JPEG from an MJPEG
 * camera) are not touched otherwise.
 *
 * #GstVtpRegions:regions is a list separated by ';' of
 * `x,y,width,height[:type[:prompt]]` (pixels; the prompt runs to the end of
 * the entry and may hold ':' but not ';').
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 v4l2src ! videoconvert ! \
 *   vtpregions regions="0,0,320,480:door:Is the door open?;320,0,320,480:desk" ! tee name=t \
 *   t. ! queue ! vtpattach name=a ! fakesink \
 *   t. ! vtpencoder model=llava-1.5-7b-hf roi=true ! vtpprojector model=llava-1.5-7b-hf ! \
 *   vtpllm model=llava-1.5-7b-hf timestamps=frame ! a.text_sink
 * ]|
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include <gst/video/video.h>
#include "gstvtpregions.h"
#include "gstvtpmeta.h"

GST_DEBUG_CATEGORY_STATIC (gst_vtp_regions_debug);
#define GST_CAT_DEFAULT gst_vtp_regions_debug

enum {
  PROP_0,
  PROP_REGIONS,
};

typedef struct {
  guint rect[4];                /* x, y, width, height */
  GQuark type;
  char *prompt;
} Zone;

struct _GstVtpRegions {
  GstBaseTransform parent;

  /* object lock */
  char *regions;                /* the property as set */
  GArray *zones;                /* Zone: the regions parsed, when they parse */
  char *error;                  /* else why they do not */
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink", GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw(ANY); image/jpeg"));
static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src", GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("video/x-raw(ANY); image/jpeg"));

#define gst_vtp_regions_parent_class parent_class
G_DEFINE_TYPE (GstVtpRegions, gst_vtp_regions, GST_TYPE_BASE_TRANSFORM);
GST_ELEMENT_REGISTER_DEFINE (vtpregions, "vtpregions", GST_RANK_NONE, GST_TYPE_VTP_REGIONS);

static void
zone_clear (Zone *z)
{
  g_clear_pointer (&z->prompt, g_free);
}

static GArray *
zones_new (void)
{
  GArray *a = g_array_new (FALSE, TRUE, sizeof (Zone));
  g_array_set_clear_func (a, (GDestroyNotify) zone_clear);
  return a;
}

/* "x,y,width,height[:type[:prompt]];..." into @zones; FALSE with why not. */
static gboolean
parse_regions (const char *s, GArray *zones, char **why)
{
  g_auto (GStrv) entries = g_strsplit (s ? s : "", ";", -1);

  for (guint i = 0; entries[i]; i++) {
    char *entry = g_strstrip (entries[i]);
    g_auto (GStrv) parts = NULL, numbers = NULL;
    Zone z = { 0 };
    guint n;

    if (!*entry)
      continue;
    parts = g_strsplit (entry, ":", 3);
    numbers = g_strsplit (parts[0], ",", -1);
    if (g_strv_length (numbers) != 4) {
      *why = g_strdup_printf ("\"%s\" does not start with x,y,width,height", entry);
      return FALSE;
    }
    for (n = 0; n < 4; n++) {
      guint64 v;
      if (!g_ascii_string_to_unsigned (g_strstrip (numbers[n]), 10, 0, G_MAXINT, &v, NULL)) {
        *why = g_strdup_printf ("in \"%s\", \"%s\" is not a number of pixels", entry, numbers[n]);
        return FALSE;
      }
      z.rect[n] = (guint) v;
    }
    if (parts[1] && *g_strstrip (parts[1]))
      z.type = g_quark_from_string (parts[1]);
    if (parts[1] && parts[2] && *g_strstrip (parts[2]))
      z.prompt = g_strdup (parts[2]);
    g_array_append_val (zones, z);
  }
  return TRUE;
}

/* The regions, or an element error saying why they cannot be had. */
static GArray *
get_zones (GstVtpRegions *self)
{
  GArray *zones = NULL;
  g_autofree char *error = NULL;

  GST_OBJECT_LOCK (self);
  if (self->error)
    error = g_strdup (self->error);
  else
    zones = g_array_ref (self->zones);
  GST_OBJECT_UNLOCK (self);
  if (error)
    GST_ELEMENT_ERROR (self, LIBRARY, SETTINGS, ("The regions property cannot be read: %s. Each region is "
            "x,y,width,height in pixels, optionally followed by :type and :prompt; regions are separated by ';'",
            error), (NULL));
  return zones;
}

static gboolean
gst_vtp_regions_start (GstBaseTransform *trans)
{
  GArray *zones = get_zones (GST_VTP_REGIONS (trans));
  if (!zones)
    return FALSE;
  g_array_unref (zones);
  return TRUE;
}

static GstFlowReturn
gst_vtp_regions_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstVtpRegions *self = GST_VTP_REGIONS (trans);
  GArray *zones = get_zones (self);

  if (!zones)
    return GST_FLOW_ERROR;
  for (guint i = 0; i < zones->len; i++) {
    const Zone *z = &g_array_index (zones, Zone, i);
    GstVideoRegionOfInterestMeta *m = gst_buffer_add_video_region_of_interest_meta_id (buf, z->type, z->rect[0],
        z->rect[1], z->rect[2], z->rect[3]);
    m->id = (gint) i;
    if (z->prompt)
      gst_video_region_of_interest_meta_add_param (m, gst_structure_new (GST_VTP_PROMPT_PARAM, "prompt",
              G_TYPE_STRING, z->prompt, NULL));
  }
  g_array_unref (zones);
  return GST_FLOW_OK;
}

static void
gst_vtp_regions_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  GstVtpRegions *self = GST_VTP_REGIONS (object);

  switch (prop_id) {
    case PROP_REGIONS: {
      GArray *zones = zones_new ();
      char *why = NULL;
      const char *s = g_value_get_string (value);
      gboolean ok = parse_regions (s, zones, &why);
      GST_OBJECT_LOCK (self);
      g_free (self->regions);
      self->regions = g_strdup (s);
      g_clear_pointer (&self->error, g_free);
      g_array_unref (self->zones);
      self->zones = zones;
      if (!ok) {
        self->error = why;
        g_array_set_size (self->zones, 0);
      }
      GST_OBJECT_UNLOCK (self);
      if (!ok)
        GST_WARNING_OBJECT (self, "regions \"%s\": %s", s, why);
      break;
    }
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_vtp_regions_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  GstVtpRegions *self = GST_VTP_REGIONS (object);

  switch (prop_id) {
    case PROP_REGIONS:
      GST_OBJECT_LOCK (self);
      g_value_set_string (value, self->regions);
      GST_OBJECT_UNLOCK (self);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
}

static void
gst_vtp_regions_finalize (GObject *object)
{
  GstVtpRegions *self = GST_VTP_REGIONS (object);

  g_free (self->regions);
  g_free (self->error);
  g_array_unref (self->zones);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_vtp_regions_class_init (GstVtpRegionsClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);

  gobject_class->set_property = gst_vtp_regions_set_property;
  gobject_class->get_property = gst_vtp_regions_get_property;
  gobject_class->finalize = gst_vtp_regions_finalize;

  /**
   * GstVtpRegions:regions:
   *
   * The regions put on every frame, separated by ';': each
   * `x,y,width,height` in pixels, optionally followed by `:type` (the ROI
   * meta's roi_type) and `:prompt` (the region's own prompt, a "vtp-prompt"
   * parameter). Example: "0,0,320,480:door:Is the door open?;320,0,320,480:desk".
   * A list that does not read stops the pipeline with an error saying why.
   */
  g_object_class_install_property (gobject_class, PROP_REGIONS,
      g_param_spec_string ("regions", "Regions", "Regions of interest put on every frame: "
          "x,y,width,height[:type[:prompt]] separated by ';'", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  gst_element_class_set_static_metadata (element_class, "VTP fixed regions", "Filter/Video/Metadata",
      "Marks fixed regions of every frame as regions of interest (with a type and a prompt each) for vtpencoder "
      "roi=true", "Visual Text Pioneer developers");
  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);

  trans_class->start = gst_vtp_regions_start;
  trans_class->transform_ip = gst_vtp_regions_transform_ip;
  trans_class->passthrough_on_same_caps = FALSE;
  trans_class->transform_ip_on_passthrough = FALSE;

  GST_DEBUG_CATEGORY_INIT (gst_vtp_regions_debug, "vtpregions", 0, "VTP fixed regions of interest");
}

static void
gst_vtp_regions_init (GstVtpRegions *self)
{
  self->zones = zones_new ();
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
