/* vtp-tok-added.c: the added vocabulary (tokenizers' AddedVocabulary):
 * tokens matched literally, leftmost-longest, before the model sees the
 * text; those that are not "normalized" in the raw text, the others in the
 * normalized text, with the lstrip / rstrip / single_word rules. */
#include "vtp-tok-private.h"
#include <string.h>

void
tok_added_token_free (gpointer p)
{
  TokAddedToken *t = p;
  g_free (t->content);
  g_free (t->normed);
  g_free (t);
}

void
tok_matcher_clear (TokMatcher *m)
{
  for (guint i = 0; i < m->n; i++)
    g_free (m->pats[i].pat);
  g_free (m->pats);
  memset (m, 0, sizeof *m);
}

static int
pattern_cmp (gconstpointer pa, gconstpointer pb)
{
  const TokPattern *a = pa, *b = pb;
  guchar fa = (guchar) a->pat[0], fb = (guchar) b->pat[0];
  if (fa != fb)
    return fa < fb ? -1 : 1;
  if (a->len != b->len)
    return a->len > b->len ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static void
matcher_build (TokMatcher *m, GArray *pats)
{
  guint k = 0;
  tok_matcher_clear (m);
  g_array_sort (pats, pattern_cmp);
  m->n = pats->len;
  m->pats = (TokPattern *) g_array_free (pats, FALSE);
  for (guint b = 0; b < 256; b++) {
    m->start[b] = k;
    while (k < m->n && (guchar) m->pats[k].pat[0] == b)
      k++;
  }
  m->start[256] = m->n;
}

void
tok_added_refresh (VtpTokenizer *tok)
{
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (TokPattern));
  GArray *nrm = g_array_new (FALSE, FALSE, sizeof (TokPattern));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, tok->added_r);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const TokAddedToken *t = v;
    TokPattern p;
    p.id = GPOINTER_TO_INT (k);
    p.pat = g_strdup (t->normalized && t->normed ? t->normed : t->content);
    p.len = strlen (p.pat);
    if (p.len == 0) {       /* a token that normalizes to nothing never matches */
      g_free (p.pat);
      continue;
    }
    g_array_append_val (t->normalized ? nrm : raw, p);
  }
  matcher_build (&tok->raw_m, raw);
  matcher_build (&tok->norm_m, nrm);
}

gint32
tok_added_add (VtpTokenizer *tok, const char *content, gboolean special, gboolean normalized, gboolean lstrip,
    gboolean rstrip, gboolean single_word)
{
  gpointer v;
  gint32 id;
  TokAddedToken *t;

  if (!content || !*content)
    return -1;
  if (g_hash_table_lookup_extended (tok->added_map, content, NULL, &v)) {
    const TokAddedToken *old = g_hash_table_lookup (tok->added_r, v);
    if (old && strcmp (old->content, content) == 0 && old->special == special && old->normalized == normalized
        && old->lstrip == lstrip && old->rstrip == rstrip && old->single_word == single_word)
      return GPOINTER_TO_INT (v);          /* the very same token: ignored */
    id = GPOINTER_TO_INT (v);
  } else if (!tok_vocab_get (tok, content, &id)) {
    /* the next free id, as AddedVocabulary::add_tokens computes it (adding
     * one at a time gives the same ids as adding a list at once) */
    gint64 max = tok->max_added_id;
    if (max < 0)
      id = tok->n_vocab;
    else if (max >= (gint64) tok->n_vocab || tok->n_vocab == 0)
      id = (gint32) max + 1;
    else
      id = tok->n_vocab;
  }

  t = g_new0 (TokAddedToken, 1);
  t->content = g_strdup (content);
  t->special = special;
  t->normalized = normalized;
  t->lstrip = lstrip;
  t->rstrip = rstrip;
  t->single_word = single_word;
  if (normalized && tok->has_normalizer) {
    char *normed = tok_normalize_string (tok, content, strlen (content));
    if (strcmp (normed, content) != 0)
      t->normed = normed;
    else
      g_free (normed);
  }
  g_hash_table_replace (tok->added_map, g_strdup (content), GINT_TO_POINTER (id));
  if (special && !g_hash_table_contains (tok->special_set, content))
    g_hash_table_add (tok->special_set, g_strdup (content));
  g_hash_table_replace (tok->added_r, GINT_TO_POINTER (id), t);
  tok->max_added_id = MAX (tok->max_added_id, id);
  if (!tok->loading)
    tok_added_refresh (tok);
  return id;
}

/* AddedVocabulary::find_matches on @s[0..n): the spans between matches
 * (id -1) and the matches */
void
tok_added_find (const VtpTokenizer *tok, const TokMatcher *m, const char *s, gsize n, GArray *splits)
{
  gsize start_offset = 0, i = 0;
  TokSplit sp;

  g_array_set_size (splits, 0);
  if (n == 0)
    return;
  if (m->n == 0) {
    sp.start = 0; sp.end = n; sp.id = -1;
    g_array_append_val (splits, sp);
    return;
  }
  while (i < n) {
    guchar b = (guchar) s[i];
    const TokPattern *best = NULL;
    for (guint k = m->start[b]; k < m->start[b + 1]; k++) {
      const TokPattern *p = &m->pats[k];
      if (p->len <= n - i && memcmp (s + i, p->pat, p->len) == 0) {
        best = p;
        break;
      }
    }
    if (!best) {
      i++;
      continue;
    }
    gsize start = i, stop = i + best->len;
    const TokAddedToken *t = g_hash_table_lookup (tok->added_r, GINT_TO_POINTER (best->id));
    i = stop;   /* the automaton goes on after this match, used or not */
    if (t->single_word) {
      gboolean start_space = start == 0 || !tok_is_word_char (g_utf8_get_char (g_utf8_prev_char (s + start)));
      gboolean stop_space = stop == n || !tok_is_word_char (g_utf8_get_char (s + stop));
      if (!start_space || !stop_space)
        continue;
    }
    if (t->lstrip) {
      gsize ns = start;
      while (ns > 0) {
        const char *p = g_utf8_prev_char (s + ns);
        if (!tok_is_white_space (g_utf8_get_char (p)))
          break;
        ns = p - s;
      }
      start = MAX (ns, start_offset);
    }
    if (t->rstrip) {
      while (stop < n && tok_is_white_space (g_utf8_get_char (s + stop)))
        stop += tok_utf8_char_len ((guchar) s[stop]);
    }
    if (start_offset < start) {
      sp.start = start_offset; sp.end = start; sp.id = -1;
      g_array_append_val (splits, sp);
    }
    sp.start = start; sp.end = stop; sp.id = best->id;
    g_array_append_val (splits, sp);
    start_offset = stop;
  }
  if (start_offset != n) {
    sp.start = start_offset; sp.end = n; sp.id = -1;
    g_array_append_val (splits, sp);
  }
}
