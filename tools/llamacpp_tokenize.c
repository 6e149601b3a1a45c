/* llamacpp_tokenize.c: llama.cpp's own token ids for test strings, for
 * vtp's GGUF tokenizer fixtures (tools/make_bpe_split_fixtures.py builds it
 * against a llama.cpp build and runs it).
 *
 *   llamacpp_tokenize VOCAB.gguf STRINGS.inp > IDS.out
 *
 * STRINGS.inp holds the strings separated by "\n__ggml_vocab_test__\n"
 * (llama.cpp's test-tokenizer-0 format, the file ending with a separator);
 * each is tokenized as that test does (no BOS/EOS, special tokens not
 * parsed) and its ids printed on one line, each after a space. */
#include <llama.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
quiet (enum ggml_log_level level, const char *text, void *data)
{
  (void) data;
  if (level == GGML_LOG_LEVEL_ERROR)
    fputs (text, stderr);
}

static char *
read_all (const char *path, size_t *len)
{
  FILE *f = fopen (path, "rb");
  char *buf;
  long n;

  if (!f || fseek (f, 0, SEEK_END) || (n = ftell (f)) < 0 || fseek (f, 0, SEEK_SET))
    return NULL;
  buf = malloc ((size_t) n + 1);
  if (!buf || fread (buf, 1, (size_t) n, f) != (size_t) n)
    return NULL;
  fclose (f);
  buf[n] = 0;
  *len = (size_t) n;
  return buf;
}

int
main (int argc, char **argv)
{
  static const char sep[] = "\n__ggml_vocab_test__\n";
  struct llama_model_params mp;
  struct llama_model *model;
  const struct llama_vocab *vocab;
  size_t len, pos = 0;
  char *data;

  if (argc != 3) {
    fprintf (stderr, "usage: %s VOCAB.gguf STRINGS.inp\n", argv[0]);
    return 2;
  }
  llama_log_set (quiet, NULL);
  llama_backend_init ();
  mp = llama_model_default_params ();
  mp.vocab_only = true;
  if (!(model = llama_model_load_from_file (argv[1], mp))) {
    fprintf (stderr, "%s: cannot load\n", argv[1]);
    return 1;
  }
  vocab = llama_model_get_vocab (model);
  if (!(data = read_all (argv[2], &len))) {
    fprintf (stderr, "%s: cannot read\n", argv[2]);
    return 1;
  }
  while (pos < len) {
    char *next = strstr (data + pos, sep);
    size_t end = next ? (size_t) (next - data) : len, cap = end - pos + 16;
    llama_token *ids = malloc (cap * sizeof *ids);
    int n = llama_tokenize (vocab, data + pos, (int32_t) (end - pos), ids, (int32_t) cap, false, false);

    if (n < 0) {
      fprintf (stderr, "string at byte %zu: more than %zu tokens\n", pos, cap);
      return 1;
    }
    if (!next && end == pos)
      break;
    for (int i = 0; i < n; i++)
      printf (" %d", ids[i]);
    printf ("\n");
    free (ids);
    if (!next)
      break;
    pos = end + strlen (sep);
  }
  llama_model_free (model);
  llama_backend_free ();
  return 0;
}
