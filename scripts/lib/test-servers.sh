# shellcheck shell=bash
# Sourced by scripts/test.sh and scripts/sanitize.sh: our own PostgreSQL + RabbitMQ + Redis for one test run.
#   kr_start_test_servers   picks ports nobody uses yet (a developer may have scripts/servers.sh
#                           running; KR_PG_PORT & co. set beforehand are kept), starts both servers
#                           in a temp dir (or $KR_SERVERS_DIR), stops them when the calling script
#                           exits, and exports what the tests read (KR_TEST_PG_DSN, KR_TEST_AMQP_URL, KR_TEST_REDIS_URL)
#                           with KR_REQUIRE_INTEGRATION=1: a missing server fails instead of skipping.

KR_SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

kr_port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kr_stop_test_servers() { "$KR_SCRIPTS_DIR/servers.sh" stop all || true; }

kr_start_test_servers() {
  export KR_SERVERS_DIR=${KR_SERVERS_DIR:-$(mktemp -d /tmp/killreport-test-XXXXXX)}
  mkdir -p "$KR_SERVERS_DIR"
  chmod 755 "$KR_SERVERS_DIR"
  local base=55432
  while ! kr_port_free "$base" || ! kr_port_free $((base + 240)) || ! kr_port_free $((base + 241)) ||
    ! kr_port_free $((base + 242)); do
    base=$((base + 1000))
  done
  export KR_PG_PORT=${KR_PG_PORT:-$base} KR_AMQP_PORT=${KR_AMQP_PORT:-$((base + 240))}
  export KR_AMQP_DIST_PORT=${KR_AMQP_DIST_PORT:-$((base + 241))} KR_AMQP_NODE=${KR_AMQP_NODE:-kr$base@localhost}
  export KR_REDIS_PORT=${KR_REDIS_PORT:-$((base + 242))}
  trap kr_stop_test_servers EXIT
  "$KR_SCRIPTS_DIR/servers.sh" start all
  # shellcheck disable=SC1091
  source "$KR_SERVERS_DIR/env"
  export KR_REQUIRE_INTEGRATION=1
}
