#!/usr/bin/env python3
"""Writes tests/fixtures/wordpiece/: the reference ids and strings that
tests/test-wordpiece.c compares vtp's BERT WordPiece tokenizer
(models/tokenizers/vtp-wordpiece.c, the Q-Former's tokenizer) against, all computed with
HuggingFace `tokenizers`.

  corpus.jsonl           {"text": ...} per line: hand-written edge cases and
                         generated strings (whitespace runs, control chars,
                         accents composed and decomposed, Turkish / German /
                         Greek special casing, CJK, kana, Hangul, emoji,
                         punctuation runs, code, digits, words longer than
                         100 chars, "[SEP]" / "[DEC]" literals, "")
  uncased/               a trained uncased vocabulary (BertNormalizer
                         lowercase, strip_accents null; TemplateProcessing
                         [CLS] $A [SEP]; "[DEC]" added as InstructBLIP does):
    tokenizer.json         as tokenizers saves it
    tokenizer_config.json  as transformers saves it for InstructBLIP's
                           qformer_tokenizer (truncation_side "left")
  uncased-vocab/         the same tokenizer as vocab.txt + tokenizer_config.json
                         (do_lower_case, added_tokens_decoder with [DEC]), for
                         the BertTokenizer loading path
  cased/, cased-vocab/   the same for a cased vocabulary (lowercase false,
                         strip_accents false), post-processor BertProcessing
  variants/tokenizer.json  the cased vocabulary with unusual settings:
                         lowercase without strip_accents, no clean_text /
                         handle_chinese_chars, max_input_chars_per_word 12,
                         added tokens with normalized / lstrip / rstrip flags,
                         a [CLS] $A [SEP] [SEP] template, decoder without
                         cleanup, truncation {max_length 24, direction Left}
  expected-uncased.jsonl, expected-cased.jsonl
                         per corpus line: "ids" = encode(text,
                         add_special_tokens=True).ids, "dec" / "dec_skip" =
                         decode(ids, skip_special_tokens=False / True); the
                         vocab.txt folders give the same ids (checked here)
  expected-variants.jsonl  {"text", "ids", "ids_nospecial", "dec", "dec_skip"}
                         for held-out strings and probes of the added tokens
  truncation.jsonl       {"variant", "text", "max_length", "side", "ids"}:
                         encode with truncation (max_length including the two
                         specials, as InstructBlipProcessor's
                         qformer_tokenizer(text, truncation=True,
                         max_length=...) does), right and left
  decode.jsonl           {"variant", "ids", "dec", "dec_skip"} for random id
                         lists ("##" pieces, punctuation the cleanup touches,
                         specials, [DEC])
  unicode.tsv            every code point's behaviour in each BertNormalizer
                         step and in BertPreTokenizer, run-length encoded
                         (see unicode_table below): the test checks all of
                         them, so any difference between GLib's Unicode tables
                         and the frozen ones compiled into tokenizers shows up
  meta.json              vocab sizes, special ids, counts, tokenizers version

  python3 tools/make_wordpiece_fixtures.py [--out DIR]
  python3 tools/make_wordpiece_fixtures.py --c-tables   # prints the C range
      tables of models/tokenizers/vtp-tok-unicode.c (Cc/Cf/Co, punctuation, Mn as
      tokenizers' unicode_categories crate has them), measured from tokenizers

Deterministic (fixed seeds); re-running rewrites identical files. The two
vocabularies are trained once with tokenizers' WordPieceTrainer, which is not
reproducible (ties in hash-map order): re-runs reuse the committed vocab.txt
files, --retrain trains new ones.
"""
import argparse
import json
import os
import random
import sys

import tokenizers
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
DEC = "[DEC]"

# --------------------------------------------------------------------------
# Text

WORDS_EN = ("the of and to in is you that it he was for on are as with his they at be this have from or one "
            "had by word but not what all were we when your can said there use an each which she do how their "
            "if will up other about out many then them these so some her would make like him into time has look "
            "two more write go see number no way could people my than first water been call who oil its now find "
            "long down day did get come made may part image picture photo shows describe question answer colour "
            "circle square triangle left right above below behind small large red green blue yellow purple "
            "unbelievable unaffable tokenization transformers running jumped quickly don't can't it's we'll "
            "they're I'm you've").split()
WORDS_CASED = ("Paris London Tokyo NASA McDonald iPhone GStreamer OpenCL BERT Q-Former InstructBLIP LLaMA "
               "HuggingFace Python JSON HTTP USA EU UN Dr. Mr. Ms. A.I. O'Neill MacBook YouTube").split()
WORDS_ACCENT = ("café naïve résumé façade élève Ångström über Größe straße niño año señor ação coração żółć "
                "Łódź Dvořák Ærø smørrebrød Tiếng Việt người đường crème brûlée déjà vu Zürich São Paulo "
                "Kraków İstanbul ıslak Ağrı ŞİŞLİ Ελληνικά ΟΔΥΣΣΕΥΣ σοφός Σίσυφος Москва Ёлка").split()
