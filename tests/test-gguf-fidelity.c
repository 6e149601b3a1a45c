/* test-gguf-fidelity.c: llama.cpp GGUF files through vtp's checkpoint, on
 * the fixtures of tools/make_gguf_model_fixtures.py (the language model of
 * llava-tiny-q, converted by llama.cpp's convert_hf_to_gguf.py and
 * quantized by its llama-quantize, with llama.cpp's own greedy runs):
 *   - the F32 GGUF and the safetensors it came from give the same logits
 *     (the GGUF has Meta's RoPE layout: another weight order, the same
 *     model);
 *   - vtp's prompt ids from the GGUF's own vocabulary are llama.cpp's, and
 *     on the Q8_0 / Q4_0 files vtp's greedy tokens are llama.cpp's;
 *   - broken or unsupported files are refused with errors that name what
 *     is wrong.
 * Run twice by meson: with vtp's int8 decode where the CPU has it (as
 * llama.cpp's CPU backend quantizes activations for these types) and with
 * VTP_QUANT_DOT=float (dequantized weights, float products). */
#include <string.h>
#include <glib/gstdio.h>
#include "vtp-parts.h"
#include "vtp-llama.h"
#include "vtp-generate.h"
#include "vtp-prompt.h"
#include "fidelity-util.h"

static VtpDevice *dev;

typedef struct {
  JsonParser *parser;
  GArray *prompt_ids, *greedy_ids;
  float *first_logits;
  gsize n_vocab;
} Reference;

static GArray *
json_ids (JsonObject *o, const char *member)
{
  JsonArray *a = json_object_get_array_member (o, member);
  GArray *ids = g_array_new (FALSE, FALSE, sizeof (gint32));
  for (guint i = 0; i < json_array_get_length (a); i++) {
    gint32 v = (gint32) json_array_get_int_element (a, i);
    g_array_append_val (ids, v);
  }
  return ids;
}

/* The fixture folder of @type ("f32", "q8_0", "q4_0": gguf-tiny, llama.cpp's
 * SentencePiece vocabulary; "llama3/f32", "llama3/q8_0": gguf-llama3-tiny,
 * a Llama 3 style byte-level BPE vocabulary; "llama32/...": gguf-llama32-tiny,
 * the same shaped as Llama 3.2, with Llama 3.1's RoPE scaling and a tied
 * output head, "llama32/hf" its safetensors with transformers' reference;
 * "qwen2/...": gguf-qwen2-tiny, a Qwen2 with the Qwen2 style vocabulary;
 * "mistral/...": gguf-mistral-tiny, a Mistral with a sliding window;
 * "kquant/q4_k_m" etc.: gguf-kquant-tiny, the llama3 one at width 256 in
 * llama-quantize's K-quant mixes; "lowk/q3_k_m" etc.: gguf-lowk-tiny, the
 * same shape in its Q3_K_S, Q3_K_M and Q2_K mixes; "iq4/iq4_nl", "iq4/iq4_xs":
 * gguf-iq4-tiny, the same shape in IQ4_NL and IQ4_XS; "iq/iq3_xxs" etc.:
 * gguf-iq-tiny, the same shape in the lattice mixes IQ3_XXS, IQ3_S,
 * IQ2_XXS, IQ2_XS and IQ2_M, quantized with an importance matrix;
 * "iq1/iq1_s", "iq1/iq1_m": gguf-iq1-tiny, the same in IQ1_S and IQ1_M;
 * "atload/f16", "atload/iq4_xs" etc.: gguf-atload-tiny, one layer at width
 * 256 in F16 and llama-quantize's --pure files of it, every matrix in
 * IQ4_NL, IQ4_XS or Q4_K and the token embedding F16; "fallback/...":
 * gguf-fallback-tiny, the same at width 64, its --pure Q4_K, Q6_K, Q2_K
 * and IQ4_XS files in their 32-block fallback types);
 * *@type becomes the bare type. */
static char *
fixture_dir (const char **type)
{
  static const struct { const char *prefix, *dir; } dirs[] = {
    { "llama3/", "gguf-llama3-tiny" }, { "llama32/", "gguf-llama32-tiny" },
    { "qwen2/", "gguf-qwen2-tiny" }, { "mistral/", "gguf-mistral-tiny" },
    { "kquant/", "gguf-kquant-tiny" }, { "lowk/", "gguf-lowk-tiny" }, { "iq4/", "gguf-iq4-tiny" },
    { "iq/", "gguf-iq-tiny" }, { "iq1/", "gguf-iq1-tiny" }, { "atload/", "gguf-atload-tiny" },
    { "fallback/", "gguf-fallback-tiny" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (dirs); i++)
    if (g_str_has_prefix (*type, dirs[i].prefix)) {
      *type += strlen (dirs[i].prefix);
      return fixture_path (dirs[i].dir);
    }
  return fixture_path ("gguf-tiny");
}

static void
reference_load (Reference *r, const char *type)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_dir (&type);
  g_autofree char *name = g_strdup_printf ("reference-%s.json", type);
  g_autofree char *path = g_build_filename (dir, name, NULL);
  JsonObject *o;
  JsonArray *a;

  r->parser = json_parser_new ();
  g_assert_true (json_parser_load_from_file (r->parser, path, &error));
  g_assert_no_error (error);
  o = json_node_get_object (json_parser_get_root (r->parser));
  r->prompt_ids = json_ids (o, "prompt_ids");
  r->greedy_ids = json_ids (o, "greedy_ids");
  a = json_object_get_array_member (o, "first_logits");
  r->n_vocab = json_array_get_length (a);
  r->first_logits = g_new (float, r->n_vocab);
  for (guint i = 0; i < r->n_vocab; i++)
    r->first_logits[i] = (float) json_array_get_double_element (a, i);
}

