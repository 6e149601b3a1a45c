/* vtp-sampler.h: choosing the next token from logits: greedy, or
 * temperature, top-k and top-p (in that order, as transformers' logits
 * warpers apply them) with a seeded generator, so runs repeat. */
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
  gint *order;                /* scratch of n_vocab */
  float *probs;
  gint n_vocab;
} VtpSampler;

VtpSampler *vtp_sampler_new (const VtpSamplerParams *params, gint n_vocab);
void vtp_sampler_free (VtpSampler *s);
/* Restarts the random sequence from the seed. */
void vtp_sampler_reset (VtpSampler *s);
gint vtp_sampler_sample (VtpSampler *s, const float *logits);
/* Index of the largest logit (the first on ties, as torch.argmax). */
gint vtp_argmax (const float *logits, gint n);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (VtpSampler, vtp_sampler_free)

G_END_DECLS
