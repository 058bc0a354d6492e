#!/usr/bin/env python3
"""`w2s simulate` with [target] head = softmax against an independent numpy
reference (cls_reference.py), its theory identity, rank independence and
its input errors.

(1) Reference: eight runs, a 2^(4-1) design over classes {2, 4}, labels
    {soft, sampled}, data.w2s_inputs {fresh, same} and fit.ridge {0, 1e-3}
    (ridge > 0 exactly when an odd number of the other three are at their
    second level: every level of every factor, and every pair of levels of
    every two factors, runs), realizable (strong = h*), 3 tasks, two random
    weak models. Every metric of /metrics to 1e-8 relative and every
    coefficient row to 1e-7 relative; the C heads are also checked to be
    optima of the reference's own objective.
(2) Realizable, soft labels, ridge 0, at 1, 2 and 3 ranks (uneven row
    partitions): |gain_train - misfit_train| <= 1e-9 misfit_train for every
    pair, and every metric equal across rank counts to 1e-10 relative.
(3) Non-realizable (strong = a random network) and sampled-label runs:
    the fraction of pairs with gain < misfit on test and the identity's
    residual on train are printed; the residual is asserted large (> 1e-6
    relative) without realizability, so the assertion of (2) can fail.
(4) Bad input: exit 2, one line on stderr naming the key, no output file;
    fit.newton_max_iter = 1: exit non-zero, "did not converge" naming the
    fit, no output file.

Tolerances (why 1e-8 and 1e-7 follow from the fits' stopping rule):
w2s stops Newton at ||grad|| <= 1e-12 ||grad at 0|| and the reference
iterates to the rounding floor (its own relative gradient is checked below
1e-13). For a strongly convex objective whose Hessian has eigenvalues >=
lambda_min near the optimum, ||W - W*|| <= ||grad L(W)|| / lambda_min, so any
head that meets the rule is within (1e-12 ||grad at 0|| + the reference's
gradient) / (lambda_min ||W*||) of the reference, relative: ~cond x 1e-12
(cond in the units of the rule). cls_reference.certify computes that a-priori
bound for every head from the reference's own objective, and the test
requires it <= COEF_TOL = 1e-7 (a precondition: the configuration is well
enough conditioned for the tolerance to be earned, not assumed; the bounds
come out 1e-10..2e-8 here, the condition numbers w2s records 1e6..6e7). It
also evaluates the reference's gradient at every C head: w2s's rule (1e-12)
plus rounding, < 1e-11. Then the coefficients must agree to COEF_TOL. The
metrics are smooth functions of the heads (KLs of softmaxes of X W): a
relative change d of W moves a KL by about d times the logits' size over
the KL's size, O(1..10) here, so heads that agree to the ~1e-9 the bounds
give in the typical direction keep the metrics within METRIC_TOL = 1e-8
relative (measured: <= 5e-11). KLs that are 0 in exact arithmetic (the
realizable strong ceiling, ~1e-18 here) are rounding: a row's sum_c a_c
(la_c - lb_c) carries ~C eps max|log p| of error, so every KL metric also
gets the absolute allowance KL_FLOOR = 16 C eps max|log p| (max|log p| over
every log-probability the metrics use, from the reference). Accuracies are
ratios of counts: equal, except for rows a rounding-sized change could flip
(the top two classes within 1e-7 in log probability, or a sampled label's
uniform within 1e-12 of a cumulative probability), which the reference
counts and allows (one count each).
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check, note  # noqa: E402
import cls_reference as R  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

EPS = np.finfo(float).eps
METRIC_TOL = 1e-8
COEF_TOL = 1e-7
W2S_NEWTON_TOL = 1e-12  # fit.newton_tol's default, what w2s stops at
# The reference's own heads: at its rounding floor, far below w2s's rule.
REF_GRAD_TOL = 1e-13
# w2s's heads under the reference's objective: its rule (1e-12) plus the
# rounding of one evaluation of the gradient (~eps * ||X|| ||P - Y|| / n,
# ~1e-15 of ||grad at 0||), with a factor 10 for the different summation.
C_GRAD_TOL = 10 * W2S_NEWTON_TOL
# Realizable, soft labels, ridge 0, on the w2s split: the forward student
# on p_w has gradient G = X^T (p_sw - p_w) / n and log p_sw - log p* is
# X (W_sw - W*) up to a per-row constant (W* = p*'s own head), so gain -
# misfit = sum (p_w - p_sw)(log p_sw - log p*) / n = -(W_sw - W*) . G, at
# most ||W_sw - W*|| 1e-12 ||G(0)|| by w2s's stopping rule, plus rounding.
# part_ranks computes that bound per pair (identity_bound: <= ~5e-10 of
# misfit_train here) and requires it below IDENTITY_TOL, which is orders
# below any real cross term (~1 of the misfit without realizability, part 3).
IDENTITY_TOL = 1e-9
# Across rank counts only the order of the sums changes (each rank's rows,
# then the reduction); Newton's decisions are taken on the reduced values and
# its stopping test is passed with a quadratic step far beyond 1e-12, so the
# same steps are taken and the heads differ by the rounding of the sums over
# lambda_min: part 1's bound (~1e-8 for gradients at 1e-12) scaled to
# rounding-sized gradients (~1e-15), ~1e-11 relative; the metrics move as
# much (see above). Coefficients are held to the same tolerance.
RANKS_TOL = 1e-10
SEED = 4  # every unit of h* and of the random nets is alive on > 50 rows
WEAK = [("a", 2, 16), ("b", 1, 8)]


def read(path):
    """/metrics (and its attributes), the coefficients, and the
    representations' condition numbers of a results file."""
    m = C.load(path)
    with h5py.File(path, "r") as f:
        attrs = dict(f["metrics"].attrs)
        cond = f["representations/condition"][()]
    return m, attrs, cond


