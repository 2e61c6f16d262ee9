#include "esi/rate_budget.hpp"

#include <algorithm>
#include <limits>

#include "core/errors.hpp"
#include "db/connection.hpp"

namespace kr::esi {

namespace {
constexpr std::int64_t kSameWindowSlackUs = 1'500'000;  // Reset is whole seconds: reports jitter by ≤ 1 s
}

void MergeObservation(RateState& s, const Observation& obs, std::int64_t now_us) {
    if (obs.pause_for_us > 0) s.paused_until_us = std::max(s.paused_until_us, now_us + obs.pause_for_us);
    if (obs.remaining) {
        const std::int64_t new_reset = obs.reset_in_us > 0 ? now_us + obs.reset_in_us : 0;
        const bool replace =
            !s.remaining || new_reset == 0 || s.reset_at_us <= now_us || new_reset > s.reset_at_us + kSameWindowSlackUs;
        if (replace) {
            s.remaining = obs.remaining;
            s.reset_at_us = new_reset;
        } else {
            s.remaining = std::min(*s.remaining, *obs.remaining);
            s.reset_at_us = std::max(s.reset_at_us, new_reset);
        }
        s.observed_at_us = now_us;
    }
    if (obs.limit > 0) s.limit = obs.limit;
    if (obs.window_us > 0) s.window_us = obs.window_us;
}

// ---- InProcessBudget ------------------------------------------------------------------------------

SlotGrant InProcessBudget::Reserve(const std::string& key, std::int64_t interval_us, int count) {
    std::lock_guard lock(mu_);
    Row& r = rows_[key];
    const std::int64_t now = clock_.NowUs();
    count = std::max(1, count);
    SlotGrant g;
    g.first_us = std::max({r.next_at, now, r.s.paused_until_us});
    g.interval_us = interval_us;
    g.count = count;
    r.next_at = g.first_us + interval_us * count;
    g.state = r.s;
    return g;
}

RateState InProcessBudget::Load(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = rows_.find(key);
    return it == rows_.end() ? RateState{} : it->second.s;
}

std::vector<std::string> InProcessBudget::Keys() {
    std::lock_guard lock(mu_);
    std::vector<std::string> out;
    for (const auto& [key, row] : rows_) out.push_back(key);
    return out;
}

RateState InProcessBudget::Observe(const std::string& key, const Observation& obs) {
    std::lock_guard lock(mu_);
    Row& r = rows_[key];
    MergeObservation(r.s, obs, clock_.NowUs());
    return r.s;
}

PermitGrant InProcessBudget::TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                                        const PermitShare& share) {
    std::lock_guard lock(mu_);
    auto& free_at = permits_[key];
    count = std::max(1, count);
    if (free_at.size() < static_cast<std::size_t>(count)) free_at.resize(static_cast<std::size_t>(count), 0);
    const std::int64_t now = clock_.NowUs();
    const int reserved = share.enabled ? std::clamp(share.refresh_permits, 0, count) : 0;
    const std::int64_t demand = share.enabled && share.refresh ? demand_[share.demand_key] : 0;
    PermitGrant g;
    g.limited = demand > now;
    const int allowed = g.limited ? reserved : count;  // the slots this request may take
    // The order of the statements: new work takes the share's permits last; then the earliest free.
    auto rank = [&](int slot) {
        return std::make_pair(!share.refresh && slot < reserved ? 1 : 0, free_at[static_cast<std::size_t>(slot)]);
    };
    int best = -1;
    std::int64_t first_free = std::numeric_limits<std::int64_t>::max();
    for (int slot = 0; slot < allowed; ++slot) {
        const std::int64_t t = free_at[static_cast<std::size_t>(slot)];
        first_free = std::min(first_free, t);
        if (t <= now && (best < 0 || rank(slot) < rank(best))) best = slot;
    }
    if (best < 0) {
        // Limited: also when new work stops waiting (then every permit is the request's).
        g.retry_at_us = g.limited ? std::min(first_free, demand) : first_free;
        return g;
    }
    free_at[static_cast<std::size_t>(best)] = now + max_hold_us;
    g.permit = best;
    return g;
}

void InProcessBudget::ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) {
    std::lock_guard lock(mu_);
    auto& free_at = permits_[key];
    if (permit >= 0 && static_cast<std::size_t>(permit) < free_at.size()) {
        free_at[static_cast<std::size_t>(permit)] = clock_.NowUs() + window_us;
    }
}

