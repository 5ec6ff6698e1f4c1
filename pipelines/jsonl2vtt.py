#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""jsonl2vtt.py — converts udmlfuse JSON Lines to WebVTT subtitles.

One cue per valid window, from window_start to window_end, reading
"label (confidence %)" and the audio/video weight shares.

usage: jsonl2vtt.py IN.jsonl [OUT.vtt]   (OUT defaults to stdout; IN may be -)
"""
import json
import sys


def stamp(t):
    ms = int(round(max(t, 0.0) * 1000.0))
    h, ms = divmod(ms, 3600000)
    m, ms = divmod(ms, 60000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def cue_text(r):
    # udmlfuse writes a non-finite number as null
    conf = r.get("confidence")
    text = r["label"] + (f" ({100.0 * conf:.0f}%)" if conf is not None else "")
    parts = []
    for name, m in r.get("modalities", {}).items():
        w = m.get("weight")
        if not m.get("present"):
            parts.append(f"{name} absent")
        else:
            parts.append(f"{name} {w:.2f}" if w is not None else name)
    return text + ("\n" + "  ".join(parts) if parts else "")


def main(argv):
    if len(argv) not in (2, 3):
        sys.stderr.write("usage: jsonl2vtt.py IN.jsonl [OUT.vtt]\n")
        return 2
    src = sys.stdin if argv[1] == "-" else open(argv[1], encoding="utf-8")
    cues = []
    for lineno, line in enumerate(src, 1):
        line = line.strip()
        if not line:
            continue
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            sys.stderr.write(f"jsonl2vtt.py: error: {argv[1]}:{lineno}: {e}\n")
            return 1
        if "event" in r or not r.get("valid", True) or not r.get("label"):
            continue
        cues.append((r["window_start"], r["window_end"], cue_text(r)))
    out = sys.stdout if len(argv) == 2 else open(argv[2], "w", encoding="utf-8")
    out.write("WEBVTT\n\n")
    for i, (a, b, text) in enumerate(cues, 1):
        out.write(f"{i}\n{stamp(a)} --> {stamp(b)}\n{text}\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
