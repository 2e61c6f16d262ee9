#!/usr/bin/env bash
# The fault suite alone (issue 12; tests/e2e/fault_cases.hpp): kill -9 at random moments, kill -9
# right after a commit, a broker restart, terminated database connections, malformed messages and
# ESI faults, on the embedded default and on RabbitMQ + PostgreSQL, each compared with the
# simulator's truth and reported in one line (lost / duplicated / dead-lettered / recovery).
#
#   scripts/faults.sh [--long] [gtest flags, e.g. --gtest_filter='*Kill*']
#
# --long (KR_FAULTS_LONG=1, for outside CI): 40 kills on more work, 25 rounds of terminated
# connections, a 40 s broker outage (past the publish timeout), a longer 420 storm. KR_FAULT_SEED=N
# replays the random moments of a run; KR_FAULT_KEEP_LOGS=1 keeps the processes' logs.
# The default variant also runs in scripts/test.sh (ctest); this script runs the test binaries
# directly (the long variant outlasts ctest's 10-minute limit), on its own servers.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--long" ]; then
  export KR_FAULTS_LONG=1
  shift
fi
BUILD_DIR=${BUILD_DIR:-build}
if [ -f "$BUILD_DIR/build.ninja" ]; then
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target killreport fault_e2etest fault_scaled_e2etest
else
  scripts/build.sh
fi
# shellcheck disable=SC1091
source scripts/lib/test-servers.sh
kr_start_test_servers   # on free ports; stopped (and its dir removed) when this script exits
export KR_FAULT_REPORT=$KR_SERVERS_DIR/fault-report.txt
start=$(date +%s)
rc=0
"$BUILD_DIR/fault_e2etest" "$@" || rc=$?
"$BUILD_DIR/fault_scaled_e2etest" "$@" || rc=$?
echo
echo "fault suite${KR_FAULTS_LONG:+ (long)}: $(($(date +%s) - start)) s"
cat "$KR_FAULT_REPORT" 2>/dev/null || echo "(no scenario ran)"
exit $rc
