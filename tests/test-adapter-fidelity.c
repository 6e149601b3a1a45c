/* test-adapter-fidelity.c: LLaMA-Adapter against the reference of
 * tools/make_adapter_fixtures.py (written from model-spec section 5, run by
 * PyTorch; the PEFT form run by peft itself) on tests/fixtures/adapter-tiny:
 * V2 multimodal on the Meta and on the HF layout of one base, V1, PEFT on a
 * grouped-query HF Llama. Logits within 1e-4 (fp32), greedy continuations
 * token for token, and a gate of 0 gives exactly the plain model. The
 * visual side (OpenAI CLIP preprocessing and features, visual queries,
 * prompts) is checked tensor by tensor and end to end. */
#include <string.h>
#include "vtp-adapter.h"
#include "vtp-image.h"
#include "vtp-parts.h"
#include "fidelity-util.h"

#define ATOL 1e-4
#define FIXTURE "adapter-tiny"

static VtpDevice *dev;
static VtpSafetensors *ref;

/* The base model in fixture subdirectory @base with the adapter in @adapter
 * (NULL: the plain model). */
static VtpLlama *
load_llm (const char *base, const char *adapter, GError **error)
{
  g_autofree char *root = fixture_path (FIXTURE);
  g_autofree char *base_dir = g_build_filename (root, base, NULL);
  g_autofree char *adapter_dir = adapter ? g_build_filename (root, adapter, NULL) : NULL;
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (base_dir, error);
  g_autoptr (VtpCheckpoint) a = NULL;
  VtpModelParts parts = { 0 };
  VtpLlamaNames names;
  VtpLlama *m = NULL;

  if (!c || !vtp_model_parts_read (c, &parts, error))
    return NULL;
  g_assert_true (parts.has_text);
  if ((!adapter || (a = vtp_checkpoint_open (adapter_dir, error)))
      && vtp_llama_find_names (c, &parts.text, &names, error))
    m = vtp_llama_load (c, &names, &parts.text, a, dev, VTP_WEIGHTS_KEEP, error);
  vtp_model_parts_clear (&parts);
  return m;
}

static VtpLlama *
must_load (const char *base, const char *adapter)
{
  g_autoptr (GError) error = NULL;
  VtpLlama *m = load_llm (base, adapter, &error);
  g_assert_no_error (error);
  return m;
}

/* The reference's recorded adaption prompts on the device. */
static VtpTensor *
reference_prompts (void)
{
  g_autoptr (GError) error = NULL;
  const VtpStTensor *p = reference_tensor (ref, "prompts");
  VtpTensor *t = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, p->shape, p->data, &error);
  g_assert_no_error (error);
  return t;
}

/* Logits at every position of the reference's input @ids_name. */
static float *
all_logits (VtpLlama *m, VtpLlamaState *s, VtpSafetensors *r, const char *ids_name, gsize *n)
{
  g_autoptr (GError) error = NULL;
  g_autofree gint32 *ids = NULL;
  VtpLlamaSegment seg = { 0 };
  float *logits;
  gint L;

  ids = reference_ids (r, ids_name, &L);
  seg.ids = ids;
  seg.n = L;
  s->n_past = 0;
  g_assert_true (vtp_llama_prefill (m, s, &seg, 1, TRUE, &error));
  g_assert_no_error (error);
  *n = (gsize) L * m->cfg.vocab_size;
  logits = g_new (float, *n);
  g_assert_true (vtp_tensor_read (s->logits, 0, logits, *n * 4, &error));
  g_assert_no_error (error);
  return logits;
}

static void
check_logits (VtpLlama *m, VtpLlamaState *s, VtpSafetensors *r, const char *ids_name, const char *logits_name)
{
  gsize n;
  g_autofree float *logits = all_logits (m, s, r, ids_name, &n);
  g_assert_cmpfloat (reference_error (r, logits_name, logits, n, 0), <=, ATOL);
}

static void
check_greedy (VtpLlama *m, VtpLlamaState *s, VtpSafetensors *r, const char *ids_name, const char *greedy_name)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autofree gint32 *ids = NULL;
  VtpGenerateParams gp = { reference_tensor (r, greedy_name)->shape[0], { 0 }, TRUE };
  VtpLlamaSegment seg = { 0 };
  gint L;

  ids = reference_ids (r, ids_name, &L);
  seg.ids = ids;
  seg.n = L;
  s->n_past = 0;
  g_assert_true (vtp_llama_prefill (m, s, &seg, 1, FALSE, &error));
  g_assert_true (vtp_llama_generate (m, s, &gp, NULL, NULL, tokens, NULL, &error));
  g_assert_no_error (error);
  assert_same_tokens (m, tokens, r, greedy_name);
}

