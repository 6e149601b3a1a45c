/* test-decode-layer.c: the fused decode layer (decode-layer.cl,
 * vtp-decode-layer.h) and the step in one launch (vtp-decode-step.h)
 * against the unfused decode step, on tiny Llama fixtures: after the same prompt, two states decode the same 10 tokens,
 * one with the fused layers (every layer of the model fused: checked with
 * vtp_llama_fused_layers; every other step the whole step in one launch,
 * the head too where it fits: vtp_llama_fused_token) and one with
 * $VTP_DECODE_LAYER=0 (the kernels one by one); their logits must be the
 * same bits at every step (the fused layer calls the same functions on the
 * same values). Cases cover the
 * weight types' panel kinds (F32, F16, BF16; Q8_0, Q4_0 and llama.cpp's
 * mixed Q4_K_M files: Q4_K with Q6_K, or the small file's fallback types),
 * the three KV cache types, grouped-query attention and a head a task
 * ($VTP_ATTENTION_GQA=0), HF RoPE pairs (safetensors) and Meta's (GGUF),
 * Qwen2's q, k and v biases (its GGUF, its safetensors quantized at load),
 * and 1 or 5 work-groups (one alone does every task; more than the cores:
 * late ones find the tasks taken). Needs PoCL on the CPU (skipped
 * elsewhere). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>
#include "vtp-parts.h"
#include "vtp-llama.h"
#include "vtp-opt.h"
#include "vtp-sampler.h"
#include "vtp-decode-layer.h"
#include "fixture-path.h"

static VtpDevice *dev;

typedef struct {
  const char *fixture, *file;   /* file NULL: the fixture directory (safetensors) */
  VtpWeightType wtype;          /* (named in the test's path by wtype_name) */
  VtpDType kv;
  gboolean gqa;
  const char *groups;           /* $VTP_DECODE_LAYER_GROUPS, NULL: the compute units */
} Case;

