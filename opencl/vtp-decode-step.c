/* vtp-decode-step.c: a whole decode step in one launch on PoCL CPUs, one
 * stream's or a batch's (decode-layer.cl's decode_token, decode_rows_token),
 * and the table of device addresses it reads its weights and caches from. */
#include "vtp-decode-step.h"
#include "vtp-decode-layer-checks.h"
#include "vtp-launch.h"
#include "vtp-ops.h"
#include "vtp-switch.h"
#include <math.h>
#include <string.h>

/* ---- a whole decode step in one launch ---- */

#define LAYER_SLOTS 32          /* decode-layer.cl: DL_SLOTS, a layer's row */
#define LAYER_BUFFERS 18        /* DL_SLOT_INTS: the buffers of a row, then its ints */
#define ADDRESSES_A_LAUNCH 16   /* dl_addresses */

/* A table's slots: each a buffer's device address (dl_addresses) or an
 * int (written from the host). Which tensor a slot holds is told by its
 * serial (VtpTensor.serial: never given twice, so a table made for freed
 * tensors never matches new ones at the same addresses; the table holds
 * no reference, and a stale one is never used, only made again). */
typedef struct {
  gint slots;
  cl_mem *buffers;              /* the buffer of each slot, or NULL (not kept in a made table) */
  guint64 *serials;             /* its tensor's serial, or 0 */
  guint64 *ints;                /* the int of each slot (0 where a buffer's) */
} Slots;

struct _VtpDecodeToken {
  VtpTensor *table;             /* [slots] U64 */
  Slots made;                   /* what it was made for */
};

static void
slots_init (Slots *s, gint slots)
{
  s->slots = slots;
  s->buffers = g_new0 (cl_mem, slots);
  s->serials = g_new0 (guint64, slots);
  s->ints = g_new0 (guint64, slots);
}

static void
slots_clear (Slots *s)
{
  g_clear_pointer (&s->buffers, g_free);
  g_clear_pointer (&s->serials, g_free);
  g_clear_pointer (&s->ints, g_free);
  s->slots = 0;
}

/* Slot @i holds tensor @t's address (or none) */
static void
slot_tensor (Slots *s, gint i, const VtpTensor *t)
{
  s->buffers[i] = t ? t->mem : NULL;
  s->serials[i] = t ? t->serial : 0;
}

static gboolean
slots_equal (const Slots *a, const Slots *b)
{
  return a->slots == b->slots && memcmp (a->serials, b->serials, sizeof (guint64) * a->slots) == 0
      && memcmp (a->ints, b->ints, sizeof (guint64) * a->slots) == 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Slots, slots_clear)

/* Layer @l's row at slot @at (decode-layer.cl's DL_SLOT order; @with_caches:
 * its caches too, else none) */
static void
layer_slots (Slots *s, gint at, const VtpDecodeLayer *l, gboolean with_caches, const gint *codes, const gint *groups)
{
  const VtpTensor *b[LAYER_BUFFERS] = { l->attn_norm, l->ffn_norm, l->wq, l->wk, l->wv, l->wo, l->w_gate, l->w_up,
    l->w_down, l->bq, l->bk, l->bv, l->bo, l->b_gate, l->b_up, l->b_down, with_caches ? l->k_cache : NULL,
    with_caches ? l->v_cache : NULL };
  guint64 *ints = s->ints + at + LAYER_BUFFERS;

  for (gint i = 0; i < LAYER_BUFFERS; i++)
    slot_tensor (s, at + i, b[i]);
  ints[0] = (guint64) vtp_decode_bias_bits (l->bq, l->bk, l->bv, l->bo, l->b_gate, l->b_up, l->b_down);
  for (gint i = 0; i < 7; i++)
    ints[1 + i] = (guint64) codes[i];
  for (gint i = 0; i < 4; i++)
    ints[8 + i] = (guint64) groups[i];
}

static void
table_release (VtpDecodeToken *t)
{
  slots_clear (&t->made);
  g_clear_pointer (&t->table, vtp_tensor_free);
}

void
vtp_decode_token_free (VtpDecodeToken *t)
{
  if (!t)
    return;
  table_release (t);
  g_free (t);
}

/* Makes *@token's table hold @s unless it does already (the same tensors
 * and ints); FALSE with the pending error when it cannot be made. */
