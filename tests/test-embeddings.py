#!/usr/bin/python3
"""vtp-run --format embeddings (issue 17, docs/embeddings.md).

Image side: on the tiny checkpoints of tests/fixtures, the rows vtp-run
writes for a fixture's picture must equal the bridge output transformers
computed for that picture in the fixture's reference (LLaVA's
projector_output, BLIP-2's and InstructBLIP's projected queries, the
LLaMA-Adapter V2 prompts), through vtp's own decoding and preprocessing;
InstructBLIP's queries with no instruction must not pass for them (a wrong
tensor fails). Text side: a caption's rows must equal the language model's
embedding table (read here from the checkpoint's safetensors) at the
caption's token ids, and those ids must be the ones Hugging Face tokenizers
gives without special tokens (listed below). Then each bridge of the world
models gives its shape ([image tokens | queries | layers x positions,
width]); pooled rows are the means; bad usage fails with exit status 2.

Standard library only: the .npy and .safetensors files are read by hand,
so the files' format is checked too.
"""
import ast
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
from array import array

SOURCE = os.environ["VTP_SOURCE_DIR"]
VTP_RUN = os.environ["VTP_RUN"]
FIX = os.path.join(SOURCE, "tests", "fixtures")
WORLD = os.path.join(SOURCE, "world-models")
CAPTIONS = ["a red circle", "Two small blue squares."]

# Hugging Face tokenizers 0.22, Tokenizer.from_file(tokenizer.json).encode(c, add_special_tokens=False).ids
HF_IDS = {
    "llava-tiny-a": [[333, 369, 304, 382], [329, 295, 349, 334, 347, 346, 350, 312, 321, 305, 334, 364, 301, 375, 270]],
    "blip2-opt-tiny": [[68, 299, 71, 310], [55, 279, 264, 277, 276, 280, 350, 72, 264, 294, 333, 17]],
    "instructblip-tiny": [[333, 369, 304, 382], [329, 295, 349, 334, 347, 346, 350, 312, 321, 305, 334, 364, 301, 375,
                                                270]],
    "adapter-tiny/llama": [[261, 286, 342, 312], [301, 280, 264, 277, 276, 281, 336, 340, 328, 264, 287, 331, 304, 346]],
    "blip2-t5-tiny": [[20, 92, 23, 89], [3, 40, 51, 21, 50, 49, 3, 59, 87, 21, 82, 58, 10, 37]],
}

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def read_npy(path):
    """A float32 .npy file as (shape, flat array), parsed by hand."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x93NUMPY\x01\x00", path + ": not a version 1.0 .npy file"
    (n,) = struct.unpack("<H", data[8:10])
    assert (10 + n) % 64 == 0, path + ": header not aligned to 64 bytes"
    header = ast.literal_eval(data[10:10 + n].decode("latin-1"))
    assert header["descr"] == "<f4" and header["fortran_order"] is False, header
    shape = header["shape"]
    values = array("f")
    values.frombytes(data[10 + n:])
    assert len(values) == math.prod(shape), (path, shape, len(values))
    return list(shape), values


def read_safetensors(path, name):
    """One tensor of a .safetensors file as (shape, flat list of floats)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        t = header[name]
        begin, end = t["data_offsets"]
        f.seek(8 + n + begin)
        raw = f.read(end - begin)
    if t["dtype"] == "F32":
        values = array("f")
        values.frombytes(raw)
    elif t["dtype"] == "F16":
        values = [x for (x,) in struct.iter_unpack("<e", raw)]
    elif t["dtype"] == "BF16":
        values = [struct.unpack("<f", b"\0\0" + raw[i:i + 2])[0] for i in range(0, len(raw), 2)]
    else:
        raise ValueError(f"{path}: {name} is {t['dtype']}")
    return t["shape"], values


