#include <sys/mman.h>
#include <unistd.h>
#include "vtp-safetensors.h"
#include "vtp-json.h"
#include <string.h>

char *
vtp_shape_to_string (gint ndim, const gint64 *shape)
{
  GString *s = g_string_new ("[");
  for (gint i = 0; i < ndim; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
st_tensor_free (gpointer p)
{
  VtpStTensor *t = p;
  g_free (t->name);
  g_free (t->dtype_name);
  g_free (t);
}

/* Every dtype safetensors writes, with its bits per element. Those vtp
 * loads have a VtpDType; the others are kept with dtype_supported FALSE, so
 * that a file holding, say, F64 tensors vtp never uses still opens, and are
 * refused only when loaded. */
static const struct {
  const char *name;
  guint bits;
  gboolean loads;
  VtpDType t;
} dtypes[] = {
  { "F32", 32, TRUE, VTP_DTYPE_F32 }, { "F16", 16, TRUE, VTP_DTYPE_F16 }, { "BF16", 16, TRUE, VTP_DTYPE_BF16 },
  { "I32", 32, TRUE, VTP_DTYPE_I32 }, { "U8", 8, TRUE, VTP_DTYPE_U8 }, { "I64", 64, TRUE, VTP_DTYPE_I64 },
  { "BOOL", 8 }, { "I8", 8 }, { "I16", 16 }, { "U16", 16 }, { "U32", 32 }, { "U64", 64 }, { "F64", 64 },
  { "C64", 64 }, { "F8_E4M3", 8 }, { "F8_E5M2", 8 }, { "F8_E8M0", 8 }, { "F8_E4M3FNUZ", 8 },
  { "F8_E5M2FNUZ", 8 }, { "F6_E2M3", 6 }, { "F6_E3M2", 6 }, { "F4", 4 },
};

/* The index of @name in dtypes, or -1. */
static gint
find_dtype (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    if (!strcmp (name, dtypes[i].name))
      return (gint) i;
  return -1;
}

static char *
dtype_list (void)
{
  GString *s = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (dtypes); i++)
    g_string_append_printf (s, "%s%s", i ? ", " : "", dtypes[i].name);
  return g_string_free (s, FALSE);
}

/* Element @i of @a as an integer >= 0; FALSE for anything else (json-glib
 * would answer 0 for a string, and a critical for an array). */
static gboolean
natural_element (JsonArray *a, guint i, gint64 *out)
{
  JsonNode *n = json_array_get_element (a, i);

  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 || json_node_get_int (n) < 0)
    return FALSE;
  *out = json_node_get_int (n);
  return TRUE;
}

/* The bytes of @ndim dimensions @shape of @bits-bit elements, FALSE when
 * the count overflows 64 bits (a header may claim any shape: the product
 * wrapping round could match a short extent) or is not whole bytes. */
static gboolean
extent_bytes (gint ndim, const gint64 *shape, guint bits, guint64 *out)
{
  guint64 n = bits;

  for (gint i = 0; i < ndim; i++)
    if (!g_uint64_checked_mul (&n, n, (guint64) shape[i]))
      return FALSE;
  *out = n / 8;
  return n % 8 == 0;
}

/* The member @name of @o when it is an array of @min to @max non-negative
 * integers, read into @out; NULL otherwise. */
static JsonArray *
naturals_member (JsonObject *o, const char *name, guint min, guint max, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, name);
  JsonArray *a = n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;

  if (!a || json_array_get_length (a) < min || json_array_get_length (a) > max)
    return NULL;
  for (guint i = 0; i < json_array_get_length (a); i++)
    if (!natural_element (a, i, &out[i]))
      return NULL;
  return a;
}

