"""An independent numpy reference of `w2s simulate` with [target] head =
softmax (tests/e2e/test_classification.py).

Written from the mathematics of the experiment (docs/FORMAT.md, the brief),
not from the C code; only the random numbers and the networks come from
bench/benchcommon.py (Philox4x64-10, stream_of, mlp_init, mlp_forward,
normal_rows), which reproduces w2s's draws.

The experiment, per task t and class k:
  h*(x)      the target network, stream TARGET (2);
  a_tk, b_tk uniform(seed, TASK_HEADS, t, k, 0, tw + 1, +-1/sqrt(tw)): tw
             weights then the bias;
  p*(x)      softmax_k((a_tk . h* + b_tk) / temperature);
  labels     soft: p*; sampled: the first class whose cumulative p* exceeds
             u = uniform(seed, LABELS, split, global row, t, 1, 0, 1)
             (C - 1 if none).
Heads are multinomial logistic regressions with class 0's logit pinned at 0:
W is p x (C - 1) on the features [h, 1] (intercept last), minimising
    mean_i CE(y_i, softmax([0, x_i W])) + ridge ||W without its last row||^2.
The fits: weak heads on split 0's true labels; the strong ceiling on the
w2s split's true labels (split 1, or split 0 with data.w2s_inputs = same);
each forward student on the w2s split with targets the weak head's soft
probabilities p_w. Metrics (model first): KL(p_w||p*), KL(p_sw||p*),
KL(p_w||p_sw), KL(p_s||p*) on split 2 and on the w2s split, accuracies on
split 2 (argmax p_f against argmax p* for soft labels, the sampled label
otherwise).

Two solvers, both iterated to the rounding floor (far beyond w2s's 1e-12
relative gradient, so the reference's own error is negligible):
  newton_softmax: Newton's method on the full (p (C - 1))^2 Hessian with a
    backtracking line search (any C);
  irls_logistic:  C = 2 only, plain iteratively reweighted least squares
    (each step a weighted least-squares problem solved by
    numpy.linalg.lstsq, LAPACK's SVD-based gelsd, on the rows themselves,
    never the normal equations).
Exactly-zero feature columns (ReLU units dead on a fit's rows) get weight 0
and are dropped from that fit (the minimum-norm optimum); any other rank
deficiency is refused, so every optimum the reference reports is unique.
"""
import importlib.util
import os

