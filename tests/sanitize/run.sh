#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer + LeakSanitizer over the test
# suite: builds w2s a second time in build/sanitize (its own build tree, the
# normal build/ is not touched; Debug -g with -O1, -fsanitize=address,undefined,
# every report fatal) and runs ctest there, so the same unit tests, MPI programs
# at every rank count and end-to-end scripts run against the sanitized
# binaries (ctest's W2S points the e2e scripts at build/sanitize/w2s).
# Leaks are checked at every process's exit (each MPI rank included), with
# the third-party suppressions of tests/sanitize/lsan.supp.
#
# Every report is fatal: the process aborts, so its test fails. ASan and LSan
# reports also go to a file in a private directory (log_path); after ctest
# any such file fails this script and is printed, even one from a process
# whose exit status or stderr a test does not look at. UBSan (GCC's separate
# libubsan) ignores log_path and prints to stderr: its reports fail the
# process, and any "runtime error:" in ctest's log fails this script too.
#
# Usage: tests/sanitize/run.sh [extra ctest arguments, e.g. -R e2e.fit]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
b="$root/build/sanitize"
# shellcheck source=scripts/env.sh
source "$root/scripts/env.sh"

# Tests left out, with the reason:
#  sanitize.*, valgrind.*, fuzz.*  this script itself; valgrind, which cannot
#                                  run ASan-instrumented binaries; the fuzz
#                                  targets, a clang build of their own
#  e2e.memory     asserts < 128 MiB resident per rank; ASan's shadow memory
#                 and quarantine inflate resident memory by design
#  slurm.jobs     starts a Slurm cluster and runs build/w2s through the job
#                 scripts; nothing of the sanitized build would run
#  scripts.lint   bash -n, shellcheck and cppcheck: no compiled code
#  label blas     the numerical tests again under other OpenBLAS kernels:
#                 the same w2s code paths as their default-kernel runs
#  label long     larger variants of e2e tests (e2e.engines_long)
#  e2e.engines    ~10 minutes sanitized (hundreds of runs of both engines);
#                 the factor engine is the default, so every other e2e
#                 script runs it sanitized, and e2e.fit, e2e.cancellation and
#                 the alloc-fault runs run the direct engine too
#  e2e.classification, e2e.cls_students  minutes sanitized (dozens of
#                 Newton-fitted runs against numpy); the classification
#                 pipeline runs sanitized in e2e.alloc_faults (`classify`, a
#                 reverse-mixture run: weak heads, ceilings, mixtures, KL
#                 sums) and unit.test_softmax; e2e.fit_class likewise (its
#                 Newton fits and KL sums are the units' and simulate's)
exclude='^(sanitize|valgrind|fuzz)\.|^e2e\.memory$|^slurm\.jobs$|^scripts\.lint$|^e2e\.engines$|^e2e\.classification$|^e2e\.cls_students$|^e2e\.fit_class$'

t="$(mktemp -d)"
trap 'rm -rf "$t"' EXIT
# Always configure (cheap when nothing changed): an old build/sanitize made
# with other flags gets these ones. -O1 rather than Debug's -O0: at -O0 the
# pre-training of e2e.paper alone runs past its 600 s limit.
if ! { cmake -S "$root" -B "$b" -DCMAKE_BUILD_TYPE=Debug \
         -DCMAKE_C_FLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
         -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" &&
       cmake --build "$b" -j2; } >"$t/build.log" 2>&1; then
  cat "$t/build.log"; echo "FAIL: the sanitized build"; exit 1
fi

mkdir "$t/reports"
# ASan (and LSan, which runs inside it at exit): abort on a report, write it
# to $t/reports/report.PROGRAM.PID; fast_unwind_on_malloc=0 records full
# allocation stacks through libraries built without frame pointers (Open
# MPI, HDF5), which is what the suppressions match.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$t/reports/report:log_exe_name=1:fast_unwind_on_malloc=0:malloc_context_size=64"
export LSAN_OPTIONS="suppressions=$root/tests/sanitize/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"

status=0
start=$SECONDS
ctest --test-dir "$b" -j2 --output-on-failure --no-tests=error -E "$exclude" -LE 'blas|long' "$@" ||
  status=1
echo "sanitize: ctest in build/sanitize took $((SECONDS - start)) s"

shopt -s nullglob
reports=("$t"/reports/report.*)
if [ "${#reports[@]}" -gt 0 ]; then
  status=1
  echo "sanitize: ${#reports[@]} process(es) wrote a sanitizer report:"
  for f in "${reports[@]}"; do
    n="$(wc -l <"$f")"
    echo "===== ${f##*/} (program.pid), $n lines"
    head -n 300 "$f"
    if [ "$n" -gt 300 ]; then echo "... $((n - 300)) more lines"; fi
  done
fi
if grep -n "runtime error:" "$b/Testing/Temporary/LastTest.log"; then
  status=1
  echo "sanitize: UndefinedBehaviorSanitizer reports in the test output (above)"
fi
if [ "$status" -ne 0 ]; then
  echo "FAIL: sanitize (see the failed tests and reports above)"
  exit 1
fi
echo "sanitize: no AddressSanitizer, LeakSanitizer or UndefinedBehaviorSanitizer report"
