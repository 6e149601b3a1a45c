#!/bin/sh
# The six compared bridges (docs/bridges-compared.md) between one frozen
# encoder and one frozen LLM, two trainings at a time with one thread each:
# LLaVA's projector, the Q-Former with and without text, the adapter, then
# BLIP-2's first stage and the two Q-Formers feeding adapters.
#
#   tools/world/train_compared_bridges.sh ENCODER LLM OUT_DIR
#
# reproduce.sh calls it for the shipped models, compare_on_cells_encoder.sh
# for the comparison on the per-cell encoder.
set -eu
cd "$(dirname "$0")/../.."
e=$1 l=$2 w=$3
t=tools/world
export TRAIN_THREADS=1
b="--encoder $e --llm $l"
python3 $t/train_llava.py --clip "$e" --llm "$l" --out "$w/llava" --steps 1000 &
python3 $t/train_bridge.py $b --bridge qformer --out "$w/qformer-text" --steps 1000 &
wait
python3 $t/train_bridge.py $b --bridge adapter --out "$w/adapter" --steps 1000 &
python3 $t/train_bridge.py $b --bridge qformer --no-text-conditioning --out "$w/qformer-notext" --steps 1000 &
wait
# the unified framework's adapter column: Q-Formers feeding adapters. BLIP-2's first stage first (the
# Q-Former taught to read the pictures from the captions: contrastive, matching, grounded generation), then
# the adapter trained on it with the Q-Former's learning rate a tenth of the adapter's (issue 17,
# docs/bridges-compared.md: at the full rate both stayed at chance, pretrained or not; the slower rate lets
# the adapter read the picture, the first stage makes it count)
python3 $t/train_qformer_stage1.py $b --out "$w/qformer-stage1" --steps 500 --batch 32
u="$b --bridge qformer --into adapter --init-qformer $w/qformer-stage1 --qformer-lr-scale 0.1 --steps 1000"
python3 $t/train_bridge.py $u --out "$w/qformer-text-adapter" &
python3 $t/train_bridge.py $u --no-text-conditioning --out "$w/qformer-notext-adapter" &
wait
