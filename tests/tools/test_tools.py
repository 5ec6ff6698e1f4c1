#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""End-to-end checks of udml-train and udml-eval on generated clips.

Usage: test_tools.py TOOLS_BUILD_DIR

Writes small WAV + PGM clips (audio,video,label manifests) into a temporary
directory, then checks: bad rows named with file:line, empty manifests,
unknown labels, --skip-bad, a tiny training run giving a loadable model,
the feature cache, interrupt + resume, eval --json keys and invariants, and
that --plot writes valid SVG, and that eval refuses a model built for other
features. Then bad input: options and --help of every tool, a feature cache
with forged labels or features, unreadable manifests, output paths checked
before any work, lost standard output, a directory where a file belongs.
Exit status carries the verdict.
"""
import csv
import functools
import json
import math
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
import tooltest  # noqa: E402
from tooltest import check, report  # noqa: E402

# standard error shown for any exit status but the tools' own 0, 1, 2, 130
run = functools.partial(tooltest.run, quiet=(0, 1, 2, 130))


def write_wav(path, freq, rate=8000, seconds=1.0):
    n = int(rate * seconds)
    data = b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate)))
                    for i in range(n))
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE")
        f.write(b"fmt " + struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16))
        f.write(b"data" + struct.pack("<I", len(data)) + data)


def write_pgm(path, label, size=28):
    # a bar whose position encodes the label
    px = bytearray(size * size)
    for y in range(size):
        for x in range(size):
            if abs(x - (3 + 2 * label)) <= 1 or (y + label) % 9 == 0:
                px[y * size + x] = 230
    with open(path, "wb") as f:
        f.write(b"P5\n%d %d\n255\n" % (size, size))
        f.write(bytes(px))


def set_meta(path, out, key, value, prefix=None):
    """Copies a model file with metadata `key` set to `value` (an int, or a
    string of the old length) and the header CRC re-sealed, so only the
    loader's consistency checks can refuse it. prefix = (old, new) also
    renames the tensors "old.*" to "new.*" (same length)."""
    b = bytearray(open(path, "rb").read())
    hsize = struct.unpack_from("<Q", b, 16)[0]
    if prefix:
        head = bytes(b[32:32 + hsize]).replace(prefix[0].encode() + b".",
                                               prefix[1].encode() + b".")
        b[32:32 + hsize] = head
    pos, k = 36, key.encode()
    for _ in range(struct.unpack_from("<I", b, 32)[0]):
        klen = struct.unpack_from("<H", b, pos)[0]
        name = bytes(b[pos + 2:pos + 2 + klen])
        pos += 2 + klen
        typ = b[pos]
        pos += 1
        if name == k:
            if typ == 1:
                struct.pack_into("<q", b, pos, value)
            else:
                assert typ == 4 and struct.unpack_from("<I", b, pos)[0] == len(value)
                b[pos + 4:pos + 4 + len(value)] = value.encode()
            break
        size = {1: 8, 2: 4, 3: 8}.get(typ)
        if size is None:
            n = struct.unpack_from("<I", b, pos)[0]
            size = 4 + {4: 1, 5: 8, 6: 4}[typ] * n
        pos += size
    else:
        raise KeyError(key)
    crc = zlib.crc32(bytes(b[0:28]))
    crc = zlib.crc32(bytes(b[32:32 + hsize]), crc)
    struct.pack_into("<I", b, 28, crc)
    open(out, "wb").write(b)


def rename_meta(path, out, old, new):
    """Copies a model file with every metadata key containing `old` renamed
    to `new` (same length) and the header CRC re-sealed: a file written
    before a key existed."""
    assert len(old) == len(new)
    b = bytearray(open(path, "rb").read())
    hsize = struct.unpack_from("<Q", b, 16)[0]
    b[32:32 + hsize] = bytes(b[32:32 + hsize]).replace(old.encode(), new.encode())
    crc = zlib.crc32(bytes(b[0:28]))
    crc = zlib.crc32(bytes(b[32:32 + hsize]), crc)
    struct.pack_into("<I", b, 28, crc)
    open(out, "wb").write(b)


def check_degradation_points(m, what):
    """JSON shape of one model's "degradations" array."""
    pts = m.get("degradations")
    check(isinstance(pts, list) and len(pts) > 0, "%s: degradations array" % what)
    if not pts:
        return
    keys = all(set(p) == {"kind", "modality", "level", "accuracy", "weight", "noise",
                          "unimodal_accuracy"}
               and set(p["weight"]) == {"audio", "video"}
               and set(p["noise"]) == {"audio", "video"}
               and set(p["unimodal_accuracy"]) == {"audio", "video"} for p in pts)
    check(keys, "%s: degradation point keys" % what)
    if not keys:
        return
    kinds = {}
    for p in pts:
        kinds.setdefault((p["kind"], p["modality"]), []).append(p["level"])
    want = {(k, "audio") for k in ("gaussian", "salt", "babble", "clip", "dropout", "muffle",
                                   "hum")}
    want |= {(k, "video") for k in ("gaussian", "salt", "dark", "blur", "motion", "occlusion",
                                    "blocky")}
    check(set(kinds) == want, "%s: every visible kind on its modality, no freeze (got %s)"
          % (what, sorted(set(kinds) ^ want)))
    check(all(v == list(range(1, 12)) for v in kinds.values()),
          "%s: levels 1..11 per kind" % what)
    worst = max(abs(p["weight"]["audio"] + p["weight"]["video"] - 1) for p in pts)
    check(worst <= 1e-4, "%s: degradation weights sum to 1 (max |sum-1| = %.2e, atol 1e-4)"
          % (what, worst))
    # audio level 1 goes through the waveform and log-mel again: equal to
    # the clean features the video kinds see at level 1 (atol 1e-6)
    clean = [p for p in pts if p["level"] == 1]
    dev = max(abs(p["weight"]["audio"] - clean[-1]["weight"]["audio"])
              + abs(p["accuracy"] - clean[-1]["accuracy"]) for p in clean)
    check(dev <= 1e-6, "%s: level 1 of the audio kinds (from the waveform) equals the clean "
          "features (max diff %.2e, atol 1e-6)" % (what, dev))
    # and its unimodal accuracies are the clean protocol's
    res = {r["condition"]: r for r in m.get("results", [])}
    if "clean" in res:
        dev = max(abs(p["unimodal_accuracy"][mod] - res["clean"]["accuracy_" + mod])
                  for p in clean for mod in ("audio", "video"))
        check(dev <= 1e-6, "%s: unimodal accuracies at level 1 equal the clean protocol's "
              "(max diff %.2e, atol 1e-6)" % (what, dev))


