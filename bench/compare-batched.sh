#!/bin/sh
# Batched decoding (issue 18) against llama.cpp, in one run, on the same
# GGUF files: S streams decoding together.
#
#   bench/compare-batched.sh LLAVA_DIR [ROUNDS] [STREAMS]
#
# After bench/compare-llamacpp.sh LLAVA_DIR (it builds the peer and writes
# the GGUF files; this adds its llama-batched-bench). Each round, for each
# of $TYPES (default "Q4_K_M Q8_0"): llama-batched-bench with S parallel
# sequences of a 16-token prompt and 32 generated tokens each (its S_TG:
# the sequences' generated tokens over the generation's time), then
# vtp-bench-llm --streams S (S streams prefilled with their own 16 tokens,
# untimed, then 32 steps together: the aggregate tokens/s), for each S of
# STREAMS (default "4 8"). Prints one line per run and, per type and S,
# the median over rounds of vtp's aggregate over llama.cpp's.
set -eu
cd "$(dirname "$0")/.."
LLAVA=${1:?usage: bench/compare-batched.sh LLAVA_DIR [ROUNDS] [STREAMS]}
ROUNDS=${2:-2}
STREAMS=${3:-4 8}
TYPES=${TYPES:-Q4_K_M Q8_0}
. bench/peer-env.sh

[ -x "$BIN/llama-bench" ] || { echo "run bench/compare-llamacpp.sh $LLAVA first (it builds the peer)" >&2; exit 2; }
[ -x "$BIN/llama-batched-bench" ] \
  || cmake --build "$SRC/build" -j "$(nproc)" --target llama-batched-bench > "$PEER/build-batched.log"
[ -x build/bench/vtp-bench-llm ] || ninja -C build bench/vtp-bench-llm > /dev/null
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
NPL=$(echo "$STREAMS" | tr ' ' ',')
for r in $(seq "$ROUNDS"); do
  for t in $TYPES; do
    f=$WORK/llm-$t.gguf
    [ -f "$f" ] || { echo "no $f: TYPES=$t bench/compare-llamacpp.sh $LLAVA first" >&2; exit 2; }
    "$BIN/llama-batched-bench" -m "$f" -c 2048 -b 2048 -ub 512 -npp 16 -ntg 32 -npl "$NPL" -t "$THREADS" 2>/dev/null \
      | awk -F'|' -v t="$t" '$2+0 == 16 { printf "llama %s %d %s\n", t, $4+0, $9+0 }' | tee -a "$OUT"
    for s in $STREAMS; do
      build/bench/vtp-bench-llm -m "$f" -p 16 -n 32 -r 1 -k f16 --streams "$s" 2>/dev/null \
        | awk -v t="$t" -v s="$s" '/^batch_decode_tokens_per_s:/ { printf "vtp %s %d %s\n", t, s, $2 }' | tee -a "$OUT"
    done
  done
done
echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads; llama.cpp from llama-cpp-python $VERSION; aggregate decode tokens/s, medians of $ROUNDS rounds"
echo "| weights | streams | vtp | llama.cpp | ratio |"
echo "|---|---|---|---|---|"
for t in $TYPES; do
  for s in $STREAMS; do
    v=$(awk -v t="$t" -v s="$s" '$1 == "vtp" && $2 == t && $3 == s { print $4 }' "$OUT" | sort -n \
      | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
    l=$(awk -v t="$t" -v s="$s" '$1 == "llama" && $2 == t && $3 == s { print $4 }' "$OUT" | sort -n \
      | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }')
    echo "| $t | $s | $v | $l | $(awk -v v="$v" -v l="$l" 'BEGIN { printf "%.2f", v / l }') |"
  done
done
