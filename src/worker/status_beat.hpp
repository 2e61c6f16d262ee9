#pragma once
// What `status` needs of the workers, written by each process into kr_worker_status (store/8) —
// shared by every process of the deployment, as the database is: one row per worker of a process
// (worker, host, pid) with its heartbeat, messages settled in total and in the last minute, the ESI
// limit the process runs with and the ESI budget tokens it spent in the last minute, and the worker's
// last error. Written every `every` (5 s) from a thread of its own on a connection of its own, and
// once more with stopped_at when the process stops cleanly. A row whose heartbeat is older than
// kDownAfter without stopped_at is a process that died (or hangs): `status` says "down".
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "core/clock.hpp"
#include "worker/worker_stats.hpp"

namespace kr::db {
class Connection;
}

namespace kr::worker {

struct WorkerStatusRow {
    std::string worker, host;
    std::int64_t pid = 0;
    std::string queue;
    std::int64_t started_at_ms = 0, heartbeat_at_ms = 0;
    std::optional<std::int64_t> stopped_at_ms;
    std::int64_t settled = 0, settled_last_minute = 0;
    double esi_rate_limit = 0;
    std::int64_t esi_tokens_last_minute = 0;
    std::optional<std::string> last_error;
    std::optional<std::int64_t> last_error_at_ms;
};

class StatusBeat {
public:
    /// A heartbeat older than this (no stopped_at) is a process that is down.
    static constexpr std::chrono::seconds kDownAfter{30};

    /// Opens its own connection to DATABASE_URL and starts beating every `every`.
    explicit StatusBeat(const config::Config& cfg, std::chrono::milliseconds every = std::chrono::seconds(5),
                        Clock& clock = SystemClock::Instance());
    /// Writes every row once more with stopped_at and stops.
    ~StatusBeat();
    StatusBeat(const StatusBeat&) = delete;
    StatusBeat& operator=(const StatusBeat&) = delete;

    class Handle;
    /// `counters` must outlive the handle; the handle's end records the worker as stopped.
    [[nodiscard]] Handle Register(std::string worker, std::string queue, const WorkerCounters& counters);

    /// Every row of kr_worker_status (for `status`), by worker, host, pid.
    static std::vector<WorkerStatusRow> Load(db::Connection& conn);

private:
    struct Entry {
        std::string worker, queue;
        const WorkerCounters* counters = nullptr;  ///< null once unregistered (values frozen)
        std::int64_t settled = 0;
        std::pair<std::string, std::int64_t> last_error;
        std::optional<std::int64_t> stopped_at_ms;
        std::deque<std::pair<std::int64_t, std::int64_t>> samples;  ///< (ms, settled), the last minute
    };
    void Unregister(Entry* e);
    void Loop(std::stop_token stop);
    /// Writes every row; errors are logged once per outage (the next beat tries again).
    void Write(bool final);

    config::Config cfg_;
    std::chrono::milliseconds every_;
    Clock& clock_;
    std::string host_;
    std::int64_t pid_ = 0, started_at_ms_ = 0;
    std::mutex mu_;
    std::condition_variable_any cv_;
    std::list<Entry> entries_;
    std::deque<std::pair<std::int64_t, std::int64_t>> token_samples_;  ///< (ms, ESI tokens spent)
    std::unique_ptr<db::Connection> conn_;
    bool failing_ = false;
    bool dirty_ = false;  ///< a worker came or went: write now
    std::jthread thread_;

public:
    class Handle {
    public:
        Handle() = default;
        Handle(StatusBeat* b, Entry* e) : b_(b), e_(e) {}
        Handle(Handle&& o) noexcept : b_(o.b_), e_(o.e_) { o.b_ = nullptr; }
        Handle& operator=(Handle&& o) noexcept;
        Handle(const Handle&) = delete;
        Handle& operator=(const Handle&) = delete;
        ~Handle();

    private:
        StatusBeat* b_ = nullptr;
        Entry* e_ = nullptr;
    };
};

}  // namespace kr::worker
