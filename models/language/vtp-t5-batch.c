/* vtp-t5-batch.c: one decoder step of several streams of the same T5 model
 * (docs/batching.md), as vtp-llama-batch.c does for LLaMA: the streams'
 * new tokens are the rows of one product per projection (self-attention
 * q|k|v and output, cross-attention query and output, the feed-forward,
 * the head), which vtp_op_linear_rows runs with one pass over the weights
 * and each row's arithmetic a lone row's. What belongs to a stream stays
 * its own, in one launch for up to 4 streams (vtp_op_attention_streams):
 * the write of its key and value into its own cache, its self-attention
 * (with its relative position bias at its own position) and its
 * cross-attention over its own encoded input. */
#include "vtp-t5.h"

VtpT5Batch *
vtp_t5_batch_new (VtpT5 *m, gint max_streams, GError **error)
{
  g_autoptr (VtpT5Batch) b = g_new0 (VtpT5Batch, 1);
  const VtpT5Config *c = &m->cfg;
  const gint64 D = c->d_model, I = (gint64) c->num_heads * c->d_kv;

  if (!vtp_lm_check_batch_room (max_streams, error))
    return NULL;
  b->max_streams = max_streams;
  b->host_rows = g_new (float, (gsize) max_streams * D);
  if (!(b->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, I, error))
      || !(b->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, I, error))
      || !(b->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, I, error))
      || !(b->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, I, error))
      || !(b->h = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->d_ff, error))
      || (c->gated && !(b->g = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->d_ff, error)))
      || !(b->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->vocab_size, error)))
    return NULL;
  return g_steal_pointer (&b);
}

void
vtp_t5_batch_free (VtpT5Batch *b)
{
  if (!b)
    return;
  {
    VtpTensor *ts[] = { b->x, b->xn, b->q, b->k, b->v, b->attn, b->h, b->g, b->logits };
    for (guint i = 0; i < G_N_ELEMENTS (ts); i++)
      vtp_tensor_free (ts[i]);
  }
  g_free (b->host_rows);
  g_free (b);
}

VTP_LM_DEFINE_CHECK_BATCH (VtpT5, VtpT5State)

/* check_batch's checks, and that each state has encoded its input (a batch
 * step is a decoder step after the prefill's encoding). */
static gboolean
check_encoded_batch (VtpT5 *m, VtpT5Batch *b, VtpT5State **states, gint n, GError **error)
{
  if (!check_batch (m, b->max_streams, states, n, error))
    return FALSE;
  for (gint i = 0; i < n; i++)
    if (states[i]->n_past < 1 || states[i]->n_enc < 1) {
      g_set_error (error, VTP_ERROR, VTP_ERROR_INPUT, "Stream %d of the decode batch has not encoded its input "
          "yet (prefill it first)", i);
      return FALSE;
    }
  return TRUE;
}

gboolean
vtp_t5_decode_batch (VtpT5 *m, VtpT5Batch *b, VtpT5State **states, const gint32 *tokens, gint n, GError **error)
{
  const VtpT5Config *c = &m->cfg;
  const gint D = c->d_model, V = c->vocab_size;
  /* T5's attention is unscaled; its bias and causality come per stream */
  const VtpAttention a = { c->num_heads, c->num_heads, c->d_kv, FALSE, 0, 1.0f, NULL, 0 };
  g_autofree VtpStreamKV *kv = NULL;

  if (!check_encoded_batch (m, b, states, n, error) || !vtp_lm_gather_rows (m->embed, V, D, tokens, n, b->host_rows, error))
    return FALSE;
  if (!vtp_tensor_write (b->x, 0, b->host_rows, (gsize) n * D * sizeof (float), error)) {
    g_prefix_error (error, "Uploading the embeddings of a decode batch of %d: ", n);
    return FALSE;
  }
  kv = g_new (VtpStreamKV, n);
  for (gint l = 0; l < c->num_decoder_layers; l++) {
    const VtpT5Layer *y = &m->dec[l];
    const VtpLinearOut qkv[3] = { { b->q, 0, y->wq, NULL }, { b->k, 0, y->wk, NULL }, { b->v, 0, y->wv, NULL } };

    vtp_op_rmsnorm (b->xn, b->x, 0, n, y->attn_norm, c->layer_norm_epsilon);
    vtp_op_linear_multi_rows (b->xn, 0, n, qkv, 3);
    /* each stream's new key and value into its cache, its self-attention
     * with the bias of its own position */
    for (gint i = 0; i < n; i++)
      kv[i] = (VtpStreamKV) { states[i]->k_cache[l], states[i]->v_cache[l], states[i]->scores, states[i]->n_past,
        states[i]->dec_bias, states[i]->max_ctx - 1 };
    vtp_op_attention_streams (b->attn, b->q, b->k, b->v, kv, n, &a);
    vtp_op_linear_rows (b->x, 0, b->attn, 0, n, y->wo, NULL, TRUE);

    /* and its cross-attention over its own encoded input */
    vtp_op_rmsnorm (b->xn, b->x, 0, n, y->cross_norm, c->layer_norm_epsilon);
    vtp_op_linear_rows (b->q, 0, b->xn, 0, n, y->cq, NULL, FALSE);
    for (gint i = 0; i < n; i++)
      kv[i] = (VtpStreamKV) { states[i]->ck[l], states[i]->cv[l], states[i]->scores, states[i]->n_enc };
    vtp_op_attention_streams (b->attn, b->q, NULL, NULL, kv, n, &a);
    vtp_op_linear_rows (b->x, 0, b->attn, 0, n, y->co, NULL, TRUE);

    vtp_t5_ffn (m, y, b->x, b->xn, b->h, b->g, n, TRUE);
  }
  /* the final norm (its weight carries the output scaling when there is one) */
  vtp_op_rmsnorm (b->xn, b->x, 0, n, m->dec_norm, c->layer_norm_epsilon);
  vtp_op_linear_rows (b->logits, 0, b->xn, 0, n, m->lm_head, NULL, FALSE);
  /* row i's logits where stream i's generate loop reads them */
  for (gint i = 0; i < n; i++) {
    vtp_tensor_copy_rect (states[i]->logits, 0, 0, b->logits, i, 0, 1, V);
    states[i]->n_past++;
  }
  return vtp_error_take_pending (error);
}
