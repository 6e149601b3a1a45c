#include "vtp-sampler.h"
#include <string.h>
#include <math.h>

VtpSampler *
vtp_sampler_new (const VtpSamplerParams *params, gint n_vocab)
{
  VtpSampler *s = g_new0 (VtpSampler, 1);
  s->params = *params;
  s->n_vocab = n_vocab;
  s->keys = g_new (guint32, n_vocab);
  s->probs = g_new (float, n_vocab);
  s->hist = g_new (double, 1 << 12);
  s->kept = g_new (gint, n_vocab);
  s->tmp = g_new (gint, n_vocab);
  vtp_sampler_reset (s);
  return s;
}

void
vtp_sampler_free (VtpSampler *s)
{
  if (!s)
    return;
  g_free (s->keys);
  g_free (s->probs);
  g_free (s->hist);
  g_free (s->kept);
  g_free (s->tmp);
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

/* A float's place in the order of floats as an unsigned integer: a larger
 * logit has a larger key (-0 just below +0); a NaN has 0, below -inf's
 * 0x007fffff, and is never kept with any weight. The device's sample_row
 * (sample.cl) keys logits the same way. */
static inline guint32
order_key (float v)
{
  guint32 u;

  if (isnan (v))
    return 0;
  memcpy (&u, &v, sizeof u);
  return (u & 0x80000000u) ? ~u : u | 0x80000000u;
}

/* The largest key t with W(t) >= @target, where W(t) is the weight (@w,
 * or 1 each where @w is NULL) of the @m tokens listed in @at (ascending;
 * NULL: tokens 0 .. m - 1) whose keys are at or above t; 0 when even W(0) falls short. A radix
 * search, the top 12 bits, the next 12, the last 8: each digit's
 * histogram of the tokens still listed, walked down from its largest
 * bucket, then the list cut to that bucket's tokens (into @tmp, m long),
 * so only the first pass reads every token. It answers what a bisection
 * over the keys would (the device's sample_row does that), in three passes
 * instead of 32. */
static guint32
key_cutoff (const guint32 *keys, const float *w, const gint *at, gint m, double target, double *hist, gint *tmp)
{
  static const guint shifts[3] = { 20, 8, 0 }, bits[3] = { 12, 12, 8 };
  guint32 prefix = 0;
  double above = 0.0;

  for (gint d = 0; d < 3; d++) {
    const guint nb = 1u << bits[d];
    gint b, kept = 0;
    memset (hist, 0, nb * sizeof *hist);
    for (gint j = 0; j < m; j++) {
      const gint i = at ? at[j] : j;
      hist[(keys[i] >> shifts[d]) & (nb - 1)] += w ? w[i] : 1.0;
    }
    for (b = nb - 1; b >= 0; b--) {
      if (above + hist[b] >= target)
        break;
      above += hist[b];
    }
    if (b < 0) {
      if (d == 0)
        return 0;             /* even every token listed falls short */
      b = 0;                  /* (summing order: the whole bucket reached it) */
    }
    prefix |= (guint32) b << shifts[d];
    for (gint j = 0; j < m; j++) {
      const gint i = at ? at[j] : j;
      if (((keys[i] >> shifts[d]) & (nb - 1)) == (guint) b)
        tmp[kept++] = i;
    }
    at = tmp;
    m = kept;
  }
  return prefix;
}

/* Fills s->keys and s->probs (exp (l / T - max / T), 0 for a NaN) and
 * returns the smallest key kept: transformers' warpers in their order,
 * the temperature, then top-k (every token as likely as the k-th stays,
 * as TopKLogitsWarper keeps ties), then top-p over what top-k left (the
 * most likely tokens down to the first whose mass brings the sum to
 * top_p of that set's, and any as likely as it; at least the most likely
 * token). @best: the largest logit, a finite number. */
static guint32
kept_from (VtpSampler *s, const float *logits, gint best)
{
  const VtpSamplerParams *p = &s->params;
  const gint n = s->n_vocab;
  const float mx = logits[best] / p->temperature;
  const guint32 top = order_key (logits[best]);
  guint32 cut = 0;

  for (gint i = 0; i < n; i++) {
    s->keys[i] = order_key (logits[i]);
    s->probs[i] = s->keys[i] ? expf (logits[i] / p->temperature - mx) : 0.0f;
  }
  if (p->top_k > 0 && p->top_k < n)
    cut = key_cutoff (s->keys, NULL, NULL, n, p->top_k, s->hist, s->tmp);
  if (p->top_p < 1.0f) {
    gint m = 0;
    double z = 0.0;
    for (gint i = 0; i < n; i++)
      if (s->keys[i] >= cut) {
        s->kept[m++] = i;
        z += s->probs[i];
      }
    cut = MAX (key_cutoff (s->keys, s->probs, s->kept, m, (double) p->top_p * z, s->hist, s->tmp), cut);
    cut = MIN (cut, top);
  }
  return cut;
}

/* The first of the largest logits that are not NaNs (-1: all are): what
 * sampling scales by (vtp_argmax answers 0 where the first is a NaN). */
static gint
largest_number (const float *logits, gint n)
{
  gint best = vtp_argmax (logits, n);

  if (!isnan (logits[best]))
    return best;
  best = -1;
  for (gint i = 0; i < n; i++)
    if (!isnan (logits[i]) && (best < 0 || logits[i] > logits[best]))
      best = i;
  return best;
}

/* Whether these logits are sampled from at all: with a temperature, and a
 * largest logit that is a finite number (else the greedy token). */
static gboolean
samples (const VtpSampler *s, const float *logits, gint top)
{
  return s->params.temperature > 0.0f && top >= 0 && isfinite (logits[top]);
}

gint
vtp_sampler_keep (VtpSampler *s, const float *logits, guint8 *kept)
{
  const gint n = s->n_vocab, top = largest_number (logits, n);
  gint count = 0;
  guint32 cut;

  if (!samples (s, logits, top)) {
    memset (kept, 0, n);
    kept[vtp_argmax (logits, n)] = 1;
    return 1;
  }
  cut = kept_from (s, logits, top);
  for (gint i = 0; i < n; i++)
    count += kept[i] = s->keys[i] >= cut;
  return count;
}

double
vtp_sampler_next_uniform (VtpSampler *s)
{
  return next_uniform (s);
}

gint
vtp_sampler_sample_with (VtpSampler *s, const float *logits, double u)
{
  const gint n = s->n_vocab, top = largest_number (logits, n);
  gint last = -1;
  guint32 cut;
  double mass = 0.0, r, acc = 0.0;

  if (!samples (s, logits, top))
    return vtp_argmax (logits, n);
  cut = kept_from (s, logits, top);
  for (gint i = 0; i < n; i++)
    if (s->keys[i] >= cut)
      mass += s->probs[i];
  /* the kept tokens in the vocabulary's order: the first whose running
   * mass passes u of theirs (the same distribution as any order; this one
   * needs no sort, and a device walks it as a scan) */
  r = u * mass;
  for (gint i = 0; i < n; i++)
    if (s->keys[i] >= cut && s->probs[i] > 0.0f) {
      acc += s->probs[i];
      last = i;
      if (acc > r)
        return i;
    }
  return last;
}

gint
vtp_sampler_sample (VtpSampler *s, const float *logits)
{
  if (s->params.temperature <= 0.0f)
    return vtp_argmax (logits, s->n_vocab);
  return vtp_sampler_sample_with (s, logits, next_uniform (s));
}
