#include "vtp-config.h"
#include "vtp-ops.h"
#include <string.h>

JsonNode *
vtp_json_lookup (JsonObject *o, const char *path)
{
  g_auto (GStrv) parts = g_strsplit (path, ".", -1);
  JsonNode *n = NULL;

  for (guint i = 0; parts[i]; i++) {
    if (!o || !json_object_has_member (o, parts[i]))
      return NULL;
    n = json_object_get_member (o, parts[i]);
    o = JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
  }
  return n;
}

static char *
describe_node (JsonNode *n)
{
  g_autoptr (JsonGenerator) g = json_generator_new ();
  char *s;
  json_generator_set_root (g, n);
  s = json_generator_to_data (g, NULL);
  if (strlen (s) > 40)
    strcpy (s + 37, "...");
  return s;
}

static gboolean
type_error (JsonNode *n, const char *where, const char *key, const char *expected, GError **error)
{
  g_autofree char *v = describe_node (n);
  g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s is %s, expected %s", where, key, v, expected);
  return FALSE;
}

gboolean
vtp_json_int (JsonObject *o, const char *key, gint fallback, const char *where, gint *out, GError **error)
{
  JsonNode *n = o && json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
  GType t;

  if (!n || JSON_NODE_HOLDS_NULL (n)) {
    *out = fallback;
    return TRUE;
  }
  t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t == G_TYPE_INT64 && json_node_get_int (n) >= G_MININT && json_node_get_int (n) <= G_MAXINT) {
    *out = (gint) json_node_get_int (n);
    return TRUE;
  }
  return type_error (n, where, key, "an integer", error);
}

gboolean
vtp_json_float (JsonObject *o, const char *key, float fallback, const char *where, float *out, GError **error)
{
  JsonNode *n = o && json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
  GType t;

  if (!n || JSON_NODE_HOLDS_NULL (n)) {
    *out = fallback;
    return TRUE;
  }
  t = JSON_NODE_HOLDS_VALUE (n) ? json_node_get_value_type (n) : G_TYPE_INVALID;
  if (t == G_TYPE_INT64 || t == G_TYPE_DOUBLE) {
    *out = (float) json_node_get_double (n);
    return TRUE;
  }
  return type_error (n, where, key, "a number", error);
}

gboolean
vtp_json_bool (JsonObject *o, const char *key, gboolean fallback, const char *where, gboolean *out, GError **error)
{
  JsonNode *n = o && json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;

  if (!n || JSON_NODE_HOLDS_NULL (n)) {
    *out = fallback;
    return TRUE;
  }
  if (JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN) {
    *out = json_node_get_boolean (n);
    return TRUE;
  }
  return type_error (n, where, key, "true or false", error);
}

const char *
vtp_json_string (JsonObject *o, const char *key, const char *fallback)
{
  JsonNode *n = o && json_object_has_member (o, key) ? json_object_get_member (o, key) : NULL;
  if (n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING)
    return json_node_get_string (n);
  return fallback;
}

/* transformers' ACT2FN names of the functions vtp computes (several name
 * one function: gelu_new and gelu_fast are the tanh GELU written
 * differently). */
static const struct {
  const char *name;
  VtpActivation act;
} activations[] = {
  { "gelu", VTP_ACT_GELU }, { "gelu_python", VTP_ACT_GELU }, { "quick_gelu", VTP_ACT_QUICK_GELU },
  { "gelu_pytorch_tanh", VTP_ACT_GELU_TANH }, { "gelu_new", VTP_ACT_GELU_TANH },
  { "gelu_fast", VTP_ACT_GELU_TANH }, { "gelu_accurate", VTP_ACT_GELU_TANH },
  { "silu", VTP_ACT_SILU }, { "swish", VTP_ACT_SILU }, { "relu", VTP_ACT_RELU },
};

gboolean
vtp_activation_parse (const char *name, const char *where, VtpActivation *out, GError **error)
{
  g_autoptr (GString) list = g_string_new (NULL);

  for (guint i = 0; i < G_N_ELEMENTS (activations); i++) {
    if (!g_strcmp0 (name, activations[i].name)) {
      *out = activations[i].act;
      return TRUE;
    }
    g_string_append_printf (list, "%s%s", i ? ", " : "", activations[i].name);
  }
  g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: activation \"%s\" is not supported (vtp has %s)", where,
      name, list->str);
  return FALSE;
}

void
vtp_activation_apply (VtpActivation act, VtpTensor *x, gint64 row, gint64 n_rows)
{
  switch (act) {
    case VTP_ACT_GELU: vtp_op_gelu_erf (x, row, n_rows); break;
    case VTP_ACT_QUICK_GELU: vtp_op_quick_gelu (x, row, n_rows); break;
    case VTP_ACT_GELU_TANH: vtp_op_gelu_tanh (x, row, n_rows); break;
    case VTP_ACT_SILU: vtp_op_silu (x, row, n_rows); break;
    case VTP_ACT_RELU: vtp_op_relu (x, row, n_rows); break;
  }
}

