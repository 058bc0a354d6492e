#!/usr/bin/env python3
"""Which BLAS ran, and the warning about OpenBLAS's generic kernels.

- `w2s --version` names the BLAS, its version and the kernel that runs; with
  OPENBLAS_CORETYPE=K (an OpenBLAS built with DYNAMIC_ARCH, as Debian's is)
  the kernel is K.
- Every results file carries the same facts (attributes blas, blas_library,
  blas_version, blas_kernel, blas_config), a merged file those of its
  points, and `w2s bench --format json` reports them.
- Forced onto the generic Prescott kernel on a CPU with AVX2 or AVX-512,
  simulate and bench print exactly one warning naming OPENBLAS_CORETYPE and
  the kernel to use, and still exit 0; -q silences it; on a kernel that
  matches the CPU (Haswell here) there is no warning.
Where the CPU lacks AVX2 or the BLAS ignores OPENBLAS_CORETYPE, the parts
that need it are skipped with a note.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common as C  # noqa: E402
from common import check  # noqa: E402

import h5py  # noqa: E402


def kernel_of(env_kernel):
    os.environ.pop("OPENBLAS_CORETYPE", None)
    if env_kernel:
        os.environ["OPENBLAS_CORETYPE"] = env_kernel
    C.ENV.pop("OPENBLAS_CORETYPE", None)
    if env_kernel:
        C.ENV["OPENBLAS_CORETYPE"] = env_kernel
    r = C.run_w2s(["--version"])
    check(r.returncode == 0, "--version exit %d" % r.returncode)
    lines = r.stdout.splitlines()
    blas = [ln for ln in lines if ln.startswith("BLAS: ")]
    check(len(blas) == 1, "--version has one BLAS line: %r" % lines)
    if not blas:
        return ""
    return blas[0].split("kernel ")[1].split(",")[0]


def cpu_flags():
    with open("/proc/cpuinfo") as fh:
        for ln in fh:
            if ln.startswith("flags"):
                return set(ln.split(":", 1)[1].split())
    return set()


def warnings_of(stderr):
    return [ln for ln in stderr.splitlines() if ": warning: " in ln]


def main():
    base = kernel_of(None)
    check(base != "", "a kernel name without OPENBLAS_CORETYPE")
    flags = cpu_flags()
    if kernel_of("Prescott") != "Prescott":
        C.note("SKIP: OPENBLAS_CORETYPE is not honoured by this BLAS")
        return
    wide = "avx2" in flags or "avx512f" in flags
    fix = "SkylakeX" if "avx512f" in flags else "Haswell"
    with C.scratch("w2s-blas-") as d:
        cfg = C.write_config(d)
        out = os.path.join(d, "run.h5")
        r = C.run_w2s(["simulate", cfg, "-o", out], ranks=2)
        check(r.returncode == 0, "simulate under Prescott: %s" % r.stderr)
        w = warnings_of(r.stderr)
        if wide:
            check(len(w) == 1, "one warning under Prescott, got %r" % w)
            check(w and "OPENBLAS_CORETYPE=" + fix in w[0] and "Prescott" in
                  w[0], "the warning names the kernel and the fix: %r" % w)
        else:
            check(not w, "no AVX2: Prescott is the right kernel, no "
                  "warning: %r" % w)
        with h5py.File(out, "r") as f:
            a = {k: (v.decode() if isinstance(v, bytes) else str(v))
                 for k, v in f.attrs.items()}
        check(a.get("blas_kernel") == "Prescott", "blas_kernel %r"
              % a.get("blas_kernel"))
        check(a.get("blas_library") == "OpenBLAS", "blas_library %r"
              % a.get("blas_library"))
        check(a.get("blas_version", "") != "" and
              a.get("blas_version", "") in a.get("blas_config", ""),
              "blas_version %r in blas_config %r"
              % (a.get("blas_version"), a.get("blas_config")))
        check("kernel Prescott" in a.get("blas", ""), "blas %r" % a.get("blas"))
        r = C.run_w2s(["simulate", cfg, "-o", out, "--force", "-q"], ranks=1)
        check(r.returncode == 0 and not warnings_of(r.stderr),
              "-q silences the warning: %r" % r.stderr)
        r = C.run_w2s(["bench", "--rows", "4000", "--cols", "8", "--rhs", "2",
                       "--repeat", "1", "--solvers", "tsqr", "--format",
                       "json"], ranks=1)
        check(r.returncode == 0, "bench json: %s" % r.stderr)
        if r.returncode == 0:
            j = json.loads(r.stdout)
            check(j.get("blas_kernel") == "Prescott", "bench blas_kernel %r"
                  % j.get("blas_kernel"))
            check(len(warnings_of(r.stderr)) == (1 if wide else 0),
                  "bench warning: %r" % r.stderr)
        r = C.run_w2s(["bench", "-q", "--rows", "4000", "--cols", "8",
                       "--rhs", "2", "--repeat", "1", "--solvers", "tsqr"],
                      ranks=1)
        check(r.returncode == 0 and not warnings_of(r.stderr),
              "bench -q silences the warning: %r" % r.stderr)
        # A merge keeps the BLAS its points were computed with, not the
        # merging process's (which runs the default kernel here).
        pts = []
        for i in range(2):
            pt = os.path.join(d, "p%d.h5" % i)
            r = C.run_w2s(["simulate", cfg, "-o", pt, "-q", "--sweep",
                           "data.n_test=300,400", "--sweep-point", str(i)],
                          ranks=1)
            check(r.returncode == 0, "sweep point %d: %s" % (i, r.stderr))
            pts.append(pt)
        merged = os.path.join(d, "merged.h5")
        kernel_of(None)
        r = C.run_w2s(["merge"] + pts + ["-o", merged])
        check(r.returncode == 0, "merge: %s" % r.stderr)
        if r.returncode == 0:
            with h5py.File(merged, "r") as f:
                k = f.attrs.get("blas_kernel")
                k = k.decode() if isinstance(k, bytes) else k
            check(k == "Prescott", "merged file keeps the points' kernel, "
                  "got %r (merging under %r)" % (k, base))
        kernel_of("Prescott")
        if "avx2" in flags and "fma" in flags:
            if kernel_of("Haswell") == "Haswell":
                r = C.run_w2s(["simulate", cfg, "-o", out, "--force"], ranks=1)
                check(r.returncode == 0 and not warnings_of(r.stderr),
                      "no warning on Haswell: %r" % r.stderr)
                with h5py.File(out, "r") as f:
                    check(f.attrs["blas_kernel"] in ("Haswell", b"Haswell"),
                          "blas_kernel Haswell")


if __name__ == "__main__":
    C.main_guard(main, "test_blas")
