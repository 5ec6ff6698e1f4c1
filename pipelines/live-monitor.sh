#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# live-monitor.sh — live camera + microphone monitor: v4l2src and
# autoaudiosrc into udmlfuse in attach-mode=latest (frames are never held;
# each carries the latest window's result), drawn with udmloverlay and
# shown with autovideosink. Results also go to stdout as JSON Lines.
#
# usage: live-monitor.sh [DEVICE]     (default /dev/video0)
set -euo pipefail
USAGE="live-monitor.sh [DEVICE]"
. "$(dirname "$0")/common.sh"
udml_need_model
dev=${1:-/dev/video0}
[ -e "$dev" ] || udml_die "camera '$dev' not found"

gst-launch-1.0 -q \
  udmlfuse name=f model="$UDML_MODEL" attach-mode=latest json-location=- \
    num-threads="$UDML_THREADS" \
  ! videoconvert ! udmloverlay ! videoconvert ! autovideosink sync=false \
  v4l2src device="$dev" ! videoconvert ! queue leaky=downstream \
    max-size-buffers=2 ! f.video_0 \
  autoaudiosrc ! audioconvert ! audioresample ! queue ! f.audio_0
