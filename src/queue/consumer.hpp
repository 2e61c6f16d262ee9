#pragma once
// The per-delivery settle decision; the consume loop every worker runs (worker::RunWorker) applies
// it through worker::Settler. This module is the ONE place where processing errors are turned
// into queue actions:
//   success                      -> Ack
//   kr::PermanentError           -> DeadLetter(reason = e.Reason()) at once
//   kr::TransientError, kr::Error, any other std::exception
//                                -> Retry after RetryPolicy::Delay(attempt) (>= RetryAfter());
//                                   DeadLetter("max_attempts") once attempt + 1 >= max_attempts
//   kr::FatalError, non-std exceptions
//                                -> Release (hand back) and rethrow: the process stops.
//   kr::StoppedError             -> Release (hand back, no attempt counted): a wait gave up
//                                   because the process is stopping.
// Other std::exceptions (bugs such as std::out_of_range) are retried a bounded number of times and
// then dead-lettered rather than crash-looping the process (the original's defect 2).
#include <chrono>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>

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
/// above. Rethrows a FatalError of the processing (after handing the delivery back). If the queue
/// cannot record the outcome — whatever it throws: unreachable after retries, or a Permanent or
/// Fatal error while writing the retry / dead letter — the delivery is handed back (best effort),
/// one line is logged and kReleased is returned: it will be redelivered. Never throws otherwise.
Settled Settle(Queue& queue, const Delivery& d, std::exception_ptr error, const RetryPolicy& policy);

/// The classification alone (no queue calls): what Settle would do.
struct Decision {
    Settled action = Settled::kAcked;
    std::chrono::milliseconds delay{0};  ///< kRetried
    std::string reason;                  ///< kDeadLettered
    std::string error;                   ///< the exception text
};
Decision Decide(const Delivery& d, std::exception_ptr error, const RetryPolicy& policy);

}  // namespace kr::queue