static gboolean
parse_entry (VtpSafetensors *st, const char *name, JsonNode *node, const guint8 *data,
    gsize data_size, GError **error)
{
  JsonObject *o = JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
  JsonNode *dn = o ? json_object_get_member (o, "dtype") : NULL;
  JsonArray *shape;
  const char *dtype;
  VtpStTensor *t;
  gint64 offsets[2], begin, end;
  guint64 size;
  gint d;

  if (!o || !dn || !json_object_has_member (o, "shape") || !json_object_has_member (o, "data_offsets")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: header entry for tensor '%s' lacks dtype, shape or data_offsets", st->path, name);
    return FALSE;
  }
  dtype = JSON_NODE_HOLDS_VALUE (dn) && json_node_get_value_type (dn) == G_TYPE_STRING ? json_node_get_string (dn)
      : NULL;
  /* an unknown dtype has no size: its extent cannot be checked */
  if (!dtype || (d = find_dtype (dtype)) < 0) {
    g_autofree char *list = dtype_list ();
    g_autofree char *what = dtype ? g_strdup_printf ("\"%s\"", dtype) : g_strdup ("that is not a string");
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensor '%s' has an unknown dtype %s (safetensors "
        "dtypes: %s)", st->path, name, what, list);
    return FALSE;
  }
  t = g_new0 (VtpStTensor, 1);
  t->name = g_strdup (name);
  t->dtype_name = g_strdup (dtype);
  t->file = st->path;
  t->dtype_supported = dtypes[d].loads;
  t->dtype = dtypes[d].t;
  g_hash_table_insert (st->tensors, t->name, t);
  shape = naturals_member (o, "shape", 0, VTP_MAX_DIMS, t->shape);
  if (!shape || !naturals_member (o, "data_offsets", 2, 2, offsets)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: tensor '%s' has a malformed shape or data_offsets (non-negative integers, at most %d dimensions)",
        st->path, name, VTP_MAX_DIMS);
    return FALSE;
  }
  t->ndim = json_array_get_length (shape);
  begin = offsets[0];
  end = offsets[1];
  if (end < begin || !extent_bytes (t->ndim, t->shape, dtypes[d].bits, &size) || (guint64) (end - begin) != size) {
    char *s = vtp_shape_to_string (t->ndim, t->shape);
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: tensor '%s' (%s %s) has data_offsets [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT
        "] that do not match its size", st->path, name, dtype, s, begin, end);
    g_free (s);
    return FALSE;
  }
  if ((gsize) end > data_size) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE,
        "%s is truncated: tensor '%s' ends at byte %" G_GINT64_FORMAT
        " of the data section, which holds only %" G_GSIZE_FORMAT " bytes",
        st->path, name, end, data_size);
    return FALSE;
  }
  t->data = data + begin;
  t->n_bytes = end - begin;
  return TRUE;
}

static gint
by_start (gconstpointer a, gconstpointer b)
{
  const VtpStTensor *x = a, *y = b;
  if (x->data != y->data)
    return x->data < y->data ? -1 : 1;
  return strcmp (x->name, y->name);
}

/* Tensors that share bytes would read each other's weights, silently:
 * safetensors writes each after the last, and its own reader refuses
 * overlaps. @data: the start of the data section. */
static gboolean
check_overlaps (VtpSafetensors *st, const guint8 *data, GError **error)
{
  GList *all = g_list_sort (g_hash_table_get_values (st->tensors), by_start);
  const VtpStTensor *reach = NULL;      /* the tensor ending furthest so far */
  gboolean ok = TRUE;

  for (GList *l = all; l && ok; l = l->next) {
    const VtpStTensor *t = l->data;
    if (!t->n_bytes)
      continue;
    if (reach && t->data < reach->data + reach->n_bytes) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: tensors '%s' (bytes %" G_GSIZE_FORMAT " to %"
          G_GSIZE_FORMAT ") and '%s' (bytes %" G_GSIZE_FORMAT " to %" G_GSIZE_FORMAT ") overlap in the data "
          "section: each tensor needs bytes of its own", st->path, reach->name, (gsize) (reach->data - data),
          (gsize) (reach->data - data) + reach->n_bytes, t->name, (gsize) (t->data - data),
          (gsize) (t->data - data) + t->n_bytes);
      ok = FALSE;
    } else if (!reach || t->data + t->n_bytes > reach->data + reach->n_bytes)
      reach = t;
  }
  g_list_free (all);
  return ok;
}

