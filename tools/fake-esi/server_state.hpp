// What the pieces of a fakeesi::Server share: options, the universe, the settings that
// POST /_admin/config changes at runtime, the limiters, the fault injector, the ESI cache and
// the stats. Owned by Server::Impl; the ESI, zKillboard and admin handlers hold a reference.
#pragma once

#include <atomic>
#include <cstdint>

#include "esi_cache.hpp"
#include "faults.hpp"
#include "history_days.hpp"
#include "limits.hpp"
#include "r2z2_feed.hpp"
#include "server.hpp"
#include "stats.hpp"
#include "stop_signal.hpp"
#include "universe.hpp"

namespace fakeesi {

struct ServerState {
    explicit ServerState(Options o);

    Options opts;
    Universe uni;
    std::int64_t start_ms;
    int port = -1;  // set by Server::Start()
    StopSignal stop;

    // runtime-adjustable configuration (GET/POST /_admin/config)
    std::atomic<int> cache_seconds{-1};  // -1: ESI's per-route times
    std::atomic<bool> zkb_full{false};
    std::atomic<int> zkb_page_size{200};
    std::atomic<int> zkb_max_page{100};
    std::atomic<int> zkb_missing_slash_status{403};
    std::atomic<bool> error_headers_everywhere{false};

    ErrorLimiter errlim;
    TokenBucket kmbucket;  // the killmail route's bucket
    RateLimiter zkblim;
    R2z2Feed r2z2;  // after uni
    RateLimiter r2z2lim;
    HistoryDays history;                             // after uni
    std::atomic<std::int64_t> r2z2_ban_until_ms{0};  // 403 on every R2Z2 request until then
    std::atomic<std::int64_t> storm_until_ms{0};     // 420 on every ESI route until then
    std::atomic<std::int64_t> downtime_until_ms{0};  // 503 on every ESI route (/status/ too) until then

    FaultInjector faults{stop};
    EsiCache cache;
    Stats stats;
};

}  // namespace fakeesi
