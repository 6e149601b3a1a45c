#include "gstvtpmeta.h"

/* Registered types are looked up first: a program that links the elements
 * statically and also loads the plugin has two copies of this code, which
 * must share one type. */
static GType
api_type (const char *name)
{
  static const gchar *tags[] = { NULL };
  GType t = g_type_from_name (name);
  return t ? t : gst_meta_api_type_register (name, tags);
}

static const GstMetaInfo *
meta_info (GType api, const char *name, gsize size, GstMetaInitFunction init, GstMetaFreeFunction free_func,
    GstMetaTransformFunction transform)
{
  const GstMetaInfo *i = gst_meta_get_info (name);
  return i ? i : gst_meta_register (api, name, size, init, free_func, transform);
}

GType
gst_vtp_prompt_meta_api_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, api_type ("GstVtpPromptMetaAPI"));
  return type;
}

static gboolean
prompt_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  ((GstVtpPromptMeta *) meta)->prompt = NULL;
  return TRUE;
}

static void
prompt_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  g_clear_pointer (&((GstVtpPromptMeta *) meta)->prompt, g_free);
}

static gboolean
prompt_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type, gpointer data)
{
  gst_buffer_add_vtp_prompt_meta (dest, ((GstVtpPromptMeta *) meta)->prompt);
  return TRUE;
}

const GstMetaInfo *
gst_vtp_prompt_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info))
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) meta_info (GST_VTP_PROMPT_META_API_TYPE,
            "GstVtpPromptMeta", sizeof (GstVtpPromptMeta), prompt_meta_init, prompt_meta_free,
            prompt_meta_transform));
  return info;
}

GstVtpPromptMeta *
gst_buffer_add_vtp_prompt_meta (GstBuffer *buffer, const char *prompt)
{
  GstVtpPromptMeta *m = (GstVtpPromptMeta *) gst_buffer_add_meta (buffer, gst_vtp_prompt_meta_get_info (), NULL);
  m->prompt = g_strdup (prompt);
  return m;
}

GType
gst_vtp_frame_meta_api_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, api_type ("GstVtpFrameMetaAPI"));
  return type;
}

static gboolean
frame_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstVtpFrameMeta *m = (GstVtpFrameMeta *) meta;
  m->arrival_us = 0;
  m->frames_received = m->frames_dropped = 0;
  return TRUE;
}

static gboolean
frame_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type, gpointer data)
{
  const GstVtpFrameMeta *m = (const GstVtpFrameMeta *) meta;
  gst_buffer_add_vtp_frame_meta (dest, m->arrival_us, m->frames_received, m->frames_dropped);
  return TRUE;
}

const GstMetaInfo *
gst_vtp_frame_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info))
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) meta_info (GST_VTP_FRAME_META_API_TYPE,
            "GstVtpFrameMeta", sizeof (GstVtpFrameMeta), frame_meta_init, NULL, frame_meta_transform));
  return info;
}

GstVtpFrameMeta *
gst_buffer_add_vtp_frame_meta (GstBuffer *buffer, gint64 arrival_us, guint64 frames_received,
    guint64 frames_dropped)
{
  GstVtpFrameMeta *m = (GstVtpFrameMeta *) gst_buffer_add_meta (buffer, gst_vtp_frame_meta_get_info (), NULL);
  m->arrival_us = arrival_us;
  m->frames_received = frames_received;
  m->frames_dropped = frames_dropped;
  return m;
}

GType
gst_vtp_region_meta_api_get_type (void)
{
  static GType type = 0;
  if (g_once_init_enter (&type))
    g_once_init_leave (&type, api_type ("GstVtpRegionMetaAPI"));
  return type;
}

static gboolean
region_meta_init (GstMeta *meta, gpointer params, GstBuffer *buffer)
{
  GstVtpRegionMeta *m = (GstVtpRegionMeta *) meta;
  m->index = m->count = 0;
  m->region = NULL;
  return TRUE;
}

static void
region_meta_free (GstMeta *meta, GstBuffer *buffer)
{
  g_clear_pointer (&((GstVtpRegionMeta *) meta)->region, gst_structure_free);
}

static gboolean
region_meta_transform (GstBuffer *dest, GstMeta *meta, GstBuffer *buffer, GQuark type, gpointer data)
{
  const GstVtpRegionMeta *m = (const GstVtpRegionMeta *) meta;
  gst_buffer_add_vtp_region_meta (dest, m->index, m->count, m->region ? gst_structure_copy (m->region) : NULL);
  return TRUE;
}

const GstMetaInfo *
gst_vtp_region_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info))
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) meta_info (GST_VTP_REGION_META_API_TYPE,
            "GstVtpRegionMeta", sizeof (GstVtpRegionMeta), region_meta_init, region_meta_free,
            region_meta_transform));
  return info;
}

GstVtpRegionMeta *
gst_buffer_add_vtp_region_meta (GstBuffer *buffer, guint index, guint count, GstStructure *region)
{
  GstVtpRegionMeta *m = (GstVtpRegionMeta *) gst_buffer_add_meta (buffer, gst_vtp_region_meta_get_info (), NULL);
  m->index = index;
  m->count = count;
  m->region = region;
  return m;
}

static gboolean
copy_field (GQuark field, const GValue *value, gpointer dest)
{
  gst_structure_id_set_value (dest, field, value);
  return TRUE;
}

/* Any transform keeps the description: it says what the frame shows,
 * whatever its size or format. */
static gboolean
description_transform (GstBuffer *dest, GstCustomMeta *meta, GstBuffer *buffer, GQuark type, gpointer data,
    gpointer user_data)
{
  gst_buffer_set_vtp_description (dest, gst_custom_meta_get_structure (meta));
  return TRUE;
}

const GstMetaInfo *
gst_vtp_description_meta_get_info (void)
{
  static const GstMetaInfo *info = NULL;

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const gchar *tags[] = { NULL };
    const GstMetaInfo *i = gst_meta_get_info (GST_VTP_DESCRIPTION_META_NAME);
    if (!i)
      i = gst_meta_register_custom (GST_VTP_DESCRIPTION_META_NAME, tags, description_transform, NULL, NULL);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

GstCustomMeta *
gst_buffer_set_vtp_description (GstBuffer *buffer, const GstStructure *description)
{
  GstCustomMeta *m;

  gst_vtp_description_meta_get_info ();
  while ((m = gst_buffer_get_custom_meta (buffer, GST_VTP_DESCRIPTION_META_NAME)))
    gst_buffer_remove_meta (buffer, (GstMeta *) m);
  m = gst_buffer_add_custom_meta (buffer, GST_VTP_DESCRIPTION_META_NAME);
  if (m && description)
    gst_structure_foreach (description, copy_field, gst_custom_meta_get_structure (m));
  return m;
}

const GstStructure *
gst_buffer_get_vtp_description (GstBuffer *buffer)
{
  GstCustomMeta *m;

  gst_vtp_description_meta_get_info ();
  m = gst_buffer_get_custom_meta (buffer, GST_VTP_DESCRIPTION_META_NAME);
  return m ? gst_custom_meta_get_structure (m) : NULL;
}
