/* vtp-gguf.h: one GGUF file (llama.cpp's format, versions 2 and 3,
 * little-endian), memory-mapped. The header is parsed and checked at open:
 * every count, string length, array length, dimension and offset is checked
 * against the file size before it is used, the tensors must lie inside the
 * file, aligned and without overlap, and keys and tensor names must be
 * unique. After a successful open the getters cannot read outside the file.
 *
 * Layout (all integers little-endian):
 *   "GGUF" u32 version, u64 tensor_count, u64 kv_count
 *   kv_count x     { string key, u32 value_type, value }
 *   tensor_count x { string name, u32 n_dims, u64 ne[n_dims], u32 ggml_type,
 *                    u64 offset (from the start of the data section) }
 *   padding up to general.alignment (u32, default 32), then the data section
 * where a string is u64 length + bytes (no NUL) and an array value is
 * u32 element_type, u64 count, then the elements. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VTP_GGUF_UINT8 = 0,
  VTP_GGUF_INT8 = 1,
  VTP_GGUF_UINT16 = 2,
  VTP_GGUF_INT16 = 3,
  VTP_GGUF_UINT32 = 4,
  VTP_GGUF_INT32 = 5,
  VTP_GGUF_FLOAT32 = 6,
  VTP_GGUF_BOOL = 7,
  VTP_GGUF_STRING = 8,
  VTP_GGUF_ARRAY = 9,
  VTP_GGUF_UINT64 = 10,
  VTP_GGUF_INT64 = 11,
  VTP_GGUF_FLOAT64 = 12,
} VtpGgufType;

/* ggml type ids of the tensor types vtp is likely to load (the full table,
 * with block sizes, is in vtp-gguf.c; see vtp_gguf_type_name). */
enum {
  VTP_GGML_F32 = 0,
  VTP_GGML_F16 = 1,
  VTP_GGML_Q4_0 = 2,
  VTP_GGML_Q8_0 = 8,
  VTP_GGML_BF16 = 30,
};

#define VTP_GGUF_MAX_DIMS 4
#define VTP_GGUF_DEFAULT_ALIGNMENT 32

/* One metadata entry. Scalars and numeric arrays point into the mapping
 * (little-endian, possibly unaligned: read them with the getters); strings
 * are NUL-terminated copies with their byte length (a GGUF string may hold
 * NUL bytes). */
typedef struct {
  char *key;
  VtpGgufType type;
  VtpGgufType array_type;     /* element type when type is ARRAY */
  guint64 n;                  /* ARRAY: element count; otherwise 1 */
  const guint8 *data;         /* scalar or first numeric array element */
  char **strings;             /* STRING (1) or array of STRING (n), NULL-terminated */
  gsize *lengths;             /* byte length of each string */
} VtpGgufKv;

typedef struct {
  char *name;
  guint32 n_dims;
  gint64 ne[VTP_GGUF_MAX_DIMS];   /* ggml order: ne[0] is the row length (fastest); unused = 1 */
  guint32 type;                   /* ggml type id */
  const char *type_name;          /* "Q8_0" */
  guint64 offset;                 /* from the start of the data section */
  const guint8 *data;             /* into the mapping */
  gsize n_bytes;
} VtpGgufTensor;

typedef struct {
  char *path;                 /* or the name given to new_from_bytes */
  GBytes *bytes;              /* the mapped file */
  guint32 version;
  guint32 alignment;
  guint64 data_offset;        /* start of the data section in the file */
  GPtrArray *kvs;             /* VtpGgufKv, in file order */
  GHashTable *kv_index;       /* key -> VtpGgufKv */
  GPtrArray *tensors;         /* VtpGgufTensor, in file order */
  GHashTable *tensor_index;   /* name -> VtpGgufTensor */
} VtpGguf;

/* Errors: VTP_ERROR_FILE when the file cannot be read, VTP_ERROR_FORMAT
 * when it is not a valid GGUF (naming the file, the key or tensor, what was
 * found and what was expected). */
VtpGguf *vtp_gguf_open (const char *path, GError **error);
/* The same from memory (kept referenced); @name prefixes error messages. */
VtpGguf *vtp_gguf_new_from_bytes (GBytes *bytes, const char *name, GError **error);
void vtp_gguf_free (VtpGguf *gguf);

/* NULL when absent. */
const VtpGgufKv *vtp_gguf_find (VtpGguf *gguf, const char *key);
/* "UINT32", "ARRAY"... */
const char *vtp_gguf_value_type_name (VtpGgufType type);

/* Typed getters: FALSE and a VTP_ERROR_FORMAT error naming the key when it
 * is absent or its value does not fit. Integers are accepted from any
 * integer type whose value fits the requested one (a u32 token id read as
 * i32); f32 also accepts an f64 that converts exactly. */
gboolean vtp_gguf_get_u32 (VtpGguf *gguf, const char *key, guint32 *out, GError **error);
gboolean vtp_gguf_get_i32 (VtpGguf *gguf, const char *key, gint32 *out, GError **error);
gboolean vtp_gguf_get_u64 (VtpGguf *gguf, const char *key, guint64 *out, GError **error);
gboolean vtp_gguf_get_i64 (VtpGguf *gguf, const char *key, gint64 *out, GError **error);
gboolean vtp_gguf_get_f32 (VtpGguf *gguf, const char *key, gfloat *out, GError **error);
gboolean vtp_gguf_get_bool (VtpGguf *gguf, const char *key, gboolean *out, GError **error);
/* Owned by @gguf. */
const char *vtp_gguf_get_string (VtpGguf *gguf, const char *key, GError **error);

/* Arrays. The string view is owned by @gguf (NULL-terminated; *n_out and
 * *lengths_out optional). Numeric arrays are returned as new copies
 * (g_free), converted from any element type whose values fit. */
gboolean vtp_gguf_get_array_length (VtpGguf *gguf, const char *key, guint64 *n_out, GError **error);
const char *const *vtp_gguf_get_string_array (VtpGguf *gguf, const char *key, gsize *n_out,
    const gsize **lengths_out, GError **error);
gint32 *vtp_gguf_get_i32_array (VtpGguf *gguf, const char *key, gsize *n_out, GError **error);
gfloat *vtp_gguf_get_f32_array (VtpGguf *gguf, const char *key, gsize *n_out, GError **error);

guint vtp_gguf_n_tensors (VtpGguf *gguf);
const VtpGgufTensor *vtp_gguf_tensor (VtpGguf *gguf, guint index);
const VtpGgufTensor *vtp_gguf_find_tensor (VtpGguf *gguf, const char *name);   /* NULL if absent */

/* "Q4_K"; NULL for an id ggml does not define (or no longer defines). */
const char *vtp_gguf_type_name (guint32 ggml_type);
/* Elements per block and bytes per block; FALSE for an unknown id. */
gboolean vtp_gguf_type_traits (guint32 ggml_type, guint *block_size, guint *type_size);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpGguf, vtp_gguf_free)

G_END_DECLS
