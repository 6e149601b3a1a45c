/* test-t5-fidelity.c: the T5 encoder-decoder against transformers at the
 * level of token ids, on tools/make_t5_fixtures.py's t5-tiny (a plain
 * T5ForConditionalGeneration in Flan-T5's layout: gated-GELU, untied head,
 * heads x d_kv narrower than d_model, few buckets and a short max_distance
 * so the inputs reach the logarithmic buckets and the clamp): the encoder
 * output, each greedy step's logits, the decoder's logits in one teacher-
 * forced call and the greedy tokens; the same on t5-tiny-tied (T5 1.0's
 * ReLU, tied and scaled head). Max abs error 1e-4 (fp32), greedy tokens
 * identical. Also: the relative position buckets, the config
 * defaults and refusals, small chunks, weight types. (The BLIP-2 and
 * InstructBLIP + Flan-T5 fixtures run in test-blip-fidelity.c.) */
#include "vtp-generate.h"
#include "vtp-parts.h"
#include "fidelity-util.h"
#include "lm-batch-util.h"

#define ATOL 1e-4

static VtpDevice *dev;

/* @kv: the decoder's self-attention cache, F32, F16 or Q8_0 (kv-type=f16:
 * the decoder's errors against transformers grow to F16's rounding, within
 * KV_F16_TOL; measured 3.1e-3; kv-type=q8_0: within KV_Q8_0_TOL, measured
 * 0.017 on t5-tiny-tied) */
#define KV_F16_TOL 5e-3
#define KV_Q8_0_TOL 1e-1

static void
run_fixture_kv (const char *name, gint max_ctx, gint max_chunk, VtpDType kv)
{
  const double tol = kv == VTP_DTYPE_F16 ? KV_F16_TOL : kv == VTP_DTYPE_Q8_0 ? KV_Q8_0_TOL : ATOL;
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) c = NULL;
  g_autoptr (VtpSafetensors) ref = reference_open (name);
  g_autoptr (VtpLm) lm = NULL;
  g_autofree gint32 *ids = NULL;
  const gboolean tied = g_str_has_suffix (name, "-tied");
  VtpModelParts parts;
  double enc_err, steps_err, full_err;
  gint L;

  c = open_fixture (name, &parts);
  g_assert_cmpint (parts.family, ==, VTP_FAMILY_T5);
  g_assert_cmpint (parts.text_family, ==, VTP_TEXT_T5);
  if (tied) {
    /* T5 1.0: ReLU, no lm_head in the file, scaled decoder output */
    g_assert_false (parts.t5.gated);
    g_assert_cmpint (parts.t5.act, ==, VTP_ACT_RELU);
    g_assert_true (parts.t5.scale_decoder_outputs);
  } else {
    /* Flan-T5: gated GELU (tanh), its own head, no scaling */
    g_assert_true (parts.t5.gated);
    g_assert_cmpint (parts.t5.act, ==, VTP_ACT_GELU_TANH);
    g_assert_false (parts.t5.scale_decoder_outputs);
    g_assert_cmpint (parts.t5.d_kv * parts.t5.num_heads, !=, parts.t5.d_model);
  }
  lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, kv, max_ctx, max_chunk, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lm->family, ==, VTP_TEXT_T5);
  g_assert_cmpint (((VtpT5State *) lm->state)->k_cache[0]->dtype, ==, kv);
  g_assert_cmpint (lm->input_width, ==, parts.t5.d_model);
  g_assert_cmpint (lm->bos_token_id, ==, -1);
  g_assert_true (tied == (vtp_checkpoint_find (c, "lm_head.weight") == NULL));
  ids = reference_ids (ref, "input_ids", &L);
  g_assert_cmpint (ids[L - 1], ==, 1);   /* </s> ends T5 inputs */
  {
    const VtpLmSegment seg = { ids, NULL, 0, L };
    check_t5_against_reference (lm, ref, &seg, 1, &enc_err, &steps_err, &full_err);
  }
  g_test_message ("%s (context %d, chunk %d, KV cache %s): encoder %.3g, steps %.3g, teacher-forced %.3g", name,
      max_ctx, max_chunk, vtp_dtype_name (kv), enc_err, steps_err, full_err);
  g_assert_cmpfloat (enc_err, <=, ATOL);
  g_assert_cmpfloat (steps_err, <=, tol);
  g_assert_cmpfloat (full_err, <=, tol);
  /* the F16 / Q8_0 cache's rounding shows in the decoder's logits (the
   * encoder, whose output the cross-attention reads in F32, is untouched) */
  if (kv != VTP_DTYPE_F32)
    g_assert_cmpfloat (steps_err, >, 1e-6);
  vtp_model_parts_clear (&parts);
}

