#!/usr/bin/env python3
"""The Python developer tools (issue 15, item 6).

    test-tools.py requirements   tools/requirements.txt pins (==) every
                                 third-party package tools/ (tools/world/,
                                 tools/analyses/) and bench/*.py
                                 import, and every
                                 doc that runs a Python tool names it
    test-tools.py overlays       every textoverlay in examples/ and the docs
                                 draws on a shaded background (legible white
                                 text on light pictures)
    test-tools.py no-torch       tools/world/evaluate.py --no-torch runs the
                                 bundled llava-tuned through vtp-run with a
                                 torch (and transformers) that cannot be
                                 imported; skipped (77) where numpy or Pillow
                                 are missing (pip install -r tools/requirements.txt)
"""
import ast
import glob
import os
import re
import subprocess
import sys
import tempfile

SOURCE = os.environ.get("VTP_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
SKIP = 77

# import name -> PyPI name, where they differ
DISTRIBUTION = {"PIL": "Pillow"}


def tool_files():
    """The Python developer tools: tools/, tools/world/, tools/analyses/ and bench/ (the PyTorch side of the
    comparisons)."""
    return sorted(glob.glob(os.path.join(SOURCE, "tools", "*.py")) + glob.glob(os.path.join(SOURCE, "tools", "world",
                                                                                                  "*.py"))
                  + glob.glob(os.path.join(SOURCE, "tools", "analyses", "*.py"))
                  + glob.glob(os.path.join(SOURCE, "bench", "*.py")))


def third_party_imports(path):
    """Top-level names @path imports, anywhere in it (lazy imports too)."""
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    local = {os.path.splitext(os.path.basename(p))[0] for p in tool_files()}
    return {n for n in names if n not in sys.stdlib_module_names and n not in local}


def requirements():
    path = os.path.join(SOURCE, "tools", "requirements.txt")
    pinned = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)==([0-9][A-Za-z0-9_.+-]*)", line)
            assert m, f"tools/requirements.txt: {line!r} is not pinned as NAME==VERSION"
            pinned[m.group(1).lower()] = m.group(2)

    missing = {}
    for path in tool_files():
        for name in third_party_imports(path):
            dist = DISTRIBUTION.get(name, name)
            if dist.lower() not in pinned:
                missing.setdefault(dist, []).append(os.path.relpath(path, SOURCE))
    assert not missing, f"tools/requirements.txt lacks: {missing}"
    print("pinned:", ", ".join(f"{k}=={v}" for k, v in sorted(pinned.items())))

    # every doc that runs a Python tool names the file
    docs = [os.path.join(SOURCE, "README.md"), os.path.join(SOURCE, "world-models", "README.md")] + \
        sorted(glob.glob(os.path.join(SOURCE, "docs", "*.md")))
    runs = re.compile(r"python3?\s+tools/|\btools/[\w/]+\.py\s+(--|[A-Za-z/$])")
    lacking = []
    for doc in docs:
        with open(doc, encoding="utf-8") as f:
            text = f.read()
        if runs.search(text) and "tools/requirements.txt" not in text:
            lacking.append(os.path.relpath(doc, SOURCE))
    assert not lacking, f"these docs run Python tools without naming tools/requirements.txt: {lacking}"
    return 0


def overlays():
    files = sorted(glob.glob(os.path.join(SOURCE, "examples", "*")) + glob.glob(os.path.join(SOURCE, "docs", "*.md"))
                   + [os.path.join(SOURCE, "README.md")])
    seen, plain = 0, []
    for path in files:
        if not os.path.isfile(path) or path.endswith(".png"):
            continue
        with open(path, encoding="utf-8") as f:
            text = f.read()
        # each textoverlay element up to the next link (a "!" or the end of the launch line)
        for m in re.finditer(r"\btextoverlay\b((?:[^!\n\\]|\\\n|\\(?!\n))*)", text):
            if not re.search(r"name=|valignment=|!", text[m.start():m.start() + 200]):
                continue                  # prose about textoverlay, not an element in a pipeline
            seen += 1
            if "shaded-background=true" not in m.group(1):
                plain.append(f"{os.path.relpath(path, SOURCE)}: {m.group(0).strip()}")
    assert seen >= 3, seen
    assert not plain, "textoverlay without shaded-background=true:\n" + "\n".join(plain)
    print(f"{seen} textoverlay elements, all shaded")
    return 0


def no_torch():
    try:
        import numpy  # noqa: F401
        import PIL  # noqa: F401
    except ImportError as e:
        print(f"skipped: {e.name} is not installed for {sys.executable} (pip install -r tools/requirements.txt)")
        return SKIP
    with tempfile.TemporaryDirectory() as stubs:
        for name in ("torch", "transformers"):
            os.makedirs(os.path.join(stubs, name))
            with open(os.path.join(stubs, name, "__init__.py"), "w", encoding="utf-8") as f:
                f.write(f"raise ImportError('evaluate.py --no-torch imported {name}')\n")
        env = dict(os.environ, PYTHONPATH=stubs + os.pathsep + os.environ.get("PYTHONPATH", ""))
        p = subprocess.run([sys.executable, os.path.join(SOURCE, "tools", "world", "evaluate.py"), "--no-torch",
                            "--variant", "llava-tuned", "--count", "2", "--max-new-tokens", "8"],
                           env=env, capture_output=True, text=True)
        print(p.stdout, p.stderr)
        assert p.returncode == 0, p.returncode
        assert "question type" in p.stdout and "colour" in p.stdout, p.stdout
    return 0


if __name__ == "__main__":
    sys.exit({"requirements": requirements, "overlays": overlays, "no-torch": no_torch}[sys.argv[1]]())
