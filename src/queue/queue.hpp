#pragma once
// The queue interface: RabbitMQ (AmqpQueue, when RABBITMQ_URL is set) or a durable queue in the
// database (DbQueue: the SQLite file by default, PostgreSQL with SKIP LOCKED).
//
// Wire compatibility with KillReport: queue names, declaration arguments (durable,
// x-max-priority=10), JSON bodies and properties (persistent, priority) are the original's.
// Retry and dead-letter queues are our own (republish + ack), never new arguments on its queues.
//
// Contract:
// - One Queue object per thread (not thread-safe); open one per worker thread.
// - Publish() returns only when every message is durably accepted (publisher confirms, or the
//   database commit); otherwise it retries and finally throws (never loses silently).
// - Deliveries are at-least-once: the caller acks only after its database commit.
// - Retry() schedules a delayed redelivery (attempt+1 carried in headers) and acks the original;
//   DeadLetter() parks the message with reason + last error and acks the original.
// - Poll() also services heartbeats/leases; call it at least every second while waiting.
#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace kr::queue {

/// The original's queue names (the four info queues are the entity kinds', core/entity_kind.hpp).
inline constexpr const char* kAllianceCorporations = "esi_alliance_corporations_queue";
inline constexpr const char* kZkillboardCharacter = "zkillboard_character_queue";
inline constexpr int kMaxPriority = 10;
/// What killmails bring (entities new to the database) is queued at this priority, what the
/// refresh sweeps and the queue scripts queue below it: new entities go first on every queue, and
/// a delivery below it is refresh traffic to ESI (KILLREPORT_REFRESH_SHARE, esi::EsiRequest::refresh).
inline constexpr std::uint8_t kNewWorkPriority = 5;
/// The last error kept with a retried or dead-lettered message (last_error, x-kr-last-error) is
/// cut to this many bytes (kr::Truncate: whole UTF-8 characters, "…" included).
inline constexpr std::size_t kMaxErrorText = 2000;

/// A priority as both queues store it: 0 .. kMaxPriority (x-max-priority of the original's queues).
inline std::uint8_t ClampPriority(int priority) {
    return static_cast<std::uint8_t>(std::clamp(priority, 0, kMaxPriority));
}

struct OutMessage {
    std::string body;  ///< UTF-8 JSON
    std::uint8_t priority = 0;
    int attempt = 0;  ///< 0 for a new message; carried as header x-kr-attempt
};

struct Delivery {
    std::uint64_t tag = 0;  ///< opaque, valid only on the Queue that delivered it
    std::string queue;
    std::string body;
    std::uint8_t priority = 0;
    int attempt = 0;           ///< how many times it failed before (0 = first try)
    bool redelivered = false;  ///< the broker/lease handed it out before (crash, lost connection)
    /// When this process took it (set by the consume loop; the debug line's latency).
    std::chrono::steady_clock::time_point received{};
};

struct QueueStats {
    std::string queue;
    std::int64_t ready = 0;      ///< waiting to be delivered
    std::int64_t unacked = 0;    ///< delivered, not acked (DbQueue: leased); -1 if unknown
    std::int64_t consumers = 0;  ///< RabbitMQ: as the broker reports; DbQueue: processes holding a live
                                 ///< lease on the queue (an idle consumer holds none); -1 if unknown
    std::int64_t retrying = 0;   ///< waiting for a delayed retry
    std::int64_t dead = 0;       ///< dead letters
};

/// A backend that has failed every attempt to reach or write it since `since` (a full disk, a
/// read-only or unreachable database).
struct Outage {
    std::chrono::steady_clock::time_point since;
    std::string error;  ///< the latest failure
};

struct DeadLetter {
    std::string queue;
    std::string body;
    std::uint8_t priority = 0;
    int attempts = 0;
    std::string reason;  ///< "max_attempts", "bad_json", "bad_field", "esi_422", …
    std::string last_error;
    std::string dead_at;  ///< ISO 8601 UTC
};

class Queue {
public:
    virtual ~Queue() = default;

