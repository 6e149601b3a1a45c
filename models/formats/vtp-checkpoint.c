#include "vtp-checkpoint.h"
#include "vtp-linear.h"
#include "vtp-quant.h"
#include "vtp-host-threads.h"
#include "vtp-gguf-checkpoint.h"
#include "vtp-json.h"
#include "vtp-model-path.h"
#include <string.h>

static GMutex cache_lock;
static GHashTable *cache;       /* canonical dir -> VtpCheckpoint (removed on last unref) */

/* The lookup (vtp-model-path.h) with its message as an error. */
static char *
resolve_model_dir (const char *model, GError **error)
{
  g_autofree char *why = NULL;
  char *found = vtp_model_path_resolve (model, &why);

  if (!found)
    g_set_error_literal (error, VTP_ERROR, VTP_ERROR_FILE, why);
  return found;
}

static gboolean
ggufs_in_dir (const char *dir, char **text, char **mmproj, GError **error)
{
  g_autofree char *why = NULL;

  if (vtp_model_path_ggufs_in_dir (dir, text, mmproj, &why))
    return TRUE;
  g_set_error_literal (error, VTP_ERROR, VTP_ERROR_FILE, why);
  return FALSE;
}

static void
checkpoint_free (VtpCheckpoint *c)
{
  if (c->tensors)
    g_hash_table_unref (c->tensors);
  if (c->files)
    g_ptr_array_unref (c->files);
  if (c->gguf_tensors)
    g_ptr_array_unref (c->gguf_tensors);
  g_clear_pointer (&c->gguf, vtp_gguf_free);
  g_clear_pointer (&c->gguf_vision, vtp_gguf_free);
  g_clear_object (&c->processor_parser);
  g_clear_object (&c->config_parser);
  g_free (c->dir);
  g_free (c);
}

static gboolean
add_file (VtpCheckpoint *c, const char *basename, GError **error)
{
  g_autofree char *path = g_build_filename (c->dir, basename, NULL);
  VtpSafetensors *st = vtp_safetensors_open (path, error);
  GHashTableIter it;
  gpointer name, t;

  if (!st)
    return FALSE;
  g_ptr_array_add (c->files, st);
  g_hash_table_iter_init (&it, st->tensors);
  while (g_hash_table_iter_next (&it, &name, &t))
    g_hash_table_insert (c->tensors, name, t);
  return TRUE;
}

/* Opens the shards an index lists, and checks that each holds what the
 * index promises. */
static gboolean
open_sharded (VtpCheckpoint *c, GError **error)
{
  g_autoptr (JsonParser) p = vtp_checkpoint_read_json (c, "model.safetensors.index.json", FALSE, error);
  JsonObject *root, *map;
  GList *names;
  g_autoptr (GHashTable) opened = g_hash_table_new (g_str_hash, g_str_equal);
  gboolean ok = TRUE;

  if (!p)
    return FALSE;
  {
    JsonNode *r = json_parser_get_root (p), *m;
    root = r && JSON_NODE_HOLDS_OBJECT (r) ? json_node_get_object (r) : NULL;
    m = root && json_object_has_member (root, "weight_map") ? json_object_get_member (root, "weight_map") : NULL;
    map = m && JSON_NODE_HOLDS_OBJECT (m) ? json_node_get_object (m) : NULL;
  }
  if (!map) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s/model.safetensors.index.json has no \"weight_map\" object", c->dir);
    return FALSE;
  }
  names = json_object_get_members (map);
  for (GList *l = names; l && ok; l = l->next) {
    JsonNode *f = json_object_get_member (map, l->data);
    const char *file = JSON_NODE_HOLDS_VALUE (f) && json_node_get_value_type (f) == G_TYPE_STRING ?
        json_node_get_string (f) : NULL;
    if (!file || strchr (file, '/')) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
          "%s/model.safetensors.index.json: weight_map[\"%s\"] is not a file name", c->dir, (char *) l->data);
      ok = FALSE;
    } else if (!g_hash_table_contains (opened, file)) {
      g_hash_table_add (opened, (gpointer) file);
      ok = add_file (c, file, error);
    }
  }
  for (GList *l = names; l && ok; l = l->next)
    if (!g_hash_table_contains (c->tensors, l->data)) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FILE,
          "%s/model.safetensors.index.json lists tensor '%s' in %s, which does not hold it",
          c->dir, (char *) l->data, json_object_get_string_member (map, l->data));
      ok = FALSE;
    }
  g_list_free (names);
  return ok;
}

