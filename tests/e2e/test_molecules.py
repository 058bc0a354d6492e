#!/usr/bin/env python3
"""The molecular example in the test suite, on the first 400 compounds:
build the features with RDKit, fit at 2 ranks with repeats and a ridge list,
and check the results file and the selection table. Skipped (exit 77, which
ctest reports as skipped) only when RDKit or the data are missing."""
import os
import shutil
import subprocess
import sys
import tempfile
from common import W2S, MPIEXEC, SRC  # the paths, in one place



def main():
    try:
        import rdkit  # noqa: F401
    except ImportError:
        print("SKIPPED: python3-rdkit is not installed (scripts/setup.sh installs it)")
        return 77
    if not os.path.exists("/usr/share/RDKit/Contrib/FreeWilson/data/CHEMBL2321810.smi"):
        print("SKIPPED: rdkit-data is not installed")
        return 77
    import h5py
    import numpy as np
    tmp = tempfile.mkdtemp(prefix="w2s-mol-")
    bad = []
    try:
        feats, out = os.path.join(tmp, "f.h5"), os.path.join(tmp, "fit.h5")
        r = subprocess.run(["/usr/bin/python3", os.path.join(SRC, "data", "molecules",
                            "build_features.py"), "-o", feats, "--limit", "400"],
                           capture_output=True, text=True, timeout=300)
        if r.returncode:
            bad.append("build_features: " + r.stderr[-500:])
        else:
            with h5py.File(feats) as f:
                if f["labels"].shape != (400,) or f["strong"].shape[0] != 400:
                    bad.append("features shapes")
                if sorted(f["weak"]) != ["morgan1_128", "morgan1_16", "morgan1_256",
                                         "morgan1_32", "morgan1_64"]:
                    bad.append("weak models %s" % sorted(f["weak"]))
                if f["weak/morgan1_16"].dtype != np.float32:
                    bad.append("weak features should be float32")
            r = subprocess.run([MPIEXEC, "-n", "2", "--oversubscribe", W2S, "fit",
                                feats, "-o", out, "-q", "--repeats", "3",
                                "--ridge", "1e-2,1e-1,1"], capture_output=True,
                               text=True, timeout=600)
            if r.returncode:
                bad.append("fit: " + r.stderr[-500:])
            else:
                with h5py.File(out) as f:
                    m = f["metrics"]
                    if len(m["gain"]) != 15 or sorted(set(m["repeat"][:])) != [0, 1, 2]:
                        bad.append("15 pairs over 3 repeats expected")
                    w = f["sweep/point_0/representations/ridge"][:]
                    if not all(x in (1e-2, 1e-1, 1) for x in w):
                        bad.append("chosen ridges %s" % w)
                    if not np.all(np.isfinite(m["gain"][:])):
                        bad.append("non-finite metrics")
                r = subprocess.run([W2S, "analyze", out, "--summary"],
                                   capture_output=True, text=True)
                if r.returncode or "Weak-model selection" not in r.stdout \
                        or "the rule " not in r.stdout:
                    bad.append("analyze selection table: " + r.stdout[-500:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for b in bad:
        print("FAIL:", b)
    print("test_molecules: %d failures" % len(bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
