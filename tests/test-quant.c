/* test-quant.c: llama.cpp's block-quantized weight types.
 *  - /quant/reference: the host quantizers (twelve types) and dequantizers
 *    (all) give bit for bit what the references give (tests/fixtures/quant,
 *    made by tools/make_quant_fixtures.py): the gguf package's quants module
 *    for the Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 quantizers and every
 *    dequantization, llama.cpp's own build (ggml_quantize_chunk without an
 *    importance matrix, as llama-quantize) for the Q2_K / Q3_K / Q4_K /
 *    Q5_K / Q6_K / IQ4_NL / IQ4_XS quantizers.
 *  - /quant/roundtrip: quantize then dequantize normal rows; relative RMS
 *    error per type below a measured bound. /quant/speed (-m perf): the time
 *    to quantize a 2048 x 5632 matrix per type.
 *  - /quant/linear, /quant/linear-as-gpu: vtp_op_linear with quantized
 *    weights (panels packed by vtp_linear_weight_new, plain ggml rows, and
 *    the GPU kernels on this device) against a double loop over the host
 *    dequantization: decode GEMV (1..4 rows), GEMM, row offsets, bias,
 *    accumulation, N not a multiple of 16. Tolerance per output: 1e-5 x
 *    sum_k |x_k| x max_k |w_nk| (float accumulation; any kernel bug is an
 *    error of the order of the output itself). Where the device decodes
 *    in int8 (x86 VNNI: one row or more than 4, packed panels), x is
 *    rounded to int8 per block of 32 (Q8_0, Q4_0 weights) or per
 *    super-block of 256 (the K-quants) with step amax / 127, so each x_k
 *    moves by at most half a step: the bound adds sum over groups of step
 *    / 2 x sum_k |w_nk| (plus the float slack); a wrong kernel is far
 *    outside. And every type's int8 kernels once more on activations they
 *    quantize exactly (integers, 127 in every block of 32), to the float
 *    tolerance alone: one wrong table value or scale bit fails.
 *  - /quant/linear-multi: vtp_op_linear_multi (q | k | v, gate | up in
 *    one launch, weights of one type or of several) equals the products
 *    one by one, bit for bit.
 *  - /quant/pack-shares: packing a weight in uneven shares on 3 threads
 *    gives the bytes of one thread's packing, every type. */
#include <json-glib/json-glib.h>
#include "test-util.h"
#include "fixture-path.h"
#include "vtp-linear.h"
#include "vtp-quant.h"

static const VtpDType qtypes[] = {
  VTP_DTYPE_Q8_0, VTP_DTYPE_Q4_0, VTP_DTYPE_Q4_K, VTP_DTYPE_Q5_K, VTP_DTYPE_Q6_K,
  VTP_DTYPE_Q4_1, VTP_DTYPE_Q5_0, VTP_DTYPE_Q5_1, VTP_DTYPE_Q3_K, VTP_DTYPE_Q2_K, VTP_DTYPE_IQ4_NL, VTP_DTYPE_IQ4_XS,
  VTP_DTYPE_IQ3_XXS, VTP_DTYPE_IQ3_S, VTP_DTYPE_IQ2_XXS, VTP_DTYPE_IQ2_XS, VTP_DTYPE_IQ2_S, VTP_DTYPE_IQ1_S,
  VTP_DTYPE_IQ1_M,
};

static VtpDType
type_from_name (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++)
    if (g_str_equal (vtp_dtype_name (qtypes[i]), name))
      return qtypes[i];
  g_error ("unknown type %s in the quant manifest", name);
}

static guint8 *
read_fixture (const char *dir, const char *name, gsize want)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  gchar *data;
  gsize len;

  g_file_get_contents (path, &data, &len, &error);
  g_assert_no_error (error);
  if (len != want)
    g_error ("%s: %" G_GSIZE_FORMAT " bytes, expected %" G_GSIZE_FORMAT, path, len, want);
  return (guint8 *) data;
}

static void
assert_same_bits (const void *got, const void *want, gsize n, gsize unit, const char *what)
{
  for (gsize i = 0; i < n; i++)
    if (memcmp ((const guint8 *) got + i * unit, (const guint8 *) want + i * unit, unit) != 0) {
      if (unit == 4)
        g_error ("%s: element %" G_GSIZE_FORMAT " is %.9g, the reference %.9g", what, i,
            ((const float *) got)[i], ((const float *) want)[i]);
      g_error ("%s: byte %" G_GSIZE_FORMAT " is %u, the reference %u", what, i,
          ((const guint8 *) got)[i], ((const guint8 *) want)[i]);
    }
}

static guint32
mix32 (guint32 n)
{
  n ^= n >> 15;
  n *= 0x85ebca77u;
  n ^= n >> 13;
  n *= 0xc2b2ae3du;
  n ^= n >> 16;
  return n;
}

/* The rows of the manifest's "input": "hashed" entries, bit for bit as
 * tools/make_quant_fixtures.py's hashed_rows makes them (integer hashes,
 * scaled by powers of two only, so every step is exact). */
