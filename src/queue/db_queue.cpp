#include "queue/db_queue.hpp"

#include <algorithm>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/text.hpp"
#include "core/time_format.hpp"
#include "db/migrator.hpp"
#include "queue/messages.hpp"

namespace kr::queue {

namespace {

using kr::db::Dialect;
using kr::db::Param;
using std::chrono::milliseconds;

constexpr std::size_t kPublishChunk = 1000;

// ---- SQL ----------------------------------------------------------------------------------------

constexpr std::string_view kInsertOne =
    "INSERT INTO kr_queue_messages (queue, body, priority, attempt, available_at, deliveries, enqueued_at)"
    " VALUES ($1, $2, $3, $4, $5, 0, $5)";
constexpr std::string_view kPgInsertMany =
    "INSERT INTO kr_queue_messages (queue, body, priority, attempt, available_at, deliveries, enqueued_at)"
    " SELECT $1, t.b, t.p, t.a, $5, 0, $5 FROM unnest($2::text[], $3::int[], $4::int[]) WITH ORDINALITY"
    " AS t(b, p, a, n) ORDER BY t.n";

// Lease: $1 lease_until, $2 now, $3 limit, $4 owner, $5.. queues (PostgreSQL: $5 an array).
constexpr std::string_view kSqliteLeaseHead =
    "UPDATE kr_queue_messages SET lease_until = $1, owner = $4, deliveries = deliveries + 1 WHERE id IN ("
    " SELECT id FROM kr_queue_messages WHERE queue IN (";
constexpr std::string_view kSqliteLeaseTail =
    ") AND available_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)"
    " ORDER BY priority DESC, id LIMIT $3)"
    " RETURNING id, queue, body, priority, attempt, deliveries";
constexpr std::string_view kPgLease =
    "WITH picked AS (SELECT id FROM kr_queue_messages WHERE queue = ANY($5::text[])"
    " AND available_at <= $2 AND (lease_until IS NULL OR lease_until <= $2)"
    " ORDER BY priority DESC, id LIMIT $3 FOR UPDATE SKIP LOCKED)"
    " UPDATE kr_queue_messages m SET lease_until = $1, owner = $4, deliveries = m.deliveries + 1 FROM picked"
    " WHERE m.id = picked.id RETURNING m.id, m.queue, m.body, m.priority, m.attempt, m.deliveries";

constexpr std::string_view kRenew =
    "UPDATE kr_queue_messages SET lease_until = $1 WHERE id = $2 AND deliveries = $3 AND owner = $4";
constexpr std::string_view kAck = "DELETE FROM kr_queue_messages WHERE id = $1 AND deliveries = $2";
constexpr std::string_view kPgAckMany =
    "DELETE FROM kr_queue_messages m USING unnest($1::bigint[], $2::int[]) AS t(id, d)"
    " WHERE m.id = t.id AND m.deliveries = t.d";
constexpr std::string_view kRetry =
    "UPDATE kr_queue_messages SET attempt = $1, available_at = $2, lease_until = NULL, owner = NULL,"
    " deliveries = 0, last_error = $3 WHERE id = $4 AND deliveries = $5";
constexpr std::string_view kRelease =
    "UPDATE kr_queue_messages SET lease_until = NULL, owner = NULL WHERE id = $1 AND deliveries = $2";
constexpr std::string_view kInsertDead =
    "INSERT INTO kr_queue_dead (queue, body, priority, attempts, reason, last_error, dead_at)"
    " SELECT queue, body, priority, $1, $2, $3, $4 FROM kr_queue_messages WHERE id = $5 AND deliveries = $6";

// Lease owners: $1 owner, $2 host, $3 pid, $4 started_at, $5 heartbeat_at.
constexpr std::string_view kHeartbeat =
    "INSERT INTO kr_queue_consumers (owner, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)"
    " ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
constexpr std::string_view kOtherOwners =
    "SELECT owner, host, pid, started_at, heartbeat_at FROM kr_queue_consumers WHERE owner <> $1";
// Deleted only as last seen: a consumer that beat meanwhile is alive, and of two processes
// taking over the same dead one, one does.
constexpr std::string_view kForgetOwner = "DELETE FROM kr_queue_consumers WHERE owner = $1 AND heartbeat_at = $2";
constexpr std::string_view kTakeOver =
    "UPDATE kr_queue_messages SET lease_until = NULL, owner = NULL WHERE owner = $1 AND lease_until IS NOT NULL";
constexpr std::string_view kStats =
    "SELECT"
    " COALESCE(SUM(CASE WHEN available_at <= $2 AND (lease_until IS NULL OR lease_until <= $2) THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN lease_until > $2 THEN 1 ELSE 0 END), 0),"
    " COALESCE(SUM(CASE WHEN available_at > $2 AND (lease_until IS NULL OR lease_until <= $2) THEN 1 ELSE 0 END), 0),"
    " COUNT(DISTINCT CASE WHEN lease_until > $2 THEN owner END)"
    " FROM kr_queue_messages WHERE queue = $1";
constexpr std::string_view kDeadCount = "SELECT COUNT(*) FROM kr_queue_dead WHERE queue = $1";
constexpr std::string_view kListDead =
    "SELECT queue, body, priority, attempts, reason, last_error, dead_at FROM kr_queue_dead"
    " WHERE queue = $1 ORDER BY id LIMIT $2";
constexpr std::string_view kMaxDeadId = "SELECT MAX(id) FROM kr_queue_dead WHERE queue = $1";
constexpr std::string_view kRequeueDead =
    "INSERT INTO kr_queue_messages (queue, body, priority, attempt, available_at, deliveries, enqueued_at)"
    " SELECT queue, body, priority, 0, $3, 0, $3 FROM kr_queue_dead WHERE queue = $1 AND id <= $2 ORDER BY id";
constexpr std::string_view kDeleteDead = "DELETE FROM kr_queue_dead WHERE queue = $1 AND id <= $2";
constexpr std::string_view kPurgeMessages = "DELETE FROM kr_queue_messages WHERE queue = $1";
constexpr std::string_view kPurgeDead = "DELETE FROM kr_queue_dead WHERE queue = $1";

}  // namespace

void DbQueue::EnsureSchema(kr::db::Connection& conn) { kr::db::Migrate(conn, "queue"); }

DbQueue::DbQueue(const std::string& database_url, const QueueOptions& options, LeaseOwner owner)
    : conn_(kr::db::Open(database_url)),
      pg_(conn_->GetDialect() == Dialect::kPostgres),
      options_(options),
      owner_(std::move(owner)) {
    EnsureSchema(*conn_);
}

DbQueue::~DbQueue() {
    // Nobody can settle what is still in flight once this object is gone: hand it back now
    // rather than leaving it leased.
    for (const auto& [tag, f] : in_flight_)
        pending_releases_.emplace_back(static_cast<std::int64_t>(tag), f.deliveries);
    in_flight_.clear();
    try {
        FlushSettled();
    } catch (const kr::Error& e) {
        spdlog::warn("db queue: acks and hand-backs not written at close ({}); the messages will be redelivered",
                     e.what());
    }
}

void DbQueue::Declare(const std::string&) {}

void DbQueue::Publish(const std::string& queue, const std::vector<OutMessage>& messages) {
    if (messages.empty()) return;
    std::int64_t now = options_.clock->NowMs();
    // Once more on a new connection if the connection drops under it: at least once, like every
    // publish (a commit whose answer was lost may have been written: its messages then come twice).
    Resilient([&] {
        kr::db::Transaction tx(*conn_);
        if (pg_) {
            for (std::size_t start = 0; start < messages.size(); start += kPublishChunk) {
                std::size_t end = std::min(messages.size(), start + kPublishChunk);
                std::vector<std::string> bodies;
                std::vector<std::int64_t> prios, attempts;
                for (std::size_t i = start; i < end; ++i) {
                    bodies.push_back(messages[i].body);
                    prios.push_back(ClampPriority(messages[i].priority));
                    attempts.push_back(std::max(0, messages[i].attempt));
                }
                conn_->Exec(kPgInsertMany, {queue, kr::db::PgTextArray(bodies), kr::db::PgIntArray(prios),
                                            kr::db::PgIntArray(attempts), now});
            }
        } else {
            for (const auto& m : messages) {
                conn_->Exec(kInsertOne, {queue, m.body, std::int64_t{ClampPriority(m.priority)},
                                         static_cast<std::int64_t>(std::max(0, m.attempt)), now});
            }
        }
        tx.Commit();
    });
}

void DbQueue::Consume(const std::string& queue, int prefetch) { consumed_.push_back({queue, std::max(1, prefetch)}); }

std::vector<Delivery> DbQueue::Lease(std::int64_t now, std::size_t limit) {
    std::int64_t until = now + std::max<std::int64_t>(1, options_.lease.count());
    kr::db::Result r;
    if (pg_) {
        std::vector<std::string> queues;
        for (const auto& c : consumed_) queues.push_back(c.queue);
        r = conn_->Exec(kPgLease,
                        {until, now, static_cast<std::int64_t>(limit), owner_.id, kr::db::PgTextArray(queues)});
    } else {
        std::string sql(kSqliteLeaseHead);
        std::vector<Param> params{until, now, static_cast<std::int64_t>(limit), owner_.id};
        for (std::size_t i = 0; i < consumed_.size(); ++i) {
            if (i) sql += ", ";
            sql += "$" + std::to_string(i + 5);
            params.emplace_back(consumed_[i].queue);
        }
        sql += kSqliteLeaseTail;
        r = conn_->Exec(sql, params);
    }
    std::vector<Delivery> out;
    out.reserve(r.Rows());
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        Delivery d;
        d.tag = static_cast<std::uint64_t>(r.Int(i, 0));
        d.queue = r.Text(i, 1);
        d.body = r.Text(i, 2);
        d.priority = static_cast<std::uint8_t>(r.Int(i, 3));
        d.attempt = static_cast<int>(r.Int(i, 4));
        std::int64_t deliveries = r.Int(i, 5);
        d.redelivered = deliveries > 1;
        in_flight_[d.tag] = InFlight{deliveries, until};
        out.push_back(std::move(d));
    }
    // RETURNING gives no order guarantee: deliver by priority, then FIFO.
    std::sort(out.begin(), out.end(), [](const Delivery& a, const Delivery& b) {
        return a.priority != b.priority ? a.priority > b.priority : a.tag < b.tag;
    });
    return out;
}