SPECIAL_CASE = ["İ", "ı", "İstanbul", "DİYARBAKIR", "ß", "ẞ", "STRASSE", "Straße", "ǅ", "ǈ", "ǋ", "ǲ", "ΣΑΣ",
                "Σ", "ς", "σ", "ΌΣΟΣ", "ﬁ", "ﬀ", "ﬓ", "ŉ", "ǰ", "ΐ", "ᾈ", "ᾼ", "Ⅻ", "ⅻ", "Ⓐⓑ", "ⓐ", "Ꭰ", "ꭰ", "Ა",
                "Ჿ", "𐐀", "𐐨", "𞤀", "Ω", "K", "Å", "Ǆ", "ǆ", "ꟊ", "Ᲊ", "ꟍ", "Ⱥ", "ȿ", "ẞẞ", "İİ", "ﬅ"]
WORDS_CJK = ["中文", "日本", "東京", "北京", "漢字", "你好", "世界", "谢谢", "猫", "犬", "写真", "画像", "说明", "図",
             "𠀀", "𪜀", "𫝀", "𬺰", "豈", "更", "丽", "㐀", "䶵", "〇", "ｱ", "ﾝ"]
WORDS_KANA = ["ひらがな", "カタカナ", "テスト", "ですか", "ありがとう", "コンピュータ", "ガギグ", "パピプ", "ゔ", "ヴ",
              "ｶﾀｶﾅ", "ｶﾞ"]
WORDS_KOREAN = ["한국어", "서울", "안녕하세요", "감사합니다", "사진", "설명", "ㄱㄴㄷ", "각"]
WORDS_OTHER = ["مرحبا", "العالم", "שלום", "नमस्ते", "हिन्दी", "สวัสดี", "ภาษาไทย", "Привет", "мир", "Γειά",
               "გამარჯობა", "Բարեւ", "தமிழ்", "বাংলা", "ᚠᛇᚻ", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "𝟘𝟙𝟚"]
