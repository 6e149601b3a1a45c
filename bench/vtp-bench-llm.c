/* vtp-bench-llm: the language model alone, as llama.cpp's llama-bench
 * measures it: prefill of P tokens and decode of N tokens.
 *
 *   vtp-bench-llm --model DIR [--weight-type TYPE] [--kv-type f32|f16|q8_0] [--prompt-tokens P]
 *                 [--decode-tokens N] [--repeats R] [--device SPEC]
 *                 [--alternate NAME=V1,V2,...] [--streams S] [--sample T,K,P]
 *
 * DIR: a Llama or OPT directory, or a llava-hf / InstructBLIP / BLIP-2 one
 * (its language model). The prompt is P pseudo-random token ids (no BOS), as llama-bench's
 * pp test; decode is greedy (or, with --sample, drawn at temperature T,
 * top-k K, top-p P, seed 1: the sampler's cost counts) from the prefill's
 * logits with EOS ignored (its
 * tg test decodes N tokens after an empty context; here after the prompt of
 * the same run, a difference of a few percent at these lengths). Prints, as
 * "key: value" lines, medians over R runs: prefill and decode tokens/s,
 * load time, peak resident memory, weight bytes read per token, the host's
 * read bandwidth (same run) and the decode speed it allows.
 *
 * --alternate is for A/B tests of a setting read from the environment at
 * each launch (this machine's speed drifts by 10-30% within minutes, so
 * runs one after the other compare badly): each repeat runs prefill and
 * decode once per value, in turn ("-" unsets NAME), and the medians come
 * per value, with the median over repeats of each value's decode speed over
 * the first value's in the same repeat. NAME kv-type (not a variable):
 * the values are KV cache types (f32, f16, q8_0), each a state of its own on
 * the one model (--kv-type is then unused). NAME VTP_KERNEL_DEFINES: the
 * kernels are built again with each value before its runs
 * (vtp_device_rebuild_kernels; they are otherwise built once, when the
 * device opens, and a value set later would change nothing).
 *
 * --streams S (issue 18, docs/batching.md): after
 * each repeat's single-stream decode, S streams (S states, each prefilled
 * with its own P-token prompt, untimed) decode N tokens each together, one
 * batched decode step (vtp_lm_generate_batch) a step; prints their aggregate decode tokens/s
 * (S (N - 1) tokens over the time, as the single-stream figure counts)
 * beside the single stream's, and the median over repeats of their ratio
 * in the same repeat. With --alternate (an environment variable, not
 * kv-type) the streams decode after each value's single stream, and each
 * value's batched speed comes with its ratio to the first value's. */
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include "bench-measure.h"
#include "vtp-bandwidth.h"
#include "vtp-generate.h"
#include "vtp-parts.h"

static void
die (GError *error)
{
  g_printerr ("vtp-bench-llm: %s\n", error ? error->message : "failed");
  exit (1);
}

/* @n streams, each prefilled with its own prompt (the P ids shifted by the
 * stream's index, untimed), then @decode tokens each decoded together
 * (greedy, EOS ignored): aggregate tokens/s as decode_tokens_per_s counts
 * (the first token of each comes from its prefill). 0 and @error on
 * failure. */
static double
batch_decode_tokens_per_s (VtpLm **lms, gint n, const gint32 *ids, gint n_ids, gint decode, GError **error)
{
  g_autofree VtpBatchStream *streams = g_new0 (VtpBatchStream, n);
  g_autofree gint32 *shifted = g_new (gint32, n_ids);
  guint produced = 0;
  double t0;
  gboolean ok;

  for (gint i = 0; i < n; i++) {
    const VtpLmSegment seg = { shifted, NULL, 0, n_ids };
    for (gint j = 0; j < n_ids; j++)
      shifted[j] = 3 + (ids[j] - 3 + 7919 * i) % (lms[i]->vocab_size - 3);
    *lms[i]->n_past = 0;
    if (!vtp_lm_prefill (lms[i], &seg, 1, FALSE, error))
      return 0;
    streams[i].lm = lms[i];
    streams[i].params.max_new_tokens = decode;
    streams[i].tokens = g_array_new (FALSE, FALSE, sizeof (gint32));
  }
  if (!vtp_device_finish (lms[0]->dev, error))
    return 0;
  t0 = now_ms ();
  ok = vtp_lm_generate_batch (streams, n, error);
  t0 = now_ms () - t0;
  for (gint i = 0; i < n; i++) {
    produced += streams[i].tokens->len - 1;
    g_array_unref (streams[i].tokens);
  }
  return ok ? produced / (t0 / 1000.0) : 0;
}

