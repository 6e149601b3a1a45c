/* vtp-tokenizer.c: HuggingFace `tokenizers` BPE (Llama layout), byte-exact.
 *
 * The pipeline follows tokenizers' TokenizerImpl::encode step by step:
 *   1. added tokens that are not "normalized" are cut out of the raw text
 *      (leftmost-longest, AddedVocabulary::find_matches with its lstrip /
 *      rstrip / single_word rules);
 *   2. each remaining piece is normalized on its own (so Llama's legacy
 *      Prepend("▁") applies after every added token), and "normalized"
 *      added tokens are cut out of the normalized text;
 *   3. the Metaspace pre-tokenizer (if any) runs on each remaining piece;
 *      prepend_scheme "first" means "this piece starts at byte 0 of the
 *      original text", which needs the original offset of every normalized
 *      byte, tracked here as tokenizers' NormalizedString alignments do;
 *   4. BPE: one symbol per char (vocab piece, else <0xXX> byte pieces, else
 *      unk, fused), then merges by a min-heap on (rank, position) with the
 *      same stale-entry rule as word.rs merge_all;
 *   5. the TemplateProcessing single template adds <s>.
 * Decoding maps ids to pieces and runs the decoder chain on the piece list. */
#include "vtp-tokenizer.h"
#include "vtp-json.h"
#include <stdarg.h>
#include <string.h>

G_DEFINE_QUARK (vtp-tokenizer-error-quark, vtp_tokenizer_error)

/* ------------------------------------------------------------------------ */
/* Types */

typedef enum { NORM_PREPEND, NORM_REPLACE } NormKind;
typedef struct {
  NormKind kind;
  char *a;          /* PREPEND: the prefix; REPLACE: the pattern */
  char *b;          /* REPLACE: the replacement */
  gsize a_len, b_len;
} NormOp;

typedef enum { DEC_REPLACE, DEC_BYTE_FALLBACK, DEC_FUSE, DEC_STRIP, DEC_METASPACE } DecKind;
typedef enum { SCHEME_ALWAYS, SCHEME_FIRST, SCHEME_NEVER } PrependScheme;
typedef struct {
  DecKind kind;
  char *a, *b;      /* REPLACE: pattern, content */
  gunichar ch;      /* STRIP: content; METASPACE: replacement */
  gint64 start, stop;
  PrependScheme scheme;
} DecOp;

typedef struct {
  char *content;
  char *normed;     /* the normalized content when it differs (HF's normalized_cache) */
  gboolean single_word, lstrip, rstrip, normalized, special;
} AddedToken;

typedef struct {
  char *pat;
  gsize len;
  gint32 id;
} Pattern;

typedef struct {
  Pattern *pats;    /* sorted by first byte, then longest first */
  guint n;
  guint start[257]; /* pats[start[b] .. start[b + 1]) begin with byte b */
} Matcher;

typedef struct {
  guint64 key;      /* (a << 32) | b; EMPTY_KEY when free */
  guint32 rank;
  gint32 new_id;
} MergeSlot;
#define EMPTY_KEY G_MAXUINT64

struct _VtpTokenizer {
  char *name;

  /* model */
  GHashTable *vocab;          /* piece (owned) -> GINT_TO_POINTER (id) */
  GHashTable *vocab_r;        /* GINT_TO_POINTER (id) -> piece (borrowed from vocab) */
  guint n_vocab;
  MergeSlot *merges;
  guint64 merges_mask;
  char *unk_token;            /* NULL: none */
  gint32 unk_id;              /* -1 when unk_token is not in the vocab (an error when needed) */
  gboolean fuse_unk, byte_fallback, ignore_merges;
  char *prefix, *suffix;      /* continuing_subword_prefix / end_of_word_suffix */
  gint32 byte_ids[256];       /* <0xXX> ids, -1 if absent */

  /* normalizer */
  gboolean has_normalizer;
  GArray *norm_ops;           /* NormOp */

  /* pre-tokenizer */
  gboolean metaspace;
  char rep[8];
  gsize rep_len;
  PrependScheme scheme;
  gboolean split;

  /* post-processor: the single template, special ids with -1 for $A */
  GArray *tmpl;               /* gint32, NULL: no post-processor */

  /* decoder */
  gboolean has_decoder;
  GArray *dec_ops;            /* DecOp */

  /* added vocabulary */
  GHashTable *added_map;      /* content (owned) -> id */
  GHashTable *added_r;        /* id -> AddedToken* (owned) */
  GHashTable *special_set;    /* content (owned) */
  gint64 max_added_id;        /* -1: none */
  gboolean loading;           /* matchers are refreshed once, after loading */
  Matcher raw_m, norm_m;
};

/* ------------------------------------------------------------------------ */
/* Small helpers */

/* Length of the longest valid UTF-8 prefix of @s (Rust's rules: no
 * surrogates, no overlongs, <= U+10FFFF; NUL is valid). */
static gsize
utf8_valid_prefix (const guchar *s, gsize n)
{
  gsize i = 0;
  while (i < n) {
    guchar c = s[i];
    gsize need;
    guint32 cp, min;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      need = 1; cp = c & 0x1F; min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
      need = 2; cp = c & 0x0F; min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
      need = 3; cp = c & 0x07; min = 0x10000;
    } else {
      return i;
    }
    if (n - i <= need)
      return i;
    for (gsize k = 1; k <= need; k++) {
      if ((s[i + k] & 0xC0) != 0x80)
        return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return i;
    i += need + 1;
  }
  return i;
}

static inline gsize
utf8_char_len (guchar c)
{
  if (c < 0x80) return 1;
  if (c < 0xE0) return 2;
  if (c < 0xF0) return 3;
  return 4;
}

/* The char starting at @s (valid UTF-8 assumed) */
static gunichar
utf8_get (const char *s)
{
  return g_utf8_get_char (s);
}

/* Rust regex \s (Unicode White_Space) */
static gboolean
is_white_space (gunichar c)
{
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680
      || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F
      || c == 0x205F || c == 0x3000;
}

/* Rust regex \w: Alphabetic, M, Nd, Pc, Join_Control (Alphabetic approximated
 * by the letter categories, Nl and the non-mark Other_Alphabetic blocks). */
static gboolean
is_word_char (gunichar c)
{
  switch (g_unichar_type (c)) {
    case G_UNICODE_LOWERCASE_LETTER: case G_UNICODE_UPPERCASE_LETTER:
    case G_UNICODE_TITLECASE_LETTER: case G_UNICODE_MODIFIER_LETTER:
    case G_UNICODE_OTHER_LETTER: case G_UNICODE_LETTER_NUMBER:
    case G_UNICODE_NON_SPACING_MARK: case G_UNICODE_SPACING_MARK:
    case G_UNICODE_ENCLOSING_MARK: case G_UNICODE_DECIMAL_NUMBER:
    case G_UNICODE_CONNECT_PUNCTUATION:
      return TRUE;
    default:
      break;
  }
  return c == 0x200C || c == 0x200D || (c >= 0x24B6 && c <= 0x24E9)
      || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169)
      || (c >= 0x1F170 && c <= 0x1F189);
}

static void
norm_op_clear (gpointer p)
{
  NormOp *op = p;
  g_free (op->a);
  g_free (op->b);
}

static void
dec_op_clear (gpointer p)
{
  DecOp *op = p;
  g_free (op->a);
  g_free (op->b);
}

static void
added_token_free (gpointer p)
{
  AddedToken *t = p;
  g_free (t->content);
  g_free (t->normed);
  g_free (t);
}

