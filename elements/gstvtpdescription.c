/* gstvtpdescription.c: vtpllm's descriptions as structures (see
 * gstvtpdescription.h). */
#include "gstvtpdescription.h"
#include "gstvtpmeta.h"

GST_DEBUG_CATEGORY_STATIC (description_debug);
#define GST_CAT_DEFAULT description_debug

static gboolean
copy_field (GQuark field, const GValue *value, gpointer dest)
{
  gst_structure_id_set_value (dest, field, value);
  return TRUE;
}

GstStructure *
gst_vtp_description_new (GstBuffer *frame, const char *text, const char *prompt, guint tokens,
    double prefill_ms, double tokens_per_second)
{
  const GstVtpFrameMeta *fm = gst_buffer_get_vtp_frame_meta (frame);
  const GstVtpRegionMeta *rm = gst_buffer_get_vtp_region_meta (frame);
  GstStructure *s = gst_structure_new (GST_VTP_DESCRIPTION_META_NAME, "text", G_TYPE_STRING, text,
      "prompt", G_TYPE_STRING, prompt, "pts", G_TYPE_UINT64, GST_BUFFER_PTS (frame),
      "duration", G_TYPE_UINT64, GST_BUFFER_DURATION (frame), "tokens", G_TYPE_UINT, tokens,
      "prefill-ms", G_TYPE_DOUBLE, prefill_ms, "decode-tokens-per-second", G_TYPE_DOUBLE, tokens_per_second, NULL);

  /* from the frame's arrival at vtpencoder to the text */
  if (fm)
    gst_structure_set (s, "latency-ms", G_TYPE_DOUBLE, (g_get_monotonic_time () - fm->arrival_us) / 1000.0,
        "frames-received", G_TYPE_UINT64, fm->frames_received,
        "frames-dropped", G_TYPE_UINT64, fm->frames_dropped, NULL);
  if (rm && rm->region)
    gst_structure_foreach (rm->region, copy_field, s);
  return s;
}

struct _GstVtpRegionGroup {
  GPtrArray *regions;           /* GstStructure: the descriptions of the frame's regions so far */
  GstClockTime pts;             /* of their frame */
};

GstVtpRegionGroup *
gst_vtp_region_group_new (void)
{
  GstVtpRegionGroup *g = g_new0 (GstVtpRegionGroup, 1);

  GST_DEBUG_CATEGORY_INIT (description_debug, "vtpdescription", 0, "VTP descriptions of frames and regions");
  g->regions = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  g->pts = GST_CLOCK_TIME_NONE;
  return g;
}

void
gst_vtp_region_group_free (GstVtpRegionGroup *g)
{
  if (!g)
    return;
  g_ptr_array_unref (g->regions);
  g_free (g);
}

void
gst_vtp_region_group_reset (GstVtpRegionGroup *g)
{
  g_ptr_array_set_size (g->regions, 0);
  g->pts = GST_CLOCK_TIME_NONE;
}

/* The frame's description from its regions'. */
static GstStructure *
frame_description (GstVtpRegionGroup *g)
{
  const GstStructure *last = g_ptr_array_index (g->regions, g->regions->len - 1);
  GstStructure *s = gst_structure_new_empty (GST_VTP_DESCRIPTION_META_NAME);
  GString *text = g_string_new (NULL);
  GValue array = G_VALUE_INIT;
  const char *const copied[] = { "pts", "duration", "latency-ms", "frames-received", "frames-dropped" };
  guint tokens = 0;

  gst_value_array_init (&array, g->regions->len);
  for (guint i = 0; i < g->regions->len; i++) {
    const GstStructure *r = g_ptr_array_index (g->regions, i);
    const char *type = gst_structure_get_string (r, "roi-type");
    guint n = 0;
    GValue v = G_VALUE_INIT;

    g_string_append_printf (text, "%s%s%s%s", i ? "\n" : "", type ? type : "", type ? ": " : "",
        gst_structure_get_string (r, "text"));
    if (gst_structure_get_uint (r, "tokens", &n))
      tokens += n;
    g_value_init (&v, GST_TYPE_STRUCTURE);
    gst_value_set_structure (&v, r);
    gst_value_array_append_and_take_value (&array, &v);
  }
  gst_structure_set (s, "text", G_TYPE_STRING, text->str, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (copied); i++)
    if (gst_structure_has_field (last, copied[i]))
      gst_structure_set_value (s, copied[i], gst_structure_get_value (last, copied[i]));
  gst_structure_set (s, "tokens", G_TYPE_UINT, tokens, NULL);
  gst_structure_take_value (s, "regions", &array);
  g_string_free (text, TRUE);
  return s;
}

GstStructure *
gst_vtp_region_group_add (GstVtpRegionGroup *g, GstBuffer *frame, GstStructure *description)
{
  const GstVtpRegionMeta *rm = gst_buffer_get_vtp_region_meta (frame);
  GstStructure *s;

  if (!rm) {
    gst_vtp_region_group_reset (g);
    return description;
  }
  /* a frame's regions come in order; what is left of another frame was cut short (a flush) */
  if (g->regions->len && GST_BUFFER_PTS (frame) != g->pts) {
    GST_DEBUG ("dropping %u region descriptions of the frame at %" GST_TIME_FORMAT, g->regions->len,
        GST_TIME_ARGS (g->pts));
    gst_vtp_region_group_reset (g);
  }
  g->pts = GST_BUFFER_PTS (frame);
  g_ptr_array_add (g->regions, description);
  if (rm->index + 1 < rm->count)
    return NULL;
  s = frame_description (g);
  gst_vtp_region_group_reset (g);
  return s;
}
