#pragma once
// Versioned, idempotent schema migrations. Each module contributes its own list (store: the
// original KillReport tables + our store tables; queue: the database queue; esi: HTTP cache and
// shared rate state). Applied versions are recorded per module in kr_schema_migrations; each
// migration runs in its own transaction, and concurrent migrators are serialised (PostgreSQL:
// advisory lock; SQLite: BEGIN IMMEDIATE).
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "db/connection.hpp"

namespace kr::db {

struct Migration {
    std::string module;  ///< "store", "queue", "esi"
    int version = 0;     ///< 1, 2, … within the module; never renumber a released one
    std::string description;
    std::string sqlite_sql;  ///< script (several statements allowed)
    std::string postgres_sql;
};

struct MigrateReport {
    std::vector<std::string> applied;  ///< "store/1 original tables", …
    bool killreport_tables_existed = false;
};

/// Every module's migrations, in apply order.
std::vector<Migration> AllMigrations();

/// Applies what is missing. Safe to run again and against a database that already holds
/// KillReport's tables (those are only created when absent, never altered).
/// `only_module` limits it to one module's migrations (a component that needs just its own tables).
/// `clock` dates the kr_schema_migrations rows. Progress lines (log/progress.hpp) every
/// `progress_every_s` when stderr is not a terminal (KILLREPORT_PROGRESS_EVERY).
MigrateReport Migrate(Connection& conn, const std::string& only_module = {},
                      const Clock& clock = SystemClock::Instance(), double progress_every_s = 10);

/// Migrations that are known but not applied yet (empty = the schema is current). Writes nothing.
std::vector<std::string> PendingMigrations(Connection& conn);

}  // namespace kr::db

namespace kr::store {
std::vector<kr::db::Migration> SchemaMigrations();
}
namespace kr::queue {
std::vector<kr::db::Migration> SchemaMigrations();
}
namespace kr::esi {
std::vector<kr::db::Migration> SchemaMigrations();
}