void InProcessBudget::MarkDemand(const std::string& key, std::int64_t for_us) {
    std::lock_guard lock(mu_);
    auto& until = demand_[key];
    until = std::max(until, clock_.NowUs() + for_us);
}

std::int64_t InProcessBudget::DemandUntil(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = demand_.find(key);
    return it == demand_.end() ? 0 : it->second;
}

OutageState InProcessBudget::LoadOutage(const std::string& key) {
    std::lock_guard lock(mu_);
    auto it = outages_.find(key);
    return it == outages_.end() ? OutageState{} : it->second;
}

OutageState InProcessBudget::SuspectOutage(const std::string& key, const std::string& reason,
                                           std::int64_t unless_up_since_us) {
    std::lock_guard lock(mu_);
    OutageState& o = outages_[key];
    o.changed = false;
    const std::int64_t now = clock_.NowUs();
    if (o.state == Availability::kUp && o.up_at_us < unless_up_since_us) {
        o.state = Availability::kSuspect;
        o.since_us = now;
        o.next_probe_us = 0;
        o.failed_probes = 0;
        o.reason = reason;
        o.changed = true;
    }
    OutageState out = o;
    o.changed = false;
    return out;
}

bool InProcessBudget::TakeProbeLease(const std::string& key, std::int64_t lease_us) {
    std::lock_guard lock(mu_);
    OutageState& o = outages_[key];
    const std::int64_t now = clock_.NowUs();
    if (o.state == Availability::kUp || o.next_probe_us > now || o.lease_until_us > now) return false;
    o.lease_until_us = now + lease_us;
    return true;
}

OutageState InProcessBudget::ProbeAnswered(const std::string& key, bool up, std::int64_t first_backoff_us,
                                           std::int64_t max_backoff_us) {
    std::lock_guard lock(mu_);
    OutageState& o = outages_[key];
    const std::int64_t now = clock_.NowUs();
    if (up) {
        o = OutageState{};
        o.up_at_us = now;
    } else if (o.state != Availability::kUp) {
        o.state = Availability::kDown;
        o.lease_until_us = 0;
        o.next_probe_us =
            now + std::min(max_backoff_us, first_backoff_us << std::min<std::int64_t>(o.failed_probes, 20));
        ++o.failed_probes;
    }
    return o;
}

void InProcessBudget::Spend(const std::string& key, std::int64_t tokens) {
    std::lock_guard lock(mu_);
    const std::int64_t second = clock_.NowUs() / 1'000'000;
    auto& buckets = spent_[key];
    buckets[second] += tokens;
    buckets.erase(buckets.begin(), buckets.lower_bound(second - kSpentKeptS));
}

std::int64_t InProcessBudget::Spent(const std::string& key, std::int64_t seconds) {
    std::lock_guard lock(mu_);
    auto it = spent_.find(key);
    if (it == spent_.end()) return 0;
    std::int64_t sum = 0;
    for (auto b = it->second.lower_bound(clock_.NowUs() / 1'000'000 - seconds + 1); b != it->second.end(); ++b)
        sum += b->second;
    return sum;
}

// ---- DbBudget -------------------------------------------------------------------------------------
//
// PostgreSQL computes "now" itself (one timeline for all machines); SQLite gets the caller's clock
// (one machine). Both mirror MergeObservation().

