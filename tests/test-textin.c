/* test-textin.c: vtpllm with text prompts (text/x-raw, format=utf8) and no
 * picture, through GstHarness and gst_parse_launch, on
 * tests/fixtures/adapter-tiny: a PEFT adaption prompt's answer against the
 * greedy tokens peft itself generated for the same text-only prompt
 * (tools/make_adapter_fixtures.py), a LLaMA-Adapter V1's against the
 * reference's, the prompt's time on the answer, and the warnings and
 * errors of empty prompts, prompts longer than the context, an <image>
 * template and a V2 multimodal adapter; vtp-run's text graph. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include "test-gst-util.h"
#include "element-test-util.h"
#include "vtp-prompt.h"
#include "vtp-tokenizer.h"

#define TEXT_CAPS "text/x-raw,format=utf8"

/* The integer array @key of adapter-tiny's reference.json decoded as a
 * pipeline prints it, with the tokenizer of @model. */
static char *
reference_answer (const char *model, const char *key)
{
  g_autofree char *dir = fixture_path ("adapter-tiny");
  g_autofree char *path = g_build_filename (dir, "reference.json", NULL);
  g_autofree char *tok_path = g_build_filename (dir, model, "tokenizer.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  VtpTokenizer *tok;
  JsonArray *a;
  char *text;

  g_assert_true (json_parser_load_from_file (p, path, &error));
  a = json_object_get_array_member (json_node_get_object (json_parser_get_root (p)), key);
  g_assert_nonnull (a);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 id = json_array_get_int_element (a, i);
    g_array_append_val (ids, id);
  }
  tok = vtp_tokenizer_new_from_file (tok_path, &error);
  g_assert_no_error (error);
  text = vtp_prompt_decode_answer (tok, (const gint32 *) ids->data, ids->len, &error);
  g_assert_no_error (error);
  vtp_tokenizer_free (tok);
  return text;
}

/* vtpllm on adapter-tiny/@model with adapter-tiny/@adapter (or none) and
 * @context positions (0: the model's), its messages on a bus of its own. */
static GstHarness *
text_harness_full (const char *model, const char *adapter, guint context)
{
  g_autofree char *sub = g_strconcat ("adapter-tiny/", model, NULL);
  g_autofree char *dir = fixture_path (sub);
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  GstBus *bus = gst_bus_new ();
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", dir, "max-new-tokens", 20, "context-length", context, NULL);
  if (adapter) {
    g_autofree char *asub = g_strconcat ("adapter-tiny/", adapter, NULL);
    g_autofree char *adir = fixture_path (asub);
    g_object_set (e, "adapter", adir, NULL);
  }
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_element_set_bus (h->element, bus);
  gst_object_unref (bus);
  return h;
}

static GstHarness *
text_harness (const char *model, const char *adapter)
{
  return text_harness_full (model, adapter, 0);
}

static GstBuffer *
text_buffer (const char *text, GstClockTime pts, GstClockTime duration)
{
  GstBuffer *buf = *text ? gst_buffer_new_memdup (text, strlen (text)) : gst_buffer_new ();
  GST_BUFFER_PTS (buf) = pts;
  GST_BUFFER_DURATION (buf) = duration;
  return buf;
}

/* The first message of @type on @h's bus: its error or warning text. */
static char *
bus_text (GstHarness *h, GstMessageType type)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *m = gst_bus_pop_filtered (bus, type);
  GError *e = NULL;
  char *text = NULL;

  if (m) {
    if (type == GST_MESSAGE_ERROR)
      gst_message_parse_error (m, &e, NULL);
    else
      gst_message_parse_warning (m, &e, NULL);
    text = g_strdup (e->message);
    g_error_free (e);
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return text;
}

/* The "vtp-text" message's structure (a copy) on @h's bus, or NULL. */
static GstStructure *
bus_vtp_text (GstHarness *h)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *m;
  GstStructure *s = NULL;

  while (!s && (m = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT))) {
    if (gst_message_has_name (m, "vtp-text"))
      s = gst_structure_copy (gst_message_get_structure (m));
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return s;
}

