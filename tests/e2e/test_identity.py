#!/usr/bin/env python3
"""Results belong to the experiment they claim (docs/FORMAT.md "Identity").

1. --resume keeps a point file of --run-dir only when its stored identity
   (configuration, sweep keys and grid, format version) and point index are
   the run's: a changed --sweep value, a changed --set experiment.seed, a
   different swept key, a point file of format_version 1 and a file holding
   another point are each refused with exit 2 and one line naming what
   differs (at 1, 2 and 3 ranks for the first two), and the run directory is
   left as it was: every point file is judged before a missing point is
   computed or a partial file discarded. --resume without --run-dir is refused at once, before a
   run that would take minutes.
2. w2s merge accepts points written to other paths (only [output] path
   differs), refuses another grid, an edited identity (its hash no longer
   matches), a config attribute that no longer matches the identity, and a
   point given twice by two files that are not neighbours on the command
   line.
3. Every byte of the stored chunks of /metrics (data and checksum) flipped
   in turn for gain and task, and a sample of bytes of every other metric:
   w2s analyze exits 2 with one line naming the file and the dataset, or
   (bytes HDF5 does not use) prints exactly what it printed before. Files
   written at 1 and 3 ranks carry valid checksums too.
4. Files whose numbers were rewritten consistently (h5py recomputes the
   checksum) but break the metrics' identities are refused, naming the
   dataset and the first offending pair: gain and gain_train against
   weak_error - w2s_error, predicted_w2s_error and pgr exactly. Untouched
   files pass, and the largest relative gap |gain - (weak - w2s)| / (weak +
   w2s) of the runs here is printed next to the bound (2^22 eps).
"""
import os
import random
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

BOUND = 2.0 ** 22 * np.finfo(float).eps


def one_error(r, cmd, subs, what):
    """exit 2, exactly one stderr line 'w2s CMD: error: ...' with subs."""
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    ok = check(r.returncode == 2 and len(lines) == 1 and
               lines[0].startswith("w2s %s: error: " % cmd) and
               all(s in lines[0] for s in subs),
               "%s: want exit 2 and one line with %s; got %s" %
               (what, subs, r.describe()))
    return ok


def snapshot(d):
    return {n: open(os.path.join(d, n), "rb").read()
            for n in sorted(os.listdir(d))}


def test_resume(tmp):
    cfg = C.write_config(tmp, tasks=4, n_test=300)
    rd = os.path.join(tmp, "rd")
    out = os.path.join(tmp, "out.h5")
    base = ["simulate", cfg, "-q", "--sweep", "data.n_test=100,200,300",
            "--run-dir", rd]
    r = C.run_w2s(base + ["-o", out], ranks=2)
    check(r.returncode == 0, "sweep into --run-dir: " + r.describe())
    r = C.run_w2s(base + ["-o", out, "--resume"], ranks=2)
    check(r.returncode == 0, "resume of the same experiment: " + r.describe())
    before = snapshot(rd)
    cases = [
        (["--sweep", "data.n_test=100,200,400"], (1, 2, 3),
         ["point-00000.h5", "sweep point 2", "data.n_test", "'400'",
          "'300'"]),
        (["--sweep", "data.n_test=100,200,300", "--set",
          "experiment.seed=9"], (1, 2, 3),
         ["point-00000.h5", "experiment.seed", "'9'", "'7'"]),
        (["--sweep", "data.n_w2s_train=100,200,300"], (2,),
         ["point-00000.h5", "data.n_w2s_train"]),
    ]
    for args, ranks, subs in cases:
        for n in ranks:
            new_out = os.path.join(tmp, "new.h5")
            r = C.run_w2s(["simulate", cfg, "-q", "--run-dir", rd, "-o",
                           new_out, "--resume"] + args, ranks=n)
            one_error(r, "simulate", subs, "resume %s at %d ranks" % (args, n))
            check(not os.path.exists(new_out), "resume %s wrote %s"
                  % (args, new_out))
            check(snapshot(rd) == before, "resume %s changed the run "
                  "directory" % args)
    # A point file of an older format, and a file holding another point.
    for name, subs in (("old", ["point-00001.h5", "format_version 1"]),
                       ("other", ["point-00001.h5",
                                  "does not hold exactly sweep point 1"])):
        bad = os.path.join(tmp, "rd-" + name)
        shutil.copytree(rd, bad)
        target = os.path.join(bad, "point-00001.h5")
        if name == "old":
            with h5py.File(target, "r+") as h:
                h.attrs["format_version"] = np.int64(1)
        else:
            shutil.copy(os.path.join(bad, "point-00000.h5"), target)
        r = C.run_w2s(base[:-1] + [bad, "-o", os.path.join(tmp, "x.h5"),
                                   "--resume"], ranks=2)
        one_error(r, "simulate", subs, "resume over a %s point file" % name)
    # Judged before anything runs: with point 0 missing and point 1 of
    # another seed, nothing is computed, and no partial file is discarded.
    gap = os.path.join(tmp, "rd-gap")
    shutil.copytree(rd, gap)
    os.unlink(os.path.join(gap, "point-00000.h5"))
    partial = os.path.join(gap, "point-00000.h5.partial-1")
    C.write_file(partial, "left by a killed run")
    r = C.run_w2s(["simulate", cfg, "-q", "--sweep", "data.n_test=100,200,300",
                   "--set", "experiment.seed=9", "--run-dir", gap, "-o",
                   os.path.join(tmp, "g.h5"), "--resume"], ranks=2)
    one_error(r, "simulate", ["point-00001.h5", "experiment.seed"],
              "resume over a directory with a gap and another seed")
    check(sorted(os.listdir(gap)) == ["point-00000.h5.partial-1",
                                      "point-00001.h5", "point-00002.h5"],
          "a refused resume computed or discarded files: %s"
          % sorted(os.listdir(gap)))
    # --resume without --run-dir: refused before the (long) run starts.
    big = C.write_config(tmp, name="big.ini", tasks=50, n_test=200000000)
    t0 = time.monotonic()
    r = C.run_w2s(["simulate", big, "-q", "-o", os.path.join(tmp, "b.h5"),
                   "--resume"], ranks=2, timeout=120)
    one_error(r, "simulate", ["--resume needs --run-dir"],
              "--resume without --run-dir")
    check(time.monotonic() - t0 < 30 and not os.path.exists(
        os.path.join(tmp, "b.h5")),
          "--resume without --run-dir took %.1fs or wrote output"
          % (time.monotonic() - t0))
    return cfg, rd


