#!/usr/bin/env python3
"""Reference data for vtp's block-quantized weight types (tests/test-quant.c),
made by the `gguf` package's quants module (llama.cpp's Python mirror of
ggml-quants.c; `pip install gguf`, measured with gguf 0.19.0).

1. Block types. For Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1 (the types the
package can quantize):
float32 rows, the blocks the package's quantizer makes of them (bit-exact
with ggml's quantize_row_*_ref) and their dequantization. For Q4_K, Q5_K,
Q6_K, Q3_K, Q2_K, IQ4_NL and IQ4_XS the package has no quantizer, so the
blocks come from llama.cpp
itself (--llama-cpp DIR: a llama.cpp source tree with its CMake build in
DIR/build; tools/quant_reference.c is compiled with gcc against its
libggml-base and calls ggml_quantize_chunk without an importance matrix,
as llama-quantize does), on the same kind of float rows plus K-quant
corners (whole zero, constant, one-signed and tiny super-blocks); their
dequantization is the package's; and on 1024 super-blocks of rows that
the test regenerates ("input": "hashed", see hashed_rows), blocks only.
The manifest entry records the llama.cpp version, commit and compiler
flags. Without --llama-cpp, the llama.cpp
entries of an existing manifest are kept as they are. Blocks of random
bytes with finite f16 scales (q*_k.random.*, q4_1 / q5_0 / q5_1.random.*,
q3_k / q2_k / iq4_nl / iq4_xs / iq3_* / iq2_*.random.*: dequantization only) keep
covering bit patterns a quantizer never makes. Raw little-endian files
plus manifest.json:

  tests/fixtures/quant/manifest.json
      [{type, rows, cols, input?, blocks, dequant?, reference?}]

2. A quantized model (tests/fixtures/llava-tiny-q): a tiny random LLaVA
(tools/make_llava_fixtures.py, widths multiples of 32) with its F32
reference, plus, for Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, transformers' logits and greedy tokens
when every matrix vtp quantizes at load is replaced by the gguf package's
quantization, dequantized (reference-q8_0.safetensors, ...). vtp with
weight-type=q8_0 holds exactly those weights, so it must reproduce these
numbers up to float summation order. The rule, as vtp's loader: the
weights of linear layers and of the patch embedding whose rows (K, the
product of the trailing dimensions) are whole blocks; embedding tables,
norms and biases stay as they are. The patch embedding here has K = 3 x 6 x
6 = 108, so it shows the fallback (kept unquantized).

Deterministic: re-running rewrites the same bytes (the model part on the
same torch/transformers versions, the K-quants on the same llama.cpp build).
    python3 tools/make_quant_fixtures.py [--out tests/fixtures] [--blocks-only] [--keep-model]
        [--llama-cpp /work/peer/llama_cpp_python-0.3.36/vendor/llama.cpp]
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
ROWS, COLS = 6, 512          # 16 Q8_0/Q4_0 blocks or 2 K-quant super-blocks per row


def float_rows(rng):
    """Rows that exercise the quantizers' corners: ordinary weights, a zero
    block, ties in the largest magnitude (Q4_0 keeps the first), values on
    the rounding midpoints of Q8_0, tiny and large magnitudes."""
    x = (rng.standard_normal((ROWS, COLS)) * 0.05).astype(np.float32)
    x[0, :32] = 0.0
    x[0, 32:64] = np.linspace(-1, 1, 32, dtype=np.float32)
    x[1, :32] = rng.integers(-127, 128, 32).astype(np.float32) * np.float32(0.5) / 127 * 2
    x[1, 32:64] = 0.25
    x[1, 64:96] = -0.25
    x[1, 96:128] = rng.choice([-3.0, 3.0], 32).astype(np.float32)   # equal magnitudes, both signs
    x[2] *= np.float32(1e-6)
    x[3] *= np.float32(1e3)
    x[4, :32] = (np.arange(32, dtype=np.float32) - 16) + 0.5          # midpoints
    x[5] = rng.uniform(-2, 2, COLS).astype(np.float32)
    return x


def random_blocks(rng, qtype):
    """Random blocks (K-quants, Q4_1, Q5_0, Q5_1) whose f16 fields are finite numbers."""
    block, size = quants.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (ROWS, COLS // block, size), dtype=np.uint8)
    halves = {Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,), Q.Q4_1: (0, 2), Q.Q5_0: (0,), Q.Q5_1: (0, 2),
              Q.Q3_K: (108,), Q.Q2_K: (80, 82), Q.IQ4_NL: (0,), Q.IQ4_XS: (0,),
              **{t: (0,) for t, _ in LATTICE_TYPES if t != Q.IQ1_M}, Q.IQ1_M: ()}[qtype]
    for off in halves:
        h = (rng.standard_normal((ROWS, COLS // block)) * 0.01).astype(np.float16)
        raw[..., off:off + 2] = h.view(np.uint8).reshape(ROWS, COLS // block, 2)
    if qtype == Q.IQ1_M:
        # d's bits 4 k .. 4 k + 3 in the top nibble of scale word k (bytes 48-55)
        h = (rng.standard_normal((ROWS, COLS // block)) * 0.01).astype(np.float16).view(np.uint16)
        for k in range(4):
            nib = ((h >> (4 * k)) & 15).astype(np.uint8)
            raw[..., 49 + 2 * k] = (raw[..., 49 + 2 * k] & 0x0F) | (nib << 4)
    return raw.reshape(ROWS, -1)


def q8_0_rounding_rows():
    """Q8_0 blocks whose quantization depends on the reference's exact
    rounding (vtp's Q8_0 KV cache, kv-type=q8_0, quantizes as the
    reference): ties (amax 127, so d = 1 and every half-integer value lands
    on .5: roundf goes away from zero, rint to even), and values for which
    the reference's id = 1 / (amax / 127) and llama.cpp's SIMD 127 / amax
    round to different integers (found by a seeded search)."""
    rng = np.random.default_rng(2727)
    rows = np.zeros((2, COLS), np.float32)
    ties = np.arange(-15.5, 16.0, 1.0, dtype=np.float32)           # 32 half-integers
    for b in range(4):
        blk = rng.permutation(ties) * np.float32(1 + b)              # still ties: (k + 0.5) (1 + b), d = 1 with 127 in it
        blk = np.round(blk * 2) / 2
        blk[b] = np.float32(127.0) * (1 if b % 2 == 0 else -1)
        rows[0, 32 * b:32 * (b + 1)] = blk
    rows[0, 128:] = (rng.standard_normal(COLS - 128) * 0.05).astype(np.float32)
    # blocks where round(x * (1 / (amax / 127))) != round(x * (127 / amax))
    found = []
    while len(found) < 12:
        amax = np.float32(rng.uniform(0.01, 4.0))
        d = np.float32(amax / np.float32(127))
        id1 = np.float32(np.float32(1) / d)
        id2 = np.float32(np.float32(127) / amax)
        if id1 == id2:
            continue
        vals = []
        for k in rng.permutation(126)[:80]:
            x = np.float32((k + 0.5) / id1)
            for cand in (x, np.nextafter(x, np.float32(0)), np.nextafter(x, np.float32(1e9))):
                a, b2 = np.float32(cand * id1), np.float32(cand * id2)
                if np.sign(a) == np.sign(b2) and np_roundf(a) != np_roundf(b2) and abs(cand) < amax:
                    vals.append(cand)
                    break
            if len(vals) == 31:
                break
        if len(vals) >= 4:
            blk = np.zeros(32, np.float32)
            blk[0] = amax
            vals = np.array(vals, np.float32)
            blk[1:1 + len(vals)] = vals * np.where(rng.random(len(vals)) < 0.5, -1, 1).astype(np.float32)
            found.append(blk)
    rows[1, :32 * len(found)] = np.concatenate(found)
    return rows


def np_roundf(x):
    """C's roundf: half away from zero."""
    return np.sign(x) * np.floor(np.abs(x) + np.float32(0.5))


