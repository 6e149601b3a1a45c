#!/bin/sh
# The main job: describe images and a video with vtp's GStreamer elements
# and the bundled world models (world-models/, trained here: issue 7).
# Builds first. Usage: scripts/demo.sh [LLAVA_MODEL_DIR]
#
# The bundled models know the synthetic world of tools/world/world.py
# (shapes of 8 colours on plain backgrounds, and GStreamer's videotestsrc
# patterns); pass a llava-hf checkpoint directory (llava-1.5-7b-hf) to
# describe photographs instead.
set -eu
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null

model=${1:-world-models/llava-tuned}
export GST_PLUGIN_PATH="$PWD/build/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
describe="vtpencoder model=$model ! vtpprojector model=$model ! vtpllm model=$model newline=true max-new-tokens=48"

echo "model: $model"
echo
echo "== pictures, asked \"What is in the picture?\" (gst-launch-1.0: decodebin ! videoconvert ! vtpencoder ! vtpprojector ! vtpllm)"
for image in world-models/samples/*.png; do
  printf '%s\n  vtp:       ' "$image"
  gst-launch-1.0 -q filesrc location="$image" ! decodebin ! videoconvert ! \
    $describe prompt="What is in the picture?" ! fdsink fd=1 | cat   # a pipe: fdsink seeks in a regular file
  case $model in world-models/*)
    printf '  generator: %s\n' "$(grep "^$(basename "$image") " world-models/samples/captions.txt | cut -d' ' -f2-)";;
  esac
done

echo
echo "== questions (build/cli/vtp-run on the LLaVA graph)"
for q in "What colour is the background?" "How many shapes do you see?"; do
  echo "$q"
  build/cli/vtp-run -q graphs/llava-1.5.json --set model="$model" --input world-models/samples -p "$q" | \
    sed 's/^/  /'
done

# A short video file (3 s of GStreamer's moving ball, then 3 s of colour
# bars), described once a second into subtitles (examples/caption-to-srt.sh).
video=$(mktemp --suffix=.avi)
srt=$(mktemp --suffix=.srt)
gst-launch-1.0 -q concat name=c ! jpegenc ! avimux ! filesink location="$video" \
  videotestsrc num-buffers=90 pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! c. \
  videotestsrc num-buffers=90 pattern=smpte ! video/x-raw,width=320,height=240,framerate=30/1 ! c.
echo
echo "== video (videotestsrc: ball, then colour bars; one description per second, as SubRip subtitles)"
examples/caption-to-srt.sh "$model" "$srt" "$video"      # its default prompt: "What is in the picture?"
cat "$srt"
rm -f "$video" "$srt"