static void
matcher_clear (Matcher *m)
{
  for (guint i = 0; i < m->n; i++)
    g_free (m->pats[i].pat);
  g_free (m->pats);
  memset (m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* Merge table: open addressing on the (left id, right id) pair */

static inline guint64
merge_hash (guint64 key)
{
  key ^= key >> 29;
  key *= G_GUINT64_CONSTANT (0x9E3779B97F4A7C15);
  key ^= key >> 32;
  return key;
}

static void
merges_alloc (VtpTokenizer *tok, guint n)
{
  guint64 cap = 16;
  while (cap < (guint64) n * 2 + 16)
    cap <<= 1;
  tok->merges = g_new (MergeSlot, cap);
  for (guint64 i = 0; i < cap; i++)
    tok->merges[i].key = EMPTY_KEY;
  tok->merges_mask = cap - 1;
}

/* Inserting an existing pair overwrites it, as collecting into a HashMap does. */
static void
merges_insert (VtpTokenizer *tok, gint32 a, gint32 b, guint32 rank, gint32 new_id)
{
  guint64 key = ((guint64) (guint32) a << 32) | (guint32) b;
  guint64 i = merge_hash (key) & tok->merges_mask;
  while (tok->merges[i].key != EMPTY_KEY && tok->merges[i].key != key)
    i = (i + 1) & tok->merges_mask;
  tok->merges[i].key = key;
  tok->merges[i].rank = rank;
  tok->merges[i].new_id = new_id;
}

static inline const MergeSlot *
merges_get (const VtpTokenizer *tok, gint32 a, gint32 b)
{
  guint64 key = ((guint64) (guint32) a << 32) | (guint32) b;
  guint64 i = merge_hash (key) & tok->merges_mask;
  while (tok->merges[i].key != EMPTY_KEY) {
    if (tok->merges[i].key == key)
      return &tok->merges[i];
    i = (i + 1) & tok->merges_mask;
  }
  return NULL;
}

static inline gboolean
vocab_get (const VtpTokenizer *tok, const char *piece, gint32 *id)
{
  gpointer v;
  if (!g_hash_table_lookup_extended (tok->vocab, piece, NULL, &v))
    return FALSE;
  *id = GPOINTER_TO_INT (v);
  return TRUE;
}

/* ------------------------------------------------------------------------ */
/* Normalization, with per-byte alignments (original start offset of the
 * char each normalized byte comes from, relative to the piece). */

typedef struct {
  GString *s;
  GArray *align;  /* gsize per byte */
} Norm;

static void
norm_init (Norm *nm, const char *s, gsize n)
{
  nm->s = g_string_new_len (s, n);
  nm->align = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n);
  g_array_set_size (nm->align, n);
  for (gsize i = 0; i < n;) {
    gsize l = utf8_char_len ((guchar) s[i]);
    for (gsize k = 0; k < l && i + k < n; k++)
      g_array_index (nm->align, gsize, i + k) = i;
    i += l;
  }
}

static void
norm_clear (Norm *nm)
{
  g_string_free (nm->s, TRUE);
  g_array_free (nm->align, TRUE);
}

static void
apply_normalizer (const VtpTokenizer *tok, Norm *nm)
{
  for (guint k = 0; k < tok->norm_ops->len; k++) {
    const NormOp *op = &g_array_index (tok->norm_ops, NormOp, k);
    if (op->kind == NORM_PREPEND) {
      /* Prepend: only on a non-empty string; the new chars align to the first char */
      if (nm->s->len == 0 || op->a_len == 0)
        continue;
      gsize a0 = g_array_index (nm->align, gsize, 0);
      g_string_prepend_len (nm->s, op->a, op->a_len);
      g_array_set_size (nm->align, nm->align->len + op->a_len);
      memmove (&g_array_index (nm->align, gsize, op->a_len), &g_array_index (nm->align, gsize, 0),
          (nm->align->len - op->a_len) * sizeof (gsize));
      for (gsize i = 0; i < op->a_len; i++)
        g_array_index (nm->align, gsize, i) = a0;
    } else {
      /* Replace (literal): leftmost non-overlapping matches; the new chars
       * align to the last replaced char, as NormalizedString::replace does */
      const char *s = nm->s->str;
      gsize n = nm->s->len, i = 0, last = 0;
      GString *out = NULL;
      GArray *al = NULL;
      while (i + op->a_len <= n) {
        if (memcmp (s + i, op->a, op->a_len) != 0) {
          i++;
          continue;
        }
        if (!out) {
          out = g_string_sized_new (n + 16);
          al = g_array_sized_new (FALSE, FALSE, sizeof (gsize), n + 16);
        }
        gsize a = g_array_index (nm->align, gsize, i + op->a_len - 1);
        g_string_append_len (out, s + last, i - last);
        g_array_append_vals (al, &g_array_index (nm->align, gsize, last), i - last);
        g_string_append_len (out, op->b, op->b_len);
        for (gsize k2 = 0; k2 < op->b_len; k2++)
          g_array_append_val (al, a);
        i += op->a_len;
        last = i;
      }
      if (out) {
        g_string_append_len (out, s + last, n - last);
        g_array_append_vals (al, &g_array_index (nm->align, gsize, last), n - last);
        g_string_free (nm->s, TRUE);
        g_array_free (nm->align, TRUE);
        nm->s = out;
        nm->align = al;
      }
    }
  }
}

static char *
normalize_string (const VtpTokenizer *tok, const char *s)
{
  Norm nm;
  norm_init (&nm, s, strlen (s));
  apply_normalizer (tok, &nm);
  g_array_free (nm.align, TRUE);
  return g_string_free (nm.s, FALSE);
}

/* ------------------------------------------------------------------------ */
/* Added tokens */

typedef struct {
  gsize start, end;
  gint32 id;        /* -1: not an added token */
} Split;

static int
pattern_cmp (gconstpointer pa, gconstpointer pb)
{
  const Pattern *a = pa, *b = pb;
  guchar fa = (guchar) a->pat[0], fb = (guchar) b->pat[0];
  if (fa != fb)
    return fa < fb ? -1 : 1;
  if (a->len != b->len)
    return a->len > b->len ? -1 : 1;
  return a->id < b->id ? -1 : a->id > b->id;
}

static void
matcher_build (Matcher *m, GArray *pats)
{
  matcher_clear (m);
  g_array_sort (pats, pattern_cmp);
  m->n = pats->len;
  m->pats = (Pattern *) g_array_free (pats, FALSE);
  guint k = 0;
  for (guint b = 0; b < 256; b++) {
    m->start[b] = k;
    while (k < m->n && (guchar) m->pats[k].pat[0] == b)
      k++;
  }
  m->start[256] = m->n;
}

static void
refresh_added_tokens (VtpTokenizer *tok)
{
  GArray *raw = g_array_new (FALSE, FALSE, sizeof (Pattern));
  GArray *nrm = g_array_new (FALSE, FALSE, sizeof (Pattern));
  GHashTableIter it;
  gpointer k, v;
  g_hash_table_iter_init (&it, tok->added_r);
  while (g_hash_table_iter_next (&it, &k, &v)) {
    const AddedToken *t = v;
    Pattern p;
    p.id = GPOINTER_TO_INT (k);
    if (t->normalized) {
      p.pat = g_strdup (t->normed ? t->normed : t->content);
      p.len = strlen (p.pat);
      if (p.len == 0) {
        g_free (p.pat);
        continue;
      }
      g_array_append_val (nrm, p);
    } else {
      p.pat = g_strdup (t->content);
      p.len = strlen (p.pat);
      g_array_append_val (raw, p);
    }
  }
  matcher_build (&tok->raw_m, raw);
  matcher_build (&tok->norm_m, nrm);
}

gint32
vtp_tokenizer_add_token_full (VtpTokenizer *tok, const char *content, gboolean special,
    gboolean normalized, gboolean lstrip, gboolean rstrip, gboolean single_word)
{
  gpointer v;
  gint32 id;
  AddedToken *t;

  g_return_val_if_fail (tok != NULL, -1);
  if (!content || !*content)
    return -1;

  /* The next free id, as AddedVocabulary::add_tokens computes it (adding
   * one at a time gives the same ids as adding a list at once) */
  {
    gint64 max = tok->max_added_id;
    if (max < 0)
      id = tok->n_vocab;
    else if (max >= (gint64) tok->n_vocab || tok->n_vocab == 0)
      id = (gint32) max + 1;
    else
      id = tok->n_vocab;
  }

  if (g_hash_table_lookup_extended (tok->added_map, content, NULL, &v)) {
    const AddedToken *old = g_hash_table_lookup (tok->added_r, v);
    if (old && strcmp (old->content, content) == 0 && old->special == special && old->normalized == normalized && old->lstrip == lstrip
        && old->rstrip == rstrip && old->single_word == single_word)
      return GPOINTER_TO_INT (v);          /* the very same token: ignored */
    id = GPOINTER_TO_INT (v);
  } else {
    vocab_get (tok, content, &id);
  }

  t = g_new0 (AddedToken, 1);
  t->content = g_strdup (content);
  t->special = special;
  t->normalized = normalized;
  t->lstrip = lstrip;
  t->rstrip = rstrip;
  t->single_word = single_word;
  if (normalized && tok->has_normalizer) {
    char *normed = normalize_string (tok, content);
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
    refresh_added_tokens (tok);
  return id;
}

gint32
vtp_tokenizer_add_token (VtpTokenizer *tok, const char *content, gboolean special)
{
  return vtp_tokenizer_add_token_full (tok, content, special, !special, FALSE, FALSE, FALSE);
}

/* AddedVocabulary::find_matches on @s[0..n) */
static void
find_matches (const VtpTokenizer *tok, const Matcher *m, const char *s, gsize n, GArray *splits)
{
  gsize start_offset = 0, i = 0;
  Split sp;

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
    const Pattern *best = NULL;
    for (guint k = m->start[b]; k < m->start[b + 1]; k++) {
      const Pattern *p = &m->pats[k];
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
    const AddedToken *t = g_hash_table_lookup (tok->added_r, GINT_TO_POINTER (best->id));
    i = stop;   /* the matcher goes on after this match, used or not */
    if (t->single_word) {
      gboolean start_space = start == 0 || !is_word_char (utf8_get (g_utf8_prev_char (s + start)));
      gboolean stop_space = stop == n || !is_word_char (utf8_get (s + stop));
      if (!start_space || !stop_space)
        continue;
    }
    if (t->lstrip) {
      gsize ns = start;
      while (ns > 0) {
        const char *p = g_utf8_prev_char (s + ns);
        if (!is_white_space (utf8_get (p)))
          break;
        ns = p - s;
      }
      start = MAX (ns, start_offset);
    }
    if (t->rstrip) {
      while (stop < n && is_white_space (utf8_get (s + stop)))
        stop += utf8_char_len ((guchar) s[stop]);
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

/* ------------------------------------------------------------------------ */
/* BPE */

typedef struct {
  gint32 c, prev, next;
  gsize len;
} Sym;

typedef struct {
  guint32 rank;
  gint32 pos, new_id;
} HeapItem;

typedef struct {
  GArray *syms;     /* Sym */
  GArray *heap;     /* HeapItem */
  GString *key;
  GArray *splits, *splits2;
  GString *word;
} Scratch;

static inline gboolean
heap_less (const HeapItem *a, const HeapItem *b)
{
  return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void
heap_push (GArray *h, guint32 rank, gint32 pos, gint32 new_id)
{
  HeapItem it = { rank, pos, new_id };
  g_array_append_val (h, it);
  HeapItem *a = (HeapItem *) h->data;
  guint i = h->len - 1;
  while (i > 0) {
    guint p = (i - 1) / 2;
    if (!heap_less (&a[i], &a[p]))
      break;
    HeapItem t = a[i]; a[i] = a[p]; a[p] = t;
    i = p;
  }
}

static gboolean
heap_pop (GArray *h, HeapItem *out)
{
  if (h->len == 0)
    return FALSE;
  HeapItem *a = (HeapItem *) h->data;
  *out = a[0];
  a[0] = a[h->len - 1];
  g_array_set_size (h, h->len - 1);
  guint n = h->len, i = 0;
  for (;;) {
    guint l = 2 * i + 1, r = l + 1, m = i;
    if (l < n && heap_less (&a[l], &a[m])) m = l;
    if (r < n && heap_less (&a[r], &a[m])) m = r;
    if (m == i)
      break;
    HeapItem t = a[i]; a[i] = a[m]; a[m] = t;
    i = m;
  }
  return TRUE;
}

static void
sym_add (GArray *syms, gint32 c, gsize len)
{
  Sym s = { c, -1, -1, len };
  if (syms->len > 0) {
    g_array_index (syms, Sym, syms->len - 1).next = syms->len;
    s.prev = syms->len - 1;
  }
  g_array_append_val (syms, s);
}

/* word.rs merge_all, without dropout */
static void
merge_all (const VtpTokenizer *tok, GArray *syms_a, GArray *heap)
{
  Sym *sy = (Sym *) syms_a->data;
  gint32 n = syms_a->len;
  HeapItem top;

  g_array_set_size (heap, 0);
  for (gint32 i = 0; i + 1 < n; i++) {
    const MergeSlot *m = merges_get (tok, sy[i].c, sy[i + 1].c);
    if (m)
      heap_push (heap, m->rank, i, m->new_id);
  }
  while (heap_pop (heap, &top)) {
    Sym *cur = &sy[top.pos];
    if (cur->len == 0 || cur->next == -1)
      continue;
    gint32 next_pos = cur->next;
    Sym right = sy[next_pos];
    const MergeSlot *m = merges_get (tok, cur->c, right.c);
    if (!m || m->new_id != top.new_id)
      continue;     /* an expired entry */
    cur->c = top.new_id;
    cur->len += right.len;
    cur->next = right.next;
    sy[next_pos].len = 0;
    if (right.next > -1 && right.next < n)
      sy[right.next].prev = top.pos;
    if (cur->prev >= 0) {
      m = merges_get (tok, sy[cur->prev].c, cur->c);
      if (m)
        heap_push (heap, m->rank, cur->prev, m->new_id);
    }
    if (cur->next > -1 && cur->next < n) {
      m = merges_get (tok, cur->c, sy[cur->next].c);
      if (m)
        heap_push (heap, m->rank, top.pos, m->new_id);
    }
  }
}

static gboolean
unk_id_or_error (const VtpTokenizer *tok, gint32 *id, GError **error)
{
  if (tok->unk_id < 0) {
    g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT,
        "%s: model.unk_token \"%s\" is not in model.vocab, but the input needs it", tok->name,
        tok->unk_token);
    return FALSE;
  }
  *id = tok->unk_id;
  return TRUE;
}

/* BPE::tokenize on one word; appends the ids to @out */
static gboolean
bpe_word (const VtpTokenizer *tok, Scratch *sc, const char *w, gsize n, GArray *out, GError **error)
{
  gint32 id;
  gboolean have_unk = FALSE;
  gint32 unk_c = 0;
  gsize unk_len = 0;

  if (n == 0)
    return TRUE;
  if (tok->ignore_merges) {
    g_string_assign (sc->key, "");
    g_string_append_len (sc->key, w, n);
    if (vocab_get (tok, sc->key->str, &id)) {
      g_array_append_val (out, id);
      return TRUE;
    }
  }

  g_array_set_size (sc->syms, 0);
  for (gsize i = 0; i < n;) {
    gsize l = utf8_char_len ((guchar) w[i]);
    gboolean first = i == 0, last = i + l >= n;
    g_string_truncate (sc->key, 0);
    if (!first && tok->prefix)
      g_string_append (sc->key, tok->prefix);
    g_string_append_len (sc->key, w + i, l);
    if (last && tok->suffix)
      g_string_append (sc->key, tok->suffix);

    if (vocab_get (tok, sc->key->str, &id)) {
      if (have_unk) {
        sym_add (sc->syms, unk_c, unk_len);
        have_unk = FALSE;
      }
      sym_add (sc->syms, id, l);
    } else {
      gboolean done = FALSE;
      if (tok->byte_fallback) {
        /* all bytes of the (prefixed) piece must have a <0xXX> token */
        gboolean all = TRUE;
        for (gsize k = 0; k < sc->key->len; k++)
          all = all && tok->byte_ids[(guchar) sc->key->str[k]] >= 0;
        if (all) {
          /* a pending unk is not flushed here, as in model.rs */
          for (gsize k = 0; k < sc->key->len; k++)
            sym_add (sc->syms, tok->byte_ids[(guchar) sc->key->str[k]], 1);
          done = TRUE;
        }
      }
      if (!done && tok->unk_token) {
        if (have_unk && tok->fuse_unk) {
          unk_len += l;
        } else {
          if (have_unk)
            sym_add (sc->syms, unk_c, unk_len);
          if (!unk_id_or_error (tok, &unk_c, error))
            return FALSE;
          unk_len = l;
          have_unk = TRUE;
        }
      }
    }
    i += l;
  }
  if (have_unk)
    sym_add (sc->syms, unk_c, unk_len);

  merge_all (tok, sc->syms, sc->heap);
  for (guint k = 0; k < sc->syms->len; k++) {
    const Sym *s = &g_array_index (sc->syms, Sym, k);
    if (s->len != 0)
      g_array_append_val (out, s->c);
  }
  return TRUE;
}

/* The pre-tokenizer, then the model, on one piece of normalized text */
static gboolean
pretokenize_and_model (const VtpTokenizer *tok, Scratch *sc, const char *s, gsize n,
    gboolean is_first, GArray *out, GError **error)
{
  if (!tok->metaspace)
    return bpe_word (tok, sc, s, n, out, error);

  GString *w = sc->word;
  gboolean starts = n > 0 && (s[0] == ' ' || (n >= tok->rep_len && memcmp (s, tok->rep, tok->rep_len) == 0));
  g_string_truncate (w, 0);
  if (!starts && (tok->scheme == SCHEME_ALWAYS || (tok->scheme == SCHEME_FIRST && is_first)))
    g_string_append_len (w, tok->rep, tok->rep_len);
  for (gsize i = 0; i < n; i++) {
    if (s[i] == ' ')
      g_string_append_len (w, tok->rep, tok->rep_len);
    else
      g_string_append_c (w, s[i]);
  }
  if (!tok->split)
    return bpe_word (tok, sc, w->str, w->len, out, error);

  /* split before every replacement char (MergedWithNext) */
  {
    gsize piece = 0, i = 0;
    const char *ws = w->str;
    gsize wn = w->len;
    /* (bpe_word does not touch sc->word) */
    while (i < wn) {
      if (i + tok->rep_len <= wn && memcmp (ws + i, tok->rep, tok->rep_len) == 0) {
        if (i > piece && !bpe_word (tok, sc, ws + piece, i - piece, out, error))
          return FALSE;
        piece = i;
        i += tok->rep_len;
      } else {
        i += utf8_char_len ((guchar) ws[i]);
      }
    }
    if (wn > piece && !bpe_word (tok, sc, ws + piece, wn - piece, out, error))
      return FALSE;
  }
  return TRUE;
}

/* A piece of the raw text between non-normalized added tokens, at
 * @orig_start in the input */
static gboolean
encode_piece (const VtpTokenizer *tok, Scratch *sc, const char *s, gsize n, gsize orig_start,
    GArray *out, GError **error)
{
  Norm nm;
  gboolean ok = TRUE;

  norm_init (&nm, s, n);
  if (tok->has_normalizer)
    apply_normalizer (tok, &nm);
  find_matches (tok, &tok->norm_m, nm.s->str, nm.s->len, sc->splits2);
  for (guint k = 0; ok && k < sc->splits2->len; k++) {
    Split sp = g_array_index (sc->splits2, Split, k);
    if (sp.end <= sp.start && sp.id < 0)
      continue;
    if (sp.id >= 0) {
      g_array_append_val (out, sp.id);
      continue;
    }
    gboolean is_first = orig_start + g_array_index (nm.align, gsize, sp.start) == 0;
    ok = pretokenize_and_model (tok, sc, nm.s->str + sp.start, sp.end - sp.start, is_first, out, error);
  }
  norm_clear (&nm);
  return ok;
}

GArray *
vtp_tokenizer_encode_len (VtpTokenizer *tok, const char *text, gssize len, gboolean add_special,
    GError **error)
{
  gsize n, valid;
  GArray *out, *body;
  Scratch sc;
  gboolean ok = TRUE;

  g_return_val_if_fail (tok != NULL, NULL);
  if (!text) {
    g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT, "%s: input text is NULL", tok->name);
    return NULL;
  }
  n = len < 0 ? strlen (text) : (gsize) len;
  valid = utf8_valid_prefix ((const guchar *) text, n);
  if (valid != n) {
    g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT,
        "%s: input text is not valid UTF-8 (byte 0x%02X at offset %" G_GSIZE_FORMAT ")", tok->name,
        (guchar) text[valid], valid);
    return NULL;
  }

  sc.syms = g_array_new (FALSE, FALSE, sizeof (Sym));
  sc.heap = g_array_new (FALSE, FALSE, sizeof (HeapItem));
  sc.key = g_string_new (NULL);
  sc.word = g_string_new (NULL);
  sc.splits = g_array_new (FALSE, FALSE, sizeof (Split));
  sc.splits2 = g_array_new (FALSE, FALSE, sizeof (Split));
  body = g_array_new (FALSE, FALSE, sizeof (gint32));

  find_matches (tok, &tok->raw_m, text, n, sc.splits);
  for (guint k = 0; ok && k < sc.splits->len; k++) {
    Split sp = g_array_index (sc.splits, Split, k);
    if (sp.id >= 0)
      g_array_append_val (body, sp.id);
    else if (sp.end > sp.start)
      ok = encode_piece (tok, &sc, text + sp.start, sp.end - sp.start, sp.start, body, error);
  }

  g_array_free (sc.syms, TRUE);
  g_array_free (sc.heap, TRUE);
  g_string_free (sc.key, TRUE);
  g_string_free (sc.word, TRUE);
  g_array_free (sc.splits, TRUE);
  g_array_free (sc.splits2, TRUE);
  if (!ok) {
    g_array_free (body, TRUE);
    return NULL;
  }
  if (!add_special || !tok->tmpl)
    return body;

  out = g_array_sized_new (FALSE, FALSE, sizeof (gint32), body->len + tok->tmpl->len);
  for (guint k = 0; k < tok->tmpl->len; k++) {
    gint32 v = g_array_index (tok->tmpl, gint32, k);
    if (v >= 0)
      g_array_append_val (out, v);
    else
      g_array_append_vals (out, body->data, body->len);
  }
  g_array_free (body, TRUE);
  return out;
}

GArray *
vtp_tokenizer_encode (VtpTokenizer *tok, const char *text, gboolean add_special, GError **error)
{
  return vtp_tokenizer_encode_len (tok, text, -1, add_special, error);
}

/* ------------------------------------------------------------------------ */
/* Lookups */

const char *
vtp_tokenizer_id_to_token (VtpTokenizer *tok, gint32 id)
{
  const AddedToken *t;
  g_return_val_if_fail (tok != NULL, NULL);
  if (id < 0)
    return NULL;
  t = g_hash_table_lookup (tok->added_r, GINT_TO_POINTER (id));
  if (t)
    return t->normed ? t->normed : t->content;
  return g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER (id));
}

gint32
vtp_tokenizer_token_to_id (VtpTokenizer *tok, const char *piece)
{
  gpointer v;
  gint32 id;
  g_return_val_if_fail (tok != NULL, -1);
  if (!piece)
    return -1;
  if (g_hash_table_lookup_extended (tok->added_map, piece, NULL, &v))
    return GPOINTER_TO_INT (v);
  if (vocab_get (tok, piece, &id))
    return id;
  return -1;
}

gsize
vtp_tokenizer_get_vocab_size (VtpTokenizer *tok)
{
  GHashTableIter it;
  gpointer k;
  gsize n;
  g_return_val_if_fail (tok != NULL, 0);
  n = tok->n_vocab;
  g_hash_table_iter_init (&it, tok->added_map);
  while (g_hash_table_iter_next (&it, &k, NULL))
    if (!g_hash_table_contains (tok->vocab, k))
      n++;
  return n;
}

gint32
vtp_tokenizer_get_bos_id (VtpTokenizer *tok)
{
  g_return_val_if_fail (tok != NULL, -1);
  if (!tok->tmpl || tok->tmpl->len == 0)
    return -1;
  return g_array_index (tok->tmpl, gint32, 0);
}

gboolean
vtp_tokenizer_is_special (VtpTokenizer *tok, gint32 id)
{
  const char *s = vtp_tokenizer_id_to_token (tok, id);
  return s && g_hash_table_contains (tok->special_set, s);
}

/* ------------------------------------------------------------------------ */
/* Decoding. Pieces are GStrings: a <0x00> piece decodes to a NUL byte. */

static GString *
replace_all (const GString *s, const char *pat, const char *with)
{
  gsize pl = strlen (pat);
  GString *o = g_string_sized_new (s->len);
  for (gsize i = 0; i < s->len;) {
    if (i + pl <= s->len && memcmp (s->str + i, pat, pl) == 0) {
      g_string_append (o, with);
      i += pl;
    } else {
      g_string_append_c (o, s->str[i++]);
    }
  }
  return o;
}

/* u8::from_str_radix (s[0..2], 16): an optional '+' then hex digits */
static gboolean
parse_hex_byte (const char *s, guint8 *out)
{
  const char *p = s, *end = s + 2;
  guint v = 0;
  if (*p == '+')
    p++;
  if (p == end)
    return FALSE;
  for (; p < end; p++) {
    gint d = g_ascii_xdigit_value (*p);
    if (d < 0)
      return FALSE;
    v = v * 16 + d;
  }
  *out = (guint8) v;
  return TRUE;
}

static void
gstring_free (gpointer p)
{
  g_string_free (p, TRUE);
}

static GPtrArray *
piece_list_new (void)
{
  return g_ptr_array_new_with_free_func (gstring_free);
}

/* A run of byte pieces: one string if it is valid UTF-8, else one U+FFFD per byte */
static void
flush_bytes (GPtrArray *out, GByteArray *bytes)
{
  if (bytes->len == 0)
    return;
  if (utf8_valid_prefix (bytes->data, bytes->len) == bytes->len) {
    g_ptr_array_add (out, g_string_new_len ((const char *) bytes->data, bytes->len));
  } else {
    for (guint i = 0; i < bytes->len; i++)
      g_ptr_array_add (out, g_string_new ("\xEF\xBF\xBD"));
  }
  g_byte_array_set_size (bytes, 0);
}

/* The chars of @s (valid UTF-8, NULs allowed) */
static GArray *
chars_of (const GString *s)
{
  GArray *c = g_array_sized_new (FALSE, FALSE, sizeof (gsize), s->len + 1);
  for (gsize i = 0; i < s->len; i += utf8_char_len ((guchar) s->str[i]))
    g_array_append_val (c, i);
  g_array_append_val (c, s->len);   /* sentinel: the end */
  return c;
}

/* One decoder's decode_chain; takes ownership of @in */
static GPtrArray *
decode_step (const DecOp *op, GPtrArray *in)
{
  GPtrArray *out = piece_list_new ();
  switch (op->kind) {
    case DEC_REPLACE:
      for (guint i = 0; i < in->len; i++)
        g_ptr_array_add (out, replace_all (in->pdata[i], op->a, op->b));
      break;
    case DEC_BYTE_FALLBACK: {
      GByteArray *bytes = g_byte_array_new ();
      for (guint i = 0; i < in->len; i++) {
        GString *t = in->pdata[i];
        guint8 b;
        if (t->len == 6 && memcmp (t->str, "<0x", 3) == 0 && t->str[5] == '>' && parse_hex_byte (t->str + 3, &b)) {
          g_byte_array_append (bytes, &b, 1);
        } else {
          flush_bytes (out, bytes);
          g_ptr_array_add (out, g_string_new_len (t->str, t->len));
        }
      }
      flush_bytes (out, bytes);
      g_byte_array_unref (bytes);
      break;
    }
    case DEC_FUSE: {
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < in->len; i++)
        g_string_append_len (s, ((GString *) in->pdata[i])->str, ((GString *) in->pdata[i])->len);
      g_ptr_array_add (out, s);
      break;
    }
    case DEC_STRIP:
      for (guint i = 0; i < in->len; i++) {
        GString *t = in->pdata[i];
        GArray *c = chars_of (t);
        gsize nch = c->len - 1, start_cut = 0, stop_cut = nch;
        const gsize *off = (const gsize *) c->data;
        for (gsize k = 0; k < nch && k < (guint64) op->start; k++) {
          if (g_utf8_get_char (t->str + off[k]) != op->ch)
            break;
          start_cut = k + 1;
        }
        for (gsize k = 0; k < (guint64) op->stop && k < nch; k++) {
          gsize idx = nch - k - 1;
          if (g_utf8_get_char (t->str + off[idx]) != op->ch)
            break;
          stop_cut = idx;
        }
        if (stop_cut < start_cut)    /* where tokenizers would panic */
          stop_cut = start_cut;
        g_ptr_array_add (out, g_string_new_len (t->str + off[start_cut], off[stop_cut] - off[start_cut]));
        g_array_free (c, TRUE);
      }
      break;
    case DEC_METASPACE:
      for (guint i = 0; i < in->len; i++) {
        GString *t = in->pdata[i];
        GString *s = g_string_sized_new (t->len);
        for (gsize k = 0; k < t->len;) {
          gsize l = utf8_char_len ((guchar) t->str[k]);
          if (g_utf8_get_char (t->str + k) == op->ch) {
            if (!(i == 0 && op->scheme != SCHEME_NEVER))
              g_string_append_c (s, ' ');
          } else {
            g_string_append_len (s, t->str + k, l);
          }
          k += l;
        }
        g_ptr_array_add (out, s);
      }
      break;
  }
  g_ptr_array_unref (in);
  return out;
}

char *
vtp_tokenizer_decode_len (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    gsize *out_len, GError **error)
{
  GPtrArray *toks;
  GString *res;

  g_return_val_if_fail (tok != NULL, NULL);
  if (n_ids > 0 && !ids) {
    g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT, "%s: ids is NULL", tok->name);
    return NULL;
  }
  toks = piece_list_new ();
  for (gsize i = 0; i < n_ids; i++) {
    const char *s = vtp_tokenizer_id_to_token (tok, ids[i]);
    if (!s) {
      g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_INPUT,
          "%s: cannot decode id %d (position %" G_GSIZE_FORMAT "): not in the vocabulary", tok->name,
          ids[i], i);
      g_ptr_array_unref (toks);
      return NULL;
    }
    if (skip_special && g_hash_table_contains (tok->special_set, s))
      continue;
    g_ptr_array_add (toks, g_string_new (s));
  }
  if (tok->has_decoder) {
    for (guint k = 0; k < tok->dec_ops->len; k++)
      toks = decode_step (&g_array_index (tok->dec_ops, DecOp, k), toks);
  }
  res = g_string_new (NULL);
  for (guint i = 0; i < toks->len; i++) {
    if (!tok->has_decoder && i > 0)
      g_string_append_c (res, ' ');
    g_string_append_len (res, ((GString *) toks->pdata[i])->str, ((GString *) toks->pdata[i])->len);
  }
  g_ptr_array_unref (toks);
  if (out_len)
    *out_len = res->len;
  return g_string_free (res, FALSE);
}

