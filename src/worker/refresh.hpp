#pragma once
// The refresh scheduler: keeps what is stored true at the cadence ESI's caching allows, without an
// operator. One cycle (RefreshCycle; the `refresh` command, and `run` every minute) runs each
// sweep that is due:
//   affiliations  hourly (POST /characters/affiliation is cached 3600 s): the affiliation sweep of
//                 every stored character (worker/affiliation_sweep.hpp, queue:characters);
//   alliances     every ten minutes: queue:alliances (every alliance ESI lists) and
//                 queue:alliance-corporations (every stored alliance's corporation list) — the
//                 workers ask ESI only about those whose stored Expires has passed (a 304 when
//                 unchanged; nothing at all while fresh);
//   corporations  every ten minutes: queue:corporations (those referenced but missing, and the
//                 stored ones whose Expires has passed, revalidated);
//   types         once after each daily downtime (11:00 UTC; run after 11:10, when ESI's caches
//                 have turned over): every stored type revalidated (cache rows made stale, ETags
//                 kept: an unchanged type costs a 304).
// When each sweep last ran is kept in the database (kr_refresh_runs, store/10) and claimed in one
// statement, so every process of a deployment shares one schedule and a sweep runs once per
// cadence whoever runs it (`run`s on several machines, `refresh` from a timer).
//
// What a sweep queues is published at priority 0, below what the workers and the live feed
// queue for new killmails (5): new entities go first on every queue. What the sweeps ask ESI
// themselves, and what the workers ask for their messages below priority 5, is refresh traffic:
// at most KILLREPORT_REFRESH_SHARE of the budget while new work waits (esi::EsiOptions).
#include <chrono>
#include <cstdint>
#include <memory>
#include <stop_token>
#include <string>
#include <vector>

#include "esi/esi_client.hpp"
#include "worker/affiliation_sweep.hpp"
#include "worker/runtime.hpp"

namespace kr::worker {

struct RefreshOptions {
    std::int64_t affiliations_every_ms = 3600LL * 1000;
    std::int64_t expired_every_ms = 600LL * 1000;  ///< alliances and corporations
    std::int64_t downtime_at_ms = std::chrono::milliseconds(esi::kDailyDowntimeAt).count();
    std::int64_t types_after_downtime_ms = std::chrono::milliseconds(esi::kDailyDowntimeLength).count();
    /// A sweep that never ran: due now (`refresh`), or its clock starts now (`run`: a new database
    /// is not refreshed before it holds anything worth it).
    bool first_is_due = true;
    AffiliationSweepOptions affiliations;
};

struct RefreshReport {
    std::vector<std::string> ran;     ///< the sweeps this cycle ran
    std::vector<std::string> failed;  ///< the sweeps that failed (logged; run again when next due)
    std::size_t published = 0;        ///< messages queued
};

/// The start of the latest types sweep window at or before `now_ms`: today's (or, before it,
/// yesterday's) downtime start plus types_after_downtime_ms.
std::int64_t LatestTypesWindowMs(std::int64_t now_ms, const RefreshOptions& o);

/// One cycle: every due sweep, in the order affiliations, alliances, corporations, types. A sweep
/// that fails is logged and left to its next time; fatal errors and a stop propagate.
RefreshReport RefreshCycle(Runtime& rt, const RefreshOptions& o);

/// `run`'s scheduler: a cycle at start and then every minute, on a runtime of its own.
class RefreshScheduler {
public:
    RefreshScheduler(ProcessShared& shared, std::stop_token stop, RefreshOptions options);
    ~RefreshScheduler();
    bool Enabled() const;
    bool Due() const;
    void Run();

private:
    ProcessShared& shared_;
    std::stop_token stop_;
    RefreshOptions options_;
    std::unique_ptr<Runtime> rt_;
    std::int64_t next_ms_ = 0;  ///< the process clock's time of the next cycle
};

}  // namespace kr::worker
