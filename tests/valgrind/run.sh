#!/usr/bin/env bash
# valgrind memcheck of a 2-rank simulate and a 2-rank fit: any report fails.
# Suppressions: Open MPI's own file and tests/valgrind/w2s.supp (PMIx).
# Leak checking is off: Open MPI and PMIx keep allocations alive at exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
w2s="${W2S:-$root/build/w2s}"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed"; exit 1; }
t="$(mktemp -d)"
trap 'rm -rf "$t"' EXIT
vg=(valgrind --quiet --error-exitcode=3 --leak-check=no
    --suppressions=/usr/share/openmpi/openmpi-valgrind.supp
    --suppressions="$root/tests/valgrind/w2s.supp")
check() {
  if ! "$@" >"$t/log" 2>&1 || grep -q "^==[0-9]*== [A-Z]" "$t/log"; then
    cat "$t/log"; echo "FAIL: valgrind reported on: $*"; exit 1
  fi
  echo "ok: $*"
}
check mpirun -n 2 --oversubscribe "${vg[@]}" "$w2s" simulate \
  "$root/data/configs/realizable.ini" -o "$t/s.h5" -q --set experiment.tasks=5 \
  --set data.n_test=2000 --set data.n_w2s_train=2000
/usr/bin/python3 - "$t/f.h5" <<'PY'
import sys, h5py, numpy as np
r = np.random.default_rng(2)
with h5py.File(sys.argv[1], "w") as f:
    S = r.normal(size=(500, 5)); f["labels"] = S @ r.normal(size=5)
    f["strong"] = S.astype(np.float32); f["weak/a"] = S[:, :2]
PY
check mpirun -n 2 --oversubscribe "${vg[@]}" "$w2s" fit "$t/f.h5" -o "$t/fit.h5" \
  -q --repeats 2 --ridge 0,0.1
check "${vg[@]}" "$w2s" analyze "$t/s.h5" --summary
