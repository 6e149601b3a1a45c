#!/bin/sh
# vtp's language model against llama.cpp on the same checkpoint, in one run.
#
#   bench/compare-llamacpp.sh LLAVA_DIR [ROUNDS]
#
# LLAVA_DIR: a llava-hf checkpoint (python3 tools/make_bench_model.py DIR
# makes the bench model). The peer is llama.cpp as bundled by the
# llama-cpp-python source package on PyPI (version $LLAMA_CPP_PYTHON,
# default 0.3.36), built once into $VTP_PEER_DIR (default
# ~/.cache/vtp-peer) with its CPU backend. The checkpoint's language model
# is written as a plain Llama directory (tools/llava_text_model.py),
# converted by llama.cpp's own convert_hf_to_gguf.py to F16 and quantized
# by its llama-quantize to Q8_0, Q4_0 and Q4_K_M. Both engines then read
# the same four GGUF files (vtp: model=FILE.gguf, weight-type auto). One
# more vtp row quantizes the F16 safetensors at load (weight-type=q4_k:
# every matrix Q4_K, where llama-quantize's Q4_K_M mixes in Q6_K), to show
# what quantizing at load gives. $TYPES picks the rows (default "F16 Q8_0
# Q4_0 Q4_K_M q4_k-at-load"; any of llama-quantize's types vtp reads, e.g.
# TYPES="Q5_0 Q4_1 Q5_1 Q5_K_M Q6_K"; the lattice types' mixes IQ3_XXS,
# IQ3_XS, IQ2_* and IQ1_* are made with an importance matrix, which
# llama-imatrix computes once on docs/architecture.md; and TYPE-at-load for
# any type vtp quantizes to, e.g. iq4_xs-at-load). $KV: vtp's KV cache
# type, f32 (default), f16 (llama.cpp's default cache type, which
# llama-bench keeps then) or q8_0 (llama-bench then runs with -ctk q8_0
# -ctv q8_0, its flash attention on "auto" as by default).
#
# Each round runs every type on both engines, one after the other
# (interleaved, so that the machine's drift hits both); the table has the
# medians, tokens/s, with vtp / llama.cpp ratios: prefill of 512 tokens
# (llama-bench pp512 / vtp-bench-llm -p 512), decode of 64 after those 512
# (llama-bench tg64 at depth 512, -d 512 / vtp-bench-llm's decode after its
# prefill: a picture's description decodes after ~600 prompt tokens) and
# decode of 64 from an empty context (tg64 at depth 0 / vtp-bench-llm -p 1),
# and the start: from opening the file to the first token's logits
# (llama-simple -n 1 on an empty prompt, its BOS alone: llama.cpp's "load
# time", which it takes at the end of the first evaluation so that the
# mapped file's page faults count / vtp-bench-llm -p 1: its load_ms, which
# ends with the weights on the device, plus its prefill of that one token).
# A second table pairs each round's two runs (the same type and measure,
# a minute apart at most): the median of the rounds' vtp / llama.cpp
# ratios with their range, and best against best. This machine's memory
# speed flips between ~31 and 45-54 GB/s every few seconds (a plain read
# in one process, docs/performance.md), so one run's ratio can be off by
# 1.5x either way; the paired median and the best of each engine say more
# than the ratio of medians.
# (Before 2026-12-05 10:35 the script set llama-bench's tg64, at depth 0,
# beside vtp's decode at depth 512: the attention over 512 more positions
# counted against vtp alone.)
# Needs: python3 with torch, transformers, safetensors, numpy, sentencepiece
# (the converter's imports), cmake, g++.
set -eu
cd "$(dirname "$0")/.."
LLAVA=${1:?usage: bench/compare-llamacpp.sh LLAVA_DIR [ROUNDS]}
ROUNDS=${2:-3}
TYPES=${TYPES:-F16 Q8_0 Q4_0 Q4_K_M q4_k-at-load}
KV=${KV:-f32}
LLAMA_KV=""
KV_NOTE=""
if [ "$KV" = q8_0 ]; then
  LLAMA_KV="-ctk q8_0 -ctv q8_0"
  KV_NOTE=", llama.cpp's $LLAMA_KV"
fi
. bench/peer-env.sh

# On CPUs with AMX (Intel Xeon since Sapphire Rapids) -march=native builds
# ggml's AMX matrix products, and llama.cpp 0.25.3's crash there
# (SIGSEGV in ggml_backend_amx_mul_mat, for Q8_0, Q4_0 and Q4_K_M alike,
# 2026-12-06 on 2 cores of an Intel Xeon with AMX): the peer is then built
# without them (its AVX-512 VNNI code), unless PEER_AMX=1.
PEER_FLAGS=""
if grep -q amx_int8 /proc/cpuinfo 2>/dev/null && [ "${PEER_AMX:-0}" != 1 ]; then
  PEER_FLAGS="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