def check_degrade(train, evalt, inspect, good, d):
    """--noise/--hold-out parsing, the calibration round trip and display,
    and the degradations protocol on a small model trained with occlusion."""
    out = os.path.join(d, "kinds.udml")
    p = run([train, "--epochs", "1", "--noise", "gaussian,fog", "--out", out, good])
    check(p.returncode == 2 and "--noise: unknown kind 'fog'" in p.stderr
          and "gaussian, salt, dark" in p.stderr and "hum" in p.stderr,
          "--noise: unknown kind is a usage error listing the valid kinds")
    p = run([train, "--epochs", "1", "--hold-out", "blurry", "--out", out, good])
    check(p.returncode == 2 and "--hold-out: unknown kind 'blurry'" in p.stderr,
          "--hold-out: unknown kind is a usage error")
    p = run([train, "--epochs", "1", "--noise", ",", "--out", out, good])
    check(p.returncode == 2 and "no kind given" in p.stderr, "--noise: empty list refused")
    p = run([train, "--epochs", "1", "--noise", "blur,dropout", "--hold-out", "dropout",
             "--out", out, good])
    check(p.returncode == 2 and "leave no kind for audio" in p.stderr
          and "babble" in p.stderr, "--hold-out of every audio kind names the modality")
    check(not os.path.exists(out), "no model written after a kind error")

    # a small model trained with occlusion (and dropout for the audio)
    occ = os.path.join(d, "occ.udml")
    p = run([train, "--epochs", "12", "--batch", "8", "--seed", "3", "--hop", "1", "--noise",
             "occlusion,dropout", "--val", good, "--out", occ, good])
    check(p.returncode == 0, "training with --noise occlusion,dropout")
    if p.returncode != 0:
        print(p.stderr)
        return
    check("stage-2 kinds: occlusion, dropout" in p.stderr, "the drawn kinds are reported")
    noted = {}
    for line in p.stderr.splitlines():
        if "clean noise p99" in line:
            noted[line.split("calibration ")[1].split(":")[0]] = float(line.split()[-3])
    check(set(noted) == {"audio", "video"} and all(v > 0 for v in noted.values()),
          "udml-train reports a calibration per modality (%s)" % noted)
    p = run([inspect, occ])
    shown = [float(line.split()[-1]) for line in p.stdout.splitlines()
             if "calibration: clean noise p99" in line]
    dev = max([abs(a - b) for a, b in zip(shown, [noted.get("audio", 0),
                                                   noted.get("video", 0)])],
              default=math.inf)
    check(len(shown) == 2 and dev <= 1e-4,
          "calibration round trip: udml-inspect shows what training stored (max diff %.1e, "
          "atol 1e-4)" % dev)
    old = os.path.join(d, "old.udml")
    rename_meta(occ, old, "calibration", "calibratioX")
    p = run([inspect, old])
    check(p.returncode == 0 and p.stdout.count("calibration: unknown") == 2,
          "a file without the calibration key loads; the calibration shows as unknown")

    plots = os.path.join(d, "degrade-plots")
    p = run([evalt, "--json", "--protocol", "clean", "--protocol", "degradations",
             "--plot-dir", plots, occ, good])
    check(p.returncode == 0, "eval --protocol degradations runs")
    if p.returncode != 0:
        print(p.stderr)
        return
    m = json.loads(p.stdout)["models"][0]
    check_degradation_points(m, "degradations")
    occl = {q["level"]: q["weight"]["video"] for q in m.get("degradations", [])
            if q.get("kind") == "occlusion"}
    check(len(occl) == 11 and occl[11] < occl[1] - 0.002,
          "a covered lens (occlusion 11) lowers the video weight below the clean one "
          "(%s -> %s, margin 0.002)" % (occl.get(1), occl.get(11)))
    svgs = sorted(os.listdir(plots)) if os.path.isdir(plots) else []
    check(len(svgs) == 12 and "degrade-occlusion.svg" in svgs and "degrade-freeze.svg" not in svgs,
          "--plot-dir: one SVG per kind seen (%d)" % len(svgs))
    p = run([evalt, "--protocol", "clean", "--plot-dir", plots, occ, good])
    check(p.returncode == 2 and "--plot-dir needs" in p.stderr,
          "--plot-dir without the degradations protocol is a usage error")