char *
vtp_tokenizer_decode (VtpTokenizer *tok, const gint32 *ids, gsize n_ids, gboolean skip_special,
    GError **error)
{
  return vtp_tokenizer_decode_len (tok, ids, n_ids, skip_special, NULL, error);
}

/* ------------------------------------------------------------------------ */
/* Loading */

typedef struct {
  const char *name;
  GError **error;
} Ld;

static gboolean G_GNUC_PRINTF (3, 4)
fail (Ld *ld, gint code, const char *fmt, ...)
{
  va_list ap;
  char *msg;
  va_start (ap, fmt);
  msg = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  g_set_error (ld->error, VTP_TOKENIZER_ERROR, code, "%s: %s", ld->name, msg);
  g_free (msg);
  return FALSE;
}

/* "null", "an object", "\"text\"", "12", ... for error messages */
static char *
describe (JsonNode *n)
{
  if (!n)
    return g_strdup ("missing");
  switch (JSON_NODE_TYPE (n)) {
    case JSON_NODE_NULL:
      return g_strdup ("null");
    case JSON_NODE_OBJECT:
      return g_strdup ("an object");
    case JSON_NODE_ARRAY:
      return g_strdup ("an array");
    case JSON_NODE_VALUE:
      break;
  }
  switch (json_node_get_value_type (n)) {
    case G_TYPE_STRING: {
      const char *s = json_node_get_string (n);
      if (g_utf8_strlen (s, -1) > 40) {
        char buf[200];
        g_utf8_strncpy (buf, s, 40);
        return g_strdup_printf ("\"%s...\"", buf);
      }
      return g_strdup_printf ("\"%s\"", s);
    }
    case G_TYPE_INT64:
      return g_strdup_printf ("%" G_GINT64_FORMAT, json_node_get_int (n));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", json_node_get_double (n));
    case G_TYPE_BOOLEAN:
      return g_strdup (json_node_get_boolean (n) ? "true" : "false");
    default:
      return g_strdup ("a value");
  }
}

