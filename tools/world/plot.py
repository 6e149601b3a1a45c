#!/usr/bin/env python3
"""The plots of docs/bridges-compared.md (issue 7), from evaluate.py's JSON
and the gate logs train_bridge.py keeps (gates.json) in world-models/.

    python3 tools/world/plot.py --eval docs/world-eval.json --models world-models --out docs/

writes bridges-accuracy.png (accuracy per question type, one bar per
bridge, vtp's C engine) and bridges-gates.png (|tanh(gate)| per adapted
layer and head over training, one panel per adapter-bearing variant).
Needs matplotlib (a developer tool: pip install -r tools/requirements.txt).
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GATED = ["adapter", "qformer-text-adapter", "qformer-notext-adapter"]


def accuracy_chart(ev, out):
    """One group of bars per question type, one bar per bridge, each bar
    labelled with its value; a zero is drawn as a marker standing on the
    axis, so it is seen and not mistaken for a missing bar."""
    variants = list(ev["variants"])
    kinds = sorted({k for v in ev["variants"].values() for k in v["vtp"]})
    width = 0.84 / len(variants)
    colours = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(15, 6.5))
    for j, v in enumerate(variants):
        colour = colours[j % len(colours)]
        xs = [i + (j - (len(variants) - 1) / 2) * width for i in range(len(kinds))]
        acc = [ev["variants"][v]["vtp"].get(k) for k in kinds]
        vals = [100 * a[0] if a else None for a in acc]
        ax.bar([x for x, a in zip(xs, vals) if a is not None], [a for a in vals if a is not None], width * 0.92,
               color=colour, edgecolor="black", linewidth=0.4, label=v, zorder=2)
        for x, a in zip(xs, vals):
            if a is None:                 # a question type this bridge was not asked
                continue
            if a < 0.5:
                # zero: a marker in the bridge's colour standing on the axis, under its "0"
                ax.plot(x, 1.6, marker="^", markersize=7, color=colour, markeredgecolor="black",
                        markeredgewidth=0.6, zorder=3)
            ax.text(x, max(a, 3.2) + 1.2, "%.0f" % a, ha="center", va="bottom", rotation=90, fontsize=8, zorder=3)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels(kinds, rotation=20, ha="right", fontsize=11)
    ax.set_ylabel("accuracy, % (vtp's C engine)", fontsize=11)
    ax.set_ylim(0, 112)
    ax.set_yticks(range(0, 101, 20))
    ax.tick_params(axis="y", labelsize=10)
    ax.set_xlim(-0.55, len(kinds) - 0.45)
    ax.set_title("World models on %d held-out pictures: accuracy per question type and bridge "
                 "(value on each bar; ▲ marks 0)" % ev["count"], fontsize=12)
    ax.legend(title="bridge (world-models/)", fontsize=11, title_fontsize=11, loc="upper left",
              bbox_to_anchor=(1.005, 1.0), frameon=False)
    ax.grid(axis="y", alpha=0.3, zorder=0)
    fig.tight_layout()
    fig.savefig(out, dpi=100)


def gate_chart(models, out):
    logs = [(v, os.path.join(models, v, "gates.json")) for v in GATED]
    logs = [(v, p) for v, p in logs if os.path.exists(p)]
    fig, axes = plt.subplots(1, len(logs), figsize=(5 * len(logs), 4), sharey=True, squeeze=False)
    cmap = plt.get_cmap("viridis")
    for ax, (v, path) in zip(axes[0], logs):
        with open(path) as f:
            g = json.load(f)
        layers = sorted(int(layer) for layer in g["log"][0]["gates"])
        steps = [e["step"] for e in g["log"]]
        for n, layer in enumerate(layers):
            heads = len(g["log"][0]["gates"][str(layer)])
            for h in range(heads):
                ax.plot(steps, [abs(e["gates"][str(layer)][h]) for e in g["log"]], color=cmap(n / max(1, len(layers) - 1)),
                        label="layer %d" % layer if h == 0 else None, lw=1)
        ax.set_title(v)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=10)
    axes[0][0].set_ylabel("|tanh(gate)| per head")
    fig.suptitle("Adapter gates per layer and head over training (zero at the start)")
    fig.tight_layout()
    fig.savefig(out, dpi=90)


def bridge_parameters(models, variant):
    """Trained parameters of @variant's bridge, counted in its files."""
    from safetensors import safe_open
    d = os.path.join(models, variant)
    files = [os.path.join(r, f) for r, _, fs in os.walk(d) for f in fs if f.endswith(".safetensors")]
    n = 0
    for path in files:
        with safe_open(path, "pt") as f:
            for k in f.keys():
                if variant == "llava" and "multi_modal_projector" not in k:
                    continue                      # the directory also carries the frozen tower and LLM
                n += _numel(f.get_slice(k).get_shape())   # llava-tuned: everything in it was trained
    return n


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def markdown(ev, models, timing):
    """The tables of docs/bridges-compared.md; times from @timing (a run on an idle machine) when given."""
    image_tokens = {"llava": "64 in the sequence", "llava-tuned": "64 in the sequence",
                    "qformer-text": "8 in the sequence", "qformer-notext": "8 in the sequence",
                    "adapter": "none (10 prompts in each of 4 layers)",
                    "qformer-text-adapter": "none (10 prompts in each of 4 layers)",
                    "qformer-notext-adapter": "none (10 prompts in each of 4 layers)"}
    print("| variant | trained parameters | image tokens | time to first token | prefill | decode |")
    print("|---|---|---|---|---|---|")
    for v in ev["variants"]:
        t = (timing or ev)["variants"][v]
        print("| %s | %s | %s | %.1f ms | %.1f ms | %.0f tokens/s |" % (
            v, "{:,}".format(bridge_parameters(models, v)), image_tokens.get(v, "?"), t["ttft_ms"], t["prefill_ms"],
            t["tokens_per_second"]))
    kinds = sorted({k for r in ev["variants"].values() for k in r["vtp"]})
    print()
    print("| variant | " + " | ".join(kinds) + " | vtp = PyTorch |")
    print("|---|" + "---|" * (len(kinds) + 1))
    for v, r in ev["variants"].items():
        cells = []
        for k in kinds:
            a = r["vtp"].get(k)
            t = r.get("torch", {}).get(k)
            cells.append("-" if a is None else "%.1f" % (100 * a[0]) + (" (%.1f)" % (100 * t[0]) if t and
                                                                           abs(t[0] - a[0]) > 1e-9 else ""))
        same = r.get("identical_texts")
        print("| %s | %s | %s |" % (v, " | ".join(cells), "%d / %d texts" % tuple(same) if same else "-"))
    print()
    print("n per type: " + ", ".join("%s %d" % (k, next(iter(ev["variants"].values()))["vtp"][k][1]) for k in kinds
                                   if k in next(iter(ev["variants"].values()))["vtp"]))