static float *
hashed_rows (gint64 rows, gint64 cols)
{
  float *x = g_new (float, rows * cols);

  for (gint64 r = 0; r < rows; r++)
    for (gint64 c = 0; c < cols; c++) {
      const guint64 i = (r * cols + c) * 4;
      gint64 v = -(1 << 23);
      float f;

      for (gint k = 0; k < 4; k++)
        v += mix32 ((guint32) (i + k + 1) * 0x9e3779b1u) >> 10;
      f = (float) v * 0x1p-28f;
      f *= ldexpf (1.0f, (gint) (r % 5) - 2);
      if (mix32 ((guint32) (c + 0x51ed) * 0x9e3779b1u) % 16 == 0)
        f *= 8.0f;
      x[r * cols + c] = f;
    }
  return x;
}

/* Blocks of @t that differ from the reference, and the largest difference
 * of their dequantized values. */
static gsize
count_block_diffs (VtpDType t, const guint8 *got, const guint8 *want, gsize n_blocks, double *max_abs)
{
  const gsize bb = vtp_dtype_block_bytes (t), be = vtp_dtype_block_elements (t);
  g_autofree float *a = g_new (float, be), *b = g_new (float, be);
  gsize differ = 0;

  *max_abs = 0;
  for (gsize i = 0; i < n_blocks; i++)
    if (memcmp (got + i * bb, want + i * bb, bb) != 0) {
      differ++;
      vtp_dequantize_row (t, got + i * bb, be, a);
      vtp_dequantize_row (t, want + i * bb, be, b);
      for (gsize j = 0; j < be; j++)
        *max_abs = MAX (*max_abs, fabs ((double) a[j] - b[j]));
    }
  return differ;
}

static void
test_reference (void)
{
  g_autofree char *dir = fixture_path ("quant");
  g_autofree char *manifest = g_build_filename (dir, "manifest.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  gboolean quantized[G_N_ELEMENTS (qtypes)] = { FALSE };
  JsonArray *cases;

  json_parser_load_from_file (parser, manifest, &error);
  g_assert_no_error (error);
  cases = json_node_get_array (json_parser_get_root (parser));
  for (guint c = 0; c < json_array_get_length (cases); c++) {
    JsonObject *o = json_array_get_object_element (cases, c);
    const VtpDType t = type_from_name (json_object_get_string_member (o, "type"));
    const gint64 rows = json_object_get_int_member (o, "rows"), cols = json_object_get_int_member (o, "cols");
    const gsize row_bytes = vtp_dtype_row_bytes (t, cols), n = rows * cols;
    const char *blocks_name = json_object_get_string_member (o, "blocks");
    g_autofree guint8 *blocks = read_fixture (dir, blocks_name, rows * row_bytes);
    char what[64];

    if (json_object_has_member (o, "dequant")) {
      g_autofree float *want = (float *) read_fixture (dir, json_object_get_string_member (o, "dequant"), n * 4);
      g_autofree float *got = g_new (float, n);
      for (gint64 r = 0; r < rows; r++)
        vtp_dequantize_row (t, blocks + r * row_bytes, cols, got + r * cols);
      g_snprintf (what, sizeof what, "%s dequantization", blocks_name);
      assert_same_bits (got, want, n, 4, what);
      if (g_test_verbose ())
        g_printerr ("%s: %" G_GSIZE_FORMAT " values dequantized bit-identical to the gguf package\n", blocks_name, n);
    }
    if (json_object_has_member (o, "input")) {
      const char *input = json_object_get_string_member (o, "input");
      g_autofree float *x = g_str_equal (input, "hashed") ? hashed_rows (rows, cols)
          : (float *) read_fixture (dir, input, n * 4);
      g_autofree guint8 *q = g_malloc (rows * row_bytes);
      const gsize n_blocks = rows * row_bytes / vtp_dtype_block_bytes (t);
      double max_abs;
      gsize differ;

      g_assert_true (vtp_quant_can_quantize (t));
      for (gint64 r = 0; r < rows; r++)
        g_assert_true (vtp_quantize_row (t, x + r * cols, cols, q + r * row_bytes));
      /* the quantizers are bit-exact (the K-quants against llama.cpp); on a
       * failure say first how far off, then where */
      differ = count_block_diffs (t, q, blocks, n_blocks, &max_abs);
      if (differ || g_test_verbose ())
        g_printerr ("%s quantization: %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " blocks differ, max |dequant diff| %.3g\n",
          blocks_name, differ, n_blocks, max_abs);
      g_snprintf (what, sizeof what, "%s quantization", blocks_name);
      assert_same_bits (q, blocks, rows * row_bytes, 1, what);
      for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++)
        quantized[i] |= qtypes[i] == t;
    }
  }
  /* every quantizer has its reference */
  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++)
    if (!quantized[i] && vtp_quant_can_quantize (qtypes[i]))
      g_error ("no quantizer reference for %s in %s", vtp_dtype_name (qtypes[i]), manifest);
}

/* Normal floats (Box-Muller), the shape of real weight rows. */
static float *
gaussian_floats (GRand *r, gsize n, double sigma)
{
  float *v = g_new (float, n);

  for (gsize i = 0; i < n; i++) {
    const double u = g_rand_double_range (r, 1e-12, 1.0), a = g_rand_double_range (r, 0, 2 * G_PI);
    v[i] = (float) (sigma * sqrt (-2 * log (u)) * cos (a));
  }
  return v;
}

