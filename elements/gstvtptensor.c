#include "gstvtptensor.h"

GST_DEBUG_CATEGORY_STATIC (vtp_tensor_debug);
#define GST_CAT_DEFAULT vtp_tensor_debug

GstCaps *
gst_vtp_tensor_caps_any (const char *kind)
{
  return gst_caps_new_simple (GST_VTP_TENSOR_MEDIA_TYPE, "kind", G_TYPE_STRING, kind,
      "tokens", GST_TYPE_INT_RANGE, 1, G_MAXINT, "width", GST_TYPE_INT_RANGE, 1, G_MAXINT, NULL);
}

GstCaps *
gst_vtp_tensor_caps_new (const char *kind, gint tokens, gint width)
{
  return gst_caps_new_simple (GST_VTP_TENSOR_MEDIA_TYPE, "kind", G_TYPE_STRING, kind,
      "tokens", G_TYPE_INT, tokens, "width", G_TYPE_INT, width, NULL);
}

gboolean
gst_vtp_tensor_caps_parse (const GstCaps *caps, const char *kind, gint *tokens, gint *width)
{
  const GstStructure *s;

  if (!caps || gst_caps_get_size (caps) != 1)
    return FALSE;
  s = gst_caps_get_structure (caps, 0);
  return gst_structure_has_name (s, GST_VTP_TENSOR_MEDIA_TYPE)
      && !g_strcmp0 (gst_structure_get_string (s, "kind"), kind)
      && gst_structure_get_int (s, "tokens", tokens) && gst_structure_get_int (s, "width", width)
      && *tokens > 0 && *width > 0;
}

/* ---- the allocator: GstMemory around a device tensor ---- */

typedef struct {
  GstMemory mem;
  VtpTensor *tensor;
  gpointer host;                /* downloaded copy while mapped */
} GstVtpMemory;

typedef struct { GstAllocator parent; } GstVtpAllocator;
typedef struct { GstAllocatorClass parent_class; } GstVtpAllocatorClass;

GType gst_vtp_allocator_get_type (void);
G_DEFINE_TYPE (GstVtpAllocator, gst_vtp_allocator, GST_TYPE_ALLOCATOR);

static GstAllocator *the_allocator;

static GstMemory *memory_new (VtpTensor *tensor);

static GstMemory *
vtp_allocator_alloc (GstAllocator *allocator, gsize size, GstAllocationParams *params)
{
  /* Tensor memory is made from tensors (gst_vtp_buffer_new_tensor), never
   * offered to peers through allocation queries. */
  return NULL;
}

static void
vtp_allocator_free (GstAllocator *allocator, GstMemory *mem)
{
  GstVtpMemory *m = (GstVtpMemory *) mem;
  g_free (m->host);
  vtp_tensor_free (m->tensor);
  g_free (m);
}

static gpointer
vtp_mem_map (GstMemory *mem, gsize maxsize, GstMapFlags flags)
{
  GstVtpMemory *m = (GstVtpMemory *) mem;
  g_autoptr (GError) error = NULL;

  if (!m->host)
    m->host = g_malloc (MAX (mem->maxsize, 1));
  if ((flags & GST_MAP_READ) && !vtp_tensor_read (m->tensor, 0, m->host, mem->maxsize, &error)) {
    GST_ERROR ("cannot map tensor memory: %s", error->message);
    return NULL;
  }
  return m->host;
}

static void
vtp_mem_unmap_full (GstMemory *mem, GstMapInfo *info)
{
  GstVtpMemory *m = (GstVtpMemory *) mem;
  g_autoptr (GError) error = NULL;

  if ((info->flags & GST_MAP_WRITE) && !vtp_tensor_write (m->tensor, 0, m->host, mem->maxsize, &error))
    GST_ERROR ("cannot write back tensor memory: %s", error->message);
}

static GstMemory *
vtp_mem_copy (GstMemory *mem, gssize offset, gssize size)
{
  GstVtpMemory *m = (GstVtpMemory *) mem;
  g_autoptr (GError) error = NULL;
  VtpTensor *t;

  if (offset != 0 || (size != -1 && (gsize) size != mem->size))
    return NULL;
  t = vtp_tensor_new (m->tensor->dev, m->tensor->dtype, m->tensor->ndim, m->tensor->shape, &error);
  if (!t)
    return NULL;
  vtp_tensor_copy (t, 0, m->tensor, 0, vtp_tensor_n_bytes (t));
  if (!vtp_error_take_pending (&error)) {
    vtp_tensor_free (t);
    return NULL;
  }
  return memory_new (t);
}

