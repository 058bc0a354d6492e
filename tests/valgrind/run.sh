#!/usr/bin/env bash
# valgrind memcheck of a 2-rank simulate, a 2-rank fit and analyze: any
# report fails, definite and indirect leaks included (checked at every
# rank's exit). Suppressions: Open MPI's own file and tests/valgrind/w2s.supp
# (PMIx's partly uninitialised buffers; what Open MPI allocates in MPI_Init,
# MPI_Finalize and its progress thread and keeps until exit).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
w2s="${W2S:-$root/build/w2s}"
command -v valgrind >/dev/null || { echo "FAIL: valgrind is not installed"; exit 1; }
t="$(mktemp -d)"
trap 'rm -rf "$t"' EXIT
# --num-callers=50: leak stacks deep enough to reach the Open MPI entry points
# that w2s.supp names (a dlopen'ed component's constructor under MPI_Init is
# ~30 frames deep).
vg=(valgrind --quiet --error-exitcode=3 --leak-check=full
    "--show-leak-kinds=definite,indirect" "--errors-for-leak-kinds=definite,indirect"
    --num-callers=50
    --suppressions=/usr/share/openmpi/openmpi-valgrind.supp
    --suppressions="$root/tests/valgrind/w2s.supp")
check() {
  # An error ("Invalid read ...") or a leak ("... are definitely lost ...").
  if ! "$@" >"$t/log" 2>&1 ||
     grep -Eq "^==[0-9]+== ([A-Z]|.* are (definitely|indirectly) lost)" "$t/log"; then
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