static void
reference_clear (Reference *r)
{
  g_array_unref (r->prompt_ids);
  g_array_unref (r->greedy_ids);
  g_free (r->first_logits);
  g_object_unref (r->parser);
}

static char *
gguf_path (const char *type)
{
  g_autofree char *dir = fixture_dir (&type);
  g_autofree char *name = g_strdup_printf ("llm-%s.gguf", type);
  return g_build_filename (dir, name, NULL);
}

/* A checkpoint's LLM with its parts. */
typedef struct {
  VtpCheckpoint *ckpt;
  VtpModelParts parts;
  VtpLlamaNames names;
  VtpLlama *llm;
  VtpLlamaState *state;
} Model;

static void
model_open_kv (Model *m, const char *path, VtpWeightType wtype, VtpDType kv)
{
  g_autoptr (GError) error = NULL;

  m->ckpt = vtp_checkpoint_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (m->ckpt, &m->parts, &error));
  g_assert_no_error (error);
  g_assert_true (m->parts.has_text);
  g_assert_true (vtp_llama_find_names (m->ckpt, &m->parts.text, &m->names, &error));
  m->llm = vtp_llama_load (m->ckpt, &m->names, &m->parts.text, NULL, dev, wtype, &error);
  g_assert_no_error (error);
  m->state = vtp_llama_state_new_kv (m->llm, 64, 64, kv, &error);
  g_assert_no_error (error);
  g_assert_cmpint (m->state->k_cache[0]->dtype, ==, kv);
}

static void
model_open (Model *m, const char *path, VtpWeightType wtype)
{
  model_open_kv (m, path, wtype, VTP_DTYPE_F32);
}

static void
model_close (Model *m)
{
  vtp_llama_state_free (m->state);
  vtp_llama_free (m->llm);
  vtp_model_parts_clear (&m->parts);
  vtp_checkpoint_unref (m->ckpt);
}

/* Logits of every position of @ids, from position 0. */
static float *
model_logits (Model *m, GArray *ids)
{
  g_autoptr (GError) error = NULL;
  const VtpLlamaSegment seg = { (const gint32 *) ids->data, NULL, 0, (gint) ids->len };
  const gsize n = (gsize) ids->len * m->parts.text.vocab_size;
  float *got = g_new (float, n);

  m->state->n_past = 0;
  g_assert_true (vtp_llama_prefill (m->llm, m->state, &seg, 1, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_read (m->state->logits, 0, got, n * sizeof (float), &error));
  g_assert_no_error (error);
  return got;
}

/* The greedy continuation of @ids (its prefill from position 0), up to @n
 * tokens. */
static GArray *
model_greedy (Model *m, GArray *ids, gint n)
{
  g_autoptr (GError) error = NULL;
  const VtpLlamaSegment prompt = { (const gint32 *) ids->data, NULL, 0, (gint) ids->len };
  VtpGenerateParams gp = { 0 };
  GArray *tokens = g_array_new (FALSE, FALSE, sizeof (gint32));

  m->state->n_past = 0;
  g_assert_true (vtp_llama_prefill (m->llm, m->state, &prompt, 1, FALSE, &error));
  g_assert_no_error (error);
  gp.max_new_tokens = n;
  g_assert_true (vtp_llama_generate (m->llm, m->state, &gp, NULL, NULL, tokens, NULL, &error));
  g_assert_no_error (error);
  return tokens;
}

static double
max_abs_diff (const float *a, const float *b, gsize n)
{
  double worst = 0;
  for (gsize i = 0; i < n; i++)
    worst = MAX (worst, fabs ((double) a[i] - b[i]));
  return worst;
}

/* The GGUF presents llama.cpp's metadata as the Llama config. */
static void
test_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = gguf_path ("q4_0");
  g_autofree char *llava = fixture_path ("llava-tiny-q");
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (path, &error);
  g_autoptr (VtpCheckpoint) s = vtp_checkpoint_open (llava, &error);
  VtpModelParts p, sp;
  VtpLlamaNames names;
  const VtpStTensor *t;

  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (c, &p, &error) && vtp_model_parts_read (s, &sp, &error));
  g_assert_no_error (error);
  g_assert_cmpint (p.family, ==, VTP_FAMILY_LLAMA);
  /* the same numbers as the llava-hf text config it came from */
  g_assert_cmpint (p.text.vocab_size, ==, sp.text.vocab_size);
  g_assert_cmpint (p.text.hidden_size, ==, sp.text.hidden_size);
  g_assert_cmpint (p.text.intermediate_size, ==, sp.text.intermediate_size);
  g_assert_cmpint (p.text.num_hidden_layers, ==, sp.text.num_hidden_layers);
  g_assert_cmpint (p.text.num_attention_heads, ==, sp.text.num_attention_heads);
  g_assert_cmpint (p.text.num_key_value_heads, ==, sp.text.num_key_value_heads);
  g_assert_cmpint (p.text.head_dim, ==, sp.text.head_dim);
  g_assert_cmpint (p.text.max_position_embeddings, ==, sp.text.max_position_embeddings);
  g_assert_cmpfloat (p.text.rms_norm_eps, ==, sp.text.rms_norm_eps);
  g_assert_cmpfloat (p.text.rope_theta, ==, sp.text.rope_theta);
  g_assert_cmpint (p.text.tie_word_embeddings, ==, FALSE);
  g_assert_cmpint (p.text.bos_token_id, ==, 1);
  g_assert_cmpint (p.text.eos_token_id[0], ==, 2);
  /* Meta's names, hence the interleaved RoPE */
  g_assert_true (vtp_llama_find_names (c, &p.text, &names, &error));
  g_assert_true (names.meta);
  g_assert_cmpstr (names.lm_head, ==, "output.weight");
  /* shapes row-major, the quantized types as they are */
  t = vtp_checkpoint_find (c, "layers.0.attention.wk.weight");
  g_assert_nonnull (t);
  g_assert_cmpint (t->ndim, ==, 2);
  g_assert_cmpint (t->shape[0], ==, 32);
  g_assert_cmpint (t->shape[1], ==, 64);
  g_assert_cmpint (t->dtype, ==, VTP_DTYPE_Q4_0);
  g_assert_cmpint (vtp_checkpoint_find (c, "output.weight")->dtype, ==, VTP_DTYPE_Q8_0);
  g_assert_cmpint (vtp_checkpoint_find (c, "norm.weight")->dtype, ==, VTP_DTYPE_F32);
  vtp_model_parts_clear (&p);
  vtp_model_parts_clear (&sp);
}

