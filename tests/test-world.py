#!/usr/bin/python3
"""The bundled world models (world-models/, issue 7) through every graph
they fit, on held-out pictures the models never saw in training
(tests/fixtures/world-heldout: the first 30 of the test split and the
videotestsrc captions, written by tools/world/world.py). The expected
answers come from the world generator, never from a model.

Per variant (world-models/variants.json): each picture is asked the
background's colour and the number of shapes, and is described; the
description must name the background, and, for some share of the shapes,
the shape with its size and colour (and for the demo's default, its place:
the generator's own words for it). Each variant's accuracy must reach the
floors below, which sit under what the bundled models measured on these 29
shape pictures and above chance (1/3 for the background, about 1/3 for a
count of one to three, 1/64 for a shape's size, colour and kind, 1/576
with its place). The demo's default (llava-tuned) is also asked the way
people ask (issue 15): a description in the README's words ("What is in
the picture?") and in wordings held out of its training, and two
questions in held-out wordings. Then it describes GStreamer's moving
ball from videotestsrc, asked the README's question, and its descriptions
with the weights quantized at load to llama.cpp's Q8_0 (weight-type=q8_0;
on x86 CPUs with VNNI the decode then also rounds activations to int8)
must be the float model's, word for word.

Standard library only: the test runs vtp-run, as a user would.
"""
import collections
import json
import os
import subprocess
import sys
import tempfile

SOURCE = os.environ["VTP_SOURCE_DIR"]
VTP_RUN = os.environ["VTP_RUN"]
MODELS = os.path.join(SOURCE, "world-models")
HELDOUT = os.path.join(SOURCE, "tests", "fixtures", "world-heldout")

# minimum share right, per variant: background colour, count, description (background, shape with its size
# and colour, the same with its place too). Measured on these 29 pictures (2026-11-27) in brackets; a floor
# only where the measurement is clearly above chance.
# The two Q-Former-into-adapter variants measured 2026-12-05 (issue 17: BLIP-2's first stage, then the
# adapter; docs/bridges-compared.md); their shapes in descriptions (6-8%) are too few to floor.
FLOORS = {
    "llava": {"background": 0.55, "caption shape": 0.05},                       # (69%, 9%)
    "llava-tuned": {"background": 0.9, "count": 0.75, "caption background": 0.9,
                    "caption shape": 0.8, "caption place": 0.8},                # (100%, 100%, 100%, 98%, 98%)
    "qformer-text": {"background": 0.9, "count": 0.4, "caption background": 0.9,
                     "caption shape": 0.08},                                    # (100%, 48%, 100%, 15%)
    "qformer-notext": {"background": 0.9, "count": 0.38, "caption background": 0.7,
                       "caption shape": 0.08},                                  # (100%, 45%, 86%, 13%)
    "adapter": {"background": 0.9, "count": 0.55, "caption background": 0.9,
                "caption shape": 0.1},                                          # (100%, 69%, 100%, 19%)
    "qformer-text-adapter": {"background": 0.8, "count": 0.45,
                             "caption background": 0.9},                        # (93%, 55%, 100%, 8%)
    "qformer-notext-adapter": {"background": 0.85, "count": 0.45,
                               "caption background": 0.9},                      # (100%, 62%, 100%, 6%)
}
NUMBERS = ["zero", "one", "two", "three"]
PER_SHAPE = {"caption shape", "caption place"}      # shares of the shapes; the others of the pictures


def run(variant, spec, source, prompt, extra=()):
    """[(source, text)] from vtp-run --format json, in order."""
    cmd = [VTP_RUN, os.path.join(SOURCE, "graphs", spec["graph"]), "-q", "-f", "json", "-i", source, "-p", prompt]
    cmd += list(extra)
    for name, sub in spec["set"].items():
        cmd += ["--set", "%s=%s" % (name, os.path.join(MODELS, sub))]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, "%s: vtp-run failed (%d): %s" % (variant, res.returncode, res.stderr)
    lines = [json.loads(line) for line in res.stdout.splitlines()]
    for o in lines:     # the statistics vtp-run passes on from vtpllm's vtp-text message
        assert o["tokens"] >= 1 and o["prefill_ms"] > 0 and o["latency_ms"] >= o["prefill_ms"], o
    return [(o["source"], o["text"]) for o in lines]


def first_word(text):
    return text.strip().lower().split(" ")[0].rstrip(".,") if text.strip() else ""


