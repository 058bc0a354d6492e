#!/usr/bin/env python3
"""End-to-end checks of the solver layer through the w2s binary.

1. `w2s simulate` gives the same metrics with every fit.solver, at 1 and 2
   ranks. Tolerance: every solver's coefficients are within the normal
   equations' forward-error bound c * cond^2 * eps of the exact fit (cond: the
   largest `/representations/condition` of the run; the Householder solvers
   are far inside it), so two solvers' metrics, relative to the label scale,
   differ by at most twice that; c = 30 * p (p coefficients per head), the
   dimension factor of the rounding analysis times LAPACK's test threshold.
2. `w2s bench --format csv` has exactly the documented header and one row per
   solver. Its errors are against the exact least-squares solution, so at
   cond 1e10: Householder QR (tsqr) is within 30x the first-order bound
   cond eps (1 + cond rho) the bench prints, `auto` within 10x of
   Householder's own error (or of cond eps, if Householder is luckier than
   that), and `normal` fails or is far outside that.
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

SOLVERS = ["auto", "cholqr2", "scholqr3", "tsqr", "normal", "scalapack"]


def run(args, ranks, timeout=300):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", W2S] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main():
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
                t = 2 * 30 * p * cond ** 2 * np.finfo(float).eps
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
        r = run(["bench", "--rows", "20000", "--cols", "32", "--rhs", "4",
                 "--cond", "1e10", "--repeat", "1", "--format", "csv"], 2)
        check(r.returncode == 0, "bench csv exit: " + r.stderr[-300:])
        lines = r.stdout.strip().splitlines()
        check(lines and lines[0] == header, "bench csv header: %r" % lines[:1])
        rows = {row["solver"]: row for row in csv.DictReader(io.StringIO(r.stdout))}
        check(sorted(rows) == sorted(SOLVERS), "bench rows: %s" % sorted(rows))
        if "auto" in rows and "normal" in rows and "tsqr" in rows:
            eps, cond = np.finfo(float).eps, 1e10
            href = float(rows["tsqr"]["tsqr_rel_error"])
            bound = float(rows["tsqr"]["error_bound"])
            check(float(rows["tsqr"]["rel_error"]) == href,
                  "tsqr's row and the Householder column disagree")
            check(href <= 30 * bound, "Householder error %g beyond 30x the "
                  "perturbation bound %g" % (href, bound))
            allowed = 10 * max(href, cond * eps)
            check(float(rows["auto"]["rel_error"]) <= allowed,
                  "auto rel_error at cond 1e10: %s > 10x max(Householder's "
                  "%g, cond eps)" % (rows["auto"]["rel_error"], href))
            nerr = float(rows["normal"]["rel_error"])
            check(not nerr <= allowed, "normal at cond 1e10 should be failed "
                  "(nan) or inaccurate, got rel_error %s" % nerr)
            check(float(rows["scalapack"]["ratio_vs_scalapack"]) == 1.0,
                  "scalapack ratio to itself")
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
    print("test_solvers_e2e: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
