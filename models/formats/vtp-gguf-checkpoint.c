#include "vtp-gguf-checkpoint.h"
#include "vtp-error.h"
#include "vtp-gguf-mmproj.h"
#include "vtp-gguf-names.h"
#include "vtp-gguf-config.h"
#include <string.h>

/* GGUF names <-> Meta's Llama names. */
static const VtpGgufName layer_names[] = {
  { "attn_norm", "attention_norm" }, { "ffn_norm", "ffn_norm" },
  { "attn_q", "attention.wq" }, { "attn_k", "attention.wk" }, { "attn_v", "attention.wv" },
  { "attn_output", "attention.wo" },
  { "ffn_gate", "feed_forward.w1" }, { "ffn_up", "feed_forward.w3" }, { "ffn_down", "feed_forward.w2" },
  { NULL },
};
static const VtpGgufName model_names[] = {
  { "token_embd", "tok_embeddings" }, { "output_norm", "norm" }, { "output", "output" }, { NULL },
};
static const VtpGgufNaming llama_naming = { "blk.", "layers.", layer_names, model_names };

/* Meta's name for the GGUF tensor @name ("blk.3.attn_q.weight" ->
 * "layers.3.attention.wq.weight"); a copy of @name when it has none. */
static char *
meta_name (const char *name)
{
  char *r = vtp_gguf_rename (&llama_naming, name, TRUE);
  return r ? r : g_strdup (name);
}

char *
vtp_gguf_tensor_name (const char *name)
{
  char *r = vtp_gguf_mmproj_gguf_name (name);

  if (!r)
    r = vtp_gguf_rename (&llama_naming, name, FALSE);
  return r ? r : g_strdup (name);
}

/* The vtp dtype of a ggml type; FALSE for one vtp does not compute with. */
static gboolean
vtp_dtype_of (guint32 ggml_type, VtpDType *out)
{
  static const struct { guint32 ggml; VtpDType vtp; } map[] = {
    { VTP_GGML_F32, VTP_DTYPE_F32 }, { VTP_GGML_F16, VTP_DTYPE_F16 }, { VTP_GGML_BF16, VTP_DTYPE_BF16 },
    { VTP_GGML_Q8_0, VTP_DTYPE_Q8_0 }, { VTP_GGML_Q4_0, VTP_DTYPE_Q4_0 }, { 12, VTP_DTYPE_Q4_K },
    { 13, VTP_DTYPE_Q5_K }, { 14, VTP_DTYPE_Q6_K }, { 3, VTP_DTYPE_Q4_1 }, { 6, VTP_DTYPE_Q5_0 },
    { 7, VTP_DTYPE_Q5_1 }, { 10, VTP_DTYPE_Q2_K }, { 11, VTP_DTYPE_Q3_K },
    { 20, VTP_DTYPE_IQ4_NL }, { 23, VTP_DTYPE_IQ4_XS }, { 18, VTP_DTYPE_IQ3_XXS }, { 21, VTP_DTYPE_IQ3_S },
    { 16, VTP_DTYPE_IQ2_XXS }, { 17, VTP_DTYPE_IQ2_XS }, { 22, VTP_DTYPE_IQ2_S }, { 19, VTP_DTYPE_IQ1_S },
    { 29, VTP_DTYPE_IQ1_M },
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

/* Adds the tensors of @g to @c under their vtp names: Meta's for a text
 * model, llava-hf's for an mmproj file (@fc1_name set). */
static gboolean
add_tensors (VtpCheckpoint *c, VtpGguf *g, const char *fc1_name, GError **error)
{
  if (!c->gguf_tensors)
    c->gguf_tensors = g_ptr_array_new_with_free_func ((GDestroyNotify) st_tensor_free);
  for (guint i = 0; i < vtp_gguf_n_tensors (g); i++) {
    const VtpGgufTensor *gt = vtp_gguf_tensor (g, i);
    VtpStTensor *t = g_new0 (VtpStTensor, 1);

    t->name = fc1_name ? vtp_gguf_mmproj_hf_name (gt->name, fc1_name) : meta_name (gt->name);
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
      const VtpStTensor *other = g_hash_table_lookup (c->tensors, t->name);
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' and another%s%s both stand for '%s'",
          g->path, gt->name, other->file != g->path ? " in " : "", other->file != g->path ? other->file : "",
          t->name);
      return FALSE;
    }
    g_hash_table_insert (c->tensors, t->name, t);
  }
  return TRUE;
}

