/* test-pipeline.c: whole pipelines from an image file to text, as a user
 * writes them: the text must be transformers' greedy answer for the same
 * image and prompt (tools/make_llava_fixtures.py). Also: a pipeline whose
 * encoder and projector do not fit fails with both widths named. */
#include "test-gst-util.h"
#include <json-glib/json-glib.h>

static char *
reference_string (const char *dir, const char *key)
{
  g_autofree char *path = g_build_filename (dir, "reference.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_file (p, path, &error));
  return g_strdup (json_object_get_string_member (json_node_get_object (json_parser_get_root (p)), key));
}

static void
link_decoded (GstElement *dec, GstPad *pad, GstElement *conv)
{
  GstPad *sink = gst_element_get_static_pad (conv, "sink");
  if (!gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  gst_object_unref (sink);
}

/* filesrc ! decodebin ! videoconvert ! vtpencoder ! BRIDGE ! vtpllm ! appsink,
 * built element by element so that paths need no quoting; the bridge is
 * vtpqformer for BLIP checkpoints (with the prompt), else vtpprojector. */
static GstElement *
describe_pipeline (const char *image, const char *encoder_model, const char *model, GstElement **sink)
{
  const gboolean blip = strstr (model, "blip") != NULL;
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  GstElement *dec = gst_element_factory_make ("decodebin", NULL);
  GstElement *conv = gst_element_factory_make ("videoconvert", NULL);
  GstElement *enc = gst_element_factory_make ("vtpencoder", NULL);
  GstElement *proj = gst_element_factory_make (blip ? "vtpqformer" : "vtpprojector", NULL);
  GstElement *llm = gst_element_factory_make ("vtpllm", NULL);

  *sink = gst_element_factory_make ("appsink", NULL);
  g_assert_true (src && dec && conv && enc && proj && llm && *sink);
  g_object_set (src, "location", image, NULL);
  g_object_set (enc, "model", encoder_model, NULL);
  g_object_set (proj, "model", model, NULL);
  if (blip)
    g_object_set (proj, "prompt", "What is unusual about this image?", NULL);
  g_object_set (llm, "model", model, "max-new-tokens", 20, "prompt", "What is in the picture?", NULL);
  g_object_set (*sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, dec, conv, enc, proj, llm, *sink, NULL);
  g_assert_true (gst_element_link (src, dec));
  g_assert_true (gst_element_link_many (conv, enc, proj, llm, *sink, NULL));
  g_signal_connect (dec, "pad-added", G_CALLBACK (link_decoded), conv);
  return pipe;
}

static void
test_image_to_text (gconstpointer data)
{
  g_autofree char *dir = fixture_path (data);
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *want = reference_string (dir, "greedy_text");
  GstElement *sink, *pipe = describe_pipeline (image, dir, dir, &sink);
  GstSample *sample;
  GstMapInfo map;
  GstBuffer *buf;
  GstMessage *m;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  buf = gst_sample_get_buffer (sample);
  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_test_message ("%s: \"%.*s\"", (const char *) data, (int) map.size, map.data);
  g_assert_cmpmem (map.data, map.size, want, strlen (want));
  gst_buffer_unmap (buf, &map);
  g_assert_true (gst_structure_has_name (gst_caps_get_structure (gst_sample_get_caps (sample), 0), "text/x-raw"));
  gst_sample_unref (sample);
  /* one image, one description, then EOS */
  m = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}

static gpointer
describe_in_thread (gpointer data)
{
  test_image_to_text (data);
  return NULL;
}

/* Two pipelines on one model at once: one copy of the weights, one device
 * queue, two threads; both must still give the reference text. */
static void
test_concurrent_pipelines (void)
{
  GThread *a = g_thread_new ("a", describe_in_thread, (gpointer) "llava-tiny-a");
  GThread *b = g_thread_new ("b", describe_in_thread, (gpointer) "llava-tiny-a");
  g_thread_join (a);
  g_thread_join (b);
}

static void
test_mismatched_parts (void)
{
  g_autofree char *a = fixture_path ("llava-tiny-a"), *b = fixture_path ("llava-tiny-b");
  g_autofree char *image = g_build_filename (a, "image.png", NULL);
  GstElement *sink, *pipe = describe_pipeline (image, b, a, &sink);
  GstMessage *m;
  GError *err = NULL;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (m, &err, NULL);
  g_test_message ("%s", err->message);
  /* tiny-b's encoder concatenates two 40-wide layers; tiny-a's projector takes 32 */
  g_assert_nonnull (strstr (err->message, "80-wide"));
  g_assert_nonnull (strstr (err->message, "32-wide"));
  g_error_free (err);
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/pipeline/image-to-text-a", "llava-tiny-a", test_image_to_text);
  g_test_add_data_func ("/pipeline/image-to-text-b", "llava-tiny-b", test_image_to_text);
  g_test_add_data_func ("/pipeline/image-to-text-instructblip", "instructblip-tiny", test_image_to_text);
  g_test_add_data_func ("/pipeline/image-to-text-blip2", "blip2-tiny", test_image_to_text);
  g_test_add_func ("/pipeline/concurrent", test_concurrent_pipelines);
  g_test_add_func ("/pipeline/mismatched-parts", test_mismatched_parts);
  return g_test_run ();
}