static gboolean
table_make (VtpDecodeToken **token, VtpDevice *dev, const Slots *s, const char *kernel)
{
  const size_t one[1] = { 1 };
  g_autoptr (GError) error = NULL;
  const gint64 bytes = (gint64) s->slots * sizeof (guint64);
  VtpDecodeToken *t = *token ? *token : (*token = g_new0 (VtpDecodeToken, 1));

  if (t->table && slots_equal (&t->made, s))
    return TRUE;
  table_release (t);
  if (!(t->table = vtp_tensor_new_from_data (dev, VTP_DTYPE_U8, 1, &bytes, s->ints, &error))) {
    /* the upload's own error (a device's), not a shape one */
    vtp_error_set_pending (error->code, "%s: the table of its buffers and ints: %s", kernel, error->message);
    return FALSE;
  }
  for (gint at = 0; at < s->slots; at += ADDRESSES_A_LAUNCH) {
    VtpArg args[2 + ADDRESSES_A_LAUNCH];
    args[0] = A_MEM (t->table);
    args[1] = A_INT (at);
    for (gint j = 0; j < ADDRESSES_A_LAUNCH; j++) {
      const cl_mem *b = at + j < s->slots ? &s->buffers[at + j] : NULL;
      args[2 + j] = (VtpArg) { sizeof (cl_mem), b && *b ? (const void *) b : (const void *) &vtp_null_mem };
    }
    vtp_launch (dev, "dl_addresses", 1, one, one, G_N_ELEMENTS (args), args);
  }
  if (vtp_error_is_pending ()) {
    table_release (t);          /* half made: made again on the next call */
    return FALSE;
  }
  t->made.slots = s->slots;
  t->made.serials = g_memdup2 (s->serials, sizeof (guint64) * s->slots);
  t->made.ints = g_memdup2 (s->ints, sizeof (guint64) * s->slots);
  return TRUE;
}

/* @a and @b share the rows, counters and shape one launch takes. */
static gboolean
same_step (const VtpDecodeLayer *a, const VtpDecodeLayer *b)
{
  return a->x == b->x && a->xn == b->xn && a->q == b->q && a->attn == b->attn && a->gate == b->gate
      && a->up == b->up && a->scores == b->scores && a->rope == b->rope && a->k_new == b->k_new
      && a->v_new == b->v_new && a->sync == b->sync && a->k_cache->dtype == b->k_cache->dtype
      && a->w_gate->shape[0] == b->w_gate->shape[0] && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads
      && a->head_dim == b->head_dim && a->pos == b->pos && a->eps == b->eps && a->interleaved == b->interleaved
      && a->opt == b->opt;
}

gboolean
vtp_decode_token_fits (const VtpDecodeLayer *layers, gint n)
{
  if (n < 1 || layers[0].opt || !vtp_switch_on ("VTP_DECODE_TOKEN")
      || vtp_tensor_n_elements (layers[0].sync) < (gint64) VTP_DECODE_SYNC_INTS * n)
    return FALSE;
  for (gint l = 0; l < n; l++)
    if (!same_step (&layers[0], &layers[l]) || !vtp_decode_layer_fits (&layers[l]))
      return FALSE;
  return TRUE;
}

/* The head's type code and x's int8 groups through @code, @group: TRUE when
 * its product is a panel kernel's and x's int8 copy fits the launch's. */
static gboolean
head_panels (const VtpDecodeHead *h, gint *code, gint *group)
{
  const VtpDevice *dev = h->w->dev;
  *group = 0;
  *code = vtp_linear_gemv_panels (dev, h->w, group);
  return *code >= 0;
}

/* @h fits a launch of @n_rows rows D wide (its logits' rows @row ..), its
 * product a panel kernel's (with @int8, an int8 one's). */
static gboolean
head_fits (const VtpDecodeHead *h, gint64 D, gint row, gint n_rows, gboolean int8)
{
  const gint64 V = h->w->shape[0];
  gint code, group;

  return h->norm && h->norm->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (h->norm) == D
      && vtp_tensor_cols (h->w) == D && V % 16 == 0 && vtp_tensor_cols (h->logits) == V
      && h->logits->dtype == VTP_DTYPE_F32 && vtp_rows_in (h->logits, row, n_rows) && head_panels (h, &code, &group)
      && (!int8 || group > 0);
}