/* Sets every gate to 0, as a freshly initialised adapter has them. */
static void
zero_gates (VtpLlama *m)
{
  g_autoptr (GError) error = NULL;
  g_autofree float *zeros = g_new0 (float, vtp_tensor_n_elements (m->adapter->gates));
  g_assert_true (vtp_tensor_write (m->adapter->gates, 0, zeros, vtp_tensor_n_bytes (m->adapter->gates), &error));
  g_assert_no_error (error);
}

/* Two logit sets bit for bit. */
static void
assert_identical (const float *a, const float *b, gsize n)
{
  for (gsize i = 0; i < n; i++)
    if (memcmp (&a[i], &b[i], sizeof (float)))
      g_error ("logit %" G_GSIZE_FORMAT " differs: %.9g vs %.9g", i, a[i], b[i]);
}

/* V2's LLM side with the reference's prompts, on base @base: logits,
 * greedy, the model without prompts, and gate 0 = no prompts. */
static void
test_v2_llm (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  VtpLlama *m = must_load (data, "v2");
  g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m, 128, 128, &error);
  g_autoptr (VtpTensor) prompts = reference_prompts ();
  g_autofree float *off = NULL, *zero = NULL;
  gsize n;

  g_assert_no_error (error);
  g_assert_cmpint (m->adapter->first_layer, ==, 1);
  g_assert_true (vtp_llama_set_prompts (m, s, prompts, FALSE, &error));
  g_assert_no_error (error);
  check_logits (m, s, ref, "input_ids_v2", "logits_v2");
  check_greedy (m, s, ref, "input_ids_v2", "greedy_v2");

  /* without prompts: the fine-tuned model alone (biases, LoRA, norms) */
  g_assert_true (vtp_llama_set_prompts (m, s, NULL, TRUE, &error));
  off = all_logits (m, s, ref, "input_ids_v2", &n);
  g_assert_cmpfloat (reference_error (ref, "logits_v2_no_prompts", off, n, 0), <=, ATOL);
  zero_gates (m);
  g_assert_true (vtp_llama_set_prompts (m, s, prompts, FALSE, &error));
  g_assert_no_error (error);
  zero = all_logits (m, s, ref, "input_ids_v2", &n);
  assert_identical (zero, off, n);
  vtp_llama_free (m);

  /* kv-type=f16 (the LoRA deltas of k and v added before the rounding
   * store): within 5e-3 of the reference's logits (measured 2.6e-3), and
   * not within 1e-6 */
  m = must_load (data, "v2");
  {
    g_autoptr (VtpLlamaState) s16 = vtp_llama_state_new_kv (m, 128, 128, VTP_DTYPE_F16, &error);
    g_autofree float *l16 = NULL;
    double err;

    g_assert_no_error (error);
    g_assert_true (vtp_llama_set_prompts (m, s16, prompts, FALSE, &error));
    g_assert_no_error (error);
    l16 = all_logits (m, s16, ref, "input_ids_v2", &n);
    err = reference_error (ref, "logits_v2", l16, n, 0);
    g_test_message ("V2 with an F16 KV cache: logits %.3g from the reference's", err);
    g_assert_cmpfloat (err, <=, 5e-3);
    g_assert_cmpfloat (err, >, 1e-6);
  }
  vtp_llama_free (m);
}

/* Batched decoding (docs/batching.md) of V2 (LoRA, biases, gated adaption
 * prompts): three streams, one with the reference's prompts, one with
 * them halved (another picture's), one with none, each prefilled with
 * another length of the reference input, decoded together step after step
 * (all three, then two): each stream's logits are the ones it gets decoded
 * alone (within 1e-4, the float products' rows) and its greedy token the
 * same. */
