#!/bin/sh
# scripts/fuzz.sh [TARGET|all] [SECONDS]: the libFuzzer campaign. Builds the
# fuzz targets with clang-15, libFuzzer, ASan and UBSan in build-fuzz (apart
# from the gcc build) and runs TARGET (default: all of them, one after the
# other) for SECONDS each (default 60) on a copy of its seed corpus, so the
# committed corpus only grows by hand. Crashes land in build-fuzz/crashes/;
# reproduce one with build-fuzz/fuzz/fuzz-TARGET FILE, or without clang with
# build/fuzz/fuzz-TARGET-smoke -n 0 FILE. $FUZZ_RUNS stops a target after
# that many executions (whichever of the two limits comes first).
#
# libFuzzer (libclang_rt.fuzzer-x86_64.a) comes with Debian's libclang-common-15-dev.
set -eu
target=${1:-all}
seconds=${2:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
targets="safetensors gguf tokenizer-json config graph jpeg prompt"
[ "$target" = all ] || targets=$target

if [ ! -d "$build" ]; then
  CC=${CC:-clang-15} meson setup "$build" "$root" -Dfuzzing=true -Dtests=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized
fi
ninja -C "$build" $(for t in $targets; do printf 'fuzz/fuzz-%s ' "$t"; done) plugins/libgstvtp.so

# the graph target checks vtp elements: the plugin as built here, scanned in
# this process (the system's plugin scanner cannot load an ASan plugin)
export GST_PLUGIN_PATH=$build/plugins GST_REGISTRY=$build/registry.bin GST_REGISTRY_FORK=no
# a GLib critical is a finding, as in the smoke run
export G_DEBUG=fatal-criticals
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# leaks: the suppressions of the sanitizer run (GLib's and fontconfig's
# one-time allocations, made when GStreamer starts: the graph target). They
# match frames that only the slow unwinder sees through GLib, which the
# campaign does not use (4-10 times slower): the graph target keeps GLib's
# quark blocks reachable itself (fuzz/fuzz-graph.c). A leak report's stack
# is cut at the first GLib frame; for the whole stack, rerun its input with
# ASAN_OPTIONS=fast_unwind_on_malloc=0.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
mkdir -p "$build/crashes"
status=0
for t in $targets; do
  work=$build/corpus/$t
  mkdir -p "$work"
  cp -n "$root/fuzz/corpus/$t"/* "$work"/
  echo "== $t: $seconds s"
  "$build/fuzz/fuzz-$t" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs=$FUZZ_RUNS} -max_len=131072 -timeout=10 \
    -rss_limit_mb=4096 \
    -artifact_prefix="$build/crashes/$t-" -print_final_stats=1 "$work" 2>"$build/$t.log" || status=1
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb|ERROR|SUMMARY|Test unit written" "$build/$t.log" || true
done
exit $status
