#!/usr/bin/env python3
"""The paper's panels through the shipped quick configs, sweeps and figures.

- realizable panel: gain_train = misfit_train to 1e-8 relative for every
  pair; on 1e5 fresh test samples the slope of gain on misfit is within 0.05
  of 1 and R^2 >= 0.95;
- pre-trained (non-realizable) panel: |gain_train - misfit_train| <=
  2 sqrt(misfit_train * eps) for every pair, eps = the strong ceiling's
  residual on the same training sample (the bound follows from Cauchy-Schwarz
  and is exact algebra, so the only slack is rounding: 1e-9 relative);
  the loss curves are stored, decrease, and the 8-layer strong model ends
  below the 2-layer weak one;
- the pre-training cache is reused and gives identical metrics;
- a sweep point equals the standalone run with that setting;
- --plot and --plot-sweep write real PNG files;
- pre-training settings that cannot run are refused before any work.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from common import W2S, MPIEXEC, SRC, check, failures  # the paths, in one place

CONF = os.path.join(SRC, "data", "configs")


def run(args, ranks=2, cwd=None, timeout=600):
    cmd = ([MPIEXEC, "-n", str(ranks), "--oversubscribe", W2S] if ranks
           else [W2S]) + args
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def metrics(path):
    with h5py.File(path) as f:
        return {k: f["metrics"][k][:] for k in f["metrics"]}


def slope_r2(x, y):
    A = np.vstack([x, np.ones_like(x)]).T
    (a, b), *_ = np.linalg.lstsq(A, y, rcond=None)
    r2 = np.corrcoef(x, y)[0, 1] ** 2
    return a, r2


def is_png(path):
    with open(path, "rb") as fh:
        head = fh.read(8)
    return head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(path) > 10000


def main():
    tmp = tempfile.mkdtemp(prefix="w2s-paper-")
    try:
        # Realizable panel, the paper's settings in full (100 tasks, the
        # weak model pre-trained for 1000 epochs), 1e5 fresh test samples per
        # task: ~15 s on 2 cores. (The slope is a statistic of the whole
        # panel: a handful of high-misfit tasks carry it, so subsets vary.)
        out = os.path.join(tmp, "real.h5")
        r = run(["simulate", os.path.join(CONF, "paper-realizable.ini"),
                 "-o", out, "-q"], cwd=tmp)
        check(r.returncode == 0, "realizable quick: " + r.stderr[-400:])
        if r.returncode == 0:
            m = metrics(out)
            rel = np.abs(m["gain_train"] - m["misfit_train"]) / m["misfit_train"]
            check(np.all(rel <= 1e-8), "realizable identity: max %.3g" % rel.max())
            # With the paper's 2000 weak-to-strong samples the strong head's
            # estimation error moves the test points off y = x by a few
            # percent, depending on the draw (seeds 1-3 measured: slope
            # 0.958 / 0.996 / 0.949, R^2 0.945 / 0.996 / 0.972; see
            # docs/REPRODUCTION.md): assert 0.1 and 0.9 here, and the tight
            # 0.05 / 0.95 below where the sample is large enough.
            a, r2 = slope_r2(m["misfit"], m["gain"])
            check(abs(a - 1) <= 0.1 and r2 >= 0.9,
                  "realizable test slope %.4f R^2 %.4f" % (a, r2))
            p = os.path.join(tmp, "real.png")
            r = run(["analyze", out, "--summary", "--plot", p], ranks=0)
            check(r.returncode == 0 and is_png(p), "--plot PNG: " + r.stderr)

        # The same panel with 20000 fresh weak-to-strong samples per task:
        # the finite-sample terms shrink and the points sit on y = x.
        out = os.path.join(tmp, "real20k.h5")
        r = run(["simulate", os.path.join(CONF, "paper-realizable.ini"),
                 "-o", out, "-q", "--set", "data.w2s_inputs=fresh",
                 "--set", "data.n_w2s_train=20000"], cwd=tmp)
        check(r.returncode == 0, "realizable 20k: " + r.stderr[-400:])
        if r.returncode == 0:
            m = metrics(out)
            a, r2 = slope_r2(m["misfit"], m["gain"])
            check(abs(a - 1) <= 0.05 and r2 >= 0.95,
                  "realizable (n_w2s 20000) test slope %.4f R^2 %.4f" % (a, r2))

        # Pre-trained panel (both pre-trained), with the cache.
        out = os.path.join(tmp, "pre.h5")
        cfg = os.path.join(CONF, "paper-pretrain-quick.ini")
        r = run(["simulate", cfg, "-o", out], cwd=tmp)
        check(r.returncode == 0, "pretrain quick: " + r.stderr[-400:])
        if r.returncode == 0:
            m = metrics(out)
            lhs = np.abs(m["gain_train"] - m["misfit_train"])
            rhs = 2 * np.sqrt(m["misfit_train"] * m["strong_ceiling_error_train"])
            check(np.all(lhs <= rhs * (1 + 1e-9) + 1e-12),
                  "non-realizable bound: max ratio %.4g" % np.max(lhs / rhs))
            check(np.any(lhs > 1e-6 * m["misfit_train"]),
                  "pretrain panel should be non-realizable (gain != misfit)")
            with h5py.File(out) as f:
                strong = f["pretrain/strong/loss"][:]
                weak = f["pretrain/weak.pre2/loss"][:]
                cfgtext = f.attrs["config"]
            check(len(strong) == 100 and len(weak) == 100, "loss curve lengths")
            check(strong[-1] < strong[0] and weak[-1] < weak[0],
                  "pre-training losses decrease")
            check(strong[-1] < weak[-1], "strong (8 layers) ends below weak "
                  "(2 layers): %g vs %g" % (strong[-1], weak[-1]))
            check("source = pretrain" in cfgtext, "config attribute")
            # Second run: every representation from the cache, same metrics.
            out2 = os.path.join(tmp, "pre2.h5")
            r = run(["simulate", cfg, "-o", out2], cwd=tmp)
            check(r.returncode == 0 and "reused" in r.stderr,
                  "cache reuse: " + r.stderr[-300:])
            if r.returncode == 0:
                m2 = metrics(out2)
                for k in ("gain", "misfit", "weak_error", "w2s_error"):
                    check(np.array_equal(m[k], m2[k]), "cached run differs: " + k)

        # Perturbation panel runs and satisfies the same bound.
        out = os.path.join(tmp, "pert.h5")
        r = run(["simulate", os.path.join(CONF, "paper-perturb-quick.ini"),
                 "-o", out, "-q"], cwd=tmp)
        check(r.returncode == 0, "perturb quick: " + r.stderr[-400:])
        if r.returncode == 0:
            m = metrics(out)
            lhs = np.abs(m["gain_train"] - m["misfit_train"])
            rhs = 2 * np.sqrt(m["misfit_train"] * m["strong_ceiling_error_train"])
            check(np.all(lhs <= rhs * (1 + 1e-9) + 1e-12), "perturb bound")

        # A sweep point equals the standalone run with that setting.
        base = os.path.join(CONF, "realizable.ini")
        sw = os.path.join(tmp, "sweep.h5")
        r = run(["simulate", base, "-o", sw, "-q", "--set", "experiment.tasks=5",
                 "--sweep", "data.n_w2s_train=200,2000"], cwd=tmp)
        one = os.path.join(tmp, "one.h5")
        r1 = run(["simulate", base, "-o", one, "-q", "--set",
                  "experiment.tasks=5", "--set", "data.n_w2s_train=2000"], cwd=tmp)
        check(r.returncode == 0 and r1.returncode == 0, "sweep runs: " +
              r.stderr[-300:] + r1.stderr[-300:])
        if r.returncode == 0 and r1.returncode == 0:
            ms, m1 = metrics(sw), metrics(one)
            sel = ms["sweep"] == 1
            check(sel.sum() == len(m1["gain"]), "sweep point size")
            for k in ("gain", "misfit", "w2s_error", "gain_train"):
                check(np.allclose(ms[k][sel], m1[k], rtol=1e-12, atol=0),
                      "sweep point 1 differs from the standalone run: " + k)
            with h5py.File(sw) as f:
                check(list(f["sweep/keys"].asstr()[:]) == ["data.n_w2s_train"],
                      "sweep keys")
                check(f["sweep/values"].shape == (2, 1), "sweep values shape")
            p = os.path.join(tmp, "sweep.png")
            r = run(["analyze", sw, "--plot-sweep", p], ranks=0)
            check(r.returncode == 0 and is_png(p) and "Per sweep point" in r.stdout,
                  "--plot-sweep: " + r.stderr)

        # Settings that cannot run: refused before any work, no output.
        cases = [
            (["--set", "weak.pre2.batch=100000"], "batch"),
            (["--set", "weak.pre2.epochs=0"], "epochs"),
            (["--set", "weak.pre2.depth=0"], "depth"),
            (["--set", "data.n_w2s_train=10"], "n_w2s_train"),
        ]
        for extra, word in cases:
            out = os.path.join(tmp, "bad.h5")
            r = run(["simulate", os.path.join(CONF, "paper-realizable-quick.ini"),
                     "-o", out] + extra, cwd=tmp, timeout=60)
            lines = [l for l in r.stderr.splitlines() if "error:" in l]
            check(r.returncode == 2 and len(lines) == 1 and word in lines[0]
                  and "pretrain epoch" not in r.stderr and not os.path.exists(out),
                  "bad pretrain setting %s: exit %d %r" % (extra, r.returncode,
                                                            r.stderr[-300:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_paper: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
