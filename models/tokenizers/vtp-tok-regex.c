/* vtp-tok-regex.c: the regular expressions Replace normalizers carry in
 * the tokenizer.json files vtp reads, matched as tokenizers' Oniguruma
 * does (leftmost match, alternatives tried in order, greedy quantifiers
 * that back off). transformers' SentencePiece converters write
 * " {2,}", "\A +| +\z" and "\A▁"; the subset is what such patterns need:
 *   a literal char, or an escaped one (\. \+ \\ ...), \t \n \r
 *   a quantifier after it: {n,} {n,m} {n} + * ?
 *   \A (start of text), \z (end), ^ / $ (start / end of a line, Ruby's)
 *   alternatives with | at the top level.
 * Anything else (classes, groups, \s, \d, lazy quantifiers) is refused at
 * load with the pattern named, and so is a pattern that can match the
 * empty string or has two variable-length items in one alternative (which
 * a hostile file could make backtrack for ever). */
#include "vtp-tok-private.h"
#include <string.h>

typedef enum { ITEM_CHAR, ITEM_TEXT_START, ITEM_TEXT_END, ITEM_LINE_START, ITEM_LINE_END } ItemKind;

typedef struct {
  ItemKind kind;
  gunichar ch;
  guint min, max;         /* repetitions of a char; max G_MAXUINT: unbounded */
} Item;

struct _TokRegex {
  GArray *alts;           /* GArray of Item per alternative */
};

void
tok_regex_free (TokRegex *re)
{
  if (!re)
    return;
  for (guint i = 0; i < re->alts->len; i++)
    g_array_unref (g_array_index (re->alts, GArray *, i));
  g_array_unref (re->alts);
  g_free (re);
}

/* A decimal number at *@p (advanced) */
static gboolean
read_count (const char **p, guint *out)
{
  guint64 v = 0;
  if (!g_ascii_isdigit (**p))
    return FALSE;
  while (g_ascii_isdigit (**p) && v < 100000)
    v = v * 10 + (*(*p)++ - '0');
  *out = (guint) v;
  return v < 100000;
}

/* A quantifier at *@p for @it, if one */
static gboolean
read_quantifier (const char **p, Item *it)
{
  it->min = it->max = 1;
  switch (**p) {
    case '+': it->max = G_MAXUINT; break;
    case '*': it->min = 0; it->max = G_MAXUINT; break;
    case '?': it->min = 0; break;
    case '{':
      (*p)++;
      if (!read_count (p, &it->min))
        return FALSE;
      if (**p == ',') {
        (*p)++;
        it->max = G_MAXUINT;
        if (**p != '}' && !read_count (p, &it->max))
          return FALSE;
      } else {
        it->max = it->min;
      }
      if (**p != '}' || it->max < it->min)
        return FALSE;
      break;
    default:
      return TRUE;
  }
  (*p)++;
  /* a lazy or possessive quantifier is not in the subset */
  return **p != '?' && **p != '+';
}

/* One item at *@p (advanced) */
static gboolean
read_item (const char **p, Item *it)
{
  memset (it, 0, sizeof *it);
  it->kind = ITEM_CHAR;
  if (**p == '\\') {
    char e = (*p)[1];
    *p += 2;
    switch (e) {
      case 'A': it->kind = ITEM_TEXT_START; return TRUE;
      case 'z': it->kind = ITEM_TEXT_END; return TRUE;
      case 't': it->ch = '\t'; break;
      case 'n': it->ch = '\n'; break;
      case 'r': it->ch = '\r'; break;
      default:
        if (!e || g_ascii_isalnum (e))   /* \s \d \w \b ...: classes and assertions */
          return FALSE;
        it->ch = (guchar) e;
    }
  } else if (**p == '^' || **p == '$') {
    it->kind = **p == '^' ? ITEM_LINE_START : ITEM_LINE_END;
    (*p)++;
    return TRUE;
  } else if (strchr ("()[]{}.+*?", **p)) {
    return FALSE;
  } else {
    it->ch = g_utf8_get_char (*p);
    *p = g_utf8_next_char (*p);
  }
  return read_quantifier (p, it);
}

