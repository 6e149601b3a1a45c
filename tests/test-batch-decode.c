/* test-batch-decode.c: batched decoding across streams (issue 18,
 * docs/batching.md) on the tiny Llama of tests/fixtures/gguf-tiny (F32,
 * Q8_0, Q4_0 files; the F32 one also loaded as F16):
 *   - streams with different prompts (so at different positions) decoded
 *     in one batch per step give, step after step, the logits each gives
 *     decoded alone (within 1e-4) and the same greedy tokens: a mix-up of
 *     positions, caches or rows between streams fails;
 *   - vtp_lm_generate_batch gives each stream the tokens and stop reason
 *     vtp_llama_generate gives it alone, with streams stopping at different
 *     steps (length, EOS, a callback), a sampled stream, and a stream that
 *     joins the batch between steps;
 *   - the same with KV caches in F16 (kv-type=f16; "TYPE/kv-f16"), F16 and
 *     F32 streams in one batch (within 1e-3: see test_logits);
 *   - wrong batches are refused with errors;
 *   - the same with every token chosen on the device (the batch's in one
 *     read);
 *   - a stream decoded alone gives the same tokens, stop reason and token
 *     calls with its tokens chosen on the device (vtp_op_argmax, or
 *     vtp_op_sample for the sampled stream; VTP_DEVICE_ARGMAX=1) as on the
 *     host;
 *   - and the same decoding a step ahead (VTP_DECODE_AHEAD=1: each token
 *     fed back from the device, the next step queued before the token is
 *     read), greedy and sampled, with every way of stopping (length, EOS,
 *     the callback, a full context), and the state it leaves goes on as
 *     the plain loop's does;
 *     the token table on the device reads as the host's gather for F32,
 *     F16, BF16 and ggml-block tables. */
#include <string.h>
#include "vtp-parts.h"
#include "vtp-llama.h"
#include "vtp-generate.h"
#include "fidelity-util.h"
#include "tiny-llama-util.h"
#include "vtp-fault.h"

static VtpDevice *dev;

#define N_STREAMS 7
#define CTX 64

typedef TinyLlama Model;

static void
model_open (Model *m, const char *type)
{
  tiny_llama_open (m, dev, type);
}

#define model_close tiny_llama_close
#define prompt tiny_llama_prompt

/* @kv: stream i's cache type (F32 for all when F32): every stream's but 1
 * and 4 (F32); with Q8_0, stream 2's F16 */
static VtpLlamaState *
prefilled (Model *m, gint i, VtpDType kv_type)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = prompt (m, i);
  const VtpLlamaSegment seg = { (const gint32 *) ids->data, NULL, 0, (gint) ids->len };
  const VtpDType kv = i == 1 || i == 4 ? VTP_DTYPE_F32 : kv_type == VTP_DTYPE_Q8_0 && i == 2 ? VTP_DTYPE_F16 : kv_type;
  VtpLlamaState *s = vtp_llama_state_new_kv (m->llm, CTX, CTX, kv, &error);

  g_assert_no_error (error);
  g_assert_true (vtp_llama_prefill (m->llm, s, &seg, 1, FALSE, &error));
  g_assert_no_error (error);
  return s;
}

static float *
read_logits (Model *m, VtpLlamaState *s)
{
  g_autoptr (GError) error = NULL;
  const gint V = m->parts.text.vocab_size;
  float *l = g_new (float, V);

  g_assert_true (vtp_tensor_read (s->logits, 0, l, (gsize) V * sizeof (float), &error));
  g_assert_no_error (error);
  return l;
}

/* Step by step: the batch's logits are each stream's own. @data: the
 * weight type, "/kv-f16" or "/kv-q8_0" after it for F16 or Q8_0 caches. */
