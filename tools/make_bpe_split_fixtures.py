#!/usr/bin/env python3
"""Makes tests/fixtures/gguf-vocab: two small byte-level BPE vocabularies
that split text with Llama 3's regex and with Qwen2's (the same with single
digits), as a GGUF (what llama.cpp reads: tokenizer.ggml.model "gpt2",
tokenizer.ggml.pre "llama-bpe" / "qwen2") and as a tokenizer.json (what
transformers reads: a Split pre-tokenizer before ByteLevel), with the ids
of test strings, for tests/test-gguf-tokenizer.c.

    python3 tools/make_bpe_split_fixtures.py [--llama-cpp DIR]

Steps:
  1. HF tokenizers trains each vocabulary (about 600 pieces) on text made
     here from STRINGS and a fixed word list, with the model's split regex
     and its ignore_merges (Llama 3: on, Qwen2: off, as their
     tokenizer.json files have it); saved as <name>.tokenizer.json;
  2. the gguf package writes the same pieces and merges as a vocabulary-only
     GGUF (no tensors, as llama.cpp's own ggml-vocab-*.gguf files), with the
     metadata llama.cpp's converter writes for these models;
  3. tools/llamacpp_tokenize.c, built against DIR's libllama (DIR: a
     llama.cpp source tree with a build in DIR/build, e.g. the one
     bench/compare-llamacpp.sh builds), tokenizes STRINGS (the .inp file)
     as llama.cpp's test-tokenizer-0 does: the .out file has its ids;
  4. the script checks that HF tokenizers gives the same ids on the
     tokenizer.json (so the .out serves both of vtp's paths) and stops if
     not.
The STRINGS are written for the regexes' corners: contractions in any
case, runs of digits, newlines after punctuation and within whitespace,
tabs, non-breaking spaces, letters and numbers outside ASCII.
"""
import argparse
import os
import sys
import tempfile

import gguf
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

import llamacpp_peer
from llamacpp_peer import run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "gguf-vocab")
SEP = "\n__ggml_vocab_test__\n"

LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = LLAMA3_REGEX.replace(r"\p{N}{1,3}", r"\p{N}")

# name: (split regex, tokenizer.ggml.pre, ignore_merges, special tokens, add BOS)
VOCABS = {
    "llama3-mini": (LLAMA3_REGEX, "llama-bpe", True, ["<|begin_of_text|>", "<|end_of_text|>"], True),
    "qwen2-mini": (QWEN2_REGEX, "qwen2", False, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], False),
}

STRINGS = [
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n\n",
    "\t\n",
    "Hello world",
    " Hello world",
    "12 123 picture 4812 shapes 3712",
    "Hello World!",
    "I'm sure you'LL see it's THEY'RE we'VE he'd",
    "don't can't won't shouldn't 'S's",
    " ' alone' x'y 'z'",
    "1 12 123 1234 12345 1234567",
    "3.14159 and 2,718,281 or 1e10",
    "mixed123abc456def7890",
    "line one\nline two\r\nline three\n\n\nend",
    "   leading spaces",
    "trailing spaces   ",
    "tabs\tand\t\tmore\t tabs",
    "!!! what??? ...\n\nnext",
    " (parenthesis) [brackets] {braces}\n",
    "a\n \n  \nb",
    "x  \n  y",
    "Ünïcödé wörds: naïve café",
    "Привет мир, как дела?",
    "日本語のテキスト 中文字符",
    "emoji 🦙🦙 and ✨ sparkles",
    "Arabic-Indic digits ١٢٣٤٥ and Roman ⅷ ⅻ",
    "CamelCaseWordsHere and snake_case_words",
    "http://example.com/path?query=1&b=2",
    "    def f(x):\n        return x**2\n",
    "¡Hola! ¿Qué tal?",
    "a\u00a0non-breaking\u00a0space and zero\u200bwidth",
    "ending with newline\n",
    "a quizzical look, quizzically",
]
# (No special token in the text: HF tokenizers matches those in any text,
# llama.cpp's test only with parse_special, so the two would differ there.)

