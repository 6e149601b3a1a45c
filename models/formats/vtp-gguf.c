/* vtp-gguf.c: the GGUF reader. The file is untrusted: every read goes
 * through the Reader below, which checks the bytes are there before
 * touching them, and every count is checked against the bytes left before
 * anything is allocated for it. */
#include "vtp-gguf.h"
#include "vtp-error.h"
#include <string.h>

/* Elements per block and bytes per block of each ggml type, as gguf-py's
 * GGML_QUANT_SIZES (ids 4, 5, 31-33, 36-38 were removed from ggml). */
static const struct {
  guint32 id;
  const char *name;
  guint block_size, type_size;
} ggml_types[] = {
  { 0, "F32", 1, 4 }, { 1, "F16", 1, 2 }, { 2, "Q4_0", 32, 18 }, { 3, "Q4_1", 32, 20 },
  { 6, "Q5_0", 32, 22 }, { 7, "Q5_1", 32, 24 }, { 8, "Q8_0", 32, 34 }, { 9, "Q8_1", 32, 40 },
  { 10, "Q2_K", 256, 84 }, { 11, "Q3_K", 256, 110 }, { 12, "Q4_K", 256, 144 }, { 13, "Q5_K", 256, 176 },
  { 14, "Q6_K", 256, 210 }, { 15, "Q8_K", 256, 292 }, { 16, "IQ2_XXS", 256, 66 }, { 17, "IQ2_XS", 256, 74 },
  { 18, "IQ3_XXS", 256, 98 }, { 19, "IQ1_S", 256, 50 }, { 20, "IQ4_NL", 32, 18 }, { 21, "IQ3_S", 256, 110 },
  { 22, "IQ2_S", 256, 82 }, { 23, "IQ4_XS", 256, 136 }, { 24, "I8", 1, 1 }, { 25, "I16", 1, 2 },
  { 26, "I32", 1, 4 }, { 27, "I64", 1, 8 }, { 28, "F64", 1, 8 }, { 29, "IQ1_M", 256, 56 },
  { 30, "BF16", 1, 2 }, { 34, "TQ1_0", 256, 54 }, { 35, "TQ2_0", 256, 66 }, { 39, "MXFP4", 32, 17 },
  { 40, "NVFP4", 64, 36 }, { 41, "Q1_0", 128, 18 },
};

gboolean
vtp_gguf_type_traits (guint32 ggml_type, guint *block_size, guint *type_size)
{
  for (guint i = 0; i < G_N_ELEMENTS (ggml_types); i++)
    if (ggml_types[i].id == ggml_type) {
      if (block_size)
        *block_size = ggml_types[i].block_size;
      if (type_size)
        *type_size = ggml_types[i].type_size;
      return TRUE;
    }
  return FALSE;
}

const char *
vtp_gguf_type_name (guint32 ggml_type)
{
  for (guint i = 0; i < G_N_ELEMENTS (ggml_types); i++)
    if (ggml_types[i].id == ggml_type)
      return ggml_types[i].name;
  return NULL;
}

static const char *const value_type_names[] = {
  "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32", "BOOL", "STRING", "ARRAY",
  "UINT64", "INT64", "FLOAT64",
};

const char *
vtp_gguf_value_type_name (VtpGgufType type)
{
  return (guint) type < G_N_ELEMENTS (value_type_names) ? value_type_names[type] : "unknown";
}

/* Bytes of one scalar of @type; 0 for STRING, ARRAY and unknown types. */
static guint
scalar_size (VtpGgufType type)
{
  switch (type) {
    case VTP_GGUF_UINT8: case VTP_GGUF_INT8: case VTP_GGUF_BOOL: return 1;
    case VTP_GGUF_UINT16: case VTP_GGUF_INT16: return 2;
    case VTP_GGUF_UINT32: case VTP_GGUF_INT32: case VTP_GGUF_FLOAT32: return 4;
    case VTP_GGUF_UINT64: case VTP_GGUF_INT64: case VTP_GGUF_FLOAT64: return 8;
    default: return 0;
  }
}

