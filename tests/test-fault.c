/* test-fault.c: faults injected in the OpenCL layer (opencl/vtp-fault.h):
 * a device buffer allocation, the kernel program build, a kernel launch,
 * a copy (upload, read-back, map, unmap, device-side), a wait for the
 * queue, the creation of a device's context or queue.
 * Each must reach the application as an element error whose message names
 * what failed; the element or pipeline must go to NULL and start again,
 * and then give transformers' numbers and text, as if nothing had happened
 * (no half-loaded model cached, no broken device kept, no error left
 * pending on a thread). Leaks: run under scripts/sanitize.sh.
 *
 * The elements are registered from this program's own copy of the vtp
 * code (a static plugin), not loaded from the plugin file: vtp_fault_set
 * must arm the copy the elements run. The test environment points
 * GST_PLUGIN_PATH away from the built plugin for the same reason. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <math.h>
#include "test-gst-util.h"
#include "element-test-util.h"
#include "gstvtpencoder.h"
#include "gstvtpprojector.h"
#include "gstvtpqformer.h"
#include "gstvtpadapter.h"
#include "gstvtpllm.h"
#include "gstvtpsrtenc.h"
#include "gstvtpmeta.h"
#include "gstvtptensor.h"
#include "vtp-device.h"
#include "vtp-fault.h"
#include "vtp-model-cache.h"
#include "vtp-safetensors.h"

#define ALLOC_NEEDLE "memory object allocation failure"
#define BUILD_NEEDLE "build program failure"
#define ENQUEUE_NEEDLE "out of resources"
#define WAIT_NEEDLE "Waiting for the work queued on "
#define OPEN_NEEDLE "Could not open OpenCL device "
#define WAIT_US (120 * G_USEC_PER_SEC)

static const char *self_path;

static gboolean
register_elements (GstPlugin *plugin)
{
  gboolean ok = TRUE;
  ok &= GST_ELEMENT_REGISTER (vtpencoder, plugin);
  ok &= GST_ELEMENT_REGISTER (vtpprojector, plugin);
  ok &= GST_ELEMENT_REGISTER (vtpqformer, plugin);
  ok &= GST_ELEMENT_REGISTER (vtpadapter, plugin);
  ok &= GST_ELEMENT_REGISTER (vtpllm, plugin);
  ok &= GST_ELEMENT_REGISTER (vtpsrtenc, plugin);
  return ok;
}

static void
register_static_plugin (void)
{
  GstElementFactory *f;

  g_assert_true (gst_plugin_register_static (GST_VERSION_MAJOR, GST_VERSION_MINOR, "vtpfaulttest",
          "vtp elements of test-fault's own copy", register_elements, "1.0", "LGPL", "vtp", "vtp",
          "https://example.invalid/vtp"));
  /* the plugin file, when on GST_PLUGIN_PATH, would run another copy */
  f = gst_element_factory_find ("vtpllm");
  g_assert_nonnull (f);
  g_assert_cmpstr (gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (f)), ==, "vtpfaulttest");
  gst_object_unref (f);
}

/* ---- helpers ---- */

/* The domain and code of the last error pop_error found. */
static GQuark last_domain;
static gint last_code;

/* The message of the next error on @bus, or NULL; *@from: its source's
 * factory name. */
static char *
pop_error (GstBus *bus, GstClockTime timeout, char **from)
{
  GstMessage *m = gst_bus_timed_pop_filtered (bus, timeout, GST_MESSAGE_ERROR);
  GError *e = NULL;
  char *text;

  if (!m)
    return NULL;
  gst_message_parse_error (m, &e, NULL);
  text = g_strdup (e->message);
  last_domain = e->domain;
  last_code = e->code;
  if (from) {
    GstElementFactory *f = GST_IS_ELEMENT (GST_MESSAGE_SRC (m))
        ? gst_element_get_factory (GST_ELEMENT (GST_MESSAGE_SRC (m))) : NULL;
    *from = g_strdup (f ? gst_plugin_feature_get_name (GST_PLUGIN_FEATURE (f)) : GST_MESSAGE_SRC_NAME (m));
  }
  g_error_free (e);
  gst_message_unref (m);
  return text;
}

static void
assert_last_error (GQuark domain, gint code)
{
  if (last_domain != domain || last_code != code)
    g_error ("the error is %s %d, not %s %d", g_quark_to_string (last_domain), last_code,
        g_quark_to_string (domain), code);
}

static void
assert_names (const char *msg, const char *const *needles)
{
  g_assert_nonnull (msg);
  for (guint i = 0; needles[i]; i++)
    if (!strstr (msg, needles[i]))
      g_error ("the error \"%s\" does not name \"%s\"", msg, needles[i]);
}

/* An enqueue fault's message: "Kernel NAME failed on DEVICE: out of resources". */
static void
assert_names_kernel (const char *msg, const char *kernel)
{
  g_autoptr (GRegex) re = g_regex_new ("^Kernel [a-z_0-9]+ failed on .+: " ENQUEUE_NEEDLE "$", 0, 0, NULL);

  g_assert_nonnull (msg);
  if (!g_regex_match (re, msg, 0, NULL))
    g_error ("the error \"%s\" does not name the failed kernel launch", msg);
  if (kernel) {
    g_autofree char *want = g_strdup_printf ("Kernel %s failed", kernel);
    assert_names (msg, (const char *[]) { want, NULL });
  }
}

/* A copy fault's message: "Could not upload|read|copy|map|unmap ... a [SHAPE]
 * TYPE tensor ... on DEVICE...: out of resources", after what was being
 * copied when the caller says (a weight, the logits, a frame's pixels). */
static void
assert_names_copy (const char *msg)
{
  g_autoptr (GRegex) re = g_regex_new ("Could not (upload|read|copy|map|unmap) .*\\ba \\[[0-9, ]+\\] [a-z0-9_]+ "
      "tensor .*on .+: " ENQUEUE_NEEDLE "$", 0, 0, NULL);

  g_assert_nonnull (msg);
  if (!g_regex_match (re, msg, 0, NULL))
    g_error ("the error \"%s\" does not name the failed copy and its tensor", msg);
}

/* The message of a fault of @kind names it. */
static void
assert_names_fault (const char *msg, VtpFaultKind kind)
{
  switch (kind) {
    case VTP_FAULT_ALLOC:
      assert_names (msg, (const char *[]) { "Could not allocate a ", " tensor (", ALLOC_NEEDLE, NULL });
      break;
    case VTP_FAULT_COPY:
      assert_names_copy (msg);
      break;
    case VTP_FAULT_FINISH:
      assert_names (msg, (const char *[]) { WAIT_NEEDLE, " failed: " ENQUEUE_NEEDLE, NULL });
      break;
    case VTP_FAULT_CONTEXT:
      assert_names (msg, (const char *[]) { OPEN_NEEDLE, ": creating a", NULL });
      break;
    default:
      g_assert_not_reached ();
  }
}

static const char *
fault_word (VtpFaultKind kind)
{
  switch (kind) {
    case VTP_FAULT_ALLOC: return "allocation";
    case VTP_FAULT_BUILD: return "build";
    case VTP_FAULT_ENQUEUE: return "launch";
    case VTP_FAULT_COPY: return "copy";
    case VTP_FAULT_FINISH: return "wait";
    case VTP_FAULT_CONTEXT: return "context or queue creation";
    case VTP_FAULT_PLATFORM: return "platform or device lookup";
    default: return "?";
  }
}

