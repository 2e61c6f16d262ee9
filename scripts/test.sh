#!/usr/bin/env bash
# The whole test suite: install what is missing, build, start PostgreSQL + RabbitMQ on loopback,
# run every test (unit, PostgreSQL, RabbitMQ, end-to-end against tools/fake-esi), stop the servers.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
scripts/install-deps.sh
scripts/format.sh --check   # the tree stays formatted (.clang-format)
scripts/build.sh
export KR_SERVERS_DIR=${KR_SERVERS_DIR:-$(mktemp -d /tmp/killreport-test-XXXXXX)}
chmod 755 "$KR_SERVERS_DIR"
# Our own servers, on ports nobody uses yet (a developer may have scripts/servers.sh running).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=55432
while ! port_free "$base" || ! port_free $((base + 240)) || ! port_free $((base + 241)); do base=$((base + 1000)); done
export KR_PG_PORT=${KR_PG_PORT:-$base} KR_AMQP_PORT=${KR_AMQP_PORT:-$((base + 240))}
export KR_AMQP_DIST_PORT=${KR_AMQP_DIST_PORT:-$((base + 241))} KR_AMQP_NODE=${KR_AMQP_NODE:-kr$base@localhost}
cleanup() { "$ROOT/scripts/servers.sh" stop all || true; }
trap cleanup EXIT
scripts/servers.sh start all
# shellcheck disable=SC1091
source "$KR_SERVERS_DIR/env"
export KR_REQUIRE_INTEGRATION=1   # a missing server fails the suite instead of skipping tests
cd "${BUILD_DIR:-build}"
ctest --output-on-failure --timeout 600 -j "${KR_TEST_JOBS:-2}" "$@"