static gboolean
require (gboolean ok, GError **error, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
require (gboolean ok, GError **error, const char *format, ...)
{
  va_list args;
  char *msg;

  if (ok)
    return TRUE;
  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, VTP_ERROR, VTP_ERROR_CONFIG, msg);
  g_free (msg);
  return FALSE;
}

/* Patches and the class token, in 64 bits: (image_size / patch_size)²
 * of two ints overflows an int (the tower's n_tokens). */
static gint64
patch_tokens (const VtpVisionConfig *c)
{
  const gint64 side = c->image_size / c->patch_size;
  return side * side + 1;
}

/* Reads a vision config over the defaults in @c, and checks it. */
static gboolean
parse_vision (JsonObject *o, const char *where, VtpVisionConfig *c, const char *act, GError **error)
{
  if (!vtp_json_int (o, "hidden_size", c->hidden_size, where, &c->hidden_size, error)
      || !vtp_json_int (o, "intermediate_size", c->intermediate_size, where, &c->intermediate_size, error)
      || !vtp_json_int (o, "num_hidden_layers", c->num_hidden_layers, where, &c->num_hidden_layers, error)
      || !vtp_json_int (o, "num_attention_heads", c->num_attention_heads, where, &c->num_attention_heads, error)
      || !vtp_json_int (o, "image_size", c->image_size, where, &c->image_size, error)
      || !vtp_json_int (o, "patch_size", c->patch_size, where, &c->patch_size, error)
      || !vtp_json_int (o, "num_channels", 3, where, &c->num_channels, error)
      || !vtp_json_int (o, "projection_dim", c->projection_dim, where, &c->projection_dim, error)
      || !vtp_json_float (o, "layer_norm_eps", c->layer_norm_eps, where, &c->layer_norm_eps, error)
      || !vtp_activation_parse (vtp_json_string (o, "hidden_act", act), where, &c->hidden_act, error))
    return FALSE;
  return require (c->hidden_size > 0 && c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads == 0,
          error, "%s: hidden_size %d is not a multiple of num_attention_heads %d", where, c->hidden_size,
          c->num_attention_heads)
      && require (c->patch_size > 0 && c->image_size > 0 && c->image_size % c->patch_size == 0, error,
          "%s: image_size %d is not a multiple of patch_size %d", where, c->image_size, c->patch_size)
      && require (patch_tokens (c) <= G_MAXINT, error, "%s: image_size %d / patch_size %d makes %" G_GINT64_FORMAT
          " patch tokens, more than vtp counts (%d)", where, c->image_size, c->patch_size, patch_tokens (c), G_MAXINT)
      && require (c->num_channels == 3, error, "%s: num_channels is %d, vtp reads RGB (3)", where, c->num_channels)
      && require (c->num_hidden_layers > 0 && c->intermediate_size > 0, error,
          "%s: num_hidden_layers and intermediate_size must be positive", where);
}

/* Defaults: transformers CLIPVisionConfig. */
gboolean
vtp_clip_vision_config_parse (JsonObject *o, const char *where, VtpVisionConfig *c, GError **error)
{
  *c = (VtpVisionConfig) { VTP_VISION_CLIP, 768, 3072, 12, 12, 224, 32, 3, 512, 1e-5f, VTP_ACT_QUICK_GELU };
  return parse_vision (o, where, c, "quick_gelu", error);
}

/* Defaults: OpenAI's ViT-L/14 (224 px), as LLaMA-Adapter uses it. */
gboolean
vtp_openai_clip_config_parse (JsonObject *o, const char *where, VtpVisionConfig *c, GError **error)
{
  *c = (VtpVisionConfig) { VTP_VISION_OPENAI, 1024, 4096, 24, 16, 224, 14, 3, 768, 1e-5f, VTP_ACT_QUICK_GELU };
  return parse_vision (o, where, c, "quick_gelu", error);
}

/* Defaults: transformers Blip2VisionConfig (EVA ViT-g of BLIP-2 and InstructBLIP). */
gboolean
vtp_blip_vision_config_parse (JsonObject *o, const char *where, VtpVisionConfig *c, GError **error)
{
  gboolean qkv_bias;

  *c = (VtpVisionConfig) { VTP_VISION_EVA, 1408, 6144, 39, 16, 224, 14, 3, 0, 1e-6f, VTP_ACT_GELU };
  if (!vtp_json_bool (o, "qkv_bias", TRUE, where, &qkv_bias, error))
    return FALSE;
  return require (qkv_bias, error, "%s: qkv_bias false is not supported", where)
      && parse_vision (o, where, c, "gelu", error);
}

