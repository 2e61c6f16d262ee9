#include "worker/worker_stats.hpp"

#include "log/log.hpp"

namespace kr::worker {

SummaryLogger::SummaryLogger(std::string name, const WorkerCounters& c, std::chrono::milliseconds every)
    : name_(std::move(name)), c_(c), every_(every), last_log_(std::chrono::steady_clock::now()), start_(last_log_) {}

void SummaryLogger::Tick() {
    auto now = std::chrono::steady_clock::now();
    if (now - last_log_ < every_) return;
    std::int64_t processed = c_.processed.load();
    if (processed == last_processed_) {
        if (!logged_idle_) Log("idle");  // one line when work stops, then silence
        logged_idle_ = true;
        last_log_ = now;
        return;
    }
    Log("");
    logged_idle_ = false;
}

void SummaryLogger::Final() { Log("done"); }

void SummaryLogger::Log(const char* tag) {
    auto now = std::chrono::steady_clock::now();
    std::int64_t processed = c_.processed.load();
    double secs = std::chrono::duration<double>(now - last_log_).count();
    double rate = secs > 0 ? static_cast<double>(processed - last_processed_) / secs : 0;
    spdlog::info(
        "{}{}{}: processed {} (created {}, updated {}, unchanged {}, skipped {}, not found {}, retried {}, "
        "dead {}, published {}) {:.0f}/s",
        name_, *tag ? " " : "", tag, processed, c_.created.load(), c_.updated.load(), c_.unchanged.load(),
        c_.skipped.load(), c_.not_found.load(), c_.retried.load(), c_.dead.load(), c_.published.load(), rate);
    last_processed_ = processed;
    last_log_ = now;
}

}  // namespace kr::worker