/* The F32 GGUF is the safetensors' model: the same logits. */
static void
test_f32_matches_safetensors (void)
{
  g_autofree char *path = gguf_path ("f32");
  g_autofree char *llava = fixture_path ("llava-tiny-q");
  g_autofree float *a = NULL, *b = NULL;
  Reference r = { 0 };
  Model g = { 0 }, s = { 0 };
  double diff, vs_llamacpp;
  const gsize V = 448;

  reference_load (&r, "f32");
  model_open (&g, path, VTP_WEIGHTS_KEEP);
  model_open (&s, llava, VTP_WEIGHTS_KEEP);
  g_assert_cmpint (g.llm->rope_layout, ==, VTP_ROPE_INTERLEAVED);
  g_assert_cmpint (s.llm->rope_layout, ==, VTP_ROPE_HALF);
  a = model_logits (&g, r.prompt_ids);
  b = model_logits (&s, r.prompt_ids);
  diff = max_abs_diff (a, b, (gsize) r.prompt_ids->len * V);
  /* llama.cpp's own logits of the last prompt position (its KV cache is
   * F16, so only close) */
  vs_llamacpp = max_abs_diff (a + (gsize) (r.prompt_ids->len - 1) * V, r.first_logits, V);
  g_test_message ("F32 GGUF vs safetensors: max |logit diff| %.3g over %u positions; vs llama.cpp's last-position "
      "logits %.3g", diff, r.prompt_ids->len, vs_llamacpp);
  g_assert_cmpfloat (diff, <=, 1e-5);
  g_assert_cmpfloat (vs_llamacpp, <=, 1e-2);
  model_close (&g);
  model_close (&s);
  reference_clear (&r);
}

/* The GGUF's vocabulary gives llama.cpp's prompt ids, BOS included. */
static void
test_prompt_ids (gconstpointer data)
{
  const char *type = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = gguf_path (type);
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (path, &error);
  g_autoptr (VtpTokenizer) tok = NULL;
  g_autoptr (GArray) ids = NULL;
  Reference r = { 0 };
  const char *prompt;
  gint pos;

  g_assert_no_error (error);
  reference_load (&r, type);
  prompt = json_object_get_string_member (json_node_get_object (json_parser_get_root (r.parser)), "prompt");
  tok = vtp_model_tokenizer_new (c, &error);
  g_assert_no_error (error);
  /* as vtpllm encodes a prompt with its template "{prompt}" */
  ids = vtp_prompt_encode (tok, "{prompt}", prompt, -1, FALSE, &pos, &error);
  g_assert_no_error (error);
  g_assert_cmpint (ids->len, ==, r.prompt_ids->len);
  for (guint i = 0; i < ids->len; i++)
    g_assert_cmpint (g_array_index (ids, gint32, i), ==, g_array_index (r.prompt_ids, gint32, i));
  reference_clear (&r);
}

/* Quantized GGUFs: the blocks go to the device as they are, and vtp's
 * greedy continuation is llama.cpp's. */
/* F32 files with vtp's Q8_0 cache against llama.cpp's F16 one: measured
 * 0.008-0.032 on the four vocabularies' files */
#define KV_Q8_0_LOGIT_TOL 1e-1

