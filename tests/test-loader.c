/* test-loader.c: safetensors parsing, model directories (single file,
 * shards with an index) and config.json reading: the defaults of the
 * transformers config classes for absent fields, and errors that name the
 * file, tensor or field and what was expected. */
#include <string.h>
#include <glib/gstdio.h>
#include "vtp-checkpoint.h"
#include "vtp-config.h"
#include "vtp-image.h"
#include "vtp-json.h"
#include "vtp-tokenizer.h"
#include "vtp-wordpiece.h"

static char *tmpdir;

static char *
write_file (const char *name, const void *data, gsize len)
{
  char *path = g_build_filename (tmpdir, name, NULL);
  g_autoptr (GError) error = NULL;
  g_assert_true (g_file_set_contents (path, data, len, &error));
  return path;
}

/* A safetensors file with @header (JSON) and @data_len bytes of data. */
static char *
write_safetensors (const char *name, const char *header, gsize data_len)
{
  const guint64 hl = strlen (header);
  g_autofree guint8 *buf = g_malloc0 (8 + hl + data_len);
  for (gint i = 0; i < 8; i++)
    buf[i] = (hl >> (8 * i)) & 0xff;
  memcpy (buf + 8, header, hl);
  for (gsize i = 0; i < data_len; i++)
    buf[8 + hl + i] = (guint8) i;
  return write_file (name, buf, 8 + hl + data_len);
}

static void
expect_open_error (const char *header, gsize data_len, gint code, const char *needle)
{
  g_autofree char *path = write_safetensors ("t.safetensors", header, data_len);
  g_autoptr (GError) error = NULL;
  VtpSafetensors *st = vtp_safetensors_open (path, &error);
  g_assert_null (st);
  g_assert_error (error, VTP_ERROR, code);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
}