/* ------------------------------------------------------------------------ */
/* Bounds-checked reading */

typedef struct {
  const guint8 *base;
  guint64 size;
  guint64 pos;
  const char *path;
} Reader;

static guint64
le_bytes (const guint8 *p, guint n)
{
  guint64 v = 0;
  for (guint i = n; i > 0; i--)
    v = (v << 8) | p[i - 1];
  return v;
}

/* Checks that @n bytes follow; @what names them in the error. */
static gboolean
need (Reader *r, guint64 n, const char *what, GError **error)
{
  if (n > r->size - r->pos) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s is truncated or corrupt: %s needs %" G_GUINT64_FORMAT " bytes at offset %" G_GUINT64_FORMAT
        ", but the file has %" G_GUINT64_FORMAT " bytes", r->path, what, n, r->pos, r->size);
    return FALSE;
  }
  return TRUE;
}

static gboolean
read_u32 (Reader *r, guint32 *out, const char *what, GError **error)
{
  if (!need (r, 4, what, error))
    return FALSE;
  *out = (guint32) le_bytes (r->base + r->pos, 4);
  r->pos += 4;
  return TRUE;
}

static gboolean
read_u64 (Reader *r, guint64 *out, const char *what, GError **error)
{
  if (!need (r, 8, what, error))
    return FALSE;
  *out = le_bytes (r->base + r->pos, 8);
  r->pos += 8;
  return TRUE;
}

/* A string: u64 length, then the bytes (pointed to, not copied). */
static gboolean
read_string (Reader *r, const guint8 **s, guint64 *len, const char *what, GError **error)
{
  if (!read_u64 (r, len, what, error))
    return FALSE;
  if (*len > r->size - r->pos) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s is truncated or corrupt: %s claims a string of %" G_GUINT64_FORMAT " bytes at offset %"
        G_GUINT64_FORMAT ", but only %" G_GUINT64_FORMAT " bytes follow", r->path, what, *len, r->pos,
        r->size - r->pos);
    return FALSE;
  }
  *s = r->base + r->pos;
  r->pos += *len;
  return TRUE;
}

/* Keys and tensor names become C strings (hash keys, messages): no NULs. */
static char *
name_dup (Reader *r, const guint8 *s, guint64 len, const char *what, GError **error)
{
  if (memchr (s, 0, len)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: %s at offset %" G_GUINT64_FORMAT
        " contains a NUL byte", r->path, what, (guint64) (s - r->base));
    return NULL;
  }
  return g_strndup ((const char *) s, len);
}

/* ------------------------------------------------------------------------ */
/* Metadata */

static void
kv_free (gpointer p)
{
  VtpGgufKv *kv = p;
  g_free (kv->key);
  g_strfreev (kv->strings);
  g_free (kv->lengths);
  g_free (kv);
}

/* Reads @n strings into kv->strings / kv->lengths. Each takes at least its
 * 8-byte length, so @n is checked against the bytes left before allocating. */
static gboolean
read_strings (Reader *r, VtpGgufKv *kv, guint64 n, GError **error)
{
  if (n > (r->size - r->pos) / 8) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: key '%s' claims %" G_GUINT64_FORMAT " strings at offset %" G_GUINT64_FORMAT
        ", more than the %" G_GUINT64_FORMAT " bytes left can hold", r->path, kv->key, n, r->pos,
        r->size - r->pos);
    return FALSE;
  }
  kv->strings = g_new0 (char *, n + 1);
  kv->lengths = g_new0 (gsize, n + 1);
  for (guint64 i = 0; i < n; i++) {
    const guint8 *s;
    guint64 len;
    g_autofree char *what = g_strdup_printf ("string %" G_GUINT64_FORMAT " of key '%s'", i, kv->key);
    if (!read_string (r, &s, &len, what, error))
      return FALSE;
    kv->strings[i] = g_strndup ((const char *) s, len);
    kv->lengths[i] = len;
    /* g_strndup stops at a NUL: copy the whole string */
    if (memchr (s, 0, len)) {
      g_free (kv->strings[i]);
      kv->strings[i] = g_malloc (len + 1);
      memcpy (kv->strings[i], s, len);
      kv->strings[i][len] = '\0';
    }
  }
  return TRUE;
}

