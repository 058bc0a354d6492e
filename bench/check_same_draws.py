#!/usr/bin/python3
"""Checks that a numpy program (--rng w2s --coef FILE.npz) drew the same
networks, heads and samples as a `w2s simulate` results file of the same
experiment: its fitted heads agree with the file's /coefficients, and its
strong ceiling recovers the true task heads (realizable: y_t is exactly
linear in [h_s, 1], so the ceiling IS (a_t, b_t)).

  check_same_draws.py RESULTS.h5 COEF.npz [--seed S]

Tolerance. Two backward-stable least-squares solvers on data that differ by
a relative eps (numpy's log/cos/sin against the C library's, the last ulp of
the Box-Muller samples) give heads that differ by at most about
  eps * (kappa + kappa^2 * |r| / (|A| |c|))  <=  2 eps kappa^2
relative (Golub and Van Loan's perturbation bound of least squares), kappa
the condition number of the design, which w2s records per representation in
/representations/condition (of the column-equilibrated design). The
unequilibrated columns (an intercept of 1 next to features of size ~ the
input scale 500) and rounding that grows with sqrt(n) are allowed a further
factor of 1e3: the check is |dc|_max / |c|_max <= 1e3 * 2 eps kappa^2 per
dataset. Different draws (another seed, --rng numpy) miss it by ~10 orders.
Exit status 0 when every dataset passes, 1 otherwise.
"""
import argparse
import sys

import h5py
import numpy as np

import benchcommon as bc


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("results")
    p.add_argument("coef")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    eps = np.finfo(float).eps
    ok = True
    c = np.load(a.coef)
    with h5py.File(a.results, "r") as f:
        reps = f["representations"]
        kappa = {n.decode(): k for n, k in zip(reps["name"][()],
                                                reps["condition"][()])}
        tasks = f["coefficients/strong_ceiling"].shape[0]
        heads = bc.task_heads(a.seed, tasks)
        checks = [("strong_ceiling", "strong", f["coefficients/strong_ceiling"][()]),
                  ("w2s", "strong", f["coefficients/w2s"][()])]
        for name in f["coefficients/weak"]:
            checks.append(("weak/" + name, "weak." + name,
                           f["coefficients/weak/" + name][()]))
        for key, rep, ref in checks:
            got = c[key]
            tol = 1e3 * 2.0 * eps * kappa[rep] ** 2
            rel = np.max(np.abs(got - ref)) / np.max(np.abs(ref))
            ok &= bool(rel <= tol)
            print("%-22s %s max|dc|/max|c| = %.1e (tolerance %.1e, kappa %.1f)"
                  % (key, "ok  " if rel <= tol else "FAIL", rel, tol, kappa[rep]))
        tol = 1e3 * 2.0 * eps * kappa["strong"] ** 2
        rel = np.max(np.abs(c["strong_ceiling"] - heads)) / np.max(np.abs(heads))
        ok &= bool(rel <= tol)
        print("%-22s %s max|dc|/max|c| = %.1e against the true task heads"
              % ("ceiling = (a_t, b_t)", "ok  " if rel <= tol else "FAIL", rel))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