static void
assert_contains (const char *msg, const char *const *needles)
{
  g_assert_nonnull (msg);
  g_test_message ("%s", msg);
  for (guint i = 0; needles[i]; i++)
    if (!strstr (msg, needles[i]))
      g_error ("\"%s\" does not name \"%s\"", msg, needles[i]);
}

/* A PEFT adaption prompt on its base, the raw prompt (no template: the
 * model has no chat template): peft's own greedy answer, stamped with the
 * prompt's time and pushed at once, one per buffer. */
static void
test_peft (void)
{
  g_autofree char *want = reference_answer ("peft-base", "greedy_peft");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  g_autofree char *with_newline = g_strconcat (instruction, "\n", NULL);
  GstHarness *h = text_harness ("peft-base", "peft");

  gst_harness_set_src_caps_str (h, TEXT_CAPS);
  for (guint i = 0; i < 2; i++) {
    /* a file's last newline is not part of the prompt */
    GstClockTime pts = (3 + 4 * i) * GST_SECOND;
    GstBuffer *out = gst_harness_push_and_pull (h, text_buffer (i ? with_newline : instruction, pts, 2 * GST_SECOND));
    g_autofree char *got = NULL;
    GstStructure *s;

    g_assert_nonnull (out);
    got = buffer_text (out);
    g_test_message ("answer: \"%s\"", got);
    g_assert_cmpstr (got, ==, want);
    g_assert_cmpuint (GST_BUFFER_PTS (out), ==, pts);
    g_assert_cmpuint (GST_BUFFER_DURATION (out), ==, 2 * GST_SECOND);
    g_assert_false (GST_BUFFER_FLAG_IS_SET (out, GST_BUFFER_FLAG_DELTA_UNIT));
    gst_buffer_unref (out);
    g_assert_cmpuint (gst_harness_buffers_in_queue (h), ==, 0);
    s = bus_vtp_text (h);
    g_assert_nonnull (s);
    g_assert_cmpstr (gst_structure_get_string (s, "prompt"), ==, instruction);
    g_assert_cmpstr (gst_structure_get_string (s, "text"), ==, want);
    gst_structure_free (s);
  }
  g_assert_null (bus_text (h, GST_MESSAGE_WARNING));
  gst_harness_teardown (h);
}

/* A LLaMA-Adapter V1: the reference's prompt without a template, then the
 * Alpaca form by default (a different input, so another answer). */
