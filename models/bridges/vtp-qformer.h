/* vtp-qformer.h: the Querying Transformer of BLIP-2 and InstructBLIP
 * (HF Blip2QFormerModel / InstructBlipQFormerModel numerics): learned query
 * tokens, BERT-style post-LN layers whose self-attention mixes the queries
 * with the instruction tokens (InstructBLIP), cross-attention from the
 * queries to the image features every cross_attention_frequency layers,
 * separate feed-forward weights for queries and text, and the language
 * projection into the LLM's width. */
#pragma once
#include "vtp-checkpoint.h"
#include "vtp-config.h"

G_BEGIN_DECLS

typedef struct {
  VtpTensor *w, *b;
} VtpAffine;

/* One attention block: query/key/value projections, output dense, LayerNorm. */
typedef struct {
  VtpAffine q, k, v, o, ln;
} VtpQFormerAttention;

/* Feed-forward: intermediate dense (GELU), output dense, LayerNorm. */
typedef struct {
  VtpAffine up, down, ln;
} VtpQFormerFfn;

typedef struct {
  VtpQFormerAttention self_attn, cross_attn;   /* cross only every cross_attention_frequency layers */
  gboolean has_cross;
  VtpQFormerFfn ffn_query, ffn_text;           /* text only with text input */
} VtpQFormerLayer;

typedef struct {
  VtpQFormerConfig cfg;
  gint n_queries, out_width;
  VtpDevice *dev;
  VtpTensor *query_tokens;                     /* [Q, H] */
  VtpAffine emb_ln;                            /* embeddings.layernorm (InstructBLIP) or layernorm (BLIP-2) */
  const VtpStTensor *word_emb, *pos_emb;       /* host, mapped: only the rows in use are read */
  VtpAffine proj;                              /* language_projection [D, H] */
  VtpQFormerLayer *layers;
} VtpQFormer;

typedef struct {
  gint max_text, n_image;
  VtpTensor *x, *q, *k, *v, *attn, *ffn, *ck, *cv, *scores;
  float *host_rows;
} VtpQFormerState;

/* @prefix is where the checkpoint keeps query_tokens, qformer.* and
 * language_projection.* ("" for the hub layouts); @out_width the LLM's. */
VtpQFormer *vtp_qformer_load (VtpCheckpoint *c, const char *prefix, const VtpBlipConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);
VtpQFormer *vtp_qformer_acquire (VtpCheckpoint *c, const char *prefix, const VtpBlipConfig *cfg, VtpDevice *dev,
    VtpWeightType wtype, GError **error);
void vtp_qformer_free (VtpQFormer *m);

/* A state for image features of @n_image rows and instructions of at most
 * @max_text tokens ([CLS] and [SEP] included). */
VtpQFormerState *vtp_qformer_state_new (const VtpQFormer *m, gint n_image, gint max_text, GError **error);
void vtp_qformer_state_free (VtpQFormerState *s);

/* The queries after the Q-Former ([Q, H]) and their projection ([Q, D])
 * for @image [n_image, encoder_hidden] and the instruction @text_ids (NULL
 * or 0 tokens: queries only, as BLIP-2). @qformer_out may be NULL. */
gboolean vtp_qformer_forward (VtpQFormer *m, VtpQFormerState *s, const VtpTensor *image, const gint32 *text_ids,
    gint n_text, VtpTensor *qformer_out, VtpTensor *projected, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpQFormer, vtp_qformer_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpQFormerState, vtp_qformer_state_free)

G_END_DECLS
