/* fidelity-util.h: reading the reference tensors tools/make_*_fixtures.py
 * record, and comparing what vtp computes with them (header-only, for the
 * fidelity tests). */
#pragma once
#include "device-read.h"
#include <math.h>
#include "vtp-generate.h"
#include "vtp-parts.h"
#include "fixture-path.h"

/* tests/fixtures/@name opened as a checkpoint, and what it holds into @parts. */
static G_GNUC_UNUSED VtpCheckpoint *
open_fixture (const char *name, VtpModelParts *parts)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (name);
  VtpCheckpoint *c = vtp_checkpoint_open (dir, &error);

  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (c, parts, &error));
  g_assert_no_error (error);
  return c;
}

static G_GNUC_UNUSED VtpSafetensors *
reference_open (const char *fixture)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *file = g_build_filename (dir, "reference.safetensors", NULL);
  VtpSafetensors *ref = vtp_safetensors_open (file, &error);
  g_assert_no_error (error);
  return ref;
}

static G_GNUC_UNUSED const VtpStTensor *
reference_tensor (VtpSafetensors *ref, const char *name)
{
  const VtpStTensor *t = vtp_safetensors_find (ref, name);
  if (!t)
    g_error ("%s has no reference tensor '%s'", ref->path, name);
  return t;
}

/* Max |got - want| over @n floats of reference tensor @name from @offset. */
static G_GNUC_UNUSED double
reference_error (VtpSafetensors *ref, const char *name, const float *got, gsize n, gsize offset)
{
  const VtpStTensor *t = reference_tensor (ref, name);
  const float *want = (const float *) t->data + offset;
  double worst = 0;
  gsize at = 0;

  g_assert_cmpint (t->dtype, ==, VTP_DTYPE_F32);
  g_assert_cmpuint (offset + n, <=, t->n_bytes / 4);
  for (gsize i = 0; i < n; i++) {
    double e = fabs ((double) got[i] - want[i]);
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  g_test_message ("%s: %s max abs error %.3g (at %" G_GSIZE_FORMAT ": %g vs %g)", ref->path, name, worst, at,
      got[at], want[at]);
  return worst;
}

/* Max error of a whole device tensor against reference tensor @name, which
 * must have as many elements. */
static G_GNUC_UNUSED double
reference_tensor_error (VtpSafetensors *ref, const char *name, const VtpTensor *t)
{
  g_autofree float *got = device_values (t);
  g_assert_cmpuint (reference_tensor (ref, name)->n_bytes, ==, vtp_tensor_n_bytes (t));
  return reference_error (ref, name, got, vtp_tensor_n_elements (t), 0);
}

/* An I64 reference tensor of token ids as gint32. */
static G_GNUC_UNUSED gint32 *
reference_ids (VtpSafetensors *ref, const char *name, gint *n)
{
  const VtpStTensor *t = reference_tensor (ref, name);
  gint32 *ids = g_new (gint32, t->shape[0]);
  g_assert_cmpint (t->dtype, ==, VTP_DTYPE_I64);
  for (gint i = 0; i < t->shape[0]; i++)
    ids[i] = (gint32) ((const gint64 *) t->data)[i];
  *n = t->shape[0];
  return ids;
}

/* @tokens (vtp leaves EOS out) against a reference continuation (which may
 * end with the EOS it stopped at). */
static G_GNUC_UNUSED void
assert_same_tokens (const VtpLlama *llm, GArray *tokens, VtpSafetensors *ref, const char *name)
{
  const VtpStTensor *want = reference_tensor (ref, name);
  for (gint i = 0; i < want->shape[0]; i++) {
    const gint64 w = ((const gint64 *) want->data)[i];
    if (i == (gint) tokens->len) {
      g_assert_true (vtp_llama_is_eos (llm, w));
      g_assert_cmpint (i, ==, want->shape[0] - 1);
      return;
    }
    g_assert_cmpint (g_array_index (tokens, gint32, i), ==, w);
  }
  g_assert_cmpint (tokens->len, ==, want->shape[0]);
}

/* Max error of the logits @lm computes for @segments (all positions, one
 * chunk) against reference tensor @logits_name; then, from a fresh prefill,
 * each greedy step's logits against @steps_name (when the fixture has it:
 * [steps, V], row 0 the last input position's) with the reference's token
 * fed back, and the decode loop's own greedy tokens against @greedy_name.
 * The worst errors go to @logits_err / @steps_err. */
static G_GNUC_UNUSED void
check_lm_against_reference (VtpLm *lm, VtpSafetensors *ref, const VtpLmSegment *segs, gint n_segs,
    const char *logits_name, const char *steps_name, const char *greedy_name, double *logits_err,
    double *steps_err)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  const VtpStTensor *greedy = reference_tensor (ref, greedy_name);
  const gint V = lm->vocab_size;
  const gboolean has_steps = steps_name && vtp_safetensors_find (ref, steps_name);
  VtpGenerateParams gp = { greedy->shape[0], { 0 }, TRUE };
  g_autofree float *logits = NULL;
  gint L = 0;

  for (gint i = 0; i < n_segs; i++)
    L += segs[i].n;
  logits = g_new (float, (gsize) L * V);
  *lm->n_past = 0;
  g_assert_true (vtp_lm_prefill (lm, segs, n_segs, TRUE, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) L * V * 4, &error));
  *logits_err = reference_error (ref, logits_name, logits, (gsize) L * V, 0);
  *steps_err = 0;
  if (has_steps) {
    const VtpStTensor *steps = reference_tensor (ref, steps_name);
    *lm->n_past = 0;
    g_assert_true (vtp_lm_prefill (lm, segs, n_segs, FALSE, &error));
    for (gint i = 0; i < steps->shape[0]; i++) {
      gint32 token = (gint32) ((const gint64 *) greedy->data)[i];
      const VtpLmSegment next = { &token, NULL, 0, 1 };
      g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) V * 4, &error));
      *steps_err = MAX (*steps_err, reference_error (ref, steps_name, logits, V, (gsize) i * V));
      if (i + 1 < steps->shape[0])
        g_assert_true (vtp_lm_prefill (lm, &next, 1, FALSE, &error));
      g_assert_no_error (error);
    }
  }
  /* the decode loop itself, from a fresh prefill */
  *lm->n_past = 0;
  g_assert_true (vtp_lm_prefill (lm, segs, n_segs, FALSE, &error));
  g_assert_true (vtp_lm_generate (lm, &gp, NULL, NULL, tokens, NULL, &error));
  g_assert_no_error (error);
  for (gint i = 0; i < greedy->shape[0]; i++) {
    const gint64 w = ((const gint64 *) greedy->data)[i];
    if (i == (gint) tokens->len) {
      /* transformers' sequence ends with the EOS it stopped at; vtp leaves EOS out */
      g_assert_true (vtp_lm_is_eos (lm, w));
      g_assert_cmpint (i, ==, greedy->shape[0] - 1);
      return;
    }
    g_assert_cmpint (g_array_index (tokens, gint32, i), ==, w);
  }
  g_assert_cmpint (tokens->len, ==, greedy->shape[0]);
}

