#!/usr/bin/env bash
# The whole test suite: install what is missing, build, start PostgreSQL + RabbitMQ on loopback,
# run every test (unit, PostgreSQL, RabbitMQ, end-to-end against tools/fake-esi), stop the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
export KR_SERVERS_DIR=${KR_SERVERS_DIR:-$(mktemp -d /tmp/killreport-test-XXXXXX)}
chmod 755 "$KR_SERVERS_DIR"
cleanup() { scripts/servers.sh stop all || true; }
trap cleanup EXIT
scripts/servers.sh start all
# shellcheck disable=SC1091
source "$KR_SERVERS_DIR/env"
export KR_REQUIRE_INTEGRATION=1   # a missing server fails the suite instead of skipping tests
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${KR_TEST_JOBS:-2}" "$@"