import numpy as np

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load_benchcommon():
    """bench/benchcommon.py of the tree this file is in."""
    path = os.path.join(os.path.dirname(os.path.dirname(_HERE)), "bench",
                        "benchcommon.py")
    spec = importlib.util.spec_from_file_location("benchcommon", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


B = _load_benchcommon()
STREAM_SAMPLES, STREAM_TARGET, STREAM_TASK_HEADS = 1, 2, 3
STREAM_LABELS = 4
SPLIT_WEAK, SPLIT_W2S, SPLIT_TEST = 0, 1, 2


# ---------------------------------------------------------------- the spec


def spec(seed=1, tasks=3, classes=4, labels="soft", same=False, ridge=0.0,
         temperature=1.0, n_weak=2000, n_w2s=3000, n_test=3000,
         input_dim=8, input_scale=500.0, target_depth=5, target_width=16,
         strong=None, weak=None):
    """One experiment. strong: None (= the target h*) or (depth, width) of
    a random network; weak: [(name, depth, width)] random networks."""
    return {
        "seed": seed, "tasks": tasks, "classes": classes, "labels": labels,
        "same": same, "ridge": float(ridge), "temperature": temperature,
        "n_weak": n_weak, "n_w2s": n_weak if same else n_w2s,
        "n_test": n_test, "input_dim": input_dim,
        "input_scale": input_scale, "target_depth": target_depth,
        "target_width": target_width, "strong": strong,
        "weak": weak if weak is not None else [("a", 2, 16), ("b", 1, 8)],
    }


def ini_text(s):
    """The w2s configuration of spec s (no fit.solver or fit.engine: both
    are refused with head = softmax)."""
    data = ["input_dim = %d" % s["input_dim"],
            "input_scale = %r" % s["input_scale"],
            "n_weak_train = %d" % s["n_weak"]]
    if s["same"]:
        data.append("w2s_inputs = same")
    else:
        data.append("n_w2s_train = %d" % s["n_w2s"])
    data += ["n_test = %d" % s["n_test"], "labels = %s" % s["labels"]]
    lines = ["# tests/e2e/cls_reference.py", "[experiment]",
             "seed = %d" % s["seed"], "tasks = %d" % s["tasks"], "",
             "[data]"] + data + [
        "", "[target]", "depth = %d" % s["target_depth"],
        "width = %d" % s["target_width"], "head = softmax",
        "classes = %d" % s["classes"],
        "temperature = %r" % s["temperature"], "", "[strong]"]
    if s["strong"] is None:
        lines.append("source = target")
    else:
        lines += ["source = random", "depth = %d" % s["strong"][0],
                  "width = %d" % s["strong"][1]]
    for name, depth, width in s["weak"]:
        lines += ["", "[weak.%s]" % name, "source = random",
                  "depth = %d" % depth, "width = %d" % width]
    lines += ["", "[fit]", "ridge = %r" % s["ridge"], "intercept = true"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------ the networks


class Networks:
    def __init__(self, s):
        self.s = s
        seed, d, tw = s["seed"], s["input_dim"], s["target_width"]
        self.target = B.mlp_init(seed, STREAM_TARGET, d, tw,
                                 s["target_depth"])
        if s["strong"] is None:
            self.strong = self.target
        else:
            self.strong = B.mlp_init(seed, B.stream_of("strong"), d,
                                     s["strong"][1], s["strong"][0])
        self.weak = [B.mlp_init(seed, B.stream_of("weak." + name), d, width,
                                depth) for name, depth, width in s["weak"]]
        bound = 1.0 / np.sqrt(tw)
        C = s["classes"]
        # heads[t, k] = (a_tk (tw), b_tk)
        self.heads = np.array([[B.uniform(seed, STREAM_TASK_HEADS, t, k, 0,
                                          tw + 1, -bound, bound)
                                for k in range(C)]
                               for t in range(s["tasks"])])

    def target_head(self, t):
        """Task t's p* as a head on [h*, 1] with class 0 pinned (p x (C -
        1)): logit differences (a_tc - a_t0) . h* + (b_tc - b_t0), over the
        temperature. The optimum of a realizable fit to soft labels."""
        a = self.heads[t]
        return ((a[1:] - a[0]) / self.s["temperature"]).T

    def split(self, split, n):
        """The features of a split's n rows: h*, [h_s, 1], every [h_w, 1]."""
        s = self.s
        rows = np.arange(n, dtype=np.uint64)
        x = s["input_scale"] * B.normal_rows(s["seed"], STREAM_SAMPLES, split,
                                             0, rows, s["input_dim"])
        one = np.ones((n, 1))
        hstar = B.mlp_forward(self.target, x)
        return {"split": split, "n": n, "hstar": hstar,
                "strong": np.hstack([B.mlp_forward(self.strong, x), one]),
                "weak": [np.hstack([B.mlp_forward(w, x), one])
                         for w in self.weak]}

    def log_pstar(self, sp, t):
        """log p* of task t on split sp's rows (n x C)."""
        a = self.heads[t]
        z = (sp["hstar"] @ a[:, :-1].T + a[:, -1]) / self.s["temperature"]
        return log_softmax(z)

    def label_uniforms(self, sp, t):
        """uniform(seed, LABELS, split, row, t, 1, 0, 1) of every row:
        element 0 of counter (split, row, t, 0), i.e. word 0's top 53 bits
        times 2^-53 (B.uniform, vectorised over the rows)."""
        w = B.philox4x64(self.s["seed"], STREAM_LABELS, sp["split"],
                         np.arange(sp["n"], dtype=np.uint64), t, 0)
        return (w[0] >> np.uint64(11)).astype(np.float64) * 2.0 ** -53

    def true_class(self, sp, t, lp):
        """argmax p* (soft labels) or the sampled class of every row."""
        if self.s["labels"] == "soft":
            return np.argmax(lp, axis=1)
        u = self.label_uniforms(sp, t)
        cum = np.cumsum(np.exp(lp), axis=1)
        above = cum > u[:, None]
        C = lp.shape[1]
        return np.where(above.any(axis=1), np.argmax(above, axis=1), C - 1)

    def label_margin(self, sp, t, lp):
        """Per row, how far the labels' decision is from changing: the gap
        of p*'s top two log-probabilities (soft labels), or the distance of
        the sampled label's uniform from the nearest cumulative p*."""
        if self.s["labels"] == "soft":
            return argmax_margin(lp)
        u = self.label_uniforms(sp, t)
        cum = np.cumsum(np.exp(lp), axis=1)
        return np.abs(cum - u[:, None]).min(axis=1)

    def targets(self, sp, t):
        """The true-label targets of task t on sp (n x C rows)."""
        lp = self.log_pstar(sp, t)
        if self.s["labels"] == "soft":
            return np.exp(lp)
        return np.eye(lp.shape[1])[self.true_class(sp, t, lp)]


# Rows whose accuracy term could differ between two implementations whose
# log-probabilities differ by rounding and by the fits' tolerance (~1e-9
# here at most): the top two classes of a model closer than ARGMAX_MARGIN,
# or a sampled label's uniform within LABEL_MARGIN of a cumulative
# probability's boundary.
ARGMAX_MARGIN = 1e-7
LABEL_MARGIN = 1e-12


def argmax_margin(lf):
    top2 = np.sort(lf, axis=1)[:, -2:]
    return top2[:, 1] - top2[:, 0]


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    zs = z - m
    return zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))


