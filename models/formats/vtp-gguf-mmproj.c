#include "vtp-gguf-mmproj.h"
#include "vtp-error.h"
#include "vtp-gguf-names.h"
#include "vtp-gguf-config.h"
#include <string.h>

#define TOWER "vision_tower.vision_model."
#define PROJECTOR "multi_modal_projector."

/* GGUF names <-> CLIP's and the projector's in a llava-hf checkpoint; fc1
 * and fc2 are decided per file (below). */
static const VtpGgufName layer_names[] = {
  { "attn_q", "self_attn.q_proj" }, { "attn_k", "self_attn.k_proj" }, { "attn_v", "self_attn.v_proj" },
  { "attn_out", "self_attn.out_proj" }, { "ln1", "layer_norm1" }, { "ln2", "layer_norm2" }, { NULL },
};
static const VtpGgufName model_names[] = {
  { "v.patch_embd", TOWER "embeddings.patch_embedding" },
  { "v.position_embd", TOWER "embeddings.position_embedding" },
  { "v.pre_ln", TOWER "pre_layrnorm" }, { "v.post_ln", TOWER "post_layernorm" },
  { "mm.0", PROJECTOR "linear_1" }, { "mm.2", PROJECTOR "linear_2" }, { NULL },
};
static const VtpGgufNaming clip_naming = { "v.blk.", TOWER "encoder.layers.", layer_names, model_names };

/* The MLP of a layer, with fc1 at @fc1 ("ffn_up" or "ffn_down"). */
static const VtpGgufName mlp_up_is_fc1[] = { { "ffn_up", "mlp.fc1" }, { "ffn_down", "mlp.fc2" }, { NULL } };
static const VtpGgufName mlp_down_is_fc1[] = { { "ffn_down", "mlp.fc1" }, { "ffn_up", "mlp.fc2" }, { NULL } };
static const VtpGgufName no_names[] = { { NULL } };

char *
vtp_gguf_mmproj_hf_name (const char *name, const char *fc1_name)
{
  const VtpGgufNaming mlp = { clip_naming.gguf_layer, clip_naming.vtp_layer,
    !strcmp (fc1_name, "ffn_up") ? mlp_up_is_fc1 : mlp_down_is_fc1, no_names };
  char *r;

  if (!strcmp (name, "v.class_embd"))
    return g_strdup (TOWER "embeddings.class_embedding");
  if ((r = vtp_gguf_rename (&clip_naming, name, TRUE)) || (r = vtp_gguf_rename (&mlp, name, TRUE)))
    return r;
  return g_strdup (name);
}

char *
vtp_gguf_mmproj_gguf_name (const char *name)
{
  const VtpGgufNaming mlp = { clip_naming.gguf_layer, clip_naming.vtp_layer, mlp_up_is_fc1, no_names };
  const char *dot = strrchr (name, '.');
  g_autofree char *up = NULL, *down = NULL;
  char *r;

  if (!strcmp (name, TOWER "embeddings.class_embedding"))
    return g_strdup ("v.class_embd");
  if ((r = vtp_gguf_rename (&clip_naming, name, FALSE)))
    return r;
  /* fc1 / fc2: either GGUF name, as the file decides */
  if (!(up = vtp_gguf_rename (&mlp, name, FALSE)))
    return NULL;
  down = g_strndup (up, strlen (up) - strlen (dot));
  return g_strdup_printf ("%s or its ffn_%s%s", down, strstr (down, "ffn_up") ? "down" : "up", dot);
}

