/* test-ops.c: every kernel against a plain double-precision loop on random
 * data (the fidelity to the reference models is tested on fixtures elsewhere;
 * this pins down each kernel's indexing, tails, offsets and dtypes). */

#include "test-util.h"
#if defined(__x86_64__)
#include <xmmintrin.h>
#endif
#include "fixture-path.h"
#include "vtp-fault.h"

static void
test_norms (void)
{
  GRand *r = g_rand_new_with_seed (7);
  const gint64 rows = 5, D = 131;
  float *x = random_floats (r, rows * D, 3.0), *w = random_floats (r, D, 1.0), *b = random_floats (r, D, 1.0);
  for (gint64 i = 0; i < rows * D; i++)
    x[i] += 2.0f;               /* non-zero mean */
  VtpTensor *tx = upload (x, rows, D), *tw = upload (w, 1, D), *tb = upload (b, 1, D);
  VtpTensor *ty = upload (x, rows, D);
  double *want = g_new0 (double, rows * D);
  float *got;

  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i];
  for (gint64 row = 1; row < 4; row++) {
    double mean = 0, var = 0;
    for (gint64 i = 0; i < D; i++)
      mean += x[row * D + i];
    mean /= D;
    for (gint64 i = 0; i < D; i++)
      var += (x[row * D + i] - mean) * (x[row * D + i] - mean);
    var /= D;
    for (gint64 i = 0; i < D; i++)
      want[row * D + i] = (x[row * D + i] - mean) / sqrt (var + 1e-5) * w[i] + b[i];
  }
  vtp_op_layernorm (ty, tx, 1, 3, tw, tb, 1e-5f);
  got = device_values (ty);
  assert_close (got, want, rows * D, 1e-5, "layernorm");
  g_free (got);

  for (gint64 row = 0; row < rows; row++) {
    double ms = 0;
    for (gint64 i = 0; i < D; i++)
      ms += (double) x[row * D + i] * x[row * D + i];
    ms /= D;
    for (gint64 i = 0; i < D; i++)
      want[row * D + i] = w[i] * (x[row * D + i] / sqrt (ms + 1e-6));
  }
  vtp_op_rmsnorm (tx, tx, 0, rows, tw, 1e-6f);   /* in place */
  got = device_values (tx);
  assert_close (got, want, rows * D, 1e-5, "rmsnorm");
  g_free (got); g_free (want); g_free (x); g_free (w); g_free (b);
  vtp_tensor_free (tx); vtp_tensor_free (ty); vtp_tensor_free (tw); vtp_tensor_free (tb);
  g_rand_free (r);
}

static void
test_activations (void)
{
  GRand *r = g_rand_new_with_seed (11);
  const gint64 rows = 3, D = 77;
  float *x = random_floats (r, rows * D, 5.0), *u = random_floats (r, rows * D, 2.0);
  double *want = g_new (double, rows * D);
  VtpTensor *t, *tu = upload (u, rows, D);
  float *got;

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = i >= D ? 0.5 * x[i] * (1 + erf (x[i] / sqrt (2.0))) : x[i];
  vtp_op_gelu_erf (t, 1, 2);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-6, "gelu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = i >= D ? x[i] / (1 + exp (-1.702 * x[i])) : x[i];
  vtp_op_quick_gelu (t, 1, 2);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "quick_gelu");
  g_free (got); vtp_tensor_free (t);

  /* the other projector_hidden_act functions (transformers' formulas) */
  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = 0.5 * x[i] * (1 + tanh (sqrt (2 / G_PI) * (x[i] + 0.044715 * pow (x[i], 3))));
  vtp_op_gelu_tanh (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "gelu_tanh");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] / (1 + exp (-(double) x[i]));
  vtp_op_silu (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "silu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] < 0 ? 0 : x[i];
  vtp_op_relu (t, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 0, "relu");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = x[i] / (1 + exp (-(double) x[i])) * u[i];
  vtp_op_silu_mul (t, tu, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-5, "silu_mul");
  g_free (got); vtp_tensor_free (t);

  t = upload (x, rows, D);
  for (gint64 i = 0; i < rows * D; i++)
    want[i] = (double) x[i] + u[i];
  vtp_op_add (t, tu, 0, rows);
  got = device_values (t);
  assert_close (got, want, rows * D, 1e-6, "add");
  g_free (got); vtp_tensor_free (t);

  g_free (x); g_free (u); g_free (want); vtp_tensor_free (tu);
  g_rand_free (r);
}

/* @pad_rows: extra score rows; VTP_ATTENTION_SCORE_PAD_ROWS lets CPUs take
 * the blocked kernel (32 query rows per work-item) where the shape allows */
/* the value the bfloat16 attention computes with for @x */
static double
bf16_if (gboolean bf16, float x)
{
  return bf16 ? vtp_bf16_to_f32 (vtp_f32_to_bf16 (x)) : x;
}

/* @bf16: VtpAttention.bf16 (the AMX kernel where the device has it): the
 * reference rounds q, k and v to bfloat16 as the kernel does; its
 * probabilities, rounded too, move an output by at most 2^-9 of the
 * largest |v| (~0.002 here): tolerance 5e-3 */
