#!/usr/bin/env python3
"""Two evaluate.py JSON files side by side, as a markdown table: a row per
variant both have, a column per question type, vtp's accuracy in A and in
B; and how many of B's texts vtp and PyTorch wrote the same.

    python3 tools/world/compare_evals.py docs/world-eval.json /tmp/world-cells-compare/eval.json \\
        --names "shipped encoder" "cells encoder"
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--names", nargs=2, default=["A", "B"])
    args = ap.parse_args()
    with open(args.a) as f:
        a = json.load(f)
    with open(args.b) as f:
        b = json.load(f)
    if a.get("count") != b.get("count"):
        print("(A has %s test pictures, B %s: the prompts differ)\n" % (a.get("count"), b.get("count")))
    variants = [v for v in b["variants"] if v in a["variants"]]
    types = sorted({t for v in variants for t in b["variants"][v]["vtp"]})
    na, nb = args.names
    # a row per variant, a column per question type: "A -> B" in percent
    print("%s -> %s, %% right (prompts per type: %s)\n" % (na, nb, ", ".join(
        "%s %d" % (t, max(b["variants"][v]["vtp"].get(t, [0, 0])[1] for v in variants)) for t in types)))
    print("| variant | " + " | ".join(types) + " | vtp = PyTorch (%s) |" % nb)
    print("|---|" + "---|" * (len(types) + 1))
    for v in variants:
        cells = []
        for t in types:
            ra, rb = a["variants"][v]["vtp"].get(t), b["variants"][v]["vtp"].get(t)
            cells.append("%.1f → **%.1f**" % (100 * ra[0], 100 * rb[0]) if ra and rb else "-")
        same = b["variants"][v].get("identical_texts")
        print("| %s | %s | %s |" % (v, " | ".join(cells), "%d of %d" % tuple(same) if same else "-"))

if __name__ == "__main__":
    main()