static void
test_greedy (gconstpointer data)
{
  /* "kv-f16/TYPE": TYPE with vtp's KV cache in F16, as llama.cpp's;
   * "kv-q8_0/TYPE": in Q8_0 blocks (llama.cpp's -ctk / -ctv q8_0; the
   * references are its runs with its default F16 cache) */
  const gboolean kv16 = g_str_has_prefix (data, "kv-f16/"), kv8 = g_str_has_prefix (data, "kv-q8_0/");
  const char *type = kv16 ? (const char *) data + strlen ("kv-f16/")
      : kv8 ? (const char *) data + strlen ("kv-q8_0/") : data;
  const VtpDType kv_type = kv16 ? VTP_DTYPE_F16 : kv8 ? VTP_DTYPE_Q8_0 : VTP_DTYPE_F32;
  g_autofree char *path = gguf_path (type);
  g_autofree float *logits = NULL;
  g_autoptr (GArray) tokens = NULL;
  /* the type of the first layer's q and of the output head: llama-quantize
   * keeps the head in Q6_K for the K-quant mixes, and falls back where rows
   * are not whole super-blocks (gguf-tiny's 64: Q6_K to Q8_0, Q4_K to
   * Q5_0, Q5_K to Q5_1); @checked, @float_checked: the greedy steps
   * compared with the int8 decode and with VTP_QUANT_DOT=float (0: all).
   * llama.cpp's Q4_1 continuation reaches near-ties at its third and fifth
   * steps (top-2 margins 0.012 and 0.004, where the two engines' logits
   * differ by up to 0.09 on every quantized file): vtp follows it for the
   * two steps before (and takes the other branch at the third with its
   * int8 products, at the fifth with VTP_QUANT_DOT=float); its Q4_1
   * products are checked exactly in test-llava-fidelity and test-quant.
   * Q2_K in float: llama.cpp's fifth step has a margin of 0.031 and the
   * float products' logits are 0.05 from its (the int8 ones, which round
   * the activations as llama.cpp does, follow all 12 steps). @float_embed:
   * the token embedding is not quantized (gguf-atload-tiny's files). */
  static const struct {
    const char *name;
    VtpDType q, head;
    guint checked, float_checked;
    gboolean float_embed;
  } mixes[] = {
    { "q8_0", VTP_DTYPE_Q8_0, VTP_DTYPE_Q8_0 }, { "q4_0", VTP_DTYPE_Q4_0, VTP_DTYPE_Q8_0 },
    { "q4_1", VTP_DTYPE_Q4_1, VTP_DTYPE_Q8_0, 2, 2 }, { "q5_0", VTP_DTYPE_Q5_0, VTP_DTYPE_Q8_0 },
    { "q5_1", VTP_DTYPE_Q5_1, VTP_DTYPE_Q8_0 },
    { "q4_k_m", VTP_DTYPE_Q5_0, VTP_DTYPE_Q8_0 }, { "q5_k_m", VTP_DTYPE_Q5_1, VTP_DTYPE_Q8_0 },
    { "llama3/q8_0", VTP_DTYPE_Q8_0, VTP_DTYPE_Q8_0 }, { "llama32/q8_0", VTP_DTYPE_Q8_0, VTP_DTYPE_Q8_0 },
    { "qwen2/q8_0", VTP_DTYPE_Q8_0, VTP_DTYPE_Q8_0 }, { "mistral/q8_0", VTP_DTYPE_Q8_0, VTP_DTYPE_Q8_0 },
    { "kquant/q4_k_m", VTP_DTYPE_Q4_K, VTP_DTYPE_Q6_K }, { "kquant/q5_k_m", VTP_DTYPE_Q5_K, VTP_DTYPE_Q6_K },
    { "kquant/q6_k", VTP_DTYPE_Q6_K, VTP_DTYPE_Q6_K },
    { "lowk/q3_k_s", VTP_DTYPE_Q3_K, VTP_DTYPE_Q6_K }, { "lowk/q3_k_m", VTP_DTYPE_Q3_K, VTP_DTYPE_Q6_K },
    { "lowk/q2_k", VTP_DTYPE_Q2_K, VTP_DTYPE_Q6_K, 0, 4 },
    { "iq4/iq4_nl", VTP_DTYPE_IQ4_NL, VTP_DTYPE_Q6_K }, { "iq4/iq4_xs", VTP_DTYPE_IQ4_XS, VTP_DTYPE_Q6_K },
    /* llama-quantize's IQ3_XXS mix keeps q and k in IQ2_S (its ffn matrices
     * are IQ3_XXS), IQ2_M's are IQ2_S. IQ3_XXS with the int8 products: llama.cpp's
     * 10th and 11th steps have margins of 0.017, below the two engines'
     * logit gap (0.05): vtp follows the 10 steps before and takes the
     * other branch at the 11th (the float products follow all 12) */
    { "iq/iq3_xxs", VTP_DTYPE_IQ2_S, VTP_DTYPE_Q5_K, 10, 0 }, { "iq/iq3_s", VTP_DTYPE_IQ3_S, VTP_DTYPE_Q6_K },
    { "iq/iq2_xxs", VTP_DTYPE_IQ2_XXS, VTP_DTYPE_Q5_K }, { "iq/iq2_xs", VTP_DTYPE_IQ2_XS, VTP_DTYPE_Q5_K },
    { "iq/iq2_m", VTP_DTYPE_IQ2_S, VTP_DTYPE_Q5_K },
    /* IQ1_S with the int8 products: llama.cpp's 11th step has a margin of
     * 0.005 (the engines' logits 0.054 apart): the 10 steps before */
    { "iq1/iq1_s", VTP_DTYPE_IQ1_S, VTP_DTYPE_Q5_K, 10, 0 }, { "iq1/iq1_m", VTP_DTYPE_IQ1_M, VTP_DTYPE_Q5_K },
    /* llama-quantize --pure: every matrix one type, the head too. Q4_K with
     * the int8 products: llama.cpp's 10th step has a margin of 0.009 (the
     * engines' logits 0.04 apart): the 9 steps before */
    { "atload/f16", VTP_DTYPE_F16, VTP_DTYPE_F16, 0, 0, TRUE },
    { "atload/iq4_nl", VTP_DTYPE_IQ4_NL, VTP_DTYPE_IQ4_NL, 0, 0, TRUE },
    { "atload/iq4_xs", VTP_DTYPE_IQ4_XS, VTP_DTYPE_IQ4_XS, 0, 0, TRUE },
    { "atload/q4_k", VTP_DTYPE_Q4_K, VTP_DTYPE_Q4_K, 9, 0, TRUE },
    { "fallback/q4_k", VTP_DTYPE_Q5_0, VTP_DTYPE_Q5_0, 0, 0, TRUE },
    { "fallback/iq4_xs", VTP_DTYPE_IQ4_NL, VTP_DTYPE_IQ4_NL, 0, 0, TRUE },
  };
  gboolean float_embed = FALSE;
  VtpDType q = VTP_DTYPE_F32, head = VTP_DTYPE_F32;
  guint checked = 0;
  Reference r = { 0 };
  Model m = { 0 };
  gsize V;
  guint same = 0;
  double diff;

  for (guint i = 0; i < G_N_ELEMENTS (mixes); i++)
    if (g_str_equal (type, mixes[i].name)) {
      q = mixes[i].q;
      head = mixes[i].head;
      /* the int8 products: x86 VNNI, not VTP_QUANT_DOT=float, not the GPU kernels */
      checked = dev->int8_dot && !g_getenv ("VTP_LINEAR_AS_GPU") ? mixes[i].checked : mixes[i].float_checked;
      float_embed = mixes[i].float_embed;
    }
  reference_load (&r, type);
  V = r.n_vocab;
  model_open_kv (&m, path, VTP_WEIGHTS_KEEP, kv_type);
  g_assert_cmpint (m.llm->layers[0].wq->dtype, ==, q);
  if (q != VTP_DTYPE_F32) {
    g_assert_cmpint (m.llm->lm_head->dtype, ==, head);
    g_assert_true (vtp_dtype_is_quantized (m.llm->embed->dtype) != float_embed);
  }
  logits = model_logits (&m, r.prompt_ids);
  diff = max_abs_diff (logits + (gsize) (r.prompt_ids->len - 1) * V, r.first_logits, V);
  g_test_message ("%s (int8 dot %s, KV cache %s): last prompt position, max |logit diff| against llama.cpp %.3g",
      type, dev->int8_dot ? "on" : "off", vtp_dtype_name (kv_type), diff);
  /* F32 weights: only the KV caches between the two (llama.cpp's F16;
   * vtp's F32, F16 or Q8_0: Q8_0's 8 bits move the logits more) */
  if (q == VTP_DTYPE_F32)
    g_assert_cmpfloat (diff, <=, kv8 ? KV_Q8_0_LOGIT_TOL : 1e-2);

  tokens = model_greedy (&m, r.prompt_ids, (gint) r.greedy_ids->len);
  for (guint i = 0; i < MIN (tokens->len, r.greedy_ids->len)
      && g_array_index (tokens, gint32, i) == g_array_index (r.greedy_ids, gint32, i); i++)
    same++;
  g_test_message ("%s: %u of %u greedy tokens equal llama.cpp's", type, same, r.greedy_ids->len);
  /* A Q8_0 cache moves the logits by up to ~0.1 on the quantized files:
   * llama.cpp's Q8_0 file has a margin of 0.035 at its fifth step, where
   * vtp with the float products takes the other branch (with the int8
   * ones, which round the activations as llama.cpp does, it follows all
   * 12): the 4 steps before */
  if (kv8 && q == VTP_DTYPE_Q8_0 && !(dev->int8_dot && !g_getenv ("VTP_LINEAR_AS_GPU")))
    checked = 4;
  g_assert_cmpuint (same, >=, checked ? checked : r.greedy_ids->len);
  model_close (&m);
  reference_clear (&r);
}

