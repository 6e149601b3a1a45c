#!/usr/bin/env python3
"""Writes the seed corpora of fuzz/corpus/ from the repository's fixtures.

Small valid inputs make the fuzzers start deep in each parser; large ones
only slow every execution, so the GGUF and safetensors seeds are cut-down
copies (the same metadata and tensor names, tiny tensors) and the JPEGs are
small re-encodings of fixture PNGs. Run from the repository root:

    python3 tools/make_fuzz_corpus.py

Needs the gguf, numpy and PIL packages. The output is deterministic.
"""
import base64
import io
import json
import os
import shutil
import struct

import gguf
import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "fuzz", "corpus")


def out(target, name):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    return os.path.join(d, name)


def copy(target, src, name):
    shutil.copyfile(os.path.join(ROOT, src), out(target, name))


# --- safetensors: hand-written, one per dtype family and edge shape ---------
def safetensors(path, tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)


def make_safetensors():
    f32 = np.arange(12, dtype=np.float32).tobytes()
    safetensors(out("safetensors", "f32.safetensors"), {"w": ("F32", [3, 4], f32)}, {"format": "pt"})
    safetensors(out("safetensors", "mixed.safetensors"), {
        "a.weight": ("F16", [2, 2], np.ones(4, np.float16).tobytes()),
        "a.bias": ("BF16", [2], b"\x80\x3f\x00\x40"),
        "b": ("I64", [1], struct.pack("<q", 7)),
        "scalar": ("F32", [], struct.pack("<f", 1.5)),
        "empty": ("F32", [0, 3], b""),
    })
    safetensors(out("safetensors", "unsupported.safetensors"), {"d": ("F64", [2], b"\0" * 16)})


# --- GGUF: shrunk copies of the fixtures, and small vocabularies ------------
def kv_value(field):
    t = field.types[0]
    if t == gguf.GGUFValueType.STRING:
        return bytes(field.parts[field.data[0]]).decode("utf-8", "surrogateescape")
    if t == gguf.GGUFValueType.ARRAY:
        et = field.types[1]
        if et == gguf.GGUFValueType.STRING:
            return [bytes(field.parts[i]).decode("utf-8", "surrogateescape") for i in field.data]
        return [field.parts[i][0].item() for i in field.data]
    return field.parts[field.data[0]][0].item()


