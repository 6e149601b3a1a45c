#!/bin/sh
# A BLIP-2 checkpoint (EVA ViT-g + Q-Former + OPT or Flan-T5) describing one
# picture: vtp against PyTorch / transformers on the same files, in one run.
#
#   bench/compare-blip2.sh BLIP2_DIR [ROUNDS] [WEIGHT_TYPE]
#
# BLIP2_DIR: e.g. python3 tools/make_bench_model.py DIR --family blip2-opt
# (or blip2-flan-t5). Each round runs vtp-bench (-w WEIGHT_TYPE, default
# bf16, 3 repeats) and then bench/torch-generate.py (PyTorch in bf16, the
# machine's cores as its threads, 3 repeats) on a 640 x 480 picture; both
# sides put the 32 queries before the same prompt (vtp-bench's; the
# script prints each side's positions). The table: per round, vtp /
# PyTorch, picture to projected queries (vtp: encode + bridge, with its
# preprocessing), time to first token and decode tokens/s, and the ratios
# (PyTorch's time over vtp's; vtp's tokens/s over PyTorch's).
# Needs: python3 with the packages of tools/requirements.txt.
set -eu
cd "$(dirname "$0")/.."
DIR=${1:?usage: bench/compare-blip2.sh BLIP2_DIR [ROUNDS] [WEIGHT_TYPE]}
ROUNDS=${2:-2}
WTYPE=${3:-bf16}
NEW_TOKENS=16
ninja -C build bench/vtp-bench > /dev/null
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
PICTURE=$OUT/picture-640x480.png
python3 bench/bench-picture.py "$PICTURE"

for r in $(seq "$ROUNDS"); do
  build/bench/vtp-bench -m "$DIR" -w "$WTYPE" -n "$NEW_TOKENS" -r 3 | sed "s/^/$r vtp /" >> "$OUT/results.txt"
  python3 bench/torch-generate.py "$DIR" "$PICTURE" bf16 "$NEW_TOKENS" 3 | sed "s/^/$r torch /" >> "$OUT/results.txt"
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); vtp -w $WTYPE, PyTorch bf16; $DIR"
python3 - "$OUT/results.txt" "$ROUNDS" <<'EOF'
import sys
v = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 4 and parts[2].endswith(":"):
        try:
            v[parts[0], parts[1], parts[2][:-1]] = float(parts[3])
        except ValueError:
            pass
print("| round | positions vtp / PyTorch | picture to queries, ms | ratio | time to first token, ms | ratio | "
      "decode, tokens/s | ratio |")
print("|---|---|---|---|---|---|---|---|")
for r in range(1, int(sys.argv[2]) + 1):
    g = lambda eng, k: v.get((str(r), eng, k), float("nan"))
    pq_v, pq_t = g("vtp", "encode_ms") + g("vtp", "bridge_ms"), g("torch", "torch_encode_ms")
    ft_v, ft_t = g("vtp", "time_to_first_token_ms"), g("torch", "torch_first_token_ms")
    de_v, de_t = g("vtp", "decode_tokens_per_s"), g("torch", "torch_decode_tokens_per_s")
    print("| %d | %.0f / %.0f | %.0f / %.0f | %.2f | %.0f / %.0f | %.2f | %.2f / %.2f | %.2f |" % (
        r, g("vtp", "prompt_tokens"), g("torch", "torch_prompt_positions"), pq_v, pq_t, pq_t / pq_v,
        ft_v, ft_t, ft_t / ft_v, de_v, de_t, de_v / de_t))
EOF
