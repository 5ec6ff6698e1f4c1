#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""score-faults.py — scores udmlfuse's alerts against known sensor faults.

Each --fault MOD:START:END (seconds of stream time) must raise exactly one
alert on MOD, at a window from the first one overlapping the fault up to
alert-windows + 1 windows after the window starting at START, and clear it
between the last window ending by END and alert-windows + 1 windows after
the window starting at END. A modality without a fault must raise no alert.
Alerts at windows that reach past --end (the media's end, where one input
may stop first) are not scored.

Also reports the predicted noise per faulted modality: clean windows (no
overlap with any fault of that modality) vs faulted windows (inside one).

usage: score-faults.py OUT.jsonl --end S --alert-windows N
                       --fault MOD:START:END [...]
Prints one JSON object; exit status 0 pass, 1 fail, 2 bad input.
"""
import argparse
import json
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("jsonl")
    ap.add_argument("--end", type=float, required=True)
    ap.add_argument("--alert-windows", type=int, required=True)
    ap.add_argument("--fault", action="append", default=[])
    a = ap.parse_args()
    try:
        faults = [(m, float(s), float(e)) for m, s, e in
                  (f.split(":") for f in a.fault)]
        rows = [json.loads(l) for l in open(a.jsonl, encoding="utf-8") if l.strip()]
    except (OSError, ValueError) as e:
        sys.stderr.write(f"score-faults.py: error: {e}\n")
        return 2
    wins = [r for r in rows if "event" not in r]
    alerts = [r for r in rows if r.get("event") == "alert"]
    if len(wins) < 2:
        sys.stderr.write("score-faults.py: error: fewer than 2 windows\n")
        return 2
    hop = wins[1]["window_start"] - wins[0]["window_start"]
    dur = wins[0]["window_end"] - wins[0]["window_start"]
    end_of = {w["window_index"]: w["window_end"] for w in wins}
    mods = sorted(wins[0]["modalities"])
    n = a.alert_windows
    bad, out = [], {"windows": len(wins), "alerts": len(alerts), "noise": {}}

    scored = [al for al in alerts
              if end_of.get(al["window_index"], 1e30) <= a.end + 1e-6]
    for mod in mods:
        mine = [al for al in scored if al["modality"] == mod]
        fs = [(s, e) for m, s, e in faults if m == mod]
        if not fs:
            if mine:
                bad.append(f"{mod}: {len(mine)} alerts on the healthy modality, "
                           f"first at window {mine[0]['window_index']}")
            continue
        clean = [w["modalities"][mod]["noise"] for w in wins
                 if w["modalities"][mod]["present"] and w["window_end"] <= a.end
                 and all(w["window_end"] <= s or w["window_start"] >= e for s, e in fs)]
        faulted = [w["modalities"][mod]["noise"] for w in wins
                   if w["modalities"][mod]["present"]
                   and any(w["window_start"] >= s and w["window_end"] <= e for s, e in fs)]
        out["noise"][mod] = {
            "clean_max": max(clean), "clean_median": sorted(clean)[len(clean) // 2],
            "fault_min": min(faulted), "fault_median": sorted(faulted)[len(faulted) // 2]}
        want = []
        for s, e in fs:
            want += [("raised", round((s - dur) / hop) + 1, round(s / hop) + n + 1),
                     ("cleared", round((e - dur) / hop), round(e / hop) + n + 1)]
        got = [(al["state"], al["window_index"]) for al in mine]
        if len(got) != len(want):
            bad.append(f"{mod}: alerts {got}, expected {len(want)} "
                       f"({[(w[0], f'{w[1]}..{w[2]}') for w in want]})")
            continue
        for (st, k), (wst, lo, hi) in zip(got, want):
            if st != wst or not lo <= k <= hi:
                bad.append(f"{mod}: {st} at window {k}, expected {wst} in "
                           f"windows {lo}..{hi}")
    out["alert_list"] = [(al["modality"], al["state"], al.get("reason"),
                          al["window_index"]) for al in alerts]
    print(json.dumps(out))
    for b in bad:
        sys.stderr.write(f"score-faults.py: {b}\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
