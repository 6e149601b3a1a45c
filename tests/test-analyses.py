#!/usr/bin/env python3
"""The embedding analyses of tools/analyses/ (issue 17, item 2).

retrieval.py on .npy directories laid out as vtp-run --format embeddings
writes them (docs/embeddings.md), where the answer is known: pictures whose
vectors are their captions' retrieve them all first (top-1 100%); captions
shifted by one never come first and, for unrelated random vectors, top-k
stays near k / N; a caption identical to the right one counts against it;
--center; usage errors. embedlib's PCA and t-SNE on tiny inputs with known
structure (a line: one component; three clusters: every point's nearest
neighbour in the 3-D t-SNE in its own cluster, the same picture from the
same seed); embeddings_plot.py writes both PNGs. run_world.py end to end on
8 world pairs and on world-models/samples through vtp-run ($VTP_RUN, as the
suite builds it; skipped without it).

Skipped (77) where numpy or matplotlib are missing for this python3 (the
Debian packages of scripts/debian-packages.txt do not bring them: pip
install -r tools/requirements.txt).
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from analyses_env import SOURCE, TOOLS, require  # noqa: E402

require("numpy", "matplotlib")
import numpy as np  # noqa: E402
import embedlib  # noqa: E402
import retrieval  # noqa: E402


def write_run(d, images, texts, graph="synthetic"):
    """@images, @texts: lists of [tokens, width] arrays, written as vtp-run does."""
    os.makedirs(d, exist_ok=True)
    index = {"graph": graph, "images": [], "texts": []}
    for kind, rows in (("image", images), ("text", texts)):
        for i, a in enumerate(rows):
            name = "%s-%04d.npy" % (kind, i)
            np.save(os.path.join(d, name), a.astype("<f4"))
            index[kind + "s"].append({"file": name, "source": "%s %d" % (kind, i), "shape": list(a.shape),
                                      "pooled_row": i})
        if rows:
            np.save(os.path.join(d, kind + "-pooled.npy"),
                    np.array([a.astype(np.float64).mean(axis=0) for a in rows], dtype="<f4"))
            index[kind + "s_pooled"] = kind + "-pooled.npy"
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f)


def cli(tool, *args):
    p = subprocess.run([sys.executable, os.path.join(TOOLS, tool)] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def test_retrieval(tmp):
    rng = np.random.default_rng(7)
    n, w = 200, 32
    # each picture 4 tokens, each caption 3 tokens; the means are what counts
    pics = [rng.standard_normal((4, w)) for _ in range(n)]
    same = [np.repeat(p.mean(axis=0, keepdims=True), 3, axis=0) * 0.01 for p in pics]   # same direction, other norm
    write_run(os.path.join(tmp, "same"), pics, same)
    shifted = same[1:] + same[:1]
    write_run(os.path.join(tmp, "shifted"), pics, shifted)
    unrelated = [rng.standard_normal((3, w)) for _ in range(n)]
    write_run(os.path.join(tmp, "random"), pics, unrelated)

    out = os.path.join(tmp, "r.json")
    rc, text = cli("retrieval.py", os.path.join(tmp, "same"), "B=" + os.path.join(tmp, "shifted"),
                   os.path.join(tmp, "random"), "--json", out, "--markdown", os.path.join(tmp, "r.md"))
    assert rc == 0, text
    res = json.load(open(out))["bridges"]
    assert list(res) == ["same", "B", "random"], list(res)
    assert res["same"]["top_k"] == {"1": 1.0, "5": 1.0, "10": 1.0}, res["same"]
    assert res["same"]["mean_rank"] == 1.0 and res["same"]["pairs"] == n
    assert res["same"]["random"] == {"1": 1 / n, "5": 5 / n, "10": 10 / n}
    # the right caption is another picture's: ranked where a random one would be, never first
    assert res["B"]["top_k"]["1"] == 0.0, res["B"]
    for name in ("B", "random"):
        assert res[name]["top_k"]["10"] < 0.15 and abs(res[name]["mean_rank"] - (n + 1) / 2) < 25, res[name]
    assert "| same | 200 | 100.0% | 100.0% | 100.0% | 0.5% | 2.5% | 5.0% |" in text, text
    assert open(os.path.join(tmp, "r.md")).read() in text

    # from the functions: ranks and ties (a caption equal to the right one counts against it)
    im = np.eye(4)
    tx = np.eye(4)
    assert list(retrieval.ranks(im, tx)) == [0, 0, 0, 0]
    tx[1] = tx[0]
    # picture 0: caption 1 ties with its own; picture 1 (orthogonal to every caption now): all three tie
    assert list(retrieval.ranks(im, tx)) == [1, 3, 0, 0], retrieval.ranks(im, tx)
    # a common offset on each side hides the pairs from the plain cosine, not from --center
    base = rng.standard_normal((50, 16))
    a, b = rng.standard_normal((2, 16)) * 30
    r_plain = retrieval.retrieval(base + a, base * 0.5 + b)
    r_center = retrieval.retrieval(base + a, base * 0.5 + b, center=True)
    assert r_center["top_k"]["1"] == 1.0 and r_plain["top_k"]["1"] < 0.5, (r_plain, r_center)

    # more captions than pictures: the first pairs; usage errors exit 2
    write_run(os.path.join(tmp, "uneven"), pics[:10], same[:12])
    assert retrieval.run([os.path.join(tmp, "uneven")])["uneven"]["pairs"] == 10
    write_run(os.path.join(tmp, "nocaptions"), pics[:10], [])
    rc, text = cli("retrieval.py", os.path.join(tmp, "nocaptions"))
    assert rc == 2 and "needs both" in text, (rc, text)
    rc, text = cli("retrieval.py", os.path.join(tmp, "absent"))
    assert rc == 2, (rc, text)
    print("retrieval: identical 100%, shifted and random at chance, ties, --center, errors")


def test_reductions(tmp):
    rng = np.random.default_rng(3)
    # points on a line in 20-D (plus a little noise): one component holds the variance
    t = rng.standard_normal(60)
    line = np.outer(t, rng.standard_normal(20)) + 1e-3 * rng.standard_normal((60, 20))
    p, explained = embedlib.pca(line, 2)
    assert explained[0] > 0.999 and p.shape == (60, 2), explained
    assert np.allclose(np.abs(p[:, 0]), np.abs(t - t.mean()) * np.linalg.norm(line[1] - line[0]) /
                       abs(t[1] - t[0]), rtol=1e-2)
    # three clusters: t-SNE keeps every nearest neighbour in its cluster
    centres = rng.standard_normal((3, 16)) * 8
    x = np.concatenate([c + rng.standard_normal((20, 16)) for c in centres])
    labels = np.repeat(np.arange(3), 20)
    y = embedlib.tsne(x, 3, perplexity=10, iterations=400, seed=1)
    assert y.shape == (60, 3) and np.isfinite(y).all()
    d = ((y[:, None] - y[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert (labels[d.argmin(axis=1)] == labels).all()
    # it fits better than a random layout of the same spread, and the seed decides the picture
    shuffled = rng.permutation(y)
    assert embedlib.kl_divergence(x, y, 10) < 0.5 * embedlib.kl_divergence(x, shuffled, 10)
    assert np.array_equal(y, embedlib.tsne(x, 3, perplexity=10, iterations=400, seed=1))

    # the plotting tool on two tiny bridges
    for name in ("a", "b"):
        pics = [rng.standard_normal((2, 8)) + 3 for _ in range(15)]
        write_run(os.path.join(tmp, name), pics, [rng.standard_normal((3, 8)) for _ in range(15)])
    out = os.path.join(tmp, "plots")
    rc, text = cli("embeddings_plot.py", os.path.join(tmp, "a"), "Second=" + os.path.join(tmp, "b"), "--out", out,
                   "--link", "5", "--iterations", "300")
    assert rc == 0, text
    for png in ("pca.png", "tsne.png"):
        with open(os.path.join(out, png), "rb") as f:
            data = f.read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5000 < len(data) < 400000, (png, len(data))
    rc, text = cli("embeddings_plot.py", os.path.join(tmp, "a"), "--out", out, "--per-bridge", "--iterations", "100")
    assert rc == 0 and os.path.exists(os.path.join(out, "tsne-a.png")), text
    print("PCA, t-SNE, plots")


def test_driver(tmp):
    if not os.environ.get("VTP_RUN"):
        print("run_world.py: skipped (no $VTP_RUN)")
        return
    sys.path.insert(0, os.path.join(SOURCE, "tools", "world"))
    import world
    out = os.path.join(tmp, "world")
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "run_world.py"), "--out", out, "--count", "8",
                        "--bridges", "llava", "qformer-text"], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.load(open(os.path.join(out, "retrieval.json")))
    assert set(res["bridges"]) == {"llava", "qformer-text"} and res["prompt"] == world.DESCRIBE, res
    caps = open(os.path.join(out, "captions.txt")).read().splitlines()
    assert len(caps) == 8 and len(set(caps)) == 8 and caps[0] == world.scene("test", 0)[1]["caption"], caps
    for b, shape in (("llava", [64, 128]), ("qformer-text", [8, 128])):
        r = res["bridges"][b]
        assert r["pairs"] == 8 and 0 <= r["top_k"]["1"] <= r["top_k"]["5"] <= r["top_k"]["10"] == 1.0, r
        index = json.load(open(os.path.join(out, "emb", b, "index.json")))
        assert [t["source"] for t in index["texts"]] == caps and index["images"][0]["shape"] == shape, index
        # the pooled rows retrieval read are the means of the rows vtp-run wrote
        pooled = np.load(os.path.join(out, "emb", b, "image-pooled.npy"))
        assert np.allclose(pooled[3], np.load(os.path.join(out, "emb", b, "image-0003.npy")).mean(axis=0), atol=1e-6)
    assert all(os.path.getsize(os.path.join(out, f)) > 5000 for f in ("pca.png", "tsne.png"))

    # a folder of your own: "NAME caption" lines, in the caption file's order
    samples = os.path.join(SOURCE, "world-models", "samples")
    own = os.path.join(tmp, "own")
    p = subprocess.run([sys.executable, os.path.join(TOOLS, "run_world.py"), "--out", own, "--pictures", samples,
                        "--captions", os.path.join(samples, "captions.txt"), "--bridges", "llava", "--no-plots"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    index = json.load(open(os.path.join(own, "emb", "llava", "index.json")))
    lines = [line.split(None, 1) for line in open(os.path.join(samples, "captions.txt")) if line.strip()]
    assert [os.path.realpath(e["source"]) for e in index["images"]] == \
        [os.path.realpath(os.path.join(samples, n)) for n, _ in lines]
    assert [t["source"] for t in index["texts"]] == [c.strip() for _, c in lines]
    assert json.load(open(os.path.join(own, "retrieval.json")))["bridges"]["llava"]["pairs"] == len(lines)
    print("run_world.py: world pairs and a folder of pictures through vtp-run")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        test_retrieval(tmp)
        test_reductions(tmp)
        test_driver(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