FNV_INIT = 0xcbf29ce484222325


def fnv1a(data, h=FNV_INIT):
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def read_cache(path):
    """Splits a feature cache into (head, items, floats per modality)."""
    b = open(path, "rb").read()
    assert b[:8] == b"UDMLFC02"
    n_items, n_mod = struct.unpack_from("<II", b, 16)
    F = struct.unpack_from("<%dI" % n_mod, b, 24)
    pos = 24 + 4 * n_mod
    head = b[:pos]
    items = []
    for _ in range(n_items):
        line, lab, nw, ln = struct.unpack_from("<iiII", b, pos)
        items.append([line, lab, b[pos + 16:pos + 16 + ln], nw])
        pos += 16 + ln
    n_good = sum(it[3] for it in items if not it[2])
    feats = []
    for f in F:
        feats.append(bytearray(b[pos:pos + 4 * f * n_good]))
        pos += 4 * f * n_good
    return head, items, feats


def write_cache(path, head, items, feats):
    """Writes a cache with a valid checksum, so only field checks can refuse it."""
    body = bytearray(head)
    for line, lab, err, nw in items:
        body += struct.pack("<iiII", line, lab, nw, len(err)) + err
    for f in feats:
        body += f
    body += struct.pack("<Q", fnv1a(bytes(body)))
    open(path, "wb").write(body)


def check_forged_cache(evalt, model, good, d):
    """A cache with a checksum but wrong fields is refused and decoded again."""
    # trainings at other hops leave caches under other keys: start from none,
    # so the one eval writes is the one to forge
    for f in os.listdir(d):
        if f.startswith("good.csv.") and f.endswith(".featcache"):
            os.remove(os.path.join(d, f))
    p = run([evalt, "--json", "--protocol", "clean", model, good])
    ref = json.loads(p.stdout)["models"][0]["results"][0]["accuracy"] if p.returncode == 0 else None
    caches = [f for f in os.listdir(d) if f.startswith("good.csv.") and f.endswith(".featcache")]
    check(ref is not None and len(caches) == 1, "one feature cache for good.csv")
    if len(caches) != 1:
        print("caches:", caches)
    if ref is None or len(caches) != 1:
        return
    cache = os.path.join(d, caches[0])

    def forge(what, label=None, nan=False):
        head, items, feats = read_cache(cache)
        if label is not None:
            items[0][1] = label
        if nan:
            struct.pack_into("<f", feats[0], 40, float("nan"))
        write_cache(cache, head, items, feats)
        p = run([evalt, "--json", "--protocol", "clean", model, good])
        acc = None
        if p.returncode == 0:
            acc = json.loads(p.stdout)["models"][0]["results"][0]["accuracy"]
        check(p.returncode == 0 and acc == ref and "decoded again" in p.stderr,
              "forged cache (%s) refused: rc %d, accuracy %s, want %s" % (what, p.returncode, acc, ref))
        if p.returncode != 0:
            print(p.stderr[-2000:])

    forge("label 100000", label=100000)
    forge("label 10 of 10 classes", label=10)
    forge("label of another class", label=1)
    forge("a NaN feature", nan=True)