/* Quantize then dequantize normal rows: the RMS error relative to the row's
 * RMS, worst row, stays below the type's bound. Measured (64 rows of 4096,
 * this seed, worst row / mean): Q8_0 0.0056 / 0.0054, Q4_0 0.089 / 0.086,
 * Q4_K 0.074 / 0.072, Q5_K 0.037 / 0.036, Q6_K 0.018 / 0.018, Q4_1 0.081 /
 * 0.078, Q5_0 0.045 / 0.043, Q5_1 0.040 / 0.038, Q3_K 0.156 / 0.151, Q2_K
 * 0.308 / 0.297, IQ4_NL 0.078 / 0.076, IQ4_XS 0.079 / 0.077 (their scale
 * search minimizes the error weighted by x^2, not this one); the bounds
 * leave about 10% (rows differ by 3%), while a broken rounding or scale
 * makes errors of the order of the values themselves. The exact choices of
 * the scale searches are /quant/reference's business. */
static void
test_roundtrip (void)
{
  static const struct { VtpDType t; double bound; } cases[] = {
    { VTP_DTYPE_Q8_0, 0.0062 }, { VTP_DTYPE_Q4_0, 0.098 },
    { VTP_DTYPE_Q4_K, 0.081 }, { VTP_DTYPE_Q5_K, 0.041 }, { VTP_DTYPE_Q6_K, 0.020 },
    { VTP_DTYPE_Q4_1, 0.090 }, { VTP_DTYPE_Q5_0, 0.049 }, { VTP_DTYPE_Q5_1, 0.044 },
    { VTP_DTYPE_Q3_K, 0.172 }, { VTP_DTYPE_Q2_K, 0.339 }, { VTP_DTYPE_IQ4_NL, 0.086 },
    { VTP_DTYPE_IQ4_XS, 0.087 },
  };
  const gint64 rows = 64, cols = 4096;
  GRand *r = g_rand_new_with_seed (4242);
  g_autofree float *x = gaussian_floats (r, rows * cols, 0.02);
  g_autofree float *y = g_new (float, cols);

  for (guint c = 0; c < G_N_ELEMENTS (cases); c++) {
    const VtpDType t = cases[c].t;
    g_autofree guint8 *q = g_malloc (vtp_dtype_row_bytes (t, cols));
    double worst = 0, mean = 0;

    for (gint64 i = 0; i < rows; i++) {
      const float *xr = x + i * cols;
      double err = 0, ref = 0;
      g_assert_true (vtp_quantize_row (t, xr, cols, q));
      vtp_dequantize_row (t, q, cols, y);
      for (gint64 j = 0; j < cols; j++) {
        err += ((double) y[j] - xr[j]) * ((double) y[j] - xr[j]);
        ref += (double) xr[j] * xr[j];
      }
      worst = MAX (worst, sqrt (err / ref));
      mean += sqrt (err / ref) / rows;
    }
    if (g_test_verbose ())
      g_printerr ("%s round trip: relative RMS error %.5f (mean %.5f), bound %.3f\n",
          vtp_dtype_name (t), worst, mean, cases[c].bound);
    if (!(worst < cases[c].bound))
      g_error ("%s round trip: relative RMS error %.5f above %.3f", vtp_dtype_name (t), worst, cases[c].bound);
  }
  g_rand_free (r);
}

/* Only with -m perf: the time to quantize a 2048 x 5632 matrix (a 7B-class
 * FFN weight) per type. */
static void
test_speed (void)
{
  const gint64 rows = 2048, cols = 5632;
  GRand *r = g_rand_new_with_seed (77);
  g_autofree float *x = gaussian_floats (r, rows * cols, 0.02);

  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++) {
    const VtpDType t = qtypes[i];
    const gsize row_bytes = vtp_dtype_row_bytes (t, cols);
    g_autofree guint8 *q = g_malloc (rows * row_bytes);
    const gint64 t0 = g_get_monotonic_time ();
    for (gint64 k = 0; k < rows; k++)
      vtp_quantize_row (t, x + k * cols, cols, q + k * row_bytes);
    g_test_minimized_result ((g_get_monotonic_time () - t0) / 1e6, "%s: quantize 2048 x 5632 in %.3f s",
        vtp_dtype_name (t), (g_get_monotonic_time () - t0) / 1e6);
  }
  g_rand_free (r);
}

/* Weights [n, k] of @t: rows quantized from random floats, except that the
 * K-quants' odd rows are random blocks with small finite f16 scales, which
 * hold bit patterns (scales, mins, high bits) a quantizer may never make. */
static guint8 *
random_weights (GRand *r, VtpDType t, gint64 n, gint64 k)
{
  const gsize row_bytes = vtp_dtype_row_bytes (t, k), bb = vtp_dtype_block_bytes (t);
  const gboolean kquant = vtp_dtype_block_elements (t) == VTP_QK_K;
  g_autofree float *w = random_floats (r, n * k, 0.5);
  guint8 *q = g_malloc (n * row_bytes);

  for (gint64 i = 0; i < n; i++) {
    guint8 *row = q + i * row_bytes;
    /* quantized rows, and (K-quants, types vtp does not quantize) random blocks */
    if ((!kquant || i % 2 == 0) && vtp_quant_can_quantize (t)) {
      g_assert_true (vtp_quantize_row (t, w + i * k, k, row));
      continue;
    }
    for (gsize j = 0; j < row_bytes; j++)
      row[j] = g_rand_int_range (r, 0, 256);
    for (gsize b = 0; b < row_bytes / bb; b++)
      for (gint h = 0; h < vtp_quant_f16_count (t); h++)
        vtp_quant_set_f16 (t, row + b * bb, h, vtp_f32_to_f16 (g_rand_double_range (r, -0.01, 0.01)));
  }
  return q;
}

