#!/usr/bin/env python3
"""Issue 17, item 3: the research's robustness experiment
(../shared/docs/research-blog.txt, "Qualitative Analysis-Robustness": "we
provide a prompt that is completely unrelated to the image ... There are
two cases, with or without the hint") on vtp's bridges: each prompt of
PROMPTS asked about every picture as it is and with HINT appended after a
space, as the research wrote it ("Where is the man with the red hat? Note
that the image might be unrelated to this question."), through vtp-run for
each bridge, and each answer classified:

  describes  it names something of this picture (words of its ground truth
             that the prompt does not contain)
  world      it names none of that, but speaks the shape world's words (a
             kind, colour, background, place, number or test pattern of
             another picture): an answer in the only language the model
             knows, not about this picture
  ignores    neither: it answers without the picture (a bare "no" counts here)
  empty      no words at all (the model ended its answer at once)

and, as a control, the same answers classified against the ground truth of
another picture (the next one, cyclically): how often "describes" comes by
chance, since the world has only 8 colours, 4 kinds and 9 places.

Ground truth. World pictures (the default: the first --count scenes of the
held-out test split, tools/world/world.py): the kinds and colours of the
shapes, the background's colour and the shapes' place words (top, middle,
bottom, left, centre, right); for a videotestsrc frame, the content words of
its caption. Your own pictures (--pictures DIR, --captions FILE as
run_world.py reads them): the content words of the picture's caption (less
a short stop-word list, answers.STOPWORDS), and no "world" class; without
--captions the answers are written for reading, unscored. Words are
compared lower-case with plurals of the world's kinds and color/colour,
grey/gray, center/centre folded; a word of the prompt never counts (the
research's "red hat" does not make "red" a description).

    python3 tools/analyses/robustness.py --out /tmp/vtp-robustness --count 20
    python3 tools/analyses/robustness.py --out /tmp/r --pictures world-models/samples \\
        --captions world-models/samples/captions.txt --bridges llava-tuned
    python3 tools/analyses/robustness.py --out /tmp/r --pictures ~/pics --captions ~/pics/captions.txt \\
        --bridges --graph graphs/llava-1.5.json --set model=/models/llava-1.5-7b-hf

Writes --out/robustness.json (every answer and its class), robustness.md
(the table and examples). vtp-run from build/ (or $VTP_RUN). docs/analyses.md
has the results on the world models.
"""
import argparse
import collections
import datetime
import json
import os
import shlex
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "world"))
import answers  # noqa: E402

HINT = "Note that the image might be unrelated to this question."
# the research's two prompts (its wording kept), then eight of the same kinds: questions about people, things
# and places a picture might show but these do not, and two that need no picture at all
PROMPTS = [
    "Where is the man with the red hat?",
    "Why there are so many people on the ocean?",
    "What is the name of the dog sitting on the sofa?",
    "How many cars are parked in the street?",
    "What is the woman in the kitchen cooking?",
    "Why is the child crying?",
    "What time does the train leave the station?",
    "Who is playing the guitar on the stage?",
    "What is the capital of France?",
    "How do you bake bread?",
]
CLASSES = ["describes", "world", "ignores", "empty", "refused"]
_TESTSRC_GENERIC = {"colour", "test", "pattern", "plain", "television", "background"}


def with_hint(prompt):
    return prompt + " " + HINT


def world_vocabulary():
    """Every word the shape world's captions and answers are made of."""
    import world
    vocab = set(world.KINDS) | set(world.COLOURS) | set(world.BACKGROUNDS) | set(world.ROWS) | set(world.COLS)
    vocab |= set(world.NUMBERS) | {"shape", "background", "centre", "small", "large"}
    for _, caption in world.TESTSRC.values():
        vocab |= answers.content_words(caption)
    return vocab


def world_truth(rec):
    """The words that name something of world record @rec's picture."""
    if rec["kind"] == "shapes":
        import world
        sc = rec["scene"]
        truth = {sc["background"]}
        for s in sc["shapes"]:
            truth |= {s["kind"], s["colour"]} | set(answers.words(world.place_name(s["row"], s["col"])))
        return truth
    return answers.content_words(rec["caption"]) - _TESTSRC_GENERIC


def caption_truth(caption):
    """A caption's words that name something of its picture (None: no caption, no score)."""
    return None if caption is None else answers.content_words(caption)