def run_spec(tmp, name, s, ranks=2):
    cfg = C.write_file(os.path.join(tmp, name + ".ini"), R.ini_text(s))
    out = os.path.join(tmp, name + ".h5")
    r = C.simulate(cfg, out, ranks=ranks)
    if r.returncode or not os.path.isfile(out):
        return None
    return read(out) + (r.seconds,)


def describe(s):
    return "C=%d %s %s ridge=%g strong=%s" % (
        s["classes"], s["labels"], "same" if s["same"] else "fresh",
        s["ridge"], "h*" if s["strong"] is None else "random%dx%d"
        % s["strong"])


def kl_floor(ref, s):
    return 16 * s["classes"] * EPS * ref["logmax"]


def compare_metrics(tag, got, attrs, ref, s):
    """Every metric of got (a results file's /metrics) against ref."""
    check(attrs.get("loss") == "kl" and attrs.get("orientation") ==
          "model_first" and int(attrs.get("classes", -1)) == s["classes"],
          "%s: /metrics attrs loss/orientation/classes = %r/%r/%r"
          % (tag, attrs.get("loss"), attrs.get("orientation"),
             attrs.get("classes")))
    floor = kl_floor(ref, s)
    worst = {"rel": 0.0, "of_tol": 0.0}
    amb = ref["ambiguous"]
    for name in C.FLOAT_METRICS + C.CLASS_METRICS:
        g = got.get("metrics/" + name)
        v = ref["metrics"][name]
        if not check(g is not None and g.shape == v.shape,
                     "%s: metrics/%s missing or of shape %s, reference %s"
                     % (tag, name, None if g is None else g.shape, v.shape)):
            continue
        nan = np.isnan(v)
        if not check(np.array_equal(np.isnan(g), nan),
                     "%s: %s is NaN at pairs %s, the reference at %s"
                     % (tag, name, np.flatnonzero(np.isnan(g)),
                        np.flatnonzero(nan))):
            continue
        g, v = g[~nan], v[~nan]
        if name in amb:
            allow = amb[name][~nan] / ref["n_test"]
            bad = np.abs(g - v) > allow
            check(not bad.any(), "%s: %s differs from the reference at "
                  "pairs %s: %s vs %s (allowed %s for rows within rounding "
                  "of a tie)" % (tag, name, np.flatnonzero(bad), g[bad],
                                 v[bad], allow[bad]))
            continue
        if name == "pgr_accuracy":
            # exact fractions' ratio: rounding only, where no count may move
            sure = sum(amb[k] for k in amb)[~nan] == 0
            g, v = g[sure], v[sure]
            tol = METRIC_TOL * np.abs(v)
        else:
            tol = METRIC_TOL * np.abs(v) + (
                floor if name not in ("pgr",) else 0.0)
        err = np.abs(g - v)
        if len(v):
            with np.errstate(divide="ignore", invalid="ignore"):
                used = np.where(tol > 0, err / tol, np.where(err > 0, np.inf,
                                                             0.0))
            worst["of_tol"] = max(worst["of_tol"], float(used.max()))
            big = np.abs(v) > 1e3 * floor  # not a rounding-sized value
            if big.any():
                worst["rel"] = max(worst["rel"],
                                   float((err[big] / np.abs(v[big])).max()))
        bad = err > tol
        check(not bad.any(), "%s: %s differs from the reference by more "
              "than %g relative (+ %.2g absolute) at pairs %s: %s vs %s"
              % (tag, name, METRIC_TOL, floor, np.flatnonzero(bad),
                 g[bad], v[bad]))
    return worst