fi
if [ ! -x "$BIN/llama-bench" ] || [ ! -x "$BIN/llama-quantize" ] || [ ! -x "$BIN/llama-simple" ] \
    || [ "$(cat "$PEER/build-flags" 2>/dev/null)" != "$PEER_FLAGS" ]; then
  mkdir -p "$PEER"
  [ -d "$SRC" ] || ( cd "$PEER" && python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d . \
      && tar xzf "llama_cpp_python-$VERSION.tar.gz" )
  cmake -S "$SRC" -B "$SRC/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
      -DLLAMA_BUILD_TESTS=OFF -DLLAMA_OPENSSL=OFF -DCMAKE_C_FLAGS="$PEER_FLAGS" -DCMAKE_CXX_FLAGS="$PEER_FLAGS" \
      > "$PEER/cmake.log"
  cmake --build "$SRC/build" -j "$(nproc)" --target llama-bench llama-quantize llama-simple > "$PEER/build.log"
  echo "$PEER_FLAGS" > "$PEER/build-flags"
fi
ninja -C build bench/vtp-bench-llm > /dev/null

mkdir -p "$WORK"
if [ ! -f "$WORK/llm-f16.gguf" ]; then
  python3 tools/llava_text_model.py "$LLAVA" "$WORK/llm"
  PYTHONPATH=$SRC/gguf-py python3 "$SRC/convert_hf_to_gguf.py" "$WORK/llm" --outtype f16 \
      --outfile "$WORK/llm-f16.gguf" > "$WORK/convert.log" 2>&1
fi
for t in $TYPES; do
  case $t in F16|*-at-load) continue ;; esac
  [ -f "$WORK/llm-$t.gguf" ] && continue
  imatrix=""
  case $t in
    IQ3_XXS|IQ3_XS|IQ2_*|IQ1_*)
      # llama-quantize wants an importance matrix for these (and users'
      # files of them have one): llama-imatrix's, on this repository's
      # docs/architecture.md as the text, made once
      if [ ! -f "$WORK/imatrix.gguf" ]; then
        [ -x "$BIN/llama-imatrix" ] || cmake --build "$SRC/build" -j "$(nproc)" --target llama-imatrix > "$PEER/build-imatrix.log"
        "$BIN/llama-imatrix" -m "$WORK/llm-f16.gguf" -f docs/architecture.md -c 256 -b 256 -t "$THREADS" \
            -o "$WORK/imatrix.gguf" > "$WORK/imatrix.log" 2>&1
      fi
      imatrix="--imatrix $WORK/imatrix.gguf" ;;
  esac
  # shellcheck disable=SC2086
  "$BIN/llama-quantize" $imatrix "$WORK/llm-f16.gguf" "$WORK/llm-$t.gguf" $t > "$WORK/quantize-$t.log" 2>&1
done

