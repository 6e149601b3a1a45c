/* vtp-llama-batch.c: one decode step of several streams of the same LLaMA
 * model (docs/batching.md). Decode is memory-bound: each token's step reads
 * every weight once for one row. Here the streams' new tokens are the rows
 * of one batch, so that each projection (q|k|v, o, gate|up, down, lm_head)
 * is one product of n rows, which vtp_op_linear_rows runs with its kernels
 * for a few rows (one pass over the weights; each row's arithmetic as a
 * lone row's, so that a stream's tokens do not depend on its batch). What depends on a stream's
 * position and history stays per stream: the rotation (its own position),
 * the write of its key and value into its own cache, attention against
 * that cache, and with LLaMA-Adapter its own adaption prompts' attention.
 * LoRA deltas are products of the batch's rows like the others. */
#include "vtp-llama.h"
#include "vtp-decode-step.h"
#include <math.h>

VtpLlamaBatch *
vtp_llama_batch_new (VtpLlama *m, gint max_streams, GError **error)
{
  g_autoptr (VtpLlamaBatch) b = g_new0 (VtpLlamaBatch, 1);
  const VtpLlamaConfig *c = &m->cfg;
  const gint64 D = c->hidden_size, QD = (gint64) c->num_attention_heads * c->head_dim;
  const gint64 KD = (gint64) c->num_key_value_heads * c->head_dim;

  if (!vtp_lm_check_batch_room (max_streams, error))
    return NULL;
  b->max_streams = max_streams;
  b->host_rows = g_new (float, (gsize) max_streams * D);
  if (!(b->x = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->xn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, D, error))
      || !(b->q = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, QD, error))
      || !(b->k = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, KD, error))
      || !(b->v = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, KD, error))
      || !(b->attn = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, QD, error))
      || !(b->gate = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->intermediate_size, error))
      || !(b->up = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->intermediate_size, error))
      || !(b->logits = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->vocab_size, error))
      || !(b->rope = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, c->head_dim, error)))
    return NULL;
  if (m->adapter && m->adapter->cfg.w_lora
      && !(b->lora_tmp = vtp_tensor_new_2d (m->dev, VTP_DTYPE_F32, max_streams, m->adapter->cfg.lora_rank, error)))
    return NULL;
  if (m->dev->pocl_cpu && m->dev->int8_dot && max_streams >= 2
      && (!(b->sync = vtp_decode_layer_sync_new (m->dev, c->num_hidden_layers + 1, error))
          || !(b->int8_rows = vtp_decode_rows_scratch_new (m->dev, MIN (max_streams, VTP_DECODE_ROWS_MAX),
                  MAX (MAX (D, QD), c->intermediate_size), error))))
    return NULL;
  return g_steal_pointer (&b);
}

void
vtp_llama_batch_free (VtpLlamaBatch *b)
{
  if (!b)
    return;
  vtp_tensor_free (b->x);
  vtp_tensor_free (b->xn);
  vtp_tensor_free (b->q);
  vtp_tensor_free (b->k);
  vtp_tensor_free (b->v);
  vtp_tensor_free (b->attn);
  vtp_tensor_free (b->gate);
  vtp_tensor_free (b->up);
  vtp_tensor_free (b->logits);
  vtp_tensor_free (b->rope);
  vtp_tensor_free (b->lora_tmp);
  vtp_tensor_free (b->sync);
  vtp_tensor_free (b->int8_rows);
  vtp_decode_token_free (b->token);
  g_free (b->host_rows);
  g_free (b);
}

VTP_LM_DEFINE_CHECK_BATCH (VtpLlama, VtpLlamaState)

/* rows [0, n) of @out += the layer's LoRA of @p, each row as a lone row */
static void
lora_rows (VtpLlamaBatch *b, const VtpLlamaLayer *y, VtpLlamaProj p, VtpTensor *out, const VtpTensor *in, gint n)
{
  vtp_llama_lora (b->lora_tmp, y, p, out, 0, in, n, TRUE);
}

/* Per stream: its key and value into its own cache, attention of its
 * query over that cache (vtp_op_attention_streams: a few launches for all
 * the streams, not three for each). */
static void
attention_per_stream (VtpLlama *m, VtpLlamaBatch *b, VtpLlamaState **states, gint n, gint l)
{
  const VtpLlamaConfig *c = &m->cfg;
  const VtpAttention a = { c->num_attention_heads, c->num_key_value_heads, c->head_dim, TRUE, 0,
    1.0f / sqrtf ((float) c->head_dim) };
  g_autofree VtpStreamKV *kv = g_new (VtpStreamKV, n);

  for (gint i = 0; i < n; i++)
    kv[i] = (VtpStreamKV) { states[i]->k_cache[l], states[i]->v_cache[l], states[i]->scores, states[i]->n_past };
  vtp_op_attention_streams (b->attn, b->q, b->k, b->v, kv, n, &a);
  /* LLaMA-Adapter: each stream's own adaption prompts (a picture's, with
   * V2), as the one-stream decoder adds them */
  if (m->adapter && l >= m->adapter->first_layer)
    for (gint i = 0; i < n; i++)
      if (states[i]->prompts_on)
        vtp_op_adapter_attention (b->attn, i, b->q, i, 1, states[i]->prompt_k[l], states[i]->prompt_v[l],
            m->adapter->gates, l, &a);
}

