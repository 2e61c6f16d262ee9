// The server's stop flag: Stop() wakes Wait() and every request sleeping in SleepFor()
// (fault latency, hung requests), so Server::Stop() does not wait for them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace fakeesi {

class StopSignal {
public:
    void Reset() {
        std::lock_guard lk(mu_);
        stopping_ = false;
    }
    void Stop() {
        {
            std::lock_guard lk(mu_);
            stopping_ = true;
        }
        cv_.notify_all();
    }
    // Sleeps ms milliseconds; returns false if woken early by Stop().
    bool SleepFor(int ms) {
        std::unique_lock lk(mu_);
        return !cv_.wait_for(lk, std::chrono::milliseconds(ms), [&] { return stopping_; });
    }
    void Wait() {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return stopping_; });
    }

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool stopping_ = false;
};

}  // namespace fakeesi
