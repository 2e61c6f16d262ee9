#!/usr/bin/env bash
# Start/stop a throw-away PostgreSQL 15, RabbitMQ 3.10 and Redis 7 on 127.0.0.1 in a temp dir, for
# tests and benchmarks. Usage: scripts/servers.sh start|stop|env [pg|amqp|redis|all]
#   start  starts the servers (idempotent) and writes $KR_SERVERS_DIR/env
#   stop   stops them and removes the temp dir
#   env    prints the export lines (eval "$(scripts/servers.sh env)")
set -euo pipefail
ACTION=${1:-}
WHICH=${2:-all}
DIR=${KR_SERVERS_DIR:-${TMPDIR:-/tmp}/killreport-servers-$(id -u)}
PG_PORT=${KR_PG_PORT:-55432}
AMQP_PORT=${KR_AMQP_PORT:-55672}
AMQP_DIST_PORT=${KR_AMQP_DIST_PORT:-55673}
AMQP_NODE=${KR_AMQP_NODE:-rabbit@localhost}
REDIS_PORT=${KR_REDIS_PORT:-56379}
PG_BIN=/usr/lib/postgresql/15/bin

as_user() { # run a command as a service user when we are root
  local user=$1; shift
  if [ "$(id -u)" -eq 0 ]; then runuser -u "$user" -- "$@"; else "$@"; fi
}

rabbit_env() { # rabbit_env CMD...: run CMD as user rabbitmq with our private node's environment
  local pre=()
  if [ "$(id -u)" -eq 0 ]; then pre=(runuser -u rabbitmq --); fi
  "${pre[@]}" env RABBITMQ_MNESIA_BASE="$DIR/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$DIR/rabbitmq/log" \
      RABBITMQ_NODENAME="$AMQP_NODE" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="$AMQP_PORT" \
      RABBITMQ_DIST_PORT="$AMQP_DIST_PORT" RABBITMQ_PID_FILE="$DIR/rabbitmq/rabbit.pid" \
      RABBITMQ_CONFIG_FILE="$DIR/rabbitmq/rabbitmq" RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/rabbitmq/enabled_plugins" \
      RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq/rabbitmq-env.conf" ERL_EPMD_ADDRESS=127.0.0.1 "$@"
}

start_pg() {
  mkdir -p "$DIR/pg"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DIR/pg"; fi
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    as_user postgres "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
    cat >> "$DIR/pg/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$DIR/pg'
fsync = off
full_page_writes = off
max_connections = 200
shared_buffers = 256MB
CONF
  fi
  if ! as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then
    as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/log" -w -t 60 start >/dev/null
  fi
  for _ in $(seq 1 60); do
    "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$PG_PORT" -q && return 0
    sleep 0.5
  done
  echo "servers: PostgreSQL did not become ready (log: $DIR/pg/log)" >&2; return 1
}

start_amqp() {
  mkdir -p "$DIR/rabbitmq/mnesia" "$DIR/rabbitmq/log"
  : > "$DIR/rabbitmq/rabbitmq-env.conf"
  echo "[]." > "$DIR/rabbitmq/enabled_plugins"
  # classic_queue.default_version = 2: the queue index of RabbitMQ 3.10+ that 3.13 made the default;
  # ~20 % more confirmed persistent publishes/s here. It changes no queue argument, so queues
  # declared by the original still match (docs/operations.md recommends it for production too).
  printf 'loopback_users.guest = false\nlisteners.tcp.default = %s\nclassic_queue.default_version = 2\n' \
    "$AMQP_PORT" > "$DIR/rabbitmq/rabbitmq.conf"
  if [ "$(id -u)" -eq 0 ]; then chown -R rabbitmq:rabbitmq "$DIR/rabbitmq"; fi
  if rabbit_env rabbitmqctl -q -n "$AMQP_NODE" status >/dev/null 2>&1; then return 0; fi
  rabbit_env /usr/lib/rabbitmq/bin/rabbitmq-server > "$DIR/rabbitmq/log/stdout.log" 2>&1 &
  # await_startup fails at once while the node has not registered with epmd yet: retry it.
  for _ in $(seq 1 90); do
    if rabbit_env timeout 60 rabbitmqctl -q -n "$AMQP_NODE" await_startup --timeout 50 >/dev/null 2>&1; then
      return 0
    fi
    sleep 1
  done
  echo "servers: RabbitMQ did not start (logs: $DIR/rabbitmq/log)" >&2; return 1
}

start_redis() {
  mkdir -p "$DIR/redis"
  if redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1; then return 0; fi
  # No persistence: a throw-away server for pub/sub.
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$DIR/redis" --save '' --appendonly no \
    --daemonize yes --pidfile "$DIR/redis/redis.pid" --logfile "$DIR/redis/log" >/dev/null
  for _ in $(seq 1 60); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  echo "servers: Redis did not start (log: $DIR/redis/log)" >&2; return 1
}

stop_redis() {
  if [ -f "$DIR/redis/redis.pid" ]; then
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$DIR/redis/redis.pid")" 2>/dev/null || true
  fi
}

stop_pg() {
  if [ -f "$DIR/pg/data/PG_VERSION" ]; then
    as_user postgres "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}

stop_amqp() {
  if [ -d "$DIR/rabbitmq" ]; then
    rabbit_env timeout 30 rabbitmqctl -q -n "$AMQP_NODE" stop >/dev/null 2>&1 || true
    if [ -f "$DIR/rabbitmq/rabbit.pid" ]; then kill "$(cat "$DIR/rabbitmq/rabbit.pid")" 2>/dev/null || true; fi
  fi
}

print_env() {
  echo "export KR_SERVERS_DIR='$DIR'"
  echo "export KR_TEST_PG_DSN='postgresql://postgres@127.0.0.1:$PG_PORT/postgres'"
  echo "export KR_AMQP_NODE='$AMQP_NODE' KR_PG_PORT='$PG_PORT' KR_AMQP_PORT='$AMQP_PORT' KR_AMQP_DIST_PORT='$AMQP_DIST_PORT' KR_REDIS_PORT='$REDIS_PORT'"
  echo "export KR_TEST_AMQP_URL='amqp://guest:guest@127.0.0.1:$AMQP_PORT/'"
  echo "export KR_TEST_REDIS_URL='redis://127.0.0.1:$REDIS_PORT/'"
}

# rabbitmqctl for tests (e.g. to restart the broker): scripts/servers.sh ctl stop_app
case "$ACTION" in
  start)
    mkdir -p "$DIR"; chmod 755 "$DIR"
    case "$WHICH" in
      pg) start_pg ;; amqp) start_amqp ;; redis) start_redis ;;
      all) start_pg & p=$!; start_redis; start_amqp; wait $p ;;
    esac
    print_env > "$DIR/env"
    ;;
  stop)
    case "$WHICH" in
      pg) stop_pg ;; amqp) stop_amqp ;; redis) stop_redis ;;
      all) stop_pg; stop_redis; stop_amqp; rm -rf "$DIR" ;;
    esac
    ;;
  env) print_env ;;
  ctl) shift; rabbit_env rabbitmqctl -n "$AMQP_NODE" "$@" ;;
  *) echo "usage: $0 start|stop|env|ctl [pg|amqp|redis|all]" >&2; exit 2 ;;
esac