namespace {

constexpr std::string_view kEnsurePg = "INSERT INTO kr_rate_state (key) VALUES ($1) ON CONFLICT (key) DO NOTHING";
constexpr std::string_view kEnsureSqlite = "INSERT INTO kr_rate_state (key) VALUES ($1) ON CONFLICT (key) DO NOTHING";

constexpr std::string_view kReservePg =
    "WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now) "
    "UPDATE kr_rate_state SET next_at = greatest(kr_rate_state.next_at, c.now, kr_rate_state.paused_until)"
    " + $2::bigint * $3::bigint FROM c WHERE kr_rate_state.key = $1 "
    "RETURNING kr_rate_state.next_at - $2::bigint * $3::bigint, kr_rate_state.paused_until, kr_rate_state.remaining,"
    " kr_rate_state.reset_at, kr_rate_state.limit_tokens, kr_rate_state.window_us, kr_rate_state.observed_at, c.now";
constexpr std::string_view kReserveSqlite =
    "UPDATE kr_rate_state SET next_at = max(next_at, $4, paused_until) + $2 * $3 WHERE key = $1 "
    "RETURNING next_at - $2 * $3, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at, $4";

constexpr std::string_view kLoadPg =
    "SELECT 0, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at,"
    " (extract(epoch FROM clock_timestamp()) * 1000000)::bigint FROM kr_rate_state WHERE key = $1";
constexpr std::string_view kLoadSqlite =
    "SELECT 0, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at, $2"
    " FROM kr_rate_state WHERE key = $1";

// $1 key, $2 remaining (NULL = none), $3 reset_in_us, $4 limit, $5 window_us, $6 pause_for_us
constexpr std::string_view kObservePg =
    "WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now) "
    "INSERT INTO kr_rate_state (key, next_at, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at) "
    "SELECT $1, 0, CASE WHEN $6::bigint > 0 THEN c.now + $6::bigint ELSE 0 END, $2::bigint,"
    " CASE WHEN $2::bigint IS NOT NULL AND $3::bigint > 0 THEN c.now + $3::bigint ELSE 0 END,"
    " $4::bigint, $5::bigint, CASE WHEN $2::bigint IS NOT NULL THEN c.now ELSE 0 END FROM c "
    "ON CONFLICT (key) DO UPDATE SET "
    " paused_until = greatest(kr_rate_state.paused_until, excluded.paused_until),"
    " remaining = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.remaining"
    "   WHEN kr_rate_state.remaining IS NULL OR excluded.reset_at = 0 OR kr_rate_state.reset_at <= excluded.observed_at"
    "     OR excluded.reset_at > kr_rate_state.reset_at + 1500000 THEN excluded.remaining"
    "   ELSE least(kr_rate_state.remaining, excluded.remaining) END,"
    " reset_at = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.reset_at"
    "   WHEN kr_rate_state.remaining IS NULL OR excluded.reset_at = 0 OR kr_rate_state.reset_at <= excluded.observed_at"
    "     OR excluded.reset_at > kr_rate_state.reset_at + 1500000 THEN excluded.reset_at"
    "   ELSE greatest(kr_rate_state.reset_at, excluded.reset_at) END,"
    " limit_tokens = CASE WHEN excluded.limit_tokens > 0 THEN excluded.limit_tokens ELSE kr_rate_state.limit_tokens "
    "END,"
    " window_us = CASE WHEN excluded.window_us > 0 THEN excluded.window_us ELSE kr_rate_state.window_us END,"
    " observed_at = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.observed_at ELSE excluded.observed_at END "
    "RETURNING 0, kr_rate_state.paused_until, kr_rate_state.remaining, kr_rate_state.reset_at,"
    " kr_rate_state.limit_tokens, kr_rate_state.window_us, kr_rate_state.observed_at, (SELECT now FROM c)";
// $7 now
constexpr std::string_view kObserveSqlite =
    "INSERT INTO kr_rate_state (key, next_at, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at) "
    "VALUES ($1, 0, CASE WHEN $6 > 0 THEN $7 + $6 ELSE 0 END, $2,"
    " CASE WHEN $2 IS NOT NULL AND $3 > 0 THEN $7 + $3 ELSE 0 END, $4, $5, CASE WHEN $2 IS NOT NULL THEN $7 ELSE 0 "
    "END) "
    "ON CONFLICT (key) DO UPDATE SET "
    " paused_until = max(kr_rate_state.paused_until, excluded.paused_until),"
    " remaining = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.remaining"
    "   WHEN kr_rate_state.remaining IS NULL OR excluded.reset_at = 0 OR kr_rate_state.reset_at <= excluded.observed_at"
    "     OR excluded.reset_at > kr_rate_state.reset_at + 1500000 THEN excluded.remaining"
    "   ELSE min(kr_rate_state.remaining, excluded.remaining) END,"
    " reset_at = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.reset_at"
    "   WHEN kr_rate_state.remaining IS NULL OR excluded.reset_at = 0 OR kr_rate_state.reset_at <= excluded.observed_at"
    "     OR excluded.reset_at > kr_rate_state.reset_at + 1500000 THEN excluded.reset_at"
    "   ELSE max(kr_rate_state.reset_at, excluded.reset_at) END,"
    " limit_tokens = CASE WHEN excluded.limit_tokens > 0 THEN excluded.limit_tokens ELSE kr_rate_state.limit_tokens "
    "END,"
    " window_us = CASE WHEN excluded.window_us > 0 THEN excluded.window_us ELSE kr_rate_state.window_us END,"
    " observed_at = CASE WHEN excluded.remaining IS NULL THEN kr_rate_state.observed_at ELSE excluded.observed_at END "
    "RETURNING 0, paused_until, remaining, reset_at, limit_tokens, window_us, observed_at, $7";

/// Row → (first slot, state) in the caller's clock; offset = database clock − local clock.
SlotGrant FromRow(const db::Result& r, std::int64_t offset) {
    auto local = [&](std::int64_t t) { return t == 0 ? 0 : t - offset; };
    SlotGrant g;
    g.first_us = local(r.Int(0, 0));
    g.state.paused_until_us = local(r.Int(0, 1));
    g.state.remaining = r.OptInt(0, 2);
    g.state.reset_at_us = local(r.Int(0, 3));
    g.state.limit = r.Int(0, 4);
    g.state.window_us = r.Int(0, 5);
    g.state.observed_at_us = local(r.Int(0, 6));
    return g;
}

constexpr std::string_view kKeys = "SELECT key FROM kr_rate_state ORDER BY key";

// The window guard's permits (kr_rate_permits): $1 key, $2 count, $3 max hold / window (µs).
constexpr std::string_view kTakePermitPg =
    "WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now),"
    " pick AS (SELECT slot FROM kr_rate_permits WHERE key = $1 AND slot < $2"
    "   AND free_at <= (SELECT now FROM c) ORDER BY free_at, slot LIMIT 1 FOR UPDATE SKIP LOCKED) "
    "UPDATE kr_rate_permits AS p SET free_at = c.now + $3::bigint FROM pick, c"
    " WHERE p.key = $1 AND p.slot = pick.slot RETURNING p.slot";
// $4 now
constexpr std::string_view kTakePermitSqlite =
    "UPDATE kr_rate_permits SET free_at = $4 + $3 WHERE key = $1 AND slot = (SELECT slot FROM kr_rate_permits"
    " WHERE key = $1 AND slot < $2 AND free_at <= $4 ORDER BY free_at, slot LIMIT 1) RETURNING slot";
constexpr std::string_view kEnsurePermitsPg =
    "INSERT INTO kr_rate_permits (key, slot, free_at) SELECT $1, g, 0 FROM generate_series(0, $2::bigint - 1) AS g"
    " ON CONFLICT (key, slot) DO NOTHING";
constexpr std::string_view kEnsurePermitsSqlite =
    "WITH RECURSIVE g(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM g WHERE n + 1 < $2) "
    "INSERT INTO kr_rate_permits (key, slot, free_at) SELECT $1, n, 0 FROM g WHERE true"
    " ON CONFLICT (key, slot) DO NOTHING";
constexpr std::string_view kFirstFreePermit =
    "SELECT min(free_at), count(*) FROM kr_rate_permits WHERE key = $1 AND slot < $2";
constexpr std::string_view kReleasePermitPg =
    "UPDATE kr_rate_permits SET free_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint + $3::bigint"
    " WHERE key = $1 AND slot = $2";
// $4 now
constexpr std::string_view kReleasePermitSqlite =
    "UPDATE kr_rate_permits SET free_at = $4 + $3 WHERE key = $1 AND slot = $2";

// The refresh share (PermitShare): $4 refresh_permits, $5 refresh (1/0), $6 demand key. The slots a
// request may take: a refresh request while the demand key is marked, the share's; else all. New
// work orders the share's last. Returns the slot and whether the request was held to the share.
constexpr std::string_view kTakeSharedPermitPg =
    "WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now),"
    " b AS (SELECT CASE WHEN $5::bigint = 1 AND coalesce((SELECT until FROM kr_rate_demand WHERE key = $6), 0)"
    "   > c.now THEN 1 ELSE 0 END AS limited FROM c),"
    " pick AS (SELECT p.slot FROM kr_rate_permits AS p, b WHERE p.key = $1"
    "   AND p.slot < CASE WHEN b.limited = 1 THEN $4::bigint ELSE $2::bigint END"
    "   AND p.free_at <= (SELECT now FROM c)"
    "   ORDER BY CASE WHEN $5::bigint = 0 AND p.slot < $4::bigint THEN 1 ELSE 0 END, p.free_at, p.slot"
    "   LIMIT 1 FOR UPDATE OF p SKIP LOCKED) "
    "UPDATE kr_rate_permits AS p SET free_at = c.now + $3::bigint FROM pick, c"
    " WHERE p.key = $1 AND p.slot = pick.slot RETURNING p.slot, (SELECT limited FROM b)";
// $7 now
constexpr std::string_view kTakeSharedPermitSqlite =
    "UPDATE kr_rate_permits SET free_at = $7 + $3 WHERE key = $1 AND slot = (SELECT slot FROM kr_rate_permits"
    " WHERE key = $1 AND free_at <= $7 AND slot < CASE WHEN $5 = 1 AND"
    "   coalesce((SELECT until FROM kr_rate_demand WHERE key = $6), 0) > $7 THEN $4 ELSE $2 END"
    " ORDER BY CASE WHEN $5 = 0 AND slot < $4 THEN 1 ELSE 0 END, free_at, slot LIMIT 1)"
    " RETURNING slot, CASE WHEN $5 = 1 AND coalesce((SELECT until FROM kr_rate_demand WHERE key = $6), 0) > $7"
    " THEN 1 ELSE 0 END";
// New work waits: $1 key, $2 for how long (µs). Only ever extended.
constexpr std::string_view kMarkDemandPg =
    "INSERT INTO kr_rate_demand (key, until) VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    " + $2::bigint) ON CONFLICT (key) DO UPDATE SET until = greatest(kr_rate_demand.until, excluded.until)";
