/* vtp-checkpoint.h: a model directory as published (HF layout): config.json,
 * model.safetensors or shards with their index, tokenizer and processor
 * files; or a llama.cpp GGUF file, presented as such a directory
 * (formats/vtp-gguf-checkpoint.h). Opened once per process and shared: the
 * encoder, the bridge and the LLM of one llava-hf directory each take their
 * part by name prefix. */
#pragma once
#include <json-glib/json-glib.h>
#include "vtp-safetensors.h"
#include "vtp-gguf.h"
#include "vtp-model-path.h"

G_BEGIN_DECLS

typedef struct {
  gint ref_count;
  char *dir;                  /* canonical path (of the .gguf file for a GGUF) */
  JsonParser *config_parser;
  JsonObject *config;         /* config.json's root object (synthesized for a GGUF) */
  GPtrArray *files;           /* VtpSafetensors */
  GHashTable *tensors;        /* name -> const VtpStTensor (owned by files or gguf_tensors) */
  VtpGguf *gguf;              /* a GGUF text model; NULL for safetensors */
  VtpGguf *gguf_vision;       /* a GGUF mmproj file (CLIP tower + projector); NULL when none */
  GPtrArray *gguf_tensors;    /* VtpStTensor views of both files' tensors, under their vtp names */
  JsonParser *processor_parser;   /* image processor settings synthesized for an mmproj file */
} VtpCheckpoint;


/* Resolves @model (a directory or a .gguf file, or a name found under
 * $VTP_MODEL_PATH) and returns the process-wide checkpoint for it, opening
 * it on first use. A directory with config.json (or adapter_config.json) is
 * read as safetensors; one without them is read as the GGUF text model it
 * holds: its only .gguf whose name does not start with "mmproj" (llama.cpp's
 * name for the CLIP + projector file that goes with it) together with its
 * only mmproj*.gguf when there is one (llama.cpp's LLaVA pair, read as one
 * llava checkpoint); several of either kind are an error that lists them
 * (name the file instead). A .gguf file is read alone: a text model, or an
 * mmproj file (vision tower and projector only). */
VtpCheckpoint *vtp_checkpoint_open (const char *model, GError **error);
VtpCheckpoint *vtp_checkpoint_ref (VtpCheckpoint *c);
void vtp_checkpoint_unref (VtpCheckpoint *c);

const VtpStTensor *vtp_checkpoint_find (VtpCheckpoint *c, const char *name);
/* The first of @prefixes (NULL-terminated) for which prefix + @probe is a
 * tensor; NULL and @error naming what was tried otherwise. */
const char *vtp_checkpoint_find_prefix (VtpCheckpoint *c, const char *const *prefixes,
    const char *probe, const char *part, GError **error);
/* A file of the directory parsed as JSON; NULL without error when absent
 * and @optional. */
JsonParser *vtp_checkpoint_read_json (VtpCheckpoint *c, const char *file, gboolean optional, GError **error);
/* Path of a file in the directory (whether or not it exists). */
char *vtp_checkpoint_file (VtpCheckpoint *c, const char *file);

/* Tensor @name after checking its shape (as vtp_checkpoint_load does). */
const VtpStTensor *vtp_checkpoint_get (VtpCheckpoint *c, const char *name, gint ndim, const gint64 *shape,
    GError **error);

typedef enum {
  VTP_LOAD_MATRIX,   /* a linear/conv weight: [N, ...] flattened to [N, K], packed for vtp_op_linear */
  VTP_LOAD_TABLE,    /* an embedding table [V, D], gathered rows */
  VTP_LOAD_F32,      /* a vector or small parameter, converted to F32 */
  VTP_LOAD_MATRIX_T, /* a projection stored [in, out] (used as x @ P): transposed to [out, in], then as MATRIX */
} VtpLoadKind;

