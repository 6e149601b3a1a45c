#!/bin/bash
# bench/compare-gpu.sh [WORK_DIR] [ROUNDS]: vtp beside PyTorch/transformers on
# the same random LLaVA-1.5-shaped checkpoints (tools/make_bench_model.py: the
# 1.1B bench LLM and LLaVA-1.5-7B's, F16 safetensors in the llava-hf layout),
# in one run on one GPU (issue 19): time to first token (one 336-pixel picture
# encoded and projected, the 598-token prompt prefilled, one token) and greedy
# decode tokens/s, vtp-bench against torch-llava.py in fp16 (eager generate,
# and with COMPILE=1 a static-cache torch.compile run), then vtp's GEMV on
# LLaVA-1.5-7B's shapes against the device's bandwidth, and many cameras on
# the first model (issue 18): its LLM decoding 1, 4 and 8 streams together
# (vtp-bench-llm --streams) and 8 pictures through its vision tower alone
# against one batch (vtp-bench --vision-batch), and its decode with the GPU
# steps added one at a time: the fused decode GEMVs (VTP_GPU_FUSED), the
# greedy tokens chosen on the device (VTP_DEVICE_ARGMAX), the decode a step
# ahead (VTP_DECODE_AHEAD: each token fed back from the device, the next
# step queued before the host reads it), and a sampled decode drawn on the
# host against one drawn on the device (vtp-bench-llm --sample), and a
# prefill with the attention's scores in global memory against the tiled
# attention (VTP_ATTENTION_TILED).
# Rounds alternate the engines; the table gives medians and vtp / PyTorch
# ratios.
#
#   bench/compare-gpu.sh /tmp/vtp-gpu 2                # on a GPU machine with vtp built
#   DEVICE=cpu bench/compare-gpu.sh /tmp/vtp-cpu 1     # the same on the CPU (PyTorch in bf16)
#   VTP_ARGS="--weight-type bf16" DEVICE=cpu ...       # more vtp-bench options (here: bf16 products, as PyTorch's)
#   SHAPES=1b MODEL_ARGS="--text-layers 2" NEW_TOKENS=8 bench/compare-gpu.sh /tmp/smoke 1   # a smoke run
#
# On a lent GPU machine without vtp's libraries (the device tool copies the
# working tree): `bench/compare-gpu.sh pack` here writes build/gpu-pack
# (vtp-bench, vtp-bench-linear, vtp-bench-llm and the shared libraries they load, less
# glibc); carry build/gpu-pack there and run
#   VTP_PACK=build/gpu-pack bench/compare-gpu.sh /tmp/vtp-gpu 1
# NVIDIA's OpenCL needs an ICD file naming libnvidia-opencl.so.1: written to
# /etc/OpenCL/vendors/nvidia.icd when missing (as root).
# Needs python3 with torch, transformers, tokenizers and safetensors. A
# developer tool: CI never runs it.
set -u
cd "$(dirname "$0")/.."

if [ "${1:-}" = pack ]; then
  P=build/gpu-pack
  rm -rf $P && mkdir -p $P/lib || exit 1
  cp build/bench/vtp-bench build/bench/vtp-bench-linear build/bench/vtp-bench-llm $P/ || exit 1
  ldd build/bench/vtp-bench build/bench/vtp-bench-linear build/bench/vtp-bench-llm | awk '$3 ~ /^\// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' | xargs -r cp -L -t $P/lib
  du -sh $P
  exit 0
fi

W=${1:-/tmp/vtp-compare-gpu}
R=${2:-1}
DEVICE=${DEVICE:-gpu}
SHAPES=${SHAPES:-1b 7b}
NEW=${NEW_TOKENS:-64}
if [ -n "${VTP_PACK:-}" ]; then
  export LD_LIBRARY_PATH=$VTP_PACK/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  BENCH=$VTP_PACK/vtp-bench LINEAR=$VTP_PACK/vtp-bench-linear LLM=$VTP_PACK/vtp-bench-llm
else
  BENCH=build/bench/vtp-bench LINEAR=build/bench/vtp-bench-linear LLM=build/bench/vtp-bench-llm
fi
[ -x "$BENCH" ] || { echo "compare-gpu.sh: $BENCH not found: build vtp (scripts/setup.sh) or give VTP_PACK" >&2; exit 1; }
if [ "$DEVICE" = cpu ]; then TORCH_DEVICE=cpu; else TORCH_DEVICE=cuda; fi

if [ "$DEVICE" != cpu ] && [ ! -e /etc/OpenCL/vendors/nvidia.icd ]; then
  for f in /usr/lib/x86_64-linux-gnu/libnvidia-opencl.so.1 /usr/lib64/libnvidia-opencl.so.1 /usr/lib/libnvidia-opencl.so.1; do
    if [ -e "$f" ]; then mkdir -p /etc/OpenCL/vendors && echo "$f" > /etc/OpenCL/vendors/nvidia.icd; break; fi
  done