gboolean
vtp_decode_head_fits (const VtpDecodeHead *h, const VtpDecodeLayer *last)
{
  return head_fits (h, vtp_tensor_cols (last->x), h->row, 1, FALSE);
}

void
vtp_op_decode_token (VtpDecodeToken **token, const VtpDecodeLayer *layers, gint n, const VtpTensor *inv_freq,
    const VtpDecodeHead *head)
{
  const VtpDecodeLayer *l = &layers[0];
  VtpDevice *dev = l->x->dev;
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0];
  const gboolean store = l->k_new != NULL;
  const VtpAttention a = vtp_decode_attention_of (l);
  const size_t global[1] = { vtp_decode_work_items (dev) }, one[1] = { 1 };
  gint head_code = 0, head_group = 0;
  char name[48];
  g_auto (Slots) slots = { 0 };

  if (vtp_error_is_pending ())
    return;
  if (!check (n >= 1 && !l->opt, "decode_token", "%d layers of %s: one or more Llama layers expected", n,
          l->opt ? "OPT" : "Llama") || !vtp_decode_sync_check (l->sync, n, "decode_token"))
    return;
  if (inv_freq && !check (inv_freq->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (inv_freq) == l->head_dim / 2,
          "decode_token", "inv_freq is not %d F32", l->head_dim / 2))
    return;
  if (head && !check (vtp_decode_head_fits (head, &layers[n - 1]) && head_panels (head, &head_code, &head_group),
          "decode_token", "the head's norm, weights or logits do not fit the launch (vtp_decode_head_fits)"))
    return;
  slots_init (&slots, n * LAYER_SLOTS);
  for (gint i = 0; i < n; i++) {
    gint codes[7], groups[4];
    if (!check (same_step (l, &layers[i]), "decode_token", "layer %d does not share layer 0's rows, counters, "
            "cache type and shape", i) || !vtp_decode_layer_check (&layers[i], codes, groups, "decode_token"))
      return;
    layer_slots (&slots, i * LAYER_SLOTS, &layers[i], TRUE, codes, groups);
  }
  if (!table_make (token, dev, &slots, "decode_token"))
    return;
  vtp_decode_kernel_name (l, "decode_token", name, sizeof name);
  LAUNCH (dev, name, 1, global, one, A_MEM ((*token)->table), A_INT (n), A_MEM (l->x), A_MEM (l->xn), A_MEM (l->q),
      A_OPT_MEM (l->k_new), A_OPT_MEM (l->v_new), A_INT (store), A_MEM (l->attn), A_MEM (l->gate), A_MEM (l->up),
      A_MEM (l->scores), A_MEM (l->rope), A_OPT_MEM (inv_freq), A_OPT_MEM (head ? head->norm : NULL),
      A_OPT_MEM (head ? head->w : NULL), A_OPT_MEM (head ? head->logits : NULL),
      A_INT (head ? (gint64) head->row * head->w->shape[0] : 0), A_INT (head ? head->w->shape[0] / 16 : 0),
      A_INT (head_code), A_INT (head_group), A_INT (D), A_INT (I), A_INT (l->n_heads), A_INT (l->n_kv_heads), A_INT (l->head_dim),
      A_INT (l->pos), A_FLOAT (l->eps), A_FLOAT (a.scale), A_INT (l->interleaved),
      A_INT (vtp_attention_gqa_fits (dev, &a)), A_MEM (l->sync));
}

/* ---- a whole batched decode step in one launch ---- */

#define POSITIONS_A_LAUNCH 12   /* decode_rows_token's pos0 .. pos11: VTP_DECODE_ROWS_MAX */
G_STATIC_ASSERT (VTP_DECODE_ROWS_MAX <= POSITIONS_A_LAUNCH);

/* @a and @b share the rows, counters and shape one launch takes. */
static gboolean
same_rows (const VtpDecodeRows *a, const VtpDecodeRows *b)
{
  return a->x == b->x && a->xn == b->xn && a->q == b->q && a->k == b->k && a->v == b->v && a->attn == b->attn
      && a->gate == b->gate && a->up == b->up && a->rope == b->rope && a->scratch == b->scratch
      && a->sync == b->sync && a->w_gate->shape[0] == b->w_gate->shape[0] && a->n_rows == b->n_rows
      && a->n_heads == b->n_heads && a->n_kv_heads == b->n_kv_heads && a->head_dim == b->head_dim
      && a->eps == b->eps && a->interleaved == b->interleaved;
}

