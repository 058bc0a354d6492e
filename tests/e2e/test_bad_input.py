#!/usr/bin/env python3
"""Bad input to `w2s simulate`, `w2s analyze`, `w2s merge`, `w2s fit` and
`w2s bench`, table-driven.

For every case:
- the exit status is the expected one (2: bad usage or bad input);
- stderr holds exactly one non-empty line, which starts with
  "w2s simulate: error: " / "w2s analyze: error: " and contains every
  expected substring (the file, file:line, key or dataset at fault);
- simulate cases run at 2 ranks under a timeout (a rank that waits forever
  for the other after a one-sided failure is a hang, killed and failed),
  with -q; a few again without -q, where progress lines ("[w2s 0.00s]
  config ...") are allowed but exactly one line may carry "error:";
- a message that lists the allowed values lists each once;
- a case may name stderr text that must not appear in either run (a bad
  sweep value is refused before the first point runs: no "sweep point
  1/N" progress line);
- no file appears at the output path and no OUT.h5.partial-* file is left
  in the output directory (an output that existed before is unchanged).
Open MPI's own "process exited with non-zero status" banner is suppressed
with mpirun -q (common.run_w2s), so stderr is what w2s printed.
"""
import os
import re
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402
import numpy as np  # noqa: E402

SIM_TIMEOUT = 60


def ini(**kw):
    return C.quick_config(tasks=3, n_weak_train=200, n_w2s_train=200,
                          n_test=200, **kw)


def with_line(text, after, line):
    """text with `line` inserted after the first line equal to `after`;
    returns (new text, 1-based number of the inserted line)."""
    lines = text.split("\n")
    i = lines.index(after)
    lines.insert(i + 1, line)
    return "\n".join(lines), i + 2


