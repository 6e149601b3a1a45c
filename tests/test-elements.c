/* test-elements.c: vtpencoder, vtpprojector and vtpllm through GstHarness,
 * on the tiny LLaVA fixtures: each element's output against transformers'
 * recorded tensors and text, caps checks that name both numbers, and clear
 * errors for missing or broken model files. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <glib/gstdio.h>
#include <unistd.h>
#include <math.h>
#include "test-gst-util.h"
#include "element-test-util.h"
#include "gstvtpmeta.h"
#include "gstvtptensor.h"
#include "vtp-safetensors.h"
#include "vtp-parts.h"
#include "vtp-prompt.h"

/* @element on fixture @fixture; with @adapter (vtpllm), that adapter too:
 * both are read when the harness starts the element. */
static GstHarness *
harness_with_adapter (const char *element, const char *fixture, const char *adapter)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *adapter_dir = adapter ? fixture_path (adapter) : NULL;
  GstElement *e = gst_element_factory_make (element, NULL);
  GstHarness *h;

  g_assert_nonnull (e);
  g_object_set (e, "model", dir, NULL);
  if (adapter)
    g_object_set (e, "adapter", adapter_dir, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  return h;
}

/* @buf holds exactly the text @want. */
static void
assert_buffer_text (GstBuffer *buf, const char *want)
{
  GstMapInfo map;

  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_assert_cmpmem (map.data, map.size, want, strlen (want));
  gst_buffer_unmap (buf, &map);
}

static GstHarness *
harness_with_model (const char *element, const char *fixture)
{
  return harness_with_adapter (element, fixture, NULL);
}

static void
test_encoder (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  const VtpStTensor *img = vtp_safetensors_find (ref, "image");
  const gint w = img->shape[1], hh = img->shape[0];
  GstHarness *h = harness_with_model ("vtpencoder", "llava-tiny-a");
  g_autofree char *caps = g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,framerate=0/1", w, hh);
  g_autofree char *caps4 = g_strdup_printf ("video/x-raw,format=BGRx,width=%d,height=%d,framerate=0/1", w, hh);
  GstVideoInfo info;
  GstBuffer *in, *out;
  GstVideoFrame frame;
  GstCaps *outcaps;
  gint tokens, width;

  /* RGB, with the row stride GStreamer gives odd widths */
  gst_harness_set_src_caps_str (h, caps);
  gst_video_info_from_caps (&info, gst_caps_from_string (caps));
  in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE);
  for (gint y = 0; y < hh; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
        img->data + (gsize) y * w * 3, w * 3);
  gst_video_frame_unmap (&frame);
  GST_BUFFER_PTS (in) = 42 * GST_SECOND;
  out = gst_harness_push_and_pull (h, in);
  g_assert_nonnull (out);
  g_assert_cmpuint (GST_BUFFER_PTS (out), ==, 42 * GST_SECOND);
  g_assert_nonnull (gst_vtp_buffer_peek_tensor (out));
  outcaps = gst_pad_get_current_caps (h->sinkpad);
  g_assert_true (gst_vtp_tensor_caps_parse (outcaps, GST_VTP_KIND_VISION_FEATURES, &tokens, &width));
  g_assert_cmpint (tokens, ==, 25);
  g_assert_cmpint (width, ==, 32);
  gst_caps_unref (outcaps);
  g_assert_cmpfloat (max_error (out, vtp_safetensors_find (ref, "vision_features")), <=, 1e-4);
  gst_buffer_unref (out);

  /* the same frame as BGRx */
  gst_harness_set_src_caps_str (h, caps4);
  gst_video_info_from_caps (&info, gst_caps_from_string (caps4));
  in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (&info), NULL);
  gst_video_frame_map (&frame, &info, in, GST_MAP_WRITE);
  for (gint y = 0; y < hh; y++)
    for (gint x = 0; x < w; x++) {
      guint8 *p = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0) + x * 4;
      const guint8 *s = img->data + ((gsize) y * w + x) * 3;
      p[0] = s[2];
      p[1] = s[1];
      p[2] = s[0];
      p[3] = 0;
    }
  gst_video_frame_unmap (&frame);
  out = gst_harness_push_and_pull (h, in);
  g_assert_cmpfloat (max_error (out, vtp_safetensors_find (ref, "vision_features")), <=, 1e-4);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

static void
test_projector (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-b");
  const VtpStTensor *feats = vtp_safetensors_find (ref, "vision_features");
  GstHarness *h = harness_with_model ("vtpprojector", "llava-tiny-b");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=vision-features,tokens=%d,width=%d",
      (gint) feats->shape[0], (gint) feats->shape[1]);
  GstBuffer *out;

  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (feats));
  g_assert_cmpfloat (max_error (out, vtp_safetensors_find (ref, "projector_output")), <=, 1e-4);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

static void
copy_file (const char *from, const char *to, gssize truncate_to)
{
  g_autofree char *data = NULL;
  gsize len;
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_get_contents (from, &data, &len, &error));
  g_assert_true (g_file_set_contents (to, data, truncate_to >= 0 ? (gsize) truncate_to : len, &error));
}

/* A copy of fixture @fixture in a new directory, without its references. */
static char *
fixture_copy (const char *fixture)
{
  g_autofree char *src = fixture_path (fixture);
  char *tmp = g_dir_make_tmp ("vtp-model-copy-XXXXXX", NULL);
  g_autoptr (GDir) d = g_dir_open (src, 0, NULL);
  const char *n;

  while ((n = g_dir_read_name (d))) {
    g_autofree char *a = g_build_filename (src, n, NULL), *b = g_build_filename (tmp, n, NULL);
    if (!g_str_has_prefix (n, "reference") && !g_str_has_suffix (n, ".png"))
      copy_file (a, b, -1);
  }
  return tmp;
}

