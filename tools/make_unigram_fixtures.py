#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/unigram-*/: Unigram (SentencePiece)
tokenizers laid out as T5 / Flan-T5's tokenizer.json, and what HuggingFace
`tokenizers` makes of the tokenizer test corpus with each: the reference
tests/test-tokenizer.c compares vtp's tokenizer against. Ids must match
exactly, decodes byte for byte.

The pieces and scores are learned by the `sentencepiece` package as T5's
were (Unigram, <pad> 0, </s> 1, <unk> 2, no <s>, nmt_nfkc normalization;
one thread, so re-running gives the same files; tokenizers'
UnigramTrainer does not: its pieces change from run to run), read out of
the model with a few lines of protobuf reading (ModelProto.pieces, field
1; normalizer_spec, field 3, its precompiled_charsmap, field 2; no protobuf
package needed). The tokenizer.json is then written by transformers'
T5Tokenizer, which is how transformers converts T5's spiece.model: the
Precompiled normalizer (the model's charsmap), pre-tokenizer
Sequence[WhitespaceSplit, Metaspace("▁", prepend_scheme always, split)],
the Unigram model (unk_id 2), TemplateProcessing "$A </s>" and the
Metaspace decoder.

  unigram-t5-small   vocab 160 (ASCII only: other chars are unknown, unk
                     runs fused); the whole corpus
  unigram-t5         vocab 800 + a repeated piece (the later id encodes,
                     both decode)
  unigram-t5-large   vocab 4000, trained on the whole training text
  unigram-flan-t5    vocab 1500 + 100 <extra_id_N> sentinels, laid out as
                     google/flan-t5-*'s (<extra_id_99> first, after the
                     pieces; added special tokens) and written as the hub's
                     files are (Metaspace's legacy add_prefix_space, no
                     byte_fallback); the whole corpus
  unigram-t5-hf4     vocab 700, laid out as transformers 4.x's SpmConverter
                     wrote T5 (from memory: no published file at hand):
                     Precompiled then Replace(Regex " {2,}", " "),
                     Metaspace alone
  unigram-spm-regex  the same pieces behind SentencePiece's own settings as
                     transformers 5's SpmConverter writes them (Strip,
                     Regex Replaces "\A +| +\z", " {2,}", "\A▁"), and
                     line anchors ("^-+|!{2}$|a{2,3}")
  unigram-bytes      vocab 600 with SentencePiece's <0xXX> pieces,
                     byte_fallback (the ids spell out the normalized text),
                     Metaspace prepend_scheme first, "<s> $A"; 2,000 more
                     strings of the chars the Precompiled normalizer treats
                     apart

The others take the held-out strings. Every folder also holds probes of
the specials and 300 short mixed strings. Each folder: tokenizer.json,
expected.jsonl ("text", "ids", "ids_nospecial", "dec", "dec_skip"; a decode
equal to the text left out), decode.jsonl (random id lists), meta.json.
The corpus and training text come from tools/make_tokenizer_fixtures.py
(same seeds).

Usage: python3 tools/make_unigram_fixtures.py [--out DIR]
       python3 tools/make_unigram_fixtures.py --c-tables   # prints the
           grapheme-cluster tables of models/tokenizers/vtp-tok-unicode.c
           that the Precompiled normalizer needs, measured with the
           `regex` module's \\X (extended grapheme clusters)
