#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# A longer fuzzing campaign: each libFuzzer target of tests/fuzz for at
# least UDML_FUZZ_RUNS executions (default 10^6), one after the other, on one
# core. Prints a Markdown table (docs/fuzzing.md) and keeps the logs and any
# crashing inputs in the output directory.
#
#   bench/fuzz-campaign.sh [OUTDIR]      (default build-fuzz/campaign)
#
# Builds build-fuzz as scripts/fuzz.sh does.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${UDML_FUZZ_RUNS:-1000000}
out=${1:-build-fuzz/campaign}
targets=${UDML_FUZZ_TARGETS:-model checkpoint manifest featcache}

UDML_FUZZ_BUILD_ONLY=1 scripts/fuzz.sh
mkdir -p "$out"
out=$(cd "$out" && pwd)

echo "| target | executions | exec/s | time (s) | cov | ft | corpus | crashes |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
fail=0
for t in $targets; do
  log=$out/$t.log
  rc=0
  start=$(date +%s)
  UDML_FUZZ_TIME=0 UDML_FUZZ_ARTIFACTS=$out/artifacts \
    tests/fuzz/run-fuzz.sh build-fuzz/tests/fuzz/fuzz-$t build-fuzz/tests/fuzz/fuzz-seeds \
    "$t" "tests/fuzz/corpus/$t" -- -runs="$runs" >"$log" 2>&1 || rc=$?
  secs=$(($(date +%s) - start))
  [ $rc -eq 0 ] || fail=1
  # last status line: "#N DONE cov: C ft: F corp: U/SIZE ..."
  line=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$line")
  corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$line")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  crashes=$(ls "$out/artifacts" 2>/dev/null | grep -c "^$t-" || true)
  echo "| $t | ${execs:-?} | ${eps:-?} | $secs | ${cov:-?} | ${ft:-?} | ${corp:-?} | $crashes (exit $rc) |"
done
exit $fail