/* Tensor @name of @dir's model.safetensors (F32) filled with NaN. */
static void
fill_nan (const char *dir, const char *name)
{
  g_autofree char *st_path = g_build_filename (dir, "model.safetensors", NULL);
  g_autoptr (VtpSafetensors) st = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *bytes = NULL;
  const VtpStTensor *t;
  gsize len, at;

  st = vtp_safetensors_open (st_path, &error);
  g_assert_no_error (error);
  t = vtp_safetensors_find (st, name);
  g_assert_true (t && t->dtype == VTP_DTYPE_F32);
  at = t->data - (const guint8 *) g_mapped_file_get_contents (st->map);
  g_assert_true (g_file_get_contents (st_path, (char **) &bytes, &len, NULL));
  for (gsize i = 0; i < t->n_bytes / 4; i++) {
    const float v = NAN;
    memcpy (bytes + at + 4 * i, &v, 4);
  }
  g_assert_true (g_file_set_contents (st_path, (const char *) bytes, len, NULL));
}

static void
remove_dir (const char *dir)
{
  GDir *d = g_dir_open (dir, 0, NULL);
  const char *n;
  while ((n = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (dir, n, NULL);
    g_unlink (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

/* act(@v) as transformers computes projector_hidden_act @act. */
static double
activation (const char *act, double v)
{
  if (!strcmp (act, "silu"))
    return v / (1 + exp (-v));
  if (!strcmp (act, "relu"))
    return v < 0 ? 0 : v;
  g_assert_cmpstr (act, ==, "gelu_pytorch_tanh");
  return 0.5 * v * (1 + tanh (sqrt (2 / G_PI) * (v + 0.044715 * v * v * v)));
}

/* @w [n, k] @x [k] + @b, through @act when not NULL. */
static double *
affine (const VtpStTensor *w, const VtpStTensor *b, const double *x, const char *act)
{
  const gint64 n = w->shape[0], k = w->shape[1];
  const float *wf = (const float *) w->data, *bf = (const float *) b->data;
  double *y = g_new (double, n);

  for (gint64 i = 0; i < n; i++) {
    y[i] = bf[i];
    for (gint64 j = 0; j < k; j++)
      y[i] += (double) wf[i * k + j] * x[j];
    if (act)
      y[i] = activation (act, y[i]);
  }
  return y;
}

/* projector_hidden_act names transformers runs besides gelu (silu was
 * refused only at the first frame): the projector against a double loop
 * on the fixture's weights. */
static void
test_projector_activations (void)
{
  const char *acts[] = { "silu", "relu", "gelu_pytorch_tanh" };
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  g_autofree char *src = fixture_path ("llava-tiny-a");
  g_autofree char *st_path = g_build_filename (src, "model.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpSafetensors) st = vtp_safetensors_open (st_path, &error);
  const VtpStTensor *feats = vtp_safetensors_find (ref, "vision_features");
  const VtpStTensor *w1 = vtp_safetensors_find (st, "multi_modal_projector.linear_1.weight");
  const VtpStTensor *b1 = vtp_safetensors_find (st, "multi_modal_projector.linear_1.bias");
  const VtpStTensor *w2 = vtp_safetensors_find (st, "multi_modal_projector.linear_2.weight");
  const VtpStTensor *b2 = vtp_safetensors_find (st, "multi_modal_projector.linear_2.bias");
  const gint64 T = feats->shape[0], K = feats->shape[1], D = w2->shape[0];
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=vision-features,tokens=%d,width=%d",
      (gint) T, (gint) K);

  g_assert_no_error (error);
  for (guint a = 0; a < G_N_ELEMENTS (acts); a++) {
    g_autofree char *dir = fixture_copy ("llava-tiny-a");
    g_autofree char *cfg = g_build_filename (dir, "config.json", NULL);
    g_autofree char *text = NULL, *to = g_strdup_printf ("\"projector_hidden_act\": \"%s\"", acts[a]);
    g_autoptr (GString) s = NULL;
    GstElement *e = gst_element_factory_make ("vtpprojector", NULL);
    GstHarness *h;
    GstBuffer *out;
    GstMapInfo map;
    double worst = 0;

    g_assert_true (g_file_get_contents (cfg, &text, NULL, NULL));
    s = g_string_new (text);
    g_assert_cmpuint (g_string_replace (s, "\"projector_hidden_act\": \"gelu\"", to, 1), ==, 1);
    g_assert_true (g_file_set_contents (cfg, s->str, -1, NULL));
    g_object_set (e, "model", dir, NULL);
    h = gst_harness_new_with_element (e, "sink", "src");
    gst_object_unref (e);
    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, buffer_from (feats));
    g_assert_nonnull (out);
    g_assert_true (gst_buffer_map (out, &map, GST_MAP_READ));
    g_assert_cmpuint (map.size, ==, T * D * sizeof (float));
    for (gint64 t = 0; t < T; t++) {
      double x[64];
      g_autofree double *hidden = NULL, *want = NULL;
      g_assert_cmpint (K, <=, G_N_ELEMENTS (x));
      for (gint64 j = 0; j < K; j++)
        x[j] = ((const float *) feats->data)[t * K + j];
      hidden = affine (w1, b1, x, acts[a]);
      want = affine (w2, b2, hidden, NULL);
      for (gint64 i = 0; i < D; i++)
        worst = MAX (worst, fabs (((const float *) map.data)[t * D + i] - want[i]));
    }
    gst_buffer_unmap (out, &map);
    g_test_message ("projector_hidden_act %s: max abs error %.3g", acts[a], worst);
    g_assert_cmpfloat (worst, <=, 1e-4);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    remove_dir (dir);
  }
}

/* vtpqformer: the recorded image features in, transformers' projected
 * queries out, with and without the instruction; the prompt rides along. */
static void
test_qformer (gconstpointer data)
{
  const char *fixture = data;
  const gboolean instruct = g_str_has_prefix (fixture, "instructblip");
  g_autoptr (VtpSafetensors) ref = open_reference (fixture);
  const VtpStTensor *img = vtp_safetensors_find (ref, "image_embeds");
  g_autofree char *instruction = reference_string (fixture, "instruction");
  GstHarness *h = harness_with_model ("vtpqformer", fixture);
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=vision-features,tokens=%d,width=%d",
      (gint) img->shape[0], (gint) img->shape[1]);
  GstVtpPromptMeta *meta;
  GstBuffer *out;
  GstCaps *outcaps;
  gint tokens, width;

  g_object_set (h->element, "prompt", instruction, NULL);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (img));
  outcaps = gst_pad_get_current_caps (h->sinkpad);
  g_assert_true (gst_vtp_tensor_caps_parse (outcaps, GST_VTP_KIND_QUERY_EMBEDDINGS, &tokens, &width));
  gst_caps_unref (outcaps);
  g_assert_cmpint (tokens, ==, vtp_safetensors_find (ref, "projected")->shape[0]);
  g_assert_cmpfloat (max_error (out, vtp_safetensors_find (ref, "projected")), <=, 1e-4);
  meta = gst_buffer_get_vtp_prompt_meta (out);
  g_assert_nonnull (meta);
  g_assert_cmpstr (meta->prompt, ==, instruction);
  gst_buffer_unref (out);
  if (instruct && vtp_safetensors_find (ref, "projected_noinstr")) {
    g_object_set (h->element, "text-conditioning", FALSE, NULL);
    out = gst_harness_push_and_pull (h, buffer_from (img));
    g_assert_cmpfloat (max_error (out, vtp_safetensors_find (ref, "projected_noinstr")), <=, 1e-4);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

/* Frame time with a fixed duration: vtpllm pushes each text as soon as it
 * is written (the harness's source counts as live, which would otherwise
 * pick output time). */
static void
text_at_once (GstHarness *h)
{
  gst_util_set_object_arg (G_OBJECT (h->element), "timestamps", "frame");
  g_object_set (h->element, "text-duration", (guint64) GST_SECOND, NULL);
}

/* vtpllm after a Q-Former: queries first, then the checkpoint's BOS and the
 * raw prompt carried on the buffer. */
static void
llm_queries_in (const char *fixture, const char *model_dir)
{
  const gboolean instruct = g_str_has_prefix (fixture, "instructblip");
  g_autoptr (VtpSafetensors) ref = open_reference (fixture);
  g_autofree char *instruction = reference_string (fixture, "instruction");
  const char *variants[][2] = { { "projected", "greedy_text" }, { "projected_noinstr", "greedy_text_noinstr" } };
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  GstHarness *h;

  g_object_set (e, "model", model_dir, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);

  g_object_set (h->element, "max-new-tokens", 20, "prompt", "not this one", NULL);
  text_at_once (h);
  for (guint v = 0; v < (instruct ? 2u : 1u); v++) {
    const VtpStTensor *q = vtp_safetensors_find (ref, variants[v][0]);
    g_autofree char *want = NULL;
    if (!q)
      continue;         /* the T5 fixtures record the instruction's variant only */
    want = reference_string (fixture, variants[v][1]);
    g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=query-embeddings,tokens=%d,width=%d",
        (gint) q->shape[0], (gint) q->shape[1]);
    GstBuffer *in = buffer_from (q), *out;

    gst_buffer_add_vtp_prompt_meta (in, instruction);
    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, in);
    g_assert_nonnull (out);
    assert_buffer_text (out, want);
    gst_buffer_unref (out);
  }
  gst_harness_teardown (h);
}

static void
test_llm_queries (gconstpointer data)
{
  g_autofree char *dir = fixture_path (data);
  llm_queries_in (data, dir);
}

/* An error message posted by the harnessed element, or NULL. */
static char *
harness_error (GstHarness *h)
{
  GstBus *bus = gst_element_get_bus (h->element);
  GstMessage *m;
  char *text = NULL;

  while (!text && (m = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR))) {
    GError *e = NULL;
    gst_message_parse_error (m, &e, NULL);
    text = g_strdup (e->message);
    g_error_free (e);
    gst_message_unref (m);
  }
  gst_object_unref (bus);
  return text;
}