def test_merge(tmp, cfg, rd):
    pts = [os.path.join(rd, "point-%05d.h5" % i) for i in range(3)]
    elsewhere = os.path.join(tmp, "elsewhere.h5")
    r = C.run_w2s(["simulate", cfg, "-q", "--sweep", "data.n_test=100,200,300",
                   "--sweep-point", "2", "-o", elsewhere], ranks=2)
    check(r.returncode == 0, "--sweep-point 2: " + r.describe())
    r = C.run_w2s(["merge", pts[0], pts[1], elsewhere, "-o",
                   os.path.join(tmp, "m.h5")])
    check(r.returncode == 0, "merge of points written to other paths: "
          + r.describe())
    grid = os.path.join(tmp, "grid.h5")
    r = C.run_w2s(["simulate", cfg, "-q", "--sweep", "data.n_test=100,200,301",
                   "--sweep-point", "2", "-o", grid], ranks=2)
    check(r.returncode == 0, "another grid's point: " + r.describe())
    edited_id = os.path.join(tmp, "edited_id.h5")
    shutil.copy(pts[2], edited_id)
    with h5py.File(edited_id, "r+") as h:
        h.attrs["identity"] = h.attrs["identity"].replace("seed = 7",
                                                          "seed = 8")
    edited_cfg = os.path.join(tmp, "edited_cfg.h5")
    shutil.copy(pts[2], edited_cfg)
    with h5py.File(edited_cfg, "r+") as h:
        h.attrs["config"] = h.attrs["config"].replace("seed = 7", "seed = 8")
    twice = os.path.join(tmp, "twice.h5")
    shutil.copy(pts[0], twice)
    for files, subs in (
            ([pts[0], pts[1], grid], ["grid.h5", "sweep point 2",
                                      "'301' here, '300' there"]),
            ([pts[0], pts[1], edited_id], ["edited_id.h5", "identity_hash"]),
            ([pts[0], edited_cfg], ["edited_cfg.h5", "'config' does not match"]),
            ([pts[0], pts[1], pts[2], twice],
             ["point-00000.h5", "twice.h5", "both hold sweep point 0"])):
        bad = os.path.join(tmp, "bad.h5")
        if os.path.exists(bad):  # left by a merge wrongly accepted above
            os.unlink(bad)
        r = C.run_w2s(["merge"] + files + ["-o", bad])
        one_error(r, "merge", subs, "merge %s" % [os.path.basename(f)
                                                  for f in files])
        check(not os.path.exists(bad), "a refused merge wrote its output")


def analyze(path):
    return C.run_w2s(["analyze", path, "--format", "csv"], timeout=60)


def raw_spans(d):
    """(file offset, bytes) of a dataset's stored data: its chunks
    (checksum included), or its one contiguous block."""
    if d.chunks is None:
        return [(d.id.get_offset(), d.id.get_storage_size())]
    return [(c.byte_offset, c.size) for c in
            map(d.id.get_chunk_info, range(d.id.get_num_chunks()))]


def flip_positions(path, rng):
    """(dataset, absolute byte offset) of the bytes of the stored chunks of
    /metrics: every byte of gain and task, 12 of each other dataset."""
    out = []
    with h5py.File(path, "r") as f:
        for name, d in f["metrics"].items():
            if d.dtype.kind not in "fiu":
                continue
            check(d.fletcher32, "/metrics/%s has no checksum" % name)
            for start, size in raw_spans(d):
                offs = list(range(start, start + size))
                if name not in ("gain", "task"):
                    offs = rng.sample(offs, min(12, len(offs)))
                out += [("/metrics/" + name, o) for o in offs]
    return out


