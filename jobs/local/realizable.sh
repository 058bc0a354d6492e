#!/usr/bin/env bash
# The default experiment on a workstation: the realizable run on 2 MPI ranks,
# then the analysis table. Usage: jobs/local/realizable.sh [RANKS] [OUT.h5]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
# W2S selects the binary (ctest points it at the build under test).
w2s="${W2S:-$root/build/w2s}"
ranks="${1:-2}"
out="${2:-$root/results/realizable.h5}"
mkdir -p "$(dirname "$out")"
mpirun -n "$ranks" "$w2s" simulate "$root/data/configs/realizable.ini" \
  -o "$out" --force
"$w2s" analyze "$out"
