#pragma once
// DbQueue: the Queue in the database (used when RABBITMQ_URL is unset): the SQLite file by
// default, or PostgreSQL, where several processes share it (SELECT … FOR UPDATE SKIP LOCKED).
//
// Semantics match AmqpQueue: priorities (higher first, then FIFO), delayed retry (available_at),
// dead letters (kr_queue_dead), at-least-once delivery with leases. Publish = one transaction per
// call. Ack = delete; acks are batched and written by the next Poll()/Cancel() (a crash before
// that redelivers them).
//
// Leases belong to a process, so that a restart recovers a dead process's messages in seconds
// (chosen over a short lease renewed by a heartbeat: the lease stays long, a worker busy for
// minutes keeps it, and a dead process is recognised by its identity instead):
// - A leased message carries its owner, the process's LeaseOwner id (host, pid, start time).
//   Every consuming process has a row in kr_queue_consumers whose heartbeat_at Poll() renews
//   about once a second (more often with a short QueueOptions::owner_timeout).
// - Poll() looks at the other consumers as often (the first Poll at once, so a restarted process
//   takes over at its start): one on this host whose process is gone (pid not running, or
//   running a process that started at another time), or one on another host whose heartbeat is
//   older than QueueOptions::owner_timeout, is dead: its row is deleted and its leases are made
//   available again in the same transaction (flagged redelivered when handed out, no attempt
//   spent). A live process on this host keeps its leases however long it does not poll.
// - The lease itself (QueueOptions::lease, renewed by Poll while a delivery is in flight) stays
//   as the bound for a process that is alive but hung, and for leases without an owner (written
//   before the owner existed).
// - A process that was taken for dead and comes back finds its leases gone: renewals fail (it
//   drops those deliveries as stale) and a stale settle cannot touch a re-leased row (the
//   deliveries counter is the lease token); its next heartbeat registers it again.
// Settling when the connection drops (PostgreSQL): a statement that fails because the connection
// was lost is tried once more on a new connection (every settle statement is idempotent: it
// names the lease token; a Publish is too, at least once as ever: a commit whose answer was lost
// may have been written, and its messages then come twice); if the database stays unreachable,
// Retry/DeadLetter throw and keep the delivery in flight (so the caller can hand it back), and a
// Release that cannot be written is kept and written by the next Poll() that reaches the
// database — the message is available again as soon as the database is back, not after the lease.
// Destroying a DbQueue writes its batched acks and hands back what is still in flight.
// Times come from QueueOptions::clock, the system clock in production (several hosts on one
// PostgreSQL need synchronised clocks); Poll() waits in real time whatever the clock.
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "db/connection.hpp"
#include "queue/lease_owner.hpp"
#include "queue/queue.hpp"

namespace kr::queue {

class DbQueue final : public Queue {
public:
    /// Opens its own connection ("sqlite:///path" or "postgresql://…"). Creates the queue tables
    /// if missing. `owner`: whom its leases belong to (this process; tests impersonate others).
    explicit DbQueue(const std::string& database_url, const QueueOptions& options = {},
                     LeaseOwner owner = LeaseOwner::Self());
    ~DbQueue() override;
    DbQueue(const DbQueue&) = delete;
    DbQueue& operator=(const DbQueue&) = delete;

    void Declare(const std::string& queue) override;
    void Publish(const std::string& queue, const std::vector<OutMessage>& messages) override;
    void Consume(const std::string& queue, int prefetch) override;
    std::vector<Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max = 0) override;
    void Ack(const Delivery& d) override;
    void Retry(const Delivery& d, std::chrono::milliseconds delay, const std::string& error) override;
    void DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) override;
    void Release(const Delivery& d) override;
    void Cancel() override;
    std::optional<Outage> CurrentOutage() const override { return outage_; }
    QueueStats Stats(const std::string& queue) override;
    std::vector<kr::queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit) override;
    std::size_t RetryDead(const std::string& queue) override;

    /// Applies the queue module's migrations if missing (same bookkeeping as db::Migrate).
    static void EnsureSchema(kr::db::Connection& conn);
    /// Deletes every message and dead letter of `queue` (tests and tooling).
    void Purge(const std::string& queue);

private:
    struct InFlight {
        std::int64_t deliveries = 0;   ///< the lease token
        std::int64_t lease_until = 0;  ///< ms since epoch
    };
    struct Consumed {
        std::string queue;
        int prefetch = 1;
    };

    using Settlement = std::pair<std::int64_t, std::int64_t>;  ///< (id, deliveries)

    /// Writes the batched acks and the releases not written yet, in the caller's transaction
    /// (the caller clears them once that committed).
    void WriteSettled();
    /// WriteSettled in a transaction of its own.
    void FlushSettled();
    /// Renews this process's heartbeat and takes over the leases of dead consumers, at most every
    /// BeatInterval().
    void Heartbeat(std::int64_t now);
    void TakeOverDeadOwners(std::int64_t now);
    std::int64_t BeatInterval() const;
    /// One round of Poll: heartbeat; batched settles, lease renewals and new leases in one
    /// transaction.
    std::vector<Delivery> Round(std::size_t max);
    void RenewLeases(std::int64_t now);
    std::vector<Delivery> Lease(std::int64_t now, std::size_t limit);
    /// Runs an idempotent statement (or transaction); again on a new connection (up to three runs)
    /// if the connection was up and got lost under it.
    template <typename F>
    void Resilient(F&& op);

    std::unique_ptr<kr::db::Connection> conn_;
    bool pg_;
    QueueOptions options_;
    LeaseOwner owner_;
    std::vector<Consumed> consumed_;
    std::unordered_map<std::uint64_t, InFlight> in_flight_;
    std::vector<Settlement> pending_acks_;
    std::vector<Settlement> pending_releases_;  ///< hand-backs the database did not take yet
    std::int64_t last_beat_ = 0;                ///< ms since epoch
    std::optional<Outage> outage_;
};

}  // namespace kr::queue
