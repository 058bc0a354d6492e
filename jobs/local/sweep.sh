#!/usr/bin/env bash
# A restartable sweep on a workstation: every point goes to RUN_DIR as it
# completes; after a crash or a kill, run the same command again and only the
# missing points are computed (--resume), then all are merged.
# Usage: jobs/local/sweep.sh [RANKS] [RUN_DIR] [CONFIG]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
# W2S selects the binary (ctest points it at the build under test).
w2s="${W2S:-$root/build/w2s}"
ranks="${1:-2}"
run_dir="${2:-$root/results/sweep-samples}"
config="${3:-$root/data/configs/sweep-samples.ini}"
# A fresh clone has no results/ directory: create the run directory (and
# its parents) before w2s checks the output path inside it.
mkdir -p "$run_dir"
mpirun -n "$ranks" "$w2s" simulate "$config" --run-dir "$run_dir" \
  --resume -o "$run_dir/merged.h5"
"$w2s" analyze "$run_dir/merged.h5" --summary
