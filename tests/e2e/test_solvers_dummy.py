#!/usr/bin/env python3
"""A solver is one file plus one table line: the test build's w2s_dummy and
test_solvers_mpi_dummy differ from w2s and test_solvers_mpi only by the
table line -DW2S_LSQ_EXTRA_SOLVER appends (tests/lsq_dummy_solver.c: the
normal equations named `dummy`, with the flop model 7 n d^2 + 3 n d k that
no real solver has). Every consumer of the table must see it, with nothing
else edited:

1. `--help-config` lists fit.solver = dummy (and plain w2s does not);
2. `w2s bench --list-solvers` lists it with its metadata; `w2s bench` runs
   it by default, its table shows the row, and the JSON's gflops is the
   dummy's own flop model over the time (not the normal equations');
3. the MPI solver test checked it (its "solvers checked:" line), and passes;
4. the end-to-end solver test, run on w2s_dummy, tests it and passes.
"""
import json
import os
import subprocess
import sys

from common import ENV, MPIEXEC, SRC, W2S, check, failures

DUMMY = os.environ.get("W2S_DUMMY")
MPI_TEST = os.environ.get("W2S_DUMMY_MPI_TEST")
HERE = os.path.dirname(os.path.abspath(__file__))


def run(cmd, env=None, timeout=300):
    return subprocess.run(cmd, capture_output=True, text=True,
                          timeout=timeout, env=env or ENV)


def dummy_flops(n, d, k):
    return 7.0 * n * d * d + 3.0 * n * d * k


def check_help():
    lines = run([DUMMY, "simulate", "--help-config"]).stdout.splitlines()
    check(any(ln.split()[:1] == ["dummy"] and "test only" in ln
              for ln in lines), "--help-config does not list dummy")
    plain = run([W2S, "simulate", "--help-config"]).stdout
    check("test only" not in plain, "plain w2s lists the dummy solver")
    cfg = os.path.join(SRC, "data", "configs", "realizable.ini")
    r = run([DUMMY, "simulate", cfg, "--set", "fit.solver=dummmy", "-o",
             os.devnull])
    check(r.returncode != 0 and "|dummy" in r.stderr,
          "fit.solver's validation does not name dummy: %r" % r.stderr[-300:])


def check_bench():
    n, d, k = 20000, 32, 4
    sizes = ["--rows", str(n), "--cols", str(d), "--rhs", str(k)]
    r = run([DUMMY, "bench", "--list-solvers"] + sizes)
    rows = [ln.split(",") for ln in r.stdout.splitlines()]
    mine = [row for row in rows if row[0] == "dummy"]
    check(len(mine) == 1 and mine[0][1:7] ==
          ["1", "1", "1e+06", "2", "1", "%.17g" % dummy_flops(n, d, k)],
          "--list-solvers: %r" % mine)
    # The default list is the table: the dummy runs without --solvers.
    r = run([MPIEXEC, "-n", "2", DUMMY, "bench", "-q", "--repeat", "1",
             "--format", "json"] + sizes)
    check(r.returncode == 0, "bench json: %s" % r.stderr[-300:])
    if r.returncode == 0:
        got = {row["solver"]: row for row in json.loads(r.stdout)["solvers"]}
        row = got.get("dummy")
        check(row is not None and row["ok"] and row["method"] == "dummy"
              and row["ran"] == "dummy", "bench's dummy row: %r" % row)
        if row and row["ok"]:
            want = dummy_flops(n, d, k)
            check(abs(row["flops"] - want) <= 1e-5 * want,
                  "bench counted %g flops for dummy, its model %g"
                  % (row["flops"], want))
            g = want / row["time_s"] * 1e-9
            check(abs(row["gflops"] - g) <= 3e-5 * g, "dummy gflops %g, its "
                  "model over the time %g" % (row["gflops"], g))
    r = run([DUMMY, "bench", "-q", "--repeat", "1", "--solvers",
             "dummy,normal"] + sizes)
    table = [ln.split() for ln in r.stdout.splitlines()]
    check(r.returncode == 0 and any(t[:3] == ["dummy", "dummy", "1"]
                                    for t in table),
          "bench table has no dummy row: %r" % r.stdout[-600:])


def check_mpi_test():
    r = run([MPIEXEC, "-n", "2", MPI_TEST])
    checked = [ln for ln in r.stdout.splitlines()
               if ln.startswith("solvers checked:")]
    check(r.returncode == 0, "test_solvers_mpi_dummy failed: %s"
          % (r.stdout + r.stderr)[-600:])
    check(len(checked) == 1 and "dummy" in checked[0].split()[2:],
          "the MPI solver test did not check dummy: %r" % checked)


def check_e2e_test():
    env = dict(ENV, W2S=DUMMY)
    r = run([sys.executable, os.path.join(HERE, "test_solvers_e2e.py")],
            env=env, timeout=600)
    tested = [ln for ln in r.stdout.splitlines()
              if ln.startswith("solvers tested:")]
    check(r.returncode == 0, "test_solvers_e2e on w2s_dummy failed: %s"
          % (r.stdout + r.stderr)[-600:])
    check(len(tested) == 1 and "dummy" in tested[0].split()[2:],
          "the e2e solver test did not test dummy: %r" % tested)


def main():
    if not DUMMY or not MPI_TEST:
        print("W2S_DUMMY and W2S_DUMMY_MPI_TEST must name the test build's "
              "binaries (ctest sets them)")
        return 1
    check_help()
    check_bench()
    check_mpi_test()
    check_e2e_test()
    print("test_solvers_dummy: %d failures" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
