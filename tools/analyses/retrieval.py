#!/usr/bin/env python3
"""Image-to-text retrieval on vtp-run --format embeddings directories (one
per bridge), as the research's "Image-to-Text Retrieval" computed it
(../shared/docs/research-blog.txt): each picture's pooled vector against
every caption's by cosine similarity; a hit at k when the picture's own
caption (the pairs are index order: row N of image-pooled.npy with row N of
text-pooled.npy, docs/embeddings.md) is among the k most similar. Beside it
the random baseline, k / N (the expected top-k accuracy of a random
ranking). A caption tied with the right one counts against it (rank = the
number of other captions at least as similar).

--center (not the research's protocol): each side's mean vector is taken
away before the cosine (pictures' from pictures, captions' from captions),
so that the offset between the two clouds (the "modality gap") does not
decide the ranking.

    python3 tools/analyses/retrieval.py emb/llava emb/qformer-text --json retrieval.json --markdown retrieval.md
    python3 tools/analyses/retrieval.py LLaVA=emb/llava --k 1 5 10 --center

numpy only (tools/requirements.txt).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import embedlib  # noqa: E402


def unit(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-300)


def ranks(images, texts):
    """Per picture, the rank (0 = first) of its own caption among all
    captions by cosine similarity; ties count against it."""
    s = unit(images) @ unit(texts).T
    own = np.diag(s)
    return (s >= own[:, None]).sum(axis=1) - 1


def retrieval(images, texts, ks=(1, 5, 10), center=False):
    """Top-k accuracies, the random baseline, ranks (1 = first; a random
    ranking's mean is (N + 1) / 2) and what the two clouds look like."""
    if center:
        images, texts = images - images.mean(axis=0), texts - texts.mean(axis=0)
    r = ranks(images, texts)
    n = len(r)
    s = unit(images) @ unit(texts).T
    return {"pairs": n, "centered": center,
            "top_k": {str(k): float((r < k).mean()) for k in ks},
            "random": {str(k): min(k, n) / n for k in ks},
            "mean_rank": float(r.mean() + 1), "random_mean_rank": (n + 1) / 2,
            "median_rank": float(np.median(r) + 1),
            "cosine_own_pair": float(np.diag(s).mean()), "cosine_all": float(s.mean()),
            "image_norm": float(np.linalg.norm(images, axis=1).mean()),
            "text_norm": float(np.linalg.norm(texts, axis=1).mean()),
            "cosine_of_means": float((unit(images.mean(axis=0)[None]) @ unit(texts.mean(axis=0)[None]).T)[0, 0])
            if not center else None}


def markdown(results, ks):
    head = "| bridge | pairs | " + " | ".join("top-%d" % k for k in ks) + " | " + \
        " | ".join("random top-%d" % k for k in ks) + " | mean rank (random) |"
    rows = [head, "|" + "---|" * (3 + 2 * len(ks))]
    for name, r in results.items():
        rows.append("| %s | %d | " % (name, r["pairs"]) +
                    " | ".join("%.1f%%" % (100 * r["top_k"][str(k)]) for k in ks) + " | " +
                    " | ".join("%.1f%%" % (100 * r["random"][str(k)]) for k in ks) +
                    " | %.1f (%.1f) |" % (r["mean_rank"], r["random_mean_rank"]))
    return "\n".join(rows) + "\n"


def run(specs, ks=(1, 5, 10), center=False):
    results = {}
    for name, d in embedlib.parse_dirs(specs):
        run_ = embedlib.load(d, name)
        images, texts = embedlib.pairs(run_)
        r = retrieval(images, texts, ks, center)
        r["graph"] = run_["graph"]
        r["dir"] = d
        results[run_["name"]] = r
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", help="embedding directories (vtp-run --output), NAME=DIR to name one")
    ap.add_argument("--k", type=int, nargs="+", default=[1, 5, 10])
    ap.add_argument("--center", action="store_true", help="take each side's mean away first (not the research's)")
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args()
    try:
        results = run(args.dirs, args.k, args.center)
    except (OSError, ValueError, KeyError) as e:
        print("retrieval.py: %s" % e, file=sys.stderr)
        return 2
    table = markdown(results, args.k)
    print(table, end="")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"k": args.k, "similarity": "cosine of the mean-pooled vectors" +
                       (", each side's mean taken away" if args.center else ""), "bridges": results}, f, indent=1)
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