static gboolean
check_bools (Reader *r, VtpGgufKv *kv, GError **error)
{
  for (guint64 i = 0; i < kv->n; i++)
    if (kv->data[i] > 1) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' holds the bool value %u "
          "(element %" G_GUINT64_FORMAT "), expected 0 or 1", r->path, kv->key, kv->data[i], i);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_kv (Reader *r, VtpGguf *g, guint64 index, GError **error)
{
  const guint8 *s;
  guint64 len;
  guint32 type;
  VtpGgufKv *kv;
  g_autofree char *what = g_strdup_printf ("the key of metadata entry %" G_GUINT64_FORMAT, index);

  if (!read_string (r, &s, &len, what, error))
    return FALSE;
  kv = g_new0 (VtpGgufKv, 1);
  kv->n = 1;
  g_ptr_array_add (g->kvs, kv);
  if (!(kv->key = name_dup (r, s, len, what, error)))
    return FALSE;
  if (g_hash_table_contains (g->kv_index, kv->key)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' appears twice in the metadata",
        r->path, kv->key);
    return FALSE;
  }
  g_hash_table_insert (g->kv_index, kv->key, kv);

  g_free (what);
  what = g_strdup_printf ("the value type of key '%s'", kv->key);
  if (!read_u32 (r, &type, what, error))
    return FALSE;
  if (type > VTP_GGUF_FLOAT64) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' has value type %u, expected 0 to %d",
        r->path, kv->key, type, VTP_GGUF_FLOAT64);
    return FALSE;
  }
  kv->type = type;
  g_free (what);
  what = g_strdup_printf ("the value of key '%s'", kv->key);

  if (type == VTP_GGUF_STRING)
    return read_strings (r, kv, 1, error);
  if (type != VTP_GGUF_ARRAY) {
    if (!need (r, scalar_size (type), what, error))
      return FALSE;
    kv->data = r->base + r->pos;
    r->pos += scalar_size (type);
    return type == VTP_GGUF_BOOL ? check_bools (r, kv, error) : TRUE;
  }

  if (!read_u32 (r, &type, what, error) || !read_u64 (r, &kv->n, what, error))
    return FALSE;
  if (type == VTP_GGUF_ARRAY || type > VTP_GGUF_FLOAT64) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is an array of %s (type %u); "
        "arrays of numbers, bools or strings are supported", r->path, kv->key,
        vtp_gguf_value_type_name (type), type);
    return FALSE;
  }
  kv->array_type = type;
  if (type == VTP_GGUF_STRING)
    return read_strings (r, kv, kv->n, error);
  if (kv->n > (r->size - r->pos) / scalar_size (type)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: key '%s' claims an array of %" G_GUINT64_FORMAT " %s at offset %" G_GUINT64_FORMAT
        ", more than the %" G_GUINT64_FORMAT " bytes left can hold", r->path, kv->key, kv->n,
        vtp_gguf_value_type_name (type), r->pos, r->size - r->pos);
    return FALSE;
  }
  kv->data = r->base + r->pos;
  r->pos += kv->n * scalar_size (type);
  return type == VTP_GGUF_BOOL ? check_bools (r, kv, error) : TRUE;
}

/* ------------------------------------------------------------------------ */
/* Tensor infos */

static void
tensor_free (gpointer p)
{
  VtpGgufTensor *t = p;
  g_free (t->name);
  g_free (t);
}

