#!/bin/sh
# Several vtp processes decoding on the same cores at once (one
# gst-launch-1.0 per camera, say), under each of a list of settings: the
# aggregate decode speed of N processes started together.
#
#   bench/decode-processes.sh MODEL [PROCESSES] [ROUNDS] [SETTING ...]
#
# MODEL: what vtp-bench-llm -m takes (a GGUF file or a model directory).
# PROCESSES (default "1 2 4"): the numbers of processes to run at once.
# Each SETTING is an environment assignment for every process of a run
# (default: VTP_DECODE_LAYER=1 VTP_DECODE_LAYER=0, the fused layer and the
# kernels one by one). Each round runs, for each N and each setting in
# turn, N times `vtp-bench-llm -m MODEL -p 1 -n 65 -r 4` at once and prints
# each process's decode tokens/s (its repeats' median), their sum (the
# aggregate: the processes' decoding overlaps, as they start together and
# load alike) and the run's wall time; then the median sums.
set -eu
cd "$(dirname "$0")/.."
MODEL=${1:?usage: bench/decode-processes.sh MODEL [PROCESSES] [ROUNDS] [SETTING ...]}
PROCS=${2:-1 2 4}
ROUNDS=${3:-1}
[ $# -gt 3 ] && shift 3 || set -- VTP_DECODE_LAYER=1 VTP_DECODE_LAYER=0
[ -x build/bench/vtp-bench-llm ] || ninja -C build bench/vtp-bench-llm > /dev/null
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
for r in $(seq "$ROUNDS"); do
  for n in $PROCS; do
    for s in "$@"; do
      t0=$(date +%s.%N)
      for i in $(seq "$n"); do
        env "$s" build/bench/vtp-bench-llm -m "$MODEL" -p 1 -n 65 -r 4 > "$DIR/p$i" 2>&1 &
      done
      wait
      t1=$(date +%s.%N)
      speeds=$(for i in $(seq "$n"); do
                 awk '/^decode_tokens_per_s:/ { print $2 }' "$DIR/p$i"
               done | tr '\n' ' ')
      echo "$speeds" | awk -v n="$n" -v s="$s" -v w="$(echo "$t1 - $t0" | bc)" \
        '{ t = 0; for (i = 1; i <= NF; i++) t += $i
           if (NF != n) { print "a process failed: " s > "/dev/stderr"; exit 1 }
           printf "processes %d %s: %s sum %.1f tokens/s, wall %.1f s\n", n, s, $0, t, w }' \
        | tee -a "$DIR/all"
    done
  done
done
echo "medians of the sums over $ROUNDS round(s):"
for n in $PROCS; do
  for s in "$@"; do
    awk -v n="$n" -v s="$s" '$2 == n && $3 == s ":" { print $(NF - 4) }' "$DIR/all" | sort -n \
      | awk -v n="$n" -v s="$s" '{ v[NR] = $1 } END {
          m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
          printf "  %d processes, %s: %.1f tokens/s\n", n, s, m }'
  done
done
