// Schema migrations of the esi module (see db/migrator.hpp).
//
// kr_rate_state: one row per shared limiter key ("esi", "zkb", "esi:group:<name>"), used by
// esi::DbBudget. Times are unix microseconds (PostgreSQL: the database server's clock). The HTTP
// cache table kr_http_cache belongs to the store module.
#include "db/migrator.hpp"

namespace kr::esi {

namespace {
constexpr const char* kRateState = R"SQL(
CREATE TABLE IF NOT EXISTS kr_rate_state (
    key          TEXT PRIMARY KEY,
    next_at      BIGINT NOT NULL DEFAULT 0,
    paused_until BIGINT NOT NULL DEFAULT 0,
    remaining    BIGINT,
    reset_at     BIGINT NOT NULL DEFAULT 0,
    limit_tokens BIGINT NOT NULL DEFAULT 0,
    window_us    BIGINT NOT NULL DEFAULT 0,
    observed_at  BIGINT NOT NULL DEFAULT 0
);
)SQL";
}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {
        {"esi", 1, "shared rate state (request budget, error limit, rate-limit groups)", kRateState, kRateState},
    };
}

}  // namespace kr::esi
