#!/bin/sh
# The picture's side (CLIP ViT-L/14-336 tower + projector) against llama.cpp's
# mtmd and PyTorch, in one run, on the same checkpoint.
#
#   bench/compare-encode.sh LLAVA_DIR [ROUNDS]
#
# LLAVA_DIR: a llava-hf checkpoint (python3 tools/make_bench_model.py DIR
# makes the bench model). llama.cpp (the peer of bench/compare-llamacpp.sh,
# which builds it: run that first, or set VTP_PEER_DIR) gets the same tower
# and projector as its F16 mmproj file, written by its legacy LLaVA
# converter (tools/llava_mmproj.py; it needs transformers < 5: set
# $TF4_PYTHON to such a python, default python3), and the language model
# as llm-f16.gguf (compare-llamacpp.sh writes it; mtmd needs one to run).
# Each round runs, one after the other (interleaved, so that the machine's
# drift hits all):
#   vtp-f16-mmproj   vtp-bench --vision-only on the mmproj pair (the F16 file mtmd reads)
#   mtmd-f16         llama-mtmd-cli on the same pair ("batch encoding done in N ms")
#   vtp-f16          vtp-bench --vision-only on LLAVA_DIR (F16 safetensors, float products)
#   vtp-bf16         the same with --weight-type bf16 (bfloat16 dot products where the CPU has them)
#   torch-bf16       bench/torch-encode.py LLAVA_DIR PICTURE bf16 (transformers, torch's threads = cores;
#                    python3 with the packages of tools/requirements.txt)
# on one 640x480 picture (576 image tokens on every side: mtmd pads to a
# square, vtp and the CLIP processor crop). Figures: tower + projector, ms,
# median of the rounds (vtp and torch: medians of 3 runs within a round).
set -eu
cd "$(dirname "$0")/.."
LLAVA=${1:?usage: bench/compare-encode.sh LLAVA_DIR [ROUNDS]}
ROUNDS=${2:-3}
. bench/peer-env.sh
PAIR=$WORK/pair
TF4_PYTHON=${TF4_PYTHON:-python3}

[ -f "$WORK/llm-f16.gguf" ] || { echo "no $WORK/llm-f16.gguf: run bench/compare-llamacpp.sh $LLAVA first" >&2; exit 1; }
if [ ! -x "$BIN/llama-mtmd-cli" ]; then
  cmake --build "$SRC/build" -j "$(nproc)" --target llama-mtmd-cli \
    > "$PEER/build-mtmd.log"
fi
ninja -C build bench/vtp-bench > /dev/null
mkdir -p "$PAIR"
[ -f "$PAIR/mmproj-model-f16.gguf" ] || "$TF4_PYTHON" tools/llava_mmproj.py "$LLAVA" "$PAIR/mmproj-model-f16.gguf" --converter-python "$TF4_PYTHON"
[ -e "$PAIR/llm-f16.gguf" ] || ln -s "$WORK/llm-f16.gguf" "$PAIR/llm-f16.gguf"
PICTURE=$WORK/bench-640x480.png
[ -f "$PICTURE" ] || python3 bench/bench-picture.py "$PICTURE"

OUT=$WORK/encode-results.txt
: > "$OUT"
vtp () {
  build/bench/vtp-bench -m "$1" -V -r 3 ${2:+-w "$2"} | awk -v t="$3" '/^encode_and_bridge_ms/ { print t, $2 }' >> "$OUT"
}
for r in $(seq "$ROUNDS"); do
  vtp "$PAIR" "" vtp-f16-mmproj
  "$BIN/llama-mtmd-cli" -m "$PAIR/llm-f16.gguf" --mmproj "$PAIR/mmproj-model-f16.gguf" --image "$PICTURE" \
      -p "What is in the picture?" -n 1 -t "$THREADS" --temp 0 -c 2048 --chat-template vicuna 2>&1 \
    | awk '/batch encoding done in/ { for (i = 1; i <= NF; i++) if ($i == "in") print "mtmd-f16", $(i + 1) }' >> "$OUT"
  vtp "$LLAVA" "" vtp-f16
  vtp "$LLAVA" bf16 vtp-bf16
  python3 bench/torch-encode.py "$LLAVA" "$PICTURE" bf16 3 2>/dev/null \
    | awk '/^torch_encode_and_bridge_ms/ { print "torch-bf16", $2 }' >> "$OUT"
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads; llama.cpp from llama-cpp-python $VERSION; torch $(python3 -c 'import torch; print(torch.__version__)'); $ROUNDS rounds, medians"
python3 - "$OUT" <<'PY'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    k, x = line.split()
    v[k].append(float(x))
med = {k: statistics.median(xs) for k, xs in v.items()}
print("| run | tower + projector, ms (median) | rounds | mtmd-f16 / run | torch-bf16 / run |")
print("|---|---|---|---|---|")
for k in ("vtp-f16-mmproj", "vtp-f16", "vtp-bf16", "mtmd-f16", "torch-bf16"):
    if k in med:
        print("| %s | %.0f | %s | %.2f | %.2f |" % (k, med[k], " / ".join("%.0f" % x for x in v[k]),
              med.get("mtmd-f16", float("nan")) / med[k], med.get("torch-bf16", float("nan")) / med[k]))
PY