/* W_PACKED_INT8_EXACT: packed, and x integers in -127..127 with 127 in every
 * block of 32, which the int8 paths quantize exactly (step 1): their
 * products are then held to the float tolerance alone, so that any error
 * in their weights (a table value, a scale bit) shows. */
typedef enum { W_PLAIN, W_PACKED, W_PACKED_INT8_EXACT } WeightKind;

static void
linear_case (VtpDType t, gint64 M, gint64 K, gint64 N, WeightKind kind, gboolean with_bias, gboolean accumulate)
{
  GRand *r = g_rand_new_with_seed (M * 1000003 + K * 101 + N * 7 + t * 3 + kind);
  const gint64 x_row = 1, y_row = 2;
  const gsize row_bytes = vtp_dtype_row_bytes (t, K);
  const gboolean exact = kind == W_PACKED_INT8_EXACT;
  g_autofree float *x = random_floats (r, (M + x_row + 1) * K, 1.0);
  g_autofree guint8 *q = random_weights (r, t, N, K);
  g_autofree float *w = g_new (float, N * K);
  g_autofree float *b = random_floats (r, N, 1.0);
  g_autofree float *y0 = random_floats (r, (M + y_row + 1) * N, 1.0);
  g_autofree double *want = g_new (double, (M + y_row + 1) * N);
  g_autofree double *tol = g_new0 (double, (M + y_row + 1) * N);
  g_autofree float *got = NULL;
  g_autoptr (GError) error = NULL;
  gint64 shape[2] = { N, K };
  VtpTensor *tx = upload (x, M + x_row + 1, K), *tb = upload (b, 1, N), *ty = upload (y0, M + y_row + 1, N);
  VtpTensor *tw;
  gboolean int8_path;
  char what[160];

  if (exact) {
    for (gint64 i = 0; i < (M + x_row + 1) * K; i++)
      x[i] = i % 32 ? (float) g_rand_int_range (r, -127, 128) : 127.0f;
    vtp_tensor_free (tx);
    tx = upload (x, M + x_row + 1, K);
  }

  for (gint64 n = 0; n < N; n++)
    vtp_dequantize_row (t, q + n * row_bytes, K, w + n * K);
  tw = kind != W_PLAIN ? vtp_linear_weight_new (dev, t, N, K, q, &error)
      : vtp_tensor_new_from_data (dev, t, 2, shape, q, &error);
  g_assert_no_error (error);
  /* x's int8 groups: a block of 32, a super-block of 256 for the K-quants */
  const gint64 group = MAX (vtp_dtype_block_elements (t), 32);
  /* the int8 paths: decode, a few rows and the GEMM */
  int8_path = vtp_linear_takes_int8 (tw);
  g_assert_cmpuint (vtp_tensor_n_bytes (tw), ==, N * row_bytes);

  for (gint64 i = 0; i < (M + y_row + 1) * N; i++)
    want[i] = y0[i];
  for (gint64 m = 0; m < M; m++)
    for (gint64 n = 0; n < N; n++) {
      const float *xm = x + (m + x_row) * K;
      double s = with_bias ? b[n] : 0, ax = 0, wmax = 0, int8 = 0;
      for (gint64 k = 0; k < K; k++) {
        s += (double) xm[k] * w[n * K + k];
        ax += fabs (xm[k]);
        wmax = MAX (wmax, fabs (w[n * K + k]));
      }
      for (gint64 k0 = 0; k0 < K; k0 += group) {
        double amax = 0, aw = 0;
        for (gint64 k = k0; k < k0 + group; k++) {
          amax = MAX (amax, fabs (xm[k]));
          aw += fabs (w[n * K + k]);
        }
        int8 += amax / 127 / 2 * aw;
      }
      want[(m + y_row) * N + n] = accumulate ? want[(m + y_row) * N + n] + s : s;
      tol[(m + y_row) * N + n] = 1e-5 * ax * wmax + (int8_path && !exact ? int8 * 1.0001 : 0);
    }
  vtp_op_linear (ty, y_row, tx, x_row, M, tw, with_bias ? tb : NULL, accumulate);
  vtp_error_take_pending (&error);
  g_assert_no_error (error);
  got = device_values (ty);
  g_snprintf (what, sizeof what, "linear %s M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%" G_GINT64_FORMAT
      " %s layout %u%s%s%s", vtp_dtype_name (t), M, K, N, kind == W_PLAIN ? "plain" : exact ? "packed, x exact in int8"
      : "packed", tw->layout,
      with_bias ? " bias" : "", accumulate ? " accumulate" : "", g_getenv ("VTP_LINEAR_AS_GPU") ? " as-gpu" : "");
  if (int8_path)
    g_strlcat (what, " int8", sizeof what);
  if (g_test_verbose ())
    g_printerr ("%s\n", what);
  for (gint64 i = 0; i < (M + y_row + 1) * N; i++)
    if (!(fabs (got[i] - want[i]) <= tol[i] + 1e-6))
      g_error ("%s: output %" G_GINT64_FORMAT " (row %" G_GINT64_FORMAT ") is %.8g, want %.8g (tolerance %.3g)",
          what, i, i / N, got[i], want[i], tol[i] + 1e-6);
  vtp_tensor_free (tx); vtp_tensor_free (tw); vtp_tensor_free (tb); vtp_tensor_free (ty);
  g_rand_free (r);
}