// $3 now
constexpr std::string_view kMarkDemandSqlite =
    "INSERT INTO kr_rate_demand (key, until) VALUES ($1, $3 + $2)"
    " ON CONFLICT (key) DO UPDATE SET until = max(kr_rate_demand.until, excluded.until)";
constexpr std::string_view kDemandUntil = "SELECT until FROM kr_rate_demand WHERE key = $1";
constexpr std::string_view kFirstFreePermitOf = "SELECT min(free_at) FROM kr_rate_permits WHERE key = $1 AND slot < $2";

// The downtime gate (kr_rate_outage). Times in the database's clock on PostgreSQL.
constexpr std::string_view kEnsureOutage = "INSERT INTO kr_rate_outage (key) VALUES ($1) ON CONFLICT (key) DO NOTHING";
constexpr std::string_view kLoadOutage =
    "SELECT state, since, next_probe, lease_until, failed_probes, up_at, reason FROM kr_rate_outage WHERE key = $1";
// $1 key, $2 reason, $3 unless up since
constexpr std::string_view kSuspectOutagePg =
    "UPDATE kr_rate_outage SET state = 1, since = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,"
    " next_probe = 0, failed_probes = 0, reason = $2 WHERE key = $1 AND state = 0 AND up_at < $3::bigint"
    " RETURNING key";
