#!/bin/sh
# The main job: describe images and a video with vtp's GStreamer elements.
# Builds first. Usage: scripts/demo.sh [MODEL_DIR]
#
# Until vtp's own trained default model lands (issue 7), the default model
# is the tiny random-weight LLaVA fixture: the pipeline runs for real, but
# the words are noise. Pass a llava-hf checkpoint directory to get real text.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

model=${1:-tests/fixtures/llava-tiny-a}
export GST_PLUGIN_PATH="$PWD/build/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
prompt="What is in the picture?"
describe="vtpencoder model=$model ! vtpprojector model=$model ! vtpllm model=$model newline=true max-new-tokens=24"

echo "model: $model"
for image in tests/fixtures/llava-tiny-a/image.png tests/fixtures/preprocess-clip/image-3.png \
    tests/fixtures/preprocess-clip/image-0.png; do
  printf '%s: ' "$image"
  gst-launch-1.0 -q filesrc location="$image" ! decodebin ! videoconvert ! \
    $describe prompt="$prompt" ! fdsink fd=1
done

# A short video file (3 s of GStreamer's moving ball), described once a
# second into subtitles (examples/caption-to-srt.sh).
video=$(mktemp --suffix=.avi)
srt=$(mktemp --suffix=.srt)
gst-launch-1.0 -q videotestsrc num-buffers=90 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! \
  jpegenc ! avimux ! filesink location="$video"
echo "video (one description per second, as SubRip subtitles):"
VTP_PROMPT="What is moving?" examples/caption-to-srt.sh "$model" "$srt" "$video"
cat "$srt"
rm -f "$video" "$srt"
