#include "queue/consumer.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include <spdlog/spdlog.h>

#include "core/errors.hpp"

namespace kr::queue {

namespace {

using std::chrono::milliseconds;

double RandomUnit() {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

}  // namespace

milliseconds RetryPolicy::Delay(int attempt, std::optional<milliseconds> retry_after,
                                std::optional<double> unit) const {
    double base_ms = static_cast<double>(base.count());
    double cap_ms = static_cast<double>(cap.count());
    double d = base_ms * std::pow(std::max(1.0, factor), std::max(0, attempt));
    if (!std::isfinite(d) || d > cap_ms) d = cap_ms;
    double u = unit.value_or(RandomUnit());
    d *= 1.0 + jitter * (2.0 * u - 1.0);
    auto out = milliseconds(static_cast<std::int64_t>(std::max(0.0, d)));
    if (retry_after && *retry_after > out) out = *retry_after;
    return out;
}

Decision Decide(const Delivery& d, std::exception_ptr error, const RetryPolicy& policy) {
    Decision dec;
    if (!error) return dec;
    auto retry = [&](const std::string& what, std::optional<milliseconds> retry_after) {
        dec.error = what;
        if (d.attempt + 1 >= policy.max_attempts) {
            dec.action = Settled::kDeadLettered;
            dec.reason = "max_attempts";
        } else {
            dec.action = Settled::kRetried;
            dec.delay = policy.Delay(d.attempt, retry_after);
        }
    };
    try {
        std::rethrow_exception(error);
    } catch (const kr::FatalError&) {
        throw;
    } catch (const kr::StoppedError& e) {
        dec.action = Settled::kReleased;  // not the message's fault: no attempt spent
        dec.error = e.what();
    } catch (const kr::PermanentError& e) {
        dec.action = Settled::kDeadLettered;
        dec.reason = e.Reason().empty() ? "permanent" : e.Reason();
        dec.error = e.what();
    } catch (const kr::TransientError& e) {
        retry(e.what(), e.RetryAfter());
    } catch (const kr::Error& e) {
        retry(e.what(), std::nullopt);
    } catch (const std::exception& e) {
        retry(std::string("unexpected exception: ") + e.what(), std::nullopt);
    }
    // Anything else (not a std::exception) propagates: we do not know what it means.
    return dec;
}

namespace {

/// Hands `d` back; returns what went wrong, if anything (never throws: it runs on failure paths).
std::optional<std::string> HandBack(Queue& queue, const Delivery& d) {
    try {
        queue.Release(d);
        return std::nullopt;
    } catch (const std::exception& e) {
        return std::string(e.what());
    } catch (...) {
        return std::string("unknown exception");
    }
}

}  // namespace

Settled Settle(Queue& queue, const Delivery& d, std::exception_ptr error, const RetryPolicy& policy) {
    Decision dec;
    try {
        dec = Decide(d, error, policy);
    } catch (...) {
        // A fatal processing error: hand the delivery back before the process stops, and stop with
        // the processing's error, not with a failed hand-back.
        if (auto failed = HandBack(queue, d)) {
            spdlog::warn("queue {}: cannot hand back a delivery before stopping ({})", d.queue, *failed);
        }
        throw;
    }
    std::string failure;
    try {
        switch (dec.action) {
            case Settled::kAcked: queue.Ack(d); break;
            case Settled::kRetried:
                spdlog::warn("queue {}: attempt {} failed, retry in {} ms: {}", d.queue, d.attempt + 1,
                             dec.delay.count(), dec.error);
                queue.Retry(d, dec.delay, dec.error);
                break;
            case Settled::kDeadLettered:
                spdlog::error("queue {}: dead-lettered ({}) after {} attempt(s): {}", d.queue, dec.reason,
                              d.attempt + 1, dec.error);
                queue.DeadLetter(d, dec.reason, dec.error);
                break;
            case Settled::kReleased:
                spdlog::info("queue {}: handed back ({})", d.queue, dec.error);
                queue.Release(d);
                break;
        }
        return dec.action;
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "unknown exception";
    }
    // The queue could not record the outcome: unreachable after retries (TransientError), or the
    // write itself was rejected (a PermanentError such as a data error, a FatalError). Whatever it
    // was, recording a failure must not stop the worker: hand the delivery back, to be redelivered.
    if (auto failed = HandBack(queue, d)) {
        spdlog::warn("queue {}: cannot settle a delivery ({}) nor hand it back ({}); it returns when its lease ends",
                     d.queue, failure, *failed);
    } else {
        spdlog::warn("queue {}: cannot settle a delivery ({}); handed back for redelivery", d.queue, failure);
    }
    return Settled::kReleased;
}

}  // namespace kr::queue