static gboolean
parse_eos (JsonObject *o, const char *where, gint *n_eos, gint eos_token_id[VTP_MAX_EOS], GError **error)
{
  JsonNode *n = o && json_object_has_member (o, "eos_token_id") ? json_object_get_member (o, "eos_token_id") : NULL;

  *n_eos = 0;
  if (!n) {
    eos_token_id[(*n_eos)++] = 2;
    return TRUE;
  }
  if (JSON_NODE_HOLDS_NULL (n))
    return TRUE;
  if (JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a) && *n_eos < VTP_MAX_EOS; i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
          || json_node_get_int (e) < G_MININT || json_node_get_int (e) > G_MAXINT) {
        g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: eos_token_id[%u] must be a token id (an integer)",
            where, i);
        return FALSE;
      }
      eos_token_id[(*n_eos)++] = (gint) json_node_get_int (e);
    }
    return TRUE;
  }
  return vtp_json_int (o, "eos_token_id", 2, where, &eos_token_id[(*n_eos)++], error);
}

/* The rope_type of @r (rope_parameters or rope_scaling, named @member):
 * default, or Llama 3.1's "llama3" with its four numbers (or, from vtp's
 * GGUF reader, "freqs_tensor": the divisors are in rope_freqs.weight) */
static gboolean
parse_rope_type (JsonObject *r, const char *member, const char *where, VtpLlamaConfig *c, GError **error)
{
  g_autofree char *w = g_strdup_printf ("%s: %s", where, member);
  const char *type = vtp_json_string (r, "rope_type", vtp_json_string (r, "type", r ? "default" : "?"));

  if (!g_strcmp0 (type, "default"))
    return TRUE;
  if (!require (!g_strcmp0 (type, "llama3"), error, "%s: rope_type \"%s\" is not supported (default RoPE and "
          "Llama 3's \"llama3\" are)", w, type))
    return FALSE;
  c->rope_llama3 = TRUE;
  if (vtp_json_lookup (r, "freqs_tensor"))
    return vtp_json_bool (r, "freqs_tensor", FALSE, w, &c->rope_freqs_tensor, error);
  if (!require (vtp_json_lookup (r, "factor") && vtp_json_lookup (r, "low_freq_factor")
          && vtp_json_lookup (r, "high_freq_factor") && vtp_json_lookup (r, "original_max_position_embeddings"),
          error, "%s: rope_type \"llama3\" needs factor, low_freq_factor, high_freq_factor and "
          "original_max_position_embeddings", w)
      || !vtp_json_float (r, "factor", 8.0f, w, &c->rope_factor, error)
      || !vtp_json_float (r, "low_freq_factor", 1.0f, w, &c->rope_low_freq_factor, error)
      || !vtp_json_float (r, "high_freq_factor", 4.0f, w, &c->rope_high_freq_factor, error)
      || !vtp_json_int (r, "original_max_position_embeddings", 8192, w, &c->rope_original_max_positions, error))
    return FALSE;
  return require (c->rope_factor > 0 && c->rope_low_freq_factor > 0
          && c->rope_high_freq_factor > c->rope_low_freq_factor && c->rope_original_max_positions > 0, error,
          "%s: rope_type \"llama3\" needs factor > 0, high_freq_factor > low_freq_factor > 0 and "
          "original_max_position_embeddings > 0", w);
}

/* A sliding window (Mistral's sliding_window, v0.1: 4096 positions, later
 * ones null; Qwen2's when use_sliding_window is true, for its layers from
 * max_window_layers on): up to the window's length that is whole
 * attention, as vtp computes it, so the context is that long at most. */
static gboolean
cap_at_sliding_window (JsonObject *o, const char *where, VtpLlamaConfig *c, GError **error)
{
  const char *type = vtp_json_string (o, "model_type", NULL);
  JsonNode *w = vtp_json_lookup (o, "sliding_window");
  gboolean used = !g_strcmp0 (type, "mistral");
  gint window = 0;

  if (!g_strcmp0 (type, "qwen2") && !vtp_json_bool (o, "use_sliding_window", FALSE, where, &used, error))
    return FALSE;
  if (!used || !w || JSON_NODE_HOLDS_NULL (w))
    return TRUE;
  if (!vtp_json_int (o, "sliding_window", 0, where, &window, error)
      || !require (window > 0, error, "%s: sliding_window %d must be positive (or null)", where, window))
    return FALSE;
  c->max_position_embeddings = MIN (c->max_position_embeddings, window);
  return TRUE;
}