def simulate_cases(tmp):
    """One dict per case: name, INI text to write (None: config_path names
    the config, which may not exist), extra args, expected substrings of
    the message (a tuple: any of them), output path (None: TMP/NAME.h5),
    an optional extra check of the line, and whether to rerun without -q."""
    good = ini()
    cases = []

    def add(name, text, subs, args=(), cfgname=None, out=None,
            config_path=None, extra=None, verbose_too=False, prefix=(),
            lacks=()):
        cases.append({"name": name, "text": text, "args": list(args),
                      "subs": subs, "cfgname": cfgname or name + ".ini",
                      "out": out, "config_path": config_path,
                      "extra": extra, "verbose_too": verbose_too,
                      "prefix": list(prefix), "lacks": list(lacks)})

    def line_of(text, line):
        return text.split("\n").index(line) + 1

    add("missing_config", None, ["nope.ini", "cannot read config"],
        config_path=os.path.join(tmp, "nope.ini"))
    d = os.path.join(tmp, "confdir.ini")
    os.mkdir(d)
    # chmod 000 would not stop root from reading; a directory cannot be read
    add("config_is_directory", None, ["confdir.ini", "cannot read"],
        config_path=d)
    add("empty_config", "", ["empty_config.ini", "no weak model"])
    t, n = with_line(good, "[data]", "this line is not ini")
    add("syntax_error", t, ["syntax_error.ini:%d" % n, "syntax error"])
    t, n = with_line(good, "[fit]", "[bogus]\nkey = 1")
    # the header's line or its first key's line both name the place
    add("unknown_section", t, [("unknown_section.ini:%d" % n,
                                "unknown_section.ini:%d" % (n + 1)),
                               "[bogus]"])
    t, n = with_line(good, "[data]", "n_tset = 100")
    add("unknown_key", t, ["unknown_key.ini:%d" % n, "n_tset"],
        verbose_too=True)
    t, n = with_line(good, "[weak.random2]", "perturb_scale = 0.1")
    add("key_of_other_source", t, ["key_of_other_source.ini:%d" % n,
                                   "perturb_scale", "random"])
    add("key_outside_section", "tasks = 3\n" + good,
        ["key_outside_section.ini:1", "tasks", "outside any [section]"])
    t, n = with_line(good.replace("tasks = 3\n", ""), "[experiment]",
                     "tasks = many")
    add("wrong_type_int", t, ["wrong_type_int.ini:%d" % n,
                              "experiment.tasks", "many"])
    t = good.replace("intercept = true", "intercept = maybe")
    add("wrong_type_bool", t, ["wrong_type_bool.ini", "fit.intercept",
                               "maybe"])
    t = good.replace("ridge = 0", "ridge = 0\nrank_tol = 2")
    add("out_of_range", t, ["out_of_range.ini", "fit.rank_tol",
                            "out of range"])
    t = good.replace("n_test = 200", "n_test = -5")
    add("negative_samples", t, ["negative_samples.ini", "data.n_test",
                                "-5"])
    t = good.replace("n_weak_train = 200", "n_weak_train = 10")
    add("fewer_samples_than_parameters", t,
        ["fewer_samples_than_parameters.ini", "n_weak_train", "10", "17"],
        verbose_too=True)
    t = good.replace("n_w2s_train = 200", "n_w2s_train = 16")
    add("fewer_w2s_samples_than_parameters", t,
        ["fewer_w2s_samples_than_parameters.ini", "n_w2s_train", "16",
         "17"])
    t, n = with_line(good, "source = target", "depth = 3")
    add("depth_with_target", t, ["depth_with_target.ini:%d" % n,
                                 "strong.depth", "target"])
    t = good.replace("source = random", "source = magic")
    add("unknown_source", t, ["unknown_source.ini", "weak.random2.source",
                              "magic"])
    t = good.replace("solver = auto", "solver = fastest")
    add("unknown_solver", t, ["unknown_solver.ini", "fit.solver",
                              "fastest"], extra=choices_listed_once)
    t = good.replace("[weak.random2]", "[weak.bad name!]")
    add("bad_weak_name", t, ["bad_weak_name.ini", "weak.bad name!"])
    add("set_without_equals", good, ["--set", "data.n_test100"],
        args=["--set", "data.n_test100"])
    add("set_without_section", good, ["--set", "n_test=100"],
        args=["--set", "n_test=100"])
    add("set_unknown_key", good, ["--set data.n_tset=5", "n_tset"],
        args=["--set", "data.n_tset=5"])
    add("set_out_of_range", good, ["--set experiment.tasks=0",
                                   "experiment.tasks"],
        args=["--set", "experiment.tasks=0"])
    add("unknown_option", good, ["--frobnicate"], args=["--frobnicate"])
    add("output_dir_missing", good, ["nodir", "does not exist"],
        out=os.path.join(tmp, "nodir", "out.h5"), verbose_too=True)
    add("output_is_directory", good, ["outdir", "directory"],
        out=os.path.join(tmp, "outdir"))
    add("output_dir_read_only", good, ["readonly", "not writable"],
        out=os.path.join(tmp, "readonly", "out.h5"), prefix=C.as_nobody())
    # A key or section given twice, and inih's indented continuation line:
    # the last value used to win silently.
    t, first = with_line(good, "[data]", "n_test = 300")
    add("duplicate_key", t, ["duplicate_key.ini:%d" % line_of(t, "n_test = 200"),
                             "'n_test'", "[data]", "twice",
                             "(first at", "duplicate_key.ini:%d)" % first])
    t = good + "\n[data]\nn_test = 300\n"
    n = len(t.split("\n")) - 2  # the second [data]
    add("duplicate_section", t, ["duplicate_section.ini:%d" % n, "[data]",
                                 "twice"])
    t, n = with_line(good, "n_test = 200", "    300")
    add("continuation_line", t, ["continuation_line.ini:%d" % n,
                                 "indented"])
    # Sweeps: an empty item, a value twice (as numbers), a bad value named
    # by its --sweep option or [sweep] line, refused before any point runs.
    add("sweep_empty_item", good, ["--sweep data.n_test=100,,200", "empty"],
        args=["--sweep", "data.n_test=100,,200"])
    add("sweep_duplicate_value", good, ["--sweep data.n_test=100,1e2",
                                        "'100'", "'1e2'", "twice"],
        args=["--sweep", "data.n_test=100,1e2"])
    add("sweep_duplicate_bool", good, ["--sweep fit.intercept=true,YES",
                                       "'true'", "'YES'", "twice"],
        args=["--sweep", "fit.intercept=true,YES"])
    add("sweep_bad_value", good, ["--sweep data.n_test:",
                                  "data.n_test", "'abc'"],
        args=["--sweep", "data.n_test=200,abc"], verbose_too=True,
        lacks=["--set", "sweep point 1/"])
    t = good + "\n[sweep]\ndata.n_test = 200, 300, -4\n"
    n = len(t.split("\n")) - 1
    add("sweep_bad_value_in_file", t, ["sweep_bad_value_in_file.ini:%d" % n,
                                       "[sweep]", "data.n_test", "-4"],
        verbose_too=True, lacks=["--set", "sweep point 1/"])
    # A point with fewer samples than a head's parameters: refused before
    # point 0 runs, naming the point's setting.
    add("sweep_too_few_samples", good, ["sweep point 1",
                                        "data.n_weak_train=10",
                                        "parameters"],
        args=["--sweep", "data.n_weak_train=200,10"], verbose_too=True,
        lacks=["sweep point 1/"])
    t = good.replace("ridge = 0", "ridge = nan")
    add("nan_value", t, ["nan_value.ini", "fit.ridge", "nan"])
    t = good.replace("input_scale = 500", "input_scale = inf")
    add("inf_value", t, ["inf_value.ini", "data.input_scale", "inf"])
    # Features whose squares overflow (x ~ 1e300): both engines refuse
    # with one line instead of writing inf/NaN metrics (the factor engine's
    # TSQR stays finite, its norms do not).
    for engine in ("factor", "direct"):
        add("overflow_" + engine, good, ["overflow", "double range"],
            args=["--set", "data.input_scale=1e300",
                  "--set", "fit.engine=" + engine])
    # Shapes whose weights or fits exceed any node's memory (and whose
    # element counts overflow 32-bit indices): refused before allocating.
    add("huge_network", good, ["huge_network.ini", "[target]",
                               "width = 100000", "GiB"],
        args=["--set", "target.width=100000", "--set", "target.depth=1000"])
    add("huge_tasks", good, ["huge_tasks.ini", "10000000 tasks", "GiB"],
        args=["--set", "experiment.tasks=10000000",
              "--set", "target.width=100000"])
    add("huge_weak_network", good, ["huge_weak_network.ini",
                                    "[weak.random2]", "GiB"],
        args=["--set", "weak.random2.width=100000",
              "--set", "weak.random2.depth=300"])
    return cases


