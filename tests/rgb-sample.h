/* rgb-sample.h: the pixels of an RGB video sample as tightly packed rows
 * (width * 3 bytes), whatever the stride GStreamer gave. Header-only. */
#pragma once
#include <gst/gst.h>
#include <gst/video/video.h>
#include <string.h>

static G_GNUC_UNUSED guint8 *
rgb_from_sample (GstSample *sample, gint *width, gint *height)
{
  GstVideoInfo info;
  GstVideoFrame frame;
  guint8 *rgb;

  g_assert_true (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
  g_assert_true (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ));
  *width = GST_VIDEO_INFO_WIDTH (&info);
  *height = GST_VIDEO_INFO_HEIGHT (&info);
  rgb = g_malloc ((gsize) *width * *height * 3);
  for (gint y = 0; y < *height; y++)
    memcpy (rgb + (gsize) y * *width * 3, (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0)
        + (gsize) y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0), (gsize) *width * 3);
  gst_video_frame_unmap (&frame);
  return rgb;
}
