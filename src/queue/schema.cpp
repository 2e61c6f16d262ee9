// Schema migrations of the queue module (see db/migrator.hpp): the database queue's tables.
//   kr_queue_messages  one row per message; available_at = earliest delivery (delayed retry),
//                      lease_until = visibility timeout of the current delivery (NULL = not leased),
//                      deliveries = how often it was handed out since the last (re)schedule: it
//                      doubles as the lease token, so a stale ack cannot touch a re-leased row.
//   kr_queue_dead      dead letters with reason, last error, attempts and time.
// Times are milliseconds since the Unix epoch (BIGINT), comparable in both dialects.
#include "db/migrator.hpp"

namespace kr::queue {

std::vector<kr::db::Migration> SchemaMigrations() {
    kr::db::Migration m1;
    m1.module = "queue";
    m1.version = 1;
    m1.description = "database queue: messages and dead letters";
    m1.sqlite_sql = R"SQL(
CREATE TABLE IF NOT EXISTS kr_queue_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_until INTEGER,
  deliveries INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  enqueued_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kr_queue_messages_pick ON kr_queue_messages (queue, priority DESC, id);
CREATE TABLE IF NOT EXISTS kr_queue_dead (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  last_error TEXT NOT NULL,
  dead_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kr_queue_dead_queue ON kr_queue_dead (queue, id);
)SQL";
    m1.postgres_sql = R"SQL(
CREATE TABLE IF NOT EXISTS kr_queue_messages (
  id BIGSERIAL PRIMARY KEY,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  attempt INTEGER NOT NULL DEFAULT 0,
  available_at BIGINT NOT NULL,
  lease_until BIGINT,
  deliveries INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  enqueued_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS kr_queue_messages_pick ON kr_queue_messages (queue, priority DESC, id);
CREATE TABLE IF NOT EXISTS kr_queue_dead (
  id BIGSERIAL PRIMARY KEY,
  queue TEXT NOT NULL,
  body TEXT NOT NULL,
  priority INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  last_error TEXT NOT NULL,
  dead_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kr_queue_dead_queue ON kr_queue_dead (queue, id);
)SQL";
    return {m1};
}

}  // namespace kr::queue
