"""Shared helpers of the end-to-end scripts (tests/e2e/test_*.py).

- Paths come from the environment ctest sets (tests/CMakeLists.txt):
  W2S (the w2s binary), W2S_SOURCE_DIR (the repository), MPIEXEC (mpirun);
  outside ctest they fall back to /work/main/build/w2s, /work/main, mpirun.
- run_w2s() runs one w2s command, under mpirun when `ranks` is given, with a
  hard timeout: a hang is killed (the whole process group, so no rank is left
  behind) and recorded as a failure.
- quick_config() writes a small experiment (few tasks, few samples) that runs
  in well under 2 s.
- check()/finish(): every script records failures, prints each one as it
  happens and exits non-zero at the end if any was recorded.
"""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
W2S = os.environ.get("W2S") or "/work/main/build/w2s"
SRC = os.environ.get("W2S_SOURCE_DIR") or "/work/main"
MPIEXEC = os.environ.get("MPIEXEC") or "mpirun"

# What scripts/env.sh sets; ctest sets them too, this covers a manual run.
_ENV_DEFAULTS = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMPI_MCA_rmaps_base_oversubscribe": "1",
    "OMPI_MCA_btl_base_warn_component_unused": "0",
    "HDF5_USE_FILE_LOCKING": "FALSE",
}
if hasattr(os, "geteuid") and os.geteuid() == 0:
    _ENV_DEFAULTS.update({"OMPI_ALLOW_RUN_AS_ROOT": "1",
                          "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"})
ENV = dict(os.environ)
for _k, _v in _ENV_DEFAULTS.items():
    ENV.setdefault(_k, _v)

# The metrics of /metrics (docs/FORMAT.md), in the writer's order.
FLOAT_METRICS = [
    "weak_error", "w2s_error", "misfit", "gain", "strong_ceiling_error", "pgr",
    "predicted_w2s_error", "weak_error_train", "w2s_error_train",
    "misfit_train", "gain_train", "strong_ceiling_error_train",
]
# The classification metrics: held by files whose /metrics loss is "kl"
# (softmax heads), after FLOAT_METRICS in the table.
CLASS_METRICS = ["weak_accuracy", "w2s_accuracy", "ceiling_accuracy",
                 "pgr_accuracy"]
TIMERS = ["setup", "weak_fit", "strong_fit", "train_metrics", "test_metrics",
          "total"]

failures = []


def check(cond, what):
    """Record a failure (and print it at once) unless cond holds."""
    if not cond:
        failures.append(what)
        print("FAIL:", what, flush=True)
    return bool(cond)


def note(msg):
    print(msg, flush=True)


def finish(name):
    print("%s: %d failure%s" % (name, len(failures),
                                "" if len(failures) == 1 else "s"), flush=True)
    for f in failures:
        print("  -", f)
    return 1 if failures else 0


_openmpi = None


def _is_open_mpi():
    """Open MPI's mpirun prints its own multi-line banner when a rank exits
    non-zero; its -q flag suppresses that so that stderr holds what w2s
    printed and nothing else."""
    global _openmpi
    if _openmpi is None:
        try:
            r = subprocess.run([MPIEXEC, "--version"], capture_output=True,
                               text=True, timeout=30, env=ENV)
            text = r.stdout + r.stderr
            # mpirun says "Open MPI", mpiexec "OpenRTE"; both link the site
            _openmpi = any(w in text for w in ("Open MPI", "OpenRTE",
                                                "open-mpi.org"))
        except (OSError, subprocess.TimeoutExpired):
            _openmpi = False
    return _openmpi


class Result:
    def __init__(self, cmd, returncode, stdout, stderr, seconds, timed_out):
        self.cmd, self.returncode = cmd, returncode
        self.stdout, self.stderr = stdout, stderr
        self.seconds, self.timed_out = seconds, timed_out

    def describe(self):
        return "%s -> exit %s%s in %.1fs; stderr: %s" % (
            " ".join(self.cmd), self.returncode,
            " (TIMED OUT)" if self.timed_out else "", self.seconds,
            self.stderr.strip()[-600:])


def run_cmd(cmd, timeout=120, cwd=None):
    """Run cmd in its own process group; on timeout kill the group (mpirun and
    every rank), record a failure and return a Result with timed_out set."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=cwd, env=ENV, start_new_session=True)
    timed_out = False
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
    res = Result(cmd, p.returncode, out, err, time.monotonic() - t0, timed_out)
    if timed_out:
        check(False, "hang: killed after %ss: %s" % (timeout, " ".join(cmd)))
    return res


def run_w2s(args, ranks=None, timeout=120, cwd=None, prefix=()):
    """w2s ARGS, under `MPIEXEC -n ranks --oversubscribe` when ranks is given
    (w2s simulate), directly otherwise (w2s analyze needs no MPI launch);
    `prefix` goes before everything (e.g. as_nobody())."""
    if ranks:
        cmd = [MPIEXEC] + (["-q"] if _is_open_mpi() else []) + [
            "-n", str(ranks), "--oversubscribe", W2S] + list(args)
    else:
        cmd = [W2S] + list(args)
    cmd = list(prefix) + cmd
    return run_cmd(cmd, timeout=timeout, cwd=cwd)


def as_nobody():
    """A command prefix that drops root to user nobody (root ignores file
    modes, so a read-only directory is only read-only to another user);
    empty when not root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            "env", "HOME=/tmp"]


