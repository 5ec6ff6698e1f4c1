#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Checks that every tracked .c file is formatted as GStreamer's gst-indent
# formats it (GNU indent, run twice as gst-indent does). With --fix, rewrites
# the files that are not.
set -euo pipefail
cd "$(dirname "$0")/.."

fmt () {
  indent --braces-on-if-line --case-brace-indentation0 --case-indentation2 \
    --braces-after-struct-decl-line --line-length80 --no-tabs --cuddle-else \
    --dont-line-up-parentheses --continuation-indentation4 --honour-newlines \
    --tab-size8 --indent-level2 --leave-preprocessor-space "$@"
}

command -v indent >/dev/null || { echo "check-format: GNU indent not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bad=0
for f in $(git ls-files '*.c' 2>/dev/null || find lib plugins tools tests bench -name '*.c'); do
  fmt "$f" -o "$tmp/a.c" && fmt "$tmp/a.c" -o "$tmp/b.c"
  if ! cmp -s "$tmp/b.c" "$f"; then
    if [ "${1:-}" = --fix ]; then
      cp "$tmp/b.c" "$f"
    else
      echo "check-format: $f is not gst-indent formatted (scripts/check-format.sh --fix)"
      bad=1
    fi
  fi
done
exit $bad