static GstHarness *
harness_with_bus_adapter (const char *element, const char *fixture, const char *adapter)
{
  GstHarness *h = harness_with_adapter (element, fixture, adapter);
  GstBus *bus = gst_bus_new ();
  gst_element_set_bus (h->element, bus);
  gst_object_unref (bus);
  return h;
}

static GstHarness *
harness_with_bus (const char *element, const char *fixture)
{
  return harness_with_bus_adapter (element, fixture, NULL);
}


static void
test_llm (gconstpointer data)
{
  const char *fixture = data;
  g_autoptr (VtpSafetensors) ref = open_reference (fixture);
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  g_autofree char *want = reference_string (fixture, "greedy_text");
  GstHarness *h = harness_with_model ("vtpllm", fixture);
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=image-embeddings,tokens=%d,width=%d",
      (gint) emb->shape[0], (gint) emb->shape[1]);
  GstBuffer *in = buffer_from (emb), *out;
  GstCaps *outcaps;

  g_object_set (h->element, "max-new-tokens", 20, NULL);
  /* frame time, until the next description: the first text comes out when
   * the second frame is described, lasting until it; the last at EOS,
   * lasting as far as the stream went (here a gap for a dropped frame) */
  gst_util_set_object_arg (G_OBJECT (h->element), "timestamps", "frame");
  gst_harness_set_src_caps_str (h, caps);
  GST_BUFFER_PTS (in) = 3 * GST_SECOND;
  GST_BUFFER_DURATION (in) = GST_SECOND / 2;
  g_assert_cmpint (gst_harness_push (h, in), ==, GST_FLOW_OK);
  g_assert_cmpuint (gst_harness_buffers_received (h), ==, 0);
  in = buffer_from (emb);
  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  GST_BUFFER_DURATION (in) = GST_SECOND / 2;
  out = gst_harness_push_and_pull (h, in);
  g_assert_nonnull (out);
  g_assert_cmpuint (GST_BUFFER_PTS (out), ==, 3 * GST_SECOND);
  g_assert_cmpuint (GST_BUFFER_DURATION (out), ==, 2 * GST_SECOND);
  gst_buffer_unref (out);
  g_assert_true (gst_harness_push_event (h, gst_event_new_gap (5 * GST_SECOND + GST_SECOND / 2, GST_SECOND)));
  g_assert_true (gst_harness_push_event (h, gst_event_new_eos ()));
  out = gst_harness_pull (h);
  g_assert_nonnull (out);
  g_assert_cmpuint (GST_BUFFER_PTS (out), ==, 5 * GST_SECOND);
  g_assert_cmpuint (GST_BUFFER_DURATION (out), ==, 3 * GST_SECOND / 2);
  outcaps = gst_pad_get_current_caps (h->sinkpad);
  g_assert_true (gst_structure_has_name (gst_caps_get_structure (outcaps, 0), "text/x-raw"));
  gst_caps_unref (outcaps);
  assert_buffer_text (out, want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* kv-type=f16 (an F16 KV cache) or q8_0: the element takes it in READY
 * and describes the frame with transformers' greedy text (the arithmetic
 * of the caches is checked in test-ops, their fidelity in the model
 * tests). @data: "FIXTURE/TYPE" (q8_0 on llava-tiny-q, whose rows of 2
 * heads of 16 are whole blocks of 32). */
