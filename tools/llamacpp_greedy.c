/* llamacpp_greedy.c: llama.cpp's own greedy continuation of a prompt, as
 * JSON, for vtp's GGUF fidelity fixtures (tools/make_gguf_model_fixtures.py
 * builds it against a llama.cpp build and runs it).
 *
 *   llamacpp_greedy MODEL.gguf N_PREDICT PROMPT
 *
 * The prompt is tokenized as llama-simple does (special tokens added and
 * parsed), evaluated in one batch, then N_PREDICT tokens are taken by argmax
 * one at a time with llama.cpp's default context settings (those of
 * llama-simple and llama-cli). Printed: the prompt ids, the generated ids,
 * each step's margin between the best and the second logit (how close a
 * step was to a tie), and the logits of the prompt's last position. */
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

int
main (int argc, char **argv)
{
  if (argc != 4) {
    fprintf (stderr, "usage: %s MODEL.gguf N_PREDICT PROMPT\n", argv[0]);
    return 2;
  }
  const char *prompt = argv[3];
  const int n_predict = atoi (argv[2]);

  llama_log_set (quiet, NULL);
  llama_backend_init ();
  struct llama_model *model = llama_model_load_from_file (argv[1], llama_model_default_params ());
  if (!model) {
    fprintf (stderr, "cannot load %s\n", argv[1]);
    return 1;
  }
  const struct llama_vocab *vocab = llama_model_get_vocab (model);
  const int n_vocab = llama_vocab_n_tokens (vocab);
  const int n_prompt = -llama_tokenize (vocab, prompt, (int) strlen (prompt), NULL, 0, true, true);
  llama_token *ids = malloc (sizeof (llama_token) * (n_prompt + n_predict));
  llama_tokenize (vocab, prompt, (int) strlen (prompt), ids, n_prompt, true, true);

  struct llama_context_params cp = llama_context_default_params ();
  cp.n_ctx = n_prompt + n_predict;
  cp.n_batch = n_prompt;
  struct llama_context *ctx = llama_init_from_model (model, cp);
  if (!ctx) {
    fprintf (stderr, "cannot create a context\n");
    return 1;
  }

  printf ("{\n  \"prompt\": \"%s\",\n  \"prompt_ids\": [", prompt);
  for (int i = 0; i < n_prompt; i++)
    printf ("%s%d", i ? ", " : "", ids[i]);
  printf ("],\n");

  float *first = malloc (sizeof (float) * n_vocab);
  float *margins = malloc (sizeof (float) * n_predict);
  int n = n_prompt, fed = 0;
  for (int step = 0; step < n_predict; step++) {
    if (llama_decode (ctx, llama_batch_get_one (ids + fed, n - fed))) {
      fprintf (stderr, "llama_decode failed at step %d\n", step);
      return 1;
    }
    fed = n;
    const float *logits = llama_get_logits_ith (ctx, -1);
    int best = 0, second = -1;
    for (int v = 1; v < n_vocab; v++) {
      if (logits[v] > logits[best]) {
        second = best;
        best = v;
      } else if (second < 0 || logits[v] > logits[second])
        second = v;
    }
    if (step == 0)
      memcpy (first, logits, sizeof (float) * n_vocab);
    margins[step] = logits[best] - logits[second];
    ids[n++] = best;
  }

  printf ("  \"greedy_ids\": [");
  for (int i = n_prompt; i < n; i++)
    printf ("%s%d", i > n_prompt ? ", " : "", ids[i]);
  printf ("],\n  \"margins\": [");
  for (int i = 0; i < n_predict; i++)
    printf ("%s%.6g", i ? ", " : "", margins[i]);
  printf ("],\n  \"first_logits\": [");
  for (int v = 0; v < n_vocab; v++)
    printf ("%s%.9g", v ? ", " : "", first[v]);
  printf ("]\n}\n");

  llama_free (ctx);
  llama_model_free (model);
  llama_backend_free ();
  free (ids);
  free (first);
  free (margins);
  return 0;
}
