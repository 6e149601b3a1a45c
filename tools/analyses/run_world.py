#!/usr/bin/env python3
"""Issue 17, item 2: the research's embedding analyses (PCA / t-SNE
pictures and image-to-text retrieval, ../shared/docs/research-blog.txt) on
vtp's bridges, end to end.

World models (the default): the first --count pictures of the synthetic
world's held-out test split with distinct captions (the research sampled
200 VQAv2 pairs; two pictures with one caption would make the right caption
ambiguous) and their captions (tools/world/world.py, the same scenes
tools/world/evaluate.py scores), each bridge of world-models/variants.json
run by vtp-run --format embeddings (docs/embeddings.md), then
retrieval.py's table and embeddings_plot.py's pictures:

    python3 tools/analyses/run_world.py --out /tmp/vtp-analyses --count 200
    python3 tools/analyses/run_world.py --out /tmp/vtp-analyses --bridges llava adapter

Your own pictures and captions (--captions: "NAME caption" lines naming
files of --pictures, as world-models/samples/captions.txt, or one caption
a line for the pictures in name order), through the same bridges or, with
--models, checkpoints laid out as world-models/variants.json says:

    python3 tools/analyses/run_world.py --pictures world-models/samples \\
        --captions world-models/samples/captions.txt --out /tmp/vtp-samples

--caption-instruction adds "qformer-text-caption": the text-conditioned
Q-Former reading each picture's own caption as its instruction (one
vtp-run a picture), a reading of the research's InstructBLIP result, not a
protocol the research states (a caption longer than the Q-Former's 64
positions loses its last words). Writes in --out: pictures/, captions.txt,
emb/BRIDGE/, retrieval.json, retrieval.md (with retrieval.py --center's
table too), pca.png, tsne.png (--plots DIR elsewhere). numpy, Pillow,
matplotlib (tools/requirements.txt); vtp-run from build/ (or $VTP_RUN).
docs/analyses.md has the results.
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "world"))
import embeddings_plot  # noqa: E402
import embedlib  # noqa: E402
import retrieval  # noqa: E402

with open(os.path.join(ROOT, "world-models", "variants.json"), encoding="utf-8") as _f:
    VARIANTS = json.load(_f)
DEFAULT_BRIDGES = ["llava", "qformer-text", "qformer-notext", "adapter"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pnm")


def world_pairs(out, count):
    """Writes out/pictures/NNNNN.png and out/captions.txt; returns the test indices used."""
    import world
    pics = os.path.join(out, "pictures")
    os.makedirs(pics, exist_ok=True)
    seen, captions, used, i = set(), [], [], 0
    while len(captions) < count:
        img, rec = world.scene("test", i)
        if rec["caption"] not in seen:
            seen.add(rec["caption"])
            img.save(os.path.join(pics, "%05d.png" % len(captions)))
            captions.append(rec["caption"])
            used.append(i)
        i += 1
    with open(os.path.join(out, "captions.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(captions) + "\n")
    return used


def own_pairs(out, pictures, captions_file):
    """Links the pictures as out/pictures/NNNNN.ext in caption order, writes out/captions.txt."""
    names = sorted(n for n in os.listdir(pictures) if n.lower().endswith(IMAGE_EXTENSIONS))
    with open(captions_file, encoding="utf-8") as f:
        lines = [line.strip() for line in f if line.strip()]
    named = [line.split(None, 1) for line in lines]
    if lines and all(len(p) == 2 and p[0] in names for p in named):
        order = [(p[0], p[1]) for p in named]
    elif len(lines) == len(names):
        order = list(zip(names, lines))
    else:
        raise SystemExit("run_world.py: %s: %d captions for %d pictures (and not \"NAME caption\" lines naming "
                         "them)" % (captions_file, len(lines), len(names)))
    pics = os.path.join(out, "pictures")
    shutil.rmtree(pics, ignore_errors=True)
    os.makedirs(pics)
    for j, (name, _) in enumerate(order):
        os.symlink(os.path.abspath(os.path.join(pictures, name)),
                   os.path.join(pics, "%05d%s" % (j, os.path.splitext(name)[1].lower())))
    with open(os.path.join(out, "captions.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(c for _, c in order) + "\n")
    return [n for n, _ in order]


def vtp_run_cmd():
    vtp_run = os.environ.get("VTP_RUN")
    env = dict(os.environ) if vtp_run else dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, "build", "plugins"))
    return vtp_run or os.path.join(ROOT, "build", "cli", "vtp-run"), env


def embed(variant, models, inputs, captions, output, prompt, quiet=False):
    vtp_run, env = vtp_run_cmd()
    v = VARIANTS[variant]
    cmd = [vtp_run, os.path.join(ROOT, "graphs", v["graph"]), "-q", "--input", inputs, "--format", "embeddings",
           "--output", output]
    if captions:
        cmd += ["--captions", captions]
    if prompt:
        cmd += ["--prompt", prompt]
    for name, sub in v["set"].items():
        cmd += ["--set", "%s=%s" % (name, os.path.join(models, sub))]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None, env=env)
    return cmd


def caption_instruction(out, models, captions):
    """qformer-text with each picture's own caption as the instruction: one
    run a picture; the pooled rows gathered as vtp-run writes them."""
    d = os.path.join(out, "emb", "qformer-text-caption")
    os.makedirs(d, exist_ok=True)
    pics = sorted(os.listdir(os.path.join(out, "pictures")))
    pooled, images = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for j, (name, caption) in enumerate(zip(pics, captions)):
            # the Q-Former reads at most max_position_embeddings tokens (64 for the world's, 8 of them
            # queries): a caption too long for it loses words at its end
            words = caption.split()
            while True:
                instruction = " ".join(words)
                try:
                    embed("qformer-text", models, os.path.join(out, "pictures", name), None, tmp, instruction,
                          quiet=True)
                    break
                except subprocess.CalledProcessError:
                    if len(words) <= 1:
                        raise
                    words = words[:-1]
            rows = np.load(os.path.join(tmp, "image-0000.npy"))
            np.save(os.path.join(d, "image-%04d.npy" % j), rows)
            pooled.append(rows.astype(np.float64).mean(axis=0))
            images.append({"file": "image-%04d.npy" % j, "source": os.path.join(out, "pictures", name),
                           "kind": "query-embeddings", "pts": 0.0, "shape": list(rows.shape), "pooled_row": j,
                           "prompt": instruction})
    # the captions' side is the plain qformer-text run's (the LLM's embedding table: no picture, no prompt)
    text_dir = os.path.join(out, "emb", "qformer-text")
    shutil.copy(os.path.join(text_dir, "text-pooled.npy"), d)
    with open(os.path.join(text_dir, "index.json"), encoding="utf-8") as f:
        texts = json.load(f)["texts"]
    np.save(os.path.join(d, "image-pooled.npy"), np.array(pooled, dtype=np.float32))
    with open(os.path.join(d, "index.json"), "w", encoding="utf-8") as f:
        json.dump({"graph": "unified-text-input (prompt = the picture's own caption)",
                   "pooling": "mean over the rows (tokens) of each entry", "images": images,
                   "images_pooled": "image-pooled.npy", "texts": texts, "texts_pooled": "text-pooled.npy"}, f,
                  indent=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=200, help="world pairs (default 200, as the research)")
    ap.add_argument("--pictures", help="your own pictures (a directory) instead of the world's")
    ap.add_argument("--captions", help="with --pictures: their captions")
    ap.add_argument("--models", default=os.path.join(ROOT, "world-models"))
    ap.add_argument("--bridges", nargs="+", choices=sorted(VARIANTS), default=DEFAULT_BRIDGES)
    ap.add_argument("--prompt", help="the graphs' prompt (the text-conditioned Q-Formers read it); default for the "
                    "world: its description question, \"Describe the picture.\"; else the graphs' own")
    ap.add_argument("--caption-instruction", action="store_true",
                    help="also qformer-text with each picture's caption as its instruction")
    ap.add_argument("--plots", help="directory for pca.png and tsne.png (default --out)")
    ap.add_argument("--link", type=int, default=20, help="pictures linked to their captions in the plots")
    ap.add_argument("--dpi", type=int, default=80)
    ap.add_argument("--no-plots", action="store_true")
    args = ap.parse_args()
    if bool(args.pictures) != bool(args.captions):
        ap.error("--pictures and --captions go together")
    os.makedirs(args.out, exist_ok=True)
    prompt = args.prompt
    if args.pictures:
        own_pairs(args.out, args.pictures, args.captions)
        source = {"pictures": os.path.abspath(args.pictures), "captions": os.path.abspath(args.captions)}
    else:
        import world
        used = world_pairs(args.out, args.count)
        prompt = prompt or world.DESCRIBE
        source = {"world": "test split", "scenes": "%d distinct captions among test scenes 0..%d" % (
            len(used), used[-1])}
    with open(os.path.join(args.out, "captions.txt"), encoding="utf-8") as f:
        captions = f.read().splitlines()
    specs, commands = [], {}
    for b in args.bridges:
        d = os.path.join(args.out, "emb", b)
        cmd = embed(b, args.models, os.path.join(args.out, "pictures"), os.path.join(args.out, "captions.txt"), d,
                    prompt)
        commands[b] = shlex.join(cmd)
        specs.append("%s=%s" % (b, d))
        print("%s: %s" % (b, d), flush=True)
    if args.caption_instruction:
        if "qformer-text" not in args.bridges:
            ap.error("--caption-instruction needs qformer-text among --bridges")
        caption_instruction(args.out, args.models, captions)
        specs.append("qformer-text-caption=%s" % os.path.join(args.out, "emb", "qformer-text-caption"))
    results = retrieval.run(specs)
    centered = retrieval.run(specs, center=True)
    table = retrieval.markdown(results, [1, 5, 10])
    table_c = retrieval.markdown(centered, [1, 5, 10])
    print(table + "\neach side's mean taken away first (--center, not the research's protocol):\n" + table_c, end="")
    with open(os.path.join(args.out, "retrieval.md"), "w", encoding="utf-8") as f:
        f.write(table + "\n--center:\n\n" + table_c)
    with open(os.path.join(args.out, "retrieval.json"), "w", encoding="utf-8") as f:
        json.dump({"source": source, "prompt": prompt, "similarity": "cosine of the mean-pooled vectors",
                   "k": [1, 5, 10], "commands": commands, "bridges": results, "centered": centered}, f, indent=1)
    if not args.no_plots:
        runs = [embedlib.load(d, name) for name, d in embedlib.parse_dirs(specs)]
        reductions = [embeddings_plot.reduce(r) for r in runs]
        for path in embeddings_plot.plot(runs, reductions, args.plots or args.out, args.link, dpi=args.dpi):
            print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
