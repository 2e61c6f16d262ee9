#!/usr/bin/env bash
# Formats every C++ file with the repository's .clang-format (clang-format 14, Debian 12).
# --check: changes nothing, exits 1 and lists the files that are not formatted.
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cpp' '*.hpp')
if [ "${1:-}" = "--check" ]; then
  bad=0
  for f in $files; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then echo "not formatted: $f"; bad=1; fi
  done
  exit $bad
fi
# shellcheck disable=SC2086
clang-format -i $files
