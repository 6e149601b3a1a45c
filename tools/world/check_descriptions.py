#!/usr/bin/env python3
"""Where a world LLaVA's descriptions go wrong (issue 7): describes the
shape pictures among the first N validation scenes in PyTorch (greedy) and
compares each described shape, in reading order, with the generator's:
the share of pictures with the right number of shapes, of shapes whose
size, colour, kind and place are each right, and of shapes right in all
four.

    python3 tools/world/check_descriptions.py world-models/llava-tuned --count 120
"""
import argparse
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from threads import set_torch_threads  # noqa: E402
from train_llava import DESCRIBE, greedy_text  # noqa: E402

# "a small red square at the top left", "a large blue circle in the centre"
SHAPE = re.compile(r"a (small|large) (\w+) (\w+) (?:in the (centre)|at the ([a-z ]+?))(?=,| and| on)")
ATTRIBUTES = ("size", "colour", "kind", "place")


def described_shapes(text):
    return [(size, colour, kind, centre or place) for size, colour, kind, centre, place in SHAPE.findall(text)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="a llava-hf directory (train_llava.py's)")
    ap.add_argument("--count", type=int, default=60, help="validation scenes looked at (test patterns skipped)")
    args = ap.parse_args()
    set_torch_threads()
    from tokenizers import Tokenizer
    from transformers import LlavaForConditionalGeneration
    model = LlavaForConditionalGeneration.from_pretrained(args.model).eval()
    tok = Tokenizer.from_file(os.path.join(args.model, "tokenizer.json"))
    right = {k: 0 for k in ("count",) + ATTRIBUTES + ("all",)}
    pictures = shapes = 0
    for i in range(args.count):
        img, rec = world.scene("val", i)
        if rec["kind"] != "shapes":
            continue
        got = described_shapes(greedy_text(model, tok, img, DESCRIBE))
        want = [(s["size"], s["colour"], s["kind"], world.place_name(s["row"], s["col"]))
                for s in sorted(rec["scene"]["shapes"], key=lambda s: (s["row"], s["col"]))]
        pictures += 1
        right["count"] += len(got) == len(want)
        for w, g in zip(want, got + [None] * len(want)):
            shapes += 1
            for j, name in enumerate(ATTRIBUTES):
                right[name] += g is not None and g[j] == w[j]
            right["all"] += g == w
    share = {k: round(v / (pictures if k == "count" else shapes), 3) for k, v in right.items()}
    print(json.dumps({"model": os.path.basename(os.path.normpath(args.model)), "pictures": pictures,
                      "shapes": shapes, "right": share}))


if __name__ == "__main__":
    main()
