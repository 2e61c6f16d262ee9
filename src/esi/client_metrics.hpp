#pragma once
// What the ESI and zKillboard clients report to /metrics (metrics::Registry::Default()). One per
// client, not thread-safe (as the clients): each series is looked up in the registry once and then
// cached here, so counting a request is a map lookup and a relaxed atomic add, never a lock.
#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "metrics/registry.hpp"

namespace kr::esi {

/// The metric family names (one place; tests and `status` read them).
namespace metric {
inline constexpr const char* kEsiRequests = "killreport_esi_requests_total";
inline constexpr const char* kEsiLatency = "killreport_esi_request_duration_seconds";
inline constexpr const char* kEsiCache = "killreport_esi_cache_total";
inline constexpr const char* kBudgetUsed = "killreport_budget_tokens_used_total";
inline constexpr const char* kBudgetUsedHelp = "Requests sent against a shared budget (tokens spent).";
inline constexpr const char* kPauses = "killreport_route_group_pauses_total";
inline constexpr const char* kZkbPages = "killreport_zkillboard_pages_total";
inline constexpr const char* kR2z2Requests = "killreport_r2z2_requests_total";
}  // namespace metric

class ClientMetrics {
public:
    /// `budget` is the budget key the client spends ("esi", "zkb"); `http_cache`: the client
    /// answers from cache entries (ESI), so its cache series start at 0.
    ClientMetrics(std::string budget, bool http_cache, metrics::Registry& registry = metrics::Registry::Default());

    /// A request was sent (a budget token spent).
    void Sent();
    /// An answer: its route group ("" = none known), HTTP status (0 = transport error) and latency.
    void Answered(const std::string& group_key, long status, double seconds);
    /// A GET answered without a body: "fresh" (cache entry not expired, no request),
    /// "not_modified" (304) or "coalesced" (joined an identical request in flight).
    void Cache(const char* result);
    /// `key` (the budget key or a route group's key) was paused.
    void Paused(const std::string& key);
    /// A zKillboard page: "ok", "end" (the empty last page), "client_error", "failed".
    void Page(const char* result);
    /// An R2Z2 answer: its HTTP status (0 = transport error).
    void Polled(long status);

    /// "esi:group:killmail" → "killmail"; the budget key itself → "all"; "" → "none".
    std::string GroupLabel(const std::string& key) const;

private:
    std::atomic<std::int64_t>& Cached(const std::string& cache_key, const char* family, const char* help,
                                      const metrics::Labels& labels);

    std::string budget_;
    metrics::Registry& registry_;
    std::atomic<std::int64_t>* sent_ = nullptr;
    std::unordered_map<std::string, std::atomic<std::int64_t>*> counters_;
    std::unordered_map<std::string, metrics::Histogram*> latency_;
};

}  // namespace kr::esi
