#!/usr/bin/env bash
# The main job on the embedded default: install what is missing, build, then run the offline
# end-to-end pipeline (`killreport demo`: fake ESI + zKillboard → queues → workers → SQLite).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
exec "${BUILD_DIR:-build}/killreport" demo "$@"