/* weight-type=TYPE on gguf-atload-tiny's F16 file quantizes every matrix
 * (the output head too) as llama-quantize --pure does with the same type:
 * the same blocks as its file, hence the same logits at every position, bit
 * for bit (the quantizers' own check is test-quant's /quant/reference; this
 * one covers the loader's way there: rows split between threads, the
 * packing, the head). @data: "atload/TYPE", or "fallback/TYPE":
 * gguf-fallback-tiny, width 64, whose rows are not whole 256-blocks, where
 * both take llama-quantize's 32-block fallback type (Q4_K -> Q5_0, Q6_K ->
 * Q8_0, Q2_K -> Q4_0, IQ4_XS -> IQ4_NL). */
static void
test_at_load (gconstpointer data)
{
  static const struct { const char *name; VtpWeightType w; VtpDType t; } types[] = {
    { "atload/iq4_nl", VTP_WEIGHTS_IQ4_NL, VTP_DTYPE_IQ4_NL }, { "atload/iq4_xs", VTP_WEIGHTS_IQ4_XS, VTP_DTYPE_IQ4_XS },
    { "atload/q4_k", VTP_WEIGHTS_Q4_K, VTP_DTYPE_Q4_K },
    { "fallback/q4_k", VTP_WEIGHTS_Q4_K, VTP_DTYPE_Q5_0 }, { "fallback/q6_k", VTP_WEIGHTS_Q6_K, VTP_DTYPE_Q8_0 },
    { "fallback/q2_k", VTP_WEIGHTS_Q2_K, VTP_DTYPE_Q4_0 }, { "fallback/iq4_xs", VTP_WEIGHTS_IQ4_XS, VTP_DTYPE_IQ4_NL },
  };
  const char *name = data;
  g_autofree char *dir = g_strndup (name, strchr (name, '/') - name);
  g_autofree char *f16_name = g_strdup_printf ("%s/f16", dir);
  g_autofree char *f16 = gguf_path (f16_name);
  g_autofree char *file = gguf_path (name);
  g_autofree float *a = NULL, *b = NULL;
  VtpWeightType w = VTP_WEIGHTS_KEEP;
  VtpDType t = VTP_DTYPE_F32;
  Reference r = { 0 };
  Model q = { 0 }, k = { 0 };
  double diff;

  for (guint i = 0; i < G_N_ELEMENTS (types); i++)
    if (g_str_equal (name, types[i].name)) {
      w = types[i].w;
      t = types[i].t;
    }
  g_assert_cmpint (w, !=, VTP_WEIGHTS_KEEP);
  reference_load (&r, f16_name);
  model_open (&q, f16, w);
  model_open (&k, file, VTP_WEIGHTS_KEEP);
  for (Model *m = &q; m; m = m == &q ? &k : NULL) {
    g_assert_cmpint (m->llm->layers[0].wq->dtype, ==, t);
    g_assert_cmpint (m->llm->layers[0].w_down->dtype, ==, t);
    g_assert_cmpint (m->llm->lm_head->dtype, ==, t);
    g_assert_cmpint (m->llm->embed->dtype, ==, VTP_DTYPE_F16);
  }
  a = model_logits (&q, r.prompt_ids);
  b = model_logits (&k, r.prompt_ids);
  diff = max_abs_diff (a, b, (gsize) r.prompt_ids->len * r.n_vocab);
  g_test_message ("%s: the F16 file at load vs llama-quantize's file, max |logit diff| %.3g", name, diff);
  g_assert_cmpfloat (diff, ==, 0);
  model_close (&q);
  model_close (&k);
  reference_clear (&r);
}

