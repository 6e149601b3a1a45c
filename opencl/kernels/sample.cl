/* sample.cl: a token drawn on the device (sample_row), so that sampling
 * with a temperature, top-k and top-p sends back the token's id alone:
 * the tokens vtp_sampler_sample_with (vtp-sampler.c) keeps, walked the
 * same way, for the same uniform draw. Needs embed.cl's group_argmax. */

/* A logit's place in the order of floats (vtp-sampler.c's order_key):
 * larger logits larger keys, a NaN 0. */
inline uint order_key (float v)
{
  const uint u = as_uint (v);
  return isnan (v) ? 0u : (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

/* A logit's unnormalized probability at temperature @t, @mx the largest
 * logit over @t (vtp-sampler.c's probs; 0 for a NaN). */
inline float sample_weight (float v, float t, float mx)
{
  return isnan (v) ? 0.0f : exp (v / t - mx);
}

/* W(c): the weight of the @n logits whose keys are at or above both @c
 * and @floor, each 1 (@mass 0: a count, exact in floats below 2^24) or
 * its probability; every work-item gets it. */
inline float weight_from (__global const float *x, int n, uint c, uint floor, int mass, float t, float mx,
    __local float *scratch)
{
  const int l = get_local_id (0), L = get_local_size (0);
  const uint at = max (c, floor);
  float s = 0.0f;
  for (int i = l; i < n; i += L) {
    const float v = x[i];
    if (order_key (v) >= at)
      s += mass ? sample_weight (v, t, mx) : 1.0f;
  }
  /* group_sum's tree without its early return for one work-item: a
   * branch around barriers, in this caller's loop, fails PoCL's build */
  scratch[l] = s;
  barrier (CLK_LOCAL_MEM_FENCE);
  for (int h = L / 2; h > 0; h /= 2) {
    if (l < h)
      scratch[l] += scratch[l + h];
    barrier (CLK_LOCAL_MEM_FENCE);
  }
  s = scratch[0];
  barrier (CLK_LOCAL_MEM_FENCE);
  return s;
}

/* ids[id_at] = the token drawn from the @n logits at @off with uniform
 * draw @u in [0, 1): the kept tokens (@top_k > 0: every token as likely
 * as the k-th; then @top_p < 1: the most likely down to the first whose
 * probability brings the sum to top_p of the kept ones', and any as likely
 * as it, at least the most likely token), in the vocabulary's order, the
 * first whose running probability passes u of theirs. One work-group of
 * up to 256 work-items (the device's reduce_wg); each pass over the
 * logits every L-th from its own, the draw's sums in L contiguous spans,
 * added in order by work-item 0, which then walks the span the draw falls
 * in. Every work-item takes every barrier (no branch around one).
 * Temperature @t > 0. Where the largest logit (NaNs aside) is not
 * finite, the greedy token. */
__kernel void sample_row (__global const float *logits, int off, int n, __global int *ids, int id_at, float t,
    int top_k, float top_p, float u)
{
  __local float lv[256];
  __local int li[256];
  const int l = get_local_id (0), L = get_local_size (0);
  __global const float *x = logits + off;
  const int at = group_argmax (x, n, lv, li), best = greedy_token (x, n, at);
  const float top = at != INT_MAX ? x[at] : NAN;   /* the largest logit that is not a NaN */
  const float mx = top / t;
  const int span = (n + L - 1) / L, lo = min (l * span, n), hi = min (lo + span, n);
  /* The cuts: for top-k the largest key with W (a count) >= k, then for
   * top-p the largest at or above it with W (the mass) >= top_p of z, the
   * mass kept by top-k: each a bisection, the key's bits from the top,
   * 32 passes over the logits (vtp-sampler.c's key_cutoff gives the same
   * key by a radix search). W only shrinks as the key grows (a weight >= 0
   * added never lowers a rounded sum), so the answer is exact for the sums
   * taken. One loop of uniform length, no branch around its barriers
   * (PoCL cannot build those): 32 passes for top-k, z's pass and 32 for
   * top-p, each set where it applies. */
  const int k_passes = top_k > 0 && top_k < n ? 32 : 0, passes = k_passes + (top_p < 1.0f ? 33 : 0);
  uint cut = 0, bits = 0;
  float target = (float) top_k, mine = 0.0f;

  for (int pass = 0; pass < passes; pass++) {
    const int b = pass < k_passes ? 31 - pass : 32 - (pass - k_passes);   /* 32: z's pass */
    const uint c = b < 32 ? bits | (1u << b) : 0u;
    const float w = weight_from (x, n, c, cut, pass >= k_passes, t, mx, lv);
    if (b == 32)
      target = top_p * w;
    else if (w >= target)
      bits = c;
    if (pass == k_passes - 1) {
      cut = bits;             /* top-k's cut, the floor of what follows */
      bits = 0;
    }
  }
  if (passes > k_passes)
    cut = min (max (bits, cut), order_key (top));
  for (int i = lo; i < hi; i++)
    if (order_key (x[i]) >= cut)
      mine += sample_weight (x[i], t, mx);
  lv[l] = mine;
  barrier (CLK_LOCAL_MEM_FENCE);
  if (l == 0) {
    float total = 0.0f, acc = 0.0f, r;
    int j, last = -1, pick = best;
    for (j = 0; j < L; j++) {
      total += lv[j];
      if (lv[j] > 0.0f)
        last = j;
    }
    r = u * total;
    for (j = 0; j < L && !(acc + lv[j] > r); j++)
      acc += lv[j];
    if (j == L)
      j = last;               /* rounding: u * total reached the total */
    if (isfinite (top) && total > 0.0f && j >= 0) {
      const int a = min (j * span, n), e = min (a + span, n);
      float run = 0.0f;
      r -= acc;
      pick = -1;
      for (int i = a; i < e; i++) {
        const float w = order_key (x[i]) >= cut ? sample_weight (x[i], t, mx) : 0.0f;
        if (w > 0.0f) {
          run += w;
          pick = i;
          if (run > r)
            break;
        }
      }
    }
    ids[id_at] = pick >= 0 ? pick : best;
  }
}
