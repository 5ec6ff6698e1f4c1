#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""score.py — scores udmlfuse JSON Lines against a stream's ground truth.

The ground truth CSV has a header and rows start,end,label (seconds). Each
window takes the label of the segment it overlaps most; windows that overlap
no segment are not scored. With --period/--duty (seconds, fraction) the
windows lying entirely inside a noise burst (noise on during the first duty
fraction of each period of stream time) are "noisy", those entirely outside
are "clean", the rest "mixed"; accuracy and the median video weight are
reported per group.

usage: score.py OUT.jsonl TRUTH.csv [--period S --duty D]
                [--min-accuracy A] [--min-windows N] [--min-present M=F ...]
Prints one JSON object; exit status 1 when a --min-* check fails (the
message names the value and the bound), 2 on bad input.
"""
import argparse
import csv
import json
import statistics
import sys


def fail(msg, code=2):
    sys.stderr.write(f"score.py: error: {msg}\n")
    sys.exit(code)


def load_truth(path):
    segs = []
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = csv.DictReader(f)
            for lineno, r in enumerate(rows, 2):
                try:
                    segs.append((float(r["start"]), float(r["end"]),
                                 str(r["label"]).strip()))
                except (KeyError, ValueError) as e:
                    fail(f"{path}:{lineno}: bad row ({e})")
    except OSError as e:
        fail(f"{path}: {e}")
    if not segs:
        fail(f"{path}: no segments")
    return segs


def truth_for(segs, a, b):
    best, best_ov = None, 0.0
    for s, e, lab in segs:
        ov = min(b, e) - max(a, s)
        if ov > best_ov:
            best, best_ov = lab, ov
    return best


def burst_group(a, b, period, duty):
    if period <= 0:
        return "all"
    on = duty * period
    eps = 1e-6
    k = int((a + eps) // period)
    ph_a = a - k * period
    if ph_a >= -eps and b <= k * period + on + eps:
        return "noisy"
    if ph_a >= on - eps and b <= (k + 1) * period + eps:
        return "clean"
    return "mixed"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("truth")
    ap.add_argument("--period", type=float, default=0.0)
    ap.add_argument("--duty", type=float, default=0.5)
    ap.add_argument("--min-accuracy", type=float, default=None)
    ap.add_argument("--min-windows", type=int, default=1)
    ap.add_argument("--min-present", action="append", default=[],
                    metavar="MODALITY=FRACTION",
                    help="fail if MODALITY is present in fewer windows")
    args = ap.parse_args()

    segs = load_truth(args.truth)
    groups = {}
    n_lines = 0
    present = {}
    try:
        f = open(args.jsonl, encoding="utf-8")
    except OSError as e:
        fail(f"{args.jsonl}: {e}")
    with f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                if "event" in r:        # an alert line, not a window
                    continue
                n_lines += 1
                a, b = float(r["window_start"]), float(r["window_end"])
            except (ValueError, KeyError) as e:
                fail(f"{args.jsonl}:{lineno}: bad record ({e})")
            for name, m in r.get("modalities", {}).items():
                present[name] = present.get(name, 0) + bool(m.get("present"))
            want = truth_for(segs, a, b)
            if want is None:
                continue
            g = groups.setdefault(burst_group(a, b, args.period, args.duty),
                                  {"n": 0, "correct": 0, "video_weight": [],
                                   "wrong": []})
            g["n"] += 1
            got = r.get("label") if r.get("valid", True) else None
            if got == want:
                g["correct"] += 1
            elif len(g["wrong"]) < 5:
                g["wrong"].append({"window": r.get("window_index"),
                                   "start": a, "got": got, "want": want})
            v = r.get("modalities", {}).get("video")
            if v is not None and v.get("present"):
                g["video_weight"].append(float(v["weight"]))

    total = sum(g["n"] for g in groups.values())
    correct = sum(g["correct"] for g in groups.values())
    out = {"records": n_lines, "windows": total,
           "accuracy": correct / total if total else 0.0,
           "present": {k: v / n_lines for k, v in sorted(present.items())},
           "groups": {}}
    for name, g in sorted(groups.items()):
        out["groups"][name] = {
            "windows": g["n"],
            "accuracy": g["correct"] / g["n"] if g["n"] else 0.0,
            "median_video_weight": (statistics.median(g["video_weight"])
                                    if g["video_weight"] else None),
            "first_errors": g["wrong"],
        }
    print(json.dumps(out, indent=1))

    rc = 0
    if total < args.min_windows:
        sys.stderr.write(f"score.py: FAIL: {total} scored windows < "
                         f"{args.min_windows} ({n_lines} records)\n")
        rc = 1
    if args.min_accuracy is not None and out["accuracy"] < args.min_accuracy:
        sys.stderr.write(f"score.py: FAIL: accuracy {out['accuracy']:.4f} < "
                         f"{args.min_accuracy} over {total} windows\n")
        rc = 1
    for spec in args.min_present:
        name, _, frac = spec.partition("=")
        try:
            frac = float(frac)
        except ValueError:
            fail(f"--min-present wants MODALITY=FRACTION, got '{spec}'")
        got = present.get(name, 0) / n_lines if n_lines else 0.0
        if got < frac:
            sys.stderr.write(f"score.py: FAIL: {name} present in {got:.3f} of "
                             f"{n_lines} windows < {frac}\n")
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