static void
test_v1 (void)
{
  g_autofree char *want = reference_answer ("llama", "greedy_v1");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  g_autofree char *prompt = g_strconcat ("hello world, ", instruction, NULL);
  GstHarness *h = text_harness ("llama", "v1");
  GstBuffer *out;
  g_autofree char *got = NULL, *alpaca = NULL;

  g_object_set (h->element, "template", "{prompt}", NULL);
  gst_harness_set_src_caps_str (h, TEXT_CAPS);
  out = gst_harness_push_and_pull (h, text_buffer (prompt, 0, GST_SECOND));
  got = buffer_text (out);
  g_assert_cmpstr (got, ==, want);
  gst_buffer_unref (out);

  g_object_set (h->element, "template", NULL, NULL);
  out = gst_harness_push_and_pull (h, text_buffer (prompt, GST_SECOND, GST_SECOND));
  alpaca = buffer_text (out);
  g_test_message ("Alpaca form: \"%s\"", alpaca);
  g_assert_cmpstr (alpaca, !=, want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* An empty or blank prompt: a warning that says so and an empty answer at
 * the prompt's time; the next prompt is answered as usual. */
static void
test_empty (void)
{
  g_autofree char *want = reference_answer ("peft-base", "greedy_peft");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  const char *blanks[] = { "", " \n\t" };
  GstHarness *h = text_harness ("peft-base", "peft");
  GstBuffer *out;
  g_autofree char *got = NULL;

  gst_harness_set_src_caps_str (h, TEXT_CAPS);
  for (guint i = 0; i < G_N_ELEMENTS (blanks); i++) {
    g_autofree char *msg = NULL;
    out = gst_harness_push_and_pull (h, text_buffer (blanks[i], i * GST_SECOND, GST_SECOND));
    g_assert_nonnull (out);
    g_assert_cmpuint (gst_buffer_get_size (out), ==, 0);
    g_assert_cmpuint (GST_BUFFER_PTS (out), ==, i * GST_SECOND);
    gst_buffer_unref (out);
    msg = bus_text (h, GST_MESSAGE_WARNING);
    assert_contains (msg, (const char *[]) { "empty text prompt", "answer is empty", NULL });
  }
  g_assert_null (bus_text (h, GST_MESSAGE_ERROR));
  out = gst_harness_push_and_pull (h, text_buffer (instruction, 5 * GST_SECOND, GST_SECOND));
  got = buffer_text (out);
  g_assert_cmpstr (got, ==, want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* A prompt longer than the context: an error with both numbers and the
 * property to raise. */
static void
test_too_long (void)
{
  GstHarness *h = text_harness_full ("peft-base", "peft", 16);
  GString *prompt = g_string_new (NULL);
  g_autofree char *msg = NULL;

  for (guint i = 0; i < 20; i++)
    g_string_append (prompt, "What is in the picture? ");
  gst_harness_set_src_caps_str (h, TEXT_CAPS);
  g_assert_cmpint (gst_harness_push (h, text_buffer (prompt->str, 0, GST_SECOND)), ==, GST_FLOW_ERROR);
  msg = bus_text (h, GST_MESSAGE_ERROR);
  assert_contains (msg, (const char *[]) { "tokens long", "context holds 16 positions", "context-length", NULL });
  g_string_free (prompt, TRUE);
  gst_harness_teardown (h);
}

/* Text caps that do not fit the settings: a template with <image>, a V2
 * multimodal adapter (it needs vtpadapter's prompts). */
static void
test_refused (void)
{
  struct {
    const char *model, *adapter, *template, *needles[3];
  } cases[] = {
    { "peft-base", "peft", "USER: <image>\n{prompt} ASSISTANT:", { "has an <image> marker", "no picture", NULL } },
    { "llama", "v2", NULL, { "LLaMA-Adapter V2 multimodal", "text-only adapter", NULL } },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GstHarness *h = text_harness (cases[i].model, cases[i].adapter);
    g_autofree char *msg = NULL;

    if (cases[i].template)
      g_object_set (h->element, "template", cases[i].template, NULL);
    gst_harness_set_src_caps_str (h, TEXT_CAPS);
    g_assert_cmpint (gst_harness_push (h, text_buffer ("Hello", 0, GST_SECOND)), ==, GST_FLOW_NOT_NEGOTIATED);
    msg = bus_text (h, GST_MESSAGE_ERROR);
    assert_contains (msg, cases[i].needles);
    gst_harness_teardown (h);
  }
}

/* Runs @launch (with an appsink named sink) to EOS; the concatenated text
 * it got, or NULL with the first error's text in *error_text. */
static char *
run_launch (const char *launch, char **error_text)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch (launch, &error);
  GstElement *sink;
  GstBus *bus;
  GstMessage *m;
  GString *all = g_string_new (NULL);
  GstSample *sample;

  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    g_autofree char *t = buffer_text (gst_sample_get_buffer (sample));
    g_string_append (all, t);
    gst_sample_unref (sample);
  }
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_ERROR | GST_MESSAGE_EOS);
  g_assert_nonnull (m);
  *error_text = NULL;
  if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_ERROR) {
    GError *e = NULL;
    gst_message_parse_error (m, &e, NULL);
    *error_text = g_strdup (e->message);
    g_error_free (e);
  }
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  if (*error_text) {
    g_string_free (all, TRUE);
    return NULL;
  }
  return g_string_free (all, FALSE);
}

/* The launch line of docs/elements.md: a text file through filesrc and a
 * caps filter; without the filter, an error that names it. */
