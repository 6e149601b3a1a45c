#!/usr/bin/env python3
"""The synthetic world vtp's default models learn (issue 7): pictures of one
to three shapes, and frames of GStreamer's videotestsrc patterns, each with a
caption and question/answer pairs whose answers follow from how the picture
was made.

Scenes are a pure function of (split, index): the same call always gives the
same picture, caption and answers, so training can draw scenes on the fly and
the evaluation can write the held-out split to disk.

    python3 tools/world/world.py --out /tmp/world --split test --count 500
    python3 tools/world/world.py --self-check

writes DIR/SPLIT/NNNNN.png and DIR/SPLIT.jsonl, one object per picture:
{"id", "split", "image", "kind": "shapes"|"testsrc", "scene", "caption", "qa": [{"q", "a", "type"}],
"phrases" (shape pictures: each shape's words in the caption)}.
Question types: colour, count, presence, position, relation, pattern.
"""
import argparse
import hashlib
import json
import os
import random
import re
import subprocess
import sys

import numpy as np
from PIL import Image, ImageDraw

SIZE = 64                       # pictures are SIZE x SIZE RGB
SUPERSAMPLE = 4                 # drawn this much larger, then box-filtered: smooth edges

KINDS = ["circle", "square", "triangle", "diamond"]
COLOURS = {"red": (220, 30, 30), "green": (30, 180, 50), "blue": (40, 70, 230), "yellow": (240, 220, 30),
           "purple": (150, 50, 190), "orange": (245, 140, 20), "white": (245, 245, 245), "black": (15, 15, 15)}
