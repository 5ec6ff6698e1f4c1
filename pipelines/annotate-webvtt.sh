#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# annotate-webvtt.sh — annotates a media file with udmlfuse and writes the
# per-window labels as WebVTT subtitles (label, confidence and modality
# weights per cue), via annotate-jsonl.sh and jsonl2vtt.py.
#
# usage: annotate-webvtt.sh FILE [OUT.vtt]     (OUT defaults to stdout)
set -euo pipefail
USAGE="annotate-webvtt.sh FILE [OUT.vtt]"
here=$(dirname "$0")
[ -n "${1:-}" ] || { echo "usage: $USAGE" >&2; exit 2; }
tmp=$(mktemp --suffix=.jsonl)
trap 'rm -f "$tmp"' EXIT
"$here/annotate-jsonl.sh" "$1" "$tmp"
python3 "$here/jsonl2vtt.py" "$tmp" ${2:+"$2"}