static gboolean
fail_type (Ld *ld, const char *path, JsonNode *n, const char *expected)
{
  char *d = describe (n);
  gboolean r = fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s is %s, expected %s", path, d, expected);
  g_free (d);
  return r;
}

static gboolean
is_string (JsonNode *n)
{
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING;
}

static gboolean
is_null (JsonNode *n)
{
  return !n || JSON_NODE_HOLDS_NULL (n);
}

/* A string member; @optional: absent or null gives *out = NULL */
static gboolean
get_str (Ld *ld, JsonObject *o, const char *path, const char *key, gboolean optional, const char **out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = NULL;
  if (optional && is_null (n))
    return TRUE;
  if (!is_string (n)) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, optional ? "a string or null" : "a string");
    g_free (p);
    return r;
  }
  *out = json_node_get_string (n);
  return TRUE;
}

/* A bool member; absent or null gives @dflt */
static gboolean
get_bool (Ld *ld, JsonObject *o, const char *path, const char *key, gboolean dflt, gboolean *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_BOOLEAN) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, "true or false");
    g_free (p);
    return r;
  }
  *out = json_node_get_boolean (n);
  return TRUE;
}

/* A non-negative integer member; absent or null gives @dflt */
static gboolean
get_uint (Ld *ld, JsonObject *o, const char *path, const char *key, gint64 dflt, gint64 *out)
{
  JsonNode *n = json_object_get_member (o, key);
  *out = dflt;
  if (is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_INT64 || json_node_get_int (n) < 0) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, n, "a non-negative integer");
    g_free (p);
    return r;
  }
  *out = json_node_get_int (n);
  return TRUE;
}