fi
mkdir -p "$W"
LOG=$W/results.txt
: > "$LOG"
{
  date -u
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$BENCH" --list-devices 2>&1
  python3 -c 'import torch, transformers; print("torch", torch.__version__, "transformers", transformers.__version__)'
  git log -1 --format='vtp %h %cd' 2>/dev/null
  echo "vtp-bench options: ${VTP_ARGS:-none}"
} | tee -a "$LOG"

# key: value lines of FILE
val() { awk -v k="$2:" '$1 == k {print $2; exit}' "$1"; }
median() { python3 -c 'import statistics, sys; v = [float(x) for x in sys.argv[1:] if x]; print("%.1f" % statistics.median(v) if v else "-")' "$@"; }
ratio() { python3 -c 'import sys; a, b = sys.argv[1:3]; print("%.2f" % (float(a) / float(b)) if a not in "-" and b not in "-" and float(b) else "-")' "$1" "$2"; }

declare -A TABLE
for s in $SHAPES; do
  M=$W/llava-$s
  if [ ! -f "$M/config.json" ]; then
    t=$(date +%s)
    python3 tools/make_bench_model.py "$M" --llm "$s" ${MODEL_ARGS:-} > "$W/make-$s.log" 2>&1 ||
      { echo "making the $s model failed: $W/make-$s.log" >&2; exit 1; }
    echo "model $s made in $(( $(date +%s) - t )) s: $(du -sh "$M" | cut -f1)" | tee -a "$LOG"
  fi
  vt=() vd=() tt=() td=() ct=() cdec=()
  for r in $(seq "$R"); do
    "$BENCH" --model "$M" --device "$DEVICE" --decode-tokens "$NEW" --repeats 3 ${VTP_ARGS:-} > "$W/vtp-$s-$r.txt" 2>&1
    python3 bench/torch-llava.py "$M" --device $TORCH_DEVICE --new-tokens "$NEW" --repeats 3 \
      ${COMPILE:+--compile} > "$W/torch-$s-$r.txt" 2>&1
    sed "s/^/[$s round $r vtp] /" "$W/vtp-$s-$r.txt" >> "$LOG"
    sed "s/^/[$s round $r torch] /" "$W/torch-$s-$r.txt" >> "$LOG"
    vt+=("$(val "$W/vtp-$s-$r.txt" time_to_first_token_ms)") vd+=("$(val "$W/vtp-$s-$r.txt" decode_tokens_per_s)")
    tt+=("$(val "$W/torch-$s-$r.txt" torch_time_to_first_token_ms)")
    td+=("$(val "$W/torch-$s-$r.txt" torch_decode_tokens_per_s)")
    ct+=("$(val "$W/torch-$s-$r.txt" torch_compiled_time_to_first_token_ms)")
    cdec+=("$(val "$W/torch-$s-$r.txt" torch_compiled_decode_tokens_per_s)")
    echo "$s round $r: vtp ttft ${vt[-1]:--} ms decode ${vd[-1]:--} tok/s; torch ttft ${tt[-1]:--} decode ${td[-1]:--};" \
      "compiled ttft ${ct[-1]:--} decode ${cdec[-1]:--}" | tee -a "$LOG"
  done
  TABLE[$s]="$(median "${vt[@]}") $(median "${tt[@]}") $(median "${ct[@]}") $(median "${vd[@]}") $(median "${td[@]}") $(median "${cdec[@]}")"
done

# GEMV on LLaVA-1.5-7B's shapes (K N): q/k/v/o, gate/up, down, lm_head
GEMV=""
for kn in "4096 4096" "4096 11008" "11008 4096" "4096 32064"; do
  out=$(VTP_DEVICE=$DEVICE "$LINEAR" 1 $kn f16 50 2>&1)
  echo "$out" | sed "s/^/[gemv $kn] /" >> "$LOG"
  GEMV="$GEMV
| 1 x $kn F16 | $(echo "$out" | awk '/^best/ {print $6 " GB/s (best), " $(NF-1) " GB/s (median)"}') |"
done

# Many cameras on the first model (issue 18): S streams' decode steps as
# the rows of one product (the aggregate against one stream in the same
# process), and 8 pictures encoded one by one against one batch
CAMS=""
M=$W/llava-${SHAPES%% *}
for S in 4 8; do
  out=$("$LLM" -m "$M" --device "$DEVICE" -p 16 -n 32 -r 3 --streams $S ${VTP_ARGS:-} 2>&1)
  echo "$out" | sed "s/^/[streams $S] /" >> "$LOG"
  CAMS="$CAMS
