#!/usr/bin/env python3
"""Accuracy of a world model on the held-out test split, measured through
vtp's C engine (vtp-run) and through PyTorch on the same weights (issue 7).

    python3 tools/world/evaluate.py --graph graphs/llava-1.5.json --set model=world-models/llava \\
        --torch-llava world-models/llava --count 100

For every test picture and each of its questions, the answer is the first
words of the generated text, compared with the world generator's answer
(case and a final full stop ignored); "Describe the picture." is scored by
caption attributes: each shape's colour, kind, size and place, and the
background, found in the description. Prints a table per question type,
vtp beside PyTorch, and writes it as JSON with --json.
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import world  # noqa: E402
from train_text import DESCRIBE  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


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
        facts.append(("shape", "%s %s %s" % (s["size"], s["colour"], s["kind"])))
        place = world.place_name(s["row"], s["col"])
        facts.append(("place", "%s %s %s %s" % (s["size"], s["colour"], s["kind"],
                                                "in the centre" if place == "centre" else "at the " + place)))
    return facts


def vtp_answers(args, items, images):
    """{(index, question): text} from vtp-run, one run per distinct question
    over a directory of the pictures that ask it."""
    by_q = collections.defaultdict(list)
    for i, q in items:
        by_q[q].append(i)
    out = {}
    env = dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, "build", "plugins"))
    for q, idx in by_q.items():
        with tempfile.TemporaryDirectory() as d:
            for i in idx:
                os.symlink(os.path.abspath(images[i]), os.path.join(d, "%05d.png" % i))
            cmd = [os.path.join(ROOT, "build", "cli", "vtp-run"), args.graph, "-q", "-f", "json", "-i", d,
                   "-p", q, "--set", "max-new-tokens=%d" % args.max_new_tokens]
            for s in args.set or []:
                cmd += ["--set", s]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
            for line in res.stdout.splitlines():
                o = json.loads(line)
                out[(int(os.path.basename(o["source"])[:5]), q)] = o["text"]
    return out


def torch_answers(model_dir, items, recs, max_new_tokens):
    import torch
    from tokenizers import Tokenizer
    from transformers import LlavaForConditionalGeneration
    from train_clip import pixels
    from train_llava import encode
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    model = LlavaForConditionalGeneration.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    n_patches = model.config.image_seq_length
    out = {}
    with torch.no_grad():
        for i, q in items:
            ids, _ = encode(tok, model.config.image_token_index, n_patches, q)
            img = recs[i][0]
            gen = model.generate(input_ids=torch.tensor([ids]), pixel_values=pixels(img)[None],
                                 max_new_tokens=max_new_tokens, do_sample=False)
            out[(i, q)] = tok.decode(gen[0, len(ids):].tolist(), skip_special_tokens=True)
    return out


def score(items, recs, answers):
    per = collections.defaultdict(lambda: [0, 0])
    for i, q in items:
        rec = recs[i][1]
        text = answers.get((i, q), "")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--graph", required=True)
    ap.add_argument("--set", action="append")
    ap.add_argument("--torch-llava", help="also run this llava-hf directory in PyTorch")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    ap.add_argument("--json")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        recs, images, items = {}, {}, []
        for i in range(args.count):
            img, rec = world.scene("test", i)
            recs[i] = (img, rec)
            images[i] = os.path.join(d, "%05d.png" % i)
            img.save(images[i])
            items += [(i, qa["q"]) for qa in rec["qa"]] + [(i, DESCRIBE)]
        vtp = vtp_answers(args, items, images)
        table = {"vtp": score(items, recs, vtp)}
        if args.torch_llava:
            ref = torch_answers(args.torch_llava, items, recs, args.max_new_tokens)
            table["torch"] = score(items, recs, ref)
            same = sum(vtp.get(k) == ref[k] for k in ref)
            table["identical_texts"] = [same, len(ref)]
            print("vtp and PyTorch wrote identical text for %d of %d prompts" % (same, len(ref)))
    print("%-20s %8s %8s %6s" % ("question type", "vtp", "torch", "n"))
    for k, (acc, n) in sorted(table["vtp"].items()):
        t = table.get("torch", {}).get(k)
        print("%-20s %7.1f%% %8s %6d" % (k, 100 * acc, "%.1f%%" % (100 * t[0]) if t else "-", n))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(table, f, indent=1)


if __name__ == "__main__":
    main()
