#!/bin/bash
# Captions a video into a SubRip file: one description per second of video,
# each cue from the described frame until the next description.
#
#   examples/caption-to-srt.sh MODEL OUT.srt [VIDEO]
#
# MODEL: a LLaVA-layout model directory (its vision tower, projector and
# language model); VIDEO: any file GStreamer decodes (without it, 3 s of
# videotestsrc). Set VTP_PROMPT to ask something else, VTP_INTERVAL_NS to
# describe more or less often.
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
model=$1 out=$2 video=${3:-}
prompt=${VTP_PROMPT:-What is in the picture?}
interval=${VTP_INTERVAL_NS:-1000000000}

if [ -n "$video" ]; then
  source=(filesrc location="$video" ! decodebin)
else
  source=(videotestsrc num-buffers=90 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1)
fi
exec gst-launch-1.0 -q "${source[@]}" ! videoconvert ! \
  vtpencoder model="$model" min-interval="$interval" ! vtpprojector model="$model" ! \
  vtpllm model="$model" timestamps=frame prompt="$prompt" ! vtpsrtenc ! filesink location="$out"
