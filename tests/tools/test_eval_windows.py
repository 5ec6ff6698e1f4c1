#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""udml-eval cuts windows exactly as udmlfuse does.

Usage: test_eval_windows.py TOOLS_BUILD_DIR MAKE_CLIP

Trains a small non-default model (0.5 s windows, RGB, 2 frames per window)
for one epoch on generated clips, then runs `udml-eval --windows` on a
one-row manifest of a 9 s clip and `filesrc ! decodebin ! udmlfuse` on the
same file (mkv: MPEG-4 + FLAC at 44.1 kHz, timestamps rounded to 1 ms by
the container; webm: VP8 + Vorbis). Per window: the same index and start,
the same label, and every probability, noise, weight, alpha and
uncertainty weight equal within ATOL. The mkv clip's audio ends with its
video, so the element gives no record past the last window either. Needs
GST_PLUGIN_PATH_1_0 holding the plugin (skipped, exit 77, without it).
Exit status carries the verdict.
"""
import functools
import json
import os
import shutil
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
import tooltest  # noqa: E402
from tooltest import check, report  # noqa: E402

ATOL = 1e-5
SPEC = ["--window", "0.5", "--video-format", "rgb", "--frames", "2",
        "--video-size", "32x32", "--widths", "8,16", "--fps", "10"]
# the tail of standard error shown when a command fails
run = functools.partial(tooltest.run, quiet=(0,), tail=1500, timeout=120)


def make_clip(make, path, size, fps, secs, rate, video, audio, seed):
    p = run([make, path, size, str(fps), str(secs), str(rate), video, str(audio),
             str(seed)])
    if p.returncode != 0 or not os.path.exists(path):
        raise RuntimeError("cannot generate " + path)


def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def compare(ev, el, name):
    """Element records (results only) against udml-eval's, window by window."""
    results = [r for r in el if "event" not in r and r["valid"]]
    check(len(ev) > 0 and len(results) == len(ev),
          "%s: %d windows from udml-eval, %d results from udmlfuse"
          % (name, len(ev), len(results)))
    last_end = max((r["window_end"] for r in ev), default=0)
    extra = [r for r in el if "event" not in r and not r["valid"]
             and r["window_start"] < last_end - 1e-9]
    check(not extra, "%s: no window without a result inside the clip (%s)"
          % (name, [r["window_index"] for r in extra]))
    by_index = {r["window_index"]: r for r in results}
    worst, where, labels_ok, times_ok = 0.0, None, True, True
    for e in ev:
        g = by_index.get(e["window_index"])
        if g is None:
            times_ok = False
            print("  window %d missing in the element's records" % e["window_index"])
            continue
        if abs(g["window_start"] - e["window_start"]) > 1e-9 \
                or abs(g["window_end"] - e["window_end"]) > 1e-9:
            times_ok = False
            print("  window %d: element %.9f-%.9f, udml-eval %.9f-%.9f"
                  % (e["window_index"], g["window_start"], g["window_end"],
                     e["window_start"], e["window_end"]))
        if g["label_id"] != e["label_id"] or g["label"] != e["label"]:
            labels_ok = False
            print("  window %d: element label %d, udml-eval %d"
                  % (e["window_index"], g["label_id"], e["label_id"]))
        pairs = [("confidence", g["confidence"], e["confidence"])]
        pairs += [("probabilities[%d]" % k, a, b) for k, (a, b)
                  in enumerate(zip(g["probabilities"], e["probabilities"]))]
        for m, em in e["modalities"].items():
            gm = g["modalities"][m]
            if gm["present"] != em["present"]:
                pairs.append((m + ".present", 1.0, 0.0))
            for key in ("noise", "weight", "alpha", "uncertainty_weight"):
                pairs.append((m + "." + key, gm[key], em[key]))
        for key, a, b in pairs:
            d = abs(a - b)
            if d > worst:
                worst, where = d, "window %d %s: element %.8g, udml-eval %.8g" % (
                    e["window_index"], key, a, b)
    check(times_ok, "%s: every window at the same index, start and end" % name)
    check(labels_ok, "%s: the same label in every window" % name)
    check(worst <= ATOL, "%s: probabilities, noise and weights within %g "
          "(max difference %.3g%s)" % (name, ATOL, worst,
                                        ", at " + where if where else ""))


def main():
    tools, make = sys.argv[1], sys.argv[2]
    train = os.path.join(tools, "udml-train")
    evalt = os.path.join(tools, "udml-eval")
    if not os.environ.get("GST_PLUGIN_PATH_1_0") or not shutil.which("gst-launch-1.0"):
        print("skip: GST_PLUGIN_PATH_1_0 not set or no gst-launch-1.0")
        return 77
    with tempfile.TemporaryDirectory(prefix="udml-evalwin-") as d:
        data = os.path.join(d, "data")
        for label, (video, freq) in {"red": ("ff0000", 300),
                                     "ball": ("ball", 1500)}.items():
            os.makedirs(os.path.join(data, label))
            for i, ext in enumerate(("mkv", "webm")):
                make_clip(make, os.path.join(data, label, "c%d.%s" % (i, ext)),
                          "64x48", 10, 1.5, 16000, video, freq, i + 1)
        model = os.path.join(d, "m.udml")
        p = run([train, "--epochs", "1", "--out", model] + SPEC + [data])
        check(p.returncode == 0, "a small model trains")
        if p.returncode != 0:
            return 1

        # --windows needs the clean protocol
        p = run([evalt, "--protocol", "sweep-video", "--windows",
                 os.path.join(d, "x.jsonl"), model, data])
        check(p.returncode == 2 and "--windows needs the clean protocol" in p.stderr,
              "--windows without the clean protocol is a usage error")

        for ext in ("mkv", "webm"):
            clip = os.path.join(d, "long." + ext)
            # 25 fps and 44.1 kHz: the element converts both, as udml-eval does
            make_clip(make, clip, "96x72", 25, 9, 44100, "ball", 440, 3)
            manifest = os.path.join(d, "long-%s.csv" % ext)
            with open(manifest, "w") as f:
                f.write("path,label\nlong.%s,ball\n" % ext)
            ev_path = os.path.join(d, "eval-%s.jsonl" % ext)
            p = run([evalt, "--quiet", "--no-cache", "--protocol", "clean",
                     "--windows", ev_path, model, manifest])
            ev = records(ev_path) if p.returncode == 0 else []
            check(p.returncode == 0 and len(ev) == 18
                  and all(r["path"] == clip and r["row"] == 2 and r["truth"] == "ball"
                          for r in ev),
                  "%s: udml-eval --windows writes 18 windows of 0.5 s, each naming "
                  "its row (got %d)" % (ext, len(ev)))
            el_path = os.path.join(d, "fuse-%s.jsonl" % ext)
            pipe = ("filesrc location=%s ! decodebin name=d udmlfuse name=f model=%s "
                    "json-location=%s ! fakesink sync=false d. ! queue ! f.video_0 "
                    "d. ! queue ! f.audio_0" % (clip, model, el_path))
            p = run(["gst-launch-1.0", "-q"] + pipe.split())
            el = records(el_path) if p.returncode == 0 else []
            check(p.returncode == 0 and el, "%s: udmlfuse annotates the clip" % ext)
            compare(ev, el, ext)
            if ext == "mkv":
                # FLAC ends with the video: no window past the clip's end
                tail = [r["window_index"] for r in el if "event" not in r
                        and not r["valid"]]
                check(not tail, "mkv: no record without a result (got windows %s)"
                      % tail)

    return report()


if __name__ == "__main__":
    sys.exit(main())
