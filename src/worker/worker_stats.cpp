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
    const CounterSnapshot snap = CounterSnapshot::Of(c_);
    double secs = std::chrono::duration<double>(now - last_log_).count();
    double rate = secs > 0 ? static_cast<double>(snap.processed - last_processed_) / secs : 0;
    // The final line sums up the whole run: every counter that is not zero.
    spdlog::info("{}", SummaryLine(name_, tag, snap, std::string(tag) == "done" ? CounterSnapshot{} : last_, rate));
    last_processed_ = snap.processed;
    last_ = snap;
    last_log_ = now;
}

CounterSnapshot CounterSnapshot::Of(const WorkerCounters& c) {
    CounterSnapshot s;
    s.processed = c.processed.load();
    s.created = c.created.load();
    s.updated = c.updated.load();
    s.unchanged = c.unchanged.load();
    s.skipped = c.skipped.load();
    s.not_found = c.not_found.load();
    s.retried = c.retried.load();
    s.dead = c.dead.load();
    s.published = c.published.load();
    return s;
}

std::string SummaryLine(const std::string& name, const char* tag, const CounterSnapshot& now,
                        const CounterSnapshot& before, double rate) {
    std::string head = name + (*tag ? " " : "") + tag + ": ";
    if (now.processed == 0 && now.published == 0) return head + "nothing processed";
    std::string moved;
    auto add = [&](const char* label, std::int64_t v, std::int64_t was) {
        if (v == was) return;
        moved += (moved.empty() ? "" : ", ") + std::string(label) + " " + std::to_string(v);
    };
    add("created", now.created, before.created);
    add("updated", now.updated, before.updated);
    add("unchanged", now.unchanged, before.unchanged);
    add("skipped", now.skipped, before.skipped);
    add("not found", now.not_found, before.not_found);
    add("retried", now.retried, before.retried);
    add("dead", now.dead, before.dead);
    add("published", now.published, before.published);
    return head + "processed " + std::to_string(now.processed) + (moved.empty() ? "" : " (" + moved + ")") + " " +
           fmt::format("{:.0f}/s", rate);
}

}  // namespace kr::worker
