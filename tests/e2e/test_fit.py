#!/usr/bin/env python3
"""`w2s fit` on features files written by h5py.

- Round trip: features from known models with an explicit /split; w2s fit at
  1, 2, 3, 4, 5 and 8 ranks gives the metrics that numpy's lstsq gives on the same
  splits, to 1e-8 relative (both are exact least squares on a
  well-conditioned design; the tolerance covers rounding only). Again at 1,
  5 and 8 ranks with the splits in row order, where all but rank 0 own zero
  rows of both training splits.
- float32 features give the float64 result to float32 precision (1e-4
  relative on the metrics, which are squared errors of float32 inputs).
- --repeats 3 (seeded splits) is independent of the number of ranks.
- /weak_predictions replace a fitted weak head.
- A weak representation wider than the strong one (21 parameters against
  4): the numpy metrics at 1 and 3 ranks (the penalty mask of the heads was
  once sized for the strong head only: a heap overflow that the sanitized
  build of this test reports).
Bad features files and options are cases of tests/e2e/test_bad_input.py.
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
    """Features of known models; split: True (random /split), False (none)
    or the /split array itself."""
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
        if split is True:
            f["split"] = rng.integers(0, 3, size=n).astype(np.int8)
        elif split is not False:
            f["split"] = np.asarray(split, dtype=np.int8)
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
        # Both engines (the default auto picks factor for these widths)
        # against numpy's row-by-row reference.
        for ranks, engine in [(n, e) for n in (1, 2, 3, 4, 5, 8)
                              for e in ("auto", "direct")]:
            out = os.path.join(tmp, "r%d%s.h5" % (ranks, "" if engine == "auto"
                                                  else "-" + engine))
            r = run(["fit", feats, "-o", out, "-q", "--engine", engine], ranks)
            check(r.returncode == 0, "fit at %d ranks: %s" % (ranks, r.stderr[-300:]))
            if r.returncode:
                continue
            got, _ = metrics(out)
            check(sorted(got) == sorted(ref), "weak models %s" % sorted(got))
            for name, m in ref.items():
                for k, v in m.items():
                    g = got.get(name, {}).get(k, np.nan)
                    check(abs(g - v) <= 1e-8 * abs(v) + 1e-14,
                          "ranks %d, engine %s, %s %s: %.12g vs numpy %.12g"
                          % (ranks, engine, name, k, g, v))
        # The same file gzip'd in chunks: complete compressed chunks are
        # smaller than their data, which must not read as "partly written".
        gz = os.path.join(tmp, "gzip.h5")
        with h5py.File(feats) as src, h5py.File(gz, "w") as dst:
            def copy(name, obj):
                if isinstance(obj, h5py.Dataset):
                    dst.create_dataset(name, data=obj[()], compression="gzip",
                                       chunks=(97,) + obj.shape[1:])
            src.visititems(copy)
        out = os.path.join(tmp, "gz.h5")
        r = run(["fit", gz, "-o", out, "-q"], 3)
        check(r.returncode == 0, "gzip'd features: " + r.stderr[-300:])
        if r.returncode == 0:
            a, _ = metrics(out)
            b, _ = metrics(os.path.join(tmp, "r3.h5"))
            check(a == b, "gzip'd features give other metrics than plain ones")

        # Several ridge values (the hold-out choice) and standardised
        # columns: the factor engine makes the same choices and fits as the
        # row-by-row one. Both solve the same small problems backward-stably
        # (cond of the equilibrated columns < 1e2 here), so they agree to
        # ~1e2 eps; 1e-10 relative to each metric leaves room.
        cv = {}
        for engine in ("factor", "direct"):
            out = os.path.join(tmp, "cv-%s.h5" % engine)
            r = run(["fit", feats, "-o", out, "-q", "--engine", engine,
                     "--ridge", "0,1e-3,1e-1", "--standardize"], 2)
            check(r.returncode == 0, "ridge grid, %s: %s" % (engine, r.stderr[-300:]))
            if r.returncode == 0:
                cv[engine] = metrics(out)[0]
                with h5py.File(out) as f:
                    cv[engine + "-ridge"] = list(f["representations/ridge"][()])
        if len(cv) == 4:
            check(cv["factor-ridge"] == cv["direct-ridge"],
                  "chosen ridges differ: %s vs %s" % (cv["factor-ridge"],
                                                      cv["direct-ridge"]))
            for name, m in cv["direct"].items():
                for k, v in m.items():
                    g = cv["factor"][name][k]
                    check(abs(g - v) <= 1e-10 * abs(v) + 1e-300,
                          "ridge grid %s %s: factor %.15g, direct %.15g"
                          % (name, k, g, v))

        # Splits in row order: the 30 weak-training and 60 weak-to-strong
        # rows all sit on rank 0's block, so at 5 and 8 ranks the other
        # ranks own zero rows of both training splits.
        sorted_split = np.repeat([0, 1, 2], [30, 60, 1110])
        zfeats = os.path.join(tmp, "sorted.h5")
        make(zfeats, split=sorted_split, seed=4)
        zref = reference(zfeats)
        for ranks, engine in [(n, e) for n in (1, 5, 8)
                              for e in ("factor", "direct")]:
            out = os.path.join(tmp, "z%d%s.h5" % (ranks, engine))
            r = run(["fit", zfeats, "-o", out, "-q", "--engine", engine],
                    ranks)
            check(r.returncode == 0, "sorted split at %d ranks: %s"
                  % (ranks, r.stderr[-300:]))
            if r.returncode:
                continue
            got, _ = metrics(out)
            for name, m in zref.items():
                for k, v in m.items():
                    g = got.get(name, {}).get(k, np.nan)
                    check(abs(g - v) <= 1e-8 * abs(v) + 1e-14,
                          "sorted split, ranks %d, %s engine, %s %s: %.12g vs "
                          "numpy %.12g" % (ranks, engine, name, k, g, v))
        with h5py.File(os.path.join(tmp, "r2.h5")) as f:
            check(f.attrs["input_file"] == feats, "input_file attribute")
            check(len(f.attrs["labels_checksum"]) == 16, "labels checksum")
            check(f["coefficients/strong_ceiling"].shape == (1, 13), "coef shape")
            # fit names its own phases (FORMAT.md): each timed, none longer
            # than the whole point.
            t = {k: float(f["timing"][k][0]) for k in f["timing"]}
            check(sorted(t) == sorted(["setup", "scan", "weak_fit",
                                       "strong_fit", "metrics", "total"]),
                  "fit /timing members %s" % sorted(t))
            check(t.get("total", 0) > 0 and all(
                0 < v <= t["total"] + 1e-6 for k, v in t.items()),
                  "fit /timing values %s" % t)
        # A weak model given by its predictions AND its representation:
        # the predictions are its weak labels and no head is stored for it.
        both = os.path.join(tmp, "both.h5")
        with h5py.File(feats) as src, h5py.File(both, "w") as dst:
            for k in ("labels", "strong", "split", "weak/w0", "weak/w1"):
                dst[k] = src[k][()]
            dst["weak_predictions/w0"] = src["weak_predictions/ext"][()]
        out = os.path.join(tmp, "both-r.h5")
        r = run(["fit", both, "-o", out, "-q"], 2)
        check(r.returncode == 0, "fit with /weak and /weak_predictions: "
              + r.stderr[-300:])
        if r.returncode == 0:
            with h5py.File(out) as f:
                check(sorted(f["coefficients/weak"]) == ["w1"],
                      "heads stored: %s, want only w1 (w0 is given by its "
                      "predictions)" % sorted(f["coefficients/weak"]))
            got, _ = metrics(out)
            ext = metrics(os.path.join(tmp, "r2.h5"))[0]["ext"]
            check(abs(got["w0"]["weak_error"] - ext["weak_error"])
                  <= 1e-12 * abs(ext["weak_error"]),
                  "w0's weak labels are its predictions: weak_error %.15g vs "
                  "%.15g" % (got["w0"]["weak_error"], ext["weak_error"]))
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

        # A weak representation wider than the strong one.
        wide = os.path.join(tmp, "wide.h5")
        rng = np.random.default_rng(11)
        n = 900
        S = rng.normal(size=(n, 3))
        y = S @ rng.normal(size=3) + 0.2 + 0.1 * rng.normal(size=n)
        with h5py.File(wide, "w") as f:
            f["labels"] = y
            f["strong"] = S
            f["weak/wide"] = np.hstack([S[:, :1], rng.normal(size=(n, 19))])
            f["split"] = rng.integers(0, 3, size=n).astype(np.int8)
        wref = reference(wide)
        for ranks in (1, 3):
            out = os.path.join(tmp, "wide%d.h5" % ranks)
            r = run(["fit", wide, "-o", out, "-q"], ranks)
            check(r.returncode == 0, "wide weak representation at %d ranks: "
                  "%s" % (ranks, r.stderr[-300:]))
            if r.returncode:
                continue
            got, _ = metrics(out)
            for k, v in wref["wide"].items():
                g = got.get("wide", {}).get(k, np.nan)
                check(abs(g - v) <= 1e-8 * abs(v) + 1e-14,
                      "wide weak, ranks %d %s: %.12g vs numpy %.12g"
                      % (ranks, k, g, v))

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

    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_fit: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