/* Layer @l's step for the batch's @n rows as two fused launches around the
 * streams' attention (vtp-decode-layer.h): TRUE when the device and the
 * layer take them (PoCL with int8 dot products, block-quantized weights,
 * no adapter), @r filled in. */
static gboolean
fused_rows (const VtpLlama *m, const VtpLlamaBatch *b, gint n, gint l, VtpDecodeRows *r)
{
  const VtpLlamaConfig *c = &m->cfg;
  const VtpLlamaLayer *y = &m->layers[l];
  const VtpDecodeRows f = { b->x, b->xn, b->q, b->k, b->v, b->attn, b->gate, b->up, b->rope, b->int8_rows, b->sync,
    y->attn_norm, y->ffn_norm, y->wq, y->wk, y->wv, y->wo, y->w_gate, y->w_up, y->w_down, y->bq, y->bk, y->bv,
    y->bo, y->b_gate, y->b_up, y->b_down, n, c->num_attention_heads, c->num_key_value_heads, c->head_dim,
    c->rms_norm_eps, m->rope_layout == VTP_ROPE_INTERLEAVED };

  *r = f;
  return b->sync && !m->adapter && vtp_decode_rows_fits (r);
}

gint
vtp_llama_batch_fused_layers (const VtpLlama *m, const VtpLlamaBatch *b, gint n)
{
  VtpDecodeRows r;
  gint count = 0;
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++)
    count += fused_rows (m, b, n, l, &r);
  return count;
}

/* The batch's layers (@r, num_hidden_layers) and streams (@st, @n) of a
 * step in one launch (vtp-decode-step.h): TRUE when they take it. */
static gboolean
fused_step (const VtpLlama *m, const VtpLlamaBatch *b, VtpLlamaState **states, gint n, VtpDecodeRows *r,
    VtpDecodeStream *st)
{
  for (gint l = 0; l < m->cfg.num_hidden_layers; l++)
    if (!fused_rows (m, b, n, l, &r[l]))
      return FALSE;
  for (gint i = 0; i < n; i++)
    st[i] = (VtpDecodeStream) { states[i]->k_cache, states[i]->v_cache, states[i]->scores, states[i]->logits,
      states[i]->n_past };
  return vtp_decode_rows_token_fits (r, m->cfg.num_hidden_layers, st);
}

gboolean
vtp_llama_batch_fused_step (const VtpLlama *m, const VtpLlamaBatch *b, VtpLlamaState **states, gint n)
{
  VtpDecodeRows *r = g_newa (VtpDecodeRows, m->cfg.num_hidden_layers);
  VtpDecodeStream st[VTP_DECODE_ROWS_MAX];
  return n >= 2 && n <= VTP_DECODE_ROWS_MAX && fused_step (m, b, states, n, r, st);
}

/* The head over the batch's rows, each row's logits into its stream's, and
 * every stream one position on. */
static void
head_rows (VtpLlama *m, VtpLlamaBatch *b, VtpLlamaState **states, gint n)
{
  const VtpLlamaConfig *c = &m->cfg;

  vtp_op_rmsnorm (b->xn, b->x, 0, n, m->norm, c->rms_norm_eps);
  vtp_op_linear_rows (b->logits, 0, b->xn, 0, n, m->lm_head, NULL, FALSE);
  /* row i's logits where stream i's generate loop reads them */
  for (gint i = 0; i < n; i++)
    vtp_tensor_copy_rect (states[i]->logits, 0, 0, b->logits, i, 0, 1, c->vocab_size);
}

