#!/usr/bin/env python3
"""`w2s fit` on features files written by h5py.

- Round trip: features from known models with an explicit /split; w2s fit at
  1, 2, 3, 4, 5 and 8 ranks gives the metrics that numpy's lstsq gives on the same
  splits, to 1e-8 relative (both are exact least squares on a
  well-conditioned design; the tolerance covers rounding only).
- float32 features give the float64 result to float32 precision (1e-4
  relative on the metrics, which are squared errors of float32 inputs).
- --repeats 3 (seeded splits) is independent of the number of ranks.
- /weak_predictions replace a fitted weak head.
- Bad input: one line naming file and dataset, exit 2, no output file.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np
from common import W2S, MPIEXEC, check, failures  # the paths, in one place



def run(args, ranks=2, timeout=300):
    cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", W2S] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def make(path, n=1200, ds=12, dws=(3, 6), dtype=np.float64, split=True,
         preds=False, seed=0):
    rng = np.random.default_rng(seed)
    S = rng.normal(size=(n, ds))
    y = S @ rng.normal(size=ds) + 0.3 + 0.05 * rng.normal(size=n)
    with h5py.File(path, "w") as f:
        f["labels"] = y
        f["strong"] = S.astype(dtype)
        for k, d in enumerate(dws):
            # weak views: a few noisy projections of the strong features
            f["weak/w%d" % k] = (S[:, :d] + 0.5 * rng.normal(size=(n, d))).astype(dtype)
        if preds:
            f["weak_predictions/ext"] = y + 0.4 * rng.normal(size=n)
        if split:
            f["split"] = rng.integers(0, 3, size=n).astype(np.int8)
    return y


def lsq_fit(X, y):
    A = np.hstack([X, np.ones((len(X), 1))])
    c, *_ = np.linalg.lstsq(A, y, rcond=None)
    return c


def predict(X, c):
    return np.hstack([X, np.ones((len(X), 1))]) @ c


def reference(path):
    """The metrics of every weak model, computed with numpy."""
    with h5py.File(path) as f:
        y = f["labels"][:]
        S = f["strong"][:].astype(np.float64)
        sp = f["split"][:]
        weak = {k: f["weak"][k][:].astype(np.float64) for k in f["weak"]}
        preds = ({k: f["weak_predictions"][k][:] for k in f["weak_predictions"]}
                 if "weak_predictions" in f else {})
    names = sorted(set(weak) | set(preds))
    out = {}
    s0, s1, s2 = (sp == 0), (sp == 1), (sp == 2)
    cs = lsq_fit(S[s1], y[s1])
    for name in names:
        if name in preds:
            fw = preds[name]
        else:
            cw = lsq_fit(weak[name][s0], y[s0])
            fw = predict(weak[name], cw)
        csw = lsq_fit(S[s1], fw[s1])
        fsw, fs = predict(S, csw), predict(S, cs)
        m = {}
        for tag, sel in (("", s2), ("_train", s1)):
            m["weak_error" + tag] = np.mean((fw[sel] - y[sel]) ** 2)
            m["w2s_error" + tag] = np.mean((fsw[sel] - y[sel]) ** 2)
            m["misfit" + tag] = np.mean((fw[sel] - fsw[sel]) ** 2)
        m["strong_ceiling_error"] = np.mean((fs[s2] - y[s2]) ** 2)
        m["gain"] = m["weak_error"] - m["w2s_error"]
        out[name] = m
    return out


def metrics(path):
    with h5py.File(path) as f:
        g = f["metrics"]
        names = list(g["weak_model"].asstr()[:])
        return {n: {k: g[k][i] for k in g if k not in ("weak_model", "task",
                                                        "repeat")}
                for i, n in enumerate(names)}, f


def main():
    tmp = tempfile.mkdtemp(prefix="w2s-fit-")
    try:
        feats = os.path.join(tmp, "f64.h5")
        make(feats, preds=True)
        ref = reference(feats)
        for ranks in (1, 2, 3, 4, 5, 8):
            out = os.path.join(tmp, "r%d.h5" % ranks)
            r = run(["fit", feats, "-o", out, "-q"], ranks)
            check(r.returncode == 0, "fit at %d ranks: %s" % (ranks, r.stderr[-300:]))
            if r.returncode:
                continue
            got, _ = metrics(out)
            check(sorted(got) == sorted(ref), "weak models %s" % sorted(got))
            for name, m in ref.items():
                for k, v in m.items():
                    g = got.get(name, {}).get(k, np.nan)
                    check(abs(g - v) <= 1e-8 * abs(v) + 1e-14,
                          "ranks %d %s %s: %.12g vs numpy %.12g" % (ranks, name, k, g, v))
        with h5py.File(os.path.join(tmp, "r2.h5")) as f:
            check(f.attrs["input_file"] == feats, "input_file attribute")
            check(len(f.attrs["labels_checksum"]) == 16, "labels checksum")
            check(f["coefficients/strong_ceiling"].shape == (1, 13), "coef shape")
        with h5py.File(os.path.join(tmp, "r1.h5")) as a, \
                h5py.File(os.path.join(tmp, "r3.h5")) as b:
            check(a.attrs["labels_checksum"] == b.attrs["labels_checksum"],
                  "labels checksum independent of ranks")

        # float32 inputs: the float64 answer to float32 precision.
        f32 = os.path.join(tmp, "f32.h5")
        make(f32, dtype=np.float32, preds=True)
        out32, out64 = os.path.join(tmp, "o32.h5"), os.path.join(tmp, "r2.h5")
        r = run(["fit", f32, "-o", out32, "-q"])
        check(r.returncode == 0, "fit float32: " + r.stderr[-300:])
        if r.returncode == 0:
            a, _ = metrics(out32)
            b, _ = metrics(out64)
            for name in b:
                for k in ("weak_error", "w2s_error", "misfit"):
                    check(abs(a[name][k] - b[name][k]) <= 1e-4 * abs(b[name][k]),
                          "float32 %s %s: %g vs %g" % (name, k, a[name][k], b[name][k]))

        # Seeded splits and repeats: independent of the rank count.
        nosplit = os.path.join(tmp, "nosplit.h5")
        make(nosplit, split=False)
        outs = []
        for ranks in (1, 3):
            out = os.path.join(tmp, "rep%d.h5" % ranks)
            r = run(["fit", nosplit, "-o", out, "-q", "--repeats", "3",
                     "--seed", "7", "--split", "0.3,0.4,0.3"], ranks)
            check(r.returncode == 0, "repeats at %d ranks: %s" % (ranks, r.stderr[-300:]))
            outs.append(out)
        if all(os.path.exists(o) for o in outs):
            with h5py.File(outs[0]) as a, h5py.File(outs[1]) as b:
                check(list(a["metrics/repeat"][:]) == [0, 0, 1, 1, 2, 2],
                      "repeat index %s" % list(a["metrics/repeat"][:]))
                for k in ("gain", "misfit", "weak_error", "w2s_error"):
                    x, y = a["metrics"][k][:], b["metrics"][k][:]
                    check(np.allclose(x, y, rtol=1e-10, atol=0),
                          "repeats differ between 1 and 3 ranks: " + k)
                g = a["metrics/gain"][:]
                check(len(set(np.round(g, 12))) > 2, "repeats use different splits")
            r = subprocess.run([W2S, "analyze", outs[0], "--summary"],
                               capture_output=True, text=True)
            check(r.returncode == 0 and "Per sweep point" in r.stdout,
                  "analyze of a repeats file: " + r.stderr)

        # Bad input.
        def bad(name, build, word, extra=()):
            p = os.path.join(tmp, name + ".h5")
            if build is not None:
                with h5py.File(p, "w") as f:
                    build(f)
            out = os.path.join(tmp, name + "-out.h5")
            r = run(["fit", p, "-o", out] + list(extra), timeout=60)
            lines = [l for l in r.stderr.splitlines() if "error:" in l]
            check(r.returncode == 2 and len(lines) == 1 and word in lines[0]
                  and not os.path.exists(out)
                  and not [x for x in os.listdir(tmp) if ".partial-" in x],
                  "bad input %s: exit %d, stderr %r" % (name, r.returncode,
                                                        r.stderr[-300:]))

        n = 100
        rng = np.random.default_rng(3)
        good = lambda f: (f.create_dataset("labels", data=rng.normal(size=n)),
                          f.create_dataset("strong", data=rng.normal(size=(n, 4))),
                          f.create_dataset("weak/a", data=rng.normal(size=(n, 2))))

        def without(key):
            def b(f):
                good(f)
                del f[key]
            return b

        def with_(key, data):
            def b(f):
                good(f)
                if key in f:
                    del f[key]
                f[key] = data
            return b

        bad("missing", None, "no such file")
        with open(os.path.join(tmp, "text.h5"), "w") as fh:
            fh.write("not hdf5\n")
        bad("text", None, "not an HDF5 file")
        bad("nolabels", without("labels"), "/labels")
        bad("nostrong", without("strong"), "/strong")
        bad("noweak", without("weak"), "no weak model")
        bad("emptyweak", lambda f: (good(f), f.__delitem__("weak/a"),
                                    f.create_group("weak") if "weak" not in f else None), "empty")
        bad("rows", with_("strong", rng.normal(size=(n + 1, 4))), "/strong")
        bad("rank", with_("strong", rng.normal(size=n)), "/strong")
        bad("type", with_("labels", np.arange(n)), "/labels")
        bad("strings", with_("labels", np.array([b"x"] * n)), "/labels")
        nan = rng.normal(size=(n, 4))
        nan[37, 2] = np.nan
        bad("nan", with_("strong", nan), "row 37")
        inf = rng.normal(size=n)
        inf[81] = np.inf
        bad("inf", with_("labels", inf), "row 81")
        bad("zerorows", lambda f: (f.create_dataset("labels", shape=(0,), dtype="f8"),
                                   f.create_dataset("strong", shape=(0, 4), dtype="f8"),
                                   f.create_dataset("weak/a", shape=(0, 2), dtype="f8")),
            "no rows")
        bad("splitval", with_("split", np.full(n, 3, dtype=np.int8)), "/split")
        bad("fewrows", good, "parameters", ["--split", "0.02,0.9,0.08"])
        bad("splitsum", good, "sum", ["--split", "0.5,0.5,0.5"])
        trunc = os.path.join(tmp, "trunc.h5")
        make(trunc, n=5000)
        with open(trunc, "rb") as fh:
            data = fh.read()
        with open(os.path.join(tmp, "trunc2.h5"), "wb") as fh:
            fh.write(data[: len(data) // 2])
        bad("trunc2", None, "trunc2.h5")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_fit: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
