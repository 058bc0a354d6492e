#!/bin/bash
# Submit a sweep as a job array plus a merge that runs when every point
# succeeded:
#   jobs/slurm/submit-sweep.sh CONFIG.ini RUN_DIR MERGED.h5 NPOINTS [--sweep key=v1,v2 ...]
# NPOINTS is the size of the grid (`w2s simulate` prints it in its log and
# refuses a --sweep-point outside it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
config="${1:?usage: submit-sweep.sh CONFIG.ini RUN_DIR MERGED.h5 NPOINTS [args]}"
run_dir="${2:?RUN_DIR missing}"
merged="${3:?MERGED.h5 missing}"
npoints="${4:?NPOINTS missing}"
shift 4
array=$(sbatch --parsable --array="0-$((npoints - 1))" "$here/sweep.sbatch" \
  "$config" "$run_dir" "$@")
array="${array%%;*}"
merge=$(sbatch --parsable --dependency="afterok:$array" "$here/merge.sbatch" \
  "$run_dir" "$merged")
echo "array job $array, merge job $merge"
