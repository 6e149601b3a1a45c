#!/usr/bin/env python3
"""Reference data for vtp's block-quantized weight types (tests/test-quant.c),
made by the `gguf` package's quants module (llama.cpp's Python mirror of
ggml-quants.c; `pip install gguf`, measured with gguf 0.19.0).

1. Block types. For Q8_0 and Q4_0 (the types the package can quantize):
float32 rows, the blocks the package's quantizer makes of them (bit-exact
with ggml's quantize_row_*_ref) and their dequantization. For Q4_K, Q5_K
and Q6_K (no quantizer in the package): blocks of random bytes with finite
f16 scales, and their dequantization. Raw little-endian files plus
manifest.json:

  tests/fixtures/quant/manifest.json   [{type, rows, cols, input?, blocks, dequant}]

2. A quantized model (tests/fixtures/llava-tiny-q): a tiny random LLaVA
(tools/make_llava_fixtures.py, widths multiples of 32) with its F32
reference, plus, for Q8_0 and Q4_0, transformers' logits and greedy tokens
when every matrix vtp quantizes at load is replaced by the gguf package's
quantization, dequantized (reference-q8_0.safetensors, ...). vtp with
weight-type=q8_0 holds exactly those weights, so it must reproduce these
numbers up to float summation order. The rule, as vtp's loader: the
weights of linear layers and of the patch embedding whose rows (K, the
product of the trailing dimensions) are whole blocks; embedding tables,
norms and biases stay as they are. The patch embedding here has K = 3 x 6 x
6 = 108, so it shows the fallback (kept unquantized).

Deterministic: re-running rewrites the same bytes (the model part on the
same torch/transformers versions).
    python3 tools/make_quant_fixtures.py [--out tests/fixtures]
"""
import argparse
import json
import os

import sys

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
    """Random K-quant blocks whose f16 fields are finite numbers."""
    block, size = quants.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (ROWS, COLS // block, size), dtype=np.uint8)
    halves = {Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}[qtype]
    for off in halves:
        h = (rng.standard_normal((ROWS, COLS // block)) * 0.01).astype(np.float16)
        raw[..., off:off + 2] = h.view(np.uint8).reshape(ROWS, COLS // block, 2)
    return raw.reshape(ROWS, -1)


def build_blocks(out):
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(1313)
    manifest = []

    def write(name, array):
        with open(os.path.join(out, name), "wb") as f:
            f.write(np.ascontiguousarray(array).tobytes())
        return name

    x = float_rows(rng)
    for qtype, tag in ((Q.Q8_0, "q8_0"), (Q.Q4_0, "q4_0")):
        blocks = quants.quantize(x, qtype)
        back = quants.dequantize(blocks, qtype).astype(np.float32)
        manifest.append({"type": tag, "rows": ROWS, "cols": COLS,
                         "input": write(f"{tag}.input.f32", x),
                         "blocks": write(f"{tag}.blocks", blocks),
                         "dequant": write(f"{tag}.dequant.f32", back)})
    for qtype, tag in ((Q.Q4_K, "q4_k"), (Q.Q5_K, "q5_k"), (Q.Q6_K, "q6_k")):
        blocks = random_blocks(rng, qtype)
        back = quants.dequantize(blocks, qtype).astype(np.float32)
        manifest.append({"type": tag, "rows": ROWS, "cols": COLS,
                         "blocks": write(f"{tag}.blocks", blocks),
                         "dequant": write(f"{tag}.dequant.f32", back)})
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} types to {out}")


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


def build_model(out_dir):
    import torch
    from PIL import Image
    from safetensors.torch import save_file
    from transformers import LlavaForConditionalGeneration, LlavaProcessor
    import make_llava_fixtures as llava

    torch.set_num_threads(1)
    llava.build_model_fixture("llava-tiny-q", TINY_Q, out_dir)
    processor = LlavaProcessor.from_pretrained(out_dir)
    image = Image.open(os.path.join(out_dir, "image.png"))
    inputs = processor(images=image, text=llava.TEMPLATE.format(prompt=llava.PROMPT), return_tensors="pt")
    meta = {"generator": "tools/make_quant_fixtures.py", "types": {}}
    for qtype, tag in ((Q.Q8_0, "q8_0"), (Q.Q4_0, "q4_0")):
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
    args = ap.parse_args()
    build_blocks(os.path.join(args.out, "quant"))
    if not args.blocks_only:
        build_model(os.path.join(args.out, "llava-tiny-q"))


if __name__ == "__main__":
    main()