/* config.json as transformers would write it for this Llama. */
/* "ARCH.suffix", kept in @keys */
static const char *
arch_key (GPtrArray *keys, const char *arch, const char *suffix)
{
  char *k = g_strconcat (arch, ".", suffix, NULL);
  g_ptr_array_add (keys, k);
  return k;
}
#define K(suffix) arch_key (keys, arch, suffix)

/* The config of a text model ("llama" or "qwen2": the metadata's keys
 * begin with the architecture's name). */
static gboolean
llama_config (VtpCheckpoint *c, JsonBuilder *b, GError **error)
{
  VtpGguf *g = c->gguf;
  /* checked by architecture () when the file was opened by name; a file
   * handed over opened (vtp_gguf_checkpoint_fill_opened) is read as a Llama
   * unless it says "qwen2" */
  const char *named = vtp_gguf_find (g, "general.architecture") ? vtp_gguf_get_string (g, "general.architecture",
      NULL) : NULL;
  const char *arch = !g_strcmp0 (named, "qwen2") ? "qwen2" : "llama";
  g_autoptr (GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  guint32 d_model, n_head, head_dim, rope_dim;
  guint64 n_tokens = 0;
  const char *scaling;
  const VtpGgufTensor *embd = vtp_gguf_find_tensor (g, "token_embd.weight");

  if (!vtp_gguf_get_u32 (g, K ("embedding_length"), &d_model, error)
      || !vtp_gguf_get_u32 (g, K ("attention.head_count"), &n_head, error))
    return FALSE;
  if (n_head == 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: %s.attention.head_count is 0", g->path, arch);
    return FALSE;
  }
  json_builder_set_member_name (b, "model_type");
  json_builder_add_string_value (b, arch);
  /* llama.cpp's converter permutes q and k into Meta's interleaved RoPE
   * order for "llama" files only */
  json_builder_set_member_name (b, "gguf_rope_neox");
  json_builder_add_boolean_value (b, strcmp (arch, "llama") != 0);
  /* the vocabulary: llama.vocab_size when written, else one token per
   * tokenizer.ggml.tokens entry, else the embedding's rows */
  if (vtp_gguf_find (g, "tokenizer.ggml.tokens") && !vtp_gguf_get_array_length (g, "tokenizer.ggml.tokens",
          &n_tokens, error))
    return FALSE;
  if (!n_tokens && embd)
    n_tokens = (guint64) embd->ne[1];
  if (!vtp_gguf_config_u32 (g, b, K ("vocab_size"), "vocab_size", (gint64) MIN (n_tokens, G_MAXUINT32), error)
      || !vtp_gguf_config_u32 (g, b, K ("embedding_length"), "hidden_size", -1, error)
      || !vtp_gguf_config_u32 (g, b, K ("feed_forward_length"), "intermediate_size", -1, error)
      || !vtp_gguf_config_u32 (g, b, K ("block_count"), "num_hidden_layers", -1, error)
      || !vtp_gguf_config_u32 (g, b, K ("attention.head_count"), "num_attention_heads", -1, error)
      || !vtp_gguf_config_u32 (g, b, K ("attention.head_count_kv"), "num_key_value_heads", n_head, error)
      || !vtp_gguf_config_u32 (g, b, K ("context_length"), "max_position_embeddings", -1, error)
      || !vtp_gguf_config_u32 (g, b, K ("attention.key_length"), "head_dim", d_model / n_head, error)
      || !vtp_gguf_config_f32 (g, b, K ("attention.layer_norm_rms_epsilon"), "rms_norm_eps", 1e-5f, error)
      || !vtp_gguf_config_f32 (g, b, K ("rope.freq_base"), "rope_theta", 10000.0f, error)
      || !vtp_gguf_config_u32 (g, b, "tokenizer.ggml.bos_token_id", "bos_token_id", 1, error)
      || !vtp_gguf_config_u32 (g, b, "tokenizer.ggml.eos_token_id", "eos_token_id", 2, error))
    return FALSE;

  /* vtp rotates the whole head and keys and values have one width */
  head_dim = d_model / n_head;
  if ((vtp_gguf_find (g, K ("attention.key_length"))
          && !vtp_gguf_get_u32 (g, K ("attention.key_length"), &head_dim, error)))
    return FALSE;
  rope_dim = head_dim;
  if (vtp_gguf_find (g, K ("rope.dimension_count"))
      && !vtp_gguf_get_u32 (g, K ("rope.dimension_count"), &rope_dim, error))
    return FALSE;
  if (rope_dim != head_dim) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s.rope.dimension_count is %u, the head is %u wide: "
        "vtp rotates whole heads", g->path, arch, rope_dim, head_dim);
    return FALSE;
  }
  if (vtp_gguf_find (g, K ("attention.value_length"))) {
    guint32 v;
    if (!vtp_gguf_get_u32 (g, K ("attention.value_length"), &v, error))
      return FALSE;
    if (v != head_dim) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: %s.attention.value_length %u differs from "
          "key_length %u", g->path, arch, v, head_dim);
      return FALSE;
    }
  }

  json_builder_set_member_name (b, "tie_word_embeddings");
  json_builder_add_boolean_value (b, !vtp_gguf_find_tensor (g, "output.weight"));
  /* q, k, v and o with biases; Qwen2's q, k and v only come with its
   * model_type */
  json_builder_set_member_name (b, "attention_bias");
  json_builder_add_boolean_value (b, vtp_gguf_find_tensor (g, "blk.0.attn_q.bias") != NULL
      && vtp_gguf_find_tensor (g, "blk.0.attn_output.bias") != NULL);

  /* Llama 3.1's RoPE scaling comes as the divisors llama.cpp's converter
   * computed (the tensor rope_freqs.weight); other scalings (linear,
   * yarn) are written so that the config reader refuses them by name */
  scaling = vtp_gguf_find (g, K ("rope.scaling.type")) ? vtp_gguf_get_string (g, K ("rope.scaling.type"),
      NULL) : NULL;
  if (vtp_gguf_find_tensor (g, "rope_freqs.weight") && (!scaling || !g_strcmp0 (scaling, "none"))) {
    json_builder_set_member_name (b, "rope_scaling");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rope_type");
    json_builder_add_string_value (b, "llama3");
    json_builder_set_member_name (b, "freqs_tensor");
    json_builder_add_boolean_value (b, TRUE);
    json_builder_end_object (b);
  } else if (scaling && g_strcmp0 (scaling, "none")) {
    json_builder_set_member_name (b, "rope_scaling");
    json_builder_begin_object (b);
    json_builder_set_member_name (b, "rope_type");
    json_builder_add_string_value (b, scaling);
    json_builder_end_object (b);
  }
  return TRUE;
}

