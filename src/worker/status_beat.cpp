#include "worker/status_beat.hpp"

#include <unistd.h>

#include "db/connection.hpp"
#include "esi/client_metrics.hpp"
#include "log/log.hpp"
#include "metrics/registry.hpp"

namespace kr::worker {

namespace {

constexpr std::string_view kBeat =
    "INSERT INTO kr_worker_status (worker, host, pid, queue, started_at, heartbeat_at, stopped_at, settled,"
    " settled_last_minute, esi_rate_limit, esi_tokens_last_minute, last_error, last_error_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
    " ON CONFLICT (worker, host, pid) DO UPDATE SET queue = excluded.queue, heartbeat_at = excluded.heartbeat_at,"
    " stopped_at = excluded.stopped_at, settled = excluded.settled,"
    " settled_last_minute = excluded.settled_last_minute, esi_rate_limit = excluded.esi_rate_limit,"
    " esi_tokens_last_minute = excluded.esi_tokens_last_minute, last_error = excluded.last_error,"
    " last_error_at = excluded.last_error_at";

constexpr std::string_view kLoad =
    "SELECT worker, host, pid, queue, started_at, heartbeat_at, stopped_at, settled, settled_last_minute,"
    " esi_rate_limit, esi_tokens_last_minute, last_error, last_error_at FROM kr_worker_status"
    " ORDER BY worker, host, pid";

constexpr std::int64_t kMinuteMs = 60'000;

std::string HostName() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
    return buf;
}

/// Keeps the samples of the last minute plus the one just before it; returns value − that one.
std::int64_t LastMinute(std::deque<std::pair<std::int64_t, std::int64_t>>& samples, std::int64_t now_ms,
                        std::int64_t value) {
    samples.emplace_back(now_ms, value);
    while (samples.size() > 1 && samples[1].first <= now_ms - kMinuteMs) samples.pop_front();
    return value - samples.front().second;
}

}  // namespace

StatusBeat::StatusBeat(const config::Config& cfg, std::chrono::milliseconds every, Clock& clock)
    : cfg_(cfg), every_(every), clock_(clock), host_(HostName()), pid_(::getpid()), started_at_ms_(clock.NowMs()) {
    token_samples_.emplace_back(started_at_ms_, 0);
    thread_ = std::jthread([this](std::stop_token stop) { Loop(std::move(stop)); });
}

StatusBeat::~StatusBeat() {
    thread_.request_stop();
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mu_);
    Write(/*final=*/true);
}

StatusBeat::Handle StatusBeat::Register(std::string worker, std::string queue, const WorkerCounters& counters) {
    std::lock_guard lock(mu_);
    Entry& e = entries_.emplace_back();
    e.worker = std::move(worker);
    e.queue = std::move(queue);
    e.counters = &counters;
    e.samples.emplace_back(clock_.NowMs(), 0);  // a worker younger than a minute counts from its start
    dirty_ = true;                              // its row at once, not at the next beat
    cv_.notify_all();
    return Handle(this, &e);
}

void StatusBeat::Unregister(Entry* e) {
    std::lock_guard lock(mu_);
    e->settled = e->counters->processed.load();
    e->last_error = e->counters->LastError();
    e->counters = nullptr;
    e->stopped_at_ms = clock_.NowMs();
    dirty_ = true;
    cv_.notify_all();
}

StatusBeat::Handle& StatusBeat::Handle::operator=(Handle&& o) noexcept {
    if (this != &o) {
        if (b_) b_->Unregister(e_);
        b_ = o.b_;
        e_ = o.e_;
        o.b_ = nullptr;
    }
    return *this;
}

StatusBeat::Handle::~Handle() {
    if (b_) b_->Unregister(e_);
}

void StatusBeat::Loop(std::stop_token stop) {
    std::unique_lock lock(mu_);
    while (!stop.stop_requested()) {
        dirty_ = false;
        Write(/*final=*/false);
        cv_.wait_for(lock, stop, every_, [this] { return dirty_; });  // wakes on stop and on a change
    }
}

void StatusBeat::Write(bool final) {
    const std::int64_t now = clock_.NowMs();
    const std::int64_t tokens =
        metrics::Registry::Default()
            .Counter(esi::metric::kBudgetUsed, esi::metric::kBudgetUsedHelp, {{"budget", "esi"}})
            .load();
    const std::int64_t tokens_minute = LastMinute(token_samples_, now, tokens);
    try {
        if (!conn_) conn_ = db::Open(cfg_.database_url);
        for (auto& e : entries_) {
            if (e.counters) {
                e.settled = e.counters->processed.load();
                e.last_error = e.counters->LastError();
            }
            const std::int64_t minute = LastMinute(e.samples, now, e.settled);
            std::optional<std::int64_t> stopped = e.stopped_at_ms;
            if (final && !stopped) stopped = now;
            const bool has_error = e.last_error.second != 0;
            conn_->Exec(kBeat,
                        {e.worker, host_, pid_, e.queue, started_at_ms_, now, db::Opt(stopped), e.settled, minute,
                         cfg_.esi_rate_limit, tokens_minute, has_error ? db::Param(e.last_error.first) : db::Param(),
                         has_error ? db::Param(e.last_error.second) : db::Param()});
        }
        if (failing_) spdlog::info("status: heartbeats written again");
        failing_ = false;
    } catch (const std::exception& ex) {
        if (!failing_)
            spdlog::warn("status: heartbeat not written ({}); trying again in {} ms", ex.what(), every_.count());
        failing_ = true;
        conn_.reset();
    }
}

std::vector<WorkerStatusRow> StatusBeat::Load(db::Connection& conn) {
    auto r = conn.Exec(kLoad);
    std::vector<WorkerStatusRow> out;
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        WorkerStatusRow w;
        w.worker = r.Text(i, 0);
        w.host = r.Text(i, 1);
        w.pid = r.Int(i, 2);
        w.queue = r.Text(i, 3);
        w.started_at_ms = r.Int(i, 4);
        w.heartbeat_at_ms = r.Int(i, 5);
        w.stopped_at_ms = r.OptInt(i, 6);
        w.settled = r.Int(i, 7);
        w.settled_last_minute = r.Int(i, 8);
        w.esi_rate_limit = r.Double(i, 9);
        w.esi_tokens_last_minute = r.Int(i, 10);
        w.last_error = r.OptText(i, 11);
        w.last_error_at_ms = r.OptInt(i, 12);
        out.push_back(std::move(w));
    }
    return out;
}

}  // namespace kr::worker
