#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/: the reference ids and strings that
tests/test-tokenizer.c compares vtp's tokenizer (models/tokenizers/vtp-tokenizer.c)
against, all computed with HuggingFace `tokenizers`.

  corpus.jsonl            {"text": ...} per line: hand-written edge cases and
                          generated strings (whitespace runs, accents, emoji
                          with ZWJ / skin tones, CJK, RTL and Indic scripts,
                          code, numbers, punctuation, very long words,
                          <image> / <s> / </s> literals, "")
  llama2-expected.jsonl   per corpus line, for the real Llama-2 tokenizer.json
                          (found at $VTP_SHARED_DIR/testdata/tokenizers/llama2-7b,
                          default ../shared; not committed): "ids" =
                          encode(text, add_special_tokens=True).ids and the
                          decodes of those ids with skip_special_tokens False /
                          True ("dec", "dec_skip"); "ids_image", "dec_image",
                          "dec_image_skip" the same once <image> is added as a
                          special token (id 32000). To stay small, "dec_skip"
                          is left out when it equals the text, and the
                          *_image fields when ids_image == ids.
  llama2-decode.jsonl     random id lists (byte pieces, specials, <image>,
                          pieces) and HF's decode of them
  llama2-meta.json        sha256 of the tokenizer.json used, vocab sizes, ids
  small-*/                trained tokenizers (committed tokenizer.json), each
                          with expected.jsonl (held-out strings: "text",
                          "ids", "ids_nospecial", "dec", "dec_skip"),
                          decode.jsonl and meta.json:
    small-legacy          Llama legacy layout (Prepend+Replace normalizer),
                          merges as "a b" strings, byte fallback
    small-metaspace       Metaspace(prepend_scheme first, split false), no
                          normalizer, merges as [a, b] pairs, byte fallback
    small-variants        Replace normalizers + Metaspace(first, split true),
                          byte fallback with pieces for only some bytes,
                          unfused unk, ignore_merges,
                          Metaspace/ByteFallback/Strip decoder without Fuse,
                          a <s> $A </s> template and added tokens with
                          lstrip / rstrip / single_word / normalized flags.