static void
test_logits (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Model m;
  g_auto (GStrv) parts = g_strsplit (data, "/", 2);
  VtpDType kv_type = VTP_DTYPE_F32;
  const gint V = (model_open (&m, parts[0]), m.parts.text.vocab_size), steps = 15;
  VtpLlamaState *alone[N_STREAMS], *batched[N_STREAMS];
  g_autoptr (VtpLlamaBatch) b = vtp_llama_batch_new (m.llm, N_STREAMS, &error);
  double worst = 0;

  g_assert_no_error (error);
  g_assert_true (!parts[1] || (g_str_has_prefix (parts[1], "kv-") && vtp_kv_type_from_name (parts[1] + 3, &kv_type)));
  for (gint i = 0; i < N_STREAMS; i++) {
    alone[i] = prefilled (&m, i, kv_type);
    batched[i] = prefilled (&m, i, kv_type);
  }
  for (gint t = 0; t < steps; t++) {
    gint32 tokens[N_STREAMS];
    /* streams 0..n-1 this step: all at first, then one fewer every other
     * step (batches of 7 to 1 rows: the products' kernels change) */
    const gint n = MAX (1, N_STREAMS - t / 2);

    for (gint i = 0; i < n; i++) {
      g_autofree float *a = read_logits (&m, alone[i]);
      g_autofree float *bl = read_logits (&m, batched[i]);
      const VtpLlamaSegment seg = { &tokens[i], NULL, 0, 1 };

      for (gint v = 0; v < V; v++)
        worst = MAX (worst, fabs ((double) a[v] - bl[v]));
      tokens[i] = vtp_argmax (a, V);
      g_assert_cmpint (vtp_argmax (bl, V), ==, tokens[i]);
      g_assert_cmpint (alone[i]->n_past, ==, batched[i]->n_past);
      g_assert_true (vtp_llama_prefill (m.llm, alone[i], &seg, 1, FALSE, &error));
      g_assert_no_error (error);
    }
    g_assert_true (vtp_llama_decode_batch (m.llm, b, batched, tokens, n, &error));
    g_assert_no_error (error);
  }
  g_test_message ("%s: batched logits within %.2g of each stream's alone", (const char *) data, worst);
  /* F16 caches: where the batch's rows differ from the lone ones by float
   * rounding (the float products of a few rows: VTP_QUANT_DOT=float, F32 /
   * F16 weights), a key or value near the midpoint of two F16 values can
   * round to the other one, a step of 2^-11 of it (measured up to 1.7e-4
   * in the logits); where the rows are the same (the int8 products) so is
   * every stored value. Q8_0 caches likewise, by a step of 1/127 of a
   * block's largest value or a scale's F16 rounding where the block's
   * largest value moved (measured 7e-6 on F32 weights, 1.7e-4 with
   * VTP_QUANT_DOT=float, 0 with the int8 products; bound 1e-2) */
  g_assert_cmpfloat (worst, <, kv_type == VTP_DTYPE_Q8_0 ? 1e-2 : kv_type == VTP_DTYPE_F16 ? 1e-3 : 1e-4);
  for (gint i = 0; i < N_STREAMS; i++) {
    vtp_llama_state_free (alone[i]);
    vtp_llama_state_free (batched[i]);
  }
  model_close (&m);
}

/* Sets (NULL: unsets) the decode loop's switches, read from the
 * environment at each use, with the device's queue drained first: PoCL's
 * worker threads read the environment while they run kernels, and a
 * setenv beside a getenv can crash. */
static void
set_switches (const char *device_argmax, const char *decode_ahead)
{
  const char *names[2] = { "VTP_DEVICE_ARGMAX", "VTP_DECODE_AHEAD" }, *values[2] = { device_argmax, decode_ahead };

  g_assert_true (vtp_device_finish (dev, NULL));
  for (gint i = 0; i < 2; i++) {
    if (values[i])
      g_setenv (names[i], values[i], TRUE);
    else
      g_unsetenv (names[i]);
  }
}

static gboolean
stop_after_5 (gint32 token, gpointer user_data)
{
  gint *seen = user_data;
  return ++*seen < 5;
}

/* The parameters of stream @i: lengths that end the streams at different
 * steps, one sampled, one stopped by its callback, one stopping at EOS
 * when it comes. */
static void
stream_params (gint i, VtpGenerateParams *p, VtpTokenFunc *func)
{
  static const gint max_new[] = { 12, 3, 9, 20, 7, 1 };
  memset (p, 0, sizeof *p);
  p->max_new_tokens = max_new[i];
  p->stop_at_eos = i % 2 == 0;
  if (i == 2)
    p->sampling = (VtpSamplerParams) { 0.9f, 40, 0.95f, 1234 };
  *func = i == 3 ? stop_after_5 : NULL;
}