OUT=$WORK/results.txt
: > "$OUT"
for r in $(seq "$ROUNDS"); do
  # label : vtp model : vtp weight type : llama.cpp file ("-": none)
  for t in $TYPES; do
    case $t in
      F16) run=f16:llm-f16.gguf:auto:f16 ;;
      *-at-load) run=$t:LLAVA:${t%-at-load}:- ;;
      *) run=$(echo "$t" | tr 'A-Z' 'a-z'):llm-$t.gguf:auto:$t ;;
    esac
    label=$(echo "$run" | cut -d: -f1); vm=$(echo "$run" | cut -d: -f2)
    vt=$(echo "$run" | cut -d: -f3); lt=$(echo "$run" | cut -d: -f4)
    [ "$vm" = LLAVA ] && vm=$LLAVA || vm=$WORK/$vm
    if [ "$lt" != - ]; then
      for args in "-p 512 -n 0" "-p 0 -n 64 -d 512" "-p 0 -n 64 -d 0"; do
        # shellcheck disable=SC2086
        "$BIN/llama-bench" -m "$WORK/llm-$lt.gguf" -t "$THREADS" $args $LLAMA_KV -r 1 -o csv 2>/dev/null \
          | awk -F, -v t="$label" 'NR == 1 { for (i = 1; i <= NF; i++) n[$i] = i; next }
              { gsub(/"/, ""); k = $n["n_prompt"] > 0 ? "prefill" : ($n["n_depth"] > 0 ? "decode" : "decode0")
                print "llama.cpp", t, k, $n["avg_ts"] }' >> "$OUT"
      done
      "$BIN/llama-simple" -m "$WORK/llm-$lt.gguf" -n 1 "" 2>&1 \
        | awk -v t="$label" '/llama_perf_context_print: +load time/ { print "llama.cpp", t, "start_ms", $(NF - 1) }' >> "$OUT"
    fi
    build/bench/vtp-bench-llm -m "$vm" -w "$vt" -k "$KV" -p 512 -n 64 -r 1 \
      | awk -v t="$label" '/^prefill_tokens_per_s/ { print "vtp", t, "prefill", $2 }
          /^decode_tokens_per_s/ { print "vtp", t, "decode", $2 }
          /^llm_weight_bytes_per_token/ { print "vtp", t, "bytes", $2 }
          /^peak_rss_mb/ { print "vtp", t, "rss_mb", $2 }
          /^load_ms/ { print "vtp", t, "load_ms", $2 }
          /^host_read_bandwidth_gb_s/ { print "vtp", t, "bandwidth", $2 }
          /^host_read_bandwidth_median_gb_s/ { print "vtp", t, "bandwidth_median", $2 }' >> "$OUT"
    build/bench/vtp-bench-llm -m "$vm" -w "$vt" -k "$KV" -p 1 -n 64 -r 1 \
      | awk -v t="$label" '/^load_ms/ { load = $2 } /^prefill_tokens_per_s/ { first = 1000 / $2 }
          /^decode_tokens_per_s/ { print "vtp", t, "decode0", $2; print "vtp", t, "start_ms", load + first }' >> "$OUT"
  done
done

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads; llama.cpp from llama-cpp-python $VERSION; vtp's KV cache $KV$KV_NOTE; $ROUNDS rounds, medians"
python3 - "$OUT" "$TYPES" <<'EOF'
import statistics, sys
from collections import defaultdict
v = defaultdict(list)
for line in open(sys.argv[1]):
    eng, t, k, x = line.split()
    v[eng, t, k].append(float(x))
med = lambda eng, t, k: statistics.median(v[eng, t, k]) if v[eng, t, k] else float("nan")
names = {t.lower(): "vtp: F16 safetensors, %s at load" % t[:-len("-at-load")].upper() if t.endswith("-at-load") else t
         for t in sys.argv[2].split()}
print("| weights | decode after 512: vtp | llama.cpp | ratio | decode from empty: vtp | llama.cpp | ratio | "
      "prefill vtp | prefill llama.cpp | ratio | MB read a token (vtp) | vtp load s | vtp peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for t in names:
    dv, dl, pv, pl = med("vtp", t, "decode"), med("llama.cpp", t, "decode"), med("vtp", t, "prefill"), med("llama.cpp", t, "prefill")
    ev, el = med("vtp", t, "decode0"), med("llama.cpp", t, "decode0")
    f = lambda x, p: "" if x != x else "%.*f" % (p, x)     # a blank for what was not run (NaN)
    print("| %s |" % names[t], " | ".join(f(x, p) for x, p in (
        (dv, 1), (dl, 1), (dv / dl, 2), (ev, 1), (el, 1), (ev / el, 2), (pv, 1), (pl, 1), (pv / pl, 2),
        (med("vtp", t, "bytes") / 1e6, 0), (med("vtp", t, "load_ms") / 1e3, 1), (med("vtp", t, "rss_mb"), 0))), "|")
print()
print("| weights | decode after 512: paired ratios, median (min-max) | best / best | "
      "decode from empty: paired, median (min-max) | best / best | prefill: paired, median (min-max) | best / best |")
print("|---|---|---|---|---|---|---|")
for t in names:
    cells = []
    for k in ("decode", "decode0", "prefill"):
        a, b = v["vtp", t, k], v["llama.cpp", t, k]
        if not a or not b:
            cells += ["", ""]
            continue
        r = [x / y for x, y in zip(a, b)]
        cells += ["**%.2f** (%.2f-%.2f)" % (statistics.median(r), min(r), max(r)), "%.2f" % (max(a) / max(b))]
    print("| %s |" % names[t], " | ".join(cells), "|")
print()
print("| weights | start, file to the first token's logits, s: vtp | llama.cpp | llama.cpp / vtp | paired, median (min-max) |")
print("|---|---|---|---|---|")
for t in names:
    a, b = v["vtp", t, "start_ms"], v["llama.cpp", t, "start_ms"]
    if not a or not b:
        continue
    r = [y / x for x, y in zip(a, b)]
    print("| %s | %.2f | %.2f | %.2f | **%.2f** (%.2f-%.2f) |" % (names[t], med("vtp", t, "start_ms") / 1e3,
          med("llama.cpp", t, "start_ms") / 1e3, med("llama.cpp", t, "start_ms") / med("vtp", t, "start_ms"),
          statistics.median(r), min(r), max(r)))
print("host read bandwidth (vtp-bench-llm's probe after each run, median over the runs): best pass %.1f GB/s, "
      "median pass %.1f GB/s" % tuple(statistics.median(x for (e, t, k), xs in v.items() if k == key for x in xs)
                                     for key in ("bandwidth", "bandwidth_median")))
EOF
