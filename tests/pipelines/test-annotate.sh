#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# test-annotate.sh — end to end: builds a 20-clip AV-digits stream from the
# bundled fixtures (tests/data) with udml-avdigits, annotates it with
# pipelines/annotate-jsonl.sh and the shipped model, and checks the
# per-window labels against the stream's ground truth (score.py) and that
# both modalities took part in every window (the stream has both). Also
# renders the overlay (render-overlay.sh) and the WebVTT subtitles and
# checks they are produced and decodable, and runs noise-burst-demo.sh
# (udmlnoise level 8, 2 s period, duty 0.5 on the video): windows outside
# the bursts must give the clean run's result exactly, windows inside them
# a lower video weight.
#
# Environment (set by meson): UDML_BUILD_DIR, GST_PLUGIN_PATH_1_0.
# Exit status: 0 pass, 1 fail (the message says what and by how much).
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${UDML_BUILD_DIR:?UDML_BUILD_DIR not set}
model=${UDML_MODEL:-$src/models/avdigits.udml}
clips=20
# The shipped model scores 1.00 on this stream; 20 windows at a true
# accuracy of 0.9 fall below 0.75 with probability < 1 %.
min_acc=0.75

fail () { echo "test-annotate: FAIL: $*" >&2; exit 1; }

[ -r "$model" ] || fail "model '$model' missing (models/avdigits.udml is shipped with the tree)"
avdigits=$build/tools/udml-avdigits
[ -x "$avdigits" ] || fail "'$avdigits' not built"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$avdigits" --fsdd "$src/tests/data/fsdd" --mnist "$src/tests/data/mnist" \
  --out "$tmp/av" --stream "$clips" >"$tmp/avdigits.log" 2>&1 ||
  { cat "$tmp/avdigits.log" >&2; fail "udml-avdigits could not build the stream"; }

export UDML_MODEL="$model" UDML_BUILD_DIR="$build"
"$src/pipelines/annotate-jsonl.sh" "$tmp/av/stream.mkv" "$tmp/out.jsonl" ||
  fail "annotate-jsonl.sh exited with $?"
python3 "$src/tests/pipelines/score.py" "$tmp/out.jsonl" "$tmp/av/stream.csv" \
  --min-windows "$clips" --min-accuracy "$min_acc" \
  --min-present audio=1.0 --min-present video=1.0 ||
  fail "labels do not match the ground truth well enough (see above)"

# Default output is stdout, and must be the same records.
"$src/pipelines/annotate-jsonl.sh" "$tmp/av/stream.mkv" >"$tmp/stdout.jsonl" ||
  fail "annotate-jsonl.sh to stdout exited with $?"
cmp -s "$tmp/out.jsonl" "$tmp/stdout.jsonl" ||
  fail "JSON Lines on stdout ($(wc -l <"$tmp/stdout.jsonl") lines) differ from the file output ($(wc -l <"$tmp/out.jsonl") lines)"

"$src/pipelines/annotate-webvtt.sh" "$tmp/av/stream.mkv" "$tmp/out.vtt" ||
  fail "annotate-webvtt.sh exited with $?"
cues=$(grep -c -- '-->' "$tmp/out.vtt" || true)
[ "$cues" -ge "$clips" ] || fail "WebVTT has $cues cues, expected >= $clips"

"$src/pipelines/render-overlay.sh" "$tmp/av/stream.mkv" "$tmp/out.mkv" ||
  fail "render-overlay.sh exited with $?"
frames=$(gst-launch-1.0 -v filesrc location="$tmp/out.mkv" ! matroskademux \
  ! vp8dec ! fakesink silent=false 2>/dev/null | grep -c 'chain' || true)
[ "$frames" -ge $((clips * 10)) ] ||
  fail "rendered video has $frames frames, expected >= $((clips * 10))"
"$src/pipelines/noise-burst-demo.sh" "$tmp/av/stream.mkv" "$tmp/noisy.jsonl" ||
  fail "noise-burst-demo.sh exited with $?"
python3 - "$tmp/out.jsonl" "$tmp/noisy.jsonl" <<'PY' || fail "noise bursts (see above)"
import json, sys
clean, noisy = ([r for r in map(json.loads, filter(str.strip, open(p))) if "event" not in r]
                for p in sys.argv[1:3])
if len(clean) != len(noisy):
    sys.exit(f"{len(clean)} clean vs {len(noisy)} noisy windows")
atol, min_mean_drop = 1e-6, 0.02
drops, bad = [], []
for c, n in zip(clean, noisy):
    wc = c["modalities"]["video"]["weight"]
    wn = n["modalities"]["video"]["weight"]
    burst = (c["window_start"] % 2.0) < 1.0   # windows [2k, 2k+1) are noisy
    if burst:
        drops.append(wc - wn)
        if wn >= wc:
            bad.append(f"window {c['window_index']}: video weight {wn:.4f} under noise >= clean {wc:.4f}")
    elif abs(wn - wc) > atol or n["label"] != c["label"]:
        bad.append(f"window {c['window_index']} (no burst): weight {wn:.6f} vs clean {wc:.6f}, "
                   f"label {n['label']} vs {c['label']} (atol {atol})")
mean_drop = sum(drops) / max(len(drops), 1)
if mean_drop < min_mean_drop:
    bad.append(f"mean video weight drop in bursts {mean_drop:.4f} < {min_mean_drop}")
for b in bad:
    print("test-annotate:", b, file=sys.stderr)
print(f"test-annotate: {len(drops)} burst windows, mean video weight drop {mean_drop:.4f}")
sys.exit(1 if bad else 0)
PY

echo "test-annotate: ok ($clips windows, $cues cues, $frames rendered frames)"
