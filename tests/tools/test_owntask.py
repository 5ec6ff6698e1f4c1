#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Training on one's own labelled media, end to end.

Usage: test_owntask.py TOOLS_BUILD_DIR MAKE_CLIP

Generates tiny clips at test time with MAKE_CLIP (udml-make-clip, libav:
mp4 H.264 + AAC, webm VP8 + Vorbis, mkv MPEG-4 + FLAC) and checks: the folder per class
layout (hidden files skipped, a bad file named with its reason, --skip-bad,
short clips counted); a segment manifest and each of its bad-row cases;
the label order with and without --labels and the label errors; the spec
options refused before any decoding; --val-split; udml-inspect showing the
whole spec; udml-eval on such a model; and, when GST_PLUGIN_PATH_1_0 holds
the plugin, udmlfuse running the model (RGB, 0.5 s windows, 2 frames) on
I420 1280x720 at 30 fps with 48 kHz stereo, records named by the model's
labels. Exit status carries the verdict.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
from tooltest import check, report, run  # noqa: E402


MAKE_CLIP = None


def make_clip(path, pattern, freq, tenths, seed=1):
    """A 64x48 clip of tenths/10 s at 10 fps, 16 kHz stereo."""
    p = subprocess.run([MAKE_CLIP, path, "64x48", "10", "%g" % (tenths / 10.0), "16000",
                        pattern, str(freq), str(seed)], capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(path):
        print(p.stderr)
        raise RuntimeError("cannot generate " + path)


# class -> (video pattern, audio frequency); blue_low / blue_high differ
# only by audio, red / blue_low only by video
CLASSES = {"red": ("ff0000", 300), "blue_low": ("0000ff", 300),
           "blue_high": ("0000ff", 1500)}
SPEC = ["--window", "0.5", "--video-format", "rgb", "--frames", "2",
        "--video-size", "32x32", "--widths", "8,16", "--fps", "10"]


def loaded(stderr, name):
    """(clips, windows) of the note udml-train prints for a data source."""
    m = re.search(re.escape(name) + r": (\d+) clips (?:decoded|from the feature cache), "
                  r"(\d+) windows", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else None


def labels_of(inspect, model):
    p = run([inspect, model])
    for line in p.stdout.splitlines():
        if line.startswith("labels:"):
            return line.split(":", 2)[2].split()
    return None


def check_spec_errors(train, d, data):
    out = os.path.join(d, "never.udml")
    cases = [
        (["--video-size", "4x4"], "too small for 4 stages"),
        (["--window", "0.01"], "shorter than one FFT"),
        (["--fps", "200"], "--fps"),
        (["--widths", "1,2,3,4,5,6,7,8,9"], "the core allows"),
        (["--frames", "8", "--window", "0.5"], "holds only"),
        (["--video-format", "yuv"], "expected gray or rgb"),
        (["--mels", "2"], "too few for 4 stages"),
        (["--hop", "0"], "--hop"),
    ]
    for args, want in cases:
        p = run([train, "--out", out] + args + [data])
        check(p.returncode == 2 and want in p.stderr and "decoded" not in p.stderr
              and not os.path.exists(out),
              "spec %s refused before decoding with '%s'" % (" ".join(args), want))
        if want not in p.stderr:
            print(p.stderr[-800:])


def check_labels(train, inspect, d, data):
    # default: sorted union
    m1 = os.path.join(d, "m1.udml")
    p = run([train, "--epochs", "1", "--skip-bad", "--out", m1] + SPEC + [data])
    check(p.returncode == 0 and labels_of(inspect, m1) == sorted(CLASSES),
          "labels are the sorted union by default")
    if p.returncode != 0:
        print(p.stderr[-2000:])
    # a manifest listing them unsorted: still sorted
    unsorted = os.path.join(d, "unsorted.csv")
    with open(unsorted, "w") as f:
        f.write("path,label\n")
        for lab in ("red", "blue_low", "blue_high"):
            for ext in ("webm", "mp4"):
                name = "c0.webm" if ext == "webm" else "c1.mp4"
                f.write("data/%s/%s,%s\n" % (lab, name, lab))
    m0 = os.path.join(d, "m0.udml")
    p = run([train, "--epochs", "1", "--out", m0] + SPEC + [unsorted])
    check(p.returncode == 0 and labels_of(inspect, m0) == sorted(CLASSES),
          "labels of an unsorted manifest are sorted")
    # --labels fixes the order
    order = ["red", "blue_low", "blue_high", "spare"]
    lf = os.path.join(d, "labels.txt")
    open(lf, "w").write("\n".join(order) + "\n")
    m2 = os.path.join(d, "m2.udml")
    p = run([train, "--epochs", "1", "--skip-bad", "--labels", lf, "--out", m2] + SPEC + [data])
    check(p.returncode == 0 and labels_of(inspect, m2) == order, "--labels fixes the order")
    # a data label missing from --labels: an error naming the file
    short = os.path.join(d, "short-labels.txt")
    open(short, "w").write("red\nblue_low\n")
    p = run([train, "--epochs", "1", "--labels", short, "--out", os.path.join(d, "x.udml")]
            + SPEC + [data])
    check(p.returncode == 1 and "unknown label 'blue_high'" in p.stderr
          and os.path.join(data, "blue_high") in p.stderr and "epoch" not in p.stderr,
          "a data label missing from --labels is an error naming the file")
    # names too long, too many labels
    bad = os.path.join(d, "badlabels")
    long_name = "x" * 40
    for lab in (long_name, "ok"):
        os.makedirs(os.path.join(bad, lab))
        open(os.path.join(bad, lab, "a.mp4"), "w").write("junk")
    p = run([train, "--out", os.path.join(d, "x.udml"), bad])
    check(p.returncode == 1 and long_name in p.stderr and "1 to 31 bytes" in p.stderr
          and "decoded" not in p.stderr, "a label too long is an error listing it")
    many = os.path.join(d, "many")
    for k in range(65):
        os.makedirs(os.path.join(many, "c%02d" % k))
        open(os.path.join(many, "c%02d" % k, "a.mp4"), "w").write("junk")
    p = run([train, "--out", os.path.join(d, "x.udml"), many])
    check(p.returncode == 1 and "65 labels" in p.stderr and "at most 64" in p.stderr,
          "more than 64 labels is a clear error")
    return m1


def check_segments(train, d, clips):
    lf = os.path.join(d, "seg-labels.txt")
    open(lf, "w").write("red\nblue_low\nblue_high\n")
    seg = os.path.join(d, "seg.csv")
    with open(seg, "w") as f:
        f.write("path,label,start,end\n")
        f.write("clips/long.mkv,red,0,1.0\n")             # 2 good: windows 0, .25, .5
        f.write("clips/long.mkv,blue_low,1.0,2.0\n")      # 3 good: 3 windows
        f.write("clips/long.mkv,red,1.5,1.5\n")           # 4 end <= start
        f.write("clips/long.mkv,red,2.0,9.0\n")           # 5 end past the media
        f.write("clips/long.mkv,purple,0,1\n")            # 6 unknown label
        f.write("clips/nothing.mkv,red,0,1\n")            # 7 missing file
        f.write("clips/long.mkv,blue_high,x,1\n")         # 8 not a time
    out = os.path.join(d, "seg.udml")
    p = run([train, "--epochs", "1", "--labels", lf, "--out", out] + SPEC + [seg])
    err = p.stderr
    check(p.returncode == 1 and not os.path.exists(out), "bad segment rows stop the run")
    check("seg.csv:4: " in err and "not after start" in err, "segment end <= start named with line")
    check("seg.csv:5: " in err and "past the end of the media" in err,
          "segment end past the media named with line")
    check("seg.csv:6: " in err and "unknown label 'purple'" in err, "unknown label named with line")
    check("seg.csv:7: " in err and "nothing.mkv" in err and "No such file" in err,
          "missing file named with line")
    check("seg.csv:8: " in err and "not a time" in err, "bad start named with line")
    check("seg.csv:2:" not in err and "seg.csv:3:" not in err, "good segments not reported")
    check("5 bad rows" in err, "bad rows counted")
    p = run([train, "--epochs", "1", "--skip-bad", "--labels", lf, "--out", out] + SPEC + [seg])
    check(p.returncode == 0 and loaded(p.stderr, "seg.csv") == (2, 6),
          "segments give every window that fits at --hop (6 windows)")
    if p.returncode != 0 or loaded(p.stderr, "seg.csv") != (2, 6):
        print(p.stderr[-1500:])
    # a validation label the model does not know names the row
    val = os.path.join(d, "val.csv")
    open(val, "w").write("path,label\nclips/long.mkv,green\n")
    p = run([train, "--epochs", "1", "--skip-bad", "--labels", lf, "--val", val, "--out",
             os.path.join(d, "y.udml")] + SPEC + [seg])
    check("val.csv:2: " in p.stderr and "unknown label 'green'" in p.stderr,
          "a validation label unknown to the model names the row")


def check_element(model, d, labels):
    if not os.environ.get("GST_PLUGIN_PATH_1_0") or not shutil.which("gst-launch-1.0"):
        print("skip: GST_PLUGIN_PATH_1_0 not set, no element check")
        return
    out = os.path.join(d, "fuse.jsonl")
    pipe = ("udmlfuse name=f model=%s json-location=%s ! fakesink sync=false "
            "videotestsrc num-buffers=60 pattern=blue ! video/x-raw,format=I420,width=1280,"
            "height=720,framerate=30/1 ! queue ! f.video_0 "
            "audiotestsrc num-buffers=20 samplesperbuffer=4800 freq=1500 ! "
            "audio/x-raw,format=S16LE,rate=48000,channels=2 ! queue ! f.audio_0" % (model, out))
    p = run(["gst-launch-1.0", "-q"] + pipe.split())
    recs = []
    if p.returncode == 0 and os.path.exists(out):
        # window records only: alert lines carry an "event"
        recs = [r for r in (json.loads(l) for l in open(out) if l.strip())
                if "event" not in r]
    check(p.returncode == 0 and len(recs) == 4,
          "udmlfuse with only model= on I420 1280x720 30 fps + 48 kHz stereo: "
          "4 windows of 2 s (got %d)" % len(recs))
    if p.returncode != 0:
        print(p.stderr[-1500:])
    check(recs and all(abs(r["window_end"] - r["window_start"] - 0.5) < 1e-9 for r in recs),
          "the element windows at the model's 0.5 s")
    check(recs and all(r["label"] in labels and r["label"] == labels[r["label_id"]]
                       for r in recs), "records carry the model's label names")
    check(recs and all(r["modalities"]["audio"]["present"] and r["modalities"]["video"]["present"]
                       and r["modalities"]["video"]["coverage"] > 0.99 for r in recs),
          "both modalities in every window")


def main():
    global MAKE_CLIP
    tools = sys.argv[1]
    MAKE_CLIP = sys.argv[2]
    train = os.path.join(tools, "udml-train")
    evalt = os.path.join(tools, "udml-eval")
    inspect = os.path.join(tools, "udml-inspect")
    with tempfile.TemporaryDirectory(prefix="udml-owntask-") as d:
        data = os.path.join(d, "data")
        for lab, (pattern, freq) in CLASSES.items():
            os.makedirs(os.path.join(data, lab))
            for i, ext in enumerate(("webm", "mp4", "mkv")):
                make_clip(os.path.join(data, lab, "c%d.%s" % (i, ext)), pattern, freq, 12 + i)
        make_clip(os.path.join(data, "red", "short.webm"), "ff0000", 300, 3)
        open(os.path.join(data, "red", ".hidden.mp4"), "w").write("not media")
        open(os.path.join(data, "red", "notes.mp4"), "w").write("not media")
        os.makedirs(os.path.join(d, "clips"))
        make_clip(os.path.join(d, "clips", "long.mkv"), "ff0000", 300, 25)

        # folder layout: the bad file named with its reason, hidden files skipped
        out = os.path.join(d, "m.udml")
        p = run([train, "--epochs", "1", "--out", out] + SPEC + [data])
        bad = os.path.join(data, "red", "notes.mp4")
        check(p.returncode == 1 and bad + ": " in p.stderr and "cannot open media" in p.stderr
              and "stopping before training" in p.stderr and not os.path.exists(out),
              "folder layout: a bad file is named with its reason, the run stops")
        check(".hidden" not in p.stderr, "hidden files are skipped")
        check("1 clip shorter than the 0.5 s window skipped" in p.stderr,
              "clips shorter than a window are skipped and counted")
        if p.returncode != 1:
            print(p.stderr[-2000:])

        check_spec_errors(train, d, data)
        model = check_labels(train, inspect, d, data)

        # every container trained from: 9 clips of 1.2-1.4 s at hop 0.25
        p = run([train, "--epochs", "1", "--skip-bad", "--val-split", "0.34", "--out",
                 out] + SPEC + [data])
        split = loaded(p.stderr, "(validation split)")
        # files, by label: red 5 (notes.mp4 bad, short.webm short), others 3;
        # 0.34 of them: 2 of red (c2.mkv, short.webm), 1 of each other
        check(p.returncode == 0 and "warning: " + bad in p.stderr and split is not None
              and split[0] == 4 and loaded(p.stderr, data)[0] == 6,
              "--skip-bad skips the bad file; --val-split holds out files per label")
        if p.returncode != 0:
            print(p.stderr[-2000:])
        p2 = run([train, "--epochs", "1", "--skip-bad", "--val-split", "0.34", "--out",
                  os.path.join(d, "m-again.udml")] + SPEC + [data])
        check(split is not None and loaded(p2.stderr, "(validation split)") == split
              and loaded(p2.stderr, data) == loaded(p.stderr, data),
              "--val-split is deterministic")
        check(p.stderr.count("clean noise p99") == 2
              and p.stderr.count("(validation windows)") == 2,
              "the clean-noise calibration is taken on the --val-split windows")

        p = run([inspect, out])
        s = p.stdout
        check(p.returncode == 0 and "32x32 rgb (3 channels), 10/1 fps, 2 frames per window" in s
              and "window     0.500 s, hop 0.500 s" in s and "input 6x32x32" in s
              and "input 1x64x51" in s and "encoder 8-16 (2 stages)" in s,
              "udml-inspect prints the whole spec")

        p = run([evalt, "--json", "--protocol", "all", "--skip-bad", out, data])
        ok = p.returncode == 0
        if ok:
            j = json.loads(p.stdout)
            ok = len(j["models"]) == 1 and len(j["models"][0]["results"]) > 1
        check(ok, "udml-eval runs every protocol on a non-default model")
        if not ok:
            print(p.stderr[-2000:])
        if not ok:
            print(p.stderr[-1500:])

        # no spec options: the AV-digits spec of the shipped model
        shipped = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                               "models", "avdigits.udml")
        mdef = os.path.join(d, "default.udml")
        p = run([train, "--epochs", "1", "--skip-bad", "--widths", "4,4,4,4", "--out", mdef,
                 data])
        want = [l for l in run([inspect, shipped]).stdout.splitlines()
                if l.startswith("  ") and ("Hz mono" in l or "fps" in l or "window " in l)]
        got = [l for l in run([inspect, mdef]).stdout.splitlines()
               if l.startswith("  ") and ("Hz mono" in l or "fps" in l or "window " in l)]
        check(p.returncode == 0 and len(want) == 3 and got == want,
              "the default spec is the shipped AV-digits model's")
        if got != want:
            print(got, want)

        check_segments(train, d, os.path.join(d, "clips"))
        check_element(out, d, labels_of(inspect, out) or [])

    return report()


if __name__ == "__main__":
    sys.exit(main())
