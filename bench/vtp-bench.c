/* vtp-bench: speed and memory of a model directory on a device.
 *
 *   vtp-bench --model DIR [--device SPEC] [--weight-type auto|f32|f16|bf16|q8_0|q4_0|q4_1|q5_0|q5_1|q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs]
 *             [--kv-type f32|f16|q8_0]
 *             [--decode-tokens N] [--repeats N] [--list-devices]
 *   vtp-bench --model LLAMA --encoder CLIP --adapter ADAPTER ...
 *
 * Works on LLaVA (projector bridge) and BLIP-2 / InstructBLIP (Q-Former
 * bridge) checkpoints, and on LLaMA-Adapter V2 multimodal (three
 * directories: the base LLM, the OpenAI CLIP encoder, the adapter; the
 * bridge is the visual queries plus the prompts' keys and values in every
 * adapted layer). Measures (median of --repeats runs): image
 * preprocessing + vision tower (ms), the bridge (ms), prefill of the prompt
 * with the image tokens or queries (tokens/s), greedy decode (tokens/s, EOS
 * ignored), time to first token, peak resident memory, the host memory read
 * bandwidth and the decode speed limit it implies (bandwidth / bytes of
 * weights read per token). --vision-only loads no language model and
 * measures the picture's side alone (preprocessing + tower, the bridge), as
 * llama.cpp's mtmd reports its image encoding; with --vision-batch N it
 * also times N pictures through the tower one by one against one batch of
 * N (vtpencoder batch=N). Prints one "key: value" per line. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include "bench-measure.h"
#include "vtp-adapter.h"
#include "vtp-bandwidth.h"
#include "vtp-generate.h"
#include "vtp-parts.h"
#include "vtp-projector.h"
#include "vtp-prompt.h"
#include "vtp-qformer.h"
#include "vtp-wordpiece.h"
#include "vtp-tokenizer.h"



static void
die (GError *error)
{
  g_printerr ("vtp-bench: %s\n", error->message);
  exit (1);
}

/* @n pictures (the one in cs->pixels, @n times) through the tower one
 * after the other and as one batch, alternately, @repeats rounds; prints
 * the medians per picture and their ratio. */
static void
bench_vision_batch (VtpVisionTower *clip, VtpVisionState *cs, VtpTensor *features, gint n, gint repeats)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpVisionState) many = vtp_vision_state_new_many (clip, n, &error);
  g_autofree VtpTensor **px = g_new (VtpTensor *, n);
  g_autofree VtpTensor **out = g_new0 (VtpTensor *, n);
  g_autofree double *t_alone = g_new (double, repeats), *t_batch = g_new (double, repeats);

  if (!many)
    die (error);
  for (gint i = 0; i < n; i++) {
    px[i] = cs->pixels;
    if (!(out[i] = vtp_tensor_new_2d (clip->dev, VTP_DTYPE_F32, vtp_tensor_rows (features),
                vtp_tensor_cols (features), &error)))
      die (error);
  }
  for (gint r = 0; r < repeats; r++) {
    double t0 = now_ms ();
    for (gint i = 0; i < n; i++)
      vtp_vision_tower_forward (clip, cs, out[i]);
    if (!vtp_device_finish (clip->dev, &error) || !vtp_error_take_pending (&error))
      die (error);
    t_alone[r] = (now_ms () - t0) / n;
    t0 = now_ms ();
    vtp_vision_tower_forward_many (clip, many, px, out, n);
    if (!vtp_device_finish (clip->dev, &error) || !vtp_error_take_pending (&error))
      die (error);
    t_batch[r] = (now_ms () - t0) / n;
  }
  g_print ("vision_batch: %d\n", n);
  g_print ("encode_alone_ms_per_picture: %.1f\n", median (t_alone, repeats));
  g_print ("encode_batched_ms_per_picture: %.1f\n", median (t_batch, repeats));
  g_print ("batched_speedup: %.3f\n", median (t_alone, repeats) / median (t_batch, repeats));
  for (gint i = 0; i < n; i++)
    vtp_tensor_free (out[i]);
}

