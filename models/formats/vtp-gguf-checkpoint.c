#include "vtp-gguf-checkpoint.h"
#include "vtp-error.h"
#include <stdio.h>
#include <string.h>

/* GGUF name (between "blk.N." and ".weight") -> Meta's name in a layer. */
static const char *const layer_names[][2] = {
  { "attn_norm", "attention_norm" }, { "ffn_norm", "ffn_norm" },
  { "attn_q", "attention.wq" }, { "attn_k", "attention.wk" }, { "attn_v", "attention.wv" },
  { "attn_output", "attention.wo" },
  { "ffn_gate", "feed_forward.w1" }, { "ffn_up", "feed_forward.w3" }, { "ffn_down", "feed_forward.w2" },
};

/* Whole-model tensors. */
static const char *const model_names[][2] = {
  { "token_embd", "tok_embeddings" }, { "output_norm", "norm" }, { "output", "output" },
};

/* Meta's name for the GGUF tensor @name ("blk.3.attn_q.weight" ->
 * "layers.3.attention.wq.weight"); a copy of @name when it has none. */
static char *
meta_name (const char *name)
{
  const char *dot = strrchr (name, '.');
  g_autofree char *base = NULL;
  gint layer, n = 0;

  if (!dot || (strcmp (dot, ".weight") && strcmp (dot, ".bias")))
    return g_strdup (name);
  base = g_strndup (name, dot - name);
  if (sscanf (base, "blk.%d.%n", &layer, &n) == 1 && n > 0) {
    for (guint i = 0; i < G_N_ELEMENTS (layer_names); i++)
      if (!strcmp (base + n, layer_names[i][0]))
        return g_strdup_printf ("layers.%d.%s%s", layer, layer_names[i][1], dot);
    return g_strdup (name);
  }
  for (guint i = 0; i < G_N_ELEMENTS (model_names); i++)
    if (!strcmp (base, model_names[i][0]))
      return g_strconcat (model_names[i][1], dot, NULL);
  return g_strdup (name);
}

char *
vtp_gguf_tensor_name (const char *name)
{
  const char *dot = strrchr (name, '.');
  g_autofree char *base = NULL;
  gint layer, n = 0;

  if (!dot || (strcmp (dot, ".weight") && strcmp (dot, ".bias")))
    return g_strdup (name);
  base = g_strndup (name, dot - name);
  if (sscanf (base, "layers.%d.%n", &layer, &n) == 1 && n > 0) {
    for (guint i = 0; i < G_N_ELEMENTS (layer_names); i++)
      if (!strcmp (base + n, layer_names[i][1]))
        return g_strdup_printf ("blk.%d.%s%s", layer, layer_names[i][0], dot);
    return g_strdup (name);
  }
  for (guint i = 0; i < G_N_ELEMENTS (model_names); i++)
    if (!strcmp (base, model_names[i][1]))
      return g_strconcat (model_names[i][0], dot, NULL);
  return g_strdup (name);
}

/* The vtp dtype of a ggml type; FALSE for one vtp does not compute with. */
static gboolean
vtp_dtype_of (guint32 ggml_type, VtpDType *out)
{
  static const struct { guint32 ggml; VtpDType vtp; } map[] = {
    { VTP_GGML_F32, VTP_DTYPE_F32 }, { VTP_GGML_F16, VTP_DTYPE_F16 }, { VTP_GGML_BF16, VTP_DTYPE_BF16 },
    { VTP_GGML_Q8_0, VTP_DTYPE_Q8_0 }, { VTP_GGML_Q4_0, VTP_DTYPE_Q4_0 }, { 12, VTP_DTYPE_Q4_K },
    { 13, VTP_DTYPE_Q5_K }, { 14, VTP_DTYPE_Q6_K },
  };
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (map[i].ggml == ggml_type) {
      *out = map[i].vtp;
      return TRUE;
    }
  return FALSE;
}

static void
st_tensor_free (VtpStTensor *t)
{
  g_free (t->name);
  g_free (t->dtype_name);
  g_free (t);
}

