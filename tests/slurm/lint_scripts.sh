#!/usr/bin/env bash
# Every shell script of the project passes `bash -n` and shellcheck.
set -euo pipefail
command -v shellcheck >/dev/null || { echo "FAIL: shellcheck is not installed"; exit 1; }
status=0
for f in jobs/slurm/* jobs/local/*.sh scripts/*.sh .ci/run tests/slurm/*.sh tests/sanitize/*.sh tests/fuzz/*.sh tests/valgrind/*.sh; do
  bash -n "$f" || { echo "FAIL: bash -n $f"; status=1; }
  shellcheck -x "$f" || { echo "FAIL: shellcheck $f"; status=1; }
done
# cppcheck on the library and the program, with the checked-in suppressions
# (each with its reason) in .cppcheck-suppressions.
if command -v cppcheck >/dev/null; then
  cppcheck --enable=warning,style,performance,portability --std=c11 --quiet \
    --inline-suppr --error-exitcode=1 -I include -I src \
    --suppressions-list=.cppcheck-suppressions src/ || { echo "FAIL: cppcheck"; status=1; }
else
  echo "FAIL: cppcheck is not installed"; status=1
fi
exit $status