static void
run_case (gint64 M, gint64 K, gint64 N, gboolean with_bias, gboolean accumulate)
{
  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++) {
    const VtpDType t = qtypes[i];
    const gint64 k = K % vtp_dtype_block_elements (t) ? vtp_dtype_block_elements (t) * 2 : K;
    for (gint kind = W_PLAIN; kind <= W_PACKED; kind++)
      linear_case (t, M, k, N, kind, with_bias, accumulate);
  }
}

static void
test_linear (void)
{
  run_case (1, 512, 48, TRUE, FALSE);           /* decode: 3 panels */
  run_case (1, 256, 37, FALSE, TRUE);           /* 2 panels + 5 plain rows */
  run_case (1, 96, 5, TRUE, FALSE);             /* below one panel (K-quants: K 512) */
  for (gint64 m = 2; m <= 7; m++)
    run_case (m, 256, 32, m % 2 == 0, m % 3 == 0);
  run_case (13, 768, 40, TRUE, TRUE);           /* GEMM: 3 tiles, several 256-step blocks, tail */
  run_case (61, 256, 16, FALSE, FALSE);         /* 2 work-items of tiles */
  /* the int8 kernels (decode, a few rows, tiles) to the float tolerance */
  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++)
    for (gint64 m = 1; m <= 13; m += 6)
      linear_case (qtypes[i], m, 512, 48, W_PACKED_INT8_EXACT, TRUE, FALSE);
}

/* vtp_op_linear_rows / vtp_op_linear_multi_rows (batched decoding: each
 * row another stream's): every row of an M-row product (M = 2 .. 14: the
 * few-row kernels' tiles of exactly the rows left, 6 + 6 up to 12 rows,
 * then the int8 GEMM's) is what it gets alone in a one-row product (the
 * decode GEMV, the fused q | k | v), bit for bit, every type, and q | k |
 * v of mixed types (one launch of qgemm_vnni_few3 up to 12 rows, where the
 * types share x's int8 copy). That holds for the int8 products; the float
 * ones (VTP_QUANT_DOT=float, CPUs without VNNI) keep 4, 2 or 1 chains of
 * sums for tiles of 1, 2 or 3-4 rows (latency against registers), so there
 * a row is held to the float tolerance of /quant/linear (1e-5 x sum |x| x
 * max |w|) instead. */
static void
test_linear_rows (void)
{
  const gint64 K = 512, Ns[3] = { 48, 16, 32 }, MAXM = 14;
  /* each type for all three, then the mixes of llama-quantize's files
   * (Q4_K_M: v in Q6_K in some layers) and the two block families */
  VtpDType sets[G_N_ELEMENTS (qtypes) + 3][3] = {
    [G_N_ELEMENTS (qtypes)] = { VTP_DTYPE_Q4_K, VTP_DTYPE_Q4_K, VTP_DTYPE_Q6_K },
    [G_N_ELEMENTS (qtypes) + 1] = { VTP_DTYPE_Q8_0, VTP_DTYPE_Q4_K, VTP_DTYPE_Q4_0 },
    [G_N_ELEMENTS (qtypes) + 2] = { VTP_DTYPE_Q5_0, VTP_DTYPE_Q4_1, VTP_DTYPE_Q5_1 },
  };

  for (guint t = 0; t < G_N_ELEMENTS (qtypes); t++)
    sets[t][0] = sets[t][1] = sets[t][2] = qtypes[t];
  for (guint t = 0; t < G_N_ELEMENTS (sets); t++) {
    GRand *r = g_rand_new_with_seed (77 + t);
    g_autofree float *x = random_floats (r, MAXM * K, 1.0);
    g_autofree float *zeros = g_new0 (float, MAXM * 48);
    VtpTensor *tx = upload (x, MAXM, K), *tw[3], *tb, *ya[3], *yb[3];
    g_autofree float *b = random_floats (r, Ns[0], 1.0);
    g_autoptr (GError) error = NULL;
    g_autofree double *xabs = g_new0 (double, MAXM);
    double wmax[3] = { 0, 0, 0 };

    for (gint64 m = 0; m < MAXM; m++)
      for (gint64 k = 0; k < K; k++)
        xabs[m] += fabs (x[m * K + k]);
    tb = upload (b, 1, Ns[0]);
    for (gint i = 0; i < 3; i++) {
      g_autofree guint8 *q = random_weights (r, sets[t][i], Ns[i], K);
      g_autofree float *wf = g_new (float, Ns[i] * K);
      for (gint64 n = 0; n < Ns[i]; n++)
        vtp_dequantize_row (sets[t][i], q + n * vtp_dtype_row_bytes (sets[t][i], K), K, wf + n * K);
      for (gint64 j = 0; j < Ns[i] * K; j++)
        wmax[i] = MAX (wmax[i], fabs (wf[j]));
      tw[i] = vtp_linear_weight_new (dev, sets[t][i], Ns[i], K, q, &error);
      g_assert_no_error (error);
      ya[i] = upload (zeros, MAXM, Ns[i]);
      yb[i] = upload (zeros, MAXM, Ns[i]);
    }
    for (gint64 M = 1; M <= MAXM; M++) {
      VtpLinearOut outs[3], one[3];
      for (gint i = 0; i < 3; i++) {
        outs[i] = (VtpLinearOut) { ya[i], 0, tw[i], i == 0 ? tb : NULL };
        one[i] = (VtpLinearOut) { yb[i], 0, tw[i], i == 0 ? tb : NULL };
      }
      /* q | k | v of M rows against each row's own */
      vtp_op_linear_multi_rows (tx, 0, M, outs, 3);
      for (gint64 m = 0; m < M; m++) {
        for (gint i = 0; i < 3; i++)
          one[i].y_row = m;
        vtp_op_linear_multi (tx, m, 1, one, 3);
      }
      /* one product, accumulated */
      vtp_op_linear_rows (ya[0], 0, tx, 0, M, tw[0], tb, TRUE);
      for (gint64 m = 0; m < M; m++)
        vtp_op_linear (yb[0], m, tx, m, 1, tw[0], tb, TRUE);
      vtp_error_take_pending (&error);
      g_assert_no_error (error);
      for (gint i = 0; i < 3; i++) {
        g_autofree float *got = device_values (ya[i]), *want = device_values (yb[i]);
        char what[96];
        g_snprintf (what, sizeof what, "linear rows %s M=%" G_GINT64_FORMAT " output %d",
            vtp_dtype_name (sets[t][i]), M, i);
        if (vtp_linear_takes_int8 (tw[i])) {
          assert_same_bits (got, want, M * Ns[i], sizeof (float), what);
          continue;
        }
        for (gint64 j = 0; j < M * Ns[i]; j++)
          if (!(fabs ((double) got[j] - want[j]) <= 1e-5 * xabs[j / Ns[i]] * wmax[i]))
            g_error ("%s: element %" G_GINT64_FORMAT " is %.9g, alone %.9g (tolerance %.3g)", what, j, got[j],
                want[j], 1e-5 * xabs[j / Ns[i]] * wmax[i]);
      }
    }
    for (gint i = 0; i < 3; i++) {
      vtp_tensor_free (tw[i]); vtp_tensor_free (ya[i]); vtp_tensor_free (yb[i]);
    }
    vtp_tensor_free (tb);
    vtp_tensor_free (tx);
    g_rand_free (r);
  }
}

