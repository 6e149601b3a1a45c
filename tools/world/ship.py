#!/usr/bin/env python3
"""Assemble world-models/ (issue 7) from the trained directories: every
tensor stored as float16 (the budget is 30 MB; vtp and evaluate.py compute
in float32 from these same files), configs, tokenizers, training records
and gate logs copied, and a few held-out pictures for the demo.

    python3 tools/world/ship.py --encoder E --llm L --llava V --qformer-text Q1 --qformer-notext Q2 \\
        --adapter A --qformer-text-adapter U1 --qformer-notext-adapter U2 --out world-models

Each bridge directory is named for what it is; the unified-framework
adapter variants hold qformer/ and adapter/.
"""
import argparse
import os
import shutil
import sys

from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402

SAMPLES = [1, 2, 4, 5, 7, 12]      # test-split pictures bundled for the README's demo (shape scenes)


def copy_half(src, dst):
    """@src's files into @dst, *.safetensors with float tensors in float16."""
    os.makedirs(dst, exist_ok=True)
    for name in sorted(os.listdir(src)):
        s, d = os.path.join(src, name), os.path.join(dst, name)
        if os.path.isdir(s):
            copy_half(s, d)
        elif name.endswith(".safetensors"):
            t = load_file(s)
            save_file({k: v.half() if v.is_floating_point() else v for k, v in t.items()}, d,
                      metadata={"format": "pt"})
        else:
            shutil.copy(s, d)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("encoder", "llm", "llava", "llava-tuned", "qformer-text", "qformer-notext", "adapter", "qformer-text-adapter",
                 "qformer-notext-adapter"):
        ap.add_argument("--" + name)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    for name, src in sorted(vars(args).items()):
        if name == "out" or not src:
            continue
        dst = os.path.join(args.out, name.replace("_", "-"))
        if os.path.isdir(dst):
            shutil.rmtree(dst)
        copy_half(src, dst)
        print("%-24s %6.2f MB" % (name.replace("_", "-"), sum(os.path.getsize(os.path.join(r, f))
                                                               for r, _, fs in os.walk(dst) for f in fs) / 1e6))
    samples = os.path.join(args.out, "samples")
    os.makedirs(samples, exist_ok=True)
    with open(os.path.join(samples, "captions.txt"), "w", encoding="utf-8") as f:
        for i in SAMPLES:
            img, rec = world.scene("test", i)
            assert rec["kind"] == "shapes", i
            img.save(os.path.join(samples, "test-%05d.png" % i))
            f.write("test-%05d.png %s\n" % (i, rec["caption"]))
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(args.out) for f in fs)
    print("total %.2f MB" % (total / 1e6))


if __name__ == "__main__":
    main()