/* @factory on @fixture (and vtpllm's @adapter), with a bus of its own. */
static GstElement *
make_element (const char *factory, const char *fixture, const char *adapter)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *adapter_dir = adapter ? fixture_path (adapter) : NULL;
  GstElement *e = gst_element_factory_make (factory, NULL);
  GstBus *bus = gst_bus_new ();

  g_assert_nonnull (e);
  g_object_set (e, "model", dir, NULL);
  if (adapter)
    g_object_set (e, "adapter", adapter_dir, NULL);
  gst_element_set_bus (e, bus);
  gst_object_unref (bus);
  return e;
}

/* Messages hold their source: what is left on an element's own bus (the
 * context it posted, with the device) would keep it, and the device, alive. */
static void
flush_bus (GstElement *e)
{
  GstBus *bus = gst_element_get_bus (e);

  gst_bus_set_flushing (bus, TRUE);
  gst_object_unref (bus);
}

static void
drop_element (GstElement *e)
{
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
  flush_bus (e);
  gst_object_unref (e);
}

/* ---- one element and its reference, for the harness tests ---- */

typedef struct {
  const char *name;             /* the test path's last part */
  const char *factory, *fixture, *adapter;
  const char *input, *output;   /* reference tensors; output NULL: text */
  const char *text_key;         /* reference.json key of the text (vtpllm) */
  const char *caps_kind;        /* input caps kind; NULL: the encoder's RGB frames */
  const char *prompt_key;       /* reference.json key of the prompt, or NULL */
  /* weight-type; then the reference is the element's own output on a
   * clean start (quantized or bfloat16 products are not transformers'),
   * and the GEMM of many rows takes a copy of x in a buffer of each call's
   * own (int8 or bfloat16) where the CPU has the instructions */
  const char *weight_type;
  const char *copy_kernel;      /* the kernel that makes that copy */
} Case;

static const Case cases[] = {
  { "vtpencoder", "vtpencoder", "llava-tiny-a", NULL, "image", "vision_features", NULL, NULL, NULL, NULL, NULL },
  { "vtpprojector", "vtpprojector", "llava-tiny-a", NULL, "vision_features", "projector_output", NULL,
    "vision-features", NULL, NULL, NULL },
  { "vtpqformer", "vtpqformer", "blip2-tiny", NULL, "image_embeds", "projected", NULL, "vision-features",
    "instruction", NULL, NULL },
  { "vtpadapter", "vtpadapter", "adapter-tiny/v2", NULL, "clip_features", "prompts", NULL, "vision-features", NULL,
    NULL, NULL },
  { "vtpllm", "vtpllm", "llava-tiny-a", NULL, "projector_output", NULL, "greedy_text", "image-embeddings", NULL,
    NULL, NULL },
  { "vtpllm-q8_0", "vtpllm", "llava-tiny-a", NULL, "projector_output", NULL, NULL, "image-embeddings", NULL,
    "q8_0", "quantize_rows_q8" },
  { "vtpllm-bf16", "vtpllm", "llava-tiny-a", NULL, "projector_output", NULL, NULL, "image-embeddings", NULL,
    "bf16", "x_to_bf16_pairs" },
  { "vtpencoder-bf16", "vtpencoder", "llava-tiny-a", NULL, "image", "vision_features", NULL, NULL, NULL,
    "bf16", "x_to_bf16_pairs" },
};

static const Case *
find_case (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    if (!strcmp (cases[i].name, name))
      return &cases[i];
  g_assert_not_reached ();
}

/* The clean outputs of the cases with a weight type: name -> GBytes. */
static GHashTable *own_outputs;

static GBytes *
buffer_bytes (GstBuffer *buf)
{
  GstMapInfo map;
  GBytes *b;

  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  b = g_bytes_new (map.data, map.size);
  gst_buffer_unmap (buf, &map);
  return b;
}

/* The reference of @c's fixture (adapter-tiny/v2: adapter-tiny's). */
static VtpSafetensors *
case_reference (const Case *c)
{
  g_autofree char *top = g_strdup (c->fixture);
  char *slash = strchr (top, '/');
  if (slash)
    *slash = '\0';
  return open_reference (top);
}

static char *
case_reference_string (const Case *c, const char *key)
{
  g_autofree char *top = g_strdup (c->fixture);
  char *slash = strchr (top, '/');
  if (slash)
    *slash = '\0';
  return reference_string (top, key);
}

typedef struct {
  const Case *c;
  GstHarness *h;
  VtpSafetensors *ref;
  char *text;                   /* vtpllm's expected text */
  char *prompt;
} Run;

/* The encoder's input: the reference image as an RGB frame. */
static GstBuffer *
rgb_frame (const VtpStTensor *img, GstVideoInfo *info)
{
  const gint w = img->shape[1], hh = img->shape[0];
  GstBuffer *in = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstVideoFrame frame;

  g_assert_true (gst_video_frame_map (&frame, info, in, GST_MAP_WRITE));
  for (gint y = 0; y < hh; y++)
    memcpy ((guint8 *) GST_VIDEO_FRAME_PLANE_DATA (&frame, 0) + y * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, 0),
        img->data + (gsize) y * w * 3, w * 3);
  gst_video_frame_unmap (&frame);
  return in;
}

static GstBuffer *
run_input (Run *r)
{
  const VtpStTensor *in = vtp_safetensors_find (r->ref, r->c->input);
  GstBuffer *buf;

  g_assert_nonnull (in);
  if (!r->c->caps_kind) {
    GstVideoInfo info;
    g_autoptr (GstCaps) caps = gst_pad_get_current_caps (r->h->srcpad);
    g_assert_true (gst_video_info_from_caps (&info, caps));
    buf = rgb_frame (in, &info);
  } else
    buf = buffer_from (in);
  if (r->prompt)
    gst_buffer_add_vtp_prompt_meta (buf, r->prompt);
  return buf;
}

/* @c's input caps, with @tokens rows (0: the reference's). */
static char *
case_caps (const Case *c, const VtpStTensor *in, gint tokens)
{
  if (!tokens)
    tokens = (gint) in->shape[0];
  if (c->caps_kind)
    return g_strdup_printf (GST_VTP_TENSOR_MEDIA_TYPE ",kind=%s,tokens=%d,width=%d", c->caps_kind, tokens,
        (gint) in->shape[1]);
  return g_strdup_printf ("video/x-raw,format=RGB,width=%d,height=%d,framerate=0/1", (gint) in->shape[1],
      (gint) in->shape[0]);
}

/* A harness on @c's element, started (so its allocations are done); with
 * @caps, its input caps set. */
static Run *
run_new_full (const Case *c, gboolean caps)
{
  Run *r = g_new0 (Run, 1);

  r->c = c;
  r->ref = case_reference (c);
  {
    GstElement *e = make_element (c->factory, c->fixture, c->adapter);
    if (c->weight_type)
      gst_util_set_object_arg (G_OBJECT (e), "weight-type", c->weight_type);
    r->h = gst_harness_new_with_element (e, "sink", "src");
    gst_object_unref (e);       /* the harness holds it */
  }
  if (c->prompt_key) {
    r->prompt = case_reference_string (c, c->prompt_key);
    g_object_set (r->h->element, "prompt", r->prompt, NULL);
  }
  if (c->text_key)
    r->text = case_reference_string (c, c->text_key);
  if (!strcmp (c->factory, "vtpllm")) {
    g_object_set (r->h->element, "max-new-tokens", 20, NULL);
    /* each text as soon as it is written */
    gst_util_set_object_arg (G_OBJECT (r->h->element), "timestamps", "frame");
    g_object_set (r->h->element, "text-duration", (guint64) GST_SECOND, NULL);
  }
  if (caps) {
    g_autofree char *s = case_caps (c, vtp_safetensors_find (r->ref, c->input), 0);
    gst_harness_set_src_caps_str (r->h, s);
  }
  return r;
}

