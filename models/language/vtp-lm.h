/* vtp-lm.h: a language model as the decode loop and vtpllm use it,
 * whatever its family: the checkpoint's config says which (VtpTextFamily),
 * and a table of the family's functions does the rest. A family adds its
 * decoder file (vtp-llama.c, vtp-opt.c, vtp-t5.c), one VtpLmOps and a case
 * in vtp_lm_open. An encoder-decoder (T5) takes the input at position 0
 * into its encoder and counts n_past in decoder positions. */
#pragma once
#include "vtp-llama.h"
#include "vtp-opt.h"
#include "vtp-t5.h"
#include "vtp-parts.h"

G_BEGIN_DECLS

typedef struct _VtpLm VtpLm;

typedef struct {
  const char *name;             /* "llama", "opt", "t5" */
  gboolean encodes_input;       /* an encoder-decoder: the input at position 0 is one prefill, never pieces */
  /* runs @segments from *lm->n_past (vtp_llama_prefill's contract) */
  gboolean (*prefill) (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits,
      GError **error);
  gpointer (*state_new) (gpointer model, gint max_ctx, gint max_chunk, VtpDType kv_dtype, GError **error);
  void (*state_free) (gpointer state);
  void (*model_release) (gpointer model);   /* a model cache reference */
  gsize (*weight_bytes) (gpointer model);   /* matrix bytes one decoded token reads */
  /* fills the views of @lm (its fields from dev on) from @model and @state */
  void (*view) (VtpLm *lm, gpointer model, gpointer state);
  /* Batched decoding across streams (docs/batching.md; NULL for a family
   * that decodes alone, none today): scratch for up to @max_streams rows,
   * and one decode step of @n streams of @model, states[i] fed tokens[i]
   * (the family's vtp_*_decode_batch contract). */
  gpointer (*batch_new) (gpointer model, gint max_streams, GError **error);
  void (*batch_free) (gpointer batch);
  gboolean (*decode_batch) (gpointer model, gpointer batch, gpointer *states, const gint32 *tokens, gint n,
      GError **error);
} VtpLmOps;

struct _VtpLm {
  VtpTextFamily family;
  const VtpLmOps *ops;
  gpointer model, state;        /* the family's: VtpLlama + VtpLlamaState, VtpOpt + VtpOptState, VtpT5 + VtpT5State */
  gboolean owns_model, owns_state;  /* released / freed with it (FALSE: borrowed) */
  /* views of them, for the decode loop and the element */
  VtpDevice *dev;
  gint vocab_size;
  gint input_width;             /* the width of input embeddings (a bridge's rows) */
  gint max_positions;           /* max_position_embeddings */
  gint max_ctx;                 /* the state's positions */
  gint *n_past;                 /* positions in the state's KV cache */
  VtpDType kv_dtype;            /* its type (F32, or F16 / Q8_0 with kv-type=f16 / q8_0); new streams take it too */
  VtpTensor *logits;            /* the state's logits: row 0 after a prefill without all_logits */
  gint n_eos;
  const gint *eos_token_id;
  gint bos_token_id;            /* -1 when none */
  gint n_layers;
  const VtpTensor *lm_head;     /* the output head (its type names the weights') */
  /* the token embedding table (vtp_lm_embed_ids' rows) and the model's
   * copy of it on the device, made when first asked for (NULL: the family
   * does not feed tokens from the device, vtp_lm_device_embeddings) */
  const VtpStTensor *embed;
  VtpLmDeviceTable *device_embed;
};

/* The language model of @parts (has_text) from @c, through the model
 * cache, with a state of @max_ctx positions fed @max_chunk at a time, its
 * KV cache of @kv_dtype (F32, F16 or Q8_0). @adapter (LLaMA-Adapter, PEFT) only
 * for the LLaMA family. */
VtpLm *vtp_lm_open (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, VtpDType kv_dtype, gint max_ctx, gint max_chunk, GError **error);
void vtp_lm_free (VtpLm *lm);

/* "f32", "f16" or "q8_0" (the elements' and tools' kv-type) into *@out. */
gboolean vtp_kv_type_from_name (const char *name, VtpDType *out);

/* Another stream of @lm's model: a state of its own (@max_ctx positions
 * fed @max_chunk at a time, its KV cache of @lm's type, freed with it), the model borrowed from @lm
 * (free this one first). Several streams of one model decode together
 * through vtp_batch_generator_new / the batching engine. */
VtpLm *vtp_lm_new_stream (const VtpLm *lm, gint max_ctx, gint max_chunk, GError **error);
/* The same with a KV cache of @kv_dtype (F32, F16 or Q8_0). */
VtpLm *vtp_lm_new_stream_kv (const VtpLm *lm, VtpDType kv_dtype, gint max_ctx, gint max_chunk, GError **error);

/* A borrowed view of a loaded LLaMA model and state (not freed with it;
 * @s NULL: the model alone, as vtp_batch_engine_acquire and
 * vtp_batch_generator_new take it). */
void vtp_lm_view_llama (VtpLm *lm, VtpLlama *m, VtpLlamaState *s);
/* The LLaMA model behind @lm (adapters), NULL for other families. */
VtpLlama *vtp_lm_llama (const VtpLm *lm);
VtpLlamaState *vtp_lm_llama_state (const VtpLm *lm);

static inline gboolean
vtp_lm_prefill (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits, GError **error)
{
  return lm->ops->prefill (lm, segments, n_segments, all_logits, error);
}

gboolean vtp_lm_is_eos (const VtpLm *lm, gint32 token);

/* Whether the family decodes streams together (ops->decode_batch). */
static inline gboolean
vtp_lm_can_batch (const VtpLm *lm)
{
  return lm->ops->decode_batch != NULL;
}

/* The input embeddings of @ids as the model reads them (its token
 * embedding table's rows, get_input_embeddings() in transformers) into
 * @out [n, input_width], as floats; an INPUT error for an id outside the
 * vocabulary. */
gboolean vtp_lm_embed_ids (const VtpLm *lm, const gint32 *ids, gint n, float *out, GError **error);

/* The model's token embedding table on the device (made at the first
 * call, then shared by every stream of the model), so that a token chosen
 * on the device is fed back without the host (vtp_op_embed into a row fed
 * as input embeddings); NULL with @error when it cannot be made, NULL
 * without one for a family that does not take it (an encoder-decoder's
 * decoder tokens). */
const VtpTensor *vtp_lm_device_embeddings (const VtpLm *lm, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLm, vtp_lm_free)

G_END_DECLS
