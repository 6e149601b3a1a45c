#!/bin/sh
# Trains every world model from nothing, ships them into world-models/,
# evaluates them through vtp's C engine and PyTorch, and draws the plots
# (issue 7; docs/bridges-compared.md). CPU only; about 4.7 hours on a 2-core
# machine (the sum of the step times in docs/world.md, BLIP-2's first stage
# of issue 17 included; never run end to end as one command).
#
#   tools/world/reproduce.sh [WORK_DIR]      (default /tmp/world-train)
#
# Needs PyTorch, transformers, tokenizers, matplotlib (pip), vtp built
# (scripts/setup.sh). Two trainings run at a time, one thread each.
set -eu
cd "$(dirname "$0")/../.."
w=${1:-/tmp/world-train}
mkdir -p "$w"
export TRAIN_THREADS=1
t=tools/world

# the language model: whole-sequence loss, then loss on the answers only
python3 $t/train_text.py --out "$w/llm-1" --steps 800
python3 $t/train_text.py --init "$w/llm-1" --out "$w/llm-2" --steps 1500 --lr 2e-3
python3 $t/train_text.py --init "$w/llm-2" --out "$w/llm-3" --steps 1200 --lr 2e-3 --answers-only
# beside the encoder (it needs only the tokenizer, which --init keeps)
python3 $t/train_text.py --init "$w/llm-3" --out "$w/llm-4" --steps 2500 --lr 1.5e-3 --answers-only &
python3 $t/train_clip.py --tokenizer "$w/llm-3/tokenizer.json" --out "$w/encoder" --steps 1200 --batch 64 \
  --negatives 3 &
wait
python3 $t/train_text.py --init "$w/llm-4" --out "$w/llm" --steps 1500 --lr 1e-3 --answers-only --per-example

# the six compared bridges, two at a time
$t/train_compared_bridges.sh "$w/encoder" "$w/llm" "$w"
# the demo's default: LLaVA trained on, end to end (captions in reading order); then a tower taught each
# cell's shape (train_cells.py: the kinds, which the caption loss alone did not teach), LLaVA end to end on it
# with the cell loss kept on, and the kinds' and sizes' words weighted up. The shipped run took some steps
# from checkpoints inside longer schedules (docs/world.md, fourth run): these full schedules are its nearest
# equivalent, not a step-for-step replay.
python3 $t/train_llava.py --clip "$w/encoder" --llm "$w/llm" --init "$w/llava" --tune-llm --tune-vision \
  --out "$w/llava-tuned-1" --steps 1200
python3 $t/train_llava.py --clip "$w/encoder" --llm "$w/llm" --init "$w/llava-tuned-1" --tune-llm --tune-vision \
  --tune-scale 0.5 --describe-share 0.5 --out "$w/llava-tuned-2" --steps 1000 &
python3 $t/train_cells.py --tower "$w/llava-tuned-1" --fresh --lr 2e-3 --steps 1500 --out "$w/cells" &
wait
tuned="--clip $w/encoder --llm $w/llm --tune-llm --tune-vision --tune-scale 0.5 --describe-share 0.5 --cells-weight 0.5"
python3 $t/train_llava.py $tuned --init "$w/llava-tuned-2" --vision "$w/cells" --steps 500 --out "$w/llava-tuned-3"
python3 $t/train_llava.py $tuned --init "$w/llava-tuned-3" --kind-token-weight 4 --steps 1250 --out "$w/llava-tuned-4"
python3 $t/train_llava.py $tuned --init "$w/llava-tuned-4" --kind-token-weight 4 --size-token-weight 3 --lr 1e-3 \
  --steps 800 --out "$w/llava-tuned-5"
# then the way people ask (issue 15, docs/world.md's fifth run): prompts drawn from world.py's training
# wordings, projector and LLM tuned, tower frozen (the shipped run's first two stages drew from shorter lists)
worded="--clip $w/encoder --llm $w/llm --tune-llm --tune-scale 0.5 --describe-share 0.5 --kind-token-weight 4 \
  --size-token-weight 3 --steps 1500"
python3 $t/train_llava.py $worded --init "$w/llava-tuned-5" --reword 0.75 --lr 1e-3 --out "$w/llava-tuned-6"
python3 $t/train_llava.py $worded --init "$w/llava-tuned-6" --reword 0.9 --lr 5e-4 --out "$w/llava-tuned-7"
python3 $t/train_llava.py $worded --init "$w/llava-tuned-7" --reword 0.9 --lr 5e-4 --out "$w/llava-tuned"

python3 $t/ship.py --encoder "$w/encoder" --llm "$w/llm" --llava "$w/llava" --llava-tuned "$w/llava-tuned" \
  --qformer-text "$w/qformer-text" --qformer-notext "$w/qformer-notext" --adapter "$w/adapter" --qformer-text-adapter "$w/qformer-text-adapter" \
  --qformer-notext-adapter "$w/qformer-notext-adapter" --out world-models
python3 $t/evaluate.py --models world-models --all --count 60 --json docs/world-eval.json
python3 $t/evaluate.py --models world-models --all --count 20 --no-torch --json docs/world-timing.json
python3 $t/plot.py --eval docs/world-eval.json --models world-models --out docs --markdown --timing docs/world-timing.json
