#include "db/migrator.hpp"

#include <set>
#include <utility>

#include "core/time_format.hpp"
#include "log/progress.hpp"

namespace kr::db {

namespace {

constexpr std::string_view kCreateMigrationsTable =
    "CREATE TABLE IF NOT EXISTS kr_schema_migrations ("
    " module TEXT NOT NULL, version INTEGER NOT NULL, description TEXT NOT NULL,"
    " applied_at TEXT NOT NULL, PRIMARY KEY (module, version))";
constexpr std::string_view kSelectApplied = "SELECT module, version FROM kr_schema_migrations";
constexpr std::string_view kInsertApplied =
    "INSERT INTO kr_schema_migrations (module, version, description, applied_at) VALUES ($1, $2, $3, $4)";
constexpr std::string_view kPgLock = "SELECT pg_advisory_xact_lock(727274001)";
constexpr std::string_view kPgTableExists = "SELECT to_regclass('public.killmails') IS NOT NULL";
constexpr std::string_view kSqliteTableExists =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'killmails'";
constexpr std::string_view kPgMigrationsExist = "SELECT to_regclass('kr_schema_migrations') IS NOT NULL";
constexpr std::string_view kSqliteMigrationsExist =
    "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kr_schema_migrations'";

std::set<std::pair<std::string, int>> Applied(Connection& conn) {
    std::set<std::pair<std::string, int>> done;
    auto r = conn.Exec(kSelectApplied);
    for (std::size_t i = 0; i < r.Rows(); ++i) done.emplace(r.Text(i, 0), static_cast<int>(r.Int(i, 1)));
    return done;
}

}  // namespace

std::vector<Migration> AllMigrations() {
    std::vector<Migration> all;
    for (auto&& list : {kr::store::SchemaMigrations(), kr::queue::SchemaMigrations(), kr::esi::SchemaMigrations()}) {
        all.insert(all.end(), list.begin(), list.end());
    }
    return all;
}

std::vector<std::string> PendingMigrations(Connection& conn) {
    // Reads only: a database nobody migrated yet has every migration pending.
    const bool pg = conn.GetDialect() == Dialect::kPostgres;
    const bool bookkept = conn.Exec(pg ? kPgMigrationsExist : kSqliteMigrationsExist).Bool(0, 0);
    std::set<std::pair<std::string, int>> done;
    if (bookkept) done = Applied(conn);
    std::vector<std::string> pending;
    for (const auto& m : AllMigrations()) {
        if (!done.count({m.module, m.version})) pending.push_back(m.module + "/" + std::to_string(m.version));
    }
    return pending;
}

MigrateReport Migrate(Connection& conn, const std::string& only_module, const Clock& clock, double progress_every_s) {
    MigrateReport report;
    bool pg = conn.GetDialect() == Dialect::kPostgres;
    {
        Transaction tx(conn);
        if (pg) conn.Exec(kPgLock);
        conn.Exec(kCreateMigrationsTable);
        report.killreport_tables_existed = conn.Exec(pg ? kPgTableExists : kSqliteTableExists).Bool(0, 0);
        tx.Commit();
    }
    // A migration over a big table (an index, a backfill) can take minutes: say how far it is.
    const auto all = AllMigrations();
    log::Progress progress("db:migrate", static_cast<std::int64_t>(all.size()), "steps checked",
                           log::Progress::ForStderr(progress_every_s));
    std::int64_t checked = 0;
    for (const auto& m : all) {
        progress.Set(checked++);
        if (!only_module.empty() && m.module != only_module) continue;
        Transaction tx(conn);
        if (pg) conn.Exec(kPgLock);  // serialise concurrent migrators; re-check under the lock
        auto done = Applied(conn);
        if (done.count({m.module, m.version})) continue;  // tx rolls back (nothing written)
        conn.ExecScript(pg ? m.postgres_sql : m.sqlite_sql);
        conn.Exec(kInsertApplied, {m.module, static_cast<std::int64_t>(m.version), m.description,
                                   IsoUtc(clock.NowMs(), IsoPrecision::kSeconds)});
        tx.Commit();
        report.applied.push_back(m.module + "/" + std::to_string(m.version) + " " + m.description);
    }
    progress.Set(checked);
    return report;
}

}  // namespace kr::db
