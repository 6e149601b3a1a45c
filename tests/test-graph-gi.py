#!/usr/bin/python3
"""The graph API from Python through GObject introspection (Debian's
python3-gi): examples/describe.py on the LLaVA fixture must print
transformers' greedy answer; errors arrive as GLib.Error with the message."""
import json
import os
import subprocess
import sys

import gi

gi.require_version("Vtp", "1.0")
from gi.repository import GLib, Vtp  # noqa: E402

SOURCE = os.environ["VTP_SOURCE_DIR"]
FIXTURE = os.path.join(SOURCE, "tests", "fixtures", "llava-tiny-a")


def test_example():
    with open(os.path.join(FIXTURE, "reference.json"), encoding="utf-8") as f:
        want = json.load(f)["greedy_text"]
    out = subprocess.run(
        [sys.executable, os.path.join(SOURCE, "examples", "describe.py"),
         os.path.join(SOURCE, "graphs", "llava-1.5.json"), os.path.join(FIXTURE, "image.png"),
         "model=" + FIXTURE, "max-new-tokens=20", "prompt=What is in the picture?"],
        check=True, capture_output=True, text=True).stdout
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) == 1, out
    text = lines[0].split(": ", 1)[1].rsplit("  (", 1)[0]
    assert text == want, (text, want)


def test_errors():
    try:
        Vtp.Graph.new_from_file(os.path.join(SOURCE, "graphs", "missing.json"))
        raise AssertionError("no error")
    except GLib.Error as e:
        assert "missing.json" in e.message, e.message
    graph = Vtp.Graph.new_from_file(os.path.join(SOURCE, "graphs", "llava-1.5.json"))
    assert "model" in graph.list_parameters()
    try:
        graph.set_parameter("modle", "x")
        raise AssertionError("no error")
    except GLib.Error as e:
        assert 'no parameter "modle"' in e.message, e.message


if __name__ == "__main__":
    test_example()
    test_errors()
    print("ok")
