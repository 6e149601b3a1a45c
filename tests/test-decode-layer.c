/* test-decode-layer.c: the fused decode layer (decode-layer.cl,
 * vtp-decode-layer.h) against the unfused decode step, on tiny Llama
 * fixtures: after the same prompt, two states decode the same 10 tokens,
 * one with the fused layers (every layer of the model fused: checked with
 * vtp_llama_fused_layers) and one with $VTP_DECODE_LAYER=0 (the kernels
 * one by one); their logits must be the same bits at every step (the fused
 * layer calls the same functions on the same values). Cases cover the
 * weight types' panel kinds (F32, F16, BF16; Q8_0, Q4_0 and llama.cpp's
 * mixed Q4_K_M files: Q4_K with Q6_K, or the small file's fallback types),
 * the three KV cache types, grouped-query attention and a head a task
 * ($VTP_ATTENTION_GQA=0), HF RoPE pairs (safetensors) and Meta's (GGUF),
 * Qwen2's q, k and v biases (its GGUF, its safetensors quantized at load),
 * and 1 or 5 work-groups (one alone does every task; more than the cores:
 * late ones find the tasks taken). Needs PoCL on the CPU (skipped
 * elsewhere). */
#include <math.h>
#include <string.h>
#include "vtp-parts.h"
#include "vtp-llama.h"
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

static void
decode_step (VtpLlama *m, VtpLlamaState *s, gint32 id, gboolean fused, float *logits)
{
  g_autoptr (GError) error = NULL;
  const VtpLlamaSegment seg = { &id, NULL, 0, 1 };

  if (fused)
    g_unsetenv ("VTP_DECODE_LAYER");
  else
    g_setenv ("VTP_DECODE_LAYER", "0", TRUE);
  g_assert_cmpint (vtp_llama_fused_layers (m, s), ==, fused ? m->cfg.num_hidden_layers : 0);
  g_assert_true (vtp_llama_prefill (m, s, &seg, 1, FALSE, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_tensor_read (s->logits, 0, logits, (gsize) m->cfg.vocab_size * sizeof (float), &error));
  g_assert_no_error (error);
  g_unsetenv ("VTP_DECODE_LAYER");
}

static void
test_same_bits (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = fixture_path (c->fixture);
  g_autofree char *path = c->file ? g_build_filename (dir, c->file, NULL) : g_strdup (dir);
  VtpCheckpoint *ckpt;
  VtpModelParts parts;
  VtpLlamaNames names;
  VtpLlama *m;
  VtpLlamaState *s[2];
  gint32 ids[PROMPT] = { 1 };
  float *logits[2];
  gint V;

  if (!dev->pocl_cpu) {
    g_test_skip ("the fused decode layer is for PoCL on the CPU");
    return;
  }
  ckpt = vtp_checkpoint_open (path, &error);
  g_assert_no_error (error);
  g_assert_true (vtp_model_parts_read (ckpt, &parts, &error));
  g_assert_no_error (error);
  g_assert_true (vtp_llama_find_names (ckpt, &parts.text, &names, &error));
  g_assert_no_error (error);
  m = vtp_llama_load (ckpt, &names, &parts.text, NULL, dev, c->wtype, &error);
  g_assert_no_error (error);
  V = m->cfg.vocab_size;
  if (!c->gqa)
    g_setenv ("VTP_ATTENTION_GQA", "0", TRUE);
  if (c->groups)
    g_setenv ("VTP_DECODE_LAYER_GROUPS", c->groups, TRUE);

  for (gint i = 1; i < PROMPT; i++)
    ids[i] = 3 + (gint32) (((guint32) i * 2654435761u) % (guint32) (V - 3));
  for (gint k = 0; k < 2; k++) {
    const VtpLlamaSegment seg = { ids, NULL, 0, PROMPT };
    s[k] = vtp_llama_state_new_kv (m, CTX, CTX, c->kv, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_llama_prefill (m, s[k], &seg, 1, FALSE, &error));
    g_assert_no_error (error);
    logits[k] = g_new (float, V);
  }
  {
    gint32 id = ids[PROMPT - 1];
    for (gint step = 0; step < STEPS; step++) {
      gint best = 0;
      decode_step (m, s[0], id, TRUE, logits[0]);
      decode_step (m, s[1], id, FALSE, logits[1]);
      for (gint v = 0; v < V; v++) {
        if (memcmp (&logits[0][v], &logits[1][v], sizeof (float)) != 0)
          g_error ("%s %s, step %d: fused logit %d is %.9g, unfused %.9g", c->fixture, c->file ? c->file : "",
              step, v, logits[0][v], logits[1][v]);
        if (logits[1][v] > logits[1][best])
          best = v;
      }
      g_assert_true (isfinite (logits[0][best]));
      /* the next input: the greedy token, or another one now and then */
      id = step % 3 == 2 ? (gint32) (3 + (step * 97) % (V - 3)) : best;
    }
  }

  g_unsetenv ("VTP_ATTENTION_GQA");
  g_unsetenv ("VTP_DECODE_LAYER_GROUPS");
  for (gint k = 0; k < 2; k++) {
    vtp_llama_state_free (s[k]);
    g_free (logits[k]);
  }
  vtp_llama_free (m);
  vtp_model_parts_clear (&parts);
  vtp_checkpoint_unref (ckpt);
}

static const char *
wtype_name (VtpWeightType t)
{
  switch (t) {
    case VTP_WEIGHTS_KEEP: return "as-stored";
    case VTP_WEIGHTS_F16: return "f16";
    case VTP_WEIGHTS_BF16: return "bf16";
    case VTP_WEIGHTS_Q4_K: return "q4_k";
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
  {
    const int r = g_test_run ();
    vtp_device_unref (dev);
    return r;
  }
}
