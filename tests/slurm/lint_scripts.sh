#!/usr/bin/env bash
# Every shell script of the project passes `bash -n` and shellcheck; cppcheck
# and clang-tidy are clean on the C code. Argument: the build directory whose
# compile_commands.json clang-tidy uses (default build/).
# Every C file under src/, include/ and tests/ is also as clang-format
# (.clang-format) writes it (bash scripts/format.sh fixes that).
set -euo pipefail
builddir=${1:-build}
# The format check: on unless W2S_FORMAT_CHECK=0 (say, while a large edit is
# in progress).
format_check=${W2S_FORMAT_CHECK:-1}
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
# clang-tidy on the library, the program and the unit and MPI tests (the
# fuzz targets are only in a W2S_FUZZ build): the checks, and the ones turned
# off with their reasons, are in .clang-tidy. One file per clang-tidy process
# (clang-tidy 14 reports a false valist.Uninitialized in every file after the
# first of a process: LLVM bug 41311), two at a time. Each file's output is
# printed in one piece, without the counts of warnings it filtered out.
# tidy_file BUILDDIR FILE runs under xargs (bash -c), which shellcheck cannot see.
# shellcheck disable=SC2317
tidy_file() {
  local out rc=0
  out=$(clang-tidy -p "$1" --quiet --warnings-as-errors='*' "$2" 2>&1) || rc=1
  if [ -n "$out" ]; then
    grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$' <<<"$out" || true
  fi
  return "$rc"
}
export -f tidy_file
if ! command -v clang-tidy >/dev/null; then
  echo "FAIL: clang-tidy is not installed (scripts/setup.sh installs it)"; status=1
elif [ ! -f "$builddir/compile_commands.json" ]; then
  echo "FAIL: clang-tidy: no $builddir/compile_commands.json (configure with cmake first)"
  status=1
else
  start=$SECONDS
  printf '%s\0' src/*/*.c tests/unit/*.c tests/mpi/*.c | xargs -0 -n1 -P2 bash -c 'tidy_file "$@"' _ "$builddir" ||
    { echo "FAIL: clang-tidy"; status=1; }
  echo "clang-tidy: $((SECONDS - start)) s"
fi
# clang-format: the tree as scripts/format.sh would leave it.
if [ "$format_check" != 1 ]; then
  echo "SKIP: clang-format check (W2S_FORMAT_CHECK=$format_check)"
elif ! command -v clang-format >/dev/null; then
  echo "SKIP: clang-format check: clang-format is not installed (scripts/setup.sh installs it)"
else
  mapfile -t cfiles < <(find src include tests -name '*.[ch]' | sort)
  if ((${#cfiles[@]} == 0)); then
    echo "FAIL: clang-format: no C files found (run from the source tree)"; status=1
  elif ! clang-format --dry-run -Werror "${cfiles[@]}"; then
    echo "FAIL: clang-format: the files above are not formatted (run scripts/format.sh)"
    status=1
  fi
fi
exit $status