/* Products whose int8 copy of x outgrows the cache list their work-items
 * panel fastest (vtp-linear.c's PANEL_MAJOR_*): the same rows give the
 * same bits as in products small enough to list them tile group fastest
 * (1100 x 4096: 4.5 MB of int8 x, against pieces of 64 rows). */
static void
test_panel_major (void)
{
  const gint64 M = 1100, K = 4096, N = 32, PIECE = 64;

  for (guint t = 0; t < G_N_ELEMENTS (qtypes); t++) {
    GRand *r = g_rand_new_with_seed (91 + t);
    g_autofree float *x = random_floats (r, M * K, 1.0);
    g_autofree guint8 *q = random_weights (r, qtypes[t], N, K);
    g_autoptr (GError) error = NULL;
    VtpTensor *tx = upload (x, M, K), *tw = vtp_linear_weight_new (dev, qtypes[t], N, K, q, &error);

    g_assert_no_error (error);
    assert_same_as_pieces (tx, M, tw, PIECE, vtp_dtype_name (qtypes[t]));
    vtp_tensor_free (tw); vtp_tensor_free (tx);
    g_rand_free (r);
  }
}

/* quant-amx.cl: the int8 GEMM of Q8_0 weights through AMX tiles gives the
 * VNNI GEMM's outputs bit for bit (the same integer sums, scaled and added
 * in the same order), for row counts with 1, 2 and 3 AMX tiles of 16 a
 * work-item, VNNI tiles after them, panels and plain rows after them, a
 * bias and accumulation, and a product big enough to list its work-items
 * panel fastest. /quant/linear and /quant/panel-major hold it to the
 * reference as well. Skipped without AMX-INT8. */
static void
test_amx (void)
{
  const gint64 Ms[] = { 16, 37, 61, 100, 600 }, Ks[] = { 512, 512, 512, 512, 4096 }, N = 53;

  if (!dev->amx_int8) {
    g_test_skip ("the device has no AMX-INT8 (or Linux did not grant its tile state)");
    return;
  }
  for (guint i = 0; i < G_N_ELEMENTS (Ms); i++) {
    const gint64 M = Ms[i], K = Ks[i];
    GRand *r = g_rand_new_with_seed (313 + M);
    g_autofree float *x = random_floats (r, M * K, 1.0);
    g_autofree float *b = random_floats (r, N, 1.0);
    g_autofree float *y0 = random_floats (r, M * N, 1.0);
    g_autofree guint8 *q = random_weights (r, VTP_DTYPE_Q8_0, N, K);
    g_autoptr (GError) error = NULL;
    VtpTensor *tx = upload (x, M, K), *tb = upload (b, 1, N), *ya = upload (y0, M, N), *yv = upload (y0, M, N);
    VtpTensor *tw = vtp_linear_weight_new (dev, VTP_DTYPE_Q8_0, N, K, q, &error);
    const gboolean accumulate = i % 2 == 1;
    char what[96];

    g_assert_no_error (error);
    vtp_op_linear (ya, 0, tx, 0, M, tw, i < 2 ? tb : NULL, accumulate);
    dev->amx_int8 = FALSE;
    vtp_op_linear (yv, 0, tx, 0, M, tw, i < 2 ? tb : NULL, accumulate);
    dev->amx_int8 = TRUE;
    vtp_error_take_pending (&error);
    g_assert_no_error (error);
    {
      g_autofree float *got = device_values (ya), *want = device_values (yv);
      g_snprintf (what, sizeof what, "AMX GEMM q8_0 M=%" G_GINT64_FORMAT, M);
      assert_same_bits (got, want, M * N, sizeof (float), what);
    }
    vtp_tensor_free (tx); vtp_tensor_free (tb); vtp_tensor_free (ya); vtp_tensor_free (yv); vtp_tensor_free (tw);
    g_rand_free (r);
  }
}