static void
test_safetensors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = write_safetensors ("ok.safetensors",
      "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F16\",\"shape\":[2,3],\"data_offsets\":[0,12]},"
      "\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[12,20]},"
      "\"c\":{\"dtype\":\"F64\",\"shape\":[],\"data_offsets\":[20,28]}}", 28);
  g_autoptr (VtpSafetensors) st = vtp_safetensors_open (path, &error);
  const VtpStTensor *a, *c;

  g_assert_no_error (error);
  a = vtp_safetensors_find (st, "a");
  g_assert_nonnull (a);
  g_assert_cmpint (a->dtype, ==, VTP_DTYPE_F16);
  g_assert_cmpint (a->ndim, ==, 2);
  g_assert_cmpint (a->shape[1], ==, 3);
  g_assert_cmpuint (a->n_bytes, ==, 12);
  c = vtp_safetensors_find (st, "c");
  g_assert_false (c->dtype_supported);
  g_assert_null (vtp_st_tensor_to_f32 (c, &error));
  g_assert_nonnull (strstr (error->message, "stored as F64"));
  g_clear_error (&error);

  /* known dtypes vtp does not load (4-bit F4 here) open, and so does an
   * empty tensor inside another's bytes: it has no bytes to share */
  {
    g_autofree char *p = write_safetensors ("others.safetensors",
        "{\"f4\":{\"dtype\":\"F4\",\"shape\":[2,3],\"data_offsets\":[0,3]},"
        "\"e\":{\"dtype\":\"F32\",\"shape\":[0,5],\"data_offsets\":[1,1]}}", 3);
    g_autoptr (VtpSafetensors) o = vtp_safetensors_open (p, &error);
    g_assert_no_error (error);
    g_assert_false (vtp_safetensors_find (o, "f4")->dtype_supported);
    g_assert_cmpuint (vtp_safetensors_find (o, "e")->n_bytes, ==, 0);
  }

  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 10, VTP_ERROR_FILE,
      "truncated: tensor 'a' ends at byte 16");
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,12]}}", 16, VTP_ERROR_FORMAT,
      "do not match its size");
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4]}}", 16, VTP_ERROR_FORMAT, "lacks dtype, shape or data_offsets");
  /* overlapping tensors read each other's bytes: both are named */
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", 24, VTP_ERROR_FORMAT,
      "tensors 'a' (bytes 0 to 16) and 'b' (bytes 8 to 24) overlap");
  expect_open_error ("{\"a\":{\"dtype\":\"U8\",\"shape\":[24],\"data_offsets\":[0,24]},"
      "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]},"
      "\"c\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]}}", 24, VTP_ERROR_FORMAT,
      "tensors 'a' (bytes 0 to 24) and 'b' (bytes 4 to 12) overlap");
  /* an unknown dtype is named as such, not as a size mismatch */
  expect_open_error ("{\"a\":{\"dtype\":\"F13\",\"shape\":[4],\"data_offsets\":[0,16]}}", 16, VTP_ERROR_FORMAT,
      "tensor 'a' has an unknown dtype \"F13\" (safetensors dtypes: F32, ");
  /* fields of the wrong JSON type: errors, not Json-CRITICALs */
  expect_open_error ("{\"a\":{\"dtype\":[\"F32\"],\"shape\":[4],\"data_offsets\":[0,16]}}", 16, VTP_ERROR_FORMAT,
      "tensor 'a' has an unknown dtype that is not a string");
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":\"x\",\"data_offsets\":[0,16]}}", 16, VTP_ERROR_FORMAT,
      "tensor 'a' has a malformed shape or data_offsets");
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[[0],16]}}", 16, VTP_ERROR_FORMAT,
      "tensor 'a' has a malformed shape or data_offsets");
  expect_open_error ("{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", 2, VTP_ERROR_FORMAT,
      "do not match its size");
  /* element counts past 64 bits (UBSan: signed overflow); [2^62, 4] F32
   * wrapped round to 0 bytes and opened */
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,0]}}", 0,
      VTP_ERROR_FORMAT, "tensor 'a' (F32 [4611686018427387904, 4]) has data_offsets [0, 0] that do not match its size");
  expect_open_error ("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4],\"data_offsets\":[0,16]}}", 16,
      VTP_ERROR_FORMAT, "do not match its size");
  expect_open_error ("[1, 2, 3]", 0, VTP_ERROR_FORMAT, "not a JSON object");
  expect_open_error ("{\"a\": ", 0, VTP_ERROR_FORMAT, "not a JSON object");
  {
    g_autofree char *p = write_file ("short.safetensors", "\x10\x00", 2);
    g_assert_null (vtp_safetensors_open (p, &error));
    g_assert_nonnull (strstr (error->message, "truncated"));
    g_clear_error (&error);
  }
}

