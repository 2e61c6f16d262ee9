#pragma once
// Counters of one worker and its periodic summary line: every few seconds while there is work,
// one final line when it goes idle, nothing repeated while idle (the original printed a 5-line
// block every 5 s forever).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace kr::worker {

struct WorkerCounters {
    std::atomic<std::int64_t> processed{0};  ///< messages settled (acked, retried or dead-lettered)
    std::atomic<std::int64_t> created{0};
    std::atomic<std::int64_t> updated{0};
    std::atomic<std::int64_t> unchanged{0};  ///< fetched (or 304) and nothing changed
    std::atomic<std::int64_t> skipped{0};    ///< fresh, NPC, known 404: no ESI request
    std::atomic<std::int64_t> not_found{0};  ///< ESI 404
    std::atomic<std::int64_t> retried{0};
    std::atomic<std::int64_t> dead{0};
    std::atomic<std::int64_t> published{0};  ///< messages this worker put on other queues

    /// The last error a message failed with (retried or dead-lettered) and when (unix ms); rare,
    /// so a mutex.
    void RecordError(std::string error, std::int64_t at_ms) {
        std::lock_guard lock(error_mu_);
        last_error_ = std::move(error);
        last_error_at_ms_ = at_ms;
    }
    std::pair<std::string, std::int64_t> LastError() const {
        std::lock_guard lock(error_mu_);
        return {last_error_, last_error_at_ms_};
    }

private:
    mutable std::mutex error_mu_;
    std::string last_error_;
    std::int64_t last_error_at_ms_ = 0;  ///< 0 = none
};

/// The counters' values at one moment (what a summary line compares).
struct CounterSnapshot {
    std::int64_t processed = 0, created = 0, updated = 0, unchanged = 0, skipped = 0, not_found = 0, retried = 0,
                 dead = 0, published = 0;
    static CounterSnapshot Of(const WorkerCounters& c);
};

/// "worker:info:characters: processed 120 (created 30, unchanged 90) 12/s": the totals of the
/// counters that moved since `before` only (processed and the rate always); `tag` ("idle", "done")
/// follows the name. A final line with nothing processed at all says so in a few words.
std::string SummaryLine(const std::string& name, const char* tag, const CounterSnapshot& now,
                        const CounterSnapshot& before, double rate);

class SummaryLogger {
public:
    SummaryLogger(std::string name, const WorkerCounters& c, std::chrono::milliseconds every = std::chrono::seconds(5));
    /// Call often; logs at most every `every`, and only when something changed.
    void Tick();
    /// The last line (at exit).
    void Final();

private:
    void Log(const char* tag);
    std::string name_;
    const WorkerCounters& c_;
    std::chrono::milliseconds every_;
    std::chrono::steady_clock::time_point last_log_, start_;
    std::int64_t last_processed_ = 0;
    CounterSnapshot last_;  ///< at the last line
    bool logged_idle_ = true;
};

}  // namespace kr::worker
