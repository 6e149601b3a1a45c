#!/usr/bin/env python3
"""Issue 17, item 4: the research's qualitative comparison
(../shared/docs/research-blog.txt, "Qualitative Analysis-Different types of
Image and Prompts": eight categories, from "Emotion / Atmosphere Inference"
to "Implicit Relationship Inference", each bridge's answer judged a success
or a failure) as a page: each picture's thumbnail, each prompt, and every
bridge's answer side by side.

World pictures (the default: --count scenes of the held-out test split with
two or three shapes, tools/world/world.py). The research's categories ask
about moods, stories, the future and people, which the shape world cannot
show; CATEGORIES maps each to the nearest question the world can ask and
answer from how the picture was made (background, description, relation,
position, count, presence of what is not there, colour bound to the right
shape), and says which cannot be expressed (predicting the future: the
pictures are still; people and their relationships: there are none; OCR:
there is no text). Those questions have a ground truth, and an answer is
marked ✓ or ✗ (answers.words() compared: a yes/no answer by its first word,
a place by all its words and no other, a colour, number or size by
containing it and no other of its kind, a description by containing every
shape's phrase of the caption, place included). Below them, the research's own eight
prompts verbatim (RESEARCH_PROMPTS), unscored, for reading: what a model that
knows only shapes makes of them.

Your own pictures (--pictures DIR): the research's prompts (or --prompts
FILE, one a line) through the bridges of world-models/variants.json
(--bridges, --models) and/or a graph of your own (--graph, --set, --label);
thumbnails at most --thumb pixels.

    python3 tools/analyses/qualitative.py --out docs/qualitative --count 6
    python3 tools/analyses/qualitative.py --out /tmp/q --pictures ~/pics --bridges \\
        --graph graphs/llava-1.5.json --set model=/models/llava-1.5-7b-hf --label llava-1.5-7b

Writes --out/README.md (the page), --out/pictures/ (the thumbnails) and
--out/qualitative.json (every answer). Pillow; numpy for world pictures.
"""
import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "world"))
import answers  # noqa: E402

# the research's eight prompts, its wording kept, by its category
RESEARCH_PROMPTS = [
    ("Emotion / Atmosphere Inference", "Describe the emotions and atmosphere depicted in the image. Explore the "
     "feelings that this setting might evoke in a person and elaborate on the ambiance of the room."),
    ("Create a Backstory", "Invent a detailed backstory for the abandoned old house."),
    ("Predict Future", "What might happen next?"),
    ("Explain Object-Object Relationship", "Explain the relationship between the magnifying glass and the antique map."),
    ("Explain Human-Object Relationship", "What is this picture about? What's the feeling of the people and why they "
     "have such feelings?"),
    ("Explain Human-Human Relationship", "What is the relationship of these two people?"),
    ("Confusing Image", "What is the unusual of this picture?"),
    ("Implicit Relationship Inference", "What is this picture about?"),
]

# (the research's category, the world's counterpart, how it is asked) -- "how" names a builder below, or None
# where the world cannot express the category
CATEGORIES = [
    ("Emotion / Atmosphere Inference", "scene: the background", "background"),
    ("Create a Backstory", "description: everything in the picture", "describe"),
    ("Predict Future", "not expressible: the pictures are still, nothing happens next", None),
    ("Explain Object-Object Relationship", "relation: left of / above", "relation"),
    ("Explain Human-Object Relationship", "no people: where an object is", "position"),
    ("Explain Human-Human Relationship", "no people: how many objects", "count"),
    ("Confusing Image", "presence: a shape that is not there (hallucination)", "absent"),
    ("Implicit Relationship Inference", "binding: the colour of one shape among several", "colour"),
    ("(not the research's) size", "size: never asked in training, only said in captions", "size"),
    ("(not the research's) OCR", "not expressible: the world has no text", None),
]