EMOJI = ["😀", "😂", "🥲", "👍", "👍🏻", "👍🏿", "❤️", "🔥", "✨", "🎉", "🐱", "🌍", "🚀", "👩‍💻", "👨‍👩‍👧",
         "🏳️‍🌈", "🇯🇵", "🇺🇸", "#️⃣", "1️⃣", "🧑🏽‍🚀", "🤷‍♀️", "☺", "✌️", "🫠", "🪿"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + [
    "…", "—", "–", "«", "»", "“", "”", "‘", "’", "¿", "¡", "·", "•", "§", "¶", "†", "‡", "‰", "′", "″", "€",
    "£", "¥", "©", "、", "。", "，", "！", "？", "「", "」", "『", "』", "【", "】", "〜", "・", "¦", "¨", "¬",
    "°", "±", "×", "÷", "⁂", "※", "‽", "⸮", "⹃", "⹎", "\u166d", "\U000111c9", "\u061d", "\u2e52", "\u0f14", "\u1360"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\r\n", "\r", "\u00a0", "\u3000", " \t ", "\u2028",
          "\u2009", "\u202f", "\u1680", "\x0b", "\x0c", "\x85"]
CONTROLS = ["\x01", "\x02", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1b", "\x1c", "\x1f", "\x7f", "\x80", "\x85",
            "\x9f", "\u00ad", "\u200b", "\u200c", "\u200d", "\u200e", "\u2060", "\u2066", "\ufeff", "\ufffd",
            "\ufffe", "\uffff", "\ue000", "\uf8ff", "\U000f0000", "\U0010fffd", "\U000e0001", "\U000e0041",
            "\u0600", "\u06dd", "\u070f", "\u0890", "\u08e2", "\U000110cd", "\U00013430", "\U0001bca0",
            "\U0001d173", "\u0378", "\U0002fffe"]
MARKS = ["\u0300", "\u0301", "\u0302", "\u0303", "\u0308", "\u030a", "\u0327", "\u0328", "\u0331", "\u0345",
         "\u0483", "\u0488", "\u05b4", "\u0654", "\u093c", "\u0903", "\u0e31", "\u1734", "\u1dfa", "\u20dd",
         "\u20e3", "\ufe0f", "\ufe0e", "\u302a", "\U000101fd", "\U0001e944", "\U00011938", "\U0001d165",
         "\u0f73", "\u0344", "\u1ac0", "\u0898"]
CODE = [
    "for (int i = 0; i < n; i++) {\n\tsum += a[i];\n}",
    "def tokenize(text: str) -> list[int]:\n    return [ord(c) for c in text]",
    "#include <stdio.h>\nint main() { printf(\"%d\\n\", 42); }",
    "const x = {a: 1, b: [2, 3], c: \"four\"};",
    "<html><body><p class='x'>Hi &amp; bye</p></body></html>",
    "SELECT name, COUNT(*) FROM users GROUP BY name HAVING COUNT(*) > 1;",
    "fn main() { let v: Vec<u32> = (0..10).collect(); println!(\"{:?}\", v); }",
    "$ gst-launch-1.0 videotestsrc ! vtpqformer model=/models/instructblip ! fakesink",
    "matrix[i][j] += alpha * (b[k] - c[k]) / 2.0;",
    "http://example.com/path?query=1&b=2#frag user@example.com C:\\Windows\\System32",
]
LITERALS = ["[SEP]", "[CLS]", "[DEC]", "[PAD]", "[MASK]", "[UNK]", "[sep]", "[Sep]", "[dec]", "[DEC", "DEC]",
            "[ DEC ]", "[[DEC]]", "[SEP][SEP]", "[CLS][DEC]", "##", "##ing", "#", "[", "]"]


def gen_string(rng, kind):
    if kind == "words":
        parts = [rng.choice(WORDS_EN + WORDS_CASED) for _ in range(rng.randint(1, 16))]
        f = rng.random()
        if f < 0.2:
            parts = [p.upper() for p in parts]
        elif f < 0.45:
            parts = [p.capitalize() for p in parts]
        return " ".join(parts) + rng.choice(["", ".", "?", "!", ",", "", "...", "?!"])
    if kind == "whitespace":
        s = "".join(rng.choice(SPACES) + rng.choice(WORDS_EN) for _ in range(rng.randint(1, 8)))
        return rng.choice(["", " ", "  ", "\t", "\n", "\u3000"]) + s + rng.choice(["", " ", "\t", "\n", "   "])
    if kind == "control":
        return "".join(rng.choice(CONTROLS + [rng.choice(WORDS_EN), " "]) for _ in range(rng.randint(1, 10)))
    if kind == "accents":
        return " ".join(rng.choice(WORDS_ACCENT + WORDS_EN) for _ in range(rng.randint(1, 10)))
    if kind == "decomposed":
        base = rng.choice(WORDS_ACCENT + WORDS_EN)
        return "".join(c + ("".join(rng.choice(MARKS) for _ in range(rng.randint(1, 3))) if rng.random() < 0.3 else "")
                       for c in base)
    if kind == "casing":
        return rng.choice(["", " "]).join(rng.choice(SPECIAL_CASE + WORDS_ACCENT) for _ in range(rng.randint(1, 6)))
    if kind == "emoji":
        return "".join(rng.choice(EMOJI + [" ", " ", rng.choice(WORDS_EN)]) for _ in range(rng.randint(1, 8)))
    if kind == "cjk":
        pool = WORDS_CJK + WORDS_KANA + WORDS_KOREAN + ["、", "。", " ", "，", "！", "a", "1"]
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, 12)))
    if kind == "scripts":
        return " ".join(rng.choice(WORDS_OTHER + WORDS_KOREAN) for _ in range(rng.randint(1, 8)))
    if kind == "code":
        s = rng.choice(CODE)
        if rng.random() < 0.5:
            a = rng.randint(0, len(s))
            s = s[a:rng.randint(a, len(s))]
        return s
    if kind == "numbers":
        f = rng.choice([
            lambda: str(rng.randint(0, 10 ** rng.randint(1, 15))),
            lambda: "%.*f" % (rng.randint(0, 6), rng.uniform(-1e6, 1e6)),
            lambda: "%d-%02d-%02d" % (rng.randint(1900, 2100), rng.randint(1, 12), rng.randint(1, 28)),
            lambda: "+1 (%03d) %03d-%04d" % (rng.randint(0, 999), rng.randint(0, 999), rng.randint(0, 9999)),
            lambda: " ".join(str(rng.randint(0, 999)) for _ in range(rng.randint(2, 8))),
            lambda: "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 60))),
            lambda: "".join(rng.choice("٠١٢٣٤٥٦٧٨٩०१२३४५६७८९①②③½¾²³") for _ in range(rng.randint(1, 8))),
        ])
        return f()
    if kind == "punct":
        return "".join(rng.choice(PUNCT + [" ", rng.choice(WORDS_EN)]) for _ in range(rng.randint(1, 30)))
    if kind == "mixed":
        pools = [WORDS_EN, WORDS_ACCENT, WORDS_CJK, WORDS_OTHER, EMOJI, PUNCT, SPECIAL_CASE, CONTROLS, MARKS,
                 LITERALS, ["123", "4.5", "2024"]]
        return "".join(rng.choice(rng.choice(pools)) + rng.choice(["", " ", " ", "\n", "\t"])
                       for _ in range(rng.randint(1, 12)))
    if kind == "long":
        alphabet = rng.choice(["abcdefghijklmnopqrstuvwxyz", "ab", "a", "é", "xyz😀", "中文字", "aé中😀\t",
                               "0123456789", "ab ", "ÀÉÎ", "a-b", "thequickbrownfox"])
        n = rng.choice([99, 100, 101, rng.randint(90, 110), rng.randint(50, 400)])
        return "".join(rng.choice(alphabet) for _ in range(n))
    if kind == "random_unicode":
        return "".join(rand_unicode(rng) for _ in range(rng.randint(1, 16)))
    if kind == "literals":
        parts = [rng.choice(LITERALS + WORDS_EN + ["", " ", "\n", "é"]) for _ in range(rng.randint(1, 6))]
        return rng.choice(["", " ", "\n", ""]).join(parts)
    if kind == "instruction":
        q = " ".join(rng.choice(WORDS_EN) for _ in range(rng.randint(2, 14)))
        return rng.choice([
            "What is unusual about this image?", "Describe the image in detail.",
            "%s?" % q.capitalize(), "Question: %s? Short answer:" % q, "%s. %s!" % (q, q.upper()),
            "Write a short description for the image.", "<Image> %s" % q,
        ])
    raise ValueError(kind)


