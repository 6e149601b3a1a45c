#include "vtp-llava.h"
#include <string.h>

gboolean
vtp_llava_parts_read (VtpCheckpoint *c, VtpLlavaParts *p, GError **error)
{
  g_autofree char *where = vtp_checkpoint_file (c, "config.json");
  const char *type = vtp_json_string (c->config, "model_type", NULL);
  JsonNode *vision;

  memset (p, 0, sizeof *p);
  p->model_type = g_strdup (type ? type : "");
  if (!g_strcmp0 (type, "llava")) {
    p->has_vision = p->has_projector = p->has_text = TRUE;
    return vtp_llava_config_parse (c->config, where, &p->cfg, error);
  }
  if (!g_strcmp0 (type, "llama")) {
    p->has_text = TRUE;
    return vtp_llama_config_parse (c->config, where, &p->cfg.text, error);
  }
  if (!g_strcmp0 (type, "clip_vision_model"))
    vision = json_parser_get_root (c->config_parser);
  else if (!g_strcmp0 (type, "clip"))
    vision = vtp_json_lookup (c->config, "vision_config");
  else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: model_type \"%s\" is not one vtp reads here "
        "(llava, clip, clip_vision_model, llama)", where, type ? type : "(none)");
    return FALSE;
  }
  p->has_vision = TRUE;
  p->cfg.n_feature_layers = 1;
  p->cfg.feature_layers[0] = -2;
  return vtp_clip_vision_config_parse (vision && JSON_NODE_HOLDS_OBJECT (vision) ? json_node_get_object (vision)
      : NULL, where, &p->cfg.vision, error);
}

void
vtp_llava_parts_clear (VtpLlavaParts *p)
{
  g_clear_pointer (&p->model_type, g_free);
}

const char *
vtp_llava_vision_prefix (VtpCheckpoint *c, GError **error)
{
  static const char *const prefixes[] = { "vision_tower.vision_model.", "model.vision_tower.vision_model.",
    "vision_tower.", "model.vision_tower.", "vision_model.", "", NULL };
  return vtp_checkpoint_find_prefix (c, prefixes, "embeddings.patch_embedding.weight", "CLIP vision tower", error);
}

const char *
vtp_llava_projector_prefix (VtpCheckpoint *c, GError **error)
{
  static const char *const prefixes[] = { "multi_modal_projector.", "model.multi_modal_projector.", NULL };
  return vtp_checkpoint_find_prefix (c, prefixes, "linear_1.weight", "multimodal projector", error);
}

void
vtp_llava_features (const VtpLlavaParts *p, VtpVisionFeatures *f)
{
  memset (f, 0, sizeof *f);
  f->n_layers = p->cfg.n_feature_layers;
  f->keep_cls = p->cfg.keep_cls;
  for (gint i = 0; i < f->n_layers; i++)
    f->layers[i] = vtp_vision_config_hidden_index (&p->cfg.vision, p->cfg.feature_layers[i]);
}

gboolean
vtp_llava_image_config (VtpCheckpoint *c, const VtpVisionConfig *vision, VtpImageConfig *out, GError **error)
{
  g_autoptr (JsonParser) pre = NULL, proc = NULL;
  JsonObject *o = NULL;
  const char *where = "preprocessor_config.json";

  vtp_image_config_clip_default (out, vision->image_size);
  pre = vtp_checkpoint_read_json (c, "preprocessor_config.json", TRUE, error);
  if (!pre && error && *error)
    return FALSE;
  if (pre)
    o = json_node_get_object (json_parser_get_root (pre));
  else {
    proc = vtp_checkpoint_read_json (c, "processor_config.json", TRUE, error);
    if (!proc && error && *error)
      return FALSE;
    if (proc) {
      JsonNode *n = vtp_json_lookup (json_node_get_object (json_parser_get_root (proc)), "image_processor");
      o = n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
      where = "processor_config.json: image_processor";
    }
  }
  return !o || vtp_image_config_parse (o, where, out, error);
}
