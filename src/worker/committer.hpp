#pragma once
// A store connection on a thread of its own, for a worker whose commits would otherwise stall
// everything else it does: while one batch commits, the worker's thread keeps polling the queue
// and driving ESI requests. One job at a time; the worker decides what to do with the outcome
// (ack, split, fail) on its own thread, so queue handles never cross threads.
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "store/store.hpp"

namespace kr::worker {

class Committer {
public:
    explicit Committer(std::unique_ptr<store::Store> store);
    Committer(const Committer&) = delete;
    Committer& operator=(const Committer&) = delete;
    ~Committer();  ///< finishes the running job, then stops

    /// True from Start until the outcome was collected (Collect/Wait).
    bool Busy() const { return busy_; }
    /// Runs job(store) on the committer's thread. Precondition: !Busy().
    void Start(std::function<void(store::Store&)> job);
    /// The finished job's outcome (nullptr = success), waiting at most `wait`; nullopt while it runs.
    std::optional<std::exception_ptr> Collect(std::chrono::milliseconds wait);
    /// Waits for the running job and returns its outcome (nullptr also when nothing ran).
    std::exception_ptr Wait();

private:
    void Run();

    std::unique_ptr<store::Store> store_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::function<void(store::Store&)> job_;  ///< set: waiting for the thread
    bool finished_ = false;                   ///< the job ran; outcome in error_
    std::exception_ptr error_;
    bool stopping_ = false;
    bool busy_ = false;  ///< only touched by the owner's thread
    std::thread thread_;
};

}  // namespace kr::worker
