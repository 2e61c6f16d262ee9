#pragma once
// The consume loop and the per-delivery settle decision. This module is the ONE place where
// processing errors are caught and turned into queue actions:
//   success                      -> Ack
//   kr::PermanentError           -> DeadLetter(reason = e.Reason()) at once
//   kr::TransientError, kr::Error, any other std::exception
//                                -> Retry after RetryPolicy::Delay(attempt) (>= RetryAfter());
//                                   DeadLetter("max_attempts") once attempt + 1 >= max_attempts
//   kr::FatalError, non-std exceptions
//                                -> Release (hand back) and rethrow: the process stops.
// Other std::exceptions (bugs such as std::out_of_range) are retried a bounded number of times and
// then dead-lettered rather than crash-looping the process (the original's defect 2).
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <vector>

#include "queue/queue.hpp"

namespace kr::queue {

struct RetryPolicy {
    int max_attempts = 5;
    std::chrono::milliseconds base{std::chrono::seconds(5)};
    double factor = 3.0;
    std::chrono::milliseconds cap{std::chrono::minutes(30)};
    double jitter = 0.2;  ///< +-20 %

    /// Delay before attempt `attempt + 1` after failed attempt `attempt` (0-based):
    /// min(cap, base * factor^attempt) * (1 + U(-jitter, +jitter)), but at least `retry_after`.
    /// `unit` in [0, 1) picks the jitter (tests pass fixed values; nullopt = random).
    std::chrono::milliseconds Delay(int attempt, std::optional<std::chrono::milliseconds> retry_after = std::nullopt,
                                    std::optional<double> unit = std::nullopt) const;
};

enum class Settled { kAcked, kRetried, kDeadLettered, kReleased };

/// Settles one delivery by the outcome of its processing (`error` null = success); see the table
/// above. Rethrows FatalError (after releasing the delivery). If the queue itself cannot settle
/// (broker unreachable after retries), the delivery is released on a best-effort basis and
/// kReleased is returned: it will be redelivered.
Settled Settle(Queue& queue, const Delivery& d, std::exception_ptr error, const RetryPolicy& policy);

/// The classification alone (no queue calls): what Settle would do.
struct Decision {
    Settled action = Settled::kAcked;
    std::chrono::milliseconds delay{0};  ///< kRetried
    std::string reason;                  ///< kDeadLettered
    std::string error;                   ///< the exception text
};
Decision Decide(const Delivery& d, std::exception_ptr error, const RetryPolicy& policy);

struct ConsumeOptions {
    std::vector<std::string> queues;  ///< consumed on one Queue object
    int prefetch = 1;                 ///< per queue (= the worker's concurrency)
    RetryPolicy policy;
    std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};  ///< <= 1 s (heartbeats)
};

/// Processes a batch; returns one entry per delivery, in order (nullptr = success). A shorter
/// vector means the remaining deliveries were not started (e.g. stop requested): they are
/// released without counting an attempt. Throwing from the handler itself counts as a failure
/// of every delivery of the batch.
using BatchHandler = std::function<std::vector<std::exception_ptr>(const std::vector<Delivery>&)>;
using Handler = std::function<void(const Delivery&)>;

struct ConsumeCounters {
    std::uint64_t acked = 0;
    std::uint64_t retried = 0;
    std::uint64_t dead_lettered = 0;
    std::uint64_t released = 0;
};

/// Consumes until `stop` is requested (or a FatalError, which is rethrown after the loop has
/// handed back what it holds). On stop: cancels the consumers, releases deliveries not processed
/// yet, settles the processed ones and returns; the caller then destroys the Queue.
ConsumeCounters RunConsumer(Queue& queue, const ConsumeOptions& options, const BatchHandler& handler,
                            std::stop_token stop);
/// Per-delivery handler: deliveries of a batch run one after the other; a stop request between
/// two of them releases the rest.
ConsumeCounters RunConsumer(Queue& queue, const ConsumeOptions& options, const Handler& handler,
                            std::stop_token stop);

}  // namespace kr::queue
