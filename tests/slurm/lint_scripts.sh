#!/usr/bin/env bash
# Every shell script of the project passes `bash -n` and shellcheck.
set -euo pipefail
command -v shellcheck >/dev/null || { echo "FAIL: shellcheck is not installed"; exit 1; }
status=0
for f in jobs/slurm/* jobs/local/*.sh scripts/*.sh .ci/run tests/slurm/*.sh tests/sanitize/*.sh tests/fuzz/*.sh; do
  bash -n "$f" || { echo "FAIL: bash -n $f"; status=1; }
  shellcheck -x "$f" || { echo "FAIL: shellcheck $f"; status=1; }
done
exit $status