// $4 now
constexpr std::string_view kSuspectOutageSqlite =
    "UPDATE kr_rate_outage SET state = 1, since = $4, next_probe = 0, failed_probes = 0, reason = $2"
    " WHERE key = $1 AND state = 0 AND up_at < $3 RETURNING key";
// $1 key, $2 lease (µs). One statement: of the processes that race for it, one gets it.
constexpr std::string_view kTakeLeasePg =
    "WITH c AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now) "
    "UPDATE kr_rate_outage SET lease_until = c.now + $2::bigint FROM c WHERE key = $1 AND state <> 0"
    " AND next_probe <= c.now AND lease_until <= c.now RETURNING key";
// $3 now
constexpr std::string_view kTakeLeaseSqlite =
    "UPDATE kr_rate_outage SET lease_until = $3 + $2 WHERE key = $1 AND state <> 0 AND next_probe <= $3"
    " AND lease_until <= $3 RETURNING key";
constexpr std::string_view kProbeUpPg =
    "UPDATE kr_rate_outage SET state = 0, since = 0, next_probe = 0, lease_until = 0, failed_probes = 0,"
    " reason = '', up_at = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint WHERE key = $1";
// $2 now
constexpr std::string_view kProbeUpSqlite =
    "UPDATE kr_rate_outage SET state = 0, since = 0, next_probe = 0, lease_until = 0, failed_probes = 0,"
    " reason = '', up_at = $2 WHERE key = $1";
// $2 first backoff, $3 max backoff: the first doubled after each failed probe (as InProcessBudget)
constexpr std::string_view kProbeDownPg =
    "UPDATE kr_rate_outage SET state = 2, lease_until = 0, failed_probes = failed_probes + 1,"
    " next_probe = (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
    " + least($3::bigint, $2::bigint << least(failed_probes, 20)::integer) WHERE key = $1 AND state <> 0";