static void
test_v2_batch (void)
{
  g_autoptr (GError) error = NULL;
  VtpLlama *m = must_load ("llama", "v2");
  g_autoptr (VtpTensor) prompts = reference_prompts (), half = NULL;
  g_autoptr (VtpLlamaBatch) b = vtp_llama_batch_new (m, 3, &error);
  g_autofree gint32 *ids = NULL;
  VtpLlamaState *alone[3], *batched[3];
  const gint V = m->cfg.vocab_size;
  g_autofree float *la = g_new (float, V), *lb = g_new (float, V), *hp = NULL;
  double worst = 0;
  gint L;

  g_assert_no_error (error);
  hp = g_new (float, vtp_tensor_n_elements (prompts));
  g_assert_true (vtp_tensor_read (prompts, 0, hp, vtp_tensor_n_bytes (prompts), &error));
  for (gint64 i = 0; i < vtp_tensor_n_elements (prompts); i++)
    hp[i] *= 0.5f;
  half = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, prompts->shape, hp, &error);
  g_assert_no_error (error);
  ids = reference_ids (ref, "input_ids_v2", &L);
  for (gint i = 0; i < 3; i++) {
    VtpLlamaState **pair[2] = { &alone[i], &batched[i] };
    const VtpLlamaSegment seg = { ids, NULL, 0, MAX (L - 2 * i, 1) };
    for (gint k = 0; k < 2; k++) {
      VtpLlamaState *st = *pair[k] = vtp_llama_state_new (m, 128, 128, &error);
      g_assert_no_error (error);
      g_assert_true (vtp_llama_set_prompts (m, st, i == 0 ? prompts : i == 1 ? half : NULL, i == 2, &error));
      g_assert_true (vtp_llama_prefill (m, st, &seg, 1, FALSE, &error));
      g_assert_no_error (error);
    }
  }
  for (gint t = 0; t < 6; t++) {
    const gint n = t < 3 ? 3 : 2;
    gint32 tokens[3];
    for (gint i = 0; i < n; i++) {
      const VtpLlamaSegment seg = { &tokens[i], NULL, 0, 1 };
      g_assert_true (vtp_tensor_read (alone[i]->logits, 0, la, (gsize) V * 4, &error));
      g_assert_true (vtp_tensor_read (batched[i]->logits, 0, lb, (gsize) V * 4, &error));
      g_assert_no_error (error);
      for (gint v = 0; v < V; v++)
        worst = MAX (worst, fabs ((double) la[v] - lb[v]));
      tokens[i] = vtp_argmax (la, V);
      g_assert_cmpint (vtp_argmax (lb, V), ==, tokens[i]);
      g_assert_true (vtp_llama_prefill (m, alone[i], &seg, 1, FALSE, &error));
      g_assert_no_error (error);
    }
    g_assert_true (vtp_llama_decode_batch (m, b, batched, tokens, n, &error));
    g_assert_no_error (error);
  }
  g_test_message ("V2 batched: logits within %.2g of each stream's alone", worst);
  g_assert_cmpfloat (worst, <=, 1e-4);
  for (gint i = 0; i < 3; i++) {
    vtp_llama_state_free (alone[i]);
    vtp_llama_state_free (batched[i]);
  }
  g_clear_pointer (&b, vtp_llama_batch_free);
  vtp_llama_free (m);
}

/* A text-only adapter (V1, PEFT) on its base: logits and greedy against the
 * reference, and with every gate at 0 exactly the plain base. */
typedef struct {
  const char *base, *adapter, *ids, *logits, *greedy;
  const char *base_logits;      /* the plain base's reference logits, or NULL */
} TextAdapterCase;

static const TextAdapterCase v1_case = { "llama", "v1", "input_ids_v1", "logits_v1", "greedy_v1", NULL };
static const TextAdapterCase peft_case = { "peft-base", "peft", "input_ids_peft", "logits_peft", "greedy_peft",
  "logits_peft_base" };

static void
test_text_adapter (gconstpointer data)
{
  const TextAdapterCase *c = data;
  g_autoptr (GError) error = NULL;
  VtpLlama *m = must_load (c->base, c->adapter), *plain = must_load (c->base, NULL);
  g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m, 128, 128, &error);
  g_autoptr (VtpLlamaState) ps = vtp_llama_state_new (plain, 128, 128, &error);
  g_autofree float *base = NULL, *zero = NULL;
  gsize n;

  g_assert_no_error (error);
  g_assert_null (m->layers[1].bq);
  check_logits (m, s, ref, c->ids, c->logits);
  check_greedy (m, s, ref, c->ids, c->greedy);
  base = all_logits (plain, ps, ref, c->ids, &n);
  if (c->base_logits)
    g_assert_cmpfloat (reference_error (ref, c->base_logits, base, n, 0), <=, ATOL);
  zero_gates (m);
  zero = all_logits (m, s, ref, c->ids, &n);
  assert_identical (zero, base, n);
  vtp_llama_free (m);
  vtp_llama_free (plain);
}