def check_bad_input(tools, train, evalt, model, good, d):
    inspect = os.path.join(tools, "udml-inspect")
    avdigits = os.path.join(tools, "udml-avdigits")
    for t in (train, evalt, inspect, avdigits):
        name = os.path.basename(t)
        p = run([t, "--help"])
        check(p.returncode == 0 and "Usage:" in p.stdout and "--help" in p.stdout,
              "%s --help: generated help, exit 0" % name)
        p = run([t, "--no-such-option"], quiet=(2,))
        check(p.returncode == 2 and p.stderr.startswith(name + ": error: "),
              "%s: unknown option is a usage error in the tool's style" % name)

    # the real reason an input cannot be read
    p = run([train, "--out", os.path.join(d, "x.udml"), os.path.join(d, "nope.csv")])
    check(p.returncode == 1 and "No such file or directory" in p.stderr
          and "Inappropriate ioctl" not in p.stderr, "missing manifest: the real reason")
    p = run([train, "--out", os.path.join(d, "x.udml"), os.path.join(d, "clips")])
    check(p.returncode == 1 and "Is a directory" in p.stderr
          and "Inappropriate ioctl" not in p.stderr, "manifest that is a directory: the real reason")

    # output paths are checked before any decoding or training
    missing = os.path.join(d, "no-such-dir")
    cases = [
        ([train, "--epochs", "1", "--out", os.path.join(missing, "m.udml"), good], "--out in a missing directory"),
        ([train, "--epochs", "1", "--out", d, good], "--out that is a directory"),
        ([train, "--epochs", "1", "--checkpoint", os.path.join(missing, "c.ckpt"),
          "--out", os.path.join(d, "m3.udml"), good], "--checkpoint in a missing directory"),
    ]
    if os.geteuid() != 0:  # root writes anywhere
        ro = os.path.join(d, "read-only")
        os.mkdir(ro, 0o555)
        cases.append(([train, "--epochs", "1", "--out", os.path.join(ro, "m.udml"), good],
                      "--out in a read-only directory"))
    for args, what in cases:
        p = run(args)
        check(p.returncode == 1 and "epoch" not in p.stderr and "decoded" not in p.stderr
              and "from the feature cache" not in p.stderr,
              "train: %s refused before any work" % what)
    for opt, path in (("--csv", os.path.join(missing, "s.csv")), ("--plot", d),
                      ("--plot-video", os.path.join(missing, "v.svg"))):
        p = run([evalt, "--protocol", "sweep-video", opt, path, model, good])
        check(p.returncode == 1 and p.stdout == "" and opt in p.stderr
              and "sweep done" not in p.stderr,
              "eval: unwritable %s refused before evaluating" % opt)

    # lost standard output is an error
    with open("/dev/full", "w") as full:
        for args, name in (([inspect, model], "udml-inspect"),
                           ([evalt, "--protocol", "clean", model, good], "udml-eval"),
                           ([train, "--help"], "udml-train --help")):
            p = subprocess.run(args, stdout=full, stderr=subprocess.PIPE, text=True)
            check(p.returncode == 1 and "standard output" in p.stderr,
                  "%s > /dev/full: exit 1 (got %d)" % (name, p.returncode))

    # a directory where a file belongs
    fsdd = os.path.join(d, "fsdd")
    mnist = os.path.join(d, "mnist")
    os.makedirs(fsdd)
    os.makedirs(os.path.join(mnist, "digits-images-idx3-ubyte"))
    open(os.path.join(mnist, "digits-labels-idx1-ubyte"), "wb").write(b"\0\0\x08\x01\0\0\0\0")
    write_wav(os.path.join(fsdd, "0_jackson_0.wav"), 440)
    p = run([avdigits, "--fsdd", fsdd, "--mnist", mnist, "--out", os.path.join(d, "av")])
    check(p.returncode == 1 and "digits-images-idx3-ubyte: is a directory" in p.stderr,
          "avdigits: a directory for an MNIST file is a clear error")
    if p.returncode != 1:
        print(p.stderr[-1000:])


