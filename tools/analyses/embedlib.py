"""Reading vtp-run --format embeddings directories (docs/embeddings.md) and
the two reductions of the research's "Embedding Visualizations": PCA and an
exact t-SNE, in numpy alone (no scikit-learn), deterministic."""
import json
import os

import numpy as np


def load(directory, name=None):
    """One bridge's run: {"name", "graph", "images" [N, W], "texts" [M, W],
    "image_sources", "captions"} from index.json and the pooled files. @name
    defaults to the directory's base name."""
    with open(os.path.join(directory, "index.json"), encoding="utf-8") as f:
        index = json.load(f)
    images = texts = None
    if index.get("images_pooled"):
        images = np.load(os.path.join(directory, index["images_pooled"])).astype(np.float64)
    if index.get("texts_pooled"):
        texts = np.load(os.path.join(directory, index["texts_pooled"])).astype(np.float64)
    return {"name": name or os.path.basename(os.path.normpath(directory)), "graph": index.get("graph", "?"),
            "images": images, "texts": texts,
            "image_sources": [e["source"] for e in index.get("images", [])],
            "captions": [e["source"] for e in index.get("texts", [])]}


def parse_dirs(specs):
    """NAME=DIR or DIR (named after its base name) -> [(name, dir)]."""
    out = []
    for spec in specs:
        name, sep, d = spec.partition("=")
        out.append((name, d) if sep and not os.path.isdir(spec) else (None, spec))
    return out


def pairs(run):
    """The image and text matrices of the pairs (row N with row N), both [N, W]."""
    if run["images"] is None or run["texts"] is None:
        raise ValueError("%s: needs both pictures and captions (image-pooled.npy and text-pooled.npy)" % run["name"])
    n = min(len(run["images"]), len(run["texts"]))
    if len(run["images"]) != len(run["texts"]):
        print("%s: %d pictures, %d captions: the first %d pairs" % (run["name"], len(run["images"]),
                                                                     len(run["texts"]), n))
    return run["images"][:n], run["texts"][:n]


def pca(x, dims=2):
    """Rows of @x on its first @dims principal components, and the share of
    the variance each explains."""
    c = x - x.mean(axis=0)
    u, s, vt = np.linalg.svd(c, full_matrices=False)
    # one sign per component (the largest loading positive), so that reruns draw the same picture
    signs = np.sign(vt[np.arange(dims), np.argmax(np.abs(vt[:dims]), axis=1)])
    signs[signs == 0] = 1
    var = s ** 2
    return c @ vt[:dims].T * signs, var[:dims] / max(var.sum(), 1e-300)


def _conditional_p(d2, perplexity, tol=1e-5, steps=100):
    """Row-wise Gaussian conditionals P(j|i) whose entropy is log(perplexity)
    (binary search on the precision, as van der Maaten's tsne.py)."""
    n = d2.shape[0]
    p = np.zeros((n, n))
    target = np.log(perplexity)
    for i in range(n):
        d = np.delete(d2[i], i)
        d = d - d.min()
        beta, lo, hi = 1.0, -np.inf, np.inf
        for _ in range(steps):
            w = np.exp(-d * beta)
            sw = max(w.sum(), 1e-300)
            h = np.log(sw) + beta * (d * w).sum() / sw
            if abs(h - target) < tol:
                break
            if h > target:
                lo = beta
                beta = beta * 2 if hi == np.inf else (beta + hi) / 2
            else:
                hi = beta
                beta = beta / 2 if lo == -np.inf else (beta + lo) / 2
        p[i, np.arange(n) != i] = w / sw
    return p


def tsne(x, dims=3, perplexity=30.0, iterations=1000, seed=0):
    """Exact t-SNE (van der Maaten and Hinton 2008) of the rows of @x (all
    their dimensions, squared Euclidean distances): perplexity-matched Gaussian affinities,
    Student-t similarities in @dims dimensions, gradient descent with
    momentum 0.5 then 0.8, gains, early exaggeration 12 for 250 steps,
    learning rate max(N / 48, 50) (scikit-learn's "auto"), started from
    small Gaussian noise drawn from @seed. Returns [N, dims]."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    perplexity = min(perplexity, max((n - 1) / 3.0, 1.0))
    sq = (x * x).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    p = _conditional_p(d2, perplexity)
    p = (p + p.T) / (2 * n)
    p = np.maximum(p, 1e-12)
    y = np.random.default_rng(seed).standard_normal((n, dims)) * 1e-4
    step = np.zeros_like(y)
    gains = np.ones_like(y)
    lr = max(n / 12.0 / 4.0, 50.0)
    for it in range(iterations):
        exaggeration = 12.0 if it < 250 else 1.0
        sy = (y * y).sum(axis=1)
        num = 1.0 / (1.0 + np.maximum(sy[:, None] + sy[None, :] - 2 * y @ y.T, 0))
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        pq = (exaggeration * p - q) * num
        grad = 4.0 * ((np.diag(pq.sum(axis=1)) - pq) @ y)
        momentum = 0.5 if it < 250 else 0.8
        same = np.sign(grad) == np.sign(step)
        gains = np.maximum(np.where(same, gains * 0.8, gains + 0.2), 0.01)
        step = momentum * step - lr * gains * grad
        y = y + step
        y = y - y.mean(axis=0)
    return y


def kl_divergence(x, y, perplexity=30.0):
    """KL(P || Q) of an embedding @y of @x (t-SNE's cost, exaggeration off)."""
    n = x.shape[0]
    perplexity = min(perplexity, max((n - 1) / 3.0, 1.0))
    sq = (x * x).sum(axis=1)
    p = _conditional_p(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0), perplexity)
    p = np.maximum((p + p.T) / (2 * n), 1e-12)
    sy = (y * y).sum(axis=1)
    num = 1.0 / (1.0 + np.maximum(sy[:, None] + sy[None, :] - 2 * y @ y.T, 0))
    np.fill_diagonal(num, 0.0)
    q = np.maximum(num / num.sum(), 1e-12)
    mask = ~np.eye(n, dtype=bool)
    return float((p * np.log(p / q))[mask].sum())
