#!/usr/bin/env python3
"""Every writer on a full disk: `w2s simulate` and `w2s fit` at 1 and 2
ranks and `w2s merge`, into a 2 MiB tmpfs filled so that 0, 8 KiB, half
the output, the output less 4 KiB, the output plus 64 KiB and 512 KiB are
left free (the output's size measured by a run on the ordinary disk).

Where the output does not fit: exit 1, exactly one error line naming the
output path and the system's reason ("No space left on device"), nothing
at the output path, no partial file, no crash ("Segmentation", "signal")
and no hang (a hard timeout). Where it fits: exit 0 and a complete file
(every dataset of the reference run, equal values).

The pre-training cache, which simulate rewrites: on a full disk the run
fails the same way and an existing cache stays byte-identical and usable.

Needs root's `mount -t tmpfs`; exits 77 (ctest SKIP_RETURN_CODE) with the
reason when mounting is not permitted.
"""
import contextlib
import os
import signal
import subprocess
import sys

import h5py
import numpy as np

import common as C

SKIP = 77
MOUNT_KIB = 2048


@contextlib.contextmanager
def tmpfs(directory):
    mnt = os.path.join(directory, "mnt")
    os.mkdir(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dk" % MOUNT_KIB,
                        "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        yield None, " ".join(r.stderr.split()) or "mount failed"
        return
    try:
        yield mnt, None
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)


def free_kib(mnt):
    st = os.statvfs(mnt)
    return st.f_bavail * st.f_frsize // 1024


def fill(mnt, leave_kib):
    """Remove everything, then write a filler leaving leave_kib free."""
    for name in os.listdir(mnt):
        os.unlink(os.path.join(mnt, name))
    size = (free_kib(mnt) - leave_kib) * 1024
    if size > 0:
        with open(os.path.join(mnt, "filler"), "wb") as fh:
            fh.write(b"\0" * size)
    return free_kib(mnt)


def same_content(ref, out):
    a, b = C.load(ref), C.load(out)
    if sorted(a) != sorted(b):
        return False
    return all(np.array_equal(np.asarray(a[k]), np.asarray(b[k])) for k in a)


def check_run(tag, r, out, mnt, fits, ref, cmd):
    lines = [l for l in r.stderr.splitlines() if "error:" in l]
    crashed = any(w in r.stderr for w in ("Segmentation", "signal",
                                            "buffer overflow", "Abort"))
    C.check(not crashed, "%s: crashed: %s" % (tag, r.describe()))
    C.check(not r.timed_out, "%s: hung" % tag)
    C.check(not C.partials(mnt), "%s: partial files left: %s"
            % (tag, C.partials(mnt)))
    if fits:
        C.check(r.returncode == 0 and os.path.isfile(out),
                "%s: the output fits but the run failed: %s"
                % (tag, r.describe()))
        if os.path.isfile(out):
            C.check(same_content(ref, out),
                    "%s: the file differs from the reference run" % tag)
        return
    C.check(r.returncode == 1, "%s: exit %s, expected 1: %s"
            % (tag, r.returncode, r.describe()))
    C.check(len(lines) == 1 and out in lines[0] and
            "No space left on device" in lines[0] and
            ("w2s %s: error:" % cmd) in lines[0],
            "%s: expected one error line naming %s and the reason: %r"
            % (tag, out, r.stderr))
    C.check(not os.path.exists(out), "%s: %s exists after the failure"
            % (tag, out))


def make_features(path, n=3000):
    rng = np.random.default_rng(3)
    S = rng.normal(size=(n, 40))
    with h5py.File(path, "w") as f:
        f["labels"] = S @ rng.normal(size=40)
        f["strong"] = S
        for k in range(3):
            f["weak/w%d" % k] = S[:, :5 + k] + rng.normal(size=(n, 5 + k))


def main():
    # ctest's timeout sends SIGTERM: leave through the finally clauses, so
    # that the tmpfs is unmounted
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    with C.scratch("w2s-iofault-") as tmp:
        with tmpfs(tmp) as (mnt, why):
            if mnt is None:
                print("SKIP: cannot mount a tmpfs (%s); the full-disk cases "
                      "need root's mount" % why)
                raise SystemExit(SKIP)
            run_all(tmp, mnt)


PRETRAIN = """[experiment]
seed = %(seed)d
tasks = 2
[data]
input_dim = 4
n_weak_train = 200
n_w2s_train = 200
n_test = 200
[target]
depth = 2
width = 8
[strong]
source = target
[weak.pre]
source = pretrain
depth = 2
width = 8
pretrain_tasks = 2
pretrain_samples = 100
epochs = 3
cache = %(cache)s
"""


