#!/usr/bin/env python3
"""What the command line says about a build and a run.

1. `w2s --version` prints "w2s PROJECT_VERSION (git REVISION)" with CMake's
   PROJECT_VERSION and the revision CMake recorded (ctest passes both as
   W2S_PROJECT_VERSION and W2S_GIT_REVISION), then the BLAS line.
2. jobs/local/sweep.sh in a tree that is a fresh clone (no results/
   directory): with its default run directory and with a nested one that
   does not exist, it exits 0, writes RUN_DIR/merged.h5 with every point and
   prints the analysis.
3. The theory a run is read against: strong = target with
   fit.intercept = false is not realizable (the labels carry a bias). At 1
   and 3 ranks the run warns once (rank 0, even with -q); `analyze
   --summary` says "NOT realizable" naming fit.intercept, JSON says
   "non-realizable", and the non-realizable train bound
   |gain - misfit| <= 2 sqrt(misfit x ceiling error) that it counts holds
   for every pair (recomputed here from /metrics). The default config is
   "realizable" with no warning; a sweep over fit.intercept is "mixed"; a
   `w2s fit` file is "unknown".
"""
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

WARNING = "fit.intercept = false is not realizable"


def version():
    want_v = os.environ.get("W2S_PROJECT_VERSION")
    want_g = os.environ.get("W2S_GIT_REVISION")
    if not check(want_v and want_g, "ctest did not pass W2S_PROJECT_VERSION "
                 "and W2S_GIT_REVISION"):
        return
    r = C.run_w2s(["--version"], timeout=30)
    check(r.returncode == 0, "--version: " + r.describe())
    want = "w2s %s (git %s)" % (want_v, want_g)
    lines = r.stdout.splitlines()
    check(len(lines) == 2 and lines[0] == want and
          lines[1].startswith("BLAS: ") and " kernel " in lines[1],
          "--version printed %r, want %r and a BLAS line" % (r.stdout, want))
    C.note("w2s --version: %s" % r.stdout.strip())


def fresh_tree(tmp):
    """The files sweep.sh needs, laid out as in a fresh clone (no results/),
    with a small two-point sweep as its default config."""
    root = os.path.join(tmp, "clone")
    for rel in ("jobs/local/sweep.sh", "scripts/env.sh"):
        os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
        shutil.copy(os.path.join(C.SRC, rel), os.path.join(root, rel))
    cfg = C.quick_config(tasks=2, n_weak_train=100, n_w2s_train=100,
                         n_test=100)
    cfg += "\n[sweep]\ndata.n_test = 100, 200\n"
    os.makedirs(os.path.join(root, "data", "configs"))
    C.write_file(os.path.join(root, "data", "configs", "sweep-samples.ini"),
                 cfg)
    return root


def sweep_script(tmp):
    root = fresh_tree(tmp)
    script = os.path.join(root, "jobs", "local", "sweep.sh")
    nested = os.path.join(tmp, "a", "b", "run")
    for args, run_dir in (([], os.path.join(root, "results", "sweep-samples")),
                          (["2", nested], nested)):
        r = C.run_cmd(["bash", script] + args, timeout=300, cwd=tmp)
        tag = "sweep.sh %s" % " ".join(args)
        check(r.returncode == 0, "%s in a fresh tree: %s" % (tag, r.describe()))
        merged = os.path.join(run_dir, "merged.h5")
        if not check(os.path.isfile(merged), "%s wrote no %s" % (tag, merged)):
            continue
        with h5py.File(merged) as f:
            pts = sorted(set(f["metrics/sweep"][()].tolist()))
        check(pts == [0, 1], "%s: merged points %s" % (tag, pts))
        check("Summary over" in r.stdout, "%s printed no analysis: %r"
              % (tag, r.stdout[-300:]))
        C.note("%s: %.1fs" % (tag, r.seconds))