def world_question(how, rec):
    """(prompt, truth, kind of match) of builder @how for world record @rec."""
    sc = rec["scene"]
    qa = rec["qa"]
    first = sorted(sc["shapes"], key=lambda s: (s["row"], s["col"]))[0]
    if how == "background":
        return "What colour is the background?", sc["background"], "words"
    if how == "describe":
        import world
        return world.DESCRIBE, rec["caption"], "phrases"
    if how == "relation":
        q = next(x for x in qa if x["type"] == "relation")
        return q["q"], q["a"], "yesno"
    if how == "position":
        import world
        return "Where is the %s?" % first["kind"], world.place_name(first["row"], first["col"]), "exact"
    if how == "count":
        return "How many shapes are there?", next(x["a"] for x in qa if x["type"] == "count"), "words"
    if how == "absent":
        q = [x for x in qa if x["type"] == "presence" and x["a"] == "no"][0]
        return q["q"], "no", "yesno"
    if how == "colour":
        return "What colour is the %s?" % first["kind"], first["colour"], "words"
    if how == "size":
        return "Is the %s small or large?" % first["kind"], first["size"], "words"
    raise ValueError(how)


def correct(answer, truth, match, phrases=()):
    """Whether @answer gives @truth: "yesno" by its first word, "exact" by
    its words being truth's (a place: "bottom left" is not "left"), "words"
    by containing all of truth's words (and, for a colour, number or size,
    no other of the same: "red or blue" is not "red"), "phrases" by
    containing every one of @phrases (a description's shapes)."""
    if answer is None:
        return False
    said = answers.words(answer)
    if match == "yesno":
        return bool(said) and said[0] == truth
    if match == "exact":
        return said == answers.words(truth)
    if match == "phrases":
        text = " ".join(said)
        return bool(phrases) and all(" ".join(answers.words(p)) in text for p in phrases)
    want = answers.words(truth)
    if not set(want) <= set(said):
        return False
    for group in _EXCLUSIVE:
        if set(want) & group and (set(said) & group) - set(want):
            return False
    return True


def _exclusive_groups():
    import world
    return [set(world.COLOURS) | set(world.BACKGROUNDS), set(world.NUMBERS), set(world.SIZES)]


_EXCLUSIVE = []


def thumbnail(src, dst, size):
    from PIL import Image
    img = Image.open(src).convert("RGB")
    if max(img.size) < size:          # the world's 64-pixel pictures: enlarged, crisp
        k = size // max(img.size)
        img = img.resize((img.size[0] * k, img.size[1] * k), Image.NEAREST)
    else:
        img.thumbnail((size, size))
    img.save(dst, optimize=True)


def cell(text):
    if text is None:
        return "(refused)"
    return text.replace("|", "\\|").replace("\n", " ") or "(empty)"