static void
test_sharded_directory (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *s1 = write_safetensors ("model-00001-of-00002.safetensors",
      "{\"x.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", 16);
  g_autofree char *s2 = write_safetensors ("model-00002-of-00002.safetensors",
      "{\"y.weight\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[0,6]}}", 6);
  const char *index = "{\"metadata\":{\"total_size\":22},\"weight_map\":{\"x.weight\":\"model-00001-of-00002.safetensors\","
      "\"y.weight\":\"model-00002-of-00002.safetensors\"}}";
  g_autofree char *ip = write_file ("model.safetensors.index.json", index, strlen (index));
  g_autofree char *cp = write_file ("config.json", "{\"model_type\":\"llama\"}", 22);
  g_autoptr (VtpCheckpoint) c = vtp_checkpoint_open (tmpdir, &error);
  g_autoptr (VtpCheckpoint) again = NULL;
  g_autoptr (VtpDevice) dev = vtp_device_get (NULL, &error);
  g_autoptr (VtpTensor) t = NULL;
  g_autofree float *f = NULL;
  static const char *const prefixes[] = { "a.", "", NULL };

  g_assert_no_error (error);
  g_assert_nonnull (vtp_checkpoint_find (c, "x.weight"));
  g_assert_nonnull (vtp_checkpoint_find (c, "y.weight"));
  again = vtp_checkpoint_open (tmpdir, &error);
  g_assert_true (c == again);           /* opened once per process */
  g_assert_cmpstr (vtp_checkpoint_find_prefix (c, prefixes, "x.weight", "test", &error), ==, "");
  g_assert_null (vtp_checkpoint_find_prefix (c, prefixes, "z", "test part", &error));
  g_assert_nonnull (strstr (error->message, "no test part: none of the tensors 'a.z', 'z' exists"));
  g_clear_error (&error);

  /* bf16 converted to f32 on load; shape checked with leading 1s ignored */
  t = vtp_checkpoint_load (c, dev, "y.weight", VTP_LOAD_F32, VTP_WEIGHTS_KEEP, 2, (gint64[]) { 1, 3 }, &error);
  g_assert_no_error (error);
  g_assert_cmpint (t->dtype, ==, VTP_DTYPE_F32);
  f = vtp_tensor_read_f32 (t, &error);
  g_assert_cmpfloat (f[0], ==, vtp_bf16_to_f32 (0x0100));
  g_assert_null (vtp_checkpoint_load (c, dev, "x.weight", VTP_LOAD_MATRIX, VTP_WEIGHTS_KEEP, 2, (gint64[]) { 2, 3 },
          &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "model-00001-of-00002.safetensors: tensor 'x.weight' has shape [2, 2], "
          "expected [2, 3]"));
  g_clear_error (&error);
  g_assert_null (vtp_checkpoint_load (c, dev, "nope", VTP_LOAD_F32, VTP_WEIGHTS_KEEP, 1, (gint64[]) { 1 }, &error));
  g_assert_nonnull (strstr (error->message, "has no tensor 'nope'"));
  g_clear_error (&error);
  g_clear_pointer (&c, vtp_checkpoint_unref);
  g_clear_pointer (&again, vtp_checkpoint_unref);

  /* a weight_map that is not an object, an index that is not one, a file
   * name that is not a string (were Json-CRITICALs) */
  {
    const char *bad[] = { "{\"weight_map\": []}", "[1, 2]", "{\"weight_map\": {\"x.weight\": 3}}" };
    const char *want[] = { "has no \"weight_map\" object", "expected a JSON object at the top", "is not a file name" };
    for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
      g_autofree char *p = write_file ("model.safetensors.index.json", bad[i], strlen (bad[i]));
      g_assert_null (vtp_checkpoint_open (tmpdir, &error));
      if (!strstr (error->message, want[i]))
        g_error ("index %s: \"%s\" does not say \"%s\"", bad[i], error->message, want[i]);
      g_clear_error (&error);
    }
  }

  /* an index that promises a tensor its shard does not hold */
  {
    const char *bad = "{\"weight_map\":{\"x.weight\":\"model-00001-of-00002.safetensors\","
        "\"q.weight\":\"model-00002-of-00002.safetensors\"}}";
    g_autofree char *p = write_file ("model.safetensors.index.json", bad, strlen (bad));
    g_assert_null (vtp_checkpoint_open (tmpdir, &error));
    g_assert_nonnull (strstr (error->message, "lists tensor 'q.weight' in model-00002-of-00002.safetensors, which "
            "does not hold it"));
    g_clear_error (&error);
  }
  g_unlink (s1);
  g_unlink (s2);
  g_unlink (ip);
  g_unlink (cp);
}

static JsonObject *parse_object (JsonParser *p, const char *json);

/* Config fields of the right name and the wrong JSON type: errors naming
 * the field (the fuzz campaign found eos_token_id [[2]] raising a
 * Json-CRITICAL; image_mean's elements likewise). */
