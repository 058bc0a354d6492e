#!/usr/bin/env python3
"""How a results file is published, for every writer.

- No clobbering: 4 simultaneous 1-rank runs with different seeds to one -o
  (each holding its finished file W2S_TEST_DELAY_PUBLISH_MS before
  publishing, so that all are ready together): exactly one exits 0, the
  others exit 1 with one line naming the path, and the file is the winner's
  complete result (its seed, its command line, every dataset readable).
  Again with renameat2 failing as on NFS (EINVAL: the link + unlink path)
  and with link failing too (EPERM: the check-then-rename path), by an
  LD_PRELOAD shim.
- --force replaces only a regular file: a directory, a FIFO, a character
  device, a link to /dev/null and a link to a directory are refused (exit
  2, one line naming the output; merge for each, simulate at 1 and 2 ranks
  for the first two) and left as they were; a regular file and a dangling
  link are replaced.
- An output that is an input is refused under any spelling, before any
  work, and the input is unchanged: fit X -o X, -o DIR/../X, a hard link of
  X; merge A B -o B; simulate C.ini -o C.ini.
- Long paths: absolute outputs of 200, 240, 260, 300 and 600 characters and
  a 250-character file name, at 1 and 2 ranks (fit for 600: simulate's -o
  holds 511), either work (the file at exactly that path, complete) or are
  refused with one line; nothing is written under another name. A
  256-character file name is refused, as is a 600-character simulate -o.
  fit's input (opened with MPI-IO) works at 244 characters and is refused
  at 245 and 300, before anything is read.
- Signals: SIGTERM (2 ranks) and SIGINT (1 rank) to mpirun while the run
  holds its finished temporary file: mpirun exits non-zero, the output does
  not exist and no partial file is left.
- --run-dir with an existing point file (no --resume, no --force): refused
  before the first point is computed.
- w2s merge under mpirun -n 2: refused with one line, no output.
"""
import hashlib
import os
import signal
import stat
import subprocess
import time

import h5py

import common as C


def digest(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def error_lines(r):
    return [l for l in r.stderr.splitlines() if "error:" in l]


def one_line(tag, r, code, subs):
    lines = error_lines(r)
    ok = (r.returncode == code and len(lines) == 1 and
          all(s in lines[0] for s in subs))
    C.check(ok, "%s: expected exit %d and one error line with %s: %s"
            % (tag, code, subs, r.describe()))


def complete(path):
    """Every dataset of the file reads back."""
    try:
        with h5py.File(path, "r") as f:
            names = []
            f.visititems(lambda n, o: names.append(n)
                         if isinstance(o, h5py.Dataset) else None)
            for n in names:
                f[n][()]
            return "metrics/gain" in names and "format" in f.attrs
    except OSError:
        return False


# File systems without RENAME_NOREPLACE (NFS) or without hard links (FAT,
# some FUSE): preloaded, these make renameat2 and link fail as they do there.
SHIM = r"""
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
int renameat2(int a, const char *b, int c, const char *d, unsigned e) {
  (void)a, (void)b, (void)c, (void)d, (void)e;
  errno = EINVAL;
  return -1;
}
int link(const char *a, const char *b) {
  (void)a, (void)b;
  if (!getenv("SHIM_NO_LINK")) {
    extern int linkat(int, const char *, int, const char *, int);
    return linkat(-100 /* AT_FDCWD */, a, -100, b, 0);
  }
  errno = EPERM;
  return -1;
}
"""


def build_shim(tmp):
    src = C.write_file(os.path.join(tmp, "shim.c"), SHIM)
    lib = os.path.join(tmp, "shim.so")
    r = subprocess.run(["cc", "-shared", "-fPIC", "-o", lib, src],
                       capture_output=True, text=True)
    C.check(r.returncode == 0, "cannot build the shim: " + r.stderr)
    return lib


def race(tmp, cfg, extra_env=None, what="race"):
    out = os.path.join(tmp, "race.h5")
    if os.path.exists(out):
        os.unlink(out)
    env = dict(C.ENV, W2S_TEST_DELAY_PUBLISH_MS="1500", **(extra_env or {}))
    procs = []
    for seed in (11, 12, 13, 14):
        cmd = [C.MPIEXEC, "-q", "-n", "1", C.W2S, "simulate", cfg, "-o", out,
               "-q", "--set", "experiment.seed=%d" % seed]
        procs.append((seed, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env, start_new_session=True)))
    results = []
    for seed, p in procs:
        try:
            _, err = p.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
            C.check(False, "%s: a run hung" % what)
        results.append((seed, p.returncode, err))
    winners = [s for s, rc, _ in results if rc == 0]
    C.note("%s: exit codes %s" % (what, [rc for _, rc, _ in results]))
    C.check(len(winners) == 1, "%s: %d runs exited 0, expected exactly 1"
            % (what, len(winners)))
    for seed, rc, err in results:
        if rc != 0:
            lines = [l for l in err.splitlines() if "error:" in l]
            # "not replaced" at the rename, or "exists" when the winner
            # published before this run's last check
            C.check(rc in (1, 2) and len(lines) == 1 and out in lines[0] and
                    ("not replaced" in lines[0] or "exists" in lines[0]),
                    "%s: the loser (seed %d) did not say why: %r" % (what, seed, err))
    if len(winners) == 1 and C.check(complete(out), "%s: incomplete file" % what):
        with h5py.File(out, "r") as f:
            C.check(int(f.attrs["seed"]) == winners[0] and
                    ("experiment.seed=%d" % winners[0]) in
                    str(f.attrs["command_line"]),
                    "%s: the file is not the winner's (seed %d)" % (what, winners[0]))
    C.check(not C.partials(tmp), "%s: partial files left: %s"
            % (what, C.partials(tmp)))


