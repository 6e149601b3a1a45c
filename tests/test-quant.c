/* test-quant.c: llama.cpp's block-quantized weight types.
 *  - /quant/reference: the host quantizers (Q8_0, Q4_0) and dequantizers
 *    (all five types) give bit for bit what the gguf package's quants module
 *    gives (tests/fixtures/quant, made by tools/make_quant_fixtures.py).
 *  - /quant/linear, /quant/linear-as-gpu: vtp_op_linear with quantized
 *    weights (panels packed by vtp_linear_weight_new, plain ggml rows, and
 *    the GPU kernels on this device) against a double loop over the host
 *    dequantization: decode GEMV (1..4 rows), GEMM, row offsets, bias,
 *    accumulation, N not a multiple of 16. Tolerance per output: 1e-5 x
 *    sum_k |x_k| x max_k |w_nk| (float accumulation; any kernel bug is an
 *    error of the order of the output itself). */
#include <json-glib/json-glib.h>
#include "test-util.h"
#include "fixture-path.h"
#include "vtp-linear.h"
#include "vtp-quant.h"

static const VtpDType qtypes[] = {
  VTP_DTYPE_Q8_0, VTP_DTYPE_Q4_0, VTP_DTYPE_Q4_K, VTP_DTYPE_Q5_K, VTP_DTYPE_Q6_K,
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

static void
test_reference (void)
{
  g_autofree char *dir = fixture_path ("quant");
  g_autofree char *manifest = g_build_filename (dir, "manifest.json", NULL);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  JsonArray *cases;

  json_parser_load_from_file (parser, manifest, &error);
  g_assert_no_error (error);
  cases = json_node_get_array (json_parser_get_root (parser));
  g_assert_cmpuint (json_array_get_length (cases), ==, G_N_ELEMENTS (qtypes));
  for (guint c = 0; c < json_array_get_length (cases); c++) {
    JsonObject *o = json_array_get_object_element (cases, c);
    const VtpDType t = type_from_name (json_object_get_string_member (o, "type"));
    const gint64 rows = json_object_get_int_member (o, "rows"), cols = json_object_get_int_member (o, "cols");
    const gsize row_bytes = vtp_dtype_row_bytes (t, cols), n = rows * cols;
    g_autofree guint8 *blocks = read_fixture (dir, json_object_get_string_member (o, "blocks"), rows * row_bytes);
    g_autofree float *want = (float *) read_fixture (dir, json_object_get_string_member (o, "dequant"), n * 4);
    g_autofree float *got = g_new (float, n);
    char what[64];

    for (gint64 r = 0; r < rows; r++)
      vtp_dequantize_row (t, blocks + r * row_bytes, cols, got + r * cols);
    g_snprintf (what, sizeof what, "%s dequantization", vtp_dtype_name (t));
    assert_same_bits (got, want, n, 4, what);
    if (json_object_has_member (o, "input")) {
      g_autofree float *x = (float *) read_fixture (dir, json_object_get_string_member (o, "input"), n * 4);
      g_autofree guint8 *q = g_malloc (rows * row_bytes);
      g_assert_true (vtp_quant_can_quantize (t));
      for (gint64 r = 0; r < rows; r++)
        g_assert_true (vtp_quantize_row (t, x + r * cols, cols, q + r * row_bytes));
      g_snprintf (what, sizeof what, "%s quantization", vtp_dtype_name (t));
      assert_same_bits (q, blocks, rows * row_bytes, 1, what);
    } else {
      g_assert_false (vtp_quant_can_quantize (t));
    }
    if (g_test_verbose ())
      g_printerr ("%s: %" G_GSIZE_FORMAT " values bit-identical to the gguf package\n", vtp_dtype_name (t), n);
  }
}

/* Weights [n, k] of @t: quantized from random floats where vtp has the
 * quantizer, else random blocks with small finite f16 scales. */
static guint8 *
random_weights (GRand *r, VtpDType t, gint64 n, gint64 k)
{
  const gsize row_bytes = vtp_dtype_row_bytes (t, k), bb = vtp_dtype_block_bytes (t);
  guint8 *q = g_malloc (n * row_bytes);

  if (vtp_quant_can_quantize (t)) {
    g_autofree float *w = random_floats (r, n * k, 0.5);
    for (gint64 i = 0; i < n; i++)
      vtp_quantize_row (t, w + i * k, k, q + i * row_bytes);
    return q;
  }
  for (gsize i = 0; i < n * row_bytes; i++)
    q[i] = g_rand_int_range (r, 0, 256);
  for (gsize b = 0; b < n * row_bytes / bb; b++) {
    guint8 *blk = q + b * bb;
    const gsize d_at = t == VTP_DTYPE_Q6_K ? 208 : 0;
    for (gint h = 0; h < (t == VTP_DTYPE_Q6_K ? 1 : 2); h++) {
      const guint16 v = vtp_f32_to_f16 (g_rand_double_range (r, -0.01, 0.01));
      memcpy (blk + d_at + 2 * h, &v, 2);
    }
  }
  return q;
}

typedef enum { W_PLAIN, W_PACKED } WeightKind;

static void
linear_case (VtpDType t, gint64 M, gint64 K, gint64 N, WeightKind kind, gboolean with_bias, gboolean accumulate)
{
  GRand *r = g_rand_new_with_seed (M * 1000003 + K * 101 + N * 7 + t * 3 + kind);
  const gint64 x_row = 1, y_row = 2;
  const gsize row_bytes = vtp_dtype_row_bytes (t, K);
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
  char what[160];

  for (gint64 n = 0; n < N; n++)
    vtp_dequantize_row (t, q + n * row_bytes, K, w + n * K);
  tw = kind == W_PACKED ? vtp_linear_weight_new (dev, t, N, K, q, &error)
      : vtp_tensor_new_from_data (dev, t, 2, shape, q, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vtp_tensor_n_bytes (tw), ==, N * row_bytes);

  for (gint64 i = 0; i < (M + y_row + 1) * N; i++)
    want[i] = y0[i];
  for (gint64 m = 0; m < M; m++)
    for (gint64 n = 0; n < N; n++) {
      double s = with_bias ? b[n] : 0, ax = 0, wmax = 0;
      for (gint64 k = 0; k < K; k++) {
        s += (double) x[(m + x_row) * K + k] * w[n * K + k];
        ax += fabs (x[(m + x_row) * K + k]);
        wmax = MAX (wmax, fabs (w[n * K + k]));
      }
      want[(m + y_row) * N + n] = accumulate ? want[(m + y_row) * N + n] + s : s;
      tol[(m + y_row) * N + n] = 1e-5 * ax * wmax;
    }
  vtp_op_linear (ty, y_row, tx, x_row, M, tw, with_bias ? tb : NULL, accumulate);
  vtp_error_take_pending (&error);
  g_assert_no_error (error);
  got = device_values (ty);
  g_snprintf (what, sizeof what, "linear %s M=%" G_GINT64_FORMAT " K=%" G_GINT64_FORMAT " N=%" G_GINT64_FORMAT
      " %s layout %u%s%s%s", vtp_dtype_name (t), M, K, N, kind == W_PLAIN ? "plain" : "packed", tw->layout,
      with_bias ? " bias" : "", accumulate ? " accumulate" : "", g_getenv ("VTP_LINEAR_AS_GPU") ? " as-gpu" : "");
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
  g_test_add_func ("/quant/linear", test_linear);
  g_test_add_func ("/quant/linear-as-gpu", test_linear_as_gpu);
  g_test_add_func ("/quant/bad-shape", test_bad_shape);
  return g_test_run ();
}
