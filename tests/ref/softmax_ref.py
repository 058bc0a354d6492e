#!/usr/bin/env python3
"""An independent numpy solver of the softmax heads' problem (heads.h), against
the C Newton solver (src/heads/softmax.c).

Usage: softmax_ref.py TEST_SOFTMAX. Runs `TEST_SOFTMAX --dump FILE` (the unit
test's binary: it builds a few problems, fits them with w2s_softmax_fit and
writes data and fits, see dump() in tests/unit/test_softmax.c), then solves
every problem again here and compares.

The problem: class 0 pinned at logit 0, W is p x (C - 1),
    L(W) = (1/n) sum_i -sum_c y_ic log softmax(0, h_i W)_c
           + ridge * sum_{j penalised, c} W_jc^2.
The reference shares no code with the C solver: the objective by numpy's
log-sum-exp, the gradient H^T (s P - Y) / n by matrix products, the Hessian as
the sum over rows of kron(s_i (diag p_i - p_i p_i^T), h_i h_i^T) built with
einsum, the Newton step by lstsq (minimum norm), a backtracking line search,
iterated until the gradient stops shrinking (float64's floor).

Tolerance. L is strongly convex with modulus lambda_min (of the Hessian at the
optimum), so two approximate minimisers W_a, W_b are within
2 (||g(W_a)|| + ||g(W_b)||) / lambda_min (the 2 covers the Hessian's change
over the tiny segment and float64 rounding of g, ~1e-16 ||H|| ||s P - Y|| / n).
The required agreement is 1e-8 ||W|| (or 1e-8 when ||W|| < 1); the test also
fails when that bound exceeds the tolerance (the tolerance would then not be
justified by the problem's conditioning). Measured: differences 2e-16 .. 8e-12
against bounds 3e-15 .. 1e-10 (the C = 5 one-hot case is the least well
conditioned, lambda_min 2.5e-3).
"""
import os
import subprocess
import sys
import tempfile

import numpy as np


def read_cases(path):
    raw = open(path, "rb").read()
    pos = 0

    def take(dtype, count):
        nonlocal pos
        a = np.frombuffer(raw, dtype=dtype, count=count, offset=pos)
        pos += a.nbytes
        return a

    cases = []
    for _ in range(int(take(np.int64, 1)[0])):
        m, p, C = (int(v) for v in take(np.int64, 3))
        ridge, tol = take(np.float64, 2)
        pen = take(np.int64, p).astype(bool)
        H = take(np.float64, m * p).reshape(p, m).T
        Y = take(np.float64, m * C).reshape(C, m).T
        W = take(np.float64, p * (C - 1)).reshape(C - 1, p).T
        cases.append(dict(m=m, p=p, C=C, ridge=float(ridge), tol=float(tol),
                          pen=pen, H=H, Y=Y, W=W))
    if pos != len(raw):
        raise SystemExit(f"softmax_ref: {len(raw) - pos} bytes left over")
    return cases


def log_probs(H, W):
    Z = np.hstack([np.zeros((H.shape[0], 1)), H @ W])
    mx = Z.max(axis=1, keepdims=True)
    return Z - (mx + np.log(np.exp(Z - mx).sum(axis=1, keepdims=True)))


def objective(cs, W):
    n = cs["H"].shape[0]
    f = -(cs["Y"] * log_probs(cs["H"], W)).sum() / n
    return f + cs["ridge"] * (W[cs["pen"], :] ** 2).sum()


def grad_hess(cs, W):
    H, Y, ridge = cs["H"], cs["Y"], cs["ridge"]
    n, p = H.shape
    k = W.shape[1]
    P = np.exp(log_probs(H, W))[:, 1:]
    s = Y.sum(axis=1)
    G = H.T @ (s[:, None] * P - Y[:, 1:]) / n
    G[cs["pen"], :] += 2.0 * ridge * W[cs["pen"], :]
    A = s[:, None, None] * (np.einsum("ic,cd->icd", P, np.eye(k))
                            - np.einsum("ic,id->icd", P, P))
    Hs = np.einsum("icd,ij,il->cjdl", A, H, H).reshape(k * p, k * p) / n
    Hs[np.diag_indices(k * p)] += np.tile(2.0 * ridge * cs["pen"], k)
    # vec(G) in the same order as the Hessian's rows: class-major, column c
    # of W contiguous (W's column-major vec).
    return G.T.reshape(-1), Hs


def newton(cs):
    p, k = cs["p"], cs["C"] - 1
    W = np.zeros((p, k))
    f = objective(cs, W)
    g, Hs = grad_hess(cs, W)
    g0 = np.linalg.norm(g)
    best, stall = np.linalg.norm(g), 0
    for _ in range(200):
        step = np.linalg.lstsq(Hs, -g, rcond=None)[0].reshape(k, p).T
        slope = float(g @ step.T.reshape(-1))
        t = 1.0
        while True:
            Wt = W + t * step
            ft = objective(cs, Wt)
            if ft <= f + 1e-4 * t * slope or t < 1e-10:
                break
            t *= 0.5
        if t < 1e-10 and ft > f:
            break  # no decrease left: at float64's floor
        W, f = Wt, ft
        g, Hs = grad_hess(cs, W)
        gn = np.linalg.norm(g)
        if gn < best * 0.5:
            best, stall = gn, 0
        else:
            stall += 1
            if stall >= 3:
                break
    return W, np.linalg.norm(g), g0, Hs


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: softmax_ref.py TEST_SOFTMAX")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "softmax.bin")
        r = subprocess.run([sys.argv[1], "--dump", path])
        if r.returncode != 0:
            raise SystemExit(f"softmax_ref: {sys.argv[1]} --dump failed "
                             f"({r.returncode})")
        cases = read_cases(path)
    failures = 0
    for t, cs in enumerate(cases):
        Wr, gr, g0, Hs = newton(cs)
        gc, _ = grad_hess(cs, cs["W"])
        lam = np.linalg.eigvalsh(Hs)[0]
        bound = 2.0 * (np.linalg.norm(gc) + gr) / lam
        err = np.linalg.norm(cs["W"] - Wr)
        scale = max(1.0, np.linalg.norm(Wr))
        tol = 1e-8 * scale
        fc, fr = objective(cs, cs["W"]), objective(cs, Wr)
        what = (f"case {t} (m={cs['m']} p={cs['p']} C={cs['C']} "
                f"ridge={cs['ridge']:g}): |W - W_ref| = {err:.2e} "
                f"(tolerance {tol:.1e}, bound {bound:.2e}), "
                f"L {fc:.15g} vs {fr:.15g}, lambda_min {lam:.2e}, "
                f"reference |g|/|g0| {gr / g0:.1e}")
        ok = (err <= tol and bound <= tol and gr <= 1e-13 * g0
              and abs(fc - fr) <= 1e-12 * (1.0 + abs(fr)))
        print(("ok   " if ok else "FAIL ") + what)
        failures += not ok
    if failures:
        raise SystemExit(f"softmax_ref: {failures} of {len(cases)} cases "
                         f"failed")


if __name__ == "__main__":
    main()