void DbQueue::RenewLeases(std::int64_t now) {
    std::int64_t lease = std::max<std::int64_t>(1, options_.lease.count());
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
        if (it->second.lease_until - now > lease / 2) {
            ++it;
            continue;
        }
        std::int64_t until = now + lease;
        auto r = conn_->Exec(kRenew, {until, static_cast<std::int64_t>(it->first), it->second.deliveries, owner_.id});
        if (r.Affected() == 0) {
            it = in_flight_.erase(it);  // lost the lease (expired, or taken over): stale
            continue;
        }
        it->second.lease_until = until;
        ++it;
    }
}

template <typename F>
void DbQueue::Resilient(F&& op) {
    constexpr int kRuns = 3;
    for (int run = 1;; ++run) {
        const bool connected = !conn_->Lost();
        try {
            op();
            return;
        } catch (const kr::TransientError& e) {
            // The first run: only a connection that was up and dropped under this op (a failed
            // reconnect stays failed). A new connection dropped again at once (a server ending every
            // connection in a burst) gets one more run.
            if (run >= kRuns || (run == 1 && !connected) || !conn_->Lost()) throw;
            spdlog::warn("db queue: connection lost ({}); trying again on a new connection", e.what());
        }
    }
}

void DbQueue::WriteSettled() {
    if (!pending_acks_.empty()) {
        if (pg_) {
            std::vector<std::int64_t> ids, ds;
            for (auto [id, d] : pending_acks_) {
                ids.push_back(id);
                ds.push_back(d);
            }
            conn_->Exec(kPgAckMany, {kr::db::PgIntArray(ids), kr::db::PgIntArray(ds)});
        } else {
            for (auto [id, d] : pending_acks_) conn_->Exec(kAck, {id, d});
        }
    }
    for (auto [id, d] : pending_releases_) conn_->Exec(kRelease, {id, d});
}

