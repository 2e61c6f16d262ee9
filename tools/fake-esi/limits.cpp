#include "limits.hpp"

#include <algorithm>
#include <cmath>

namespace fakeesi {

// ---- ErrorLimiter --------------------------------------------------------------------------------
std::int64_t ErrorLimiter::Index(std::int64_t now_ms) const {
    std::int64_t d = now_ms - origin_ms_.load();
    if (d < 0) d = 0;
    return d / (static_cast<std::int64_t>(window_s_.load()) * 1000);
}

int ErrorLimiter::Count(std::int64_t now_ms) const {
    std::uint64_t v = state_.load();
    std::uint64_t idx = static_cast<std::uint64_t>(Index(now_ms)) + 1;
    if ((v >> 24) != idx) return 0;
    return static_cast<int>(v & 0xffffff);
}

int ErrorLimiter::ResetSeconds(std::int64_t now_ms) const {
    std::int64_t w = static_cast<std::int64_t>(window_s_.load()) * 1000;
    std::int64_t end = origin_ms_.load() + (Index(now_ms) + 1) * w;
    return static_cast<int>(std::max<std::int64_t>(1, (end - now_ms + 999) / 1000));
}

void ErrorLimiter::AddError(std::int64_t now_ms) {
    std::uint64_t idx = static_cast<std::uint64_t>(Index(now_ms)) + 1;
    std::uint64_t v = state_.load();
    for (;;) {
        std::uint64_t nv =
            ((v >> 24) == idx) ? std::min<std::uint64_t>(v + 1, (idx << 24) | 0xffffff) : ((idx << 24) | 1);
        if (state_.compare_exchange_weak(v, nv)) return;
    }
}

// ---- TokenBucket ---------------------------------------------------------------------------------
void TokenBucket::Configure(int tokens, int window_s) {
    std::lock_guard lk(mu_);
    tokens_ = tokens;
    window_s_ = std::max(1, window_s);
}
void TokenBucket::Reset() {
    std::lock_guard lk(mu_);
    spent_.clear();
    used_ = 0;
}
void TokenBucket::Expire(std::int64_t now_ms) {
    const std::int64_t w = static_cast<std::int64_t>(window_s_) * 1000;
    while (!spent_.empty() && spent_.front().first + w <= now_ms) {
        used_ -= spent_.front().second;
        spent_.pop_front();
    }
}
bool TokenBucket::Admit(std::int64_t now_ms, int& retry_after_s) {
    std::lock_guard lk(mu_);
    Expire(now_ms);
    if (used_ < tokens_) return true;
    // earliest time at which used drops below the limit
    const std::int64_t w = static_cast<std::int64_t>(window_s_) * 1000;
    std::int64_t used = used_;
    std::int64_t at = now_ms + w;
    for (const auto& [t, c] : spent_) {
        used -= c;
        if (used < tokens_) {
            at = t + w;
            break;
        }
    }
    retry_after_s = static_cast<int>(std::max<std::int64_t>(1, (at - now_ms + 999) / 1000));
    return false;
}
int TokenBucket::Charge(std::int64_t now_ms, int cost) {
    std::lock_guard lk(mu_);
    Expire(now_ms);
    if (cost > 0) {
        spent_.emplace_back(now_ms, cost);
        used_ += cost;
    }
    return static_cast<int>(std::max<std::int64_t>(0, tokens_ - used_));
}
int TokenBucket::Remaining(std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Expire(now_ms);
    return static_cast<int>(std::max<std::int64_t>(0, tokens_ - used_));
}
int TokenBucket::Used(std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    Expire(now_ms);
    return static_cast<int>(used_);
}
std::string TokenBucket::LimitHeader() const {
    int w = window_s_;
    std::string unit = std::to_string(w) + "s";
    if (w % 3600 == 0)
        unit = std::to_string(w / 3600) + "h";
    else if (w % 60 == 0)
        unit = std::to_string(w / 60) + "m";
    return std::to_string(tokens_) + "/" + unit;
}

// ---- RateLimiter ---------------------------------------------------------------------------------
void RateLimiter::Configure(double rate) {
    std::lock_guard lk(mu_);
    rate_ = rate;
    times_.clear();
}
void RateLimiter::Reset() {
    std::lock_guard lk(mu_);
    times_.clear();
}
double RateLimiter::Rate() const {
    std::lock_guard lk(mu_);
    return rate_;
}
bool RateLimiter::Admit(std::int64_t now_ms, int& retry_after_s) {
    std::lock_guard lk(mu_);
    if (rate_ <= 0) return true;
    std::int64_t window = 1000;
    std::size_t max = static_cast<std::size_t>(std::floor(rate_));
    if (rate_ < 1) {
        window = static_cast<std::int64_t>(1000.0 / rate_);
        max = 1;
    }
    while (!times_.empty() && times_.front() + window <= now_ms) times_.pop_front();
    if (times_.size() < max) {
        times_.push_back(now_ms);
        return true;
    }
    retry_after_s = static_cast<int>(std::max<std::int64_t>(1, (times_.front() + window - now_ms + 999) / 1000));
    return false;
}

// ---- SlidingMax ----------------------------------------------------------------------------------
void SlidingMax::Add(std::int64_t now_ms) {
    std::lock_guard lk(mu_);
    while (!times_.empty() && times_.front() + window_ms_ <= now_ms) times_.pop_front();
    times_.push_back(now_ms);
    max_ = std::max<std::uint64_t>(max_, times_.size());
    if (histogram_) {
        std::int64_t s = (now_ms - origin_ms_) / 1000;
        if (s >= 0 && s < 7 * 86400) {
            if (per_second_.size() <= static_cast<std::size_t>(s))
                per_second_.resize(static_cast<std::size_t>(s) + 1, 0);
            per_second_[static_cast<std::size_t>(s)]++;
        }
    }
}
std::uint64_t SlidingMax::Max() const {
    std::lock_guard lk(mu_);
    return max_;
}
void SlidingMax::Reset(std::int64_t origin_ms) {
    std::lock_guard lk(mu_);
    times_.clear();
    max_ = 0;
    origin_ms_ = origin_ms;
    per_second_.clear();
}
std::vector<std::uint32_t> SlidingMax::PerSecond() const {
    std::lock_guard lk(mu_);
    return per_second_;
}

}  // namespace fakeesi