static void
test_llm_kv (gconstpointer data)
{
  g_auto (GStrv) parts = g_strsplit (data, "/", 2);
  const char *fixture = parts[0], *kv = parts[1];
  g_autoptr (VtpSafetensors) ref = open_reference (fixture);
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  g_autofree char *want = reference_string (fixture, "greedy_text");
  g_autofree char *dir = fixture_path (fixture);
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=image-embeddings,tokens=%d,width=%d",
      (gint) emb->shape[0], (gint) emb->shape[1]);
  GstHarness *h;
  GstBuffer *out;

  /* set before the harness starts it: the model loads in READY -> PAUSED */
  g_object_set (e, "model", dir, "max-new-tokens", 20, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "kv-type", kv);
  gst_util_set_object_arg (G_OBJECT (e), "timestamps", "output");
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (emb));
  g_assert_nonnull (out);
  assert_buffer_text (out, want);
  gst_buffer_unref (out);
  {
    GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (h->element), "kv-type");
    gint v;
    g_object_get (h->element, "kv-type", &v, NULL);
    g_assert_cmpstr (g_enum_get_value (G_PARAM_SPEC_ENUM (ps)->enum_class, v)->value_nick, ==, kv);
  }
  gst_harness_teardown (h);
}

/* vtpllm with model= a llama.cpp GGUF of llava-tiny-q's language model
 * (tests/fixtures/gguf-tiny): its tokenizer, BOS and image marker come from
 * the GGUF. On llava-tiny-q's projector output the F32 file generates
 * transformers' greedy tokens; the text is their decoding by the GGUF's
 * vocabulary, which (as llama.cpp) prints the padding tokens that
 * transformers skipped: llama.cpp's converter records them as
 * user-defined, not control, tokens. The Q4_0 file runs too. */
static void
test_llm_gguf (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-q");
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  const VtpStTensor *greedy = vtp_safetensors_find (ref, "greedy_tokens");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=image-embeddings,tokens=%d,width=%d",
      (gint) emb->shape[0], (gint) emb->shape[1]);
  g_autofree char *f32 = fixture_path ("gguf-tiny/llm-f32.gguf");
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (f32, &error);
  g_autoptr (VtpTokenizer) tok = NULL;
  g_autofree gint32 *ids = g_new (gint32, greedy->shape[0]);
  g_autofree char *want = NULL;
  const char *files[] = { "gguf-tiny/llm-f32.gguf", "gguf-tiny/llm-q4_0.gguf" };

  g_assert_no_error (error);
  tok = vtp_model_tokenizer_new (c, &error);
  g_assert_no_error (error);
  for (gint i = 0; i < greedy->shape[0]; i++)
    ids[i] = (gint32) ((const gint64 *) greedy->data)[i];
  want = vtp_prompt_decode_answer (tok, ids, greedy->shape[0], &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    GstHarness *h = harness_with_model ("vtpllm", files[i]);
    GstBuffer *out;
    GstMapInfo map;

    g_object_set (h->element, "max-new-tokens", (guint) greedy->shape[0], NULL);
    text_at_once (h);
    gst_harness_set_src_caps_str (h, caps);
    out = gst_harness_push_and_pull (h, buffer_from (emb));
    g_assert_nonnull (out);
    g_assert_true (gst_buffer_map (out, &map, GST_MAP_READ));
    g_test_message ("%s: \"%.*s\"", files[i], (int) map.size, (const char *) map.data);
    g_assert_cmpuint (map.size, >, 0);
    gst_buffer_unmap (out, &map);
    if (i == 0)
      assert_buffer_text (out, want);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

/* The prompt changes from another thread while frames are described: every
 * frame still gets a description and nothing breaks. */
static void
test_llm_prompt_stress (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  GstHarness *h = harness_with_model ("vtpllm", "llava-tiny-a");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=image-embeddings,tokens=%d,width=%d",
      (gint) emb->shape[0], (gint) emb->shape[1]);
  GValue prompt = G_VALUE_INIT;
  GstHarnessThread *t;

  g_value_init (&prompt, G_TYPE_STRING);
  g_value_set_string (&prompt, "Describe the picture in one word.");
  g_object_set (h->element, "max-new-tokens", 4, NULL);
  text_at_once (h);
  gst_harness_set_src_caps_str (h, caps);
  t = gst_harness_stress_property_start_full (h, "prompt", &prompt, 100);
  for (gint i = 0; i < 10; i++) {
    GstBuffer *out = gst_harness_push_and_pull (h, buffer_from (emb));
    g_assert_nonnull (out);
    gst_buffer_unref (out);
  }
  gst_harness_stress_thread_stop (t);
  g_value_unset (&prompt);
  gst_harness_teardown (h);
}



