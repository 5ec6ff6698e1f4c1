#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs one libFuzzer target for a bounded time from its seed corpus.
#
#   run-fuzz.sh TARGET SEEDGEN KIND [committed corpus dir] [-- libFuzzer flags]
#
# Seeds come from SEEDGEN (the library's own writers) plus the committed
# files; new inputs go to a scratch corpus that is removed afterwards. Any
# crash, leak, timeout or out-of-memory makes libFuzzer exit nonzero and
# leaves the input in UDML_FUZZ_ARTIFACTS (default: the working directory).
# UDML_FUZZ_TIME: seconds (default 60); extra flags after -- go to libFuzzer.
set -euo pipefail

target=$1 seedgen=$2 kind=$3
shift 3
committed=()
if [ $# -gt 0 ] && [ "$1" != "--" ]; then
  [ -d "$1" ] && committed=("$1")
  shift
fi
[ $# -gt 0 ] && [ "$1" = "--" ] && shift

work=$(mktemp -d "${TMPDIR:-/tmp}/udml-fuzz-$kind.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus" "$work/seeds"
"$seedgen" "$kind" "$work/seeds"

artifacts=${UDML_FUZZ_ARTIFACTS:-$PWD}
mkdir -p "$artifacts"

# UBSan checks are built recoverable; stop at the first report instead.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}

rc=0
"$target" \
  -max_total_time="${UDML_FUZZ_TIME:-60}" \
  -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
  -print_final_stats=1 -error_exitcode=1 \
  -artifact_prefix="$artifacts/$kind-" \
  "$@" "$work/corpus" "$work/seeds" "${committed[@]}" || rc=$?
exit $rc