def rand_unicode(rng):
    """A random scalar value (no NUL, no surrogates) from interesting ranges."""
    ranges = [(0x01, 0x7F), (0x80, 0x24F), (0x250, 0x2FF), (0x300, 0x36F), (0x370, 0x52F), (0x590, 0x8FF),
              (0x900, 0xDFF), (0xE00, 0xFFF), (0x1000, 0x1FFF), (0x2000, 0x2BFF), (0x2C00, 0x2FFF),
              (0x3000, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xA000, 0xABFF), (0xAC00, 0xD7FF),
              (0xE000, 0xF8FF), (0xF900, 0xFFFF), (0x10000, 0x1BFFF), (0x1C000, 0x1FFFF), (0x20000, 0x2FFFF),
              (0x30000, 0x323AF), (0xE0000, 0xE01EF), (0xF0000, 0x10FFFF)]
    lo, hi = rng.choice(ranges)
    return chr(rng.randint(lo, hi))


KINDS = ["words", "whitespace", "control", "accents", "decomposed", "casing", "emoji", "cjk", "scripts", "code",
         "numbers", "punct", "mixed", "long", "random_unicode", "literals", "instruction"]
KIND_WEIGHTS = [14, 8, 5, 7, 5, 6, 5, 7, 4, 4, 5, 5, 10, 3, 7, 5, 6]


def generate(seed, n):
    rng = random.Random(seed)
    return [gen_string(rng, rng.choices(KINDS, KIND_WEIGHTS)[0]) for _ in range(n)]


HAND_WRITTEN = [
    "", " ", "  ", "\t", "\n", "\r\n", " \t \n ", "a", " a ", "hello world", "Hello World!", "HELLO WORLD",
    "hello  world", "hello\tworld\nagain", "What is unusual about this image?", "Describe the image in detail.",
    "don't", "it's", "O'Neill", "rock'n'roll", "e-mail", "U.S.A.", "3.14159", "1,000,000", "...", "?!?!", "!!!",
    "a.b,c;d:e", "(parenthesized)", "[bracketed]", "{braced}", "<angled>", "\"quoted\"", "'single'",
    "[SEP]", "[CLS]", "[DEC]", "[PAD]", "[MASK]", "[UNK]", "[CLS] hello [SEP]", "hello[SEP]world",
    "hello [DEC] world", "[DEC][DEC]", "[dec]", "[sep]", "[ SEP ]", "[SEP", "SEP]", "[[SEP]]", "x[MASK]y",
    "[CLS][SEP][PAD][MASK][UNK][DEC]", " [SEP] ", "\t[DEC]\n", "##", "##ing", "un##able",
    "café", "cafe\u0301", "naïve", "Ångström", "résumé", "Œuvre", "ǅemal", "İstanbul", "ıi", "İ", "i\u0307",
    "ß", "ẞ", "STRASSE", "ΟΔΥΣΣΕΥΣ", "σοφός", "ς", "ΐ", "ﬁne", "ﬀ", "Ⅻ", "Ⓐⓑⓒ", "ꟊ", "Ᲊ", "ꟍ", "Ꭰ",
    "中文", "中文字符", "日本語のテキスト", "ひらがな", "カタカナ", "ｶﾀｶﾅ", "한국어", "안녕하세요", "漢字かなカナ", "豈更",
    "𠀀𠀁", "𫝀", "㐀", "abc中def", "中a文", "😀", "👍🏽", "👩‍👩‍👧", "🏳️‍🌈", "🇫🇷🇩🇪", "1️⃣", "❤️", "🫠",
    "\x01\x02\x03", "\x1b[31mred\x1b[0m", "\x7f", "\x0b\x0c", "a\x0bb", "a\x85b",
    "a\u00a0b", "a\u3000b", "a\u2028b", "a\u200bb", "\ufeffhello", "a\ufffdb", "\ue000", "\U000f0000", "\U0010fffd",
    "a\u00adb", "\u0378", "\ufffe", "\U000e0001", "\u0890x", "\U00011938", "\u1734", "a\u1734b", "\u166d",
    "a\u166db", "\U000111c9", "x\u2e43y", "x\u2e52y", "\u08e2", "\U00013430", "\u0301", "\u0301\u0301",
    "a\u0301\u0327", "a\u0327\u0301", "\ufe0f", "a\u20ddb", "e\u0301\u1dfa", "Ａｂｃ", "ｆｕｌｌ", "①②", "½", "²",
    "a" * 99, "a" * 100, "a" * 101, "é" * 100, "é" * 101, "中" * 120, "ab" * 60, "x" * 500,
    "supercalifragilisticexpialidocious", "Pneumonoultramicroscopicsilicovolcanoconiosis",
    "The quick brown fox jumps over the lazy dog.", "THE QUICK BROWN FOX", "tHe QuIcK",
    "for (int i = 0; i < n; i++) { sum += a[i]; }", "def f(x):\n    return x + 1\n",
    "http://example.com/path?query=1&b=2#frag", "user@example.com", "C:\\Windows\\System32",
    "  leading", "trailing  ", "\tleading tab", "trailing newline\n", "   \n\n\t  ",
]

# --------------------------------------------------------------------------
# Tokenizers

