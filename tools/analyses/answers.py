"""What robustness.py and qualitative.py share (issue 17, items 3 and 4):
pictures (the world's held-out test split, or a folder of your own with an
optional caption file), vtp-run's answers for many (picture, prompt) pairs
(one vtp-run a distinct prompt, over a directory of the pictures that ask
it, as tools/world/evaluate.py does), and the word-level matching both
score with. Standard library only here; world pictures need numpy and
Pillow (tools/world/world.py), imported only when asked for.
"""
import collections
import json
import os
import re
import subprocess
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
with open(os.path.join(ROOT, "world-models", "variants.json"), encoding="utf-8") as _f:
    VARIANTS = json.load(_f)
# the bridges run_world.py compares (the shared encoder and LLM, differing only in the bridge)
DEFAULT_BRIDGES = ["llava", "qformer-text", "qformer-notext", "adapter"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pnm")

# spellings folded together before words are compared
_FOLD = {"color": "colour", "colors": "colour", "colours": "colour", "grey": "gray", "center": "centre",
         "circles": "circle", "squares": "square", "triangles": "triangle", "diamonds": "diamond",
         "shapes": "shape"}
STOPWORDS = set("""a an the and or of on in at to is are was were be it its this that these those there with
for from by as into onto over under near next some any one no not yes what which who whom whose where
when why how do does did can could might may will would should picture image photo shown show shows""".split())


def words(text):
    """Lower-case words of @text, spellings folded (color -> colour, circles -> circle, ...)."""
    return [_FOLD.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())]


def content_words(text):
    """words() less STOPWORDS and one-letter words: what a caption says about its picture."""
    return {w for w in words(text) if w not in STOPWORDS and len(w) > 1}


class Column:
    """One column of answers: a graph and its --set parameters (a bridge of
    world-models/variants.json under --models, or a graph of your own)."""

    def __init__(self, label, graph, sets):
        self.label, self.graph, self.sets = label, graph, dict(sets)

    @classmethod
    def variant(cls, name, models):
        v = VARIANTS[name]
        return cls(name, os.path.join(ROOT, "graphs", v["graph"]),
                   {k: os.path.join(models, sub) for k, sub in v["set"].items()})

    def command(self, vtp_run, inputs, prompt, max_new_tokens):
        cmd = [vtp_run, self.graph, "-q", "-f", "json", "-i", inputs, "-p", prompt]
        if max_new_tokens:
            cmd += ["--set", "max-new-tokens=%d" % max_new_tokens]
        for name, value in self.sets.items():
            cmd += ["--set", "%s=%s" % (name, value)]
        return cmd


def columns(args):
    """The Columns that --bridges/--models and --graph/--set/--label name."""
    cols = [Column.variant(b, args.models) for b in (args.bridges or [])]
    if args.graph:
        sets = []
        for s in args.set or []:
            if "=" not in s:
                raise SystemExit("--set %s: expected NAME=VALUE" % s)
            sets.append(s.split("=", 1))
        cols.append(Column(args.label or os.path.splitext(os.path.basename(args.graph))[0], args.graph, sets))
    if not cols:
        raise SystemExit("nothing to run: --bridges or --graph")
    return cols


def add_column_arguments(ap):
    ap.add_argument("--models", default=os.path.join(ROOT, "world-models"),
                    help="the directory world-models/variants.json's paths are under (default world-models)")
    ap.add_argument("--bridges", nargs="*", choices=sorted(VARIANTS), default=None,
                    help="bridges of world-models/variants.json (default: %s; none with --graph)"
                    % " ".join(DEFAULT_BRIDGES))
    ap.add_argument("--graph", help="a graph of your own (graphs/*.json or yours), one more column")
    ap.add_argument("--set", action="append", metavar="NAME=VALUE", help="--graph's parameters (repeatable)")
    ap.add_argument("--label", help="--graph's column title (default: the graph's file name)")
    ap.add_argument("--max-new-tokens", type=int, default=40)