    /// Declares the queue (and our retry/dead-letter companions) with the original's arguments.
    virtual void Declare(const std::string& queue) = 0;

    /// Publishes durably (persistent + confirms / committed). Throws kr::TransientError when the
    /// messages could not be confirmed after retries.
    virtual void Publish(const std::string& queue, const std::vector<OutMessage>& messages) = 0;

    /// Starts consuming `queue` with the given prefetch (= the worker's concurrency). May be called
    /// for several queues on one Queue object (the `run` command).
    virtual void Consume(const std::string& queue, int prefetch) = 0;

    /// Waits up to `timeout` for deliveries; returns at most `max` (0 = as many as prefetch allows).
    /// Returns an empty vector on timeout. Services heartbeats; reconnects with backoff after a
    /// lost connection (unacked deliveries are then redelivered by the broker, so any delivery
    /// obtained before the reconnect must not be acked: Ack/Retry/DeadLetter ignore stale tags).
    virtual std::vector<Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max = 0) = 0;

    virtual void Ack(const Delivery& d) = 0;
    /// Schedule a redelivery after `delay` with attempt = d.attempt + 1, then ack d.
    virtual void Retry(const Delivery& d, std::chrono::milliseconds delay, const std::string& error) = 0;
    /// Park d in the dead-letter store with reason and error, then ack d.
    virtual void DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) = 0;
    /// Give a delivery back without counting an attempt (graceful shutdown, hand-back).
    virtual void Release(const Delivery& d) = 0;

    /// Stops consuming (no new deliveries); in-flight ones may still be acked.
    virtual void Cancel() = 0;

    /// Set while Poll() cannot reach or write the backend (it keeps retrying, with backoff, and
    /// logs the outage once when it starts and once when it ends). The database queue reports
    /// it; RabbitMQ reconnects on its own schedule and reports none.
    virtual std::optional<Outage> CurrentOutage() const { return std::nullopt; }

    virtual QueueStats Stats(const std::string& queue) = 0;
    /// (kr::queue:: because the DeadLetter() method hides the struct inside the class.)
    virtual std::vector<kr::queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit) = 0;
    /// Moves every dead letter of `queue` back onto it (attempt reset to 0). Returns how many.
    virtual std::size_t RetryDead(const std::string& queue) = 0;
};

struct QueueOptions {
    std::chrono::milliseconds heartbeat{std::chrono::seconds(30)};
    std::chrono::milliseconds lease{std::chrono::minutes(5)};  ///< DbQueue visibility timeout
    /// DbQueue: a consuming process on another host whose heartbeat is older than this is taken
    /// for dead and its leases are taken over (on the same host its pid tells at once).
    std::chrono::milliseconds owner_timeout{std::chrono::seconds(10)};
    std::size_t publish_window = 1000;  ///< outstanding confirms per batch
    /// How long Publish/Retry/DeadLetter keep retrying (reconnect, nack, return) before they throw
    /// kr::TransientError.
    std::chrono::milliseconds publish_timeout{std::chrono::seconds(30)};
    /// RabbitMQ: how long the FIRST connection of a Queue object is tried (connection refused, no
    /// answer) before its Declare/Publish/Consume/Stats throw kr::TransientError naming the URL.
    /// Short: a process that never reached the broker most likely has the wrong RABBITMQ_URL, or
    /// the broker is down and a supervisor (systemd) restarts the process; once connected, a lost
    /// connection is reconnected within publish_timeout (publishing) or for ever (consuming).
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
    /// The time of leases, heartbeats, retry delays and dead-letter stamps (the worker's clock, so
    /// a test's ManualClock drives retry backoff too). Must outlive the queue.
    kr::Clock* clock = &kr::SystemClock::Instance();
};

/// RABBITMQ_URL set -> AmqpQueue(amqp_url); otherwise DbQueue over DATABASE_URL.
std::unique_ptr<Queue> OpenQueue(const std::optional<std::string>& amqp_url, const std::string& database_url,
                                 const QueueOptions& options = {});

}  // namespace kr::queue
