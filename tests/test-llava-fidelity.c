/* test-llava-fidelity.c: the LLaVA path against transformers, on the tiny
 * random-weight checkpoints made by tools/make_llava_fixtures.py. Every
 * recorded tensor must match within 1e-4 (fp32), the greedy continuation
 * token for token. The reference tensors come from transformers only.
 * Quantized at load (llava-tiny-q, tools/make_quant_fixtures.py): with
 * weight-type q8_0 / q4_0 / q4_1 / q5_0 / q5_1 vtp holds exactly the weights transformers ran
 * with (the gguf package's quantization, dequantized), so the logits must
 * match within the same 1e-4 and the greedy tokens exactly. */
#include <math.h>
#include <string.h>
#include "vtp-vision.h"
#include "vtp-projector.h"
#include "vtp-llama.h"
#include "vtp-generate.h"
#include "vtp-image.h"
#include "vtp-parts.h"
#include "vtp-model-cache.h"
#include "fidelity-util.h"

#define ATOL 1e-4

static VtpDevice *dev;

typedef struct {
  char *dir;
  VtpCheckpoint *ckpt;
  VtpSafetensors *ref;
  VtpModelParts parts;
} Fixture;

static void
fixture_open (Fixture *f, const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ref = NULL;

  f->dir = fixture_path (name);
  f->ckpt = vtp_checkpoint_open (f->dir, &error);
  g_assert_no_error (error);
  ref = g_build_filename (f->dir, "reference.safetensors", NULL);
  f->ref = vtp_safetensors_open (ref, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (f->ckpt, &f->parts, &error));
  g_assert_no_error (error);
}

static void
fixture_close (Fixture *f)
{
  vtp_model_parts_clear (&f->parts);
  vtp_safetensors_free (f->ref);
  vtp_checkpoint_unref (f->ckpt);
  g_free (f->dir);
}

/* Pixel values from the reference's raw image through our preprocessing. */
static void
check_preprocessing (Fixture *f, VtpVisionState *s)
{
  g_autoptr (GError) error = NULL;
  const VtpStTensor *img = reference_tensor (f->ref, "image");
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) p = NULL;
  g_autofree float *px = NULL;

  g_assert_true (vtp_model_image_config (f->ckpt, &f->parts, &ic, &error));
  g_assert_no_error (error);
  p = vtp_image_preprocessor_new (dev, &ic);
  g_assert_true (vtp_image_preprocess (p, img->data, img->shape[1], img->shape[0], img->shape[1] * 3,
          VTP_PIXELS_RGB, s->pixels, &error));
  g_assert_no_error (error);
  px = device_values (s->pixels);
  g_assert_cmpfloat (reference_error (f->ref, "pixel_values", px, vtp_tensor_n_elements (s->pixels), 0), <=, 1e-5);
}

typedef struct {
  const char *fixture;
  VtpWeightType wtype;
  const char *quant_reference;   /* logits and greedy tokens of the quantized model; NULL: float */
  VtpDType quant;                /* the block type of wtype */
} Case;