"""
import argparse
import io
import json
import os
import random
import struct
import sys

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_tokenizer_fixtures as corpus_tools  # noqa: E402
import make_bytelevel_fixtures as bytelevel_tools  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T5_SPECIALS = ["<pad>", "</s>", "<unk>"]


# --------------------------------------------------------------------------
# SentencePiece models: pieces, scores, precompiled_charsmap

def protobuf_fields(buf):
    """(field number, wire type, value) of a protobuf message: enough of the
    wire format to walk a SentencePiece ModelProto"""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        field, wire = key >> 3, key & 7
        if wire == 0:
            val, i = varint(buf, i)
        elif wire == 1:
            val, i = buf[i:i + 8], i + 8
        elif wire == 2:
            n, i = varint(buf, i)
            val, i = buf[i:i + n], i + n
        elif wire == 5:
            val, i = buf[i:i + 4], i + 4
        else:
            raise ValueError("protobuf wire type %d" % wire)
        yield field, wire, val


def varint(buf, i):
    shift = val = 0
    while True:
        b = buf[i]
        i += 1
        val |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return val, i


def train_spm(texts, vocab_size, byte_fallback=False, coverage=0.9995):
    """A SentencePiece Unigram model trained on @texts as T5's was (<pad> 0,
    </s> 1, <unk> 2, no <s>; nmt_nfkc normalization), single-threaded so
    that re-running gives the same pieces: ([piece, score] pairs, the
    precompiled_charsmap)"""
    import sentencepiece as spm
    model = io.BytesIO()
    lines = [t for t in (" ".join(s.split()) for s in texts) if t]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=vocab_size,
                                   model_type="unigram", normalization_rule_name="nmt_nfkc", pad_id=0, eos_id=1,
                                   unk_id=2, bos_id=-1, byte_fallback=byte_fallback, character_coverage=coverage,
                                   num_threads=1, minloglevel=2, max_sentencepiece_length=12)
    pieces, charsmap = [], None
    for field, _, val in protobuf_fields(model.getvalue()):
        if field == 1:      # pieces: {piece = 1, score = 2 (float)}
            piece = dict((f, v) for f, _, v in protobuf_fields(val))
            pieces.append((bytes(piece[1]).decode("utf-8"), struct.unpack("<f", bytes(piece[2]))[0]
                           if 2 in piece else 0.0))
        elif field == 3:    # normalizer_spec: {precompiled_charsmap = 2}
            charsmap = next(bytes(v) for f, _, v in protobuf_fields(val) if f == 2)
    assert [p for p, _ in pieces[:3]] == T5_SPECIALS, pieces[:3]
    return pieces, charsmap


def t5_tokenizer_json(vocab, charsmap, extra_ids):
    """The tokenizer.json transformers' T5Tokenizer writes for @vocab
    (flan-t5's sentinels appended, <extra_id_{extra_ids - 1}> first)"""
    from transformers.models.t5.tokenization_t5 import T5Tokenizer
    vocab = list(vocab) + [("<extra_id_%d>" % i, 0.0) for i in range(extra_ids - 1, -1, -1)]
    t5 = T5Tokenizer(vocab=vocab, _spm_precompiled_charsmap=charsmap, extra_ids=extra_ids)
    return json.loads(t5._tokenizer.to_str())


def hub_layout(spec):
    """@spec as the google/flan-t5-* tokenizer.json files are written (by
    tokenizers 0.13): Metaspace with add_prefix_space instead of
    prepend_scheme / split, no byte_fallback in the model"""
    legacy = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    spec = dict(spec)
    spec["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, legacy]}
    spec["decoder"] = dict(legacy)
    spec["model"] = {"type": "Unigram", "unk_id": spec["model"]["unk_id"], "vocab": spec["model"]["vocab"]}
    return spec


def regex_layout(spec, normalizers_, pre_tokenizer, decoder):
    """@spec with the normalizer, pre-tokenizer and decoder of another
    converter (given as tokenizer.json objects)"""
    spec = dict(spec)
    spec["normalizer"] = {"type": "Sequence", "normalizers": [spec["normalizer"]] + normalizers_}
    spec["pre_tokenizer"] = pre_tokenizer
    spec["decoder"] = decoder
    return spec


def regex_replace(pattern, content):
    return {"type": "Replace", "pattern": {"Regex": pattern}, "content": content}


def byte_fallback_json(pieces, charsmap):
    """@pieces (with SentencePiece's <0xXX> pieces) as a byte_fallback
    Unigram, Metaspace prepend_scheme first, "<s> $A" with a <s> added at
    the end: unknown chars become their bytes, so the ids spell out what
    the Precompiled normalizer made of the text"""
    pieces = list(pieces) + [("<s>", 0.0)]
    tok = Tokenizer(models.Unigram(pieces, unk_id=2, byte_fallback=True))
    tok.normalizer = normalizers.Precompiled(charsmap)
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="first", split=True)
    tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse(),
                                     decoders.Strip(content=" ", left=1)])
    spec = json.loads(tok.to_str())
    spec["added_tokens"] = [bytelevel_tools.added(t) for t in T5_SPECIALS + ["<s>"]]
    spec["post_processor"] = bytelevel_tools.template(["<s>", "$A"], {"<s>": len(pieces) - 1})
    return spec


def restricted(texts, alphabet):
    """@texts with only the chars of @alphabet (SentencePiece keeps nearly
    every char it sees, so a small vocabulary needs a small alphabet)"""
    return [t for t in ("".join(c for c in s if c in alphabet) for s in texts) if t.strip()]


