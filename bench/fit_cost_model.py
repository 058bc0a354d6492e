#!/usr/bin/env python3
"""Fit the factor engine's cost model to bench/engine_scaling.sh output.

Model (docs/BENCHMARKS.md): the time of one split on P ranks is
    t(n, D, P) = (n / min(P, cores)) * (a * f_nets + b * 2 D^2) + c * ceil(log2 P)
with f_nets the forward flops per row of the split's networks (2 x their
parameters: h* of depth 5 width 16 on 8 inputs, J random 2-layer width-16
nets), D the stacked columns, a and b the inverse rates (s per flop) of the
forward passes (with the sampling) and of TSQR, and c the cost of one level
of the cross-rank reduction. With --tsqr, b comes from TSQR rates measured
by `w2s bench` at each D and only a is fitted; without, a and b are fitted
(least squares) on the 1-rank runs. c is fitted on the multi-rank ones; every run is then predicted and the
ratio measured / predicted printed. Splits: weak_fit (split 0), strong_fit
(split 1), test (split 2), each one streamed split plus small solves.

Usage: bench/fit_cost_model.py SCALING_OUTPUT [--cores 2]
"""
import argparse
import math

import numpy as np

T_PARAMS = 16 * 9 + 4 * 16 * 17   # h*: depth 5, width 16, 8 inputs
W_PARAMS = 16 * 9 + 16 * 17       # a random 2-layer width-16 net


def load(path):
    runs = {}
    for line in open(path):
        f = line.split()
        if not f or f[0] != "ranks":
            continue
        kv = dict(zip(f[0::2], f[1::2]))
        key = (int(kv["ranks"]), int(kv["J"]), int(kv["D"]), float(kv["n"]))
        runs.setdefault(key, []).append(
            [float(kv["weak_fit"]), float(kv["strong_fit"]), float(kv["test"])])
    # median over repeats of the per-split time (mean of the three splits)
    return {k: float(np.median([np.mean(v) for v in vs])) for k, vs in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--tsqr", default="",
                    help="measured TSQR rates D:GFLOP/s,... (w2s bench --solvers "
                    "tsqr --cols D --rhs 1 --stream, 1 rank): b per D from "
                    "them, and only a fitted")
    o = ap.parse_args()
    t = load(o.path)
    one = [(k, v) for k, v in t.items() if k[0] == 1]
    rates = {int(x.split(":")[0]): float(x.split(":")[1]) * 1e9
             for x in o.tsqr.split(",") if x}
    if rates:
        # t - n 2 D^2 / r(D) = a n f_nets: one unknown, least squares.
        f = np.array([k[3] * 2.0 * (T_PARAMS + k[1] * W_PARAMS) for k, _ in one])
        y = np.array([v - k[3] * 2.0 * k[2] ** 2 / rates[k[2]] for k, v in one])
        a = float(f @ y / (f @ f))
        bs = {D: 1.0 / r for D, r in rates.items()}
    else:
        A = np.array([[k[3] * 2.0 * (T_PARAMS + k[1] * W_PARAMS),
                       k[3] * 2.0 * k[2] ** 2] for k, _ in one])
        y = np.array([v for _, v in one])
        (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
        bs = {k[2]: b for k in t}
    multi = [(k, v) for k, v in t.items() if k[0] > 1]
    resid = []
    for k, v in multi:
        P, J, D, n = k
        base = n / min(P, o.cores) * (a * 2.0 * (T_PARAMS + J * W_PARAMS)
                                      + bs[D] * 2.0 * D * D)
        resid.append((v - base) / math.ceil(math.log2(P)))
    c = float(np.median(resid)) if resid else 0.0
    print("forward passes + sampling: %.3g GFLOP/s per rank (a = %.3g s/flop)" % (1e-9 / a, a))
    for D in sorted(bs):
        print("TSQR at D = %d: %.3g GFLOP/s per rank%s"
              % (D, 1e-9 / bs[D], " (measured)" if rates else " (fitted)"))
    print("reduction: c = %.3g s per level" % c)
    print()
    print("| ranks | J | D | n | measured (s per split, median) | model | measured / model |")
    print("|---|---|---|---|---|---|---|")
    for k in sorted(t):
        P, J, D, n = k
        pred = (n / min(P, o.cores) * (a * 2.0 * (T_PARAMS + J * W_PARAMS)
                                       + bs[D] * 2.0 * D * D)
                + c * (math.ceil(math.log2(P)) if P > 1 else 0))
        over = " (oversubscribed)" if P > o.cores else ""
        print("| %d%s | %d | %d | %.0e | %.3f | %.3f | %.2f |"
              % (P, over, J, D, n, t[k], pred, t[k] / pred))


if __name__ == "__main__":
    main()