static VtpCheckpoint *
checkpoint_new (const char *dir, GError **error)
{
  VtpCheckpoint *c = g_new0 (VtpCheckpoint, 1);
  g_autofree char *index = NULL, *single = NULL, *bin = NULL, *peft = NULL, *peft_weights = NULL, *config = NULL;
  gboolean ok;

  c->ref_count = 1;
  c->dir = g_strdup (dir);
  c->files = g_ptr_array_new_with_free_func ((GDestroyNotify) vtp_safetensors_free);
  c->tensors = g_hash_table_new (g_str_hash, g_str_equal);
  /* a PEFT adapter directory has adapter_config.json and adapter_model.safetensors */
  peft = vtp_checkpoint_file (c, "adapter_config.json");
  peft_weights = vtp_checkpoint_file (c, "adapter_model.safetensors");
  config = vtp_checkpoint_file (c, "config.json");
  if (g_file_test (dir, G_FILE_TEST_IS_REGULAR) || (!g_file_test (config, G_FILE_TEST_EXISTS)
          && !g_file_test (peft, G_FILE_TEST_EXISTS))) {
    g_autofree char *text = NULL, *mmproj = NULL;
    const char *paths[3] = { dir, NULL, NULL };
    if (!g_file_test (dir, G_FILE_TEST_IS_REGULAR)) {
      /* a directory of GGUF files (the lookup chose it for holding a pair) */
      if (!ggufs_in_dir (dir, &text, &mmproj, error)) {
        checkpoint_free (c);
        return NULL;
      }
      paths[0] = text ? text : mmproj;
      paths[1] = text ? mmproj : NULL;
    }
    if (paths[0] && vtp_gguf_checkpoint_fill (c, paths, error))
      return c;
    if (!paths[0])
      g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "%s has no config.json, adapter_config.json nor .gguf "
          "file", dir);
    checkpoint_free (c);
    return NULL;
  }
  c->config_parser = vtp_checkpoint_read_json (c, !g_file_test (config, G_FILE_TEST_EXISTS)
      && g_file_test (peft, G_FILE_TEST_EXISTS) ? "adapter_config.json" : "config.json", FALSE, error);
  if (!c->config_parser) {
    checkpoint_free (c);
    return NULL;
  }
  c->config = json_node_get_object (json_parser_get_root (c->config_parser));

  index = vtp_checkpoint_file (c, "model.safetensors.index.json");
  single = vtp_checkpoint_file (c, "model.safetensors");
  bin = vtp_checkpoint_file (c, "pytorch_model.bin");
  if (g_file_test (index, G_FILE_TEST_EXISTS))
    ok = open_sharded (c, error);
  else if (g_file_test (single, G_FILE_TEST_EXISTS))
    ok = add_file (c, "model.safetensors", error);
  else if (g_file_test (peft_weights, G_FILE_TEST_EXISTS))
    ok = add_file (c, "adapter_model.safetensors", error);
  else {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE,
        "%s has no model.safetensors nor model.safetensors.index.json%s", dir,
        g_file_test (bin, G_FILE_TEST_EXISTS) ? " (only PyTorch .bin weights, which vtp does not read: "
        "convert them to safetensors)" : "");
    ok = FALSE;
  }
  if (!ok) {
    checkpoint_free (c);
    return NULL;
  }
  return c;
}

