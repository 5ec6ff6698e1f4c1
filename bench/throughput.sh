#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# throughput.sh — file-annotation throughput of udmlfuse on one core and
# the effect of bursty video noise on accuracy and on the video weight.
#
#   1. builds the AV-digits test stream (N clips of 1 s, default 300 = 5 min)
#      with udml-avdigits from the full data set, unless BENCH_STREAM names
#      an existing stream.mkv (with stream.csv beside it);
#   2. annotates it with pipelines/annotate-jsonl.sh pinned to CPU 0
#      (taskset -c 0, num-threads=1) at the native 64x64 and with the video
#      scaled to 640x480 (videoscale before udmlfuse), REPEAT times each,
#      and reports x real time = stream duration / wall time (median) and
#      stream duration / CPU time (user + sys);
#   3. annotates it clean and with udmlnoise kind=gaussian level=8
#      period=2000000000 duty=0.5 on the video, and reports accuracy and the
#      median video weight in noisy vs clean windows (tests/pipelines/score.py).
#
# usage: bench/throughput.sh [--data DIR] [--clips N] [--repeat R] [--out DIR]
#                            [--spec big]
#   --data DIR   AV-digits source data with fsdd/ and mnist/ (../shared/data
#                relative to the source tree by default)
#   --spec big   step 2 only, with a model of the bigger input spec (96x96
#                RGB, 2 frames at 15 fps, 0.5 s windows), saved untrained by
#                udml-bench --spec big --save-model: inference speed does
#                not depend on the weights, so step 3 is skipped
# Environment: UDML_BUILD_DIR (default build/), UDML_MODEL.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
data=$src/../shared/data
clips=300
repeat=3
out=""
spec=default
while [ $# -gt 0 ]; do
  case $1 in
    --data) data=$2; shift 2 ;;
    --clips) clips=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --spec) spec=$2; shift 2 ;;
    *) echo "usage: bench/throughput.sh [--data DIR] [--clips N] [--repeat R] [--out DIR] [--spec big]" >&2; exit 2 ;;
  esac
done
case $spec in
  default|big) ;;
  *) echo "throughput.sh: error: --spec '$spec': expected default or big" >&2; exit 2 ;;
esac
export UDML_BUILD_DIR=${UDML_BUILD_DIR:-$src/build}
export UDML_THREADS=1
command -v taskset >/dev/null || { echo "throughput.sh: error: taskset not found (util-linux)" >&2; exit 1; }

if [ -z "$out" ]; then
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"

if [ "$spec" = big ]; then
  bench=$UDML_BUILD_DIR/bench/udml-bench
  [ -x "$bench" ] || { echo "throughput.sh: error: '$bench' not built" >&2; exit 1; }
  "$bench" --spec big --save-model "$out/big.udml"
  export UDML_MODEL=$out/big.udml
fi
export UDML_MODEL=${UDML_MODEL:-$src/models/avdigits.udml}
[ -r "$UDML_MODEL" ] || { echo "throughput.sh: error: model '$UDML_MODEL' not readable" >&2; exit 1; }

if [ -n "${BENCH_STREAM:-}" ]; then
  stream=$BENCH_STREAM
else
  avdigits=$UDML_BUILD_DIR/tools/udml-avdigits
  [ -x "$avdigits" ] || { echo "throughput.sh: error: '$avdigits' not built" >&2; exit 1; }
  fsdd=$data/fsdd
  [ -d "$fsdd/recordings" ] || [ -d "$fsdd" ] || { echo "throughput.sh: error: no FSDD under '$data'" >&2; exit 1; }
  "$avdigits" --fsdd "$fsdd" --mnist "$data/mnist" --out "$out/av" \
    --stream "$clips" >"$out/avdigits.log" 2>&1 ||
    { tail -5 "$out/avdigits.log" >&2; exit 1; }
  stream=$out/av/stream.mkv