def summary(path):
    r = C.run_w2s(["analyze", path, "--summary"], timeout=60)
    check(r.returncode == 0, "analyze: " + r.describe())
    j = C.run_w2s(["analyze", path, "--summary", "--format", "json"],
                  timeout=60)
    check(j.returncode == 0, "analyze json: " + j.describe())
    try:
        js = json.loads(j.stdout)["summary"]
    except (ValueError, KeyError):
        check(False, "analyze json is not JSON: %r" % j.stdout[-300:])
        js = {}
    return r.stdout, js


def theory(tmp):
    cfg = C.write_file(os.path.join(tmp, "quick.ini"),
                       C.quick_config(tasks=4))
    for ranks in (1, 3):
        out = os.path.join(tmp, "nointercept%d.h5" % ranks)
        r = C.simulate(cfg, out, ranks=ranks, sets=["fit.intercept=false"])
        n = r.stderr.count(WARNING)
        check(n == 1, "%d ranks, intercept off: %d warnings, want 1: %r"
              % (ranks, n, r.stderr[-400:]))
        if not os.path.isfile(out):
            continue
        text, js = summary(out)
        check("NOT realizable" in text and "fit.intercept = false" in text,
              "summary does not say non-realizable: %r" % text[:600])
        check(js.get("theory") == "non-realizable", "json theory %r"
              % js.get("theory"))
        with h5py.File(out) as f:
            m = {k: f["metrics"][k][()] for k in
                 ("gain_train", "misfit_train", "strong_ceiling_error_train",
                  "weak_error_train")}
        gap = np.abs(m["gain_train"] - m["misfit_train"])
        bound = 2 * np.sqrt(m["misfit_train"] * m["strong_ceiling_error_train"])
        ok = int(np.sum(gap <= bound + 1e-9 * np.abs(m["weak_error_train"])))
        check(ok == len(gap), "%d ranks: the train bound holds for %d/%d "
              "pairs" % (ranks, ok, len(gap)))
        check(js.get("train_gap_within_bound") == ok,
              "json train_gap_within_bound %r, numpy %d"
              % (js.get("train_gap_within_bound"), ok))
        rel = float(np.max(gap / m["misfit_train"]))
        C.note("%d ranks, intercept off: max |gain - misfit| / misfit on "
               "train = %.3g" % (ranks, rel))
        check(rel > 1e-6, "intercept off: the train identity still holds "
              "(%.3g): the case does not test non-realizability" % rel)
    out = os.path.join(tmp, "default.h5")
    r = C.simulate(cfg, out, ranks=2)
    check(WARNING not in r.stderr, "default config warned: %r" % r.stderr)
    if os.path.isfile(out):
        text, js = summary(out)
        check("theory: realizable" in text, "default: %r" % text[:600])
        check(js.get("theory") == "realizable", "default json theory %r"
              % js.get("theory"))
    out = os.path.join(tmp, "swept.h5")
    r = C.simulate(cfg, out, ranks=2,
                   extra=["--sweep", "fit.intercept=true,false"])
    check(r.stderr.count(WARNING) == 1, "sweep over the intercept: %r"
          % r.stderr[-400:])
    if os.path.isfile(out):
        _, js = summary(out)
        check(js.get("theory") == "mixed", "swept json theory %r"
              % js.get("theory"))
    feats = os.path.join(tmp, "features.h5")
    rng = np.random.default_rng(2)
    with h5py.File(feats, "w") as f:
        f["labels"] = rng.normal(size=300)
        f["strong"] = rng.normal(size=(300, 4))
        f["weak/a"] = rng.normal(size=(300, 2))
    out = os.path.join(tmp, "fit.h5")
    r = C.run_w2s(["fit", feats, "-o", out, "-q"], ranks=2, timeout=120)
    check(r.returncode == 0, "fit: " + r.describe())
    if os.path.isfile(out):
        _, js = summary(out)
        check(js.get("theory") == "unknown", "fit json theory %r"
              % js.get("theory"))


def main():
    with C.scratch("w2s-cli-") as tmp:
        version()
        sweep_script(tmp)
        theory(tmp)


if __name__ == "__main__":
    C.main_guard(main, "test_cli")