static char *
ne_to_string (const VtpGgufTensor *t)
{
  GString *s = g_string_new ("[");
  for (guint i = 0; i < t->n_dims; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", t->ne[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static gboolean
read_tensor_info (Reader *r, VtpGguf *g, guint64 index, GError **error)
{
  const guint8 *s;
  guint64 len;
  VtpGgufTensor *t;
  g_autofree char *what = g_strdup_printf ("the name of tensor %" G_GUINT64_FORMAT, index);

  if (!read_string (r, &s, &len, what, error))
    return FALSE;
  t = g_new0 (VtpGgufTensor, 1);
  g_ptr_array_add (g->tensors, t);
  if (!(t->name = name_dup (r, s, len, what, error)))
    return FALSE;
  if (g_hash_table_contains (g->tensor_index, t->name)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' appears twice", r->path, t->name);
    return FALSE;
  }
  g_hash_table_insert (g->tensor_index, t->name, t);

  g_free (what);
  what = g_strdup_printf ("the info of tensor '%s'", t->name);
  if (!read_u32 (r, &t->n_dims, what, error))
    return FALSE;
  if (t->n_dims > VTP_GGUF_MAX_DIMS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' has %u dimensions, at most %d "
        "are supported", r->path, t->name, t->n_dims, VTP_GGUF_MAX_DIMS);
    return FALSE;
  }
  for (guint i = 0; i < VTP_GGUF_MAX_DIMS; i++) {
    guint64 ne = 1;
    if (i < t->n_dims && !read_u64 (r, &ne, what, error))
      return FALSE;
    if (ne > G_MAXINT64) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' has dimension %u of %"
          G_GUINT64_FORMAT " elements (negative as ggml's int64)", r->path, t->name, i, ne);
      return FALSE;
    }
    t->ne[i] = (gint64) ne;
  }
  if (!read_u32 (r, &t->type, what, error) || !read_u64 (r, &t->offset, what, error))
    return FALSE;
  t->type_name = vtp_gguf_type_name (t->type);
  return TRUE;
}

/* The tensor's byte size from its type's block traits, overflow-checked. */
static gboolean
tensor_size (VtpGguf *g, VtpGgufTensor *t, guint64 *n_bytes, GError **error)
{
  guint block, tsize;
  guint64 n;
  g_autofree char *shape = ne_to_string (t);

  if (!vtp_gguf_type_traits (t->type, &block, &tsize)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' has the unknown ggml type id %u "
        "(expected one of ggml's types: F32 = 0, F16 = 1, Q4_0 = 2, ... Q1_0 = 41)", g->path, t->name,
        t->type);
    return FALSE;
  }
  if (t->ne[0] % block != 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' (%s %s) has rows of %" G_GINT64_FORMAT
        " elements, not a multiple of the type's block of %u", g->path, t->name, t->type_name, shape,
        t->ne[0], block);
    return FALSE;
  }
  n = (guint64) t->ne[0] / block;
  if (!g_uint64_checked_mul (&n, n, tsize)
      || !g_uint64_checked_mul (&n, n, (guint64) t->ne[1])
      || !g_uint64_checked_mul (&n, n, (guint64) t->ne[2])
      || !g_uint64_checked_mul (&n, n, (guint64) t->ne[3])
      || n > G_MAXSIZE) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' (%s %s) is too large to address",
        g->path, t->name, t->type_name, shape);
    return FALSE;
  }
  *n_bytes = n;
  return TRUE;
}

