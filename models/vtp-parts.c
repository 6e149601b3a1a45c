#include "vtp-parts.h"
#include "vtp-gguf-tokenizer.h"
#include <string.h>

gboolean
vtp_model_parts_read (VtpCheckpoint *c, VtpModelParts *p, GError **error)
{
  g_autofree char *where = c->gguf || c->gguf_vision ? g_strdup_printf ("%s (its GGUF metadata)", c->dir)
      : vtp_checkpoint_file (c, "config.json");
  const char *type = vtp_json_string (c->config, "model_type", NULL);
  JsonNode *vision = NULL;

  memset (p, 0, sizeof *p);
  p->model_type = g_strdup (type ? type : "");
  p->image_token_index = -1;
  if (!g_strcmp0 (type, "llava")) {
    p->family = VTP_FAMILY_LLAVA;
    p->has_vision = p->has_projector = p->has_text = TRUE;
    if (!vtp_llava_config_parse (c->config, where, &p->llava, error))
      return FALSE;
    p->vision = p->llava.vision;
    p->text = p->llava.text;
    p->image_token_index = p->llava.image_token_index;
    return TRUE;
  }
  if (!g_strcmp0 (type, "instructblip") || !g_strcmp0 (type, "blip-2")) {
    const gboolean instruct = !g_strcmp0 (type, "instructblip");
    p->family = instruct ? VTP_FAMILY_INSTRUCTBLIP : VTP_FAMILY_BLIP2;
    p->has_vision = p->has_qformer = p->has_text = TRUE;
    if (!vtp_blip_config_parse (c->config, where, instruct, &p->blip, error))
      return FALSE;
    p->vision = p->blip.vision;
    p->text_family = p->blip.text_family;
    p->text = p->blip.text;
    p->opt = p->blip.opt;
    p->t5 = p->blip.t5;
    p->image_token_index = p->blip.image_token_index;
    return TRUE;
  }
  if (!g_strcmp0 (type, "llama") || !g_strcmp0 (type, "qwen2") || !g_strcmp0 (type, "mistral")) {
    p->family = VTP_FAMILY_LLAMA;
    p->has_text = TRUE;
    return vtp_llama_config_parse (c->config, where, &p->text, error);
  }
  if (!g_strcmp0 (type, "opt")) {
    p->family = VTP_FAMILY_OPT;
    p->has_text = TRUE;
    p->text_family = VTP_TEXT_OPT;
    return vtp_opt_config_parse (c->config, where, &p->opt, error);
  }
  if (!g_strcmp0 (type, "t5")) {
    p->family = VTP_FAMILY_T5;
    p->has_text = TRUE;
    p->text_family = VTP_TEXT_T5;
    return vtp_t5_config_parse (c->config, where, &p->t5, error);
  }
  if (!g_strcmp0 (type, "llama_adapter") || !g_strcmp0 (vtp_json_string (c->config, "peft_type", NULL),
          "ADAPTION_PROMPT")) {
    g_free (p->model_type);
    p->model_type = g_strdup (type ? type : "peft adaption_prompt");
    p->family = VTP_FAMILY_LLAMA_ADAPTER;
    p->has_adapter = TRUE;
    return TRUE;
  }
  if (!g_strcmp0 (type, "openai_clip_vision")) {
    p->family = VTP_FAMILY_OPENAI_CLIP;
    p->has_vision = TRUE;
    return vtp_openai_clip_config_parse (c->config, where, &p->vision, error);
  }
  if (!g_strcmp0 (type, "clip_vision_model"))
    vision = json_parser_get_root (c->config_parser);
  else if (!g_strcmp0 (type, "clip"))
    vision = vtp_json_lookup (c->config, "vision_config");
  else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: model_type \"%s\" is not one vtp reads (llava, "
        "instructblip, blip-2, clip, clip_vision_model, openai_clip_vision, llama, mistral, qwen2, opt, t5, llama_adapter)", where,
        type ? type : "(none)");
    return FALSE;
  }
  p->family = VTP_FAMILY_CLIP;
  p->has_vision = TRUE;
  p->llava.n_feature_layers = 1;
  p->llava.feature_layers[0] = -2;
  return vtp_clip_vision_config_parse (vision && JSON_NODE_HOLDS_OBJECT (vision) ? json_node_get_object (vision)
      : NULL, where, &p->vision, error);
}

void
vtp_model_parts_clear (VtpModelParts *p)
{
  g_clear_pointer (&p->model_type, g_free);
}

gint
vtp_model_text_positions (const VtpModelParts *p)
{
  switch (p->text_family) {
    case VTP_TEXT_OPT: return p->opt.max_position_embeddings;
    case VTP_TEXT_T5: return p->t5.n_positions;
    case VTP_TEXT_LLAMA: break;
  }
  return p->text.max_position_embeddings;
}

const char *
vtp_model_vision_prefix (VtpCheckpoint *c, const VtpModelParts *parts, GError **error)
{
  static const char *const openai[] = { "visual.", "", NULL };
  static const char *const prefixes[] = { "vision_tower.vision_model.", "model.vision_tower.vision_model.",
    "vision_tower.", "model.vision_tower.", "vision_model.", "model.vision_model.", "", NULL };
  if (parts->vision.flavor == VTP_VISION_OPENAI)
    return vtp_checkpoint_find_prefix (c, openai, "conv1.weight", "OpenAI CLIP visual tower", error);
  return vtp_checkpoint_find_prefix (c, prefixes, "embeddings.patch_embedding.weight", "vision tower", error);
}