VtpCheckpoint *
vtp_checkpoint_open (const char *model, GError **error)
{
  g_autofree char *dir = resolve_model_dir (model, error);
  VtpCheckpoint *c;

  if (!dir)
    return NULL;
  g_mutex_lock (&cache_lock);
  if (!cache)
    cache = g_hash_table_new (g_str_hash, g_str_equal);
  c = g_hash_table_lookup (cache, dir);
  if (c)
    g_atomic_int_inc (&c->ref_count);
  else if ((c = checkpoint_new (dir, error)))
    g_hash_table_insert (cache, c->dir, c);
  g_mutex_unlock (&cache_lock);
  return c;
}

VtpCheckpoint *
vtp_checkpoint_ref (VtpCheckpoint *c)
{
  g_atomic_int_inc (&c->ref_count);
  return c;
}

void
vtp_checkpoint_unref (VtpCheckpoint *c)
{
  if (!c)
    return;
  g_mutex_lock (&cache_lock);
  if (g_atomic_int_dec_and_test (&c->ref_count)) {
    if (cache && g_hash_table_lookup (cache, c->dir) == c)
      g_hash_table_remove (cache, c->dir);
    checkpoint_free (c);
  }
  g_mutex_unlock (&cache_lock);
}

const VtpStTensor *
vtp_checkpoint_find (VtpCheckpoint *c, const char *name)
{
  return g_hash_table_lookup (c->tensors, name);
}

const char *
vtp_checkpoint_find_prefix (VtpCheckpoint *c, const char *const *prefixes, const char *probe,
    const char *part, GError **error)
{
  GString *tried = g_string_new (NULL);

  for (guint i = 0; prefixes[i]; i++) {
    g_autofree char *name = g_strconcat (prefixes[i], probe, NULL);
    if (vtp_checkpoint_find (c, name)) {
      g_string_free (tried, TRUE);
      return prefixes[i];
    }
    g_string_append_printf (tried, "%s'%s'", i ? ", " : "", name);
  }
  g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
      "%s holds no %s: none of the tensors %s exists", c->dir, part, tried->str);
  g_string_free (tried, TRUE);
  return NULL;
}

char *
vtp_checkpoint_file (VtpCheckpoint *c, const char *file)
{
  return g_build_filename (c->dir, file, NULL);
}

JsonParser *
vtp_checkpoint_read_json (VtpCheckpoint *c, const char *file, gboolean optional, GError **error)
{
  g_autofree char *path = vtp_checkpoint_file (c, file);
  g_autoptr (JsonParser) p = NULL;
  g_autoptr (GError) local = NULL;

  if (!g_file_test (path, G_FILE_TEST_EXISTS)) {
    if (!optional)
      g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "%s is missing", path);
    return NULL;
  }
  p = json_parser_new ();
  if (!vtp_json_parser_load_file (p, path, &local)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s is not valid JSON: %s", path, local->message);
    return NULL;
  }
  if (!JSON_NODE_HOLDS_OBJECT (json_parser_get_root (p))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: expected a JSON object at the top", path);
    return NULL;
  }
  return g_steal_pointer (&p);
}

/* Compares shapes ignoring leading 1s. */
static gboolean
same_shape (gint n1, const gint64 *s1, gint n2, const gint64 *s2)
{
  while (n1 > 0 && s1[0] == 1 && n1 > n2) {
    s1++;
    n1--;
  }
  while (n2 > 0 && s2[0] == 1 && n2 > n1) {
    s2++;
    n2--;
  }
  if (n1 != n2)
    return FALSE;
  for (gint i = 0; i < n1; i++)
    if (s1[i] != s2[i])
      return FALSE;
  return TRUE;
}

/* Elements of @t (the product of its shape). */
static gsize
st_n_elements (const VtpStTensor *t)
{
  gsize n = 1;
  for (gint i = 0; i < t->ndim; i++)
    n *= (gsize) t->shape[i];
  return n;
}

