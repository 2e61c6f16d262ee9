#pragma once
// The shared request budget and the limits learned from ESI/zKillboard headers.
//
// One row of state per key ("esi", "zkb", "esi:group:killmail", …), shared by every client that
// uses the same RateBudget: InProcessBudget (threads of one process) or DbBudget (every process on
// every machine that points at the same database; table kr_rate_state).
//
// Slots (GCRA / virtual scheduling): a key's `next_at` is the next free send time. Reserve(n)
// atomically moves it to max(next_at, now, paused_until) + n·interval and hands the n slots
// [first, first + interval, …] to the caller, so requests of all holders are spaced `interval`
// apart at the server, in one global order. A paused key (error limit, 420, 429) therefore also
// delays every slot handed out after the pause started.
//
// Observations: the latest error-limit remain/reset or bucket remaining/limit, and pauses.
// Merge rule for `remaining`: a fixed window (reset_at > 0) keeps the minimum of reports within the
// same window and takes the new value once the old window is over; a floating bucket (no reset)
// keeps the last report. `paused_until` only ever grows.
//
// Times given to and returned from this interface are in the caller's clock (unix µs); DbBudget on
// PostgreSQL works in the database server's clock internally and converts, so clients on machines
// with skewed clocks still share one timeline.
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace kr::db {
class Connection;
}

namespace kr::esi {

struct RateState {
    std::int64_t paused_until_us = 0;       ///< nothing under this key is sent before this time
    std::optional<std::int64_t> remaining;  ///< error-limit remain / bucket tokens remaining
    std::int64_t reset_at_us = 0;           ///< end of the fixed error-limit window (0 = none)
    std::int64_t limit = 0;                 ///< bucket size in tokens (0 = unknown)
    std::int64_t window_us = 0;             ///< bucket window
    std::int64_t observed_at_us = 0;        ///< when remaining was last reported
};

struct SlotGrant {
    std::int64_t first_us = 0;  ///< the first slot; the others follow at `interval_us`
    std::int64_t interval_us = 0;
    int count = 0;
    RateState state;  ///< the key's state at reservation time
};

/// A permit of the window guard (RateBudget::TakePermit).
struct PermitGrant {
    std::optional<std::int64_t> permit;  ///< the permit taken; none free: see retry_at_us
    std::int64_t retry_at_us = 0;        ///< (caller's clock) when the first permit comes free
    bool limited = false;                ///< a refresh request held to its share (new work waits)
};

/// The refresh share of the window guard (KILLREPORT_REFRESH_SHARE; RateBudget::TakePermit).
/// Permits 0 … refresh_permits−1 are the share. A refresh request (a sweep's) takes one of those
/// only while new work waits — `demand_key` marked (MarkDemand) and not expired — and any permit
/// otherwise; a new-work request takes any permit, the share's last. Refresh requests therefore
/// hold at most refresh_permits permits, i.e. send at most that many requests in any window, once
/// the permits they took before new work appeared have come free (their latency + one window),
/// and every spare permit while no new work waits. Decided in the statement that takes the permit
/// (one statement, as every permit), so processes sharing the budget cannot race past it.
struct PermitShare {
    bool enabled = false;     ///< false: every permit alike
    bool refresh = false;     ///< this request is refresh traffic
    int refresh_permits = 0;  ///< ⌊share · count⌋
    std::string demand_key;   ///< where new work's demand is marked (MarkDemand)
};

struct Observation {
    std::optional<std::int64_t> remaining;
    std::int64_t reset_in_us = 0;   ///< fixed window ends this far from now (0 = floating / none)
    std::int64_t limit = 0;         ///< 0 = unchanged
    std::int64_t window_us = 0;     ///< 0 = unchanged
    std::int64_t pause_for_us = 0;  ///< pause the key this long from now (0 = no pause)
};

/// ESI's availability as the whole deployment sees it (the downtime gate; EsiOptions::downtime_gate).
/// kUp: requests go. kSuspect: evidence of an outage (a 502/503/504, or the daily downtime window
/// not yet checked) — every caller holds its next request until /status/ answers. kDown: /status/
/// said ESI is down — the same, and the next probe waits for a backoff.
enum class Availability : std::int64_t { kUp = 0, kSuspect = 1, kDown = 2 };

struct OutageState {
    Availability state = Availability::kUp;
    std::int64_t since_us = 0;        ///< when it stopped being up (0 = up)
    std::int64_t next_probe_us = 0;   ///< no probe before this (the backoff after a failed one)
    std::int64_t lease_until_us = 0;  ///< the prober's lease runs until then (0 = none)
    std::int64_t failed_probes = 0;   ///< probes that found ESI down since it stopped being up
    std::int64_t up_at_us = 0;        ///< when /status/ last said ESI is up (0 = never)
    std::string reason;               ///< what made it suspect
    bool changed = false;             ///< (SuspectOutage) this call made it suspect
};

class RateBudget {
public:
    virtual ~RateBudget() = default;
    /// Reserve `count` ≥ 1 consecutive send slots `interval_us` apart for `key`.
    virtual SlotGrant Reserve(const std::string& key, std::int64_t interval_us, int count) = 0;
    /// Current state (no side effects).
    virtual RateState Load(const std::string& key) = 0;
    /// Merge an observation and return the merged state.
    virtual RateState Observe(const std::string& key, const Observation& obs) = 0;
    /// Every key the shared state holds (what `status` shows), sorted.
    virtual std::vector<std::string> Keys() = 0;

