#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# annotate-jsonl.sh — annotates a media file (audio + video, any container
# GStreamer decodes) with udmlfuse and writes one JSON Lines record per
# window: label, confidence, probabilities and per-modality presence,
# coverage, predicted noise, dependency and weights.
#
# usage: annotate-jsonl.sh FILE [OUT.jsonl]     (OUT defaults to stdout)
# File mode: attach-mode=window, nothing dropped, runs as fast as it can.
# Extra udmlfuse properties can be passed in UDML_FUSE_OPTS, and an element
# chain to run on the video before fusion in UDML_VIDEO_PRE (for example
# "udmlnoise level=8 period=2000000000 duty=0.5 ! ").
set -euo pipefail
USAGE="annotate-jsonl.sh FILE [OUT.jsonl]"
. "$(dirname "$0")/common.sh"
udml_need_input "${1:-}"
udml_need_model
in=$1
out=${2:--}

# shellcheck disable=SC2086  # UDML_FUSE_OPTS / UDML_VIDEO_PRE are word lists
gst-launch-1.0 -q \
  filesrc location="$in" ! decodebin name=d \
  udmlfuse name=f model="$UDML_MODEL" attach-mode=window \
    json-location="$out" num-threads="$UDML_THREADS" ${UDML_FUSE_OPTS:-} \
  ! fakesink sync=false \
  d. ! videoconvert ! ${UDML_VIDEO_PRE:-} queue ! f.video_0 \
  d. ! audioconvert ! audioresample ! queue ! f.audio_0