TRAIN_ALPHABET = (set(chr(c) for c in range(0x20, 0x7F)) | set("\t\n") |
                  set("éèêàâçüöäßñíóúÅåøæœłżśćńšžčřőűğışİ") | set("中文日本語字漢东京北你好世界的是了人猫犬写真画像说明") |
                  set("ひらがなカタカナテストですありがとうコンピュータ") | set("한국어서울안녕하세요감사합니다") |
                  set("ΑΒΓΔΕΖαβγδεζσςΣοπρτυ") | set("АБВабвгдежз") | set("😀👍🔥…—“”«»€£"))


def train_texts():
    rng = random.Random(99)
    texts = generate(99, 6000)
    extra = []
    for _ in range(3000):
        extra.append(" ".join(rng.choice(WORDS_EN + WORDS_CASED + WORDS_ACCENT) for _ in range(rng.randint(3, 20))))
    return ["".join(c for c in t if c in TRAIN_ALPHABET) for t in texts + extra]


def train_vocab(texts, lowercase, vocab_size):
    t = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    t.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                              lowercase=lowercase) if lowercase else \
        normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    t.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=SPECIALS, show_progress=False,
                                        continuing_subword_prefix="##")
    t.train_from_iterator(texts, trainer=trainer)
    vocab = t.get_vocab(with_added_tokens=False)
    return [tok for tok, _ in sorted(vocab.items(), key=lambda kv: kv[1])]


