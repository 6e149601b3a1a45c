#include "gstvtpmeta.h"

GType
gst_vtp_prompt_meta_api_get_type (void)
{
  static GType type = 0;
  static const gchar *tags[] = { NULL };

  /* looked up first: a program that links the elements statically and also
   * loads the plugin has two copies of this code, sharing one type */
  if (g_once_init_enter (&type)) {
    GType t = g_type_from_name ("GstVtpPromptMetaAPI");
    if (!t)
      t = gst_meta_api_type_register ("GstVtpPromptMetaAPI", tags);
    g_once_init_leave (&type, t);
  }
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

  if (g_once_init_enter ((GstMetaInfo **) &info)) {
    const GstMetaInfo *i = gst_meta_get_info ("GstVtpPromptMeta");
    if (!i)
      i = gst_meta_register (GST_VTP_PROMPT_META_API_TYPE, "GstVtpPromptMeta", sizeof (GstVtpPromptMeta),
          prompt_meta_init, prompt_meta_free, prompt_meta_transform);
    g_once_init_leave ((GstMetaInfo **) &info, (GstMetaInfo *) i);
  }
  return info;
}

GstVtpPromptMeta *
gst_buffer_add_vtp_prompt_meta (GstBuffer *buffer, const char *prompt)
{
  GstVtpPromptMeta *m = (GstVtpPromptMeta *) gst_buffer_add_meta (buffer, gst_vtp_prompt_meta_get_info (), NULL);
  m->prompt = g_strdup (prompt);
  return m;
}