/* A single-char string member (Rust's char) */
static gboolean
get_char (Ld *ld, JsonObject *o, const char *path, const char *key, gunichar *out)
{
  const char *s;
  if (!get_str (ld, o, path, key, FALSE, &s))
    return FALSE;
  if (g_utf8_strlen (s, -1) != 1) {
    char *p = g_strdup_printf ("%s.%s", path, key);
    gboolean r = fail_type (ld, p, json_object_get_member (o, key), "a single character");
    g_free (p);
    return r;
  }
  *out = g_utf8_get_char (s);
  return TRUE;
}

/* The "type" member of a component object */
static gboolean
get_type (Ld *ld, JsonNode *n, const char *path, JsonObject **obj, const char **type)
{
  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, path, n, "an object");
  *obj = json_node_get_object (n);
  return get_str (ld, *obj, path, "type", FALSE, type);
}

/* A Replace pattern: {"String": "..."} */
static gboolean
get_pattern (Ld *ld, JsonObject *o, const char *path, char **out)
{
  JsonNode *n = json_object_get_member (o, "pattern");
  char *p = g_strdup_printf ("%s.pattern", path);
  gboolean r = FALSE;
  if (!n || !JSON_NODE_HOLDS_OBJECT (n)) {
    fail_type (ld, p, n, "an object {\"String\": ...}");
  } else {
    JsonObject *po = json_node_get_object (n);
    JsonNode *s = json_object_get_member (po, "String");
    if (json_object_has_member (po, "Regex")) {
      fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s is a Regex pattern; only String patterns are supported", p);
    } else if (!is_string (s) || json_object_get_size (po) != 1) {
      fail_type (ld, p, n, "{\"String\": \"...\"}");
    } else if (!*json_node_get_string (s)) {
      fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.String is \"\", an empty pattern is not supported", p);
    } else {
      *out = g_strdup (json_node_get_string (s));
      r = TRUE;
    }
  }
  g_free (p);
  return r;
}