#define N_GEN 6

static void
check_streams (VtpBatchStream *streams, gint n, GArray **want, const VtpStopReason *want_reason, const gint *seen,
    const gint *seen_alone)
{
  for (gint i = 0; i < n; i++) {
    g_assert_true (streams[i].done);
    g_assert_cmpint (streams[i].reason, ==, want_reason[i]);
    g_assert_cmpuint (streams[i].tokens->len, ==, want[i]->len);
    g_assert_cmpmem (streams[i].tokens->data, streams[i].tokens->len * sizeof (gint32), want[i]->data,
        want[i]->len * sizeof (gint32));
    g_assert_cmpint (seen[i], ==, seen_alone[i]);
  }
}

static void
test_generate (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Model m;
  VtpBatchStream streams[N_GEN];
  GArray *want[N_GEN];
  VtpStopReason want_reason[N_GEN];
  gint seen_alone[N_GEN] = { 0 }, seen[N_GEN] = { 0 };
  g_autoptr (VtpBatchGenerator) g = NULL;
  gint steps = 0;

  model_open (&m, data);
  for (gint i = 0; i < N_GEN; i++) {
    g_autoptr (VtpLlamaState) s = prefilled (&m, i, FALSE);
    VtpGenerateParams p;
    VtpTokenFunc func;

    stream_params (i, &p, &func);
    want[i] = g_array_new (FALSE, FALSE, sizeof (gint32));
    g_assert_true (vtp_llama_generate (m.llm, s, &p, func, &seen_alone[i], want[i], &want_reason[i], &error));
    g_assert_no_error (error);
  }
  /* all of the first four at once */
  memset (streams, 0, sizeof streams);
  for (gint i = 0; i < N_GEN; i++) {
    streams[i].lm = tiny_llama_stream (&m, prefilled (&m, i, FALSE));
    stream_params (i, &streams[i].params, &streams[i].func);
    streams[i].user_data = &seen[i];
    streams[i].tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  }
  g_assert_true (vtp_lm_generate_batch (streams, 4, &error));
  g_assert_no_error (error);
  check_streams (streams, 4, want, want_reason, seen, seen_alone);
  /* streams 4 and 5 join a generator of 3 between steps, as others leave */
  for (gint i = 0; i < 4; i++) {
    g_array_set_size (streams[i].tokens, 0);
    seen[i] = 0;
    vtp_lm_free (streams[i].lm);
    streams[i].lm = tiny_llama_stream (&m, prefilled (&m, i, FALSE));
  }
  g = vtp_batch_generator_new (streams[0].lm, 3, &error);
  g_assert_no_error (error);
  for (gint i = 0; i < 3; i++) {
    g_assert_true (vtp_batch_generator_add (g, &streams[i], &error));
    g_assert_no_error (error);
  }
  /* full */
  g_assert_false (vtp_batch_generator_add (g, &streams[3], &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  g_clear_error (&error);
  for (gint next = 3; vtp_batch_generator_n_active (g) > 0 || next < N_GEN; steps++) {
    while (next < N_GEN && vtp_batch_generator_n_active (g) < 3) {
      g_assert_true (vtp_batch_generator_add (g, &streams[next++], &error));
      g_assert_no_error (error);
    }
    g_assert_true (vtp_batch_generator_step (g, &error));
    g_assert_no_error (error);
  }
  g_test_message ("%s: 6 streams through a generator of 3 in %d steps", (const char *) data, steps);
  check_streams (streams, N_GEN, want, want_reason, seen, seen_alone);
  for (gint i = 0; i < N_GEN; i++) {
    g_array_unref (streams[i].tokens);
    g_array_unref (want[i]);
    vtp_lm_free (streams[i].lm);
  }
  g_assert_cmpint (want_reason[1], ==, VTP_STOP_LENGTH);
  g_assert_cmpint (want_reason[3], ==, VTP_STOP_CALLER);
  model_close (&m);
}

/* test_generate with every token chosen on the device (the batch
 * generator's one read of all the streams' tokens; the streams alone
 * choose there too, and test_device_argmax has those equal to the host's) */
static void
test_generate_device_choice (gconstpointer data)
{
  set_switches ("1", NULL);
  test_generate (data);
  set_switches (NULL, NULL);
}

/* Each stream alone with its tokens chosen on the host and on the device
 * (stream 2 samples: the device draws with the host's uniform draws). */
static void
test_device_argmax (gconstpointer data)
{
  g_autoptr (GError) error = NULL;
  Model m;

  model_open (&m, data);
  for (gint i = 0; i < N_GEN; i++) {
    g_autoptr (GArray) host = g_array_new (FALSE, FALSE, sizeof (gint32));
    g_autoptr (GArray) device = g_array_new (FALSE, FALSE, sizeof (gint32));
    VtpStopReason why[2];
    gint seen[2] = { 0, 0 };
    gint n_past[2];

    for (gint d = 0; d < 2; d++) {
      g_autoptr (VtpLlamaState) s = prefilled (&m, i, FALSE);
      VtpGenerateParams p;
      VtpTokenFunc func;

      stream_params (i, &p, &func);
      set_switches (d ? "1" : "0", NULL);
      g_assert_true (vtp_llama_generate (m.llm, s, &p, func, &seen[d], d ? device : host, &why[d], &error));
      set_switches (NULL, NULL);
      g_assert_no_error (error);
      n_past[d] = s->n_past;
    }
    g_assert_cmpint (why[1], ==, why[0]);
    g_assert_cmpint (seen[1], ==, seen[0]);
    g_assert_cmpint (n_past[1], ==, n_past[0]);
    g_assert_cmpuint (device->len, ==, host->len);
    g_assert_cmpmem (device->data, device->len * sizeof (gint32), host->data, host->len * sizeof (gint32));
  }
  model_close (&m);
}

typedef struct {
  gint max_new;
  gboolean eos;               /* the plain run's third token made the model's EOS */
  gint stop_after;            /* the callback stops after this many tokens (0: never) */
  gint room;                  /* positions after the prompt (0: plenty) */
  gboolean sampled;           /* temperature 0.9, top-k 40, top-p 0.95 (else greedy) */
} AheadCase;

static gboolean
stop_after_n (gint32 token, gpointer user_data)
{
  gint *seen = user_data;   /* [0] calls so far, [1] the limit (0: none) */
  return ++seen[0] != seen[1];
}

/* Prompt @i decoded by @c, then two more tokens fed: its tokens, stop
 * reason, calls, n_past and the logits after those two. */
static float *
run_case (Model *m, gint i, const AheadCase *c, gboolean ahead, GArray *tokens, VtpStopReason *why, gint *seen,
    gint *n_past)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GArray) ids = prompt (m, i);
  const VtpLlamaSegment seg = { (const gint32 *) ids->data, NULL, 0, (gint) ids->len };
  const gint32 more[2] = { 7, 11 };
  const VtpLlamaSegment fed = { more, NULL, 0, 2 };
  const gint ctx = c->room ? (gint) ids->len + c->room : CTX;
  g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m->llm, ctx + 2, ctx + 2, &error);
  VtpGenerateParams p = { c->max_new, { 0 }, c->eos };
  float *logits;

  if (c->sampled)
    p.sampling = (VtpSamplerParams) { 0.9f, 40, 0.95f, 77 + i };
  g_assert_no_error (error);
  g_assert_true (vtp_llama_prefill (m->llm, s, &seg, 1, FALSE, &error));
  g_assert_no_error (error);
  /* the context ends @room positions after the prompt; two more for the
   * tokens fed after */
  s->max_ctx = ctx;
  seen[1] = c->stop_after;
  set_switches ("1", ahead ? "1" : "0");
  g_assert_true (vtp_llama_generate (m->llm, s, &p, stop_after_n, seen, tokens, why, &error));
  set_switches (NULL, NULL);
  g_assert_no_error (error);
  *n_past = s->n_past;
  s->max_ctx = ctx + 2;
  g_assert_true (vtp_llama_prefill (m->llm, s, &fed, 1, FALSE, &error));
  g_assert_no_error (error);
  logits = read_logits (m, s);
  return logits;
}

