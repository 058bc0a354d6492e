#!/usr/bin/env bash
# libFuzzer: builds the fuzz targets with clang in build/fuzz, then
#   tests/fuzz/run.sh            (CI) the INI parser/validator and the
#                                structured features and results targets,
#                                W2S_FUZZ_SECONDS (default 60) each, seed 1
#   tests/fuzz/run.sh --long S   every target, the _raw ones too, S seconds
#                                each (manual; the _raw targets feed mutated
#                                HDF5 files to HDF5's parser, which has known
#                                failures: docs/RELIABILITY.md)
# Seed corpora are in tests/fuzz/corpus/<target>/; new inputs go to a
# temporary copy. Inputs in tests/fuzz/regress/<target>/ (failures found
# before, raw targets' too) are replayed first, in both modes. A crash leaves crash-* in the working
# directory: add it to tests/fuzz/regress/<target>/, then fix the code.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
b="$root/build/fuzz"
command -v clang >/dev/null || { echo "FAIL: clang is not installed"; exit 1; }
if [ ! -f "$b/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$b" -DCMAKE_C_COMPILER=clang -DW2S_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
targets=(config features results)
replay=(config features results features_raw results_raw)
secs="${W2S_FUZZ_SECONDS:-60}"
if [ "${1:-}" = "--long" ]; then
  secs="${2:-600}"
  targets+=(features_raw results_raw)
fi
cmake --build "$b" -j"$(nproc)" --target "${replay[@]/#/fuzz_}" >/dev/null
# Huge requested sizes return NULL (as malloc does on a real machine) instead
# of being reported as crashes; the readers must then fail cleanly.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$b/artifacts"
# Every target, raw ones included, replays the failures found before.
for t in "${replay[@]}"; do
  reg="$root/tests/fuzz/regress/$t"
  if [ -d "$reg" ] && [ -n "$(ls -A "$reg")" ]; then
    "$b/tests/fuzz_$t" -timeout=20 -rss_limit_mb=4096 "$reg"/* \
      >"$work/$t.regress.log" 2>&1 ||
      { cat "$work/$t.regress.log"; echo "FAIL: fuzz_$t regression inputs"; exit 1; }
    echo "fuzz_$t: $(find "$reg" -type f | wc -l) regression inputs pass"
  fi
done
for t in "${targets[@]}"; do
  exe="$b/tests/fuzz_$t"
  mkdir -p "$work/corpus-$t"
  seeds=()
  [ -d "$root/tests/fuzz/corpus/$t" ] && seeds=("$root/tests/fuzz/corpus/$t")
  if ! "$exe" "$work/corpus-$t" "${seeds[@]}" -seed=1 -max_total_time="$secs" \
      -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$b/artifacts/$t-" >"$work/$t.log" 2>&1; then
    tail -60 "$work/$t.log"
    echo "FAIL: fuzz_$t found a failing input, kept in $b/artifacts/"
    exit 1
  fi
  runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo '?')"
  cov="$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -1 || true)"
  echo "fuzz_$t: ${secs}s, $runs inputs, $cov, no finding"
done