/* A model that cannot be opened fails the state change with the path named. */
static void
expect_start_error (const char *element, const char *model, const char *needle)
{
  GstElement *e = gst_element_factory_make (element, NULL);

  g_object_set (e, "model", model, NULL);
  g_free (expect_element_start_error (e, needle));
}

/* kv-type=q8_0 on a model whose cache rows are not whole blocks of 32
 * (llava-tiny-a: 4 heads of 12): the start fails with a message that says
 * why and what to use, nothing crashes. */
static void
test_llm_kv_q8_0_refused (void)
{
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  g_autofree char *msg = NULL;

  g_object_set (e, "model", dir, NULL);
  gst_util_set_object_arg (G_OBJECT (e), "kv-type", "q8_0");
  msg = expect_element_start_error (e, "kv-type=q8_0");
  g_assert_nonnull (strstr (msg, "4 heads x 12 = 48"));
}


static void
test_bad_models (void)
{
  g_autofree char *src = fixture_path ("llava-tiny-a");
  g_autofree char *tmp = g_dir_make_tmp ("vtp-bad-model-XXXXXX", NULL);
  const char *files[] = { "config.json", "tokenizer.json", "preprocessor_config.json" };
  g_autofree char *st_src = g_build_filename (src, "model.safetensors", NULL);
  g_autofree char *st_dst = g_build_filename (tmp, "model.safetensors", NULL);
  g_autofree char *cfg = g_build_filename (tmp, "config.json", NULL);

  expect_start_error ("vtpencoder", "/nonexistent/model-dir", "/nonexistent/model-dir");
  expect_start_error ("vtpllm", "/nonexistent/model-dir", "not found");

  for (guint i = 0; i < G_N_ELEMENTS (files); i++) {
    g_autofree char *a = g_build_filename (src, files[i], NULL), *b = g_build_filename (tmp, files[i], NULL);
    copy_file (a, b, -1);
  }
  expect_start_error ("vtpprojector", tmp, "no model.safetensors");
  copy_file (st_src, st_dst, 300000);
  expect_start_error ("vtpllm", tmp, "truncated");
  expect_start_error ("vtpencoder", tmp, "truncated");
  /* a config that disagrees with the weights: the tensor and both shapes are named */
  copy_file (st_src, st_dst, -1);
  {
    g_autofree char *text = NULL;
    g_autoptr (GString) s = NULL;
    g_assert_true (g_file_get_contents (cfg, &text, NULL, NULL));
    s = g_string_new (text);
    g_string_replace (s, "\"intermediate_size\": 96", "\"intermediate_size\": 100", 1);
    g_assert_true (g_file_set_contents (cfg, s->str, -1, NULL));
  }
  expect_start_error ("vtpllm", tmp, "expected [100, 48]");

  {
    GDir *d = g_dir_open (tmp, 0, NULL);
    const char *n;
    while ((n = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (tmp, n, NULL);
      g_unlink (p);
    }
    g_dir_close (d);
    g_rmdir (tmp);
  }
}

/* vtpllm on an OPT checkpoint (the checkpoint names the family; OPT's
 * byte-level BPE tokenizer.json, </s> as BOS): both fixtures' tokenizers
 * read, and BLIP-2 + OPT's text is transformers' (a plain OPT with text
 * prompts: test-textin's /textin/opt). */
static void
test_llm_opt (gconstpointer data)
{
  const char *fixture = data;
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
  g_autoptr (GError) error = NULL;
  VtpTokenizer *tok = vtp_tokenizer_new_from_file (path, &error);

  g_assert_no_error (error);
  vtp_tokenizer_free (tok);
  if (g_str_has_prefix (fixture, "blip2"))
    test_llm_queries (data);
}

/* vtpllm on a BLIP-2 / InstructBLIP + Flan-T5 checkpoint (the checkpoint
 * names the family; T5's SentencePiece Unigram tokenizer.json): the text
 * is transformers'. */
static void
test_llm_t5 (gconstpointer data)
{
  const char *fixture = data;
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *path = g_build_filename (dir, "tokenizer.json", NULL);
  g_autoptr (GError) error = NULL;
  VtpTokenizer *tok = vtp_tokenizer_new_from_file (path, &error);

  g_assert_no_error (error);
  vtp_tokenizer_free (tok);
  test_llm_queries (data);
}

/* An lm_head of NaNs generates no text: vtpllm still pushes one buffer for
 * the frame, empty (gst_buffer_new_memdup (text, 0) raised a
 * GStreamer-CRITICAL, fatal under G_DEBUG=fatal-criticals), and vtpsrtenc
 * makes no cue of it. */
static void
test_llm_empty_text (void)
{
  g_autofree char *dir = fixture_copy ("llava-tiny-a");
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=image-embeddings,tokens=%d,width=%d",
      (gint) emb->shape[0], (gint) emb->shape[1]);
  GstElement *e = gst_element_factory_make ("vtpllm", NULL);
  GstHarness *h, *srt;
  GstBuffer *in = buffer_from (emb), *out;

  fill_nan (dir, "language_model.lm_head.weight");
  g_object_set (e, "model", dir, "max-new-tokens", 4, NULL);
  h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  text_at_once (h);
  gst_harness_set_src_caps_str (h, caps);
  GST_BUFFER_PTS (in) = 0;
  out = gst_harness_push_and_pull (h, in);
  g_assert_nonnull (out);
  g_assert_cmpuint (gst_buffer_get_size (out), ==, 0);
  g_assert_cmpuint (GST_BUFFER_PTS (out), ==, 0);

  srt = gst_harness_new ("vtpsrtenc");
  gst_harness_set_src_caps_str (srt, "text/x-raw,format=utf8");
  g_assert_cmpint (gst_harness_push (srt, out), ==, GST_FLOW_OK);
  g_assert_cmpuint (gst_harness_buffers_received (srt), ==, 0);
  gst_harness_teardown (srt);
  gst_harness_teardown (h);
  remove_dir (dir);
}