/* Decoding a step ahead against the plain loop, both choosing on the
 * device: the same tokens, stop reasons, calls and n_past, and the logits
 * of what is fed afterwards bit for bit (the step taken back leaves
 * nothing behind). */
static void
test_decode_ahead (gconstpointer data)
{
  static const AheadCase cases[] = {
    { 12, FALSE, 0, 0 },        /* length */
    { 1, FALSE, 0, 0 },         /* one token: nothing ahead */
    { 2, FALSE, 0, 0 },
    { 9, TRUE, 0, 0 },          /* EOS */
    { 20, FALSE, 5, 0 },        /* the callback, mid-way */
    { 20, FALSE, 1, 0 },        /* the callback, at the first token */
    { 6, FALSE, 6, 0 },         /* the callback at the last token */
    { 20, FALSE, 0, 4 },        /* the context */
    { 20, TRUE, 0, 3 },
    { 12, FALSE, 0, 0, TRUE },  /* sampled on the device */
    { 9, TRUE, 0, 0, TRUE },
    { 20, FALSE, 5, 0, TRUE },
    { 20, FALSE, 0, 4, TRUE },
  };
  Model m;
  gint stops[4] = { 0 };

  model_open (&m, data);
  for (guint k = 0; k < G_N_ELEMENTS (cases); k++)
    for (gint i = 0; i < 3; i++) {
      const gint saved_n_eos = m.llm->cfg.n_eos, saved_eos = m.llm->cfg.eos_token_id[0];
      g_autoptr (GArray) plain = g_array_new (FALSE, FALSE, sizeof (gint32));
      g_autoptr (GArray) ahead = g_array_new (FALSE, FALSE, sizeof (gint32));
      g_autofree float *lp = NULL, *la = NULL;
      VtpStopReason why[2];
      gint seen[2][2] = { { 0, 0 }, { 0, 0 } }, n_past[2];

      if (cases[k].eos) {
        /* the model's EOS made its third greedy token on this prompt */
        const AheadCase all = { 3, FALSE, 0, 0, cases[k].sampled };
        g_autoptr (GArray) first = g_array_new (FALSE, FALSE, sizeof (gint32));
        VtpStopReason w;
        gint s2[2] = { 0, 0 }, np;
        g_free (run_case (&m, i, &all, FALSE, first, &w, s2, &np));
        g_assert_cmpuint (first->len, ==, 3);
        m.llm->cfg.n_eos = 1;
        m.llm->cfg.eos_token_id[0] = g_array_index (first, gint32, 2);
      }
      lp = run_case (&m, i, &cases[k], FALSE, plain, &why[0], seen[0], &n_past[0]);
      la = run_case (&m, i, &cases[k], TRUE, ahead, &why[1], seen[1], &n_past[1]);
      m.llm->cfg.n_eos = saved_n_eos;
      m.llm->cfg.eos_token_id[0] = saved_eos;
      g_assert_cmpint (why[1], ==, why[0]);
      g_assert_cmpint (seen[1][0], ==, seen[0][0]);
      g_assert_cmpint (n_past[1], ==, n_past[0]);
      g_assert_cmpuint (ahead->len, ==, plain->len);
      g_assert_cmpmem (ahead->data, ahead->len * sizeof (gint32), plain->data, plain->len * sizeof (gint32));
      g_assert_cmpmem (la, m.parts.text.vocab_size * sizeof (float), lp, m.parts.text.vocab_size * sizeof (float));
      stops[why[0]]++;
    }
  /* every way of stopping was taken */
  for (gint w = 0; w < 4; w++)
    g_assert_cmpint (stops[w], >, 0);
  g_test_message ("%s: stops EOS %d, length %d, context %d, callback %d", (const char *) data, stops[VTP_STOP_EOS],
      stops[VTP_STOP_LENGTH], stops[VTP_STOP_CONTEXT], stops[VTP_STOP_CALLER]);
  g_assert_nonnull (m.llm->device_embed.table);
  model_close (&m);
}