def main():
    tools = sys.argv[1]
    train = os.path.join(tools, "udml-train")
    evalt = os.path.join(tools, "udml-eval")
    inspect = os.path.join(tools, "udml-inspect")
    for t in (train, evalt):
        if not os.access(t, os.X_OK):
            print("FAIL: tool not built:", t)
            return 1

    with tempfile.TemporaryDirectory(prefix="udml-tools-") as d:
        os.mkdir(os.path.join(d, "clips"))
        rows = []
        for i in range(20):
            lab = i % 4
            a = "clips/a%02d.wav" % i
            v = "clips/v%02d.pgm" % i
            write_wav(os.path.join(d, a), 300 + 250 * lab + 10 * (i // 4))
            write_pgm(os.path.join(d, v), lab)
            rows.append((a, v, str(lab)))

        def manifest(name, body_rows, header="audio,video,label"):
            p = os.path.join(d, name)
            with open(p, "w") as f:
                f.write(header + "\n")
                for r in body_rows:
                    f.write(",".join(r) + "\n")
            return p

        good = manifest("good.csv", rows)
        with open(os.path.join(d, "clips/garbage.wav"), "wb") as f:
            f.write(b"this is not a media file at all" * 10)
        bad = manifest("bad.csv", [
            rows[0],                                   # line 2 good
            ("clips/missing.wav", rows[1][1], "1"),    # line 3 missing file
            (rows[2][0], rows[2][1], "x"),             # line 4 unknown label
            ("clips/garbage.wav", rows[3][1], "3"),    # line 5 undecodable
        ] + rows[4:12])
        novideo = manifest("novideo.csv", [(rows[0][0], "0")], header="path,label")
        empty = os.path.join(d, "empty.csv")
        open(empty, "w").close()
        header_only = manifest("header.csv", [])
        model = os.path.join(d, "m.udml")

        # bad rows: every one named with file:line and path, no model written
        # the model's labels fixed by --labels: 'x' is not one of them
        digits = os.path.join(d, "digits.txt")
        open(digits, "w").write("".join("%d\n" % k for k in range(10)))
        p = run([train, "--epochs", "1", "--labels", digits, "--out", model, bad])
        err = p.stderr
        check(p.returncode == 1, "bad rows: exit status 1")
        check("bad.csv:3: " in err and "missing.wav" in err, "missing file named with file:line")
        check("bad.csv:4: " in err and "unknown label 'x'" in err, "unknown label named with line")
        check("bad.csv:5: " in err and "garbage.wav" in err, "undecodable media named with line")
        check("bad.csv:2:" not in err, "good row not reported")
        check("udml-train: error: " in err, "errors use the tool prefix")
        check(not os.path.exists(model), "no model written after bad rows")
        if p.returncode != 1:
            print(err)

        p = run([train, "--epochs", "1", "--labels", digits, "--out", model, novideo])
        check(p.returncode == 1 and "novideo.csv:2:" in p.stderr and "no video" in p.stderr,
              "missing video stream reported")

        p = run([train, "--epochs", "1", "--out", model, empty])
        check(p.returncode == 1 and "empty manifest" in p.stderr, "empty manifest: clear error")
        p = run([train, "--epochs", "1", "--out", model, header_only])
        check(p.returncode == 1 and "no rows" in p.stderr, "header-only manifest: clear error")
        p = run([train, "--out", model, "--policy", "nope", good])
        check(p.returncode == 2 and "unknown policy" in p.stderr, "unknown policy: usage error")

        # --skip-bad trains on the good rows
        p = run([train, "--epochs", "1", "--batch", "4", "--skip-bad", "--labels", digits,
                 "--out", model, bad])
        check(p.returncode == 0 and os.path.exists(model), "--skip-bad trains and writes the model")
        check("warning: " in p.stderr and "bad.csv:4:" in p.stderr, "--skip-bad still reports rows")
        if p.returncode != 0:
            print(p.stderr)
        os.path.exists(model) and os.unlink(model)

        # tiny run; the second run must hit the feature cache
        args = [train, "--hop", "1", "--epochs", "2", "--batch", "8", "--seed", "3", "--val", good,
                "--out", model, good]
        p = run(args)
        check(p.returncode == 0 and os.path.exists(model), "tiny training run writes a model")
        check("epoch 2/2" in p.stderr, "one progress line per epoch without a TTY")
        if p.returncode != 0:
            print(p.stderr)
        p = run(args)
        check(p.returncode == 0 and "from the feature cache" in p.stderr,
              "second run reads the feature cache")
        check(not os.path.exists(model + ".ckpt"), "default checkpoint removed after success")

        # --lambda 0: nothing trains the estimator, whose last layer starts at
        # zero, so every window reads sigma-hat 1; the default run does not
        p = run([train, "--lambda", "-1", "--out", model, good], quiet=(2,))
        check(p.returncode == 2 and "--lambda" in p.stderr, "--lambda -1: usage error")
        lam = os.path.join(d, "lambda0.udml")
        p = run(args[:-3] + ["--lambda", "0", "--out", lam, good])
        shown = run([inspect, lam]).stdout
        cal = re.findall(r"clean noise p99 (\S+)", shown)
        check(p.returncode == 0 and cal == ["1", "1"] and "lambda=0\n" in shown,
              "--lambda 0 leaves the estimator at sigma-hat 1 (calibration %s)" % cal)
        cal = re.findall(r"clean noise p99 (\S+)", run([inspect, model]).stdout)
        check(len(cal) == 2 and "1" not in cal, "the default lambda trains the estimator "
              "(calibration %s)" % cal)

        # interrupt and resume
        model2 = os.path.join(d, "m2.udml")
        ckpt = os.path.join(d, "m2.ckpt")
        proc = subprocess.Popen([train, "--hop", "1", "--epochs", "6", "--batch", "4", "--checkpoint", ckpt,
                                 "--out", model2, good],
                                stderr=subprocess.PIPE, text=True)
        lines = []
        for line in proc.stderr:
            lines.append(line)
            if line.startswith("epoch 1/6"):
                proc.send_signal(signal.SIGINT)
                break
        rest = proc.stderr.read()
        rc = proc.wait()
        check(rc == 130 and "resume with" in rest and os.path.exists(ckpt),
              "SIGINT stops cleanly with a checkpoint and a resume hint")
        if rc != 130:
            print("".join(lines) + rest)
        fewer = manifest("fewer.csv", rows[:16])
        p = run([train, "--hop", "1", "--epochs", "6", "--batch", "4", "--checkpoint", ckpt, "--resume", ckpt,
                 "--out", model2, fewer])
        check(p.returncode == 1 and "fingerprint" in p.stderr and not os.path.exists(model2),
              "--resume on other data is refused and says why")
        p = run([train, "--hop", "1", "--epochs", "6", "--batch", "4", "--checkpoint", ckpt, "--resume", ckpt,
                 "--out", model2, good])
        check(p.returncode == 0 and os.path.exists(model2), "resumed run completes")
        check("epoch 1/6" not in p.stderr, "resumed run does not restart at epoch 1")

        # eval: JSON keys and invariants, CSV, SVG
        svg = os.path.join(d, "w.svg")
        sweep_csv = os.path.join(d, "s.csv")
        p = run([evalt, "--json", "--protocol", "all", "--seed", "7", "--plot", svg,
                 "--csv", sweep_csv, model, model2, good])
        check(p.returncode == 0, "eval runs on the trained models (they load)")
        if p.returncode != 0:
            print(p.stderr)
            return report()
        try:
            doc = json.loads(p.stdout)
        except ValueError as e:
            doc = None
            print(p.stdout[:2000])
        check(doc is not None, "eval --json prints one JSON object")
        if doc is None:
            return report()
        models = doc.get("models", [])
        check(len(models) == 2, "one entry per model")
        for m in models:
            check(all(k in m for k in ("model", "policy", "results", "sweep")), "model keys")
            conds = [r.get("condition") for r in m["results"]]
            check(conds == ["clean", "gaussian-5", "gaussian-10", "salt-5", "salt-10"],
                  "table-3 conditions")
            for r in m["results"]:
                ok = all(k in r for k in ("accuracy", "macro_f1", "accuracy_audio",
                                          "accuracy_video"))
                ok = ok and all(0 <= r[k] <= 1 for k in ("accuracy", "macro_f1"))
                # a perfect run has macro-F1 1 whatever classes the test set holds
                ok = ok and (r["accuracy"] < 1 or abs(r["macro_f1"] - 1) <= 1e-6)
                check(ok, "result keys and ranges (%s)" % r.get("condition"))
            sw = m["sweep"]
            check(len(sw) == 22, "sweep: 11 levels x 2 modalities (got %d)" % len(sw))
            worst = 0.0
            for s in sw:
                keys = all(k in s for k in ("modality", "level", "accuracy", "weight",
                                            "uncertainty_weight", "alpha"))
                if not keys or set(s["weight"]) != {"audio", "video"}:
                    check(False, "sweep point keys")
                    break
                # w/M sums to 1 over the present modalities: atol 1e-4
                worst = max(worst, abs(s["weight"]["audio"] + s["weight"]["video"] - 1))
            check(worst <= 1e-4, "sweep weights sum to 1 (max |sum-1| = %.2e, atol 1e-4)" % worst)
            levels = [s["level"] for s in sw if s["modality"] == "video"]
            check(levels == list(range(1, 12)), "video sweep levels 1..11")
        # same seed, same numbers
        p2 = run([evalt, "--json", "--protocol", "table3", "--seed", "7", model, good])
        doc2 = json.loads(p2.stdout) if p2.returncode == 0 else None
        same = doc2 is not None and doc2["models"][0]["results"] == models[0]["results"]
        check(same, "eval is deterministic for a seed")

        for i, m in enumerate(models):
            check_degradation_points(m, "--protocol all, model %d" % i)
        check_degrade(train, evalt, inspect, good, d)
        check_forged_cache(evalt, model, good, d)
        check_bad_input(tools, train, evalt, model, good, d)

        try:
            root = ET.parse(svg).getroot()
            ok = root.tag.endswith("svg") and len(list(root.iter())) > 10
        except (ET.ParseError, OSError) as e:
            print(e)
            ok = False
        check(ok, "--plot writes a valid SVG document")
        with open(sweep_csv) as f:
            crow = list(csv.DictReader(f))
        check(len(crow) == 44 and "weight_video" in crow[0], "--csv: 44 sweep rows with weights")

        p = run([evalt, "--protocol", "clean", model, bad])
        check(p.returncode == 1 and "bad.csv:4:" in p.stderr, "eval reports bad test rows")
        p = run([evalt, "--protocol", "clean", model])
        check(p.returncode == 2, "eval without a test manifest is a usage error")

        # a model whose feature spec no longer matches its input shape
        other = os.path.join(d, "other-features.udml")
        set_meta(model, other, "features.n_mels", 32)
        p = run([evalt, "--protocol", "clean", other, good])
        check(p.returncode == 1 and "model built for other features" in p.stderr
              and "other-features.udml" in p.stderr,
              "eval refuses a model built for other features, naming it")

        # models with other modality names: one CSV column per name
        voice = os.path.join(d, "voice.udml")
        set_meta(model, voice, "modality.0.name", "voice", ("audio", "voice"))
        p = run([evalt, "--protocol", "sweep-video", "--csv", sweep_csv, model, voice, good])
        ok = p.returncode == 0
        if ok:
            with open(sweep_csv) as f:
                crow = list(csv.DictReader(f))
            ok = (len(crow) == 22 and "weight_voice" in crow[0]
                  and crow[0]["weight_audio"] != "" and crow[0]["weight_voice"] == ""
                  and crow[-1]["weight_voice"] != "" and crow[-1]["weight_audio"] == "")
        check(ok, "--csv: a column per modality name of any model, empty where absent")
        long_rows = []
        for i in range(8):
            lab = i % 4
            a = "clips/long%02d.wav" % i
            write_wav(os.path.join(d, a), 300 + 250 * lab + 10 * i, seconds=2.0)
            long_rows.append((a, rows[lab][1], str(lab)))
        long = manifest("long.csv", long_rows)
        check_threads(tools, d, good)
        check_windows(tools, d, long)
        check_mpi(tools, d, good, long)
    return report()


def compare(tools, a, b):
    """udml-inspect --compare A B as a dict of its key=value lines."""
    p = run([os.path.join(tools, "udml-inspect"), "--compare", a, b])
    out = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    out["rc"] = p.returncode
    return out


def check_threads(tools, d, good):
    """The batch split across 2 workers trains what 1 worker trains (15 steps
    to 1e-4 relative), and bit-identically run after run. On these flat
    clips a max-pool tie flips in the 16th-20th steps (rel. 0.05 at 20);
    test-train checks 20 steps on its own data."""
    train = os.path.join(tools, "udml-train")
    models = {}
    # These clips have flat regions (max-pool ties, near-constant channels)
    # where rounding differences flip decisions and grow fast at the default
    # rate; a small rate keeps 20 steps comparable. The degradation kinds
    # drawn by default (clamped, clipped, muted, flat-blocked inputs) add
    # such plateaus: against 2 MPI ranks, 0.0001 flips a tie within 15 steps
    # (rel. 8e-3); with four-talker babble 0.00003 reaches rel. 1.4e-4 and
    # 0.00001 stays at 2e-6. test-train checks the split at its own
    # training settings.
    for name, t in (("t1", "1"), ("t2", "2"), ("t2b", "2")):
        models[name] = os.path.join(d, "threads-%s.udml" % name)
        p = run([train, "-q", "--epochs", "3", "--batch", "4", "--lr", "0.00001", "--seed", "5", "--hop", "1",
                 "--threads", t, "--out", models[name], good])
        check(p.returncode == 0, "--threads %s trains" % t)
        if p.returncode != 0:
            print(p.stderr)
            return
    c = compare(tools, models["t1"], models["t2"])
    rel = float(c.get("max_rel_diff", "inf"))
    print("threads 1 vs 2:", c)
    check(c["rc"] == 0 and "max_abs_diff" in c and rel <= 1e-4,
          "--threads 2 equals --threads 1 after 15 steps (max_rel_diff %g <= 1e-4)" % rel)
    c = compare(tools, models["t2"], models["t2b"])
    check(c["rc"] == 0 and float(c.get("max_abs_diff", "inf")) == 0.0,
          "two --threads 2 runs are bit-identical")
    p = run([os.path.join(tools, "udml-inspect"), "--compare", models["t1"]])
    check(p.returncode == 2, "--compare with one model is a usage error")


# stage 2 on clips of 3 windows at --hop 0.5: audio kinds and babble too.
# A rate this small leaves a flipped max-pool tie below the tolerance while
# the batch-norm statistics still show any draw that differs (babble from
# the next clip of the shard: rel. 0.08)
WINDOWS_ARGS = ["--epochs", "3", "--batch", "4", "--lr", "0.00001", "--seed", "5", "--hop", "0.5",
                "--noise", "babble,dropout,muffle,gaussian,occlusion,blur"]


def check_windows(tools, d, long):
    """The audio kinds act on the waveform of every window of a clip: a run
    at 3 windows per clip trains with them, and the degradations protocol
    on clips of 2 windows at the model's hop finds level 1 of every audio
    kind (log-mel from each window's waveform) equal to the clean features."""
    train = os.path.join(tools, "udml-train")
    out = os.path.join(d, "windows-1.udml")
    p = run([train] + WINDOWS_ARGS + ["--out", out, long])
    check(p.returncode == 0 and "waveforms of 24 windows" in p.stderr
          and "stage-2 kinds: gaussian, blur, occlusion, babble, dropout, muffle" in p.stderr,
          "audio kinds train on clips of 3 windows each")
    if p.returncode != 0:
        print(p.stderr[-2000:])
        return
    p = run([os.path.join(tools, "udml-eval"), "--json", "--protocol", "degradations", out, long])
    check(p.returncode == 0 and "one window per clip" not in p.stderr,
          "eval --protocol degradations keeps the audio kinds on clips of 2 windows")
    if p.returncode == 0:
        check_degradation_points(json.loads(p.stdout)["models"][0], "clips of 2 windows")


def mpi_built(train):
    """udml-train linked with MPI (meson option mpi) and mpirun present."""
    p = subprocess.run(["ldd", train], capture_output=True, text=True)
    found = subprocess.run(["sh", "-c", "command -v mpirun"], capture_output=True)
    return "libmpi" in p.stdout and found.returncode == 0


def check_mpi(tools, d, good, long):
    """mpirun -np 2: the single-process model to rounding (every kind by
    default; audio kinds on clips of several windows too), progress from
    rank 0 only; a killed rank ends the job, the checkpoint resumes in one
    process."""
    train = os.path.join(tools, "udml-train")
    if not mpi_built(train):
        print("skip: udml-train built without MPI")
        return
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    mpirun = ["mpirun", "-np", "2", "--oversubscribe", train]
    args = ["--epochs", "3", "--batch", "4", "--lr", "0.00001", "--seed", "5", "--hop", "1"]
    one = os.path.join(d, "threads-t1.udml")     # check_threads: the same run, 1 process
    two = os.path.join(d, "mpi-2.udml")
    p = run(mpirun + args + ["--out", two, good], env=env)
    check(p.returncode == 0 and os.path.exists(two), "mpirun -np 2 trains and writes the model")
    if p.returncode != 0:
        print(p.stderr)
        return
    check(p.stderr.count("epoch 1/3 ") == 1 and p.stderr.count("wrote ") == 1,
          "only rank 0 writes progress and the model")
    check(len([f for f in os.listdir(d) if f.startswith("good.csv.")
               and f.endswith(".featcache")]) >= 3, "each rank caches its own shard")
    c = compare(tools, one, two)
    rel = float(c.get("max_rel_diff", "inf"))
    check(c["rc"] == 0 and rel <= 1e-4,
          "2 ranks equal 1 process after 15 steps (max_rel_diff %g <= 1e-4)" % rel)

    # each rank holds its shard's waveforms; babble and every draw agree
    one = os.path.join(d, "windows-1.udml")      # check_windows: 1 process
    two = os.path.join(d, "windows-2.udml")
    p = run(mpirun + WINDOWS_ARGS + ["--out", two, long], env=env)
    check(p.returncode == 0 and os.path.exists(two),
          "mpirun -np 2 trains with audio kinds on clips of 3 windows")
    if p.returncode != 0:
        print(p.stderr[-2000:])
    else:
        c = compare(tools, one, two)
        rel = float(c.get("max_rel_diff", "inf"))
        check(c["rc"] == 0 and rel <= 1e-4,
              "with audio kinds, 2 ranks equal 1 process after 18 steps (max_rel_diff %g "
              "<= 1e-4)" % rel)

    # kill a rank after the first checkpoint: the job ends, the checkpoint
    # resumes in a single process
    ckpt = os.path.join(d, "mpi-kill.ckpt")
    out = os.path.join(d, "mpi-kill.udml")
    proc = subprocess.Popen(mpirun + ["--epochs", "12", "--batch", "4", "--lr", "0.0003",
                                      "--seed", "5", "--checkpoint", ckpt, "--out", out, good],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    t0 = time.time()
    while not os.path.exists(ckpt) and proc.poll() is None and time.time() - t0 < 120:
        time.sleep(0.05)
    kids = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                          text=True).stdout.split()
    killed = proc.poll() is None and len(kids) == 2
    if killed:
        os.kill(int(kids[1]), signal.SIGKILL)
    try:
        proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
    check(killed and proc.returncode != 0 and not os.path.exists(out),
          "a killed rank ends the job without a model (rc %s)" % proc.returncode)
    p = run([train, "-q", "--epochs", "12", "--batch", "4", "--lr", "0.0003", "--seed", "5",
             "--checkpoint", ckpt, "--resume", ckpt, "--out", out, good])
    check(p.returncode == 0 and os.path.exists(out),
          "the checkpoint of 2 ranks resumes in 1 process")
    if p.returncode != 0:
        print(p.stderr)


if __name__ == "__main__":
    sys.exit(main())