/* The safetensors the GGUF files of @data ("llama32", "qwen2", "mistral") were made
 * from give transformers' logits and greedy ids; the GGUF files give
 * llama.cpp's (test_greedy). llama32: Llama 3.1's RoPE scaling (in the GGUF,
 * llama.cpp's per-frequency divisors, rope_freqs.weight) and a tied output
 * head, Llama 3.2's shape; qwen2: biases on q, k and v, and RoPE in the
 * halves layout in the GGUF too (llama.cpp permutes "llama" files only);
 * mistral: a sliding window longer than the text (whole attention). */
static void
test_safetensors (gconstpointer data)
{
  const char *family = data;
  const gboolean qwen2 = !strcmp (family, "qwen2"), mistral = !strcmp (family, "mistral");
  g_autofree char *ref_name = g_strdup_printf ("%s/hf", family);
  g_autofree char *f32_name = g_strdup_printf ("%s/f32", family);
  g_autofree char *dir_name = g_strdup_printf ("gguf-%s-tiny", family);
  g_autofree char *dir = fixture_path (dir_name);
  g_autofree char *hf = g_build_filename (dir, "hf", NULL);
  g_autofree char *gguf = gguf_path (f32_name);
  g_autoptr (GArray) tokens = NULL;
  g_autofree float *logits = NULL;
  Reference r = { 0 };
  Model m = { 0 }, g = { 0 };
  double diff;

  reference_load (&r, ref_name);
  model_open (&m, hf, VTP_WEIGHTS_KEEP);
  model_open (&g, gguf, VTP_WEIGHTS_KEEP);
  g_assert_true (m.parts.text.tie_word_embeddings == !mistral && g.parts.text.tie_word_embeddings == !mistral);
  if (mistral) {
    /* the sliding window (128) bounds the context: whole attention up to it */
    g_assert_cmpint (m.parts.text.max_position_embeddings, ==, 128);
    g_assert_cmpint (m.llm->rope_layout, ==, VTP_ROPE_HALF);
    g_assert_cmpint (g.llm->rope_layout, ==, VTP_ROPE_INTERLEAVED);
  } else if (qwen2) {
    g_assert_true (m.parts.text.qkv_bias && g.parts.text.qkv_bias);
    g_assert_false (m.parts.text.attention_bias || g.parts.text.attention_bias);
    g_assert_nonnull (m.llm->layers[0].bv);
    g_assert_null (m.llm->layers[0].bo);
    g_assert_cmpint (m.llm->rope_layout, ==, VTP_ROPE_HALF);
    g_assert_cmpint (g.llm->rope_layout, ==, VTP_ROPE_HALF);
  } else {
    g_assert_true (m.parts.text.rope_llama3 && g.parts.text.rope_llama3);
    g_assert_false (m.parts.text.rope_freqs_tensor);
    g_assert_true (g.parts.text.rope_freqs_tensor);
    g_assert_cmpint (g.llm->rope_layout, ==, VTP_ROPE_INTERLEAVED);
  }
  model_close (&g);

  logits = model_logits (&m, r.prompt_ids);
  diff = max_abs_diff (logits + (gsize) (r.prompt_ids->len - 1) * r.n_vocab, r.first_logits, r.n_vocab);
  g_test_message ("%s safetensors: last prompt position, max |logit diff| against transformers %.3g", family, diff);
  g_assert_cmpfloat (diff, <=, 1e-4);
  tokens = model_greedy (&m, r.prompt_ids, (gint) r.greedy_ids->len);
  g_assert_cmpuint (tokens->len, ==, r.greedy_ids->len);
  g_assert_cmpmem (tokens->data, tokens->len * sizeof (gint32), r.greedy_ids->data,
      r.greedy_ids->len * sizeof (gint32));
  model_close (&m);
  reference_clear (&r);
}

/* weight-type f32 on a quantized GGUF dequantizes every tensor: the same
 * logits as the blocks with float products. */
static void
test_dequantized (void)
{
  g_autofree char *path = gguf_path ("q4_0");
  g_autofree float *a = NULL, *b = NULL;
  Reference r = { 0 };
  Model k = { 0 }, f = { 0 };
  double diff;

  if (dev->int8_dot) {
    g_test_skip ("with the int8 decode the products differ by design (VTP_QUANT_DOT=float runs this)");
    return;
  }
  reference_load (&r, "q4_0");
  model_open (&k, path, VTP_WEIGHTS_KEEP);
  model_open (&f, path, VTP_WEIGHTS_F32);
  g_assert_cmpint (f.llm->layers[0].wq->dtype, ==, VTP_DTYPE_F32);
  g_assert_cmpint (f.llm->lm_head->dtype, ==, VTP_DTYPE_F32);
  a = model_logits (&k, r.prompt_ids);
  b = model_logits (&f, r.prompt_ids);
  diff = max_abs_diff (a, b, (gsize) r.prompt_ids->len * 448);
  g_test_message ("Q4_0 GGUF, blocks vs dequantized F32: max |logit diff| %.3g", diff);
  g_assert_cmpfloat (diff, <=, 1e-4);
  model_close (&k);
  model_close (&f);
  reference_clear (&r);
}

/* A copy of the F32 fixture in @dir with the bytes @from replaced by @to
 * (same length) at their first occurrence. */
static char *
patched_copy (const char *dir, const char *name, const char *from, const char *to, gsize len)
{
  g_autofree char *src = gguf_path ("f32");
  char *path = g_build_filename (dir, name, NULL);

  fixture_patched_copy (src, path, from, to, len, 0);
  return path;
}

