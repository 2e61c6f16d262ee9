#include "worker/committer.hpp"

namespace kr::worker {

Committer::Committer(std::unique_ptr<store::Store> store)
    : store_(std::move(store)), thread_([this] { Run(); }) {}

Committer::~Committer() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
}

void Committer::Start(std::function<void(store::Store&)> job) {
    busy_ = true;
    {
        std::lock_guard lock(mu_);
        job_ = std::move(job);
        finished_ = false;
        error_ = nullptr;
    }
    cv_.notify_all();
}

std::optional<std::exception_ptr> Committer::Collect(std::chrono::milliseconds wait) {
    if (!busy_) return std::nullopt;
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, wait, [&] { return finished_; })) return std::nullopt;
    finished_ = false;
    busy_ = false;
    return std::exchange(error_, nullptr);
}

std::exception_ptr Committer::Wait() {
    if (!busy_) return nullptr;
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return finished_; });
    finished_ = false;
    busy_ = false;
    return std::exchange(error_, nullptr);
}

void Committer::Run() {
    for (;;) {
        std::function<void(store::Store&)> job;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return job_ || stopping_; });
            if (!job_) return;
            job = std::move(job_);
            job_ = nullptr;
        }
        std::exception_ptr error;
        try {
            job(*store_);
        } catch (...) {
            error = std::current_exception();
        }
        {
            std::lock_guard lock(mu_);
            error_ = error;
            finished_ = true;
        }
        cv_.notify_all();
    }
}

}  // namespace kr::worker