def classify(answer, prompt, truth, vocabulary=frozenset()):
    """"describes", "world" or "ignores" (module doc) for @answer to @prompt;
    @truth: the picture's words (None: unscored, returns None); @answer None
    (vtp-run refused the prompt): "refused"."""
    if answer is None:
        return "refused"
    if truth is None:
        return None
    if not answers.words(answer):
        return "empty"
    said = set(answers.words(answer)) - set(answers.words(prompt))
    if said & truth:
        return "describes"
    if said & set(vocabulary):
        return "world"
    return "ignores"


def tally(rows):
    """{hint (bool): {class: count, "n": count, "control": count}} over rows
    of {"hint", "class", "control"}."""
    out = {}
    for hint in (False, True):
        sel = [r for r in rows if r["hint"] == hint and r["class"] not in (None, "refused")]
        t = {c: sum(r["class"] == c for r in sel) for c in CLASSES}
        t["control"] = sum(r["control"] == "describes" for r in sel)
        t["n"] = len(sel)
        t["refused"] = sum(r["hint"] == hint and r["class"] == "refused" for r in rows)
        out[hint] = t
    return out


def pct(k, n):
    return "—" if not n else "%.0f%%" % (100.0 * k / n)


def markdown(results, examples_per_bridge=3):
    """The table (one row a bridge) and a few examples, as markdown."""
    lines = ["| bridge | answers (no hint + hint) | describes, no hint | describes, hint | world words, no hint | world words, hint"
             " | ignores, no hint | ignores, hint | empty, no hint | empty, hint"
             " | control: describes another picture (no hint / hint) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for b, res in results["bridges"].items():
        t = res["tally"]
        n0, n1 = t["False"]["n"], t["True"]["n"]
        refused = t["False"]["refused"] + t["True"]["refused"]
        lines.append("| %s | %d + %d%s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |" % (
            b, n0, n1, " (%d refused)" % refused if refused else "", pct(t["False"]["describes"], n0), pct(t["True"]["describes"], n1),
            pct(t["False"]["world"], n0), pct(t["True"]["world"], n1),
            pct(t["False"]["ignores"], n0), pct(t["True"]["ignores"], n1),
            pct(t["False"]["empty"], n0), pct(t["True"]["empty"], n1),
            pct(t["False"]["control"], n0), pct(t["True"]["control"], n1)))
    lines += ["", "The most frequent answers (count), no hint; hint:", ""]
    for b, res in results["bridges"].items():
        parts = []
        for hint in (False, True):
            c = collections.Counter(r["answer"] for r in res["answers"] if r["hint"] == hint and r["answer"] is not None)
            parts.append(", ".join("\"%s\" (%d)" % (a, k) for a, k in c.most_common(4)))
        lines.append("- %s: %s; %s" % (b, parts[0], parts[1]))
    lines += ["", "Per prompt and bridge, describes the picture, no hint / hint:", "",
              "| prompt | " + " | ".join(results["bridges"]) + " |", "|---|" + "---|" * len(results["bridges"])]
    for p in results["prompts"]:
        cells = []
        for res in results["bridges"].values():
            rs = [r for r in res["answers"] if r["prompt"] == p and r["class"] not in (None, "refused")]
            k0 = [r for r in rs if not r["hint"]]
            k1 = [r for r in rs if r["hint"]]
            cells.append("%s / %s" % (pct(sum(r["class"] == "describes" for r in k0), len(k0)),
                                      pct(sum(r["class"] == "describes" for r in k1), len(k1))))
        lines.append("| %s | %s |" % (p, " | ".join(cells)))
    lines += ["", "Examples (the first picture; its ground truth: %s):" % results["pictures"][0]["truth_text"], "",
              "| bridge | prompt | hint | answer | class |", "|---|---|---|---|---|"]
    first = results["pictures"][0]["file"]
    for b, res in results["bridges"].items():
        shown = 0
        for r in res["answers"]:
            if r["picture"] == first and r["prompt"] in results["prompts"][:2] and shown < 2 * examples_per_bridge:
                lines.append("| %s | %s | %s | %s | %s |" % (b, r["prompt"], "yes" if r["hint"] else "no",
                                                             "(refused)" if r["answer"] is None else
                                                             r["answer"].replace("|", "\\|") or "(empty)",
                                                             r["class"] or "unscored"))
                shown += 1
    unscored = [r for res in results["bridges"].values() for r in res["answers"] if r["class"] is None]
    if unscored:
        shown = [p["file"] for p in results["pictures"][:2]]
        lines += ["", "Unscored answers (no caption to score against), for reading; the first %d pictures:" % len(shown),
                  "", "| bridge | picture | prompt | hint | answer |", "|---|---|---|---|---|"]
        for b, res in results["bridges"].items():
            for r in res["answers"]:
                if r["class"] is None and r["picture"] in shown:
                    lines.append("| %s | %s | %s | %s | %s |" % (b, os.path.basename(r["picture"]), r["prompt"],
                                                                 "yes" if r["hint"] else "no",
                                                                 r["answer"].replace("|", "\\|") or "(empty)"))
    refusals = ["%s refused: %s" % (b, "; ".join("\"%s\": %s" % kv for kv in res["errors"].items()))
                for b, res in results["bridges"].items() if res["errors"]]
    if refusals:
        lines += ["", "Prompts vtp-run refused (not counted in the percentages):", ""] + ["- " + r for r in refusals]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=20, help="pictures (default 20)")
    ap.add_argument("--pictures", help="your own pictures (a directory) instead of the world's")
    ap.add_argument("--captions", help="with --pictures: their captions (the ground truth scored against)")
    ap.add_argument("--prompts", help="a file of unrelated prompts, one a line (default: PROMPTS, the research's "
                    "two and eight more)")
    answers.add_column_arguments(ap)
    args = ap.parse_args()
    if args.bridges is None:
        args.bridges = [] if args.graph else answers.DEFAULT_BRIDGES
    if args.captions and not args.pictures:
        ap.error("--captions goes with --pictures")
    os.makedirs(args.out, exist_ok=True)
    prompts = PROMPTS
    if args.prompts:
        with open(args.prompts, encoding="utf-8") as f:
            prompts = [line.strip() for line in f if line.strip()]
    if args.pictures:
        pics = [(p, caption_truth(c), c) for p, c in answers.own_pictures(args.pictures, args.captions, args.count)]
        vocabulary, source = frozenset(), {"pictures": os.path.abspath(args.pictures), "captions": args.captions}
    else:
        pics = [(p, world_truth(rec), rec["caption"])
                for p, rec in answers.world_pictures(os.path.join(args.out, "pictures"), args.count)]
        vocabulary, source = world_vocabulary(), {"world": "test split", "count": args.count}
    results = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
               "command": shlex.join([os.path.relpath(sys.argv[0], answers.ROOT)] + sys.argv[1:]),
               "source": source, "hint": HINT, "prompts": prompts,
               "pictures": [{"file": p, "caption": c, "truth": sorted(t) if t is not None else None,
                             "truth_text": c or "(none)"} for p, t, c in pics],
               "bridges": {}}
    items = [(p, q) for p, _, _ in pics for q in prompts] + [(p, with_hint(q)) for p, _, _ in pics for q in prompts]
    for col in answers.columns(args):
        log, errors = [], {}
        got = answers.ask(col, items, args.max_new_tokens, log, errors)
        rows = []
        for j, (p, truth, _) in enumerate(pics):
            other = pics[(j + 1) % len(pics)][1]
            for q in prompts:
                for hint in (False, True):
                    asked = with_hint(q) if hint else q
                    a = got[(p, asked)]
                    rows.append({"picture": p, "prompt": q, "hint": hint, "answer": a,
                                 "class": classify(a, asked, truth, vocabulary),
                                 "control": classify(a, asked, other, vocabulary) if len(pics) > 1 else None})
        t = tally(rows)
        results["bridges"][col.label] = {"graph": col.graph, "set": col.sets, "example_command": shlex.join(log[0]),
                                         "errors": errors,
                                         "tally": {str(k): v for k, v in t.items()}, "answers": rows}
        print("%s: describes %s without the hint, %s with it" % (col.label, pct(t[False]["describes"], t[False]["n"]),
                                                                 pct(t[True]["describes"], t[True]["n"])), flush=True)
    with open(os.path.join(args.out, "robustness.json"), "w", encoding="utf-8") as f:
        json.dump(results, f, indent=1)
    table = markdown(results)
    with open(os.path.join(args.out, "robustness.md"), "w", encoding="utf-8") as f:
        f.write(table)
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