static void
attention_case_scratch (gint H, gint Hkv, gint d, gint nq, gint nk, gboolean causal, gint q_pos0,
    gint pad_rows, gboolean bf16)
{
  GRand *r = g_rand_new_with_seed (H * 31 + d * 7 + nq + nk);
  const gint qw = H * d, kw = Hkv * d + 3;          /* kv rows wider than needed: stride test */
  const gint q_row = 1, kv_row = 2;
  float *q = random_floats (r, (nq + q_row) * qw, 1.0);
  float *k = random_floats (r, (nk + kv_row) * kw, 1.0), *v = random_floats (r, (nk + kv_row) * kw, 1.0);
  VtpTensor *tq = upload (q, nq + q_row, qw), *tk = upload (k, nk + kv_row, kw), *tv = upload (v, nk + kv_row, kw);
  VtpTensor *to = upload (q, nq + q_row, qw);
  g_autoptr (GError) error = NULL;
  VtpTensor *ts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, H * nq + pad_rows, nk, &error);
  double *want = g_new (double, (nq + q_row) * qw), *p = g_new (double, nk);
  const float scale = 1.0f / sqrtf (d);
  VtpAttention a = { H, Hkv, d, causal, q_pos0, scale, NULL, 0, bf16 };
  float *got;

  for (gint i = 0; i < (nq + q_row) * qw; i++)
    want[i] = q[i];
  for (gint h = 0; h < H; h++) {
    gint g = h / (H / Hkv);
    for (gint i = 0; i < nq; i++) {
      gint last = causal ? MIN (nk, q_pos0 + i + 1) : nk;
      double mx = -INFINITY, sum = 0;
      for (gint j = 0; j < last; j++) {
        double s = 0;
        for (gint c = 0; c < d; c++)
          s += bf16_if (bf16, q[(q_row + i) * qw + h * d + c]) * bf16_if (bf16, k[(kv_row + j) * kw + g * d + c]);
        p[j] = s * scale;
        mx = MAX (mx, p[j]);
      }
      for (gint j = 0; j < last; j++)
        sum += (p[j] = exp (p[j] - mx));
      for (gint c = 0; c < d; c++) {
        double o = 0;
        for (gint j = 0; j < last; j++)
          o += p[j] * bf16_if (bf16, v[(kv_row + j) * kw + g * d + c]);
        want[(q_row + i) * qw + h * d + c] = o / sum;
      }
    }
  }
  g_assert_no_error (error);
  vtp_op_attention (to, q_row, tq, q_row, nq, tk, tv, kv_row, nk, ts, &a);
  got = device_values (to);
  assert_close (got, want, (nq + q_row) * qw, bf16 ? 5e-3 : 2e-6, bf16 ? "attention (bf16)" : "attention");
  g_free (got); g_free (want); g_free (p); g_free (q); g_free (k); g_free (v);
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (to); vtp_tensor_free (ts);
  g_rand_free (r);
}

static void
attention_case (gint H, gint Hkv, gint d, gint nq, gint nk, gboolean causal, gint q_pos0)
{
  attention_case_scratch (H, Hkv, d, nq, nk, causal, q_pos0, 0, FALSE);
  attention_case_scratch (H, Hkv, d, nq, nk, causal, q_pos0, VTP_ATTENTION_SCORE_PAD_ROWS, FALSE);
}

/* A model that multiplies in bfloat16 (VtpAttention.bf16) on a CPU with
 * AMX-BF16: attention-amx.cl's tiles. One and two query tiles in a block,
 * several blocks, keys not a multiple of 16 or 32, causal after a cache,
 * grouped-query, heads of 64 and 128 (two passes of 4 value tiles), the
 * ViT-L shape, few heads (a head's blocks shared among work-items). */
