#!/usr/bin/env python3
"""Accuracy of the world models (issue 7) on the held-out test split, per
bridge, measured through vtp's C engine (vtp-run on the graphs in graphs/)
and through PyTorch on the same weight files.

    python3 tools/world/evaluate.py --models world-models --all --count 100 --json docs/world-eval.json
    python3 tools/world/evaluate.py --models world-models --variant llava --count 20
    python3 tools/world/evaluate.py --variant llava-tuned --wordings heldout --count 100 --no-torch

For every test picture and each of its questions, the answer is the first
words of the generated text, compared with the world generator's answer
(case and a final full stop ignored); "Describe the picture." (or, with
--wordings, another wording of it such as "What do you see?") is scored by
caption attributes: each shape's colour, kind, size and place, and the
background, found in the description. Prints a table per question type,
vtp beside PyTorch, with vtp's time to first token (frame at the encoder to
the first token: vtp-run's latency less the decoding after it) and decoding
speed, and writes it all as JSON with --json.
"""
import argparse
import collections
import json
import os
import random
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from world import DESCRIBE  # noqa: E402

# PyTorch, transformers and the training modules (which import torch) are
# imported in torch_answers() only: --no-torch needs numpy and Pillow alone

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")

# each bridge: the graph vtp runs and its parameters (directories under --models); the tests read the same file
with open(os.path.join(ROOT, "world-models", "variants.json"), encoding="utf-8") as _f:
    VARIANTS = json.load(_f)


def normalise(text):
    return re.sub(r"[.\s]+$", "", text.strip().lower())


def correct(answer, want):
    a = normalise(answer)
    return a == want or a.startswith(want + " ") or a.startswith(want + ",")


def caption_attributes(rec):
    """The facts a description should state: (name, phrase) pairs."""
    if rec["kind"] == "testsrc":
        return [("pattern", world.TESTSRC[rec["scene"]["pattern"]][1])]
    facts = [("background", "%s background" % rec["scene"]["background"])]
    for s in rec["scene"]["shapes"]:
        facts.append(("shape", world.describe_shape(s, with_place=False)[2:]))
        facts.append(("place", world.describe_shape(s)[2:]))
    return facts


def vtp_answers(args, variant, items, images):
    """{(index, question): text} and timing records from vtp-run, one run per
    distinct question over a directory of the pictures that ask it."""
    by_q = collections.defaultdict(list)
    for i, q in items:
        by_q[q].append(i)
    out, timing = {}, []
    v = VARIANTS[variant]
    # $VTP_RUN: another vtp-run (then the plugin as $GST_PLUGIN_PATH says); else the build tree's
    vtp_run = os.environ.get("VTP_RUN")
    env = dict(os.environ) if vtp_run else dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, "build", "plugins"))
    vtp_run = vtp_run or os.path.join(ROOT, "build", "cli", "vtp-run")
    for q, idx in by_q.items():
        with tempfile.TemporaryDirectory() as d:
            for i in idx:
                os.symlink(os.path.abspath(images[i]), os.path.join(d, "%05d.png" % i))
            cmd = [vtp_run, os.path.join(ROOT, "graphs", v["graph"]), "-q",
                   "-f", "json", "-i", d, "-p", q, "--set", "max-new-tokens=%d" % args.max_new_tokens]
            for name, sub in v["set"].items():
                cmd += ["--set", "%s=%s" % (name, os.path.join(args.models, sub))]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            for line in res.stdout.splitlines():
                o = json.loads(line)
                out[(int(os.path.basename(o["source"])[:5]), q)] = o["text"]
                decode_ms = 1000 * (o["tokens"] - 1) / o["tokens_per_second"] if o["tokens"] > 1 else 0
                timing.append({"ttft_ms": o["latency_ms"] - decode_ms, "prefill_ms": o["prefill_ms"],
                               "tokens": o["tokens"], "tokens_per_second": o["tokens_per_second"]})
    return out, timing


def torch_answers(models, variant, items, recs, max_new_tokens):
    """The same answers from PyTorch on the same files (f16 weights computed in f32)."""
    import torch
    v = {k: os.path.join(models, d) for k, d in VARIANTS[variant]["set"].items()}
    out = {}
    if "model" in v:                     # a llava-hf directory
        from tokenizers import Tokenizer
        from transformers import LlavaForConditionalGeneration
        from train_llava import greedy_text
        tok = Tokenizer.from_file(os.path.join(v["model"], "tokenizer.json"))
        model = LlavaForConditionalGeneration.from_pretrained(v["model"], dtype=torch.float32).eval()
        for i, q in items:
            out[(i, q)] = greedy_text(model, tok, recs[i][0], q, max_new_tokens)
        return out
    import bridges
    model = bridges.Bridge.load(v.get("encoder", v.get("clip")), v.get("llm", v.get("llama")), v.get("qformer"),
                                v.get("adapter"), text_conditioning="notext" not in variant)
    for i, q in items:
        out[(i, q)] = model.greedy(recs[i][0], q, max_new_tokens)
    return out


