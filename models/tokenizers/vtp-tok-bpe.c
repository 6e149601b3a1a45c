/* vtp-tok-bpe.c: the BPE model (tokenizers' models::bpe). A word starts as
 * one symbol per char (its vocab piece; else its <0xXX> byte pieces with
 * byte_fallback; else unk, fused or not), then the best-ranked adjacent
 * pair is merged until none is left, by a min-heap on (rank, position) with
 * word.rs merge_all's stale-entry rule. Byte-level BPE (GPT-2, OPT) is this
 * same model behind the ByteLevel pre-tokenizer, whose words are already
 * written in bytes_to_unicode chars. */
#include "vtp-tok-private.h"
#include <string.h>

#define EMPTY_KEY G_MAXUINT64

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

void
tok_bpe_alloc_merges (VtpTokenizer *tok, guint n)
{
  guint64 cap = 16;
  while (cap < (guint64) n * 2 + 16)
    cap <<= 1;
  g_free (tok->merges);
  tok->merges = g_new (TokMerge, cap);
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

static inline const TokMerge *
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

/* One merge "left right": both pieces and their concatenation (without
 * the right piece's continuing_subword_prefix) must be in the vocab */
gboolean
tok_bpe_add_merge (TokLd *ld, VtpTokenizer *tok, const char *what, guint index, const char *left,
    const char *right, guint32 rank, GString *merged)
{
  gint32 ia, ib, inew;
  if (!tok_vocab_get (tok, left, &ia) || !tok_vocab_get (tok, right, &ib))
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s[%u]: \"%s\" is not in model.vocab", what, index,
        tok_vocab_get (tok, left, &ia) ? right : left);
  if (strlen (right) < tok->prefix_len)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE,
        "%s[%u]: \"%s\" is shorter than model.continuing_subword_prefix", what, index, right);
  g_string_assign (merged, left);
  g_string_append (merged, right + tok->prefix_len);
  if (!tok_vocab_get (tok, merged->str, &inew))
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "%s[%u]: the merged piece \"%s\" is not in model.vocab",
        what, index, merged->str);
  merges_insert (tok, ia, ib, rank, inew);
  return TRUE;
}

void
tok_bpe_find_byte_pieces (VtpTokenizer *tok)
{
  if (tok->unk_token && !tok_vocab_get (tok, tok->unk_token, &tok->unk_id))
    tok->unk_id = -1;
  for (guint b = 0; b < 256; b++) {
    char code[8];
    g_snprintf (code, sizeof code, "<0x%02X>", b);
    if (!tok_vocab_get (tok, code, &tok->byte_ids[b]))
      tok->byte_ids[b] = -1;
  }
}

/* ------------------------------------------------------------------------ */
/* Encoding one word */

typedef struct {
  gint32 c, prev, next;
  gsize len;
} Sym;