    // The window guard: the limit holds at the server's clock by construction. `key` has `count`
    // permits; one is taken before each request is sent and comes free `window_us` after the
    // request's answer arrived (ReleasePermit) — or `max_hold_us` after it was taken, if it is never
    // given back (a process that died). Any observer counts a request at some instant between its
    // send and its answer, so every request counted inside a window [a, a + window) held its permit
    // just before a + window: no window holds more than `count` requests, whatever the network
    // and scheduling delays (the slots above only space them). Times: the database's clock on
    // PostgreSQL, so machines with skewed clocks share the guard too.
    /// Takes a free permit of `key` (permits 0 … count−1), or says when the first comes free;
    /// with `share` enabled, under the refresh share's rule (PermitShare).
    virtual PermitGrant TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                                   const PermitShare& share) = 0;
    PermitGrant TakePermit(const std::string& key, int count, std::int64_t max_hold_us) {
        return TakePermit(key, count, max_hold_us, PermitShare{});
    }
    /// Gives the permit back: free again `window_us` from now.
    virtual void ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) = 0;
    /// New work waits (a request that is not refresh traffic is ready or in flight): `key` says so
    /// until `for_us` from now (only ever extended).
    virtual void MarkDemand(const std::string& key, std::int64_t for_us) = 0;
    /// Until when `key` says new work waits (caller's clock, unix µs; 0 = never marked).
    virtual std::int64_t DemandUntil(const std::string& key) = 0;

    // The downtime gate: one availability state per key for every process sharing the budget.
    /// Current state (no side effects).
    virtual OutageState LoadOutage(const std::string& key) = 0;
    /// Evidence of an outage: up → suspect (since now, for `reason`), unless /status/ said ESI is
    /// up at or after `unless_up_since_us` (caller's clock; an answer older than that news is no
    /// evidence). Returns the state after, `changed` when this call made it suspect.
    virtual OutageState SuspectOutage(const std::string& key, const std::string& reason,
                                      std::int64_t unless_up_since_us) = 0;
    /// The prober's lease, taken atomically: true when ESI is not up, its next probe is due and no
    /// other prober's lease is live; then held for `lease_us` (a dead prober's lease runs out).
    virtual bool TakeProbeLease(const std::string& key, std::int64_t lease_us) = 0;
    /// What /status/ answered. Up: the state is up (up_at = now) and everyone resumes. Down: the
    /// state is down, the lease given back, the next probe `first_backoff_us` from now after the
    /// first failed probe, doubled after each further one, at most `max_backoff_us`. Returns the
    /// state after.
    virtual OutageState ProbeAnswered(const std::string& key, bool up, std::int64_t first_backoff_us,
                                      std::int64_t max_backoff_us) = 0;
    // What was spent (`status`: tokens used in the last minute, every process of the deployment).
    /// Adds `tokens` requests sent against `key` now (per-second buckets, kept kSpentKeptS).
    virtual void Spend(const std::string& key, std::int64_t tokens) = 0;
    /// Requests sent against `key` in the last `seconds` seconds (whole seconds: the current one and
    /// the `seconds` − 1 before it).
    virtual std::int64_t Spent(const std::string& key, std::int64_t seconds) = 0;
    static constexpr std::int64_t kSpentKeptS = 120;
};