def choices_listed_once(line):
    """'must be one of a|b|c': every choice once."""
    m = re.search(r"must be one of (\S+)", line)
    if not m:
        return False, "no 'must be one of' list"
    words = m.group(1).rstrip(",").split("|")
    dup = sorted({w for w in words if words.count(w) > 1})
    return not dup, "choices listed more than once: %s" % dup


def check_error_output(tag, r, cmd, subs, code=2):
    check(not r.timed_out, "%s: hang" % tag)
    check(r.returncode == code, "%s: exit %s, want %d; stderr %r"
          % (tag, r.returncode, code, r.stderr[-400:]))
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    if not check(len(lines) == 1, "%s: want exactly one stderr line, got "
                 "%d: %r" % (tag, len(lines), lines[:6])):
        lines = [ln for ln in lines if "error:" in ln] or lines or [""]
    line = lines[0]
    check(line.startswith("w2s %s: error: " % cmd),
          "%s: stderr line does not start with 'w2s %s: error: ': %r"
          % (tag, cmd, line))
    for s in subs:  # a tuple: any one of its strings
        alts = s if isinstance(s, tuple) else (s,)
        check(any(a in line for a in alts), "%s: message lacks %s: %r"
              % (tag, " or ".join(repr(a) for a in alts), line))
    return line