/* Whether vtp computes with @t's type: the float types, and the block
 * types of a GGUF. */
static gboolean
st_readable (const VtpStTensor *t, GError **error)
{
  if (t->dtype_supported && (t->dtype == VTP_DTYPE_F32 || t->dtype == VTP_DTYPE_F16 || t->dtype == VTP_DTYPE_BF16
          || vtp_dtype_is_quantized (t->dtype)))
    return TRUE;
  g_autofree char *gguf_name = g_str_has_suffix (t->file, ".gguf") ? vtp_gguf_tensor_name (t->name) : NULL;
  g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s'%s%s%s is stored as %s; vtp reads F32, F16 and "
      "BF16 weights (and, from GGUF files, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, IQ3_XXS, IQ3_S, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S and IQ1_M)", t->file, t->name,
      gguf_name ? " (" : "", gguf_name ? gguf_name : "", gguf_name ? " in GGUF names)" : "", t->dtype_name);
  return FALSE;
}

float *
vtp_st_tensor_to_f32 (const VtpStTensor *t, GError **error)
{
  const gsize n = st_n_elements (t);
  float *out;

  if (!st_readable (t, error))
    return NULL;
  out = g_new (float, MAX (n, 1));
  if (vtp_dtype_is_quantized (t->dtype)) {
    /* a row of a block type is whole blocks (the GGUF reader checked the
     * extent), dequantized as ggml does */
    const gint64 cols = t->ndim ? t->shape[t->ndim - 1] : 1;
    const gsize row_bytes = vtp_dtype_row_bytes (t->dtype, cols);
    for (gsize r = 0; r < n / MAX (cols, 1); r++)
      vtp_dequantize_row (t->dtype, t->data + r * row_bytes, cols, out + r * cols);
    return out;
  }
  for (gsize i = 0; i < n; i++) {
    guint16 h;
    switch (t->dtype) {
      case VTP_DTYPE_F32: memcpy (&out[i], t->data + 4 * i, 4); break;
      case VTP_DTYPE_F16: memcpy (&h, t->data + 2 * i, 2); out[i] = vtp_f16_to_f32 (h); break;
      default: memcpy (&h, t->data + 2 * i, 2); out[i] = vtp_bf16_to_f32 (h); break;
    }
  }
  return out;
}

/* Converts the host data of @t to @want (F32, F16 or BF16); returns a new
 * buffer. */
static gpointer
convert_weights (const VtpStTensor *t, VtpDType want, GError **error)
{
  const gsize n = st_n_elements (t);
  float *f = vtp_st_tensor_to_f32 (t, error);
  guint16 *h;

  if (!f || want == VTP_DTYPE_F32)
    return f;
  h = g_new (guint16, MAX (n, 1));
  for (gsize i = 0; i < n; i++)
    h[i] = want == VTP_DTYPE_BF16 ? vtp_f32_to_bf16 (f[i]) : vtp_f32_to_f16 (f[i]);
  g_free (f);
  return h;
}

gboolean
vtp_weight_type_from_name (const char *name, VtpWeightType *out)
{
  static const char *const names[] = { "auto", "f32", "f16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "bf16", "q4_1", "q5_0",
    "q5_1", "q3_k", "q2_k", "iq4_nl", "iq4_xs" };
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_strcmp0 (name, names[i]) == 0) {
      *out = (VtpWeightType) i;
      return TRUE;
    }
  return FALSE;
}

/* The block type @wtype quantizes matrices to; VTP_DTYPE_F32 for the
 * float choices. */