def force_targets(tmp, cfg):
    d = os.path.join(tmp, "force")
    os.mkdir(d)
    os.mkdir(os.path.join(d, "adir"))
    os.mkfifo(os.path.join(d, "fifo"))
    kinds = [("adir", "directory"), ("fifo", "FIFO"),
             ("cdev", "character device"),
             ("to_null", "link to a character device"),
             ("to_dir", "directory")]
    try:
        os.mknod(os.path.join(d, "cdev"), stat.S_IFCHR | 0o600,
                 os.makedev(1, 3))
    except PermissionError:  # only root makes device nodes
        C.note("not root: no device node case")
        kinds.remove(("cdev", "character device"))
    os.symlink("/dev/null", os.path.join(d, "to_null"))
    os.symlink("adir", os.path.join(d, "to_dir"))
    pt = os.path.join(d, "point.h5")
    C.simulate(cfg, pt, ranks=1, extra=["--sweep", "experiment.seed=1,2",
                                        "--sweep-point", "0"])
    for name, what in kinds:
        p = os.path.join(d, name)
        before = os.lstat(p)
        # every type through merge (no mpirun, the same check), two of them
        # through simulate at 1 and 2 ranks
        r = C.run_w2s(["merge", pt, "-o", p, "--force"], timeout=60)
        one_line("merge --force over %s" % name, r, 2, [p, what])
        for ranks in ((1, 2) if name in ("adir", "fifo") else ()):
            r = C.run_w2s(["simulate", cfg, "-o", p, "-q", "--force"],
                          ranks=ranks, timeout=60)
            one_line("--force over %s (%d ranks)" % (name, ranks), r, 2,
                     [p, what])
        after = os.lstat(p)
        C.check((before.st_mode, before.st_ino, before.st_rdev) ==
                (after.st_mode, after.st_ino, after.st_rdev),
                "--force changed %s" % name)
    C.check(os.listdir(os.path.join(d, "adir")) == [],
            "--force wrote into a directory")
    # what --force may replace: a regular file, a dangling link
    reg = C.write_file(os.path.join(d, "regular.h5"), "old\n")
    os.symlink("nowhere", os.path.join(d, "dangling"))
    for name in ("regular.h5", "dangling"):
        p = os.path.join(d, name)
        r = C.run_w2s(["simulate", cfg, "-o", p, "-q", "--force"], ranks=2,
                      timeout=60)
        C.check(r.returncode == 0 and not os.path.islink(p) and complete(p),
                "--force over %s: %s" % (name, r.describe()))
    C.check(os.path.isfile(reg), "regular file vanished")
    C.check(not C.partials(d), "force: partial files left: %s"
            % C.partials(d))


def make_features(path):
    import numpy as np
    rng = np.random.default_rng(5)
    S = rng.normal(size=(600, 6))
    with h5py.File(path, "w") as f:
        f["labels"] = S @ rng.normal(size=6)
        f["strong"] = S
        f["weak/a"] = S[:, :2] + rng.normal(size=(600, 2))


