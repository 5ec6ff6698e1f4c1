#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-monitor-faults.sh — runs pipelines/monitor-faults.sh on the bundled
# sample (lens fault 2-5 s, microphone fault 7-10 s, windows every 250 ms,
# alert-windows 3) and scores its alerts with score-faults.py: each fault
# raised and cleared within alert-windows + 1 windows of its start and end,
# no alert on the healthy modality.
#
# usage: test-monitor-faults.sh [VIDEO_KIND AUDIO_KIND]
# Default kinds occlusion and dropout (the demo's). Environment (set by
# meson): UDML_BUILD_DIR, GST_PLUGIN_PATH_1_0.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export UDML_FAULT_VIDEO=${1:-occlusion} UDML_FAULT_AUDIO=${2:-dropout}
export UDML_FAULT_TIMES="2 5 7 10" UDML_ALERT_WINDOWS=3
"$src/pipelines/monitor-faults.sh" "$src/tests/data/sample/avdigits-sample.mkv" \
  "$tmp/out.jsonl" 2>"$tmp/log" || { cat "$tmp/log" >&2; echo "test-monitor-faults: FAIL: monitor-faults.sh exited with $?" >&2; exit 1; }
cat "$tmp/log"
end=$(tail -n 1 "$src/tests/data/sample/avdigits-sample.csv" | cut -d, -f2)
python3 "$src/tests/pipelines/score-faults.py" "$tmp/out.jsonl" --end "$end" \
  --alert-windows 3 --fault video:2:5 --fault audio:7:10