def log_probs(X, W):
    """log softmax([0, X W]) (n x C) of a head W (p x (C - 1))."""
    return log_softmax(np.hstack([np.zeros((X.shape[0], 1)), X @ W]))


# -------------------------------------------------------------- the solvers


def objective(X, Y, W, ridge, pen):
    """mean CE(Y, p(W)) + ridge ||W[pen]||^2 with its gradient (p x C-1)."""
    n = X.shape[0]
    lp = log_probs(X, W)
    f = -np.sum(np.where(Y > 0, Y * lp, 0.0)) / n
    f += ridge * np.sum(W[pen] ** 2)
    P = np.exp(lp)
    G = X.T @ (P[:, 1:] - Y[:, 1:]) / n
    G[pen] += 2.0 * ridge * W[pen]
    return f, G, P


def hessian(X, P, ridge, pen):
    """Block (c, d), classes 1..C-1: X^T diag(p_c (delta_cd - p_d)) X / n +
    2 ridge on the penalised diagonal; (C-1)p square, class-major."""
    n, p = X.shape
    K = P.shape[1] - 1
    Hs = np.empty((K * p, K * p))
    for c in range(K):
        for d in range(K):
            w = P[:, c + 1] * ((c == d) - P[:, d + 1])
            Hs[c * p:(c + 1) * p, d * p:(d + 1) * p] = (X * w[:, None]).T @ X
    Hs /= n
    diag = np.tile(pen, K)
    Hs[np.diag_indices(K * p)] += 2.0 * ridge * diag
    return Hs


def _live_columns(X):
    live = np.any(X != 0.0, axis=0)
    Xl = X[:, live]
    if np.linalg.matrix_rank(Xl) < Xl.shape[1]:
        raise ValueError("reference: collinear live features (rank %d of "
                         "%d); pick another seed" % (
                             np.linalg.matrix_rank(Xl), Xl.shape[1]))
    return live


