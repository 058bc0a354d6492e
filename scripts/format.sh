#!/usr/bin/env bash
# Formats every C file of the project (src/, include/, tests/) in place with
# clang-format and the repository's .clang-format; with --check, changes
# nothing and fails when a file is not formatted (what scripts.lint checks).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "format: clang-format is not installed" >&2; exit 1; }
mapfile -t files < <(find src include tests -name '*.[ch]' | sort)
if [ "${1:-}" = --check ]; then
  clang-format --dry-run -Werror "${files[@]}"
else
  clang-format -i "${files[@]}"
fi