TokRegex *
tok_regex_new (const char *pattern)
{
  TokRegex *re = g_new0 (TokRegex, 1);
  const char *p = pattern;
  GArray *alt = g_array_new (FALSE, FALSE, sizeof (Item));
  gboolean can_be_empty = TRUE;
  guint n_variable = 0;

  re->alts = g_array_new (FALSE, FALSE, sizeof (GArray *));
  if (!g_utf8_validate (pattern, -1, NULL))
    goto fail;
  for (;;) {
    if (*p == '|' || *p == 0) {
      g_array_append_val (re->alts, alt);
      if (can_be_empty)
        goto fail_added;
      if (*p == 0)
        return re;
      p++;
      alt = g_array_new (FALSE, FALSE, sizeof (Item));
      can_be_empty = TRUE;
      n_variable = 0;
      continue;
    }
    Item it;
    if (!read_item (&p, &it))
      goto fail;
    if (it.kind == ITEM_CHAR && it.min > 0)
      can_be_empty = FALSE;
    if (it.kind == ITEM_CHAR && it.max != it.min && ++n_variable > 1)
      goto fail;
    g_array_append_val (alt, it);
  }
fail:
  g_array_unref (alt);
fail_added:
  tok_regex_free (re);
  return NULL;
}

/* Whether items[k..] match at byte @pos of @s[@n]; *@end: where */
static gboolean
match_items (const Item *items, guint n_items, guint k, const char *s, gsize n, gsize pos, gsize *end)
{
  const Item *it;
  gsize stops[64], *at = stops, cap = G_N_ELEMENTS (stops);
  guint reps = 0;
  gboolean r = FALSE;

  if (k == n_items) {
    *end = pos;
    return TRUE;
  }
  it = &items[k];
  switch (it->kind) {
    case ITEM_TEXT_START:
      return pos == 0 && match_items (items, n_items, k + 1, s, n, pos, end);
    case ITEM_TEXT_END:
      return pos == n && match_items (items, n_items, k + 1, s, n, pos, end);
    case ITEM_LINE_START:
      return (pos == 0 || s[pos - 1] == '\n') && match_items (items, n_items, k + 1, s, n, pos, end);
    case ITEM_LINE_END:
      return (pos == n || s[pos] == '\n') && match_items (items, n_items, k + 1, s, n, pos, end);
    case ITEM_CHAR:
      break;
  }
  /* greedy: take as many as allowed, then back off one char at a time */
  at[0] = pos;
  while (reps < it->max && at[reps] < n && g_utf8_get_char (s + at[reps]) == it->ch) {
    if (reps + 1 >= cap) {
      gsize *bigger = g_new (gsize, cap * 2);
      memcpy (bigger, at, cap * sizeof (gsize));
      if (at != stops)
        g_free (at);
      at = bigger;
      cap *= 2;
    }
    at[reps + 1] = at[reps] + tok_utf8_char_len ((guchar) s[at[reps]]);
    reps++;
  }
  for (gint64 r2 = reps; !r && r2 >= (gint64) it->min; r2--)
    r = match_items (items, n_items, k + 1, s, n, at[r2], end);
  if (at != stops)
    g_free (at);
  return r;
}

gboolean
tok_regex_find (const TokRegex *re, const char *s, gsize n, gsize from, gsize *start, gsize *end)
{
  for (gsize pos = from; pos <= n; pos += pos < n ? tok_utf8_char_len ((guchar) s[pos]) : 1) {
    for (guint a = 0; a < re->alts->len; a++) {
      const GArray *alt = g_array_index (re->alts, GArray *, a);
      if (match_items ((const Item *) alt->data, alt->len, 0, s, n, pos, end)) {
        *start = pos;
        return TRUE;
      }
    }
  }
  return FALSE;
}
