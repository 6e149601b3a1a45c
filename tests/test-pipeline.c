/* test-pipeline.c: whole pipelines from an image file to text, as a user
 * writes them: the text must be transformers' greedy answer for the same
 * image and prompt (tools/make_llava_fixtures.py). Also: a pipeline whose
 * encoder and projector do not fit fails with both widths named. */
#include "test-gst-util.h"
#include <glib/gstdio.h>
#include <unistd.h>

static void
link_decoded (GstElement *dec, GstPad *pad, GstElement *conv)
{
  GstPad *sink = gst_element_get_static_pad (conv, "sink");
  if (!gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  gst_object_unref (sink);
}

/* What each element of a describing pipeline loads. */
typedef struct {
  const char *image, *encoder, *bridge, *llm;
  const char *bridge_factory;   /* vtpprojector, vtpqformer, vtpadapter */
  const char *adapter;          /* vtpllm's adapter, or NULL */
  const char *prompt;           /* vtpqformer's prompt; NULL: the BLIP fixtures' instruction */
} Parts;

/* filesrc ! decodebin ! videoconvert ! vtpencoder ! BRIDGE ! vtpllm ! appsink,
 * built element by element so that paths need no quoting. */
static GstElement *
parts_pipeline (const Parts *p, GstElement **sink)
{
  const gboolean blip = !strcmp (p->bridge_factory, "vtpqformer");
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  GstElement *dec = gst_element_factory_make ("decodebin", NULL);
  GstElement *conv = gst_element_factory_make ("videoconvert", NULL);
  GstElement *enc = gst_element_factory_make ("vtpencoder", NULL);
  GstElement *proj = gst_element_factory_make (p->bridge_factory, NULL);
  GstElement *llm = gst_element_factory_make ("vtpllm", NULL);

  *sink = gst_element_factory_make ("appsink", NULL);
  g_assert_true (src && dec && conv && enc && proj && llm && *sink);
  g_object_set (src, "location", p->image, NULL);
  g_object_set (enc, "model", p->encoder, NULL);
  g_object_set (proj, "model", p->bridge, NULL);
  if (blip)
    g_object_set (proj, "prompt", p->prompt ? p->prompt : "What is unusual about this image?", NULL);
  g_object_set (llm, "model", p->llm, "adapter", p->adapter, "max-new-tokens", 20, "prompt",
      "What is in the picture?", NULL);
  g_object_set (*sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, dec, conv, enc, proj, llm, *sink, NULL);
  g_assert_true (gst_element_link (src, dec));
  g_assert_true (gst_element_link_many (conv, enc, proj, llm, *sink, NULL));
  g_signal_connect (dec, "pad-added", G_CALLBACK (link_decoded), conv);
  return pipe;
}

/* One checkpoint for every part; the bridge is vtpqformer for BLIP ones. */
static GstElement *
describe_pipeline (const char *image, const char *encoder_model, const char *model, GstElement **sink)
{
  const Parts p = { image, encoder_model, model, model, strstr (model, "blip") ? "vtpqformer" : "vtpprojector",
    NULL };
  return parts_pipeline (&p, sink);
}

/* Plays @pipe and returns the text of its first buffer (NUL-ended copy,
 * *len its length); the caps of that buffer in *caps_name. */
static char *
first_text (GstElement *pipe, GstElement *sink, const char *what, gsize *len, char **caps_name)
{
  GstSample *sample;
  GstMapInfo map;
  GstBuffer *buf;
  char *text;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  sample = gst_app_sink_pull_sample (GST_APP_SINK (sink));
  g_assert_nonnull (sample);
  buf = gst_sample_get_buffer (sample);
  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_test_message ("%s: \"%.*s\"", what, (int) map.size, map.data);
  text = g_strndup ((const char *) map.data, map.size);
  *len = map.size;
  gst_buffer_unmap (buf, &map);
  *caps_name = g_strdup (gst_structure_get_name (gst_caps_get_structure (gst_sample_get_caps (sample), 0)));
  gst_sample_unref (sample);
  return text;
}

static void
stop_pipeline (GstElement *pipe)
{
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (pipe);
}

/* The first text buffer of @pipe must be @want; then EOS. */
static void
assert_describes (GstElement *pipe, GstElement *sink, const char *want, const char *what)
{
  g_autofree char *caps = NULL;
  gsize len;
  g_autofree char *text = first_text (pipe, sink, what, &len, &caps);
  GstMessage *m;

  g_assert_cmpmem (text, len, want, strlen (want));
  g_assert_cmpstr (caps, ==, "text/x-raw");
  /* one image, one description, then EOS */
  m = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  stop_pipeline (pipe);
}

/* @pipe must fail with an error whose message holds each of @needles. */
static void
assert_fails_naming (GstElement *pipe, const char *const *needles)
{
  GstMessage *m;
  GError *err = NULL;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  m = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), 30 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_ERROR);
  gst_message_parse_error (m, &err, NULL);
  g_test_message ("%s", err->message);
  for (guint i = 0; needles[i]; i++)
    if (!strstr (err->message, needles[i]))
      g_error ("the error \"%s\" does not name \"%s\"", err->message, needles[i]);
  g_error_free (err);
  gst_message_unref (m);
  stop_pipeline (pipe);
}