static gboolean
add_tensors (VtpCheckpoint *c, GError **error)
{
  VtpGguf *g = c->gguf;

  c->gguf_tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) st_tensor_free);
  for (guint i = 0; i < vtp_gguf_n_tensors (g); i++) {
    const VtpGgufTensor *gt = vtp_gguf_tensor (g, i);
    VtpStTensor *t = g_new0 (VtpStTensor, 1);

    t->name = meta_name (gt->name);
    t->dtype_supported = vtp_dtype_of (gt->type, &t->dtype);
    t->dtype_name = g_strdup (gt->type_name ? gt->type_name : "unknown");
    t->ndim = (gint) gt->n_dims;
    for (gint d = 0; d < t->ndim; d++)
      t->shape[d] = gt->ne[t->ndim - 1 - d];
    t->data = gt->data;
    t->n_bytes = gt->n_bytes;
    t->file = g->path;
    g_ptr_array_add (c->gguf_tensors, t);
    if (g_hash_table_contains (c->tensors, t->name)) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' and another both stand for '%s'",
          g->path, gt->name, t->name);
      return FALSE;
    }
    g_hash_table_insert (c->tensors, t->name, t);
  }
  return TRUE;
}

/* u32 metadata @key into the config as @member; @fallback (>= 0) when absent. */
static gboolean
add_u32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, gint64 fallback, GError **error)
{
  guint32 v;

  if (!vtp_gguf_find (g, key) && fallback >= 0)
    v = (guint32) fallback;
  else if (!vtp_gguf_get_u32 (g, key, &v, error))
    return FALSE;
  json_builder_set_member_name (b, member);
  json_builder_add_int_value (b, v);
  return TRUE;
}

static gboolean
add_f32 (VtpGguf *g, JsonBuilder *b, const char *key, const char *member, float fallback, GError **error)
{
  float v = fallback;

  if (vtp_gguf_find (g, key) && !vtp_gguf_get_f32 (g, key, &v, error))
    return FALSE;
  json_builder_set_member_name (b, member);
  json_builder_add_double_value (b, v);
  return TRUE;
}