static void
gst_vtp_allocator_class_init (GstVtpAllocatorClass *klass)
{
  GstAllocatorClass *a = GST_ALLOCATOR_CLASS (klass);
  a->alloc = vtp_allocator_alloc;
  a->free = vtp_allocator_free;
}

static void
gst_vtp_allocator_init (GstVtpAllocator *self)
{
  GstAllocator *a = GST_ALLOCATOR (self);
  a->mem_type = GST_VTP_ALLOCATOR_NAME;
  a->mem_map = vtp_mem_map;
  a->mem_unmap_full = vtp_mem_unmap_full;
  a->mem_copy = vtp_mem_copy;
  GST_OBJECT_FLAG_SET (self, GST_ALLOCATOR_FLAG_CUSTOM_ALLOC);
}

static GstAllocator *
get_allocator (void)
{
  static gsize once = 0;
  if (g_once_init_enter (&once)) {
    GST_DEBUG_CATEGORY_INIT (vtp_tensor_debug, "vtptensor", 0, "vtp tensor memory");
    the_allocator = g_object_new (gst_vtp_allocator_get_type (), NULL);
    gst_object_ref_sink (the_allocator);
    GST_OBJECT_FLAG_SET (the_allocator, GST_OBJECT_FLAG_MAY_BE_LEAKED);
    gst_allocator_register (GST_VTP_ALLOCATOR_NAME, gst_object_ref (the_allocator));
    g_once_init_leave (&once, 1);
  }
  return the_allocator;
}

static GstMemory *
memory_new (VtpTensor *tensor)
{
  GstVtpMemory *m = g_new0 (GstVtpMemory, 1);
  const gsize size = vtp_tensor_n_bytes (tensor);

  gst_memory_init (GST_MEMORY_CAST (m), GST_MEMORY_FLAG_NO_SHARE, get_allocator (), NULL, size, 0, 0, size);
  m->tensor = tensor;
  return GST_MEMORY_CAST (m);
}

GstBuffer *
gst_vtp_buffer_new_tensor (VtpTensor *tensor)
{
  GstBuffer *buf = gst_buffer_new ();
  gst_buffer_append_memory (buf, memory_new (tensor));
  return buf;
}

VtpTensor *
gst_vtp_buffer_peek_tensor (GstBuffer *buf)
{
  GstMemory *mem;

  if (gst_buffer_n_memory (buf) != 1)
    return NULL;
  mem = gst_buffer_peek_memory (buf, 0);
  if (!gst_memory_is_type (mem, GST_VTP_ALLOCATOR_NAME))
    return NULL;
  return ((GstVtpMemory *) mem)->tensor;
}

VtpTensor *
gst_vtp_buffer_get_tensor (GstBuffer *buf, VtpDevice *dev, gint rows, gint cols, VtpTensor **scratch,
    GError **error)
{
  VtpTensor *t = gst_vtp_buffer_peek_tensor (buf);
  const gsize want = (gsize) rows * cols * sizeof (float);
  GstMapInfo map;
  gboolean ok;

  if (t && t->dev == dev && t->dtype == VTP_DTYPE_F32 && vtp_tensor_rows (t) == rows && vtp_tensor_cols (t) == cols)
    return t;
  if (gst_buffer_get_size (buf) != want) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_SHAPE, "A tensor buffer of %" G_GSIZE_FORMAT " bytes cannot hold "
        "[%d, %d] floats as its caps say (%" G_GSIZE_FORMAT " bytes)", gst_buffer_get_size (buf), rows, cols, want);
    return NULL;
  }
  if (!*scratch || vtp_tensor_rows (*scratch) != rows || vtp_tensor_cols (*scratch) != cols) {
    g_clear_pointer (scratch, vtp_tensor_free);
    if (!(*scratch = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, cols, error)))
      return NULL;
  }
  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_set_error (error, VTP_ERROR, VTP_ERROR_DEVICE, "Cannot read the incoming tensor buffer");
    return NULL;
  }
  if (!(ok = vtp_tensor_write (*scratch, 0, map.data, want, error)))
    g_prefix_error (error, "Uploading the incoming tensor: ");
  gst_buffer_unmap (buf, &map);
  return ok ? *scratch : NULL;
}
