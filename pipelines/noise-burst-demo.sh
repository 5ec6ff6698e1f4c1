#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# noise-burst-demo.sh — annotates a media file while udmlnoise corrupts the
# video in bursts (Gaussian, level 8 = std 64 grey levels, on for the first
# second of every two seconds of stream time). The video weight should drop
# during the bursts and come back between them. Writes JSON Lines, and with
# a second argument also renders the overlaid noisy video to Matroska.
#
# usage: noise-burst-demo.sh FILE [OUT.jsonl|-] [OUT.mkv]
set -euo pipefail
USAGE="noise-burst-demo.sh FILE [OUT.jsonl|-] [OUT.mkv]"
. "$(dirname "$0")/common.sh"
udml_need_input "${1:-}"
udml_need_model
in=$1
json=${2:--}
noise="udmlnoise kind=gaussian level=8 period=2000000000 duty=0.5 seed=1"

if [ -z "${3:-}" ]; then
  gst-launch-1.0 -q \
    filesrc location="$in" ! decodebin name=d \
    udmlfuse name=f model="$UDML_MODEL" attach-mode=window \
      json-location="$json" num-threads="$UDML_THREADS" \
    ! fakesink sync=false \
    d. ! videoconvert ! $noise ! queue ! f.video_0 \
    d. ! audioconvert ! audioresample ! queue ! f.audio_0
else
  gst-launch-1.0 -q \
    filesrc location="$in" ! decodebin name=d \
    udmlfuse name=f model="$UDML_MODEL" attach-mode=window \
      json-location="$json" num-threads="$UDML_THREADS" \
    ! videoscale ! video/x-raw,width=384,height=384,pixel-aspect-ratio=1/1 \
    ! videoconvert ! udmloverlay ! videoconvert \
    ! vp8enc deadline=1 target-bitrate=2000000 ! matroskamux \
    ! filesink location="$3" \
    d. ! videoconvert ! $noise ! queue ! f.video_0 \
    d. ! audioconvert ! audioresample ! queue ! f.audio_0
fi