WORDS = ("the a of and to in is you that it he was for on are as with his they I at be this have from or one "
         "had by word but not what all were we when your can said there use an each which she do how their if "
         "will up other about out many then them these so some her would make like him into time has look two "
         "more write go see number no way could people my than first water been call who oil its now find long "
         "down day did get come made may part picture shape circle square triangle red green blue yellow left "
         "right top bottom small large").split()


def corpus():
    """Deterministic training text: the words in many orders, numbers,
    punctuation and the STRINGS themselves."""
    lines = []
    for i in range(400):
        w = [WORDS[(i * 7 + k * 13) % len(WORDS)] for k in range(9)]
        if i % 3 == 0:
            w[0] = w[0].capitalize()
        lines.append(" ".join(w) + (". " if i % 2 else "? ") + str(i * 37) + ("\n" if i % 5 else "\n\n"))
    return lines + STRINGS * 5


def split_then_bytes(regex):
    return pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])


def train(regex, ignore_merges, specials):
    """Trained with Llama 3's split for both (so that the vocabulary has
    pieces of 2 and 3 digits, which Qwen2's split must then not produce),
    then given the model's own split; one piece more that no merge makes
    (" quizzical", which ignore_merges alone finds whole)."""
    import json
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    tok.pre_tokenizer = split_then_bytes(LLAMA3_REGEX)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=600, min_frequency=2, special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus(), trainer)
    tok.pre_tokenizer = split_then_bytes(regex)
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    vocab["Ġquizzical"] = max(vocab.values()) + 1
    spec["model"]["ignore_merges"] = ignore_merges
    return Tokenizer.from_str(json.dumps(spec))


def write_gguf(path, name, tok, pre, specials, add_bos):
    import json
    model = json.loads(tok.to_str())["model"]
    vocab = model["vocab"]
    tokens = [None] * len(vocab)
    for piece, i in vocab.items():
        tokens[i] = piece
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    types = [gguf.TokenType.CONTROL if t in specials else gguf.TokenType.NORMAL for t in tokens]
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(name)
    # a Llama's hyperparameters, as llama.cpp's own vocabulary files carry
    w.add_block_count(1)
    w.add_context_length(512)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(2)
    w.add_head_count_kv(2)
    w.add_rope_freq_base(500000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(len(tokens))
    w.add_rope_dimension_count(32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(vocab[specials[0]])
    w.add_eos_token_id(vocab[specials[-1] if pre == "llama-bpe" else specials[0]])
    if not add_bos:
        w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    llamacpp_peer.add_argument(ap)
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        tool = llamacpp_peer.build_tool(args.llama_cpp, work, "llamacpp_tokenize")
        for name, (regex, pre, ignore_merges, specials, add_bos) in VOCABS.items():
            tok = train(regex, ignore_merges, specials)
            tok.save(os.path.join(OUT, name + ".tokenizer.json"))
            base = os.path.join(OUT, "ggml-vocab-%s.gguf" % name)
            write_gguf(base, name, tok, pre, specials, add_bos)
            with open(base + ".inp", "w", encoding="utf-8", newline="") as f:
                f.write("".join(s + SEP for s in STRINGS))
            out = run([tool, base, base + ".inp"], capture_output=True, text=True).stdout
            ref = [[int(x) for x in line.split()] for line in out.split("\n")[:-1]]
            if len(ref) != len(STRINGS):
                sys.exit("%s: llama.cpp gave %d lines for %d strings" % (name, len(ref), len(STRINGS)))
            hf = [tok.encode(s, add_special_tokens=False).ids for s in STRINGS]
            for s, a, b in zip(STRINGS, ref, hf):
                if a != b:
                    sys.exit("%s: %r: llama.cpp %s, HF tokenizers %s" % (name, s, a, b))
            with open(base + ".out", "w") as f:
                f.write(out)
            print("%s: %d pieces, %d strings, llama.cpp and HF tokenizers agree on all" %
                  (name, tok.get_vocab_size(), len(STRINGS)))


if __name__ == "__main__":
    main()