typedef struct {
  guint32 rank;
  gint32 pos, new_id;
} HeapItem;

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
    const TokMerge *m = merges_get (tok, sy[i].c, sy[i + 1].c);
    if (m)
      heap_push (heap, m->rank, i, m->new_id);
  }
  while (heap_pop (heap, &top)) {
    Sym *cur = &sy[top.pos];
    if (cur->len == 0 || cur->next == -1)
      continue;
    gint32 next_pos = cur->next;
    Sym right = sy[next_pos];
    const TokMerge *m = merges_get (tok, cur->c, right.c);
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

/* BPE::tokenize on one word; appends the ids to @out */
gboolean
tok_bpe_word (const VtpTokenizer *tok, TokScratch *sc, const char *w, gsize n, GArray *out, GError **error)
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
    if (tok_vocab_get (tok, sc->key->str, &id)) {
      g_array_append_val (out, id);
      return TRUE;
    }
  }

  g_array_set_size (sc->syms, 0);
  for (gsize i = 0; i < n;) {
    gsize l = tok_utf8_char_len ((guchar) w[i]);
    gboolean first = i == 0, last = i + l >= n;
    g_string_truncate (sc->key, 0);
    if (!first && tok->prefix)
      g_string_append (sc->key, tok->prefix);
    g_string_append_len (sc->key, w + i, l);
    if (last && tok->suffix)
      g_string_append (sc->key, tok->suffix);

    if (tok_vocab_get (tok, sc->key->str, &id)) {
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
      /* without an unk_token the char is dropped, as in model.rs */
      if (!done && tok->unk_token) {
        if (have_unk && tok->fuse_unk) {
          unk_len += l;
        } else {
          if (have_unk)
            sym_add (sc->syms, unk_c, unk_len);
          if (!tok_unk_id (tok, &unk_c, error))
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

gsize
tok_bpe_sym_size (void)
{
  return sizeof (Sym);
}

gsize
tok_bpe_heap_item_size (void)
{
  return sizeof (HeapItem);
}

/* ------------------------------------------------------------------------ */
/* Loading */

gboolean
tok_parse_vocab (TokLd *ld, VtpTokenizer *tok, JsonObject *o)
{
  JsonNode *vn = json_object_get_member (o, "vocab");
  JsonObjectIter it;
  const char *key;
  JsonNode *val;

  if (!vn || !JSON_NODE_HOLDS_OBJECT (vn))
    return tok_fail_type (ld, "model.vocab", vn, "an object {piece: id}");
  json_object_iter_init (&it, json_node_get_object (vn));
  while (json_object_iter_next (&it, &key, &val)) {
    gint64 id;
    const char *other;
    if (!tok_is_int (val) || (id = json_node_get_int (val)) < 0 || id >= G_MAXINT32) {
      char *d = tok_describe (val);
      gboolean r = tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.vocab[\"%s\"] is %s, expected a token id",
          key, d);
      g_free (d);
      return r;
    }
    if ((other = g_hash_table_lookup (tok->vocab_r, GINT_TO_POINTER ((gint) id))))
      return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE, "model.vocab: id %" G_GINT64_FORMAT
          " is given to both \"%s\" and \"%s\"", id, other, key);
    tok_vocab_insert (tok, key, strlen (key), (gint32) id, FALSE);
  }
  tok->n_vocab = g_hash_table_size (tok->vocab);
  return TRUE;
}

/* "merges": all "a b" strings or all ["a", "b"] pairs */
static gboolean
parse_merges (TokLd *ld, VtpTokenizer *tok, JsonObject *o)
{
  JsonNode *mn = json_object_get_member (o, "merges");
  JsonArray *a;
  guint n_m, n_str = 0, n_pair = 0, rank = 0;
  GString *merged;
  gboolean ok = TRUE;

  if (!mn || !JSON_NODE_HOLDS_ARRAY (mn))
    return tok_fail_type (ld, "model.merges", mn, "an array");
  a = json_node_get_array (mn);
  n_m = json_array_get_length (a);
  for (guint i = 0; i < n_m; i++) {
    JsonNode *e = json_array_get_element (a, i);
    if (tok_is_string (e))
      n_str++;
    else if (JSON_NODE_HOLDS_ARRAY (e))
      n_pair++;
  }
  if (n_str != n_m && n_pair != n_m)
    return tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE,
        "model.merges must hold only \"a b\" strings or only [\"a\", \"b\"] pairs");
  tok_bpe_alloc_merges (tok, n_m);
  merged = g_string_new (NULL);
  for (guint i = 0; ok && i < n_m; i++) {
    JsonNode *e = json_array_get_element (a, i);
    char *left = NULL;
    const char *right = NULL;
    if (n_str == n_m) {
      const char *line = json_node_get_string (e);
      const char *sp;
      if (g_str_has_prefix (line, "#version"))
        continue;
      sp = strchr (line, ' ');
      if (!sp || strchr (sp + 1, ' ')) {
        ok = tok_fail (ld, VTP_TOKENIZER_ERROR_PARSE,
            "model.merges[%u] is \"%s\", expected two pieces separated by one space", i, line);
        break;
      }
      left = g_strndup (line, sp - line);
      right = sp + 1;
    } else {
      JsonArray *pa = json_node_get_array (e);
      if (json_array_get_length (pa) != 2 || !tok_is_string (json_array_get_element (pa, 0))
          || !tok_is_string (json_array_get_element (pa, 1))) {
        char *p = g_strdup_printf ("model.merges[%u]", i);
        ok = tok_fail_type (ld, p, e, "a pair [\"a\", \"b\"]");
        g_free (p);
        break;
      }
      left = g_strdup (json_array_get_string_element (pa, 0));
      right = json_array_get_string_element (pa, 1);
    }
    ok = tok_bpe_add_merge (ld, tok, "model.merges", i, left, right, rank++, merged);
    g_free (left);
  }
  g_string_free (merged, TRUE);
  return ok;
}

gboolean
tok_parse_bpe (TokLd *ld, VtpTokenizer *tok, JsonObject *o)
{
  JsonNode *dn = json_object_get_member (o, "dropout");
  const char *s;

  if (!tok_is_null (dn)) {
    if (!JSON_NODE_HOLDS_VALUE (dn) || (json_node_get_value_type (dn) != G_TYPE_DOUBLE
            && json_node_get_value_type (dn) != G_TYPE_INT64))
      return tok_fail_type (ld, "model.dropout", dn, "null or a number");
    if (json_node_get_double (dn) != 0.0)
      return tok_fail (ld, VTP_TOKENIZER_ERROR_UNSUPPORTED, "model.dropout is %g, expected null or 0 (BPE "
          "dropout is random)", json_node_get_double (dn));
  }
  if (!tok_get_str (ld, o, "model", "unk_token", NULL, TRUE, &s))
    return FALSE;
  tok->unk_token = g_strdup (s);
  if (!tok_get_str (ld, o, "model", "continuing_subword_prefix", NULL, TRUE, &s))
    return FALSE;
  tok->prefix = g_strdup (s);
  tok->prefix_len = s ? strlen (s) : 0;
  if (!tok_get_str (ld, o, "model", "end_of_word_suffix", NULL, TRUE, &s))
    return FALSE;
  tok->suffix = g_strdup (s);
  if (!tok_get_bool (ld, o, "model", "fuse_unk", FALSE, &tok->fuse_unk)
      || !tok_get_bool (ld, o, "model", "byte_fallback", FALSE, &tok->byte_fallback)
      || !tok_get_bool (ld, o, "model", "ignore_merges", FALSE, &tok->ignore_merges))
    return FALSE;
  if (!tok_parse_vocab (ld, tok, o))
    return FALSE;
  tok_bpe_find_byte_pieces (tok);
  return parse_merges (ld, tok, o);
}