def compare_coefficients(tag, got, ref, s):
    """Every coefficient row against the reference, after certifying that
    the tolerance is earned (see the module's docstring)."""
    T, Cn = s["tasks"], s["classes"]
    worst = {"coef": 0.0, "bound": 0.0, "c_grad": 0.0, "ref_grad": 0.0}
    fits = ref["fits"]

    def heads(key):
        rows = got.get(key)
        want = ref["coefficients"][key]
        if not check(rows is not None and rows.shape == want.shape,
                     "%s: %s has shape %s, expected %s" % (
                         tag, key, None if rows is None else rows.shape,
                         want.shape)):
            return None
        return rows

    plan = [("coefficients/strong_ceiling",
             ["ceiling task %d" % t for t in range(T)])]
    plan.append(("coefficients/w2s", ["student %s task %d" % (n, t)
                                      for t in range(T)
                                      for n in ref["names"]]))
    for n in ref["names"]:
        plan.append(("coefficients/weak/" + n,
                     ["weak %s task %d" % (n, t) for t in range(T)]))
    for key, labels in plan:
        rows = heads(key)
        if rows is None:
            continue
        for i, label in enumerate(labels):
            X, Y, ridge, Wr = fits[label]
            Wc = R.unflatten(rows[i], X.shape[1], Cn)
            gr, gc, bound, actual = R.certify(X, Y, ridge, Wr, Wc,
                                              W2S_NEWTON_TOL)
            rel = np.linalg.norm(Wc - Wr) / np.linalg.norm(Wr)
            worst["coef"] = max(worst["coef"], rel)
            worst["bound"] = max(worst["bound"], bound)
            worst["c_grad"] = max(worst["c_grad"], gc)
            worst["ref_grad"] = max(worst["ref_grad"], gr)
            check(gr <= REF_GRAD_TOL, "%s: the reference's %s stopped at "
                  "relative gradient %.3g > %g" % (tag, label, gr,
                                                   REF_GRAD_TOL))
            check(gc <= C_GRAD_TOL, "%s: w2s's %s (%s row %d) is not an "
                  "optimum of the objective: relative gradient %.3g > %g"
                  % (tag, label, key, i, gc, C_GRAD_TOL))
            check(bound <= COEF_TOL, "%s: precondition: the stopping rule "
                  "determines %s's optimum only to %.3g relative (> %g): "
                  "too ill-conditioned for the coefficient tolerance" % (
                      tag, label, bound, COEF_TOL))
            check(rel <= COEF_TOL, "%s: %s (%s row %d) differs from the "
                  "reference by %.3g relative (> %g; bound from its "
                  "gradient %.3g)" % (tag, label, key, i, rel, COEF_TOL,
                                      actual))
    return worst


