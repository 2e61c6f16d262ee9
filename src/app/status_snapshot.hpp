#pragma once
// What `status` shows, as one JSON snapshot read from the shared stores every process writes — the
// queues (depth, consumers, retries, dead letters and their reasons), the workers (kr_worker_status),
// the shared ESI budget's state in kr_rate_state (error limit, paused route groups and until when),
// the live feed, row counts, the universe's sweeps. `status`, `status --json`, `status --watch` and
// the status page (/status.json) all print this one snapshot.
#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "app/commands.hpp"
#include "db/connection.hpp"
#include "esi/rate_budget.hpp"
#include "queue/queue.hpp"
#include "store/store.hpp"

namespace kr::app {

class StatusSnapshot {
public:
    /// Opens its connections (once; a watch or a page reuses them).
    explicit StatusSnapshot(const config::Config& cfg);

    nlohmann::json Snapshot();
    /// Per queue: messages settled per second over the last minute by the running workers (what
    /// the snapshot's rate_per_second says; cheap: kr_worker_status only).
    std::map<std::string, double> Rates();
    /// The text of a snapshot (what `status` prints).
    std::string Text(const nlohmann::json& s) const;
    /// 1 when dead letters exist or a worker is down, else 0.
    static int ExitCode(const nlohmann::json& snapshot);

    /// Dead letters listed per queue with dead letters (the newest; their count is `dead`).
    static constexpr std::size_t kDeadListed = 20;

private:
    const config::Config& cfg_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<queue::Queue> queue_;
    esi::DbBudget budget_;
    std::unique_ptr<db::Connection> conn_;
};

}  // namespace kr::app