static void
test_config_wrong_types (void)
{
  static const char *const eos[] = { "[[2]]", "[\"2\"]", "[2, {}]", "[1e40]" };
  static const char *const means[] = { "[[0.5], 0.4, 0.4]", "[\"a\", 0.4, 0.4]", "\"0.5\"", "[0.5, null, 0.4]" };

  for (guint i = 0; i < G_N_ELEMENTS (eos); i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf ("{\"eos_token_id\": %s}", eos[i]);
    VtpLlamaConfig c;
    g_assert_false (vtp_llama_config_parse (parse_object (p, json), "config.json", &c, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
    g_assert_nonnull (strstr (error->message, "eos_token_id"));
  }
  for (guint i = 0; i < G_N_ELEMENTS (means); i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf ("{\"image_mean\": %s}", means[i]);
    VtpImageConfig c = { 0 };
    g_assert_false (vtp_image_config_parse (parse_object (p, json), "preprocessor_config.json", &c, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
    g_assert_nonnull (strstr (error->message, "image_mean"));
  }
}

static JsonObject *
parse_object (JsonParser *p, const char *json)
{
  g_autoptr (GError) error = NULL;
  g_assert_true (json_parser_load_from_data (p, json, -1, &error));
  return json_node_get_object (json_parser_get_root (p));
}

/* llava-1.5-7b-hf's config.json lists only what differs from the defaults. */
static void
test_llava_config_defaults (void)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  VtpLlavaConfig c;
  JsonObject *o = parse_object (p,
      "{\"architectures\":[\"LlavaForConditionalGeneration\"],\"ignore_index\":-100,\"image_token_index\":32000,"
      "\"model_type\":\"llava\",\"pad_token_id\":32001,\"projector_hidden_act\":\"gelu\","
      "\"text_config\":{\"_name_or_path\":\"lmsys/vicuna-7b-v1.5\",\"architectures\":[\"LlamaForCausalLM\"],"
      "\"max_position_embeddings\":4096,\"model_type\":\"llama\",\"rms_norm_eps\":1e-05,\"torch_dtype\":\"float16\","
      "\"vocab_size\":32064},\"tie_word_embeddings\":false,\"torch_dtype\":\"float16\","
      "\"vision_config\":{\"hidden_size\":1024,\"image_size\":336,\"intermediate_size\":4096,"
      "\"model_type\":\"clip_vision_model\",\"num_attention_heads\":16,\"num_hidden_layers\":24,\"patch_size\":14,"
      "\"projection_dim\":768,\"vocab_size\":32000},\"vision_feature_layer\":-2,"
      "\"vision_feature_select_strategy\":\"default\",\"vocab_size\":32064}");

  g_assert_true (vtp_llava_config_parse (o, "config.json", &c, &error));
  g_assert_no_error (error);
  g_assert_cmpint (c.vision.hidden_act, ==, VTP_ACT_QUICK_GELU);
  g_assert_cmpfloat (c.vision.layer_norm_eps, ==, 1e-5f);
  g_assert_cmpint (c.text.hidden_size, ==, 4096);
  g_assert_cmpint (c.text.num_hidden_layers, ==, 32);
  g_assert_cmpint (c.text.num_key_value_heads, ==, 32);
  g_assert_cmpint (c.text.head_dim, ==, 128);
  g_assert_cmpint (c.text.intermediate_size, ==, 11008);
  g_assert_cmpfloat (c.text.rope_theta, ==, 10000.0f);
  g_assert_cmpint (c.text.n_eos, ==, 1);
  g_assert_cmpint (c.text.eos_token_id[0], ==, 2);
  g_assert_cmpint (c.image_token_index, ==, 32000);
  g_assert_cmpint (c.n_feature_layers, ==, 1);
  g_assert_cmpint (vtp_vision_config_hidden_index (&c.vision, c.feature_layers[0]), ==, 23);
  g_assert_false (c.keep_cls);
  g_assert_cmpint (c.projector_type, ==, VTP_PROJECTOR_MLP2X_GELU);
  g_assert_true (c.projector_bias);
}

/* projector_hidden_act: the ACT2FN names transformers runs that vtp
 * computes (silu was accepted here, then refused at the first frame). */
static void
test_projector_activations (void)
{
  const struct { const char *name; VtpActivation act; } cases[] = {
    { "gelu", VTP_ACT_GELU }, { "silu", VTP_ACT_SILU }, { "relu", VTP_ACT_RELU },
    { "quick_gelu", VTP_ACT_QUICK_GELU }, { "gelu_pytorch_tanh", VTP_ACT_GELU_TANH }, { "gelu_new", VTP_ACT_GELU_TANH },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (JsonParser) p = json_parser_new ();
    g_autoptr (GError) error = NULL;
    g_autofree char *json = g_strdup_printf ("{\"projector_hidden_act\":\"%s\","
        "\"text_config\":{\"vocab_size\":32064}}", cases[i].name);
    VtpLlavaConfig c;
    g_assert_true (vtp_llava_config_parse (parse_object (p, json), "config.json", &c, &error));
    g_assert_no_error (error);
    g_assert_cmpint (c.projector_act, ==, cases[i].act);
  }
}

static void
expect_config_error (const char *json, const char *needle)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  g_autoptr (GError) error = NULL;
  VtpLlavaConfig c;

  g_assert_false (vtp_llava_config_parse (parse_object (p, json), "config.json", &c, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, needle));
}

static void
test_config_errors (void)
{
  expect_config_error ("{\"text_config\":{\"hidden_size\":\"big\"}}",
      "config.json: text_config: hidden_size is \"big\", expected an integer");
  expect_config_error ("{\"text_config\":{\"num_attention_heads\":32,\"num_key_value_heads\":5}}",
      "num_attention_heads 32 is not a multiple of num_key_value_heads 5");
  expect_config_error ("{\"vision_feature_layer\":-30}", "vision_feature_layer -30 is outside the 25 hidden states");
  expect_config_error ("{\"vision_feature_select_strategy\":\"cls\"}", "expected \"default\" or \"full\"");
  expect_config_error ("{\"text_config\":{\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":4}}}",
      "text_config: rope_scaling: rope_type \"yarn\" is not supported (default RoPE and Llama 3's \"llama3\" are)");
  expect_config_error ("{\"text_config\":{\"model_type\":\"mistral\",\"sliding_window\":0}}",
      "text_config: sliding_window 0 must be positive (or null)");
  expect_config_error ("{\"text_config\":{\"model_type\":\"qwen2\",\"use_sliding_window\":true,"
      "\"sliding_window\":0}}", "text_config: sliding_window 0 must be positive (or null)");
  /* a window caps the context (whole attention is exact up to it): Qwen2's
   * only when used, Mistral's when set */
  {
    static const struct { const char *json; gint positions; } cases[] = {
      { "{\"model_type\":\"qwen2\",\"use_sliding_window\":true,\"sliding_window\":100}", 100 },
      { "{\"model_type\":\"qwen2\",\"use_sliding_window\":false,\"sliding_window\":100}", 2048 },
      { "{\"model_type\":\"qwen2\",\"use_sliding_window\":true,\"sliding_window\":null}", 2048 },
      { "{\"model_type\":\"mistral\",\"sliding_window\":100}", 100 },
      { "{\"model_type\":\"mistral\",\"sliding_window\":null}", 2048 },
      { "{\"model_type\":\"llama\",\"sliding_window\":100}", 2048 },
    };
    for (guint k = 0; k < G_N_ELEMENTS (cases); k++) {
      g_autoptr (JsonParser) p = json_parser_new ();
      g_autoptr (GError) error = NULL;
      VtpLlamaConfig t;
      g_assert_true (vtp_llama_config_parse (parse_object (p, cases[k].json), "config.json", &t, &error));
      g_assert_no_error (error);
      g_assert_cmpint (t.max_position_embeddings, ==, cases[k].positions);
    }
  }
  expect_config_error ("{\"text_config\":{\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8}}}",
      "rope_type \"llama3\" needs factor, low_freq_factor, high_freq_factor and original_max_position_embeddings");
  expect_config_error ("{\"text_config\":{\"rope_parameters\":{\"rope_type\":\"llama3\",\"factor\":8,"
      "\"low_freq_factor\":4,\"high_freq_factor\":1,\"original_max_position_embeddings\":8192}}}",
      "text_config: rope_parameters: rope_type \"llama3\" needs factor > 0, high_freq_factor > low_freq_factor > 0");
  /* refused when the config is read, naming what vtp has */
  expect_config_error ("{\"projector_hidden_act\":\"relu6\"}", "activation \"relu6\" is not supported (vtp has "
      "gelu, gelu_python, quick_gelu, gelu_pytorch_tanh, gelu_new, gelu_fast, gelu_accurate, silu, swish, relu)");
  expect_config_error ("{\"vision_config\":{\"image_size\":100,\"patch_size\":14}}",
      "image_size 100 is not a multiple of patch_size 14");
  /* (image_size / patch_size)² overflowed an int (UBSan), and the shape
   * error that followed showed the wrapped count */
  expect_config_error ("{\"vision_config\":{\"image_size\":393216,\"patch_size\":6}}",
      "vision_config: image_size 393216 / patch_size 6 makes 4294967297 patch tokens");
  expect_config_error ("{\"image_token_index\":40000}", "image_token_index 40000 is outside the vocabulary of 32000");
}