static VtpDType
quantized_type (VtpWeightType wtype)
{
  switch (wtype) {
    case VTP_WEIGHTS_Q8_0: return VTP_DTYPE_Q8_0;
    case VTP_WEIGHTS_Q4_0: return VTP_DTYPE_Q4_0;
    case VTP_WEIGHTS_Q4_K: return VTP_DTYPE_Q4_K;
    case VTP_WEIGHTS_Q5_K: return VTP_DTYPE_Q5_K;
    case VTP_WEIGHTS_Q6_K: return VTP_DTYPE_Q6_K;
    case VTP_WEIGHTS_Q4_1: return VTP_DTYPE_Q4_1;
    case VTP_WEIGHTS_Q5_0: return VTP_DTYPE_Q5_0;
    case VTP_WEIGHTS_Q5_1: return VTP_DTYPE_Q5_1;
    case VTP_WEIGHTS_Q3_K: return VTP_DTYPE_Q3_K;
    case VTP_WEIGHTS_Q2_K: return VTP_DTYPE_Q2_K;
    case VTP_WEIGHTS_IQ4_NL: return VTP_DTYPE_IQ4_NL;
    case VTP_WEIGHTS_IQ4_XS: return VTP_DTYPE_IQ4_XS;
    default: return VTP_DTYPE_F32;
  }
}

/* The block type llama-quantize writes instead of @q for rows that are not
 * whole blocks of @q (llama.cpp's tensor_type_fallback): the 256-blocks'
 * 32-block stand-ins; @q itself for the 32-block types. */
static VtpDType
fallback_type (VtpDType q)
{
  switch (q) {
    case VTP_DTYPE_Q4_K: return VTP_DTYPE_Q5_0;
    case VTP_DTYPE_Q5_K: return VTP_DTYPE_Q5_1;
    case VTP_DTYPE_Q6_K: return VTP_DTYPE_Q8_0;
    case VTP_DTYPE_Q3_K: case VTP_DTYPE_Q2_K: return VTP_DTYPE_Q4_0;
    case VTP_DTYPE_IQ4_XS: return VTP_DTYPE_IQ4_NL;
    default: return q;
  }
}

/* The block type a matrix whose rows hold @k elements gets for @wtype: its
 * own where the rows are whole blocks of it, else its fallback where they
 * are whole blocks of that; VTP_DTYPE_F32 for neither (or a float choice):
 * the matrix keeps the checkpoint's type. */
static VtpDType
matrix_type (VtpWeightType wtype, gint64 k)
{
  const VtpDType q = quantized_type (wtype);

  if (q == VTP_DTYPE_F32)
    return q;
  if (k % vtp_dtype_block_elements (q) == 0)
    return q;
  if (k % vtp_dtype_block_elements (fallback_type (q)) == 0)
    return fallback_type (q);
  return VTP_DTYPE_F32;
}

/* Element (r, c) of the [rows, cols] host tensor @data of @dtype as float. */
static inline float
element_f32 (const guint8 *data, VtpDType dtype, gsize i)
{
  guint16 h;
  float f;
  switch (dtype) {
    case VTP_DTYPE_F32: memcpy (&f, data + 4 * i, 4); return f;
    case VTP_DTYPE_F16: memcpy (&h, data + 2 * i, 2); return vtp_f16_to_f32_inline (h);
    default: memcpy (&h, data + 2 * i, 2); return vtp_bf16_to_f32 (h);
  }
}

/* A matrix to quantize, its rows shared by the cores. */
typedef struct {
  const guint8 *data;
  VtpDType dtype, q;
  gint64 rows, cols;
  gboolean transposed;
  guint8 *blocks;
} QuantizeJob;

static void
quantize_rows (gint64 r0, gint64 r1, gpointer user_data)
{
  const QuantizeJob *j = user_data;
  const gsize row_bytes = vtp_dtype_row_bytes (j->q, j->cols);
  g_autofree float *f = g_new (float, j->cols);

  for (gint64 r = r0; r < r1; r++) {
    for (gint64 c = 0; c < j->cols; c++)
      f[c] = element_f32 (j->data, j->dtype, j->transposed ? (gsize) c * j->rows + r : (gsize) r * j->cols + c);
    vtp_quantize_row (j->q, f, j->cols, j->blocks + r * row_bytes);
  }
}

