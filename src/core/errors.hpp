#pragma once
// Errors are classified by what the worker does next. The consume loop is the one place that
// catches them:
//   TransientError -> delayed retry with backoff (bounded attempts, then dead letter)
//   PermanentError -> dead letter at once (the input will never succeed), then ack
//   FatalError     -> stop the process with a non-zero exit (configuration, programming error)
//   StoppedError   -> hand the delivery back (released: no attempt counted); the process is stopping
// A plain kr::Error is treated like a TransientError (bounded attempts keep it from looping).
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>

namespace kr {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class TransientError : public Error {
public:
    explicit TransientError(const std::string& what,
                            std::optional<std::chrono::milliseconds> retry_after = std::nullopt)
        : Error(what), retry_after_(retry_after) {}
    /// A server-requested minimum delay (Retry-After, an error-limit reset), if any.
    std::optional<std::chrono::milliseconds> RetryAfter() const { return retry_after_; }

private:
    std::optional<std::chrono::milliseconds> retry_after_;
};

class PermanentError : public Error {
public:
    /// reason: a short machine-friendly tag ("bad_json", "bad_field", "id_out_of_range",
    /// "esi_422", ...) shown by `dead:list`.
    PermanentError(std::string reason, const std::string& what) : Error(what), reason_(std::move(reason)) {}
    const std::string& Reason() const { return reason_; }

private:
    std::string reason_;
};

class FatalError : public Error {
public:
    using Error::Error;
};

/// A blocking wait (a budget slot, an ESI or zKillboard pause, a Retry-After, a slow answer) gave up
/// because the process is stopping (SIGTERM): the work is handed back for another run, never
/// retried or dead-lettered for it.
class StoppedError : public Error {
public:
    using Error::Error;
};

}  // namespace kr
