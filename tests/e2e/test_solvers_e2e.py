#!/usr/bin/env python3
"""End-to-end checks of the solver layer through the w2s binary, for every
solver of its table (`w2s bench --list-solvers`: adding a solver to the
table makes this test test it).

1. `w2s simulate` gives the same metrics with every fit.solver, at 1 and 2
   ranks. Tolerance: every solver's coefficients are within the forward-error
   bound c * cond^q * eps of the exact fit, q the largest error order in the
   table (2: the normal equations; cond: the largest
   `/representations/condition` of the run; the Householder solvers are far
   inside it), so two solvers' metrics, relative to the label scale, differ
   by at most twice that; c = 30 * p (p coefficients per head), the
   dimension factor of the rounding analysis times LAPACK's test threshold.
2. `w2s bench --format csv` has exactly the documented header and one row per
   solver of the table. Its errors are against the exact least-squares
   solution, so at cond 1e10: Householder QR (tsqr, bench's yardstick) is
   within 30x the first-order bound cond eps (1 + cond rho) the bench prints;
   every solve whose algorithm (the JSON's `ran`) has error order 1 is within
   10x of Householder's own error (or of cond eps, if Householder is luckier
   than that); a solver may fail only beyond its cond_max; one of error
   order 2 run beyond its cond_max fails or is far outside that. Every row's
   gflops is the flop model of the entry that ran (`--list-solvers` at the
   same sizes) over its time.
"""
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from common import W2S, MPIEXEC, SRC, check, failures  # the paths, in one place

import json


def run(args, ranks, timeout=300):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", W2S] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def solver_table(sizes):
    """The binary's solver table: {name: metadata}, flops at sizes."""
    r = subprocess.run([W2S, "bench", "--list-solvers"] + sizes,
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, "bench --list-solvers: " + r.stderr[-300:])
    table = {}
    for row in csv.DictReader(io.StringIO(r.stdout)):
        table[row["solver"]] = {
            "passes": (int(row["passes_min"]), int(row["passes_max"])),
            "cond_max": float(row["cond_max"]),
            "order": int(row["error_order"]),
            "streams": int(row["streams"]),
            "flops": float(row["flops"])}
    check(len(table) >= 1, "bench --list-solvers lists no solver")
    return table


def check_bench_json(table, sizes, cond):
    """Accuracy and flop counts of every solver at cond, from the table."""
    r = run(["bench"] + sizes + ["--cond", "%g" % cond, "--repeat", "1",
                                 "--format", "json"], 2)
    check(r.returncode == 0, "bench json exit: " + r.stderr[-300:])
    if r.returncode:
        return
    j = json.loads(r.stdout)
    eps = np.finfo(float).eps
    href = j["tsqr_rel_error"]
    allowed = 10 * max(href, cond * eps)
    check([row["solver"] for row in j["solvers"]] == list(table),
          "bench json rows: %s" % [row["solver"] for row in j["solvers"]])
    for row in j["solvers"]:
        name, meta = row["solver"], table.get(row["solver"])
        if meta is None:
            continue
        if not row["ok"]:
            check(cond > meta["cond_max"], "%s failed at cond %g, within its "
                  "cond_max %g: %s" % (name, cond, meta["cond_max"],
                                       row["note"]))
            continue
        ran = table.get(row["ran"])
        check(ran is not None, "%s: ran %r is not in the table"
              % (name, row["ran"]))
        if ran is None:
            continue
        lo, hi = meta["passes"]
        check(lo <= row["passes"] <= hi, "%s: %d passes, the table says %d "
              "to %d" % (name, row["passes"], lo, hi))
        # JSON numbers carry 6 significant digits.
        check(abs(row["flops"] - ran["flops"]) <= 1e-5 * ran["flops"],
              "%s: bench counted %g flops, "
              "%s's model says %g" % (name, row["flops"], row["ran"],
                                      ran["flops"]))
        g = row["flops"] / row["time_s"] * 1e-9
        check(abs(row["gflops"] - g) <= 3e-5 * g, "%s: gflops %g, flops / "
              "time %g" % (name, row["gflops"], g))
        err = row["rel_error"]
        if ran["order"] == 1:
            check(err is not None and err <= allowed, "%s (ran %s) "
                  "rel_error at cond %g: %s > 10x max(Householder's %g, cond "
                  "eps)" % (name, row["ran"], cond, err, href))
        elif cond > ran["cond_max"]:
            check(not (err is not None and err <= allowed), "%s (ran %s) at "
                  "cond %g, beyond its cond_max, should be failed or "
                  "inaccurate, got rel_error %s" % (name, row["ran"], cond,
                                                    err))