def simulate(config, out, ranks=2, sets=(), extra=(), timeout=120):
    """w2s simulate CONFIG -o OUT -q [--set ...]; records a failure unless it
    exits 0 and OUT exists. Returns the Result."""
    args = ["simulate", config, "-o", out, "-q"]
    for s in sets:
        args += ["--set", s]
    r = run_w2s(args + list(extra), ranks=ranks, timeout=timeout)
    check(r.returncode == 0 and os.path.isfile(out),
          "simulate failed: " + r.describe())
    return r


def sweep_points(directory, config, name="point%d.h5"):
    """Points 0 and 1 of a 2-point sweep over experiment.seed, each a
    1-rank `w2s simulate --sweep-point` file in directory: inputs for
    `w2s merge`. Returns their paths."""
    paths = []
    for p in (0, 1):
        pt = os.path.join(directory, name % p)
        simulate(config, pt, ranks=1, extra=["--sweep", "experiment.seed=1,2",
                                              "--sweep-point", str(p)])
        paths.append(pt)
    return paths


def default_weak():
    return {
        "perturb_small": {"source": "perturb", "perturb_scale": "0.05"},
        "perturb_large": {"source": "perturb", "perturb_scale": "0.3"},
        "random2": {"source": "random", "depth": "2", "width": "16"},
    }


def quick_config(tasks=8, n_weak_train=300, n_w2s_train=400, n_test=500,
                 seed=7, strong=None, weak=None, experiment=None, data=None,
                 target=None, fit=None):
    """INI text of a small realizable experiment (strong = h*, three weak
    models) that takes well under 2 s on 2 ranks. Every argument overrides
    its part: strong/fit/... are dicts of key -> value, weak an ordered dict
    of NAME -> {key: value}."""
    exp = {"seed": str(seed), "tasks": str(tasks)}
    exp.update(experiment or {})
    dat = {"input_dim": "8", "input_scale": "500",
           "n_weak_train": str(n_weak_train), "n_w2s_train": str(n_w2s_train),
           "n_test": str(n_test)}
    dat.update(data or {})
    tgt = {"depth": "5", "width": "16"}
    tgt.update(target or {})
    fitd = {"solver": "auto", "ridge": "0", "intercept": "true"}
    if tgt.get("head") == "softmax":  # Newton-fitted: no least-squares solver
        del fitd["solver"]
    fitd.update(fit or {})
    sections = [("experiment", exp), ("data", dat), ("target", tgt),
                ("strong", strong if strong is not None else
                 {"source": "target"})]
    for name, keys in (weak if weak is not None else default_weak()).items():
        sections.append(("weak." + name, keys))
    sections.append(("fit", fitd))
    lines = ["# written by tests/e2e/common.py quick_config"]
    for sec, keys in sections:
        lines.append("")
        lines.append("[%s]" % sec)
        for k, v in keys.items():
            lines.append("%s = %s" % (k, v))
    return "\n".join(lines) + "\n"


def write_file(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    return path


def write_config(directory, name="quick.ini", **kw):
    return write_file(os.path.join(directory, name), quick_config(**kw))


@contextlib.contextmanager
def scratch(prefix):
    """A fresh tempfile.mkdtemp() directory, removed afterwards."""
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def partials(directory):
    """Temporary files of the writer (OUT.h5.partial-PID) left in directory."""
    return sorted(f for f in os.listdir(directory) if ".partial-" in f)


def load(path):
    """Every /metrics and /coefficients dataset of a results file, as numpy
    arrays (strings decoded), keyed by their path without the leading '/'."""
    import h5py  # Debian's python3-h5py (/usr/bin/python3)
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset) and (
                    name.startswith("metrics/") or
                    name.startswith("coefficients/")):
                if h5py.check_string_dtype(obj.dtype) is not None:
                    out[name] = list(obj.asstr()[()])
                else:
                    out[name] = obj[()]
        f.visititems(visit)
    return out


def main_guard(fn, name):
    """Run fn(); an unexpected exception is a failure, not a crash without a
    summary."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - report and fail
        import traceback
        traceback.print_exc()
        check(False, "%s raised %s: %s" % (name, type(exc).__name__, exc))
    sys.exit(finish(name))