gboolean
vtp_decode_rows_token_fits (const VtpDecodeRows *layers, gint n, const VtpDecodeStream *streams)
{
  const VtpDType t = streams[0].k_cache[0]->dtype;

  if (n < 1 || !vtp_switch_on ("VTP_DECODE_TOKEN") || layers[0].x->dev->reduce_wg != 1
      || vtp_tensor_n_elements (layers[0].sync) < (gint64) VTP_DECODE_SYNC_INTS * (n + 1)
      || (t != VTP_DTYPE_F32 && t != VTP_DTYPE_F16 && t != VTP_DTYPE_Q8_0))
    return FALSE;
  for (gint l = 0; l < n; l++)
    if (!same_rows (&layers[0], &layers[l]) || !vtp_decode_rows_fits (&layers[l]))
      return FALSE;
  for (gint i = 0; i < layers[0].n_rows; i++)
    for (gint l = 0; l < n; l++)
      if (streams[i].k_cache[l]->dtype != t || streams[i].v_cache[l]->dtype != t)
        return FALSE;
  return TRUE;
}

gboolean
vtp_decode_rows_head_fits (const VtpDecodeHead *h, const VtpDecodeRows *last)
{
  return head_fits (h, vtp_tensor_cols (last->x), 0, last->n_rows, TRUE);
}

/* Stream @i's caches, scratch and logits fit the step of @l at its position
 * (the pending error otherwise). */
static gboolean
stream_check (const VtpDecodeStream *s, gint i, const VtpDecodeRows *l, gint n, const VtpDecodeHead *head)
{
  const gint64 KD = (gint64) l->n_kv_heads * l->head_dim;
  const VtpDType t = s->k_cache[0]->dtype;

  for (gint j = 0; j < n; j++)
    if (!check (s->k_cache[j]->dtype == t && s->v_cache[j]->dtype == t && vtp_tensor_cols (s->k_cache[j]) == KD
            && vtp_tensor_cols (s->v_cache[j]) == KD && rows_in (s->k_cache[j], s->pos, 1)
            && rows_in (s->v_cache[j], s->pos, 1) && (t != VTP_DTYPE_Q8_0 || KD % 32 == 0), "decode_rows_token",
            "stream %d, layer %d: caches are not [> %d, %" G_GINT64_FORMAT "] of the first one's type", i, j, s->pos,
            KD))
      return FALSE;
  return check (s->pos >= 0 && s->scores->dtype == VTP_DTYPE_F32
          && vtp_tensor_n_elements (s->scores) >= (gint64) l->n_heads * (s->pos + 1), "decode_rows_token",
          "stream %d: the score scratch is smaller than %d heads x %d", i, l->n_heads, s->pos + 1)
      && check (!head || (s->logits->dtype == VTP_DTYPE_F32 && vtp_tensor_cols (s->logits) == head->w->shape[0]),
          "decode_rows_token", "stream %d: its logits are not %" G_GINT64_FORMAT " F32", i,
          head ? head->w->shape[0] : 0);
}