static void
test_launch (void)
{
  g_autofree char *want = reference_answer ("peft-base", "greedy_peft");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  g_autofree char *base = fixture_path ("adapter-tiny/peft-base");
  g_autofree char *peft = fixture_path ("adapter-tiny/peft");
  g_autofree char *tmp = g_dir_make_tmp ("vtp-textin-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (tmp, "question.txt", NULL);
  g_autofree char *with_newline = g_strconcat (instruction, "\n", NULL);
  g_autofree char *launch = NULL, *bare = NULL, *got = NULL, *err = NULL, *want_line = NULL;

  g_assert_true (g_file_set_contents (file, with_newline, -1, NULL));
  launch = g_strdup_printf ("filesrc location=\"%s\" ! " TEXT_CAPS " ! vtpllm model=\"%s\" adapter=\"%s\" "
      "max-new-tokens=20 newline=true ! appsink name=sink sync=false", file, base, peft);
  got = run_launch (launch, &err);
  g_assert_null (err);
  want_line = g_strconcat (want, "\n", NULL);
  g_assert_cmpstr (got, ==, want_line);

  bare = g_strdup_printf ("filesrc location=\"%s\" ! vtpllm model=\"%s\" ! appsink name=sink sync=false", file,
      base);
  g_assert_null (run_launch (bare, &err));
  assert_contains (err, (const char *[]) { "before its caps", "text/x-raw,format=utf8", NULL });
  g_unlink (file);
  g_rmdir (tmp);
}

/* An OPT language model alone (tests/fixtures/opt-tiny-proj: byte-level
 * BPE, </s> as BOS, project_in / project_out), prompted with text: the
 * answer is transformers' greedy text for the same prompt
 * (tools/make_opt_fixtures.py), invalid bytes shown as U+FFFD as its
 * tokenizer decodes them. */
static void
test_opt (void)
{
  g_autofree char *want = reference_string ("opt-tiny-proj", "greedy_text");
  g_autofree char *prompt = reference_string ("opt-tiny-proj", "prompt");
  g_autofree char *dir = fixture_path ("opt-tiny-proj");
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  GstHarness *h;
  GstBuffer *out;
  g_autofree char *got = NULL;

  /* the raw prompt after BOS, as the fixture's generate call had it */
  g_object_set (e, "model", dir, "max-new-tokens", 20, "template", "{prompt}", NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, TEXT_CAPS);
  out = gst_harness_push_and_pull (h, text_buffer (prompt, 0, GST_SECOND));
  g_assert_nonnull (out);
  got = buffer_text (out);
  g_assert_cmpstr (got, ==, want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* vtp-run with its text graph (graphs/text.json): --prompt alone and a .txt
 * file of prompts give peft's answer; a graph that describes pictures
 * refuses text inputs, and the text graph pictures, each naming what it takes. */
static void
test_vtp_run (void)
{
  g_autofree char *want = reference_answer ("peft-base", "greedy_peft");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  g_autofree char *base = fixture_path ("adapter-tiny/peft-base");
  g_autofree char *peft = fixture_path ("adapter-tiny/peft");
  g_autofree char *graph = g_build_filename (VTP_SOURCE_DIR, "graphs", "text.json", NULL);
  g_autofree char *tmp = g_dir_make_tmp ("vtp-textin-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (tmp, "questions.txt", NULL);
  g_autofree char *lines = g_strdup_printf ("%s\n\n  %s\n", instruction, instruction);
  g_autofree char *set_model = g_strdup_printf ("model=%s", base), *set_adapter = g_strdup_printf ("adapter=%s", peft);
  g_autofree char *out = NULL, *err = NULL, *want_line = g_strconcat (want, "\n", NULL);
  g_auto (GStrv) json_lines = NULL;
  gint status;

  {
    const char *argv[] = { VTP_RUN_PATH, graph, "--set", set_model, "--set", set_adapter, "--set",
      "max-new-tokens=20", "-q", "--prompt", instruction, NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
    g_assert_cmpstr (out, ==, want_line);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  g_assert_true (g_file_set_contents (file, lines, -1, NULL));
  {
    const char *argv[] = { VTP_RUN_PATH, graph, "--set", set_model, "--set", set_adapter, "--set",
      "max-new-tokens=20", "-q", "-f", "json", "--input", file, NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    g_assert_true (g_spawn_check_wait_status (status, NULL));
  }
  json_lines = g_strsplit (g_strstrip (out), "\n", -1);
  g_assert_cmpuint (g_strv_length (json_lines), ==, 2);     /* the blank line is no prompt */
  for (guint i = 0; i < 2; i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    JsonObject *o;
    g_assert_true (json_parser_load_from_data (p, json_lines[i], -1, NULL));
    o = json_node_get_object (json_parser_get_root (p));
    g_assert_cmpstr (json_object_get_string_member (o, "text"), ==, want);
    g_assert_cmpstr (json_object_get_string_member (o, "source"), ==, instruction);
    g_assert_cmpfloat (json_object_get_double_member (o, "pts"), ==, (double) i);
    g_assert_cmpfloat (json_object_get_double_member (o, "latency_ms"), >, 0.0);
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    /* a picture graph given a prompt and no picture */
    g_autofree char *llava = g_build_filename (VTP_SOURCE_DIR, "graphs", "llava-1.5.json", NULL);
    g_autofree char *tiny = fixture_path ("llava-tiny-a");
    g_autofree char *set_llava = g_strdup_printf ("model=%s", tiny);
    const char *argv[] = { VTP_RUN_PATH, llava, "--set", set_llava, "-q", "--prompt", "What is it?", NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
    assert_contains (err, (const char *[]) { "encoder does not take text", "give it an image", NULL });
  }
  g_clear_pointer (&out, g_free);
  g_clear_pointer (&err, g_free);
  {
    /* the text graph given a picture */
    g_autofree char *picture = g_build_filename (VTP_SOURCE_DIR, "world-models", "samples", "test-00001.png", NULL);
    const char *argv[] = { VTP_RUN_PATH, graph, "--set", set_model, "-q", "--input", picture, NULL };
    g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, 0, NULL, NULL, &out, &err, &status, NULL));
    g_assert_false (g_spawn_check_wait_status (status, NULL));
    assert_contains (err, (const char *[]) { "does not take video but text", "--prompt", NULL });
  }
  g_unlink (file);
  g_rmdir (tmp);
}

/* The chat forms vtp knows, for a text prompt: the same turns without the
 * <image> and its newline. */
static void
test_template_without_image (void)
{
  const char *cases[][2] = {
    { "USER:  ASSISTANT:", "USER: {prompt} ASSISTANT:" },
    { "<|im_start|>", "<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n" },
    { "[INST]", "[INST] {prompt} [/INST]" },
    { "<start_of_turn>", "<start_of_turn>user\n{prompt}<end_of_turn>\n<start_of_turn>model\n" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *t = vtp_prompt_template_without_image (vtp_prompt_template_for_chat (cases[i][0], NULL));
    g_assert_cmpstr (t, ==, cases[i][1]);
  }
  {
    g_autofree char *plain = vtp_prompt_template_without_image (VTP_ALPACA_TEMPLATE);
    g_autofree char *none = vtp_prompt_template_without_image (NULL);
    g_assert_cmpstr (plain, ==, VTP_ALPACA_TEMPLATE);
    g_assert_null (none);
  }
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/textin/template-without-image", test_template_without_image);
  g_test_add_func ("/textin/peft", test_peft);
  g_test_add_func ("/textin/v1", test_v1);
  g_test_add_func ("/textin/empty", test_empty);
  g_test_add_func ("/textin/too-long", test_too_long);
  g_test_add_func ("/textin/refused", test_refused);
  g_test_add_func ("/textin/launch", test_launch);
  g_test_add_func ("/textin/vtp-run", test_vtp_run);
  g_test_add_func ("/textin/opt", test_opt);
  return g_test_run ();
}
