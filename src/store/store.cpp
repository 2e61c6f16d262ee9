#include "store/store.hpp"

#include "store/pg_store.hpp"
#include "store/sqlite_store.hpp"

namespace kr::store {

std::int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::unique_ptr<Store> OpenStore(const std::string& database_url) {
    auto conn = db::Open(database_url);
    if (conn->GetDialect() == db::Dialect::kPostgres) return std::make_unique<PgStore>(std::move(conn));
    return std::make_unique<SqliteStore>(std::move(conn));
}

}  // namespace kr::store