static Run *
run_new (const Case *c)
{
  return run_new_full (c, TRUE);
}

/* Sends @r's input caps with @tokens rows (0: the reference's), then a
 * segment (as gst_harness_set_src_caps does). Caps the element refuses
 * stay on the harness's pad, sticky, and go again before the next event or
 * buffer (here the segment); gst_pad_push_event says TRUE either way. */
static void
run_caps_full (Run *r, gint tokens, gboolean segment)
{
  g_autofree char *s = case_caps (r->c, vtp_safetensors_find (r->ref, r->c->input), tokens);
  g_autoptr (GstCaps) caps = gst_caps_from_string (s);
  GstSegment seg;

  gst_pad_push_event (r->h->srcpad, gst_event_new_caps (caps));
  if (!segment)
    return;
  gst_segment_init (&seg, GST_FORMAT_TIME);
  gst_pad_push_event (r->h->srcpad, gst_event_new_segment (&seg));
}

static void
run_caps (Run *r, gint tokens)
{
  run_caps_full (r, tokens, TRUE);
}

static void
run_free (Run *r)
{
  flush_bus (r->h->element);
  gst_harness_teardown (r->h);
  vtp_safetensors_free (r->ref);
  g_free (r->text);
  g_free (r->prompt);
  g_free (r);
}

/* Pushes one frame: its output, or NULL and *@error the message the
 * element posted. The encoder describes frames on a worker of its own,
 * so both are waited for. */
static GstBuffer *
run_frame (Run *r, char **error)
{
  GstBus *bus = gst_element_get_bus (r->h->element);
  GstFlowReturn ret = gst_harness_push (r->h, run_input (r));
  const gint64 end = g_get_monotonic_time () + WAIT_US;
  GstBuffer *out = NULL;

  *error = NULL;
  while (!out && !*error && g_get_monotonic_time () < end) {
    if (!(out = gst_harness_try_pull (r->h)) && !(*error = pop_error (bus, 0, NULL)))
      g_usleep (1000);
  }
  gst_object_unref (bus);
  if (!out && !*error)
    g_error ("%s: neither an output nor an error in %d s (flow %s)", r->c->factory, (int) (WAIT_US / G_USEC_PER_SEC),
        gst_flow_get_name (ret));
  if (*error) {
    /* the synchronous elements say so at once; nothing comes out */
    g_assert_true (r->c->caps_kind == NULL || ret == GST_FLOW_ERROR);
    g_assert_null (out);
  }
  return out;
}

/* A frame that must come out. */
static GstBuffer *
run_frame_ok (Run *r)
{
  g_autofree char *error = NULL;
  GstBuffer *out = run_frame (r, &error);

  if (error)
    g_error ("%s: unexpected error: %s", r->c->factory, error);
  return out;
}

/* The output is the reference's. */
static void
assert_reference (Run *r, GstBuffer *out)
{
  g_assert_nonnull (out);
  if (r->c->weight_type) {
    /* the first clean frame sets it; the same kernels on the same data
     * give the same bytes */
    g_autoptr (GBytes) got = buffer_bytes (out);
    GBytes *want;
    if (!own_outputs)
      own_outputs = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) g_bytes_unref);
    if (!(want = g_hash_table_lookup (own_outputs, r->c->name)))
      g_hash_table_insert (own_outputs, (gpointer) r->c->name, g_bytes_ref (got));
    else if (!g_bytes_equal (got, want))
      g_error ("%s: the output differs from the clean run's", r->c->name);
  } else if (r->text) {
    g_autofree char *text = buffer_text (out);
    g_assert_cmpstr (text, ==, r->text);
  } else
    g_assert_cmpfloat (max_error (out, vtp_safetensors_find (r->ref, r->c->output)), <=, 1e-4);
  gst_buffer_unref (out);
}

/* After an error: the encoder's frame gate keeps the error flow (as a
 * queue does) until a flush; the others take the next frame as it comes. */
static void
run_recover (Run *r)
{
  GstSegment seg;

  if (r->c->caps_kind)
    return;
  g_assert_true (gst_harness_push_event (r->h, gst_event_new_flush_start ()));
  g_assert_true (gst_harness_push_event (r->h, gst_event_new_flush_stop (TRUE)));
  gst_segment_init (&seg, GST_FORMAT_TIME);
  g_assert_true (gst_harness_push_event (r->h, gst_event_new_segment (&seg)));
}

/* ---- the switch ---- */

static void
assert_spec (const char *spec, gboolean ok)
{
  g_autoptr (GError) error = NULL;

  g_assert_cmpint (vtp_fault_set_from_string (spec, &error), ==, ok);
  if (ok)
    g_assert_no_error (error);
  else {
    g_autofree char *want = g_strdup_printf ("VTP_FAULT=\"%s\"", spec);
    g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
    assert_names (error->message, (const char *[]) { want, "alloc[:N]", "enqueue:KERNEL[:N]", NULL });
  }
}

