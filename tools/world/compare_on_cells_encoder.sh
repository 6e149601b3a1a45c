#!/bin/sh
# Issue 17 item 5: the comparison again on a shared encoder that tells the
# shapes apart. The shared encoder is retrained with the per-cell loss
# (train_cells.py's kind, colour and size per 3 x 3 cell, and background) beside
# the contrastive one (train_clip.py --cells-weight 1), then the six compared
# bridges are retrained on it exactly as reproduce.sh trains the shipped ones
# (same LLM, steps and options), shipped into WORK/models and evaluated
# through vtp's C engine and PyTorch on the test split. About 80 minutes of
# training and 25 of evaluation on a 2-core machine (docs/bridges-compared.md).
#
#   tools/world/compare_on_cells_encoder.sh [WORK_DIR]     (default /tmp/world-cells-compare)
#
# Needs what reproduce.sh needs, and the shipped LLM in world-models/llm.
set -eu
cd "$(dirname "$0")/../.."
w=${1:-/tmp/world-cells-compare}
mkdir -p "$w"
t=tools/world
llm=world-models/llm

TRAIN_THREADS=2 python3 $t/train_clip.py --tokenizer $llm/tokenizer.json --out "$w/encoder" --steps 1200 \
  --batch 64 --negatives 3 --cells-weight 1

# the six bridges with the shipped models' commands (reproduce.sh's), on this encoder
$t/train_compared_bridges.sh "$w/encoder" $llm "$w"

python3 $t/ship.py --encoder "$w/encoder" --llm $llm --llava "$w/llava" --qformer-text "$w/qformer-text" \
  --qformer-notext "$w/qformer-notext" --adapter "$w/adapter" --qformer-text-adapter "$w/qformer-text-adapter" \
  --qformer-notext-adapter "$w/qformer-notext-adapter" --out "$w/models"
v=""
for variant in llava qformer-text qformer-notext adapter qformer-text-adapter qformer-notext-adapter; do
  v="$v --variant $variant"
done
python3 $t/evaluate.py --models "$w/models" $v --count 60 --json "$w/eval.json"
