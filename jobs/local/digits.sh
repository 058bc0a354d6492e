#!/usr/bin/env bash
# Classification on real data end to end: the handwritten digits Debian's
# scikit-learn ships (1797 images, 10 classes), the 64 pixels as the strong
# representation and coarser views of the images as weak ones; `w2s fit` on
# the class ids (softmax heads by Newton, errors as cross-entropies against
# the labels) over 3 random splits with the ridge chosen per
# representation, then the analysis and its figure.
# Usage: jobs/local/digits.sh [RANKS] [OUTDIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"
w2s="${W2S:-$root/build/w2s}"
ranks="${1:-2}"
out="${2:-$root/results/digits}"
mkdir -p "$out"
/usr/bin/python3 "$root/data/digits/build_features.py" -o "$out/features.h5"
mpirun -n "$ranks" "$w2s" fit "$out/features.h5" -o "$out/fit.h5" \
  --force --repeats 3 --seed 1 --standardize --ridge 1e-4,1e-3,1e-2,1e-1
"$w2s" analyze "$out/fit.h5" --summary --plot "$out/gain-misfit.png"