/* Defaults: transformers LlamaConfig. */
gboolean
vtp_llama_config_parse (JsonObject *o, const char *where, VtpLlamaConfig *c, GError **error)
{
  JsonNode *rope = vtp_json_lookup (o, "rope_parameters");
  JsonNode *scaling = vtp_json_lookup (o, "rope_scaling");
  const char *act;
  VtpActivation a;

  c->rope_llama3 = c->rope_freqs_tensor = FALSE;
  /* Qwen2 is a Llama with biases on q, k and v */
  c->qkv_bias = !g_strcmp0 (vtp_json_string (o, "model_type", NULL), "qwen2");
  if (!vtp_json_int (o, "vocab_size", 32000, where, &c->vocab_size, error)
      || !vtp_json_int (o, "hidden_size", 4096, where, &c->hidden_size, error)
      || !vtp_json_int (o, "intermediate_size", 11008, where, &c->intermediate_size, error)
      || !vtp_json_int (o, "num_hidden_layers", 32, where, &c->num_hidden_layers, error)
      || !vtp_json_int (o, "num_attention_heads", 32, where, &c->num_attention_heads, error)
      || !vtp_json_int (o, "num_key_value_heads", c->num_attention_heads, where, &c->num_key_value_heads, error)
      || !vtp_json_int (o, "max_position_embeddings", 2048, where, &c->max_position_embeddings, error)
      || !vtp_json_float (o, "rms_norm_eps", 1e-6f, where, &c->rms_norm_eps, error)
      || !vtp_json_float (o, "rope_theta", 10000.0f, where, &c->rope_theta, error)
      || !vtp_json_bool (o, "tie_word_embeddings", FALSE, where, &c->tie_word_embeddings, error)
      || !vtp_json_bool (o, "attention_bias", FALSE, where, &c->attention_bias, error)
      || !vtp_json_bool (o, "mlp_bias", FALSE, where, &c->mlp_bias, error)
      || !vtp_json_bool (o, "gguf_rope_neox", FALSE, where, &c->rope_neox, error)
      || !vtp_json_int (o, "bos_token_id", 1, where, &c->bos_token_id, error)
      || !parse_eos (o, where, &c->n_eos, c->eos_token_id, error))
    return FALSE;
  if (!cap_at_sliding_window (o, where, c, error))
    return FALSE;
  if (!require (c->num_attention_heads > 0 && c->hidden_size > 0, error,
          "%s: hidden_size and num_attention_heads must be positive", where)
      || !vtp_json_int (o, "head_dim", c->hidden_size / c->num_attention_heads, where, &c->head_dim, error))
    return FALSE;
  /* transformers >= 5 keeps rope_theta (and the scaling) inside
   * rope_parameters, older ones the scaling in rope_scaling */
  if (rope && JSON_NODE_HOLDS_OBJECT (rope)) {
    JsonObject *r = json_node_get_object (rope);
    if (!vtp_json_float (r, "rope_theta", c->rope_theta, where, &c->rope_theta, error)
        || !parse_rope_type (r, "rope_parameters", where, c, error))
      return FALSE;
  }
  if (scaling && !JSON_NODE_HOLDS_NULL (scaling)
      && !parse_rope_type (JSON_NODE_HOLDS_OBJECT (scaling) ? json_node_get_object (scaling) : NULL, "rope_scaling",
          where, c, error))
    return FALSE;
  act = vtp_json_string (o, "hidden_act", "silu");
  if (!vtp_activation_parse (act, where, &a, error))
    return FALSE;
  return require (a == VTP_ACT_SILU, error, "%s: hidden_act \"%s\": Llama MLPs use silu", where, act)
      && require (c->num_key_value_heads > 0 && c->num_attention_heads % c->num_key_value_heads == 0, error,
          "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d", where,
          c->num_attention_heads, c->num_key_value_heads)
      && require (c->head_dim > 0 && c->head_dim % 2 == 0, error, "%s: head_dim %d must be even", where, c->head_dim)
      && require (c->vocab_size > 0 && c->num_hidden_layers > 0 && c->intermediate_size > 0
          && c->max_position_embeddings > 0, error,
          "%s: vocab_size, num_hidden_layers, intermediate_size, max_position_embeddings must be positive", where);
}

