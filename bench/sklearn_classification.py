#!/usr/bin/python3
"""scikit-learn's LogisticRegression on the data of bench/classification-1e6.ini.

Draws the weak-training split of that configuration as `w2s simulate` does
(benchcommon's Philox port: the inputs, the random2 network, the tasks'
softmax heads on h*, one class per sample drawn from p*), fits
LogisticRegression(solver="lbfgs", penalty=None, tol=TOL) to each of the
first --fit tasks' labels, and reports per fit the seconds, lbfgs's
iterations and the mean cross-entropy reached. With --w2s RESULTS.h5 (the
run of the same configuration) it also evaluates w2s's fitted weak heads on
the same rows: their cross-entropy and the largest relative gradient of each
fit, so that both fits are compared at the accuracy they reached.

    bench/sklearn_classification.py --fit 5 --w2s classification-1e6.h5
"""
import argparse
import json
import time

import numpy as np

import benchcommon as B

SEED, TEMPERATURE, C, N = 11, 1.0, 4, 1000000
STREAM_LABELS = 4


def draw(n, tasks, block=200000):
    """Weak features [n, 16] and sampled labels [n, tasks] of split 0."""
    target = B.mlp_init(SEED, B.STREAM_TARGET, B.INPUT_DIM, B.WIDTH,
                        B.TARGET_DEPTH)
    weak = B.mlp_init(SEED, B.stream_of("weak.random2"), B.INPUT_DIM, B.WIDTH,
                      2)
    bound = 1.0 / np.sqrt(B.WIDTH)
    heads = np.stack([np.stack([B.uniform(SEED, B.STREAM_TASK_HEADS, t, k, 0,
                                          B.WIDTH + 1, -bound, bound)
                                for k in range(C)]) for t in range(tasks)])
    X = np.empty((n, B.WIDTH))
    y = np.empty((n, tasks), dtype=np.int64)
    for i0 in range(0, n, block):
        m = min(block, n - i0)
        rows = np.arange(i0, i0 + m, dtype=np.uint64)
        x = B.INPUT_SCALE * B.normal_rows(SEED, B.STREAM_SAMPLES, 0, 0, rows,
                                          B.INPUT_DIM)
        hs = B.mlp_forward(target, x)
        X[i0:i0 + m] = B.mlp_forward(weak, x)
        for t in range(tasks):
            z = (hs @ heads[t, :, :B.WIDTH].T + heads[t, :, B.WIDTH]) \
                / TEMPERATURE
            p = np.exp(z - z.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            w = B.philox4x64(SEED, STREAM_LABELS, 0, rows, t, 0)
            u = B._unit53(w[0])
            cls = (np.cumsum(p, axis=1) > u[:, None]).argmax(axis=1)
            cls[(np.cumsum(p, axis=1) <= u[:, None]).all(axis=1)] = C - 1
            y[i0:i0 + m, t] = cls
    return X, y


def cross_entropy(X1, y, W):
    """Mean CE of a pinned-reference head W [17, C - 1] (intercept last)."""
    z = np.concatenate([np.zeros((len(y), 1)), X1 @ W], axis=1)
    z -= z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.mean(lse - z[np.arange(len(y)), y]))


def rel_gradient(X1, y, W):
    """||grad|| / ||grad at 0|| of the mean CE at W (the w2s criterion)."""
    def grad(Wv):
        z = np.concatenate([np.zeros((len(y), 1)), X1 @ Wv], axis=1)
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        Y = np.zeros_like(p)
        Y[np.arange(len(y)), y] = 1.0
        return X1.T @ (p - Y)[:, 1:] / len(y)
    return float(np.linalg.norm(grad(W)) / np.linalg.norm(grad(W * 0.0)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit", type=int, default=5, help="tasks to fit")
    ap.add_argument("--n", type=float, default=N)
    ap.add_argument("--tol", type=float, default=1e-12)
    ap.add_argument("--standardize", action="store_true",
                    help="fit sklearn on standardised features (its advice "
                    "for lbfgs; the heads are mapped back to the raw ones)")
    ap.add_argument("--w2s", help="w2s results file of the configuration")
    ap.add_argument("--out", help="JSON file of the results")
    a = ap.parse_args()
    from sklearn.linear_model import LogisticRegression
    import sklearn
    n = int(a.n)
    t0 = time.perf_counter()
    X, y = draw(n, a.fit)
    print("drew %d rows, %d tasks in %.1f s" % (n, a.fit,
                                                time.perf_counter() - t0))
    X1 = np.concatenate([X, np.ones((n, 1))], axis=1)
    mu, sd = X.mean(axis=0), X.std(axis=0)
    sd[sd == 0] = 1.0
    Xfit = (X - mu) / sd if a.standardize else X
    fits = []
    for t in range(a.fit):
        m = LogisticRegression(solver="lbfgs", penalty=None, tol=a.tol,
                               max_iter=100000)
        t1 = time.perf_counter()
        m.fit(Xfit, y[:, t])
        sec = time.perf_counter() - t1
        # The overparameterised softmax, shifted to class 0's pinned logit
        # (and, when standardised, back to the raw features).
        A, b = m.coef_.T, m.intercept_
        if a.standardize:
            A, b = A / sd[:, None], b - (mu / sd) @ m.coef_.T
        W = np.concatenate([A, b[None, :]], axis=0)
        W = (W - W[:, :1])[:, 1:]
        fits.append({"task": t, "seconds": sec, "iterations": int(m.n_iter_[0]),
                     "cross_entropy": cross_entropy(X1, y[:, t], W),
                     "rel_gradient": rel_gradient(X1, y[:, t], W)})
        print("task %d: %.2f s, %d lbfgs iterations, CE %.15f, relative "
              "gradient %.2e" % (t, sec, fits[-1]["iterations"],
                                 fits[-1]["cross_entropy"],
                                 fits[-1]["rel_gradient"]))
    out = {"sklearn": sklearn.__version__, "n": n, "tol": a.tol,
           "standardize": a.standardize, "fits": fits,
           "median_seconds": float(np.median([f["seconds"] for f in fits]))}
    if a.w2s:
        import h5py
        with h5py.File(a.w2s, "r") as f:
            coef = f["coefficients/weak/random2"][()]
        w2s = []
        for t in range(a.fit):
            W = coef[t].reshape(C - 1, B.WIDTH + 1).T
            w2s.append({"task": t, "cross_entropy": cross_entropy(X1, y[:, t],
                                                                   W),
                        "rel_gradient": rel_gradient(X1, y[:, t], W)})
            print("w2s task %d: CE %.15f (sklearn %+.2e), relative gradient "
                  "%.2e" % (t, w2s[-1]["cross_entropy"],
                            fits[t]["cross_entropy"] -
                            w2s[-1]["cross_entropy"], w2s[-1]["rel_gradient"]))
        out["w2s"] = w2s
    print("median seconds per sklearn fit: %.2f" % out["median_seconds"])
    if a.out:
        with open(a.out, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