// $4 now
constexpr std::string_view kProbeDownSqlite =
    "UPDATE kr_rate_outage SET state = 2, lease_until = 0, failed_probes = failed_probes + 1,"
    " next_probe = $4 + min($3, $2 << min(failed_probes, 20)) WHERE key = $1 AND state <> 0";
// Spent tokens: $1 key, $2 tokens ($3 the caller's unix second on SQLite; PostgreSQL's own clock).
constexpr std::string_view kSpendPg =
    "INSERT INTO kr_rate_spent (key, second, tokens) VALUES ($1, floor(extract(epoch FROM clock_timestamp()))::bigint,"
    " $2) ON CONFLICT (key, second) DO UPDATE SET tokens = kr_rate_spent.tokens + excluded.tokens";
constexpr std::string_view kSpendSqlite =
    "INSERT INTO kr_rate_spent (key, second, tokens) VALUES ($1, $3, $2)"
    " ON CONFLICT (key, second) DO UPDATE SET tokens = kr_rate_spent.tokens + excluded.tokens";
// $1 key, $2 seconds kept ($3 the caller's unix second on SQLite).
constexpr std::string_view kPruneSpentPg =
    "DELETE FROM kr_rate_spent WHERE key = $1 AND second < floor(extract(epoch FROM clock_timestamp()))::bigint - $2";
constexpr std::string_view kPruneSpentSqlite = "DELETE FROM kr_rate_spent WHERE key = $1 AND second < $3 - $2";
// $1 key, $2 seconds ($3 the caller's unix second on SQLite).
constexpr std::string_view kSpentPg =
    "SELECT coalesce(sum(tokens), 0) FROM kr_rate_spent WHERE key = $1"
    " AND second > floor(extract(epoch FROM clock_timestamp()))::bigint - $2";
constexpr std::string_view kSpentSqlite =
    "SELECT coalesce(sum(tokens), 0) FROM kr_rate_spent WHERE key = $1 AND second > $3 - $2";

constexpr std::string_view kPingPg = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";
constexpr std::int64_t kRecalibrateUs = 10'000'000;

}  // namespace

DbBudget::DbBudget(std::string db_url, Clock& clock) : url_(std::move(db_url)), clock_(clock) {
    std::lock_guard lock(mu_);
    OffsetUs();
}

DbBudget::~DbBudget() = default;

db::Connection& DbBudget::Conn() {
    if (!conn_) {
        conn_ = db::Open(url_);
        offset_at_us_ = 0;  // recalibrate on a new connection
    }
    return *conn_;
}

std::int64_t DbBudget::OffsetUs() {
    auto& c = Conn();
    if (c.GetDialect() != db::Dialect::kPostgres) return 0;  // SQLite: the caller's clock is the clock
    const std::int64_t now = clock_.NowUs();
    if (offset_at_us_ != 0 && now - offset_at_us_ < kRecalibrateUs) return offset_us_;
    // NTP-style: of a few pings keep the one with the shortest round trip (error ≤ RTT / 2).
    std::int64_t best_rtt = -1;
    for (int i = 0; i < 5; ++i) {
        const std::int64_t before = clock_.NowUs();
        db::Result r = c.Exec(kPingPg);
        const std::int64_t after = clock_.NowUs();
        if (best_rtt < 0 || after - before < best_rtt) {
            best_rtt = after - before;
            offset_us_ = r.Int(0, 0) - (before + (after - before) / 2);
        }
    }
    offset_at_us_ = clock_.NowUs();
    return offset_us_;
}

template <typename F>
auto DbBudget::Guarded(F&& f) -> decltype(f()) {
    std::lock_guard lock(mu_);
    try {
        return f();
    } catch (const TransientError&) {
        conn_.reset();  // reconnect next time
        throw;
    }
}

SlotGrant DbBudget::Reserve(const std::string& key, std::int64_t interval_us, int count) {
    count = std::max(1, count);
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        for (int round = 0; round < 2; ++round) {
            const std::int64_t offset = OffsetUs();
            db::Result r = pg ? c.Exec(kReservePg, {key, interval_us, std::int64_t{count}})
                              : c.Exec(kReserveSqlite, {key, interval_us, std::int64_t{count}, clock_.NowUs()});
            if (r.Rows() == 1) {
                SlotGrant g = FromRow(r, offset);
                g.interval_us = interval_us;
                g.count = count;
                return g;
            }
            c.Exec(pg ? kEnsurePg : kEnsureSqlite, {key});
        }
        throw FatalError("kr_rate_state: could not create row '" + key + "'");
    });
}