gboolean
vtp_gguf_mmproj_fc1_name (VtpGguf *g, const char **out, GError **error)
{
  const VtpGgufTensor *up = vtp_gguf_find_tensor (g, "v.blk.0.ffn_up.weight");
  const VtpGgufTensor *down = vtp_gguf_find_tensor (g, "v.blk.0.ffn_down.weight");
  guint32 d_model;

  if (!vtp_gguf_get_u32 (g, "clip.vision.embedding_length", &d_model, error))
    return FALSE;
  if (!up || !down || up->n_dims != 2 || down->n_dims != 2) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the tower's MLP needs the matrices "
        "v.blk.0.ffn_up.weight and v.blk.0.ffn_down.weight", g->path);
    return FALSE;
  }
  /* fc1 reads the hidden size (ggml's ne[0] is the input width) */
  if (down->ne[0] == d_model && up->ne[0] != d_model)
    *out = "ffn_down";
  else if (up->ne[0] == d_model && down->ne[0] != d_model)
    *out = "ffn_up";
  else if (up->ne[0] == d_model && down->ne[0] == d_model && up->ne[1] == d_model)
    *out = "ffn_down";   /* a square MLP: the converters' names cannot be told apart; the legacy one's */
  else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: neither v.blk.0.ffn_up.weight (%" G_GINT64_FORMAT
        " inputs) nor v.blk.0.ffn_down.weight (%" G_GINT64_FORMAT " inputs) reads clip.vision.embedding_length %u",
        g->path, up->ne[0], down->ne[0], d_model);
    return FALSE;
  }
  return TRUE;
}

/* The projector: LLaVA-1.5's two linear layers with a GELU between. */
static gboolean
check_projector (VtpGguf *g, gint64 *projector_out, GError **error)
{
  const char *type = vtp_gguf_find (g, "clip.projector_type") ? vtp_gguf_get_string (g, "clip.projector_type", error)
      : "mlp";
  const VtpGgufTensor *out = vtp_gguf_find_tensor (g, "mm.2.weight");
  gboolean has;

  if (!type)
    return FALSE;
  if (vtp_gguf_find (g, "clip.has_llava_projector")) {
    if (!vtp_gguf_get_bool (g, "clip.has_llava_projector", &has, error))
      return FALSE;
    if (!has) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: clip.has_llava_projector is false: vtp reads the "
          "mmproj files of LLaVA (a CLIP tower with its projector)", g->path);
      return FALSE;
    }
  }
  if (strcmp (type, "mlp")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: clip.projector_type is \"%s\"; vtp runs LLaVA-1.5's "
        "\"mlp\" projector", g->path, type);
    return FALSE;
  }
  if (!out || out->n_dims != 2 || !vtp_gguf_find_tensor (g, "mm.0.weight")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the \"mlp\" projector needs the matrices mm.0.weight "
        "and mm.2.weight", g->path);
    return FALSE;
  }
  *projector_out = out->ne[1];
  return TRUE;
}

/* vision_feature_layer: the hidden states clip.vision.feature_layer lists,
 * or the last stored layer's output (see the header). */
static gboolean
add_feature_layers (VtpGguf *g, JsonBuilder *b, GError **error)
{
  json_builder_set_member_name (b, "vision_feature_layer");
  if (vtp_gguf_find (g, "clip.vision.feature_layer")) {
    gsize n = 0;
    g_autofree gint32 *layers = vtp_gguf_get_i32_array (g, "clip.vision.feature_layer", &n, error);
    if (!layers)
      return FALSE;
    json_builder_begin_array (b);
    for (gsize i = 0; i < n; i++)
      json_builder_add_int_value (b, layers[i]);
    json_builder_end_array (b);
  } else
    json_builder_add_int_value (b, -1);
  return TRUE;
}

