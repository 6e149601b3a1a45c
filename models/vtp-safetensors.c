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

static gboolean
parse_dtype (const char *s, VtpDType *out)
{
  static const struct { const char *name; VtpDType t; } known[] = {
    { "F32", VTP_DTYPE_F32 }, { "F16", VTP_DTYPE_F16 }, { "BF16", VTP_DTYPE_BF16 },
    { "I32", VTP_DTYPE_I32 }, { "U8", VTP_DTYPE_U8 }, { "I64", VTP_DTYPE_I64 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (known); i++)
    if (g_strcmp0 (s, known[i].name) == 0) {
      *out = known[i].t;
      return TRUE;
    }
  return FALSE;
}

/* Element sizes of the dtypes we do not load, for extent checks. */
static gsize
other_dtype_size (const char *s)
{
  if (!g_strcmp0 (s, "F64") || !g_strcmp0 (s, "U64"))
    return 8;
  if (!g_strcmp0 (s, "U32"))
    return 4;
  if (!g_strcmp0 (s, "I16") || !g_strcmp0 (s, "U16"))
    return 2;
  return 1;                     /* I8, U8, BOOL, F8_* */
}

static gboolean
parse_entry (VtpSafetensors *st, const char *name, JsonNode *node, const guint8 *data,
    gsize data_size, GError **error)
{
  JsonObject *o;
  JsonArray *shape, *offsets;
  const char *dtype;
  VtpStTensor *t;
  gint64 begin, end, n = 1;
  gsize esize;

  if (!JSON_NODE_HOLDS_OBJECT (node) || !(o = json_node_get_object (node))
      || !json_object_has_member (o, "dtype") || !json_object_has_member (o, "shape")
      || !json_object_has_member (o, "data_offsets")) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: header entry for tensor '%s' lacks dtype, shape or data_offsets", st->path, name);
    return FALSE;
  }
  dtype = json_object_get_string_member_with_default (o, "dtype", "?");
  shape = json_object_get_array_member (o, "shape");
  offsets = json_object_get_array_member (o, "data_offsets");
  if (!shape || !offsets || json_array_get_length (offsets) != 2 || json_array_get_length (shape) > VTP_MAX_DIMS) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT,
        "%s: tensor '%s' has a malformed shape or data_offsets (at most %d dimensions)",
        st->path, name, VTP_MAX_DIMS);
    return FALSE;
  }
  t = g_new0 (VtpStTensor, 1);
  t->name = g_strdup (name);
  t->dtype_name = g_strdup (dtype);
  t->file = st->path;
  t->dtype_supported = parse_dtype (dtype, &t->dtype);
  esize = t->dtype_supported ? vtp_dtype_size (t->dtype) : other_dtype_size (dtype);
  t->ndim = json_array_get_length (shape);
  for (gint i = 0; i < t->ndim; i++) {
    t->shape[i] = json_array_get_int_element (shape, i);
    if (t->shape[i] < 0)
      n = -1;
    else if (n >= 0)
      n *= t->shape[i];
  }
  begin = json_array_get_int_element (offsets, 0);
  end = json_array_get_int_element (offsets, 1);
  g_hash_table_insert (st->tensors, t->name, t);
  if (n < 0 || begin < 0 || end < begin || (gsize) (end - begin) != (gsize) n * esize) {
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

VtpSafetensors *
vtp_safetensors_open (const char *path, GError **error)
{
  g_autoptr (VtpSafetensors) st = g_new0 (VtpSafetensors, 1);
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local = NULL;
  const guint8 *bytes;
  gsize size;
  guint64 header_len = 0;
  JsonObject *header;
  GList *members;
  gboolean ok = TRUE;

  st->path = g_strdup (path);
  st->tensors = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, st_tensor_free);
  st->map = g_mapped_file_new (path, FALSE, &local);
  if (!st->map) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "Cannot open weights file %s: %s", path, local->message);
    return NULL;
  }
  bytes = (const guint8 *) g_mapped_file_get_contents (st->map);
  size = g_mapped_file_get_length (st->map);
  if (size >= 8)
    for (gint i = 7; i >= 0; i--)
      header_len = (header_len << 8) | bytes[i];
  if (size < 8) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE, "%s is not a safetensors file or is truncated: it has only %"
        G_GSIZE_FORMAT " bytes", path, size);
    return NULL;
  }
  if (header_len > size - 8 || header_len < 2) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FILE,
        "%s is not a safetensors file or is truncated: its header claims %" G_GUINT64_FORMAT
        " bytes, the file has %" G_GSIZE_FORMAT, path, header_len, size);
    return NULL;
  }
  parser = json_parser_new_immutable ();
  if (!vtp_json_parser_load (parser, (const char *) bytes + 8, header_len, &local)
      || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_FORMAT, "%s: the safetensors header is not a JSON object%s%s",
        path, local ? ": " : "", local ? local->message : "");
    return NULL;
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
  return ok ? g_steal_pointer (&st) : NULL;
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
