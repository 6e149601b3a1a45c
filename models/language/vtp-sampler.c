#include "vtp-sampler.h"
#include <string.h>
#include <math.h>

VtpSampler *
vtp_sampler_new (const VtpSamplerParams *params, gint n_vocab)
{
  VtpSampler *s = g_new0 (VtpSampler, 1);
  s->params = *params;
  s->n_vocab = n_vocab;
  s->order = g_new (gint, n_vocab);
  s->probs = g_new (float, n_vocab);
  vtp_sampler_reset (s);
  return s;
}

void
vtp_sampler_free (VtpSampler *s)
{
  if (!s)
    return;
  g_free (s->order);
  g_free (s->probs);
  g_free (s);
}

void
vtp_sampler_reset (VtpSampler *s)
{
  /* splitmix64 of the seed: never a zero state */
  guint64 z = s->params.seed + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  s->state = (z ^ (z >> 31)) | 1;
}

static double
next_uniform (VtpSampler *s)
{
  s->state ^= s->state >> 12;
  s->state ^= s->state << 25;
  s->state ^= s->state >> 27;
  return ((s->state * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

/* Two sets of four lanes (16-byte vectors: SSE on every x86-64), each lane
 * keeping the largest logit it saw and where it first saw it, then the
 * lanes' first maximum and a scalar tail. Why: a loop that compares each
 * logit with logits[best] waits on that load every logit (87 us on 32000
 * logits, between the device's logits and the next launch of a decode
 * step; this: docs/performance.md). The same answer as that loop: the
 * first of the tied maxima, NaNs never greater (a NaN at 0 is kept, as
 * nothing compares greater with it). */
gint
vtp_argmax (const float *logits, gint n)
{
  typedef float Lanes __attribute__ ((vector_size (16)));
  typedef gint32 LaneInts __attribute__ ((vector_size (16)));
  float top;
  gint best = 0, i = 0;

  if (n <= 0 || isnan (logits[0]))
    return 0;
  top = logits[0];
  if (n >= 16) {
    Lanes m[2] = { { top, top, top, top }, { top, top, top, top } };
    LaneInts at[2] = { { 0 }, { 0 } }, idx[2] = { { 0, 1, 2, 3 }, { 4, 5, 6, 7 } };
    for (; i + 8 <= n; i += 8)
      for (gint k = 0; k < 2; k++) {
        Lanes v;
        LaneInts gt;
        memcpy (&v, logits + i + 4 * k, sizeof v);
        gt = v > m[k];          /* all ones where greater (a NaN never is) */
        m[k] = (Lanes) (((LaneInts) v & gt) | ((LaneInts) m[k] & ~gt));
        at[k] = (idx[k] & gt) | (at[k] & ~gt);
        idx[k] += 8;
      }
    for (gint k = 0; k < 2; k++)
      for (gint j = 0; j < 4; j++)
        if (m[k][j] > top || (m[k][j] == top && at[k][j] < best)) {
          top = m[k][j];
          best = at[k][j];
        }
  }
  for (; i < n; i++)
    if (logits[i] > top) {
      top = logits[i];
      best = i;
    }
  return best;
}

static gint
by_prob_desc (gconstpointer a, gconstpointer b, gpointer probs)
{
  const float pa = ((const float *) probs)[*(const gint *) a], pb = ((const float *) probs)[*(const gint *) b];
  if (pa != pb)
    return pa > pb ? -1 : 1;
  return *(const gint *) a - *(const gint *) b;
}

gint
vtp_sampler_sample (VtpSampler *s, const float *logits)
{
  const VtpSamplerParams *p = &s->params;
  const gint n = s->n_vocab;
  gint keep, best;
  double sum = 0.0, cum = 0.0, r;
  float mx;

  if (p->temperature <= 0.0f)
    return vtp_argmax (logits, n);
  best = vtp_argmax (logits, n);
  mx = logits[best] / p->temperature;
  for (gint i = 0; i < n; i++) {
    s->probs[i] = expf (logits[i] / p->temperature - mx);
    s->order[i] = i;
    sum += s->probs[i];
  }
  for (gint i = 0; i < n; i++)
    s->probs[i] = (float) (s->probs[i] / sum);
  g_qsort_with_data (s->order, n, sizeof (gint), by_prob_desc, s->probs);

  keep = p->top_k > 0 ? MIN (p->top_k, n) : n;
  if (p->top_p < 1.0f) {
    /* smallest prefix whose mass reaches top_p (at least one token) */
    gint i;
    for (i = 0; i < keep; i++) {
      cum += s->probs[s->order[i]];
      if (cum >= p->top_p) {
        i++;
        break;
      }
    }
    keep = MAX (1, MIN (i, keep));
  }
  sum = 0.0;
  for (gint i = 0; i < keep; i++)
    sum += s->probs[s->order[i]];
  r = next_uniform (s) * sum;
  for (gint i = 0; i < keep; i++) {
    r -= s->probs[s->order[i]];
    if (r < 0)
      return s->order[i];
  }
  return s->order[keep - 1];
}
