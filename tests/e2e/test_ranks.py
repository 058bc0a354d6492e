#!/usr/bin/env python3
"""The same run on different rank counts gives the same results.

Every rank generates its own rows from a counter-based RNG and the fits are
reduced across ranks, so the rank count may only change rounding. Compared
with the 1-rank run, dataset by dataset (every /metrics and /coefficients
dataset, plus /representations name, dim, effective_rank and, for
full-rank designs, condition):

1. a quick realizable config at 2, 3, 4, 5 and 8 ranks (oversubscribed);
2. the same with experiment.task_inputs = per_task (one input sample per
   task: a different data path through the fits);
3. n_weak_train = 18, just above the 17 parameters of a 16-wide head, at 3
   ranks: each rank holds 6 rows, fewer than the head's parameters, so
   every rank's local block is underdetermined and only the reduction makes
   the fit well posed;
4. a tiny problem (inputs of dimension 2, h* of width 2, heads of 3
   parameters) at 6 ranks with n_weak_train = 4, n_w2s_train = 5,
   n_test = 4, so that ranks 4-5 own ZERO rows of the weak-training and
   test splits and rank 5 none of the weak-to-strong split (the row
   partition gives the first n % P ranks one row more).

Tolerance: 1e-10 relative to a scale per dataset.
- Coefficients: the dataset's largest magnitude. The full-rank designs
  here have condition numbers <= ~1e2 (rank-deficient ones are solved for
  the minimum-norm head, which is unique), so the rank-dependent order of
  the reductions moves coefficients by ~1e-13 relative (~1e-11 in case 3,
  where the local blocks are underdetermined); 1e-10 keeps a margin and
  still catches any real change (a lost or doubled row moves them by
  ~1e-3).
- Error metrics (every /metrics float dataset except pgr): the largest
  weak_error of the run (the label scale), or the dataset's own largest
  magnitude if that is bigger. These are means of squared differences of
  label-sized predictions, so their rounding is ~eps times the label scale
  even when the value itself is pure rounding: the realizable strong ceiling
  error is ~1e-29 and differs between rank counts by O(1) of ITSELF, which
  is still 1e-28 of the labels and no discrepancy.
- pgr (dimensionless): its own largest magnitude; NaN exactly where the
  reference has NaN.
- task, weak_model, names, dims, ranks: exactly equal.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

TOL = 1e-10


def load(path):
    d = C.load(path)
    with h5py.File(path, "r") as f:
        r = f["representations"]
        d["repr/name"] = list(r["name"].asstr()[()])
        d["repr/dim"] = r["dim"][()]
        d["repr/effective_rank"] = r["effective_rank"][()]
        d["repr/condition"] = r["condition"][()]
        d["attr/mpi_ranks"] = int(f.attrs["mpi_ranks"])
    return d


def compare(label, ref, got, ranks):
    tag = "%s: %d ranks vs 1" % (label, ranks)
    check(got.get("attr/mpi_ranks") == ranks, "%s: mpi_ranks attribute %r"
          % (tag, got.get("attr/mpi_ranks")))
    keys = sorted(k for k in ref if k.startswith(("metrics/",
                                                   "coefficients/")))
    check(keys == sorted(k for k in got if k.startswith(("metrics/",
                                                          "coefficients/"))),
          "%s: different datasets" % tag)
    check(any(k.startswith("coefficients/weak/") for k in keys) and
          "metrics/gain" in keys, "%s: datasets not found: %s" % (tag, keys))
    label_scale = float(np.max(np.abs(ref["metrics/weak_error"])))
    worst = {}
    for k in keys:
        a, b = ref[k], got.get(k)
        if b is None:
            continue
        if isinstance(a, list) or k == "metrics/task":
            check(list(a) == list(b), "%s: %s differs" % (tag, k))
            continue
        if a.shape != b.shape:
            check(False, "%s: %s shape %s vs %s" % (tag, k, a.shape, b.shape))
            continue
        if k == "metrics/pgr":
            if not check(np.array_equal(np.isnan(a), np.isnan(b)),
                         "%s: pgr NaN at different pairs" % tag):
                continue
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            scale = np.max(np.abs(a)) if a.size else 1.0
        elif k.startswith("metrics/"):
            scale = max(label_scale, np.max(np.abs(a)))
        else:
            scale = np.max(np.abs(a))
        scale = scale or 1.0
        ok = np.all(np.isfinite(b)) if a.size else True
        err = float(np.max(np.abs(a - b)) / scale) if a.size else 0.0
        worst[k] = err
        check(ok and err <= TOL, "%s: %s differs by %.3g relative to %.3g "
              "(tolerance %g)" % (tag, k, err, scale, TOL))
    for k in ("repr/name", "repr/dim", "repr/effective_rank"):
        check(list(ref[k]) == list(got[k]), "%s: %s %s vs %s"
              % (tag, k, list(ref[k]), list(got[k])))
    full = ref["repr/effective_rank"] == ref["repr/dim"] + 1
    ca, cb = ref["repr/condition"][full], got["repr/condition"][full]
    # The stated bound behind TOL: rank-dependent rounding moves a
    # backward-stable solution by <= 30 p cond eps (p coefficients per head,
    # 30 the LAPACK test threshold); TOL must cover it for this run's designs.
    p = int(np.max(ref["repr/dim"])) + 1
    cmax = float(np.max(ca)) if ca.size else 1.0
    check(30 * p * cmax * np.finfo(float).eps <= TOL,
          "%s: precondition: designs too ill-conditioned for TOL (cond %.3g)"
          % (tag, cmax))
    if ca.size:
        rel = np.max(np.abs(ca - cb) / ca)
        check(rel <= 1e-6, "%s: condition of full-rank designs %s vs %s"
              % (tag, ca, cb))
    big = max(worst, key=worst.get) if worst else None
    C.note("%s: largest difference %.2g (%s)" % (tag, worst.get(big, 0), big))


def case(tmp, label, ranks, **kw):
    cfg = C.write_config(tmp, label + ".ini", **kw)
    runs = {}
    for p in (1,) + tuple(ranks):
        out = os.path.join(tmp, "%s-%d.h5" % (label, p))
        r = C.simulate(cfg, out, ranks=p)
        C.note("%s at %d rank%s: %.1fs" % (label, p, "" if p == 1 else "s",
                                            r.seconds))
        if r.returncode == 0:
            runs[p] = load(out)
        check(not C.partials(tmp), "%s: partial files left: %s"
              % (label, C.partials(tmp)))
    if 1 not in runs:
        return None
    for p in ranks:
        if p in runs:
            compare(label, runs[1], runs[p], p)
    return runs[1]


def main():
    with C.scratch("w2s-ranks-") as tmp:
        case(tmp, "quick", (2, 3, 4, 5, 8))
        case(tmp, "per_task", (2, 3),
             experiment={"task_inputs": "per_task"})
        ref = case(tmp, "n18", (3,), n_weak_train=18)
        if ref is not None:
            check(ref["coefficients/weak/random2"].shape[1] == 17,
                  "n18: heads should have 17 parameters (16 + intercept)")
        ref = case(tmp, "zero_rows", (6,), tasks=5, n_weak_train=4,
                   n_w2s_train=5, n_test=4,
                   data={"input_dim": "2"},
                   target={"depth": "1", "width": "2"},
                   weak={"lin": {"source": "random", "depth": "0"},
                         "r1": {"source": "random", "depth": "1",
                                "width": "2"}})
        if ref is not None:
            # the premise: 3-parameter heads everywhere, full rank (a
            # degenerate all-dead design would make the comparison trivial)
            check(ref["coefficients/strong_ceiling"].shape == (5, 3) and
                  ref["coefficients/weak/lin"].shape == (5, 3),
                  "zero_rows: heads should have 3 parameters")
            check(list(ref["repr/effective_rank"]) == [3, 3, 3],
                  "zero_rows: designs should have full rank 3, got %s"
                  % list(ref["repr/effective_rank"]))


if __name__ == "__main__":
    C.main_guard(main, "test_ranks")
