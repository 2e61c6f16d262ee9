#pragma once
// Local side of the shared request budget: takes send slots from a RateBudget in small blocks and
// hands them out one at a time. A slot may be used from its time until `late_tolerance_us` after
// it; later it is dropped (a late send could land next to the following holder's slot and put
// limit+1 requests into one 1-s window). The interval carries a safety margin:
//   interval = (1 s + margin) / rate
// so any limit+1 consecutive slots span ≥ 1 s + margin, which absorbs the late tolerance plus
// network/scheduling jitter; at the default 20 ms margin ≈ 98 % of the budget is usable.
// Jitter beyond that is what the window guard (RateBudget::TakePermit, used by EsiClient) covers:
// slots space the requests, permits make the limit hold in any window by construction.
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "core/clock.hpp"
#include "esi/rate_budget.hpp"

namespace kr::esi {

struct PacerOptions {
    double rate = 0;                        ///< requests per second; 0 = unlimited (no slots)
    std::int64_t margin_us_per_s = 20'000;  ///< safety margin per second of budget
    std::int64_t late_tolerance_us = 5'000;
    double block_seconds = 0.05;  ///< reserve about this much time worth of slots at once
    int max_block = 32;
};

/// `options` with its rate replaced (clients keep the rate in their own options).
inline PacerOptions WithRate(PacerOptions options, double rate) {
    options.rate = rate;
    return options;
}

class Pacer {
public:
    Pacer(RateBudget& budget, Clock& clock, std::string key, PacerOptions options);

    bool Enabled() const { return interval_us_ > 0; }
    std::int64_t IntervalUs() const { return interval_us_; }

    struct Take {
        bool taken = false;
        std::int64_t at_us = 0;  ///< taken: the slot time; else when the next slot is due
    };
    /// Take a slot for a request that is ready now; `want` = how many requests are ready (sizes the
    /// block reserved from the shared budget). Throws what the budget throws.
    Take TryTake(int want);
    /// Blocks until a slot is taken for one request: waits out the key's shared pause (a 429 any
    /// process saw) and the next slot, and retries every second while the budget's database is
    /// away. Every wait goes through `wait_us` (the caller's: it keeps its connections serviced
    /// and throws on stop). `on_pause(until_us, now_us)`, when given, hears of each wait for a
    /// shared pause before it starts.
    void AwaitSlot(const std::function<void(std::int64_t)>& wait_us,
                   const std::function<void(std::int64_t, std::int64_t)>& on_pause = {});
    /// Forget held slots (e.g. after learning of a pause).
    void Discard() { slots_.clear(); }
    /// State of the key as returned by the last reservation (error-limit pause etc.).
    const RateState& LastState() const { return last_state_; }
    std::int64_t LastReserveAtUs() const { return last_reserve_at_us_; }
    std::int64_t SlotsDropped() const { return dropped_; }

private:
    RateBudget& budget_;
    Clock& clock_;
    std::string key_;
    PacerOptions options_;
    std::int64_t interval_us_ = 0;
    std::deque<std::int64_t> slots_;
    RateState last_state_;
    std::int64_t last_reserve_at_us_ = 0;
    std::int64_t dropped_ = 0;
};

}  // namespace kr::esi