def vtp_run_cmd():
    """vtp-run and its environment: $VTP_RUN (with $GST_PLUGIN_PATH as set), else the build tree's."""
    vtp_run = os.environ.get("VTP_RUN")
    env = dict(os.environ) if vtp_run else dict(os.environ, GST_PLUGIN_PATH=os.path.join(ROOT, "build", "plugins"))
    return vtp_run or os.path.join(ROOT, "build", "cli", "vtp-run"), env


def ask(column, items, max_new_tokens=40, log=None, errors=None):
    """{(picture path, prompt): answer} for @items, (picture path, prompt)
    pairs: one vtp-run a distinct prompt over a directory of links to the
    pictures asking it. @log, if given, receives each command (a list).
    @errors, if given (a dict): a prompt vtp-run refuses (a Q-Former's
    instruction longer than its positions, say) is not fatal: its answers
    are None and errors[prompt] is vtp-run's message."""
    vtp_run, env = vtp_run_cmd()
    by_prompt = collections.OrderedDict()
    for pic, prompt in items:
        by_prompt.setdefault(prompt, [])
        if pic not in by_prompt[prompt]:
            by_prompt[prompt].append(pic)
    out = {}
    for prompt, pics in by_prompt.items():
        with tempfile.TemporaryDirectory() as d:
            names = {}
            for j, pic in enumerate(pics):
                name = "%05d%s" % (j, os.path.splitext(pic)[1].lower())
                os.symlink(os.path.abspath(pic), os.path.join(d, name))
                names[name] = pic
            cmd = column.command(vtp_run, d, prompt, max_new_tokens)
            if log is not None:
                log.append(cmd)
            res = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if res.returncode != 0 and errors is not None:
                errors[prompt] = (res.stderr.strip().splitlines() or ["exit %d" % res.returncode])[-1]
                for pic in pics:
                    out[(pic, prompt)] = None
                continue
            if res.returncode != 0:
                raise SystemExit("vtp-run failed (%d): %s\n%s" % (res.returncode, " ".join(cmd), res.stderr[-2000:]))
            for line in res.stdout.splitlines():
                o = json.loads(line)
                out[(names[os.path.basename(o["source"])], prompt)] = o["text"].strip()
    return out


def world_pictures(out, count, kinds=("shapes", "testsrc"), min_shapes=1, start=0):
    """The first @count scenes of the world's test split (from index @start)
    of @kinds with at least @min_shapes shapes, written as out/NNNNN.png;
    [(path, record)], the record as tools/world/world.py makes it."""
    import world  # tools/world (on sys.path by the caller)
    os.makedirs(out, exist_ok=True)
    found, i = [], start
    while len(found) < count:
        img, rec = world.scene("test", i)
        i += 1
        if rec["kind"] not in kinds or (rec["kind"] == "shapes" and len(rec["scene"]["shapes"]) < min_shapes):
            continue
        path = os.path.join(out, "%05d.png" % (i - 1))
        img.save(path)
        found.append((path, rec))
    return found


def own_pictures(folder, captions_file=None, count=None):
    """[(path, caption or None)] for the pictures of @folder in name order;
    @captions_file: "NAME caption" lines (as world-models/samples/captions.txt),
    or one caption a line for the pictures in name order."""
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    caps = {}
    if captions_file:
        with open(captions_file, encoding="utf-8") as f:
            lines = [line.strip() for line in f if line.strip()]
        named = [line.split(None, 1) for line in lines]
        if lines and all(len(p) == 2 and p[0] in names for p in named):
            caps = dict(named)
        elif len(lines) == len(names):
            caps = dict(zip(names, lines))
        else:
            raise SystemExit("%s: %d captions for %d pictures (and not \"NAME caption\" lines naming them)"
                             % (captions_file, len(lines), len(names)))
    pics = [(os.path.join(folder, n), caps.get(n)) for n in names]
    return pics[:count] if count else pics
