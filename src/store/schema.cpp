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
// store/5  KillReport's universe tables (regions, constellations, solar_systems: the original's
//          columns, INTEGER ids and foreign keys; created only when absent, like store/1's),
//          killmails_solar_system_id_idx (the original's own index: the scan over solar systems),
//          and kr_list_sweeps (where `run`'s sync of ESI's universe lists stands).
// store/6  KillReport's derived tables (killmail_filters, character_kill_stats,
//          corporation_kill_stats, alliance_kill_stats: the original's columns and indexes,
//          created only when absent). Ids are BIGINT when we create them, as in store/1; on
//          SQLite the attacker id arrays are JSON arrays and there is no GIN index.
// store/7  kr_alliance_corporations (each alliance's corporation list as ESI gave it last: what
//          worker:alliance-corporations compares with corporations.alliance_id on a 304).
// store/8  kr_worker_status (each worker's heartbeat, counters and last error: what `status` reads).
// store/9  kr_live_cursor (worker:redisq: where the R2Z2 feed stands and which process holds it).
// store/10 kr_refresh_runs (the refresh scheduler: when each sweep last ran, shared by processes).
//
// updated_at is NOT NULL without a default, as in the original: the store always sets it.
// Timestamps: TIMESTAMP(3) (UTC, no time zone, like Prisma) on PostgreSQL, ISO-8601 TEXT on SQLite.
// There is no pre-existing KillReport SQLite database (the original is PostgreSQL only), so there
// every table and index is created with IF NOT EXISTS.
#include "db/migrator.hpp"
#include "store/tables.hpp"

namespace kr::store {

namespace {

const std::string kPgCreatedTables = R"SQL(CREATE TABLE IF NOT EXISTS kr_created_tables (
  table_name TEXT PRIMARY KEY,
  created_at TIMESTAMP(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);
)SQL";

/// The statements of store/N, from the table definitions (db::MigrationSql).
std::string Sql(int version, db::Dialect d) { return db::MigrationSql(tables::AllTables(), version, d); }

}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {
        {"store", 1, "KillReport tables (created when absent)", Sql(1, db::Dialect::kSqlite),
         kPgCreatedTables + Sql(1, db::Dialect::kPostgres)},
        {"store", 2, "kr_http_cache, kr_pending_entities, kr_killmail_item_children", Sql(2, db::Dialect::kSqlite),
         Sql(2, db::Dialect::kPostgres)},
        // "Queued at" marks are a hint (scan:entities skips what was queued recently): no WAL for them
        // halves the cost of marking a scan's ids. After a PostgreSQL crash the table is empty and the
        // next scan queues again what is still missing; the workers skip what is fresh by then.
        {"store", 3, "kr_pending_entities unlogged (PostgreSQL)", "", "ALTER TABLE kr_pending_entities SET UNLOGGED;"},
        {"store", 4, "kr_entity_outbox, kr_zkb_sync", Sql(4, db::Dialect::kSqlite), Sql(4, db::Dialect::kPostgres)},
        {"store", 5, "regions, constellations, solar_systems (created when absent), kr_list_sweeps",
         Sql(5, db::Dialect::kSqlite), Sql(5, db::Dialect::kPostgres)},
        {"store", 6, "killmail_filters and the kill stats (created when absent)", Sql(6, db::Dialect::kSqlite),
         Sql(6, db::Dialect::kPostgres)},
        {"store", 7, "kr_alliance_corporations", Sql(7, db::Dialect::kSqlite), Sql(7, db::Dialect::kPostgres)},
        {"store", 8, "kr_worker_status (status: heartbeats, rates, last errors)", Sql(8, db::Dialect::kSqlite),
         Sql(8, db::Dialect::kPostgres)},
        {"store", 9, "kr_live_cursor", Sql(9, db::Dialect::kSqlite), Sql(9, db::Dialect::kPostgres)},
        {"store", 10, "kr_refresh_runs", Sql(10, db::Dialect::kSqlite), Sql(10, db::Dialect::kPostgres)},
    };
}

}  // namespace kr::store