/* Defaults: transformers OPTConfig. */
gboolean
vtp_opt_config_parse (JsonObject *o, const char *where, VtpOptConfig *c, GError **error)
{
  gboolean pre_ln, affine, remove_final;
  const char *act = vtp_json_string (o, "activation_function", "relu");

  memset (c, 0, sizeof *c);
  if (!vtp_json_int (o, "vocab_size", 50272, where, &c->vocab_size, error)
      || !vtp_json_int (o, "hidden_size", 768, where, &c->hidden_size, error)
      || !vtp_json_int (o, "word_embed_proj_dim", c->hidden_size, where, &c->word_embed_proj_dim, error)
      || !vtp_json_int (o, "ffn_dim", 3072, where, &c->ffn_dim, error)
      || !vtp_json_int (o, "num_hidden_layers", 12, where, &c->num_hidden_layers, error)
      || !vtp_json_int (o, "num_attention_heads", 12, where, &c->num_attention_heads, error)
      || !vtp_json_int (o, "max_position_embeddings", 2048, where, &c->max_position_embeddings, error)
      || !vtp_json_bool (o, "enable_bias", TRUE, where, &c->enable_bias, error)
      || !vtp_json_bool (o, "do_layer_norm_before", TRUE, where, &pre_ln, error)
      || !vtp_json_bool (o, "layer_norm_elementwise_affine", TRUE, where, &affine, error)
      || !vtp_json_bool (o, "_remove_final_layer_norm", FALSE, where, &remove_final, error)
      || !vtp_json_bool (o, "tie_word_embeddings", TRUE, where, &c->tie_word_embeddings, error)
      || !vtp_json_int (o, "bos_token_id", 2, where, &c->bos_token_id, error)
      || !parse_eos (o, where, &c->n_eos, c->eos_token_id, error)
      || !vtp_activation_parse (act, where, &c->activation, error))
    return FALSE;
  c->final_layer_norm = !remove_final;
  if (!require (pre_ln, error, "%s: do_layer_norm_before is false: OPT-350m's post-LayerNorm layers are not "
          "implemented (vtp runs the pre-LayerNorm OPT of 125m, 1.3b, 2.7b, 6.7b and larger)", where)
      || !require (affine, error, "%s: layer_norm_elementwise_affine is false: vtp's OPT reads LayerNorms with "
          "weights and biases", where)
      || !require (c->hidden_size > 0 && c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads == 0,
          error, "%s: hidden_size %d is not a multiple of num_attention_heads %d", where, c->hidden_size,
          c->num_attention_heads))
    return FALSE;
  c->head_dim = c->hidden_size / c->num_attention_heads;
  return require (c->vocab_size > 0 && c->num_hidden_layers > 0 && c->ffn_dim > 0 && c->word_embed_proj_dim > 0
          && c->max_position_embeddings > 0 && c->max_position_embeddings <= G_MAXINT - 2, error,
          "%s: vocab_size, num_hidden_layers, ffn_dim, word_embed_proj_dim, max_position_embeddings must be "
          "positive", where);
}

/* Defaults: transformers T5Config. The activation follows feed_forward_proj
 * as T5Config derives it ("gated-gelu" is gelu_new, the tanh GELU);
 * dense_act_fn in the file is that derived value. The output scaling is
 * scale_decoder_outputs where transformers 5 wrote it, else what it derives
 * from tie_word_embeddings (absent: tied, scaled). */
gboolean
vtp_t5_config_parse (JsonObject *o, const char *where, VtpT5Config *c, GError **error)
{
  const char *proj = vtp_json_string (o, "feed_forward_proj", "relu");
  g_auto (GStrv) parts = g_strsplit (proj, "-", -1);
  const guint n_parts = g_strv_length (parts);
  gboolean tied;

  memset (c, 0, sizeof *c);
  if (!vtp_json_int (o, "vocab_size", 32128, where, &c->vocab_size, error)
      || !vtp_json_int (o, "d_model", 512, where, &c->d_model, error)
      || !vtp_json_int (o, "d_kv", 64, where, &c->d_kv, error)
      || !vtp_json_int (o, "d_ff", 2048, where, &c->d_ff, error)
      || !vtp_json_int (o, "num_layers", 6, where, &c->num_layers, error)
      || !vtp_json_int (o, "num_decoder_layers", c->num_layers, where, &c->num_decoder_layers, error)
      || !vtp_json_int (o, "num_heads", 8, where, &c->num_heads, error)
      || !vtp_json_int (o, "relative_attention_num_buckets", 32, where, &c->num_buckets, error)
      || !vtp_json_int (o, "relative_attention_max_distance", 128, where, &c->max_distance, error)
      || !vtp_json_int (o, "n_positions", 512, where, &c->n_positions, error)
      || !vtp_json_float (o, "layer_norm_epsilon", 1e-6f, where, &c->layer_norm_epsilon, error)
      || !vtp_json_bool (o, "tie_word_embeddings", TRUE, where, &tied, error)
      || !vtp_json_bool (o, "scale_decoder_outputs", tied, where, &c->scale_decoder_outputs, error)
      || !vtp_json_int (o, "pad_token_id", 0, where, &c->pad_token_id, error)
      || !vtp_json_int (o, "decoder_start_token_id", c->pad_token_id, where, &c->decoder_start_token_id, error))
    return FALSE;
  if (!o || !json_object_has_member (o, "eos_token_id")) {
    c->n_eos = 1;
    c->eos_token_id[0] = 1;
  } else if (!parse_eos (o, where, &c->n_eos, c->eos_token_id, error))
    return FALSE;
  if (!require (n_parts == 1 || (n_parts == 2 && !g_strcmp0 (parts[0], "gated")), error,
          "%s: feed_forward_proj \"%s\" is not ACT or gated-ACT", where, proj))
    return FALSE;
  c->gated = n_parts == 2;
  if (!vtp_activation_parse (!g_strcmp0 (proj, "gated-gelu") ? "gelu_new" : parts[n_parts - 1], where, &c->act,
          error))
    return FALSE;
  return require (c->vocab_size > 0 && c->d_model > 0 && c->d_kv > 0 && c->d_ff > 0 && c->num_layers > 0
          && c->num_decoder_layers > 0 && c->num_heads > 0 && c->n_positions > 0, error,
          "%s: vocab_size, d_model, d_kv, d_ff, num_layers, num_decoder_layers, num_heads, n_positions must be "
          "positive", where)
      && require (c->num_buckets >= 4 && c->max_distance > c->num_buckets / 4, error,
          "%s: relative_attention_num_buckets %d (at least 4) and relative_attention_max_distance %d (more than "
          "a quarter of the buckets) do not make buckets", where, c->num_buckets, c->max_distance)
      && require (c->decoder_start_token_id >= 0 && c->decoder_start_token_id < c->vocab_size, error,
          "%s: decoder_start_token_id %d is outside the vocabulary of %d", where, c->decoder_start_token_id,
          c->vocab_size);
}

