#!/usr/bin/env python3
"""Reference data for vtp's block-quantized weight types (tests/test-quant.c),
made by the `gguf` package's quants module (llama.cpp's Python mirror of
ggml-quants.c; `pip install gguf`, measured with gguf 0.19.0).

For Q8_0 and Q4_0 (the types the package can quantize): float32 rows, the
blocks the package's quantizer makes of them (bit-exact with ggml's
quantize_row_*_ref) and their dequantization. For Q4_K, Q5_K and Q6_K (no
quantizer in the package): blocks of random bytes with finite f16 scales,
and their dequantization. Raw little-endian files plus manifest.json:

  tests/fixtures/quant/manifest.json   [{type, rows, cols, input?, blocks, dequant}]

Deterministic: re-running rewrites the same bytes.
    python3 tools/make_quant_fixtures.py [--out tests/fixtures/quant]
"""
import argparse
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "quant"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(1313)
    manifest = []

    def write(name, array):
        with open(os.path.join(args.out, name), "wb") as f:
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
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    print(f"wrote {len(manifest)} types to {args.out}")


if __name__ == "__main__":
    main()