/* Decoding ahead with each of its copies failing in turn (the reads of
 * the tokens among them), and the launches of the lookup and of the
 * choice: an error that says what failed, no crash, nothing read into
 * freed memory (sanitize.sh), and a decode after it that gives the
 * tokens again. */
static void
test_decode_ahead_faults (void)
{
  const AheadCase c = { 8, FALSE, 0, 0 };
  Model m;
  g_autoptr (GArray) want = g_array_new (FALSE, FALSE, sizeof (gint32));
  VtpStopReason why;
  gint seen[2] = { 0, 0 }, n_past, failed = 0;

  model_open (&m, "f32");
  g_free (run_case (&m, 0, &c, TRUE, want, &why, seen, &n_past));
  g_assert_cmpuint (want->len, ==, 8);
  /* the decode's nth copy for n = 1, 2, ... until one past its last, then
   * the second launch of the lookup and of the choice */
  for (gint n = 1, kernels = 0; kernels < 3; n++) {
    const char *kernel = kernels == 0 ? NULL : kernels == 1 ? "embed_f32" : "argmax_row";
    g_autoptr (GError) error = NULL;
    g_autoptr (GArray) ids = prompt (&m, 0);
    g_autoptr (GArray) got = g_array_new (FALSE, FALSE, sizeof (gint32));
    const VtpLlamaSegment seg = { (const gint32 *) ids->data, NULL, 0, (gint) ids->len };
    g_autoptr (VtpLlamaState) s = vtp_llama_state_new (m.llm, CTX, CTX, &error);
    VtpGenerateParams p = { 8, { 0 }, FALSE };
    gboolean ok, fired;

    g_assert_true (vtp_llama_prefill (m.llm, s, &seg, 1, FALSE, &error));
    g_assert_no_error (error);
    set_switches ("1", "1");
    vtp_fault_set (kernel ? VTP_FAULT_ENQUEUE : VTP_FAULT_COPY, kernel ? 2 : (guint) n, kernel);
    ok = vtp_llama_generate (m.llm, s, &p, NULL, NULL, got, &why, &error);
    fired = !vtp_fault_armed ();
    vtp_fault_set (VTP_FAULT_NONE, 0, NULL);
    set_switches (NULL, NULL);
    /* a fault that fired failed the decode; one that did not left it whole */
    g_assert_cmpint (ok, ==, !fired);
    if (ok) {
      g_assert_no_error (error);
      g_assert_cmpmem (got->data, got->len * sizeof (gint32), want->data, want->len * sizeof (gint32));
      g_assert_null (kernel);
      kernels++;
    } else {
      g_assert_error (error, VTP_ERROR, VTP_ERROR_DEVICE);
      failed++;
      if (kernel)
        kernels++;
    }
    g_array_set_size (got, 0);
    g_free (run_case (&m, 0, &c, TRUE, got, &why, seen, &n_past));
    g_assert_cmpmem (got->data, got->len * sizeof (gint32), want->data, want->len * sizeof (gint32));
  }
  g_test_message ("%d faults failed the decode", failed);
  /* at least the 8 tokens' reads and the two launches */
  g_assert_cmpint (failed, >=, 10);
  model_close (&m);
}