def test_flips(tmp):
    cfg = C.write_config(tmp, name="flip.ini", tasks=4)
    good = os.path.join(tmp, "flip.h5")
    C.simulate(cfg, good, ranks=2)
    ref = analyze(good)
    check(ref.returncode == 0, "analyze of the written file: " + ref.describe())
    rng = random.Random(12345)
    pos = flip_positions(good, rng)
    data = open(good, "rb").read()
    bad = os.path.join(tmp, "flipped.h5")
    errors = same = 0
    for dset, off in pos:
        b = bytearray(data)
        b[off] ^= 1 << rng.randrange(8)
        with open(bad, "wb") as fh:
            fh.write(b)
        r = analyze(bad)
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        if r.returncode == 0 and r.stdout == ref.stdout:
            same += 1
        elif check(r.returncode == 2 and len(lines) == 1 and
                   "flipped.h5" in lines[0] and dset in lines[0],
                   "flip at byte %d of %s: %s" % (off, dset, r.describe())):
            errors += 1
    C.note("byte flips in /metrics chunks: %d refused naming the dataset, "
           "%d with identical output, of %d" % (errors, same, len(pos)))
    check(errors + same == len(pos) and errors > 0, "some flips changed "
          "the output or were reported without the dataset")
    for n in (1, 3):
        p = os.path.join(tmp, "ranks%d.h5" % n)
        C.simulate(cfg, p, ranks=n)
        r = analyze(p)
        check(r.returncode == 0, "analyze of a %d-rank file: %s"
              % (n, r.describe()))
        b = bytearray(open(p, "rb").read())
        with h5py.File(p, "r") as f:
            start = raw_spans(f["metrics/gain"])[0][0]
        b[start + 3] ^= 0x40
        with open(p, "wb") as fh:
            fh.write(b)
        one_error(analyze(p), "analyze", ["ranks%d.h5" % n, "/metrics/gain",
                                          "checksum"],
                  "flip in a %d-rank file" % n)


def test_identities(tmp):
    gaps = []
    for name, kw in (("realizable", {}),
                     ("same", {"data": {"w2s_inputs": "same"}}),
                     ("random_strong", {"strong": {"source": "random",
                                                   "depth": "2",
                                                   "width": "16"}}),
                     ("big", {"tasks": 3, "n_test": 200000,
                              "n_w2s_train": 100000})):
        p = os.path.join(tmp, name + ".h5")
        text = C.quick_config(**kw)
        if name == "same":  # the key is refused with w2s_inputs = same
            text = "\n".join(ln for ln in text.split("\n")
                             if not ln.startswith("n_w2s_train"))
        C.simulate(C.write_file(os.path.join(tmp, name + ".ini"), text), p,
                   ranks=2)
        with h5py.File(p, "r") as f:
            for g, w, s in (("gain", "weak_error", "w2s_error"),
                            ("gain_train", "weak_error_train",
                             "w2s_error_train")):
                gm, wm, sm = (f["metrics/" + x][()] for x in (g, w, s))
                gaps.append(np.max(np.abs(gm - (wm - sm)) / (wm + sm)))
    C.note("largest |gain - (weak - w2s)| / (weak + w2s): %.3g (bound %.3g)"
           % (max(gaps), BOUND))
    check(max(gaps) < BOUND / 1000, "the measured gap is within 1000x of "
          "the bound: %.3g" % max(gaps))
    good = os.path.join(tmp, "realizable.h5")

    def rel(x):
        return x * (1 + 1e-6)

    def ulp(x):
        return np.nextafter(x, np.inf)

    for dset, k, change, subs in (
            ("gain", 5, rel, ["/metrics/gain[5]", "weak_error - w2s_error"]),
            ("w2s_error", 2, rel, ["/metrics/gain[2]"]),
            ("gain_train", 3, rel, ["/metrics/gain_train[3]",
                                    "weak_error_train - w2s_error_train"]),
            ("predicted_w2s_error", 1, ulp,
             ["/metrics/predicted_w2s_error[1]"]),
            ("pgr", 0, ulp, [])):
        p = os.path.join(tmp, "edit-%s.h5" % dset)
        shutil.copy(good, p)
        with h5py.File(p, "r+") as f:
            v = f["metrics/" + dset][()]
            if dset == "pgr":  # NaN where weak_error <= ceiling
                k = int(np.flatnonzero(np.isfinite(v))[0])
                subs = ["/metrics/pgr[%d]" % k]
            v[k] = change(v[k])
            v[k + 1:] = [change(x) for x in v[k + 1:]]  # the first is named
            f["metrics/" + dset][...] = v
        one_error(analyze(p), "analyze", ["edit-%s.h5" % dset] + subs,
                  "analyze of a file with %s[%d] changed" % (dset, k))


def main():
    with C.scratch("w2s-identity-") as tmp:
        cfg, rd = test_resume(tmp)
        test_merge(tmp, cfg, rd)
        test_flips(tmp)
        test_identities(tmp)


if __name__ == "__main__":
    C.main_guard(main, "test_identity")
