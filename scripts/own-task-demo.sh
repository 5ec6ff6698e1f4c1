#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# own-task-demo.sh — a model for your own classes, end to end (docs/own-task.md).
#
# Builds a small labelled data set in the folder-per-class layout from
# synthetic sources (udml-make-clip, offline), trains it with udml-train,
# and annotates
# the held-out clips with gst-launch and `udmlfuse model=M.udml` alone,
# scoring the per-window labels (by name) against the clip's folder.
#
# Classes: four, named by words. beep_ball / chirp_ball differ only by
# audio, beep_ball / beep_bars only by video, hiss_snow by both. Clips are
# mp4 (H.264 + AAC), webm (VP8 + Vorbis) and mkv (MPEG-4 + FLAC), 320x240
# at 25 or 30 fps, 44.1 or 48 kHz stereo, 2-4 s long; the ball's phase and
# the loudness vary from clip to clip.
#
# Usage: scripts/own-task-demo.sh [WORK_DIR]   (default: a temporary dir)
# Environment: UDML_BUILD_DIR (build/), EPOCHS (12), MIN_ACC (0.95).
# Exit status: 0 when the held-out window accuracy reaches MIN_ACC.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${UDML_BUILD_DIR:-$src/build}
epochs=${EPOCHS:-12}
min_acc=${MIN_ACC:-0.95}
work=${1:-}
if [ -z "$work" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
die () { echo "own-task-demo: error: $*" >&2; exit 1; }
make_clip=$build/tests/tools/udml-make-clip
for t in "$build/tools/udml-train" "$build/tools/udml-inspect" "$make_clip"; do
  [ -x "$t" ] || die "$t not built (meson setup build && ninja -C build)"
done
[ -e "$build/plugins/udml/libgstudml.so" ] || die "plugin not built in $build"
export GST_PLUGIN_PATH_1_0="$build/plugins/udml${GST_PLUGIN_PATH_1_0:+:$GST_PLUGIN_PATH_1_0}"

# class -> "video audio" as udml-make-clip takes them
declare -A CLASS=(
  [beep_ball]="ball 440"
  [chirp_ball]="ball 1800"
  [beep_bars]="bars 440"
  [hiss_snow]="noise noise"
)

echo "own-task-demo: making clips in $work" >&2
rm -rf "$work/train" "$work/test"
exts=(mp4 webm mkv)
i=0
for label in $(printf "%s\n" "${!CLASS[@]}" | sort); do
  read -r video audio <<<"${CLASS[$label]}"
  mkdir -p "$work/train/$label" "$work/test/$label"
  for n in 0 1 2 3 4 5 6 7; do
    ext=${exts[$(((n + i) % 3))]}
    fps=$((n % 2 ? 25 : 30))
    rate=$((n % 2 ? 44100 : 48000))
    secs=$((2 + n % 3))
    dir=train
    [ $n -ge 6 ] && dir=test
    "$make_clip" "$work/$dir/$label/clip$n.$ext" 320x240 $fps $secs $rate \
      "$video" "$audio" $((n + 10 * i)) || die "cannot make a $ext clip"
  done
  i=$((i + 1))
done

model=$work/own.udml
echo "own-task-demo: training ($epochs epochs)" >&2
"$build/tools/udml-train" --out "$model" --epochs "$epochs" --val-split 0.2 \
  --window 0.5 --video-size 96x96 --video-format rgb --fps 15 --frames 2 \
  "$work/train"
"$build/tools/udml-inspect" "$model" | sed -n '1,12p'

echo "own-task-demo: annotating the held-out clips with udmlfuse model=$model" >&2
total=0
right=0
for f in "$work"/test/*/*; do
  label=$(basename "$(dirname "$f")")
  out=${f%.*}.jsonl
  gst-launch-1.0 -q filesrc location="$f" ! decodebin name=d \
    udmlfuse name=fuse model="$model" json-location="$out" ! fakesink sync=false \
    d. ! queue ! videoconvert ! fuse.video_0 \
    d. ! queue ! audioconvert ! fuse.audio_0 >/dev/null ||
    die "gst-launch failed on $f"
  # a window without a result is not scored: a webm clip's Vorbis audio
  # runs a few ms past its last frame (the padded last block), and the
  # element reports that window with valid false
  read -r n ok np < <(python3 -c '
import json, sys
# alert lines ({"event": ...}) sit between the window records
recs = [r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())
        if "event" not in r]
full = [r for r in recs if r["valid"]]
print(len(full), sum(r["label"] == sys.argv[2] for r in full), len(recs) - len(full))' \
    "$out" "$label")
  echo "  $label/$(basename "$f"): $ok/$n windows labelled '$label' ($np without a result)"
  total=$((total + n))
  right=$((right + ok))
done
head -c 300 "$(ls "$work"/test/*/*.jsonl | head -1)"
echo " ..."
python3 - "$right" "$total" "$min_acc" <<'EOF'
import sys
right, total, need = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
acc = right / total if total else 0.0
print("own-task-demo: held-out window accuracy %.4f (%d of %d windows), need %.2f"
      % (acc, right, total, need))
sys.exit(0 if acc >= need else 1)
EOF