static const Case cases[] = {
  { "gguf-tiny", "llm-f32.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL },
  { "gguf-tiny", "llm-f32.gguf", VTP_WEIGHTS_F16, VTP_DTYPE_F16, TRUE, NULL },
  { "gguf-tiny", "llm-f32.gguf", VTP_WEIGHTS_BF16, VTP_DTYPE_Q8_0, FALSE, NULL },
  { "gguf-tiny", "llm-q8_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_Q8_0, TRUE, NULL },
  { "gguf-tiny", "llm-q4_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, FALSE, NULL },
  { "gguf-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, TRUE, NULL },
  { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL },
  { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_Q8_0, FALSE, NULL },
  { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, TRUE, "1" },
  { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, TRUE, "5" },
  { "gguf-llama32-tiny/hf", NULL, VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL },
  { "gguf-llama32-tiny/hf", NULL, VTP_WEIGHTS_F16, VTP_DTYPE_F16, FALSE, NULL },
  { "gguf-qwen2-tiny", "llm-q8_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL },
  { "gguf-qwen2-tiny/hf", NULL, VTP_WEIGHTS_Q4_K, VTP_DTYPE_F16, TRUE, NULL },
};

#define PROMPT 7
#define STEPS 10
#define CTX 32

/* How a decode step runs: the kernels one by one, a fused launch a layer
 * ($VTP_DECODE_TOKEN=0), or the whole step in one launch */
typedef enum { UNFUSED, A_LAUNCH_A_LAYER, ONE_LAUNCH } Mode;

static void
decode_step (VtpLlama *m, VtpLlamaState *s, gint32 id, Mode mode, float *logits)
{
  g_autoptr (GError) error = NULL;
  const VtpLlamaSegment seg = { &id, NULL, 0, 1 };

  if (mode == UNFUSED)
    g_setenv ("VTP_DECODE_LAYER", "0", TRUE);
  if (mode == A_LAUNCH_A_LAYER)
    g_setenv ("VTP_DECODE_TOKEN", "0", TRUE);
  g_assert_cmpint (vtp_llama_fused_layers (m, s), ==, mode != UNFUSED ? m->cfg.num_hidden_layers : 0);
  g_assert_cmpint (vtp_llama_fused_token (m, s), ==, mode == ONE_LAUNCH);
  g_assert_true (vtp_llama_prefill (m, s, &seg, 1, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_read (s->logits, 0, logits, (gsize) m->cfg.vocab_size * sizeof (float), &error));
  g_assert_no_error (error);
  g_unsetenv ("VTP_DECODE_LAYER");
  g_unsetenv ("VTP_DECODE_TOKEN");
}

typedef struct {
  VtpCheckpoint *ckpt;
  VtpModelParts parts;
  VtpLlamaNames names;
  VtpLlama *m;
} Model;

/* @c's model, and its switches set ($VTP_ATTENTION_GQA, $VTP_DECODE_LAYER_GROUPS) */
static void
model_open (Model *o, const Case *c)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (c->fixture);
  g_autofree char *path = c->file ? g_build_filename (dir, c->file, NULL) : g_strdup (dir);

  o->ckpt = vtp_checkpoint_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (o->ckpt, &o->parts, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_llama_find_names (o->ckpt, &o->parts.text, &o->names, &error));
  g_assert_no_error (error);
  o->m = vtp_llama_load (o->ckpt, &o->names, &o->parts.text, NULL, dev, c->wtype, &error);
  g_assert_no_error (error);
  if (!c->gqa)
    g_setenv ("VTP_ATTENTION_GQA", "0", TRUE);
  if (c->groups)
    g_setenv ("VTP_DECODE_LAYER_GROUPS", c->groups, TRUE);
}

static void
model_close (Model *o)
{
  g_unsetenv ("VTP_ATTENTION_GQA");
  g_unsetenv ("VTP_DECODE_LAYER_GROUPS");
  vtp_llama_free (o->m);
  vtp_model_parts_clear (&o->parts);
  vtp_checkpoint_unref (o->ckpt);
}

/* Fails unless @a and @b (@n floats) are the same bits. */
static void
assert_same_bits (const float *a, const float *b, gint n, const Case *c, gint step, gint stream)
{
  for (gint v = 0; v < n; v++)
    if (memcmp (&a[v], &b[v], sizeof (float)) != 0)
      g_error ("%s %s, step %d, stream %d: fused logit %d is %.9g, unfused %.9g", c->fixture, c->file ? c->file : "",
          step, stream, v, a[v], b[v]);
}

/* A token id in 3 .. V - 1, spread out by @k: the prompts' tokens */
static gint32
spread_token (guint32 k, gint V)
{
  return 3 + (gint32) ((k * 2654435761u) % (guint32) (V - 3));
}

/* The next input after the greedy token @best: @best, or on every third
 * @turn another one (from @k), so that the steps see more than one path */
static gint32
next_input (gint turn, gint k, gint32 best, gint V)
{
  return turn % 3 == 2 ? (gint32) (3 + k % (V - 3)) : best;
}

/* Two states of @o's model after the same prompt: s[0] to decode with the
 * fused layers, s[1] without; logits[k] a row of logits each */
typedef struct {
  VtpLlamaState *s[2];
  float *logits[2];
  gint32 last;                  /* the prompt's last token: the first input */
} Pair;

static void
pair_prefilled (Model *o, const Case *c, Pair *p)
{
  g_autoptr (GError) error = NULL;
  const gint V = o->m->cfg.vocab_size;
  gint32 ids[PROMPT] = { 1 };

  for (gint i = 1; i < PROMPT; i++)
    ids[i] = spread_token ((guint32) i, V);
  for (gint k = 0; k < 2; k++) {
    const VtpLlamaSegment seg = { ids, NULL, 0, PROMPT };
    p->s[k] = vtp_llama_state_new_kv (o->m, CTX, CTX, c->kv, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_llama_prefill (o->m, p->s[k], &seg, 1, FALSE, &error));
    g_assert_no_error (error);
    p->logits[k] = g_new (float, V);
  }
  p->last = ids[PROMPT - 1];
}

/* STEPS decode steps of both states on the same inputs, fused = unfused
 * bits at each; the fused steps alternate between one launch (even steps)
 * and a launch a layer (odd), on one state */
static void
pair_decode_same_bits (Model *o, const Case *c, Pair *p)
{
  const gint V = o->m->cfg.vocab_size;
  gint32 id = p->last;

  for (gint step = 0; step < STEPS; step++) {
    gint best;
    decode_step (o->m, p->s[0], id, step % 2 ? A_LAUNCH_A_LAYER : ONE_LAUNCH, p->logits[0]);
    decode_step (o->m, p->s[1], id, UNFUSED, p->logits[1]);
    assert_same_bits (p->logits[0], p->logits[1], V, c, step, 0);
    best = vtp_argmax (p->logits[1], V);
    g_assert_true (isfinite (p->logits[0][best]));
    id = next_input (step, step * 97, best, V);
  }
}

static void
pair_free (Pair *p)
{
  for (gint k = 0; k < 2; k++) {
    vtp_llama_state_free (p->s[k]);
    g_free (p->logits[k]);
  }
}

static void
test_same_bits (gconstpointer data)
{
  const Case *c = data;
  Model o;
  Pair p;

  if (!dev->pocl_cpu) {
    g_test_skip ("the fused decode layer is for PoCL on the CPU");
    return;
  }
  model_open (&o, c);
  pair_prefilled (&o, c, &p);
  if (vtp_llama_fused_layers (o.m, p.s[0]) == 0 && !dev->int8_dot)
    /* block-quantized weights take the fused layer with int8 dot products */
    g_test_skip ("this CPU has no int8 dot products (AVX-512 VNNI) for these weights");
  else
    pair_decode_same_bits (&o, c, &p);
  pair_free (&p);
  model_close (&o);
}

/* The kernels built with -DDL_TRACE=1 (bench/decode-trace.py's input):
 * the same bits as unfused, and the bytes its step lines say the runs read
 * add up, over the decode steps, to every layer's weights once a step (the
 * panel sizes of each type, dl_panel_bytes: here Q4_K, Q6_K and the small
 * file's fallback types), and the head's step (11) to the head's weights
 * once a one-launch step where the head fits (gguf-tiny: 448 rows) and
 * never where it does not (gguf-kquant-tiny: 601). PoCL writes the
 * kernels' lines to the process's standard output: caught in a file for
 * the test. */
static void
test_trace (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *path = NULL, *text = NULL;
  g_auto (GStrv) lines = NULL;
  const gint one_launch_steps = (STEPS + 1) / 2;
  Model o;
  Pair p;
  guint64 want = 0, got = 0, head = 0;
  gint fd, saved, launch_lines = 0, L;

  if (!dev->pocl_cpu || !dev->int8_dot) {
    g_test_skip ("the fused layer's trace is for PoCL on a CPU with int8 dot products");
    return;
  }
  model_open (&o, c);
  L = o.m->cfg.num_hidden_layers;
  for (gint l = 0; l < L; l++) {
    const VtpLlamaLayer *ly = &o.m->layers[l];
    const VtpTensor *w[] = { ly->wq, ly->wk, ly->wv, ly->wo, ly->w_gate, ly->w_up, ly->w_down };
    for (guint i = 0; i < G_N_ELEMENTS (w); i++)
      want += STEPS * vtp_tensor_n_bytes (w[i]);
  }
  pair_prefilled (&o, c, &p);

  g_setenv ("VTP_KERNEL_DEFINES", "-DDL_TRACE=1", TRUE);
  g_assert_true (vtp_device_rebuild_kernels (dev, &error));
  g_assert_no_error (error);
  fd = g_file_open_tmp ("vtp-dl-trace-XXXXXX", &path, &error);
  g_assert_no_error (error);
  fflush (stdout);
  saved = dup (1);
  g_assert_cmpint (dup2 (fd, 1), ==, 1);
  pair_decode_same_bits (&o, c, &p);
  fflush (stdout);
  g_assert_cmpint (dup2 (saved, 1), ==, 1);
  close (saved);
  close (fd);
  g_unsetenv ("VTP_KERNEL_DEFINES");
  g_assert_true (vtp_device_rebuild_kernels (dev, &error));
  g_assert_no_error (error);

  g_assert_true (g_file_get_contents (path, &text, NULL, &error));
  g_assert_no_error (error);
  g_unlink (path);
  lines = g_strsplit (text, "\n", -1);
  for (gint i = 0; lines[i]; i++) {
    const char *b = strstr (lines[i], "bytes=");
    if (g_str_has_prefix (lines[i], "vtp-dl-step ") && b)
      *(strstr (lines[i], " step=11 ") ? &head : &got) += g_ascii_strtoull (b + 6, NULL, 10);
    else if (g_str_has_prefix (lines[i], "vtp-dl-launch "))
      launch_lines++;
  }
  g_assert_cmpuint (got, ==, want);
  g_assert_cmpuint (head, ==, o.m->cfg.vocab_size % 16 == 0 ? one_launch_steps * vtp_tensor_n_bytes (o.m->lm_head) : 0);
  /* a line a work-item a launch: one a one-launch step, L the others */
  g_assert_cmpint (launch_lines % (one_launch_steps + (STEPS - one_launch_steps) * L), ==, 0);
  g_assert_cmpint (launch_lines, >=, one_launch_steps + (STEPS - one_launch_steps) * L);

  pair_free (&p);
  model_close (&o);
}

/* ---- OPT's layer (BLIP-2's OPT decoders) ---- */

static const Case opt_cases[] = {
  { "opt-tiny-proj", NULL, VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, FALSE, NULL },
  { "opt-tiny-proj", NULL, VTP_WEIGHTS_F16, VTP_DTYPE_F16, FALSE, "3" },
  { "blip2-opt-tiny", NULL, VTP_WEIGHTS_Q8_0, VTP_DTYPE_Q8_0, FALSE, NULL },
  { "blip2-opt-tiny", NULL, VTP_WEIGHTS_Q4_0, VTP_DTYPE_F32, FALSE, "1" },
};

static void
opt_step (VtpOpt *m, VtpOptState *s, gint32 id, gboolean fused, float *logits)
{
  g_autoptr (GError) error = NULL;
  const VtpLmSegment seg = { &id, NULL, 0, 1 };

  if (!fused)
    g_setenv ("VTP_DECODE_LAYER", "0", TRUE);
  g_assert_cmpint (vtp_opt_fused_layers (m, s), ==, fused ? m->cfg.num_hidden_layers : 0);
  g_assert_true (vtp_opt_prefill (m, s, &seg, 1, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_read (s->logits, 0, logits, (gsize) m->cfg.vocab_size * sizeof (float), &error));
  g_assert_no_error (error);
  g_unsetenv ("VTP_DECODE_LAYER");
}

/* OPT: as test_same_bits (LayerNorms with biases, no RoPE, a ReLU MLP;
 * per-head attention; the checkpoints' F32 weights, F16, and quantized at
 * load, where widths that are not whole blocks stay float) */
static void
test_opt_same_bits (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (c->fixture);
  VtpCheckpoint *ckpt;
  VtpModelParts parts;
  VtpOptNames names;
  VtpOpt *m;
  VtpOptState *s[2];
  gint32 ids[PROMPT] = { 2 };
  float *logits[2];
  gint V;

  if (!dev->pocl_cpu) {
    g_test_skip ("the fused decode layer is for PoCL on the CPU");
    return;
  }
  ckpt = vtp_checkpoint_open (dir, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (ckpt, &parts, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_opt_find_names (ckpt, &parts.opt, &names, &error));
  g_assert_no_error (error);
  m = vtp_opt_load (ckpt, &names, &parts.opt, dev, c->wtype, &error);
  g_assert_no_error (error);
  if (c->groups)
    g_setenv ("VTP_DECODE_LAYER_GROUPS", c->groups, TRUE);
  V = m->cfg.vocab_size;
  for (gint i = 1; i < PROMPT; i++)
    ids[i] = spread_token ((guint32) i, V);
  for (gint k = 0; k < 2; k++) {
    const VtpLmSegment seg = { ids, NULL, 0, PROMPT };
    s[k] = vtp_opt_state_new (m, CTX, CTX, c->kv, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_opt_prefill (m, s[k], &seg, 1, FALSE, &error));
    g_assert_no_error (error);
    logits[k] = g_new (float, V);
  }
  if (vtp_opt_fused_layers (m, s[0]) == 0 && !dev->int8_dot)
    g_test_skip ("this CPU has no int8 dot products (AVX-512 VNNI) for these weights");
  else {
    gint32 id = ids[PROMPT - 1];
    for (gint step = 0; step < STEPS; step++) {
      opt_step (m, s[0], id, TRUE, logits[0]);
      opt_step (m, s[1], id, FALSE, logits[1]);
      assert_same_bits (logits[0], logits[1], V, c, step, 0);
      id = next_input (step, step * 97, vtp_argmax (logits[1], V), V);
    }
  }
  g_unsetenv ("VTP_DECODE_LAYER_GROUPS");
  for (gint k = 0; k < 2; k++) {
    vtp_opt_state_free (s[k]);
    g_free (logits[k]);
  }
  vtp_opt_free (m);
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (ckpt);
}

/* ---- batched decoding: the fused halves (int8 weights) ---- */

typedef struct {
  Case c;
  gint streams;
} BatchCase;

static const BatchCase batch_cases[] = {
  { { "gguf-tiny", "llm-q8_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL }, 3 },
  { { "gguf-tiny", "llm-q4_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, FALSE, "5" }, 2 },
  { { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F16, TRUE, NULL }, 5 },
  { { "gguf-kquant-tiny", "llm-q4_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_Q8_0, FALSE, "1" }, 7 },
  { { "gguf-kquant-tiny", "llm-q5_k_m.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL }, 12 },
  { { "gguf-qwen2-tiny", "llm-q8_0.gguf", VTP_WEIGHTS_KEEP, VTP_DTYPE_F32, TRUE, NULL }, 4 },
};

/* @n streams at different positions (prompts of 2 + 3 i tokens) decode 8
 * steps as one batch, twice: fused (the whole step in one launch, with the
 * head where it fits, on even steps; the fused halves on odd ones) and
 * with $VTP_DECODE_LAYER=0; every stream's logits the same bits at every
 * step. */
static void
test_batch_same_bits (gconstpointer data)
{
  const BatchCase *bc = data;
  const Case *c = &bc->c;
  const gint n = bc->streams;
  g_autoptr (GError) error = NULL;
  Model o;
  VtpLlama *m;
  VtpLlamaState *s[2][VTP_DECODE_ROWS_MAX];
  VtpLlamaBatch *b[2];
  gint32 tokens[VTP_DECODE_ROWS_MAX];
  float *logits[2];
  gint V;

  if (!dev->pocl_cpu || !dev->int8_dot) {
    g_test_skip ("the fused batched halves are for PoCL on a CPU with int8 dot products");
    return;
  }
  model_open (&o, c);
  m = o.m;
  V = m->cfg.vocab_size;
  logits[0] = g_new (float, V);
  logits[1] = g_new (float, V);
  for (gint k = 0; k < 2; k++) {
    b[k] = vtp_llama_batch_new (m, n, &error);
    g_assert_no_error (error);
    for (gint i = 0; i < n; i++) {
      gint32 ids[2 + 3 * VTP_DECODE_ROWS_MAX] = { 1 };
      const VtpLlamaSegment seg = { ids, NULL, 0, 2 + 3 * i };
      for (gint j = 1; j < seg.n; j++)
        ids[j] = spread_token ((guint32) (i * 131 + j), V);
      s[k][i] = vtp_llama_state_new_kv (m, CTX + 3 * VTP_DECODE_ROWS_MAX, CTX, c->kv, &error);
      g_assert_no_error (error);
      g_assert_true (vtp_llama_prefill (m, s[k][i], &seg, 1, FALSE, &error));
      g_assert_no_error (error);
      tokens[i] = ids[seg.n - 1];
    }
  }
  for (gint step = 0; step < 8; step++) {
    for (gint k = 0; k < 2; k++) {
      /* b[0]: the whole step in one launch on even steps, two launches a
       * layer on odd ones; b[1]: the kernels one by one */
      const gboolean one_launch = k == 0 && step % 2 == 0;
      if (k == 1)
        g_setenv ("VTP_DECODE_LAYER", "0", TRUE);
      if (k == 0 && !one_launch)
        g_setenv ("VTP_DECODE_TOKEN", "0", TRUE);
      g_assert_cmpint (vtp_llama_batch_fused_layers (m, b[k], n), ==, k == 0 ? m->cfg.num_hidden_layers : 0);
      g_assert_cmpint (vtp_llama_batch_fused_step (m, b[k], s[k], n), ==, one_launch);
      g_assert_true (vtp_llama_decode_batch (m, b[k], s[k], tokens, n, &error));
      g_assert_no_error (error);
      g_unsetenv ("VTP_DECODE_LAYER");
      g_unsetenv ("VTP_DECODE_TOKEN");
    }
    for (gint i = 0; i < n; i++) {
      for (gint k = 0; k < 2; k++) {
        g_assert_true (vtp_tensor_read (s[k][i]->logits, 0, logits[k], (gsize) V * sizeof (float), &error));
        g_assert_no_error (error);
      }
      assert_same_bits (logits[0], logits[1], V, c, step, i);
      g_assert_true (isfinite (logits[0][0]));
      tokens[i] = next_input (step + i, step * 97 + i, vtp_argmax (logits[1], V), V);
    }
  }
  for (gint k = 0; k < 2; k++) {
    for (gint i = 0; i < n; i++)
      vtp_llama_state_free (s[k][i]);
    vtp_llama_batch_free (b[k]);
    g_free (logits[k]);
  }
  model_close (&o);
}

static const char *
wtype_name (VtpWeightType t)
{
  switch (t) {
    case VTP_WEIGHTS_KEEP: return "as-stored";
    case VTP_WEIGHTS_F16: return "f16";
    case VTP_WEIGHTS_BF16: return "bf16";
    case VTP_WEIGHTS_Q4_K: return "q4_k";
    case VTP_WEIGHTS_Q8_0: return "q8_0";
    case VTP_WEIGHTS_Q4_0: return "q4_0";
    default: return "other";
  }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    const Case *c = &cases[i];
    g_autofree char *what = g_strdup_printf ("%u-%s-%s-%s-kv-%s%s%s%s", i, c->fixture,
        c->file ? c->file : "safetensors", wtype_name (c->wtype), vtp_dtype_name (c->kv), c->gqa ? "" : "-per-head",
        c->groups ? "-groups" : "", c->groups ? c->groups : "");
    g_autofree char *name = NULL;
    g_strdelimit (what, "./", '_');
    name = g_strconcat ("/decode-layer/same-bits/", what, NULL);
    g_test_add_data_func (name, c, test_same_bits);
  }
  /* gguf-kquant-tiny's Q4_K_M (its head outside the one launch), gguf-tiny's (inside) */
  g_test_add_data_func ("/decode-layer/trace/kquant-tiny-q4_k_m", &cases[6], test_trace);
  g_test_add_data_func ("/decode-layer/trace/tiny-q4_k_m", &cases[5], test_trace);
  for (guint i = 0; i < G_N_ELEMENTS (opt_cases); i++) {
    const Case *c = &opt_cases[i];
    g_autofree char *name = g_strdup_printf ("/decode-layer/opt-same-bits/%u-%s-%s-kv-%s%s%s", i, c->fixture,
        wtype_name (c->wtype), vtp_dtype_name (c->kv), c->groups ? "-groups" : "", c->groups ? c->groups : "");
    g_test_add_data_func (name, c, test_opt_same_bits);
  }
  for (guint i = 0; i < G_N_ELEMENTS (batch_cases); i++) {
    const Case *c = &batch_cases[i].c;
    g_autofree char *what = g_strdup_printf ("%u-%s-%s-kv-%s-%d-streams%s%s%s", i, c->fixture, c->file,
        vtp_dtype_name (c->kv), batch_cases[i].streams, c->gqa ? "" : "-per-head", c->groups ? "-groups" : "",
        c->groups ? c->groups : "");
    g_autofree char *name = NULL;
    g_strdelimit (what, "./", '_');
    name = g_strconcat ("/decode-layer/batch-same-bits/", what, NULL);
    g_test_add_data_func (name, &batch_cases[i], test_batch_same_bits);
  }
  {
    const int r = g_test_run ();
    vtp_device_unref (dev);
    return r;
  }
}
