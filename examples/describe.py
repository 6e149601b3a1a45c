#!/usr/bin/python3
"""Describe an image, a directory or a video from Python through vtp's
GObject-introspection API (Debian: python3-gi).

    GI_TYPELIB_PATH=build/graph LD_LIBRARY_PATH=build/graph \
    GST_PLUGIN_PATH=build/plugins \
    examples/describe.py llava-1.5 INPUT model=/models/llava-1.5-7b-hf [prompt=...]

The graph is a file or a name (llava-1.5, blip2...: Vtp.Graph.find_file).
Installed (meson install), the typelib is found without GI_TYPELIB_PATH when
the prefix is /usr; for /usr/local:
GI_TYPELIB_PATH=/usr/local/lib/$(gcc -print-multiarch)/girepository-1.0.
"""
import sys

import gi

gi.require_version("Vtp", "1.0")
from gi.repository import Vtp  # noqa: E402


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    graph = Vtp.Graph.new_from_file(Vtp.Graph.find_file(argv[1]))
    for setting in argv[3:]:
        name, _, value = setting.partition("=")
        graph.set_parameter(name, value)

    def on_text(_graph, source, text, pts, duration, latency_ms):
        print(f"{pts / 1e9:8.3f} s  {source}: {text}  ({latency_ms:.0f} ms)", flush=True)

    graph.connect("text", on_text)
    graph.run(argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