/* The token table on the device, looked up by vtp_op_embed, against the
 * host's gather: every row of an F32, F16, BF16 and a Q4_0 table. */
static void
test_device_table (void)
{
  const gint V = 37, D = 64;
  const VtpDType types[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_BF16, VTP_DTYPE_Q4_0 };

  for (guint k = 0; k < G_N_ELEMENTS (types); k++) {
    g_autoptr (GError) error = NULL;
    const gsize row_bytes = vtp_dtype_row_bytes (types[k], D);
    /* one byte off alignment as a mapped safetensors table can be (a
     * GGUF's block tables are aligned) */
    const gsize off = vtp_dtype_is_quantized (types[k]) ? 0 : 1;
    g_autofree guint8 *bytes = g_malloc ((gsize) V * row_bytes + 1);
    g_autofree float *want = g_new (float, (gsize) V * D), *got = NULL;
    g_autofree gint32 *all = g_new (gint32, V);
    const gint64 shape[2] = { V, D };
    VtpStTensor t = { NULL, types[k], TRUE, NULL, 2, { V, D }, bytes + off, (gsize) V * row_bytes, "made-up" };
    VtpLmDeviceTable d;
    g_autoptr (VtpTensor) ids = NULL, out = NULL;
    const VtpTensor *table;

    /* random bytes, the float types' NaN and infinity patterns kept out of
     * the way */
    for (gsize b = 0; b < (gsize) V * row_bytes; b++)
      bytes[off + b] = (guint8) g_random_int ();
    if (types[k] == VTP_DTYPE_F32)
      for (gint e = 0; e < V * D; e++)
        bytes[off + 4 * e + 3] &= 0x3f;
    else if (types[k] == VTP_DTYPE_F16 || types[k] == VTP_DTYPE_BF16)
      for (gint e = 0; e < V * D; e++)
        bytes[off + 2 * e + 1] &= 0x3f;
    else
      for (gint r = 0; r < V * D / 32; r++)
        bytes[off + 18 * r + 1] &= 0x3f;    /* the F16 block scale */
    for (gint i = 0; i < V; i++)
      all[i] = V - 1 - i;
    g_assert_true (vtp_lm_gather_rows (&t, V, D, all, V, want, &error));
    vtp_lm_device_table_init (&d);
    table = vtp_lm_device_table_get (&d, dev, &t, V, D, &error);
    g_assert_no_error (error);
    /* made once */
    g_assert_true (vtp_lm_device_table_get (&d, dev, &t, V, D, &error) == table);
    ids = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, (gint64[]) { V }, all, &error);
    g_assert_no_error (error);
    out = vtp_tensor_new (dev, VTP_DTYPE_F32, 2, shape, &error);
    g_assert_no_error (error);
    vtp_op_embed (out, 0, ids, V, table);
    g_assert_true (vtp_error_take_pending (&error));
    got = vtp_tensor_read_f32 (out, &error);
    g_assert_no_error (error);
    g_assert_cmpmem (got, (gsize) V * D * sizeof (float), want, (gsize) V * D * sizeof (float));
    vtp_lm_device_table_clear (&d);
  }
}

