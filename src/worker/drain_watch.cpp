#include "worker/drain_watch.hpp"

#include <spdlog/spdlog.h>

namespace kr::worker {

namespace {

constexpr std::chrono::seconds kLogEvery{5};

}  // namespace

DrainWatch::DrainWatch(std::string who, std::vector<std::string> queues, int needed)
    : who_(std::move(who)), queues_(std::move(queues)), needed_(needed) {}

std::string DrainWatch::Pending(queue::Queue& q, const std::vector<std::string>& queues) {
    std::string out;
    for (const auto& name : queues) {
        auto s = q.Stats(name);
        std::string parts;
        auto add = [&](std::int64_t n, const char* what) {
            if (n <= 0) return;
            if (!parts.empty()) parts += ", ";
            parts += std::to_string(n) + " " + what;
        };
        add(s.ready, "ready");
        add(s.unacked, "leased");
        add(s.retrying, "waiting for a retry");
        if (parts.empty()) continue;
        if (!out.empty()) out += "; ";
        out += name + ": " + parts;
    }
    return out;
}

bool DrainWatch::Probe(queue::Queue& q) {
    std::string pending = Pending(q, queues_);
    if (pending.empty()) return ++streak_ >= needed_;
    streak_ = 0;
    auto now = std::chrono::steady_clock::now();
    if (now - last_log_ >= kLogEvery) {
        last_log_ = now;
        spdlog::info("{}: idle, but not done: waiting for {}", who_, pending);
    }
    return false;
}

}  // namespace kr::worker