#undef K

/* The id of "<image>" in the text model's vocabulary; -1 when it has none
 * (LLaVA-1.5's own GGUF files keep the 32000 tokens of Llama 2: the prompt
 * is then split at the marker's text, as llama.cpp's mtmd does). */
static gint64
image_token (VtpGguf *text)
{
  gsize n = 0;
  const char *const *tokens;

  if (!text || !vtp_gguf_find (text, "tokenizer.ggml.tokens")
      || !(tokens = vtp_gguf_get_string_array (text, "tokenizer.ggml.tokens", &n, NULL, NULL)))
    return -1;
  for (gsize i = 0; i < n; i++)
    if (!strcmp (tokens[i], "<image>"))
      return (gint64) i;
  return -1;
}

/* The architecture of @g: "llama", "qwen2" or "clip"; NULL and an error
 * otherwise. */
static const char *
architecture (VtpGguf *g, GError **error)
{
  const char *arch = vtp_gguf_get_string (g, "general.architecture", error);

  if (arch && strcmp (arch, "llama") && strcmp (arch, "qwen2") && strcmp (arch, "clip")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_CONFIG, "%s: general.architecture is \"%s\"; vtp reads GGUF "
        "files of architecture \"llama\" and \"qwen2\" (language models) and \"clip\" (LLaVA's mmproj file)",
        g->path, arch);
    return NULL;
  }
  return arch;
}

