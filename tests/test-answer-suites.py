#!/usr/bin/env python3
"""The answer suites of tools/analyses/ (issue 17, items 3 and 4): known
answers to known scenes get known scores. robustness.py's classes
(describes / world / ignores / empty / refused; a prompt's own words never
count, plurals and spellings folded), its ground truth of a shape scene and
a test-pattern frame, the hint appended as the research wrote it, its tally
and table; qualitative.py's right/wrong marks (yes/no by the first word, a
place exactly, a colour or number with no rival, a description by every
shape's phrase) and its questions for a world scene. Then both scripts end
to end through vtp-run on two world pictures and one bridge ($VTP_RUN, as
the suite builds it; that part skipped without it).

Skipped (77) where numpy or Pillow are missing for this python3 (the world's
pictures need them: pip install -r tools/requirements.txt).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyses_env import SOURCE, TOOLS, require  # noqa: E402

require("numpy", "PIL")
sys.path.insert(0, os.path.join(SOURCE, "tools", "world"))
import qualitative  # noqa: E402
import robustness  # noqa: E402
import world  # noqa: E402

failures = []


def check(cond, what):
    print("%s: %s" % ("ok" if cond else "FAIL", what))
    if not cond:
        failures.append(what)


def robustness_cases():
    q = "Where is the man with the red hat?"
    check(robustness.with_hint(q) == "Where is the man with the red hat? Note that the image might be unrelated "
          "to this question.", "the hint appended after a space, as the research wrote it")
    rec = {"kind": "shapes", "caption": "a large red square in the centre and a small blue circle at the top left "
           "on a gray background.",
           "scene": {"background": "gray", "shapes": [
               {"kind": "square", "colour": "red", "size": "large", "row": 1, "col": 1},
               {"kind": "circle", "colour": "blue", "size": "small", "row": 0, "col": 0}]}}
    truth = robustness.world_truth(rec)
    check(truth == {"gray", "square", "red", "centre", "circle", "blue", "top", "left"},
          "a shape scene's truth: kinds, colours, background, place words (%s)" % sorted(truth))
    tsrc = robustness.world_truth({"kind": "testsrc", "caption": "the smpte colour bars test pattern."})
    check(tsrc == {"smpte", "bars"}, "a test-pattern frame's truth: its caption's content words (%s)" % sorted(tsrc))
    vocab = robustness.world_vocabulary()
    check({"triangle", "purple", "bottom", "three", "snow", "checkerboard"} <= vocab, "the world's vocabulary")
    cases = [
        ("a large red square in the centre", q, "describes"),
        ("Two Squares.", "How many cars are parked in the street?", "describes"),       # plural folded
        ("The circle's color is blue", "Why is the child crying?", "describes"),
        ("red", q, "ignores"),                       # only the prompt's own word: not a description
        ("top right", q, "describes"),               # "top" names the circle's place
        ("bottom right", q, "world"),                # neither word is this picture's (top, left, centre)
        ("bottom", q, "world"),                      # a place of the world, none of this picture's
        ("a small purple triangle", "Why is the child crying?", "world"),
        ("no", "Why there are so many people on the ocean?", "ignores"),
        ("Paris", "What is the capital of France?", "ignores"),
        ("", q, "empty"),
        (" . ", q, "empty"),
        (None, q, "refused"),
    ]
    for answer, prompt, want in cases:
        got = robustness.classify(answer, prompt, truth, vocab)
        check(got == want, "classify(%r, %r) = %r, expected %r" % (answer, prompt, got, want))
    check(robustness.classify("a dog", q, None, vocab) is None, "no truth: unscored")
    cap = robustness.caption_truth("A brown dog sleeps on the sofa.")
    check(cap == {"brown", "dog", "sleeps", "sofa"}, "a caption's truth: its content words (%s)" % sorted(cap))
    check(robustness.classify("The dog.", "Where is the cat?", cap) == "describes", "own pictures: a caption word")
    check(robustness.classify("In the kitchen.", "Where is the cat?", cap) == "ignores",
          "own pictures: no caption word, no world class")
    rows = ([{"hint": False, "class": "describes", "control": "describes"}] * 3
            + [{"hint": False, "class": "ignores", "control": "ignores"}]
            + [{"hint": True, "class": "world", "control": "describes"}] * 2
            + [{"hint": True, "class": "empty", "control": "empty"}, {"hint": True, "class": "refused", "control": None}])
    t = robustness.tally(rows)
    check(t[False] == {"describes": 3, "world": 0, "ignores": 1, "empty": 0, "refused": 0, "control": 3, "n": 4},
          "tally without the hint: %s" % t[False])
    check(t[True] == {"describes": 0, "world": 2, "ignores": 0, "empty": 1, "refused": 1, "control": 2, "n": 3},
          "tally with the hint (a refusal not in n): %s" % t[True])
    res = {"prompts": [q], "pictures": [{"file": "p0", "truth_text": "x"}],
           "bridges": {"b": {"tally": {str(k): v for k, v in t.items()}, "errors": {},
                             "answers": [dict(r, picture="p0", prompt=q, answer="a") for r in rows]}}}
    md = robustness.markdown(res)
    check("| b | 4 + 3 (1 refused) | 75% | 0% | 0% | 67% | 25% | 0% | 0% | 33% | 75% / 67% |" in md,
          "the table's row")


def qualitative_cases():
    qualitative._EXCLUSIVE[:] = qualitative._exclusive_groups()
    c = qualitative.correct
    check(c("Yes, it is.", "yes", "yesno") and not c("no", "yes", "yesno") and not c("", "yes", "yesno"),
          "yes/no by the first word")
    check(c("bottom left", "bottom left", "exact") and not c("bottom left", "left", "exact")
          and c("Top Left.", "top left", "exact"), "a place exactly")
    check(c("red", "red", "words") and c("It is red.", "red", "words") and not c("red or blue", "red", "words")
          and not c("three", "two", "words") and c("Color: gray", "gray", "words") and c("grey", "gray", "words"),
          "a colour or a number: contained, no rival")
    phrases = ["a large red square in the centre", "a small blue circle at the top left"]
    check(c("a small blue circle at the top left and a large red square in the centre on a gray background.", None,
            "phrases", phrases), "a description with every shape")
    check(not c("a large red square in the centre on a gray background.", None, "phrases", phrases),
          "a description missing a shape")
    check(not c(None, "yes", "yesno"), "a refusal is wrong")
    i = 0
    while True:
        _, rec = world.scene("test", i)
        if rec["kind"] == "shapes" and len(rec["scene"]["shapes"]) >= 2:
            break
        i += 1
    first = sorted(rec["scene"]["shapes"], key=lambda s: (s["row"], s["col"]))[0]
    check(qualitative.world_question("colour", rec) == ("What colour is the %s?" % first["kind"], first["colour"],
                                                         "words"), "the binding question of test-%05d" % i)
    q, a, m = qualitative.world_question("relation", rec)
    check(any(x["q"] == q and x["a"] == a for x in rec["qa"]) and m == "yesno", "the relation question")
    check(qualitative.world_question("absent", rec)[1] == "no", "the presence question asks for an absent shape")


def end_to_end():
    vtp_run = os.environ.get("VTP_RUN")
    if not vtp_run:
        print("end to end: skipped ($VTP_RUN unset)")
        return
    with tempfile.TemporaryDirectory() as d:
        prompts = os.path.join(d, "prompts.txt")
        with open(prompts, "w") as f:
            f.write("Where is the man with the red hat?\nWhat is the capital of France?\n")
        subprocess.run([sys.executable, os.path.join(TOOLS, "robustness.py"), "--out", os.path.join(d, "r"),
                        "--count", "2", "--bridges", "llava", "--prompts", prompts], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(d, "r", "robustness.json")) as f:
            r = json.load(f)
        rows = r["bridges"]["llava"]["answers"]
        check(len(rows) == 8 and all(x["class"] in robustness.CLASSES for x in rows),
              "robustness.py: 2 pictures x 2 prompts x with/without the hint, all classified")
        t = r["bridges"]["llava"]["tally"]
        check(t["False"]["n"] == 4 and t["True"]["n"] == 4, "robustness.py's tally")
        out = os.path.join(d, "q")
        subprocess.run([sys.executable, os.path.join(TOOLS, "qualitative.py"), "--out", out, "--count", "1",
                        "--bridges", "llava", "adapter", "--no-research-prompts"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "README.md")) as f:
            page = f.read()
        check("![picture 1](pictures/01.png)" in page and os.path.getsize(os.path.join(out, "pictures", "01.png")) < 4000,
              "qualitative.py: the page and its thumbnail")
        with open(os.path.join(out, "qualitative.json")) as f:
            q = json.load(f)
        check(set(q["bridges"]) == {"llava", "adapter"} and len(q["bridges"]["llava"]) == 8,
              "qualitative.py: 8 world questions for each bridge")


robustness_cases()
qualitative_cases()
end_to_end()
if failures:
    print("%d failed" % len(failures))
    sys.exit(1)
print("all passed")
