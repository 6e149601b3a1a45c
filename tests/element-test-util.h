/* element-test-util.h: what the element tests (test-elements, test-fault,
 * test-textin) share: a fixture's reference tensors as buffers, a float
 * buffer's distance to one, a text buffer as a string. Header-only. */
#pragma once
#include <gst/gst.h>
#include <math.h>
#include "fixture-path.h"
#include "vtp-safetensors.h"

/* @fixture's reference.safetensors (transformers' tensors). */
static G_GNUC_UNUSED VtpSafetensors *
open_reference (const char *fixture)
{
  g_autofree char *dir = fixture_path (fixture);
  g_autofree char *path = g_build_filename (dir, "reference.safetensors", NULL);
  g_autoptr (GError) error = NULL;
  VtpSafetensors *st = vtp_safetensors_open (path, &error);
  g_assert_no_error (error);
  return st;
}

static G_GNUC_UNUSED GstBuffer *
buffer_from (const VtpStTensor *t)
{
  return gst_buffer_new_memdup (t->data, t->n_bytes);
}

/* Largest absolute difference between the floats of @buf and @want (which
 * must have the same size). */
static G_GNUC_UNUSED double
max_error (GstBuffer *buf, const VtpStTensor *want)
{
  GstMapInfo map;
  double worst = 0;

  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  g_assert_cmpuint (map.size, ==, want->n_bytes);
  for (gsize i = 0; i < map.size / 4; i++)
    worst = MAX (worst, fabs (((const float *) map.data)[i] - ((const float *) want->data)[i]));
  gst_buffer_unmap (buf, &map);
  return worst;
}

/* The text @buf holds ("" for an empty buffer). */
static G_GNUC_UNUSED char *
buffer_text (GstBuffer *buf)
{
  GstMapInfo map;
  char *s;

  g_assert_true (gst_buffer_map (buf, &map, GST_MAP_READ));
  s = map.size ? g_strndup ((const char *) map.data, map.size) : g_strdup ("");
  gst_buffer_unmap (buf, &map);
  return s;
}