/* How stored weights are typed on the device. KEEP uses the checkpoint's
 * type; F16 halves F32 checkpoints; F32 gives full precision; Q8_0, Q4_0,
 * Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K and Q6_K quantize the matrices at load (llama.cpp's reference
 * quantizers, bit for bit); matrices whose rows are not whole blocks (32
 * elements, 256 for the K-quants), embedding tables and
 * everything else keep the checkpoint's type. Vectors and small parameters
 * are always F32. */
typedef enum {
  VTP_WEIGHTS_KEEP,
  VTP_WEIGHTS_F32,
  VTP_WEIGHTS_F16,
  VTP_WEIGHTS_Q8_0,
  VTP_WEIGHTS_Q4_0,
  VTP_WEIGHTS_Q4_K,
  VTP_WEIGHTS_Q5_K,
  VTP_WEIGHTS_Q6_K,
  VTP_WEIGHTS_BF16,
  VTP_WEIGHTS_Q4_1,
  VTP_WEIGHTS_Q5_0,
  VTP_WEIGHTS_Q5_1,
  VTP_WEIGHTS_Q3_K,
  VTP_WEIGHTS_Q2_K,
  VTP_WEIGHTS_IQ4_NL,
  VTP_WEIGHTS_IQ4_XS,
} VtpWeightType;

/* "auto", "f32", "f16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "bf16",
 * "q4_1", "q5_0", "q5_1", "q3_k", "q2_k", "iq4_nl", "iq4_xs"
 * (the elements' weight-type nicks);
 * FALSE for another name. */
gboolean vtp_weight_type_from_name (const char *name, VtpWeightType *out);

/* Loads tensor @name to @dev after checking its shape against @shape
 * (leading 1s ignored: [1, 1, D] matches [D]). Errors name the file, the
 * tensor, the found and the expected shape. */
VtpTensor *vtp_checkpoint_load (VtpCheckpoint *c, VtpDevice *dev, const char *name, VtpLoadKind kind,
    VtpWeightType wtype, gint ndim, const gint64 *shape, GError **error);

/* Loads the tensors of one part in a row: names are @prefix + a printf
 * format; the first failure is kept in @error and later loads return NULL,
 * so a part's loader reads as the list of its tensors. */
typedef struct {
  VtpCheckpoint *c;
  VtpDevice *dev;
  VtpWeightType wtype;
  const char *prefix;
  GError **error;
  gboolean failed;
} VtpLoader;

VtpTensor *vtp_loader_get (VtpLoader *l, VtpLoadKind kind, gint ndim, const gint64 *shape, const char *format,
    ...) G_GNUC_PRINTF (5, 6);

/* Shape arguments: VTP_VEC (n) is [n], VTP_MAT (r, c) is [r, c]. */
#define VTP_VEC(n) 1, (gint64[]) { (n) }
#define VTP_MAT(r, c) 2, (gint64[]) { (r), (c) }

/* Rows [row0, row0 + n_rows) of the first dimension only, e.g. the query,
 * key or value third of a fused qkv weight; @shape is the whole tensor's. */
/* The bytes of a checkpoint tensor that rows [row0, row0 + n_rows) of the
 * requested shape come from, within the tensor; empty when they cannot be
 * told apart (rows that are not whole blocks). */
void vtp_st_tensor_rows_range (const VtpStTensor *t, VtpLoadKind kind, gint ndim, const gint64 *shape,
    gint64 row0, gint64 n_rows, gsize *begin, gsize *end);
VtpTensor *vtp_checkpoint_load_rows (VtpCheckpoint *c, VtpDevice *dev, const char *name, VtpLoadKind kind,
    VtpWeightType wtype, gint ndim, const gint64 *shape, gint64 row0, gint64 n_rows, GError **error);
VtpTensor *vtp_loader_get_rows (VtpLoader *l, VtpLoadKind kind, gint ndim, const gint64 *shape, gint64 row0,
    gint64 n_rows, const char *format, ...) G_GNUC_PRINTF (7, 8);

/* Host copy of a whole tensor converted to float (for tools and tests). */
float *vtp_st_tensor_to_f32 (const VtpStTensor *t, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpCheckpoint, vtp_checkpoint_unref)

G_END_DECLS