def inputs_as_outputs(tmp, cfg):
    d = os.path.join(tmp, "inputs")
    os.mkdir(d)
    os.mkdir(os.path.join(d, "sub"))
    feats = os.path.join(d, "f.h5")
    make_features(feats)
    os.link(feats, os.path.join(d, "hard.h5"))
    pts = C.sweep_points(d, cfg, "p%d.h5")
    conf = C.write_file(os.path.join(d, "c.ini"), open(cfg).read())
    saved = {p: digest(p) for p in [feats, conf] + pts}
    cases = [
        ("fit X -o X", 2, ["fit", feats, "-o", feats, "--force", "-q"]),
        ("fit X -o DIR/../X", 1,
         ["fit", feats, "-o", os.path.join(d, "sub", "..", "f.h5"), "--force",
          "-q"]),
        ("fit X -o hard link of X", 2,
         ["fit", feats, "-o", os.path.join(d, "hard.h5"), "--force", "-q"]),
        ("merge A B -o B", None, ["merge"] + pts + ["-o", pts[1], "--force"]),
        ("merge A B -o ./B", None,
         ["merge"] + pts + ["-o", os.path.join(d, ".", "p1.h5"), "--force"]),
        ("simulate C -o C", 2, ["simulate", conf, "-o", conf, "--force", "-q"]),
    ]
    for tag, ranks, args in cases:
        r = C.run_w2s(args, ranks=ranks, timeout=60)
        one_line(tag, r, 2, ["is the input"])
    for p, h in saved.items():
        C.check(digest(p) == h, "%s was modified" % p)
    C.check(not C.partials(d), "inputs: partial files left: %s"
            % C.partials(d))


def deep_dir(root, length):
    """A directory under root whose path has length - 8 characters, so that
    DIR/xxxx.h5 has `length`."""
    p = root
    while len(p) < length - 8 - 60:
        p = os.path.join(p, "d" * 50)
    p = os.path.join(p, "e" * (length - 8 - len(p) - 1))
    os.makedirs(p, exist_ok=True)
    return p


def all_files(root):
    return sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root)
                  for f in fs)


def long_paths(tmp, cfg):
    feats = os.path.join(tmp, "long-features.h5")
    make_features(feats)
    root = os.path.join(tmp, "long")
    os.mkdir(root)
    cases = []
    for n in (200, 240, 260, 300, 600):
        out = os.path.join(deep_dir(root, n), "x" * 4 + ".h5")
        assert len(out) == n, (len(out), n)
        cases.append(("%d-character path" % n, out))
    cases.append(("250-character file name",
                  os.path.join(root, "b" * 247 + ".h5")))
    for tag, out in cases:
        for ranks in (1, 2):
            cmd = "fit" if len(out) > 511 else "simulate"
            args = (["fit", feats, "-o", out, "-q"] if cmd == "fit" else
                    ["simulate", cfg, "-o", out, "-q"])
            r = C.run_w2s(args, ranks=ranks, timeout=120)
            lines = error_lines(r)
            C.note("%-28s %s at %d ranks: exit %s" % (tag, cmd, ranks,
                                                       r.returncode))
            if r.returncode == 0:
                C.check(complete(out), "%s: no complete file at the path" % tag)
                C.check(all_files(root) == [out],
                        "%s: files under other names: %s" % (tag, all_files(root)))
                os.unlink(out)
            else:
                C.check(r.returncode == 2 and len(lines) == 1 and
                        "Abort" not in r.stderr and "overflow" not in r.stderr,
                        "%s at %d ranks: neither written nor cleanly refused: "
                        "%s" % (tag, ranks, r.describe()))
            C.check(not all_files(root), "%s: files left: %s"
                    % (tag, all_files(root)))
    # refused before any work, one line
    out = os.path.join(root, "n" * 253 + ".h5")
    r = C.run_w2s(["simulate", cfg, "-o", out, "-q"], ranks=2, timeout=60)
    one_line("256-character file name", r, 2, ["256 characters"])
    out = os.path.join(deep_dir(root, 600), "xxxx.h5")
    r = C.run_w2s(["simulate", cfg, "-o", out, "-q"], ranks=2, timeout=60)
    one_line("600-character simulate -o", r, 2, ["too long"])
    C.check(not all_files(root), "long paths: files left: %s"
            % all_files(root))
    # fit's input is opened with MPI-IO: up to 244 characters it works,
    # beyond it is refused before anything is read
    for n, works in ((244, True), (245, False), (300, False)):
        src = os.path.join(deep_dir(os.path.join(tmp, "in%d" % n), n),
                           "feat.h5")
        assert len(src) == n, (len(src), n)
        make_features(src)
        for ranks in (1, 2):
            out = os.path.join(tmp, "fit-in%d.h5" % n)
            r = C.run_w2s(["fit", src, "-o", out, "-q"], ranks=ranks,
                          timeout=120)
            if works:
                C.check(r.returncode == 0 and complete(out),
                        "fit of a %d-character input: %s" % (n, r.describe()))
            else:
                one_line("fit of a %d-character input at %d ranks" % (n, ranks),
                         r, 2, [src, "MPI-IO"])
                C.check(not os.path.exists(out), "fit wrote %s" % out)
            if os.path.exists(out):
                os.unlink(out)


