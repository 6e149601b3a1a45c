#!/usr/bin/env python3
"""PCA (2-D) and t-SNE (3-D) pictures of vtp-run --format embeddings
directories (one per bridge), as the research's "Embedding Visualizations"
drew them (../shared/docs/research-blog.txt): each picture's and each
caption's pooled vector (docs/embeddings.md: the mean over its rows),
pictures and captions stacked into one [2N, width] matrix, reduced
together; pictures and captions in two colours, one panel per bridge.

    python3 tools/analyses/embeddings_plot.py emb/llava emb/qformer-text --out plots/ --link 20
    python3 tools/analyses/embeddings_plot.py LLaVA=emb/llava --out plots/ --per-bridge

Writes pca.png and tsne.png in --out (with --per-bridge, pca-NAME.png and
tsne-NAME.png instead). --link N draws a line from each of the first N
pictures to its own caption (row N with row N). t-SNE: exact, perplexity
30, 1000 steps, --seed (embedlib.py; numpy only). numpy and matplotlib
(tools/requirements.txt).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import embedlib  # noqa: E402

IMAGE_COLOUR, TEXT_COLOUR, LINK_COLOUR = "#1f77b4", "#ff7f0e", "#999999"


def reduce(run, seed=0, perplexity=30.0, iterations=1000):
    """{"pca", "explained", "tsne", "n"}: the stacked pairs reduced."""
    images, texts = embedlib.pairs(run)
    x = np.concatenate([images, texts])
    p, explained = embedlib.pca(x, 2)
    t = embedlib.tsne(x, 3, perplexity, iterations, seed)
    return {"pca": p, "explained": explained, "tsne": t, "n": len(images)}


def _panel_pca(ax, run, red, link):
    n, p = red["n"], red["pca"]
    for i in range(min(link, n)):
        ax.plot([p[i, 0], p[n + i, 0]], [p[i, 1], p[n + i, 1]], color=LINK_COLOUR, lw=0.6, zorder=1)
    ax.scatter(p[:n, 0], p[:n, 1], s=9, c=IMAGE_COLOUR, label="pictures (%d)" % n, zorder=2)
    ax.scatter(p[n:, 0], p[n:, 1], s=9, c=TEXT_COLOUR, label="captions (%d)" % n, zorder=2)
    ax.set_title("%s: PCA, %d pictures + %d captions" % (run["name"], n, n), fontsize=9)
    ax.set_xlabel("PC1 (%.0f%% of variance)" % (100 * red["explained"][0]), fontsize=8)
    ax.set_ylabel("PC2 (%.0f%%)" % (100 * red["explained"][1]), fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="best")


def _panel_tsne(ax, run, red, link):
    n, t = red["n"], red["tsne"]
    for i in range(min(link, n)):
        ax.plot([t[i, 0], t[n + i, 0]], [t[i, 1], t[n + i, 1]], [t[i, 2], t[n + i, 2]], color=LINK_COLOUR, lw=0.6)
    ax.scatter(t[:n, 0], t[:n, 1], t[:n, 2], s=6, c=IMAGE_COLOUR, label="pictures (%d)" % n, depthshade=False)
    ax.scatter(t[n:, 0], t[n:, 1], t[n:, 2], s=6, c=TEXT_COLOUR, label="captions (%d)" % n, depthshade=False)
    ax.set_title("%s: t-SNE 3-D, %d + %d" % (run["name"], n, n), fontsize=9)
    ax.tick_params(labelsize=6)
    ax.legend(fontsize=7, loc="upper left")


def _shrink(path, colours=64):
    """A palette PNG (a quarter of the bytes), where Pillow is there."""
    try:
        from PIL import Image
    except ImportError:
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=colours, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def plot(runs, reductions, out_dir, link=0, per_bridge=False, dpi=80):
    """Writes the PNGs; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(out_dir, exist_ok=True)
    groups = [(r["name"], [(r, red)]) for r, red in zip(runs, reductions)] if per_bridge else \
        [(None, list(zip(runs, reductions)))]
    written = []
    for name, group in groups:
        cols = min(len(group), 4 if len(group) > 6 else 3)
        rows = (len(group) + cols - 1) // cols
        for kind, panel, projection in (("pca", _panel_pca, None), ("tsne", _panel_tsne, "3d")):
            fig = plt.figure(figsize=(4.2 * cols, 3.8 * rows))
            for j, (r, red) in enumerate(group):
                ax = fig.add_subplot(rows, cols, j + 1, projection=projection)
                panel(ax, r, red, link)
            fig.tight_layout()
            path = os.path.join(out_dir, "%s%s.png" % (kind, "-" + name if name else ""))
            fig.savefig(path, dpi=dpi)
            plt.close(fig)
            _shrink(path)
            written.append(path)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dirs", nargs="+", help="embedding directories (vtp-run --output), NAME=DIR to name one")
    ap.add_argument("--out", required=True, help="directory for the PNGs")
    ap.add_argument("--link", type=int, default=0, metavar="N", help="link the first N pictures to their captions")
    ap.add_argument("--per-bridge", action="store_true", help="one PNG per bridge and reduction")
    ap.add_argument("--seed", type=int, default=0, help="t-SNE's starting point")
    ap.add_argument("--perplexity", type=float, default=30.0)
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--dpi", type=int, default=80)
    args = ap.parse_args()
    try:
        runs = [embedlib.load(d, name) for name, d in embedlib.parse_dirs(args.dirs)]
        reductions = [reduce(r, args.seed, args.perplexity, args.iterations) for r in runs]
    except (OSError, ValueError, KeyError) as e:
        print("embeddings_plot.py: %s" % e, file=sys.stderr)
        return 2
    for path in plot(runs, reductions, args.out, args.link, args.per_bridge, args.dpi):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
