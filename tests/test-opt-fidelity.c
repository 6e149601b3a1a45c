/* test-opt-fidelity.c: the OPT decoder against transformers at the level of
 * token ids, on tools/make_opt_fixtures.py's opt-tiny-proj (a plain
 * OPTForCausalLM with project_in / project_out and an untied head): the
 * logits of the prompt (as the tokenizer made its ids, </s> first), each
 * greedy step's logits and the greedy tokens. Max abs error 1e-4 (fp32),
 * greedy tokens identical. Also: the OPT language model under every weight
 * type, and the configurations vtp refuses by name. (The BLIP-2 + OPT
 * fixture runs in test-blip-fidelity.c, tower and Q-Former included.) */
#include "vtp-generate.h"
#include "vtp-opt.h"
#include "vtp-parts.h"
#include "fidelity-util.h"
#include "lm-batch-util.h"

#define ATOL 1e-4

static VtpDevice *dev;

static void
test_opt_proj (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) c = NULL;
  g_autoptr (VtpSafetensors) ref = reference_open ("opt-tiny-proj");
  g_autoptr (VtpLm) lm = NULL;
  g_autofree gint32 *ids = NULL;
  VtpModelParts parts;
  double logits_err, steps_err;
  gint L;

  c = open_fixture ("opt-tiny-proj", &parts);
  g_assert_cmpint (parts.family, ==, VTP_FAMILY_OPT);
  g_assert_cmpint (parts.text_family, ==, VTP_TEXT_OPT);
  g_assert_cmpint (parts.opt.word_embed_proj_dim, ==, 32);
  g_assert_cmpint (parts.opt.hidden_size, ==, 48);
  g_assert_false (parts.opt.tie_word_embeddings);
  lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, 64, 32, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lm->family, ==, VTP_TEXT_OPT);
  g_assert_cmpint (lm->input_width, ==, 32);
  ids = reference_ids (ref, "input_ids", &L);
  g_assert_cmpint (ids[0], ==, 2);      /* </s>: OPT's BOS */
  g_assert_cmpint (lm->bos_token_id, ==, 2);
  {
    const VtpLmSegment seg = { ids, NULL, 0, L };
    check_lm_against_reference (lm, ref, &seg, 1, "logits", "step_logits", "greedy_tokens", &logits_err,
        &steps_err);
  }
  g_assert_cmpfloat (logits_err, <=, ATOL);
  g_assert_cmpfloat (steps_err, <=, ATOL);
  /* the prompt fed in chunks of 4 gives the last position's logits as one chunk does */
  {
    g_autoptr (VtpLm) small = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, 64, 4, &error);
    const VtpLmSegment seg = { ids, NULL, 0, L };
    g_autofree float *last = g_new (float, lm->vocab_size);
    const VtpStTensor *want = reference_tensor (ref, "logits");
    g_assert_no_error (error);
    g_assert_true (vtp_lm_prefill (small, &seg, 1, FALSE, &error));
    g_assert_true (vtp_tensor_read (small->logits, 0, last, (gsize) lm->vocab_size * 4, &error));
    g_assert_cmpint (want->shape[0], ==, L);
    g_assert_cmpfloat (reference_error (ref, "logits", last, lm->vocab_size, (gsize) (L - 1) * lm->vocab_size), <=,
        ATOL);
  }
  vtp_model_parts_clear (&parts);
}

/* Every weight type the LLaMA path takes loads OPT's linear layers and
 * runs; the float ones stay near the F32 logits. The widths (32..112) make
 * the quantized types keep the rows that are not whole blocks, as the
 * loader's rule says: what is checked is that each one loads and runs. */