/* VTP_FAULT's syntax, and the hooks counting to the Nth event. */
static void
test_switch (void)
{
  const char *good[] = { "alloc", "alloc:3", "ALLOC:1", "build", "build:2", "enqueue", "enqueue:7", "enqueue:rmsnorm",
    "enqueue:linear_p16_f32:4", "copy", "copy:12", "Copy:1", "finish", "finish:3", "context", "CONTEXT:2",
    "platform", "Platform:2", "lost", "lost:40", "none", "" };
  const char *bad[] = { "alloc:0", "alloc:x", "alloc:-1", "alloc:3:4", "alloc:", "build:rmsnorm", "enqueue:rms-norm",
    "enqueue:rmsnorm:0", "enqueue:rmsnorm:x", "enqueue:a:1:2", "oom", "alloc 3", "alloc:99999999999", "copy:0",
    "copy:rmsnorm", "copy:1:2", "finish:", "finish:x", "context:0", "context:rmsnorm", "copies", "wait", "platform:0",
    "platform:rmsnorm", "platforms", "lost:0", "lost:x" };
  g_autofree char *k = NULL;
  guint fired;

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    assert_spec (good[i], TRUE);
  g_assert_false (vtp_fault_armed ());
  {
    g_autoptr (GError) error = NULL;
    g_assert_false (vtp_fault_set_from_string ("oom", &error));
    assert_names (error->message, (const char *[]) { "copy[:N]", "finish[:N]", "context[:N]", "platform[:N]", NULL });
  }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    assert_spec (bad[i], FALSE);

  /* the 3rd allocation from now, once */
  fired = vtp_fault_fired ();
  assert_spec ("alloc:3", TRUE);
  g_assert_true (vtp_fault_armed ());
  g_assert_false (vtp_fault_enqueue ("rmsnorm"));
  g_assert_false (vtp_fault_build ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_true (vtp_fault_alloc ());
  g_assert_false (vtp_fault_armed ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);

  /* the 2nd launch of one kernel; other kernels do not count */
  assert_spec ("enqueue:rmsnorm:2", TRUE);
  k = vtp_fault_armed_kernel ();
  g_assert_cmpstr (k, ==, "rmsnorm");
  g_assert_false (vtp_fault_enqueue ("rmsnorm"));
  g_assert_false (vtp_fault_enqueue ("layernorm"));
  g_assert_false (vtp_fault_alloc ());
  g_assert_true (vtp_fault_enqueue ("rmsnorm"));
  g_assert_false (vtp_fault_enqueue ("rmsnorm"));

  /* copies, waits, context creations: each counts its own kind only */
  assert_spec ("copy:2", TRUE);
  g_assert_false (vtp_fault_copy ());
  g_assert_false (vtp_fault_finish ());
  g_assert_false (vtp_fault_context ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_false (vtp_fault_enqueue ("rmsnorm"));
  g_assert_true (vtp_fault_copy ());
  g_assert_false (vtp_fault_copy ());
  assert_spec ("finish:2", TRUE);
  g_assert_false (vtp_fault_copy ());
  g_assert_false (vtp_fault_finish ());
  g_assert_false (vtp_fault_context ());
  g_assert_true (vtp_fault_finish ());
  assert_spec ("context", TRUE);
  g_assert_false (vtp_fault_finish ());
  g_assert_false (vtp_fault_copy ());
  g_assert_true (vtp_fault_context ());
  g_assert_false (vtp_fault_context ());
  assert_spec ("platform:2", TRUE);
  g_assert_false (vtp_fault_context ());
  g_assert_false (vtp_fault_platform ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_true (vtp_fault_platform ());
  g_assert_false (vtp_fault_platform ());
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 6);
  {
    const guint64 copies = vtp_fault_events (VTP_FAULT_COPY), waits = vtp_fault_events (VTP_FAULT_FINISH);
    vtp_fault_copy ();
    vtp_fault_finish ();
    vtp_fault_finish ();
    g_assert_cmpuint (vtp_fault_events (VTP_FAULT_COPY), ==, copies + 1);
    g_assert_cmpuint (vtp_fault_events (VTP_FAULT_FINISH), ==, waits + 2);
  }
  fired = vtp_fault_fired ();

  /* the hook replaces and clears */
  vtp_fault_set (VTP_FAULT_BUILD, 0, NULL);
  g_assert_true (vtp_fault_armed ());
  vtp_fault_set (VTP_FAULT_ENQUEUE, 1, NULL);
  g_assert_false (vtp_fault_build ());
  g_assert_true (vtp_fault_enqueue ("anything"));
  vtp_fault_set (VTP_FAULT_COPY, 1, NULL);
  g_assert_false (vtp_fault_finish ());
  g_assert_true (vtp_fault_copy ());
  vtp_fault_set (VTP_FAULT_ALLOC, 1, NULL);
  vtp_fault_set (VTP_FAULT_NONE, 0, NULL);
  g_assert_false (vtp_fault_armed ());
  g_assert_false (vtp_fault_alloc ());
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 2);
}

/* ---- allocation failures while an element starts ---- */

typedef struct {
  const char *factory, *fixture, *adapter;
} StartCase;

static const StartCase start_cases[] = {
  { "vtpencoder", "llava-tiny-a", NULL },
  { "vtpprojector", "llava-tiny-b", NULL },
  { "vtpqformer", "instructblip-tiny", NULL },
  { "vtpadapter", "adapter-tiny/v2", NULL },
  { "vtpllm", "llava-tiny-a", NULL },
  { "vtpllm", "adapter-tiny/llama", "adapter-tiny/v2" },
};

/* Every event of @kind a start makes (every allocation, copy or wait)
 * fails in turn: each time the state change fails with the event named,
 * the model cache is left empty, and the element starts when the fault is
 * gone. */
static void
test_start (gconstpointer data)
{
  const VtpFaultKind kind = GPOINTER_TO_INT (data);
  g_autoptr (GError) error = NULL;
  /* one device for the whole test: no kernel build per start */
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);

  g_assert_no_error (error);
  for (guint c = 0; c < G_N_ELEMENTS (start_cases); c++) {
    const StartCase *sc = &start_cases[c];
    GstElement *e = make_element (sc->factory, sc->fixture, sc->adapter);
    GstBus *bus = gst_element_get_bus (e);
    guint64 before = vtp_fault_events (kind);
    guint n;

    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
    n = (guint) (vtp_fault_events (kind) - before);
    g_assert_cmpuint (vtp_model_cache_size (), >, 0);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
    g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
    g_assert_cmpuint (n, >, 0);
    g_test_message ("%s on %s: %u %s events at start", sc->factory, sc->fixture, n, fault_word (kind));

    for (guint i = 1; i <= n; i++) {
      const guint fired = vtp_fault_fired ();
      g_autofree char *msg = NULL;

      vtp_fault_set (kind, i, NULL);
      g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
      g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
      msg = pop_error (bus, 0, NULL);
      if (i == 1 || i == n)
        g_test_message ("%s %u of %u: %s", fault_word (kind), i, n, msg);
      assert_names_fault (msg, kind);
      /* a copy or wait names what it was uploading: a weight, a table */
      if (kind != VTP_FAULT_ALLOC && (g_str_has_prefix (msg, "Could not ") || g_str_has_prefix (msg, WAIT_NEEDLE)))
        g_error ("the error \"%s\" does not say what was being uploaded", msg);
      assert_last_error (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
      g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
      g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
    }
    g_assert_false (vtp_fault_armed ());
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
    gst_object_unref (bus);
    drop_element (e);
  }
}

/* A weight's upload names the weight: its copy (map, for a matrix packed
 * in panels on a CPU; plain upload for a vector) and the wait after it. */
static void
test_copy_weight_named (void)
{
  const VtpFaultKind kinds[] = { VTP_FAULT_COPY, VTP_FAULT_FINISH };

  for (guint k = 0; k < G_N_ELEMENTS (kinds); k++) {
    GstElement *e = make_element ("vtpprojector", "llava-tiny-a", NULL);
    GstBus *bus = gst_element_get_bus (e);
    g_autofree char *msg = NULL;

    vtp_fault_set (kinds[k], 1, NULL);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
    msg = pop_error (bus, 0, NULL);
    g_test_message ("%s", msg);
    assert_names (msg, (const char *[]) { "Loading the weight multi_modal_projector.", NULL });
    assert_names_fault (msg, kinds[k]);
    if (kinds[k] == VTP_FAULT_COPY)
      assert_names (msg, (const char *[]) { "] f32 tensor ", NULL });
    gst_object_unref (bus);
    drop_element (e);
    g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
  }
}

/* A weight's allocation names the weight. */
static void
test_alloc_weight_named (void)
{
  GstElement *e = make_element ("vtpprojector", "llava-tiny-a", NULL);
  GstBus *bus = gst_element_get_bus (e);
  g_autofree char *msg = NULL;

  vtp_fault_set (VTP_FAULT_ALLOC, 1, NULL);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
  msg = pop_error (bus, 0, NULL);
  g_test_message ("%s", msg);
  assert_names (msg, (const char *[]) { "Loading the weight multi_modal_projector.", ".weight: Could not allocate a [",
        "] f32 tensor (", " bytes) on ", ALLOC_NEEDLE, NULL });
  gst_object_unref (bus);
  drop_element (e);
}

/* ---- failures while a frame is processed ---- */

/* Events of @kind one frame of @c makes, on a fresh start (or with
 * @second, the frame after the first: a decode step's table of device
 * addresses is made once, in the first). */
static guint
frame_events (const Case *c, VtpFaultKind kind, gboolean second)
{
  Run *r = run_new (c);
  guint64 before;
  GstBuffer *out;
  guint n;

  if (second)
    assert_reference (r, run_frame_ok (r));
  before = vtp_fault_events (kind);
  out = run_frame_ok (r);
  n = (guint) (vtp_fault_events (kind) - before);
  assert_reference (r, out);
  run_free (r);
  return n;
}

/* The @nth event of @kind (of @kernel) in a frame fails: the element
 * posts an error naming it and outputs nothing; the next frame gives the
 * reference. */
static void
fail_frame (Run *r, VtpFaultKind kind, guint nth, const char *kernel, gboolean verbose)
{
  const guint fired = vtp_fault_fired ();
  g_autofree char *msg = NULL;
  GstBuffer *out;

  vtp_fault_set (kind, nth, kernel);
  out = run_frame (r, &msg);
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
  g_assert_null (out);
  if (verbose)
    g_test_message ("%s, %s %u%s%s: %s", r->c->name, fault_word (kind), nth, kernel ? " of " : "",
        kernel ? kernel : "", msg);
  if (kind == VTP_FAULT_ALLOC) {
    /* a tensor, or a GEMM's copy of x ("linear: no room for the int8 copy of N rows of x: ...") */
    if (!g_str_has_prefix (msg, "linear: no room for the "))
      assert_names (msg, (const char *[]) { "Could not allocate a ", NULL });
    assert_names (msg, (const char *[]) { ALLOC_NEEDLE, NULL });
    /* the output tensor (prepare_output_buffer), or one the computation needs */
    if (last_domain == GST_RESOURCE_ERROR)
      assert_last_error (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT);
    else
      assert_last_error (GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED);
  } else if (kind == VTP_FAULT_ENQUEUE) {
    assert_names_kernel (msg, kernel);
    assert_last_error (GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED);
  } else {
    assert_names_fault (msg, kind);
    assert_last_error (GST_STREAM_ERROR, GST_STREAM_ERROR_FAILED);
  }
  run_recover (r);
  assert_reference (r, run_frame_ok (r));
}

/* Every allocation of an element's first frame fails in turn (a fresh
 * start each time: later frames reuse the buffers). */
static void
test_alloc_frame (gconstpointer data)
{
  const Case *c = find_case (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const guint n = frame_events (c, VTP_FAULT_ALLOC, FALSE);

  g_assert_no_error (error);
  g_test_message ("%s: %u allocations in its first frame", c->name, n);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 1; i <= n; i++) {
    Run *r = run_new (c);
    fail_frame (r, VTP_FAULT_ALLOC, i, NULL, i == 1 || i == n);
    run_free (r);
  }
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
}

/* Kernel launches of a frame fail: every one for the bridges and the
 * encoder, a spread for vtpllm (thousands); one named kernel too. */
static void
test_enqueue_frame (gconstpointer data)
{
  const Case *c = find_case (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const guint n = frame_events (c, VTP_FAULT_ENQUEUE, TRUE);
  const gboolean llm = !strcmp (c->factory, "vtpllm");
  Run *r = run_new (c);
  GArray *which = g_array_new (FALSE, FALSE, sizeof (guint));

  g_assert_no_error (error);
  g_test_message ("%s: %u kernel launches a frame", c->name, n);
  g_assert_cmpuint (n, >, 0);
  /* a frame first (it also makes the decode step's table): later frames make
   * the same launches */
  assert_reference (r, run_frame_ok (r));
  if (llm) {
    const guint spread[] = { 1, 2, 3, n / 7, n / 3, n / 2, 2 * n / 3, n - 2, n - 1, n };
    for (guint i = 0; i < G_N_ELEMENTS (spread); i++)
      g_array_append_val (which, spread[i]);
  } else
    for (guint i = 1; i <= n; i++)
      g_array_append_val (which, i);
  for (guint i = 0; i < which->len; i++)
    fail_frame (r, VTP_FAULT_ENQUEUE, g_array_index (which, guint, i), NULL, i == 0 || i + 1 == which->len);
  /* by name: the language model's norm and RoPE (the prompt's), a fused
   * decode layer's (PoCL CPUs) or the 5th RoPE, the encoder's pixel
   * normalization, the GEMMs' copies of x where this CPU makes them */
  if (llm) {
    fail_frame (r, VTP_FAULT_ENQUEUE, 1, "rmsnorm", TRUE);
    fail_frame (r, VTP_FAULT_ENQUEUE, 1, "rope_qk", TRUE);
    fail_frame (r, VTP_FAULT_ENQUEUE, 5, dev->pocl_cpu ? "decode_token" : "rope_qk", TRUE);
    if (dev->pocl_cpu) {
      /* the decode step's table, half made in a first frame: made again
       * in the next (fail_frame: it gives the reference) */
      Run *fresh = run_new (c);
      fail_frame (fresh, VTP_FAULT_ENQUEUE, 2, "dl_addresses", TRUE);
      run_free (fresh);
    }
  } else if (!c->caps_kind)
    fail_frame (r, VTP_FAULT_ENQUEUE, 1, "image_crop_normalize", TRUE);
  if (c->copy_kernel && (!strcmp (c->weight_type, "q8_0") ? dev->int8_dot : dev->bf16_dot)) {
    fail_frame (r, VTP_FAULT_ENQUEUE, 1, c->copy_kernel, TRUE);
  } else if (c->copy_kernel)
    g_test_message ("%s: this CPU makes no %s copy of x", c->name, c->weight_type);
  g_array_unref (which);
  run_free (r);
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
}

/* Every copy (upload, read-back, device-side copy) or every wait of an
 * element's first frame fails in turn (a fresh start each time: the first
 * frame also uploads tables later frames reuse), a spread past 100 (there
 * are 43 at most here, vtpllm's): an error naming it, no output, and the
 * next frame gives the reference. */
static void
test_frame_kind (const Case *c, VtpFaultKind kind)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  const guint n = frame_events (c, kind, FALSE);
  GArray *which = g_array_new (FALSE, FALSE, sizeof (guint));

  g_assert_no_error (error);
  g_test_message ("%s: %u %s events in its first frame", c->name, n, fault_word (kind));
  g_assert_cmpuint (n, >, 0);
  if (n > 100) {
    const guint spread[] = { 1, 2, 3, n / 7, n / 3, n / 2, 2 * n / 3, n - 2, n - 1, n };
    for (guint i = 0; i < G_N_ELEMENTS (spread); i++)
      g_array_append_val (which, spread[i]);
  } else
    for (guint i = 1; i <= n; i++)
      g_array_append_val (which, i);
  for (guint i = 0; i < which->len; i++) {
    Run *r = run_new (c);
    fail_frame (r, kind, g_array_index (which, guint, i), NULL, TRUE);
    run_free (r);
  }
  g_array_unref (which);
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
}

static void
test_copy_frame (gconstpointer data)
{
  test_frame_kind (find_case (data), VTP_FAULT_COPY);
}

static void
test_finish_frame (gconstpointer data)
{
  test_frame_kind (find_case (data), VTP_FAULT_FINISH);
}

/* The bridges allocate their working buffers when the caps come: every
 * one of those allocations fails in turn; the caps are refused with an
 * error naming it, go again (sticky on the harness's pad) and are taken,
 * and the next frame gives the reference. Then a renegotiation to another
 * size fails, and the first caps again must work (not find a state freed
 * for the new size). */
static void
test_alloc_caps (gconstpointer data)
{
  const Case *c = find_case (data);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  Run *r = run_new_full (c, FALSE);
  const guint64 before = vtp_fault_events (VTP_FAULT_ALLOC);
  const guint64 copies_before = vtp_fault_events (VTP_FAULT_COPY);
  const gint tokens = (gint) vtp_safetensors_find (r->ref, c->input)->shape[0];
  guint n;

  g_assert_no_error (error);
  run_caps (r, 0);
  n = (guint) (vtp_fault_events (VTP_FAULT_ALLOC) - before);
  /* the working buffers are allocated, not uploaded to: no copy fault to
   * inject at negotiation (were there one, this would say so) */
  g_assert_cmpuint (vtp_fault_events (VTP_FAULT_COPY) - copies_before, ==, 0);
  assert_reference (r, run_frame_ok (r));
  run_free (r);
  g_test_message ("%s: %u allocations at negotiation", c->factory, n);
  g_assert_cmpuint (n, >, 0);
  for (guint i = 1; i <= n; i++) {
    const guint fired = vtp_fault_fired ();
    GstBus *bus;
    g_autofree char *msg = NULL;

    r = run_new_full (c, FALSE);
    bus = gst_element_get_bus (r->h->element);
    vtp_fault_set (VTP_FAULT_ALLOC, i, NULL);
    run_caps (r, 0);
    g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
    msg = pop_error (bus, 0, NULL);
    if (i == 1 || i == n)
      g_test_message ("%s, allocation %u at negotiation: %s", c->factory, i, msg);
    assert_names (msg, (const char *[]) { "Could not allocate a ", ALLOC_NEEDLE, NULL });
    assert_last_error (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NO_SPACE_LEFT);
    gst_object_unref (bus);
    assert_reference (r, run_frame_ok (r));
    run_free (r);
  }

  /* (the refused caps are replaced before they can go again) */
  r = run_new (c);
  assert_reference (r, run_frame_ok (r));
  vtp_fault_set (VTP_FAULT_ALLOC, 1, NULL);
  run_caps_full (r, tokens + 1, FALSE);
  {
    GstBus *bus = gst_element_get_bus (r->h->element);
    g_autofree char *msg = pop_error (bus, 0, NULL);
    assert_names (msg, (const char *[]) { "Could not allocate a ", ALLOC_NEEDLE, NULL });
    gst_object_unref (bus);
  }
  run_caps (r, 0);
  assert_reference (r, run_frame_ok (r));
  run_free (r);
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
}

/* ---- the kernel build ---- */

/* No device is open: the next start builds the program, and that build
 * fails. The device is not kept: the start after builds again and works. */
static void
test_build (void)
{
  const Case *c = find_case ("vtpprojector");
  GstElement *e = make_element (c->factory, c->fixture, NULL);
  GstBus *bus = gst_element_get_bus (e);
  const guint64 builds = vtp_fault_events (VTP_FAULT_BUILD);
  const guint fired = vtp_fault_fired ();
  g_autofree char *msg = NULL;
  Run *r;

  vtp_fault_set (VTP_FAULT_BUILD, 1, NULL);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
  g_assert_cmpuint (vtp_fault_events (VTP_FAULT_BUILD), ==, builds + 1);
  msg = pop_error (bus, 0, NULL);
  g_test_message ("%s", msg);
  assert_names (msg, (const char *[]) { "Building the vtp kernels for ", " failed (" BUILD_NEEDLE "):",
        "injected", NULL });
  assert_last_error (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);

  /* the same element again, then a frame */
  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
  g_assert_cmpuint (vtp_fault_events (VTP_FAULT_BUILD), ==, builds + 2);
  gst_object_unref (bus);
  drop_element (e);
  r = run_new (c);
  assert_reference (r, run_frame_ok (r));
  run_free (r);
}

/* ---- the device's context and queue ---- */

/* No device is open: a start opens it, creating its context, then its
 * queue; each creation fails in turn. The start fails naming it, no model
 * and no device are kept, and the start after opens the device and works. */
static void
test_context (void)
{
  const Case *c = find_case ("vtpprojector");
  const guint64 before = vtp_fault_events (VTP_FAULT_CONTEXT);
  const char *const what[] = { "creating an OpenCL context failed: device not available",
    "creating a command queue failed: " ENQUEUE_NEEDLE };
  GstElement *e = make_element (c->factory, c->fixture, NULL);
  Run *r;

  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
  drop_element (e);
  /* (a device that stayed open would open nothing here) */
  g_assert_cmpuint (vtp_fault_events (VTP_FAULT_CONTEXT) - before, ==, G_N_ELEMENTS (what));
  for (guint i = 1; i <= G_N_ELEMENTS (what); i++) {
    const guint fired = vtp_fault_fired ();
    const guint64 opened = vtp_fault_events (VTP_FAULT_CONTEXT);
    GstBus *bus;
    g_autofree char *msg = NULL;

    e = make_element (c->factory, c->fixture, NULL);
    bus = gst_element_get_bus (e);
    vtp_fault_set (VTP_FAULT_CONTEXT, i, NULL);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
    g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
    g_assert_cmpuint (vtp_fault_events (VTP_FAULT_CONTEXT), ==, opened + i);
    msg = pop_error (bus, 0, NULL);
    g_test_message ("context or queue creation %u: %s", i, msg);
    assert_names_fault (msg, VTP_FAULT_CONTEXT);
    assert_names (msg, (const char *[]) { what[i - 1], NULL });
    assert_last_error (GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_OPEN_READ);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
    g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
    gst_object_unref (bus);
    drop_element (e);
  }
  /* the device opens again: a context and a queue */
  {
    const guint64 opened = vtp_fault_events (VTP_FAULT_CONTEXT);
    r = run_new (c);
    assert_reference (r, run_frame_ok (r));
    run_free (r);
    g_assert_cmpuint (vtp_fault_events (VTP_FAULT_CONTEXT), ==, opened + 2);
  }
}

/* ---- the platform and device lookup ---- */

/* No device is open: a start lists the platforms, then each platform's
 * devices; the list of platforms, then the first platform's device list
 * (with one platform, as PoCL alone: then no device is left) fail in turn.
 * The start fails saying what was not found, nothing is kept, and the
 * start after finds the device and works. */
static void
test_platform (void)
{
  const Case *c = find_case ("vtpprojector");
  const guint64 before = vtp_fault_events (VTP_FAULT_PLATFORM);
  const char *const what[] = { "No OpenCL platform found (none registered); install an OpenCL driver",
    "OpenCL platforms are registered but expose no device" };
  GstElement *e = make_element (c->factory, c->fixture, NULL);
  guint lookups;
  Run *r;

  g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), !=, GST_STATE_CHANGE_FAILURE);
  drop_element (e);
  /* the platform list, then one device list per platform */
  lookups = (guint) (vtp_fault_events (VTP_FAULT_PLATFORM) - before);
  g_assert_cmpuint (lookups, >=, 2);
  for (guint i = 1; i <= (lookups == 2 ? 2 : 1); i++) {
    const guint fired = vtp_fault_fired ();
    GstBus *bus;
    g_autofree char *msg = NULL;

    e = make_element (c->factory, c->fixture, NULL);
    bus = gst_element_get_bus (e);
    vtp_fault_set (VTP_FAULT_PLATFORM, i, NULL);
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_PAUSED), ==, GST_STATE_CHANGE_FAILURE);
    g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
    msg = pop_error (bus, 0, NULL);
    g_test_message ("platform or device lookup %u: %s", i, msg);
    assert_names (msg, (const char *[]) { what[i - 1], NULL });
    g_assert_cmpint (gst_element_set_state (e, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
    g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
    gst_object_unref (bus);
    drop_element (e);
  }
  r = run_new (c);
  assert_reference (r, run_frame_ok (r));
  run_free (r);
}