gint
vtp_vision_config_hidden_index (const VtpVisionConfig *c, gint layer)
{
  return layer < 0 ? c->num_hidden_layers + 1 + layer : layer;
}

static gboolean
parse_feature_layers (JsonObject *root, const char *where, VtpLlavaConfig *c, GError **error)
{
  JsonNode *n = vtp_json_lookup (root, "vision_feature_layer");

  c->n_feature_layers = 0;
  if (n && JSON_NODE_HOLDS_ARRAY (n)) {
    JsonArray *a = json_node_get_array (n);
    for (guint i = 0; i < json_array_get_length (a); i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (c->n_feature_layers == VTP_MAX_FEATURE_LAYERS || !JSON_NODE_HOLDS_VALUE (e)
          || json_node_get_value_type (e) != G_TYPE_INT64)
        return type_error (n, where, "vision_feature_layer", "an integer or a list of at most 8 integers", error);
      c->feature_layers[c->n_feature_layers++] = (gint) json_node_get_int (e);
    }
  } else if (!vtp_json_int (root, "vision_feature_layer", -2, where, &c->feature_layers[c->n_feature_layers++], error))
    return FALSE;
  for (gint i = 0; i < c->n_feature_layers; i++) {
    gint h = vtp_vision_config_hidden_index (&c->vision, c->feature_layers[i]);
    if (!require (h >= 0 && h <= c->vision.num_hidden_layers && c->n_feature_layers > 0, error,
            "%s: vision_feature_layer %d is outside the %d hidden states of a %d-layer vision tower",
            where, c->feature_layers[i], c->vision.num_hidden_layers + 1, c->vision.num_hidden_layers))
      return FALSE;
  }
  return require (c->n_feature_layers > 0, error, "%s: vision_feature_layer is an empty list", where);
}

/* Defaults: transformers LlavaConfig (its vision default is LLaVA-1.5's tower). */
gboolean
vtp_llava_config_parse (JsonObject *root, const char *where, VtpLlavaConfig *c, GError **error)
{
  JsonNode *vn = vtp_json_lookup (root, "vision_config"), *tn = vtp_json_lookup (root, "text_config");
  g_autofree char *vwhere = g_strconcat (where, ": vision_config", NULL);
  g_autofree char *twhere = g_strconcat (where, ": text_config", NULL);
  JsonObject *vo = vn && JSON_NODE_HOLDS_OBJECT (vn) ? json_node_get_object (vn) : NULL;
  JsonObject *to = tn && JSON_NODE_HOLDS_OBJECT (tn) ? json_node_get_object (tn) : NULL;
  g_autoptr (JsonObject) vdefault = json_object_new ();
  const char *strategy, *ptype;

  memset (c, 0, sizeof *c);
  if (!vo) {
    json_object_set_int_member (vdefault, "hidden_size", 1024);
    json_object_set_int_member (vdefault, "intermediate_size", 4096);
    json_object_set_int_member (vdefault, "num_hidden_layers", 24);
    json_object_set_int_member (vdefault, "num_attention_heads", 16);
    json_object_set_int_member (vdefault, "image_size", 336);
    json_object_set_int_member (vdefault, "patch_size", 14);
    vo = vdefault;
  }
  if (!vtp_clip_vision_config_parse (vo, vwhere, &c->vision, error)
      || !vtp_llama_config_parse (to, twhere, &c->text, error))
    return FALSE;
  /* transformers 5 writes image_token_id, 4.x image_token_index */
  if (!vtp_json_int (root, "image_token_index", 32000, where, &c->image_token_index, error)
      || !vtp_json_int (root, "image_token_id", c->image_token_index, where, &c->image_token_index, error)
      || !vtp_json_bool (root, "multimodal_projector_bias", TRUE, where, &c->projector_bias, error)
      || !vtp_json_int (root, "image_seq_length", 576, where, &c->image_seq_length, error)
      || !vtp_activation_parse (vtp_json_string (root, "projector_hidden_act", "gelu"), where, &c->projector_act, error)
      || !parse_feature_layers (root, where, c, error))
    return FALSE;
  strategy = vtp_json_string (root, "vision_feature_select_strategy", "default");
  if (!require (!g_strcmp0 (strategy, "default") || !g_strcmp0 (strategy, "full"), error,
          "%s: vision_feature_select_strategy is \"%s\", expected \"default\" or \"full\"", where, strategy))
    return FALSE;
  c->keep_cls = !g_strcmp0 (strategy, "full");
  /* Not an HF field: lets a LLaVA v1 style single linear projector be described. */
  ptype = vtp_json_string (root, "projector_type", "mlp2x_gelu");
  if (!g_strcmp0 (ptype, "linear"))
    c->projector_type = VTP_PROJECTOR_LINEAR;
  else if (!g_strcmp0 (ptype, "mlp2x_gelu"))
    c->projector_type = VTP_PROJECTOR_MLP2X_GELU;
  else
    return require (FALSE, error, "%s: projector_type \"%s\" is not supported (linear or mlp2x_gelu)", where, ptype);
  /* -1: the vocabulary has no image token; the prompt is split at the
   * marker's text (GGUF files of LLaVA-1.5 keep Llama 2's 32000 tokens) */
  return require (c->image_token_index >= -1 && c->image_token_index < c->text.vocab_size, error,
      "%s: image_token_index %d is outside the vocabulary of %d", where, c->image_token_index, c->text.vocab_size);
}