static gint
compare_offsets (gconstpointer a, gconstpointer b)
{
  const VtpGgufTensor *x = *(VtpGgufTensor *const *) a, *y = *(VtpGgufTensor *const *) b;
  return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sizes, extents inside the file, alignment and overlaps. */
static gboolean
place_tensors (VtpGguf *g, guint64 file_size, const guint8 *base, GError **error)
{
  g_autoptr (GPtrArray) sorted = g_ptr_array_new ();

  for (guint i = 0; i < g->tensors->len; i++) {
    VtpGgufTensor *t = g->tensors->pdata[i];
    guint64 n, end;
    if (!tensor_size (g, t, &n, error))
      return FALSE;
    if (t->offset % g->alignment != 0) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' starts at data offset %"
          G_GUINT64_FORMAT ", not a multiple of the alignment %u", g->path, t->name, t->offset,
          g->alignment);
      return FALSE;
    }
    if (!g_uint64_checked_add (&end, g->data_offset, t->offset) || !g_uint64_checked_add (&end, end, n)
        || end > file_size) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s is truncated or corrupt: tensor '%s' (%s, %"
          G_GUINT64_FORMAT " bytes) at data offset %" G_GUINT64_FORMAT " (the data section starts at byte %"
          G_GUINT64_FORMAT ") ends past the end of the file (%" G_GUINT64_FORMAT " bytes)", g->path, t->name,
          t->type_name, n, t->offset, g->data_offset, file_size);
      return FALSE;
    }
    t->data = base + g->data_offset + t->offset;
    t->n_bytes = n;
    g_ptr_array_add (sorted, t);
  }
  g_ptr_array_sort (sorted, compare_offsets);
  for (guint i = 1; i < sorted->len; i++) {
    const VtpGgufTensor *a = sorted->pdata[i - 1], *b = sorted->pdata[i];
    if (b->offset < a->offset + a->n_bytes) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensors '%s' (data offsets %" G_GUINT64_FORMAT
          " to %" G_GUINT64_FORMAT ") and '%s' (from %" G_GUINT64_FORMAT ") overlap", g->path, a->name,
          a->offset, a->offset + a->n_bytes, b->name, b->offset);
      return FALSE;
    }
  }
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Open */

VtpGguf *
vtp_gguf_new_from_bytes (GBytes *bytes, const char *name, GError **error)
{
  g_autoptr (VtpGguf) g = g_new0 (VtpGguf, 1);
  Reader r = { 0 };
  gsize size;
  guint32 version;
  guint64 n_tensors, n_kv;
  const VtpGgufKv *align;

  g->path = g_strdup (name ? name : "GGUF data");
  g->bytes = g_bytes_ref (bytes);
  g->kvs = g_ptr_array_new_with_free_func (kv_free);
  g->kv_index = g_hash_table_new (g_str_hash, g_str_equal);
  g->tensors = g_ptr_array_new_with_free_func (tensor_free);
  g->tensor_index = g_hash_table_new (g_str_hash, g_str_equal);
  r.base = g_bytes_get_data (bytes, &size);
  r.size = size;
  r.path = g->path;

  if (size < 4 || memcmp (r.base, "GGUF", 4) != 0) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s is not a GGUF file: it does not start with \"GGUF\"",
        g->path);
    return NULL;
  }
  r.pos = 4;
  if (!read_u32 (&r, &version, "the version", error))
    return NULL;
  if (version != 2 && version != 3) {
    guint32 swapped = GUINT32_SWAP_LE_BE (version);
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: GGUF version %u%s; versions 2 and 3 "
        "(little-endian) are supported", g->path, version,
        swapped == 2 || swapped == 3 ? " (a big-endian file)" : "");
    return NULL;
  }
  g->version = version;
  if (!read_u64 (&r, &n_tensors, "the tensor count", error) || !read_u64 (&r, &n_kv, "the metadata count", error))
    return NULL;
  /* the smallest entry is 13 bytes (empty key, type, one byte), the
   * smallest tensor info 24 (empty name, n_dims 0, type, offset) */
  if (n_kv > (r.size - r.pos) / 13 || n_tensors > (r.size - r.pos) / 24) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the header claims %" G_GUINT64_FORMAT
        " metadata entries and %" G_GUINT64_FORMAT " tensors, more than the file's %" G_GUINT64_FORMAT
        " bytes can hold", g->path, n_kv, n_tensors, r.size);
    return NULL;
  }
  for (guint64 i = 0; i < n_kv; i++)
    if (!read_kv (&r, g, i, error))
      return NULL;

  g->alignment = VTP_GGUF_DEFAULT_ALIGNMENT;
  if ((align = vtp_gguf_find (g, "general.alignment"))) {
    if (align->type != VTP_GGUF_UINT32) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key 'general.alignment' is %s, expected UINT32",
          g->path, vtp_gguf_value_type_name (align->type));
      return NULL;
    }
    g->alignment = (guint32) le_bytes (align->data, 4);
    if (g->alignment == 0 || (g->alignment & (g->alignment - 1)) != 0) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key 'general.alignment' is %u, expected a "
          "power of two", g->path, g->alignment);
      return NULL;
    }
  }

  for (guint64 i = 0; i < n_tensors; i++)
    if (!read_tensor_info (&r, g, i, error))
      return NULL;
  /* The data section starts at the next multiple of the alignment; a file
   * without tensors may end before it (llama.cpp's vocabulary files do). */
  g->data_offset = r.pos + (g->alignment - r.pos % g->alignment) % g->alignment;
  if (!place_tensors (g, r.size, r.base, error))
    return NULL;
  return g_steal_pointer (&g);
}

