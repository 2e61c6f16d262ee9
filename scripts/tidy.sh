#!/usr/bin/env bash
# clang-tidy with the repository's .clang-tidy over src/, tests/, tools/ and bench/ (every warning
# is an error). Needs a configured build dir (compile_commands.json; BUILD_DIR, default build).
# Takes ~20 minutes on 2 cores: a developer's check before review, not part of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
[ -f "$BUILD_DIR/compile_commands.json" ] || scripts/build.sh
command -v run-clang-tidy >/dev/null || { echo "tidy: apt-get install clang-tidy" >&2; exit 1; }
run-clang-tidy -p "$BUILD_DIR" -j "$(nproc)" -quiet "$PWD/(src|tests|tools|bench)/" "$@"
