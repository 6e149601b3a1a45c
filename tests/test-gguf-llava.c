/* test-gguf-llava.c: llama.cpp's LLaVA pair (text model + mmproj file, made
 * by llama.cpp's own converters from the tiny random LLaVA, see
 * tools/make_gguf_llava_fixtures.py) against transformers run on exactly
 * the weights the two files hold. A directory holding both is one llava
 * checkpoint; the mmproj file alone is a tower and a projector. Pixel
 * values within 1e-5, every tensor after them within 1e-4 (fp32), the
 * prompt's ids and the greedy continuation identical. */
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vtp-vision.h"
#include "vtp-projector.h"
#include "vtp-llama.h"
#include "vtp-image.h"
#include "vtp-parts.h"
#include "vtp-prompt.h"
#include "fidelity-util.h"

#define ATOL 1e-4

static VtpDevice *dev;
static VtpSafetensors *ref;

/* The tower and the projector of @c (preprocessing checked on the way):
 * the projector's output, the image embeddings. */
static VtpTensor *
image_embeddings (VtpCheckpoint *c, VtpModelParts *parts)
{
  g_autoptr (GError) error = NULL;
  const VtpStTensor *img = reference_tensor (ref, "image");
  VtpVisionFeatures feats;
  VtpImageConfig ic;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpVisionTower) tower = NULL;
  g_autoptr (VtpVisionState) vs = NULL;
  g_autoptr (VtpProjector) proj = NULL;
  g_autoptr (VtpTensor) features = NULL, hidden = NULL;
  VtpTensor *embeds;
  const char *prefix;
  gint rows, width;

  g_assert_true (vtp_model_parts_read (c, parts, &error));
  g_assert_no_error (error);
  g_assert_cmpint (parts->family, ==, VTP_FAMILY_LLAVA);
  vtp_model_features (parts, &feats);
  prefix = vtp_model_vision_prefix (c, parts, &error);
  g_assert_no_error (error);
  tower = vtp_vision_tower_load (c, prefix, &parts->vision, &feats, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  vs = vtp_vision_state_new (tower, &error);
  g_assert_no_error (error);

  /* the image processor from the file's metadata (a mean and std that are
   * not CLIP's) */
  g_assert_true (vtp_model_image_config (c, parts, &ic, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (ic.mean[0], ==, 0.5f);
  g_assert_cmpfloat (ic.std[2], ==, 0.27f);
  pre = vtp_image_preprocessor_new (dev, &ic);
  g_assert_true (vtp_image_preprocess (pre, img->data, img->shape[1], img->shape[0], img->shape[1] * 3,
          VTP_PIXELS_RGB, vs->pixels, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (reference_tensor_error (ref, "pixel_values", vs->pixels), <=, 1e-5);

  /* the tower on the reference pixels, so that errors do not compound */
  g_assert_true (vtp_tensor_write (vs->pixels, 0, reference_tensor (ref, "pixel_values")->data,
          vtp_tensor_n_bytes (vs->pixels), &error));
  rows = vtp_vision_tower_feature_rows (tower);
  width = vtp_vision_tower_feature_width (tower);
  features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
  hidden = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, (gint64[]) { tower->n_layers + 1, tower->n_tokens,
      parts->vision.hidden_size }, &error);
  g_assert_no_error (error);
  vtp_vision_tower_forward_all (tower, vs, features, hidden);
  g_assert_cmpfloat (reference_tensor_error (ref, "vision_features", features), <=, ATOL);

  prefix = vtp_model_projector_prefix (c, &error);
  g_assert_no_error (error);
  proj = vtp_projector_load (c, prefix, &parts->llava, width, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  embeds = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  g_clear_pointer (&hidden, vtp_tensor_free);
  hidden = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  g_assert_no_error (error);
  vtp_projector_forward (proj, features, rows, hidden, embeds);
  g_assert_cmpfloat (reference_tensor_error (ref, "projector_output", embeds), <=, ATOL);
  return embeds;
}

/* The directory: tower, projector, the GGUF tokenizer on the template with
 * its <image> token, and the language model with the image spliced in. */
static void
test_pair (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path ("gguf-llava");
  VtpCheckpoint *c = vtp_checkpoint_open (dir, &error);
  VtpModelParts parts;
  g_autoptr (VtpTensor) embeds = NULL;
  g_autoptr (VtpTokenizer) tok = NULL;
  g_autoptr (GArray) ids = NULL, tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  g_autoptr (VtpLlama) llm = NULL;
  g_autoptr (VtpLlamaState) ls = NULL;
  g_autofree gint32 *want = NULL;
  g_autofree float *logits = NULL;
  VtpLlamaNames names;
  VtpGenerateParams gp = { 0 };
  gint n_want, pos = -1, n_img;

  g_assert_no_error (error);
  g_assert_nonnull (c->gguf);
  g_assert_nonnull (c->gguf_vision);
  embeds = image_embeddings (c, &parts);
  n_img = vtp_tensor_rows (embeds);

  /* the prompt: transformers' ids, with the image's rows standing for the marker */
  tok = vtp_model_tokenizer_new (c, &error);
  g_assert_no_error (error);
  g_assert_cmpint (parts.image_token_index, ==, vtp_tokenizer_token_to_id (tok, "<image>"));
  ids = vtp_prompt_encode (tok, VTP_LLAVA_TEMPLATE, "What is in the picture?", parts.image_token_index, TRUE, &pos,
      &error);
  g_assert_no_error (error);
  want = reference_ids (ref, "input_ids", &n_want);
  g_assert_cmpint ((gint) ids->len + n_img - 1, ==, n_want);
  for (gint i = 0; i < n_want; i++) {
    gint j = i < pos ? i : i < pos + n_img ? pos : i - n_img + 1;
    g_assert_cmpint (g_array_index (ids, gint32, j), ==, want[i]);
  }

  g_assert_true (vtp_llama_find_names (c, &parts.text, &names, &error));
  llm = vtp_llama_load (c, &names, &parts.text, NULL, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  ls = vtp_llama_state_new (llm, 128, 64, &error);
  g_assert_no_error (error);
  {
    const gint32 *p = (const gint32 *) ids->data;
    const VtpLlamaSegment segs[3] = {
      { p, NULL, 0, pos }, { NULL, embeds, 0, n_img }, { p + pos + 1, NULL, 0, (gint) ids->len - pos - 1 },
    };
    g_assert_true (vtp_llama_prefill (llm, ls, segs, 3, TRUE, &error));
    g_assert_no_error (error);
    logits = g_new (float, (gsize) n_want * parts.text.vocab_size);
    g_assert_true (vtp_tensor_read (ls->logits, 0, logits, (gsize) n_want * parts.text.vocab_size * 4, &error));
    g_assert_cmpfloat (reference_error (ref, "logits", logits, (gsize) n_want * parts.text.vocab_size, 0), <=, ATOL);
    ls->n_past = 0;
    g_assert_true (vtp_llama_prefill (llm, ls, segs, 3, FALSE, &error));
  }
  gp.max_new_tokens = reference_tensor (ref, "greedy_tokens")->shape[0];
  gp.stop_at_eos = TRUE;
  g_assert_true (vtp_llama_generate (llm, ls, &gp, NULL, NULL, tokens, NULL, &error));
  g_assert_no_error (error);
  assert_same_tokens (llm, tokens, ref, "greedy_tokens");
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (c);
}

/* The mmproj file alone: the same tower and projector; no vocabulary. */
static void
test_mmproj_alone (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = fixture_path ("gguf-llava/mmproj-model-f32.gguf");
  VtpCheckpoint *c = vtp_checkpoint_open (path, &error);
  VtpModelParts parts;
  g_autoptr (VtpTensor) embeds = NULL;

  g_assert_no_error (error);
  g_assert_null (c->gguf);
  embeds = image_embeddings (c, &parts);
  g_assert_cmpint (parts.text.hidden_size, ==, vtp_tensor_cols (embeds));
  g_assert_null (vtp_model_tokenizer_new (c, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "is an mmproj file"));
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (c);
}

/* The tower's features and the projector's output of the mmproj file at
 * @path loaded with @wtype, on the reference pixel values (host copies). */
static void
tower_and_projector (const char *path, VtpWeightType wtype, float **features_out, float **embeds_out,
    gsize *n_features, gsize *n_embeds)
{
  g_autoptr (GError) error = NULL;
  VtpCheckpoint *c = vtp_checkpoint_open (path, &error);
  VtpModelParts parts;
  VtpVisionFeatures feats;
  g_autoptr (VtpVisionTower) tower = NULL;
  g_autoptr (VtpVisionState) vs = NULL;
  g_autoptr (VtpProjector) proj = NULL;
  g_autoptr (VtpTensor) features = NULL, hidden = NULL, embeds = NULL;
  gint rows, width;

  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (c, &parts, &error));
  vtp_model_features (&parts, &feats);
  tower = vtp_vision_tower_load (c, vtp_model_vision_prefix (c, &parts, NULL), &parts.vision, &feats, dev, wtype,
      &error);
  g_assert_no_error (error);
  vs = vtp_vision_state_new (tower, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_write (vs->pixels, 0, reference_tensor (ref, "pixel_values")->data,
          vtp_tensor_n_bytes (vs->pixels), &error));
  rows = vtp_vision_tower_feature_rows (tower);
  width = vtp_vision_tower_feature_width (tower);
  features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
  vtp_vision_tower_forward (tower, vs, features);
  proj = vtp_projector_load (c, vtp_model_projector_prefix (c, NULL), &parts.llava, width, dev, wtype, &error);
  g_assert_no_error (error);
  hidden = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  embeds = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error);
  g_assert_no_error (error);
  vtp_projector_forward (proj, features, rows, hidden, embeds);
  *features_out = device_values (features);
  *embeds_out = device_values (embeds);
  *n_features = (gsize) rows * width;
  *n_embeds = (gsize) rows * proj->out_width;
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (c);
}

/* A quantized mmproj file (tools/quantize_mmproj.py: the fixture's tower
 * and projector matrices in Q8_0 by the gguf package's reference
 * quantizer; llama.cpp's converters write F16/F32 only): its tensors are
 * used as they are, and give exactly what the F32 file quantized at load
 * (weight-type=q8_0, the same reference quantizer) gives, within the
 * quantization's error of transformers' float output. */
static void
test_mmproj_q8_0 (void)
{
  g_autofree char *q8 = fixture_path ("gguf-llava-q8_0/mmproj-model-q8_0.gguf");
  g_autofree char *f32 = fixture_path ("gguf-llava/mmproj-model-f32.gguf");
  g_autofree float *fq = NULL, *eq = NULL, *fl = NULL, *el = NULL;
  gsize nf, ne, nf2, ne2;

  tower_and_projector (q8, VTP_WEIGHTS_KEEP, &fq, &eq, &nf, &ne);
  tower_and_projector (f32, VTP_WEIGHTS_Q8_0, &fl, &el, &nf2, &ne2);
  g_assert_cmpuint (nf, ==, nf2);
  g_assert_cmpuint (ne, ==, ne2);
  g_assert_cmpmem (fq, nf * 4, fl, nf * 4);
  g_assert_cmpmem (eq, ne * 4, el, ne * 4);
  /* Q8_0 (weights and, in the int8 products, activations) against float:
   * measured max abs errors 0.014 (features) and 0.047 (projector output,
   * values up to ~3); a wrong block mapping is off by O(1) */
  g_assert_cmpfloat (reference_error (ref, "vision_features", fq, nf, 0), <=, 0.1);
  g_assert_cmpfloat (reference_error (ref, "projector_output", eq, ne, 0), <=, 0.1);
  g_assert_cmpfloat (reference_error (ref, "projector_output", eq, ne, 0), >, 0);
}

/* Chat templates: the family of a Jinja text (short texts that write each
 * family's turn markers, as the published templates do), and where a
 * checkpoint's comes from: a GGUF's tokenizer.chat_template (none in the
 * fixture pair), tokenizer_config.json's chat_template (a directory of
 * links to the tiny LLaVA with one written here). */
static void
test_chat_template (void)
{
  static const struct { const char *jinja, *family, *starts; } cases[] = {
    { "{% for m in messages %}{{'<|im_start|>' + m['role'] + '\n' + m['content'] + '<|im_end|>\n'}}{% endfor %}",
      "ChatML", "<|im_start|>user\n<image>\n" },
    { "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' }}", "Llama 3",
      "<|start_header_id|>user" },
    { "{{ '<start_of_turn>' + role + '\n' }}", "Gemma", "<start_of_turn>user" },
    { "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}", "Llama 2 / Mistral", "[INST] <image>" },
    { "{% if m['role'] == 'user' %}USER: {{ m['content'] }} {% else %}ASSISTANT: {{ m['content'] }}{% endif %}",
      "Vicuna", "USER: <image>" },
  };
  g_autoptr (GError) error = NULL;
  g_autofree char *src = fixture_path ("llava-tiny-q"), *dir = g_dir_make_tmp ("vtp-chat-XXXXXX", &error);
  g_autofree char *pair = fixture_path ("gguf-llava"), *chat = NULL, *cfg = NULL;
  const char *family = "unset", *name;
  VtpCheckpoint *c;
  GDir *d;

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const char *t = vtp_prompt_template_for_chat (cases[i].jinja, &family);
    g_assert_cmpstr (family, ==, cases[i].family);
    g_assert_true (g_str_has_prefix (t, cases[i].starts));
    g_assert_nonnull (strstr (t, "{prompt}"));
    g_assert_nonnull (strstr (t, VTP_IMAGE_MARKER));
  }
  g_assert_null (vtp_prompt_template_for_chat ("{{ messages[0]['content'] }}", &family));
  g_assert_null (family);
  g_assert_null (vtp_prompt_template_for_chat (NULL, NULL));

  c = vtp_checkpoint_open (pair, &error);
  g_assert_no_error (error);
  g_assert_null (vtp_model_chat_template (c));
  vtp_checkpoint_unref (c);

  g_assert_no_error (error);
  d = g_dir_open (src, 0, &error);
  g_assert_no_error (error);
  while ((name = g_dir_read_name (d)))
    if (!g_str_equal (name, "tokenizer_config.json")) {
      g_autofree char *from = g_build_filename (src, name, NULL), *to = g_build_filename (dir, name, NULL);
      g_assert_cmpint (symlink (from, to), ==, 0);
    }
  g_dir_close (d);
  cfg = g_build_filename (dir, "tokenizer_config.json", NULL);
  g_assert_true (g_file_set_contents (cfg, "{\"chat_template\": \"{{'<|im_start|>user'}}\"}", -1, &error));
  c = vtp_checkpoint_open (dir, &error);
  g_assert_no_error (error);
  chat = vtp_model_chat_template (c);
  g_assert_cmpstr (chat, ==, "{{'<|im_start|>user'}}");
  vtp_checkpoint_unref (c);
  /* a list of named templates (HF's other form) is not a template vtp reads */
  g_assert_true (g_file_set_contents (cfg, "{\"chat_template\": [{\"name\": \"default\", \"template\": \"x\"}]}", -1,
          &error));
  c = vtp_checkpoint_open (dir, &error);
  g_assert_null (vtp_model_chat_template (c));
  vtp_checkpoint_unref (c);
  d = g_dir_open (dir, 0, NULL);
  while ((name = g_dir_read_name (d))) {
    g_autofree char *p = g_build_filename (dir, name, NULL);
    g_unlink (p);
  }
  g_dir_close (d);
  g_rmdir (dir);
}

/* A vocabulary without "<image>" (LLaVA-1.5's own GGUF files): the text
 * before the marker (with the BOS) and after it are tokenized apart, one
 * placeholder between. */
static void
test_split_prompt (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path ("gguf-llava");
  VtpCheckpoint *c = vtp_checkpoint_open (dir, &error);
  g_autoptr (VtpTokenizer) tok = vtp_model_tokenizer_new (c, &error);
  g_autoptr (GArray) ids = NULL, before = NULL, after = NULL;
  gint pos = -1;

  g_assert_no_error (error);
  ids = vtp_prompt_encode (tok, VTP_LLAVA_TEMPLATE, "What is in the picture?", -1, TRUE, &pos, &error);
  g_assert_no_error (error);
  before = vtp_tokenizer_encode (tok, "USER: ", TRUE, &error);
  after = vtp_tokenizer_encode (tok, "\nWhat is in the picture? ASSISTANT:", FALSE, &error);
  g_assert_no_error (error);
  g_assert_cmpint (pos, ==, before->len);
  g_assert_cmpint (ids->len, ==, before->len + 1 + after->len);
  g_assert_cmpmem (ids->data, before->len * 4, before->data, before->len * 4);
  g_assert_cmpmem ((gint32 *) ids->data + pos + 1, after->len * 4, after->data, after->len * 4);
  g_assert_cmpint (g_array_index (ids, gint32, 0), ==, vtp_tokenizer_get_bos_id (tok));
  /* the marker is still required, once */
  g_assert_null (vtp_prompt_encode (tok, "{prompt}", "no marker", -1, TRUE, &pos, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  g_clear_error (&error);
  g_assert_null (vtp_prompt_encode (tok, "<image><image>{prompt}", "two", -1, TRUE, &pos, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  vtp_checkpoint_unref (c);
}

/* A copy of the mmproj file, patched or cut (fixture_patched_copy). */
static char *
mmproj_copy (const char *dir, const char *from, const char *to, gsize len, gsize cut)
{
  g_autofree char *src = fixture_path ("gguf-llava/mmproj-model-f32.gguf");
  char *path = g_build_filename (dir, "mmproj-model-f32.gguf", NULL);

  fixture_patched_copy (src, path, from, to, len, cut);
  return path;
}

/* A damaged or foreign mmproj file: an error naming the file and what is
 * wrong, at open (the elements' start), never a crash. */
static void
test_bad_mmproj (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vtp-mmproj-XXXXXX", &error);
  static const struct { const char *from, *to; gsize cut; const char *expect; } cases[] = {
    /* another projector (same length, so the file stays valid) */
    { "mlp", "ldp", 0, "clip.projector_type is \"ldp\"" },
    /* a tower whose MLP cannot be told apart */
    { "v.blk.0.ffn_up.weight", "v.blk.0.ffn_xx.weight", 0, "v.blk.0.ffn_up.weight and v.blk.0.ffn_down.weight" },
    /* cut short: the GGUF reader names the first tensor past the end */
    { NULL, NULL, 4000, "truncated or corrupt" },
  };

  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = mmproj_copy (dir, cases[i].from, cases[i].to, cases[i].from ? strlen (cases[i].from) : 0,
        cases[i].cut);
    g_autoptr (GError) e = NULL;
    VtpCheckpoint *c = vtp_checkpoint_open (path, &e);
    g_assert_null (c);
    g_assert_nonnull (e);
    g_test_message ("%s", e->message);
    g_assert_nonnull (strstr (e->message, cases[i].expect));
    g_assert_nonnull (strstr (e->message, "mmproj-model-f32.gguf"));
    g_unlink (path);
  }
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  gint rc;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  ref = reference_open ("gguf-llava");
  g_test_add_func ("/gguf-llava/pair", test_pair);
  g_test_add_func ("/gguf-llava/mmproj-alone", test_mmproj_alone);
  g_test_add_func ("/gguf-llava/mmproj-q8_0", test_mmproj_q8_0);
  g_test_add_func ("/gguf-llava/split-prompt", test_split_prompt);
  g_test_add_func ("/gguf-llava/chat-template", test_chat_template);
  g_test_add_func ("/gguf-llava/bad-mmproj", test_bad_mmproj);
  rc = g_test_run ();
  vtp_safetensors_free (ref);
  return rc;
}
