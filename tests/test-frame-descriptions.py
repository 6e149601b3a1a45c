#!/usr/bin/python3
"""examples/frame-descriptions.c and .py read the descriptions off the video
frames (vtpattach's "vtp-description" meta, ROI parameters) with GStreamer's
own API, C and Python (PyGObject without gst-python): on the LLaVA fixture,
with regions, both must print every frame, the described ones (one in ten)
with each region's description, and agree with each other."""
import ast
import os
import re
import subprocess
import sys

SOURCE = os.environ["VTP_SOURCE_DIR"]
FIXTURE = os.path.join(SOURCE, "tests", "fixtures", "llava-tiny-a")
FRAME = re.compile(r"^(\d+:\d\d:\d\d\.\d{3}) ([* ]) of (\d+:\d\d:\d\d\.\d{3}): (.*)$")
REGION = re.compile(r"^    region (\d+) \((\w+), (\d+)x(\d+) at (\d+),(\d+)\): (.*)$")


def parse(out, quoted):
    """[(time, described, of, [(id, type, text)...])] from an example's output."""
    frames = []
    for line in out.splitlines():
        if m := FRAME.match(line):
            frames.append((m[1], m[2] == "*", m[3], []))
        elif m := REGION.match(line):
            frames[-1][3].append((int(m[1]), m[2], quoted(m[7])))
    return frames


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=240).stdout
    return out


def check(frames):
    assert len(frames) == 30, len(frames)
    for i, (time, described, of, regions) in enumerate(frames):
        assert described == (i % 10 == 0), (i, time, described)
        assert of == frames[i - i % 10][0], (time, of)
        if described:
            assert [(r[0], r[1]) for r in regions] == [(0, "left"), (1, "right")], regions
        else:
            assert regions == [], regions


def main():
    c_out = run([os.environ["FRAME_DESCRIPTIONS"], FIXTURE, "--regions"])
    # the C example prints the text as "...", each region's on one line
    c_frames = parse(c_out, lambda s: s[1:-1])
    check(c_frames)
    py_out = run([sys.executable, os.path.join(SOURCE, "examples", "frame-descriptions.py"), FIXTURE, "--regions"])
    py_frames = parse(py_out, ast.literal_eval)
    check(py_frames)
    assert [f[3] for f in c_frames] == [f[3] for f in py_frames], (c_out, py_out)
    # without regions: the whole frame, no region lines
    py_frames = parse(run([sys.executable, os.path.join(SOURCE, "examples", "frame-descriptions.py"), FIXTURE]),
                      ast.literal_eval)
    assert len(py_frames) == 30 and all(not f[3] for f in py_frames)
    assert [f[1] for f in py_frames] == [i % 10 == 0 for i in range(30)]
    print("ok")


if __name__ == "__main__":
    main()
