#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""bench/degradations.py on made-up evaluations: the must-show checks of
"kinds" fail where they should, and "suppression" pairs the right models.

  test_degradations.py BENCH_DIR
"""
import json
import os
import subprocess
import sys
import tempfile

failed = 0


def check(ok, what):
    global failed
    print("%s: %s" % ("ok" if ok else "FAIL", what))
    if not ok:
        failed += 1


def model(path, policy, weight, accuracy):
    """One audio kind, levels 1..11; weight(L) and accuracy(L) give the
    degraded modality's w/M and the fused accuracy."""
    rows = [{"kind": "hum", "modality": "audio", "level": lv,
             "accuracy": accuracy(lv),
             "weight": {"audio": weight(lv), "video": 1 - weight(lv)},
             "noise": {"audio": float(lv), "video": 1.0}}
            for lv in range(1, 12)]
    return {"model": path, "policy": policy,
            "results": [{"condition": "clean", "accuracy": accuracy(1)}],
            "degradations": rows}


def evaluation(d, name, models, mode="as-trained"):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump({"mode": mode, "models": models}, f)
    return path


def run(script, *args):
    return subprocess.run([sys.executable, script] + list(args),
                          capture_output=True, text=True)


def main():
    script = os.path.join(sys.argv[1], "degradations.py")
    static = model("s.udml", "static", lambda lv: 0.5, lambda lv: 0.95)
    falls = lambda lv: 0.6 / lv
    with tempfile.TemporaryDirectory() as d:
        good = evaluation(d, "good.json", [
            model("u.udml", "udml", falls, lambda lv: 0.96), static])
        p = run(script, "kinds", good, "--vs", "static")
        check(p.returncode == 0 and "must-shows: 0 failed" in p.stdout,
              "kinds: a falling weight and a higher L8 accuracy pass")

        flat = evaluation(d, "flat.json", [
            model("u.udml", "udml", lambda lv: 0.6 - 0.001 * (lv % 2),
                  lambda lv: 0.96), static])
        p = run(script, "kinds", flat, "--vs", "static")
        check(p.returncode == 1 and "hum: L11/L1 weight 1.00" in p.stdout
              and "hum: Spearman" in p.stdout, "kinds: a flat weight fails "
              "both weight checks")

        late = evaluation(d, "late.json", [
            model("u.udml", "udml",
                  lambda lv: 0.1 if lv == 11 else 0.6 - 0.1 * (lv % 2),
                  lambda lv: 0.96), static])
        p = run(script, "kinds", late, "--vs", "static")
        check(p.returncode == 1 and "hum: Spearman" in p.stdout
              and "L11/L1" not in p.stdout.split("FAIL", 1)[-1],
              "kinds: a weight that only drops at L11 fails the Spearman "
              "check alone")

        behind = evaluation(d, "behind.json", [
            model("u.udml", "udml", falls,
                  lambda lv: 0.94 if lv == 8 else 0.96), static])
        p = run(script, "kinds", behind, "--vs", "static")
        check(p.returncode == 1 and "accuracy at L8 94.0" in p.stdout,
              "kinds: a lower L8 accuracy than static fails")

        two = evaluation(d, "two.json", [
            model("u.udml", "udml", falls,
                  lambda lv: 0.955 if lv == 8 else 0.96), static,
            model("s2.udml", "static", lambda lv: 0.5, lambda lv: 0.97)])
        p = run(script, "kinds", two, "--vs", "static")
        check(p.returncode == 1 and "static mean of 2's 96.0" in p.stdout,
              "kinds: several static models are compared by their mean")

        trained = evaluation(d, "trained.json", [
            model("a.udml", "udml", falls, lambda lv: 0.90),
            model("b.udml", "udml", falls, lambda lv: 0.97)])
        plain = evaluation(d, "plain.json", [
            model("a.udml", "udml", lambda lv: 0.6, lambda lv: 0.92),
            model("b.udml", "udml", lambda lv: 0.6, lambda lv: 0.96)],
            mode="no-uncertainty")
        p = run(script, "suppression", trained, plain)
        check(p.returncode == 0 and
              "| audio | hum | -2.0 | +1.0 | -0.5 |" in p.stdout,
              "suppression: per model as trained minus plain, and the mean")
        p = run(script, "suppression", plain, trained)
        check(p.returncode != 0 and "in that order" in p.stderr,
              "suppression: modes given the wrong way round are refused")
        other = evaluation(d, "other.json", [
            model("a.udml", "udml", falls, lambda lv: 0.92),
            model("c.udml", "udml", falls, lambda lv: 0.96)],
            mode="no-uncertainty")
        p = run(script, "suppression", trained, other)
        check(p.returncode != 0 and "different models" in p.stderr,
              "suppression: evaluations of different models are refused")
        p = run(script, "kinds", os.path.join(d, "missing.json"))
        check(p.returncode != 0 and "missing.json" in p.stderr
              and "Traceback" not in p.stderr,
              "a missing evaluation is a one-line error")
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"models": [')
        p = run(script, "suppression", bad, plain)
        check(p.returncode != 0 and "bad.json" in p.stderr
              and "Traceback" not in p.stderr,
              "a truncated evaluation is a one-line error")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