void DbQueue::FlushSettled() {
    if (pending_acks_.empty() && pending_releases_.empty()) return;
    Resilient([&] {
        kr::db::Transaction tx(*conn_);
        WriteSettled();
        tx.Commit();
    });
    pending_acks_.clear();
    pending_releases_.clear();
}

std::int64_t DbQueue::BeatInterval() const {
    return std::clamp<std::int64_t>(options_.owner_timeout.count() / 4, 10, 1000);
}

void DbQueue::Heartbeat(std::int64_t now) {
    if (now - last_beat_ < BeatInterval()) return;
    conn_->Exec(kHeartbeat, {owner_.id, owner_.host, owner_.pid, owner_.started_at, now});
    last_beat_ = now;
    TakeOverDeadOwners(now);
}

void DbQueue::TakeOverDeadOwners(std::int64_t now) {
    auto r = conn_->Exec(kOtherOwners, {owner_.id});
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        LeaseOwner other;
        other.id = r.Text(i, 0);
        other.host = r.Text(i, 1);
        other.pid = r.Int(i, 2);
        other.started_at = r.Int(i, 3);
        std::int64_t beat = r.Int(i, 4);
        std::string why;
        if (other.GoneFrom(owner_)) {
            why = "its process is gone";
        } else if (other.host != owner_.host && now - beat > options_.owner_timeout.count()) {
            why = "no heartbeat for " + std::to_string((now - beat) / 1000) + " s";
        } else {
            continue;
        }
        kr::db::Transaction tx(*conn_);
        if (conn_->Exec(kForgetOwner, {other.id, beat}).Affected() == 0) continue;  // alive again, or taken
        auto taken = conn_->Exec(kTakeOver, {other.id}).Affected();
        tx.Commit();
        if (taken > 0) {
            spdlog::warn("db queue: took over {} message(s) leased by {} ({})", taken, other.id, why);
        } else {
            spdlog::debug("db queue: forgot consumer {} ({})", other.id, why);
        }
    }
}