static void
test_attention_amx (void)
{
  if (!dev->amx_bf16) {
    g_test_skip ("the device has no AMX-BF16 tiles");
    return;
  }
  attention_case_scratch (4, 4, 64, 40, 40, FALSE, 0, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  attention_case_scratch (2, 2, 64, 17, 33, FALSE, 0, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  attention_case_scratch (8, 2, 64, 37, 50, TRUE, 13, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  attention_case_scratch (4, 4, 128, 20, 20, TRUE, 0, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  attention_case_scratch (16, 16, 64, 577, 577, FALSE, 0, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  /* few heads: 3 work-items a head of 5 blocks; 2 work-items of one block */
  attention_case_scratch (2, 1, 64, 130, 140, TRUE, 10, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
  attention_case_scratch (1, 1, 128, 64, 64, FALSE, 0, VTP_ATTENTION_SCORE_PAD_ROWS, TRUE);
}

static void
test_attention (void)
{
  attention_case (4, 4, 16, 9, 9, FALSE, 0);      /* ViT: bidirectional */
  attention_case (4, 2, 16, 9, 9, TRUE, 0);       /* GQA prefill */
  attention_case (6, 2, 12, 1, 14, TRUE, 13);     /* decode step, odd head_dim */
  attention_case (2, 1, 64, 3, 10, TRUE, 7);      /* chunk after a cache */
  attention_case (16, 16, 64, 40, 40, FALSE, 0);  /* ViT-shaped, a second block of 8 rows */
  attention_case (8, 2, 64, 37, 50, TRUE, 13);    /* GQA chunk after a cache, 8-key steps and tail */
  attention_case (4, 4, 128, 20, 20, TRUE, 0);    /* head_dim 128 (7B) */
  attention_case (2, 2, 32, 16, 577, FALSE, 0);   /* Q-Former-like: few queries, many keys */
  attention_case (4, 4, 88, 45, 45, FALSE, 0);    /* EVA ViT-g's head_dim 88 (BLIP-2, InstructBLIP) */
  attention_case (3, 1, 40, 33, 36, TRUE, 3);     /* head_dim 40: steps of 8, causal */
  attention_case (2, 1, 64, 130, 140, TRUE, 10);  /* few heads: a head's 5 blocks of rows shared by 3 work-items */
}

/* An F16 key/value cache (kv-type=f16): vtp_op_kv_write rounds each value
 * to nearest even, as the host's vtp_f32_to_f16 (itself checked against
 * the compiler's _Float16 in /ops/f16), ties, subnormals and overflow to
 * infinity included; attention over the F16 cache then gives, bit for bit,
 * what it gives over an F32 cache holding the rounded values, on both
 * kernel paths (work-group rows, the blocked rows16) and in batched
 * decoding (vtp_op_attention_streams, F16 and F32 streams side by side). */
static guint16 *
device_halves (const VtpTensor *t)
{
  g_autoptr (GError) error = NULL;
  guint16 *h = g_new (guint16, vtp_tensor_n_elements (t));

  g_assert_true (vtp_tensor_read (t, 0, h, vtp_tensor_n_elements (t) * 2, &error));
  g_assert_no_error (error);
  return h;
}

/* Attention of @tq's @nq rows over rows [kv_row, kv_row + nk) of the
 * caches @ck / @cv (F16 or Q8_0) is, bit for bit, attention over F32
 * caches holding @rk / @rv, the values the caches hold ([rows, kw]);
 * @pad_rows spare score rows (CPUs then take the blocked kernel). */
static void
assert_attention_as_f32 (const VtpTensor *tq, gint nq, const VtpTensor *ck, const VtpTensor *cv, const float *rk,
    const float *rv, gint rows, gint kw, gint kv_row, gint nk, gint pad_rows, const VtpAttention *a)
{
  g_autoptr (GError) error = NULL;
  const gint qw = a->n_heads * a->head_dim;
  VtpTensor *rtk = upload (rk, rows, kw), *rtv = upload (rv, rows, kw);
  VtpTensor *ts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, a->n_heads * nq + pad_rows, nk, &error);
  VtpTensor *oc = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, nq, qw, &error);
  VtpTensor *o32 = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, nq, qw, &error);
  g_autofree float *got = NULL, *want = NULL;

  g_assert_no_error (error);
  vtp_op_attention (oc, 0, tq, 0, nq, ck, cv, kv_row, nk, ts, a);
  vtp_op_attention (o32, 0, tq, 0, nq, rtk, rtv, kv_row, nk, ts, a);
  g_assert_true (vtp_error_take_pending (&error));
  got = device_values (oc);
  want = device_values (o32);
  g_assert_cmpmem (got, nq * qw * 4, want, nq * qw * 4);
  vtp_tensor_free (rtk); vtp_tensor_free (rtv); vtp_tensor_free (ts); vtp_tensor_free (oc); vtp_tensor_free (o32);
}

static void
f16_cache_case (gint H, gint Hkv, gint d, gint nq, gint nk, gint q_pos0, gint pad_rows)
{
  GRand *r = g_rand_new_with_seed (H * 17 + d * 5 + nq + nk + pad_rows);
  const gint qw = H * d, kw = Hkv * d + 3, kv_row = 2, rows = nk + kv_row;
  g_autoptr (GError) error = NULL;
  float *q = random_floats (r, nq * qw, 1.0), *k = random_floats (r, rows * kw, 2.0), *v = random_floats (r, rows * kw, 2.0);
  const float special[] = { 1.00048828125f /* 1 + 2^-11: a tie, to even (1) */, 1.00146484375f /* 1 + 3 2^-11: to 1 + 2^-9 */,
    3e-6f /* a subnormal half */, -7e-8f, 70000.0f /* to infinity */, -65519.0f /* to -65504 */, 65520.0f };
  VtpTensor *tq = upload (q, nq, qw), *tk = upload (k, rows, kw), *tv = upload (v, rows, kw);
  VtpTensor *hk = vtp_tensor_new_2d (dev, VTP_DTYPE_F16, rows, kw, &error);
  VtpTensor *hv = vtp_tensor_new_2d (dev, VTP_DTYPE_F16, rows, kw, &error);
  const VtpAttention a = { H, Hkv, d, TRUE, q_pos0, 1.0f / sqrtf (d) };
  guint16 *bk, *bv;
  float *rk = g_new (float, rows * kw), *rv = g_new (float, rows * kw);

  g_assert_no_error (error);
  /* the special values in the last key row: kept out of the attention
   * (infinities), only stored and checked */
  for (guint i = 0; i < G_N_ELEMENTS (special); i++)
    k[(rows - 1) * kw + i] = special[i];
  g_assert_true (vtp_tensor_write (tk, 0, k, (gsize) rows * kw * 4, &error));
  vtp_op_kv_write (hk, hv, 0, tk, tv, 0, rows);
  bk = device_halves (hk);
  bv = device_halves (hv);
  for (gint i = 0; i < rows * kw; i++) {
    g_assert_cmphex (bk[i], ==, vtp_f32_to_f16 (k[i]));
    g_assert_cmphex (bv[i], ==, vtp_f32_to_f16 (v[i]));
    rk[i] = vtp_f16_to_f32 (bk[i]);
    rv[i] = vtp_f16_to_f32 (bv[i]);
  }
  /* keys 0 .. nk - 2 of the rows from kv_row - 1: the special row stays out */
  assert_attention_as_f32 (tq, nq, hk, hv, rk, rv, rows, kw, kv_row - 1, nk - 1, pad_rows, &a);
  g_free (bk); g_free (bv); g_free (rk); g_free (rv); g_free (q); g_free (k); g_free (v);
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (hk); vtp_tensor_free (hv);
  g_rand_free (r);
}

/* A Q8_0 key/value cache (kv-type=q8_0). vtp_op_kv_write quantizes each
 * block of 32 as the gguf package's quantizer (ggml's
 * quantize_row_q8_0_ref) does: its bytes on the quant fixtures' rows
 * (tests/fixtures/quant, made by tools/make_quant_fixtures.py with the gguf
 * package: zero and constant blocks, tiny and large magnitudes, exact ties,
 * values where llama.cpp's SIMD scale 127 / amax would round otherwise)
 * equal the package's blocks. Attention over the Q8_0 cache
 * then gives, bit for bit, what it gives over an F32 cache holding the
 * blocks' values (int8 times the F16 scale), on every kernel path: one
 * work-item's 16-values-a-scale path (head_dim a multiple of 16; 4 keys at
 * a time and the keys left over), its 8-at-a-time path (head_dim 40), heads
 * that start inside a block (head_dim 80, OPT-2.7B's), the work-group path,
 * the blocked rows16; and in batched decoding with Q8_0, F16 and F32
 * streams side by side. */
static guint8 *
device_bytes (const VtpTensor *t)
{
  g_autoptr (GError) error = NULL;
  const gsize n = vtp_tensor_n_bytes (t);
  guint8 *b = g_malloc (n);

  g_assert_true (vtp_tensor_read (t, 0, b, n, &error));
  g_assert_no_error (error);
  return b;
}

/* The values of a Q8_0 tensor's blocks: q times the F16 scale, as ggml's
 * dequantize_row_q8_0 (exact in float) */
static float *
q8_values (const guint8 *b, gint64 n)
{
  float *x = g_new (float, n);
  for (gint64 i = 0; i < n; i++) {
    const guint8 *blk = b + (i / 32) * 34;
    x[i] = (float) (gint8) blk[2 + i % 32] * vtp_f16_to_f32 ((guint16) (blk[0] | blk[1] << 8));
  }
  return x;
}

static void
kv_write_q8_0_fixture (const char *name)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *in_name = g_strdup_printf ("quant/%s.input.f32", name);
  g_autofree char *blk_name = g_strdup_printf ("quant/%s.blocks", name);
  g_autofree char *in_path = fixture_path (in_name), *blk_path = fixture_path (blk_name);
  g_autofree char *in = NULL, *want = NULL;
  g_autofree guint8 *got_k = NULL, *got_v = NULL;
  gsize n_in, n_want;
  const gint64 cols = 512;

  g_assert_true (g_file_get_contents (in_path, &in, &n_in, &error));
  g_assert_true (g_file_get_contents (blk_path, &want, &n_want, &error));
  g_assert_no_error (error);
  const gint64 rows = n_in / (cols * 4);
  g_assert_cmpint (rows * cols * 4, ==, n_in);
  g_assert_cmpint (n_want, ==, rows * vtp_dtype_row_bytes (VTP_DTYPE_Q8_0, cols));
  VtpTensor *x = upload ((const float *) in, rows, cols), *neg = NULL;
  g_autofree float *minus = g_new (float, rows * cols);
  for (gint64 i = 0; i < rows * cols; i++)
    minus[i] = -((const float *) in)[i];
  neg = upload (minus, rows, cols);
  /* the fixture rows into rows 1 .. of the caches (row 0 stays), the keys
   * as they are, the values negated (each q's sign flips, the scale stays) */
  VtpTensor *k = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, rows + 1, cols, &error);
  VtpTensor *v = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, rows + 1, cols, &error);
  g_assert_no_error (error);
  vtp_op_kv_write (k, v, 1, x, neg, 0, rows);
  g_assert_true (vtp_error_take_pending (&error));
  got_k = device_bytes (k);
  got_v = device_bytes (v);
  const gsize rb = vtp_dtype_row_bytes (VTP_DTYPE_Q8_0, cols);
  g_assert_cmpmem (got_k + rb, n_want, want, n_want);
  for (gsize i = 0; i < n_want; i++) {
    const gboolean scale_byte = (i % 34) < 2;
    g_assert_cmpint (got_v[rb + i], ==, scale_byte ? (guint8) want[i] : (guint8) -(gint8) want[i]);
  }
  vtp_tensor_free (x); vtp_tensor_free (neg); vtp_tensor_free (k); vtp_tensor_free (v);
}

