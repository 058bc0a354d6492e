#!/usr/bin/env bash
# libFuzzer: builds the fuzz targets with clang in build/fuzz, then
#   tests/fuzz/run.sh           (CI) the INI parser/validator, 20000 inputs,
#                               fixed seed: deterministic, about 10 s
#   tests/fuzz/run.sh --long S  every target for S seconds each (manual)
# Seed corpora are in tests/fuzz/corpus/<target>/; new inputs go to a
# temporary copy. A crash leaves crash-* in the working directory: turn it
# into a regression test before fixing it.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
b="$root/build/fuzz"
command -v clang >/dev/null || { echo "FAIL: clang is not installed"; exit 1; }
if [ ! -f "$b/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$b" -DCMAKE_C_COMPILER=clang -DW2S_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$b" -j"$(nproc)" --target fuzz_config fuzz_features fuzz_results >/dev/null
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ "${1:-}" = "--long" ]; then
  secs="${2:-60}"
  for t in config features results; do
    mkdir -p "$work/$t"
    "$b/tests/fuzz_$t" "$work/$t" "$root/tests/fuzz/corpus/$t" \
      -max_total_time="$secs" -timeout=20 -print_final_stats=1
  done
else
  mkdir -p "$work/config"
  "$b/tests/fuzz_config" "$work/config" "$root/tests/fuzz/corpus/config" \
    -runs=20000 -seed=1 -timeout=10 -print_final_stats=1 2>&1 | tail -3
fi