/* The config of a text model alone: its llama config at the root. With a
 * vision file: a llava config, the llama one as its text_config (or, with
 * no text model, one that says only the projector's output width). */
static gboolean
build_config (VtpCheckpoint *c, JsonBuilder *b, GError **error)
{
  gint64 width = 0;

  json_builder_begin_object (b);
  if (!c->gguf_vision) {
    if (!llama_config (c, b, error))
      return FALSE;
    json_builder_end_object (b);
    return TRUE;
  }
  json_builder_set_member_name (b, "model_type");
  json_builder_add_string_value (b, "llava");
  if (!vtp_gguf_mmproj_config (c->gguf_vision, b, &width, error))
    return FALSE;
  json_builder_set_member_name (b, "image_token_index");
  json_builder_add_int_value (b, image_token (c->gguf));
  json_builder_set_member_name (b, "text_config");
  json_builder_begin_object (b);
  if (c->gguf) {
    if (!llama_config (c, b, error))
      return FALSE;
  } else {
    json_builder_set_member_name (b, "hidden_size");
    json_builder_add_int_value (b, width);
  }
  json_builder_end_object (b);
  json_builder_end_object (b);
  return TRUE;
}

gboolean
vtp_gguf_checkpoint_fill (VtpCheckpoint *c, const char *const *paths, GError **error)
{
  for (guint i = 0; paths[i]; i++) {
    g_autoptr (VtpGguf) g = vtp_gguf_open (paths[i], error);
    const char *arch = g ? architecture (g, error) : NULL;
    VtpGguf **slot;

    if (!arch)
      return FALSE;
    slot = !strcmp (arch, "clip") ? &c->gguf_vision : &c->gguf;
    if (*slot) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "%s and %s are both %s files: a model is one text model "
          "and at most one mmproj file", (*slot)->path, paths[i], arch);
      return FALSE;
    }
    *slot = g_steal_pointer (&g);
  }
  return vtp_gguf_checkpoint_fill_opened (c, error);
}

gboolean
vtp_gguf_checkpoint_fill_opened (VtpCheckpoint *c, GError **error)
{
  g_autoptr (JsonBuilder) b = json_builder_new ();
  g_autoptr (JsonGenerator) gen = NULL;
  g_autoptr (JsonNode) root = NULL;
  g_autofree char *text = NULL;

  if (c->gguf && !add_tensors (c, c->gguf, NULL, error))
    return FALSE;
  if (c->gguf_vision) {
    const char *fc1 = NULL;
    if (!vtp_gguf_mmproj_fc1_name (c->gguf_vision, &fc1, error)
        || !add_tensors (c, c->gguf_vision, fc1, error)
        || !(c->processor_parser = vtp_gguf_mmproj_preprocessor (c->gguf_vision, error)))
      return FALSE;
  }

  if (!build_config (c, b, error))
    return FALSE;
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