std::vector<Delivery> DbQueue::Round(std::size_t max) {
    std::int64_t now = options_.clock->NowMs();
    std::size_t total_prefetch = 0;
    for (const auto& c : consumed_) total_prefetch += static_cast<std::size_t>(c.prefetch);
    std::size_t room = total_prefetch > in_flight_.size() ? total_prefetch - in_flight_.size() : 0;
    std::size_t limit = max ? std::min(max, room) : room;
    if (!consumed_.empty() || !in_flight_.empty()) Heartbeat(now);
    bool must_write = !pending_acks_.empty() || !pending_releases_.empty() || limit > 0 ||
                      std::any_of(in_flight_.begin(), in_flight_.end(), [&](const auto& e) {
                          return e.second.lease_until - now <= options_.lease.count() / 2;
                      });
    if (!must_write) return {};
    std::vector<Delivery> out;
    try {
        kr::db::Transaction tx(*conn_);
        WriteSettled();
        RenewLeases(now);
        if (limit > 0) out = Lease(now, limit);
        tx.Commit();
    } catch (...) {
        for (const auto& d : out) in_flight_.erase(d.tag);  // leased, but not committed
        throw;
    }
    pending_acks_.clear();
    pending_releases_.clear();
    return out;
}

std::vector<Delivery> DbQueue::Poll(milliseconds timeout, std::size_t max) {
    // A real-time wait (for other processes' messages); the clock only stamps and compares the
    // rows' times, so a test's frozen ManualClock sees a retry due when the test advances it.
    auto deadline = std::chrono::steady_clock::now() + timeout;
    milliseconds idle_sleep{5};
    for (;;) {
        std::vector<Delivery> out;
        try {
            Resilient([&] { out = Round(max); });
            if (outage_) {
                const auto secs =
                    std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - outage_->since);
                spdlog::info("db queue: the database answers again after {} s; resuming", secs.count());
                outage_.reset();
            }
        } catch (const kr::TransientError& e) {
            // Database full, read-only, busy or unreachable: heartbeat, leases, acks and hand-backs
            // are retried on the next round, about once a second while it lasts.
            if (!outage_) {
                spdlog::warn("db queue: the database does not take writes ({}); waiting until it does", e.what());
                outage_ = Outage{std::chrono::steady_clock::now(), e.what()};
            } else {
                outage_->error = e.what();
            }
        }
        if (!out.empty()) return out;
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) return out;
        const milliseconds cap = outage_ ? milliseconds(1000) : milliseconds(100);
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(idle_sleep, deadline - now));
        idle_sleep = std::min(idle_sleep * 2, cap);
    }
}

void DbQueue::Ack(const Delivery& d) {
    auto it = in_flight_.find(d.tag);
    if (it == in_flight_.end()) return;  // stale or already settled
    pending_acks_.emplace_back(static_cast<std::int64_t>(d.tag), it->second.deliveries);
    in_flight_.erase(it);
    if (pending_acks_.size() >= 256) FlushSettled();
}