def main():
    sizes = ["--rows", "20000", "--cols", "32", "--rhs", "4"]
    table = solver_table(sizes)
    SOLVERS = list(table)
    max_order = max(m["order"] for m in table.values())
    tmp = tempfile.mkdtemp(prefix="w2s-solvers-")
    try:
        cfg = os.path.join(SRC, "data", "configs", "realizable.ini")
        quick = ["--set", "experiment.tasks=8", "--set", "data.n_weak_train=600",
                 "--set", "data.n_w2s_train=900", "--set", "data.n_test=700",
                 "--set", "fit.ridge=1e-6", "-q"]
        ref = None
        tol = None
        for ranks in (1, 2):
            for s in SOLVERS:
                out = os.path.join(tmp, "%s-%d.h5" % (s, ranks))
                r = run(["simulate", cfg, "-o", out, "--set", "fit.solver=" + s]
                        + quick, ranks)
                check(r.returncode == 0, "simulate solver=%s ranks=%d: %s"
                      % (s, ranks, r.stderr.strip()[-300:]))
                if r.returncode:
                    continue
                with h5py.File(out) as f:
                    m = {k: f["metrics"][k][:] for k in f["metrics"]
                         if k not in ("weak_model", "task", "pgr")}
                    check(f.attrs["solver"] == s, "solver attribute %s" % s)
                    cond = float(np.max(f["representations/condition"][:]))
                    p = max(f["coefficients/w2s"].shape[1],
                            max(d.shape[1] for d in
                                f["coefficients/weak"].values()))
                    check(np.isfinite(cond), "finite condition: %g" % cond)
                t = 2 * 30 * p * cond ** max_order * np.finfo(float).eps
                tol = t if tol is None else max(tol, t)
                if ref is None:
                    ref = m
                    continue
                for k, v in m.items():
                    # Relative to the metric's size, but never below the
                    # weak errors' size: in this realizable run the strong
                    # ceiling error is rounding noise (~1e-30), whose
                    # relative differences mean nothing.
                    scale = max(np.max(np.abs(ref[k])),
                                np.max(np.abs(ref["weak_error"])))
                    err = np.max(np.abs(v - ref[k])) / scale
                    check(err <= tol, "metric %s solver %s ranks %d differs "
                          "by %.3g relative (bound %.3g)" % (k, s, ranks, err,
                                                             tol))

        header = ("solver,time_s,gflops,ratio_vs_scalapack,ratio_vs_gemm,"
                  "rel_error,residual,peak_rss_mib,tsqr_rel_error,error_bound")
        r = run(["bench"] + sizes + ["--cond", "1e10", "--repeat", "1",
                                     "--format", "csv"], 2)
        check(r.returncode == 0, "bench csv exit: " + r.stderr[-300:])
        lines = r.stdout.strip().splitlines()
        check(lines and lines[0] == header, "bench csv header: %r" % lines[:1])
        rows = {row["solver"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
        check(sorted(rows) == sorted(SOLVERS), "bench rows: %s" % sorted(rows))
        if "tsqr" in rows and "scalapack" in rows:
            # The two references bench names: Householder QR (tsqr) and
            # the ScaLAPACK baseline.
            href = float(rows["tsqr"]["tsqr_rel_error"])
            bound = float(rows["tsqr"]["error_bound"])
            check(float(rows["tsqr"]["rel_error"]) == href,
                  "tsqr's row and the Householder column disagree")
            check(href <= 30 * bound, "Householder error %g beyond 30x the "
                  "perturbation bound %g" % (href, bound))
            check(float(rows["scalapack"]["ratio_vs_scalapack"]) == 1.0,
                  "scalapack ratio to itself")
        check_bench_json(table, sizes, 1e10)
        # At cond 1e3 the bound is ~1e-13: Householder within 30x of it
        # shows the bench's exact solution X* = X_true + A^+ E is right (left
        # at X_true, the error would be ~||A^+ E|| / ||X|| ~ 1e-5 here).
        r = run(["bench", "--rows", "20000", "--cols", "32", "--rhs", "4",
                 "--cond", "1e3", "--repeat", "1", "--solvers", "tsqr,auto",
                 "--format", "csv"], 2)
        check(r.returncode == 0, "bench csv cond 1e3: " + r.stderr[-300:])
        rows = {row["solver"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
        if "tsqr" in rows:
            href = float(rows["tsqr"]["tsqr_rel_error"])
            bound = float(rows["tsqr"]["error_bound"])
            check(0 < bound < 1e-12 and href <= 30 * bound,
                  "cond 1e3: Householder error %g vs bound %g" % (href, bound))
        r = run(["bench", "--rows", "5000", "--cols", "16", "--rhs", "2",
                 "--repeat", "1", "--solvers", "auto,bogus"], 2)
        check(r.returncode == 2 and "bogus" in r.stderr,
              "bench with an unknown solver: exit %d %s" % (r.returncode, r.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("solvers tested: " + " ".join(SOLVERS))
    print("test_solvers_e2e: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