static gboolean
parse_prepend_scheme (Ld *ld, JsonObject *o, const char *path, PrependScheme *out)
{
  const char *s;
  gboolean add_prefix_space = TRUE;
  JsonNode *aps = json_object_get_member (o, "add_prefix_space");
  if (!get_str (ld, o, path, "prepend_scheme", TRUE, &s))
    return FALSE;
  if (!s || strcmp (s, "always") == 0)
    *out = SCHEME_ALWAYS;
  else if (strcmp (s, "first") == 0)
    *out = SCHEME_FIRST;
  else if (strcmp (s, "never") == 0)
    *out = SCHEME_NEVER;
  else {
    char *p = g_strdup_printf ("%s.prepend_scheme", path);
    fail_type (ld, p, json_object_get_member (o, "prepend_scheme"), "\"always\", \"first\" or \"never\"");
    g_free (p);
    return FALSE;
  }
  if (!is_null (aps)) {
    if (!get_bool (ld, o, path, "add_prefix_space", TRUE, &add_prefix_space))
      return FALSE;
    if (!add_prefix_space) {
      if (*out != SCHEME_NEVER && s)
        return fail (ld, VTP_TOKENIZER_ERROR_PARSE,
            "%s.add_prefix_space is false but %s.prepend_scheme is \"%s\"", path, path, s);
      *out = SCHEME_NEVER;
    }
  }
  return TRUE;
}

/* A "Sequence" entry: parses each element of @o[@member] with @parse. */
typedef gboolean (*ParseEntry) (Ld *ld, VtpTokenizer *tok, JsonNode *n, const char *path);

static gboolean
parse_sequence (Ld *ld, VtpTokenizer *tok, JsonObject *o, const char *path, const char *member, ParseEntry parse)
{
  JsonNode *arr = json_object_get_member (o, member);
  JsonArray *a;

  if (!arr || !JSON_NODE_HOLDS_ARRAY (arr)) {
    char *p = g_strdup_printf ("%s.%s", path, member);
    fail_type (ld, p, arr, "an array");
    g_free (p);
    return FALSE;
  }
  a = json_node_get_array (arr);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    char *p = g_strdup_printf ("%s.%s[%u]", path, member, i);
    gboolean ok = parse (ld, tok, json_array_get_element (a, i), p);
    g_free (p);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_normalizer (Ld *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  if (!get_type (ld, n, path, &o, &type))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return parse_sequence (ld, tok, o, path, "normalizers", parse_normalizer);
  if (strcmp (type, "Prepend") == 0) {
    const char *s;
    NormOp op = { NORM_PREPEND, NULL, NULL, 0, 0 };
    if (!get_str (ld, o, path, "prepend", FALSE, &s))
      return FALSE;
    op.a = g_strdup (s);
    op.a_len = strlen (s);
    g_array_append_val (tok->norm_ops, op);
    return TRUE;
  }
  if (strcmp (type, "Replace") == 0) {
    const char *content;
    NormOp op = { NORM_REPLACE, NULL, NULL, 0, 0 };
    if (!get_str (ld, o, path, "content", FALSE, &content) || !get_pattern (ld, o, path, &op.a))
      return FALSE;
    op.b = g_strdup (content);
    op.a_len = strlen (op.a);
    op.b_len = strlen (op.b);
    g_array_append_val (tok->norm_ops, op);
    return TRUE;
  }
  if (strcmp (type, "NFC") == 0 || strcmp (type, "NFKC") == 0 || strcmp (type, "NFD") == 0
      || strcmp (type, "NFKD") == 0)
    return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "%s.type is \"%s\": not supported (tokenizers normalizes with Unicode 9-era tables, GLib with "
        "newer ones, so the ids would differ for newer characters)", path, type);
  return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
      "%s.type is \"%s\", expected one of \"Sequence\", \"Prepend\", \"Replace\"", path, type);
}

static gboolean
parse_pre_tokenizer (Ld *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonObject *o;
  const char *type;
  gunichar rep;
  if (!get_type (ld, n, "pre_tokenizer", &o, &type))
    return FALSE;
  if (strcmp (type, "Metaspace") != 0)
    return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "pre_tokenizer.type is \"%s\", expected \"Metaspace\" (or a null pre_tokenizer)", type);
  if (!get_char (ld, o, "pre_tokenizer", "replacement", &rep)
      || !parse_prepend_scheme (ld, o, "pre_tokenizer", &tok->scheme)
      || !get_bool (ld, o, "pre_tokenizer", "split", TRUE, &tok->split))
    return FALSE;
  tok->metaspace = TRUE;
  tok->rep_len = g_unichar_to_utf8 (rep, tok->rep);
  tok->rep[tok->rep_len] = 0;
  return TRUE;
}