static void
test_weight_types (void)
{
  static const struct {
    const char *name;
    double tol;
  } types[] = { { "f32", ATOL }, { "f16", 0.01 }, { "bf16", 0.1 }, { "q8_0", 0.1 }, { "q4_0", 1.0 },
    { "q4_k", 1.0 }, { "q5_k", 1.0 }, { "q6_k", 1.0 } };
  const char *fixtures[] = { "opt-tiny-proj", "blip2-opt-tiny" };

  for (guint f = 0; f < G_N_ELEMENTS (fixtures); f++) {
    g_autoptr (VtpCheckpoint) c = NULL;
    g_autoptr (VtpSafetensors) ref = reference_open (fixtures[f]);
    g_autofree gint32 *ids = NULL;
    VtpModelParts parts;
    gint L, first;

    c = open_fixture (fixtures[f], &parts);
    ids = reference_ids (ref, "input_ids", &L);
    /* the text after the query placeholders (BLIP-2): </s> and the prompt */
    for (first = 0; first < L && ids[first] != 2; first++)
      ;
    for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
      g_autoptr (GError) error = NULL;
      g_autoptr (VtpLm) lm = NULL;
      g_autofree float *logits = NULL;
      const VtpLmSegment seg = { ids + first, NULL, 0, L - first };
      VtpWeightType wt;

      g_assert_true (vtp_weight_type_from_name (types[t].name, &wt));
      lm = vtp_lm_open (c, &parts, NULL, dev, wt, VTP_DTYPE_F32, 64, 64, &error);
      g_assert_no_error (error);
      logits = g_new (float, lm->vocab_size);
      g_assert_true (vtp_lm_prefill (lm, &seg, 1, FALSE, &error));
      g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) lm->vocab_size * 4, &error));
      g_assert_no_error (error);
      for (gint i = 0; i < lm->vocab_size; i++)
        g_assert_true (isfinite (logits[i]));
      /* opt-tiny-proj's input is the text alone: its reference logits apply */
      if (f == 0)
        g_assert_cmpfloat (reference_error (ref, "logits", logits, lm->vocab_size, (gsize) (L - 1) * lm->vocab_size),
            <=, types[t].tol);
    }
    vtp_model_parts_clear (&parts);
  }
}

static void
expect_opt_error (const char *json, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  VtpOptConfig cfg;

  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  g_assert_false (vtp_opt_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", &cfg,
          &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, expected));
}

static void
test_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  VtpOptConfig cfg;
  VtpBlipConfig blip;

  /* OPTConfig's defaults (facebook/opt-125m's shape) */
  g_assert_true (json_parser_load_from_data (p, "{}", -1, NULL));
  g_assert_true (vtp_opt_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", &cfg, &error));
  g_assert_cmpint (cfg.vocab_size, ==, 50272);
  g_assert_cmpint (cfg.hidden_size, ==, 768);
  g_assert_cmpint (cfg.word_embed_proj_dim, ==, 768);
  g_assert_cmpint (cfg.ffn_dim, ==, 3072);
  g_assert_cmpint (cfg.head_dim, ==, 64);
  g_assert_cmpint (cfg.activation, ==, VTP_ACT_RELU);
  g_assert_true (cfg.enable_bias && cfg.final_layer_norm && cfg.tie_word_embeddings);
  g_assert_cmpint (cfg.bos_token_id, ==, 2);
  g_assert_cmpint (cfg.n_eos, ==, 1);
  g_assert_cmpint (cfg.eos_token_id[0], ==, 2);

  expect_opt_error ("{\"do_layer_norm_before\": false}", "do_layer_norm_before is false");
  expect_opt_error ("{\"layer_norm_elementwise_affine\": false}", "layer_norm_elementwise_affine is false");
  expect_opt_error ("{\"hidden_size\": 50}", "not a multiple of num_attention_heads");
  expect_opt_error ("{\"activation_function\": \"tanh\"}", "activation \"tanh\" is not supported");

  /* BLIP-2 with an OPT whose word embeddings are narrower than its hidden size */
  g_assert_true (json_parser_load_from_data (p, "{\"model_type\": \"blip-2\", \"text_config\": {\"model_type\": "
          "\"opt\", \"hidden_size\": 1024, \"word_embed_proj_dim\": 512, \"num_attention_heads\": 16}}", -1, NULL));
  g_assert_false (vtp_blip_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", FALSE, &blip,
          &error));
  g_assert_nonnull (strstr (error->message, "word_embed_proj_dim 512 differs from its hidden_size 1024"));
  g_clear_error (&error);
  /* a BLIP-2 with OPT-2.7b's text_config parses as OPT */
  g_assert_true (json_parser_load_from_data (p, "{\"model_type\": \"blip-2\", \"qformer_config\": "
          "{\"encoder_hidden_size\": 1408}, \"text_config\": {\"model_type\": \"opt\", \"hidden_size\": 2560, "
          "\"ffn_dim\": 10240, \"num_attention_heads\": 32, \"num_hidden_layers\": 32, \"word_embed_proj_dim\": 2560, "
          "\"eos_token_id\": 50118}}", -1, NULL));
  g_assert_true (vtp_blip_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", FALSE, &blip,
          &error));
  g_assert_no_error (error);
  g_assert_cmpint (blip.text_family, ==, VTP_TEXT_OPT);
  g_assert_cmpint (blip.projection_width, ==, 2560);
  g_assert_cmpint (blip.opt.head_dim, ==, 80);
  g_assert_cmpint (blip.opt.eos_token_id[0], ==, 50118);
  /* other families are still named */
  g_assert_true (json_parser_load_from_data (p, "{\"text_config\": {\"model_type\": \"gpt2\"}}", -1, NULL));
  g_assert_false (vtp_blip_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", FALSE, &blip,
          &error));
  g_assert_nonnull (strstr (error->message, "text_config.model_type is \"gpt2\""));
}

