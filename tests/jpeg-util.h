/* jpeg-util.h: JPEG frames made and decoded by GStreamer's own elements
 * (jpegenc, jpegdec ! videoconvert), the reference vtp's JPEG path is
 * compared with. Header-only. */
#pragma once
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/video/video.h>
#include <string.h>
#include "rgb-sample.h"

/* One videotestsrc frame of @pattern at @width x @height, JPEG-encoded. */
static G_GNUC_UNUSED GBytes *
make_jpeg (const char *pattern, gint width, gint height)
{
  g_autofree char *desc = g_strdup_printf ("videotestsrc num-buffers=1 pattern=%s ! video/x-raw,width=%d,height=%d ! "
      "jpegenc quality=90 ! appsink name=sink", pattern, width, height);
  GstElement *pipe = gst_parse_launch (desc, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstSample *sample;
  GstMapInfo map;
  GBytes *bytes;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert (sample);
  gst_buffer_map (gst_sample_get_buffer (sample), &map, GST_MAP_READ);
  bytes = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (gst_sample_get_buffer (sample), &map);
  gst_sample_unref (sample);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return bytes;
}

/* jpegdec ! videoconvert to packed RGB, as a pipeline without vtp's JPEG
 * path decodes a frame: @n times over (for timing), the last frame's
 * pixels (rows of width * 3) returned. */
static G_GNUC_UNUSED guint8 *
gst_decode_jpeg (GBytes *jpeg, guint n, gint *width, gint *height)
{
  GstElement *pipe = gst_parse_launch ("appsrc name=src caps=image/jpeg,framerate=30/1 format=time ! jpegdec ! "
      "videoconvert ! video/x-raw,format=RGB ! appsink name=sink sync=false", NULL);
  GstElement *src = gst_bin_get_by_name (GST_BIN (pipe), "src"), *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  guint8 *rgb = NULL;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  for (guint i = 0; i < n; i++) {
    GstBuffer *buf = gst_buffer_new_wrapped_bytes (jpeg);
    GstSample *sample;
    GST_BUFFER_PTS (buf) = i * GST_SECOND / 30;
    gst_app_src_push_buffer (GST_APP_SRC (src), buf);
    sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
    g_assert (sample);
    if (i + 1 == n)
      rgb = rgb_from_sample (sample, width, height);
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return rgb;
}
