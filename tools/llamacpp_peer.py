"""The llama.cpp build the GGUF fixture generators in tools/ run: its
location on the command line, and the small C programs of tools/ built
against its libllama (llamacpp_greedy.c, llamacpp_tokenize.c)."""
import os
import subprocess
import sys

DEFAULT = os.path.expanduser("~/.cache/vtp-peer/llama_cpp_python-0.3.36/vendor/llama.cpp")
TOOLS = os.path.dirname(os.path.abspath(__file__))


def run(cmd, **kw):
    """@cmd, echoed to stderr; fails on a non-zero exit."""
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def add_argument(ap, default=DEFAULT):
    """--llama-cpp DIR: a llama.cpp source tree with a build in DIR/build
    (e.g. the one bench/compare-llamacpp.sh builds)."""
    ap.add_argument("--llama-cpp", default=default)


def bindir(src):
    return os.path.join(src, "build", "bin")


def build_tool(src, work, name):
    """tools/@name.c built against @src's libllama into @work; its path."""
    out = os.path.join(work, name)
    run(["cc", "-O1", "-std=c11", "-I", os.path.join(src, "include"), "-I", os.path.join(src, "ggml", "include"),
         os.path.join(TOOLS, name + ".c"), "-L", bindir(src), "-lllama", "-Wl,-rpath," + bindir(src), "-o", out])
    return out
