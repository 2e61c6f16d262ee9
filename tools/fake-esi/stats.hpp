// Request statistics of fake-esi: responses per route and status slot, exact per-second
// maxima, and the counters the handlers bump (420s, 429s, conditional requests, ...).
// All lock-free or briefly locked; reset by POST /_admin/reset-stats.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include <nlohmann/json.hpp>

#include "limits.hpp"
#include "routes.hpp"

namespace fakeesi {

class Stats {
public:
    using Counter = std::atomic<std::uint64_t>;

    Stats();
    void Reset(std::int64_t now_ms);

    // One request arrived (counts it and its per-second rate).
    void CountEsi(int route, std::int64_t now_ms);
    void CountZkb(int route, std::int64_t now_ms);
    void CountR2z2(int route, std::int64_t now_ms);
    void CountAdmin();  // admin requests are recorded as 200 at once
    // Its response's status.
    void Record(int route, int status);

    // since/now, request totals, routes, status, max_per_second and the counters below, under
    // their stats JSON names. The caller adds what lives elsewhere (cache, faults, limits).
    nlohmann::json ToJson(std::int64_t now_ms) const;
    std::int64_t SinceMs() const { return origin_ms_.load(); }
    std::vector<std::uint32_t> EsiPerSecond() const { return esi_max_.PerSecond(); }
    // Requests per second since the reset, per route that had any: {"character": [n, ...], ...}
    // (the same 1-s windows as EsiPerSecond).
    nlohmann::json RoutesPerSecond() const;

    Counter error_limited_420{0};
    Counter downtime_503{0};  // answered 503 by the downtime mode
    Counter rate_limited_429{0};
    Counter zkb_rate_limited_429{0};
    Counter r2z2_rate_limited_429{0};
    Counter r2z2_banned_403{0};
    Counter errors_counted{0};
    Counter conditional_requests{0};
    Counter not_modified_304{0};
    Counter npc_character_requests{0};
    Counter repeated_before_expires{0};
    Counter repeated_before_expires_unconditional{0};

private:
    std::atomic<std::int64_t> origin_ms_{0};
    Counter esi_requests_{0}, zkb_requests_{0}, r2z2_requests_{0}, admin_requests_{0};
    std::array<std::array<Counter, kStatusSlots>, kRouteCount> route_status_{};
    SlidingMax esi_max_, zkb_max_, r2z2_max_;
    std::array<SlidingMax, kRouteCount> route_max_;
};

}  // namespace fakeesi