/* @before, @depth nested arrays, @after */
static char *
nested (const char *before, guint depth, const char *after)
{
  GString *s = g_string_new (before);
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, '[');
  for (guint i = 0; i < depth; i++)
    g_string_append_c (s, ']');
  g_string_append (s, after);
  return g_string_free (s, FALSE);
}

static gboolean
json_loads (const char *text, GError **error)
{
  g_autoptr (JsonParser) p = json_parser_new ();
  return vtp_json_parser_load (p, text, -1, error);
}

/* json-glib recurses once per level: JSON nested 100,000 deep overflowed
 * the stack (a SIGSEGV in vtp-run and gst-launch alike). Every file is
 * read through vtp_json_parser_load, which refuses nesting deeper than
 * VTP_JSON_MAX_DEPTH before json-glib sees it. */
static void
test_json_depth (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *ok = nested ("{\"a\": ", VTP_JSON_MAX_DEPTH - 1, "}");
  g_autofree char *deep = nested ("{\"a\": ", 100000, "}");
  g_autofree char *strings = NULL;
  g_autofree char *comment = nested ("{\"a\": /\"/ ", 100000, " /\"/}");
  g_autofree char *quoted = nested ("{\"a\": '\\', \"b\": ", 100000, "}");
  g_autofree char *header = nested ("{\"__metadata__\": ", 100000, "}");
  g_autofree char *st = write_safetensors ("deep.safetensors", header, 0);
  g_autofree char *cp = NULL;
  GString *s = g_string_new ("{\"a\": [");

  g_assert_true (json_loads (ok, &error));
  g_assert_no_error (error);
  g_assert_false (json_loads (deep, &error));
  g_assert_error (error, VTP_JSON_ERROR, VTP_JSON_ERROR_DEPTH);
  g_assert_nonnull (strstr (error->message, "nested deeper than 512 levels (at byte 517)"));
  g_clear_error (&error);
  /* brackets in strings, escaped quotes too, are not nesting */
  for (guint i = 0; i < 2000; i++)
    g_string_append (s, "\"[{\\\"[\", ");
  g_string_append (s, "\"\"]}");
  strings = g_string_free (s, FALSE);
  g_assert_true (json_loads (strings, &error));
  g_assert_no_error (error);
  /* json-glib 1.6 skips '/' to '/' as a comment, and reads '\\' as a
   * string: a quote in either cannot hide the nesting after it */
  g_assert_false (json_loads (comment, &error));
  g_assert_error (error, VTP_JSON_ERROR, VTP_JSON_ERROR_DEPTH);
  g_clear_error (&error);
  g_assert_false (json_loads (quoted, &error));
  g_assert_error (error, VTP_JSON_ERROR, VTP_JSON_ERROR_DEPTH);
  g_clear_error (&error);
  g_assert_false (json_loads ("  ", &error));
  g_assert_error (error, VTP_JSON_ERROR, VTP_JSON_ERROR_EMPTY);
  g_clear_error (&error);

  /* each reader names its file */
  g_assert_null (vtp_safetensors_open (st, &error));
  g_assert_nonnull (strstr (error->message, "deep.safetensors: the safetensors header"));
  g_assert_nonnull (strstr (error->message, "nested deeper than 512 levels"));
  g_clear_error (&error);
  g_assert_null (vtp_tokenizer_new_from_data (deep, -1, "deep/tokenizer.json", &error));
  g_assert_nonnull (strstr (error->message, "deep/tokenizer.json"));
  g_assert_nonnull (strstr (error->message, "nested deeper than 512 levels"));
  g_clear_error (&error);
  g_assert_null (vtp_wordpiece_new_from_data (deep, -1, "deep/tokenizer.json", &error));
  g_assert_nonnull (strstr (error->message, "deep/tokenizer.json"));
  g_assert_nonnull (strstr (error->message, "nested deeper than 512 levels"));
  g_clear_error (&error);
  cp = write_file ("config.json", deep, strlen (deep));
  g_assert_null (vtp_checkpoint_open (tmpdir, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "config.json is not valid JSON: arrays and objects nested deeper"));
  g_clear_error (&error);
  /* an empty config.json: an error, not a Json-CRITICAL on its NULL root */
  g_assert_true (g_file_set_contents (cp, "", 0, NULL));
  g_assert_null (vtp_checkpoint_open (tmpdir, &error));
  g_assert_nonnull (strstr (error->message, "config.json is not valid JSON: the document is empty"));
  g_clear_error (&error);
  g_unlink (cp);
  g_unlink (st);
}