/* vtpadapter: reference CLIP features in, the recorded per-layer prompts
 * out, caps naming the adapter and its layer count. */
static void
test_adapter (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("adapter-tiny");
  const VtpStTensor *feats = vtp_safetensors_find (ref, "clip_features");
  const VtpStTensor *prompts = vtp_safetensors_find (ref, "prompts");
  GstHarness *h = harness_with_model ("vtpadapter", "adapter-tiny/v2");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=vision-features,tokens=%d,width=%d",
      (gint) feats->shape[0], (gint) feats->shape[1]);
  GstBuffer *out;
  GstCaps *outcaps;
  gint tokens, width, layers;

  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (feats));
  g_assert_nonnull (out);
  outcaps = gst_pad_get_current_caps (h->sinkpad);
  g_assert_true (gst_vtp_tensor_caps_parse (outcaps, GST_VTP_KIND_ADAPTER_PROMPTS, &tokens, &width));
  g_assert_true (gst_structure_get_int (gst_caps_get_structure (outcaps, 0), "layers", &layers));
  g_assert_true (g_str_has_suffix (gst_structure_get_string (gst_caps_get_structure (outcaps, 0), "adapter"), "v2"));
  gst_caps_unref (outcaps);
  g_assert_cmpint (tokens, ==, prompts->shape[0]);
  g_assert_cmpint (width, ==, prompts->shape[1]);
  g_assert_cmpint (layers, ==, 2);
  g_assert_cmpfloat (max_error (out, prompts), <=, 1e-4);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* vtpllm with adapter=: the recorded prompts in, the reference answer out
 * (the Alpaca template by default). */
static void
test_llm_adapter (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("adapter-tiny");
  const VtpStTensor *prompts = vtp_safetensors_find (ref, "prompts");
  g_autofree char *want = reference_string ("adapter-tiny", "greedy_text_v2_tokenizers");
  g_autofree char *instruction = reference_string ("adapter-tiny", "instruction");
  GstHarness *h = harness_with_adapter ("vtpllm", "adapter-tiny/llama", "adapter-tiny/v2");
  g_autofree char *caps = g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=adapter-prompts,tokens=%d,width=%d,"
      "layers=2", (gint) prompts->shape[0], (gint) prompts->shape[1]);
  GstBuffer *out;

  g_object_set (h->element, "max-new-tokens", 20, "prompt", instruction, NULL);
  text_at_once (h);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (prompts));
  g_assert_nonnull (out);
  assert_buffer_text (out, want);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}

/* Wrong prompts for vtpllm's adapter: another adapter's, or too few rows. */


/* Caps of @h's input that the element refuses: pushing a buffer of them
 * fails to negotiate, with an error message holding each of @needles. */
static void
assert_refused (GstHarness *h, const char *caps, const char *const *needles)
{
  g_autoptr (GstCaps) c = gst_caps_from_string (caps);
  const GstStructure *st = gst_caps_get_structure (c, 0);
  g_autofree char *msg = NULL;
  g_autofree float *zeros = NULL;
  gint tokens, width;

  g_assert_true (gst_structure_get_int (st, "tokens", &tokens) && gst_structure_get_int (st, "width", &width));
  zeros = g_new0 (float, tokens * width);
  gst_harness_set_src_caps_str (h, caps);
  g_assert_cmpint (gst_harness_push (h, gst_buffer_new_memdup (zeros, sizeof (float) * tokens * width)), ==,
      GST_FLOW_NOT_NEGOTIATED);
  msg = harness_error (h);
  g_assert_nonnull (msg);
  g_test_message ("%s", msg);
  for (guint i = 0; needles[i]; i++)
    if (!strstr (msg, needles[i]))
      g_error ("the error \"%s\" does not name \"%s\"", msg, needles[i]);
  gst_harness_teardown (h);
}

#define TENSOR_CAPS GST_VTP_TENSOR_MEDIA_TYPE ",kind="

/* Widths that do not fit are refused with both numbers named. */
static void
test_width_mismatch (void)
{
  /* tiny-a's projector reads 32-wide features */
  assert_refused (harness_with_bus ("vtpprojector", "llava-tiny-a"), TENSOR_CAPS "vision-features,tokens=4,width=40",
      (const char *[]) { "40-wide", "32-wide", NULL });
  assert_refused (harness_with_bus ("vtpqformer", "instructblip-tiny"),
      TENSOR_CAPS "vision-features,tokens=4,width=40", (const char *[]) { "40-wide", "32-wide", NULL });
  assert_refused (harness_with_bus ("vtpllm", "llava-tiny-a"), TENSOR_CAPS "image-embeddings,tokens=2,width=64",
      (const char *[]) { "64-wide", "hidden size of 48", NULL });
  /* the adapter reads its CLIP's 24-wide projected features */
  assert_refused (harness_with_bus ("vtpadapter", "adapter-tiny/v2"), TENSOR_CAPS "vision-features,tokens=4,width=40",
      (const char *[]) { "40-wide", "24-wide", "clip_dim", NULL });
}

/* Wrong prompts for vtpllm's adapter: another adapter's, too few rows, the
 * wrong width; and a V2 adapter fed another bridge's embeddings. */