static gboolean
parse_post_processor (Ld *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonObject *o, *specials;
  JsonNode *single, *sp;
  const char *type;
  if (!get_type (ld, n, "post_processor", &o, &type))
    return FALSE;
  if (strcmp (type, "TemplateProcessing") != 0)
    return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "post_processor.type is \"%s\", expected \"TemplateProcessing\" (or a null post_processor)", type);
  single = json_object_get_member (o, "single");
  sp = json_object_get_member (o, "special_tokens");
  if (!single || !JSON_NODE_HOLDS_ARRAY (single))
    return fail_type (ld, "post_processor.single", single, "an array of template pieces");
  if (!sp || !JSON_NODE_HOLDS_OBJECT (sp))
    return fail_type (ld, "post_processor.special_tokens", sp, "an object");
  specials = json_node_get_object (sp);
  tok->tmpl = g_array_new (FALSE, FALSE, sizeof (gint32));
  JsonArray *a = json_node_get_array (single);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *pn = json_array_get_element (a, i);
    char *path = g_strdup_printf ("post_processor.single[%u]", i);
    gboolean ok = FALSE;
    JsonObject *po = pn && JSON_NODE_HOLDS_OBJECT (pn) ? json_node_get_object (pn) : NULL;
    JsonNode *inner_n;
    if (!po || json_object_get_size (po) != 1) {
      fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
    } else if ((inner_n = json_object_get_member (po, "Sequence"))) {
      const char *id;
      char *p2 = g_strdup_printf ("%s.Sequence", path);
      if (!JSON_NODE_HOLDS_OBJECT (inner_n))
        fail_type (ld, p2, inner_n, "an object");
      else if (get_str (ld, json_node_get_object (inner_n), p2, "id", FALSE, &id)) {
        if (g_ascii_strcasecmp (id, "A") != 0)
          fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "%s.id is \"%s\", expected \"A\" in the single template",
              p2, id);
        else {
          gint32 m = -1;
          g_array_append_val (tok->tmpl, m);
          ok = TRUE;
        }
      }
      g_free (p2);
    } else if ((inner_n = json_object_get_member (po, "SpecialToken"))) {
      const char *id;
      char *p2 = g_strdup_printf ("%s.SpecialToken", path);
      if (!JSON_NODE_HOLDS_OBJECT (inner_n))
        fail_type (ld, p2, inner_n, "an object");
      else if (get_str (ld, json_node_get_object (inner_n), p2, "id", FALSE, &id)) {
        JsonNode *st = json_object_get_member (specials, id);
        JsonNode *ids = st && JSON_NODE_HOLDS_OBJECT (st) ? json_object_get_member (json_node_get_object (st), "ids") : NULL;
        if (!st)
          fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s.id is \"%s\", which post_processor.special_tokens lacks", p2, id);
        else if (!ids || !JSON_NODE_HOLDS_ARRAY (ids)) {
          char *p3 = g_strdup_printf ("post_processor.special_tokens[\"%s\"].ids", id);
          fail_type (ld, p3, ids, "an array of ids");
          g_free (p3);
        } else {
          JsonArray *ia = json_node_get_array (ids);
          ok = TRUE;
          for (guint k = 0; ok && k < json_array_get_length (ia); k++) {
            JsonNode *e = json_array_get_element (ia, k);
            if (!JSON_NODE_HOLDS_VALUE (e) || json_node_get_value_type (e) != G_TYPE_INT64
                || json_node_get_int (e) < 0 || json_node_get_int (e) > G_MAXINT32) {
              char *p3 = g_strdup_printf ("post_processor.special_tokens[\"%s\"].ids[%u]", id, k);
              ok = fail_type (ld, p3, e, "a token id");
              g_free (p3);
            } else {
              gint32 v = (gint32) json_node_get_int (e);
              g_array_append_val (tok->tmpl, v);
            }
          }
        }
      }
      g_free (p2);
    } else {
      fail_type (ld, path, pn, "{\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    g_free (path);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_decoder (Ld *ld, VtpTokenizer *tok, JsonNode *n, const char *path)
{
  JsonObject *o;
  const char *type;
  DecOp op;
  memset (&op, 0, sizeof op);
  if (!get_type (ld, n, path, &o, &type))
    return FALSE;
  if (strcmp (type, "Sequence") == 0)
    return parse_sequence (ld, tok, o, path, "decoders", parse_decoder);
  else if (strcmp (type, "Replace") == 0) {
    const char *content;
    op.kind = DEC_REPLACE;
    if (!get_str (ld, o, path, "content", FALSE, &content) || !get_pattern (ld, o, path, &op.a))
      return FALSE;
    op.b = g_strdup (content);
  } else if (strcmp (type, "ByteFallback") == 0) {
    op.kind = DEC_BYTE_FALLBACK;
  } else if (strcmp (type, "Fuse") == 0) {
    op.kind = DEC_FUSE;
  } else if (strcmp (type, "Strip") == 0) {
    op.kind = DEC_STRIP;
    if (!get_char (ld, o, path, "content", &op.ch) || !get_uint (ld, o, path, "start", 0, &op.start)
        || !get_uint (ld, o, path, "stop", 0, &op.stop))
      return FALSE;
  } else if (strcmp (type, "Metaspace") == 0) {
    op.kind = DEC_METASPACE;
    if (!get_char (ld, o, path, "replacement", &op.ch) || !parse_prepend_scheme (ld, o, path, &op.scheme))
      return FALSE;
  } else {
    return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED,
        "%s.type is \"%s\", expected one of \"Sequence\", \"Replace\", \"ByteFallback\", \"Fuse\", "
        "\"Strip\", \"Metaspace\"", path, type);
  }
  g_array_append_val (tok->dec_ops, op);
  return TRUE;
}

static gboolean
parse_model (Ld *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonObject *o;
  JsonNode *vn, *mn, *dn;
  const char *type = NULL, *s;
  JsonObjectIter it;
  const char *key;
  JsonNode *val;

  if (!n || !JSON_NODE_HOLDS_OBJECT (n))
    return fail_type (ld, "model", n, "an object");
  o = json_node_get_object (n);
  if (!get_str (ld, o, "model", "type", TRUE, &type))
    return FALSE;
  if (type && strcmp (type, "BPE") != 0)
    return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.type is \"%s\", expected \"BPE\"", type);

  dn = json_object_get_member (o, "dropout");
  if (!is_null (dn)) {
    if (!JSON_NODE_HOLDS_VALUE (dn) || (json_node_get_value_type (dn) != G_TYPE_DOUBLE
            && json_node_get_value_type (dn) != G_TYPE_INT64))
      return fail_type (ld, "model.dropout", dn, "null or a number");
    if (json_node_get_double (dn) != 0.0)
      return fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.dropout is %g, expected null or 0 (BPE "
          "dropout is random)", json_node_get_double (dn));
  }
  if (!get_str (ld, o, "model", "unk_token", TRUE, &s))
    return FALSE;
  tok->unk_token = g_strdup (s);
  if (!get_str (ld, o, "model", "continuing_subword_prefix", TRUE, &s))
    return FALSE;
  tok->prefix = g_strdup (s);
  if (!get_str (ld, o, "model", "end_of_word_suffix", TRUE, &s))
    return FALSE;
  tok->suffix = g_strdup (s);
  if (!get_bool (ld, o, "model", "fuse_unk", FALSE, &tok->fuse_unk)
      || !get_bool (ld, o, "model", "byte_fallback", FALSE, &tok->byte_fallback)
      || !get_bool (ld, o, "model", "ignore_merges", FALSE, &tok->ignore_merges))
    return FALSE;

  /* vocab */
  vn = json_object_get_member (o, "vocab");
  if (!vn || !JSON_NODE_HOLDS_OBJECT (vn))
    return fail_type (ld, "model.vocab", vn, "an object {piece: id}");
  json_object_iter_init (&it, json_node_get_object (vn));
  while (json_object_iter_next (&it, &key, &val)) {
    gint64 id;
    char *piece;
    const char *other;
    if (!JSON_NODE_HOLDS_VALUE (val) || json_node_get_value_type (val) != G_TYPE_INT64
        || (id = json_node_get_int (val)) < 0 || id >= G_MAXINT32) {
      char *d = describe (val);
      gboolean r = fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.vocab[\"%s\"] is %s, expected a token id",
          key, d);
      g_free (d);
      return r;
    }
    if ((other = g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER ((gint) id))))
      return fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.vocab: id %" G_GINT64_FORMAT
          " is given to both \"%s\" and \"%s\"", id, other, key);
    piece = g_strdup (key);
    g_hash_table_insert (tok->vocab, piece, GINT_TO_POINTER ((gint) id));
    g_hash_table_insert (tok->vocab_r, GINT_TO_POINTER ((gint) id), piece);
  }
  tok->n_vocab = g_hash_table_size (tok->vocab);
  if (tok->unk_token && !vocab_get (tok, tok->unk_token, &tok->unk_id))
    tok->unk_id = -1;
  for (guint b = 0; b < 256; b++) {
    char code[8];
    g_snprintf (code, sizeof code, "<0x%02X>", b);
    if (!vocab_get (tok, code, &tok->byte_ids[b]))
      tok->byte_ids[b] = -1;
  }

  /* merges */
  mn = json_object_get_member (o, "merges");
  if (!mn || !JSON_NODE_HOLDS_ARRAY (mn))
    return fail_type (ld, "model.merges", mn, "an array");
  {
    JsonArray *a = json_node_get_array (mn);
    guint n_m = json_array_get_length (a), n_str = 0, n_pair = 0, rank = 0;
    gsize prefix_len = tok->prefix ? strlen (tok->prefix) : 0;
    GString *merged = g_string_new (NULL);
    gboolean ok = TRUE;
    for (guint i = 0; i < n_m; i++) {
      JsonNode *e = json_array_get_element (a, i);
      if (is_string (e))
        n_str++;
      else if (JSON_NODE_HOLDS_ARRAY (e))
        n_pair++;
    }
    if (n_str != n_m && n_pair != n_m) {
      g_string_free (merged, TRUE);
      return fail (ld, VTP_TOKENIZER_ERROR_PARSE,
          "model.merges must hold only \"a b\" strings or only [\"a\", \"b\"] pairs");
    }
    merges_alloc (tok, n_m);
    for (guint i = 0; ok && i < n_m; i++) {
      JsonNode *e = json_array_get_element (a, i);
      char *left = NULL;
      const char *right = NULL;
      gint32 ia, ib, inew;
      if (n_str == n_m && n_m > 0) {
        const char *line = json_node_get_string (e);
        const char *sp;
        if (g_str_has_prefix (line, "#version"))
          continue;
        sp = strchr (line, ' ');
        if (!sp || strchr (sp + 1, ' ')) {
          ok = fail (ld, VTP_TOKENIZER_ERROR_PARSE,
              "model.merges[%u] is \"%s\", expected two pieces separated by one space", i, line);
          break;
        }
        left = g_strndup (line, sp - line);
        right = sp + 1;
      } else {
        JsonArray *pa = json_node_get_array (e);
        if (json_array_get_length (pa) != 2 || !is_string (json_array_get_element (pa, 0))
            || !is_string (json_array_get_element (pa, 1))) {
          char *p = g_strdup_printf ("model.merges[%u]", i);
          ok = fail_type (ld, p, e, "a pair [\"a\", \"b\"]");
          g_free (p);
          break;
        }
        left = g_strdup (json_array_get_string_element (pa, 0));
        right = json_array_get_string_element (pa, 1);
      }
      if (!vocab_get (tok, left, &ia) || !vocab_get (tok, right, &ib)) {
        ok = fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.merges[%u]: \"%s\" is not in model.vocab", i,
            vocab_get (tok, left, &ia) ? right : left);
      } else if (strlen (right) < prefix_len) {
        ok = fail (ld, VTP_TOKENIZER_ERROR_PARSE,
            "model.merges[%u]: \"%s\" is shorter than model.continuing_subword_prefix", i, right);
      } else {
        g_string_assign (merged, left);
        g_string_append (merged, right + prefix_len);
        if (!vocab_get (tok, merged->str, &inew))
          ok = fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.merges[%u]: the merged piece \"%s\" is not in "
              "model.vocab", i, merged->str);
        else
          merges_insert (tok, ia, ib, rank++, inew);
      }
      g_free (left);
    }
    g_string_free (merged, TRUE);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

