#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer: builds w2s a second time
# (build/sanitize, Debug, -fsanitize=address,undefined, any report fatal) and
# runs the unit tests, the solver tests at 2 ranks, and simulate / fit /
# analyze / merge on small inputs. LeakSanitizer is off: Open MPI and PMIx
# keep allocations alive at exit (a suppression list is the next step).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
b="$root/build/sanitize"
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
if [ ! -f "$b/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
fi
cmake --build "$b" -j"$(nproc)" >/dev/null
t="$(mktemp -d)"
trap 'rm -rf "$t"' EXIT
run() { echo "+ $*"; "$@" >"$t/log" 2>&1 || { cat "$t/log"; echo "FAIL: $*"; exit 1; }; }
for u in test_rng test_mlp test_lsq test_config test_metrics test_pretrain_grad; do
  run "$b/tests/$u"
done
run mpirun -n 2 --oversubscribe "$b/tests/test_solvers_mpi"
run mpirun -n 2 --oversubscribe "$b/tests/test_lsq_mpi"
run mpirun -n 2 --oversubscribe "$b/tests/test_pretrain_mpi"
cfg="$root/data/configs/realizable.ini"
for np in 1 2; do
  run mpirun -n "$np" --oversubscribe "$b/w2s" simulate "$cfg" -o "$t/s$np.h5" -q \
    --set experiment.tasks=10 --set data.n_test=5000
done
run mpirun -n 2 --oversubscribe "$b/w2s" simulate "$cfg" -q --set experiment.tasks=4 \
  --sweep data.n_w2s_train=200,2000 --run-dir "$t/run" -o "$t/sweep.h5"
run "$b/w2s" merge "$t/run/point-00000.h5" "$t/run/point-00001.h5" -o "$t/m.h5"
run "$b/w2s" analyze "$t/s2.h5" "$t/sweep.h5" --format json
/usr/bin/python3 - "$t/f.h5" <<'PY'
import sys, h5py, numpy as np
r = np.random.default_rng(1)
with h5py.File(sys.argv[1], "w") as f:
    S = r.normal(size=(600, 6)); f["labels"] = S @ r.normal(size=6)
    f["strong"] = S.astype(np.float32); f["weak/a"] = S[:, :2]
PY
run mpirun -n 2 --oversubscribe "$b/w2s" fit "$t/f.h5" -o "$t/fit.h5" -q --repeats 2 --ridge 0,0.1
echo "sanitize: no AddressSanitizer or UndefinedBehaviorSanitizer report"