/* An encoder-decoder (T5) against a make_t5_fixtures.py reference: the
 * encoder output of @segs (the encoder input) against "encoder_output",
 * each greedy step's logits against "step_logits" with the reference's
 * tokens fed back, the decoder's logits over [start, greedy tokens] in one
 * call against "decoder_logits" (when the state's chunk holds them), and
 * the decode loop's greedy tokens against "greedy_tokens". Worst errors in
 * @enc_err, @steps_err, @full_err. */
static G_GNUC_UNUSED void
check_t5_against_reference (VtpLm *lm, VtpSafetensors *ref, const VtpLmSegment *segs, gint n_segs,
    double *enc_err, double *steps_err, double *full_err)
{
  g_autoptr (GError) error = NULL;
  VtpT5State *s = lm->state;
  const VtpStTensor *greedy = reference_tensor (ref, "greedy_tokens");
  const VtpStTensor *steps = reference_tensor (ref, "step_logits");
  const VtpStTensor *enc = reference_tensor (ref, "encoder_output");
  const gint V = lm->vocab_size, G = greedy->shape[0];
  g_autofree float *logits = g_new (float, (gsize) (G + 1) * V);
  g_autofree gint32 *tokens = g_new (gint32, G);
  gint L = 0;

  g_assert_cmpint (lm->family, ==, VTP_TEXT_T5);
  for (gint i = 0; i < n_segs; i++)
    L += segs[i].n;
  for (gint i = 0; i < G; i++)
    tokens[i] = (gint32) ((const gint64 *) greedy->data)[i];
  *lm->n_past = 0;
  g_assert_true (vtp_lm_prefill (lm, segs, n_segs, FALSE, &error));
  g_assert_no_error (error);
  g_assert_cmpint (*lm->n_past, ==, 1);
  g_assert_cmpint (enc->shape[0], ==, L);
  {
    g_autofree float *got = device_values (s->enc);
    *enc_err = reference_error (ref, "encoder_output", got, (gsize) L * enc->shape[1], 0);
  }
  *steps_err = 0;
  for (gint i = 0; i < steps->shape[0]; i++) {
    const VtpLmSegment next = { &tokens[i], NULL, 0, 1 };
    g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) V * 4, &error));
    *steps_err = MAX (*steps_err, reference_error (ref, "step_logits", logits, V, (gsize) i * V));
    if (i + 1 < steps->shape[0])
      g_assert_true (vtp_lm_prefill (lm, &next, 1, FALSE, &error));
    g_assert_no_error (error);
  }
  /* teacher forcing: the greedy tokens but the last in one decoder call
   * after the start token */
  *full_err = 0;
  if (G - 1 <= s->max_chunk) {
    const VtpLmSegment rest = { tokens, NULL, 0, G - 1 };
    *lm->n_past = 0;
    g_assert_true (vtp_lm_prefill (lm, segs, n_segs, FALSE, &error));
    g_assert_true (vtp_tensor_read (lm->logits, 0, logits, (gsize) V * 4, &error));
    g_assert_true (vtp_lm_prefill (lm, &rest, 1, TRUE, &error));
    g_assert_no_error (error);
    g_assert_true (vtp_tensor_read (lm->logits, 0, logits + V, (gsize) (G - 1) * V * 4, &error));
    *full_err = reference_error (ref, "decoder_logits", logits, (gsize) G * V, 0);
  }
  /* the decode loop itself */
  {
    g_autoptr (GArray) out = g_array_new (FALSE, FALSE, sizeof (gint32));
    VtpGenerateParams gp = { G, { 0 }, TRUE };
    *lm->n_past = 0;
    g_assert_true (vtp_lm_prefill (lm, segs, n_segs, FALSE, &error));
    g_assert_true (vtp_lm_generate (lm, &gp, NULL, NULL, out, NULL, &error));
    g_assert_no_error (error);
    for (gint i = 0; i < G; i++) {
      if (i == (gint) out->len) {
        g_assert_true (vtp_lm_is_eos (lm, tokens[i]));
        g_assert_cmpint (i, ==, G - 1);
        return;
      }
      g_assert_cmpint (g_array_index (out, gint32, i), ==, tokens[i]);
    }
    g_assert_cmpint (out->len, ==, G);
  }
}