def irls_vs_newton(tag, ref):
    """C = 2: the reference's two solvers (IRLS by lstsq, Newton on the
    Hessian) reach the same heads on every fit's data; both are at their
    floor (< 1e-13 relative gradient), so they agree to the bound with
    rounding-sized gradients, ~1e-12 here; 1e-9 is checked."""
    worst = 0.0
    for label, (X, Y, ridge, W) in ref["fits"].items():
        Wn = R.newton_softmax(X, Y, ridge)
        rel = np.linalg.norm(Wn - W) / np.linalg.norm(W)
        worst = max(worst, float(rel))
        check(rel <= 1e-9, "%s: reference IRLS and Newton heads of %s "
              "differ by %.3g relative" % (tag, label, rel))
    return worst


def ceiling_is_target(tag, got, ref, s):
    """Realizable, soft labels, ridge 0: the cross-entropy of p* is least at
    p = p*, so the strong ceiling is p*'s own head W* (logit differences of
    the task's heads over the temperature), a check that needs no solver.
    Tolerance: COEF_TOL, the certified bound of the ceiling fits (W* is
    their exact optimum)."""
    rows = got["coefficients/strong_ceiling"]
    p = s["target_width"] + 1
    worst = 0.0
    for t in range(s["tasks"]):
        Ws = ref["net"].target_head(t)
        Wc = R.unflatten(rows[t], p, s["classes"])
        worst = max(worst, np.linalg.norm(Wc - Ws) / np.linalg.norm(Ws))
    check(worst <= COEF_TOL, "%s: the strong ceiling is not p*'s head W*: "
          "%.3g relative" % (tag, worst))
    return worst


def identity_bound(ref, s):
    """Per pair, the a-priori bound on |gain_train - misfit_train| of the
    realizable soft ridge-0 case: ||W_sw - W*|| ||G|| with ||G|| <= 1e-12
    ||G(0)|| (w2s's rule on the student's gradient), plus KL_FLOOR for the
    rounding of the sums."""
    out = []
    pen = np.ones(s["target_width"] + 1, dtype=bool)
    pen[-1] = False
    for t in range(s["tasks"]):
        Ws = ref["net"].target_head(t)
        for n in ref["names"]:
            X, Y, _, W = ref["fits"]["student %s task %d" % (n, t)]
            g0 = np.linalg.norm(R.objective(X, Y, np.zeros_like(W), 0.0,
                                            pen)[1])
            out.append(W2S_NEWTON_TOL * np.linalg.norm(W - Ws) * g0 +
                       kl_floor(ref, s))
    return np.array(out)


def design():
    """The 2^(4-1) fractional factorial: ridge = classes ^ labels ^ same."""
    out = []
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                d = a ^ b ^ c
                out.append(R.spec(seed=SEED, tasks=3, classes=(2, 4)[a],
                                  labels=("soft", "sampled")[b], same=bool(c),
                                  ridge=(0.0, 1e-3)[d], weak=WEAK))
    return out


def identity_residual(m, split=""):
    g, mf = m["metrics/gain" + split], m["metrics/misfit" + split]
    return np.abs(g - mf) / mf


def part_reference(tmp, runs):
    for i, s in enumerate(design()):
        tag = "(1) %s" % describe(s)
        res = run_spec(tmp, "ref%d" % i, s)
        if res is None:
            continue
        got, attrs, cond, secs = res
        t0 = time.monotonic()
        ref = R.run(s)
        rsecs = time.monotonic() - t0
        wm = compare_metrics(tag, got, attrs, ref, s)
        wc = compare_coefficients(tag, got, ref, s)
        extra = ""
        if s["classes"] == 2:
            extra = ", IRLS vs Newton %.1e" % irls_vs_newton(tag, ref)
        if s["labels"] == "soft" and s["ridge"] == 0.0:
            extra += ", ceiling vs W* %.1e" % ceiling_is_target(tag, got,
                                                                 ref, s)
        note("%s: w2s %.1fs, reference %.1fs; metrics %.1e relative "
             "(%.1e of the tolerance), coefficients %.1e (bound %.1e), w2s "
             "relative gradient %.1e, the reference's %.1e; condition "
             "%.1e%s" % (tag, secs, rsecs, wm["rel"], wm["of_tol"],
                         wc["coef"], wc["bound"], wc["c_grad"],
                         wc["ref_grad"], float(np.max(cond)), extra))
        runs.append((s, got))


