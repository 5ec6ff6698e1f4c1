#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# testsrc-demo.sh — runs udmlfuse on live test sources (videotestsrc +
# audiotestsrc, is-live=true), no devices needed. Prints the JSON Lines
# records; with DISPLAY set the overlaid video is shown, otherwise it ends
# in a fakesink. The labels are meaningless (test patterns are no digits):
# this checks that a live pipeline runs, times out windows and keeps up.
#
# usage: testsrc-demo.sh [SECONDS]      (default 10)
set -euo pipefail
USAGE="testsrc-demo.sh [SECONDS]"
. "$(dirname "$0")/common.sh"
udml_need_model
secs=${1:-10}
[[ "$secs" =~ ^[1-9][0-9]*$ ]] || udml_usage "SECONDS must be a positive integer, got '$secs'"
frames=$((secs * 30))
sink="fakesink sync=true"
[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ] && sink="autovideosink"

# shellcheck disable=SC2086  # $sink is an element with properties
gst-launch-1.0 -e -q \
  udmlfuse name=f model="$UDML_MODEL" attach-mode=latest json-location=- \
    num-threads="$UDML_THREADS" \
  ! videoconvert ! udmloverlay ! videoconvert ! $sink \
  videotestsrc is-live=true pattern=ball num-buffers="$frames" \
  ! video/x-raw,width=320,height=240,framerate=30/1 ! f.video_0 \
  audiotestsrc is-live=true wave=ticks num-buffers=$((secs * 100)) \
    samplesperbuffer=160 ! audio/x-raw,rate=16000,channels=1 ! f.audio_0