def kquant_rows(x):
    """The Q8_0/Q4_0 rows (whole 256-blocks are mostly ordinary weights
    there) plus rows for the K-quant corners, one super-block (256) each
    half: zero, constant of either sign, all positive / all negative (the
    min clamped to zero or the range), a zero sub-block and an outlier
    among ordinary weights, heavy tails, magnitudes whose f16 scales
    underflow (1e-9) or that count as zero (1e-17), and ordinary weights
    with per-column scales as in real matrices."""
    rng = np.random.default_rng(2525)
    half = COLS // 2
    extra = (rng.standard_normal((10, COLS)) * 0.02).astype(np.float32)
    extra[0, :half] = 0.0
    extra[0, half:] = 0.25
    extra[1, :half] = -0.5
    extra[1, half + 64:half + 96] = 0.0
    extra[1, half + 160:half + 176] = 0.0
    extra[1, half + 200] = 0.6
    extra[2, :half] = np.abs(extra[2, :half]) + np.float32(0.01)
    extra[2, half:] = -np.abs(extra[2, half:]) - np.float32(0.01)
    extra[3, :half] = (rng.standard_t(3, half) * 0.02).astype(np.float32)
    extra[3, half:] *= np.float32(5e-8)
    extra[4, :half] *= np.float32(5e-16)
    extra[4, half:] = rng.uniform(-1, 1, half).astype(np.float32) * np.float32(100)
    extra[5:] *= np.exp(rng.standard_normal(COLS) * 0.7).astype(np.float32)
    return np.concatenate([x, extra, iq4_tie_rows(np.random.default_rng(2626))])


