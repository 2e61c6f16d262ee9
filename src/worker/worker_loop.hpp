#pragma once
// The consume loop shared by every worker: poll up to `concurrency` deliveries, hand them to the
// worker, drive its I/O, settle, and stop gracefully (cancel, finish or hand back what is in
// flight within a deadline) or when idle (`--until-idle`).
#include <atomic>
#include <chrono>
#include <exception>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "core/errors.hpp"
#include "queue/consumer.hpp"
#include "queue/queue.hpp"
#include "worker/worker_stats.hpp"

namespace kr::worker {

/// Settles deliveries and keeps the counters; the per-delivery decision is queue::Settle, the one
/// place where processing errors are classified.
class Settler {
public:
    Settler(queue::Queue& q, queue::RetryPolicy policy, WorkerCounters& c) : q_(q), policy_(policy), c_(c) {}
    /// Acks. At debug level one line: the message, `outcome` ("stored", "unchanged", "skipped
    /// (fresh)", …), the HTTP status that decided it (0: none) and the time since it was received.
    void Ack(const queue::Delivery& d, std::string_view outcome = "done", long http_status = 0);
    /// Retry / dead-letter by the exception; rethrows kr::FatalError.
    void Fail(const queue::Delivery& d, std::exception_ptr error);
    void Release(const queue::Delivery& d);
    /// Services the queue connection (AMQP heartbeats, database-queue lease renewal) while a
    /// worker is busy for long (ESI paused, a large page); at most once a second. A delivery that
    /// arrives meanwhile is handed back at once. With an outage limit set, throws kr::FatalError
    /// once the queue's backend has refused writes for longer (GiveUpOnOutage).
    void KeepAlive();
    /// --until-idle: give up on a backend outage longer than `limit` (nullopt = wait for ever).
    void SetOutageLimit(std::optional<std::chrono::milliseconds> limit) { outage_limit_ = limit; }
    WorkerCounters& Counters() { return c_; }
    queue::Queue& Queue() { return q_; }

private:
    queue::Queue& q_;
    queue::RetryPolicy policy_;
    WorkerCounters& c_;
    std::chrono::steady_clock::time_point last_keepalive_{};
    std::optional<std::chrono::milliseconds> outage_limit_;
};

/// Throws kr::FatalError ("<who>: the database has refused writes for N s (<error>); giving up")
/// when `q` reports an outage older than `limit`; nothing when `limit` is nullopt.
void GiveUpOnOutage(const queue::Queue& q, std::optional<std::chrono::milliseconds> limit, std::string_view who);

/// Runs `process` for each delivery; whatever it throws settles that delivery (FatalError stops).
/// `process` acks on success itself.
template <typename F>
void ForEachDelivery(Settler& settler, const std::vector<queue::Delivery>& deliveries, F&& process) {
    for (const auto& d : deliveries) {
        try {
            process(d);
        } catch (const FatalError&) {
            throw;
        } catch (...) {
            settler.Fail(d, std::current_exception());
        }
    }
}

class Worker {
public:
    virtual ~Worker() = default;
    virtual std::string Name() const = 0;
    virtual std::vector<std::string> Queues() const = 0;
    virtual int Concurrency() const = 0;
    /// Takes deliveries; settles some at once, keeps the others until their I/O completes.
    virtual void Admit(std::vector<queue::Delivery> deliveries) = 0;
    /// Drives I/O for up to `wait`, commits and settles what is complete.
    virtual void Pump(std::chrono::milliseconds wait) = 0;
    /// Deliveries taken and not settled yet.
    virtual std::size_t Held() const = 0;
    /// Shutdown deadline: hand back everything still held (redelivered later).
    virtual void ReleaseAll() = 0;
};

struct LoopOptions {
    bool until_idle = false;
    /// How long the queue's backend may refuse writes (a full disk) before the loop hands back
    /// what it holds and throws kr::FatalError (--until-idle); nullopt = wait until it takes writes.
    std::optional<std::chrono::milliseconds> outage_limit;
    std::chrono::milliseconds drain_deadline{std::chrono::seconds(8)};
    /// Set to true whenever the worker holds nothing and the last poll was empty (`run` uses it).
    std::atomic<bool>* idle_flag = nullptr;
};

/// Runs until `stop` (graceful) or, with until_idle, until its queues are drained (DrainWatch:
/// nothing ready, leased by anyone or waiting for a retry). Rethrows kr::FatalError. A worker
/// blocked inside Admit (a fetch through an ESI pause) sees the same stop through its clients
/// (Runtime::SetStopToken): the wait throws kr::StoppedError and the delivery is handed back.
void RunWorker(Worker& w, queue::Queue& q, SummaryLogger& summary, const LoopOptions& options, std::stop_token stop);

}  // namespace kr::worker