VtpGguf *
vtp_gguf_open (const char *path, GError **error)
{
  g_autoptr (GError) local = NULL;
  g_autoptr (GBytes) bytes = NULL;
  GMappedFile *map = g_mapped_file_new (path, FALSE, &local);

  if (!map) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "Cannot open GGUF file %s: %s", path, local->message);
    return NULL;
  }
  bytes = g_mapped_file_get_bytes (map);
  g_mapped_file_unref (map);
  return vtp_gguf_new_from_bytes (bytes, path, error);
}

void
vtp_gguf_free (VtpGguf *g)
{
  if (!g)
    return;
  g_clear_pointer (&g->kv_index, g_hash_table_unref);
  g_clear_pointer (&g->kvs, g_ptr_array_unref);
  g_clear_pointer (&g->tensor_index, g_hash_table_unref);
  g_clear_pointer (&g->tensors, g_ptr_array_unref);
  g_clear_pointer (&g->bytes, g_bytes_unref);
  g_free (g->path);
  g_free (g);
}

/* ------------------------------------------------------------------------ */
/* Getters */

const VtpGgufKv *
vtp_gguf_find (VtpGguf *g, const char *key)
{
  return g_hash_table_lookup (g->kv_index, key);
}

static const VtpGgufKv *
find_or_error (VtpGguf *g, const char *key, GError **error)
{
  const VtpGgufKv *kv = vtp_gguf_find (g, key);
  if (!kv)
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is absent", g->path, key);
  return kv;
}

static gboolean
is_integer (VtpGgufType t)
{
  return t <= VTP_GGUF_INT32 || t == VTP_GGUF_UINT64 || t == VTP_GGUF_INT64;
}

static gboolean
is_signed (VtpGgufType t)
{
  return t == VTP_GGUF_INT8 || t == VTP_GGUF_INT16 || t == VTP_GGUF_INT32 || t == VTP_GGUF_INT64;
}

/* Element @i of an integer scalar or array, widened to 64 bits: *neg is set
 * when it is below zero, and then *v is to be read as a gint64. */
static void
integer_at (VtpGgufType t, const guint8 *data, guint64 i, gboolean *neg, guint64 *v)
{
  guint size = scalar_size (t);
  guint64 raw = le_bytes (data + i * size, size);
  *neg = FALSE;
  if (is_signed (t) && size < 8 && (raw >> (size * 8 - 1)) & 1)
    raw |= ~(guint64) 0 << (size * 8);      /* sign-extend */
  if (is_signed (t) && (gint64) raw < 0)
    *neg = TRUE;
  *v = raw;
}

static const char *
describe (const VtpGgufKv *kv, char *buf, gsize n)
{
  if (kv->type == VTP_GGUF_ARRAY)
    g_snprintf (buf, n, "an array of %s", vtp_gguf_value_type_name (kv->array_type));
  else
    g_snprintf (buf, n, "%s", vtp_gguf_value_type_name (kv->type));
  return buf;
}