def pretrain_cache(tmp, mnt):
    """The pre-training cache is rewritten by simulate: on a full disk the
    run fails cleanly and an existing cache stays byte-identical (it was
    updated in place, and a full disk left it truncated, unreadable even
    once space was back)."""
    cache = os.path.join(mnt, "cache.h5")
    out = os.path.join(tmp, "pre.h5")

    def run(seed, ranks):
        cfg = C.write_file(os.path.join(tmp, "pre%d.ini" % seed),
                           PRETRAIN % {"seed": seed, "cache": cache})
        if os.path.exists(out):
            os.unlink(out)
        return C.run_w2s(["simulate", cfg, "-o", out, "-q"], ranks=ranks,
                         timeout=60)

    for ranks in (1, 2):
        for name in os.listdir(mnt):
            os.unlink(os.path.join(mnt, name))
        for leave, have_cache in ((0, False), (4, False), (4, True)):
            filler = os.path.join(mnt, "filler")
            if os.path.exists(filler):
                os.unlink(filler)
            if have_cache:
                r = run(1, ranks)  # a cache holding seed 1's network
                C.check(r.returncode == 0 and os.path.isfile(cache),
                        "cache written with space: " + r.describe())
                before = open(cache, "rb").read()
            else:
                before = None
                if os.path.exists(cache):
                    os.unlink(cache)
            size = (free_kib(mnt) - leave) * 1024
            with open(filler, "wb") as fh:
                fh.write(b"\0" * max(size, 0))
            tag = "pretrain cache at %d rank(s), %d KiB free, %s" % (
                ranks, free_kib(mnt), "existing" if have_cache else "new")
            r = run(2, ranks)  # another network: the cache must grow
            C.note("%-50s exit %s %.1fs" % (tag, r.returncode, r.seconds))
            lines = [l for l in r.stderr.splitlines() if "error:" in l]
            C.check(r.returncode == 1 and len(lines) == 1 and
                    cache in lines[0] and
                    "No space left on device" in lines[0] and
                    "Segmentation" not in r.stderr and not r.timed_out,
                    "%s: expected exit 1 and one line naming the cache and "
                    "the reason: %s" % (tag, r.describe()))
            C.check(not C.partials(mnt), "%s: partial files left: %s"
                    % (tag, C.partials(mnt)))
            C.check(not os.path.exists(out), "%s: results written" % tag)
            if before is None:
                C.check(not os.path.exists(cache), "%s: a cache file was "
                        "left" % tag)
                continue
            C.check(os.path.isfile(cache) and
                    open(cache, "rb").read() == before,
                    "%s: the existing cache changed" % tag)
            os.unlink(filler)
            r = run(1, ranks)  # space again: the old cache still serves
            C.check(r.returncode == 0, "%s: the cache is unusable after the "
                    "failure: %s" % (tag, r.describe()))


def run_all(tmp, mnt):
    pretrain_cache(tmp, mnt)
    cfg = C.write_config(tmp, tasks=6)
    feats = os.path.join(tmp, "features.h5")
    make_features(feats)
    # merge inputs: two points of one sweep, written on the ordinary disk
    points = C.sweep_points(tmp, cfg, "point%d.h5")
    writers = [
        ("simulate", 1, lambda o: ["simulate", cfg, "-o", o, "-q"]),
        ("simulate", 2, lambda o: ["simulate", cfg, "-o", o, "-q"]),
        ("fit", 1, lambda o: ["fit", feats, "-o", o, "-q", "--repeats", "2"]),
        ("fit", 2, lambda o: ["fit", feats, "-o", o, "-q", "--repeats", "2"]),
        ("merge", None, lambda o: ["merge"] + points + ["-o", o]),
    ]
    for cmd, ranks, args in writers:
        ref = os.path.join(tmp, "ref-%s-%s.h5" % (cmd, ranks))
        r = C.run_w2s(args(ref), ranks=ranks, timeout=120)
        if not C.check(r.returncode == 0, "reference run: " + r.describe()):
            continue
        kib = (os.path.getsize(ref) + 1023) // 1024
        out = os.path.join(mnt, "out.h5")
        levels = [(0, False), (8, False), (kib // 2, False),
                  (kib - 4, False), (kib + 64, True), (512, True)]
        for leave, fits in levels:
            left = fill(mnt, leave)
            tag = "%s at %s rank(s), %d KiB free (output %d KiB)" % (
                cmd, ranks or "no", left, kib)
            r = C.run_w2s(args(out), ranks=ranks, timeout=60)
            C.note("%-50s exit %s %.1fs" % (tag, r.returncode, r.seconds))
            check_run(tag, r, out, mnt, fits, ref, cmd)


if __name__ == "__main__":
    C.main_guard(main, "test_io_faults")