static void
q8_cache_case (gint H, gint Hkv, gint d, gint nq, gint nk, gint q_pos0, gint pad_rows)
{
  GRand *r = g_rand_new_with_seed (H * 19 + d * 3 + nq + nk + pad_rows);
  const gint qw = H * d, kw = Hkv * d, kv_row = 2, rows = nk + kv_row;
  g_autoptr (GError) error = NULL;
  g_autofree float *q = random_floats (r, nq * qw, 1.0), *k = random_floats (r, rows * kw, 2.0);
  g_autofree float *v = random_floats (r, rows * kw, 2.0);
  g_autofree guint8 *bk = NULL, *bv = NULL;
  g_autofree float *rk = NULL, *rv = NULL;
  VtpTensor *tq = upload (q, nq, qw), *tk = upload (k, rows, kw), *tv = upload (v, rows, kw);
  VtpTensor *qk = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, rows, kw, &error);
  VtpTensor *qv = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, rows, kw, &error);
  const VtpAttention a = { H, Hkv, d, TRUE, q_pos0, 1.0f / sqrtf (d) };

  g_assert_no_error (error);
  g_assert_cmpint (kw % 32, ==, 0);
  vtp_op_kv_write (qk, qv, 0, tk, tv, 0, rows);
  bk = device_bytes (qk);
  bv = device_bytes (qv);
  rk = q8_values (bk, (gint64) rows * kw);
  rv = q8_values (bv, (gint64) rows * kw);
  assert_attention_as_f32 (tq, nq, qk, qv, rk, rv, rows, kw, kv_row, nk, pad_rows, &a);
  /* and the values are the keys' within a block's rounding: half a step
   * of amax / 127 (amax <= 2 here), plus up to 127 times the F16 scale's
   * rounding (2^-11 of it) */
  for (gint i = 0; i < rows * kw; i++)
    g_assert_cmpfloat (fabsf (rk[i] - k[i]), <=, 2.0f / 127 * (0.5f + 127.0f / 2048));
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (qk); vtp_tensor_free (qv);
  g_rand_free (r);
}

/* Batched decoding over streams whose caches are of several types (@main
 * for all but streams 2 and 3, F16, and 5, F32; or with @main F16, streams
 * 1, 2 and 5 F32): each stream's row of the output is what
 * vtp_op_attention gives over its cache alone, and its new key and value
 * rows are stored as vtp_op_kv_write stores them (an F32 cache: as they
 * are; F16: rounded as the host's vtp_f32_to_f16; Q8_0: the blocks
 * kv_write makes, checked against the gguf package above). */