/* OPT's batched decode step (each stream its own learned position and KV
 * cache), against each stream alone, and streams through the batched
 * generator and the batching engine (as vtpllm batch=N runs them)
 * (lm-batch-util.h). */
static void
test_generate_batch (void)
{
  check_lm_batch_fixture (dev, "opt-tiny-proj", VTP_DTYPE_F32, 64, 32, NULL);
  check_lm_batch_fixture (dev, "opt-tiny-proj", VTP_DTYPE_F16, 64, 32, NULL);
}

/* kv-type=f16: the keys and values rounded to F16 in the cache (the
 * prompt's 13 rows stored at once, then a row a step); logits and each
 * greedy step's within KV_F16_TOL of transformers' (fp32; measured 9e-4),
 * and not within 1e-6 (the rounding is there). */
#define KV_F16_TOL 5e-3

static void
test_kv_f16 (void)
{
  g_autoptr (VtpSafetensors) ref = reference_open ("opt-tiny-proj");
  g_autofree gint32 *ids = NULL;
  VtpModelParts parts;
  g_autoptr (VtpCheckpoint) c = open_fixture ("opt-tiny-proj", &parts);
  gint L;

  ids = reference_ids (ref, "input_ids", &L);
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (VtpLm) lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, 64, 32, &error);
    const VtpLmSegment seg = { ids, NULL, 0, L };
    double logits_err, steps_err;

    g_assert_no_error (error);
    g_assert_cmpint (((VtpOptState *) lm->state)->k_cache[0]->dtype, ==, VTP_DTYPE_F16);
    check_lm_against_reference (lm, ref, &seg, 1, "logits", "step_logits", "greedy_tokens", &logits_err,
        &steps_err);
    g_test_message ("opt-tiny-proj, KV cache f16: logits %.3g, steps %.3g from transformers'", logits_err,
        steps_err);
    g_assert_cmpfloat (logits_err, <=, KV_F16_TOL);
    g_assert_cmpfloat (steps_err, <=, KV_F16_TOL);
    g_assert_cmpfloat (steps_err, >, 1e-6);
  }
  vtp_model_parts_clear (&parts);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/opt/config", test_config);
  g_test_add_func ("/opt/opt-tiny-proj", test_opt_proj);
  g_test_add_func ("/opt/weight-types", test_weight_types);
  g_test_add_func ("/opt/generate-batch", test_generate_batch);
  g_test_add_func ("/opt/kv-f16", test_kv_f16);
  return g_test_run ();
}
