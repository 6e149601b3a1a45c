/* quant_reference.c: llama.cpp's own quantization of float32 rows to the
 * K-quants and the IQ4 types, the reference for vtp's quantizers
 * (tools/make_quant_fixtures.py builds it against a llama.cpp build and
 * runs it; not part of vtp's build).
 *
 *   quant_reference TYPE N_PER_ROW IN.f32 OUT.blocks
 *
 * TYPE is q2_k, q3_k, q4_k, q5_k, q6_k, iq4_nl or iq4_xs; IN holds whole
 * rows of N_PER_ROW little-endian floats. The blocks come from
 * ggml_quantize_chunk with no importance matrix, the call llama-quantize
 * makes for each chunk of rows (for the K-quants it ends in ggml's
 * quantize_row_q*_K_ref; for the IQ4 types in quantize_iq4_nl /
 * quantize_iq4_xs, whose scale search differs from their _ref functions'). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ggml.h"

static void *
read_all (const char *path, long *len)
{
  FILE *f = fopen (path, "rb");
  void *data;

  if (!f || fseek (f, 0, SEEK_END) != 0 || (*len = ftell (f)) < 0 || fseek (f, 0, SEEK_SET) != 0) {
    perror (path);
    exit (1);
  }
  data = malloc (*len ? *len : 1);
  if (fread (data, 1, *len, f) != (size_t) *len) {
    perror (path);
    exit (1);
  }
  fclose (f);
  return data;
}

int
main (int argc, char **argv)
{
  static const struct { const char *name; enum ggml_type type; } types[] = {
    { "q4_k", GGML_TYPE_Q4_K }, { "q5_k", GGML_TYPE_Q5_K }, { "q6_k", GGML_TYPE_Q6_K },
    { "q3_k", GGML_TYPE_Q3_K }, { "q2_k", GGML_TYPE_Q2_K }, { "iq4_nl", GGML_TYPE_IQ4_NL },
    { "iq4_xs", GGML_TYPE_IQ4_XS },
  };
  enum ggml_type type = GGML_TYPE_COUNT;
  long len, n_per_row;
  int64_t rows;
  float *x;
  void *out;
  size_t size;
  FILE *f;

  if (argc != 5) {
    fprintf (stderr, "usage: %s q2_k|q3_k|q4_k|q5_k|q6_k|iq4_nl|iq4_xs N_PER_ROW IN.f32 OUT.blocks\n", argv[0]);
    return 2;
  }
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (strcmp (argv[1], types[i].name) == 0)
      type = types[i].type;
  n_per_row = strtol (argv[2], NULL, 10);
  if (type == GGML_TYPE_COUNT || n_per_row <= 0 || n_per_row % ggml_blck_size (type) != 0) {
    fprintf (stderr, "bad type %s or row length %s\n", argv[1], argv[2]);
    return 2;
  }
  x = read_all (argv[3], &len);
  if (len % (n_per_row * (long) sizeof (float)) != 0) {
    fprintf (stderr, "%s: %ld bytes is not whole rows of %ld floats\n", argv[3], len, n_per_row);
    return 1;
  }
  rows = len / (n_per_row * (long) sizeof (float));
  out = malloc (ggml_row_size (type, n_per_row) * rows);
  size = ggml_quantize_chunk (type, x, out, 0, rows, n_per_row, NULL);
  f = fopen (argv[4], "wb");
  if (!f || fwrite (out, 1, size, f) != size || fclose (f) != 0) {
    perror (argv[4]);
    return 1;
  }
  free (out);
  free (x);
  return 0;
}
