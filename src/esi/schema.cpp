// Schema migrations of the esi module (see db/migrator.hpp).
//
// kr_rate_state: one row per shared limiter key ("esi", "zkb", "esi:group:<name>"), used by
// esi::DbBudget. kr_rate_permits (esi/2): the window guard's permits, one row per key and permit. kr_rate_demand
// (esi/3): until when new work waits, per key (the refresh share, esi::PermitShare). kr_rate_outage
// (esi/4): ESI's availability for the whole deployment (the downtime gate). kr_rate_spent
// (esi/5): requests sent per key and second. Times are unix
// microseconds (PostgreSQL: the database server's clock). The HTTP cache table kr_http_cache belongs to the store
// module.
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

// The window guard's permits (RateBudget::TakePermit): when each comes free, unix µs.
constexpr const char* kRatePermits = R"SQL(
CREATE TABLE IF NOT EXISTS kr_rate_permits (
    key     TEXT NOT NULL,
    slot    BIGINT NOT NULL,
    free_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key, slot)
);
)SQL";

// The refresh share (RateBudget::MarkDemand): until when new work waits, unix µs.
constexpr const char* kRateDemand = R"SQL(
CREATE TABLE IF NOT EXISTS kr_rate_demand (
    key   TEXT PRIMARY KEY,
    until BIGINT NOT NULL DEFAULT 0
);
)SQL";

// The downtime gate (RateBudget::SuspectOutage …): ESI's availability as the whole deployment sees
// it, per key. state 0 up / 1 suspect / 2 down; the prober's lease; the probe backoff. Unix µs.
constexpr const char* kRateOutage = R"SQL(
CREATE TABLE IF NOT EXISTS kr_rate_outage (
    key           TEXT PRIMARY KEY,
    state         BIGINT NOT NULL DEFAULT 0,
    since         BIGINT NOT NULL DEFAULT 0,
    next_probe    BIGINT NOT NULL DEFAULT 0,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    failed_probes BIGINT NOT NULL DEFAULT 0,
    up_at         BIGINT NOT NULL DEFAULT 0,
    reason        TEXT NOT NULL DEFAULT ''
);
)SQL";

// Requests sent per key and unix second (RateBudget::Spend; `status`'s tokens of the last minute),
// kept for RateBudget::kSpentKeptS seconds.
constexpr const char* kRateSpent = R"SQL(
CREATE TABLE IF NOT EXISTS kr_rate_spent (
    key    TEXT NOT NULL,
    second BIGINT NOT NULL,
    tokens BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (key, second)
);
)SQL";
}  // namespace

std::vector<kr::db::Migration> SchemaMigrations() {
    return {
        {"esi", 1, "shared rate state (request budget, error limit, rate-limit groups)", kRateState, kRateState},
        {"esi", 2, "the window guard's permits (the limit in any window)", kRatePermits, kRatePermits},
        {"esi", 3, "new work's demand (the refresh share of the budget)", kRateDemand, kRateDemand},
        {"esi", 4, "ESI's availability for the whole deployment (the downtime gate)", kRateOutage, kRateOutage},
        {"esi", 5, "requests sent per second (status: tokens used in the last minute)", kRateSpent, kRateSpent},
    };
}

}  // namespace kr::esi
