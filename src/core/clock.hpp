#pragma once
// The one time source: every component that reads the time (ESI pacing and cache expiry, the
// workers' freshness and 404 checks, the store's created_at/updated_at and pending marks, queued
// message timestamps, the database queue's leases, retry times and dead-letter stamps) takes a
// Clock, SystemClock::Instance() in production. All times are unix
// time (wall clock), because rate state and expiry times are shared with other processes through
// the database. Tests use ManualClock, whose SleepFor() advances time instead of sleeping, so time-
// dependent logic runs deterministically and fast.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace kr {

class Clock {
public:
    virtual ~Clock() = default;
    /// Unix time in microseconds.
    virtual std::int64_t NowUs() const = 0;
    /// Block for `us` microseconds (ManualClock: advance instead).
    virtual void SleepFor(std::int64_t us) = 0;
    /// Unix time in milliseconds (the unit of cache expiry, pending marks and stored timestamps).
    std::int64_t NowMs() const { return NowUs() / 1000; }
};

class SystemClock final : public Clock {
public:
    std::int64_t NowUs() const override {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
            .count();
    }
    void SleepFor(std::int64_t us) override {
        if (us > 0) std::this_thread::sleep_for(std::chrono::microseconds(us));
    }
    /// A process-wide instance.
    static SystemClock& Instance() {
        static SystemClock c;
        return c;
    }
};

class ManualClock final : public Clock {
public:
    explicit ManualClock(std::int64_t start_us = 1'700'000'000'000'000) : now_(start_us) {}
    std::int64_t NowUs() const override { return now_.load(); }
    void SleepFor(std::int64_t us) override {
        if (us > 0) now_ += us;
    }
    void Advance(std::int64_t us) { now_ += us; }
    void Set(std::int64_t us) { now_ = us; }

private:
    std::atomic<std::int64_t> now_;
};

}  // namespace kr