def shrink_gguf(src, dst, arch, dims, overrides):
    """Same metadata (but @overrides) and tensor names; every dimension
    mapped through @dims, data F32 (small, deterministic)."""
    r = gguf.GGUFReader(os.path.join(FIX, src))
    w = gguf.GGUFWriter(dst, arch)
    for key, field in r.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        value = overrides.get(key, kv_value(field))
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(key, value, gguf.GGUFValueType.ARRAY, sub_type=field.types[1])
        else:
            w.add_key_value(key, value, field.types[0])
    for t in r.tensors:
        shape = [dims.get(int(d), int(d)) for d in t.shape]      # ggml order
        n = int(np.prod(shape))
        data = (np.arange(n, dtype=np.float32) % 7 - 3) / 8
        w.add_tensor(t.name, data.reshape(list(reversed(shape))))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def vocab_gguf(dst, model, tokens, types, **extra):
    w = gguf.GGUFWriter(dst, "llama")
    w.add_tokenizer_model(model)
    w.add_token_list(tokens)
    w.add_token_types(types)
    if "scores" in extra:
        w.add_token_scores(extra["scores"])
    if "merges" in extra:
        w.add_token_merges(extra["merges"])
    if "pre" in extra:
        w.add_tokenizer_pre(extra["pre"])
    for key in ("bos", "eos", "unk", "sep", "pad", "cls"):
        if key in extra:
            w.add_uint32("tokenizer.ggml.%s_token_id" % {"sep": "seperator", "unk": "unknown", "pad": "padding"}
                         .get(key, key), extra[key])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def make_gguf():
    copy("gguf", "tests/fixtures/gguf/small.gguf", "small.gguf")
    shrink_gguf("gguf-tiny/llm-q4_0.gguf", out("gguf", "llama-text.gguf"), "llama", {64: 16, 128: 32, 32: 8},
                {"llama.embedding_length": 16, "llama.feed_forward_length": 32,
                 "llama.attention.key_length": 4, "llama.attention.value_length": 4,
                 "llama.rope.dimension_count": 4, "general.file_type": 0})
    shrink_gguf("gguf-llava/mmproj-model-f32.gguf", out("gguf", "mmproj.gguf"), "clip", {64: 8, 128: 16},
                {"clip.vision.embedding_length": 8, "clip.vision.feed_forward_length": 16,
                 "clip.vision.projection_dim": 8})
    # "gpt2": the byte-level alphabet and a few merges
    alphabet = bytes_to_unicode()
    merges = ["Ġ t", "h e", "Ġt he", "i n", "Ġ a"]
    tokens = alphabet + [m.replace(" ", "") for m in merges] + ["<|endoftext|>"]
    vocab_gguf(out("gguf", "gpt2-vocab.gguf"), "gpt2", tokens, [1] * (len(tokens) - 1) + [3], merges=merges,
               pre="gpt-2", bos=len(tokens) - 1, eos=len(tokens) - 1)
    # the same with Llama 3's and Qwen2's splitting (their own regexes)
    for pre in ("llama-bpe", "qwen2"):
        vocab_gguf(out("gguf", "%s-vocab.gguf" % pre), "gpt2", tokens, [1] * (len(tokens) - 1) + [3],
                   merges=merges, pre=pre, bos=len(tokens) - 1, eos=len(tokens) - 1)
    # a Qwen2 text model (architecture "qwen2": its own metadata keys, q/k/v biases)
    shrink_gguf("gguf-qwen2-tiny/llm-q8_0.gguf", out("gguf", "qwen2-text.gguf"), "qwen2", {64: 16, 128: 32, 32: 8},
                {"qwen2.embedding_length": 16, "qwen2.feed_forward_length": 32, "qwen2.rope.dimension_count": 4,
                 "general.file_type": 0})
    # "bert": the uncased WordPiece fixture in llama.cpp's phantom-space form
    with open(os.path.join(FIX, "wordpiece", "uncased", "tokenizer.json")) as f:
        vocab = json.load(f)["model"]["vocab"]
    pieces = sorted(vocab, key=vocab.get)[:400]
    tokens = [p if p.startswith("[") else p[2:] if p.startswith("##") else "\u2581" + p for p in pieces]
    types = [3 if p.startswith("[") and p.endswith("]") else 1 for p in pieces]
    ids = {p: i for i, p in enumerate(pieces)}
    vocab_gguf(out("gguf", "bert-vocab.gguf"), "bert", tokens, types,
               **{k: ids[p] for k, p in (("unk", "[UNK]"), ("sep", "[SEP]"), ("pad", "[PAD]"), ("cls", "[CLS]"))
                  if p in ids})


# --- a Precompiled normalizer small enough for libFuzzer's -max_len ----------
def darts_trie(mapping):
    """A darts-clone double-array trie (the units vtp-tok-precompiled.c
    walks) of the keys of @mapping, and the replacement strings its leaves
    point into: SentencePiece's precompiled_charsmap layout. A node's unit
    holds its label, a has-leaf bit and the XOR offset from its own index
    to its children's base; a child with label c sits at base ^ c, the
    node's value at base ^ 0 (a leaf unit: bit 31 and the string's offset)."""
    strings, value = b"", {}
    for key, rep in sorted(mapping.items()):
        value[key.encode()] = len(strings)
        strings += rep.encode() + b"\0"
    trie = {}
    for key in value:
        node = trie
        for c in key:
            node = node.setdefault(c, {})
    units = {}

    def place(node, prefix, at):
        children = sorted(k for k in node)
        base = 1
        while any(i in units or i == at for i in [base] + [base ^ c for c in children]):
            base += 1
        label = prefix[-1] if prefix else 0
        units[at] = label | (0x100 if prefix in value else 0) | ((at ^ base) << 10)
        if prefix in value:
            units[base] = 0x80000000 | value[prefix]
        for c in children:
            units[base ^ c] = None      # reserved before the children place theirs
        for c in children:
            place(node[c], prefix + bytes([c]), base ^ c)

    place(trie, b"", 0)
    n = max(units) + 1
    blob = b"".join(struct.pack("<I", units.get(i) or 0) for i in range(n))
    return struct.pack("<I", len(blob)) + blob + strings


