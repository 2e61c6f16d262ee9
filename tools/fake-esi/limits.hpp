// The rate limiters and request-rate meters of the simulator. All times are milliseconds on the
// caller's clock, so they can be unit-tested without sleeping.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace fakeesi {

// ESI's legacy error limit: at most `limit` error responses per fixed window; lock-free.
class ErrorLimiter {
public:
    ErrorLimiter(int limit, int window_s, std::int64_t origin_ms)
        : limit_(limit), window_s_(window_s), origin_ms_(origin_ms) {}
    void Configure(int limit, int window_s) {
        limit_.store(limit);
        window_s_.store(std::max(1, window_s));
    }
    void Reset(std::int64_t origin_ms) {
        origin_ms_.store(origin_ms);
        state_.store(0);
    }
    int Limit() const { return limit_.load(); }
    int WindowSeconds() const { return window_s_.load(); }
    int Count(std::int64_t now_ms) const;
    int Remain(std::int64_t now_ms) const { return std::max(0, Limit() - Count(now_ms)); }
    bool Exhausted(std::int64_t now_ms) const { return Count(now_ms) >= Limit(); }
    int ResetSeconds(std::int64_t now_ms) const;  // seconds until the next window
    void AddError(std::int64_t now_ms);

private:
    std::int64_t Index(std::int64_t now_ms) const;
    std::atomic<int> limit_;
    std::atomic<int> window_s_;
    std::atomic<std::int64_t> origin_ms_;
    std::atomic<std::uint64_t> state_{0};  // (window index + 1) << 24 | count
};

// ESI's floating-window token bucket: spent tokens come back `window` after they were spent.
class TokenBucket {
public:
    TokenBucket(int tokens, int window_s) : tokens_(tokens), window_s_(window_s) {}
    void Configure(int tokens, int window_s);
    void Reset();
    // If the bucket is empty returns false and sets retry_after_s (>= 1).
    bool Admit(std::int64_t now_ms, int& retry_after_s);
    // Charges `cost` and returns the tokens remaining afterwards (>= 0).
    int Charge(std::int64_t now_ms, int cost);
    int Remaining(std::int64_t now_ms);
    int Used(std::int64_t now_ms);  // tokens currently out of the bucket
    int Tokens() const { return tokens_; }
    int WindowSeconds() const { return window_s_; }
    std::string LimitHeader() const;  // "3600/15m"

private:
    void Expire(std::int64_t now_ms);
    std::mutex mu_;
    int tokens_;
    int window_s_;
    std::int64_t used_ = 0;
    std::deque<std::pair<std::int64_t, int>> spent_;
};

// zKillboard's request limit: `rate` requests per second (sliding); 0 = unlimited.
class RateLimiter {
public:
    explicit RateLimiter(double rate) : rate_(rate) {}
    void Configure(double rate);
    void Reset();
    bool Admit(std::int64_t now_ms, int& retry_after_s);
    double Rate() const;

private:
    mutable std::mutex mu_;
    double rate_;
    std::deque<std::int64_t> times_;
};

// Exact maximum number of events inside any window of `window_ms` (sliding), plus a
// per-second histogram of events since the last reset.
class SlidingMax {
public:
    explicit SlidingMax(std::int64_t window_ms = 1000) : window_ms_(window_ms) {}
    void Add(std::int64_t now_ms);
    std::uint64_t Max() const;
    void Reset(std::int64_t origin_ms);
    std::vector<std::uint32_t> PerSecond() const;  // counts per second since origin

private:
    mutable std::mutex mu_;
    std::int64_t window_ms_;
    std::deque<std::int64_t> times_;
    std::uint64_t max_ = 0;
    std::int64_t origin_ms_ = 0;
    bool histogram_ = false;
    std::vector<std::uint32_t> per_second_;

public:
    void EnableHistogram() { histogram_ = true; }
};

}  // namespace fakeesi
