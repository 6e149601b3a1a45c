#!/bin/sh
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (docs/reliability.md, "The suite under sanitizers"). Sets up build-asan
# (gcc, -Db_sanitize=address,undefined), builds it and runs every suite
# with the environment the uninstrumented programs need. Extra arguments
# go to meson test (e.g. a suite name, --suite unit).
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized
fi
nice ninja -C build-asan

# python3, gst-launch-1.0 and gst-plugin-scanner are not instrumented: the
# ASan runtime must be the first library of any process that loads the
# instrumented vtp plugin or libraries, so every test runs through
# sanitize-wrap.sh, which preloads it (harmless for instrumented binaries,
# which load the same libasan.so)
VTP_LIBASAN=$(gcc -print-file-name=libasan.so)
export VTP_LIBASAN
# abort_on_error: a core-dump-like abort meson reports as a failure;
# fast_unwind_on_malloc=0: GLib, GStreamer and PoCL are built without
# frame pointers, so only the slow unwinder gives whole allocation stacks,
# which the suppressions need; malloc_context_size=40 for the same reason
# use_sigaltstack=0: LLVM (PoCL's compiler) gives the thread that first
# compiles a kernel an alternate signal stack of its own from malloc
# (llvm::sys::RemoveFileOnSignal); when that thread ends, ASan unmaps the
# thread's alternate stack as if it were the one it made and aborts
# ("failed to deallocate ... unable to unmap"): vtp-run with several
# inputs starts PoCL in one of its input threads (found 2026-12-05 by gdb
# on sigaltstack). Without ASan's own alternate stacks it leaves them be.
# intercept_tls_get_addr=0: gcc 12's libasan records the dynamic TLS
# blocks it sees through __tls_get_addr, and for one module of a python +
# GStreamer process it recorded a range that is no memory ("DTLS 13 at
# 0x321d-0x80000431f" with LSAN_OPTIONS=verbosity=1); LeakSanitizer's tracer
# then faulted reading it at exit ("Tracer caught signal 11", test-graph-gi,
# the world suite's vtp-run on video). Without the interception those blocks
# are still scanned as heap blocks reachable from the thread's DTV, so no
# leak goes unseen and none is made up (use_tls=0 instead lost GLib's
# thread caches: false reports)
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:halt_on_error=1:detect_odr_violation=0:fast_unwind_on_malloc=0:malloc_context_size=40:intercept_tls_get_addr=0:use_sigaltstack=0
export ASAN_OPTIONS
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0:fast_unwind_on_malloc=0
export LSAN_OPTIONS
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export UBSAN_OPTIONS
# scan plugins in the test process (preloaded) rather than in a helper
GST_REGISTRY_FORK=no
export GST_REGISTRY_FORK

# one test at a time (2 cores, and ASan's memory), 10x the timeouts
exec meson test -C build-asan --print-errorlogs --num-processes 1 \
  --timeout-multiplier 10 --wrapper "$root/scripts/sanitize-wrap.sh" "$@"