def part_ranks(tmp):
    s = R.spec(seed=SEED, tasks=3, classes=4, labels="soft", ridge=0.0,
               n_weak=2000, n_w2s=3001, n_test=2999, weak=WEAK)
    ref = R.run(s)
    # IDENTITY_TOL is earned: the a-priori bound of every pair is below it.
    ib = identity_bound(ref, s) / ref["metrics"]["misfit_train"]
    check(np.all(ib <= IDENTITY_TOL), "(2) precondition: the identity's "
          "a-priori bound reaches %.3g of misfit_train (> %g)"
          % (ib.max(), IDENTITY_TOL))
    files = {}
    for ranks in (1, 2, 3):
        res = run_spec(tmp, "ranks%d" % ranks, s, ranks=ranks)
        if res is None:
            continue
        m = res[0]
        files[ranks] = m
        rel = identity_residual(m, "_train")
        check(np.all(rel <= IDENTITY_TOL), "(2) %d ranks: |gain_train - "
              "misfit_train| > %g misfit_train at pairs %s (worst %.3g)"
              % (ranks, IDENTITY_TOL, np.flatnonzero(rel > IDENTITY_TOL),
                 rel.max()))
        check(np.all(m["metrics/misfit_train"] > 0), "(2) misfit_train > 0")
        note("(2) realizable, soft, ranks = %d: %.1fs, identity residual "
             "on train %.1e (max relative; a-priori bound %.1e)"
             % (ranks, res[3], rel.max(), ib.max()))
    if 1 not in files:
        return
    floor = kl_floor(ref, s)
    for ranks, m in sorted(files.items()):
        if ranks == 1:
            continue
        worst = 0.0
        for name in C.FLOAT_METRICS + C.CLASS_METRICS:
            a, b = m["metrics/" + name], files[1]["metrics/" + name]
            nan = np.isnan(b)
            if not check(np.array_equal(np.isnan(a), nan), "(2) %s NaN "
                         "pattern differs at %d ranks" % (name, ranks)):
                continue
            a, b = a[~nan], b[~nan]
            err = np.abs(a - b)
            kl_metric = name in C.FLOAT_METRICS and name != "pgr"
            tol = RANKS_TOL * np.abs(b) + (floor if kl_metric else 0.0)
            big = np.abs(b) > 1e3 * floor
            if big.any():
                worst = max(worst, float((err[big] / np.abs(b[big])).max()))
            bad = err > tol
            check(not bad.any(), "(2) %s at %d ranks differs from 1 rank "
                  "by more than %g relative at pairs %s: %s vs %s"
                  % (name, ranks, RANKS_TOL, np.flatnonzero(bad), a[bad],
                     b[bad]))
        cw = 0.0
        for key, rows in files[1].items():
            if key.startswith("coefficients/"):
                d = np.linalg.norm(m[key] - rows, axis=1)
                cw = max(cw, float((d / np.linalg.norm(rows, axis=1)).max()))
        check(cw <= RANKS_TOL, "(2) coefficients at %d ranks differ from 1 "
              "rank by %.3g relative (> %g)" % (ranks, cw, RANKS_TOL))
        note("(2) %d ranks vs 1: metrics %.1e relative, coefficients %.1e"
             % (ranks, worst, cw))
    compare_metrics("(2) 3 ranks vs reference", files.get(3, files[1]),
                    {"loss": "kl", "orientation": "model_first",
                     "classes": 4}, ref, s)


