#pragma once
// The live status page: one self-contained HTML page (inline CSS and JS, no external assets) served
// on the metrics server ("/" and "/status"), with "/status.json" = exactly `status --json` and
// "/status/history.json" = the throughput of the last 15 minutes, sampled by this process and kept
// in its memory (bounded). The page fetches both every few seconds and redraws itself. `status
// --serve` and `run` (on its metrics address) serve it.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "app/status_snapshot.hpp"
#include "config/config.hpp"
#include "metrics/metrics_server.hpp"

namespace kr::app {

class StatusPage {
public:
    /// The plot's window.
    static constexpr std::chrono::minutes kWindow{15};

    /// Adds the routes to `server` and starts sampling every `sample_every`; the status sources
    /// (their own connections) are opened by the first sample, again after a failure.
    StatusPage(metrics::MetricsServer& server, const config::Config& cfg,
               std::chrono::milliseconds sample_every = std::chrono::seconds(5));
    /// Removes the routes (waits for a request being answered) and stops sampling.
    ~StatusPage();
    StatusPage(const StatusPage&) = delete;
    StatusPage& operator=(const StatusPage&) = delete;

    /// The page's URL on the server.
    std::string Url() const { return server_.BaseUrl() + "/"; }

private:
    struct Sample {
        std::int64_t at_ms = 0;
        std::map<std::string, double> rates;  ///< per queue, messages settled per second
    };
    // The callers hold mu_.
    StatusSnapshot& Source();
    nlohmann::json History() const;
    void TakeSample();
    std::string Html();

    metrics::MetricsServer& server_;
    const config::Config& cfg_;
    const std::chrono::milliseconds sample_every_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
    std::unique_ptr<StatusSnapshot> source_;
    std::deque<Sample> history_;
    std::thread sampler_;
};

}  // namespace kr::app