/* An adapter on an LLM it was not built for fails with a sentence naming
 * what does not fit, and so do prompts of the wrong shape. */
static void
test_mismatch (void)
{
  g_autoptr (GError) error = NULL;
  VtpLlama *m;

  g_assert_null (load_llm ("peft-base", "v2", &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "llm_dim"));
  g_clear_error (&error);

  g_assert_null (load_llm ("llama", "peft", &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "adaption_prompt"));
  g_clear_error (&error);

  m = must_load ("llama", "v2");
  {
    g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m, 32, 8, &error);
    g_autoptr (VtpTensor) wrong = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 5, 48, &error);
    g_assert_no_error (error);
    g_assert_false (vtp_llama_set_prompts (m, s, NULL, FALSE, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_clear_error (&error);
    g_assert_false (vtp_llama_set_prompts (m, s, wrong, FALSE, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
    g_test_message ("%s", error->message);
  }
  vtp_llama_free (m);
}

/* Opens fixture subdirectory @sub. */
static VtpCheckpoint *
open_part (const char *sub)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *root = fixture_path (FIXTURE);
  g_autofree char *dir = g_build_filename (root, sub, NULL);
  VtpCheckpoint *c = vtp_checkpoint_open (dir, &error);
  g_assert_no_error (error);
  return c;
}

/* image -> pixels -> OpenAI CLIP features -> vq and prompts -> logits. */
static void
test_v2_visual (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) clip = open_part ("clip");
  g_autoptr (VtpCheckpoint) ac = open_part ("v2");
  VtpModelParts parts = { 0 };
  VtpVisionFeatures feats;
  VtpImageConfig ic;
  const VtpStTensor *img = reference_tensor (ref, "image");
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpVisionTower) tower = NULL;
  g_autoptr (VtpVisionState) vs = NULL;
  g_autoptr (VtpAdapter) adapter = NULL;
  g_autoptr (VtpAdapterState) as = NULL;
  g_autoptr (VtpTensor) features = NULL, prompts = NULL;
  g_autofree float *px = NULL, *fv = NULL, *vq = NULL, *pv = NULL;
  const char *prefix;
  VtpLlama *m;

  g_assert_true (vtp_model_parts_read (clip, &parts, &error));
  g_assert_no_error (error);
  g_assert_cmpint (parts.family, ==, VTP_FAMILY_OPENAI_CLIP);
  g_assert_true (vtp_model_image_config (clip, &parts, &ic, &error));
  vtp_model_features (&parts, &feats);
  prefix = vtp_model_vision_prefix (clip, &parts, &error);
  g_assert_no_error (error);
  tower = vtp_vision_tower_load (clip, prefix, &parts.vision, &feats, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  vs = vtp_vision_state_new (tower, &error);
  g_assert_no_error (error);

  /* shortest side bicubic to 224-equivalent, centre crop rounding half to even */
  pre = vtp_image_preprocessor_new (dev, &ic);
  g_assert_true (vtp_image_preprocess (pre, img->data, img->shape[1], img->shape[0], img->shape[1] * 3,
          VTP_PIXELS_RGB, vs->pixels, &error));
  g_assert_no_error (error);
  px = device_values (vs->pixels);
  g_assert_cmpfloat (reference_error (ref, "pixel_values", px, vtp_tensor_n_elements (vs->pixels), 0), <=, 1e-5);

  /* ln_post on every token, then the visual projection */
  features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, vtp_vision_tower_feature_rows (tower),
      vtp_vision_tower_feature_width (tower), &error);
  g_assert_no_error (error);
  vtp_vision_tower_forward (tower, vs, features);
  fv = device_values (features);
  g_assert_cmpfloat (reference_error (ref, "clip_features", fv, vtp_tensor_n_elements (features), 0), <=, ATOL);

  adapter = vtp_adapter_load (ac, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  as = vtp_adapter_state_new (adapter, vtp_tensor_rows (features), &error);
  g_assert_no_error (error);
  prompts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, vtp_adapter_prompt_rows (adapter), adapter->llm_dim, &error);
  g_assert_no_error (error);
  vtp_adapter_forward (adapter, as, features, prompts);
  vq = device_values (as->vq);
  g_assert_cmpfloat (reference_error (ref, "vq", vq, vtp_tensor_n_elements (as->vq), 0), <=, ATOL);
  pv = device_values (prompts);
  g_assert_cmpfloat (reference_error (ref, "prompts", pv, vtp_tensor_n_elements (prompts), 0), <=, ATOL);

  /* end to end: the prompts vtp made drive the LLM */
  m = must_load ("llama", "v2");
  {
    g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m, 128, 128, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_llama_set_prompts (m, s, prompts, FALSE, &error));
    g_assert_no_error (error);
    check_logits (m, s, ref, "input_ids_v2", "logits_v2");
  }
  vtp_llama_free (m);
  vtp_model_parts_clear (&parts);
}

