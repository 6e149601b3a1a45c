/* test-gst-util.h: test helpers that need GStreamer: decoding an image file
 * to tightly packed RGB with the same decoders a pipeline uses, finding
 * fixtures and the built plugin, an element's failed start. Header-only. */
#pragma once
#include <gst/gst.h>
#include <gst/app/gstappsink.h>
#include <gst/video/video.h>
#include <string.h>
#include <json-glib/json-glib.h>
#include "fixture-path.h"
#include "rgb-sample.h"

/* String @key of fixture @fixture's reference.json. */
static G_GNUC_UNUSED char *
reference_string (const char *fixture, const char *key)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *path = g_build_filename (dir, "reference.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (p, path, &error));
  return g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (p)), key));
}

/* Decodes @path (PNG, JPEG...) to RGB rows of width * 3 bytes. */
static G_GNUC_UNUSED guint8 *
load_rgb (const char *path, gint *width, gint *height)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch ("filesrc name=src ! decodebin ! videoconvert ! "
      "video/x-raw,format=RGB ! appsink name=sink sync=false", &error);
  GstElement *src, *sink;
  GstSample *sample;
  guint8 *rgb;

  g_assert_no_error (error);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  g_object_set (src, "location", path, NULL);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  rgb = rgb_from_sample (sample, width, height);
  gst_sample_unref (sample);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return rgb;
}

/* @e (set up, taken over) fails to start, posting an error that names
 * @needle: the error's message. */
static G_GNUC_UNUSED char *
expect_element_start_error (GstElement *e, const char *needle)
{
  GstBus *bus = gst_bus_new ();
  GstMessage *m;
  GError *err = NULL;
  GstStateChangeReturn ret;
  char *msg;

  gst_element_set_bus (e, bus);
  ret = gst_element_set_state (e, GST_STATE_PAUSED);
  g_assert_cmpint (ret, ==, GST_STATE_CHANGE_FAILURE);
  m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  gst_message_parse_error (m, &err, NULL);
  g_test_message ("%s: %s", GST_OBJECT_NAME (e), err->message);
  g_assert_nonnull (strstr (err->message, needle));
  msg = g_strdup (err->message);
  g_error_free (err);
  gst_message_unref (m);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
  return msg;
}
