"""What the tests of tools/analyses/ share: the source tree, tools/analyses
on the import path, and a skip (exit 77) when a package those tools need is
missing for this python3 (the Debian packages of scripts/debian-packages.txt
do not bring them: pip install -r tools/requirements.txt)."""
import importlib
import os
import sys

SOURCE = os.environ.get("VTP_SOURCE_DIR") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
TOOLS = os.path.join(SOURCE, "tools", "analyses")
SKIP = 77


def require(*modules):
    """Imports @modules, or exits 77 naming the first missing one."""
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError as e:
            print(f"skipped: {e.name} is not installed for {sys.executable} (pip install -r tools/requirements.txt)")
            sys.exit(SKIP)
    sys.path.insert(0, TOOLS)
