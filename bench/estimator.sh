#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# How the noise estimator is trained, measured: trains `udml` on AV-digits
# with each estimator setting of docs/method.md ("Implementation notes") and
# prints, from a video sweep on the validation split, sigma-hat and the video
# weight per noise level. Results: bench/ESTIMATOR.md.
#
#   bench/estimator.sh AVDIGITS_DIR [WORK_DIR]
#
# AVDIGITS_DIR is the output of `udml-avdigits --variant avdigits`. WORK_DIR
# (default estimator-work/) keeps models and logs; finished models are kept.
# Environment: BUILD (build), EPOCHS (12), JOBS (2 trainings at a time).
set -euo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 AVDIGITS_DIR [WORK_DIR]" >&2
  exit 2
fi
root="$(cd "$(dirname "$0")/.." && pwd)"
data="$(cd "$1" && pwd)"
work="${2:-estimator-work}"
build="${BUILD:-$root/build}"
epochs="${EPOCHS:-12}"
jobs="${JOBS:-2}"
tools="$build/tools"
[ -x "$tools/udml-train" ] || ninja -C "$build" >/dev/null
mkdir -p "$work/cache"
cd "$work"

# name|udml-train options|what it is
variants=(
  "as-written|--est-norm 0 --estimator-task-grad|method.md as written: raw input, task loss through w"
  "raw|--est-norm 0|raw input, L_est only"
  "norm-1|--est-norm 1|normalised input x 1, L_est only"
  "norm-1-task|--est-norm 1 --estimator-task-grad|normalised x 1, task loss through w"
  "norm-0.25-task|--est-norm 0.25 --estimator-task-grad|normalised x 0.25, task loss through w"
  "norm-0.1|--est-norm 0.1|normalised x 0.1, L_est only"
  "default|--est-norm 0.25|normalised x 0.25, L_est only (the default)"
)

train() {
  local name=$1 opts=$2
  [ -f "$name.udml" ] && return 0
  # shellcheck disable=SC2086  # opts is a list of options
  nice -n 10 "$tools/udml-train" --policy udml --epochs "$epochs" --lr 0.01 --seed 1 \
    --cache-dir cache $opts --val "$data/val.csv" --out "$name.udml" \
    "$data/train.csv" >"$name.log" 2>&1
}

running=0
for v in "${variants[@]}"; do
  IFS='|' read -r name opts _ <<<"$v"
  echo "estimator: training $name ($opts)" >&2
  train "$name" "$opts" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

for v in "${variants[@]}"; do
  IFS='|' read -r name _ _ <<<"$v"
  [ -f "$name.json" ] && [ "$name.json" -nt "$name.udml" ] && continue
  "$tools/udml-eval" --json --protocol sweep-video --cache-dir cache "$name.udml" \
    "$data/val.csv" >"$name.json" 2>"$name.eval.log"
done

python3 - "${variants[@]}" <<'PY'
import json, sys

levels = [1, 5, 8, 10, 11]
print("| setting | val acc | video σ̂ at level 1 / 5 / 8 / 10 / 11 | video w/M at level 1 / 5 / 8 / 10 / 11 | audio σ̂ (clean) |")
print("|---|---|---|---|---|")
for v in sys.argv[1:]:
    name, opts, what = v.split("|")
    m = json.load(open(name + ".json"))["models"][0]
    rows = {r["level"]: r for r in m["sweep"] if r["modality"] == "video"}
    sig = " / ".join("%.2f" % rows[l]["noise"]["video"] for l in levels)
    w = " / ".join("%.3f" % rows[l]["weight"]["video"] for l in levels)
    print("| %s (`%s`) | %.1f | %s | %s | %.2f |" % (
        what, opts, 100 * rows[1]["accuracy"], sig, w, rows[1]["noise"]["audio"]))
PY