/* Quantizes the matrix @data (@dtype, [rows, cols] or, @transposed, stored
 * [cols, rows]) to @q, a row of floats at a time (no F32 copy of the whole
 * tensor) and the rows shared by the cores (the K-quants' scale search
 * costs about 70 ns a weight), then uploads it as a linear weight [rows, cols]. */
static VtpTensor *
quantize_matrix (VtpDevice *dev, const guint8 *data, VtpDType dtype, gint64 rows, gint64 cols,
    gboolean transposed, VtpDType q, GError **error)
{
  const gsize row_bytes = vtp_dtype_row_bytes (q, cols);
  g_autofree guint8 *blocks = g_try_malloc ((gsize) rows * row_bytes);
  QuantizeJob job = { data, dtype, q, rows, cols, transposed, blocks };

  if (!blocks) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "No host memory for %" G_GSIZE_FORMAT
        " bytes of %s weights", (gsize) rows * row_bytes, vtp_dtype_name (q));
    return NULL;
  }
  vtp_host_threads_run (rows, 1, 64, quantize_rows, &job);
  return vtp_linear_weight_new (dev, q, rows, cols, blocks, error);
}

const VtpStTensor *
vtp_checkpoint_get (VtpCheckpoint *c, const char *name, gint ndim, const gint64 *shape, GError **error)
{
  const VtpStTensor *t = vtp_checkpoint_find (c, name);

  if (!t) {
    g_autofree char *gguf_name = c->gguf ? vtp_gguf_tensor_name (name) : NULL;
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s has no tensor '%s'%s%s%s", c->dir, name,
        gguf_name ? " (" : "", gguf_name ? gguf_name : "", gguf_name ? " in GGUF names)" : "");
    return NULL;
  }
  if (!same_shape (t->ndim, t->shape, ndim, shape)) {
    g_autofree char *found = vtp_shape_to_string (t->ndim, t->shape);
    g_autofree char *want = vtp_shape_to_string (ndim, shape);
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "%s: tensor '%s' has shape %s, expected %s "
        "(from %s)", t->file, name, found, want, c->gguf ? "the GGUF metadata" : "config.json");
    return NULL;
  }
  return t;
}

VtpTensor *
vtp_checkpoint_load (VtpCheckpoint *c, VtpDevice *dev, const char *name, VtpLoadKind kind,
    VtpWeightType wtype, gint ndim, const gint64 *shape, GError **error)
{
  return vtp_checkpoint_load_rows (c, dev, name, kind, wtype, ndim, shape, 0, ndim ? shape[0] : 1, error);
}

