#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Lists source files over MAX_FILE lines and functions over MAX_FUNC lines
# (from the line naming the function to its closing brace). Exits 1 if any.
# Usage: check-size.py [dir-or-file ...]   (default: lib plugins tools bench)
import os
import re
import sys

MAX_FILE, MAX_FUNC = 1000, 150
NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*) \(")


def sources(paths):
    for p in paths:
        if os.path.isfile(p):
            yield p
            continue
        for root, _, files in os.walk(p):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(root, f)


def functions(lines):
    """(name, first line, length) of every function definition."""
    name, start, prev = None, 0, ""
    for i, line in enumerate(lines):
        m = NAME.match(line)
        if m:
            name, start = m.group(1), i
        if line.startswith("{") and prev.rstrip().endswith(")") and name:
            for j in range(i, len(lines)):
                if lines[j].startswith("}"):
                    yield name, start + 1, j - start + 1
                    break
            name = None
        if line.strip():
            prev = line


def main():
    bad = 0
    files = funcs = 0
    for path in sources(sys.argv[1:] or ["lib", "plugins", "tools", "bench"]):
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
        files += 1
        n = len(lines) - 1 if lines and lines[-1] == "" else len(lines)
        if n > MAX_FILE:
            print(f"{path}: {n} lines (limit {MAX_FILE})")
            bad += 1
        for name, first, length in functions(lines):
            funcs += 1
            if length > MAX_FUNC:
                print(f"{path}:{first}: {name}: {length} lines (limit {MAX_FUNC})")
                bad += 1
    print(f"check-size: {files} files, {funcs} functions, {bad} over the limits")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