static void
test_linear_as_gpu (void)
{
  g_setenv ("VTP_LINEAR_AS_GPU", "1", TRUE);
  run_case (1, 512, 48, TRUE, FALSE);
  run_case (3, 256, 37, FALSE, TRUE);
  run_case (9, 256, 20, TRUE, TRUE);            /* the tiled GEMM */
  run_case (70, 512, 70, TRUE, FALSE);
  g_unsetenv ("VTP_LINEAR_AS_GPU");
}

/* vtp_op_linear_multi: q | k | v (three products, one with a bias, outputs
 * at row offsets) and gate | up (two), every type, against the same
 * products one by one: bit for bit (the same arithmetic per output, one
 * launch or three); also where it falls back (a tail of 5 rows, 2 rows of
 * x), and over many rows (the int8 GEMM's copy of x made once for all). */
static void
multi_case_types (const VtpDType *ts, gint64 M, gint64 K, const gint64 *Ns, gint n_outs)
{
  GRand *r = g_rand_new_with_seed (K * 31 + Ns[0] * 7 + ts[0] + 3 * ts[n_outs - 1] + M * 101);
  g_autofree float *x = random_floats (r, (M + 1) * K, 1.0);
  VtpTensor *tx = upload (x, M + 1, K);
  VtpTensor *tw[3], *tb[3] = { NULL, NULL, NULL }, *ys[3], *yr[3];
  VtpLinearOut outs[3];
  g_autoptr (GError) error = NULL;

  for (gint i = 0; i < n_outs; i++) {
    const VtpDType t = ts[i];
    g_autofree guint8 *q = random_weights (r, t, Ns[i], K);
    g_autofree float *b = random_floats (r, Ns[i], 1.0);
    g_autofree float *zeros = g_new0 (float, (M + 3) * Ns[i]);
    tw[i] = vtp_linear_weight_new (dev, t, Ns[i], K, q, &error);
    g_assert_no_error (error);
    if (i == 1)
      tb[i] = upload (b, 1, Ns[i]);
    ys[i] = upload (zeros, M + 3, Ns[i]);
    yr[i] = upload (zeros, M + 3, Ns[i]);
    outs[i] = (VtpLinearOut) { ys[i], i + 1, tw[i], tb[i] };
    vtp_op_linear (yr[i], i + 1, tx, 1, M, tw[i], tb[i], FALSE);
  }
  vtp_op_linear_multi (tx, 1, M, outs, n_outs);
  vtp_error_take_pending (&error);
  g_assert_no_error (error);
  for (gint i = 0; i < n_outs; i++) {
    g_autofree float *got = device_values (ys[i]), *want = device_values (yr[i]);
    char what[96];
    g_snprintf (what, sizeof what, "linear_multi %s M=%" G_GINT64_FORMAT " output %d of %d", vtp_dtype_name (ts[i]),
        M, i, n_outs);
    assert_same_bits (got, want, (M + 3) * Ns[i], sizeof (float), what);
    vtp_tensor_free (tw[i]); vtp_tensor_free (tb[i]); vtp_tensor_free (ys[i]); vtp_tensor_free (yr[i]);
  }
  vtp_tensor_free (tx);
  g_rand_free (r);
}

static void
multi_case (VtpDType t, gint64 M, gint64 K, const gint64 *Ns, gint n_outs)
{
  const VtpDType ts[3] = { t, t, t };
  multi_case_types (ts, M, K, Ns, n_outs);
}