static void
test_llm_adapter_mismatch (void)
{
  const char *cases[][2] = {
    { TENSOR_CAPS "adapter-prompts,tokens=6,width=48,adapter=/elsewhere/v2", "both must be the same" },
    { TENSOR_CAPS "adapter-prompts,tokens=4,width=48", "2 layers x 3 positions" },
    { TENSOR_CAPS "adapter-prompts,tokens=6,width=40", "40-wide" },
    { TENSOR_CAPS "image-embeddings,tokens=6,width=48", "needs the prompts of vtpadapter" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    assert_refused (harness_with_bus_adapter ("vtpllm", "adapter-tiny/llama", "adapter-tiny/v2"), cases[i][0],
        (const char *[]) { cases[i][1], NULL });
}

/* Integer @key of @fixture's reference.json, as text. */
static char *
reference_int_text (const char *fixture, const char *key)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *path = g_build_filename (dir, "reference.json", NULL);
  g_autoptr (JsonParser) p = json_parser_new ();

  g_assert_true (json_parser_load_from_file (p, path, NULL));
  return g_strdup_printf ("%" G_GINT64_FORMAT, json_object_get_int_member (json_node_get_object (
              json_parser_get_root (p)), key));
}

/* @launch set to PAUSED fails; the first error names every @needles and
 * comes from the element named @from. */
static void
expect_pipeline_error (const char *launch, const char *from, const char *const *needles)
{
  g_autoptr (GError) error = NULL;
  GstElement *pipe = gst_parse_launch (launch, &error);
  GstBus *bus;
  GstMessage *m;
  GError *err = NULL;

  /* it links: the element's own message says what is wrong, not "could not link" */
  g_assert_no_error (error);
  g_assert_nonnull (pipe);
  bus = gst_element_get_bus (pipe);
  gst_element_set_state (pipe, GST_STATE_PAUSED);
  m = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND, GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  gst_message_parse_error (m, &err, NULL);
  g_test_message ("%s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), err->message);
  g_assert_cmpstr (GST_OBJECT_NAME (GST_MESSAGE_SRC (m)), ==, from);
  for (guint i = 0; needles[i]; i++)
    if (!strstr (err->message, needles[i]))
      g_error ("the error \"%s\" does not name \"%s\"", err->message, needles[i]);
  g_error_free (err);
  gst_message_unref (m);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (pipe);
}

/* vtpencoder ! vtpllm, no bridge: vtpllm says which elements belong
 * between, when the pipeline starts (before its model loads: the model
 * here does not exist), and at caps should the features arrive anyway. */
static void
test_llm_missing_bridge (void)
{
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  const char *bridges[] = { "a bridge element belongs between vtpencoder and vtpllm", "vtpprojector", "vtpqformer",
    "vtpadapter", NULL };
  g_autofree char *direct = g_strdup_printf ("videotestsrc num-buffers=1 ! videoconvert ! vtpencoder model=\"%s\" ! "
      "vtpllm name=llm model=/nonexistent ! fakesink", dir);
  g_autofree char *queued = g_strdup_printf ("videotestsrc num-buffers=1 ! videoconvert ! vtpencoder model=\"%s\" ! "
      "queue ! vtpllm name=llm model=/nonexistent ! fakesink", dir);

  expect_pipeline_error (direct, "llm", bridges);
  expect_pipeline_error (queued, "llm", bridges);
  assert_refused (harness_with_bus ("vtpllm", "llava-tiny-a"), TENSOR_CAPS "vision-features,tokens=4,width=32",
      bridges);
}

/* An empty prompt is refused, naming the property: at start when the
 * bridge upstream says what it gives (before the model loads), at caps,
 * and when set to blank while playing; query embeddings (BLIP-2) describe
 * a picture without one. */
static void
test_llm_empty_prompt (void)
{
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  const char *needles[] = { "vtpllm's prompt is empty", "prompt=", NULL };
  g_autofree char *launch = g_strdup_printf ("videotestsrc num-buffers=1 ! videoconvert ! vtpencoder model=\"%s\" ! "
      "vtpprojector model=\"%s\" ! vtpllm name=llm model=/nonexistent prompt=\"\" ! fakesink", dir, dir);
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  g_autofree char *caps = g_strdup_printf (TENSOR_CAPS "image-embeddings,tokens=%d,width=%d", (gint) emb->shape[0],
      (gint) emb->shape[1]);
  GstHarness *h;
  GstBuffer *out;
  g_autofree char *msg = NULL;

  expect_pipeline_error (launch, "llm", needles);

  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "prompt", "", NULL);
  assert_refused (h, caps, needles);

  /* blank while playing: the next frame is refused */
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "max-new-tokens", 2, NULL);
  text_at_once (h);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (emb));
  g_assert_nonnull (out);
  gst_buffer_unref (out);
  g_object_set (h->element, "prompt", " \n ", NULL);
  g_assert_cmpint (gst_harness_push (h, buffer_from (emb)), ==, GST_FLOW_ERROR);
  msg = harness_error (h);
  g_assert_nonnull (msg);
  g_assert_nonnull (strstr (msg, "vtpllm's prompt is empty"));
  gst_harness_teardown (h);

  /* BLIP-2's queries: no prompt is a caption */
  {
    g_autoptr (VtpSafetensors) bref = open_reference ("blip2-tiny");
    const VtpStTensor *q = vtp_safetensors_find (bref, "projected");
    g_autofree char *qcaps = g_strdup_printf (TENSOR_CAPS "query-embeddings,tokens=%d,width=%d",
        (gint) q->shape[0], (gint) q->shape[1]);
    h = harness_with_model ("vtpllm", "blip2-tiny");
    g_object_set (h->element, "prompt", "", "max-new-tokens", 4, NULL);
    text_at_once (h);
    gst_harness_set_src_caps_str (h, qcaps);
    out = gst_harness_push_and_pull (h, buffer_from (q));
    g_assert_nonnull (out);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}

/* A template without <image> for image embeddings (or without {prompt})
 * blames vtpllm's template, quotes it, and shows how one looks; never an
 * internal token id. At caps, and when the template changes while playing;
 * at start when the bridge upstream is a projector. */
