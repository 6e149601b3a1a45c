/* vtp-sampler.h: choosing the next token from logits: greedy, or
 * temperature, top-k and top-p (in that order, as transformers' logits
 * warpers apply them) with a seeded generator, so runs repeat. The
 * device's vtp_op_sample keeps the same tokens and walks them the same
 * way, given the same uniform draw. */
#pragma once
#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  float temperature;          /* <= 0: greedy */
  gint top_k;                 /* <= 0: no limit */
  float top_p;                /* >= 1: no limit */
  guint64 seed;
} VtpSamplerParams;

typedef struct {
  VtpSamplerParams params;
  guint64 state;              /* xorshift64* */
  guint32 *keys;              /* scratch of n_vocab: the logits' order keys */
  float *probs;               /* and their unnormalized probabilities */
  double *hist;               /* [4096]: key_cutoff's histogram */
  gint *kept, *tmp;           /* lists of token ids */
  gint n_vocab;
} VtpSampler;

VtpSampler *vtp_sampler_new (const VtpSamplerParams *params, gint n_vocab);
void vtp_sampler_free (VtpSampler *s);
/* Restarts the random sequence from the seed. */
void vtp_sampler_reset (VtpSampler *s);
gint vtp_sampler_sample (VtpSampler *s, const float *logits);
/* The next uniform draw in [0, 1) of the seeded sequence, which
 * vtp_sampler_sample would use (a device sampling with vtp_op_sample
 * takes it from here, so the text repeats wherever it is chosen). */
double vtp_sampler_next_uniform (VtpSampler *s);
/* vtp_sampler_sample with the uniform draw @u given: of the kept tokens,
 * in the vocabulary's order, the first whose running probability passes
 * @u of theirs. */
gint vtp_sampler_sample_with (VtpSampler *s, const float *logits, double u);
/* Marks in @kept (n_vocab bytes, 1 / 0) the tokens a draw can choose
 * among (with a probability above 0 or not); returns how many. Greedy:
 * the argmax alone. */
gint vtp_sampler_keep (VtpSampler *s, const float *logits, guint8 *kept);
/* Index of the largest logit (the first on ties, as torch.argmax). */
gint vtp_argmax (const float *logits, gint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpSampler, vtp_sampler_free)

G_END_DECLS