def run_simulate_case(tmp, c):
    if c["config_path"]:
        cfg = c["config_path"]
    else:
        cfg = C.write_file(os.path.join(tmp, c["cfgname"]), c["text"])
    out = c["out"] or os.path.join(tmp, c["name"] + ".h5")
    outdir = os.path.dirname(out)
    for quiet in (True, False) if c["verbose_too"] else (True,):
        args = ["simulate", cfg, "-o", out] + c["args"] + (
            ["-q"] if quiet else [])
        r = C.run_w2s(args, ranks=2, timeout=SIM_TIMEOUT,
                      prefix=c["prefix"])
        tag = "simulate %s%s" % (c["name"], "" if quiet else " (no -q)")
        if quiet:
            line = check_error_output(tag, r, "simulate", c["subs"])
            if c["extra"]:
                ok, why = c["extra"](line)
                check(ok, "%s: %s: %r" % (tag, why, line))
            C.note("%-36s exit %s %.1fs  %s" % (c["name"], r.returncode,
                                                r.seconds, line))
        for bad in c["lacks"]:
            check(bad not in r.stderr, "%s: stderr has %r: %r"
                  % (tag, bad, r.stderr[-400:]))
        if not quiet:
            errs = [ln for ln in r.stderr.splitlines() if "error:" in ln]
            check(r.returncode == 2 and len(errs) == 1,
                  "%s: exit %s, %d error lines: %r" % (
                      tag, r.returncode, len(errs), r.stderr[-400:]))
        if c["name"] != "output_is_directory":
            check(not os.path.exists(out), "%s: %s exists after the "
                  "failure" % (tag, out))
        if os.path.isdir(outdir):
            check(not C.partials(outdir), "%s: partial files left: %s"
                  % (tag, C.partials(outdir)))


def run_existing_output(tmp):
    """An existing output is refused without --force and left unchanged;
    with --force the run replaces it."""
    cfg = C.write_file(os.path.join(tmp, "exists.ini"), ini())
    out = os.path.join(tmp, "exists.h5")
    C.write_file(out, "precious, not to be overwritten\n")
    r = C.run_w2s(["simulate", cfg, "-o", out, "-q"], ranks=2,
                  timeout=SIM_TIMEOUT)
    line = check_error_output("simulate existing_output", r, "simulate",
                              ["exists.h5", "--force"])
    C.note("%-36s exit %s %.1fs  %s" % ("existing_output", r.returncode,
                                        r.seconds, line))
    with open(out) as fh:
        check(fh.read() == "precious, not to be overwritten\n",
              "existing output was modified without --force")
    check(not C.partials(tmp), "existing_output: partial files left: %s"
          % C.partials(tmp))
    r = C.run_w2s(["simulate", cfg, "-o", out, "-q", "--force"], ranks=2,
                  timeout=SIM_TIMEOUT)
    check(r.returncode == 0, "--force over an existing output: "
          + r.describe())
    check(h5py.is_hdf5(out), "--force did not replace the file with results")
    check(not C.partials(tmp), "--force: partial files left: %s"
          % C.partials(tmp))
    return out


