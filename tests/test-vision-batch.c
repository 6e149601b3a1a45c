/* test-vision-batch: several images through a vision tower at once
 * (vtp_vision_tower_forward_many) give each image the features a forward
 * of it alone gives, bit for bit: the products over all images' tokens
 * compute each row as the products over one image's tokens do, and
 * attention runs image by image. Checked on the tiny CLIPs (LLaVA's
 * penultimate layer without CLS; 26 and 17 tokens), the tiny EVA
 * (InstructBLIP's post-LayerNorm; 17 tokens) and the tiny CLIP with
 * LLaMA-Adapter's projection, with the weights as stored and converted at
 * load (F16, BF16, Q8_0: each its own GEMM path); the meson test
 * vision-batch-gpu-kernels runs the same with the GPU kernels
 * (VTP_LINEAR_AS_GPU). The engine (vtp-vision-batch.h): callers' pictures
 * queued while it is paused go as one batch, each with its alone features;
 * wrong tensors are refused alone. (Products of fewer than
 * 12 rows compute their last rows in another order, vtp-linear.c: a tower
 * of so few tokens, as the 10 of BLIP-2's test tower, would differ in the
 * last bits.) */
#include "fidelity-util.h"
#include "vtp-vision-batch.h"
#include "vtp-model-cache.h"

#define MAX_IMAGES 3

typedef struct {
  const char *fixture;
  VtpWeightType wtype;
} Case;

static VtpDevice *dev;