Deterministic (fixed seeds); re-running rewrites identical files.
Usage: python3 tools/make_tokenizer_fixtures.py [--shared DIR] [--out DIR]
"""
import argparse
import hashlib
import json
import os
import random
import sys

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLAMA_SPECIALS = ["<unk>", "<s>", "</s>"]

# --------------------------------------------------------------------------
# Corpus

HAND_WRITTEN = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", " \t \n ", "\n\n\n", "a", " a", "a ", " a ", "  a  b  ",
    "hello world", "Hello World!", " hello", "hello ", "hello  world", "hello\tworld", "hello\nworld",
    "aaaa", "aaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "▁", "▁▁", "▁▁▁▁", "▁▁▁▁▁▁▁▁▁", "▁a▁b", "a▁▁b",
    " ▁ ", "▁hello", "hello▁", "__init__", "___", "----", "....", "!!!!", "????", "!?!?", "...?!",
    "<image>", "<image> ", " <image>", " <image> ", "<image>\n", "\n<image>", "<image><image>",
    "<image> <image>", "<image>\n<image>", "a<image>b", "a <image> b", "USER: <image>\nWhat is this? ASSISTANT:",
    "<image>USER: describe", "<<image>>", "<image", "image>", "<imag e>", "< image>", "<IMAGE>", "<image>>",
    "<<image>", "<im<image>age>", "<s>", "</s>", "<unk>", "<s></s>", "<s> </s>", "a<s>b", " <s> ", "<s><s>",
    "</s>hello", "hello</s>", "<s>hello</s>", "<pad>", "<0x41>", "<0xFF>", "<0x", "▁<0x20>",
    "é", "e\u0301", "café", "cafe\u0301", "naïve", "Ångström", "Œuvre", "ß", "ẞ", "ﬁ", "Ǆ", "ǅ",
    "😀", "👍🏽", "👩‍👩‍👧", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇫🇷🇩🇪", "1️⃣", "❤️", "👩🏿‍💻", "🧑🏻‍🤝‍🧑🏼", "😀😀😀",
    "中文", "日本語のテキスト", "한국어", "漢字かなカナ", "Ελληνικά", "Русский текст", "עברית", "العربية",
    "हिन्दी", "ภาษาไทย", "ქართული", "Հայերեն", "বাংলা", "தமிழ்", "ᚠᛇᚻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚",
    "0", "1", "12", "123", "1234", "12345", "3.14159", "-42", "1e10", "0x1F", "1,000,000", "2024-01-01",
    "int main(void) { return 0; }", "def f(x):\n    return x + 1\n", "if (a && b || !c) { x++; }",
    "{\"key\": [1, 2, 3]}", "<div class=\"a\">text</div>", "SELECT * FROM t WHERE x = 'y';",
    "\u00a0", "a\u00a0b", "\u3000", "a\u3000b", "\u2028", "\u2029", "\u0085", "\u200b", "a\u200bb",
    "\u200d", "\u200c", "\ufeff", "\ufeffhello", "\x01\x02\x03", "\x1b[31mred\x1b[0m", "\x7f", "\x0b\x0c",
    "\ue000", "\U000f0000", "\U0010ffff", "\ufffd", "\ufffe", "\U0001f9ff", "\u0378", "\U000e0001",
    "Ǳ", "İ", "ı", "ﬀ", "№", "™", "℃", "½", "²", "Ⅻ", "①", "ｆｕｌｌ", "ｶﾀｶﾅ",
    "a" * 300, "ab" * 150, "▁" * 100, " " * 100, "\n" * 50, "x" * 1000, "é" * 200, "😀" * 100,
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK",
    "supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "don't", "it's", "we'll", "O'Neill", "rock'n'roll", "e-mail", "co-operate", "U.S.A.",
    "http://example.com/path?query=1&b=2#frag", "user@example.com", "C:\\Windows\\System32",
    "  leading", "trailing  ", "\tleading tab", "trailing tab\t", "\nleading newline", "trailing newline\n",
]

WORDS_EN = ("the of and to in is you that it he was for on are as with his they at be this have from "
            "or one had by word but not what all were we when your can said there use an each which she "
            "do how their if will up other about out many then them these so some her would make like "
            "him into time has look two more write go see number no way could people my than first water "
            "been call who oil its now find long down day did get come made may part image picture shows "
            "describe assistant user question answer colour circle square triangle").split()
WORDS_ACCENT = ("café naïve résumé façade élève Ångström über Größe straße niño año señor ação coração "
                "żółć Łódź Dvořák Ærø smørrebrød Tiếng Việt người đường crème brûlée déjà vu").split()
WORDS_CJK = ["中文", "日本", "東京", "北京", "漢字", "ひらがな", "カタカナ", "テスト", "한국어", "서울", "안녕하세요",
             "你好", "世界", "谢谢", "猫", "犬", "写真", "画像", "说明", "図"]
WORDS_RTL_INDIC = ["مرحبا", "العالم", "كتاب", "שלום", "עולם", "ספר", "नमस्ते", "दुनिया", "किताब", "สวัสดี",
                   "โลก", "หนังสือ", "Привет", "мир", "Γειά", "κόσμος", "გამარჯობა", "Բարեւ"]
EMOJI = ["😀", "😂", "🥲", "👍", "👍🏻", "👍🏽", "👍🏿", "❤️", "🔥", "✨", "🎉", "🐱", "🐶", "🌍", "🚀",
         "👩‍💻", "👨‍👩‍👧", "👩‍❤️‍👨", "🏳️‍🌈", "🏴‍☠️", "🇯🇵", "🇺🇸", "#️⃣", "🧑🏽‍🚀", "🤷‍♀️", "🙋🏾‍♂️", "☺", "✌️"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["…", "—", "–", "«", "»", "“", "”", "‘", "’", "¿", "¡", "·",
                                                        "•", "§", "¶", "†", "‡", "‰", "′", "″", "€", "£", "¥", "©"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\r\n", "\u00a0", "\u3000", " \t "]
CODE = [
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]",
    "#include <stdio.h>\nint main() { printf(\"%d\\n\", 42); }",
    "const x = {a: 1, b: [2, 3], c: \"four\"};",
    "<html><body><p class='x'>Hi &amp; bye</p></body></html>",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "x = lambda a, b: (a ** 2 + b ** 2) ** 0.5",
    "fn main() { let v: Vec<u32> = (0..10).collect(); println!(\"{:?}\", v); }",
    "$ git commit -m \"fix: off-by-one\" && git push origin main",
    "    indented_line = True\n        more_indented = False",
    "a_b_c = d__e + f___g  # comment",
    "matrix[i][j] += alpha * (b[k] - c[k]) / 2.0;",
]
TOKEN_LITERALS = ["<image>", "<s>", "</s>", "<unk>", "<image>", "<image>"]


def rand_word(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def rand_unicode(rng):
    """A random scalar value (no NUL, no surrogates) from interesting ranges."""
    ranges = [(0x01, 0x7F), (0x80, 0x24F), (0x300, 0x36F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x6FF),
              (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x2000, 0x206F), (0x2190, 0x2BFF),
              (0x3000, 0x30FF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0xFE00, 0xFFFD),
              (0x10000, 0x1FFFF), (0x1F300, 0x1FAFF), (0x20000, 0x2FFFF), (0xE0000, 0xE007F),
              (0xF0000, 0x10FFFF)]
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


def gen_string(rng, kind):
    if kind == "words":
        n = rng.randint(1, 16)
        parts = [rng.choice(WORDS_EN) for _ in range(n)]
        if rng.random() < 0.3:
            parts[0] = parts[0].capitalize()
        return " ".join(parts) + rng.choice(["", ".", "?", "!", ",", ""])
    if kind == "whitespace":
        n = rng.randint(1, 8)
        s = "".join(rng.choice(SPACES) + rng.choice(WORDS_EN) for _ in range(n))
        return rng.choice(["", " ", "  ", "\t", "\n"]) + s + rng.choice(["", " ", "  ", "\t", "\n", "   "])
    if kind == "accents":
        return " ".join(rng.choice(WORDS_ACCENT + WORDS_EN) for _ in range(rng.randint(1, 10)))
    if kind == "decomposed":
        base = rng.choice(WORDS_ACCENT)
        return "".join(c + (rng.choice(["\u0301", "\u0300", "\u0308", "\u0327", "\u0303"]) if rng.random() < 0.3 else "")
                       for c in base)
    if kind == "emoji":
        n = rng.randint(1, 8)
        return "".join(rng.choice(EMOJI + [" ", " ", rng.choice(WORDS_EN)]) for _ in range(n))
    if kind == "cjk":
        return "".join(rng.choice(WORDS_CJK + ["、", "。", " ", "，", "！"]) for _ in range(rng.randint(1, 10)))
    if kind == "rtl_indic":
        return " ".join(rng.choice(WORDS_RTL_INDIC) for _ in range(rng.randint(1, 8)))
    if kind == "code":
        s = rng.choice(CODE)
        if rng.random() < 0.5:
            a = rng.randint(0, len(s))
            b = rng.randint(a, len(s))
            s = s[a:b]
        return s
    if kind == "numbers":
        f = rng.choice([
            lambda: str(rng.randint(0, 10 ** rng.randint(1, 15))),
            lambda: "%.*f" % (rng.randint(0, 6), rng.uniform(-1e6, 1e6)),
            lambda: "%d-%02d-%02d" % (rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28)),
            lambda: "+1 (%03d) %03d-%04d" % (rng.randint(0, 999), rng.randint(0, 999), rng.randint(0, 9999)),
            lambda: " ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(2, 8))),
            lambda: "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 80))),
        ])
        return f()
    if kind == "punct":
        return "".join(rng.choice(PUNCT + [" "]) for _ in range(rng.randint(1, 30)))
    if kind == "mixed":
        pools = [WORDS_EN, WORDS_ACCENT, WORDS_CJK, WORDS_RTL_INDIC, EMOJI, PUNCT, ["123", "4.5", "2024"]]
        return "".join(rng.choice(rng.choice(pools)) + rng.choice(["", " ", " ", "\n", "\t"])
                       for _ in range(rng.randint(1, 12)))
    if kind == "long":
        alphabet = rng.choice(["abcdefghijklmnopqrstuvwxyz", "ab", "a", "▁a", "é", "xyz😀", "中文字", " a",
                               "0123456789", "aé中😀\t"])
        return rand_word(rng, alphabet, 50, 1500)
    if kind == "random_unicode":
        return "".join(rand_unicode(rng) for _ in range(rng.randint(1, 20)))
    if kind == "literals":
        parts = []
        for _ in range(rng.randint(1, 6)):
            parts.append(rng.choice(TOKEN_LITERALS + WORDS_EN + ["", " ", "\n", "<", ">", "image", "s>"]))
        sep = rng.choice(["", " ", "\n", ""])
        return sep.join(parts)
    if kind == "chat":
        q = " ".join(rng.choice(WORDS_EN) for _ in range(rng.randint(2, 10)))
        return rng.choice([
            "USER: <image>\n%s? ASSISTANT:" % q,
            "<image>\nUSER: %s ASSISTANT:" % q,
            "[INST] <image>\n%s [/INST]" % q,
            "A chat. USER: %s <image> ASSISTANT: %s</s>" % (q, q),
            "<s>[INST] %s [/INST]" % q,
        ])
    raise ValueError(kind)


KINDS = ["words", "whitespace", "accents", "decomposed", "emoji", "cjk", "rtl_indic", "code", "numbers",
         "punct", "mixed", "long", "random_unicode", "literals", "chat"]
KIND_WEIGHTS = [14, 12, 8, 4, 8, 6, 6, 6, 6, 5, 10, 3, 6, 10, 6]


def generate(seed, n):
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        out.append(gen_string(rng, kind))
    return out


def dedup(strings):
    seen, out = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def corpora():
    """(corpus, train_texts, held_out) of every tokenizer fixture script: the
    strings each tokenizer is compared on, the texts trained tokenizers learn
    from, and the held-out strings (short ones, and the first hand-written)."""
    corpus = dedup(HAND_WRITTEN + generate(1234, 2300))
    train_texts = dedup(generate(99, 3000))
    held_out = dedup(HAND_WRITTEN[:120] + generate(4321, 330))
    held_out = [s for s in held_out if len(s) < 400 or s in HAND_WRITTEN]
    return corpus, train_texts, held_out


# --------------------------------------------------------------------------
# Writing

def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(dumps(r) + "\n")


def write_json(path, obj):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(json.dumps(obj, ensure_ascii=False, indent=1, sort_keys=True) + "\n")


def random_id_lists(rng, tok, n, extra_ids=()):
    """Id lists that exercise the decoder: byte pieces forming valid and
    invalid UTF-8, specials, added tokens and ordinary pieces."""
    vocab = tok.get_vocab(with_added_tokens=True)
    byte_ids = [vocab["<0x%02X>" % b] for b in range(256) if "<0x%02X>" % b in vocab]
    utf8_ids = [[vocab["<0x%02X>" % b] for b in c.encode("utf-8")] for c in "é中😀\u200dÿ"
                if all("<0x%02X>" % b in vocab for b in c.encode("utf-8"))]
    special_ids = [vocab[t] for t in LLAMA_SPECIALS if t in vocab] + list(extra_ids)
    piece_ids = sorted(vocab.values())
    space_ids = sorted(i for t, i in vocab.items() if t.startswith("▁"))
    out = []
    for _ in range(n):
        ids = []
        for _ in range(rng.randint(0, 12)):
            r = rng.random()
            if r < 0.25 and byte_ids:
                ids.append(rng.choice(byte_ids))
            elif r < 0.35 and utf8_ids:
                ids.extend(rng.choice(utf8_ids))
            elif r < 0.5:
                ids.append(rng.choice(special_ids))
            elif r < 0.65 and space_ids:
                ids.append(rng.choice(space_ids))
            else:
                ids.append(rng.choice(piece_ids))
        out.append(ids)
    return out


def expected_rows(tok, texts):
    """What HF tokenizers makes of each text: ids with and without special
    tokens, and the decodes of the ids (keeping and skipping specials)."""
    rows = []
    for text in texts:
        ids = tok.encode(text, add_special_tokens=True).ids
        rows.append({"text": text, "ids": ids, "ids_nospecial": tok.encode(text, add_special_tokens=False).ids,
                     "dec": tok.decode(ids, skip_special_tokens=False),
                     "dec_skip": tok.decode(ids, skip_special_tokens=True)})
    return rows


def decode_rows(tok, id_lists):
    return [{"ids": ids, "dec": tok.decode(ids, skip_special_tokens=False),
             "dec_skip": tok.decode(ids, skip_special_tokens=True)} for ids in id_lists]


# --------------------------------------------------------------------------
# Llama-2

def llama2_fixtures(shared, out_dir, corpus):
    path = os.path.join(shared, "testdata", "tokenizers", "llama2-7b", "tokenizer.json")
    if not os.path.exists(path):
        print("note: %s is absent; llama2-* fixtures kept as they are" % path)
        return None
    with open(path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    base = Tokenizer.from_file(path)
    img = Tokenizer.from_file(path)
    img.add_special_tokens([AddedToken("<image>", special=True, normalized=False)])
    image_id = img.token_to_id("<image>")
    assert image_id == 32000, image_id

    rows, n_image_diff = [], 0
    for text in corpus:
        ids = base.encode(text, add_special_tokens=True).ids
        r = {"ids": ids, "dec": base.decode(ids, skip_special_tokens=False)}
        d = base.decode(ids, skip_special_tokens=True)
        if d != text:
            r["dec_skip"] = d
        ids_i = img.encode(text, add_special_tokens=True).ids
        if ids_i != ids:
            n_image_diff += 1
            r["ids_image"] = ids_i
            r["dec_image"] = img.decode(ids_i, skip_special_tokens=False)
            r["dec_image_skip"] = img.decode(ids_i, skip_special_tokens=True)
        rows.append(r)
    write_jsonl(os.path.join(out_dir, "llama2-expected.jsonl"), rows)

    rng = random.Random(7)
    dec = decode_rows(img, random_id_lists(rng, img, 300, extra_ids=[image_id]))
    write_jsonl(os.path.join(out_dir, "llama2-decode.jsonl"), dec)
    meta = {"tokenizer_json_sha256": sha, "vocab_size": base.get_vocab_size(True),
            "vocab_size_image": img.get_vocab_size(True), "image_id": image_id,
            "bos_id": base.token_to_id("<s>"), "n_corpus": len(corpus), "n_decode": len(dec)}
    write_json(os.path.join(out_dir, "llama2-meta.json"), meta)
    return {"strings": len(rows), "with_image_diff": n_image_diff, "decode_cases": len(dec),
            "tokens": sum(len(r["ids"]) for r in rows)}


# --------------------------------------------------------------------------
# Small trained tokenizers

TEMPLATE_BOS = {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
             {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
    "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}},
}
LLAMA_DECODER = {"type": "Sequence", "decoders": [
    {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
    {"type": "ByteFallback"}, {"type": "Fuse"},
    {"type": "Strip", "content": " ", "start": 1, "stop": 0}]}
LEGACY_NORMALIZER = {"type": "Sequence", "normalizers": [
    {"type": "Prepend", "prepend": "\u2581"},
    {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]}


def added(content, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"id": 0, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


# Training text is cut down to this alphabet, so that the alphabet stays small
# (most of the vocab is learned merges) and other characters exercise byte
# fallback / unk. (limit_alphabet is not used: its tie-breaking is not
# deterministic across runs.)
TRAIN_ALPHABET = set(chr(c) for c in range(0x20, 0x7F)) | set("\t\néèàçüöäßñ中文日本😀")


def train_bpe(texts, vocab_size, byte_pieces):
    """@byte_pieces: the bytes that get a <0xXX> piece (ids 3...)."""
    texts = ["".join(c for c in t if c in TRAIN_ALPHABET) for t in texts]
    byte_pieces = list(byte_pieces)
    trainer_tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    trainer_tok.normalizer = normalizers.Replace(" ", "\u2581")
    trainer_tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", prepend_scheme="always", split=True)
    n_fixed = len(LLAMA_SPECIALS) + len(byte_pieces)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size - len(byte_pieces),
                                  special_tokens=LLAMA_SPECIALS, show_progress=False,
                                  )
    trainer_tok.train_from_iterator(texts, trainer=trainer)
    learned = json.loads(trainer_tok.to_str())["model"]
    vocab = {t: i for i, t in enumerate(LLAMA_SPECIALS)}
    for b in byte_pieces:
        vocab["<0x%02X>" % b] = len(vocab)
    assert len(vocab) == n_fixed
    for t, _ in sorted(learned["vocab"].items(), key=lambda kv: kv[1]):
        if t not in vocab:
            vocab[t] = len(vocab)
    merges = [m if isinstance(m, list) else m.split(" ") for m in learned["merges"]]
    return vocab, merges


# small-variants has byte fallback with pieces for only some bytes: most CJK
# and all 4-byte chars become <unk> (unfused), accented Latin becomes bytes.
PARTIAL_BYTES = [b for b in range(256) if not (0xE4 <= b <= 0xE9 or b == 0xF0)]


def small_specs(train_texts):
    specs = {}
    vocab, merges = train_bpe(train_texts, 600, range(256))
    specs["small-legacy"] = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dict(added(t), id=i) for i, t in enumerate(LLAMA_SPECIALS)],
        "normalizer": LEGACY_NORMALIZER, "pre_tokenizer": None, "post_processor": TEMPLATE_BOS,
        "decoder": LLAMA_DECODER,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }
    vocab, merges = train_bpe(train_texts[::-1], 900, range(256))
    specs["small-metaspace"] = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dict(added(t), id=i) for i, t in enumerate(LLAMA_SPECIALS)],
        "normalizer": None,
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": False},
        "post_processor": TEMPLATE_BOS, "decoder": LLAMA_DECODER,
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    vocab, merges = train_bpe(train_texts[1::2], 600, PARTIAL_BYTES)
    specs["small-variants"] = {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [dict(added(t), id=i) for i, t in enumerate(LLAMA_SPECIALS)] + [
            added("<image>"),
            added("<tag>", lstrip=True, rstrip=True),
            added("hello", special=False, normalized=True),
            added("cat", special=False, single_word=True),
            added("zzq", special=False, normalized=True),
            added("``X``", special=True, normalized=True),
            added("[END]", special=True, rstrip=True, single_word=True),
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Replace", "pattern": {"String": "``"}, "content": "\""},
            {"type": "Replace", "pattern": {"String": "\t"}, "content": " "},
            {"type": "Replace", "pattern": {"String": "~"}, "content": ""}]},
        "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]},
                               "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "ByteFallback"},
            {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": True},
            {"type": "Strip", "content": "!", "start": 2, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": True, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }
    return specs


VARIANT_PROBES = ["<tag>", " <tag> ", "a <tag>  b", "hello", "hello world", "Hello", "say hello", "sayhello",
                  "cat", "a cat", "cats", "concat", "cat!", "_cat", "cat_", "é cat", "zzq", "zzqzzq", "a zzq b",
                  "``X``", "\"X\"", "``X``y", "[END]", "a [END] b", "a[END]", "[END]  \n x", "~", "~~a", "~ a",
                  "``", "\t", "\ta", "<image>hello", "hello<image>", "<tag><tag>", "<tag>hello<tag>", "<s>cat</s>",
                  "猫ÿ", "猫猫ÿ", "ÿ猫", "a猫ÿb", "🔥ÿ🔥", "猫🔥ÿ", "ÿÿ猫猫", "!!!x !!y", "!a! !!"]


def small_fixtures(out_dir, train_texts, held_out):
    summary = {}
    rng = random.Random(11)
    probes = []
    for _ in range(60):
        probes.append("".join(rng.choice(VARIANT_PROBES + [" ", "  ", "\t", "\n", "a", "x", "~"])
                              for _ in range(rng.randint(1, 6))))
    for name, spec in small_specs(train_texts).items():
        d = os.path.join(out_dir, name)
        os.makedirs(d, exist_ok=True)
        # Save what tokenizers itself writes, then test against a reload of that file.
        tok = Tokenizer.from_str(json.dumps(spec))
        tok_path = os.path.join(d, "tokenizer.json")
        saved = json.loads(tok.to_str())
        if name == "small-legacy":
            # keep the legacy "a b" merge strings (to_str writes pairs)
            saved["model"]["merges"] = spec["model"]["merges"]
        write_json(tok_path, saved)
        tok = Tokenizer.from_file(tok_path)
        texts = dedup(held_out + (VARIANT_PROBES + probes if name == "small-variants" else []))
        rows = expected_rows(tok, texts)
        write_jsonl(os.path.join(d, "expected.jsonl"), rows)
        extra = [tok.token_to_id(t) for t in ["<image>", "<tag>", "hello", "zzq", "``X``", "[END]"]
                 if tok.token_to_id(t) is not None]
        dec = decode_rows(tok, random_id_lists(random.Random(13), tok, 200, extra_ids=extra))
        write_jsonl(os.path.join(d, "decode.jsonl"), dec)
        meta = {"vocab_size": tok.get_vocab_size(True), "model_vocab_size": tok.get_vocab_size(False),
                "bos_id": 1, "n_expected": len(rows), "n_decode": len(dec),
                "token_ids": {t: tok.token_to_id(t) for t in ["<unk>", "<s>", "</s>", "<image>", "<tag>", "hello",
                                                             "zzq", "``X``", "[END]", "cat"]
                              if tok.token_to_id(t) is not None}}
        write_json(os.path.join(d, "meta.json"), meta)
        summary[name] = {"vocab": meta["vocab_size"], "held_out": len(rows), "decode_cases": len(dec)}
    return summary


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.environ.get("VTP_SHARED_DIR", os.path.join(ROOT, "..", "shared")))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "tokenizer"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)

    corpus, train_texts, held_out = corpora()
    assert all("\x00" not in s for s in corpus)
    write_jsonl(os.path.join(args.out, "corpus.jsonl"), [{"text": s} for s in corpus])

    llama = llama2_fixtures(args.shared, args.out, corpus)
    small = small_fixtures(args.out, train_texts, held_out)

    total = 0
    for dirpath, _, files in os.walk(args.out):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print("corpus: %d strings (%d hand-written), %d bytes of text" %
          (len(corpus), len(HAND_WRITTEN), sum(len(s.encode()) for s in corpus)))
    if llama:
        print("llama2: %(strings)d strings, %(tokens)d tokens, %(with_image_diff)d differ once <image> is added, "
              "%(decode_cases)d decode cases" % llama)
    for name, s in small.items():
        print("%s: vocab %d, %d held-out strings, %d decode cases" % (name, s["vocab"], s["held_out"],
                                                                      s["decode_cases"]))
    print("%s: %.1f KiB in all" % (args.out, total / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
