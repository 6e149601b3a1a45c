#!/bin/bash
# Describes one image from the command line.
#
#   examples/describe-image.sh MODEL IMAGE [PROMPT]
#
# MODEL: a LLaVA-layout model directory; IMAGE: any file GStreamer decodes
# (JPEG files go to vtpencoder as they are, others through decodebin).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
model=$1 image=$2 prompt=${3:-What is in the picture?}

case "${image,,}" in
  # vtpencoder decodes JPEG itself: the whole file as one frame
  *.jpg|*.jpeg) read=(filesrc location="$image" blocksize="$(stat -c %s "$image")" ! image/jpeg) ;;
  *) read=(filesrc location="$image" ! decodebin ! videoconvert) ;;
esac
# through a pipe: on a regular file fdsink seeks to the segment's start and
# would write over what the caller's shell wrote to that file before
gst-launch-1.0 -q "${read[@]}" ! \
  vtpencoder model="$model" ! vtpprojector model="$model" ! \
  vtpllm model="$model" prompt="$prompt" newline=true ! fdsink fd=1 | cat