static void
test_same_as_alone (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) ckpt = NULL;
  g_autoptr (VtpVisionTower) tower = NULL;
  g_autoptr (VtpVisionState) alone = NULL, many = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (7);
  VtpModelParts parts;
  VtpVisionFeatures feats;
  VtpTensor *pixels[MAX_IMAGES], *want[MAX_IMAGES], *got[MAX_IMAGES];
  const char *prefix;
  gint rows, width;
  gsize n_pixels;

  ckpt = open_fixture (c->fixture, &parts);
  vtp_model_features (&parts, &feats);
  prefix = vtp_model_vision_prefix (ckpt, &parts, &error);
  g_assert_no_error (error);
  tower = vtp_vision_tower_load (ckpt, prefix, &parts.vision, &feats, dev, c->wtype, &error);
  g_assert_no_error (error);
  alone = vtp_vision_state_new (tower, &error);
  g_assert_no_error (error);
  many = vtp_vision_state_new_many (tower, MAX_IMAGES, &error);
  g_assert_no_error (error);
  g_assert_cmpint (many->n_images, ==, MAX_IMAGES);
  rows = vtp_vision_tower_feature_rows (tower);
  width = vtp_vision_tower_feature_width (tower);
  n_pixels = vtp_tensor_n_elements (alone->pixels);

  /* three different pictures (normalized pixel values of about unit size) */
  for (gint i = 0; i < MAX_IMAGES; i++) {
    g_autofree float *v = g_new (float, n_pixels);
    for (gsize j = 0; j < n_pixels; j++)
      v[j] = (float) g_rand_double_range (rng, -1.8, 2.1);
    pixels[i] = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, alone->pixels->shape, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_tensor_write (pixels[i], 0, v, n_pixels * sizeof (float), &error));
    want[i] = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
    got[i] = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
    g_assert_no_error (error);
    /* each alone, through the state's own pixels as the element runs it */
    g_assert_true (vtp_tensor_write (alone->pixels, 0, v, n_pixels * sizeof (float), &error));
    vtp_vision_tower_forward (tower, alone, want[i]);
    g_assert_true (vtp_error_take_pending (&error));
    g_assert_no_error (error);
  }

  /* all three at once, then two of them in the same state (fewer than it holds) */
  for (gint n = MAX_IMAGES; n >= 2; n--) {
    g_autofree float *zero = g_new0 (float, (gsize) rows * width);
    for (gint i = 0; i < n; i++)
      g_assert_true (vtp_tensor_write (got[i], 0, zero, (gsize) rows * width * sizeof (float), &error));
    vtp_vision_tower_forward_many (tower, many, pixels + (MAX_IMAGES - n), got, n);
    g_assert_true (vtp_error_take_pending (&error));
    g_assert_no_error (error);
    for (gint i = 0; i < n; i++) {
      g_autofree float *a = device_values (want[MAX_IMAGES - n + i]);
      g_autofree float *b = device_values (got[i]);
      gsize differ = 0;
      for (gsize j = 0; j < (gsize) rows * width; j++)
        differ += memcmp (&a[j], &b[j], sizeof (float)) != 0;
      if (differ)
        g_test_message ("%s: image %d of %d: %" G_GSIZE_FORMAT " of %d values differ (first: %g vs %g)", c->fixture,
            i, n, differ, rows * width, a[0], b[0]);
      g_assert_cmpuint (differ, ==, 0);
    }
  }

  /* more images than the state holds: an error, nothing run */
  vtp_vision_tower_forward_many (tower, alone, pixels, got, 2);
  g_assert_false (vtp_error_take_pending (&error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
  g_assert_nonnull (strstr (error->message, "2 images for a state made for 1 to 1"));

  for (gint i = 0; i < MAX_IMAGES; i++) {
    vtp_tensor_free (pixels[i]);
    vtp_tensor_free (want[i]);
    vtp_tensor_free (got[i]);
  }
  vtp_model_parts_clear (&parts);
}

/* The engine: one caller thread per picture, the engine paused until all
 * have queued, so that they go as one batch (and the first one alone
 * before, unpaused): each gets its alone features, and the stats say so. */
typedef struct {
  VtpVisionBatch *b;
  VtpTensor *pixels, *features;
  VtpVisionBatchStats stats;
  gboolean ok;
  GError *error;
} Caller;

static gpointer
caller_thread (gpointer data)
{
  Caller *c = data;
  c->ok = vtp_vision_batch_encode (c->b, c->pixels, c->features, &c->stats, &c->error);
  return NULL;
}

static void
test_engine (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (VtpCheckpoint) ckpt = NULL;
  g_autoptr (VtpVisionTower) tower = NULL;
  g_autoptr (VtpVisionState) alone = NULL;
  g_autoptr (GRand) rng = g_rand_new_with_seed (11);
  VtpVisionBatch *b, *b2;
  VtpModelParts parts;
  VtpVisionFeatures feats;
  Caller callers[4];
  GThread *threads[4];
  VtpTensor *want[4];
  const char *prefix;
  gint rows, width;
  gsize n_pixels;
  guint cached;

  ckpt = open_fixture ("llava-tiny-a", &parts);
  vtp_model_features (&parts, &feats);
  prefix = vtp_model_vision_prefix (ckpt, &parts, &error);
  g_assert_no_error (error);
  tower = vtp_vision_tower_load (ckpt, prefix, &parts.vision, &feats, dev, VTP_WEIGHTS_KEEP, &error);
  g_assert_no_error (error);
  alone = vtp_vision_state_new (tower, &error);
  g_assert_no_error (error);
  rows = vtp_vision_tower_feature_rows (tower);
  width = vtp_vision_tower_feature_width (tower);
  n_pixels = vtp_tensor_n_elements (alone->pixels);

  g_assert_null (vtp_vision_batch_acquire (tower, 0, &error));
  g_assert_error (error, VTP_ERROR, VTP_ERROR_CONFIG);
  g_clear_error (&error);
  cached = vtp_model_cache_size ();
  b = vtp_vision_batch_acquire (tower, 2, &error);
  g_assert_no_error (error);
  /* a second user asking for more: the same engine, grown */
  b2 = vtp_vision_batch_acquire (tower, 3, &error);
  g_assert_no_error (error);
  g_assert_true (b == b2);
  g_assert_cmpint (vtp_vision_batch_max_images (b), ==, 3);
  g_assert_cmpuint (vtp_model_cache_size (), ==, cached + 1);

  for (gint i = 0; i < 4; i++) {
    g_autofree float *v = g_new (float, n_pixels);
    for (gsize j = 0; j < n_pixels; j++)
      v[j] = (float) g_rand_double_range (rng, -1.8, 2.1);
    callers[i] = (Caller) { b, vtp_tensor_new (dev, VTP_DTYPE_F32, 3, alone->pixels->shape, &error),
      vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error) };
    want[i] = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
    g_assert_no_error (error);
    g_assert_true (vtp_tensor_write (callers[i].pixels, 0, v, n_pixels * sizeof (float), &error));
    g_assert_true (vtp_tensor_write (alone->pixels, 0, v, n_pixels * sizeof (float), &error));
    vtp_vision_tower_forward (tower, alone, want[i]);
    g_assert_true (vtp_error_take_pending (&error));
  }

  /* picture 0 alone, then 1..3 queued while paused: one batch of 3 */
  caller_thread (&callers[0]);
  g_assert_true (callers[0].ok);
  g_assert_cmpint (callers[0].stats.images, ==, 1);
  vtp_vision_batch_set_paused (b, TRUE);
  for (gint i = 1; i < 4; i++)
    threads[i] = g_thread_new ("caller", caller_thread, &callers[i]);
  while (vtp_vision_batch_queued (b) < 3)
    g_usleep (1000);
  vtp_vision_batch_set_paused (b, FALSE);
  for (gint i = 1; i < 4; i++)
    g_thread_join (threads[i]);
  for (gint i = 0; i < 4; i++) {
    g_autofree float *a = device_values (want[i]);
    g_autofree float *f = device_values (callers[i].features);
    g_assert_no_error (callers[i].error);
    g_assert_true (callers[i].ok);
    if (i > 0)
      g_assert_cmpint (callers[i].stats.images, ==, 3);
    g_assert_cmpint (memcmp (a, f, (gsize) rows * width * sizeof (float)), ==, 0);
    vtp_tensor_free (callers[i].pixels);
    vtp_tensor_free (callers[i].features);
    vtp_tensor_free (want[i]);
  }

  /* a picture or an output of the wrong size is refused with an error
   * naming what the tower takes (alone: it does not fail a batch), and the
   * engine goes on */
  {
    g_autoptr (VtpTensor) small = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, 2, 2, &error);
    g_autoptr (VtpTensor) out = vtp_tensor_new_2d (dev, VTP_DTYPE_F32, rows, width, &error);
    g_autoptr (VtpTensor) px = vtp_tensor_new (dev, VTP_DTYPE_F32, 3, alone->pixels->shape, &error);
    g_autofree float *zero = g_new0 (float, n_pixels);
    g_assert_no_error (error);
    g_assert_false (vtp_vision_batch_encode (b, small, out, NULL, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, "takes [3, 30, 30] F32"));
    g_clear_error (&error);
    g_assert_false (vtp_vision_batch_encode (b, px, small, NULL, &error));
    g_assert_error (error, VTP_ERROR, VTP_ERROR_INPUT);
    g_assert_nonnull (strstr (error->message, "gives [25, 32] F32"));
    g_clear_error (&error);
    g_assert_true (vtp_tensor_write (px, 0, zero, n_pixels * sizeof (float), &error));
    g_assert_true (vtp_vision_batch_encode (b, px, out, NULL, &error));
    g_assert_no_error (error);
  }

  vtp_vision_batch_release (b2);
  g_assert_cmpuint (vtp_model_cache_size (), ==, cached + 1);
  vtp_vision_batch_release (b);
  g_assert_cmpuint (vtp_model_cache_size (), ==, cached);
  vtp_model_parts_clear (&parts);
}