/* config.json as transformers would write it for this Llama. */
static gboolean
llama_config (VtpCheckpoint *c, JsonBuilder *b, GError **error)
{
  VtpGguf *g = c->gguf;
  guint32 d_model, n_head, head_dim, rope_dim;
  guint64 n_tokens = 0;
  const char *scaling;
  const VtpGgufTensor *embd = vtp_gguf_find_tensor (g, "token_embd.weight");

  if (!vtp_gguf_get_u32 (g, "llama.embedding_length", &d_model, error)
      || !vtp_gguf_get_u32 (g, "llama.attention.head_count", &n_head, error))
    return FALSE;
  if (n_head == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: llama.attention.head_count is 0", g->path);
    return FALSE;
  }
  json_builder_set_member_name (b, "model_type");
  json_builder_add_string_value (b, "llama");
  /* the vocabulary: llama.vocab_size when written, else one token per
   * tokenizer.ggml.tokens entry, else the embedding's rows */
  if (vtp_gguf_find (g, "tokenizer.ggml.tokens") && !vtp_gguf_get_array_length (g, "tokenizer.ggml.tokens",
          &n_tokens, error))
    return FALSE;
  if (!n_tokens && embd)
    n_tokens = (guint64) embd->ne[1];
  if (!add_u32 (g, b, "llama.vocab_size", "vocab_size", (gint64) MIN (n_tokens, G_MAXUINT32), error)
      || !add_u32 (g, b, "llama.embedding_length", "hidden_size", -1, error)
      || !add_u32 (g, b, "llama.feed_forward_length", "intermediate_size", -1, error)
      || !add_u32 (g, b, "llama.block_count", "num_hidden_layers", -1, error)
      || !add_u32 (g, b, "llama.attention.head_count", "num_attention_heads", -1, error)
      || !add_u32 (g, b, "llama.attention.head_count_kv", "num_key_value_heads", n_head, error)
      || !add_u32 (g, b, "llama.context_length", "max_position_embeddings", -1, error)
      || !add_u32 (g, b, "llama.attention.key_length", "head_dim", d_model / n_head, error)
      || !add_f32 (g, b, "llama.attention.layer_norm_rms_epsilon", "rms_norm_eps", 1e-5f, error)
      || !add_f32 (g, b, "llama.rope.freq_base", "rope_theta", 10000.0f, error)
      || !add_u32 (g, b, "tokenizer.ggml.bos_token_id", "bos_token_id", 1, error)
      || !add_u32 (g, b, "tokenizer.ggml.eos_token_id", "eos_token_id", 2, error))
    return FALSE;

  /* vtp rotates the whole head and keys and values have one width */
  head_dim = d_model / n_head;
  if ((vtp_gguf_find (g, "llama.attention.key_length")
          && !vtp_gguf_get_u32 (g, "llama.attention.key_length", &head_dim, error)))
    return FALSE;
  rope_dim = head_dim;
  if (vtp_gguf_find (g, "llama.rope.dimension_count")
      && !vtp_gguf_get_u32 (g, "llama.rope.dimension_count", &rope_dim, error))
    return FALSE;
  if (rope_dim != head_dim) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: llama.rope.dimension_count is %u, the head is %u wide: "
        "vtp rotates whole heads", g->path, rope_dim, head_dim);
    return FALSE;
  }
  if (vtp_gguf_find (g, "llama.attention.value_length")) {
    guint32 v;
    if (!vtp_gguf_get_u32 (g, "llama.attention.value_length", &v, error))
      return FALSE;
    if (v != head_dim) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: llama.attention.value_length %u differs from "
          "key_length %u", g->path, v, head_dim);
      return FALSE;
    }
  }

  json_builder_set_member_name (b, "tie_word_embeddings");
  json_builder_add_boolean_value (b, !vtp_gguf_find_tensor (g, "output.weight"));
  json_builder_set_member_name (b, "attention_bias");
  json_builder_add_boolean_value (b, vtp_gguf_find_tensor (g, "blk.0.attn_q.bias") != NULL);

  /* RoPE scaling (linear, yarn, Llama 3's rope_freqs) is written so that
   * the config reader refuses it by name */
  scaling = vtp_gguf_find (g, "llama.rope.scaling.type") ? vtp_gguf_get_string (g, "llama.rope.scaling.type",
      NULL) : NULL;
  if (vtp_gguf_find_tensor (g, "rope_freqs.weight"))
    scaling = "llama3 (rope_freqs.weight)";
  if (scaling && g_strcmp0 (scaling, "none")) {
    json_builder_set_member_name (b, "rope_scaling");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rope_type");
    json_builder_add_string_value (b, scaling);
    json_builder_end_object (b);
  }
  return TRUE;
}

gboolean
vtp_gguf_checkpoint_fill (VtpCheckpoint *c, const char *path, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;
  const char *arch;

  if (!(c->gguf = vtp_gguf_open (path, error)))
    return FALSE;
  if (!(arch = vtp_gguf_get_string (c->gguf, "general.architecture", error)))
    return FALSE;
  if (strcmp (arch, "llama")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: general.architecture is \"%s\"; vtp reads GGUF "
        "files of architecture \"llama\"", path, arch);
    return FALSE;
  }
  if (!add_tensors (c, error))
    return FALSE;

  json_builder_begin_object (b);
  if (!llama_config (c, b, error))
    return FALSE;
  json_builder_end_object (b);
  root = json_builder_get_root (b);
  gen = json_generator_new ();
  json_generator_set_root (gen, root);
  text = json_generator_to_data (gen, NULL);
  c->config_parser = json_parser_new ();
  if (!json_parser_load_from_data (c->config_parser, text, -1, error))
    return FALSE;
  c->config = json_node_get_object (json_parser_get_root (c->config_parser));
  return TRUE;
}
