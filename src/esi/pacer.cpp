#include "esi/pacer.hpp"

#include <algorithm>
#include <cmath>

#include "core/errors.hpp"

namespace kr::esi {

Pacer::Pacer(RateBudget& budget, Clock& clock, std::string key, PacerOptions options)
    : budget_(budget), clock_(clock), key_(std::move(key)), options_(options) {
    if (options_.rate > 0) {
        interval_us_ = static_cast<std::int64_t>(std::ceil(
            (1'000'000.0 + static_cast<double>(std::max<std::int64_t>(0, options_.margin_us_per_s))) / options_.rate));
    }
}

Pacer::Take Pacer::TryTake(int want) {
    std::int64_t now = clock_.NowUs();
    if (!Enabled()) return {true, now};
    auto drop_late = [&] {
        while (!slots_.empty() && slots_.front() + options_.late_tolerance_us < now) {
            slots_.pop_front();
            ++dropped_;
        }
    };
    drop_late();
    if (slots_.empty()) {
        const int block_cap =
            std::clamp(static_cast<int>(options_.rate * options_.block_seconds), 1, std::max(1, options_.max_block));
        const int n = std::clamp(want, 1, block_cap);
        SlotGrant g = budget_.Reserve(key_, interval_us_, n);
        last_state_ = g.state;
        last_reserve_at_us_ = now;
        for (int i = 0; i < g.count; ++i) slots_.push_back(g.first_us + i * g.interval_us);
        now = clock_.NowUs();
        drop_late();
        if (slots_.empty()) return {false, now};
    }
    const std::int64_t front = slots_.front();
    if (front <= now) {
        slots_.pop_front();
        return {true, front};
    }
    return {false, front};
}

void Pacer::AwaitSlot(const std::function<void(std::int64_t)>& wait_us,
                      const std::function<void(std::int64_t, std::int64_t)>& on_pause) {
    constexpr std::int64_t kRetryUs = 1'000'000;
    for (;;) {
        RateState st;
        try {
            st = budget_.Load(key_);
        } catch (const kr::Error&) {
            wait_us(kRetryUs);  // the shared budget's database is away: try again
            continue;
        }
        const std::int64_t now = clock_.NowUs();
        if (st.paused_until_us > now) {
            Discard();
            if (on_pause) on_pause(st.paused_until_us, now);
            wait_us(st.paused_until_us - now);
            continue;
        }
        Take take;
        try {
            take = TryTake(1);
        } catch (const kr::Error&) {
            wait_us(kRetryUs);
            continue;
        }
        if (take.taken) return;
        wait_us(std::max<std::int64_t>(0, take.at_us - clock_.NowUs()));
    }
}

}  // namespace kr::esi