int
main (int argc, char **argv)
{
  static const Case cases[] = {
    { "llava-tiny-a", VTP_WEIGHTS_KEEP }, { "llava-tiny-a", VTP_WEIGHTS_F16 }, { "llava-tiny-a", VTP_WEIGHTS_BF16 },
    { "llava-tiny-a", VTP_WEIGHTS_Q8_0 },
    { "llava-tiny-b", VTP_WEIGHTS_KEEP },
    { "instructblip-tiny", VTP_WEIGHTS_KEEP }, { "instructblip-tiny", VTP_WEIGHTS_F16 },
    { "instructblip-tiny", VTP_WEIGHTS_Q8_0 },
    { "adapter-tiny/clip", VTP_WEIGHTS_KEEP }, { "adapter-tiny/clip", VTP_WEIGHTS_Q8_0 },
  };
  static const char *const type_names[] = { "keep", "f32", "f16", "q8_0", "q4_0", "q4_k", "q5_k", "q6_k", "bf16" };
  g_autoptr (GError) error = NULL;
  int ret;

  g_test_init (&argc, &argv, NULL);
  dev = vtp_device_get (NULL, &error);
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autofree char *path = g_strdup_printf ("/vision-batch/same-as-alone/%s/%s", cases[i].fixture,
        type_names[cases[i].wtype]);
    g_test_add_data_func (path, &cases[i], test_same_as_alone);
  }
  g_test_add_func ("/vision-batch/engine", test_engine);
  ret = g_test_run ();
  vtp_device_unref (dev);
  return ret;
}
