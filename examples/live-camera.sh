#!/bin/bash
# Live description of a camera with the text drawn on the video.
#
#   examples/live-camera.sh MODEL [SECONDS]
#
# Uses /dev/video0 when there is one (MJPEG frames are decoded by
# vtpencoder itself), else a live videotestsrc. The video plays at the
# camera's rate whatever the model's speed: vtpencoder describes the newest
# frame each time the model is free, and vtpllm stamps the text with the
# moment it is ready, on a shaded band that keeps white text legible on
# any picture. Each description is also printed (the bus message).
# VTP_SINK picks the video sink (default autovideosink; fakesink sync=true
# for a headless run), VTP_PROMPT the question.
set -euo pipefail
if [ $# -lt 1 ]; then
  sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
model=$1 seconds=${2:-0}
prompt=${VTP_PROMPT:-What is in the picture?}
read -r -a sink <<< "${VTP_SINK:-autovideosink}"

if [ -e /dev/video0 ]; then
  source=(v4l2src ! decodebin ! videoconvert ! video/x-raw,format=RGB)
else
  echo "no camera: using videotestsrc" >&2
  source=(videotestsrc is-live=true pattern=ball ! video/x-raw,format=RGB,width=640,height=480,framerate=30/1)
fi
run=(gst-launch-1.0 -e -m "${source[@]}" ! tee name=t \
  t. ! queue ! textoverlay name=o valignment=top wrap-mode=word font-desc="Sans 14" \
         shaded-background=true shading-value=140 ! videoconvert ! "${sink[@]}" \
  t. ! vtpencoder model="$model" ! vtpprojector model="$model" ! \
       vtpllm model="$model" prompt="$prompt" max-new-tokens=48 ! o.text_sink)
# only the descriptions from the bus, one per line, as plain text (gst-launch
# prints the message's structure: a string with spaces comes quoted, each
# space and quote escaped with a backslash)
descriptions () {
  sed -n -e 's/.*vtp-text, text=(string)\(.*\), prompt=.*/\1/' -e 's/^"\(.*\)"$/\1/' -e 's/\\\(.\)/\1/g' -e p
}
if [ "$seconds" -gt 0 ]; then
  timeout -s INT "$seconds" "${run[@]}" | grep --line-buffered "vtp-text, text=" | descriptions || true
else
  "${run[@]}" | grep --line-buffered "vtp-text, text=" | descriptions
fi