int
main (int argc, char **argv)
{
  g_autofree char *model = NULL, *device = NULL, *wtype_name = NULL, *kv_name = NULL, *encoder = NULL, *adapter_dir = NULL;
  gint decode_tokens = 64, repeats = 3, vision_batch = 0;
  gboolean list = FALSE, vision_only = FALSE;
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model directory (LLaVA, BLIP-2 or InstructBLIP; their language model LLaMA-family, OPT or T5)", "DIR" },
    { "encoder", 'e', 0, G_OPTION_ARG_FILENAME, &encoder, "Vision encoder directory (with --adapter)", "DIR" },
    { "adapter", 'a', 0, G_OPTION_ARG_FILENAME, &adapter_dir, "LLaMA-Adapter V2 multimodal directory", "DIR" },
    { "device", 'd', 0, G_OPTION_ARG_STRING, &device, "OpenCL device (auto, cpu, gpu, ...)", "SPEC" },
    { "weight-type", 'w', 0, G_OPTION_ARG_STRING, &wtype_name, "auto, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl or iq4_xs", "TYPE" },
    { "kv-type", 'k', 0, G_OPTION_ARG_STRING, &kv_name, "Key/value cache type: f32 (default), f16 or q8_0", "TYPE" },
    { "decode-tokens", 'n', 0, G_OPTION_ARG_INT, &decode_tokens, "Tokens to decode (default 64)", "N" },
    { "repeats", 'r', 0, G_OPTION_ARG_INT, &repeats, "Runs of each measurement (default 3)", "N" },
    { "vision-only", 'V', 0, G_OPTION_ARG_NONE, &vision_only,
      "Only the picture: preprocessing, vision tower and bridge (no language model)", NULL },
    { "vision-batch", 0, 0, G_OPTION_ARG_INT, &vision_batch, "With --vision-only: also N pictures through the "
      "vision tower one by one and as one batch, alternately (vtp_vision_tower_forward_many)", "N" },
    { "list-devices", 'l', 0, G_OPTION_ARG_NONE, &list, "List the OpenCL devices and exit", NULL },
    { NULL },
  };
  g_autoptr (GOptionContext) ctx = g_option_context_new ("- speed and memory of a vtp model");
  GError *error = NULL;
  VtpWeightType wtype = VTP_WEIGHTS_KEEP;
  VtpDType kv_dtype = VTP_DTYPE_F32;
  g_autoptr (VtpDevice) dev = NULL;
  g_autoptr (VtpCheckpoint) ckpt = NULL, enc_ckpt = NULL, ad_ckpt = NULL;
  VtpModelParts parts, vparts;
  VtpVisionFeatures feats;
  VtpImageConfig ic;
  g_autoptr (VtpVisionTower) clip = NULL;
  g_autoptr (VtpVisionState) cs = NULL;
  g_autoptr (VtpImagePreprocessor) pre = NULL;
  g_autoptr (VtpProjector) proj = NULL;
  g_autoptr (VtpQFormer) qf = NULL;
  g_autoptr (VtpQFormerState) qs = NULL;
  g_autoptr (VtpAdapter) ad = NULL;
  g_autoptr (VtpAdapterState) as = NULL;
  g_autoptr (VtpWordPiece) wp = NULL;
  g_autoptr (GArray) qids = NULL;
  g_autoptr (VtpLm) lm = NULL;
  g_autoptr (VtpTokenizer) tok = NULL;
  g_autoptr (VtpTensor) features = NULL, phidden = NULL, embeds = NULL;
  g_autoptr (GArray) ids = NULL;
  g_autofree guint8 *frame = NULL;
  double *t_enc, *t_proj, *t_pre, *t_dec, load_ms, bw, bw_median, rss_mb;
  gint rows, width, out_rows, out_width, pos = 0, prefill_tokens;
  const char *prompt = "What is in the picture? Describe it in detail.";

  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    die (error);
  if (list) {
    g_autofree char *s = vtp_device_list_all ();
    g_print ("%s", s);
    return 0;
  }
  if (!model) {
    g_printerr ("vtp-bench: --model DIR is required (see --help)\n");
    return 2;
  }
  if (wtype_name && !vtp_weight_type_from_name (wtype_name, &wtype)) {
    g_printerr ("vtp-bench: --weight-type must be auto, f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl or iq4_xs\n");
    return 2;
  }
  if (kv_name && !vtp_kv_type_from_name (kv_name, &kv_dtype)) {
    g_printerr ("vtp-bench: --kv-type must be f32, f16 or q8_0\n");
    return 2;
  }
  repeats = MAX (repeats, 1);

  load_ms = now_ms ();
  if (!!encoder != !!adapter_dir) {
    g_printerr ("vtp-bench: --encoder and --adapter go together\n");
    return 2;
  }
  if (!(dev = vtp_device_get (device, &error)) || !(ckpt = vtp_checkpoint_open (model, &error))
      || !vtp_model_parts_read (ckpt, &parts, &error))
    die (error);
  /* the vision tower: the model's own, or --encoder's */
  if (!encoder)
    enc_ckpt = vtp_checkpoint_ref (ckpt);
  else if ((!(enc_ckpt = vtp_checkpoint_open (encoder, &error)) || !vtp_model_parts_read (enc_ckpt, &vparts,
              &error)))
    die (error);
  if (!encoder)
    vparts = parts;
  if (!vparts.has_vision || !(parts.has_projector || parts.has_qformer || adapter_dir) || !parts.has_text) {
    g_printerr ("vtp-bench: %s is not a LLaVA, BLIP-2 or InstructBLIP checkpoint, nor an LLM with --encoder and "
        "--adapter (model_type %s)\n", model, parts.model_type);
    return 1;
  }
  vtp_model_features (&vparts, &feats);
  if (!vtp_model_image_config (enc_ckpt, &vparts, &ic, &error)
      || !(clip = vtp_vision_tower_load (enc_ckpt, vtp_model_vision_prefix (enc_ckpt, &vparts, NULL), &vparts.vision,
              &feats, dev, wtype, &error))
      || !(cs = vtp_vision_state_new (clip, &error)))
    die (error);
  rows = vtp_vision_tower_feature_rows (clip);
  width = vtp_vision_tower_feature_width (clip);
  if (adapter_dir) {
    if (!(ad_ckpt = vtp_checkpoint_open (adapter_dir, &error))
        || !(ad = vtp_adapter_load (ad_ckpt, dev, wtype, &error))
        || !(as = vtp_adapter_state_new (ad, rows, &error)))
      die (error);
    out_rows = vtp_adapter_prompt_rows (ad);
    out_width = ad->llm_dim;
  } else if (parts.has_qformer) {
    g_autofree char *wp_dir = vtp_checkpoint_file (ckpt, "qformer_tokenizer");
    if (!(qf = vtp_qformer_load (ckpt, vtp_model_qformer_prefix (ckpt, NULL), &parts.blip, dev, wtype, &error))
        || !(qs = vtp_qformer_state_new (qf, rows, qf->cfg.max_position_embeddings, &error))
        || (qf->cfg.text_input && (!(wp = vtp_wordpiece_new_from_dir (wp_dir, &error))
                || !(qids = vtp_wordpiece_encode (wp, prompt, TRUE, 0, &error)))))
      die (error);
    out_rows = qf->n_queries;
    out_width = qf->out_width;
  } else {
    if (!(proj = vtp_projector_load (ckpt, vtp_model_projector_prefix (ckpt, NULL), &parts.llava, width, dev, wtype,
                &error))
        || !(phidden = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, proj->out_width, &error)))
      die (error);
    out_rows = rows;
    out_width = proj->out_width;
  }
  /* queries go before BOS + raw prompt; image tokens replace <image> in LLaVA's template */
  if (vision_only) {
    if (!(features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error))
        || !(embeds = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, out_rows, out_width, &error))
        || !vtp_device_finish (dev, &error))
      die (error);
  } else if (!(tok = vtp_model_tokenizer_new (ckpt, &error))
      || !(features = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error))
      || !(embeds = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, out_rows, out_width, &error))
      || !(ids = vtp_prompt_encode (tok, ad ? VTP_ALPACA_TEMPLATE : qf ? VTP_PLAIN_TEMPLATE : VTP_LLAVA_TEMPLATE,
              prompt, ad ? -1 : parts.image_token_index, !qf && !ad, &pos, &error))
      || !(lm = vtp_lm_open (ckpt, &parts, ad_ckpt, dev, wtype, kv_dtype, ids->len + out_rows + decode_tokens + 1, 1024,
              &error))
      || !vtp_device_finish (dev, &error))
    die (error);
  load_ms = now_ms () - load_ms;
  pre = vtp_image_preprocessor_new (dev, &ic);

  /* a 640x480 RGB test frame */
  frame = g_new (guint8, 640 * 480 * 3);
  for (gint i = 0; i < 640 * 480 * 3; i++)
    frame[i] = (guint8) ((i * 2654435761u) >> 24);

  t_enc = g_new (double, repeats);
  t_proj = g_new (double, repeats);
  t_pre = g_new (double, repeats);
  t_dec = g_new (double, repeats);
  for (gint r = 0; r < repeats; r++) {
    const gint32 *p = ids ? (const gint32 *) ids->data : NULL;
    const gint n_ids = ids ? (gint) ids->len : 0;
    const VtpLmSegment splice[3] = {
      { p, NULL, 0, pos }, { NULL, embeds, 0, out_rows }, { p ? p + pos + 1 : NULL, NULL, 0, n_ids - pos - 1 } };
    const VtpLmSegment prefix[2] = { { NULL, embeds, 0, out_rows }, { p, NULL, 0, n_ids } };
    const VtpLmSegment text_only[1] = { { p, NULL, 0, n_ids } };
    double t0 = now_ms ();

    if (!vtp_image_preprocess (pre, frame, 640, 480, 640 * 3, VTP_PIXELS_RGB, cs->pixels, &error))
      die (error);
    vtp_vision_tower_forward (clip, cs, features);
    if (!vtp_device_finish (dev, &error) || !vtp_error_take_pending (&error))
      die (error);
    t_enc[r] = now_ms () - t0;
    t0 = now_ms ();
    if (ad) {
      /* the visual queries, then every adapted layer's prompt keys and values */
      vtp_adapter_forward (ad, as, features, embeds);
      if (!vision_only && !vtp_llama_set_prompts (vtp_lm_llama (lm), vtp_lm_llama_state (lm), embeds, FALSE, &error))
        die (error);
    } else if (qf) {
      if (!vtp_qformer_forward (qf, qs, features, qids ? (const gint32 *) qids->data : NULL, qids ? qids->len : 0,
              NULL, embeds, &error))
        die (error);
    } else
      vtp_projector_forward (proj, features, rows, phidden, embeds);
    if (!vtp_device_finish (dev, &error) || !vtp_error_take_pending (&error))
      die (error);
    t_proj[r] = now_ms () - t0;
    if (vision_only)
      continue;
    *lm->n_past = 0;
    t0 = now_ms ();
    if (!vtp_lm_prefill (lm, ad ? text_only : qf ? prefix : splice, ad ? 1 : qf ? 2 : 3, FALSE, &error)
        || !vtp_device_finish (dev, &error))
      die (error);
    t_pre[r] = now_ms () - t0;
    if (!(t_dec[r] = decode_tokens_per_s (lm, decode_tokens, NULL, &error)))
      die (error);
  }
  bw = peak_rss_then_bandwidth (&rss_mb, &bw_median);

  if (vision_only) {
    g_autofree double *t_both = g_new (double, repeats);
    for (gint r = 0; r < repeats; r++)
      t_both[r] = t_enc[r] + t_proj[r];
    g_print ("model: %s\n", ckpt->dir);
    g_print ("device: %s\n", dev->name);
    g_print ("load_ms: %.0f\n", load_ms);
    g_print ("bridge: %s\n", ad ? "llama-adapter" : qf ? "qformer" : "projector");
    g_print ("vision_tokens: %d\n", rows);
    g_print ("encode_ms: %.1f\n", median (t_enc, repeats));
    g_print ("bridge_ms: %.1f\n", median (t_proj, repeats));
    g_print ("encode_and_bridge_ms: %.1f\n", median (t_both, repeats));
    g_print ("peak_rss_mb: %.0f\n", rss_mb);
    if (vision_batch > 1)
      bench_vision_batch (clip, cs, features, vision_batch, repeats);
    goto done;
  }
  prefill_tokens = ad ? (gint) ids->len : qf ? (gint) ids->len + out_rows : (gint) ids->len - 1 + out_rows;
  g_print ("model: %s\n", ckpt->dir);
  g_print ("device: %s\n", dev->name);
  g_print ("llm_family: %s\n", lm->ops->name);
  g_print ("weights: %s\n", vtp_dtype_name (lm->lm_head->dtype));
  g_print ("kv_cache: %s\n", vtp_dtype_name (lm->kv_dtype));
  g_print ("load_ms: %.0f\n", load_ms);
  g_print ("bridge: %s\n", ad ? "llama-adapter" : qf ? "qformer" : "projector");
  g_print ("vision_tokens: %d\n", rows);
  /* adapter prompts sit inside the adapted layers, not in the sequence */
  g_print ("image_tokens_in_llm: %d\n", ad ? 0 : out_rows);
  if (ad)
    g_print ("adapter_prompt_rows: %d\n", out_rows);
  g_print ("prompt_tokens: %d\n", prefill_tokens);
  g_print ("encode_ms: %.1f\n", median (t_enc, repeats));
  g_print ("bridge_ms: %.1f\n", median (t_proj, repeats));
  g_print ("prefill_ms: %.1f\n", median (t_pre, repeats));
  g_print ("prefill_tokens_per_s: %.1f\n", prefill_tokens / (median (t_pre, repeats) / 1000.0));
  g_print ("time_to_first_token_ms: %.1f\n", median (t_enc, repeats) + median (t_proj, repeats)
      + median (t_pre, repeats));
  g_print ("decode_tokens_per_s: %.2f\n", median (t_dec, repeats));
  print_decode_against_bandwidth (median (t_dec, repeats), lm->ops->weight_bytes (lm->model), bw, bw_median);
  g_print ("peak_rss_mb: %.0f\n", rss_mb);
done:
  if (encoder)
    vtp_model_parts_clear (&vparts);
  vtp_model_parts_clear (&parts);
  g_free (t_enc);
  g_free (t_proj);
  g_free (t_pre);
  g_free (t_dec);
  return 0;
}
