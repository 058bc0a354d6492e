#!/usr/bin/env python3
"""A sweep killed mid-run (SIGKILL to one rank) and resumed.

While a 3-point sweep runs with --run-dir on 2 ranks, one rank is killed as
soon as the first point's file is complete. Then: the merged output does not
exist, every file in the run directory under a final name is a complete
results file, `--resume` discards the partial files, keeps the complete
points, runs the rest, and the merged metrics equal an uninterrupted run's
(bitwise: same ranks, same blocks)."""
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np
from common import W2S, MPIEXEC, SRC, check, failures  # the paths, in one place



def main():
    tmp = tempfile.mkdtemp(prefix="w2s-resume-")
    try:
        cfg = os.path.join(SRC, "data", "configs", "realizable.ini")
        args = ["simulate", cfg, "-q", "--set", "experiment.tasks=10",
                "--set", "data.n_test=400000",
                "--sweep", "data.n_w2s_train=1000,2000,4000"]
        ref = os.path.join(tmp, "ref.h5")
        r = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", W2S] + args +
                           ["--run-dir", os.path.join(tmp, "refrun"), "-o", ref],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "uninterrupted run: " + r.stderr[-300:])
        run = os.path.join(tmp, "run")
        out = os.path.join(tmp, "merged.h5")
        p = subprocess.Popen([MPIEXEC, "-n", "2", "--oversubscribe", W2S] + args +
                             ["--run-dir", run, "-o", out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True)
        first = os.path.join(run, "point-00000.h5")
        deadline = time.time() + 120
        while time.time() < deadline and not os.path.exists(first) and p.poll() is None:
            time.sleep(0.05)
        check(os.path.exists(first), "the first point never completed")
        # SIGKILL one w2s rank (a child of mpirun).
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True,
                              text=True).stdout.split()
        ranks = [k for k in kids if "w2s" in open("/proc/%s/comm" % k).read()] \
            if kids else []
        check(len(ranks) >= 1, "no w2s rank to kill under mpirun %d" % p.pid)
        if ranks:
            os.kill(int(ranks[-1]), signal.SIGKILL)
        try:
            p.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            check(False, "the other rank hung after the kill")
        check(p.returncode != 0, "the killed run reported success")
        check(not os.path.exists(out), "a merged file exists after the kill")
        for f in glob.glob(os.path.join(run, "point-*.h5")):
            with h5py.File(f) as h:
                check(h.attrs["format"] == "w2s-results", "incomplete " + f)
        done_before = sorted(glob.glob(os.path.join(run, "point-*.h5")))
        r = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", W2S] + args +
                           ["--run-dir", run, "-o", out, "--resume"],
                           capture_output=True, text=True, timeout=300)
        check(r.returncode == 0, "resume: " + r.stderr[-300:])
        check(not glob.glob(os.path.join(run, "*.partial-*")),
              "partial files left after --resume")
        check(len(glob.glob(os.path.join(run, "point-*.h5"))) == 3, "3 points")
        if r.returncode == 0 and os.path.exists(ref):
            with h5py.File(out) as a, h5py.File(ref) as b:
                for k in ("gain", "misfit", "weak_error", "w2s_error", "sweep"):
                    check(np.array_equal(a["metrics"][k][:], b["metrics"][k][:]),
                          "resumed metrics differ: " + k)
        print("points complete before the resume: %d" % len(done_before))

        # merge refuses points of another experiment, another format
        # version, and a point given twice; it accepts the run's points.
        pts = sorted(glob.glob(os.path.join(run, "point-*.h5")))
        good = os.path.join(tmp, "m.h5")
        r = subprocess.run([W2S, "merge"] + pts + ["-o", good],
                           capture_output=True, text=True)
        check(r.returncode == 0, "merge of the run's points: " + r.stderr)
        if r.returncode == 0:
            with h5py.File(good) as a, h5py.File(out) as b:
                check(np.array_equal(a["metrics/gain"][:], b["metrics/gain"][:]),
                      "w2s merge differs from the run's own merge")
        other = os.path.join(tmp, "other")
        r = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", W2S] + args +
                           ["--set", "experiment.seed=9", "--sweep-point", "2",
                            "-o", other + ".h5"], capture_output=True, text=True)
        check(r.returncode == 0, "other experiment's point: " + r.stderr[-300:])
        v2 = os.path.join(tmp, "v2.h5")
        shutil.copy(pts[2], v2)
        with h5py.File(v2, "r+") as h:
            h.attrs["format_version"] = np.int64(1)
        for files, word in (([pts[0], pts[1], other + ".h5"], "different experiment"),
                            ([pts[0], v2], "format_version"),
                            ([pts[0], pts[0]], "both hold sweep point 0")):
            bad = os.path.join(tmp, "bad.h5")
            r = subprocess.run([W2S, "merge"] + files + ["-o", bad],
                               capture_output=True, text=True)
            lines = [l for l in r.stderr.splitlines() if "error:" in l]
            check(r.returncode == 2 and len(lines) == 1 and word in lines[0]
                  and not os.path.exists(bad),
                  "merge should refuse (%s): exit %d %r" % (word, r.returncode,
                                                            r.stderr))

        # Sweep options without a sweep, or a point outside the grid: one
        # clear line, exit 2, no output, at 2 ranks.
        for extra, word in ((["--sweep-point", "0"], "need a sweep"),
                            (["--run-dir", os.path.join(tmp, "rd")], "need a sweep"),
                            (["--sweep", "data.n_test=100,200", "--sweep-point", "2"],
                             "the sweep has 2 points")):
            bad = os.path.join(tmp, "bad.h5")
            r = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", "-q", W2S,
                                "simulate", cfg, "-o", bad, "-q"] + extra,
                               capture_output=True, text=True, timeout=60)
            lines = [l for l in r.stderr.splitlines() if "error:" in l]
            check(r.returncode == 2 and len(lines) == 1 and word in lines[0]
                  and not os.path.exists(bad),
                  "%s: exit %d %r" % (extra, r.returncode, r.stderr[-300:]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("test_resume: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
