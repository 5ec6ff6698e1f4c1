# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the tool tests share: running a command, one check, the verdict.

Imported by the test scripts beside it (python3 puts a script's own folder
first on the module path).
"""
import os
import subprocess
import time

failures = []


def check(cond, what):
    """Prints ok/FAIL for one check; a failed one is kept for report()."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    else:
        print("ok:", what, flush=True)


def run(args, quiet=None, tail=None, **kw):
    """Runs args (keywords go to subprocess.run), printing the command with
    the tool's base name, its exit status and the time taken. With quiet (a
    tuple of exit statuses), standard error is printed, its last tail
    characters or all of it, when the exit status is not one of them."""
    t0 = time.time()
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    print("$ %s -> %d (%.1f s)" % (" ".join(os.path.basename(a) if i == 0 else a
                                            for i, a in enumerate(args)),
                                  p.returncode, time.time() - t0), flush=True)
    if quiet is not None and p.returncode not in quiet:
        print(p.stderr[-tail:] if tail else p.stderr)
    return p


def report():
    """The exit status of the test: 1 when a check failed, listing them."""
    if failures:
        print("%d check(s) failed:" % len(failures))
        for f in failures:
            print("  -", f)
        return 1
    print("all checks passed")
    return 0
