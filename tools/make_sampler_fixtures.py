#!/usr/bin/env python3
"""Reference kept sets for vtp's sampler (tests/test-sampler.c), made by
transformers' own logits warpers: TemperatureLogitsWarper, then
TopKLogitsWarper, then TopPLogitsWarper, the order in which
GenerationMixin._get_logits_processor appends them (transformers 4.x/5.x,
generation/utils.py); a token is kept when its warped score is not -inf.
The draw that follows (torch.multinomial) has no seed vtp could share, so
only the kept sets are reference data; test-sampler.c checks the draw's
frequencies and the device against the host.

Cases: logits of 7 to 32064 tokens from several shapes (normal at a few
widths, one token far ahead, a long flat tail, few distinct levels: ties),
temperatures 0.3-1.5, top-k 0 / 1 / 5 / 50 / more than the vocabulary,
top-p 1 / 0.95 / 0.9 / 0.5 / 0.1. TopPLogitsWarper sorts with torch.sort,
whose order among equal scores is not specified, so cases with a top-p
below 1 have no ties (the tie cases run top-k alone, where TopKLogitsWarper
keeps every token as likely as the k-th), and a case whose cumulative
probability lies within 1e-5 of top-p at its cut (either side) is drawn again: float
summation order may not decide what the reference keeps (so the 32064
tokens' flat normal shapes have no top-p case without a top-k: their
tokens at the cut hold ~1.5e-5 each).

Writes tests/fixtures/sampler/: logits.f32 (every case's logits, one after
another, little-endian float32), kept.u8 (1 / 0 per logit) and
manifest.json ([{n, offset, temperature, top_k, top_p, kept, shape}]).
Deterministic: re-running rewrites the same bytes (same torch and
transformers).
    python3 tools/make_sampler_fixtures.py [--out tests/fixtures]
"""
import argparse
import json
import os

import numpy as np
import torch
import transformers
from transformers.generation.logits_process import (TemperatureLogitsWarper, TopKLogitsWarper,
                                                    TopPLogitsWarper)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def logits_of(shape, n, rng):
    if shape == "normal-narrow":
        return rng.normal(0, 0.5, n)
    if shape == "normal-wide":
        return rng.normal(0, 4.0, n)
    if shape == "peaked":
        x = rng.normal(0, 1.0, n)
        x[rng.integers(n)] += 12.0
        return x
    if shape == "flat-tail":
        x = rng.normal(-3.0, 0.05, n)
        x[rng.choice(n, min(n, 5), replace=False)] = rng.normal(3.0, 1.0, min(n, 5))
        return x
    if shape == "levels":
        return rng.integers(-4, 4, n) * 0.75
    raise ValueError(shape)


def warped(logits, temperature, top_k, top_p):
    scores = torch.tensor(logits, dtype=torch.float32)[None, :]
    ids = torch.zeros((1, 1), dtype=torch.long)
    if temperature != 1.0:
        scores = TemperatureLogitsWarper(temperature)(ids, scores)
    if top_k:
        scores = TopKLogitsWarper(top_k=top_k)(ids, scores)
    if top_p < 1.0:
        scores = TopPLogitsWarper(top_p=top_p)(ids, scores)
    return scores[0]


def top_p_margin(logits, temperature, top_k, top_p):
    """How far (in probability) the top-p cut is from deciding otherwise."""
    x = np.asarray(logits, np.float64) / temperature
    if top_k and top_k < len(x):
        x = np.where(x >= np.sort(x)[-top_k], x, -np.inf)
    p = np.exp(x - x.max())
    p /= p.sum()
    c = np.cumsum(np.sort(p)[::-1])
    j = min(int(np.searchsorted(c, top_p)), len(c) - 1)  # the first reaching top_p: the last kept
    return min(c[j] - top_p, top_p - c[j - 1] if j else 1.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures"))
    args = ap.parse_args()
    out = os.path.join(args.out, "sampler")
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(20261207)
    cases, logit_rows, kept_rows, offset = [], [], [], 0
    plan = []
    for n in (7, 64, 1000, 32064):
        for shape in ("normal-narrow", "normal-wide", "peaked", "flat-tail", "levels"):
            for temperature, top_k, top_p in ((1.0, 5, 1.0), (0.7, 50, 1.0), (1.5, 1, 1.0), (1.0, n + 3, 1.0),
                                              (1.0, 0, 0.9), (0.3, 0, 0.5), (1.5, 0, 0.95), (0.7, 50, 0.9),
                                              (1.0, 5, 0.1), (1.2, 0, 0.1)):
                if n == 32064 and (temperature, top_k, top_p) not in ((0.7, 50, 0.9), (1.0, 0, 0.9)) and not (
                        shape == "levels" and top_k == 50):
                    continue  # a vocabulary's size, a few cases (128 KB each)
                if shape == "levels" and top_p < 1.0:
                    continue  # ties under top-p: the reference's order among them is unspecified
                if n == 32064 and top_k == 0 and top_p < 1.0 and shape.startswith("normal"):
                    continue  # ~1.5e-5 a token where the sum reaches top_p: no case is 1e-5 from both sides
                plan.append((n, shape, temperature, top_k, top_p))
    for n, shape, temperature, top_k, top_p in plan:
        while True:
            x = logits_of(shape, n, rng).astype(np.float32)
            if top_p >= 1.0 or top_p_margin(x, temperature, top_k, top_p) > 1e-5:
                break
        keep = torch.isfinite(warped(x, temperature, top_k, top_p)).numpy().astype(np.uint8)
        cases.append({"n": n, "offset": offset, "shape": shape, "temperature": temperature, "top_k": top_k,
                      "top_p": top_p, "kept": int(keep.sum())})
        logit_rows.append(x)
        kept_rows.append(keep)
        offset += n
    np.concatenate(logit_rows).astype("<f4").tofile(os.path.join(out, "logits.f32"))
    np.concatenate(kept_rows).tofile(os.path.join(out, "kept.u8"))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"reference": "transformers %s, torch %s: TemperatureLogitsWarper, TopKLogitsWarper, "
                   "TopPLogitsWarper" % (transformers.__version__, torch.__version__.split("+")[0]),
                   "cases": cases}, f, indent=1)
        f.write("\n")
    print("%d cases, %d logits -> %s" % (len(cases), offset, out))


if __name__ == "__main__":
    main()