static void
run_fixture (const char *name, gint max_ctx, gint max_chunk)
{
  run_fixture_kv (name, max_ctx, max_chunk, VTP_DTYPE_F32);
}

/* kv-type=f16, in chunks of 4 too (the store of several rows) */
static void
test_t5_kv_f16 (void)
{
  run_fixture_kv ("t5-tiny", 64, 32, VTP_DTYPE_F16);
  run_fixture_kv ("t5-tiny", 64, 4, VTP_DTYPE_F16);
}

/* kv-type=q8_0 likewise, where the rows are whole blocks of 32 */
static void
test_t5_kv_q8_0 (void)
{
  g_autoptr (GError) error = NULL;
  VtpModelParts parts;
  g_autoptr (VtpCheckpoint) c = open_fixture ("t5-tiny", &parts);
  g_autoptr (VtpLm) lm = NULL;

  /* t5-tiny-tied: 4 heads of 8, rows of whole blocks */
  run_fixture_kv ("t5-tiny-tied", 64, 32, VTP_DTYPE_Q8_0);
  run_fixture_kv ("t5-tiny-tied", 64, 4, VTP_DTYPE_Q8_0);
  check_lm_batch_fixture (dev, "t5-tiny-tied", VTP_DTYPE_Q8_0, 64, 64, NULL);
  /* t5-tiny's rows (3 heads of 12) cannot take it: an error that says so */
  lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, VTP_DTYPE_Q8_0, 64, 32, &error);
  g_assert_null (lm);
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "3 heads x 12 = 36 values"));
  vtp_model_parts_clear (&parts);
}

static void
test_t5_tiny (void)
{
  run_fixture ("t5-tiny", 64, 32);
}

/* chunks of 4: the encoder's attention in query chunks, the teacher-forced
 * decoder call skipped (it needs one chunk) */
static void
test_t5_tiny_chunks (void)
{
  run_fixture ("t5-tiny", 64, 4);
}

/* T5 1.0's layout: ReLU feed-forward, tied head, output scaled by
 * d_model^-0.5 (folded into the final norm's weight) */
static void
test_t5_tiny_tied (void)
{
  run_fixture ("t5-tiny-tied", 64, 32);
}

/* The input split in segments (ids, then the same rows as device
 * embeddings) gives the same encoder output. */
static void
test_t5_segments (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) c = NULL;
  g_autoptr (VtpSafetensors) ref = reference_open ("t5-tiny");
  g_autoptr (VtpLm) lm = NULL;
  g_autoptr (VtpTensor) rows = NULL;
  g_autofree gint32 *ids = NULL;
  g_autofree float *host = NULL;
  VtpModelParts parts;
  VtpT5 *m;
  gint L, D;

  c = open_fixture ("t5-tiny", &parts);
  lm = vtp_lm_open (c, &parts, NULL, dev, VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, 64, 64, &error);
  g_assert_no_error (error);
  m = lm->model;
  D = m->cfg.d_model;
  ids = reference_ids (ref, "input_ids", &L);
  host = g_new (float, (gsize) 5 * D);
  g_assert_true (vtp_lm_gather_rows (m->embed, m->cfg.vocab_size, D, ids + 3, 5, host, &error));
  rows = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 8, D, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_write (rows, (gsize) 3 * D * 4, host, (gsize) 5 * D * 4, &error));
  {
    const VtpLmSegment segs[3] = { { ids, NULL, 0, 3 }, { NULL, rows, 3, 5 }, { ids + 8, NULL, 0, L - 8 } };
    g_autofree float *got = NULL;
    *lm->n_past = 0;
    g_assert_true (vtp_lm_prefill (lm, segs, 3, FALSE, &error));
    g_assert_no_error (error);
    got = device_values (((VtpT5State *) lm->state)->enc);
    g_assert_cmpfloat (reference_error (ref, "encoder_output", got, (gsize) L * D, 0), <=, ATOL);
  }
  vtp_model_parts_clear (&parts);
}

/* transformers' _relative_position_bucket (values from it) for T5's
 * defaults (32 buckets, max_distance 128) and the fixture's (8, 12). */
