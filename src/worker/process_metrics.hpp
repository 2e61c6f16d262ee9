#pragma once
// /metrics of a long-running process (`run`, `worker:*`): serves the registry on
// KILLREPORT_METRICS_ADDR (nothing when it is empty) and adds the scrape-time families — the
// process's own (process_*), its queues' depth, the shared budget's limit, error limit and pauses
// as the shared store holds them. Counters the workers and clients update live in the registry.
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "metrics/metrics_server.hpp"
#include "metrics/registry.hpp"
#include "queue/queue.hpp"
#include "worker/live_worker.hpp"
#include "worker/runtime.hpp"
#include "worker/worker_stats.hpp"

namespace kr::worker {

/// The scrape-time family names (one place; tests read them).
namespace metric {
inline constexpr const char* kSettled = "killreport_messages_settled_total";
inline constexpr const char* kQueueMessages = "killreport_queue_messages";
inline constexpr const char* kQueueConsumers = "killreport_queue_consumers";
inline constexpr const char* kBudgetLimit = "killreport_budget_limit_requests_per_second";
inline constexpr const char* kErrorLimitRemaining = "killreport_esi_error_limit_remaining";
inline constexpr const char* kErrorLimitReset = "killreport_esi_error_limit_reset_seconds";
inline constexpr const char* kPauseRemaining = "killreport_route_group_pause_seconds";
inline constexpr const char* kLiveStored = "killreport_r2z2_killmails_stored_total";
inline constexpr const char* kLiveCursor = "killreport_r2z2_cursor_sequence";
}  // namespace metric

class ProcessMetrics {
public:
    /// How old the queue depths of a scrape may be (a scrape every second costs no more).
    static constexpr std::chrono::seconds kQueueSampleEvery{5};

    /// `queues`: the queues this process consumes (their depth is reported).
    ProcessMetrics(ProcessShared& shared, std::vector<std::string> queues,
                   metrics::Registry& registry = metrics::Registry::Default());
    ~ProcessMetrics();
    ProcessMetrics(const ProcessMetrics&) = delete;
    ProcessMetrics& operator=(const ProcessMetrics&) = delete;

    /// Starts serving on KILLREPORT_METRICS_ADDR when it is given (empty: off; kr::FatalError if it
    /// cannot bind), else on `default_addr` ("" = off; in use: one warning, no /metrics).
    void Serve(const std::string& default_addr);
    /// The URL served ("" = off).
    std::string Url() const { return server_ ? server_->Url() : std::string(); }
    /// The server (nullptr = off): more routes go on it (`run`'s status page).
    metrics::MetricsServer* Server() { return server_.get(); }

    /// Adds the scrape-time families (what a scrape calls).
    void Collect(metrics::Exposition& out);

private:
    void CollectQueues(metrics::Exposition& out);
    /// Each queue's depth through the probe (empty when the backend does not answer).
    std::vector<queue::QueueStats> CountQueues();
    void CollectBudget(metrics::Exposition& out);

    ProcessShared& shared_;
    std::vector<std::string> queues_;
    metrics::Registry& registry_;
    std::mutex mu_;                        ///< the probe queue (scrapes are one at a time anyway)
    std::unique_ptr<queue::Queue> probe_;  ///< its own connection, opened on the first scrape
    /// The depths last counted and when: counting a database queue scans its rows (milliseconds
    /// at 100k messages), so a scrape within kQueueSampleEvery of the last count reuses it.
    std::vector<queue::QueueStats> queue_stats_;
    std::chrono::steady_clock::time_point queue_stats_at_{};
    metrics::Registry::CollectorHandle collector_;
    std::unique_ptr<metrics::MetricsServer> server_;
};

/// The worker's settled-message counters as killreport_messages_settled_total{queue, outcome}
/// while the handle lives.
[[nodiscard]] metrics::Registry::CollectorHandle ExportCounters(
    const std::string& queue, const WorkerCounters& c, metrics::Registry& registry = metrics::Registry::Default());

/// The live feed's killmails stored and its cursor while the handle lives (its requests, budget
/// tokens and pauses are the R2Z2 client's, esi/client_metrics.hpp).
[[nodiscard]] metrics::Registry::CollectorHandle ExportLive(const LiveWorker& w,
                                                            metrics::Registry& registry = metrics::Registry::Default());

}  // namespace kr::worker