static void
test_llm_template (void)
{
  g_autoptr (VtpSafetensors) ref = open_reference ("llava-tiny-a");
  const VtpStTensor *emb = vtp_safetensors_find (ref, "projector_output");
  g_autofree char *caps = g_strdup_printf (TENSOR_CAPS "image-embeddings,tokens=%d,width=%d", (gint) emb->shape[0],
      (gint) emb->shape[1]);
  g_autofree char *image_token = reference_int_text ("llava-tiny-a", "image_token_index");
  g_autofree char *dir = fixture_path ("llava-tiny-a");
  g_autofree char *launch = g_strdup_printf ("videotestsrc num-buffers=1 ! videoconvert ! vtpencoder model=\"%s\" ! "
      "vtpprojector model=\"%s\" ! vtpllm name=llm model=/nonexistent template=\"Q: {prompt} A:\" ! fakesink",
      dir, dir);
  const char *no_marker[] = { "vtpllm's template \"Q: {prompt} A:\" has no <image> marker",
    "template=\"USER: <image>", NULL };
  const char *no_prompt[] = { "vtpllm's template \"USER: <image> A:\" has no {prompt}", NULL };
  const char *two[] = { "has 2 <image> markers", NULL };
  GstHarness *h;
  GstBuffer *out;
  g_autofree char *msg = NULL;

  expect_pipeline_error (launch, "llm", no_marker);
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "template", "Q: {prompt} A:", NULL);
  assert_refused (h, caps, no_marker);
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "template", "USER: <image> A:", NULL);
  assert_refused (h, caps, no_prompt);
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "template", "<image><image>{prompt}", NULL);
  assert_refused (h, caps, two);

  /* changed while playing: the next frame is refused with the same sentence */
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "max-new-tokens", 2, NULL);
  text_at_once (h);
  gst_harness_set_src_caps_str (h, caps);
  out = gst_harness_push_and_pull (h, buffer_from (emb));
  g_assert_nonnull (out);
  gst_buffer_unref (out);
  g_object_set (h->element, "template", "Q: {prompt} A:", NULL);
  g_assert_cmpint (gst_harness_push (h, buffer_from (emb)), ==, GST_FLOW_ERROR);
  msg = harness_error (h);
  g_assert_nonnull (msg);
  g_test_message ("%s", msg);
  g_assert_nonnull (strstr (msg, no_marker[0]));
  g_assert_null (strstr (msg, "token"));
  g_assert_null (strstr (msg, image_token));
  gst_harness_teardown (h);
  g_clear_pointer (&msg, g_free);

  /* a prompt holding <image>: the prompt is blamed */
  h = harness_with_bus ("vtpllm", "llava-tiny-a");
  g_object_set (h->element, "prompt", "What is <image>?", NULL);
  gst_harness_set_src_caps_str (h, caps);
  g_assert_cmpint (gst_harness_push (h, buffer_from (emb)), ==, GST_FLOW_ERROR);
  msg = harness_error (h);
  g_assert_nonnull (msg);
  g_test_message ("%s", msg);
  g_assert_nonnull (strstr (msg, "The prompt \"What is <image>?\" contains <image>"));
  g_assert_null (strstr (msg, image_token));
  gst_harness_teardown (h);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/elements/encoder", test_encoder);
  g_test_add_func ("/elements/projector", test_projector);
  g_test_add_func ("/elements/projector-activations", test_projector_activations);
  g_test_add_func ("/elements/width-mismatch", test_width_mismatch);
  g_test_add_data_func ("/elements/llm-a", "llava-tiny-a", test_llm);
  g_test_add_data_func ("/elements/llm-b", "llava-tiny-b", test_llm);
  g_test_add_func ("/elements/llm-prompt-stress", test_llm_prompt_stress);
  g_test_add_func ("/elements/llm-gguf", test_llm_gguf);
  g_test_add_data_func ("/elements/llm-kv-f16", "llava-tiny-a/f16", test_llm_kv);
  g_test_add_data_func ("/elements/llm-kv-q8_0", "llava-tiny-q/q8_0", test_llm_kv);
  g_test_add_func ("/elements/llm-kv-q8_0-refused", test_llm_kv_q8_0_refused);
  g_test_add_data_func ("/elements/qformer-instructblip", "instructblip-tiny", test_qformer);
  g_test_add_data_func ("/elements/qformer-blip2", "blip2-tiny", test_qformer);
  g_test_add_data_func ("/elements/llm-queries-instructblip", "instructblip-tiny", test_llm_queries);
  g_test_add_data_func ("/elements/llm-queries-blip2", "blip2-tiny", test_llm_queries);
  g_test_add_data_func ("/elements/qformer-blip2-opt", "blip2-opt-tiny", test_qformer);
  g_test_add_data_func ("/elements/llm-opt-blip2", "blip2-opt-tiny", test_llm_opt);
  g_test_add_data_func ("/elements/llm-opt", "opt-tiny-proj", test_llm_opt);
  g_test_add_data_func ("/elements/qformer-blip2-t5", "blip2-t5-tiny", test_qformer);
  g_test_add_data_func ("/elements/qformer-instructblip-t5", "instructblip-t5-tiny", test_qformer);
  g_test_add_data_func ("/elements/llm-t5-blip2", "blip2-t5-tiny", test_llm_t5);
  g_test_add_data_func ("/elements/llm-t5-instructblip", "instructblip-t5-tiny", test_llm_t5);
  g_test_add_func ("/elements/adapter", test_adapter);
  g_test_add_func ("/elements/llm-adapter", test_llm_adapter);
  g_test_add_func ("/elements/llm-adapter-mismatch", test_llm_adapter_mismatch);
  g_test_add_func ("/elements/bad-models", test_bad_models);
  g_test_add_func ("/elements/llm-empty-text", test_llm_empty_text);
  g_test_add_func ("/elements/llm-missing-bridge", test_llm_missing_bridge);
  g_test_add_func ("/elements/llm-empty-prompt", test_llm_empty_prompt);
  g_test_add_func ("/elements/llm-template", test_llm_template);
  return g_test_run ();
}
