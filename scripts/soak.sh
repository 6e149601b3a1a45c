#!/bin/sh
# scripts/soak.sh [SECONDS] [MODEL]: the soak of docs/reliability.md. One
# live run of SECONDS (default 3600) of a 640x480 30 fps videotestsrc through
# the bundled model (default world-models/llava-tuned) with textoverlay and
# vtpencoder's newest-frame gate (bench/vtp-bench-live), sampling the
# process's resident memory every minute. Prints the samples, the run's
# summary and the verdict: RSS growth from the first sample after warm-up
# (5 minutes, or a tenth of the run if shorter) to the last <= 2%, >= 99%
# of the frames rendered on time, no error (an error ends the run with
# exit status 1). Not in CI (an hour); its figures are in the doc.
set -eu
cd "$(dirname "$0")/.."
SECONDS_RUN=${1:-3600}
MODEL=${2:-world-models/llava-tuned}
EVERY=${SOAK_SAMPLE_EVERY:-60}
ninja -C build bench/vtp-bench-live plugins/libgstvtp.so > /dev/null
export GST_PLUGIN_PATH=$PWD/build/plugins
LOG=${SOAK_LOG:-build/soak-$(date +%Y%m%d-%H%M%S).log}
echo "soak: $SECONDS_RUN s, $MODEL, sample every $EVERY s, log $LOG"
build/bench/vtp-bench-live --llm "$MODEL" --seconds "$SECONDS_RUN" --width 640 --height 480 \
    --sample-every "$EVERY" --max-new-tokens 16 | tee "$LOG"
WARM=$(( SECONDS_RUN / 10 < 300 ? SECONDS_RUN / 10 : 300 ))
python3 - "$LOG" "$WARM" <<'PY'
import re, sys
log, warm = sys.argv[1], float(sys.argv[2])
samples = [(float(m.group(1)), int(m.group(2))) for m in
           re.finditer(r"sample t=(\d+) s rss_kb=(\d+)", open(log).read())]
text = open(log).read()
video = re.search(r"(\d+) frames produced, (\d+) rendered on time", text)
after = [s for s in samples if s[0] >= warm]
if not after or not video:
    sys.exit("soak: no samples after warm-up or no summary in " + log)
growth = (after[-1][1] - after[0][1]) / after[0][1] * 100
produced, on_time = int(video.group(1)), int(video.group(2))
on_time_pct = 100.0 * on_time / max(produced, 1)
peak = max(s[1] for s in samples)
print("soak: RSS after warm-up (t=%.0f s) %.1f MB, at the end %.1f MB: %+.2f%%; peak %.1f MB"
      % (after[0][0], after[0][1] / 1024, after[-1][1] / 1024, growth, peak / 1024))
print("soak: %d of %d frames on time (%.2f%%)" % (on_time, produced, on_time_pct))
ok = growth <= 2.0 and on_time_pct >= 99.0
print("soak: %s (RSS growth <= 2%%, >= 99%% on time, no error)" % ("PASS" if ok else "FAIL"))
sys.exit(0 if ok else 1)
PY