/* Defaults: transformers Blip2QFormerConfig / InstructBlipQFormerConfig. */
static gboolean
parse_qformer (JsonObject *o, const char *where, gboolean instruct, VtpQFormerConfig *c, GError **error)
{
  if (!vtp_json_int (o, "vocab_size", 30522, where, &c->vocab_size, error)
      || !vtp_json_int (o, "hidden_size", 768, where, &c->hidden_size, error)
      || !vtp_json_int (o, "num_hidden_layers", 12, where, &c->num_hidden_layers, error)
      || !vtp_json_int (o, "num_attention_heads", 12, where, &c->num_attention_heads, error)
      || !vtp_json_int (o, "intermediate_size", 3072, where, &c->intermediate_size, error)
      || !vtp_json_int (o, "max_position_embeddings", 512, where, &c->max_position_embeddings, error)
      || !vtp_json_int (o, "cross_attention_frequency", 2, where, &c->cross_attention_frequency, error)
      || !vtp_json_int (o, "encoder_hidden_size", 1408, where, &c->encoder_hidden_size, error)
      || !vtp_json_float (o, "layer_norm_eps", 1e-12f, where, &c->layer_norm_eps, error)
      || !vtp_activation_parse (vtp_json_string (o, "hidden_act", "gelu"), where, &c->hidden_act, error)
      || !vtp_json_bool (o, "use_qformer_text_input", instruct, where, &c->text_input, error))
    return FALSE;
  return require (c->hidden_size > 0 && c->num_attention_heads > 0 && c->hidden_size % c->num_attention_heads == 0,
          error, "%s: hidden_size %d is not a multiple of num_attention_heads %d", where, c->hidden_size,
          c->num_attention_heads)
      && require (c->num_hidden_layers > 0 && c->intermediate_size > 0 && c->cross_attention_frequency > 0
          && c->encoder_hidden_size > 0 && c->max_position_embeddings > 0 && c->vocab_size > 0, error,
          "%s: sizes and cross_attention_frequency must be positive", where)
      && require (c->hidden_act == VTP_ACT_GELU, error, "%s: the Q-Former's hidden_act must be gelu", where);
}