fi
truth=${stream%.mkv}.csv
duration=$(python3 -c 'import csv,sys; print(max(float(r["end"]) for r in csv.DictReader(open(sys.argv[1]))))' "$truth")

# run NAME VIDEO_PRE: annotates once on CPU 0, prints "wall cpu" seconds.
run () {
  local name=$1 pre=$2 t0 t1 cpu
  export UDML_VIDEO_PRE="$pre"
  t0=$(date +%s.%N)
  TIMEFORMAT='%U %S'
  cpu=$( { time taskset -c 0 "$src/pipelines/annotate-jsonl.sh" "$stream" \
            "$out/$name.jsonl" 2>"$out/$name.err"; } 2>&1 ) ||
    { cat "$out/$name.err" >&2; exit 1; }
  t1=$(date +%s.%N)
  python3 -c 'import sys; a=sys.argv; u,s=a[3].split(); print(f"{float(a[2])-float(a[1]):.3f} {float(u)+float(s):.3f}")' "$t0" "$t1" "$cpu"
}

throughput () {
  local name=$1 pre=$2 walls="" cpus="" i r
  for i in $(seq "$repeat"); do
    r=$(run "$name" "$pre")
    walls="$walls ${r% *}"
    cpus="$cpus ${r#* }"
  done
  python3 - "$name" "$duration" "$walls" "$cpus" <<'PY'
import statistics, sys
name, dur = sys.argv[1], float(sys.argv[2])
walls = [float(x) for x in sys.argv[3].split()]
cpus = [float(x) for x in sys.argv[4].split()]
w, c = statistics.median(walls), statistics.median(cpus)
print(f"| {name} | {dur:.0f} s | {w:.2f} s | {dur / w:.1f}x | {c:.2f} s | {dur / c:.1f}x |")
PY
}

echo "# udmlfuse throughput ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg))"
echo "model: $UDML_MODEL (spec $spec); stream: $clips clips, ${duration} s; median of $repeat runs"
echo
echo "| input | stream | wall | x real time | CPU (user+sys) | x real time per CPU-second |"
echo "|---|---|---|---|---|---|"
throughput 64x64 ""
throughput 640x480 "videoscale ! video/x-raw,width=640,height=480 ! "
[ "$spec" = big ] && exit 0

echo
echo "## accuracy and video weight, clean vs udmlnoise level 8 bursts (2 s period, duty 0.5)"
export UDML_VIDEO_PRE=""
"$src/pipelines/annotate-jsonl.sh" "$stream" "$out/clean.jsonl" 2>"$out/clean.err"
export UDML_VIDEO_PRE="udmlnoise kind=gaussian level=8 period=2000000000 duty=0.5 seed=1 ! "
"$src/pipelines/annotate-jsonl.sh" "$stream" "$out/noisy.jsonl" 2>"$out/noisy.err"
score=$src/tests/pipelines/score.py
python3 "$score" "$out/clean.jsonl" "$truth" --period 2 --duty 0.5 >"$out/clean.score.json"
python3 "$score" "$out/noisy.jsonl" "$truth" --period 2 --duty 0.5 >"$out/noisy.score.json"
python3 - "$out/clean.score.json" "$out/noisy.score.json" <<'PY'
import json, sys
c, n = (json.load(open(p)) for p in sys.argv[1:3])
print()
print("| run | windows | accuracy | acc. burst windows | acc. quiet windows | median video weight, burst | median video weight, quiet |")
print("|---|---|---|---|---|---|---|")
for name, r in (("clean", c), ("noise bursts", n)):
    g = r["groups"]
    nz, cl = g.get("noisy", {}), g.get("clean", {})
    fmt = lambda v: "-" if v is None else f"{v:.3f}"
    print(f"| {name} | {r['windows']} | {r['accuracy']:.3f} | {fmt(nz.get('accuracy'))} | "
          f"{fmt(cl.get('accuracy'))} | {fmt(nz.get('median_video_weight'))} | "
          f"{fmt(cl.get('median_video_weight'))} |")
PY