def added(content, id_, special=True, normalized=False, lstrip=False, rstrip=False, single_word=False):
    return {"id": id_, "content": content, "single_word": single_word, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": normalized, "special": special}


def template(cls_id, sep_id, extra_sep=False):
    single = [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]
    if extra_sep:
        single.append({"SpecialToken": {"id": "[SEP]", "type_id": 0}})
    return {"type": "TemplateProcessing", "single": single,
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                               "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]}}}


def spec_for(vocab_list, lowercase, post):
    vocab = {t: i for i, t in enumerate(vocab_list)}
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [added(t, vocab[t]) for t in SPECIALS],
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None if lowercase else False, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": post,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }


def variants_spec(vocab_list):
    vocab = {t: i for i, t in enumerate(vocab_list)}
    n = len(vocab)
    spec = spec_for(vocab_list, True, template(vocab["[CLS]"], vocab["[SEP]"], extra_sep=True))
    spec["normalizer"] = {"type": "BertNormalizer", "clean_text": False, "handle_chinese_chars": False,
                          "strip_accents": False, "lowercase": True}
    spec["model"]["max_input_chars_per_word"] = 12
    spec["decoder"] = {"type": "WordPiece", "prefix": "##", "cleanup": False}
    spec["truncation"] = {"direction": "Left", "max_length": 24, "strategy": "LongestFirst", "stride": 0}
    spec["added_tokens"] += [
        added(DEC, n),
        added("<Obj>", n + 1, special=False, normalized=True),
        added("<tag>", n + 2, special=True, lstrip=True, rstrip=True),
        added("Hello", n + 3, special=False, normalized=True),
        added("İx", n + 4, special=False, normalized=True),
        added("zz", n + 5, special=False, normalized=False, single_word=True),
    ]
    return spec


VARIANT_PROBES = ["<Obj>", "<obj>", "<OBJ>", "a<Obj>b", "<tag>", " <tag> ", "a <tag>  b", "a<tag>b", "<tag><tag>",
                  "Hello", "hello", "HELLO world", "sayhello", "Hello!", "İx", "i\u0307x", "İX", "zz", "a zz b",
                  "zzz", "azz", "zz!", "中文字", "İstanbul", "İ", "ß", "Ⅻ", "Ⓐ", "a\x01b", "a\tb", "a\u200bb",
                  "abcdefghijkl", "abcdefghijklm", "éééééééééééé", "ééééééééééééé", "[DEC]x", "x[SEP]",
                  "one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
                  "sixteen seventeen eighteen nineteen twenty twentyone twentytwo twentythree twentyfour"]


def save_vocab_dir(d, vocab_list, lowercase, dec_id):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8", newline="\n") as f:
        for t in vocab_list:
            f.write(t + "\n")
    write_json(os.path.join(d, "tokenizer_config.json"), tokenizer_config(vocab_list, lowercase, dec_id))


def tokenizer_config(vocab_list, lowercase, dec_id):
    vocab = {t: i for i, t in enumerate(vocab_list)}
    dec = {str(vocab[t]): added_decoder(t) for t in SPECIALS}
    dec[str(dec_id)] = added_decoder(DEC)
    cfg = {"added_tokens_decoder": dec, "bos_token": DEC, "clean_up_tokenization_spaces": True,
           "cls_token": "[CLS]", "do_basic_tokenize": True, "do_lower_case": lowercase, "mask_token": "[MASK]",
           "model_max_length": 512, "never_split": None, "pad_token": "[PAD]", "sep_token": "[SEP]",
           "strip_accents": None if lowercase else False, "tokenize_chinese_chars": True,
           "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"}
    if lowercase:
        cfg["truncation_side"] = "left"    # as transformers' InstructBLIP conversion saved it
    return cfg


def added_decoder(content):
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}


def vocab_path_tokenizer(vocab_txt, lowercase):
    """What BertTokenizer(vocab.txt, do_lower_case=...) builds, with tokenizers' own implementation."""
    from tokenizers.implementations import BertWordPieceTokenizer
    t = BertWordPieceTokenizer(vocab_txt, lowercase=lowercase, strip_accents=None if lowercase else False,
                               clean_text=True, handle_chinese_chars=True)
    t.add_special_tokens([DEC])
    return t


# --------------------------------------------------------------------------
# Unicode table

def unicode_rows():
    """One row per run of code points that behave alike: start, end (hex),
    clean_text (k keep, d drop, s -> space), pre-tokenizer (o other,
    w whitespace, p punctuation), strip_accents (NFD + drop Mn) and lowercase
    results, each "=" (unchanged), "-" (removed), "+N"/"-N" (one char at this
    offset), "J" (Hangul syllable: the algorithmic jamo decomposition) or
    "h:X,Y" (those chars)."""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True)
    pt = pre_tokenizers.BertPreTokenizer()

    def code(c, out):
        if out == chr(c):
            return "="
        if out == "":
            return "-"
        if len(out) == 1:
            return "%+d" % (ord(out) - c)
        return "h:" + ",".join("%X" % ord(x) for x in out)

    def hangul(c):
        s = c - 0xAC00
        l, v, t = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
        return chr(l) + chr(v) + (chr(t) if t != 0x11A7 else "")

    rows, prev = [], None
    for c in range(1, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        cl = clean.normalize_str(ch)
        k = "d" if cl == "" else ("s" if cl == " " and ch != " " else "k")
        assert cl in ("", " ", ch)
        n = len(pt.pre_tokenize_str("a" + ch + "a"))
        p = {1: "o", 2: "w", 3: "p"}[n]
        st = strip.normalize_str(ch)
        if 0xAC00 <= c <= 0xD7A3:
            assert st == hangul(c)
            s = "J"
        else:
            s = code(c, st)
        lo = code(c, lower.normalize_str(ch))
        key = (k, p, s, lo)
        if prev is not None and prev[1] == c - 1 and prev[2] == key and (s[0] not in "+h" or s == "=") \
                and (lo[0] not in "h"):
            prev[1] = c
        else:
            prev = [c, c, key]
            rows.append(prev)
    return ["%X\t%X\t%s\t%s\t%s\t%s" % (a, b, *key) for a, b, key in rows]


def c_tables():
    """The three character classes of tokenizers' unicode_categories crate
    (frozen at an old Unicode version) that vtp-tok-unicode.c needs, measured."""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True,
                                       lowercase=False)
    pt = pre_tokenizers.BertPreTokenizer()
    import unicodedata
    other, punct, mn = [], [], []
    for c in range(1, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        if clean.normalize_str(ch) == "" and c != 0xFFFD:
            other.append(c)
        if c >= 0x80 and len(pt.pre_tokenize_str("a" + ch + "a")) == 3:
            punct.append(c)
        # a mark if its own NFD is itself and strip_accents removes it
        if unicodedata.normalize("NFD", ch) == ch and strip.normalize_str(ch) == "":
            mn.append(c)

    # Where GLib (this machine's) differs from tokenizers on lowercase and NFD
    import ctypes
    glib = ctypes.CDLL("libglib-2.0.so.0")
    glib.g_unichar_tolower.restype = ctypes.c_uint32
    glib.g_unichar_tolower.argtypes = [ctypes.c_uint32]
    glib.g_utf8_normalize.restype = ctypes.c_void_p
    glib.g_utf8_normalize.argtypes = [ctypes.c_char_p, ctypes.c_ssize_t, ctypes.c_int]
    glib.g_free.argtypes = [ctypes.c_void_p]
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                                       lowercase=True)
    mn_set = set(mn)
    lower_exc, nfd_keep = [], []
    for c in range(1, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        ch = chr(c)
        lo = lower.normalize_str(ch)
        if lo != chr(glib.g_unichar_tolower(c)):
            lower_exc.append((c, lo))
        if c >= 0xC0:
            ptr = glib.g_utf8_normalize(ch.encode(), -1, 0)    # G_NORMALIZE_NFD
            nfd = ctypes.string_at(ptr).decode()
            glib.g_free(ptr)
            if nfd != ch:
                mine = "".join(x for x in nfd if ord(x) not in mn_set)
                hf = strip.normalize_str(ch)
                if mine != hf:
                    assert hf == ch, (hex(c), hf)
                    nfd_keep.append(c)
    runs = []
    for c, lo in lower_exc:
        if len(lo) != 1:
            print("/* multi-char lowercase, handled by hand: U+%04X -> %s */" %
                  (c, " ".join("U+%04X" % ord(x) for x in lo)))
            continue
        d = ord(lo) - c
        if runs and runs[-1][1] == c - 1 and runs[-1][2] == d:
            runs[-1][1] = c
        else:
            runs.append([c, c, d])
    print("/* tokenizers' lowercase (Rust char::to_lowercase) where GLib's g_unichar_tolower differs: %d code points */"
          % len(lower_exc))
    print("static const CpDelta lower_exceptions[] = {")
    for a, b, d in runs:
        print("  { 0x%X, 0x%X, %d }," % (a, b, d))
    print("};")
    print("/* chars that GLib's NFD decomposes but tokenizers' does not */")
    print("static const gunichar nfd_keep[] = { %s };" % ", ".join("0x%X" % c for c in nfd_keep))

    def ranges(cs):
        out = []
        for c in cs:
            if out and out[-1][1] == c - 1:
                out[-1][1] = c
            else:
                out.append([c, c])
        return out

    for name, cs, what in [("other_ranges", other, "Cc, Cf, Co (clean_text drops them)"),
                           ("punct_ranges", punct, "P* beyond ASCII (BertPreTokenizer isolates them)"),
                           ("mn_ranges", mn, "Mn (strip_accents drops them)")]:
        rs = ranges(cs)
        print("/* %s: %d code points in %d ranges */" % (what, len(cs), len(rs)))
        print("static const CpRange %s[] = {" % name)
        line = " "
        for a, b in rs:
            item = " { 0x%X, 0x%X }," % (a, b)
            if len(line) + len(item) > 110:
                print(line)
                line = " "
            line += item
        print(line)
        print("};")


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


def dedup(strings):
    seen, out = set(), []
    for s in strings:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def expected_rows(tok, corpus):
    rows = []
    for text in corpus:
        ids = tok.encode(text, add_special_tokens=True).ids
        rows.append({"ids": ids, "dec": tok.decode(ids, skip_special_tokens=False),
                     "dec_skip": tok.decode(ids, skip_special_tokens=True)})
    return rows


def random_id_lists(rng, tok, n):
    vocab = tok.get_vocab(with_added_tokens=True)
    cont = sorted(i for t, i in vocab.items() if t.startswith("##"))
    punct = [vocab[t] for t in [".", ",", "?", "!", "'", "s", "t", "m", "n", "ve", "re", "do", "not", "##t", "##s"]
             if t in vocab]
    specials = [vocab[t] for t in SPECIALS + [DEC] if t in vocab]
    allids = sorted(vocab.values())
    out = []
    for _ in range(n):
        ids = []
        for _ in range(rng.randint(0, 14)):
            r = rng.random()
            ids.append(rng.choice(cont if r < 0.25 else punct if r < 0.5 else specials if r < 0.62 else allids))
        out.append(ids)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "wordpiece"))
    ap.add_argument("--c-tables", action="store_true", help="print the C tables of models/tokenizers/vtp-tok-unicode.c")
    ap.add_argument("--retrain", action="store_true", help="train new vocabularies instead of reusing vocab.txt")
    args = ap.parse_args()
    if args.c_tables:
        c_tables()
        return 0
    out = args.out
    os.makedirs(out, exist_ok=True)

    # tokenizers' WordPiece trainer breaks ties between equally frequent pairs
    # in hash-map order, so two trainings differ: the committed vocab.txt
    # files are reused unless --retrain is given.
    vocabs, texts = {}, None
    for name, lowercase, size in [("uncased", True, 3000), ("cased", False, 3500)]:
        path = os.path.join(out, name + "-vocab", "vocab.txt")
        if os.path.exists(path) and not args.retrain:
            with open(path, encoding="utf-8", newline="\n") as f:
                vocabs[name] = f.read().split("\n")[:-1]
        else:
            texts = texts or train_texts()
            vocabs[name] = train_vocab(texts, lowercase, size)
    corpus = dedup(HAND_WRITTEN + generate(1234, 2300))
    assert all("\x00" not in s for s in corpus)
    write_jsonl(os.path.join(out, "corpus.jsonl"), [{"text": s} for s in corpus])

    toks, summary = {}, {}
    for name, lowercase in [("uncased", True), ("cased", False)]:
        vl = vocabs[name]
        v = {t: i for i, t in enumerate(vl)}
        post = template(v["[CLS]"], v["[SEP]"]) if lowercase else \
            {"type": "BertProcessing", "sep": ["[SEP]", v["[SEP]"]], "cls": ["[CLS]", v["[CLS]"]]}
        tok = Tokenizer.from_str(json.dumps(spec_for(vl, lowercase, post)))
        tok.add_special_tokens([DEC])
        dec_id = tok.token_to_id(DEC)
        assert dec_id == len(vl), dec_id
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        write_json(os.path.join(d, "tokenizer.json"), json.loads(tok.to_str()))
        cfg = tokenizer_config(vl, lowercase, dec_id)
        del cfg["added_tokens_decoder"]
        write_json(os.path.join(d, "tokenizer_config.json"), cfg)
        tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
        save_vocab_dir(os.path.join(out, name + "-vocab"), vl, lowercase, dec_id)
        vtok = vocab_path_tokenizer(os.path.join(out, name + "-vocab", "vocab.txt"), lowercase)
        assert vtok.token_to_id(DEC) == dec_id

        rows = expected_rows(tok, corpus)
        for text, r in zip(corpus, rows):
            assert vtok.encode(text).ids == r["ids"], text
            assert tok.encode(text, add_special_tokens=False).ids == r["ids"][1:-1], text
            assert vtok.decode(r["ids"], skip_special_tokens=True) == r["dec_skip"], text
        write_jsonl(os.path.join(out, "expected-%s.jsonl" % name), rows)
        toks[name] = tok
        summary[name] = {"vocab_size": tok.get_vocab_size(True), "model_vocab_size": tok.get_vocab_size(False),
                         "dec_id": dec_id, "unk_id": v["[UNK]"], "cls_id": v["[CLS]"], "sep_id": v["[SEP]"],
                         "pad_id": v["[PAD]"], "mask_id": v["[MASK]"],
                         "n_unk_tokens": sum(r["ids"].count(v["[UNK]"]) for r in rows),
                         "n_tokens": sum(len(r["ids"]) for r in rows)}
        try:    # cross-check against transformers' BertTokenizer when it is installed
            import transformers
            bt = transformers.BertTokenizer(os.path.join(out, name + "-vocab", "vocab.txt"), do_lower_case=lowercase,
                                            strip_accents=None if lowercase else False)
            bt.add_special_tokens({"bos_token": DEC})
            assert bt.convert_tokens_to_ids(DEC) == dec_id
            bad = [t for t, r in zip(corpus, rows) if bt(t)["input_ids"] != r["ids"]]
            print("%s: transformers %s BertTokenizer(vocab.txt) agrees on %d/%d strings" %
                  (name, transformers.__version__, len(corpus) - len(bad), len(corpus)))
            if bad:
                print("note: transformers %s BertTokenizer differs on %d strings, e.g. %r" %
                      (transformers.__version__, len(bad), bad[0]))
        except ImportError:
            pass

    # variants
    vspec = variants_spec(vocabs["cased"])
    vtok = Tokenizer.from_str(json.dumps(vspec))
    d = os.path.join(out, "variants")
    os.makedirs(d, exist_ok=True)
    write_json(os.path.join(d, "tokenizer.json"), json.loads(vtok.to_str()))
    vtok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    rng = random.Random(11)
    probes = ["".join(rng.choice(VARIANT_PROBES + [" ", "  ", "\t", "a", "X"]) for _ in range(rng.randint(1, 6)))
              for _ in range(150)]
    vtexts = dedup(VARIANT_PROBES + probes + [s for s in corpus[::5] if len(s) < 300])
    vrows = []
    for text in vtexts:
        ids = vtok.encode(text, add_special_tokens=True).ids
        vrows.append({"text": text, "ids": ids, "ids_nospecial": vtok.encode(text, add_special_tokens=False).ids,
                      "dec": vtok.decode(ids, skip_special_tokens=False),
                      "dec_skip": vtok.decode(ids, skip_special_tokens=True)})
    write_jsonl(os.path.join(out, "expected-variants.jsonl"), vrows)
    summary["variants"] = {"vocab_size": vtok.get_vocab_size(True), "n_expected": len(vrows),
                           "token_ids": {t: vtok.token_to_id(t) for t in ["[DEC]", "<Obj>", "<tag>", "Hello", "İx", "zz"]}}

    # truncation, as InstructBlipProcessor's qformer_tokenizer(text, truncation=True, max_length=m)
    trows = []
    rng = random.Random(5)
    long_texts = [s for s in corpus if len(toks["uncased"].encode(s).ids) > 6]
    for name in ["uncased", "cased"]:
        tok = Tokenizer.from_file(os.path.join(out, name, "tokenizer.json"))
        for i, text in enumerate(rng.sample(long_texts, 150) + ["", "a", "hello world", "[DEC] [SEP] a b c d e"]):
            for side in ["right", "left"]:
                for m in ([1, 2, 3, 4, 12, 32, 128] if i % 10 == 0 else [rng.choice([2, 3, 5, 8, 12, 12, 20, 32])]):
                    tok.enable_truncation(max_length=m, direction=side)
                    trows.append({"variant": name, "text": text, "max_length": m, "side": side,
                                  "ids": tok.encode(text, add_special_tokens=True).ids,
                                  "ids_nospecial": tok.encode(text, add_special_tokens=False).ids})
    write_jsonl(os.path.join(out, "truncation.jsonl"), trows)

    # decode
    drows = []
    for name in ["uncased", "cased"]:
        tok = toks[name]
        for ids in random_id_lists(random.Random(13 if name == "uncased" else 17), tok, 250):
            drows.append({"variant": name, "ids": ids, "dec": tok.decode(ids, skip_special_tokens=False),
                          "dec_skip": tok.decode(ids, skip_special_tokens=True)})
    write_jsonl(os.path.join(out, "decode.jsonl"), drows)

    # every code point
    urows = unicode_rows()
    with open(os.path.join(out, "unicode.tsv"), "w", encoding="utf-8", newline="\n") as f:
        f.write("# start\tend\tclean_text\tpre_tokenizer\tstrip_accents\tlowercase (tools/make_wordpiece_fixtures.py)\n")
        for r in urows:
            f.write(r + "\n")

    meta = {"tokenizers_version": tokenizers.__version__, "n_corpus": len(corpus), "n_hand_written": len(HAND_WRITTEN),
            "n_truncation": len(trows), "n_decode": len(drows), "n_unicode_rows": len(urows), **summary}
    write_json(os.path.join(out, "meta.json"), meta)

    total = 0
    for dirpath, _, files in os.walk(out):
        total += sum(os.path.getsize(os.path.join(dirpath, f)) for f in files)
    print("corpus: %d strings (%d hand-written), %d bytes of text" %
          (len(corpus), len(HAND_WRITTEN), sum(len(s.encode()) for s in corpus)))
    for name in ["uncased", "cased"]:
        print("%s: %s" % (name, summary[name]))
    print("variants: %d strings; truncation: %d cases; decode: %d cases; unicode.tsv: %d rows" %
          (len(vrows), len(trows), len(drows), len(urows)))
    print("%s: %.1f KiB in all" % (out, total / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())