static VtpTensor *
load_rows (VtpCheckpoint *c, VtpDevice *dev, const char *name, VtpLoadKind kind,
    VtpWeightType wtype, gint ndim, const gint64 *shape, gint64 row0, gint64 n_rows, GError **error)
{
  const VtpStTensor *t = vtp_checkpoint_get (c, name, ndim, shape, error);
  g_autofree gpointer converted = NULL;
  gconstpointer data;
  VtpDType dtype;
  gint64 cols = 1, flat[2], out_shape[VTP_MAX_DIMS];

  g_autofree float *dequantized = NULL;
  VtpStTensor view;

  if (!t || !st_readable (t, error))
    return NULL;

  for (gint i = 1; i < ndim; i++)
    cols *= shape[i];
  g_return_val_if_fail (row0 >= 0 && n_rows >= 0 && row0 + n_rows <= (ndim ? shape[0] : 1), NULL);

  /* A block-quantized tensor (from a GGUF) goes to the device as it is when
   * it is a matrix and the weight type keeps it; anything else (an F32 or
   * F16 request, another block type, a table, a vector) starts from its
   * dequantized values, as if the checkpoint held them in F32. */
  if (vtp_dtype_is_quantized (t->dtype)) {
    if (kind == VTP_LOAD_MATRIX && (wtype == VTP_WEIGHTS_KEEP || matrix_type (wtype, cols) == t->dtype))
      return vtp_linear_weight_new (dev, t->dtype, n_rows, cols,
          t->data + (gsize) row0 * vtp_dtype_row_bytes (t->dtype, cols), error);
    if (!(dequantized = vtp_st_tensor_to_f32 (t, error)))
      return NULL;
    view = *t;
    view.dtype = VTP_DTYPE_F32;
    view.data = (const guint8 *) dequantized;
    view.n_bytes = st_n_elements (t) * sizeof (float);
    t = &view;
  }

  /* Matrices whose rows are whole blocks are quantized, those whose rows are
   * whole 32-blocks but not 256-blocks to llama-quantize's fallback type
   * (Q4_K to Q5_0, ...: what its file of the same type holds there); the
   * others (a ViT's patch embedding with K = 3 x 14 x 14, an MLP of odd
   * width) and every other tensor keep the checkpoint's type. */
  if (kind == VTP_LOAD_MATRIX || kind == VTP_LOAD_MATRIX_T) {
    const VtpDType q = matrix_type (wtype, kind == VTP_LOAD_MATRIX ? cols : shape[0]);
    const gsize es = vtp_dtype_size (t->dtype);
    if (q != VTP_DTYPE_F32 && kind == VTP_LOAD_MATRIX)
      return quantize_matrix (dev, t->data + (gsize) row0 * cols * es, t->dtype, n_rows, cols, FALSE, q, error);
    if (q != VTP_DTYPE_F32)
      return quantize_matrix (dev, t->data, t->dtype, cols, shape[0], TRUE, q, error);
  }
  if (quantized_type (wtype) != VTP_DTYPE_F32)
    wtype = VTP_WEIGHTS_KEEP;

  dtype = t->dtype;
  if (kind == VTP_LOAD_F32 || wtype == VTP_WEIGHTS_F32)
    dtype = VTP_DTYPE_F32;
  else if (wtype == VTP_WEIGHTS_F16)
    dtype = VTP_DTYPE_F16;
  else if (wtype == VTP_WEIGHTS_BF16)
    dtype = VTP_DTYPE_BF16;
  data = t->data;
  if (dtype != t->dtype) {
    if (!(data = converted = convert_weights (t, dtype, error)))
      return NULL;
  }

  if (kind == VTP_LOAD_MATRIX_T) {
    /* [K, N] -> [N, K], whole tensor only */
    const gsize es = vtp_dtype_size (dtype);
    const guint8 *src = data;
    guint8 *t_data;
    g_return_val_if_fail (ndim == 2 && row0 == 0 && n_rows == shape[0], NULL);
    t_data = g_malloc ((gsize) shape[0] * cols * es);
    for (gint64 r = 0; r < shape[0]; r++)
      for (gint64 c2 = 0; c2 < cols; c2++)
        memcpy (t_data + ((gsize) c2 * shape[0] + r) * es, src + ((gsize) r * cols + c2) * es, es);
    g_free (converted);
    converted = t_data;
    return vtp_linear_weight_new (dev, dtype, cols, shape[0], t_data, error);
  }
  data = (const guint8 *) data + (gsize) row0 * cols * vtp_dtype_size (dtype);
  if (kind == VTP_LOAD_MATRIX)
    return vtp_linear_weight_new (dev, dtype, n_rows, cols, data, error);
  if (kind == VTP_LOAD_TABLE) {
    flat[0] = n_rows;
    flat[1] = cols;
    return vtp_tensor_new_from_data (dev, dtype, 2, flat, data, error);
  }
  out_shape[0] = n_rows;
  for (gint i = 1; i < ndim; i++)
    out_shape[i] = shape[i];
  return vtp_tensor_new_from_data (dev, dtype, MAX (ndim, 1), out_shape, data, error);
}

