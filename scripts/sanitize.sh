#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the project with AddressSanitizer + UndefinedBehaviorSanitizer into
# build-asan (gcc) and runs the tests that can run there: not the valgrind
# variants, not test-overlay (it replaces malloc, which the sanitizer owns;
# the plain build runs it), not the format check. test-annotate drives
# gst-launch-1.0, which is not instrumented: it runs with the sanitizer
# runtimes preloaded and without leak checking (the leaks would be the
# shell's and Python's). Extra arguments go to meson test.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${UDML_ASAN_BUILD:-build-asan}

# Without MPI: Open MPI's runtime is not instrumented and reports its own
# allocations at exit; the MPI path is tested in the plain build.
[ -f "$dir/build.ninja" ] ||
  CC=gcc meson setup "$dir" -Db_sanitize=address,undefined -Db_lundef=false -Dmpi=disabled >/dev/null
ninja -C "$dir" >/dev/null

# gst-plugin-scanner is not instrumented and cannot load the instrumented
# plugin: scan in the test process itself.
export GST_REGISTRY_FORK=no
# UBSan checks are built recoverable; the first report fails the test.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# The slow unwinder sees through the system libraries (no frame pointers),
# so the suppressions in tests/lsan.supp can match their frames.
export ASAN_OPTIONS=detect_leaks=1:fast_unwind_on_malloc=0:detect_stack_use_after_return=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
# No BLAS pool threads: LeakSanitizer stops every thread at exit, and a
# failure there (suspected, not reproduced) turned a tool's usage error
# (exit 2) into 1 under load. The tools and the element run one BLAS thread
# anyway.
export OPENBLAS_NUM_THREADS=1

# Tests that load the plugin into an uninstrumented program (gst-launch,
# Python with gi) or run a whole GStreamer application: with the runtimes
# preloaded and leak checking off (one-time allocations of other plugins).
uninstrumented='test-annotate\|test-owntask\|test-eval-windows\|test-monitor-faults\|test-monitor-faults-gaussian\|read-meta'

mapfile -t tests < <(meson test -C "$dir" --list 2>/dev/null |
  sed -n 's|^[^ ]* / ||p' |
  grep -v -e '-valgrind$' -e '^test-overlay$' -e '^format$' -e '^size$' \
    -e "^\($uninstrumented\)\$")
rc=0
meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier 3 \
  "$@" "${tests[@]}" || rc=$?
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0 \
  meson test -C "$dir" --no-rebuild --print-errorlogs --timeout-multiplier 3 \
  "$@" ${uninstrumented//\\|/ } || rc=$?
exit $rc