def check_variant(variant, spec, pictures):
    """Accuracies of @variant on the held-out shape pictures."""
    with tempfile.TemporaryDirectory() as d:
        for rec in pictures:
            os.symlink(os.path.join(HELDOUT, rec["image"]), os.path.join(d, os.path.basename(rec["image"])))
        path = {rec["id"]: os.path.join(d, os.path.basename(rec["image"])) for rec in pictures}
        background = dict(run(variant, spec, d, "What colour is the background?"))
        count = dict(run(variant, spec, d, "How many shapes are there?"))
        described = dict(run(variant, spec, d, "Describe the picture."))
        if variant == "llava-tuned":
            q8 = dict(run(variant, spec, d, "Describe the picture.", ["--set", "weight-type=q8_0"]))
            same = sum(q8.get(p) == t for p, t in described.items())
            print("llava-tuned q8_0: %d of %d descriptions identical to the float model's" % (same, len(described)))
            assert same == len(described), "q8_0 changed descriptions: %r" % [
                (t, q8.get(p)) for p, t in described.items() if q8.get(p) != t]
    right = {"background": 0, "count": 0, "caption background": 0, "caption shape": 0, "caption place": 0}
    n_shapes = 0
    for rec in pictures:
        p, scene = path[rec["id"]], rec["scene"]
        assert p in background and p in count and p in described, "%s: no answer for %s" % (variant, p)
        right["background"] += first_word(background[p]) == scene["background"]
        right["count"] += first_word(count[p]) == NUMBERS[len(scene["shapes"])]
        text = described[p].lower()
        right["caption background"] += ("%s background" % scene["background"]) in text
        for s in scene["shapes"]:
            right["caption shape"] += ("%s %s %s" % (s["size"], s["colour"], s["kind"])) in text
            n_shapes += 1
        right["caption place"] += sum(phrase in text for phrase in rec["phrases"])
    share = {k: v / (n_shapes if k in PER_SHAPE else len(pictures)) for k, v in right.items()}
    print("%-24s %s" % (variant, "  ".join("%s %.0f%%" % (k, 100 * v) for k, v in share.items())), flush=True)
    return share


# How people ask (issue 15): the demo's default asked for a description in the README's words and in
# wordings held out of its training (world.py's DESCRIBE_WORDINGS["heldout"]), and two questions in held-out
# wordings; floors as above, under what it measured on these pictures (in brackets, 2026-12-05).
WORDINGS = {
    "What is in the picture?": {"caption background": 0.9, "caption shape": 0.85, "caption place": 0.85},  # (100, 98, 98)
    "What is in this image?": {"caption background": 0.9, "caption shape": 0.8, "caption place": 0.8},     # (100, 96, 96)
    "Describe what you see.": {"caption background": 0.9, "caption shape": 0.8, "caption place": 0.8},     # (100, 96, 96)
    "What is the background colour?": {"background": 0.9},                                                # (100)
    "How many shapes are in this image?": {"count": 0.8},                                                 # (97)
}


def check_wordings(spec, pictures):
    """Shares right for each of WORDINGS' prompts: [(prompt, name, share, floor)]."""
    out = []
    with tempfile.TemporaryDirectory() as d:
        for rec in pictures:
            os.symlink(os.path.join(HELDOUT, rec["image"]), os.path.join(d, os.path.basename(rec["image"])))
        for prompt, floors in WORDINGS.items():
            answers = dict(run("llava-tuned", spec, d, prompt))
            right = collections.Counter()
            n_shapes = 0
            for rec in pictures:
                text = answers[os.path.join(d, os.path.basename(rec["image"]))].lower()
                scene = rec["scene"]
                right["background"] += first_word(text) == scene["background"]
                right["count"] += first_word(text) == NUMBERS[len(scene["shapes"])]
                right["caption background"] += ("%s background" % scene["background"]) in text
                for sh in scene["shapes"]:
                    right["caption shape"] += ("%s %s %s" % (sh["size"], sh["colour"], sh["kind"])) in text
                    n_shapes += 1
                right["caption place"] += sum(phrase in text for phrase in rec["phrases"])
            for name, floor in floors.items():
                share = right[name] / (n_shapes if name in PER_SHAPE else len(pictures))
                print("llava-tuned asked %-36r %s %.0f%%" % (prompt, name, 100 * share), flush=True)
                out.append((prompt, name, share, floor))
    return out


def main():
    with open(os.path.join(MODELS, "variants.json"), encoding="utf-8") as f:
        variants = json.load(f)
    assert set(variants) == set(FLOORS), "every bundled variant has its floors"
    with open(os.path.join(HELDOUT, "test.jsonl"), encoding="utf-8") as f:
        pictures = [r for r in map(json.loads, f) if r["kind"] == "shapes"]
    with open(os.path.join(HELDOUT, "testsrc.json"), encoding="utf-8") as f:
        testsrc = json.load(f)
    failures = []
    for variant, spec in variants.items():
        share = check_variant(variant, spec, pictures)
        for k, floor in FLOORS[variant].items():
            if share[k] < floor:
                failures.append("%s: %s %.0f%% < %.0f%%" % (variant, k, 100 * share[k], 100 * floor))
    for prompt, name, share, floor in check_wordings(variants["llava-tuned"], pictures):
        if share < floor:
            failures.append("llava-tuned asked %r: %s %.0f%% < %.0f%%" % (prompt, name, 100 * share, 100 * floor))
    # the README's video: videotestsrc's moving ball (vtp-run's testsrc input), frames at 0, 1, 2 s, asked the
    # README's question
    ball = run("llava-tuned", variants["llava-tuned"], "testsrc:90", "What is in the picture?")
    want = testsrc["ball"]["caption"]
    right = sum(t.strip() == want for _, t in ball)
    print("testsrc ball: %d of %d descriptions are %r" % (right, len(ball), want))
    if len(ball) != 3 or right < 2:
        failures.append("testsrc: %r, want %r" % ([t for _, t in ball], want))
    if failures:
        print("\n".join(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