/* The mapped bytes a load gives back to the kernel are those of the rows it
 * read, never past the tensor: Q-Former's query_tokens [1, 32, 768] are read
 * as [32, 768], and a range computed from the file's first dimension ran 32
 * tensors long, into whatever was mapped next (the heap, in the world test). */
static void
test_rows_range (void)
{
  VtpStTensor t = { 0 };
  gsize begin, end;

  t.dtype = VTP_DTYPE_F32;
  t.ndim = 3;
  t.shape[0] = 1;
  t.shape[1] = 32;
  t.shape[2] = 768;
  t.n_bytes = 32 * 768 * 4;
  vtp_st_tensor_rows_range (&t, VTP_LOAD_TABLE, VTP_MAT (32, 768), 0, 32, &begin, &end);
  g_assert_cmpuint (begin, ==, 0);
  g_assert_cmpuint (end, ==, t.n_bytes);
  vtp_st_tensor_rows_range (&t, VTP_LOAD_TABLE, VTP_MAT (32, 768), 8, 16, &begin, &end);
  g_assert_cmpuint (begin, ==, 8 * 768 * 4);
  g_assert_cmpuint (end, ==, 24 * 768 * 4);
  /* rows past the end are clamped */
  vtp_st_tensor_rows_range (&t, VTP_LOAD_TABLE, VTP_MAT (64, 768), 16, 48, &begin, &end);
  g_assert_cmpuint (begin, ==, 16 * 768 * 4);
  g_assert_cmpuint (end, ==, t.n_bytes);

  /* the third of a fused Q8_0 qkv weight: 34 bytes per block of 32 */
  t.dtype = VTP_DTYPE_Q8_0;
  t.ndim = 2;
  t.shape[0] = 96;
  t.shape[1] = 64;
  t.n_bytes = 96 * 2 * 34;
  vtp_st_tensor_rows_range (&t, VTP_LOAD_MATRIX, VTP_MAT (96, 64), 32, 32, &begin, &end);
  g_assert_cmpuint (begin, ==, 32 * 68);
  g_assert_cmpuint (end, ==, 64 * 68);
  /* rows that are not whole blocks cannot be told apart: nothing */
  vtp_st_tensor_rows_range (&t, VTP_LOAD_MATRIX, VTP_MAT (192, 32 + 16), 32, 32, &begin, &end);
  g_assert_cmpuint (end, <=, begin);
}

int
main (int argc, char **argv)
{
  int ret;
  g_test_init (&argc, &argv, NULL);
  tmpdir = g_dir_make_tmp ("vtp-loader-XXXXXX", NULL);
  g_test_add_func ("/loader/safetensors", test_safetensors);
  g_test_add_func ("/loader/rows-range", test_rows_range);
  g_test_add_func ("/loader/sharded-directory", test_sharded_directory);
  g_test_add_func ("/loader/llava-config-defaults", test_llava_config_defaults);
  g_test_add_func ("/loader/config-errors", test_config_errors);
  g_test_add_func ("/loader/projector-activations", test_projector_activations);
  g_test_add_func ("/loader/json-depth", test_json_depth);
  g_test_add_func ("/loader/config-wrong-types", test_config_wrong_types);
  ret = g_test_run ();
  {
    GDir *d = g_dir_open (tmpdir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name (d))) {
      g_autofree char *p = g_build_filename (tmpdir, n, NULL);
      g_unlink (p);
    }
    if (d)
      g_dir_close (d);
    g_rmdir (tmpdir);
  }
  return ret;
}
