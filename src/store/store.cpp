#include "store/store.hpp"

#include "store/pg_store.hpp"
#include "store/reconnecting_store.hpp"
#include "store/sqlite_store.hpp"

namespace kr::store {

std::unique_ptr<Store> OpenStore(const std::string& database_url, const Clock& clock, StoreOptions options) {
    auto conn = db::Open(database_url);
    if (conn->GetDialect() == db::Dialect::kPostgres) {
        // A server can drop the connection under any operation: it is done again on a new one.
        auto pg = std::make_unique<PgStore>(std::move(conn), clock, options);
        auto* raw = pg.get();
        return std::make_unique<ReconnectingStore>(std::move(pg), [raw] { return raw->ConnectionLost(); });
    }
    return std::make_unique<SqliteStore>(std::move(conn), clock, options);
}

}  // namespace kr::store
