// Schema migrations of the store module (see db/migrator.hpp), generated from the table
// definitions in store/tables.cpp (tests/db/table_sql_test.cpp pins the generated SQL).
//
// store/1  KillReport's nine tables (alliances, corporations, characters, types, users,
//          killmails, victims, attackers, killmail_items) with the original's names and columns,
//          created only when absent. When WE create them, ids are BIGINT (64-bit; the original
//          uses INT), damage/quantities are BIGINT, and the indexes the scanner needs are added.
//          An existing KillReport table is never altered and gets no index from us: there ids
//          stay INT and an id above 2^31-1 fails with SQLSTATE 22003 (kr::PermanentError).
//          PostgreSQL records the tables we created in kr_created_tables.
// store/2  our own tables: kr_http_cache, kr_pending_entities, kr_killmail_item_children.
// store/3  kr_pending_entities UNLOGGED on PostgreSQL (a hint, see below).
// store/4  kr_entity_outbox (ids to enrich, written with the killmails that reference them) and
//          kr_zkb_sync (each character's zKillboard page chain). Both logged: they are the
//          durable half of worker:zkillboard's page (see worker/zkillboard_worker.hpp).
//
// updated_at is NOT NULL without a default, as in the original: the store always sets it.
// Timestamps: TIMESTAMP(3) (UTC, no time zone, like Prisma) on PostgreSQL, ISO-8601 TEXT on SQLite.
// There is no pre-existing KillReport SQLite database (the original is PostgreSQL only), so there
// every table and index is created with IF NOT EXISTS.
#include "db/migrator.hpp"
#include "store/tables.hpp"

namespace kr::store {

namespace {

constexpr const char* kPgCreatedTables = R"SQL(CREATE TABLE IF NOT EXISTS kr_created_tables (
  table_name TEXT PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
)SQL";

/// PostgreSQL: each original table only when absent (a KillReport database keeps its own), and
/// recorded in kr_created_tables when we created it.
std::string PgOriginalTables() {
    std::string sql = kPgCreatedTables;
    sql += "DO $kr$\nBEGIN\n";
    for (const db::TableDef* t : tables::OriginalTables()) {
        sql += "IF to_regclass('" + t->name + "') IS NULL THEN\n";
        sql += db::CreateTableSql(*t, db::Dialect::kPostgres, /*if_not_exists=*/false);
        sql += "INSERT INTO kr_created_tables (table_name) VALUES ('" + t->name + "');\nEND IF;\n";
    }
    sql += "END\n$kr$;\n";
    return sql;
}

std::string CreateAll(const std::vector<const db::TableDef*>& list, db::Dialect d) {
    std::string sql;
    for (const db::TableDef* t : list) sql += db::CreateTableSql(*t, d);
    return sql;
}

}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {
        {"store", 1, "KillReport tables (created when absent)",
         CreateAll(tables::OriginalTables(), db::Dialect::kSqlite), PgOriginalTables()},
        {"store", 2, "kr_http_cache, kr_pending_entities, kr_killmail_item_children",
         CreateAll(tables::OwnTables(), db::Dialect::kSqlite), CreateAll(tables::OwnTables(), db::Dialect::kPostgres)},
        // "Queued at" marks are a hint (scan:entities skips what was queued recently): no WAL for them
        // halves the cost of marking a scan's ids. After a PostgreSQL crash the table is empty and the
        // next scan queues again what is still missing; the workers skip what is fresh by then.
        {"store", 3, "kr_pending_entities unlogged (PostgreSQL)", "", "ALTER TABLE kr_pending_entities SET UNLOGGED;"},
        {"store", 4, "kr_entity_outbox, kr_zkb_sync", CreateAll(tables::SyncTables(), db::Dialect::kSqlite),
         CreateAll(tables::SyncTables(), db::Dialect::kPostgres)},
    };
}

}  // namespace kr::store