def two_by_two(ev):
    """The unified framework's 2x2 (docs/bridges-compared.md): the share of
    all questions answered right (descriptions left out: the research's
    VQAv2 score is on questions), vtp's C engine."""
    cells = {("text", "adapter"): "qformer-text-adapter", ("text", "input"): "qformer-text",
             ("notext", "adapter"): "qformer-notext-adapter", ("notext", "input"): "qformer-notext"}

    def share(v):
        r = ev["variants"][v]["vtp"]
        right = sum(a * n for k, (a, n) in r.items() if not k.startswith("caption "))
        return 100 * right / sum(n for k, (a, n) in r.items() if not k.startswith("caption "))
    print()
    print("| all questions, % right | into adapters | into the LLM input |")
    print("|---|---|---|")
    for t, name in (("text", "with text conditioning"), ("notext", "without text conditioning")):
        print("| %s | %.1f | %.1f |" % (name, share(cells[(t, "adapter")]), share(cells[(t, "input")])))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--markdown", action="store_true", help="also print the tables as markdown")
    ap.add_argument("--timing", help="times from this evaluate.py JSON (a --no-torch run on an idle machine)")
    args = ap.parse_args()
    with open(args.eval) as f:
        ev = json.load(f)
    accuracy_chart(ev, os.path.join(args.out, "bridges-accuracy.png"))
    gate_chart(args.models, os.path.join(args.out, "bridges-gates.png"))
    if args.markdown:
        timing = None
        if args.timing:
            with open(args.timing) as f:
                timing = json.load(f)
        markdown(ev, args.models, timing)
        two_by_two(ev)


if __name__ == "__main__":
    main()