static void
mixed_streams_case (gint n, VtpDType main)
{
  const gint H = 4, Hkv = 2, d = main == VTP_DTYPE_Q8_0 ? 64 : 32, KD = Hkv * d, qw = H * d, ctx = 40;
  GRand *r = g_rand_new_with_seed (100 * main + n);
  g_autoptr (GError) error = NULL;
  g_autofree float *q = random_floats (r, n * qw, 1.0), *kn = random_floats (r, n * KD, 1.0);
  g_autofree float *vn = random_floats (r, n * KD, 1.0);
  g_autofree float *got = NULL;
  VtpTensor *tq = upload (q, n, qw), *tkn = upload (kn, n, KD), *tvn = upload (vn, n, KD);
  VtpTensor *out = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, n, qw, &error);
  VtpTensor *one = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 1, qw, &error);
  const VtpAttention a = { H, Hkv, d, TRUE, 0, 1.0f / sqrtf (d) };
  g_autofree VtpStreamKV *kv = g_new0 (VtpStreamKV, n);

  g_assert_no_error (error);
  for (gint i = 0; i < n; i++) {
    const VtpDType t = main == VTP_DTYPE_F16 ? (i == 1 || i == 2 || i == 5 ? VTP_DTYPE_F32 : VTP_DTYPE_F16)
        : i == 2 || i == 3 ? VTP_DTYPE_F16 : i == 5 ? VTP_DTYPE_F32 : main;
    const gint past = 3 + 5 * i;
    g_autofree float *k = random_floats (r, past * KD, 1.0), *v = random_floats (r, past * KD, 1.0);
    VtpTensor *sk = upload (k, past, KD), *sv = upload (v, past, KD);

    kv[i].k_cache = vtp_tensor_new_2d (dev, t, ctx, KD, &error);
    kv[i].v_cache = vtp_tensor_new_2d (dev, t, ctx, KD, &error);
    kv[i].scores = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, H, ctx, &error);
    kv[i].n_past = past;
    g_assert_no_error (error);
    vtp_op_kv_write (kv[i].k_cache, kv[i].v_cache, 0, sk, sv, 0, past);
    vtp_tensor_free (sk); vtp_tensor_free (sv);
  }
  vtp_op_attention_streams (out, tq, tkn, tvn, kv, n, &a);
  got = device_values (out);
  for (gint i = 0; i < n; i++) {
    g_autofree float *alone = NULL;
    const VtpAttention ai = { H, Hkv, d, TRUE, (gint) kv[i].n_past, a.scale };
    const VtpDType t = kv[i].k_cache->dtype;
    VtpTensor *qi = upload (q + i * qw, 1, qw);

    vtp_op_attention (one, 0, qi, 0, 1, kv[i].k_cache, kv[i].v_cache, 0, kv[i].n_past + 1, kv[i].scores, &ai);
    alone = device_values (one);
    g_assert_cmpmem (got + i * qw, qw * 4, alone, qw * 4);
    /* the appended row */
    if (t == VTP_DTYPE_F16) {
      g_autofree guint16 *hk = device_halves (kv[i].k_cache), *hv = device_halves (kv[i].v_cache);
      for (gint c = 0; c < KD; c++) {
        g_assert_cmphex (hk[kv[i].n_past * KD + c], ==, vtp_f32_to_f16 (kn[i * KD + c]));
        g_assert_cmphex (hv[kv[i].n_past * KD + c], ==, vtp_f32_to_f16 (vn[i * KD + c]));
      }
    } else if (t == VTP_DTYPE_F32) {
      g_autofree float *fk = device_values (kv[i].k_cache), *fv = device_values (kv[i].v_cache);
      g_assert_cmpmem (fk + kv[i].n_past * KD, KD * 4, kn + i * KD, KD * 4);
      g_assert_cmpmem (fv + kv[i].n_past * KD, KD * 4, vn + i * KD, KD * 4);
    } else {
      const gsize rb = vtp_dtype_row_bytes (t, KD);
      VtpTensor *ek = vtp_tensor_new_2d (dev, t, 1, KD, &error), *ev = vtp_tensor_new_2d (dev, t, 1, KD, &error);
      g_autofree guint8 *ck = device_bytes (kv[i].k_cache), *cv = device_bytes (kv[i].v_cache);
      g_autofree guint8 *wk = NULL, *wv = NULL;

      g_assert_no_error (error);
      vtp_op_kv_write (ek, ev, 0, tkn, tvn, i, 1);
      wk = device_bytes (ek);
      wv = device_bytes (ev);
      g_assert_cmpmem (ck + kv[i].n_past * rb, rb, wk, rb);
      g_assert_cmpmem (cv + kv[i].n_past * rb, rb, wv, rb);
      vtp_tensor_free (ek); vtp_tensor_free (ev);
    }
    vtp_tensor_free (qi);
  }
  g_assert_true (vtp_error_take_pending (&error));
  for (gint i = 0; i < n; i++) {
    vtp_tensor_free (kv[i].k_cache); vtp_tensor_free (kv[i].v_cache); vtp_tensor_free (kv[i].scores);
  }
  vtp_tensor_free (tq); vtp_tensor_free (tkn); vtp_tensor_free (tvn); vtp_tensor_free (out); vtp_tensor_free (one);
  g_rand_free (r);
}