/// In-process state, thread-safe (one instance shared by all threads of a process).
class InProcessBudget final : public RateBudget {
public:
    explicit InProcessBudget(Clock& clock = SystemClock::Instance()) : clock_(clock) {}
    SlotGrant Reserve(const std::string& key, std::int64_t interval_us, int count) override;
    RateState Load(const std::string& key) override;
    RateState Observe(const std::string& key, const Observation& obs) override;
    std::vector<std::string> Keys() override;
    using RateBudget::TakePermit;
    PermitGrant TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                           const PermitShare& share) override;
    void ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) override;
    void MarkDemand(const std::string& key, std::int64_t for_us) override;
    std::int64_t DemandUntil(const std::string& key) override;
    OutageState LoadOutage(const std::string& key) override;
    OutageState SuspectOutage(const std::string& key, const std::string& reason,
                              std::int64_t unless_up_since_us) override;
    bool TakeProbeLease(const std::string& key, std::int64_t lease_us) override;
    OutageState ProbeAnswered(const std::string& key, bool up, std::int64_t first_backoff_us,
                              std::int64_t max_backoff_us) override;
    void Spend(const std::string& key, std::int64_t tokens) override;
    std::int64_t Spent(const std::string& key, std::int64_t seconds) override;

private:
    std::map<std::string, std::map<std::int64_t, std::int64_t>> spent_;  ///< tokens by unix second
    std::map<std::string, std::vector<std::int64_t>> permits_;           ///< free-at time of each permit
    std::map<std::string, std::int64_t> demand_;                         ///< new work waits until
    std::map<std::string, OutageState> outages_;
    struct Row {
        std::int64_t next_at = 0;
        RateState s;
    };
    Clock& clock_;
    std::mutex mu_;
    std::map<std::string, Row> rows_;
};

/// State in table kr_rate_state of a SQLite or PostgreSQL database. Opens its own connection from
/// `db_url` (never share the worker's connection: a budget statement must not join, or wait for,
/// the worker's transaction). Thread-safe (a mutex around the connection). A lost connection is
/// reopened on the next call; the failing call throws kr::TransientError.
class DbBudget final : public RateBudget {
public:
    explicit DbBudget(std::string db_url, Clock& clock = SystemClock::Instance());
    ~DbBudget() override;
    SlotGrant Reserve(const std::string& key, std::int64_t interval_us, int count) override;
    RateState Load(const std::string& key) override;
    RateState Observe(const std::string& key, const Observation& obs) override;
    std::vector<std::string> Keys() override;
    using RateBudget::TakePermit;
    PermitGrant TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                           const PermitShare& share) override;
    void ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) override;
    void MarkDemand(const std::string& key, std::int64_t for_us) override;
    std::int64_t DemandUntil(const std::string& key) override;
    OutageState LoadOutage(const std::string& key) override;
    OutageState SuspectOutage(const std::string& key, const std::string& reason,
                              std::int64_t unless_up_since_us) override;
    bool TakeProbeLease(const std::string& key, std::int64_t lease_us) override;
    OutageState ProbeAnswered(const std::string& key, bool up, std::int64_t first_backoff_us,
                              std::int64_t max_backoff_us) override;
    void Spend(const std::string& key, std::int64_t tokens) override;
    std::int64_t Spent(const std::string& key, std::int64_t seconds) override;

private:
    db::Connection& Conn();
    std::int64_t OffsetUs();
    OutageState LoadOutageLocked(const std::string& key);
    template <typename F>
    auto Guarded(F&& f) -> decltype(f());

    std::string url_;
    Clock& clock_;
    std::mutex mu_;
    std::unique_ptr<db::Connection> conn_;
    std::int64_t offset_us_ = 0;     ///< database clock − local clock (PostgreSQL)
    std::int64_t offset_at_us_ = 0;  ///< when it was measured (0 = never)
    std::int64_t pruned_at_us_ = 0;  ///< kr_rate_spent's old buckets last deleted
};

/// "" → InProcessBudget, otherwise DbBudget(url).
std::shared_ptr<RateBudget> MakeBudget(const std::string& db_url, Clock& clock = SystemClock::Instance());

/// Merge rule shared by both implementations (and mirrored in DbBudget's SQL).
void MergeObservation(RateState& s, const Observation& obs, std::int64_t now_us);

}  // namespace kr::esi
