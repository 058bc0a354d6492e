#!/bin/bash
# The factor engine's cost per split against n, D (stacked columns), K and
# ranks: the paper's experiment (100 tasks, strong = h*, depth 5 width 16)
# with J random 2-layer width-16 weak models (D = 17 + 16 J), at 1, 2, 4 and
# 8 ranks (4 and 8 oversubscribe a 2-core machine), R repeats; prints one
# line per run: ranks J D n phase times (weak_fit = split 0, strong_fit =
# split 1, test_metrics = split 2) from the results' /timing.
# Usage: bench/engine_scaling.sh [N] [R]     (W2S: the binary, default build/w2s)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
W2S=${W2S:-$here/build/w2s}
N=${1:-1000000}
R=${2:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OPENBLAS_NUM_THREADS=1
for J in 1 3 10; do
  cfg=$tmp/j$J.ini
  {
    printf '[experiment]\nseed = 1\ntasks = 100\n[data]\ninput_dim = 8\n'
    printf 'input_scale = 500\nn_weak_train = %s\nn_w2s_train = %s\nn_test = %s\n' "$N" "$N" "$N"
    printf '[target]\ndepth = 5\nwidth = 16\n[strong]\nsource = target\n'
    for j in $(seq 1 "$J"); do
      printf '[weak.r%d]\nsource = random\ndepth = 2\nwidth = 16\n' "$j"
    done
    printf '[fit]\nengine = factor\n'
  } > "$cfg"
  for P in 1 2 4 8; do
    for _ in $(seq 1 "$R"); do
      mpirun --allow-run-as-root --oversubscribe -n "$P" "$W2S" simulate "$cfg" \
        -o "$tmp/out.h5" --force -q
      /usr/bin/python3 - "$tmp/out.h5" "$P" "$J" "$N" <<'PY'
import sys, h5py
f = h5py.File(sys.argv[1]); t = f["timing"]
J = int(sys.argv[3])
print("ranks %s J %d D %d n %s weak_fit %.3f strong_fit %.3f test %.3f total %.3f rss %.0f"
      % (sys.argv[2], J, 17 + 16 * J, sys.argv[4], float(t["weak_fit"][()]),
         float(t["strong_fit"][()]), float(t["test_metrics"][()]),
         float(t["total"][()]), float(t["peak_rss_mib"][()])), flush=True)
PY
    done
  done
done
