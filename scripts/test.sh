#!/usr/bin/env bash
# Runs the whole test suite (unit, multi-rank, end-to-end) through ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
ctest --test-dir build --output-on-failure --timeout 600 -j1 "$@"
