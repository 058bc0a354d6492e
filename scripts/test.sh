#!/usr/bin/env bash
# Runs the whole test suite (unit, multi-rank, end-to-end) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
# Checks labelled `long` (larger variants of e2e tests) run only with
# W2S_LONG=1; CI runs the representative subset.
labels=(-LE long)
if [ "${W2S_LONG:-0}" = 1 ]; then labels=(); fi
ctest --test-dir build --output-on-failure --timeout 600 -j1 "${labels[@]}" "$@"