void
vtp_op_decode_rows_token (VtpDecodeToken **token, const VtpDecodeRows *layers, gint n,
    const VtpDecodeStream *streams, const VtpTensor *inv_freq, const VtpDecodeHead *head)
{
  const VtpDecodeRows *l = &layers[0];
  VtpDevice *dev = l->x->dev;
  const gint M = l->n_rows, stream_slots = 2 * n + 2;
  const gint64 D = vtp_tensor_cols (l->x), I = l->w_gate->shape[0];
  const VtpAttention a = { l->n_heads, l->n_kv_heads, l->head_dim, TRUE, 0, 1.0f / sqrtf ((float) l->head_dim) };
  const size_t global[1] = { vtp_decode_work_items (dev) }, one[1] = { 1 };
  gint head_code = 0, head_group = 0, pos[POSITIONS_A_LAUNCH] = { 0 };
  g_auto (Slots) slots = { 0 };
  char name[48];

  if (vtp_error_is_pending ())
    return;
  if (!check (n >= 1 && M >= 2 && M <= VTP_DECODE_ROWS_MAX, "decode_rows_token", "%d layers, %d rows: one or more "
          "layers of 2 .. %d rows expected", n, M, VTP_DECODE_ROWS_MAX)
      || !check (dev->reduce_wg == 1, "decode_rows_token", "the device's attention takes more than one work-item")
      || !check (inv_freq && inv_freq->dtype == VTP_DTYPE_F32 && vtp_tensor_n_elements (inv_freq) == l->head_dim / 2,
          "decode_rows_token", "inv_freq is not %d F32", l->head_dim / 2)
      || !vtp_decode_sync_check (l->sync, n + 1, "decode_rows_token"))
    return;
  if (head && !check (vtp_decode_rows_head_fits (head, &layers[n - 1]) && head_panels (head, &head_code, &head_group),
          "decode_rows_token", "the head's norm, weights or logits do not fit the launch (vtp_decode_rows_head_fits)"))
    return;
  slots_init (&slots, n * LAYER_SLOTS + M * stream_slots);
  for (gint j = 0; j < n; j++) {
    gint codes[7], groups[4];
    const VtpDecodeLayer layer = vtp_decode_layer_of_rows (&layers[j]);
    if (!check (same_rows (l, &layers[j]), "decode_rows_token", "layer %d does not share layer 0's rows, counters "
            "and shape", j) || !vtp_decode_rows_check (&layers[j], codes, groups))
      return;
    layer_slots (&slots, j * LAYER_SLOTS, &layer, FALSE, codes, groups);
  }
  for (gint i = 0; i < M; i++) {
    const VtpDecodeStream *s = &streams[i];
    const gint at = n * LAYER_SLOTS + i * stream_slots;
    if (!stream_check (s, i, l, n, head) || !check (s->k_cache[0]->dtype == streams[0].k_cache[0]->dtype,
            "decode_rows_token", "stream %d's caches are not stream 0's type", i))
      return;
    for (gint j = 0; j < n; j++) {
      slot_tensor (&slots, at + 2 * j, s->k_cache[j]);
      slot_tensor (&slots, at + 2 * j + 1, s->v_cache[j]);
    }
    slot_tensor (&slots, at + 2 * n, s->scores);
    slot_tensor (&slots, at + 2 * n + 1, head ? s->logits : NULL);
    pos[i] = s->pos;
  }
  if (!table_make (token, dev, &slots, "decode_rows_token"))
    return;
  g_snprintf (name, sizeof name, "decode_rows_token%s", streams[0].k_cache[0]->dtype == VTP_DTYPE_F16 ? "_f16"
      : streams[0].k_cache[0]->dtype == VTP_DTYPE_Q8_0 ? "_q8_0" : "");
  LAUNCH (dev, name, 1, global, one, A_MEM ((*token)->table), A_INT (n), A_INT (n * LAYER_SLOTS), A_INT (M),
      A_MEM (l->x), A_MEM (l->xn), A_MEM (l->q), A_MEM (l->k), A_MEM (l->v), A_MEM (l->attn), A_MEM (l->gate),
      A_MEM (l->up), A_MEM (l->rope), A_MEM (inv_freq), A_MEM (l->scratch), A_OPT_MEM (head ? head->norm : NULL),
      A_OPT_MEM (head ? head->w : NULL), A_OPT_MEM (head ? head->logits : NULL),
      A_INT (head ? head->w->shape[0] / 16 : 0), A_INT (head_code), A_INT (head_group), A_INT (D), A_INT (I),
      A_INT (l->n_heads), A_INT (l->n_kv_heads), A_INT (l->head_dim), A_FLOAT (l->eps), A_FLOAT (a.scale),
      A_INT (l->interleaved), A_INT (vtp_attention_gqa_fits (dev, &a)), A_MEM (l->sync), A_INT (pos[0]),
      A_INT (pos[1]), A_INT (pos[2]), A_INT (pos[3]), A_INT (pos[4]), A_INT (pos[5]), A_INT (pos[6]),
      A_INT (pos[7]), A_INT (pos[8]), A_INT (pos[9]), A_INT (pos[10]), A_INT (pos[11]));
}
