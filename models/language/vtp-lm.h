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
  /* runs @segments from *lm->n_past (vtp_llama_prefill's contract) */
  gboolean (*prefill) (VtpLm *lm, const VtpLmSegment *segments, gint n_segments, gboolean all_logits,
      GError **error);
  void (*state_free) (gpointer state);
  void (*model_release) (gpointer model);   /* NULL: borrowed (vtp_lm_view_llama) */
  gsize (*weight_bytes) (gpointer model);   /* matrix bytes one decoded token reads */
} VtpLmOps;

struct _VtpLm {
  VtpTextFamily family;
  const VtpLmOps *ops;
  gpointer model, state;        /* the family's: VtpLlama + VtpLlamaState, VtpOpt + VtpOptState, VtpT5 + VtpT5State */
  /* views of them, for the decode loop and the element */
  VtpDevice *dev;
  gint vocab_size;
  gint input_width;             /* the width of input embeddings (a bridge's rows) */
  gint max_positions;           /* max_position_embeddings */
  gint max_ctx;                 /* the state's positions */
  gint *n_past;                 /* positions in the state's KV cache */
  VtpTensor *logits;            /* the state's logits: row 0 after a prefill without all_logits */
  gint n_eos;
  const gint *eos_token_id;
  gint bos_token_id;            /* -1 when none */
  gint n_layers;
  const VtpTensor *lm_head;     /* the output head (its type names the weights') */
};

/* The language model of @parts (has_text) from @c, through the model
 * cache, with a state of @max_ctx positions fed @max_chunk at a time.
 * @adapter (LLaMA-Adapter, PEFT) only for the LLaMA family. */
VtpLm *vtp_lm_open (VtpCheckpoint *c, const VtpModelParts *parts, VtpCheckpoint *adapter, VtpDevice *dev,
    VtpWeightType wtype, gint max_ctx, gint max_chunk, GError **error);
void vtp_lm_free (VtpLm *lm);

/* A borrowed view of a loaded LLaMA model and state (not freed with it). */
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

/* The input embeddings of @ids as the model reads them (its token
 * embedding table's rows, get_input_embeddings() in transformers) into
 * @out [n, input_width], as floats; an INPUT error for an id outside the
 * vocabulary. */
gboolean vtp_lm_embed_ids (const VtpLm *lm, const gint32 *ids, gint n, float *out, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpLm, vtp_lm_free)

G_END_DECLS