/* ---- whole pipelines: to NULL and back after each fault ---- */

static void
link_decoded (GstElement *dec, GstPad *pad, GstElement *conv)
{
  GstPad *sink = gst_element_get_static_pad (conv, "sink");
  if (!gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  gst_object_unref (sink);
}

/* filesrc ! decodebin ! videoconvert ! vtpencoder ! vtpprojector ! vtpllm ! appsink on @fixture. */
static GstElement *
describe_pipeline (const char *fixture, GstElement **sink)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *image = g_build_filename (dir, "image.png", NULL);
  GstElement *pipe = gst_pipeline_new (NULL);
  GstElement *src = gst_element_factory_make ("filesrc", NULL);
  GstElement *dec = gst_element_factory_make ("decodebin", NULL);
  GstElement *conv = gst_element_factory_make ("videoconvert", NULL);
  GstElement *enc = gst_element_factory_make ("vtpencoder", NULL);
  GstElement *proj = gst_element_factory_make ("vtpprojector", NULL);
  GstElement *llm = gst_element_factory_make ("vtpllm", NULL);

  *sink = gst_element_factory_make ("appsink", NULL);
  g_assert_true (src && dec && conv && enc && proj && llm && *sink);
  g_object_set (src, "location", image, NULL);
  g_object_set (enc, "model", dir, NULL);
  g_object_set (proj, "model", dir, NULL);
  g_object_set (llm, "model", dir, "max-new-tokens", 20, "prompt", "What is in the picture?", NULL);
  g_object_set (*sink, "sync", FALSE, NULL);
  gst_bin_add_many (GST_BIN (pipe), src, dec, conv, enc, proj, llm, *sink, NULL);
  g_assert_true (gst_element_link (src, dec));
  g_assert_true (gst_element_link_many (conv, enc, proj, llm, *sink, NULL));
  g_signal_connect (dec, "pad-added", G_CALLBACK (link_decoded), conv);
  return pipe;
}