def newton_softmax(X, Y, ridge, max_iter=200):
    """The multinomial head of (X, Y) (X's last column the intercept, not
    penalised): p x (C - 1). Damped Newton from W = 0 until the gradient no
    longer decreases (the rounding floor)."""
    live = _live_columns(X)
    Xl = X[:, live]
    p, K = Xl.shape[1], Y.shape[1] - 1
    pen = np.ones(p, dtype=bool)
    pen[-1] = False
    W = np.zeros((p, K))
    f, G, P = objective(Xl, Y, W, ridge, pen)
    best, stall = np.linalg.norm(G), 0
    for _ in range(max_iter):
        Hs = hessian(Xl, P, ridge, pen)
        g = G.T.ravel()  # class-major, as the Hessian's blocks
        d = -np.linalg.solve(Hs, g)
        D = d.reshape(K, p).T
        slope = g @ d
        t = 1.0
        while True:
            fn, Gn, Pn = objective(Xl, Y, W + t * D, ridge, pen)
            # Armijo, or a full step below f's resolution near the optimum
            if fn <= f + 1e-4 * t * slope or (
                    t == 1.0 and -slope <= 1e-13 * max(1.0, abs(f))):
                break
            t *= 0.5
            if t < 1e-12:  # no decrease f can resolve: the floor
                break
        if t < 1e-12:
            break
        W, f, G, P = W + t * D, fn, Gn, Pn
        gn = np.linalg.norm(G)
        if gn < 0.5 * best:
            best, stall = gn, 0
        else:
            stall += 1
            if stall >= 3 or gn == 0.0:
                break
    full = np.zeros((X.shape[1], K))
    full[live] = W
    return full


def _sigmoid(x):
    return np.exp(-np.logaddexp(0.0, -x))


def irls_logistic(X, y, ridge, max_iter=200):
    """Binary logistic regression of y (probability of class 1) on X (last
    column the intercept, not penalised): the weights w (p). IRLS: with
    s = p(1 - p) and the working response z = X w + (y - p) / s, the next w
    minimises ||sqrt(s) (X w' - z)||^2 + 2 n ridge ||w'[pen]||^2, solved by
    lstsq on the stacked rows; step halving keeps the objective
    decreasing."""
    live = _live_columns(X)
    Xl = X[:, live]
    n, p = Xl.shape
    pen = np.ones(p, dtype=bool)
    pen[-1] = False
    R = np.sqrt(2.0 * n * ridge) * np.diag(pen.astype(float))

    def loss(w):
        eta = Xl @ w
        # -[y log sigma(eta) + (1 - y) log(1 - sigma(eta))]
        return (np.sum(np.logaddexp(0.0, eta) - y * eta) / n
                + ridge * np.sum(w[pen] ** 2))

    w = np.zeros(p)
    f = loss(w)
    best, stall = np.inf, 0
    for _ in range(max_iter):
        eta = Xl @ w
        mu, nu = _sigmoid(eta), _sigmoid(-eta)  # nu = 1 - mu, unrounded
        rs = np.sqrt(mu * nu)
        grad = Xl.T @ (mu - y) / n
        grad[pen] += 2.0 * ridge * w[pen]
        gn = np.linalg.norm(grad)
        if gn < 0.5 * best:
            best, stall = gn, 0
        else:
            stall += 1
            if stall >= 3 or gn == 0.0:
                break
        # y - mu with its small side exact (y is a probability here)
        resid = y * nu - (1.0 - y) * mu
        A = np.vstack([Xl * rs[:, None], R])
        b = np.concatenate([rs * eta + resid / rs, np.zeros(p)])
        step = np.linalg.lstsq(A, b, rcond=None)[0] - w
        t = 1.0
        while True:
            fn = loss(w + t * step)
            if fn <= f + 1e-15 * abs(f):
                break
            t *= 0.5
            if t < 1e-12:  # no decrease f can resolve: the floor
                break
        if t < 1e-12:
            break
        w, f = w + t * step, fn
    full = np.zeros(X.shape[1])
    full[live] = w
    return full