/* Integer scalar @key within [@min, @max] (signed range when @min < 0). */
static gboolean
get_integer (VtpGguf *g, const char *key, gint64 min, guint64 max, const char *target, guint64 *out,
    GError **error)
{
  const VtpGgufKv *kv = find_or_error (g, key, error);
  gboolean neg;
  guint64 v;
  char buf[64];

  if (!kv)
    return FALSE;
  if (kv->type == VTP_GGUF_ARRAY || !is_integer (kv->type)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %s, expected an integer (%s)",
        g->path, key, describe (kv, buf, sizeof buf), target);
    return FALSE;
  }
  integer_at (kv->type, kv->data, 0, &neg, &v);
  if (neg ? (gint64) v < min : v > max) {
    if (neg)
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %" G_GINT64_FORMAT
          ", which does not fit %s", g->path, key, (gint64) v, target);
    else
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %" G_GUINT64_FORMAT
          ", which does not fit %s", g->path, key, v, target);
    return FALSE;
  }
  *out = v;
  return TRUE;
}

gboolean
vtp_gguf_get_u32 (VtpGguf *g, const char *key, guint32 *out, GError **error)
{
  guint64 v;
  if (!get_integer (g, key, 0, G_MAXUINT32, "UINT32", &v, error))
    return FALSE;
  *out = (guint32) v;
  return TRUE;
}

gboolean
vtp_gguf_get_i32 (VtpGguf *g, const char *key, gint32 *out, GError **error)
{
  guint64 v;
  if (!get_integer (g, key, G_MININT32, G_MAXINT32, "INT32", &v, error))
    return FALSE;
  *out = (gint32) (gint64) v;
  return TRUE;
}

gboolean
vtp_gguf_get_u64 (VtpGguf *g, const char *key, guint64 *out, GError **error)
{
  return get_integer (g, key, 0, G_MAXUINT64, "UINT64", out, error);
}

gboolean
vtp_gguf_get_i64 (VtpGguf *g, const char *key, gint64 *out, GError **error)
{
  guint64 v;
  if (!get_integer (g, key, G_MININT64, G_MAXINT64, "INT64", &v, error))
    return FALSE;
  *out = (gint64) v;
  return TRUE;
}

static gfloat
f32_at (const guint8 *data, guint64 i)
{
  guint32 bits = (guint32) le_bytes (data + i * 4, 4);
  gfloat f;
  memcpy (&f, &bits, 4);
  return f;
}

static gdouble
f64_at (const guint8 *data, guint64 i)
{
  guint64 bits = le_bytes (data + i * 8, 8);
  gdouble d;
  memcpy (&d, &bits, 8);
  return d;
}

gboolean
vtp_gguf_get_f32 (VtpGguf *g, const char *key, gfloat *out, GError **error)
{
  const VtpGgufKv *kv = find_or_error (g, key, error);
  char buf[64];

  if (!kv)
    return FALSE;
  if (kv->type == VTP_GGUF_FLOAT32) {
    *out = f32_at (kv->data, 0);
    return TRUE;
  }
  if (kv->type == VTP_GGUF_FLOAT64) {
    gdouble d = f64_at (kv->data, 0);
    if ((gdouble) (gfloat) d == d || d != d) {
      *out = (gfloat) d;
      return TRUE;
    }
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is the FLOAT64 %.17g, which a FLOAT32 "
        "cannot hold exactly", g->path, key, d);
    return FALSE;
  }
  g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %s, expected FLOAT32", g->path, key,
      describe (kv, buf, sizeof buf));
  return FALSE;
}

gboolean
vtp_gguf_get_bool (VtpGguf *g, const char *key, gboolean *out, GError **error)
{
  const VtpGgufKv *kv = find_or_error (g, key, error);
  char buf[64];

  if (!kv)
    return FALSE;
  if (kv->type != VTP_GGUF_BOOL) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %s, expected BOOL", g->path, key,
        describe (kv, buf, sizeof buf));
    return FALSE;
  }
  *out = kv->data[0] != 0;
  return TRUE;
}