# IQ4's table (kvalues_iq4nl) and the midpoints between its neighbours
IQ4_VALUES = (-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113)
IQ4_MIDPOINTS = (-115.5, -93.5, -74, -57, -42, -28.5, -16, -4.5, 7, 19, 31.5, 45.5, 61, 79, 101)


def iq4_tie_rows(rng):
    """Rows for the IQ4 quantizers' ties. Row 0, each super-block: a
    sub-block of table values over 128 (-127 / 128 the largest), which the
    scale search fits exactly (scale 2^-7, so IQ4_XS's d is -2^-12), and
    seven of table values over 256 but for six large midpoints between
    neighbours, whose scales round to 16 d = 2^-8: IQ4_XS then maps them
    back with exactly 256, and the six fall between two table values (the
    lower one is taken only when strictly nearer). Row 1: in each
    super-block, one sub-block of large values and its negation, whose
    fitted scales are equal in magnitude and opposite in sign (IQ4_XS's d
    takes the first's)."""
    rows = np.zeros((2, COLS), dtype=np.float32)
    for b in range(COLS // 32):
        block = rng.choice(IQ4_VALUES, 32).astype(np.float32)
        if b % 8:
            block[rng.choice(32, 6, replace=False)] = rng.choice(IQ4_MIDPOINTS[:3] + IQ4_MIDPOINTS[-3:], 6)
        block[rng.integers(0, 32)] = -127
        rows[0, 32 * b:32 * b + 32] = block / np.float32(128 if b % 8 == 0 else 256)
    rows[1] = (rng.standard_normal(COLS) * 0.02).astype(np.float32)
    for sb in range(COLS // 256):
        big = (rng.standard_normal(32) * 0.5).astype(np.float32)
        at = 256 * sb + 32 * rng.integers(0, 4)
        rows[1, at:at + 32] = big
        rows[1, at + 128:at + 160] = -big
    return rows


WIDE_ROWS, WIDE_COLS = 128, 2048    # 1024 super-blocks: the scale searches' rarer choices


def _mix32(n):
    """A 32-bit integer hash (murmur3's finalizer), wrapping as C's uint32."""
    n = n.astype(np.uint32)
    for shift, mul in ((15, 0x85EBCA77), (13, 0xC2B2AE3D), (16, None)):
        n ^= n >> np.uint32(shift)
        if mul:
            n = (n * np.uint32(mul)).astype(np.uint32)
    return n


def hashed_rows(rows, cols):
    """Ordinary-weight-like rows that tests/test-quant.c regenerates bit for
    bit, so that only the blocks are stored: per element the sum of four
    22-bit hashes (nearly normal), centred, an integer below 2^24 (exact as
    float), scaled by powers of two only (exact): 2^-28, times 2^(row % 5 -
    2) per row and 8 for one column in 16 (outlier channels)."""
    i = np.arange(rows * cols * 4, dtype=np.uint64)
    h = _mix32(((i + 1) * 0x9E3779B1) & 0xFFFFFFFF) >> np.uint32(10)
    v = h.reshape(rows, cols, 4).astype(np.int64).sum(-1) - (1 << 23)
    x = v.astype(np.float32) * np.float32(2.0 ** -28)
    x *= (np.float32(2.0) ** (np.arange(rows) % 5 - 2).astype(np.float32))[:, None]
    outlier = _mix32((np.arange(cols, dtype=np.uint64) + 0x51ED) * 0x9E3779B1 & 0xFFFFFFFF) % 16 == 0
    x[:, outlier] *= np.float32(8)
    return x


def llama_cpp_kquants(x, llama_dir):
    """{tag: blocks} of the rows @x made by llama.cpp's ggml_quantize_chunk,
    and the provenance for the manifest."""
    llama_dir = os.path.abspath(llama_dir)
    lib_dir = os.path.join(llama_dir, "build", "bin")
    libs = sorted(glob.glob(os.path.join(lib_dir, "libggml-base.so.*.*.*")))
    if not libs:
        sys.exit(f"{lib_dir}: no libggml-base.so.X.Y.Z (build llama.cpp there first)")
    ggml_version = libs[0].rsplit(".so.", 1)[1]
    cflags = ["-O2", "-Wall", "-Wextra", "-I" + os.path.join(llama_dir, "ggml", "include")]
    provenance = {"source": "llama.cpp ggml_quantize_chunk (no imatrix) via tools/quant_reference.c",
                  "ggml_version": ggml_version,
                  "harness_cc": "gcc " + " ".join(cflags[:3]),
                  "cc": subprocess.run(["gcc", "--version"], capture_output=True, text=True,
                                       check=True).stdout.splitlines()[0]}
    package = re.search(r"llama_cpp_python-([0-9.]+)", llama_dir)
    if package:
        provenance["llama_cpp_python"] = package.group(1)
    commit = subprocess.run(["git", "-C", llama_dir, "rev-parse", "HEAD"], capture_output=True, text=True)
    if commit.returncode == 0:
        provenance["llama_cpp_commit"] = commit.stdout.strip()
    # how libggml-base's ggml-quants.c was compiled (the quantizers live there)
    commands = os.path.join(llama_dir, "build", "compile_commands.json")
    if os.path.exists(commands):
        with open(commands) as f:
            for entry in json.load(f):
                if entry["file"].endswith("ggml/src/ggml-quants.c"):
                    flags = [a for a in entry["command"].split()[1:]
                             if a.startswith(("-O", "-f", "-m", "-std")) or a == "-DNDEBUG"]
                    provenance["ggml_quants_cflags"] = " ".join(flags)
                    provenance["ggml_quants_cc"] = entry["command"].split()[0]
    blocks = {}
    with tempfile.TemporaryDirectory() as tmp:
        exe = os.path.join(tmp, "quant_reference")
        subprocess.run(["gcc", *cflags, os.path.join(ROOT, "tools", "quant_reference.c"),
                        "-L" + lib_dir, "-lggml-base", "-Wl,-rpath," + lib_dir, "-o", exe], check=True)
        rows_path = os.path.join(tmp, "rows.f32")
        x.tofile(rows_path)
        for qtype, tag in LLAMA_QUANTIZED:
            out = os.path.join(tmp, tag + ".blocks")
            subprocess.run([exe, tag, str(x.shape[1]), rows_path, out], check=True)
            size = quants.GGML_QUANT_SIZES[qtype]
            blocks[tag] = np.fromfile(out, dtype=np.uint8).reshape(x.shape[0], x.shape[1] // size[0] * size[1])
    return blocks, provenance


K_TYPES = ((Q.Q4_K, "q4_k"), (Q.Q5_K, "q5_k"), (Q.Q6_K, "q6_k"))
# llama.cpp's older blocks of 32 with a min or a fifth bit: the package
# quantizes them as ggml's quantize_row_*_ref does
LEGACY_TYPES = ((Q.Q4_1, "q4_1"), (Q.Q5_0, "q5_0"), (Q.Q5_1, "q5_1"))
# the K-quants of llama-quantize's smallest files
LOW_K_TYPES = ((Q.Q3_K, "q3_k"), (Q.Q2_K, "q2_k"))
# the non-linear 4-bit types of importance-matrix files
IQ_TYPES = ((Q.IQ4_NL, "iq4_nl"), (Q.IQ4_XS, "iq4_xs"))
# the lattice types of importance-matrix files (every index of a random
# block is a valid one: the grids have 2^bits entries)
# the types whose quantizer reference is llama.cpp's own build
LLAMA_QUANTIZED = K_TYPES + LOW_K_TYPES + IQ_TYPES
LATTICE_TYPES = ((Q.IQ3_XXS, "iq3_xxs"), (Q.IQ3_S, "iq3_s"), (Q.IQ2_XXS, "iq2_xxs"), (Q.IQ2_XS, "iq2_xs"),
                 (Q.IQ2_S, "iq2_s"), (Q.IQ1_S, "iq1_s"), (Q.IQ1_M, "iq1_m"))


def build_blocks(out, llama_dir=None):
    os.makedirs(out, exist_ok=True)
    manifest_path = os.path.join(out, "manifest.json")
    previous = []
    if os.path.exists(manifest_path):
        with open(manifest_path) as f:
            previous = json.load(f)
    rng = np.random.default_rng(1313)
    manifest = []

    def write(name, array):
        with open(os.path.join(out, name), "wb") as f:
            f.write(np.ascontiguousarray(array).tobytes())
        return name

    def random_entries(gen, types):
        """Random blocks of @types from the generator @gen, dequantized by the package."""
        for qtype, tag in types:
            blocks = random_blocks(gen, qtype)
            back = quants.dequantize(blocks, qtype).astype(np.float32)
            manifest.append({"type": tag, "rows": ROWS, "cols": COLS,
                             "blocks": write(f"{tag}.random.blocks", blocks),
                             "dequant": write(f"{tag}.random.dequant.f32", back)})

    x = float_rows(rng)
    for qtype, tag in ((Q.Q8_0, "q8_0"), (Q.Q4_0, "q4_0")) + LEGACY_TYPES:
        blocks = quants.quantize(x, qtype)
        back = quants.dequantize(blocks, qtype).astype(np.float32)
        manifest.append({"type": tag, "rows": ROWS, "cols": COLS,
                         "input": write(f"{tag}.input.f32", x),
                         "blocks": write(f"{tag}.blocks", blocks),
                         "dequant": write(f"{tag}.dequant.f32", back)})
    xr = q8_0_rounding_rows()
    blocks = quants.quantize(xr, Q.Q8_0)
    manifest.append({"type": "q8_0", "rows": xr.shape[0], "cols": COLS,
                     "input": write("q8_0.rounding.input.f32", xr),
                     "blocks": write("q8_0.rounding.blocks", blocks),
                     "dequant": write("q8_0.rounding.dequant.f32",
                                      quants.dequantize(blocks, Q.Q8_0).astype(np.float32))})
    random_entries(rng, K_TYPES)
    if llama_dir:
        xk = kquant_rows(x)
        blocks, provenance = llama_cpp_kquants(xk, llama_dir)
        for qtype, tag in LLAMA_QUANTIZED:
            back = quants.dequantize(blocks[tag], qtype).astype(np.float32)
            manifest.append({"type": tag, "rows": xk.shape[0], "cols": COLS,
                             "input": write("kquant.input.f32", xk),
                             "blocks": write(f"{tag}.blocks", blocks[tag]),
                             "dequant": write(f"{tag}.dequant.f32", back),
                             "reference": provenance})
        # many more super-blocks, input regenerated by the test (hashed_rows)
        # and the dequantization left to the entries above
        xw = hashed_rows(WIDE_ROWS, WIDE_COLS)
        blocks, provenance = llama_cpp_kquants(xw, llama_dir)
        for qtype, tag in LLAMA_QUANTIZED:
            manifest.append({"type": tag, "rows": WIDE_ROWS, "cols": WIDE_COLS, "input": "hashed",
                             "blocks": write(f"{tag}.wide.blocks", blocks[tag]),
                             "reference": provenance})
    else:
        kept = [e for e in previous if "reference" in e
                and all(os.path.exists(os.path.join(out, e[k])) for k in ("input", "blocks", "dequant")
                        if k in e and e[k] != "hashed")]
        if kept:
            print(f"kept {len(kept)} llama.cpp K-quant entries (pass --llama-cpp DIR to remake them)")
        manifest += kept
    # random blocks of the legacy types and of Q3_K / Q2_K, from a
    # generator of their own (the entries above keep their bytes)
    rng_legacy = np.random.default_rng(1414)
    random_entries(rng_legacy, LEGACY_TYPES + LOW_K_TYPES)
    # IQ4_NL / IQ4_XS random blocks (bit patterns the quantizer may not
    # make), a generator of their own
    rng_iq = np.random.default_rng(1515)
    random_entries(rng_iq, IQ_TYPES)
    # the lattice types: one more generator
    random_entries(np.random.default_rng(1616), LATTICE_TYPES)
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} entries to {out}")


TINY_Q = dict(
    vision=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                image_size=30, patch_size=6),
    text=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, rms_norm_eps=1e-5, max_position_embeddings=256),
    llava=dict(vision_feature_layer=-2, vision_feature_select_strategy="default"),
    image=(45, 37), seed=5, layout="llava-hf", shards=1, tie=False, init=0.15)