def analyze_cases(tmp, good):
    cases = []

    def add(name, path, subs, args=(), code=2):
        cases.append((name, path, list(args), subs, code))

    add("missing_file", os.path.join(tmp, "missing.h5"),
        ["missing.h5", "cannot open"])
    p = C.write_file(os.path.join(tmp, "text.h5"), "not hdf5 at all\n" * 50)
    add("not_hdf5", p, ["text.h5", "not an HDF5 file"])
    d = os.path.join(tmp, "dir.h5")
    os.mkdir(d)
    add("directory", d, ["dir.h5"])
    p = os.path.join(tmp, "truncated.h5")
    shutil.copy(good, p)
    with open(p, "r+b") as fh:
        fh.truncate(os.path.getsize(good) // 2)
    add("truncated", p, ["truncated.h5"])
    p = os.path.join(tmp, "foreign.h5")
    with h5py.File(p, "w") as f:
        f["data"] = np.arange(10.0)
        f.attrs["creator"] = "someone else"
    add("hdf5_not_results", p, ["foreign.h5", "format"])
    p = os.path.join(tmp, "other_format.h5")
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "something-else"
    add("other_format_attr", p, ["other_format.h5", "something-else"])
    p = os.path.join(tmp, "v4.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = np.int64(4)
    add("format_version_4", p, ["v4.h5", "format_version 4"])
    p = os.path.join(tmp, "v1.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = np.int64(1)
    add("format_version_1", p, ["v1.h5", "format_version 1", "older files"])
    p = os.path.join(tmp, "nogain.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        del f["metrics/gain"]
    add("gain_deleted", p, ["nogain.h5", "/metrics/gain"])
    p = os.path.join(tmp, "shortgain.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        g = f["metrics/gain"][()]
        del f["metrics/gain"]
        f["metrics/gain"] = g[:-1]
    add("gain_wrong_length", p, ["shortgain.h5", "/metrics/gain"])
    p = os.path.join(tmp, "intgain.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        n = f["metrics/gain"].shape[0]
        del f["metrics/gain"]
        f["metrics/gain"] = np.arange(n, dtype=np.int64)
    add("gain_wrong_type", p, ["intgain.h5", "/metrics/gain"])
    p = os.path.join(tmp, "bigtask.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        t = f["metrics/task"][()]
        t[-1] = np.iinfo(np.int64).max  # found by fuzz_results: an overflow
        f["metrics/task"][...] = t
    add("task_out_of_range", p, ["bigtask.h5", "/metrics/task", "outside"])
    p = os.path.join(tmp, "hugetask.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        del f["metrics/task"]
        f.create_dataset("metrics/task", shape=(2**40,), dtype="i8",
                         chunks=(4096,))
    add("task_huge_unwritten", p, ["hugetask.h5", "/metrics/task",
                                   "not written"])
    for tag, value in (("string", "1"), ("float", 1.5),
                       ("array", np.array([1, 1], dtype=np.int64))):
        p = os.path.join(tmp, "version_%s.h5" % tag)
        shutil.copy(good, p)
        with h5py.File(p, "r+") as f:
            f.attrs["format_version"] = value
        add("format_version_" + tag, p, ["version_%s.h5" % tag,
                                         "format_version", "not an integer"])
    add("format_bogus", good, ["--format", "bogus"],
        args=["--format", "bogus"])
    add("unknown_option", good, ["--frobnicate"], args=["--frobnicate"])
    add("no_file", None, ["no results file"])
    return cases


def fit_cases(tmp):
    """Bad features files and options of `w2s fit`: (name, features path,
    extra args, expected substrings, command prefix). Files are written
    with h5py here."""
    cases = []
    n = 100
    rng = np.random.default_rng(3)

    def good(f):
        f["labels"] = rng.normal(size=n)
        f["strong"] = rng.normal(size=(n, 4))
        f["weak/a"] = rng.normal(size=(n, 2))

    def add(name, build, subs, args=(), prefix=()):
        p = os.path.join(tmp, "fit_" + name + ".h5")
        if build is not None:
            with h5py.File(p, "w") as f:
                build(f)
        cases.append((name, p, list(args), subs, list(prefix)))

    def without(key):
        return lambda f: (good(f), f.__delitem__(key))

    def with_(key, data):
        def b(f):
            good(f)
            if key in f:
                del f[key]
            f[key] = data
        return b

    def declared(key, shape, write=None):
        """`key` declared with a chunked shape; nothing (or only `write`, an
        index) written: its storage is (partly) unallocated."""
        def b(f):
            good(f)
            if key in f:
                del f[key]
            d = f.create_dataset(key, shape=shape, dtype="f8",
                                 chunks=tuple(min(s, 64) for s in shape))
            if write is not None:
                d[write] = 1.0
        return b

    add("missing", None, ["fit_missing.h5", "no such file"])
    C.write_file(os.path.join(tmp, "fit_text.h5"), "not hdf5\n")
    add("text", None, ["fit_text.h5", "not an HDF5 file"])
    add("empty", None, ["fit_empty.h5", "not an HDF5 file"])
    C.write_file(os.path.join(tmp, "fit_empty.h5"), "")
    add("nolabels", without("labels"), ["/labels", "missing"])
    add("nostrong", without("strong"), ["/strong", "missing"])
    add("noweak", without("weak"), ["no weak model"])
    add("emptyweak", lambda f: (good(f), f.__delitem__("weak/a")),
        ["/weak", "empty"])
    add("rows", with_("strong", rng.normal(size=(n + 1, 4))),
        ["/strong", "101 rows"])
    add("rank", with_("strong", rng.normal(size=n)), ["/strong", "2-D"])
    # Integer labels are class ids (a class loss): 1-D only, and not for
    # the squared loss.
    add("int_labels_2d", with_("labels", np.arange(2 * n).reshape(n, 2)),
        ["/labels", "1-D class ids"])
    add("int_labels_squared", with_("labels", np.arange(n) % 3),
        ["/labels", "class ids", "--loss squared"], args=["--loss", "squared"])
    add("string_labels", with_("labels", np.array([b"x"] * n)),
        ["/labels", "floating-point"])
    add("bad_weak_name", with_("weak/a b", rng.normal(size=(n, 2))),
        ["/weak/a b", "names"])
    nan = rng.normal(size=(n, 4))
    nan[37, 2] = np.nan
    add("nan", with_("strong", nan), ["fit_nan.h5", "'/strong'", "row 37"])
    inf = rng.normal(size=n)
    inf[81] = np.inf
    add("inf", with_("labels", inf), ["fit_inf.h5", "'/labels'", "row 81"])
    # The weak dataset with the first bad row is named in full.
    def weak_nan(f):
        good(f)
        a = f["weak/a"][()]
        a[70, 0] = np.nan
        del f["weak/a"]
        f["weak/a"] = a
        b = rng.normal(size=(n, 3))
        b[12, 2] = np.inf
        f["weak/b"] = b
    add("weak_nan", weak_nan, ["fit_weak_nan.h5", "'/weak/b'", "row 12"])
    pred = rng.normal(size=n)
    pred[5] = np.nan
    add("prediction_nan", with_("weak_predictions/p", pred),
        ["fit_prediction_nan.h5", "'/weak_predictions/p'", "row 5"])
    add("zero_rows", lambda f: (
        f.create_dataset("labels", shape=(0,), dtype="f8"),
        f.create_dataset("strong", shape=(0, 4), dtype="f8"),
        f.create_dataset("weak/a", shape=(0, 2), dtype="f8")),
        ["/labels", "no rows"])
    add("split_value", with_("split", np.full(n, 3, dtype=np.int8)),
        ["/split"])
    add("few_rows", good, ["parameters"], ["--split", "0.02,0.9,0.08"])
    add("split_sum", good, ["--split", "sum"], ["--split", "0.5,0.5,0.5"])
    add("split_nan", good, ["--split nan,0.5,0.5"], ["--split", "nan,0.5,0.5"])
    add("split_inf", good, ["--split inf,-inf,0"], ["--split", "inf,-inf,0"])
    # A split without rows fits all-zero heads with a ridge: refused too.
    add("split0_empty_ridge", good, ["split 0", "no rows"],
        ["--split", "0,0.5,0.5", "--ridge", "0.1"])
    add("split1_empty_ridge", good, ["split 1", "no rows"],
        ["--split", "0.5,0,0.5", "--ridge", "0.1,1"])
    add("ridge_no_held_out_rows", good, ["split 0", "held out", "--ridge"],
        ["--split", "0.01,0.5,0.49", "--ridge", "0.1,1"])
    add("seed_huge", good, ["--seed 1e30"], ["--seed", "1e30"])
    add("seed_fraction", good, ["--seed 1.5"], ["--seed", "1.5"])
    add("output_trailing_slash", good, ["fit_newdir/", "directory"],
        ["-o", os.path.join(tmp, "fit_newdir") + "/"])
    add("output_existing_directory", good, ["outdir", "directory"],
        ["-o", os.path.join(tmp, "outdir")])
    add("repeats_zero", good, ["--repeats"], ["--repeats", "0"])
    add("ridge_negative", good, ["--ridge"], ["--ridge", "-1"])
    add("unknown_option", good, ["--frobnicate"], ["--frobnicate"])
    # Huge declared shapes: 2^31 + 5 columns (beyond 32-bit indices) or
    # 2^33 rows, with (almost) nothing written; and a fully written file
    # whose 120000 columns would need far more memory than any node.
    add("huge_columns", declared("strong", (n, 2**31 + 5), (slice(None),
                                                          slice(0, 64))),
        ["/strong", "partly written"])
    add("huge_rows", lambda f: (
        f.create_dataset("labels", shape=(2**33,), dtype="f8",
                         chunks=(4096,)),
        f.create_dataset("strong", shape=(2**33, 4), dtype="f8",
                         chunks=(4096, 4)),
        f.create_dataset("weak/a", shape=(2**33, 2), dtype="f8",
                         chunks=(4096, 2))),
        ["/labels", "not written"])
    # One declared chunk of 512 MiB (an extendible dataset may have chunks
    # larger than its extent): refused before HDF5 allocates it.
    add("giant_chunks", lambda f: (
        good(f), f.__delitem__("strong"),
        f.create_dataset("strong", shape=(n, 4), maxshape=(None, None),
                         dtype="f8", chunks=(256, 2**18))),
        ["/strong", "chunks of 512 MiB"])
    add("wide_in_memory", with_("strong", np.ones((n, 120000), np.float16)),
        ["/strong", "120000 columns", "GiB"])
    # Output problems.
    add("output_dir_read_only", good, ["readonly", "not writable"],
        ["-o", os.path.join(tmp, "readonly", "fit.h5")], C.as_nobody())
    add("output_dir_missing", good, ["nodir", "does not exist"],
        ["-o", os.path.join(tmp, "nodir", "fit.h5")])
    return cases


def run_fit_case(tmp, name, path, args, subs, prefix):
    out = os.path.join(tmp, "fit_%s-out.h5" % name)
    if "-o" not in args:
        args = ["-o", out] + args
    else:
        out = args[args.index("-o") + 1]
    r = C.run_w2s(["fit", path, "-q"] + args, ranks=2, timeout=SIM_TIMEOUT,
                  prefix=prefix)
    line = check_error_output("fit " + name, r, "fit", subs)
    C.note("%-36s exit %s %.1fs  %s" % ("fit " + name, r.returncode,
                                        r.seconds, line))
    if name != "output_existing_directory":
        check(not os.path.exists(out), "fit %s: %s exists after the failure"
              % (name, out))
    else:
        check(os.listdir(out) == [], "fit %s: files written into %s"
              % (name, out))
    d = os.path.dirname(out)
    if os.path.isdir(d):
        check(not C.partials(d), "fit %s: partial files left: %s"
              % (name, C.partials(d)))


def bench_cases():
    """Options of `w2s bench`: (name, args, expected substrings)."""
    return [
        ("solvers_empty", ["--solvers", ""], ["--solvers", "empty"]),
        ("solvers_empty_item", ["--solvers", "tsqr,,normal"],
         ["--solvers", "empty"]),
        ("solvers_unknown", ["--solvers", "tsqr,fast"], ["--solvers", "fast"]),
        ("rows_fraction", ["--rows", "1000.5"], ["--rows", "integer"]),
        ("cols_fraction", ["--cols", "2.5"], ["--cols", "integer"]),
        ("repeat_fraction", ["--repeat", "1.5"], ["--repeat", "integer"]),
        ("block_fraction", ["--block", "100.25"], ["--block", "integer"]),
        ("seed_huge", ["--seed", "1e30"], ["--seed"]),
    ]


def merge_cases(tmp, good):
    """`w2s merge` of a file whose format_version is not an integer."""
    p = os.path.join(tmp, "merge_version.h5")
    shutil.copy(good, p)
    with h5py.File(p, "r+") as f:
        f.attrs["format_version"] = "1"
    out = os.path.join(tmp, "merged.h5")
    r = C.run_w2s(["merge", good, p, "-o", out], timeout=60)
    line = check_error_output("merge format_version_string", r, "merge",
                              ["merge_version.h5", "format_version",
                               "not an integer"])
    C.note("%-36s exit %s %.1fs  %s" % ("merge format_version_string",
                                        r.returncode, r.seconds, line))
    check(not os.path.exists(out), "merge: %s written after the failure" % out)
    return 1


def run_fit_existing(tmp):
    """fit refuses an existing output without --force, leaving it as it
    was."""
    p = os.path.join(tmp, "fit_exists.h5")
    r = np.random.default_rng(5)
    with h5py.File(p, "w") as f:
        f["labels"] = r.normal(size=200)
        f["strong"] = r.normal(size=(200, 3))
        f["weak/a"] = r.normal(size=(200, 2))
    out = C.write_file(os.path.join(tmp, "fit_exists-out.h5"), "precious\n")
    res = C.run_w2s(["fit", p, "-o", out, "-q"], ranks=2, timeout=SIM_TIMEOUT)
    line = check_error_output("fit existing_output", res, "fit",
                              ["fit_exists-out.h5", "--force"])
    C.note("%-36s exit %s %.1fs  %s" % ("fit existing_output",
                                        res.returncode, res.seconds, line))
    with open(out) as fh:
        check(fh.read() == "precious\n", "fit overwrote an existing output")


def main():
    with C.scratch("w2s-bad-input-") as tmp:
        os.mkdir(os.path.join(tmp, "outdir"))
        # A directory no one but root may write to; the cases that write
        # there run as user nobody, who must be able to reach the configs.
        os.mkdir(os.path.join(tmp, "readonly"), 0o555)
        os.chmod(os.path.join(tmp, "readonly"), 0o555)
        os.chmod(tmp, 0o755)
        sim = simulate_cases(tmp)
        for c in sim:
            run_simulate_case(tmp, c)
        good = run_existing_output(tmp)
        if not os.path.isfile(good):
            check(False, "no good results file for the analyze cases")
            return
        r = C.run_w2s(["analyze", good, "--summary"])
        check(r.returncode == 0, "analyze of the good file: " + r.describe())
        ana = analyze_cases(tmp, good)
        for name, path, args, subs, code in ana:
            before = sorted(os.listdir(tmp))
            r = C.run_w2s(["analyze"] + ([path] if path else []) + args,
                          timeout=60)
            line = check_error_output("analyze " + name, r, "analyze", subs,
                                      code)
            C.note("%-36s exit %s %.1fs  %s" % ("analyze " + name,
                                                r.returncode, r.seconds,
                                                line))
            check(r.stdout == "", "analyze %s: printed on stdout: %r"
                  % (name, r.stdout[:200]))
            check(sorted(os.listdir(tmp)) == before,
                  "analyze %s: created or removed files" % name)
        fit = fit_cases(tmp)
        for name, path, args, subs, prefix in fit:
            run_fit_case(tmp, name, path, args, subs, prefix)
        run_fit_existing(tmp)
        bench = bench_cases()
        for name, args, subs in bench:
            r = C.run_w2s(["bench"] + args, ranks=2, timeout=SIM_TIMEOUT)
            line = check_error_output("bench " + name, r, "bench", subs)
            C.note("%-36s exit %s %.1fs  %s" % ("bench " + name,
                                                r.returncode, r.seconds,
                                                line))
            check(r.stdout == "", "bench %s: printed on stdout: %r"
                  % (name, r.stdout[:200]))
        nmerge = merge_cases(tmp, good)
        n = len(sim) + 1 + len(ana) + len(fit) + 1 + len(bench) + nmerge
        C.note("%d bad-input cases (%d simulate, %d analyze, %d fit, %d "
               "bench, %d merge)" % (n, len(sim) + 1, len(ana), len(fit) + 1,
                                     len(bench), nmerge))
        check(n >= 30, "fewer than 30 cases")
        # the config directory keeps its mode (nothing chmod'ed)
        check(stat.S_ISDIR(os.stat(os.path.join(tmp, "confdir.ini")).st_mode),
              "confdir.ini is not a directory any more")


if __name__ == "__main__":
    C.main_guard(main, "test_bad_input")