/* The unified framework's adapter variants (tools/make_unified_fixtures.py):
 * InstructBLIP-tiny's queries, with (@data "text") or without text
 * conditioning, as the adapter's visual input: vq, prompts, then logits and
 * greedy of the LLaMA attending to them. */
static void
test_unified (gconstpointer data)
{
  const char *variant = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpSafetensors) uref = reference_open ("unified-tiny");
  g_autofree char *root = fixture_path ("unified-tiny");
  g_autofree char *adapter_dir = g_build_filename (root, "adapter", NULL);
  g_autoptr (VtpCheckpoint) ac = vtp_checkpoint_open (adapter_dir, &error);
  g_autofree char *q_name = g_strdup_printf ("queries_%s", variant), *vq_name = g_strdup_printf ("vq_%s", variant);
  g_autofree char *p_name = g_strdup_printf ("prompts_%s", variant), *l_name = g_strdup_printf ("logits_%s", variant);
  g_autofree char *g_name = g_strdup_printf ("greedy_%s", variant);
  const VtpStTensor *q = reference_tensor (uref, q_name);
  g_autoptr (VtpAdapter) adapter = NULL;
  g_autoptr (VtpAdapterState) as = NULL;
  g_autoptr (VtpTensor) queries = NULL, prompts = NULL;
  VtpLlama *m;

  g_assert_no_error (error);
  adapter = vtp_adapter_load (ac, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  g_assert_cmpint (adapter->cfg.clip_dim, ==, q->shape[1]);
  queries = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 2, q->shape, q->data, &error);
  as = vtp_adapter_state_new (adapter, q->shape[0], &error);
  prompts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, vtp_adapter_prompt_rows (adapter), adapter->llm_dim, &error);
  g_assert_no_error (error);
  vtp_adapter_forward (adapter, as, queries, prompts);
  g_assert_cmpfloat (reference_tensor_error (uref, vq_name, as->vq), <=, ATOL);
  g_assert_cmpfloat (reference_tensor_error (uref, p_name, prompts), <=, ATOL);

  m = must_load ("llama", "../unified-tiny/adapter");
  {
    g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m, 128, 128, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_llama_set_prompts (m, s, prompts, FALSE, &error));
    g_assert_no_error (error);
    check_logits (m, s, uref, "input_ids", l_name);
    check_greedy (m, s, uref, "input_ids", g_name);
  }
  vtp_llama_free (m);
}

/* Text-only adapters have no visual side: vtpadapter refuses them. */
static void
test_text_only_refused (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) v1 = open_part ("v1");

  g_assert_null (vtp_adapter_load (v1, dev, VTP_WEIGHTS_KEEP, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_test_message ("%s", error->message);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int rc;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  ref = reference_open (FIXTURE);
  g_test_add_data_func ("/adapter/v2/llm-meta", "llama", test_v2_llm);
  g_test_add_data_func ("/adapter/v2/llm-hf", "llama-hf", test_v2_llm);
  g_test_add_func ("/adapter/v2/visual", test_v2_visual);
  g_test_add_func ("/adapter/v2/batch", test_v2_batch);
  g_test_add_func ("/adapter/v2/text-only-refused", test_text_only_refused);
  g_test_add_data_func ("/adapter/v1", &v1_case, test_text_adapter);
  /* on a grouped-query base: 8 query heads, 2 key-value heads */
  g_test_add_data_func ("/adapter/peft", &peft_case, test_text_adapter);
  g_test_add_func ("/adapter/mismatch", test_mismatch);
  g_test_add_data_func ("/adapter/unified/text-conditioned", "text", test_unified);
  g_test_add_data_func ("/adapter/unified/no-text", "notext", test_unified);
  rc = g_test_run ();
  vtp_safetensors_free (ref);
  return rc;
}
