// Schema migrations of the queue module (see db/migrator.hpp): the database queue's tables.
//   kr_queue_messages  one row per message; available_at = earliest delivery (delayed retry),
//                      lease_until = visibility timeout of the current delivery (NULL = not leased),
//                      deliveries = how often it was handed out since the last (re)schedule: it
//                      doubles as the lease token, so a stale ack cannot touch a re-leased row.
//   kr_queue_dead      dead letters with reason, last error, attempts and time.
// Version 2 (leases belong to a process, see db_queue.hpp):
//   kr_queue_messages.owner  the lease owner of a leased message (kr_queue_consumers.owner).
//   kr_queue_consumers       one row per consuming process: its identity (host, pid, start time)
//                            and heartbeat_at, renewed while it polls; a process found dead (its
//                            pid gone on this host, or a stale heartbeat) loses its leases at once.
// Times are milliseconds since the Unix epoch (BIGINT), comparable in both dialects.
#include "db/migrator.hpp"
#include "db/table.hpp"

namespace kr::queue {

namespace {

using db::Col;
using db::ColType;
using db::Default;
using db::kNotNull;
using db::WithDefault;

db::ColumnDef Id() {
    db::ColumnDef c = Col("id", ColType::kBigSerial);
    c.flags |= db::kAutoincrement;  // ids are never reused: a stale ack cannot hit a new row
    return c;
}

/// kr_queue_messages.owner, added by migration 2 (NULL: not leased, or leased before owners).
/// No index on it: only a takeover (a dead process found) looks messages up by owner, and the
/// lease, the hot path, would have to maintain it.
db::ColumnDef Owner() {
    db::ColumnDef c = Col("owner", ColType::kText);
    c.since = 2;
    return c;
}

db::TableDef Messages() {
    db::TableDef t;
    t.name = "kr_queue_messages";
    t.columns = {Id(),
                 Col("queue", ColType::kText, kNotNull),
                 Col("body", ColType::kText, kNotNull),
                 WithDefault(Col("priority", ColType::kInt, kNotNull), Default::kZero),
                 WithDefault(Col("attempt", ColType::kInt, kNotNull), Default::kZero),
                 Col("available_at", ColType::kBigint, kNotNull),
                 Col("lease_until", ColType::kBigint),
                 WithDefault(Col("deliveries", ColType::kInt, kNotNull), Default::kZero),
                 Col("last_error", ColType::kText),
                 Col("enqueued_at", ColType::kBigint, kNotNull),
                 Owner()};
    t.indexes = {{"kr_queue_messages_pick", "queue, priority DESC, id"}};
    return t;
}

db::TableDef Dead() {
    db::TableDef t;
    t.name = "kr_queue_dead";
    t.columns = {Id(),
                 Col("queue", ColType::kText, kNotNull),
                 Col("body", ColType::kText, kNotNull),
                 Col("priority", ColType::kInt, kNotNull),
                 Col("attempts", ColType::kInt, kNotNull),
                 Col("reason", ColType::kText, kNotNull),
                 Col("last_error", ColType::kText, kNotNull),
                 Col("dead_at", ColType::kText, kNotNull)};
    t.indexes = {{"kr_queue_dead_queue", "queue, id"}};
    return t;
}

db::TableDef Consumers() {
    db::TableDef t;
    t.name = "kr_queue_consumers";
    t.since = 2;
    t.columns = {Col("owner", ColType::kText, db::kPrimaryKey), Col("host", ColType::kText, kNotNull),
                 Col("pid", ColType::kBigint, kNotNull), Col("started_at", ColType::kBigint, kNotNull),
                 Col("heartbeat_at", ColType::kBigint, kNotNull)};
    return t;
}

/// The statements of queue/N, from the table definitions (db::MigrationSql).
std::string Sql(int version, db::Dialect d) {
    const db::TableDef messages = Messages(), dead = Dead(), consumers = Consumers();
    return db::MigrationSql({&messages, &dead, &consumers}, version, d);
}

}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {{"queue", 1, "database queue: messages and dead letters", Sql(1, db::Dialect::kSqlite),
             Sql(1, db::Dialect::kPostgres)},
            {"queue", 2, "database queue: leases belong to a consumer process (owner, heartbeat)",
             Sql(2, db::Dialect::kSqlite), Sql(2, db::Dialect::kPostgres)}};
}

}  // namespace kr::queue