def signalled(tmp, cfg):
    for sig, ranks in ((signal.SIGTERM, 2), (signal.SIGINT, 1)):
        out = os.path.join(tmp, "signalled-%d.h5" % sig)
        env = dict(C.ENV, W2S_TEST_DELAY_PUBLISH_MS="20000")
        cmd = [C.MPIEXEC, "-q", "-n", str(ranks), C.W2S, "simulate", cfg,
               "-o", out, "-q"]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env,
                             start_new_session=True)
        t0 = time.monotonic()
        while not C.partials(tmp) and time.monotonic() - t0 < 60:
            time.sleep(0.05)
        C.check(C.partials(tmp), "signal %d: the temporary file never "
                "appeared" % sig)
        os.kill(p.pid, sig)  # mpirun itself
        try:
            _, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
            C.check(False, "signal %d: mpirun did not end" % sig)
        C.note("signal %d at %d ranks: mpirun exit %s after %.1fs" % (
            sig, ranks, p.returncode, time.monotonic() - t0))
        C.check(p.returncode != 0, "signal %d: mpirun exited 0" % sig)
        C.check(not os.path.exists(out), "signal %d: %s exists although the "
                "run reported failure" % (sig, out))
        C.check(not C.partials(tmp), "signal %d: partial files left: %s"
                % (sig, C.partials(tmp)))


def run_dir_points(tmp, cfg):
    """--run-dir: a point file that would be refused (it exists, no --resume
    or --force) is refused before the first point is computed."""
    run = os.path.join(tmp, "rundir")
    os.mkdir(run)
    taken = C.write_file(os.path.join(run, "point-00001.h5"), "precious\n")
    out = os.path.join(tmp, "rundir-merged.h5")
    r = C.run_w2s(["simulate", cfg, "-o", out, "-q", "--run-dir", run,
                   "--sweep", "experiment.seed=1,2"], ranks=2, timeout=60)
    one_line("--run-dir with a point file in the way", r, 2,
             [taken, "exists"])
    C.check(sorted(os.listdir(run)) == ["point-00001.h5"],
            "--run-dir computed points before refusing: %s"
            % sorted(os.listdir(run)))
    C.check(open(taken).read() == "precious\n", "the point file changed")
    C.check(not os.path.exists(out), "--run-dir wrote %s" % out)


def merge_ranks(tmp, cfg):
    pt = os.path.join(tmp, "mp0.h5")
    C.simulate(cfg, pt, ranks=1, extra=["--sweep", "experiment.seed=1,2",
                                        "--sweep-point", "0"])
    out = os.path.join(tmp, "merged-n2.h5")
    r = C.run_w2s(["merge", pt, "-o", out], ranks=2, timeout=60)
    one_line("merge under mpirun -n 2", r, 2, ["2 copies"])
    C.check(not os.path.exists(out), "merge under mpirun wrote %s" % out)


def main():
    with C.scratch("w2s-publish-") as tmp:
        cfg = C.write_config(tmp, tasks=4)
        race(tmp, cfg)
        shim = build_shim(tmp)
        # Under the sanitized build ASan insists on coming first among the
        # preloaded libraries; the shim only wraps renameat2 and link, so
        # its check is turned off for these runs.
        asan = os.environ.get("ASAN_OPTIONS")
        pre = {"LD_PRELOAD": shim}
        if asan is not None:
            pre["ASAN_OPTIONS"] = asan + ":verify_asan_link_order=0"
        race(tmp, cfg, pre, "race without RENAME_NOREPLACE")
        race(tmp, cfg, dict(pre, SHIM_NO_LINK="1"),
             "race without RENAME_NOREPLACE and hard links")
        force_targets(tmp, cfg)
        inputs_as_outputs(tmp, cfg)
        long_paths(tmp, cfg)
        signalled(tmp, cfg)
        run_dir_points(tmp, cfg)
        merge_ranks(tmp, cfg)


if __name__ == "__main__":
    C.main_guard(main, "test_io_publish")