/* The first batch stream stops after 1 token: the others' tokens are what
 * they are without it, and its own too. */
static void
test_early_stop (void)
{
  g_autoptr (GError) error = NULL;
  Model m;
  VtpBatchStream s[3];
  GArray *with[3];

  model_open (&m, "f32");
  for (gint run = 0; run < 2; run++) {
    /* run 0: streams 0, 1, 2 with stream 0 stopping at 1 token; run 1:
     * stream 1 and 2 alone in the batch */
    const gint first = run;
    memset (s, 0, sizeof s);
    for (gint i = first; i < 3; i++) {
      s[i].lm = tiny_llama_stream (&m, prefilled (&m, i, FALSE));
      s[i].params.max_new_tokens = i == 0 ? 1 : 10;
      s[i].tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
    }
    g_assert_true (vtp_lm_generate_batch (s + first, 3 - first, &error));
    g_assert_no_error (error);
    for (gint i = first; i < 3; i++) {
      g_assert_cmpint (s[i].reason, ==, VTP_STOP_LENGTH);
      g_assert_cmpuint (s[i].tokens->len, ==, i == 0 ? 1 : 10);
      if (run == 0)
        with[i] = s[i].tokens;
      else {
        g_assert_cmpmem (s[i].tokens->data, 10 * sizeof (gint32), with[i]->data, 10 * sizeof (gint32));
        g_array_unref (s[i].tokens);
      }
      vtp_lm_free (s[i].lm);
    }
  }
  for (gint i = 0; i < 3; i++)
    g_array_unref (with[i]);
  model_close (&m);
}