def embed_table(model_dir):
    """The language model's token embedding table of a checkpoint directory."""
    files = [f for f in os.listdir(model_dir) if f.endswith(".safetensors")]
    for f in sorted(files):
        path = os.path.join(model_dir, f)
        with open(path, "rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            names = json.loads(fh.read(n))
        for name in names:
            if name.endswith(("embed_tokens.weight", "shared.weight", "tok_embeddings.weight")) \
                    and "qformer" not in name and "vision" not in name:
                return read_safetensors(path, name)
    raise ValueError(model_dir + ": no embedding table")


def max_diff(a, b):
    return max(abs(x - y) for x, y in zip(a, b))


def run(args, expect=0):
    p = subprocess.run([VTP_RUN] + args, capture_output=True, text=True, timeout=300)
    if p.returncode != expect:
        print(p.stdout, p.stderr, file=sys.stderr)
    return p


def embed(graph, sets, picture, out, extra=()):
    with open(os.path.join(out + "-captions.txt"), "w") as f:
        f.write("\n".join(CAPTIONS) + "\n")
    args = [graph, "--input", picture, "--captions", out + "-captions.txt", "--format", "embeddings", "--output",
            out, "--quiet"] + list(extra)
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    p = run(args)
    check(p.returncode == 0, f"{graph} {picture}: vtp-run --format embeddings exits 0 ({p.stderr.strip()[-300:]})")
    with open(os.path.join(out, "index.json")) as f:
        return json.load(f)


def check_common(tag, index, out, width, n_images):
    """Files, pooled rows and the index's shapes."""
    check(index["pooling"].startswith("mean"), f"{tag}: the index says how rows are pooled")
    for side, n in (("images", n_images), ("texts", len(CAPTIONS))):
        entries = index[side]
        check(len(entries) == n, f"{tag}: {n} {side}")
        pooled_shape, pooled = read_npy(os.path.join(out, index[side + "_pooled"]))
        check(pooled_shape == [n, width], f"{tag}: {side} pooled shape {pooled_shape} == [{n}, {width}]")
        for i, e in enumerate(entries):
            shape, rows = read_npy(os.path.join(out, e["file"]))
            check(shape == e["shape"] and shape[1] == width, f"{tag}: {e['file']} shape {shape} as indexed")
            mean = [sum(rows[t * width + c] for t in range(shape[0])) / shape[0] for c in range(width)]
            check(e["pooled_row"] == i and max_diff(mean, pooled[i * width:(i + 1) * width]) < 1e-5,
                  f"{tag}: {side} pooled row {i} is the mean of {e['file']}")


def check_texts(tag, index, out, model_dir, hf_ids=None):
    shape, table = embed_table(model_dir)
    width = shape[1]
    for i, (caption, e) in enumerate(zip(CAPTIONS, index["texts"])):
        check(e["source"] == caption and e["kind"] == "text", f"{tag}: text {i} is \"{caption}\"")
        if hf_ids:
            check(e["ids"] == hf_ids[i], f"{tag}: \"{caption}\" ids {e['ids']} == tokenizers' {hf_ids[i]}")
        rshape, rows = read_npy(os.path.join(out, e["file"]))
        want = [v for t in e["ids"] for v in table[t * width:(t + 1) * width]]
        check(rshape == [len(e["ids"]), width] and max_diff(rows, want) == 0,
              f"{tag}: \"{caption}\" rows are the embedding table's rows of its ids")


def fixtures(tmp):
    cases = [
        ("llava-tiny-a", "llava-1.5", {"model": f"{FIX}/llava-tiny-a"}, "projector_output", "image-embeddings",
         f"{FIX}/llava-tiny-a", ()),
        ("blip2-opt-tiny", "blip2", {"model": f"{FIX}/blip2-opt-tiny"}, "projected", "query-embeddings",
         f"{FIX}/blip2-opt-tiny", ()),
        ("blip2-t5-tiny", "blip2", {"model": f"{FIX}/blip2-t5-tiny"}, "projected", "query-embeddings",
         f"{FIX}/blip2-t5-tiny", ()),
        ("instructblip-tiny", "instructblip", {"model": f"{FIX}/instructblip-tiny"}, "projected", "query-embeddings",
         f"{FIX}/instructblip-tiny", ("--prompt", "What is unusual about this image?")),
        ("adapter-tiny", "llama-adapter-v2", {"clip": f"{FIX}/adapter-tiny/clip", "adapter": f"{FIX}/adapter-tiny/v2",
                                              "llama": f"{FIX}/adapter-tiny/llama"}, "prompts", "adapter-prompts",
         f"{FIX}/adapter-tiny/llama", ()),
    ]
    for name, graph, sets, ref_name, kind, lm_dir, extra in cases:
        out = os.path.join(tmp, name)
        index = embed(graph, sets, f"{FIX}/{name}/image.png", out, extra)
        rshape, ref = read_safetensors(f"{FIX}/{name}/reference.safetensors", ref_name)
        e = index["images"][0]
        shape, rows = read_npy(os.path.join(out, e["file"]))
        check(e["kind"] == kind and shape == rshape,
              f"{name}: the picture's {e['kind']} {shape} are transformers' {ref_name} {rshape}")
        if shape == rshape:
            d = max_diff(rows, ref)
            check(d < 1e-4, f"{name}: the picture's rows equal transformers' {ref_name} (max |diff| {d:.2g})")
            if name == "instructblip-tiny":
                # the queries without the instruction are another tensor: it must not pass
                _, other = read_safetensors(f"{FIX}/{name}/reference.safetensors", "projected_noinstr")
                check(max_diff(other, ref) > 100 * 1e-4, f"{name}: another tensor (no instruction) would fail")
        check_common(name, index, out, rshape[1], 1)
        check_texts(name, index, out, lm_dir, HF_IDS.get(name if name != "adapter-tiny" else "adapter-tiny/llama"))


def world(tmp):
    """Every bridge of the world models: its shape, on two held-out pictures."""
    pictures = sorted(f for f in os.listdir(os.path.join(WORLD, "samples")) if f.endswith(".png"))[:2]
    picdir = os.path.join(tmp, "world-pictures")
    os.makedirs(picdir)
    for p in pictures:
        os.symlink(os.path.join(WORLD, "samples", p), os.path.join(picdir, p))
    with open(os.path.join(WORLD, "encoder", "config.json")) as f:
        enc = json.load(f)
    enc = enc.get("vision_config", enc)
    patches = (enc["image_size"] // enc["patch_size"]) ** 2
    with open(os.path.join(WORLD, "qformer-text", "config.json")) as f:
        queries = json.load(f)["num_query_tokens"]
    with open(os.path.join(WORLD, "llm", "config.json")) as f:
        width = json.load(f)["hidden_size"]
    variants = [
        ("llava", "llava-1.5", {"model": f"{WORLD}/llava"}, "image-embeddings", patches),
        ("qformer-text", "unified-text-input", {"encoder": f"{WORLD}/encoder", "qformer": f"{WORLD}/qformer-text",
                                                "llm": f"{WORLD}/llm"}, "query-embeddings", queries),
        ("qformer-notext", "unified-notext-input", {"encoder": f"{WORLD}/encoder",
                                                    "qformer": f"{WORLD}/qformer-notext", "llm": f"{WORLD}/llm"},
         "query-embeddings", queries),
        ("adapter", "llama-adapter-v2", {"clip": f"{WORLD}/encoder", "adapter": f"{WORLD}/adapter",
                                         "llama": f"{WORLD}/llm"}, "adapter-prompts", None),
    ]
    for name, graph, sets, kind, tokens in variants:
        out = os.path.join(tmp, "world-" + name)
        index = embed(graph, sets, picdir, out)
        if tokens is None:      # the adapter: layers x positions of its own config
            with open(os.path.join(WORLD, "adapter", "config.json")) as f:
                cfg = json.load(f)
            tokens = cfg.get("query_layer", 0) * cfg.get("query_len", 0) or index["images"][0]["shape"][0]
        check([e["source"] for e in index["images"]] == [os.path.join(picdir, p) for p in pictures],
              f"world {name}: the pictures in order")
        check(all(e["kind"] == kind and e["shape"] == [tokens, width] for e in index["images"]),
              f"world {name}: {kind} [{tokens}, {width}]")
        check_common("world " + name, index, out, width, len(pictures))
        check_texts("world " + name, index, out, f"{WORLD}/llm")


def usage(tmp):
    pic = f"{FIX}/llava-tiny-a/image.png"
    model = ["--set", f"model={FIX}/llava-tiny-a"]
    p = run(["llava-1.5", "-i", pic, "--format", "embeddings"] + model, 2)
    check(p.returncode == 2 and "--output DIR" in p.stderr, "no --output: exit 2 naming --output DIR")
    p = run(["llava-1.5", "-i", pic, "--format", "embeddings", "-o", os.path.join(SOURCE, "README.md")] + model, 2)
    check(p.returncode == 2 and "README.md" in p.stderr, "--output a file: exit 2")
    p = run(["llava-1.5", "-i", pic, "--captions", "text:x"] + model, 2)
    check(p.returncode == 2 and "--captions" in p.stderr, "--captions without --format embeddings: exit 2")
    graph = os.path.join(tmp, "no-llm.json")
    with open(graph, "w") as f:
        json.dump({"vtp-graph": 1, "name": "no-llm", "parameters": {"model": {"type": "path", "required": True}},
                   "elements": [{"name": "encoder", "factory": "vtpencoder", "properties": {"model": "${model}"}}],
                   "links": [], "input": "encoder", "output": "encoder"}, f)
    p = run([graph, "-i", pic, "--format", "embeddings", "-o", os.path.join(tmp, "no-llm")] + model, 2)
    check(p.returncode == 2 and "no vtpllm" in p.stderr, f"a graph without vtpllm: exit 2 ({p.stderr.strip()})")
    # the text graph: captions alone, no picture
    out = os.path.join(tmp, "text")
    p = run(["text", "--set", f"model={WORLD}/llm", "-i", "text:a red circle", "-f", "embeddings", "-o", out])
    with open(os.path.join(out, "index.json")) as f:
        index = json.load(f)
    check(p.returncode == 0 and not index["images"] and len(index["texts"]) == 1
          and index["texts"][0]["file"] in p.stdout, "the text graph: a caption alone")


with tempfile.TemporaryDirectory() as tmp:
    fixtures(tmp)
    world(tmp)
    usage(tmp)
if failures:
    print(f"{len(failures)} failed", file=sys.stderr)
    sys.exit(1)