def specs(train_texts):
    ascii_ = set(chr(c) for c in range(0x20, 0x7F)) | {"\t", "\n"}
    small = restricted(train_texts, ascii_)
    mid = restricted(train_texts, corpus_tools.TRAIN_ALPHABET)
    out = {}
    pieces, charsmap = train_spm(small[:800], 160)
    out["unigram-t5-small"] = (t5_tokenizer_json(pieces, charsmap, 0), True)
    pieces, charsmap = train_spm(mid, 800)
    # a repeated piece (the later id encodes, both decode), as tokenizers allows
    pieces = pieces + [(pieces[40][0], pieces[40][1] - 0.5)]
    out["unigram-t5"] = (t5_tokenizer_json(pieces, charsmap, 0), False)
    pieces, charsmap = train_spm(train_texts, 4000)
    out["unigram-t5-large"] = (t5_tokenizer_json(pieces, charsmap, 0), False)
    pieces, charsmap = train_spm(mid[::-1], 1500)
    out["unigram-flan-t5"] = (hub_layout(t5_tokenizer_json(pieces, charsmap, 100)), True)
    # T5 as transformers 4.x's SpmConverter wrote it (from memory):
    # runs of spaces to one, Metaspace alone
    legacy = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    pieces, charsmap = train_spm(mid[1::3], 700)
    t5 = t5_tokenizer_json(pieces, charsmap, 0)
    out["unigram-t5-hf4"] = (regex_layout(t5, [regex_replace(" {2,}", " ")], legacy, dict(legacy)), False)
    # SentencePiece's own settings as transformers 5's SpmConverter writes
    # them, a Strip and line anchors besides
    spm_norm = [{"type": "Strip", "strip_left": False, "strip_right": True}, regex_replace("\\A +| +\\z", ""),
                regex_replace(" {2,}", " "), {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
                regex_replace("\\A\u2581", "\u2581\u2581"), regex_replace("^-+|!{2}$|a{2,3}", "~")]
    meta_always = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": False}
    spm_decoder = {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
    out["unigram-spm-regex"] = (regex_layout(t5, spm_norm, meta_always, spm_decoder), False)
    pieces, charsmap = train_spm(small[1::2], 600, byte_fallback=True)
    out["unigram-bytes"] = (byte_fallback_json(pieces, charsmap), False)
    return out, charsmap


PROBES = ["<pad>", "</s>", "<unk>", "a<unk>b", "x </s> y", "<extra_id_0>", "fill <extra_id_99> in <extra_id_1>.",
          "<extra_id_100>", "  leading and   inner   spaces  ", "tab\tnew\nline\r\n", "\u3000ideographic\u3000space",
          "ﬁne ﬂour", "Ｆｕｌｌｗｉｄｔｈ １２３", "ｶﾀｶﾅ ﾊﾟ", "e\u0301 a\u0308 n\u0303", "Å Å Å", "①②③ ⅻ ㎏",
          "x\u00a0y", "soft\u00adhyphen", "zero\u200bwidth\u200djoiner", "\ufeffbom", "a\u0301\u0302\u0303",
          "\u0915\u094d\u0937", "\U0001F44D\U0001F3FD \u2764\ufe0f", "\U0001F1EB\U0001F1F7", "\u1100\u1161\u11a8",
          "ｅ\u0301", "Ａ\u0308", "ﬁ\u0301", "\r\u0301", "a\u200d", "\u0600a", "ﾞ", "…", "™", "½", "µ", "Ω", "Ǆ",
          "--- dashes\nend!!\n-x!!\n!!!", "aaaa aa aaa a", " \u2581lead", "\u2581\u2581x", "x  \n  y   ", "   "]


def normalizer_strings(seed, n, charsmap):
    """Short strings of the chars the Precompiled normalizer treats apart:
    chars with a rule of their own, combining and spacing marks, ZWJ,
    Prepend and control chars, after bases of 1 to 4 bytes, so that
    grapheme clusters under and over 6 bytes both occur"""
    import regex
    norm = normalizers.Precompiled(charsmap)
    scalars = [c for c in range(0x20, 0x30000) if not 0xD800 <= c <= 0xDFFF]
    rng = random.Random(seed)
    sample = rng.sample(scalars, 60000)
    ruled = [chr(c) for c in sample if norm.normalize_str(chr(c)) != chr(c)]
    marks = [chr(c) for c in sample if regex.fullmatch(r"\X", "b" + chr(c))]
    prepend = ["\u0600", "\u0601", "\u06dd", "\u070f", "\u0890", "\u08e2", "\u0d4e", "\U000110bd", "\U00011a3a"]
    other = ["\r", "\n", "\t", "\x7f", "\x85", "\u200d", "\u200c", "\ufe0f", "\u00ad", " ", "a", "e", "é", "中",
             "\U0001F44D", "\u3000", "\u00a0"]
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            pool = ruled if r < 0.4 else marks if r < 0.75 else prepend if r < 0.8 else other
            parts.append(rng.choice(pool))
        out.append("".join(parts))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer"))
    ap.add_argument("--c-tables", action="store_true", help="print the grapheme tables of vtp-tok-unicode.c")
    args = ap.parse_args()
    if args.c_tables:
        print_c_tables()
        return 0

    corpus, train_texts, held_out = corpus_tools.corpora()
    all_specs, charsmap = specs(train_texts)
    for name, (spec, whole_corpus) in all_specs.items():
        d = os.path.join(args.out, name)
        os.makedirs(d, exist_ok=True)
        tok = Tokenizer.from_str(json.dumps(spec))
        tok_path = os.path.join(d, "tokenizer.json")
        with open(tok_path, "w", encoding="utf-8", newline="\n") as f:
            # the hub's layout as it is; the others as tokenizers saves them
            f.write((corpus_tools.dumps(spec) if name == "unigram-flan-t5" else tok.to_str(pretty=False)) + "\n")
        tok = Tokenizer.from_file(tok_path)
        texts = corpus_tools.dedup((corpus if whole_corpus else held_out) + PROBES +
                                   bytelevel_tools.mixed_strings(29, 300) +
                                   (normalizer_strings(31, 2000, charsmap) if name == "unigram-bytes" else []))
        rows = corpus_tools.expected_rows(tok, texts)
        for r in rows:
            for k in ("dec", "dec_skip"):
                if r[k] == r["text"]:
                    del r[k]
        corpus_tools.write_jsonl(os.path.join(d, "expected.jsonl"), rows)
        specials = [t for t in ["<pad>", "</s>", "<unk>", "<s>", "<extra_id_0>", "<extra_id_99>"]
                    if tok.token_to_id(t) is not None]
        extra = [tok.token_to_id(t) for t in specials]
        dec = corpus_tools.decode_rows(tok, corpus_tools.random_id_lists(random.Random(19), tok, 200, extra))
        corpus_tools.write_jsonl(os.path.join(d, "decode.jsonl"), dec)
        # a BOS only where the template starts with a special (T5's ends with </s>)
        single = spec["post_processor"]["single"]
        bos = tok.encode("", add_special_tokens=True).ids if "SpecialToken" in single[0] else []
        meta = {"vocab_size": tok.get_vocab_size(True), "model_vocab_size": tok.get_vocab_size(False),
                "bos_id": bos[0] if bos else -1, "n_expected": len(rows), "n_decode": len(dec),
                "token_ids": {t: tok.token_to_id(t) for t in specials}}
        corpus_tools.write_json(os.path.join(d, "meta.json"), meta)
        size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
        print("%s: vocab %d, %d strings, %d tokens, %d decode cases, %.0f KiB" % (
            name, meta["vocab_size"], len(rows), sum(len(r["ids"]) for r in rows), len(dec), size / 1024))
    return 0


# --------------------------------------------------------------------------
# Grapheme clusters, measured

def print_c_tables():
    """The classes the Precompiled normalizer's grapheme clusters need, for
    clusters shorter than 6 bytes (longer ones are taken char by char, as
    single chars are): which chars join the char before them (Extend, ZWJ,
    SpacingMark), which join the char after them (Prepend), and which break
    on both sides (Control, CR, LF)"""
    import regex
    scalars = [c for c in range(1, 0x110000) if not 0xD800 <= c <= 0xDFFF]

    def one(s):
        return regex.fullmatch(r"\X", s) is not None
    join_after = [c for c in scalars if one("b" + chr(c))]
    join_before = [c for c in scalars if one(chr(c) + "a")]
    breaks = [c for c in scalars if not one(chr(c) + "\u0301")]
    print("/* Grapheme cluster classes as the `regex` module's \\X sees them (module %s), measured by" %
          regex.__version__)
    print(" * `tools/make_unigram_fixtures.py --c-tables` (which prints this block) */")
    print(bytelevel_tools.c_ranges("gc_extend_ranges", "joins the char before (Extend, ZWJ, SpacingMark)",
                                   set(join_after)))
    print(bytelevel_tools.c_ranges("gc_prepend_ranges", "joins the char after (Prepend)", set(join_before)))
    print(bytelevel_tools.c_ranges("gc_control_ranges", "breaks on both sides (Control, CR, LF)", set(breaks)))


if __name__ == "__main__":
    sys.exit(main())
