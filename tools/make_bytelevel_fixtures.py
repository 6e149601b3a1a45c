#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/bytelevel-*/: byte-level BPE tokenizers
(GPT-2's algorithm, as GPT-2, RoBERTa and OPT ship it in tokenizer.json)
trained here with HuggingFace `tokenizers`, and what `tokenizers` makes of
the tokenizer test corpus with each: the reference tests/test-tokenizer.c
compares vtp's tokenizer (models/tokenizers/vtp-tokenizer.c) against. Ids must match
exactly, decodes byte for byte.

  bytelevel-gpt2     vocab 320 (few merges: most text stays in byte
                     pieces), ByteLevel(add_prefix_space=false) pre-tokenizer,
                     decoder and post-processor, merges as "a b" strings,
                     <|endoftext|> special; the whole corpus
  bytelevel-roberta  vocab 1200, add_prefix_space=true, RobertaProcessing
                     (<s> $A </s>), merges as [a, b] pairs, added tokens
                     with lstrip / rstrip / single_word / normalized flags
                     (<mask> lstrip as RoBERTa's) and with chars that are
                     not byte chars (the decoder keeps them as they are)
  bytelevel-opt      laid out as facebook/opt-*'s tokenizer.json: <s> 0,
                     <pad> 1, </s> 2, <unk> 3; ByteLevel(add_prefix_space=
                     false, trim_offsets, use_regex); TemplateProcessing
                     "</s> $A" (OPT's BOS is </s>, id 2); vocab 2000; the
                     whole corpus
  bytelevel-noregex  ByteLevel(use_regex=false, add_prefix_space=true),
                     post-processor Sequence[ByteLevel, TemplateProcessing
                     <s> $A </s>], vocab 600

Every folder's strings also hold 500 short mixed strings (contractions,
whitespace of every kind, letters and numbers of every plane) and probes
of the added tokens.

Each folder: tokenizer.json (as `tokenizers` saves it), expected.jsonl
("text", "ids", "ids_nospecial", "dec", "dec_skip"; a decode equal to the
text is left out), decode.jsonl (random
id lists: lone bytes that are not UTF-8, specials, added tokens, pieces)
and meta.json. The corpus and training text come from
tools/make_tokenizer_fixtures.py (same seeds). Deterministic: re-running
rewrites identical files.

Usage: python3 tools/make_bytelevel_fixtures.py [--out DIR]
       python3 tools/make_bytelevel_fixtures.py --c-tables   # prints the C
           range tables of models/tokenizers/vtp-tok-unicode.c: \p{L} and
           \p{N} as GPT-2's regex sees them in tokenizers (Oniguruma), \w
           as single_word added tokens see it (Rust's regex crate), each
           measured code point by code point (GLib 2.74's Unicode 15 tables
           lack the letters of Unicode 16, which tokenizers 0.23 knows)
"""
import argparse
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures as corpus_tools  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def train(texts, vocab_size, specials, add_prefix_space, use_regex=True):
    """A byte-level BPE over @texts: the 256 byte chars are the alphabet,
    @specials the first ids."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=add_prefix_space, use_regex=use_regex)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def added(content, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"id": 0, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def template(single, specials):
    """A TemplateProcessing with @single (special token names and "$A")"""
    def piece(p):
        if p == "$A":
            return {"Sequence": {"id": "A", "type_id": 0}}
        return {"SpecialToken": {"id": p, "type_id": 0}}
    pieces = [piece(p) for p in single]
    return {"type": "TemplateProcessing", "single": pieces,
            "pair": pieces + [{"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {t: {"id": t, "ids": [i], "tokens": [t]} for t, i in specials.items()}}


def byte_level(add_prefix_space, use_regex=True, trim_offsets=True):
    return {"type": "ByteLevel", "add_prefix_space": add_prefix_space, "trim_offsets": trim_offsets,
            "use_regex": use_regex}


def specs(train_texts):
    out = {}

    tok = train(train_texts, 320, ["<|endoftext|>"], False)
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"] = byte_level(False)
    spec["post_processor"] = byte_level(False)
    spec["decoder"] = byte_level(False)
    spec["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]]
    out["bytelevel-gpt2"] = (spec, ["<|endoftext|>"], True)

    tok = train(train_texts[::-1], 1200, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"], True)
    spec = json.loads(tok.to_str())
    ids = {t: tok.token_to_id(t) for t in ["<s>", "</s>"]}
    spec["pre_tokenizer"] = byte_level(True)
    spec["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", ids["</s>"]], "cls": ["<s>", ids["<s>"]],
                              "trim_offsets": True, "add_prefix_space": True}
    spec["decoder"] = byte_level(True)
    spec["added_tokens"] = [dict(a, id=tok.token_to_id(a["content"])) for a in spec["added_tokens"]]
    for a in spec["added_tokens"]:
        if a["content"] == "<mask>":
            a["lstrip"] = True
    spec["added_tokens"] += [
        added("<image>"),
        added("<tag>", lstrip=True, rstrip=True),
        added("hello", special=False, normalized=True),
        added("cat", special=False, single_word=True),
        added("[END]", special=True, rstrip=True, single_word=True),
        added(" world", special=False, normalized=False),
        # decoded by the ByteLevel decoder too: "中" is no byte's char (the
        # piece stays as it is), "ü" is byte 0xFC's (alone, not UTF-8)
        added("中文", special=False, normalized=False),
        added("über", special=True),
    ]
    out["bytelevel-roberta"] = (spec, ["<image>", "<tag>", "hello", "cat", "[END]", " world", "<mask>", "中文", "über"],
                                False)

    tok = train(train_texts, 2000, ["<s>", "<pad>", "</s>", "<unk>"], False)
    spec = json.loads(tok.to_str())
    assert [tok.token_to_id(t) for t in ["<s>", "<pad>", "</s>", "<unk>"]] == [0, 1, 2, 3]
    spec["pre_tokenizer"] = byte_level(False)
    spec["post_processor"] = template(["</s>", "$A"], {"</s>": 2})
    spec["decoder"] = byte_level(True)
    spec["model"].update({"dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                          "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False})
    out["bytelevel-opt"] = (spec, [], True)

    tok = train(train_texts[1::2], 600, ["<s>", "</s>"], True, use_regex=False)
    spec = json.loads(tok.to_str())
    spec["pre_tokenizer"] = byte_level(True, use_regex=False)
    spec["post_processor"] = {"type": "Sequence", "processors": [
        byte_level(True, trim_offsets=False),
        template(["<s>", "$A", "</s>"], {"<s>": tok.token_to_id("<s>"), "</s>": tok.token_to_id("</s>")})]}
    spec["decoder"] = byte_level(True, use_regex=False)
    out["bytelevel-noregex"] = (spec, [], False)
    return out


PROBES = ["<tag>", " <tag> ", "a <tag>  b", "hello", "hello world", "Hello", "say hello", "sayhello", "cat", "a cat",
          "cats", "concat", "cat!", "_cat", "é cat", "[END]", "a [END] b", "a[END]", "[END]  \n x", "<mask>",
          "a <mask> b", "a<mask>", "  <mask>", "<image>hello", "hello<image>", "<tag><tag>", "<s>cat</s>",
          " world", "hello world world", "<|endoftext|>", "a<|endoftext|>b", "</s></s>", "<pad>", "'s 'll 'S",
          "I'm  you've\t\tthey'd", "  x", "x  ", " \n ", "\u00a0x", "x\u3000y",
          # letters of Unicode 16 (Egyptian Hieroglyphs Extended-A), which GLib 2.74 does not know
          "'re'veX\n\U000136a3'toVbe'll ", "cat\U00013974T world", "'t15\U0001416b[END]", "a\U000136a3'tb", "中文über", "x 中文 über y"]


def mixed_strings(seed, n):
    """Short strings of mixed classes around GPT-2's regex boundaries:
    contractions, whitespace runs of every kind, letters and numbers from
    every plane (Unicode 16 ones included), the added tokens' texts."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 12)):
            r = rng.random()
            if r < 0.3:
                parts.append(chr(rng.randint(0x20, 0x7E)))
            elif r < 0.45:
                parts.append(rng.choice([" ", "  ", "\t", "\n", "\u00a0", "\u3000", "\u2028", "\x0b", "\x85",
                                         "\u200b", "\u180e", "\ufeff", "\u1680", " \n"]))
            elif r < 0.55:
                parts.append(rng.choice(["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'x", "'"]))
            elif r < 0.7:
                parts.append(corpus_tools.rand_unicode(rng))
            elif r < 0.8:
                parts.append(chr(rng.choice([rng.randint(0x80, 0x2FFFF), rng.randint(0x13460, 0x143FF)])))
            elif r < 0.9:
                parts.append(rng.choice(corpus_tools.WORDS_EN + corpus_tools.WORDS_ACCENT + corpus_tools.WORDS_CJK))
            else:
                parts.append(rng.choice(PROBES + ["0123", "½²", "Ⅻ", "٣٤"]))
        s = "".join(c for c in "".join(parts) if not 0xD800 <= ord(c) <= 0xDFFF and c != "\x00")
        out.append(s)
    return out


def random_id_lists(rng, tok, n, extra_ids):
    """Id lists for the decoder: pieces of single bytes (0x80-0xFF alone is
    not UTF-8), multi-byte chars split across pieces, specials, added
    tokens and ordinary pieces."""
    vocab = tok.get_vocab(with_added_tokens=True)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    byte_ids = sorted(vocab[c] for c in alphabet if c in vocab)
    piece_ids = sorted(vocab.values())
    out = []
    for _ in range(n):
        ids = []
        for _ in range(rng.randint(0, 12)):
            r = rng.random()
            if r < 0.3:
                ids.append(rng.choice(byte_ids))
            elif r < 0.45 and extra_ids:
                ids.append(rng.choice(extra_ids))
            else:
                ids.append(rng.choice(piece_ids))
        out.append(ids)
    return out


# --------------------------------------------------------------------------
# Character classes, measured

SCALARS = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]


def regex_class(lead):
    """The code points that GPT-2's regex puts in one piece with @lead ("a":
    \p{L}, "1": \p{N}): each after @lead, then a NUL to end the run."""
    pre = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    out = set()
    for k in range(0, len(SCALARS), 20000):
        chunk = SCALARS[k:k + 20000]
        piece_start = {}
        for _, (a, b) in pre.pre_tokenize_str("".join(lead + chr(c) + "\x00" for c in chunk)):
            for i in range(a, b):
                piece_start[i] = a
        out.update(c for j, c in enumerate(chunk) if piece_start.get(3 * j + 1) == 3 * j)
    return out


def word_class():
    """The code points that are \\w for single_word added tokens: an added
    "\\x01" (single_word) right after one matches only when it is not."""
    tok = Tokenizer(models.BPE())
    tok.add_tokens([AddedToken("\x01", single_word=True, normalized=False, special=False)])
    mark = tok.token_to_id("\x01")
    out = set()
    for k in range(0, len(SCALARS), 20000):
        chunk = [c for c in SCALARS[k:k + 20000] if c not in (0x01, 0x20)]
        enc = tok.encode("".join(chr(c) + "\x01 " for c in chunk), add_special_tokens=False)
        matched = set(a for i, (a, _) in zip(enc.ids, enc.offsets) if i == mark)
        out.update(c for j, c in enumerate(chunk) if 3 * j + 1 not in matched)
    return out


def c_ranges(name, comment, cps):
    ranges = []
    for c in sorted(cps):
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    lines = ["/* %s: %d code points in %d ranges */" % (comment, len(cps), len(ranges)),
             "static const CpRange %s[] = {" % name]
    cells = ["{ 0x%X, 0x%X }," % (a, b) for a, b in ranges]
    line = " "
    for cell in cells:
        if len(line) + len(cell) + 1 > 118:
            lines.append(line)
            line = " "
        line += " " + cell
    lines.append(line)
    lines.append("};")
    return "\n".join(lines)


def print_c_tables():
    print("/* GPT-2's regex classes and \\w as tokenizers %s sees them, measured by"
          % __import__("tokenizers").__version__)
    print(" * `tools/make_bytelevel_fixtures.py --c-tables` (which prints this block) */")
    letters, word = regex_class("a"), word_class()
    assert letters <= word      # so \w is stored as what it adds to \p{L}
    print(c_ranges("letter_ranges", "\\p{L}", letters))
    print(c_ranges("number_ranges", "\\p{N}", regex_class("1")))
    print(c_ranges("word_extra_ranges", "\\w beyond \\p{L} (marks, digits, connectors)", word - letters))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer"))
    ap.add_argument("--c-tables", action="store_true", help="print the C tables of models/tokenizers/vtp-tok-unicode.c")
    args = ap.parse_args()
    if args.c_tables:
        print_c_tables()
        return 0

    corpus, train_texts, held_out = corpus_tools.corpora()

    for name, (spec, extra_tokens, whole_corpus) in specs(train_texts).items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        # save what tokenizers itself writes, then test against a reload of that file
        tok = Tokenizer.from_str(json.dumps(spec))
        saved = json.loads(tok.to_str())
        if name == "bytelevel-gpt2":
            saved["model"]["merges"] = spec["model"]["merges"]     # keep the "a b" strings
        tok_path = os.path.join(d, "tokenizer.json")
        corpus_tools.write_json(tok_path, saved)
        tok = Tokenizer.from_file(tok_path)
        texts = corpus_tools.dedup((corpus if whole_corpus else held_out) + PROBES + mixed_strings(23, 500))
        rows = corpus_tools.expected_rows(tok, texts)
        for r in rows:      # to stay small: a decode equal to the text is left out
            for k in ("dec", "dec_skip"):
                if r[k] == r["text"]:
                    del r[k]
        corpus_tools.write_jsonl(os.path.join(d, "expected.jsonl"), rows)
        specials = [t for t in ["<|endoftext|>", "<s>", "<pad>", "</s>", "<unk>"] if tok.token_to_id(t) is not None]
        extra = [tok.token_to_id(t) for t in specials + extra_tokens]
        dec = corpus_tools.decode_rows(tok, random_id_lists(random.Random(17), tok, 200, extra))
        corpus_tools.write_jsonl(os.path.join(d, "decode.jsonl"), dec)
        bos = tok.encode("", add_special_tokens=True).ids
        meta = {"vocab_size": tok.get_vocab_size(True), "model_vocab_size": tok.get_vocab_size(False),
                "bos_id": bos[0] if bos else -1, "n_expected": len(rows), "n_decode": len(dec),
                "token_ids": {t: tok.token_to_id(t) for t in specials + extra_tokens}}
        corpus_tools.write_json(os.path.join(d, "meta.json"), meta)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print("%s: vocab %d, %d strings, %d tokens, %d decode cases, %.0f KiB" % (
            name, meta["vocab_size"], len(rows), sum(len(r["ids"]) for r in rows), len(dec), size / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