/* The bytes of @t that rows [row0, row0 + n_rows) of the requested shape
 * come from. That shape may differ from the file's (a [1, 32, 768] table read
 * as [32, 768]), so the range is computed from it, and it never leaves the
 * tensor: past the tensor's end may lie another mapping, even the heap. A
 * transposed load reads the whole tensor; a part of a tensor whose rows are
 * not whole blocks gives an empty range. */
void
vtp_st_tensor_rows_range (const VtpStTensor *t, VtpLoadKind kind, gint ndim, const gint64 *shape,
    gint64 row0, gint64 n_rows, gsize *begin, gsize *end)
{
  const gint64 rows = ndim ? shape[0] : 1;
  gint64 cols = 1;

  for (gint i = 1; i < ndim; i++)
    cols *= shape[i];
  *begin = 0;
  *end = t->n_bytes;
  if (kind == VTP_LOAD_MATRIX_T || (row0 == 0 && n_rows == rows))
    return;
  if (cols % vtp_dtype_block_elements (t->dtype) != 0 || row0 < 0 || n_rows < 0) {
    *end = 0;
    return;
  }
  *begin = MIN ((gsize) row0 * vtp_dtype_row_bytes (t->dtype, cols), t->n_bytes);
  *end = MIN ((gsize) (row0 + n_rows) * vtp_dtype_row_bytes (t->dtype, cols), t->n_bytes);
}

VtpTensor *
vtp_checkpoint_load_rows (VtpCheckpoint *c, VtpDevice *dev, const char *name, VtpLoadKind kind,
    VtpWeightType wtype, gint ndim, const gint64 *shape, gint64 row0, gint64 n_rows, GError **error)
{
  VtpTensor *d = load_rows (c, dev, name, kind, wtype, ndim, shape, row0, n_rows, error);

  /* the device holds these bytes now (converted, packed or quantized): the
   * mapped copy leaves this process's memory */
  if (d) {
    const VtpStTensor *t = vtp_checkpoint_find (c, name);
    gsize begin, end;
    vtp_st_tensor_rows_range (t, kind, ndim, shape, row0, n_rows, &begin, &end);
    if (end > begin)
      vtp_mapped_drop_pages (t->data + begin, end - begin);
  }
  return d;
}

static VtpTensor *
loader_get_valist (VtpLoader *l, VtpLoadKind kind, gint ndim, const gint64 *shape, gint64 row0, gint64 n_rows,
    const char *format, va_list args)
{
  g_autofree char *suffix = NULL, *name = NULL;
  VtpTensor *t;

  if (l->failed)
    return NULL;
  suffix = g_strdup_vprintf (format, args);
  name = g_strconcat (l->prefix, suffix, NULL);
  t = vtp_checkpoint_load_rows (l->c, l->dev, name, kind, l->wtype, ndim, shape, row0, n_rows, l->error);
  l->failed = t == NULL;
  /* the device's messages (no room, a failed upload) do not know the tensor */
  if (l->failed && l->error && g_error_matches (*l->error, VTP_ERROR, VTP_ERROR_DEVICE))
    g_prefix_error (l->error, "Loading the weight %s: ", name);
  return t;
}

VtpTensor *
vtp_loader_get (VtpLoader *l, VtpLoadKind kind, gint ndim, const gint64 *shape, const char *format, ...)
{
  va_list args;
  VtpTensor *t;

  va_start (args, format);
  t = loader_get_valist (l, kind, ndim, shape, 0, ndim ? shape[0] : 1, format, args);
  va_end (args);
  return t;
}

VtpTensor *
vtp_loader_get_rows (VtpLoader *l, VtpLoadKind kind, gint ndim, const gint64 *shape, gint64 row0, gint64 n_rows,
    const char *format, ...)
{
  va_list args;
  VtpTensor *t;

  va_start (args, format);
  t = loader_get_valist (l, kind, ndim, shape, row0, n_rows, format, args);
  va_end (args);
  return t;
}
