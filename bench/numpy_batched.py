#!/usr/bin/python3
"""The straightforward numpy program of the paper's experiment: every head an
exact np.linalg.lstsq on the split's full design, all tasks' right-hand sides
in one call, and every prediction materialised (n x tasks matrices).

Split 0: weak heads, lstsq of y_t on [h_w, 1]. Split 1: the strong ceiling,
lstsq of y_t on [h_s, 1], and the w2s heads, lstsq of the weak heads'
predictions on [h_s, 1]. Metrics per (task, weak) pair on split 2 (test) and
split 1 (train). Tasks are taken in chunks so that one n x chunk matrix holds
at most --max-doubles values (all tasks at once in the paper's 1e6 x 100).
"""
import time

import numpy as np

import benchcommon as bc


def split_features(ex, split, timer):
    t0 = time.perf_counter()
    n, blk = ex.args.n, ex.args.block
    parts = [ex.features(split, i, min(blk, n - i)) for i in range(0, n, blk)]
    hs = np.vstack([p[0] for p in parts])
    hw = [np.vstack([p[1][j] for p in parts]) for j in range(ex.args.weak)]
    one = np.ones((n, 1))
    timer.add("generate", t0)
    # Designs with the intercept last, as w2s stores the heads.
    return hs, np.hstack([hs, one]), [np.hstack([h, one]) for h in hw]


def lstsq(X, Y):
    # rcond None: singular values below eps * max(n, p) of the largest are
    # cut, w2s's default fit.rank_tol (dead ReLU units give zero columns).
    return np.linalg.lstsq(X, Y, rcond=None)[0]


def pair_metrics(Y, Fw, Fsw):
    """Column means over the split; gain accumulated as w2s does it,
    mean(d^2 + 2 d e) with d = f_w - f_sw, e = f_sw - y."""
    d, e = Fw - Fsw, Fsw - Y
    return {"weak_error": np.mean((Fw - Y) ** 2, axis=0),
            "w2s_error": np.mean(e ** 2, axis=0),
            "misfit": np.mean(d ** 2, axis=0),
            "gain": np.mean(d * d + 2.0 * d * e, axis=0)}


def main():
    args = bc.parse(__doc__)
    t_start = time.perf_counter()
    timer = bc.Timer()
    ex = bc.Experiment(args)
    T, K, n = args.tasks, args.weak, args.n
    tc = max(1, min(T, int(args.max_doubles // n)))
    chunks = [(t, min(T, t + tc)) for t in range(0, T, tc)]

    hs, _, Xw = split_features(ex, bc.SPLIT_WEAK, timer)
    t0 = time.perf_counter()
    Cw = [np.empty((17, T)) for _ in range(K)]
    for a, b in chunks:
        Y = hs @ ex.A[:, a:b] + ex.b[a:b]
        for j in range(K):
            Cw[j][:, a:b] = lstsq(Xw[j], Y)
    timer.add("weak_fit", t0)
    del hs, Xw, Y

    hs, Xs, Xw = split_features(ex, bc.SPLIT_W2S, timer)
    Cs, Csw = np.empty((17, T)), np.empty((17, T, K))
    m = {k: np.empty((T, K)) for k in ("weak_error", "w2s_error", "misfit",
                                       "gain")}
    mt = {k + "_train": np.empty((T, K)) for k in m}
    for a, b in chunks:
        t0 = time.perf_counter()
        Y = hs @ ex.A[:, a:b] + ex.b[a:b]
        Cs[:, a:b] = lstsq(Xs, Y)
        timer.add("strong_fit", t0)
        for j in range(K):
            t0 = time.perf_counter()
            Fw = Xw[j] @ Cw[j][:, a:b]
            Csw[:, a:b, j] = lstsq(Xs, Fw)
            timer.add("strong_fit", t0)
            t0 = time.perf_counter()
            for k, v in pair_metrics(Y, Fw, Xs @ Csw[:, a:b, j]).items():
                mt[k + "_train"][a:b, j] = v
            timer.add("train_metrics", t0)
    del hs, Xs, Xw, Y, Fw

    hs, Xs, Xw = split_features(ex, bc.SPLIT_TEST, timer)
    t0 = time.perf_counter()
    for a, b in chunks:
        Y = hs @ ex.A[:, a:b] + ex.b[a:b]
        for j in range(K):
            fm = pair_metrics(Y, Xw[j] @ Cw[j][:, a:b], Xs @ Csw[:, a:b, j])
            for k, v in fm.items():
                m[k][a:b, j] = v
    timer.add("test_metrics", t0)
    m.update(mt)
    coef = {"strong_ceiling": Cs.T, "w2s": Csw.transpose(1, 2, 0).reshape(
        T * K, 17)}
    for j, name in enumerate(bc.weak_sections(K)):
        coef["weak/" + name[5:]] = Cw[j].T
    bc.finish(args, "numpy_batched", timer, t_start, m, coef)


if __name__ == "__main__":
    main()