def certify(X, Y, ridge, W_ref, W_other, rule):
    """How well the optimum of (X, Y, ridge) is determined, and how close
    another head W_other is to it, by the reference's objective alone.
    Returns the relative gradients ||g|| / ||g(0)|| at W_ref and at
    W_other, and two bounds on ||W - W_ref|| / ||W_ref|| from strong
    convexity, (||g(W)|| + ||g(W_ref)||) / (lambda_min ||W_ref||) with
    lambda_min the Hessian's smallest eigenvalue at W_ref: for any head W
    that meets the stopping rule ||g(W)|| <= rule ||g(0)|| (a priori), and
    for W_other (a posteriori). Live columns only: a dead column's weight is
    not determined by the fit and is 0 in both."""
    live = np.any(X != 0.0, axis=0)
    Xl = X[:, live]
    pen = np.ones(Xl.shape[1], dtype=bool)
    pen[-1] = False
    Wr, Wo = W_ref[live], W_other[live]
    g0 = np.linalg.norm(objective(Xl, Y, np.zeros_like(Wr), ridge, pen)[1])
    _, gr, P = objective(Xl, Y, Wr, ridge, pen)
    go = objective(Xl, Y, Wo, ridge, pen)[1]
    lam = np.linalg.eigvalsh(hessian(Xl, P, ridge, pen))[0]
    nr, no = np.linalg.norm(gr), np.linalg.norm(go)
    scale = lam * np.linalg.norm(Wr)
    if not scale > 0:
        return nr / g0, no / g0, np.inf, np.inf
    return nr / g0, no / g0, (rule * g0 + nr) / scale, (no + nr) / scale


def fit_head(X, Y, ridge, solver="auto"):
    """The head W (p x (C - 1)); auto: IRLS for C = 2, Newton otherwise."""
    if solver == "irls" or (solver == "auto" and Y.shape[1] == 2):
        if Y.shape[1] != 2:
            raise ValueError("IRLS is binary logistic regression")
        return irls_logistic(X, Y[:, 1], ridge)[:, None]
    return newton_softmax(X, Y, ridge)


# ------------------------------------------------------------ the experiment


def kl(la, lb):
    """Row-wise KL(a || b) from log-probabilities; 0 log 0 = 0."""
    a = np.exp(la)
    return np.sum(np.where(a > 0, a * (la - lb), 0.0), axis=1)


