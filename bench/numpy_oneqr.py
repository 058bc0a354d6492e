#!/usr/bin/python3
"""Every fit and metric of a split from ONE QR of its stacked features.

Per split, Z = [1, h_s, h_w1 .. h_wK] (n x p, p = 1 + 16 (K + 1)); h* is
already in Z since the strong representation is h* itself. Every label,
prediction and head of the experiment is Z v for a coefficient vector v in
Z's columns: y_t = Z v_y (b_t on the 1, a_t on h_s), a weak head's
predictions Z v_w (its coefficients on [1, h_wj]), a strong head's Z v_s. With
Z = Q R (Q's columns orthonormal), for any u:  |Z u|^2 = |R u|^2, so
  a fit of Z v on the columns S:  argmin_c |Z_S c - Z v| = argmin_c |R_S c - R v|
                                  (a p x |S| solve instead of n x |S|),
  a mean squared distance:       mean (Z v_a - Z v_b)^2 = |R (v_a - v_b)|^2 / n.
R is accumulated over blocks of rows, R <- qr([R; Z_block]), so no array of a
split's size is ever held.
"""
import time

import numpy as np

import benchcommon as bc


def factor(ex, split, timer):
    """R (p x p) of the split's Z = [1, h_s, h_w1..h_wK]."""
    n, blk, R = ex.args.n, ex.args.block, None
    for i in range(0, n, blk):
        t0 = time.perf_counter()
        m = min(blk, n - i)
        hs, hw = ex.features(split, i, m)
        Z = np.hstack([np.ones((m, 1)), hs] + hw)
        timer.add("generate", t0)
        t0 = time.perf_counter()
        R = np.linalg.qr(Z if R is None else np.vstack([R, Z]), mode="r")
        timer.add("factor", t0)
    return R


def main():
    args = bc.parse(__doc__)
    t_start = time.perf_counter()
    timer = bc.Timer()
    ex = bc.Experiment(args)
    T, K, n, W = args.tasks, args.weak, args.n, bc.WIDTH
    p = 1 + W * (K + 1)
    # Columns of the heads in w2s's order, features then the intercept.
    S = list(range(1, 1 + W)) + [0]
    Wj = [list(range(1 + W * (j + 1), 1 + W * (j + 2))) + [0]
          for j in range(K)]
    # w2s's default rank cutoff eps * max(n, p), relative to the largest
    # singular value (R_S has Z_S's singular values).
    rcond = np.finfo(float).eps * max(n, p)

    def fit(R, cols, V):
        return np.linalg.lstsq(R[:, cols], R @ V, rcond=rcond)[0]

    def embed(C, cols):
        V = np.zeros((p, C.shape[1]))
        V[cols] = C
        return V

    Vy = embed(np.vstack([ex.A, ex.b]), S)            # p x T
    R = factor(ex, bc.SPLIT_WEAK, timer)
    t0 = time.perf_counter()
    Cw = [fit(R, Wj[j], Vy) for j in range(K)]       # 17 x T each
    timer.add("weak_fit", t0)

    # Pair k = t K + j (w2s's order): v_y, v_w, then the w2s heads v_sw.
    Vyk = np.repeat(Vy, K, axis=1)
    Vw = np.stack([embed(Cw[j], Wj[j]) for j in range(K)], axis=2)
    Vw = Vw.reshape(p, T * K)
    R = factor(ex, bc.SPLIT_W2S, timer)
    t0 = time.perf_counter()
    C = fit(R, S, np.hstack([Vy, Vw]))                # ceiling | every pair
    Cs, Csw = C[:, :T], C[:, T:]
    Vsw = embed(Csw, S)
    timer.add("strong_fit", t0)

    def metrics(R, suffix):
        D, E = R @ (Vw - Vsw), R @ (Vsw - Vyk)
        F = R @ (Vw - Vyk)
        return {"weak_error" + suffix: np.sum(F * F, 0) / n,
                "w2s_error" + suffix: np.sum(E * E, 0) / n,
                "misfit" + suffix: np.sum(D * D, 0) / n,
                # as w2s accumulates it: mean(d^2 + 2 d e)
                "gain" + suffix: np.sum(D * D + 2.0 * D * E, 0) / n}

    t0 = time.perf_counter()
    m = metrics(R, "_train")
    timer.add("train_metrics", t0)
    R = factor(ex, bc.SPLIT_TEST, timer)
    t0 = time.perf_counter()
    m.update(metrics(R, ""))
    timer.add("test_metrics", t0)
    m = {k: v.reshape(T, K) for k, v in m.items()}
    coef = {"strong_ceiling": Cs.T, "w2s": Csw.T}
    for j, name in enumerate(bc.weak_sections(K)):
        coef["weak/" + name[5:]] = Cw[j].T
    bc.finish(args, "numpy_oneqr", timer, t_start, m, coef)


if __name__ == "__main__":
    main()
