// SqlStore, part 6: the refresh scheduler's last runs (kr_refresh_runs), shared by every process on
// the database so that a sweep runs once per cadence whoever runs it (worker/refresh.hpp).
#include "store/sql_store.hpp"

namespace kr::store::detail {

namespace {

/// The sweep's row when it has none ($2 = now); returns the row only when it was created.
constexpr const char* kFirstRefreshRun =
    "INSERT INTO kr_refresh_runs (sweep, last_run_at) VALUES ($1, $2) ON CONFLICT (sweep) DO NOTHING RETURNING sweep";

/// The run is taken when the last one started before $3; returns the row only then.
constexpr const char* kClaimRefreshRun =
    "UPDATE kr_refresh_runs SET last_run_at = $2 WHERE sweep = $1 AND last_run_at < $3 RETURNING sweep";

}  // namespace

bool SqlStore::ClaimRefresh(const std::string& sweep, std::int64_t due_before_ms, bool first_is_due) {
    const std::int64_t now = clock_.NowMs();
    db::Transaction tx(*conn_);
    bool claimed = false;
    if (conn_->Exec(kFirstRefreshRun, {sweep, now}).Rows() == 1) {
        claimed = first_is_due;
    } else {
        claimed = conn_->Exec(kClaimRefreshRun, {sweep, now, due_before_ms}).Rows() == 1;
    }
    tx.Commit();
    return claimed;
}

}  // namespace kr::store::detail