static void
expect_error (gboolean ok, GError **error, gint code, const char *part)
{
  g_assert_false (ok);
  g_assert_error (*error, VTP_ERROR, code);
  if (!strstr ((*error)->message, part))
    g_error ("\"%s\" does not say \"%s\"", (*error)->message, part);
  g_clear_error (error);
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  Model m, other;
  g_autoptr (VtpLlamaBatch) b = NULL;
  VtpLlamaState *st[3];
  g_autoptr (VtpLlamaState) foreign = NULL;
  const gint32 tokens[3] = { 5, 6, 7 };

  model_open (&m, "f32");
  model_open (&other, "q8_0");
  b = vtp_llama_batch_new (m.llm, 2, &error);
  g_assert_no_error (error);
  expect_error (vtp_llama_batch_new (m.llm, 0, &error) != NULL, &error, VTP_ERROR_INPUT, "at least one");
  for (gint i = 0; i < 3; i++)
    st[i] = prefilled (&m, i, FALSE);
  foreign = prefilled (&other, 0, FALSE);
  expect_error (vtp_llama_decode_batch (m.llm, b, st, tokens, 3, &error), &error, VTP_ERROR_INPUT, "1 to 2");
  expect_error (vtp_llama_decode_batch (m.llm, b, st, tokens, 0, &error), &error, VTP_ERROR_INPUT, "1 to 2");
  {
    VtpLlamaState *twice[2] = { st[0], st[0] };
    expect_error (vtp_llama_decode_batch (m.llm, b, twice, tokens, 2, &error), &error, VTP_ERROR_INPUT,
        "same state");
  }
  {
    VtpLlamaState *mixed[2] = { st[0], foreign };
    expect_error (vtp_llama_decode_batch (m.llm, b, mixed, tokens, 2, &error), &error, VTP_ERROR_INPUT,
        "another model");
  }
  {
    const gint32 bad[2] = { 5, 1 << 20 };
    expect_error (vtp_llama_decode_batch (m.llm, b, st, bad, 2, &error), &error, VTP_ERROR_INPUT, "");
  }
  st[1]->n_past = st[1]->max_ctx;
  expect_error (vtp_llama_decode_batch (m.llm, b, st, tokens, 2, &error), &error, VTP_ERROR_INPUT,
      "context of 64 positions is full");
  /* nothing ran: the others' positions are unchanged */
  g_assert_cmpint (st[0]->n_past, ==, 4);
  for (gint i = 0; i < 3; i++)
    vtp_llama_state_free (st[i]);
  g_clear_pointer (&foreign, vtp_llama_state_free);
  g_clear_pointer (&b, vtp_llama_batch_free);
  model_close (&other);
  model_close (&m);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_data_func ("/batch/logits/f32", "f32", test_logits);
  g_test_add_data_func ("/batch/logits/f16", "f16", test_logits);
  g_test_add_data_func ("/batch/logits/q8_0", "q8_0", test_logits);
  g_test_add_data_func ("/batch/logits/q4_0", "q4_0", test_logits);
  g_test_add_data_func ("/batch/logits/f32/kv-f16", "f32/kv-f16", test_logits);
  g_test_add_data_func ("/batch/logits/q8_0/kv-f16", "q8_0/kv-f16", test_logits);
  g_test_add_data_func ("/batch/logits/f32/kv-q8_0", "f32/kv-q8_0", test_logits);
  g_test_add_data_func ("/batch/logits/q8_0/kv-q8_0", "q8_0/kv-q8_0", test_logits);
  g_test_add_data_func ("/batch/generate/f32", "f32", test_generate);
  g_test_add_data_func ("/batch/generate/q8_0", "q8_0", test_generate);
  g_test_add_data_func ("/batch/generate/device-argmax/f32", "f32", test_device_argmax);
  g_test_add_data_func ("/batch/generate/device-argmax/q4_0", "q4_0", test_device_argmax);
  g_test_add_data_func ("/batch/generate/device-choice/f32", "f32", test_generate_device_choice);
  g_test_add_data_func ("/batch/generate/device-choice/q8_0", "q8_0", test_generate_device_choice);
  g_test_add_data_func ("/batch/generate/decode-ahead/f32", "f32", test_decode_ahead);
  g_test_add_data_func ("/batch/generate/decode-ahead/q4_0", "q4_0", test_decode_ahead);
  g_test_add_func ("/batch/device-table", test_device_table);
  g_test_add_func ("/batch/generate/decode-ahead/faults", test_decode_ahead_faults);
  g_test_add_func ("/batch/early-stop", test_early_stop);
  g_test_add_func ("/batch/errors", test_errors);
  return g_test_run ();
}
