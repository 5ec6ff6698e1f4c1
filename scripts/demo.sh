#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The main job: annotates a bundled audio-visual clip (12 AV-digits clips,
# a spoken digit heard while a handwritten digit is seen) with udmlfuse and
# the default model, and prints each window's label, confidence and the
# weight the fusion gave each modality, next to the ground truth; then
# again with Gaussian noise bursts on the video (udmlnoise, level 8, on for
# the first second of every two), where the video weight should collapse.
#
# usage: scripts/demo.sh [MEDIA_FILE]   (any file with audio + video)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh

clip=${1:-tests/data/sample/avdigits-sample.mkv}
truth=${clip%.mkv}.csv
out=$(mktemp)
trap 'rm -f "$out"' EXIT

show () {
python3 - "$out" "$truth" <<'PY'
import csv, json, os, sys
rows = [r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip()) if "event" not in r]
truth = []
if os.path.exists(sys.argv[2]):
    truth = [(float(r["start"]), float(r["end"]), r["label"]) for r in csv.DictReader(open(sys.argv[2]))]

def expected(r):
    mid = (r["window_start"] + r["window_end"]) / 2
    return next((l for s, e, l in truth if s <= mid < e), "")

print(f"{'window':>13}  {'label':>5}  {'conf':>5}  {'audio w':>7}  {'video w':>7}  "
      f"{'audio noise':>11}  {'video noise':>11}  {'truth':>5}")
hits = 0
for r in rows:
    a, v = r["modalities"]["audio"], r["modalities"]["video"]
    t = expected(r)
    hits += t == r["label"]
    print(f"{r['window_start']:5.1f}-{r['window_end']:5.1f} s  {r['label']:>5}  {r['confidence']:5.2f}  "
          f"{a['weight']:7.2f}  {v['weight']:7.2f}  {a['noise']:11.2f}  {v['noise']:11.2f}  {t:>5}")
if truth:
    print(f"{hits}/{len(rows)} windows match the ground truth")
PY
}

export UDML_BUILD_DIR=$PWD/build
echo "== clean"
pipelines/annotate-jsonl.sh "$clip" "$out"
show
echo
echo "== noise bursts on the video (udmlnoise kind=gaussian level=8, 1 s on / 1 s off)"
UDML_VIDEO_PRE="udmlnoise kind=gaussian level=8 period=2000000000 duty=0.5 ! " \
  pipelines/annotate-jsonl.sh "$clip" "$out"
show
