#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# render-overlay.sh — annotates a media file with udmlfuse and renders the
# video with the udmloverlay panel (label, confidence, audio/video weight
# bars) into a Matroska file (VP8 video, FLAC audio).
#
# usage: render-overlay.sh FILE OUT.mkv
# The video is scaled to UDML_RENDER_SIZE (default 384x384) so the panel
# fits small inputs such as the 64x64 AV-digits clips.
set -euo pipefail
USAGE="render-overlay.sh FILE OUT.mkv"
. "$(dirname "$0")/common.sh"
udml_need_input "${1:-}"
[ -n "${2:-}" ] || udml_usage "missing output file"
udml_need_model
size=${UDML_RENDER_SIZE:-384x384}
w=${size%x*}
h=${size#*x}

# The muxer's audio queue is unbounded: in attach-mode=window udmlfuse holds
# video for up to one window, and a bounded queue there would stall the tee.
gst-launch-1.0 -q \
  filesrc location="$1" ! decodebin name=d \
  udmlfuse name=f model="$UDML_MODEL" attach-mode=window \
    num-threads="$UDML_THREADS" \
  ! videoscale ! "video/x-raw,width=$w,height=$h,pixel-aspect-ratio=1/1" \
  ! videoconvert ! udmloverlay ! videoconvert \
  ! vp8enc deadline=1 target-bitrate=2000000 ! queue ! mux. \
  matroskamux name=mux ! filesink location="$2" \
  d. ! videoconvert ! queue ! f.video_0 \
  d. ! audioconvert ! audioresample ! tee name=t \
  t. ! queue ! f.audio_0 \
  t. ! queue max-size-time=0 max-size-buffers=0 max-size-bytes=0 \
     ! audioconvert ! flacenc ! mux. >&2