// Retry and DeadLetter leave the delivery in flight until the write succeeded: if they throw, the
// caller still holds it and can hand it back.
void DbQueue::Retry(const Delivery& d, milliseconds delay, const std::string& error) {
    auto it = in_flight_.find(d.tag);
    if (it == in_flight_.end()) return;
    const std::int64_t deliveries = it->second.deliveries;
    const std::string text = kr::Truncate(error, kMaxErrorText);
    Resilient([&] {
        std::int64_t at = options_.clock->NowMs() + std::max<std::int64_t>(0, delay.count());
        conn_->Exec(kRetry,
                    {static_cast<std::int64_t>(d.attempt + 1), at, text, static_cast<std::int64_t>(d.tag), deliveries});
    });
    in_flight_.erase(d.tag);
}

void DbQueue::DeadLetter(const Delivery& d, const std::string& reason, const std::string& error) {
    auto it = in_flight_.find(d.tag);
    if (it == in_flight_.end()) return;
    const std::int64_t deliveries = it->second.deliveries;
    const std::string text = kr::Truncate(error, kMaxErrorText);
    Resilient([&] {
        kr::db::Transaction tx(*conn_);
        conn_->Exec(kInsertDead, {static_cast<std::int64_t>(d.attempt + 1), reason, text,
                                  kr::IsoUtc(options_.clock->NowMs()), static_cast<std::int64_t>(d.tag), deliveries});
        conn_->Exec(kAck, {static_cast<std::int64_t>(d.tag), deliveries});
        tx.Commit();
    });
    in_flight_.erase(d.tag);
}

void DbQueue::Release(const Delivery& d) {
    auto it = in_flight_.find(d.tag);
    if (it == in_flight_.end()) return;
    const Settlement s{static_cast<std::int64_t>(d.tag), it->second.deliveries};
    in_flight_.erase(it);
    try {
        Resilient([&] { conn_->Exec(kRelease, {s.first, s.second}); });
    } catch (const kr::TransientError& e) {
        // Written by the next Poll that reaches the database (the caller logs the failure that
        // made it hand back).
        pending_releases_.push_back(s);
        spdlog::debug("db queue: hand-back deferred until the database answers ({})", e.what());
    }
}

void DbQueue::Cancel() {
    consumed_.clear();
    FlushSettled();
}

QueueStats DbQueue::Stats(const std::string& queue) {
    QueueStats s;
    s.queue = queue;
    auto r = conn_->Exec(kStats, {queue, options_.clock->NowMs()});
    s.ready = r.Int(0, 0);
    s.unacked = r.Int(0, 1);
    s.retrying = r.Int(0, 2);
    s.consumers = r.Int(0, 3);  // processes holding a live lease on it
    s.dead = conn_->Exec(kDeadCount, {queue}).Int(0, 0);
    return s;
}

std::vector<kr::queue::DeadLetter> DbQueue::ListDead(const std::string& queue, std::size_t limit) {
    auto r = conn_->Exec(kListDead, {queue, static_cast<std::int64_t>(limit)});
    std::vector<kr::queue::DeadLetter> out;
    for (std::size_t i = 0; i < r.Rows(); ++i) {
        kr::queue::DeadLetter d;
        d.queue = r.Text(i, 0);
        d.body = r.Text(i, 1);
        d.priority = static_cast<std::uint8_t>(r.Int(i, 2));
        d.attempts = static_cast<int>(r.Int(i, 3));
        d.reason = r.Text(i, 4);
        d.last_error = r.Text(i, 5);
        d.dead_at = r.Text(i, 6);
        out.push_back(std::move(d));
    }
    return out;
}

std::size_t DbQueue::RetryDead(const std::string& queue) {
    kr::db::Transaction tx(*conn_);
    auto max_id = conn_->Exec(kMaxDeadId, {queue}).OptInt(0, 0);
    if (!max_id) {
        tx.Commit();
        return 0;
    }
    auto moved = conn_->Exec(kRequeueDead, {queue, *max_id, options_.clock->NowMs()}).Affected();
    conn_->Exec(kDeleteDead, {queue, *max_id});
    tx.Commit();
    return static_cast<std::size_t>(moved);
}

void DbQueue::Purge(const std::string& queue) {
    kr::db::Transaction tx(*conn_);
    conn_->Exec(kPurgeMessages, {queue});
    conn_->Exec(kPurgeDead, {queue});
    tx.Commit();
}

}  // namespace kr::queue