const char *
vtp_gguf_get_string (VtpGguf *g, const char *key, GError **error)
{
  const VtpGgufKv *kv = find_or_error (g, key, error);
  char buf[64];

  if (!kv)
    return NULL;
  if (kv->type != VTP_GGUF_STRING) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %s, expected STRING", g->path, key,
        describe (kv, buf, sizeof buf));
    return NULL;
  }
  return kv->strings[0];
}

static const VtpGgufKv *
find_array (VtpGguf *g, const char *key, GError **error)
{
  const VtpGgufKv *kv = find_or_error (g, key, error);
  if (kv && kv->type != VTP_GGUF_ARRAY) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is %s, expected an array", g->path, key,
        vtp_gguf_value_type_name (kv->type));
    return NULL;
  }
  return kv;
}

gboolean
vtp_gguf_get_array_length (VtpGguf *g, const char *key, guint64 *n_out, GError **error)
{
  const VtpGgufKv *kv = find_array (g, key, error);
  if (!kv)
    return FALSE;
  *n_out = kv->n;
  return TRUE;
}

const char *const *
vtp_gguf_get_string_array (VtpGguf *g, const char *key, gsize *n_out, const gsize **lengths_out,
    GError **error)
{
  const VtpGgufKv *kv = find_array (g, key, error);
  if (!kv)
    return NULL;
  if (kv->array_type != VTP_GGUF_STRING) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is an array of %s, expected an array "
        "of STRING", g->path, key, vtp_gguf_value_type_name (kv->array_type));
    return NULL;
  }
  if (n_out)
    *n_out = kv->n;
  if (lengths_out)
    *lengths_out = kv->lengths;
  return (const char *const *) kv->strings;
}

gint32 *
vtp_gguf_get_i32_array (VtpGguf *g, const char *key, gsize *n_out, GError **error)
{
  const VtpGgufKv *kv = find_array (g, key, error);
  g_autofree gint32 *out = NULL;

  if (!kv)
    return NULL;
  if (!is_integer (kv->array_type)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is an array of %s, expected an array "
        "of INT32", g->path, key, vtp_gguf_value_type_name (kv->array_type));
    return NULL;
  }
  out = g_new (gint32, MAX (kv->n, 1));   /* kv->n elements are in the file */
  for (guint64 i = 0; i < kv->n; i++) {
    gboolean neg;
    guint64 v;
    integer_at (kv->array_type, kv->data, i, &neg, &v);
    if (neg ? (gint64) v < G_MININT32 : v > G_MAXINT32) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: element %" G_GUINT64_FORMAT " of key '%s' (%s) "
          "does not fit INT32", g->path, i, key, vtp_gguf_value_type_name (kv->array_type));
      return NULL;
    }
    out[i] = (gint32) (gint64) v;
  }
  *n_out = kv->n;
  return g_steal_pointer (&out);
}

gfloat *
vtp_gguf_get_f32_array (VtpGguf *g, const char *key, gsize *n_out, GError **error)
{
  const VtpGgufKv *kv = find_array (g, key, error);
  gfloat *out;

  if (!kv)
    return NULL;
  if (kv->array_type != VTP_GGUF_FLOAT32) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: key '%s' is an array of %s, expected an array "
        "of FLOAT32", g->path, key, vtp_gguf_value_type_name (kv->array_type));
    return NULL;
  }
  out = g_new (gfloat, MAX (kv->n, 1));
  for (guint64 i = 0; i < kv->n; i++)
    out[i] = f32_at (kv->data, i);
  *n_out = kv->n;
  return out;
}

guint
vtp_gguf_n_tensors (VtpGguf *g)
{
  return g->tensors->len;
}

const VtpGgufTensor *
vtp_gguf_tensor (VtpGguf *g, guint index)
{
  return index < g->tensors->len ? g->tensors->pdata[index] : NULL;
}

const VtpGgufTensor *
vtp_gguf_find_tensor (VtpGguf *g, const char *name)
{
  return g_hash_table_lookup (g->tensor_index, name);
}