/* Parses the header of @bytes (@size of them) into @st; @st->path names it
 * in errors. The tensors point into @bytes, which @st keeps alive. */
static gboolean
st_parse (VtpSafetensors *st, const guint8 *bytes, gsize size, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  const char *path = st->path;
  guint64 header_len = 0;
  JsonObject *header;
  GList *members;
  gboolean ok = TRUE;

  if (size >= 8)
    for (gint i = 7; i >= 0; i--)
      header_len = (header_len << 8) | bytes[i];
  if (size < 8) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "%s is not a safetensors file or is truncated: it has only %"
        G_GSIZE_FORMAT " bytes", path, size);
    return FALSE;
  }
  if (header_len > size - 8 || header_len < 2) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE,
        "%s is not a safetensors file or is truncated: its header claims %" G_GUINT64_FORMAT
        " bytes, the file has %" G_GSIZE_FORMAT, path, header_len, size);
    return FALSE;
  }
  parser = json_parser_new_immutable ();
  if (!vtp_json_parser_load (parser, (const char *) bytes + 8, header_len, &local)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the safetensors header is not a JSON object%s%s",
        path, local ? ": " : "", local ? local->message : "");
    return FALSE;
  }
  header = json_node_get_object (json_parser_get_root (parser));
  members = json_object_get_members (header);
  for (GList *l = members; l && ok; l = l->next) {
    const char *name = l->data;
    if (strcmp (name, "__metadata__") == 0)
      continue;
    ok = parse_entry (st, name, json_object_get_member (header, name), bytes + 8 + header_len,
        size - 8 - header_len, error);
  }
  g_list_free (members);
  return ok && check_overlaps (st, bytes + 8 + header_len, error);
}

static VtpSafetensors *
st_new (const char *path)
{
  VtpSafetensors *st = g_new0 (VtpSafetensors, 1);

  st->path = g_strdup (path);
  st->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, st_tensor_free);
  return st;
}

VtpSafetensors *
vtp_safetensors_open (const char *path, GError **error)
{
  g_autoptr (VtpSafetensors) st = st_new (path);
  g_autoptr (GError) local = NULL;

  st->map = g_mapped_file_new (path, FALSE, &local);
  if (!st->map) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "Cannot open weights file %s: %s", path, local->message);
    return NULL;
  }
  if (!st_parse (st, (const guint8 *) g_mapped_file_get_contents (st->map), g_mapped_file_get_length (st->map),
          error))
    return NULL;
  return g_steal_pointer (&st);
}

VtpSafetensors *
vtp_safetensors_new_from_bytes (GBytes *bytes, const char *name, GError **error)
{
  g_autoptr (VtpSafetensors) st = st_new (name ? name : "safetensors data");
  gsize size;
  const guint8 *data;

  st->bytes = g_bytes_ref (bytes);
  data = g_bytes_get_data (bytes, &size);
  if (!st_parse (st, data, size, error))
    return NULL;
  return g_steal_pointer (&st);
}

void
vtp_safetensors_free (VtpSafetensors *st)
{
  if (!st)
    return;
  if (st->tensors)
    g_hash_table_unref (st->tensors);
  if (st->map)
    g_mapped_file_unref (st->map);
  if (st->bytes)
    g_bytes_unref (st->bytes);
  g_free (st->path);
  g_free (st);
}

const VtpStTensor *
vtp_safetensors_find (VtpSafetensors *st, const char *name)
{
  return g_hash_table_lookup (st->tensors, name);
}

void
vtp_mapped_drop_pages (const void *data, gsize n_bytes)
{
  const guintptr page = (guintptr) sysconf (_SC_PAGESIZE);
  const guintptr start = ((guintptr) data + page - 1) & ~(page - 1);
  const guintptr end = ((guintptr) data + n_bytes) & ~(page - 1);

  /* the mapping is private and read-only: the pages are re-read from the
   * file on the next access, so this never loses data */
  if (end > start)
    madvise ((void *) start, end - start, MADV_DONTNEED);
}