static void
test_buckets (void)
{
  static const struct {
    gint rel, bidirectional, nb, maxd, bucket;
  } cases[] = {
    { 0, 1, 32, 128, 0 }, { -1, 1, 32, 128, 1 }, { 1, 1, 32, 128, 17 }, { -7, 1, 32, 128, 7 },
    { -8, 1, 32, 128, 8 }, { -11, 1, 32, 128, 8 }, { -12, 1, 32, 128, 9 }, { -127, 1, 32, 128, 15 },
    { -500, 1, 32, 128, 15 }, { 500, 1, 32, 128, 31 }, { 16, 1, 32, 128, 26 },
    { 3, 0, 32, 128, 0 }, { -15, 0, 32, 128, 15 }, { -16, 0, 32, 128, 16 }, { -128, 0, 32, 128, 31 },
    { -22, 0, 32, 128, 18 }, { -23, 0, 32, 128, 18 }, { -24, 0, 32, 128, 19 },
    { -2, 1, 8, 12, 2 }, { 2, 1, 8, 12, 6 }, { -4, 1, 8, 12, 2 }, { 11, 1, 8, 12, 7 }, { -3, 0, 8, 12, 3 },
    { -4, 0, 8, 12, 4 }, { -6, 0, 8, 12, 5 }, { -8, 0, 8, 12, 6 }, { -12, 0, 8, 12, 7 }, { -9, 0, 8, 12, 6 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const gint got = vtp_t5_relative_bucket (cases[i].rel, cases[i].bidirectional, cases[i].nb, cases[i].maxd);
    if (got != cases[i].bucket)
      g_error ("bucket of %d (%s, %d buckets, max distance %d): %d, expected %d", cases[i].rel,
          cases[i].bidirectional ? "bidirectional" : "causal", cases[i].nb, cases[i].maxd, got, cases[i].bucket);
  }
}

/* The float weight types load T5's matrices and stay near the F32 logits;
 * the others load and run. */
static void
test_weight_types (void)
{
  static const struct {
    const char *name;
    double tol;
  } types[] = { { "f32", ATOL }, { "f16", 0.05 }, { "bf16", 0.5 }, { "q8_0", 1.0 }, { "q4_0", -1 } };
  g_autoptr (VtpCheckpoint) c = NULL;
  g_autoptr (VtpSafetensors) ref = reference_open ("t5-tiny");
  g_autofree gint32 *ids = NULL;
  VtpModelParts parts;
  gint L;

  c = open_fixture ("t5-tiny", &parts);
  ids = reference_ids (ref, "input_ids", &L);
  for (guint t = 0; t < G_N_ELEMENTS (types); t++) {
    g_autoptr (GError) error = NULL;
    g_autoptr (VtpLm) lm = NULL;
    g_autofree float *logits = NULL;
    const VtpLmSegment seg = { ids, NULL, 0, L };
    VtpWeightType wt;
    double err;

    g_assert_true (vtp_weight_type_from_name (types[t].name, &wt));
    lm = vtp_lm_open (c, &parts, NULL, dev, wt, VTP_DTYPE_F32, 64, 64, &error);
    g_assert_no_error (error);
    logits = g_new (float, lm->vocab_size);
    g_assert_true (vtp_lm_prefill (lm, &seg, 1, FALSE, &error));
    g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) lm->vocab_size * 4, &error));
    g_assert_no_error (error);
    for (gint i = 0; i < lm->vocab_size; i++)
      g_assert_true (isfinite (logits[i]));
    err = reference_error (ref, "step_logits", logits, lm->vocab_size, 0);
    g_test_message ("%s: first step's logits %.3g from transformers' F32", types[t].name, err);
    if (types[t].tol > 0)
      g_assert_cmpfloat (err, <=, types[t].tol);
  }
  vtp_model_parts_clear (&parts);
}

static void
expect_t5_error (const char *json, const char *expected)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  VtpT5Config cfg;

  g_assert_true (json_parser_load_from_data (p, json, -1, NULL));
  g_assert_false (vtp_t5_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", &cfg, &error));
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, expected));
}