/* Shapes a Q8_0 cache cannot take: an error that says so, nothing run */
static void
q8_cache_errors (void)
{
  g_autoptr (GError) error = NULL;
  float x[96] = { 0 };
  VtpTensor *q = upload (x, 1, 96), *o = upload (x, 1, 96), *s = upload (x, 3, 32);
  VtpTensor *k = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, 1, 96, &error);
  VtpTensor *v = vtp_tensor_new_2d (dev, VTP_DTYPE_Q8_0, 1, 96, &error);
  const VtpAttention a = { 8, 8, 12, TRUE, 0, 1.0f };   /* 8 heads of 12: rows of whole blocks, heads not on 8 */

  g_assert_no_error (error);
  vtp_op_attention (o, 0, q, 0, 1, k, v, 0, 1, s, &a);
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "Q8_0"));
  g_clear_error (&error);
  g_assert_true (vtp_kv_cache_check (VTP_DTYPE_Q8_0, 32, 128, &error));
  g_assert_false (vtp_kv_cache_check (VTP_DTYPE_Q8_0, 3, 40, &error));   /* 120 values a row */
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_assert_nonnull (strstr (error->message, "3 heads x 40 = 120"));
  g_clear_error (&error);
  g_assert_false (vtp_kv_cache_check (VTP_DTYPE_Q4_0, 32, 128, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  vtp_tensor_free (q); vtp_tensor_free (o); vtp_tensor_free (s); vtp_tensor_free (k); vtp_tensor_free (v);
}

static void
test_attention_q8_cache (void)
{
  kv_write_q8_0_fixture ("q8_0");
  kv_write_q8_0_fixture ("q8_0.rounding");   /* ties, and 1 / (amax / 127) against 127 / amax */
  q8_cache_case (4, 4, 128, 1, 31, 30, 0);       /* decode step, head_dim 128: 4 keys at a time, 3 left over */
  q8_cache_case (6, 2, 64, 1, 1, 0, 0);          /* the first step: one key */
  q8_cache_case (8, 4, 40, 1, 23, 22, 0);        /* head_dim 40: 8 at a time, heads inside blocks */
  q8_cache_case (4, 2, 80, 1, 17, 16, 0);        /* head_dim 80 (OPT-2.7B): heads inside blocks, 16 at a time */
  q8_cache_case (8, 2, 64, 37, 50, 12, VTP_ATTENTION_SCORE_PAD_ROWS);  /* prefill chunk, rows16 on CPUs */
  q8_cache_case (8, 2, 64, 37, 50, 12, 0);       /* the same on the work-group path */
  q8_cache_case (4, 4, 40, 33, 36, 2, VTP_ATTENTION_SCORE_PAD_ROWS);
  mixed_streams_case (1, VTP_DTYPE_Q8_0);
  mixed_streams_case (7, VTP_DTYPE_Q8_0);
  q8_cache_errors ();
}

/* Grouped-query attention on CPUs takes a kv head's query heads in one
 * work-item (attention_gqa): its output is, bit for bit, the one-head-at-
 * a-time kernel's over the same keys and values copied out to one kv head
 * per query head, for each cache type (the rows of the copies are whole
 * blocks of 32 for Q8_0: head_dim 64 and 128). */
static void
gqa_case (gint H, gint Hkv, gint d, gint nq, gint nk, VtpDType t)
{
  GRand *r = g_rand_new_with_seed (H * 7 + Hkv + d + nq + nk + t);
  const gint rep = H / Hkv, qw = H * d, kw = Hkv * d;
  g_autoptr (GError) error = NULL;
  g_autofree float *q = random_floats (r, nq * qw, 1.0), *k = random_floats (r, nk * kw, 1.0);
  g_autofree float *v = random_floats (r, nk * kw, 1.0);
  g_autofree float *kx = g_new (float, (gsize) nk * qw), *vx = g_new (float, (gsize) nk * qw);
  g_autofree float *got = NULL, *want = NULL;
  VtpTensor *tq = upload (q, nq, qw), *tk, *tv, *tkx, *tvx, *ck, *cv, *ckx, *cvx, *o, *ox, *ts;
  const VtpAttention a = { H, Hkv, d, TRUE, nk - nq, 1.0f / sqrtf (d) };
  const VtpAttention ax = { H, H, d, TRUE, nk - nq, a.scale };

  for (gint j = 0; j < nk; j++)
    for (gint h = 0; h < H; h++)
      for (gint c = 0; c < d; c++) {
        kx[(gsize) j * qw + h * d + c] = k[(gsize) j * kw + (h / rep) * d + c];
        vx[(gsize) j * qw + h * d + c] = v[(gsize) j * kw + (h / rep) * d + c];
      }
  tk = upload (k, nk, kw);
  tv = upload (v, nk, kw);
  tkx = upload (kx, nk, qw);
  tvx = upload (vx, nk, qw);
  ck = vtp_tensor_new_2d (dev, t, nk, kw, &error);
  cv = vtp_tensor_new_2d (dev, t, nk, kw, &error);
  ckx = vtp_tensor_new_2d (dev, t, nk, qw, &error);
  cvx = vtp_tensor_new_2d (dev, t, nk, qw, &error);
  o = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, nq, qw, &error);
  ox = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, nq, qw, &error);
  ts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, H * nq, nk, &error);
  g_assert_no_error (error);
  vtp_op_kv_write (ck, cv, 0, tk, tv, 0, nk);
  vtp_op_kv_write (ckx, cvx, 0, tkx, tvx, 0, nk);
  vtp_op_attention (o, 0, tq, 0, nq, ck, cv, 0, nk, ts, &a);
  vtp_op_attention (ox, 0, tq, 0, nq, ckx, cvx, 0, nk, ts, &ax);
  g_assert_true (vtp_error_take_pending (&error));
  got = device_values (o);
  want = device_values (ox);
  g_assert_cmpmem (got, nq * qw * 4, want, nq * qw * 4);
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (tkx); vtp_tensor_free (tvx);
  vtp_tensor_free (ck); vtp_tensor_free (cv); vtp_tensor_free (ckx); vtp_tensor_free (cvx);
  vtp_tensor_free (o); vtp_tensor_free (ox); vtp_tensor_free (ts);
  g_rand_free (r);
}

static void
test_attention_gqa (void)
{
  const VtpDType types[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_Q8_0 };

  for (guint i = 0; i < G_N_ELEMENTS (types); i++) {
    gqa_case (32, 4, 64, 1, 37, types[i]);      /* TinyLlama's decode step: 8 heads a kv head, 2 groups of 4 */
    gqa_case (14, 2, 64, 1, 20, types[i]);      /* Qwen2-0.5B's: 7 heads a kv head, groups of 4 and 3 */
    gqa_case (8, 4, 128, 3, 11, types[i]);      /* 2 heads a kv head, a few query rows */
    gqa_case (12, 2, 128, 1, 1, types[i]);      /* Qwen2-1.5B's first step: one key */
  }
}

static void
test_attention_f16_cache (void)
{
  f16_cache_case (6, 2, 12, 1, 14, 12, 0);       /* decode step, odd head_dim */
  f16_cache_case (4, 4, 128, 1, 30, 28, 0);      /* decode step, head_dim 128 (7B): one work-item path on CPUs */
  f16_cache_case (8, 2, 64, 37, 50, 12, VTP_ATTENTION_SCORE_PAD_ROWS);  /* prefill chunk, rows16 on CPUs */
  f16_cache_case (8, 2, 64, 37, 50, 12, 0);      /* the same on the work-group path */
  f16_cache_case (3, 1, 40, 33, 36, 2, VTP_ATTENTION_SCORE_PAD_ROWS);
  mixed_streams_case (1, VTP_DTYPE_F16);
  mixed_streams_case (7, VTP_DTYPE_F16);
}

/* Sets (NULL: unsets) $VTP_ATTENTION_TILED with the device's queue
 * drained first (PoCL's worker threads read the environment as they run) */
static void
set_tiled (const char *value)
{
  g_assert_true (vtp_device_finish (dev, NULL));
  if (value)
    g_setenv ("VTP_ATTENTION_TILED", value, TRUE);
  else
    g_unsetenv ("VTP_ATTENTION_TILED");
}

/* One launch of attention_tiled@suffix made to fail: @nq rows of attention
 * report it, so they went through the tiled kernel. */
