#include "store/store.hpp"

#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

namespace kr::store {

std::unique_ptr<Store> OpenStore(const std::string& database_url, const Clock& clock) {
    auto conn = db::Open(database_url);
    if (conn->GetDialect() == db::Dialect::kPostgres) return std::make_unique<PgStore>(std::move(conn), clock);
    return std::make_unique<SqliteStore>(std::move(conn), clock);
}

}  // namespace kr::store