static gboolean
parse_added_tokens (Ld *ld, VtpTokenizer *tok, JsonNode *n)
{
  JsonArray *a;
  if (is_null (n))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (n))
    return fail_type (ld, "added_tokens", n, "an array");
  a = json_node_get_array (n);
  for (guint i = 0; i < json_array_get_length (a); i++) {
    JsonNode *e = json_array_get_element (a, i);
    char *path = g_strdup_printf ("added_tokens[%u]", i);
    gboolean ok = FALSE;
    if (!e || !JSON_NODE_HOLDS_OBJECT (e)) {
      fail_type (ld, path, e, "an object");
    } else {
      JsonObject *o = json_node_get_object (e);
      const char *content;
      gboolean special, normalized, lstrip, rstrip, single_word;
      gint64 id;
      ok = get_str (ld, o, path, "content", FALSE, &content)
          && get_uint (ld, o, path, "id", 0, &id)
          && get_bool (ld, o, path, "special", FALSE, &special)
          && get_bool (ld, o, path, "normalized", TRUE, &normalized)
          && get_bool (ld, o, path, "lstrip", FALSE, &lstrip)
          && get_bool (ld, o, path, "rstrip", FALSE, &rstrip)
          && get_bool (ld, o, path, "single_word", FALSE, &single_word);
      /* as in tokenizers, the "id" is only a hint: ids come from add_tokens */
      if (ok)
        vtp_tokenizer_add_token_full (tok, content, special, normalized, lstrip, rstrip, single_word);
    }
    g_free (path);
    if (!ok)
      return FALSE;
  }
  return TRUE;
}

VtpTokenizer *
vtp_tokenizer_new_from_data (const char *json, gssize len, const char *name_for_errors, GError **error)
{
  Ld ld = { name_for_errors ? name_for_errors : "tokenizer.json", error };
  JsonParser *parser;
  GError *perr = NULL;
  JsonNode *root, *n;
  JsonObject *top;
  VtpTokenizer *tok;
  const char *version;
  gboolean ok;

  g_return_val_if_fail (json != NULL, NULL);
  parser = json_parser_new_immutable ();
  if (!vtp_json_parser_load (parser, json, len, &perr)) {
    fail (&ld, VTP_TOKENIZER_ERROR_PARSE, "not valid JSON: %s", perr->message);
    g_error_free (perr);
    g_object_unref (parser);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (!JSON_NODE_HOLDS_OBJECT (root)) {
    fail_type (&ld, "the top level", root, "an object");
    g_object_unref (parser);
    return NULL;
  }
  top = json_node_get_object (root);

  tok = g_new0 (VtpTokenizer, 1);
  tok->name = g_strdup (ld.name);
  tok->vocab = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->vocab_r = g_hash_table_new (g_direct_hash, g_direct_equal);
  tok->unk_id = -1;
  tok->norm_ops = g_array_new (FALSE, FALSE, sizeof (NormOp));
  g_array_set_clear_func (tok->norm_ops, norm_op_clear);
  tok->dec_ops = g_array_new (FALSE, FALSE, sizeof (DecOp));
  g_array_set_clear_func (tok->dec_ops, dec_op_clear);
  tok->added_map = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->added_r = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, added_token_free);
  tok->special_set = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  tok->max_added_id = -1;
  ok = get_str (&ld, top, "tokenizer", "version", TRUE, &version);
  if (ok && version && strcmp (version, "1.0") != 0)
    ok = fail (&ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "version is \"%s\", expected \"1.0\"", version);
  if (ok && !is_null (json_object_get_member (top, "truncation")))
    ok = fail (&ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "truncation is set; only null is supported");
  if (ok) {
    n = json_object_get_member (top, "model");
    if (!n)
      ok = fail (&ld, VTP_TOKENIZER_ERROR_PARSE, "model is missing");
    else
      ok = parse_model (&ld, tok, n);
  }
  if (ok && !is_null (n = json_object_get_member (top, "normalizer"))) {
    tok->has_normalizer = TRUE;
    ok = parse_normalizer (&ld, tok, n, "normalizer");
  }
  if (ok && !is_null (n = json_object_get_member (top, "pre_tokenizer")))
    ok = parse_pre_tokenizer (&ld, tok, n);
  if (ok && !is_null (n = json_object_get_member (top, "post_processor")))
    ok = parse_post_processor (&ld, tok, n);
  if (ok && !is_null (n = json_object_get_member (top, "decoder"))) {
    tok->has_decoder = TRUE;
    ok = parse_decoder (&ld, tok, n, "decoder");
  }
  if (ok) {
    tok->loading = TRUE;
    ok = parse_added_tokens (&ld, tok, json_object_get_member (top, "added_tokens"));
    tok->loading = FALSE;
    refresh_added_tokens (tok);
  }
  g_object_unref (parser);
  if (!ok) {
    vtp_tokenizer_free (tok);
    return NULL;
  }
  return tok;
}

VtpTokenizer *
vtp_tokenizer_new_from_file (const char *path, GError **error)
{
  char *data = NULL;
  gsize len = 0;
  GError *ferr = NULL;
  VtpTokenizer *tok;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &data, &len, &ferr)) {
    g_set_error (error, VTP_TOKENIZER_ERROR, VTP_TOKENIZER_ERROR_FILE, "%s: cannot read the tokenizer: %s",
        path, ferr->message);
    g_error_free (ferr);
    return NULL;
  }
  tok = vtp_tokenizer_new_from_data (data, len, path, error);
  g_free (data);
  return tok;
}

void
vtp_tokenizer_free (VtpTokenizer *tok)
{
  if (!tok)
    return;
  g_free (tok->name);
  g_hash_table_unref (tok->vocab_r);
  g_hash_table_unref (tok->vocab);
  g_free (tok->merges);
  g_free (tok->unk_token);
  g_free (tok->prefix);
  g_free (tok->suffix);
  g_array_unref (tok->norm_ops);
  if (tok->tmpl)
    g_array_unref (tok->tmpl);
  g_array_unref (tok->dec_ops);
  g_hash_table_unref (tok->added_map);
  g_hash_table_unref (tok->added_r);
  g_hash_table_unref (tok->special_set);
  matcher_clear (&tok->raw_m);
  matcher_clear (&tok->norm_m);
  g_free (tok);
}