static void
test_fixture (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpSafetensors) qref = NULL;
  VtpSafetensors *out_ref;
  Fixture f = { 0 };
  VtpVisionFeatures feats;
  const char *vprefix, *pprefix;
  VtpLlamaNames names;
  g_autoptr (VtpVisionTower) clip = NULL;
  g_autoptr (VtpVisionState) cs = NULL;
  g_autoptr (VtpProjector) proj = NULL;
  g_autoptr (VtpLlama) llm = NULL;
  g_autoptr (VtpLlamaState) ls = NULL;
  g_autoptr (VtpTensor) features = NULL, hidden = NULL, phidden = NULL, image_embeds = NULL;
  g_autofree float *got = NULL;
  const VtpStTensor *ids_t, *greedy_t;
  g_autofree gint32 *ids = NULL;
  gint rows, width, L, n_img = 0, first_img = -1;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  VtpGenerateParams gp = { 0 };

  fixture_open (&f, c->fixture);
  vtp_model_features (&f.parts, &feats);
  out_ref = f.ref;
  if (c->quant_reference) {
    g_autofree char *path = g_build_filename (f.dir, c->quant_reference, NULL);
    qref = vtp_safetensors_open (path, &error);
    g_assert_no_error (error);
    out_ref = qref;
  }

  /* vision tower */
  vprefix = vtp_model_vision_prefix (f.ckpt, &f.parts, &error);
  g_assert_no_error (error);
  clip = vtp_vision_tower_load (f.ckpt, vprefix, &f.parts.vision, &feats, dev, c->wtype, &error);
  g_assert_no_error (error);
  cs = vtp_vision_state_new (clip, &error);
  g_assert_no_error (error);
  check_preprocessing (&f, cs);
  /* the tower on the reference pixel values, so errors do not compound */
  g_assert_true (vtp_tensor_write (cs->pixels, 0, reference_tensor (f.ref, "pixel_values")->data,
          vtp_tensor_n_bytes (cs->pixels), &error));
  rows = vtp_vision_tower_feature_rows (clip);
  width = vtp_vision_tower_feature_width (clip);
  features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
  hidden = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { clip->n_layers + 1, clip->n_tokens,
      f.parts.vision.hidden_size }, &error);
  g_assert_no_error (error);
  vtp_vision_tower_forward_all (clip, cs, features, hidden);
  if (!c->quant_reference) {
    got = device_values (hidden);
    g_assert_cmpfloat (reference_error (f.ref, "vision_hidden_states", got, vtp_tensor_n_elements (hidden), 0), <=,
        ATOL);
    g_free (got);
    got = device_values (features);
    g_assert_cmpfloat (reference_error (f.ref, "vision_features", got, vtp_tensor_n_elements (features), 0), <=, ATOL);
    g_clear_pointer (&got, g_free);
  }

  /* projector */
  pprefix = vtp_model_projector_prefix (f.ckpt, &error);
  g_assert_no_error (error);
  proj = vtp_projector_load (f.ckpt, pprefix, &f.parts.llava, width, dev, c->wtype, &error);
  g_assert_no_error (error);
  phidden = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  image_embeds = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  g_assert_no_error (error);
  vtp_projector_forward (proj, features, rows, phidden, image_embeds);
  if (!c->quant_reference) {
    got = device_values (image_embeds);
    g_assert_cmpfloat (reference_error (f.ref, "projector_output", got, vtp_tensor_n_elements (image_embeds), 0), <=,
        ATOL);
    g_clear_pointer (&got, g_free);
  }

  /* language model: the reference's input ids, image rows spliced in */
  g_assert_true (vtp_llama_find_names (f.ckpt, &f.parts.text, &names, &error));
  llm = vtp_llama_load (f.ckpt, &names, &f.parts.text, NULL, dev, c->wtype, &error);
  g_assert_no_error (error);
  ids_t = reference_tensor (f.ref, "input_ids");
  L = ids_t->shape[0];
  ids = g_new (gint32, L);
  for (gint i = 0; i < L; i++) {
    ids[i] = (gint32) ((const gint64 *) ids_t->data)[i];
    if (ids[i] == f.parts.image_token_index) {
      if (first_img < 0)
        first_img = i;
      n_img++;
    }
  }
  g_assert_cmpint (n_img, ==, rows);
  {
    const VtpLlamaSegment segs[3] = {
      { ids, NULL, 0, first_img },
      { NULL, image_embeds, 0, n_img },
      { ids + first_img + n_img, NULL, 0, L - first_img - n_img },
    };
    ls = vtp_llama_state_new (llm, 128, 64, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_llama_prefill (llm, ls, segs, 3, TRUE, &error));
    g_assert_no_error (error);
  }
  got = g_new (float, (gsize) L * f.parts.text.vocab_size);
  g_assert_true (vtp_tensor_read (ls->logits, 0, got, (gsize) L * f.parts.text.vocab_size * 4, &error));
  if (c->quant_reference)
    g_assert_cmpint (llm->lm_head->dtype, ==, c->quant);
  g_assert_cmpfloat (reference_error (out_ref, "logits", got, (gsize) L * f.parts.text.vocab_size, 0), <=, ATOL);

  /* greedy continuation: re-run the prefill keeping the last logits only */
  {
    const VtpLlamaSegment segs[3] = {
      { ids, NULL, 0, first_img },
      { NULL, image_embeds, 0, n_img },
      { ids + first_img + n_img, NULL, 0, L - first_img - n_img },
    };
    ls->n_past = 0;
    g_assert_true (vtp_llama_prefill (llm, ls, segs, 3, FALSE, &error));
  }
  greedy_t = reference_tensor (out_ref, "greedy_tokens");
  gp.max_new_tokens = greedy_t->shape[0];
  gp.stop_at_eos = TRUE;
  g_assert_true (vtp_llama_generate (llm, ls, &gp, NULL, NULL, tokens, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (tokens->len, ==, greedy_t->shape[0]);
  for (guint i = 0; i < tokens->len; i++)
    g_assert_cmpint (g_array_index (tokens, gint32, i), ==, ((const gint64 *) greedy_t->data)[i]);
  fixture_close (&f);
}

/* Two acquisitions of one part share it; releasing both frees it. */
static void
test_model_cache (void)
{
  g_autoptr (GError) error = NULL;
  Fixture f = { 0 };
  VtpLlamaNames names;
  VtpLlama *a, *b, *c;
  const guint before = vtp_model_cache_size ();

  fixture_open (&f, "llava-tiny-a");
  g_assert_true (vtp_llama_find_names (f.ckpt, &f.parts.text, &names, &error));
  a = vtp_llama_acquire (f.ckpt, &names, &f.parts.text, NULL, dev, VTP_WEIGHTS_KEEP, &error);
  b = vtp_llama_acquire (f.ckpt, &names, &f.parts.text, NULL, dev, VTP_WEIGHTS_KEEP, &error);
  c = vtp_llama_acquire (f.ckpt, &names, &f.parts.text, NULL, dev, VTP_WEIGHTS_F16, &error);
  g_assert_no_error (error);
  g_assert_true (a == b);
  g_assert_true (a != c);
  g_assert_cmpint (c->lm_head->dtype, ==, VTP_DTYPE_F16);
  g_assert_cmpuint (vtp_model_cache_size (), ==, before + 2);
  vtp_model_cache_release (a);
  vtp_model_cache_release (b);
  vtp_model_cache_release (c);
  g_assert_cmpuint (vtp_model_cache_size (), ==, before);
  fixture_close (&f);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  /* the exact path: quantized weights dequantized in float everywhere (the
   * int8 decode of x86 VNNI CPUs is checked against its bound in test-quant) */
  g_setenv ("VTP_QUANT_DOT", "float", TRUE);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  static const Case cases[] = {
    { "llava-tiny-a", VTP_WEIGHTS_KEEP, NULL },
    { "llava-tiny-b", VTP_WEIGHTS_KEEP, NULL },
    { "llava-tiny-q", VTP_WEIGHTS_KEEP, NULL },
    { "llava-tiny-q", VTP_WEIGHTS_Q8_0, "reference-q8_0.safetensors", VTP_DTYPE_Q8_0 },
    { "llava-tiny-q", VTP_WEIGHTS_Q4_0, "reference-q4_0.safetensors", VTP_DTYPE_Q4_0 },
    { "llava-tiny-q", VTP_WEIGHTS_Q4_1, "reference-q4_1.safetensors", VTP_DTYPE_Q4_1 },
    { "llava-tiny-q", VTP_WEIGHTS_Q5_0, "reference-q5_0.safetensors", VTP_DTYPE_Q5_0 },
    { "llava-tiny-q", VTP_WEIGHTS_Q5_1, "reference-q5_1.safetensors", VTP_DTYPE_Q5_1 },
  };
  g_test_add_data_func ("/llava/tiny-a", &cases[0], test_fixture);
  g_test_add_data_func ("/llava/tiny-b", &cases[1], test_fixture);
  g_test_add_data_func ("/llava/tiny-q", &cases[2], test_fixture);
  g_test_add_data_func ("/llava/tiny-q/q8_0", &cases[3], test_fixture);
  g_test_add_data_func ("/llava/tiny-q/q4_0", &cases[4], test_fixture);
  g_test_add_data_func ("/llava/tiny-q/q4_1", &cases[5], test_fixture);
  g_test_add_data_func ("/llava/tiny-q/q5_0", &cases[6], test_fixture);
  g_test_add_data_func ("/llava/tiny-q/q5_1", &cases[7], test_fixture);
  g_test_add_func ("/llava/model-cache", test_model_cache);
  return g_test_run ();
}