static void
test_image_to_text (gconstpointer data)
{
  g_autofree char *dir = fixture_path (data);
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *want = reference_string (data, "greedy_text");
  GstElement *sink, *pipe = describe_pipeline (image, dir, dir, &sink);

  assert_describes (pipe, sink, want, data);
}

/* BLIP-2 / InstructBLIP + Flan-T5 from the PNG, the checkpoint's own
 * Unigram tokenizer.json: transformers' greedy text. */
static void
test_image_to_text_t5 (gconstpointer data)
{
  g_autofree char *dir = fixture_path (data);
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *want = reference_string (data, "greedy_text");
  g_autofree char *prompt = reference_string (data, "instruction");
  const Parts p = { image, dir, dir, dir, "vtpqformer", NULL, prompt };
  GstElement *sink, *pipe = parts_pipeline (&p, &sink);

  assert_describes (pipe, sink, want, data);
}

/* llama.cpp's LLaVA pair: model= the directory holding the text GGUF and the
 * mmproj one, for all three elements. transformers' text up to the first
 * padding row of the vocabulary (which the GGUF names and prints, as
 * llama.cpp does; the HF tokenizer has no text for it). */
static void
test_gguf_pair (void)
{
  g_autofree char *dir = fixture_path ("gguf-llava");
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *want = reference_string ("gguf-llava", "greedy_text_before_padding");
  GstElement *sink, *pipe = describe_pipeline (image, dir, dir, &sink);
  g_autofree char *caps = NULL;
  gsize len;
  g_autofree char *text = first_text (pipe, sink, "gguf-llava", &len, &caps);

  g_assert_cmpuint (len, >, strlen (want));
  g_assert_cmpmem (text, strlen (want), want, strlen (want));
  stop_pipeline (pipe);
}

/* LLaMA-Adapter V2 multimodal as the issue writes it: OpenAI CLIP encoder,
 * vtpadapter, vtpllm on the base with adapter=; the base in Meta (@data
 * "llama") or HF layout ("llama-hf") gives the same answer. */
static void
test_image_to_text_adapter (gconstpointer data)
{
  g_autofree char *dir = fixture_path ("adapter-tiny");
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *clip = g_build_filename (dir, "clip", NULL), *v2 = g_build_filename (dir, "v2", NULL);
  g_autofree char *base = g_build_filename (dir, data, NULL);
  g_autofree char *want = reference_string ("adapter-tiny", "greedy_text_v2_tokenizers");
  const Parts p = { image, clip, v2, base, "vtpadapter", v2 };
  GstElement *sink, *pipe = parts_pipeline (&p, &sink);

  assert_describes (pipe, sink, want, data);
}

/* Adapter pipelines whose parts do not fit fail at negotiation, saying why. */
static void
test_adapter_mismatch (void)
{
  g_autofree char *dir = fixture_path ("adapter-tiny");
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  g_autofree char *clip = g_build_filename (dir, "clip", NULL), *v2 = g_build_filename (dir, "v2", NULL);
  g_autofree char *base = g_build_filename (dir, "llama", NULL), *v1 = g_build_filename (dir, "v1", NULL);
  g_autofree char *llava = fixture_path ("llava-tiny-a");
  GstElement *sink;
  {
    /* vtpllm without the adapter */
    const Parts p = { image, clip, v2, base, "vtpadapter", NULL };
    assert_fails_naming (parts_pipeline (&p, &sink), (const char *[]) { "adapter property", NULL });
  }
  {
    /* another adapter in vtpllm */
    const Parts p = { image, clip, v2, base, "vtpadapter", v1 };
    assert_fails_naming (parts_pipeline (&p, &sink), (const char *[]) { "text-only adapter", NULL });
  }
  {
    /* an encoder the adapter was not trained with */
    const Parts p = { image, llava, v2, base, "vtpadapter", v2 };
    assert_fails_naming (parts_pipeline (&p, &sink), (const char *[]) { "clip_dim", "24-wide", NULL });
  }
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

  /* tiny-b's encoder concatenates two 40-wide layers; tiny-a's projector takes 32 */
  assert_fails_naming (pipe, (const char *[]) { "80-wide", "32-wide", NULL });
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
  g_test_add_data_func ("/pipeline/image-to-text-blip2-t5", "blip2-t5-tiny", test_image_to_text_t5);
  g_test_add_data_func ("/pipeline/image-to-text-instructblip-t5", "instructblip-t5-tiny", test_image_to_text_t5);
  g_test_add_data_func ("/pipeline/image-to-text-llama-adapter", "llama", test_image_to_text_adapter);
  g_test_add_data_func ("/pipeline/image-to-text-llama-adapter-hf-base", "llama-hf", test_image_to_text_adapter);
  g_test_add_func ("/pipeline/gguf-llava-pair", test_gguf_pair);
  g_test_add_func ("/pipeline/adapter-mismatch", test_adapter_mismatch);
  g_test_add_func ("/pipeline/concurrent", test_concurrent_pipelines);
  g_test_add_func ("/pipeline/mismatched-parts", test_mismatched_parts);
  return g_test_run ();
}