gboolean
vtp_blip_config_parse (JsonObject *root, const char *where, gboolean instruct, VtpBlipConfig *c, GError **error)
{
  JsonNode *vn = vtp_json_lookup (root, "vision_config"), *qn = vtp_json_lookup (root, "qformer_config");
  JsonNode *tn = vtp_json_lookup (root, "text_config");
  JsonObject *to = tn && JSON_NODE_HOLDS_OBJECT (tn) ? json_node_get_object (tn) : NULL;
  g_autofree char *vwhere = g_strconcat (where, ": vision_config", NULL);
  g_autofree char *qwhere = g_strconcat (where, ": qformer_config", NULL);
  g_autofree char *twhere = g_strconcat (where, ": text_config", NULL);
  const char *text_type = vtp_json_string (to, "model_type", "opt");

  memset (c, 0, sizeof *c);
  if (!g_strcmp0 (text_type, "llama"))
    c->text_family = VTP_TEXT_LLAMA;
  else if (!g_strcmp0 (text_type, "opt"))
    c->text_family = VTP_TEXT_OPT;
  else if (!g_strcmp0 (text_type, "t5"))
    c->text_family = VTP_TEXT_T5;
  else
    return require (FALSE, error, "%s: text_config.model_type is \"%s\"; vtp runs LLaMA-family (llama, as "
        "Vicuna), OPT and T5 (Flan-T5) language models", where, text_type);
  if (!vtp_blip_vision_config_parse (vn && JSON_NODE_HOLDS_OBJECT (vn) ? json_node_get_object (vn) : NULL,
          vwhere, &c->vision, error)
      || !parse_qformer (qn && JSON_NODE_HOLDS_OBJECT (qn) ? json_node_get_object (qn) : NULL, qwhere, instruct,
          &c->qformer, error)
      || (c->text_family == VTP_TEXT_LLAMA && !vtp_llama_config_parse (to, twhere, &c->text, error))
      || (c->text_family == VTP_TEXT_OPT && !vtp_opt_config_parse (to, twhere, &c->opt, error))
      || (c->text_family == VTP_TEXT_T5 && !vtp_t5_config_parse (to, twhere, &c->t5, error))
      || !vtp_json_int (root, "num_query_tokens", 32, where, &c->num_query_tokens, error)
      || !vtp_json_int (root, "image_token_index", -1, where, &c->image_token_index, error)
      || !vtp_json_int (root, "image_token_id", c->image_token_index, where, &c->image_token_index, error))
    return FALSE;
  c->projection_width = c->text_family == VTP_TEXT_OPT ? c->opt.hidden_size
      : c->text_family == VTP_TEXT_T5 ? c->t5.d_model : c->text.hidden_size;
  /* transformers projects the queries to text_config.hidden_size and puts
   * them among the word embeddings: with project_in they would not fit */
  return require (c->text_family != VTP_TEXT_OPT || c->opt.word_embed_proj_dim == c->opt.hidden_size, error,
          "%s: text_config.word_embed_proj_dim %d differs from its hidden_size %d: BLIP-2 projects the queries to "
          "the hidden size, which OPT's %d-wide input embeddings cannot take", where, c->opt.word_embed_proj_dim,
          c->opt.hidden_size, c->opt.word_embed_proj_dim)
      && require (c->num_query_tokens > 0, error, "%s: num_query_tokens must be positive", where)
      && require (c->qformer.encoder_hidden_size == c->vision.hidden_size, error, "%s: the Q-Former reads %d-wide "
          "image features (qformer_config.encoder_hidden_size) but the vision tower is %d wide", where,
          c->qformer.encoder_hidden_size, c->vision.hidden_size);
}

gboolean
vtp_adapter_config_parse (JsonObject *o, const char *where, VtpAdapterConfig *c, GError **error)
{
  const char *version = vtp_json_string (o, "version", NULL);
  float ratio;

  memset (c, 0, sizeof *c);
  if (!g_strcmp0 (vtp_json_string (o, "peft_type", NULL), "ADAPTION_PROMPT")) {
    c->form = VTP_ADAPTER_PEFT;
    if (!vtp_json_int (o, "adapter_len", 10, where, &c->query_len, error)
        || !vtp_json_int (o, "adapter_layers", 0, where, &c->query_layer, error))
      return FALSE;
    return require (c->query_len > 0 && c->query_layer > 0, error, "%s: adapter_len and adapter_layers must be "
        "positive", where);
  }
  if (!g_strcmp0 (version, "v1"))
    c->form = VTP_ADAPTER_V1;
  else if (!g_strcmp0 (version, "v2-multimodal"))
    c->form = VTP_ADAPTER_V2_MULTIMODAL;
  else
    return require (FALSE, error, "%s: version \"%s\" is not a LLaMA-Adapter form vtp runs (v1, v2-multimodal)",
        where, version ? version : "(none)");
  if (!vtp_json_int (o, "query_len", 10, where, &c->query_len, error)
      || !vtp_json_int (o, "query_layer", 31, where, &c->query_layer, error)
      || !vtp_json_int (o, "clip_dim", 768, where, &c->clip_dim, error)
      || !vtp_json_int (o, "v_embed_dim", 768, where, &c->v_embed_dim, error)
      || !vtp_json_int (o, "v_depth", 8, where, &c->v_depth, error)
      || !vtp_json_int (o, "v_num_heads", 16, where, &c->v_num_heads, error)
      || !vtp_json_float (o, "v_mlp_ratio", 4.0f, where, &ratio, error)
      || !vtp_json_bool (o, "w_bias", FALSE, where, &c->w_bias, error)
      || !vtp_json_bool (o, "w_lora", FALSE, where, &c->w_lora, error)
      || !vtp_json_int (o, "lora_rank", 16, where, &c->lora_rank, error)
      || !vtp_json_int (o, "llm_dim", 0, where, &c->llm_dim, error))
    return FALSE;
  c->v_mlp = (gint) (c->v_embed_dim * ratio);
  return require (c->query_len > 0 && c->query_layer > 0, error, "%s: query_len and query_layer must be positive",
          where)
      && require (c->form != VTP_ADAPTER_V2_MULTIMODAL || (c->v_num_heads > 0 && c->v_embed_dim % c->v_num_heads == 0),
          error, "%s: v_embed_dim %d is not a multiple of v_num_heads %d", where, c->v_embed_dim, c->v_num_heads);
}