int
main (int argc, char **argv)
{
  g_autofree char *model = NULL, *device = NULL, *wtype_name = NULL, *kv_name = NULL, *alternate = NULL;
  g_auto (GStrv) alt_values = NULL;
  const char *alt_name = NULL;
  gint n_alt = 1;
  g_autofree double *ratio = NULL;
  guint64 dev_live, dev_peak;
  gint prompt_tokens = 512, decode_tokens = 64, repeats = 3, streams = 0;
  g_autofree char *sample = NULL;
  VtpSamplerParams sample_params = { 0.0f, 0, 1.0f, 1 };
  const VtpSamplerParams *sampling = NULL;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model directory or GGUF file (LLaMA-family, OPT or T5; alone or inside LLaVA / BLIP-2 / InstructBLIP)", "DIR" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "OpenCL device (auto, cpu, gpu, ...)", "SPEC" },
    { "weight-type", 'w', 0, G_OPTION_ARG_STRING, &wtype_name, "auto, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl or iq4_xs", "TYPE" },
    { "kv-type", 'k', 0, G_OPTION_ARG_STRING, &kv_name, "Key/value cache type: f32 (default), f16 or q8_0", "TYPE" },
    { "prompt-tokens", 'p', 0, G_OPTION_ARG_INT, &prompt_tokens, "Tokens to prefill (default 512)", "P" },
    { "decode-tokens", 'n', 0, G_OPTION_ARG_INT, &decode_tokens, "Tokens to decode (default 64)", "N" },
    { "alternate", 'a', 0, G_OPTION_ARG_STRING, &alternate,
      "A/B test: each repeat runs once per value of environment variable NAME, in turn", "NAME=V1,V2,..." },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats, "Runs of each measurement (default 3)", "R" },
    { "sample", 0, 0, G_OPTION_ARG_STRING, &sample, "Decode drawing tokens at temperature T, top-k K (0: all), "
      "top-p P (default: greedy)", "T,K,P" },
    { "streams", 's', 0, G_OPTION_ARG_INT, &streams,
      "Also decode S streams together (batched decoding) and print their aggregate speed", "S" },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- prefill and decode speed of a vtp language model");
  GError *error = NULL;
  VtpWeightType wtype = VTP_WEIGHTS_KEEP;
  VtpDType kv_dtype = VTP_DTYPE_F32;
  g_autoptr (VtpDevice) dev = NULL;
  g_autoptr (VtpCheckpoint) ckpt = NULL;
  g_autoptr (VtpLm) lm = NULL;
  g_autofree gint32 *ids = NULL;
  g_autofree double *t_pre = NULL, *t_dec = NULL, *t_batch = NULL, *batch_ratio = NULL, *batch_alt_ratio = NULL;
  VtpLm **stream_lms = NULL;
  VtpLm **kv_lms = NULL;        /* --alternate kv-type=...: a state per value */
  g_autofree VtpDType *kv_alt = NULL;   /* and the values' types */
  VtpModelParts parts;
  double load_ms, bw, bw_median, rss_mb;

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die (error);
  if (!model) {
    g_printerr ("vtp-bench-llm: --model DIR is required (see --help)\n");
    return 2;
  }
  if (wtype_name && !vtp_weight_type_from_name (wtype_name, &wtype)) {
    g_printerr ("vtp-bench-llm: --weight-type must be auto, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl or iq4_xs\n");
    return 2;
  }
  if (kv_name && !vtp_kv_type_from_name (kv_name, &kv_dtype)) {
    g_printerr ("vtp-bench-llm: --kv-type must be f32, f16 or q8_0\n");
    return 2;
  }
  repeats = MAX (repeats, 1);
  if (alternate) {
    g_auto (GStrv) kv = g_strsplit (alternate, "=", 2);

    if (!kv[0] || !kv[1] || !*kv[0] || !*kv[1]) {
      g_printerr ("vtp-bench-llm: --alternate takes NAME=V1,V2,...\n");
      return 2;
    }
    alt_values = g_strsplit (kv[1], ",", -1);
    alt_name = g_intern_string (kv[0]);
    n_alt = (gint) g_strv_length (alt_values);
    if (strcmp (alt_name, "kv-type") == 0) {
      kv_alt = g_new (VtpDType, n_alt);
      for (gint a = 0; a < n_alt; a++)
        if (!vtp_kv_type_from_name (alt_values[a], &kv_alt[a])) {
          g_printerr ("vtp-bench-llm: --alternate kv-type takes f32, f16 and q8_0\n");
          return 2;
        }
    }
  }
  if (sample) {
    if (sscanf (sample, "%f,%d,%f", &sample_params.temperature, &sample_params.top_k, &sample_params.top_p) != 3
        || !(sample_params.temperature > 0.0f)) {
      g_printerr ("vtp-bench-llm: --sample takes T,K,P with T > 0, e.g. 0.8,40,0.95\n");
      return 2;
    }
    sampling = &sample_params;
  }
  prompt_tokens = MAX (prompt_tokens, 1);
  decode_tokens = MAX (decode_tokens, 2);
  if (streams < 0 || (streams > 0 && kv_alt)) {
    g_printerr ("vtp-bench-llm: --streams takes S >= 1, and not with --alternate kv-type\n");
    return 2;
  }

  load_ms = now_ms ();
  if (!(dev = vtp_device_get (device, &error)) || !(ckpt = vtp_checkpoint_open (model, &error))
      || !vtp_model_parts_read (ckpt, &parts, &error))
    die (error);
  if (!parts.has_text) {
    g_printerr ("vtp-bench-llm: %s has no language model (model_type %s)\n", model, parts.model_type);
    return 1;
  }
  /* with --alternate kv-type, the states are the values' own: this one
   * only holds the model (one position) */
  if (!(lm = vtp_lm_open (ckpt, &parts, NULL, dev, wtype, kv_dtype,
              kv_alt ? 1 : prompt_tokens + decode_tokens + 1,
              MIN (prompt_tokens, 512), &error))
      || !vtp_device_finish (dev, &error))
    die (error);
  load_ms = now_ms () - load_ms;

  /* ids 3 .. vocab - 1 (past <unk> <s> </s>), a fixed sequence */
  ids = g_new (gint32, prompt_tokens);
  for (gint i = 0; i < prompt_tokens; i++)
    ids[i] = 3 + (gint32) (((guint32) i * 2654435761u) % (guint32) (lm->vocab_size - 3));

  if (streams > 0) {
    if (!vtp_lm_can_batch (lm)) {
      g_printerr ("vtp-bench-llm: --streams: the %s family has no batched decode step\n", lm->ops->name);
      return 1;
    }
    stream_lms = g_new0 (VtpLm *, streams);
    for (gint i = 0; i < streams; i++)
      if (!(stream_lms[i] = vtp_lm_new_stream (lm, prompt_tokens + decode_tokens + 1, MIN (prompt_tokens, 512),
                  &error)))
        die (error);
    t_batch = g_new (double, repeats * n_alt);
    batch_ratio = g_new (double, repeats * n_alt);
  }

  if (kv_alt) {
    kv_lms = g_new0 (VtpLm *, n_alt);
    for (gint a = 0; a < n_alt; a++)
      if (!(kv_lms[a] = vtp_lm_new_stream_kv (lm, kv_alt[a], prompt_tokens + decode_tokens + 1,
                  MIN (prompt_tokens, 512), &error)))
        die (error);
  }

  t_pre = g_new (double, repeats * n_alt);
  t_dec = g_new (double, repeats * n_alt);
  for (gint r = 0; r < repeats; r++)
    for (gint a = 0; a < n_alt; a++) {
      const VtpLmSegment seg = { ids, NULL, 0, prompt_tokens };
      const gint i = a * repeats + r;
      VtpLm *run = kv_lms ? kv_lms[a] : lm;
      double t0;

      if (alt_name && !kv_alt) {
        if (strcmp (alt_values[a], "-") == 0)
          g_unsetenv (alt_name);
        else
          g_setenv (alt_name, alt_values[a], TRUE);
        /* the kernels are built when the device opens: again for each
         * value, then run once untimed (PoCL compiles a kernel's work-group
         * function at its first launch) */
        if (strcmp (alt_name, "VTP_KERNEL_DEFINES") == 0 && n_alt > 1) {
          *run->n_past = 0;
          if (!vtp_device_rebuild_kernels (dev, &error) || !vtp_lm_prefill (run, &seg, 1, FALSE, &error)
              || !decode_tokens_per_s (run, 2, sampling, &error))
            die (error);
        }
      }
      t0 = now_ms ();
      *run->n_past = 0;
      if (!vtp_lm_prefill (run, &seg, 1, FALSE, &error) || !vtp_device_finish (dev, &error))
        die (error);
      t_pre[i] = prompt_tokens / ((now_ms () - t0) / 1000.0);
      if (!(t_dec[i] = decode_tokens_per_s (run, decode_tokens, sampling, &error)))
        die (error);
      if (streams > 0) {
        t_batch[i] = batch_decode_tokens_per_s (stream_lms, streams, ids, prompt_tokens, decode_tokens, &error);
        if (!t_batch[i])
          die (error);
        batch_ratio[i] = t_batch[i] / t_dec[i];
      }
    }
  /* the paired ratios first: median () sorts */
  ratio = g_new (double, repeats * n_alt);
  for (gint i = 0; i < repeats * n_alt; i++)
    ratio[i] = t_dec[i] / t_dec[i % repeats];
  if (streams > 0) {
    batch_alt_ratio = g_new (double, repeats * n_alt);
    for (gint i = 0; i < repeats * n_alt; i++)
      batch_alt_ratio[i] = t_batch[i] / t_batch[i % repeats];
  }
  bw = peak_rss_then_bandwidth (&rss_mb, &bw_median);

  g_print ("model: %s\n", ckpt->dir);
  g_print ("device: %s\n", dev->name);
  g_print ("family: %s\n", lm->ops->name);
  g_print ("weights: %s (lm_head)\n", vtp_dtype_name (lm->lm_head->dtype));
  g_print ("kv_cache: %s\n", kv_lms ? "alternated (below)" : vtp_dtype_name (lm->kv_dtype));
  g_print ("load_ms: %.0f\n", load_ms);
  g_print ("prompt_tokens: %d\n", prompt_tokens);
  g_print ("prefill_tokens_per_s: %.1f\n", median (t_pre, repeats));
  g_print ("decode_tokens: %d\n", decode_tokens);
  if (sampling)
    g_print ("decode_sampling: temperature %g, top-k %d, top-p %g\n", sampling->temperature, sampling->top_k,
        sampling->top_p);
  g_print ("decode_tokens_per_s: %.2f\n", median (t_dec, repeats));
  print_decode_against_bandwidth (median (t_dec, repeats), lm->ops->weight_bytes (lm->model), bw, bw_median);
  g_print ("peak_rss_mb: %.0f\n", rss_mb);
  /* what vtp holds on the device at most (weights, KV cache, activations,
   * scratch), and the peak RSS over it: the rest is the runtime (PoCL,
   * LLVM, the compiled kernels) and the host's own buffers */
  vtp_device_buffer_bytes (&dev_live, &dev_peak);
  g_print ("device_buffers_peak_mb: %.0f\n", dev_peak / 1048576.0);
  g_print ("peak_rss_over_device_buffers: %.2f\n", rss_mb * 1048576.0 / (double) MAX (dev_peak, 1));
  if (streams > 0) {
    g_print ("streams: %d\n", streams);
    g_print ("batch_decode_tokens_per_s: %.2f (aggregate of %d streams; single stream %.2f)\n",
        median (t_batch, repeats), streams, median (t_dec, repeats));
    g_print ("batch_decode_per_stream_tokens_per_s: %.2f\n", median (t_batch, repeats) / streams);
    g_print ("batch_over_single: %.2f\n", median (batch_ratio, repeats));
    for (gint i = 0; i < streams; i++)
      vtp_lm_free (stream_lms[i]);
    g_free (stream_lms);
  }
  for (gint a = 0; alt_name && a < n_alt; a++) {
    g_print ("alternate %s=%s: prefill_tokens_per_s %.1f decode_tokens_per_s %.2f decode_over_first %.3f\n",
        alt_name, alt_values[a], median (t_pre + a * repeats, repeats), median (t_dec + a * repeats, repeats),
        median (ratio + a * repeats, repeats));
    if (streams > 0)
      g_print ("alternate %s=%s: batch_decode_tokens_per_s %.2f batch_over_first %.3f batch_over_single %.2f\n",
          alt_name, alt_values[a], median (t_batch + a * repeats, repeats),
          median (batch_alt_ratio + a * repeats, repeats), median (batch_ratio + a * repeats, repeats));
  }
  for (gint a = 0; kv_lms && a < n_alt; a++)
    vtp_lm_free (kv_lms[a]);
  g_free (kv_lms);
  vtp_model_parts_clear (&parts);
  return 0;
}