static void
assert_tiled_ran (const char *suffix, VtpDType kv, gint nq)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *name = g_strdup_printf ("attention_tiled%s", suffix);
  const gint H = 4, d = 64;
  VtpTensor *tq = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, nq, H * d, &error);
  VtpTensor *tk = vtp_tensor_new_2d (dev, kv, 8, H * d, &error);
  VtpTensor *tv = vtp_tensor_new_2d (dev, kv, 8, H * d, &error);
  VtpTensor *ts = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, H * nq, 8, &error);
  const VtpAttention a = { H, H, d, TRUE, 0, 0.125f };

  g_assert_no_error (error);
  vtp_fault_set (VTP_FAULT_ENQUEUE, 1, name);
  vtp_op_attention (tq, 0, tq, 0, nq, tk, tv, 0, 8, ts, &a);
  g_assert_false (vtp_fault_armed ());
  vtp_fault_set (VTP_FAULT_NONE, 0, NULL);
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_nonnull (strstr (error->message, name));
  vtp_tensor_free (tq); vtp_tensor_free (tk); vtp_tensor_free (tv); vtp_tensor_free (ts);
}

/* GPUs' tiled attention (attention_tiled, VTP_ATTENTION_TILED=1 on this
 * CPU): the double-precision reference of /ops/attention within its
 * 2e-6, on its shapes and on the tiles' edges (15, 16, 17, 33 query rows;
 * keys 31, 32, 33 and more, causal after a cache); over F16 and Q8_0
 * caches bit for bit what it gives over F32 caches holding their values
 * (the rest of /ops/attention/f16-cache and q8_0-cache run through it
 * too); one query row (decode) and heads over 128 stay on the other
 * kernels. */
static void
test_attention_tiled (void)
{
  set_tiled ("1");
  assert_tiled_ran ("", VTP_DTYPE_F32, 16);
  assert_tiled_ran ("_f16", VTP_DTYPE_F16, 2);
  assert_tiled_ran ("_q8_0", VTP_DTYPE_Q8_0, 17);
  test_attention ();
  attention_case (4, 2, 64, 15, 31, TRUE, 16);
  attention_case (2, 2, 128, 16, 32, FALSE, 0);
  attention_case (8, 2, 64, 17, 33, TRUE, 16);
  attention_case (2, 1, 96, 33, 100, TRUE, 67);
  attention_case (1, 1, 128, 70, 70, TRUE, 0);
  attention_case (2, 2, 8, 2, 5, FALSE, 0);
  test_attention_f16_cache ();
  test_attention_q8_cache ();
  set_tiled (NULL);
}

static void
test_rope (void)
{
  GRand *r = g_rand_new_with_seed (5);
  const gint H = 3, d = 8, rows = 4, pos0 = 5, w = H * d;
  float *x = random_floats (r, rows * w, 1.0), inv[4];
  double *want = g_new (double, rows * w);

  for (gint j = 0; j < d / 2; j++)
    inv[j] = 1.0f / powf (10000.0f, (float) (2 * j) / d);
  for (gint layout = 0; layout < 2; layout++) {
    VtpTensor *t = upload (x, rows, w), *tf = upload (inv, 1, d / 2);
    float *got;
    for (gint i = 0; i < rows * w; i++)
      want[i] = x[i];
    for (gint t_ = 1; t_ < rows; t_++)
      for (gint h = 0; h < H; h++)
        for (gint j = 0; j < d / 2; j++) {
          double ang = (float) (pos0 + t_ - 1) * inv[j];
          gint a = layout ? 2 * j : j, b = layout ? 2 * j + 1 : j + d / 2;
          double x0 = x[t_ * w + h * d + a], x1 = x[t_ * w + h * d + b];
          want[t_ * w + h * d + a] = x0 * cos (ang) - x1 * sin (ang);
          want[t_ * w + h * d + b] = x1 * cos (ang) + x0 * sin (ang);
        }
    /* as q (row 1 on) and k (row 0 on) of one launch: k's rows are q's
     * shifted by one, so k's row i must come out as q's row i + 1 */
    VtpTensor *tk = upload (x + w, rows - 1, w), *table = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, d, NULL);
    vtp_op_rope_angles (table, rows - 1, d, pos0, tf);
    vtp_op_rope_qk (t, 1, H, tk, 0, H, rows - 1, d, table, layout ? VTP_ROPE_INTERLEAVED : VTP_ROPE_HALF);
    got = device_values (t);
    assert_close (got, want, rows * w, 2e-6, layout ? "rope interleaved" : "rope half");
    g_free (got);
    got = device_values (tk);
    assert_close (got, want + w, (rows - 1) * w, 2e-6, layout ? "rope interleaved (k)" : "rope half (k)");
    g_free (got); vtp_tensor_free (t); vtp_tensor_free (tf); vtp_tensor_free (tk); vtp_tensor_free (table);
  }
  g_free (x); g_free (want);
  g_rand_free (r);
}