BACKGROUNDS = {"black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128)}
SIZES = {"small": 0.16, "large": 0.30}          # radius as a fraction of the picture
# a 3 x 3 grid of places, by row then column
ROWS = ["top", "middle", "bottom"]
COLS = ["left", "centre", "right"]
NUMBERS = ["zero", "one", "two", "three"]
# the prompt answered by the caption (train_text.py and evaluate.py take it
# from here: evaluate.py --no-torch imports nothing that imports torch)
DESCRIBE = "Describe the picture."

# How people ask (issue 15): other wordings of the description prompt and of
# each question, the "train" ones seen in training, the "heldout" ones only
# in scoring (evaluate.py --wordings heldout), so that a score on them says
# whether a model learnt the request rather than the sentence. The records'
# "q" keep the canonical wording above; reword() maps one to another.
DESCRIBE_WORDINGS = {
    "train": [DESCRIBE, "What is in the picture?", "What do you see?", "Describe this image.", "What is this?",
              "Describe the image in detail.", "What is shown in the picture?", "Describe the image.",
              "Tell me what you see.", "What does the picture show?", "What's in this picture?",
              "Can you describe the picture?", "Describe what is in the picture.", "What is in the image?",
              "What do you see in the picture?", "Describe this picture.", "What is shown?", "What is in this picture?",
              "Tell me about the picture.", "What can you see?", "Describe the scene.", "What is in the photo?",
              "Describe what the image shows.", "What does the image show?", "Explain what is in the picture.",
              "Give a description of the picture.", "Write a caption for the picture.", "What is pictured?"],
    "heldout": ["What is in this image?", "Describe what you see.", "What can you see in the picture?",
                "Give a description of the image.", "What does this image show?", "Please describe this picture."],
}
# (canonical question with {} for its words, train wordings, held-out wordings)
QUESTION_WORDINGS = [
    ("How many shapes are there?",
     ["How many shapes do you see?", "Count the shapes.", "How many shapes are in the picture?",
      "How many shapes can you see?", "How many shapes are shown?", "What is the count of shapes?",
      "Count the shapes in the picture."],
     ["How many shapes are in this image?", "What is the number of shapes?"]),
    ("What colour is the background?",
     ["What color is the background?", "What is the colour of the background?", "Which colour is the background?",
      "What colour is the background of the picture?", "Tell me the colour of the background."],
     ["What is the background colour?", "What color is the background of the image?"]),
    ("What colour is the {}?",
     ["What color is the {}?", "What is the colour of the {}?", "Which colour is the {}?",
      "What colour is the {} in the picture?", "What color is the {} in the picture?",
      "Tell me the colour of the {}.", "What colour does the {} have?"],
     ["What is the color of the {}?", "Which color is the {}?"]),
    ("Where is the {}?",
     ["Where is the {} in the picture?", "In which part of the picture is the {}?", "Where is the {} located?",
      "Where is the {} placed?", "Where do you see the {}?", "Where in the picture is the {}?",
      "Tell me where the {} is."],
     ["Where is the {} in the image?", "Where can you see the {}?"]),
    ("Is there a {} {}?",
     ["Do you see a {} {}?", "Is there a {} {} in the picture?", "Does the picture show a {} {}?",
      "Is a {} {} shown?", "Does the picture have a {} {}?", "Do you see a {} {} in the picture?",
      "Is there any {} {}?"],
     ["Is there a {} {} in the image?", "Can you see a {} {}?"]),
    ("Is the {} left of the {}?",
     ["Is the {} to the left of the {}?", "Is the {} on the left of the {}?", "Is the {} left of the {} in the picture?",
      "Is the {} placed left of the {}?", "Does the {} lie to the left of the {}?"],
     ["Is the {} further left than the {}?"]),
    ("Is the {} above the {}?",
     ["Is the {} higher than the {}?", "Is the {} higher up than the {}?", "Is the {} above the {} in the picture?",
      "Does the {} lie above the {}?", "Is the {} over the {}?"],
     ["Is the {} placed above the {}?"]),
    ("What pattern is shown?",
     ["Which pattern is shown?", "What pattern do you see?", "What test pattern is this?",
      "What pattern is this?", "Which test pattern do you see?", "What pattern is on the picture?"],
     ["What pattern is on the screen?", "Which test pattern is shown?"]),
]


def _question_form(question):
    """(canonical form, its words) of a canonical @question, or None. Forms
    without slots are tried first ("What colour is the background?" before
    "What colour is the {}?"); a slot holds one word (a colour or a kind)."""
    for form, _, _ in sorted(QUESTION_WORDINGS, key=lambda w: "{}" in w[0]):
        pattern = "".join(r"(\w+)" if part == "{}" else re.escape(part) for part in re.split(r"({})", form))
        m = re.fullmatch(pattern, question)
        if m:
            return form, list(m.groups())
    return None


def wordings(question, which):
    """The @which ("train" or "heldout") wordings of canonical @question
    (DESCRIBE or a generated question); "train" includes the canonical one."""
    if question == DESCRIBE:
        return list(DESCRIBE_WORDINGS[which])
    found = _question_form(question)
    if found is None:
        raise ValueError("no wordings for the question %r" % question)
    form, words = found
    forms = ([form] if which == "train" else []) + next(w[1 if which == "train" else 2]
                                                       for w in QUESTION_WORDINGS if w[0] == form)
    return [f.format(*words) for f in forms]


def reword(question, r, which="train"):
    """One of the @which wordings of canonical @question, drawn with random.Random @r."""
    return r.choice(wordings(question, which))

# videotestsrc patterns and what the world calls them; the ball moves, so
# its frames are taken at several times. Left out: checkers-1/2/4 and the
# zone plates, which the 64-pixel view blurs to a flat colour.
TESTSRC = {
    "smpte": ("colour bars", "the smpte colour bars test pattern"),
    "smpte75": ("colour bars", "the smpte colour bars test pattern"),
    "snow": ("snow", "television snow"),
    "ball": ("ball", "a white ball on a black background"),
    "checkers-8": ("checkers", "a red and green checkerboard"),
    "red": ("red screen", "a plain red screen"),
    "green": ("green screen", "a plain green screen"),
    "blue": ("blue screen", "a plain blue screen"),
    "white": ("white screen", "a plain white screen"),
    "black": ("black screen", "a plain black screen"),
    "circular": ("rings", "circular rings"),
}
TESTSRC_FRAMES = 24             # frames kept per pattern (the ball's positions)
TESTSRC_SHARE = 0.15            # of the pictures in each split

SPLIT_SEEDS = {"train": 1, "val": 2, "test": 3}


def place_name(row, col):
    if row == 1 and col == 1:
        return "centre"
    if row == 1:
        return COLS[col]
    if col == 1:
        return ROWS[row]
    return "%s %s" % (ROWS[row], COLS[col])


def rng_for(split, index):
    """A generator seeded by the split and the index only."""
    digest = hashlib.sha256(("%s/%d/%d" % (split, SPLIT_SEEDS[split], index)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def sample_shapes(r):
    """One to three shapes of different kinds in different grid cells, on a
    background none of them has the colour of."""
    background = r.choice(sorted(BACKGROUNDS))
    n = r.choice([1, 1, 2, 2, 3])
    kinds = r.sample(KINDS, n)
    cells = r.sample(range(9), n)
    shapes = []
    for kind, cell in zip(kinds, cells):
        colour = r.choice([c for c in sorted(COLOURS) if c != background])
        shapes.append({"kind": kind, "colour": colour, "size": r.choice(sorted(SIZES)),
                       "row": cell // 3, "col": cell % 3,
                       # jitter inside the cell, in picture fractions
                       "dx": r.uniform(-0.04, 0.04), "dy": r.uniform(-0.04, 0.04)})
    return {"background": background, "shapes": shapes}


def draw_shapes(scene):
    big = SIZE * SUPERSAMPLE
    img = Image.new("RGB", (big, big), BACKGROUNDS[scene["background"]])
    d = ImageDraw.Draw(img)
    for s in scene["shapes"]:
        cx = (s["col"] + 0.5) / 3 + s["dx"]
        cy = (s["row"] + 0.5) / 3 + s["dy"]
        rad = SIZES[s["size"]] / 2 * big
        x, y = cx * big, cy * big
        fill = COLOURS[s["colour"]]
        if s["kind"] == "circle":
            d.ellipse([x - rad, y - rad, x + rad, y + rad], fill=fill)
        elif s["kind"] == "square":
            q = rad * 0.85
            d.rectangle([x - q, y - q, x + q, y + q], fill=fill)
        elif s["kind"] == "triangle":
            d.polygon([(x, y - rad), (x + rad * 0.95, y + rad * 0.8), (x - rad * 0.95, y + rad * 0.8)], fill=fill)
        else:
            d.polygon([(x, y - rad), (x + rad * 0.8, y), (x, y + rad), (x - rad * 0.8, y)], fill=fill)
    return img.resize((SIZE, SIZE), Image.BOX)


def describe_shape(s, with_place=True):
    text = "a %s %s %s" % (s["size"], s["colour"], s["kind"])
    if with_place:
        place = place_name(s["row"], s["col"])
        text += " in the centre" if place == "centre" else " at the %s" % place
    return text


def caption_shapes(scene):
    """The shapes in reading order (top row first, left to right): with one
    fixed order the first words of a description have one right answer, so
    a model learns to find that shape rather than hedge between all of
    them (in the drawing order, the first shape was any of them)."""
    ordered = sorted(scene["shapes"], key=lambda s: (s["row"], s["col"]))
    parts = [describe_shape(s) for s in ordered]
    if len(parts) == 1:
        body = parts[0]
    else:
        body = ", ".join(parts[:-1]) + " and " + parts[-1]
    return "%s on a %s background." % (body, scene["background"])


def questions_shapes(scene, r):
    """Every question type the scene supports; answers from the scene alone."""
    shapes = scene["shapes"]
    qa = [{"q": "How many shapes are there?", "a": NUMBERS[len(shapes)], "type": "count"},
          {"q": "What colour is the background?", "a": scene["background"], "type": "colour"}]
    for s in shapes:
        qa.append({"q": "What colour is the %s?" % s["kind"], "a": s["colour"], "type": "colour"})
        qa.append({"q": "Where is the %s?" % s["kind"], "a": place_name(s["row"], s["col"]), "type": "position"})
    # presence: one shape that is there, one combination that is not
    s = r.choice(shapes)
    qa.append({"q": "Is there a %s %s?" % (s["colour"], s["kind"]), "a": "yes", "type": "presence"})
    present = {(t["colour"], t["kind"]) for t in shapes}
    absent = [(c, k) for c in sorted(COLOURS) for k in KINDS if (c, k) not in present and c != scene["background"]]
    c, k = r.choice(absent)
    qa.append({"q": "Is there a %s %s?" % (c, k), "a": "no", "type": "presence"})
    # relations between two shapes in different columns or rows
    if len(shapes) >= 2:
        a, b = r.sample(shapes, 2)
        if a["col"] != b["col"]:
            qa.append({"q": "Is the %s left of the %s?" % (a["kind"], b["kind"]),
                       "a": "yes" if a["col"] < b["col"] else "no", "type": "relation"})
        if a["row"] != b["row"]:
            qa.append({"q": "Is the %s above the %s?" % (a["kind"], b["kind"]),
                       "a": "yes" if a["row"] < b["row"] else "no", "type": "relation"})
    return qa


_testsrc_cache = {}


def engine_view(img):
    """What vtpencoder feeds the model for a picture of any size: the
    shortest side resized to SIZE (bicubic, the long side truncated as
    transformers does), then the centre SIZE x SIZE (HF's floor rounding):
    CLIPImageProcessor's steps, which the trained encoder's
    preprocessor_config.json will name."""
    w, h = img.size
    if w <= h:
        nw, nh = SIZE, SIZE * h // w
    else:
        nw, nh = SIZE * w // h, SIZE
    img = img.resize((nw, nh), Image.BICUBIC)
    left, top = (nw - SIZE) // 2, (nh - SIZE) // 2
    return img.crop((left, top, left + SIZE, top + SIZE))


def testsrc_frames(pattern):
    """TESTSRC_FRAMES frames of @pattern from GStreamer's own videotestsrc,
    320x240, as the model sees them (engine_view)."""
    if pattern in _testsrc_cache:
        return _testsrc_cache[pattern]
    # every 5th frame of the ball's motion, so the positions differ
    n = TESTSRC_FRAMES * 5 if pattern == "ball" else TESTSRC_FRAMES
    cmd = ["gst-launch-1.0", "-q", "videotestsrc", "pattern=%s" % pattern, "num-buffers=%d" % n,
           "!", "video/x-raw,format=RGB,width=320,height=240,framerate=30/1", "!", "fdsink", "fd=1"]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    frames = np.frombuffer(raw, np.uint8).reshape(n, 240, 320, 3)
    if pattern == "ball":
        frames = frames[::5]
    out = [engine_view(Image.fromarray(f)) for f in frames]
    _testsrc_cache[pattern] = out
    return out


def testsrc_scene(r):
    pattern = r.choice(sorted(TESTSRC))
    return {"pattern": pattern, "frame": r.randrange(TESTSRC_FRAMES)}


def questions_testsrc(scene):
    name, _ = TESTSRC[scene["pattern"]]
    qa = [{"q": "What pattern is shown?", "a": name, "type": "pattern"},
          {"q": "How many shapes are there?", "a": "one" if scene["pattern"] == "ball" else "zero", "type": "count"}]
    if name.endswith(" screen"):
        qa.append({"q": "What colour is the screen?", "a": name.split()[0], "type": "colour"})
    return qa


def scene(split, index):
    """Picture (PIL RGB), record (dict) of scene @index of @split."""
    r = rng_for(split, index)
    if r.random() < TESTSRC_SHARE:
        sc = testsrc_scene(r)
        img = testsrc_frames(sc["pattern"])[sc["frame"]]
        rec = {"kind": "testsrc", "scene": sc, "caption": TESTSRC[sc["pattern"]][1] + ".",
               "qa": questions_testsrc(sc)}
    else:
        sc = sample_shapes(r)
        img = draw_shapes(sc)
        rec = {"kind": "shapes", "scene": sc, "caption": caption_shapes(sc), "qa": questions_shapes(sc, r),
               # each shape as the caption names it, place included: what a description is scored on
               "phrases": [describe_shape(s) for s in sc["shapes"]]}
    rec.update({"id": "%s-%05d" % (split, index), "split": split})
    return img, rec


def write_split(out, split, count):
    os.makedirs(os.path.join(out, split), exist_ok=True)
    with open(os.path.join(out, split + ".jsonl"), "w", encoding="utf-8") as f:
        for i in range(count):
            img, rec = scene(split, i)
            rec["image"] = "%s/%05d.png" % (split, i)
            img.save(os.path.join(out, rec["image"]))
            f.write(json.dumps(rec, sort_keys=True) + "\n")
    # what each videotestsrc pattern is called and how it is described, for tests on live testsrc input
    with open(os.path.join(out, "testsrc.json"), "w", encoding="utf-8") as f:
        json.dump({p: {"name": n, "caption": c + "."} for p, (n, c) in TESTSRC.items()}, f, indent=1, sort_keys=True)


def self_check():
    """Determinism, answer consistency, the spread of question types."""
    a_img, a = scene("test", 7)
    b_img, b = scene("test", 7)
    assert a == b and np.array_equal(np.asarray(a_img), np.asarray(b_img)), "scenes are not deterministic"
    counts = {}
    for split in ("train", "val", "test"):
        for i in range(300):
            img, rec = scene(split, i)
            assert img.size == (SIZE, SIZE)
            for qa in rec["qa"]:
                counts[qa["type"]] = counts.get(qa["type"], 0) + 1
            if rec["kind"] == "shapes":
                sc = rec["scene"]
                assert len({s["kind"] for s in sc["shapes"]}) == len(sc["shapes"])
                assert all(s["colour"] != sc["background"] for s in sc["shapes"])
                # the shape's colour is what the picture shows at its centre
                arr = np.asarray(img).astype(int)
                for s in sc["shapes"]:
                    x = int(((s["col"] + 0.5) / 3 + s["dx"]) * SIZE)
                    y = int(((s["row"] + 0.5) / 3 + s["dy"]) * SIZE)
                    assert np.abs(arr[y, x] - np.array(COLOURS[s["colour"]])).max() < 40, (rec["id"], s)
    # train and test pictures differ
    train = {json.dumps(scene("train", i)[1]["scene"], sort_keys=True) for i in range(300)}
    test = [json.dumps(scene("test", i)[1]["scene"], sort_keys=True) for i in range(300)]
    overlap = sum(t in train for t in test)
    print("self-check ok: question types %s; %d of 300 test scenes also among 300 train scenes (testsrc frames)"
          % (json.dumps(counts, sort_keys=True), overlap))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out")
    ap.add_argument("--split", choices=sorted(SPLIT_SEEDS), action="append")
    ap.add_argument("--count", type=int, default=500)
    ap.add_argument("--self-check", action="store_true")
    args = ap.parse_args()
    if args.self_check:
        self_check()
        return 0
    if not args.out:
        ap.error("--out is needed")
    for split in args.split or ["test"]:
        write_split(args.out, split, args.count)
    return 0


if __name__ == "__main__":
    sys.exit(main())