gboolean
vtp_llama_decode_batch (VtpLlama *m, VtpLlamaBatch *b, VtpLlamaState **states, const gint32 *tokens, gint n,
    GError **error)
{
  const VtpLlamaConfig *c = &m->cfg;
  const gint D = c->hidden_size, V = c->vocab_size;

  if (!check_batch (m, b->max_streams, states, n, error))
    return FALSE;
  if (n == 1) {
    /* one stream: its own decode step (a fused layer a launch where it
     * fits; the batch's kernels for one row are the lone step's anyway) */
    const VtpLlamaSegment seg = { tokens, NULL, 0, 1 };
    return vtp_llama_prefill (m, states[0], &seg, 1, FALSE, error);
  }
  if (!vtp_lm_gather_rows (m->embed, V, D, tokens, n, b->host_rows, error))
    return FALSE;
  if (!vtp_tensor_write (b->x, 0, b->host_rows, (gsize) n * D * sizeof (float), error)) {
    g_prefix_error (error, "Uploading the embeddings of a decode batch of %d: ", n);
    return FALSE;
  }
  if (n <= VTP_DECODE_ROWS_MAX) {
    VtpDecodeRows *r = g_newa (VtpDecodeRows, c->num_hidden_layers);
    VtpDecodeStream st[VTP_DECODE_ROWS_MAX];
    if (fused_step (m, b, states, n, r, st)) {
      /* the whole step in one launch, the head too where it fits */
      const VtpDecodeHead head = { m->norm, m->lm_head, b->logits, 0 };
      const gboolean with_head = vtp_decode_rows_head_fits (&head, &r[c->num_hidden_layers - 1]);
      vtp_op_decode_rows_token (&b->token, r, c->num_hidden_layers, st, m->inv_freq, with_head ? &head : NULL);
      if (!with_head)
        head_rows (m, b, states, n);
      for (gint i = 0; i < n; i++)
        states[i]->n_past++;
      return vtp_error_take_pending (error);
    }
  }
  /* each stream's rotation at its own position, once for all layers: row i
   * of the batch's table (made in row 0 of the stream's own) */
  for (gint i = 0; i < n; i++) {
    vtp_op_rope_angles (states[i]->rope, 1, c->head_dim, states[i]->n_past, m->inv_freq);
    vtp_tensor_copy_rect (b->rope, i, 0, states[i]->rope, 0, 0, 1, c->head_dim);
  }
  for (gint l = 0; l < c->num_hidden_layers; l++) {
    const VtpLlamaLayer *y = &m->layers[l];
    const VtpLinearOut qkv[3] = { { b->q, 0, y->wq, y->bq }, { b->k, 0, y->wk, y->bk }, { b->v, 0, y->wv, y->bv } };
    const VtpLinearOut gate_up[2] = { { b->gate, 0, y->w_gate, y->b_gate }, { b->up, 0, y->w_up, y->b_up } };
    VtpDecodeRows r;

    if (fused_rows (m, b, n, l, &r)) {
      vtp_op_decode_rows_in (&r);
      attention_per_stream (m, b, states, n, l);
      vtp_op_decode_rows_out (&r);
      continue;
    }
    vtp_op_rmsnorm (b->xn, b->x, 0, n, y->attn_norm, c->rms_norm_eps);
    vtp_op_linear_multi_rows (b->xn, 0, n, qkv, 3);
    lora_rows (b, y, VTP_PROJ_Q, b->q, b->xn, n);
    lora_rows (b, y, VTP_PROJ_K, b->k, b->xn, n);
    lora_rows (b, y, VTP_PROJ_V, b->v, b->xn, n);
    /* row i of q and k by row i of the table: each at its stream's position */
    vtp_op_rope_qk (b->q, 0, c->num_attention_heads, b->k, 0, c->num_key_value_heads, n, c->head_dim, b->rope,
        m->rope_layout);
    attention_per_stream (m, b, states, n, l);
    vtp_op_linear_rows (b->x, 0, b->attn, 0, n, y->wo, y->bo, TRUE);        /* x += o_proj(attn) */
    lora_rows (b, y, VTP_PROJ_O, b->x, b->attn, n);
    vtp_op_rmsnorm (b->xn, b->x, 0, n, y->ffn_norm, c->rms_norm_eps);
    if (!y->lora_a[VTP_PROJ_GATE] && !y->lora_a[VTP_PROJ_UP] && vtp_linear_swiglu_fits (b->xn, n, y->w_gate, y->w_up)) {
      /* a GPU's rows (each computed as alone): products and activation in one launch */
      vtp_op_linear_swiglu (b->gate, 0, b->xn, 0, n, NULL, 0.0f, y->w_gate, y->b_gate, y->w_up, y->b_up);
    } else {
      vtp_op_linear_multi_rows (b->xn, 0, n, gate_up, 2);
      lora_rows (b, y, VTP_PROJ_GATE, b->gate, b->xn, n);
      lora_rows (b, y, VTP_PROJ_UP, b->up, b->xn, n);
      vtp_op_silu_mul (b->gate, b->up, 0, n);
    }
    vtp_op_linear_rows (b->x, 0, b->gate, 0, n, y->w_down, y->b_down, TRUE); /* x += down(silu(gate) * up) */
    lora_rows (b, y, VTP_PROJ_DOWN, b->x, b->gate, n);
  }
  head_rows (m, b, states, n);
  for (gint i = 0; i < n; i++)
    states[i]->n_past++;
  return vtp_error_take_pending (error);
}
