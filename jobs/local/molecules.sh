#!/usr/bin/env bash
# The molecular QSAR example end to end on a workstation: build features from
# the ChEMBL activities Debian ships (rdkit-data) with RDKit, run `w2s fit`
# over 3 random splits with ridge chosen per representation, and print the
# analysis with the weak-model selection table (the paper's tables 1-3).
# Usage: jobs/local/molecules.sh [RANKS] [OUTDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
# W2S selects the binary (ctest points it at the build under test).
w2s="${W2S:-$root/build/w2s}"
ranks="${1:-2}"
out="${2:-$root/results/molecules}"
mkdir -p "$out"
/usr/bin/python3 "$root/data/molecules/build_features.py" -o "$out/features.h5"
mpirun -n "$ranks" "$w2s" fit "$out/features.h5" -o "$out/fit.h5" \
  --force --repeats 3 --seed 1 --ridge 1e-3,1e-2,1e-1,1
"$w2s" analyze "$out/fit.h5" --summary --plot "$out/gain-misfit.png"