gboolean
vtp_gguf_mmproj_config (VtpGguf *g, JsonBuilder *b, gint64 *projector_out, GError **error)
{
  gboolean gelu = FALSE;
  guint32 image_size, patch_size;

  if (!check_projector (g, projector_out, error)
      || (vtp_gguf_find (g, "clip.use_gelu") && !vtp_gguf_get_bool (g, "clip.use_gelu", &gelu, error))
      || !vtp_gguf_get_u32 (g, "clip.vision.image_size", &image_size, error)
      || !vtp_gguf_get_u32 (g, "clip.vision.patch_size", &patch_size, error))
    return FALSE;
  if (patch_size == 0 || image_size % patch_size) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: clip.vision.image_size %u is not a whole number of "
        "patches of clip.vision.patch_size %u", g->path, image_size, patch_size);
    return FALSE;
  }

  json_builder_set_member_name (b, "vision_config");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "model_type");
  json_builder_add_string_value (b, "clip_vision_model");
  if (!vtp_gguf_config_u32 (g, b, "clip.vision.embedding_length", "hidden_size", -1, error)
      || !vtp_gguf_config_u32 (g, b, "clip.vision.feed_forward_length", "intermediate_size", -1, error)
      || !vtp_gguf_config_u32 (g, b, "clip.vision.block_count", "num_hidden_layers", -1, error)
      || !vtp_gguf_config_u32 (g, b, "clip.vision.attention.head_count", "num_attention_heads", -1, error)
      || !vtp_gguf_config_u32 (g, b, "clip.vision.image_size", "image_size", -1, error)
      || !vtp_gguf_config_u32 (g, b, "clip.vision.patch_size", "patch_size", -1, error))
    return FALSE;
  if (vtp_gguf_find (g, "clip.vision.attention.layer_norm_epsilon")) {
    float eps;
    if (!vtp_gguf_get_f32 (g, "clip.vision.attention.layer_norm_epsilon", &eps, error))
      return FALSE;
    json_builder_set_member_name (b, "layer_norm_eps");
    json_builder_add_double_value (b, eps);
  }
  /* clip.use_gelu: GELU; otherwise CLIP's own quick_gelu */
  json_builder_set_member_name (b, "hidden_act");
  json_builder_add_string_value (b, gelu ? "gelu" : "quick_gelu");
  json_builder_end_object (b);

  if (!add_feature_layers (g, b, error))
    return FALSE;
  json_builder_set_member_name (b, "vision_feature_select_strategy");
  json_builder_add_string_value (b, "default");
  json_builder_set_member_name (b, "projector_hidden_act");
  json_builder_add_string_value (b, "gelu");
  json_builder_set_member_name (b, "multimodal_projector_bias");
  json_builder_add_boolean_value (b, vtp_gguf_find_tensor (g, "mm.0.bias") != NULL);
  json_builder_set_member_name (b, "image_seq_length");
  json_builder_add_int_value (b, (gint64) (image_size / patch_size) * (image_size / patch_size));
  return TRUE;
}

static gboolean
add_triplet (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, GError **error)
{
  gsize n = 0;
  g_autofree gfloat *v = NULL;

  if (!vtp_gguf_find (g, key))
    return TRUE;
  if (!(v = vtp_gguf_get_f32_array (g, key, &n, error)))
    return FALSE;
  if (n != 3) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: %s has %" G_GSIZE_FORMAT " values, expected 3 (R, G, B)",
        g->path, key, n);
    return FALSE;
  }
  json_builder_set_member_name (b, member);
  json_builder_begin_array (b);
  for (gsize i = 0; i < 3; i++)
    json_builder_add_double_value (b, v[i]);
  json_builder_end_array (b);
  return TRUE;
}

JsonParser *
vtp_gguf_mmproj_preprocessor (VtpGguf *g, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autofree char *text = NULL;
  guint32 size;

  if (!vtp_gguf_get_u32 (g, "clip.vision.image_size", &size, error))
    return NULL;
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "image_processor_type");
  json_builder_add_string_value (b, "CLIPImageProcessor");
  json_builder_set_member_name (b, "size");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "shortest_edge");
  json_builder_add_int_value (b, size);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "crop_size");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, size);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, size);
  json_builder_end_object (b);
  if (!add_triplet (g, b, "clip.vision.image_mean", "image_mean", error)
      || !add_triplet (g, b, "clip.vision.image_std", "image_std", error))
    return NULL;
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  if (!json_parser_load_from_data (p, text, -1, error))
    return NULL;
  return g_steal_pointer (&p);
}