static void
assert_open_fails (const char *path, const char *expect)
{
  g_autoptr (GError) error = NULL;
  VtpCheckpoint *c = vtp_checkpoint_open (path, &error);
  g_assert_null (c);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, expect));
}

static void
assert_load_fails (const char *path, const char *expect)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (path, &error);
  VtpModelParts p;
  VtpLlamaNames names;
  VtpLlama *llm;

  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (c, &p, &error));
  g_assert_true (vtp_llama_find_names (c, &p.text, &names, &error));
  llm = vtp_llama_load (c, &names, &p.text, NULL, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_null (llm);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, expect));
  vtp_model_parts_clear (&p);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("vtp-gguf-XXXXXX", &error);
  g_autofree char *arch = NULL, *missing = NULL, *type = NULL, *one = NULL, *mmproj = NULL, *two = NULL;
  g_autofree char *sub = NULL, *sub2 = NULL, *src = gguf_path ("f32");
  g_autofree char *data = NULL;
  g_autoptr (VtpCheckpoint) c = NULL;
  gsize n;
  /* the type field of norm.weight: after its name, n_dims (1) and ne[0] (64) */
  const char ne_then_f32[] = { 64, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
  const char ne_then_i32[] = { 64, 0, 0, 0, 0, 0, 0, 0, 26, 0, 0, 0 };
  char from[64], to[64];
  gsize name_len = strlen ("output_norm.weight");

  g_assert_no_error (error);
  /* another architecture */
  arch = patched_copy (dir, "arch.gguf", "llama", "mamba", 5);
  assert_open_fails (arch, "general.architecture is \"mamba\"");
  /* a layer tensor renamed away: the loader names the one it misses */
  missing = patched_copy (dir, "missing.gguf", "blk.1.ffn_up.weight", "blk.1.ffn_xx.weight", 19);
  assert_load_fails (missing, "has no tensor 'layers.1.feed_forward.w3.weight' (blk.1.ffn_up.weight in GGUF names)");
  /* output_norm.weight typed I32 (same size as F32): refused by type */
  memcpy (from, "output_norm.weight\1\0\0\0", name_len + 4);
  memcpy (from + name_len + 4, ne_then_f32, sizeof ne_then_f32);
  memcpy (to, from, name_len + 4);
  memcpy (to + name_len + 4, ne_then_i32, sizeof ne_then_i32);
  type = patched_copy (dir, "type.gguf", from, to, name_len + 4 + sizeof ne_then_f32);
  assert_load_fails (type, "tensor 'norm.weight' (output_norm.weight in GGUF names) is stored as I32");

  /* a directory: its text .gguf alone is the model */
  sub = g_build_filename (dir, "model", NULL);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  g_assert_true (g_file_get_contents (src, &data, &n, &error));
  one = g_build_filename (sub, "llm.gguf", NULL);
  mmproj = g_build_filename (sub, "mmproj-llm.gguf", NULL);
  g_assert_true (g_file_set_contents (one, data, n, &error));
  c = vtp_checkpoint_open (sub, &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_suffix (c->dir, "/model/llm.gguf"));
  g_clear_pointer (&c, vtp_checkpoint_unref);
  /* next to an mmproj file, the pair is: one that is no GGUF is named */
  g_assert_true (g_file_set_contents (mmproj, "x", 1, &error));
  assert_open_fails (sub, "mmproj-llm.gguf is not a GGUF file");
  /* two text models: name the file */
  two = g_build_filename (sub, "llm2.gguf", NULL);
  g_assert_true (g_file_set_contents (two, data, n, &error));
  assert_open_fails (sub, "holds several GGUF models (llm.gguf, llm2.gguf): name the file to use");
  sub2 = g_build_filename (dir, "missing-model.gguf", NULL);
  assert_open_fails (sub2, "not found");

  for (const char *const *f = (const char *const[]) { one, mmproj, two, arch, missing, type, NULL }; *f; f++)
    g_unlink (*f);
  g_rmdir (sub);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/gguf/config", test_config);
  g_test_add_func ("/gguf/f32-matches-safetensors", test_f32_matches_safetensors);
  g_test_add_data_func ("/gguf/prompt-ids/f32", "f32", test_prompt_ids);
  g_test_add_data_func ("/gguf/prompt-ids/q8_0", "q8_0", test_prompt_ids);
  g_test_add_data_func ("/gguf/prompt-ids/q4_0", "q4_0", test_prompt_ids);
  g_test_add_data_func ("/gguf/greedy/q8_0", "q8_0", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/f32", "kv-f16/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/q8_0", "kv-f16/q8_0", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/q4_k_m", "kv-f16/kquant/q4_k_m", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/llama3-f32", "kv-f16/llama3/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/qwen2-f32", "kv-f16/qwen2/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-f16/greedy/mistral-f32", "kv-f16/mistral/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/f32", "kv-q8_0/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/q8_0", "kv-q8_0/q8_0", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/q4_k_m", "kv-q8_0/kquant/q4_k_m", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/llama3-f32", "kv-q8_0/llama3/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/qwen2-f32", "kv-q8_0/qwen2/f32", test_greedy);
  g_test_add_data_func ("/gguf/kv-q8_0/greedy/mistral-f32", "kv-q8_0/mistral/f32", test_greedy);
  g_test_add_data_func ("/gguf/greedy/q4_0", "q4_0", test_greedy);
  /* llama.cpp's older types, and the K-quant mixes of rows that are not
   * whole super-blocks (Q5_0 / Q5_1 with a Q8_0 head) */
  g_test_add_data_func ("/gguf/greedy/q4_1", "q4_1", test_greedy);
  g_test_add_data_func ("/gguf/greedy/q5_0", "q5_0", test_greedy);
  g_test_add_data_func ("/gguf/greedy/q5_1", "q5_1", test_greedy);
  g_test_add_data_func ("/gguf/greedy/q4_k_m-fallback", "q4_k_m", test_greedy);
  g_test_add_data_func ("/gguf/greedy/q5_k_m-fallback", "q5_k_m", test_greedy);
  /* a Llama 3 style vocabulary (byte-level BPE, Llama 3's split, BOS
   * <|begin_of_text|>) in a Llama GGUF */
  g_test_add_data_func ("/gguf/llama3-vocab/prompt-ids", "llama3/f32", test_prompt_ids);
  g_test_add_data_func ("/gguf/llama3-vocab/greedy/f32", "llama3/f32", test_greedy);
  g_test_add_data_func ("/gguf/llama3-vocab/greedy/q8_0", "llama3/q8_0", test_greedy);
  g_test_add_data_func ("/gguf/llama32/safetensors", "llama32", test_safetensors);
  g_test_add_data_func ("/gguf/llama32/greedy/f32", "llama32/f32", test_greedy);
  g_test_add_data_func ("/gguf/llama32/greedy/q8_0", "llama32/q8_0", test_greedy);
  /* Qwen2 (and its vocabulary: no BOS) */
  g_test_add_data_func ("/gguf/qwen2/safetensors", "qwen2", test_safetensors);
  g_test_add_data_func ("/gguf/qwen2/prompt-ids", "qwen2/f32", test_prompt_ids);
  g_test_add_data_func ("/gguf/qwen2/greedy/f32", "qwen2/f32", test_greedy);
  g_test_add_data_func ("/gguf/qwen2/greedy/q8_0", "qwen2/q8_0", test_greedy);
  /* Mistral (config.json model_type mistral; llama.cpp writes it as "llama") */
  g_test_add_data_func ("/gguf/mistral/safetensors", "mistral", test_safetensors);
  g_test_add_data_func ("/gguf/mistral/greedy/f32", "mistral/f32", test_greedy);
  g_test_add_data_func ("/gguf/mistral/greedy/q8_0", "mistral/q8_0", test_greedy);
  /* llama-quantize's K-quant mixes */
  g_test_add_data_func ("/gguf/kquant/greedy/q4_k_m", "kquant/q4_k_m", test_greedy);
  g_test_add_data_func ("/gguf/kquant/greedy/q5_k_m", "kquant/q5_k_m", test_greedy);
  g_test_add_data_func ("/gguf/kquant/greedy/q6_k", "kquant/q6_k", test_greedy);
  g_test_add_data_func ("/gguf/lowk/greedy/q3_k_s", "lowk/q3_k_s", test_greedy);
  g_test_add_data_func ("/gguf/lowk/greedy/q3_k_m", "lowk/q3_k_m", test_greedy);
  g_test_add_data_func ("/gguf/lowk/greedy/q2_k", "lowk/q2_k", test_greedy);
  g_test_add_data_func ("/gguf/iq4/greedy/iq4_nl", "iq4/iq4_nl", test_greedy);
  g_test_add_data_func ("/gguf/iq4/greedy/iq4_xs", "iq4/iq4_xs", test_greedy);
  g_test_add_data_func ("/gguf/iq/greedy/iq3_xxs", "iq/iq3_xxs", test_greedy);
  g_test_add_data_func ("/gguf/iq/greedy/iq3_s", "iq/iq3_s", test_greedy);
  g_test_add_data_func ("/gguf/iq/greedy/iq2_xxs", "iq/iq2_xxs", test_greedy);
  g_test_add_data_func ("/gguf/iq/greedy/iq2_xs", "iq/iq2_xs", test_greedy);
  g_test_add_data_func ("/gguf/iq/greedy/iq2_m", "iq/iq2_m", test_greedy);
  g_test_add_data_func ("/gguf/iq1/greedy/iq1_s", "iq1/iq1_s", test_greedy);
  g_test_add_data_func ("/gguf/iq1/greedy/iq1_m", "iq1/iq1_m", test_greedy);
  g_test_add_data_func ("/gguf/atload/greedy/f16", "atload/f16", test_greedy);
  g_test_add_data_func ("/gguf/atload/greedy/iq4_nl", "atload/iq4_nl", test_greedy);
  g_test_add_data_func ("/gguf/atload/greedy/iq4_xs", "atload/iq4_xs", test_greedy);
  g_test_add_data_func ("/gguf/atload/greedy/q4_k", "atload/q4_k", test_greedy);
  g_test_add_data_func ("/gguf/atload/iq4_nl", "atload/iq4_nl", test_at_load);
  g_test_add_data_func ("/gguf/atload/iq4_xs", "atload/iq4_xs", test_at_load);
  g_test_add_data_func ("/gguf/atload/q4_k", "atload/q4_k", test_at_load);
  g_test_add_data_func ("/gguf/fallback/q4_k", "fallback/q4_k", test_at_load);
  g_test_add_data_func ("/gguf/fallback/q6_k", "fallback/q6_k", test_at_load);
  g_test_add_data_func ("/gguf/fallback/q2_k", "fallback/q2_k", test_at_load);
  g_test_add_data_func ("/gguf/fallback/iq4_xs", "fallback/iq4_xs", test_at_load);
  g_test_add_data_func ("/gguf/fallback/greedy/q4_k", "fallback/q4_k", test_greedy);
  g_test_add_data_func ("/gguf/fallback/greedy/iq4_xs", "fallback/iq4_xs", test_greedy);
  g_test_add_func ("/gguf/dequantized", test_dequantized);
  g_test_add_func ("/gguf/errors", test_errors);
  return g_test_run ();
}
