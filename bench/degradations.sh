#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The two degradation experiments of docs/results.md on AV-digits:
#   kinds           udml and static trained with every kind (the shipped
#                   model's recipe), evaluated on every kind and level;
#                   prints the must-show checks
#   generalisation  udml, static and pe trained without the held-out kinds
#                   (HELD_OUT), evaluated on all of them
#   suppression     the kinds recipe's udml for each of UDML_SEEDS, evaluated
#                   as trained and with --mode no-uncertainty: what the
#                   uncertainty term does on the same network
#
#   bench/degradations.sh DATA_DIR [WORK_DIR]
#
# DATA_DIR holds fsdd/ and mnist/. WORK_DIR (default degradations-work/)
# keeps data, models, logs and JSON: finished models are kept and an
# interrupted training resumes. Environment:
#   BUILD     build directory (build)     EPOCHS 30   SEED 1
#   STATIC_SEEDS  seeds of the static baseline in "kinds" (SEED); with
#             several, the L8 check compares with their mean
#   UDML_SEEDS    seeds of udml in "suppression" (SEED)
#   TEST      test manifest, relative to WORK_DIR (avdigits/test.csv)
#   HELD_OUT  motion,occlusion,blocky,dropout,hum
#   PARTS     "kinds generalisation" (or any of the three)
#   JOBS      trainings run at once (2)
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 DATA_DIR [WORK_DIR]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$(cd "$1" && pwd)"
work="${2:-degradations-work}"
build="${BUILD:-$root/build}"
epochs="${EPOCHS:-30}"
seed="${SEED:-1}"
test_csv="${TEST:-avdigits/test.csv}"
held_out="${HELD_OUT:-motion,occlusion,blocky,dropout,hum}"
parts="${PARTS:-kinds generalisation}"
jobs="${JOBS:-2}"
static_seeds="${STATIC_SEEDS:-$seed}"
udml_seeds="${UDML_SEEDS:-$seed}"
tools="$build/tools"
[ -x "$tools/udml-train" ] || ninja -C "$build" >/dev/null
mkdir -p "$work"
cd "$work"
mkdir -p logs cache runs

[ -f avdigits/test.csv ] || "$tools/udml-avdigits" --fsdd "$data/fsdd" \
  --mnist "$data/mnist" --out avdigits --variant avdigits 2>logs/avdigits.log

# train NAME POLICY SEED NOISE-OPTIONS...: runs/NAME.udml, kept when it exists
train() {
  local name=$1 policy=$2 seed=$3
  shift 3
  local model="runs/$name.udml" resume=()
  [ -f "$model" ] && return 0
  [ -f "$model.ckpt" ] && resume=(--resume "$model.ckpt")
  echo "degradations: training $name" >&2
  "$tools/udml-train" -q --policy "$policy" --epochs "$epochs" --lr 0.01 \
    --seed "$seed" --cache-dir cache --val avdigits/val.csv "$@" \
    "${resume[@]}" --out "$model" avdigits/train.csv >"logs/$name.log" 2>&1
}

# the first static seed keeps the name of a one-seed run
static_name() {
  [ "$1" = "${static_seeds%% *}" ] && echo all-static || echo "all-static-s$1"
}

# SEED's udml is the kinds part's
udml_name() {
  [ "$1" = "$seed" ] && echo all-udml || echo "all-udml-s$1"
}

runs=()
static_models=()
udml_models=()
for p in $parts; do
  case $p in
    kinds)
      runs+=("$(udml_name "$seed") udml $seed --noise all")
      for s in $static_seeds; do
        static_models+=("runs/$(static_name "$s").udml")
        runs+=("$(static_name "$s") static $s --noise all")
      done ;;
    generalisation)
      for pol in udml static pe; do
        runs+=("gen-$pol $pol $seed --hold-out $held_out")
      done ;;
    suppression)
      for s in $udml_seeds; do
        udml_models+=("runs/$(udml_name "$s").udml")
        runs+=("$(udml_name "$s") udml $s --noise all")
      done ;;
    *) echo "degradations: unknown part $p" >&2; exit 2 ;;
  esac
done
# a run two parts share is trained once
mapfile -t runs < <(printf '%s\n' "${runs[@]}" | awk '!seen[$0]++')
for r in "${runs[@]}"; do
  # shellcheck disable=SC2086
  train $r &
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
done
wait

rc=0
for p in $parts; do
  case $p in
    kinds)
      "$tools/udml-eval" -q --json --protocol clean --protocol degradations \
        --cache-dir cache runs/all-udml.udml "${static_models[@]}" "$test_csv" \
        >kinds.json
      python3 "$root/bench/degradations.py" kinds kinds.json --vs static \
        | tee kinds.md || rc=1 ;;
    generalisation)
      "$tools/udml-eval" -q --json --protocol clean --protocol degradations \
        --cache-dir cache runs/gen-udml.udml runs/gen-static.udml \
        runs/gen-pe.udml "$test_csv" >generalisation.json
      python3 "$root/bench/degradations.py" generalisation \
        generalisation.json --held-out "$held_out" | tee generalisation.md ;;
    suppression)
      for mode in as-trained no-uncertainty; do
        "$tools/udml-eval" -q --json --mode "$mode" --protocol clean \
          --protocol degradations --cache-dir cache "${udml_models[@]}" \
          "$test_csv" >"suppression-$mode.json"
      done
      python3 "$root/bench/degradations.py" suppression \
        suppression-as-trained.json suppression-no-uncertainty.json \
        | tee suppression.md ;;
  esac
done
exit $rc