const char *
vtp_model_projector_prefix (VtpCheckpoint *c, GError **error)
{
  static const char *const prefixes[] = { "multi_modal_projector.", "model.multi_modal_projector.", NULL };
  return vtp_checkpoint_find_prefix (c, prefixes, "linear_1.weight", "multimodal projector", error);
}

const char *
vtp_model_qformer_prefix (VtpCheckpoint *c, GError **error)
{
  static const char *const prefixes[] = { "", "model.", NULL };
  return vtp_checkpoint_find_prefix (c, prefixes, "query_tokens", "Q-Former", error);
}

void
vtp_model_features (const VtpModelParts *p, VtpVisionFeatures *f)
{
  memset (f, 0, sizeof *f);
  if (p->family == VTP_FAMILY_OPENAI_CLIP) {
    /* LLaMA-Adapter: ln_post on all tokens, then the visual projection */
    f->n_layers = 1;
    f->layers[0] = p->vision.num_hidden_layers;
    f->keep_cls = f->post_norm = f->projection = TRUE;
    return;
  }
  if (p->family == VTP_FAMILY_INSTRUCTBLIP || p->family == VTP_FAMILY_BLIP2) {
    f->n_layers = 1;
    f->layers[0] = p->vision.num_hidden_layers;
    f->keep_cls = TRUE;
    f->post_norm = TRUE;
    return;
  }
  f->n_layers = p->llava.n_feature_layers;
  f->keep_cls = p->llava.keep_cls;
  for (gint i = 0; i < f->n_layers; i++)
    f->layers[i] = vtp_vision_config_hidden_index (&p->vision, p->llava.feature_layers[i]);
}

gboolean
vtp_model_image_config (VtpCheckpoint *c, const VtpModelParts *parts, VtpImageConfig *out, GError **error)
{
  g_autoptr (JsonParser) pre = NULL, proc = NULL;
  g_autoptr (GError) local = NULL;
  JsonObject *o = NULL;
  const char *where = "preprocessor_config.json";

  vtp_image_config_clip_default (out, parts->vision.image_size);
  if (parts->family == VTP_FAMILY_INSTRUCTBLIP || parts->family == VTP_FAMILY_BLIP2) {
    /* BlipImageProcessor: a plain bicubic resize to the square, no crop */
    out->resize = VTP_RESIZE_EXACT;
    out->resize_width = out->resize_height = parts->vision.image_size;
    out->crop = FALSE;
  }
  if ((pre = vtp_checkpoint_read_json (c, "preprocessor_config.json", TRUE, &local)))
    o = json_node_get_object (json_parser_get_root (pre));
  else if (!local && (proc = vtp_checkpoint_read_json (c, "processor_config.json", TRUE, &local))) {
    JsonNode *n = vtp_json_lookup (json_node_get_object (json_parser_get_root (proc)), "image_processor");
    o = n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
    where = "processor_config.json: image_processor";
  }
  if (local) {
    g_propagate_error (error, g_steal_pointer (&local));
    return FALSE;
  }
  if (!o && c->processor_parser) {
    /* an mmproj GGUF: its image size, mean and std */
    o = json_node_get_object (json_parser_get_root (c->processor_parser));
    where = c->gguf_vision->path;
  }
  return !o || vtp_image_config_parse (o, where, out, error);
}

char *
vtp_model_chat_template (VtpCheckpoint *c)
{
  g_autoptr (JsonParser) p = NULL;
  JsonNode *root, *t;

  if (c->gguf) {
    const char *s = vtp_gguf_find (c->gguf, "tokenizer.chat_template") ?
        vtp_gguf_get_string (c->gguf, "tokenizer.chat_template", NULL) : NULL;
    return g_strdup (s);
  }
  if (!(p = vtp_checkpoint_read_json (c, "tokenizer_config.json", TRUE, NULL))
      || !(root = json_parser_get_root (p)) || !JSON_NODE_HOLDS_OBJECT (root)
      || !(t = json_object_get_member (json_node_get_object (root), "chat_template"))
      || json_node_get_value_type (t) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (t));
}

VtpTokenizer *
vtp_model_tokenizer_new (VtpCheckpoint *c, GError **error)
{
  g_autofree char *path = NULL;
  g_autoptr (VtpGgufTokenizer) gt = NULL;
  VtpTokenizer *tok;

  if (!c->gguf && c->gguf_vision) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s is an mmproj file (a vision tower and its projector): "
        "it holds no vocabulary; give the language model its text GGUF, or a directory holding both",
        c->gguf_vision->path);
    return NULL;
  }
  if (!c->gguf) {
    path = vtp_checkpoint_file (c, "tokenizer.json");
    return vtp_tokenizer_new_from_file (path, error);
  }
  if (!(gt = vtp_gguf_tokenizer_new (c->gguf, error)))
    return NULL;
  /* every GGUF vocabulary ("llama", "gpt2", "bert") is a VtpTokenizer whose
   * post-processor adds BOS / EOS as the file's add_bos_token /
   * add_eos_token say */
  tok = g_steal_pointer (&gt->tok);
  return tok;
}