static void
test_config (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  VtpT5Config cfg;
  VtpBlipConfig blip;

  /* T5Config's defaults (t5-small's shape, T5 1.0: ReLU, tied and scaled) */
  g_assert_true (json_parser_load_from_data (p, "{}", -1, NULL));
  g_assert_true (vtp_t5_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", &cfg, &error));
  g_assert_cmpint (cfg.vocab_size, ==, 32128);
  g_assert_cmpint (cfg.d_model, ==, 512);
  g_assert_cmpint (cfg.d_kv, ==, 64);
  g_assert_cmpint (cfg.num_decoder_layers, ==, 6);
  g_assert_cmpint (cfg.num_buckets, ==, 32);
  g_assert_cmpint (cfg.max_distance, ==, 128);
  g_assert_false (cfg.gated);
  g_assert_cmpint (cfg.act, ==, VTP_ACT_RELU);
  g_assert_true (cfg.scale_decoder_outputs);
  g_assert_cmpint (cfg.decoder_start_token_id, ==, 0);
  g_assert_cmpint (cfg.n_eos, ==, 1);
  g_assert_cmpint (cfg.eos_token_id[0], ==, 1);
  /* written by transformers 5: scale_decoder_outputs wins */
  g_assert_true (json_parser_load_from_data (p, "{\"tie_word_embeddings\": true, \"scale_decoder_outputs\": false, "
          "\"feed_forward_proj\": \"gated-silu\"}", -1, NULL));
  g_assert_true (vtp_t5_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", &cfg, &error));
  g_assert_false (cfg.scale_decoder_outputs);
  g_assert_true (cfg.gated);
  g_assert_cmpint (cfg.act, ==, VTP_ACT_SILU);

  expect_t5_error ("{\"feed_forward_proj\": \"gated-gelu-x\"}", "is not ACT or gated-ACT");
  expect_t5_error ("{\"feed_forward_proj\": \"tanh\"}", "\"tanh\" is not supported");
  expect_t5_error ("{\"d_kv\": 0}", "must be positive");
  expect_t5_error ("{\"relative_attention_num_buckets\": 2}", "do not make buckets");

  /* a BLIP-2 with Flan-T5-XL's text_config */
  g_assert_true (json_parser_load_from_data (p, "{\"model_type\": \"blip-2\", \"qformer_config\": "
          "{\"encoder_hidden_size\": 1408}, \"text_config\": {\"model_type\": \"t5\", \"d_model\": 2048, "
          "\"d_ff\": 5120, \"d_kv\": 64, \"num_heads\": 32, \"num_layers\": 24, \"feed_forward_proj\": \"gated-gelu\", "
          "\"tie_word_embeddings\": false, \"vocab_size\": 32128}}", -1, NULL));
  g_assert_true (vtp_blip_config_parse (json_node_get_object (json_parser_get_root (p)), "config.json", FALSE, &blip,
          &error));
  g_assert_no_error (error);
  g_assert_cmpint (blip.text_family, ==, VTP_TEXT_T5);
  g_assert_cmpint (blip.projection_width, ==, 2048);
  g_assert_true (blip.t5.gated);
  g_assert_cmpint (blip.t5.act, ==, VTP_ACT_GELU_TANH);
  g_assert_false (blip.t5.scale_decoder_outputs);
  g_assert_cmpint (blip.t5.num_decoder_layers, ==, 24);
}

/* T5's batched decoder steps (each stream its own encoded input, caches and
 * position) against each stream alone, through the generator and the
 * batching engine (lm-batch-util.h), on t5-tiny and t5-tiny-tied as stored
 * (F32); a state whose input is not encoded yet is refused. */
static void
refuses_unencoded (VtpLm *lm)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpLm) fresh = vtp_lm_new_stream (lm, 64, 64, &error);
  gpointer batch = lm->ops->batch_new (lm->model, 1, &error);
  gpointer states[1] = { fresh->state };
  const gint32 t = 0;

  g_assert_false (lm->ops->decode_batch (lm->model, batch, states, &t, 1, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "encoded"));
  lm->ops->batch_free (batch);
}

static void
test_batch (gconstpointer data)
{
  check_lm_batch_fixture (dev, data, VTP_DTYPE_F32, 64, 64, refuses_unencoded);
}

static void
test_batch_kv_f16 (gconstpointer data)
{
  check_lm_batch_fixture (dev, data, VTP_DTYPE_F16, 64, 64, NULL);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/t5/config", test_config);
  g_test_add_func ("/t5/buckets", test_buckets);
  g_test_add_func ("/t5/t5-tiny", test_t5_tiny);
  g_test_add_func ("/t5/t5-tiny-chunks", test_t5_tiny_chunks);
  g_test_add_func ("/t5/t5-tiny-tied", test_t5_tiny_tied);
  g_test_add_func ("/t5/segments", test_t5_segments);
  g_test_add_func ("/t5/weight-types", test_weight_types);
  g_test_add_data_func ("/t5/batch/t5-tiny", "t5-tiny", test_batch);
  g_test_add_data_func ("/t5/batch/t5-tiny-tied", "t5-tiny-tied", test_batch);
  g_test_add_func ("/t5/kv-f16", test_t5_kv_f16);
  g_test_add_func ("/t5/kv-q8_0", test_t5_kv_q8_0);
  g_test_add_data_func ("/t5/batch/kv-f16", "t5-tiny", test_batch_kv_f16);
  return g_test_run ();
}