def quantized_by_vtp(name, p, block):
    """Whether vtp's loader quantizes this parameter (see the docstring)."""
    if p.dim() < 2 or not name.endswith("weight"):
        return False
    if any(s in name for s in ("embed_tokens", "position_embedding", "norm", "layrnorm")):
        return False
    return (p.numel() // p.shape[0]) % block == 0


def build_model(out_dir, keep_model=False):
    import torch
    from PIL import Image
    from safetensors.torch import save_file
    from transformers import LlavaForConditionalGeneration, LlavaProcessor
    import make_llava_fixtures as llava

    torch.set_num_threads(1)
    if not keep_model:
        llava.build_model_fixture("llava-tiny-q", TINY_Q, out_dir)
    processor = LlavaProcessor.from_pretrained(out_dir)
    image = Image.open(os.path.join(out_dir, "image.png"))
    inputs = processor(images=image, text=llava.TEMPLATE.format(prompt=llava.PROMPT), return_tensors="pt")
    meta = {"generator": "tools/make_quant_fixtures.py", "types": {}}
    for qtype, tag in ((Q.Q8_0, "q8_0"), (Q.Q4_0, "q4_0")) + LEGACY_TYPES:
        model = LlavaForConditionalGeneration.from_pretrained(out_dir).eval()
        block = quants.GGML_QUANT_SIZES[qtype][0]
        names = []
        with torch.no_grad():
            for name, p in model.named_parameters():
                if quantized_by_vtp(name, p, block):
                    w = p.detach().numpy().reshape(p.shape[0], -1).astype(np.float32)
                    back = quants.dequantize(quants.quantize(w, qtype), qtype).reshape(p.shape)
                    p.copy_(torch.from_numpy(np.ascontiguousarray(back)))
                    names.append(name)
            logits = model(**inputs).logits[0]
            gen = model.generate(**inputs, max_new_tokens=llava.N_GREEDY, do_sample=False, output_scores=True,
                                 return_dict_in_generate=True)
        new_tokens = gen.sequences[0, inputs["input_ids"].shape[1]:]
        margin = llava.greedy_margins(gen.scores)
        save_file({"logits": logits.contiguous(), "greedy_tokens": new_tokens.to(torch.int64).contiguous()},
                  os.path.join(out_dir, f"reference-{tag}.safetensors"))
        meta["types"][tag] = {"quantized": names, "greedy_min_margin": margin}
        print(f"llava-tiny-q {tag}: {len(names)} matrices quantized, greedy {new_tokens.tolist()} "
              f"(min top-2 margin {margin:.4f})")
        assert margin > 1e-3, "greedy continuation too close to a tie to be a stable fixture"
    with open(os.path.join(out_dir, "reference-quant.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    ap.add_argument("--blocks-only", action="store_true", help="skip the model (no torch needed)")
    ap.add_argument("--keep-model", action="store_true",
                    help="use llava-tiny-q's model files as they are (remake its quantized references only)")
    ap.add_argument("--llama-cpp", metavar="DIR",
                    help="llama.cpp source dir with its build/: remake the K-quant quantizer references")
    args = ap.parse_args()
    build_blocks(os.path.join(args.out, "quant"), args.llama_cpp)
    if not args.blocks_only:
        build_model(os.path.join(args.out, "llava-tiny-q"), args.keep_model)


if __name__ == "__main__":
    main()