def part_theory(tmp, runs):
    """Non-realizable runs (soft and sampled labels), and the sampled-label
    runs of part 1."""
    for labels in ("soft", "sampled"):
        s = R.spec(seed=SEED, tasks=3, classes=4, labels=labels, ridge=0.0,
                   strong=(3, 32), weak=WEAK)
        tag = "(3) %s" % describe(s)
        res = run_spec(tmp, "nonreal_" + labels, s)
        if res is None:
            continue
        got, attrs, cond, secs = res
        ref = R.run(s)
        compare_metrics(tag, got, attrs, ref, s)
        compare_coefficients(tag, got, ref, s)
        runs.append((s, got))
    for s, m in runs:
        if s["ridge"] != 0.0:
            continue  # the ridge's gradient term breaks the identity
        tag = "(3) %s" % describe(s)
        rel = identity_residual(m, "_train")
        below = np.mean(m["metrics/gain"] < m["metrics/misfit"])
        note("%s: gain < misfit on test at %.0f%% of pairs; |gain_train - "
             "misfit_train| / misfit_train median %.1e, min %.1e, max %.1e"
             % (tag, 100 * below, np.median(rel), rel.min(), rel.max()))
        if s["strong"] is not None:
            check(np.median(rel) > 1e-6, "%s: the identity's residual on "
                  "train is %.3g (median) without realizability: the "
                  "realizable check could not fail" % (tag, np.median(rel)))
        else:
            # The student's targets are p_w whatever the labels: realizable
            # means the identity holds on train for sampled labels too.
            check(np.all(rel <= IDENTITY_TOL), "%s: realizable, ridge 0: "
                  "|gain_train - misfit_train| = %.3g misfit_train (> %g)"
                  % (tag, rel.max(), IDENTITY_TOL))


def expect_refusal(tmp, name, cfg, sets, needle, code=2):
    out = os.path.join(tmp, name + ".h5")
    args = ["simulate", cfg, "-o", out, "-q"]
    for st in sets:
        args += ["--set", st]
    r = C.run_w2s(args, ranks=2)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok_code = r.returncode == code if code is not None else r.returncode != 0
    check(ok_code, "(4) %s: exit %s, expected %s: %s" % (
        name, r.returncode, code if code is not None else "non-zero",
        r.describe()))
    check(len(lines) == 1, "(4) %s: %d lines on stderr, expected one: %r"
          % (name, len(lines), r.stderr))
    needles = (needle,) if isinstance(needle, str) else needle
    check(bool(lines) and all(nd in lines[0] for nd in needles),
          "(4) %s: stderr does not name %s: %r" % (
              name, " and ".join(repr(nd) for nd in needles), r.stderr))
    check(not os.path.exists(out) and not C.partials(tmp),
          "(4) %s: an output file was left: %s" % (name, os.listdir(tmp)))
    note("(4) %s: exit %s, %r" % (name, r.returncode,
                                  lines[0] if lines else ""))


def part_bad_input(tmp):
    soft = C.write_file(os.path.join(tmp, "bad_softmax.ini"),
                        R.ini_text(R.spec(seed=SEED, tasks=2, n_weak=500,
                                          n_w2s=500, n_test=500,
                                          weak=WEAK)))
    linear = C.write_config(tmp, "bad_linear.ini", tasks=2)
    bad = os.path.join(tmp, "bad")
    os.mkdir(bad)
    expect_refusal(bad, "classes_1", soft, ["target.classes=1"],
                   "target.classes")
    expect_refusal(bad, "classes_linear", linear, ["target.classes=3"],
                   "target.classes")
    expect_refusal(bad, "engine_factor", soft, ["fit.engine=factor"],
                   "fit.engine")
    expect_refusal(bad, "solver_softmax", soft, ["fit.solver=cholqr2"],
                   "fit.solver")
    expect_refusal(bad, "labels_linear", linear, ["data.labels=sampled"],
                   "data.labels")
    # The first fit is weak model a's (split 0): the message names it.
    expect_refusal(bad, "newton_max_iter", soft, ["fit.newton_max_iter=1"],
                   ("did not converge", "weak model 'a'"), code=None)


def main():
    t0 = time.monotonic()
    with C.scratch("w2s-cls-") as tmp:
        runs = []
        part_reference(tmp, runs)
        part_ranks(tmp)
        part_theory(tmp, runs)
        part_bad_input(tmp)
    note("total %.1fs" % (time.monotonic() - t0))


if __name__ == "__main__":
    C.main_guard(main, "test_classification")
