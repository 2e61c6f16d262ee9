#include "esi/client_metrics.hpp"

namespace kr::esi {

namespace {
constexpr const char* kPausesHelp =
    "Pauses of a route group (all = every request of the budget: error limit, 420, 429).";
constexpr const char* kCacheHelp =
    "ESI GETs answered from the cache: fresh (no request), not_modified (304), coalesced.";
}  // namespace

ClientMetrics::ClientMetrics(std::string budget, bool http_cache, metrics::Registry& registry)
    : budget_(std::move(budget)), registry_(registry) {
    sent_ = &registry_.Counter(metric::kBudgetUsed, metric::kBudgetUsedHelp, {{"budget", budget_}});
    // Series that exist before their first event (Prometheus sees a 0, not a missing series).
    Cached("p\nall", metric::kPauses, kPausesHelp, {{"budget", budget_}, {"group", "all"}});
    for (const char* r : {"fresh", "not_modified", "coalesced"}) {
        if (http_cache)
            Cached(std::string("c\n") + r, metric::kEsiCache, kCacheHelp, {{"budget", budget_}, {"result", r}});
    }
}

std::string ClientMetrics::GroupLabel(const std::string& key) const {
    if (key.empty()) return "none";
    if (key == budget_) return "all";
    const std::string prefix = budget_ + ":group:";
    return key.rfind(prefix, 0) == 0 ? key.substr(prefix.size()) : key;
}

std::atomic<std::int64_t>& ClientMetrics::Cached(const std::string& cache_key, const char* family, const char* help,
                                                 const metrics::Labels& labels) {
    auto& slot = counters_[cache_key];
    if (!slot) slot = &registry_.Counter(family, help, labels);
    return *slot;
}

void ClientMetrics::Sent() { sent_->fetch_add(1, std::memory_order_relaxed); }

void ClientMetrics::Answered(const std::string& group_key, long status, double seconds) {
    const std::string group = GroupLabel(group_key);
    const std::string code = status > 0 ? std::to_string(status) : "error";
    Cached("r\n" + group + '\n' + code, metric::kEsiRequests,
           "ESI answers by rate-limit route group and HTTP status (error = transport failure).",
           {{"group", group}, {"status", code}})
        .fetch_add(1, std::memory_order_relaxed);
    auto& h = latency_[group];
    if (!h) {
        h = &registry_.Histogram(metric::kEsiLatency, "ESI request latency (send to answer) by route group.",
                                 {{"group", group}}, metrics::LatencyBuckets());
    }
    h->Observe(seconds);
}

void ClientMetrics::Cache(const char* result) {
    Cached(std::string("c\n") + result, metric::kEsiCache, kCacheHelp, {{"budget", budget_}, {"result", result}})
        .fetch_add(1, std::memory_order_relaxed);
}

void ClientMetrics::Paused(const std::string& key) {
    const std::string group = GroupLabel(key);
    Cached("p\n" + group, metric::kPauses, kPausesHelp, {{"budget", budget_}, {"group", group}})
        .fetch_add(1, std::memory_order_relaxed);
}

void ClientMetrics::Page(const char* result) {
    Cached(std::string("z\n") + result, metric::kZkbPages, "zKillboard history pages fetched, by result.",
           {{"result", result}})
        .fetch_add(1, std::memory_order_relaxed);
}

void ClientMetrics::Polled(long status) {
    const std::string code = status > 0 ? std::to_string(status) : "error";
    Cached("q\n" + code, metric::kR2z2Requests,
           "R2Z2 (zKillboard's live feed) answers by HTTP status (404 = not uploaded yet; error = transport "
           "failure).",
           {{"status", code}})
        .fetch_add(1, std::memory_order_relaxed);
}

}  // namespace kr::esi
