#!/bin/sh
# meson test --wrapper of scripts/sanitize.sh: runs one test with the ASan
# runtime preloaded, so that uninstrumented programs (python3, gst-launch-1.0,
# gst-plugin-scanner) can load the instrumented vtp plugin and libraries.
# Children (vtp-run, the plugin scanner) inherit LD_PRELOAD.
set -eu
: "${VTP_LIBASAN:=$(gcc -print-file-name=libasan.so)}"
LD_PRELOAD="$VTP_LIBASAN${LD_PRELOAD:+:$LD_PRELOAD}"
export LD_PRELOAD
exec "$@"