| $S streams' decode, aggregate | $(echo "$out" | awk '$1 == "batch_decode_tokens_per_s:" {print $2 " tokens/s (one stream " $9}') | $(echo "$out" | awk '$1 == "batch_over_single:" {print $2}')x |"
done
out=$("$BENCH" --model "$M" --device "$DEVICE" --vision-only --vision-batch 8 --repeats 3 ${VTP_ARGS:-} 2>&1)
echo "$out" | sed "s/^/[vision batch] /" >> "$LOG"
CAMS="$CAMS
| 8 pictures through the vision tower, ms a picture | $(val <(echo "$out") encode_alone_ms_per_picture) alone, $(val <(echo "$out") encode_batched_ms_per_picture) batched | $(val <(echo "$out") batched_speedup)x |"

# The decode's GPU steps one at a time (issue 19), the first model in 2
# alternating rounds of processes: none (VTP_GPU_FUSED=0: ~13 launches a
# layer; greedy tokens chosen on the host), the fused decode GEMVs (q | k |
# v and the gated MLP each one launch with their norm: 7), then the tokens
# chosen on the device (VTP_DEVICE_ARGMAX=1: only the id comes back), then
# the decode a step ahead (VTP_DECODE_AHEAD=1: no wait for the host between
# steps; the default on a GPU)
STEPS=""
for r in 1 2; do
  for a in "0 0 0" "1 0 0" "1 1 0" "1 1 1"; do
    set -- $a
    out=$(VTP_GPU_FUSED=$1 VTP_DEVICE_ARGMAX=$2 VTP_DECODE_AHEAD=$3 "$LLM" -m "$M" --device "$DEVICE" -p 16 -n 64 -r 3 \
        ${VTP_ARGS:-} 2>&1)
    echo "$out" | sed "s/^/[gpu-fused $1 device-argmax $2 ahead $3] /" >> "$LOG"
    STEPS="$STEPS $(echo "$out" | awk '$1 == "decode_tokens_per_s:" {print $2}')"
  done
done
CAMS="$CAMS
| decode tokens/s: none / fused GEMVs / + tokens on the device / + a step ahead, two rounds | $STEPS | |"
# Sampled decode (temperature 0.8, top-k 40, top-p 0.95): drawn on the
# host from the logits read back, then on the device (sample_row, the
# decode a step ahead), in one process
out=$("$LLM" -m "$M" --device "$DEVICE" -p 16 -n 64 -r 3 --sample 0.8,40,0.95 -a VTP_DEVICE_ARGMAX=0,1 \
    ${VTP_ARGS:-} 2>&1)
echo "$out" | sed "s/^/[sampled] /" >> "$LOG"
CAMS="$CAMS
| sampled decode tokens/s (0.8, top-k 40, top-p 0.95): drawn on the host / on the device | $(echo "$out" | awk '$1 == "alternate" {printf "%s ", $6}') | $(echo "$out" | awk '$1 == "alternate" && $2 ~ /=1:$/ {print $8}') |"
# Prefill of 600 positions (a LLaVA frame's) with the attention's scores
# in global memory (attention: heads x rows x keys of them) and in tiles
# (attention_tiled: the softmax online, nothing but the outputs written),
# in one process
out=$("$LLM" -m "$M" --device "$DEVICE" -p 600 -n 2 -r 3 -a VTP_ATTENTION_TILED=0,1 ${VTP_ARGS:-} 2>&1)
echo "$out" | sed "s/^/[tiled attention] /" >> "$LOG"
CAMS="$CAMS
| prefill of 600 tokens/s: scores in global memory / tiled attention | $(echo "$out" | awk '$1 == "alternate" {printf "%s ", $4}') | |"

{
  echo
  echo "| model | vtp time to first token, ms | PyTorch eager | PyTorch compiled | eager / vtp | vtp decode, tokens/s | PyTorch eager | PyTorch compiled | vtp / eager | vtp / compiled |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for s in $SHAPES; do
    read -r a b c d e f <<< "${TABLE[$s]}"
    echo "| LLaVA-1.5 $s shape, F16${VTP_ARGS:+ (vtp: $VTP_ARGS)} | $a | $b | $c | $(ratio "$b" "$a") | $d | $e | $f | $(ratio "$d" "$e") | $(ratio "$d" "$f") |"
  done
  echo
  echo "| vtp GEMV, $DEVICE | read bandwidth |"
  echo "|---|---|$GEMV"
  echo
  echo "| many cameras, ${SHAPES%% *} model, $DEVICE | vtp | over one |"
  echo "|---|---|---|$CAMS"
} | tee -a "$LOG"
echo "all output: $LOG"