/* Plays @pipe: the reference text, then EOS. */
static void
assert_describes (GstElement *pipe, GstElement *sink, const char *want)
{
  GstSample *sample;
  GstMessage *m;
  g_autofree char *text = NULL;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), WAIT_US * GST_USECOND);
  if (!sample) {
    g_autofree char *err = pop_error (GST_ELEMENT_BUS (pipe), 0, NULL);
    g_error ("no text; error: %s", err ? err : "none");
  }
  text = buffer_text (gst_sample_get_buffer (sample));
  gst_sample_unref (sample);
  g_assert_cmpstr (text, ==, want);
  m = gst_bus_timed_pop_filtered (GST_ELEMENT_BUS (pipe), WAIT_US * GST_USECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
  g_assert_nonnull (m);
  g_assert_cmpint (GST_MESSAGE_TYPE (m), ==, GST_MESSAGE_EOS);
  gst_message_unref (m);
  g_assert_cmpint (gst_element_set_state (pipe, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
}

/* Plays @pipe with a fault armed: an error from a vtp element (*@from, its
 * factory) holding each of @needles; then NULL. */
static char *
assert_fails (GstElement *pipe, const char *const *needles, char **from)
{
  const guint fired = vtp_fault_fired ();
  char *msg;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  msg = pop_error (GST_ELEMENT_BUS (pipe), WAIT_US * GST_USECOND, from);
  g_assert_nonnull (msg);
  g_test_message ("%s: %s", *from, msg);
  g_assert_true (g_str_has_prefix (*from, "vtp"));
  assert_names (msg, needles);
  g_assert_cmpuint (vtp_fault_fired (), ==, fired + 1);
  /* (a pipeline drops what is left on its bus when it goes to NULL) */
  g_assert_cmpint (gst_element_set_state (pipe, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
  return msg;
}

static void
test_pipeline (void)
{
  g_autofree char *want = reference_string ("llava-tiny-a", "greedy_text");
  GstElement *sink, *pipe = describe_pipeline ("llava-tiny-a", &sink);
  guint64 allocs, launches, copies, waits;
  g_autofree char *from = NULL;

  /* the kernel build: the first start opens the device; then its queue
   * (the device was not kept: it opens again) */
  vtp_fault_set (VTP_FAULT_BUILD, 1, NULL);
  g_free (assert_fails (pipe, (const char *[]) { "Building the vtp kernels for ", BUILD_NEEDLE, NULL }, &from));
  g_clear_pointer (&from, g_free);
  vtp_fault_set (VTP_FAULT_CONTEXT, 2, NULL);
  g_free (assert_fails (pipe, (const char *[]) { OPEN_NEEDLE, "creating a command queue failed", NULL }, &from));
  g_clear_pointer (&from, g_free);

  /* clean, counting */
  allocs = vtp_fault_events (VTP_FAULT_ALLOC);
  launches = vtp_fault_events (VTP_FAULT_ENQUEUE);
  copies = vtp_fault_events (VTP_FAULT_COPY);
  waits = vtp_fault_events (VTP_FAULT_FINISH);
  assert_describes (pipe, sink, want);
  allocs = vtp_fault_events (VTP_FAULT_ALLOC) - allocs;
  launches = vtp_fault_events (VTP_FAULT_ENQUEUE) - launches;
  copies = vtp_fault_events (VTP_FAULT_COPY) - copies;
  waits = vtp_fault_events (VTP_FAULT_FINISH) - waits;
  g_test_message ("a run: %" G_GUINT64_FORMAT " allocations, %" G_GUINT64_FORMAT " launches, %" G_GUINT64_FORMAT
      " copies, %" G_GUINT64_FORMAT " waits", allocs, launches, copies, waits);

  /* allocations: the first (a start), the last (a frame's), one between */
  {
    const guint64 nth[] = { 1, allocs / 2, allocs };
    for (guint i = 0; i < G_N_ELEMENTS (nth); i++) {
      vtp_fault_set (VTP_FAULT_ALLOC, (guint) nth[i], NULL);
      g_free (assert_fails (pipe, (const char *[]) { "Could not allocate a ", ALLOC_NEEDLE, NULL }, &from));
      g_clear_pointer (&from, g_free);
      assert_describes (pipe, sink, want);
    }
  }
  /* the device lost at a launch midway (every launch, copy and wait on it
   * fails from there, as after a GPU reset): the run fails; the next
   * start leaves that device behind and opens a new one */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (VtpDevice) before = vtp_device_get (NULL, &error);
    g_autoptr (VtpDevice) after = NULL;

    g_assert_no_error (error);
    vtp_fault_set (VTP_FAULT_LOST, (guint) (launches / 2), NULL);
    g_free (assert_fails (pipe, (const char *[]) { " on ", "device not available", NULL }, &from));
    g_clear_pointer (&from, g_free);
    g_assert_true (vtp_device_is_lost (before));
    assert_describes (pipe, sink, want);
    after = vtp_device_get (NULL, &error);
    g_assert_no_error (error);
    g_assert_true (after != before);
    g_assert_false (vtp_device_is_lost (after));
  }
  /* launches: the encoder's first, the language model's last, one between */
  {
    const guint64 nth[] = { 1, launches / 2, launches };
    for (guint i = 0; i < G_N_ELEMENTS (nth); i++) {
      g_autofree char *msg = NULL;
      vtp_fault_set (VTP_FAULT_ENQUEUE, (guint) nth[i], NULL);
      msg = assert_fails (pipe, (const char *[]) { "Kernel ", ENQUEUE_NEEDLE, NULL }, &from);
      assert_names_kernel (msg, NULL);
      if (i == 0)
        g_assert_cmpstr (from, ==, "vtpencoder");
      if (i == G_N_ELEMENTS (nth) - 1)
        g_assert_cmpstr (from, ==, "vtpllm");
      g_clear_pointer (&from, g_free);
      assert_describes (pipe, sink, want);
    }
  }
  /* copies: the first (a weight), the last (vtpllm's last read of the
   * logits), one between; waits: the first (a weight packed at start),
   * the last (vtpllm's prefill) */
  {
    const struct { VtpFaultKind kind; guint64 nth; const char *from; } f[] = {
      { VTP_FAULT_COPY, 1, NULL }, { VTP_FAULT_COPY, copies / 2, NULL }, { VTP_FAULT_COPY, copies, "vtpllm" },
      { VTP_FAULT_FINISH, 1, NULL }, { VTP_FAULT_FINISH, waits, "vtpllm" },
    };
    for (guint i = 0; i < G_N_ELEMENTS (f); i++) {
      g_autofree char *msg = NULL;
      vtp_fault_set (f[i].kind, (guint) f[i].nth, NULL);
      msg = assert_fails (pipe, (const char *[]) { ENQUEUE_NEEDLE, NULL }, &from);
      assert_names_fault (msg, f[i].kind);
      if (f[i].from)
        g_assert_cmpstr (from, ==, f[i].from);
      g_clear_pointer (&from, g_free);
      assert_describes (pipe, sink, want);
    }
  }
  /* a kernel by name */
  vtp_fault_set (VTP_FAULT_ENQUEUE, 3, "rmsnorm");
  g_free (assert_fails (pipe, (const char *[]) { "Kernel rmsnorm failed on ", ENQUEUE_NEEDLE, NULL }, &from));
  g_assert_cmpstr (from, ==, "vtpllm");
  assert_describes (pipe, sink, want);
  gst_object_unref (pipe);
  g_assert_cmpuint (vtp_model_cache_size (), ==, 0);
}

/* ---- $VTP_FAULT ---- */

/* The child: vtpprojector started and given a frame, twice; one line per
 * step on stdout. */
static int
env_child (void)
{
  const Case *c = find_case ("vtpprojector");

  for (gint attempt = 1; attempt <= 2; attempt++) {
    GstElement *e = make_element (c->factory, c->fixture, NULL);
    GstBus *bus = gst_element_get_bus (e);
    g_autofree char *msg = NULL;
    Run *r;
    GstBuffer *out;

    if (gst_element_set_state (e, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE) {
      msg = pop_error (bus, 0, NULL);
      g_print ("%d start: error: %s\n", attempt, msg);
    } else
      g_print ("%d start: ok\n", attempt);
    gst_object_unref (bus);
    drop_element (e);
    if (msg)
      continue;
    r = run_new (c);
    out = run_frame (r, &msg);
    if (out) {
      g_print ("%d frame: %s\n", attempt, max_error (out, vtp_safetensors_find (r->ref, c->output)) <= 1e-4
          ? "ok" : "wrong");
      gst_buffer_unref (out);
    } else
      g_print ("%d frame: error: %s\n", attempt, msg);
    run_free (r);
  }
  g_print ("fired: %u\n", vtp_fault_fired ());
  return 0;
}

/* This program run as the child with VTP_FAULT=@spec: its output. */
static char *
run_child (const char *spec)
{
  g_auto (GStrv) env = g_environ_setenv (g_get_environ (), VTP_FAULT_ENV, spec, TRUE);
  const char *argv[] = { self_path, "--env-child", NULL };
  g_autoptr (GError) error = NULL;
  char *out = NULL;
  g_autofree char *err = NULL;
  gint status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error));
  g_assert_no_error (error);
  g_test_message ("VTP_FAULT=%s:\n%s", spec, out);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("the child with VTP_FAULT=%s failed (%s):\n%s", spec, error->message, err);
  return out;
}

static void
assert_lines (const char *out, const char *const *lines)
{
  for (guint i = 0; lines[i]; i++)
    if (!strstr (out, lines[i]))
      g_error ("the child's output lacks \"%s\":\n%s", lines[i], out);
}

/* Each kind from the environment, in a process of its own: the first
 * attempt fails naming it, the second (the fault spent) works. */
static void
test_env (void)
{
  g_autofree char *build = run_child ("build");
  g_autofree char *alloc = run_child ("alloc:2");
  g_autofree char *enqueue = run_child ("enqueue:2");
  g_autofree char *named = run_child ("enqueue:gelu_erf");
  g_autofree char *copy = run_child ("copy:2");
  g_autofree char *finish = run_child ("finish");
  g_autofree char *context = run_child ("context");
  g_autofree char *platform = run_child ("platform");
  g_autofree char *bogus = run_child ("alloc:none");
  g_autofree char *none = run_child ("");

  assert_lines (build, (const char *[]) { "1 start: error: Building the vtp kernels for ", BUILD_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (alloc, (const char *[]) { "1 start: error: Loading the weight ", ALLOC_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (enqueue, (const char *[]) { "1 start: ok\n1 frame: error: Kernel ", ENQUEUE_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (named, (const char *[]) { "1 start: ok\n1 frame: error: Kernel gelu_erf failed on ", ENQUEUE_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (copy, (const char *[]) { "1 start: error: Loading the weight ", "Could not ", ENQUEUE_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (finish, (const char *[]) { "1 start: error: Loading the weight ", WAIT_NEEDLE, ENQUEUE_NEEDLE,
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (context, (const char *[]) { "1 start: error: " OPEN_NEEDLE, "creating an OpenCL context failed",
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (platform, (const char *[]) { "1 start: error: No OpenCL platform found",
        "2 start: ok\n2 frame: ok\nfired: 1\n", NULL });
  assert_lines (bogus, (const char *[]) { "1 start: error: VTP_FAULT=\"alloc:none\" is not a fault to inject",
        "2 start: error: VTP_FAULT=\"alloc:none\"", "fired: 0\n", NULL });
  assert_lines (none, (const char *[]) { "1 start: ok\n1 frame: ok\n2 start: ok\n2 frame: ok\nfired: 0\n", NULL });
}

int
main (int argc, char **argv)
{
  int ret;

  self_path = argv[0];
  if (argc == 2 && !strcmp (argv[1], "--env-child")) {
    int argc1 = 1;
    gst_init (&argc1, &argv);
    register_static_plugin ();
    return env_child ();
  }
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  register_static_plugin ();
  g_test_add_func ("/fault/switch", test_switch);
  /* first: no device is open yet */
  g_test_add_func ("/fault/build", test_build);
  g_test_add_func ("/fault/context", test_context);
  g_test_add_func ("/fault/platform", test_platform);
  g_test_add_data_func ("/fault/alloc-start", GINT_TO_POINTER (VTP_FAULT_ALLOC), test_start);
  g_test_add_func ("/fault/alloc-weight-named", test_alloc_weight_named);
  g_test_add_data_func ("/fault/copy-start", GINT_TO_POINTER (VTP_FAULT_COPY), test_start);
  g_test_add_data_func ("/fault/finish-start", GINT_TO_POINTER (VTP_FAULT_FINISH), test_start);
  g_test_add_func ("/fault/copy-weight-named", test_copy_weight_named);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *a = g_strdup_printf ("/fault/alloc-frame/%s", cases[i].name);
    g_autofree char *q = g_strdup_printf ("/fault/enqueue-frame/%s", cases[i].name);
    g_test_add_data_func (a, cases[i].name, test_alloc_frame);
    g_autofree char *cp = g_strdup_printf ("/fault/copy-frame/%s", cases[i].name);
    g_autofree char *w = g_strdup_printf ("/fault/finish-frame/%s", cases[i].name);
    g_test_add_data_func (q, cases[i].name, test_enqueue_frame);
    g_test_add_data_func (cp, cases[i].name, test_copy_frame);
    /* only vtpllm waits in a frame (for its prefill); the others rely on
     * the blocking copies */
    if (!strcmp (cases[i].factory, "vtpllm"))
      g_test_add_data_func (w, cases[i].name, test_finish_frame);
  }
  g_test_add_data_func ("/fault/alloc-caps/vtpprojector", "vtpprojector", test_alloc_caps);
  g_test_add_data_func ("/fault/alloc-caps/vtpqformer", "vtpqformer", test_alloc_caps);
  g_test_add_data_func ("/fault/alloc-caps/vtpadapter", "vtpadapter", test_alloc_caps);
  g_test_add_func ("/fault/pipeline", test_pipeline);
  g_test_add_func ("/fault/env", test_env);
  ret = g_test_run ();
  g_clear_pointer (&own_outputs, g_hash_table_unref);
  return ret;
}