static void
test_embed_and_patches (void)
{
  GRand *r = g_rand_new_with_seed (9);
  const gint V = 10, D = 6, p = 2, H = 4, W = 6, P = (H / p) * (W / p);
  float *table = random_floats (r, V * D, 1.0), *img = random_floats (r, 3 * H * W, 1.0);
  float *cls = random_floats (r, D, 1.0), *pos = random_floats (r, (P + 1) * D, 1.0);
  gint32 ids[3] = { 4, 0, 9 };
  gint64 ishape[1] = { 3 }, imgshape[3] = { 3, H, W };
  g_autoptr (GError) error = NULL;
  VtpTensor *tt = upload_as (table, V, D, VTP_DTYPE_BF16);
  VtpTensor *tid = vtp_tensor_new_from_data (dev, VTP_DTYPE_I32, 1, ishape, ids, &error);
  VtpTensor *tout = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 4, D, &error);
  VtpTensor *timg = vtp_tensor_new_from_data (dev, VTP_DTYPE_F32, 3, imgshape, img, &error);
  VtpTensor *tcols = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, P, 3 * p * p, &error);
  VtpTensor *tcls = upload (cls, 1, D), *tpos = upload (pos, P + 1, D);
  VtpTensor *tpatch = upload (pos, P, D), *tvit = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, P + 1, D, &error);
  double *want = g_new0 (double, 4 * D);
  float *got, *gotc;

  g_assert_no_error (error);
  vtp_op_embed (tout, 1, tid, 3, tt);
  got = device_values (tout);
  for (gint i = 0; i < 3; i++)
    for (gint c = 0; c < D; c++)
      want[(i + 1) * D + c] = table[ids[i] * D + c];
  for (gint c = 0; c < D; c++)
    want[c] = got[c];           /* row 0 untouched, unspecified */
  assert_close (got, want, 4 * D, 0, "embed bf16");
  g_free (got);

  vtp_op_im2col_patches (tcols, timg, p);
  gotc = device_values (tcols);
  for (gint pi = 0; pi < P; pi++)
    for (gint c = 0; c < 3; c++)
      for (gint ky = 0; ky < p; ky++)
        for (gint kx = 0; kx < p; kx++) {
          gint y = (pi / (W / p)) * p + ky, x = (pi % (W / p)) * p + kx;
          g_assert_cmpfloat (gotc[pi * 3 * p * p + c * p * p + ky * p + kx], ==, img[(c * H + y) * W + x]);
        }
  g_free (gotc);

  vtp_op_vit_assemble (tvit, 0, tpatch, tcls, tpos);
  got = device_values (tvit);
  for (gint t = 0; t <= P; t++)
    for (gint c = 0; c < D; c++)
      g_assert_cmpfloat_with_epsilon (got[t * D + c], (t ? pos[(t - 1) * D + c] : cls[c]) + pos[t * D + c], 1e-6);
  g_free (got);

  g_free (table); g_free (img); g_free (cls); g_free (pos); g_free (want);
  vtp_tensor_free (tt); vtp_tensor_free (tid); vtp_tensor_free (tout); vtp_tensor_free (timg);
  vtp_tensor_free (tcols); vtp_tensor_free (tcls); vtp_tensor_free (tpos); vtp_tensor_free (tpatch);
  vtp_tensor_free (tvit);
  g_rand_free (r);
}

static void
test_shape_errors (void)
{
  g_autoptr (GError) error = NULL;
  float x[12] = { 0 };
  VtpTensor *a = upload (x, 3, 4), *w = upload (x, 2, 6), *y = upload (x, 3, 2);

  vtp_op_linear (y, 0, a, 0, 3, w, NULL, FALSE);
  vtp_op_add (y, y, 0, 3);      /* skipped: an error is pending */
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "input has 4 columns"));
  g_clear_error (&error);
  g_assert_true (vtp_error_take_pending (&error));
  vtp_tensor_free (a); vtp_tensor_free (w); vtp_tensor_free (y);
}

static void
test_f16_conversion (void)
{
  const float vals[] = { 0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 6.1e-5f, 5.96e-8f, 1e-9f, 1e6f, 0.1f, 1.0009765625f };
  for (guint i = 0; i < G_N_ELEMENTS (vals); i++) {
    _Float16 h = (_Float16) vals[i];
    guint16 bits;
    memcpy (&bits, &h, 2);
    g_assert_cmphex (vtp_f32_to_f16 (vals[i]), ==, bits);
    g_assert_cmpfloat (vtp_f16_to_f32 (bits), ==, (float) h);
  }
  g_assert_cmpfloat (vtp_bf16_to_f32 (vtp_f32_to_bf16 (1.00390625f)), ==, 1.0f);   /* ties to even */
  /* every half, against the compiler's conversion: the same float bits
   * (NaNs: a NaN of the same sign and payload); then again with the CPU
   * flushing subnormals (x86: MXCSR's FTZ and DAZ, as -ffast-math's
   * startup code sets them in a host program) */
  for (guint32 b = 0; b < 65536; b++) {
    const guint16 bits = (guint16) b;
    _Float16 h;
    float want = 0, got = vtp_f16_to_f32 (bits);
    guint32 wu, gu;
    memcpy (&h, &bits, 2);
    want = (float) h;
    memcpy (&wu, &want, 4);
    memcpy (&gu, &got, 4);
    if (isnan (want))
      wu |= 0x00400000u;        /* the compiler's conversion may quieten it */
    if (isnan (got))
      gu |= 0x00400000u;
    if (wu != gu)
      g_error ("half 0x%04x: vtp_f16_to_f32 gives 0x%08x, the compiler 0x%08x", bits, gu, wu);
  }
#if defined(__x86_64__)
  {
    const guint csr = _mm_getcsr ();
    float *want = g_new (float, 65536);
    for (guint32 b = 0; b < 65536; b++)
      want[b] = vtp_f16_to_f32 ((guint16) b);
    _mm_setcsr (csr | 0x8040);
    for (guint32 b = 0; b < 65536; b++) {
      const float got = vtp_f16_to_f32 ((guint16) b);
      if (memcmp (&got, &want[b], 4) != 0 && !(isnan (got) && isnan (want[b]))) {
        _mm_setcsr (csr);
        g_error ("half 0x%04x: vtp_f16_to_f32 differs with subnormals flushed: %g, not %g", b, got, want[b]);
      }
    }
    _mm_setcsr (csr);
    g_free (want);
  }
#endif
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_message ("device: %s", dev->name);
  g_test_add_func ("/ops/f16", test_f16_conversion);
  g_test_add_func ("/ops/norms", test_norms);
  g_test_add_func ("/ops/activations", test_activations);
  g_test_add_func ("/ops/attention", test_attention);
  g_test_add_func ("/ops/attention/amx-bf16", test_attention_amx);
  g_test_add_func ("/ops/attention/f16-cache", test_attention_f16_cache);
  g_test_add_func ("/ops/attention/q8_0-cache", test_attention_q8_cache);
  g_test_add_func ("/ops/attention/gqa", test_attention_gqa);
  g_test_add_func ("/ops/attention/tiled", test_attention_tiled);
  g_test_add_func ("/ops/rope", test_rope);
  g_test_add_func ("/ops/embed-patches", test_embed_and_patches);
  g_test_add_func ("/ops/shape-errors", test_shape_errors);
  return g_test_run ();
}