RateState DbBudget::Load(const std::string& key) {
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        const std::int64_t offset = OffsetUs();
        db::Result r = pg ? c.Exec(kLoadPg, {key}) : c.Exec(kLoadSqlite, {key, clock_.NowUs()});
        if (r.Rows() == 0) return RateState{};
        return FromRow(r, offset).state;
    });
}

RateState DbBudget::Observe(const std::string& key, const Observation& obs) {
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        std::vector<db::Param> params{key,       db::Opt(obs.remaining), obs.reset_in_us,
                                      obs.limit, obs.window_us,          obs.pause_for_us};
        const std::int64_t offset = OffsetUs();
        if (!pg) params.emplace_back(clock_.NowUs());
        db::Result r = c.Exec(pg ? kObservePg : kObserveSqlite, params);
        return FromRow(r, offset).state;
    });
}

std::vector<std::string> DbBudget::Keys() {
    return Guarded([&] {
        auto r = Conn().Exec(kKeys);
        std::vector<std::string> out;
        for (std::size_t i = 0; i < r.Rows(); ++i) out.push_back(r.Text(i, 0));
        return out;
    });
}

PermitGrant DbBudget::TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                                 const PermitShare& share) {
    count = std::max(1, count);
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        const std::int64_t n = count;
        const std::int64_t reserved = std::clamp<std::int64_t>(share.refresh_permits, 0, n);
        for (int round = 0; round < 2; ++round) {
            const std::int64_t offset = OffsetUs();
            db::Result r;
            if (!share.enabled) {
                r = pg ? c.Exec(kTakePermitPg, {key, n, max_hold_us})
                       : c.Exec(kTakePermitSqlite, {key, n, max_hold_us, clock_.NowUs()});
            } else {
                std::vector<db::Param> params{
                    key, n, max_hold_us, reserved, std::int64_t{share.refresh ? 1 : 0}, share.demand_key};
                if (!pg) params.emplace_back(clock_.NowUs());
                r = c.Exec(pg ? kTakeSharedPermitPg : kTakeSharedPermitSqlite, params);
            }
            PermitGrant g;
            if (r.Rows() == 1) {
                g.permit = r.Int(0, 0);
                g.limited = share.enabled && r.Int(0, 1) == 1;
                return g;
            }
            db::Result f = c.Exec(kFirstFreePermit, {key, n});
            if (f.Int(0, 1) >= n) {  // all there, none free (for this request)
                g.retry_at_us = f.Int(0, 0) - offset;
                if (share.enabled && share.refresh) {
                    // Held to the share while new work waits: its first free permit, or the end of
                    // the wait (then every permit is the request's), whichever comes first.
                    db::Result d = c.Exec(kDemandUntil, {share.demand_key});
                    const std::int64_t until = d.Rows() == 1 ? d.Int(0, 0) - offset : 0;
                    const std::int64_t now = clock_.NowUs();
                    if (until > now) {
                        g.limited = true;
                        g.retry_at_us = until;
                        if (reserved > 0) {
                            db::Result s = c.Exec(kFirstFreePermitOf, {key, reserved});
                            if (s.Rows() == 1 && !s.IsNull(0, 0)) g.retry_at_us = std::min(until, s.Int(0, 0) - offset);
                        }
                    }
                }
                return g;
            }
            c.Exec(pg ? kEnsurePermitsPg : kEnsurePermitsSqlite, {key, n});
        }
        throw FatalError("kr_rate_permits: could not create the permits of '" + key + "'");
    });
}

void DbBudget::ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) {
    Guarded([&] {
        auto& c = Conn();
        if (c.GetDialect() == db::Dialect::kPostgres) {
            c.Exec(kReleasePermitPg, {key, permit, window_us});
        } else {
            c.Exec(kReleasePermitSqlite, {key, permit, window_us, clock_.NowUs()});
        }
        return 0;
    });
}

void DbBudget::MarkDemand(const std::string& key, std::int64_t for_us) {
    Guarded([&] {
        auto& c = Conn();
        if (c.GetDialect() == db::Dialect::kPostgres) {
            c.Exec(kMarkDemandPg, {key, for_us});
        } else {
            c.Exec(kMarkDemandSqlite, {key, for_us, clock_.NowUs()});
        }
        return 0;
    });
}