def small_precompiled():
    """The T5 unigram fixture with its 320 KB precompiled_charsmap (over
    libFuzzer's -max_len, so the campaign only ever saw it cut) replaced by
    a trie of a few rules that touch the target's fixed text: a char to
    one, to two and to none, a cluster of two chars, a 4-byte char."""
    with open(os.path.join(FIX, "tokenizer", "unigram-t5-small", "tokenizer.json"), encoding="utf-8") as f:
        tok = json.load(f)
    rules = {"\u00e9": "e", "H": "h", "\t": " ", "\ufb01": "fi", "e\u0301": "\u00e9",
             "\U0001f600": "", "\uff21": "A", "12": "twelve"}
    tok["normalizer"] = {"type": "Precompiled",
                         "precompiled_charsmap": base64.b64encode(darts_trie(rules)).decode()}
    with open(out("tokenizer-json", "unigram-small-charsmap.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)


# --- JSON inputs: taken as they are -----------------------------------------
def make_json():
    for src, name in (("tests/fixtures/tokenizer/small-legacy/tokenizer.json", "small-legacy.json"),
                      ("tests/fixtures/tokenizer/small-metaspace/tokenizer.json", "small-metaspace.json"),
                      ("tests/fixtures/tokenizer/small-variants/tokenizer.json", "small-variants.json"),
                      ("tests/fixtures/tokenizer/unigram-t5-small/tokenizer.json", "unigram-t5-small.json"),
                      ("tests/fixtures/llava-tiny-a/tokenizer.json", "llava-tiny-a.json"),
                      # Split pre-tokenizers with Llama 3's and Qwen2's regexes
                      ("tests/fixtures/gguf-vocab/llama3-mini.tokenizer.json", "llama3-split.json"),
                      ("tests/fixtures/gguf-vocab/qwen2-mini.tokenizer.json", "qwen2-split.json")):
        copy("tokenizer-json", src, name)
    small_precompiled()
    for d in ("llava-tiny-a", "llava-tiny-b", "blip2-tiny", "instructblip-tiny"):
        copy("config", "tests/fixtures/%s/config.json" % d, d + ".json")
    copy("config", "tests/fixtures/llava-tiny-a/preprocessor_config.json", "preprocessor.json")
    for d in ("adapter-tiny/v2", "adapter-tiny/peft", "adapter-tiny/llama"):
        p = os.path.join(FIX, d, "config.json")
        if not os.path.exists(p):
            p = os.path.join(FIX, d, "adapter_config.json")
        if os.path.exists(p):
            shutil.copyfile(p, out("config", d.replace("/", "-") + ".json"))
    for g in sorted(os.listdir(os.path.join(ROOT, "graphs"))):
        if g.endswith(".json") and g != "schema.json":
            copy("graph", "graphs/" + g, g)


# --- JPEG: fixture images, small, in the encodings cameras send -------------
def make_jpeg():
    img = Image.open(os.path.join(FIX, "llava-tiny-a", "image.png")).convert("RGB")
    small = img.resize((48, 32))
    for name, kw in (("baseline.jpg", {"quality": 75}),
                     ("progressive.jpg", {"quality": 60, "progressive": True}),
                     ("subsample444.jpg", {"quality": 90, "subsampling": 0})):
        small.save(out("jpeg", name), "JPEG", **kw)
    small.convert("L").save(out("jpeg", "gray.jpg"), "JPEG", quality=70)
    img.resize((96, 72)).save(out("jpeg", "restart.jpg"), "JPEG", quality=50, optimize=True)


# --- prompt templates: "template\0prompt" -----------------------------------
def make_prompt():
    seeds = {
        "llava.txt": b"USER: <image>\n{prompt} ASSISTANT:\0What is in the image?",
        "plain.txt": b"{prompt}\0Describe this picture.",
        "alpaca.txt": b"Below is an instruction.\n\n### Instruction:\n{prompt}\n\n### Response:\0caf\xc3\xa9",
        "two-markers.txt": b"<image><image>{prompt}\0<image>",
        "no-placeholder.txt": b"USER: <image> ASSISTANT:",
    }
    for name, data in seeds.items():
        with open(out("prompt", name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    shutil.rmtree(OUT, ignore_errors=True)
    make_safetensors()
    make_gguf()
    make_json()
    make_jpeg()
    make_prompt()
