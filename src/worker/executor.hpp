#pragma once
// A thread of its own with a resource that only this thread uses (a store connection, a worker
// Runtime), running the jobs handed to it one at a time, in the order given. What it is for:
//   - a worker whose commits would otherwise stall everything else it does (the info and
//     zKillboard workers on PostgreSQL): one commit at a time runs here while the worker's thread
//     keeps polling the queue and driving ESI; the worker collects the outcome and decides what to
//     do with it (ack, split, fail) on its own thread, so queue handles never cross threads;
//   - a stage of a pipeline (scan:entities): a job works a page, then submits it to the next
//     stage's executor.
// Properties:
//   - bounded: at most `depth` jobs wait besides the running one; Submit blocks while that many
//     wait (memory stays bounded whatever the producer does);
//   - errors reach the owner: a job that throws drops the jobs waiting after it; Submit rethrows
//     that error (so in a pipeline it travels upstream, stage by stage, to the producer), and
//     Collect hands it over and forgets it — the executor is usable again;
//   - destruction finishes the jobs already submitted (unless one failed), then joins the thread;
//     the resource is destroyed after that.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

namespace kr::worker {

template <typename Resource>
class Executor {
public:
    using Job = std::function<void(Resource&)>;

    explicit Executor(std::unique_ptr<Resource> resource, std::size_t depth = 1)
        : resource_(std::move(resource)), depth_(std::max<std::size_t>(1, depth)), thread_([this] { Run(); }) {}
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;
    ~Executor() {
        {
            std::lock_guard lock(mu_);
            closing_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }

    /// Hands job(resource) to the thread. Blocks while `depth` jobs wait. Throws the error of an
    /// earlier job that was not collected yet (the job is then not taken).
    void Submit(Job job) {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return waiting_.size() < depth_ || error_; });
        if (error_) std::rethrow_exception(error_);
        waiting_.push_back(std::move(job));
        busy_ = true;
        cv_.notify_all();
    }

    /// True from Submit until Collect returned the outcome.
    bool Busy() const {
        std::lock_guard lock(mu_);
        return busy_;
    }

    /// Waits at most `wait` until every submitted job has run, then returns their outcome and
    /// forgets it: nullptr (all succeeded, or nothing was submitted) or the exception of the job
    /// that failed. nullopt while a job still waits or runs.
    std::optional<std::exception_ptr> Collect(std::chrono::milliseconds wait) {
        std::unique_lock lock(mu_);
        if (!cv_.wait_for(lock, wait, [&] { return waiting_.empty() && !running_; })) return std::nullopt;
        busy_ = false;
        return std::exchange(error_, nullptr);
    }

private:
    void Run() {
        for (;;) {
            Job job;
            {
                std::unique_lock lock(mu_);
                cv_.wait(lock, [&] { return !waiting_.empty() || closing_; });
                if (waiting_.empty()) return;
                job = std::move(waiting_.front());
                waiting_.pop_front();
                running_ = true;
            }
            cv_.notify_all();  // room for a waiting Submit
            std::exception_ptr error;
            try {
                job(*resource_);
            } catch (...) {
                error = std::current_exception();
            }
            {
                std::lock_guard lock(mu_);
                running_ = false;
                if (error) {
                    // Moved, not copied: once the owner can see the error, this thread holds no
                    // reference to it, so the exception is freed by the thread that collects it.
                    // (A copy released after the unlock drops its count in libstdc++'s atomic,
                    // which ThreadSanitizer cannot see: it reported the owner's reads of the
                    // exception racing with the free.)
                    if (!error_) error_ = std::move(error);
                    waiting_.clear();
                }
            }
            cv_.notify_all();
        }
    }

    std::unique_ptr<Resource> resource_;
    const std::size_t depth_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<Job> waiting_;
    bool running_ = false;
    bool busy_ = false;
    bool closing_ = false;
    std::exception_ptr error_;  ///< of the failed job, until collected
    std::thread thread_;        // last: started once everything above is initialised
};

}  // namespace kr::worker