def run(s, solver="auto"):
    """Every metric ([K] arrays, pair k = t J + j) and coefficient
    (FORMAT.md's rows: W flattened class by class) of spec s, plus the fits'
    data for further checks ("fits": name -> (X, Y, ridge, W))."""
    net = Networks(s)
    T, J, ridge = s["tasks"], len(s["weak"]), s["ridge"]
    names = [w[0] for w in s["weak"]]
    s0 = net.split(SPLIT_WEAK, s["n_weak"])
    sw = s0 if s["same"] else net.split(SPLIT_W2S, s["n_w2s"])
    st = net.split(SPLIT_TEST, s["n_test"])
    Ww = [[None] * T for _ in range(J)]
    Wceil, Wsw = [None] * T, [[None] * J for _ in range(T)]
    fits = {}
    for t in range(T):
        Y0 = net.targets(s0, t)
        for j in range(J):
            Ww[j][t] = fit_head(s0["weak"][j], Y0, ridge, solver)
            fits["weak %s task %d" % (names[j], t)] = (
                s0["weak"][j], Y0, ridge, Ww[j][t])
        Y1 = net.targets(sw, t)
        Wceil[t] = fit_head(sw["strong"], Y1, ridge, solver)
        fits["ceiling task %d" % t] = (sw["strong"], Y1, ridge, Wceil[t])
        for j in range(J):
            Pw = np.exp(log_probs(sw["weak"][j], Ww[j][t]))
            Wsw[t][j] = fit_head(sw["strong"], Pw, ridge, solver)
            fits["student %s task %d" % (names[j], t)] = (
                sw["strong"], Pw, ridge, Wsw[t][j])
    out = {}
    logmax = 0.0
    amb = {k: np.zeros(T * J, dtype=np.int64) for k in ("aw", "asw", "as")}
    for tag, sp in (("", st), ("_train", sw)):
        cols = {k: np.empty(T * J) for k in (
            "weak", "w2s", "misfit", "ceil", "aw", "asw", "as")}
        for t in range(T):
            lt = net.log_pstar(sp, t)
            cls = net.true_class(sp, t, lt)
            ls = log_probs(sp["strong"], Wceil[t])
            if not tag:
                amb_t = net.label_margin(sp, t, lt) < LABEL_MARGIN
            for j in range(J):
                k = t * J + j
                lw = log_probs(sp["weak"][j], Ww[j][t])
                lsw = log_probs(sp["strong"], Wsw[t][j])
                logmax = max(logmax, *(np.abs(x).max()
                                       for x in (lt, ls, lw, lsw)))
                if not tag:
                    for key, lf in (("aw", lw), ("asw", lsw), ("as", ls)):
                        near = argmax_margin(lf) < ARGMAX_MARGIN
                        amb[key][k] = np.sum(amb_t | near)
                cols["weak"][k] = kl(lw, lt).mean()
                cols["w2s"][k] = kl(lsw, lt).mean()
                cols["misfit"][k] = kl(lw, lsw).mean()
                cols["ceil"][k] = kl(ls, lt).mean()
                cols["aw"][k] = np.mean(np.argmax(lw, axis=1) == cls)
                cols["asw"][k] = np.mean(np.argmax(lsw, axis=1) == cls)
                cols["as"][k] = np.mean(np.argmax(ls, axis=1) == cls)
        out["weak_error" + tag] = cols["weak"]
        out["w2s_error" + tag] = cols["w2s"]
        out["misfit" + tag] = cols["misfit"]
        out["gain" + tag] = cols["weak"] - cols["w2s"]
        out["strong_ceiling_error" + tag] = cols["ceil"]
        if not tag:
            acc = cols
    w, c = out["weak_error"], out["strong_ceiling_error"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["pgr"] = np.where(w > c, out["gain"] / (w - c), np.nan)
        out["pgr_accuracy"] = np.where(
            acc["as"] > acc["aw"],
            (acc["asw"] - acc["aw"]) / (acc["as"] - acc["aw"]), np.nan)
    out["predicted_w2s_error"] = w - out["misfit"]
    out["weak_accuracy"] = acc["aw"]
    out["w2s_accuracy"] = acc["asw"]
    out["ceiling_accuracy"] = acc["as"]

    def rows(Ws):
        return np.array([W.T.ravel() for W in Ws])

    coef = {"coefficients/strong_ceiling": rows(Wceil),
            "coefficients/w2s": rows([Wsw[t][j] for t in range(T)
                                      for j in range(J)])}
    for j in range(J):
        coef["coefficients/weak/" + names[j]] = rows(Ww[j])
    return {"metrics": out, "coefficients": coef, "fits": fits,
            "names": names, "net": net, "logmax": logmax,
            "n_test": s["n_test"],
            "ambiguous": {"weak_accuracy": amb["aw"],
                          "w2s_accuracy": amb["asw"],
                          "ceiling_accuracy": amb["as"]}}


def unflatten(row, p, C):
    """A FORMAT.md coefficient row back to W (p x (C - 1))."""
    return np.asarray(row).reshape(C - 1, p).T