static void
test_linear_multi (void)
{
  /* weights of different types in one launch: llama.cpp's Q4_K_M keeps v (and some ffn_down) in Q6_K */
  const VtpDType mixed[][3] = {
    { VTP_DTYPE_Q4_K, VTP_DTYPE_Q4_K, VTP_DTYPE_Q6_K }, { VTP_DTYPE_Q8_0, VTP_DTYPE_Q4_0, VTP_DTYPE_Q5_K },
    /* the K-quant files of models whose rows are not whole super-blocks:
     * llama-quantize's fallbacks Q5_0 (for Q4_K), Q5_1 (Q5_K), Q8_0 (Q6_K) */
    { VTP_DTYPE_Q5_0, VTP_DTYPE_Q5_1, VTP_DTYPE_Q8_0 }, { VTP_DTYPE_Q4_1, VTP_DTYPE_Q5_0, VTP_DTYPE_Q4_0 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (mixed); i++) {
    multi_case_types (mixed[i], 1, 512, (const gint64[]) { 64, 16, 16 }, 3);
    multi_case_types (mixed[i], 37, 512, (const gint64[]) { 64, 16, 48 }, 3);
  }
  for (guint i = 0; i < G_N_ELEMENTS (qtypes); i++) {
    multi_case (qtypes[i], 1, 512, (const gint64[]) { 64, 16, 16 }, 3);   /* q | k | v */
    multi_case (qtypes[i], 1, 256, (const gint64[]) { 96, 96 }, 2);       /* gate | up */
    multi_case (qtypes[i], 1, 256, (const gint64[]) { 32, 21 }, 2);       /* a tail: one by one */
    multi_case (qtypes[i], 2, 256, (const gint64[]) { 32, 16, 48 }, 3);   /* two rows: one by one */
    multi_case (qtypes[i], 37, 512, (const gint64[]) { 64, 16, 48 }, 3);  /* prefill: one int8 copy of x */
    multi_case (qtypes[i], 9, 256, (const gint64[]) { 32, 21 }, 2);       /* ... with a tail */
  }
}

/* The bytes of weight tensor @t on the device. */
static guint8 *
weight_bytes (const VtpTensor *t)
{
  const gsize n = vtp_tensor_n_bytes (t);
  guint8 *b = g_malloc (n);

  g_assert_cmpint (clEnqueueReadBuffer (t->dev->queue, t->mem, CL_TRUE, 0, n, b, 0, NULL, NULL), ==, CL_SUCCESS);
  return b;
}

/* /quant/pack-shares: the cores pack a big weight's panels in shares
 * (vtp-linear.c, vtp_host_threads_run); 3 threads, whose shares split the
 * panels unevenly, give the bytes of 1 (which the products above check
 * against the references), for every packed type, float ones included.
 * The weights are random bytes: packing moves them without reading them. */
static void
test_pack_shares (void)
{
  const VtpDType floats[] = { VTP_DTYPE_F32, VTP_DTYPE_F16, VTP_DTYPE_BF16 };
  const gint64 K = 2048;
  GRand *r = g_rand_new_with_seed (404);

  for (guint t = 0; t < G_N_ELEMENTS (qtypes) + G_N_ELEMENTS (floats); t++) {
    const VtpDType dt = t < G_N_ELEMENTS (qtypes) ? qtypes[t] : floats[t - G_N_ELEMENTS (qtypes)];
    const gsize row = vtp_dtype_row_bytes (dt, K);
    /* over 3 MB of whole panels (3 shares of 1 MB or more), a panel count
     * that 3 does not divide, and 7 rows after the last panel */
    gint64 panels = (gint64) ((((gsize) 13 << 18) / row + 15) / 16);
    panels += panels % 3 == 0;
    const gint64 N = panels * 16 + 7;
    g_autofree guint8 *w = g_malloc ((gsize) N * row);
    g_autofree guint8 *one = NULL, *three = NULL;
    g_autoptr (GError) error = NULL;
    VtpTensor *t1, *t3;

    for (gsize i = 0; i < (gsize) N * row; i++)
      w[i] = (guint8) g_rand_int (r);
    g_setenv ("VTP_HOST_THREADS", "1", TRUE);
    t1 = vtp_linear_weight_new (dev, dt, N, K, w, &error);
    g_assert_no_error (error);
    g_setenv ("VTP_HOST_THREADS", "3", TRUE);
    t3 = vtp_linear_weight_new (dev, dt, N, K, w, &error);
    g_assert_no_error (error);
    g_unsetenv ("VTP_HOST_THREADS");
    g_assert_cmpuint (t1->layout, ==, 1);
    one = weight_bytes (t1);
    three = weight_bytes (t3);
    if (memcmp (one, three, (gsize) N * row) != 0) {
      gsize i = 0;
      while (one[i] == three[i])
        i++;
      g_error ("%s: packed by 3 threads, byte %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " (panel %" G_GSIZE_FORMAT
          ") differs from 1 thread's", vtp_dtype_name (dt), i, (gsize) N * row, i / (16 * row));
    }
    vtp_tensor_free (t1);
    vtp_tensor_free (t3);
  }
  g_rand_free (r);
}

/* A row length that is not whole blocks is refused, not read past. */
static void
test_bad_shape (void)
{
  g_autofree guint8 *q = g_malloc0 (vtp_dtype_row_bytes (VTP_DTYPE_Q8_0, 64) * 16);
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpTensor) w = vtp_linear_weight_new (dev, VTP_DTYPE_Q8_0, 16, 64, q, &error);
  g_autoptr (VtpTensor) x = NULL, y = NULL;
  float xs[48] = { 0 }, ys[16] = { 0 };

  g_assert_no_error (error);
  x = upload (xs, 1, 48);
  y = upload (ys, 1, 16);
  vtp_op_linear (y, 0, x, 0, 1, w, NULL, FALSE);
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "48"));
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;

  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("VTP_LINEAR_AS_GPU");
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  g_test_add_func ("/quant/reference", test_reference);
  g_test_add_func ("/quant/roundtrip", test_roundtrip);
  if (g_test_perf ())
    g_test_add_func ("/quant/speed", test_speed);
  g_test_add_func ("/quant/linear", test_linear);
  g_test_add_func ("/quant/linear-as-gpu", test_linear_as_gpu);
  g_test_add_func ("/quant/linear-multi", test_linear_multi);
  g_test_add_func ("/quant/linear-rows", test_linear_rows);
  g_test_add_func ("/quant/panel-major", test_panel_major);
  g_test_add_func ("/quant/amx", test_amx);
  g_test_add_func ("/quant/bad-shape", test_bad_shape);
  g_test_add_func ("/quant/pack-shares", test_pack_shares);
  return g_test_run ();
}
