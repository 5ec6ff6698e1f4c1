#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Tables and checks from `udml-eval --json --protocol clean --protocol
degradations` output (docs/results.md, issue "monitoring").

  degradations.py kinds EVAL.json [--vs static]
      one table per model: the degraded modality's weight, accuracy and
      sigma-hat per kind and level; with --vs POLICY also the accuracy of
      that policy's model at L8, and the must-show checks (exit 1 if one
      fails)
  degradations.py generalisation EVAL.json --held-out KIND,...
      accuracy at L8 / L11 of every model on seen and held-out kinds, and
      udml's weight ratio and Spearman on the held-out ones
  degradations.py suppression AS_TRAINED.json NO_UNCERTAINTY.json [--level L]
      per kind at level L (8), each model's accuracy as trained minus its
      accuracy with --mode no-uncertainty: what the uncertainty term does
      on the same network, free of the seed spread between networks

Must-shows (kinds): for every kind but freeze, the degraded weight at L11
is at most half the clean one and falls with the level (Spearman <= -0.8
over levels 2..11); accuracy at L8 >= the --vs model's.
"""
import argparse
import json
import sys

SHOW = (1, 3, 5, 8, 11)


def ranks(xs):
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2.0 + 1
        i = j + 1
    return r


def spearman(xs, ys, undefined=0.0):
    """Rank correlation, ties at their mean rank; `undefined` when xs or ys
    is constant."""
    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry))
    vx = sum((a - mx) ** 2 for a in rx) ** 0.5
    vy = sum((b - my) ** 2 for b in ry) ** 0.5
    return cov / (vx * vy) if vx > 0 and vy > 0 else undefined


def curves(model):
    """{(modality, kind): {level: row}} in the order of the JSON."""
    out = {}
    for row in model.get("degradations", []):
        out.setdefault((row["modality"], row["kind"]), {})[row["level"]] = row
    return out


def clean_accuracy(model):
    for r in model.get("results", []):
        if r.get("condition") == "clean":
            return r["accuracy"]
    return None


def name(model):
    return "%s (%s)" % (model["model"].split("/")[-1], model["policy"])


def mean_model(models):
    """One model whose accuracy is the mean of several (seeds of a policy):
    a single training of the baseline moves by up to 2.5 points at L8."""
    if len(models) == 1:
        return models[0]
    def key(r):
        return r["modality"], r["kind"], r["level"]
    acc = {}
    for m in models:
        for r in m["degradations"]:
            acc.setdefault(key(r), []).append(r["accuracy"])
    rows = [dict(r, accuracy=sum(acc[key(r)]) / len(acc[key(r)]))
            for r in models[0]["degradations"]]
    return {"policy": "%s mean of %d" % (models[0]["policy"], len(models)),
            "degradations": rows}


def kinds_table(model, vs):
    c = curves(model)
    cv = curves(vs) if vs else {}
    fails = []
    head = ["modality", "kind"] + ["w/M L%d" % lv for lv in SHOW] + \
        ["L11/L1", "Spearman 2..11", "acc L1", "acc L8", "acc L11",
         "σ̂ L1", "σ̂ L11"]
    if vs:
        head.insert(head.index("acc L11"), "%s acc L8" % vs["policy"])
    print("%s, clean accuracy %.1f %%\n" % (name(model),
                                            100 * clean_accuracy(model)))
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for (mod, kind), lv in c.items():
        w = {k: r["weight"][mod] for k, r in lv.items()}
        rho = spearman(list(range(2, 12)), [w[k] for k in range(2, 12)])
        ratio = w[11] / w[1] if w[1] > 0 else float("inf")
        cells = [mod, kind] + ["%.3f" % w[k] for k in SHOW] + \
            ["%.2f" % ratio, "%.2f" % rho] + \
            ["%.1f" % (100 * lv[k]["accuracy"]) for k in (1, 8, 11)] + \
            ["%.3f" % lv[k]["noise"][mod] for k in (1, 11)]
        if vs:
            other = cv.get((mod, kind), {}).get(8)
            cells.insert(head.index("%s acc L8" % vs["policy"]),
                         "%.1f" % (100 * other["accuracy"]) if other else "–")
        print("| " + " | ".join(cells) + " |")
        if kind == "freeze":
            continue
        if ratio > 0.5:
            fails.append("%s %s: L11/L1 weight %.2f > 0.5" % (mod, kind, ratio))
        if rho > -0.8:
            fails.append("%s %s: Spearman %.2f > -0.8" % (mod, kind, rho))
        if vs and (mod, kind) in cv and \
                lv[8]["accuracy"] < cv[(mod, kind)][8]["accuracy"]:
            fails.append("%s %s: accuracy at L8 %.1f < %s's %.1f" % (
                mod, kind, 100 * lv[8]["accuracy"], vs["policy"],
                100 * cv[(mod, kind)][8]["accuracy"]))
    print()
    return fails


def generalisation(models, held_out):
    print("Accuracy in % at L8 / L11; * = kind held out of training.\n")
    head = ["modality", "kind"] + [m["policy"] for m in models]
    udml = next((m for m in models if m["policy"] == "udml"), None)
    if udml:
        head += ["udml w L11/L1", "udml Spearman"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rows = curves(models[0])
    for (mod, kind) in rows:
        cells = [mod, kind + (" *" if kind in held_out else "")]
        for m in models:
            lv = curves(m).get((mod, kind))
            cells.append("%.1f / %.1f" % (100 * lv[8]["accuracy"],
                                          100 * lv[11]["accuracy"])
                         if lv else "–")
        if udml:
            lv = curves(udml)[(mod, kind)]
            w = [lv[k]["weight"][mod] for k in range(1, 12)]
            cells += ["%.2f" % (w[10] / w[0]),
                      "%.2f" % spearman(list(range(2, 12)), w[1:])]
        print("| " + " | ".join(cells) + " |")
    print()
    for part, keep in (("seen", False), ("held out", True)):
        means = []
        for m in models:
            acc = [lv[8]["accuracy"] for (mod, kind), lv in curves(m).items()
                   if (kind in held_out) == keep and kind != "freeze"]
            means.append("%s %.1f" % (m["policy"], 100 * sum(acc) / len(acc))
                         if acc else "%s –" % m["policy"])
        print("Mean accuracy at L8 on %s kinds: %s" % (part, ", ".join(means)))
    print()


def suppression(trained, plain, level):
    """Rows of the paired table; the two files hold the same models."""
    tm, pm = trained["models"], plain["models"]
    if trained.get("mode") != "as-trained" or \
            plain.get("mode") != "no-uncertainty":
        sys.exit("degradations.py: suppression needs an as-trained and a "
                 "no-uncertainty evaluation, in that order")
    if [m["model"] for m in tm] != [m["model"] for m in pm]:
        sys.exit("degradations.py: the two evaluations hold different models")
    print("Accuracy at L%d as trained minus with --mode no-uncertainty, "
          "points.\n" % level)
    head = ["modality", "kind"] + [name(m) for m in tm] + ["mean"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    tc, pc = [curves(m) for m in tm], [curves(m) for m in pm]
    for key in tc[0]:
        d = [100 * (t[key][level]["accuracy"] - p[key][level]["accuracy"])
             for t, p in zip(tc, pc)]
        print("| " + " | ".join(list(key) + ["%+.1f" % x for x in d] +
                                ["%+.1f" % (sum(d) / len(d))]) + " |")
    print()


def load(path):
    """An evaluation, or exit with a one-line error."""
    try:
        with open(path) as f:
            ev = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit("degradations.py: %s: %s" % (path, e))
    if not isinstance(ev, dict) or not isinstance(ev.get("models"), list):
        sys.exit("degradations.py: %s: not udml-eval --json output" % path)
    return ev


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("kinds", "generalisation", "suppression"))
    ap.add_argument("json")
    ap.add_argument("plain", nargs="?",
                    help="suppression: the --mode no-uncertainty evaluation")
    ap.add_argument("--level", type=int, default=8)
    ap.add_argument("--vs", help="policy to compare accuracy at L8 with "
                    "(the mean of its models when there are several)")
    ap.add_argument("--held-out", default="")
    a = ap.parse_args()
    if a.what == "suppression":
        if not a.plain:
            sys.exit("degradations.py: suppression needs two evaluations")
        suppression(load(a.json), load(a.plain), a.level)
        return 0
    models = load(a.json)["models"]
    if a.what == "generalisation":
        generalisation(models, set(filter(None, a.held_out.split(","))))
        return 0
    others = [m for m in models if m["policy"] == a.vs]
    if a.vs and not others:
        sys.exit("degradations.py: no %s model in %s" % (a.vs, a.json))
    vs = mean_model(others) if others else None
    fails = []
    for m in models:
        if m in others:
            continue
        fails += kinds_table(m, vs)
    for f in fails:
        print("FAIL: " + f)
    print("must-shows: %d failed" % len(fails))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
