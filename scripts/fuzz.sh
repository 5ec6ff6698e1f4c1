#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the libFuzzer targets with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer into build-fuzz and runs the fuzz suite: each
# target for UDML_FUZZ_TIME seconds (default 60). Any crash, leak or timeout
# fails; the input is kept in build-fuzz/tests/fuzz/artifacts/.
# UDML_FUZZ_BUILD_ONLY=1 stops after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${UDML_FUZZ_BUILD:-build-fuzz}

command -v clang >/dev/null || { echo "fuzz: clang not installed (scripts/deps.sh)" >&2; exit 1; }
[ -f "$dir/build.ninja" ] ||
  CC=clang meson setup "$dir" -Dfuzz=enabled -Db_sanitize=address,undefined \
    -Db_lundef=false >/dev/null
# Only what the suite runs: the rest of the project is compiled as the
# targets need it.
targets=$(meson introspect "$dir" --targets |
  python3 -c 'import json, os, sys
for t in json.load(sys.stdin):
    if t["defined_in"].endswith("tests/fuzz/meson.build"):
        for f in t["filename"]: print(os.path.relpath(f, sys.argv[1]))' "$dir")
ninja -C "$dir" $targets >/dev/null
[ -n "${UDML_FUZZ_BUILD_ONLY:-}" ] && exit 0

export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
meson test -C "$dir" --no-rebuild --suite fuzz --print-errorlogs "$@"