def score(items, recs, answers, canonical):
    """Share right per question type; @canonical maps each asked (index,
    wording) to the generator's own question."""
    per = collections.defaultdict(lambda: [0, 0])
    for i, asked in items:
        q = canonical[(i, asked)]
        rec = recs[i][1]
        text = answers.get((i, asked), "")
        if q == DESCRIBE:
            low = text.lower()
            for name, phrase in caption_attributes(rec):
                per["caption " + name][0] += phrase in low
                per["caption " + name][1] += 1
            continue
        want = next(qa for qa in rec["qa"] if qa["q"] == q)
        per[want["type"]][0] += correct(text, want["a"])
        per[want["type"]][1] += 1
    return {k: (v[0] / v[1], v[1]) for k, v in sorted(per.items())}


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else 0.0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=os.path.join(ROOT, "world-models"))
    ap.add_argument("--variant", action="append", choices=sorted(VARIANTS))
    ap.add_argument("--all", action="store_true", help="every variant")
    ap.add_argument("--no-torch", action="store_true", help="vtp only")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--wordings", choices=["canonical", "train", "heldout"], default="canonical",
                    help="ask each question as the generator words it, or in one of world.py's other wordings "
                    "of it (drawn per picture): those seen in training, or those held out from it")
    ap.add_argument("--json", help="write the results here (updating the variants of an earlier run on the "
                    "same --count)")
    args = ap.parse_args()
    variants = list(VARIANTS) if args.all else args.variant or ["llava"]
    results = {"count": args.count, "wordings": args.wordings, "variants": {}}
    with tempfile.TemporaryDirectory() as d:
        recs, images, items, canonical = {}, {}, [], {}
        for i in range(args.count):
            img, rec = world.scene("test", i)
            recs[i] = (img, rec)
            images[i] = os.path.join(d, "%05d.png" % i)
            img.save(images[i])
            r = random.Random(i)
            for q in [qa["q"] for qa in rec["qa"]] + [DESCRIBE]:
                asked = q if args.wordings == "canonical" else world.reword(q, r, args.wordings)
                items.append((i, asked))
                canonical[(i, asked)] = q
        for variant in variants:
            vtp, timing = vtp_answers(args, variant, items, images)
            r = {"title": VARIANTS[variant]["title"], "vtp": score(items, recs, vtp, canonical),
                 "ttft_ms": median([t["ttft_ms"] for t in timing]),
                 "prefill_ms": median([t["prefill_ms"] for t in timing]),
                 "tokens_per_second": median([t["tokens_per_second"] for t in timing if t["tokens"] > 1])}
            if not args.no_torch:
                ref = torch_answers(args.models, variant, items, recs, args.max_new_tokens)
                r["torch"] = score(items, recs, ref, canonical)
                r["identical_texts"] = [sum(vtp.get(k) == ref[k] for k in ref), len(ref)]
            results["variants"][variant] = r
            print("\n%s (%s): time to first token %.1f ms (prefill %.1f ms), %.0f tokens/s%s" % (
                variant, r["title"], r["ttft_ms"], r["prefill_ms"], r["tokens_per_second"],
                "; vtp = PyTorch text on %d of %d prompts" % tuple(r["identical_texts"]) if "torch" in r else ""))
            print("%-20s %8s %8s %6s" % ("question type", "vtp", "torch", "n"))
            for k, (acc, n) in sorted(r["vtp"].items()):
                t = r.get("torch", {}).get(k)
                print("%-20s %7.1f%% %8s %6d" % (k, 100 * acc, "%.1f%%" % (100 * t[0]) if t else "-", n), flush=True)
    if args.json:
        # variants measured earlier on the same pictures stay (a run of one variant updates its entry)
        if os.path.exists(args.json):
            with open(args.json) as f:
                before = json.load(f)
            if before.get("count") == args.count and before.get("wordings", "canonical") == args.wordings:
                before["variants"].update(results["variants"])
                results["variants"] = {v: before["variants"][v] for v in VARIANTS if v in before["variants"]}
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
