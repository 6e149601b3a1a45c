#!/usr/bin/python3
"""vtp installed as a library: `meson install --destdir` into a scratch
directory, then, from there only:

- the public header (vtp-graph.h, not the internal ones), libvtp-graph with
  its versioned soname and exporting the header's functions only, vtp-graph.pc, every graph of graphs/ in
  share/vtp/graphs, the plugin, vtp-run, the typelib when it is built;
- examples/graph-app.c compiled and linked with the flags of the installed
  vtp-graph.pc (PKG_CONFIG_PATH into the DESTDIR) and run on the LLaVA
  fixture with the installed plugin;
- the installed vtp-run finds a graph by name (`vtp-run llava-1.5`) in the
  installed share/vtp/graphs (given as $VTP_GRAPH_PATH: the DESTDIR is not
  the prefix it was built for) and gives transformers' answer, and its
  --help names the installed directory, not the source tree's graphs/;
- Python finds the installed typelib (Vtp.Graph.find_file, Vtp.GraphError).

usage: test-install.py MESON BUILD_DIR"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

SOURCE = os.environ["VTP_SOURCE_DIR"]
FIXTURE = os.path.join(SOURCE, "tests", "fixtures", "llava-tiny-a")


def tool_env(env=None):
    """@env (else this one) for the build tools (meson, pkg-config, the
    compiler): without scripts/sanitize-wrap.sh's preloaded ASan runtime,
    which is there for the programs that load vtp's instrumented libraries,
    not for gcc (its leaks would fail the test)."""
    env = dict(env if env is not None else os.environ)
    env.pop("LD_PRELOAD", None)
    return env


def run(args, env=None, **kw):
    """@args, checked; its standard output."""
    p = subprocess.run(args, env=env, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise AssertionError(f"{' '.join(args)}: exit {p.returncode}\n{p.stdout}\n{p.stderr}")
    return p.stdout


def one(pattern):
    found = glob.glob(pattern, recursive=True)
    assert len(found) == 1, (pattern, found)
    return found[0]


def soname(path):
    out = run(["readelf", "-d", path], tool_env())
    m = re.search(r"\(SONAME\)\s+Library soname: \[(.*)\]", out)
    return m.group(1) if m else None


def needed(path):
    return re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", run(["readelf", "-d", path], tool_env()))


def pkg_config_path(pc, scratch, destdir):
    """A directory holding vtp-graph.pc as it reads from the DESTDIR: the
    installed one when it is relocatable (${pcfiledir}, the default), else a
    copy whose prefix is moved into the DESTDIR (a build configured with
    -Dpkgconfig.relocatable=false)."""
    with open(pc, encoding="utf-8") as f:
        text = f.read()
    prefix = re.search(r"^prefix=(.*)$", text, re.M).group(1)
    if "${pcfiledir}" in prefix:
        return os.path.dirname(pc)
    assert prefix.startswith("/"), prefix
    moved = os.path.join(scratch, "pkgconfig")
    os.makedirs(moved, exist_ok=True)
    with open(os.path.join(moved, "vtp-graph.pc"), "w", encoding="utf-8") as f:
        f.write(re.sub(r"^prefix=.*$", "prefix=" + destdir + prefix, text, count=1, flags=re.M))
    return moved


def main(argv):
    meson, build = argv[1], argv[2]
    scratch = os.path.join(build, "tests", "install-test")
    destdir = os.path.join(scratch, "root")
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    run([meson, "install", "-C", build, "--destdir", destdir, "--no-rebuild", "--quiet"], tool_env())

    # what is installed
    header = one(destdir + "/**/include/vtp/vtp-graph.h")
    includedir = os.path.dirname(header)
    for internal in ("vtp-graph-spec.h", "vtp-graph-input.h", "vtp-run-output.h"):
        assert not glob.glob(destdir + "/**/" + internal, recursive=True), internal
    lib = one(destdir + "/**/libvtp-graph.so.*.*.*")
    libdir = os.path.dirname(lib)
    assert soname(lib) == "libvtp-graph.so.0", soname(lib)
    assert os.path.realpath(os.path.join(libdir, "libvtp-graph.so.0")) == os.path.realpath(lib)
    assert os.path.realpath(os.path.join(libdir, "libvtp-graph.so")) == os.path.realpath(lib)
    # it exports what the public header declares, nothing internal (input, parser, JSON, model paths)
    declared = set(re.findall(r"\b(vtp_graph_\w+) \(", open(header).read())) | {"vtp_graph_get_type"}
    exported = set(re.findall(r"^\S+ T (\w+)$", run(["nm", "-D", "--defined-only", lib], tool_env()), re.M))
    assert exported == declared, "libvtp-graph exports %s beyond vtp-graph.h and lacks %s" % (
        sorted(exported - declared), sorted(declared - exported))
    pc = one(destdir + "/**/pkgconfig/vtp-graph.pc")
    plugin = one(destdir + "/**/gstreamer-1.0/libgstvtp.so")
    vtp_run = one(destdir + "/**/bin/vtp-run")
    graphsdir = one(destdir + "/**/share/vtp/graphs")
    want = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SOURCE, "graphs", "*.json")))
    have = sorted(os.listdir(graphsdir))
    assert have == want, f"installed graphs {have}, graphs/ has {want}: list them in graphs/meson.build"

    # examples/graph-app.c built against the installed pkg-config file
    env = tool_env(dict(os.environ, PKG_CONFIG_PATH=pkg_config_path(pc, scratch, destdir)))
    env.pop("PKG_CONFIG_SYSROOT_DIR", None)
    assert run(["pkg-config", "--modversion", "vtp-graph"], env).strip() == "0.1.0"
    assert os.path.realpath(run(["pkg-config", "--variable=graphsdir", "vtp-graph"], env).strip()) \
        == os.path.realpath(graphsdir)
    cflags = run(["pkg-config", "--cflags", "vtp-graph"], env).split()
    assert any(os.path.realpath(f[2:]) == os.path.realpath(includedir) for f in cflags if f.startswith("-I")), cflags
    flags = run(["pkg-config", "--cflags", "--libs", "vtp-graph", "gstreamer-1.0", "json-glib-1.0"], env).split()
    assert not any(f.startswith("-I") and os.path.realpath(f[2:]) == os.path.join(SOURCE, "graph") for f in flags)
    app = os.path.join(scratch, "graph-app")
    run([os.environ.get("CC", "cc"), "-o", app, os.path.join(SOURCE, "examples", "graph-app.c")] + flags, env)
    assert "libvtp-graph.so.0" in needed(app), needed(app)

    # run from the DESTDIR: its library, its plugin (a registry of its own)
    run_env = dict(os.environ, LD_LIBRARY_PATH=libdir, GST_PLUGIN_PATH=os.path.dirname(plugin),
                   GST_REGISTRY=os.path.join(scratch, "registry.bin"))
    run_env.pop("VTP_GRAPH_PATH", None)
    out = run([app, FIXTURE, os.path.join(FIXTURE, "image.png")], run_env)
    print("graph-app:", out, end="")
    assert out.startswith("0:00:00.000000000 "), out

    # the installed vtp-run: graphs by name
    out = run([vtp_run, "--help"], run_env)
    assert os.path.join(SOURCE, "graphs") not in out, "the installed vtp-run looks in the source tree"
    assert "/share/vtp/graphs" in out, out
    with open(os.path.join(FIXTURE, "reference.json"), encoding="utf-8") as f:
        greedy = json.load(f)["greedy_text"]
    by_name = dict(run_env, VTP_GRAPH_PATH=graphsdir)
    out = run([vtp_run, "llava-1.5", "--set", "model=" + FIXTURE, "--set", "max-new-tokens=20",
               "--input", os.path.join(FIXTURE, "image.png"), "--format", "json", "-q"], by_name)
    assert json.loads(out)["text"] == greedy, (out, greedy)

    # the typelib, from Python
    typelib = glob.glob(destdir + "/**/girepository-1.0/Vtp-1.0.typelib", recursive=True)
    if typelib:
        gi_env = dict(by_name, GI_TYPELIB_PATH=os.path.dirname(typelib[0]))
        code = ("import gi\n"
                "gi.require_version('Vtp', '1.0')\n"
                "from gi.repository import GLib, Vtp\n"
                "print(Vtp.Graph.find_file('llava-1.5'))\n"
                "try:\n"
                "    Vtp.Graph.find_file('no-such-graph')\n"
                "    raise SystemExit('no error')\n"
                "except GLib.Error as e:\n"
                "    assert e.matches(Vtp.GraphError.quark(), Vtp.GraphError.PARSE), e\n")
        out = run(["/usr/bin/python3", "-c", code], gi_env)
        assert out.strip() == os.path.join(graphsdir, "llava-1.5.json"), out
    else:
        print("no typelib installed (g-ir-scanner not found at setup)")
    shutil.rmtree(scratch)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