std::int64_t DbBudget::DemandUntil(const std::string& key) {
    return Guarded([&] {
        auto& c = Conn();
        const std::int64_t offset = OffsetUs();
        db::Result r = c.Exec(kDemandUntil, {key});
        return r.Rows() == 1 && r.Int(0, 0) != 0 ? r.Int(0, 0) - offset : std::int64_t{0};
    });
}

OutageState DbBudget::LoadOutageLocked(const std::string& key) {
    auto& c = Conn();
    const std::int64_t offset = OffsetUs();
    db::Result r = c.Exec(kLoadOutage, {key});
    OutageState o;
    if (r.Rows() == 0) return o;
    auto local = [&](std::int64_t t) { return t == 0 ? 0 : t - offset; };
    o.state = static_cast<Availability>(std::clamp<std::int64_t>(r.Int(0, 0), 0, 2));
    o.since_us = local(r.Int(0, 1));
    o.next_probe_us = local(r.Int(0, 2));
    o.lease_until_us = local(r.Int(0, 3));
    o.failed_probes = r.Int(0, 4);
    o.up_at_us = local(r.Int(0, 5));
    o.reason = r.Text(0, 6);
    return o;
}

OutageState DbBudget::LoadOutage(const std::string& key) {
    return Guarded([&] { return LoadOutageLocked(key); });
}

OutageState DbBudget::SuspectOutage(const std::string& key, const std::string& reason,
                                    std::int64_t unless_up_since_us) {
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        c.Exec(kEnsureOutage, {key});
        const std::int64_t unless = unless_up_since_us + OffsetUs();  // the database's clock
        db::Result r = pg ? c.Exec(kSuspectOutagePg, {key, reason, unless})
                          : c.Exec(kSuspectOutageSqlite, {key, reason, unless, clock_.NowUs()});
        OutageState o = LoadOutageLocked(key);
        o.changed = r.Rows() == 1;
        return o;
    });
}

bool DbBudget::TakeProbeLease(const std::string& key, std::int64_t lease_us) {
    return Guarded([&] {
        auto& c = Conn();
        db::Result r = c.GetDialect() == db::Dialect::kPostgres
                           ? c.Exec(kTakeLeasePg, {key, lease_us})
                           : c.Exec(kTakeLeaseSqlite, {key, lease_us, clock_.NowUs()});
        return r.Rows() == 1;
    });
}

OutageState DbBudget::ProbeAnswered(const std::string& key, bool up, std::int64_t first_backoff_us,
                                    std::int64_t max_backoff_us) {
    return Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        c.Exec(kEnsureOutage, {key});
        if (up && pg) {
            c.Exec(kProbeUpPg, {key});
        } else if (up) {
            c.Exec(kProbeUpSqlite, {key, clock_.NowUs()});
        } else if (pg) {
            c.Exec(kProbeDownPg, {key, first_backoff_us, max_backoff_us});
        } else {
            c.Exec(kProbeDownSqlite, {key, first_backoff_us, max_backoff_us, clock_.NowUs()});
        }
        return LoadOutageLocked(key);
    });
}

void DbBudget::Spend(const std::string& key, std::int64_t tokens) {
    Guarded([&] {
        auto& c = Conn();
        const bool pg = c.GetDialect() == db::Dialect::kPostgres;
        const std::int64_t now = clock_.NowUs();
        if (pg) {
            c.Exec(kSpendPg, {key, tokens});
        } else {
            c.Exec(kSpendSqlite, {key, tokens, now / 1'000'000});
        }
        if (now - pruned_at_us_ >= kSpentKeptS * 1'000'000 / 2) {  // old buckets go now and then
            if (pg) {
                c.Exec(kPruneSpentPg, {key, kSpentKeptS});
            } else {
                c.Exec(kPruneSpentSqlite, {key, kSpentKeptS, now / 1'000'000});
            }
            pruned_at_us_ = now;
        }
        return 0;
    });
}

std::int64_t DbBudget::Spent(const std::string& key, std::int64_t seconds) {
    return Guarded([&] {
        auto& c = Conn();
        db::Result r = c.GetDialect() == db::Dialect::kPostgres
                           ? c.Exec(kSpentPg, {key, seconds})
                           : c.Exec(kSpentSqlite, {key, seconds, clock_.NowUs() / 1'000'000});
        return r.Int(0, 0);
    });
}

std::shared_ptr<RateBudget> MakeBudget(const std::string& db_url, Clock& clock) {
    if (db_url.empty()) return std::make_shared<InProcessBudget>(clock);
    return std::make_shared<DbBudget>(db_url, clock);
}

}  // namespace kr::esi