def page(res):
    labels = list(res["bridges"])
    out = ["# Qualitative comparison", "",
           "Generated by `%s` on %s (tools/analyses/qualitative.py; docs/analyses.md reads it)." % (
               res["command"], res["date"]), ""]
    if res["world"]:
        out += ["The research's eight categories (../shared/docs/research-blog.txt) and what the shape world can "
                "ask instead; ✓ / ✗: the answer against the scene's ground truth.", "",
                "| research's category | the world's counterpart | " + " | ".join(labels) + " |",
                "|---|---|" + "---|" * len(labels)]
        for cat, counterpart, how in CATEGORIES:
            row = []
            for b in labels:
                rs = [r for r in res["bridges"][b] if r["how"] == how and how]
                row.append("%d / %d" % (sum(r["correct"] for r in rs), len(rs)) if rs else "—")
            out.append("| %s | %s | %s |" % (cat, counterpart, " | ".join(row)))
        out.append("")
    for k, pic in enumerate(res["pictures"]):
        out += ["## Picture %d" % (k + 1), "", "![picture %d](%s)" % (k + 1, pic["thumb"]), ""]
        if pic["caption"]:
            out += ["Caption: %s" % pic["caption"], ""]
        head = "| category | prompt | %s" % ("truth | " if res["world"] else "")
        out += [head + " | ".join(labels) + " |", "|---|---|" + ("---|" if res["world"] else "") + "---|" * len(labels)]
        for q in pic["questions"]:
            row = ["| %s | %s |" % (q["category"], cell(q["prompt"]))]
            if res["world"]:
                row.append(" %s |" % (cell(q["truth"]) if q["truth"] is not None else ""))
            for b in labels:
                r = next(x for x in res["bridges"][b] if x["picture"] == pic["file"] and x["prompt"] == q["prompt"])
                mark = "" if r["correct"] is None else (" ✓" if r["correct"] else " ✗")
                row.append(" %s%s |" % (cell(r["answer"]), mark))
            out.append("".join(row))
        out.append("")
    errors = {b: e for b, e in res["errors"].items() if e}
    if errors:
        out += ["Prompts vtp-run refused:", ""]
        for b, e in errors.items():
            out += ["- %s: %s" % (b, "; ".join("\"%s\": %s" % kv for kv in e.items()))]
        out.append("")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=6, help="pictures (default 6)")
    ap.add_argument("--pictures", help="your own pictures (a directory) instead of the world's")
    ap.add_argument("--captions", help="with --pictures: captions shown under the pictures")
    ap.add_argument("--prompts", help="with --pictures: a file of prompts, one a line (default: the research's eight)")
    ap.add_argument("--no-research-prompts", action="store_true",
                    help="world pictures: only the world's questions, not the research's prompts verbatim")
    ap.add_argument("--thumb", type=int, default=128, help="thumbnail size in pixels (default 128)")
    answers.add_column_arguments(ap)
    args = ap.parse_args()
    if args.bridges is None:
        args.bridges = [] if args.graph else answers.DEFAULT_BRIDGES
    os.makedirs(os.path.join(args.out, "pictures"), exist_ok=True)
    tmp = tempfile.TemporaryDirectory()   # world pictures: the runs' inputs, not kept
    pics = []    # {"file", "caption", "thumb", "questions": [{"category", "prompt", "truth", "match", "how"}]}
    if args.pictures:
        prompts = RESEARCH_PROMPTS
        if args.prompts:
            with open(args.prompts, encoding="utf-8") as f:
                prompts = [("", line.strip()) for line in f if line.strip()]
        for p, c in answers.own_pictures(args.pictures, args.captions, args.count):
            pics.append({"file": p, "caption": c, "questions": [
                {"category": cat, "prompt": q, "truth": None, "match": None, "how": None} for cat, q in prompts]})
    else:
        _EXCLUSIVE[:] = _exclusive_groups()
        for p, rec in answers.world_pictures(tmp.name, args.count, kinds=("shapes",), min_shapes=2):
            qs = []
            for cat, counterpart, how in CATEGORIES:
                if how:
                    q, truth, match = world_question(how, rec)
                    qs.append({"category": "%s → %s" % (cat, counterpart.split(":")[0]), "prompt": q, "truth": truth,
                               "match": match, "how": how, "phrases": rec["phrases"]})
            if not args.no_research_prompts:
                qs += [{"category": "%s (the research's prompt)" % cat, "prompt": q, "truth": None, "match": None,
                        "how": None} for cat, q in RESEARCH_PROMPTS]
            pics.append({"file": p, "caption": rec["caption"], "id": rec["id"], "questions": qs})
    for k, pic in enumerate(pics):
        name = "%02d.png" % (k + 1)
        thumbnail(pic["file"], os.path.join(args.out, "pictures", name), args.thumb)
        pic["thumb"] = "pictures/" + name
    items = [(pic["file"], q["prompt"]) for pic in pics for q in pic["questions"]]
    res = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
           "command": shlex.join(["python3", os.path.relpath(os.path.abspath(sys.argv[0]), answers.ROOT)]
                                 + sys.argv[1:]),
           "world": not args.pictures, "pictures": pics, "bridges": {}, "errors": {}}
    for col in answers.columns(args):
        errors = {}
        got = answers.ask(col, items, args.max_new_tokens, errors=errors)
        rows = []
        for pic in pics:
            for q in pic["questions"]:
                a = got[(pic["file"], q["prompt"])]
                ok = None if q["truth"] is None else correct(a, q["truth"], q["match"], q.get("phrases", ()))
                rows.append({"picture": pic["file"], "prompt": q["prompt"], "how": q["how"], "answer": a,
                             "correct": ok})
        res["bridges"][col.label] = rows
        res["errors"][col.label] = errors
        scored = sum(r["correct"] is not None for r in rows)
        print("%s: %d answers%s" % (col.label, len(rows), ", %d of %d scored ones right" % (
            sum(bool(r["correct"]) for r in rows), scored) if scored else ""), flush=True)
    if not args.pictures:   # the world's inputs (in a temporary directory) by their scene ids
        ids = {pic["file"]: pic["id"] for pic in pics}
        for pic in pics:
            pic["file"] = pic["id"]
        for rows in res["bridges"].values():
            for r in rows:
                r["picture"] = ids[r["picture"]]
    with open(os.path.join(args.out, "qualitative.json"), "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1, ensure_ascii=False)
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(page(res))
    print(os.path.join(args.out, "README.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
