#pragma once
// USE_REDIS_PUBSUB=true: each killmail new in the database is published on Redis channel
// NEW_KILLMAIL with the body {"killmailId":N} — what the original's web API listens to (graphql-yoga's
// Redis event target: the channel is the pub/sub topic, the message JSON.stringify of the payload).
//   - Stored() (after the commit) only queues the ids in memory and returns: ingest never waits for
//     Redis nor fails because of it. One thread of its own publishes them, in order.
//   - Redis away: logged once when it starts and once when it ends; reconnects with a backoff
//     (doubling up to backoff_cap) whose wait ends at once on stop. Ids wait meanwhile, at most
//     max_pending (the oldest are dropped beyond, counted and logged once per outage).
//   - Stop: what is queued is published if Redis is there (one connection attempt unless it is
//     known to be away, no backoff); what is left is lost (logged). A crash loses what was committed and not yet
//     published.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "push/killmail_events.hpp"
#include "push/redis_client.hpp"

namespace kr::push {

struct RedisPushOptions {
    std::string channel = "NEW_KILLMAIL";
    std::size_t max_pending = 100'000;
    std::chrono::milliseconds backoff_first{500};
    std::chrono::milliseconds backoff_cap{30'000};
};

/// The message of one killmail: {"killmailId":N}.
std::string KillmailMessage(Id killmail_id);

class RedisPush final : public KillmailEvents {
public:
    explicit RedisPush(std::unique_ptr<RedisClient> client, RedisPushOptions options = {});
    ~RedisPush() override;
    RedisPush(const RedisPush&) = delete;
    RedisPush& operator=(const RedisPush&) = delete;

    void Stored(std::span<const Id> new_ids) override;

    std::int64_t Published() const { return published_.load(); }
    std::int64_t Dropped() const { return dropped_.load(); }

private:
    void Loop(std::stop_token stop);
    /// Publishes what is queued; false when Redis failed (what failed stays at the front).
    bool Flush(bool reconnect);
    void Down(const std::string& why);

    std::unique_ptr<RedisClient> client_;  ///< used by the thread only
    RedisPushOptions options_;
    std::mutex mu_;
    std::condition_variable_any wake_;
    std::deque<Id> pending_;
    bool down_ = false;      ///< the thread's: an outage was logged
    bool dropping_ = false;  ///< under mu_: dropping was logged in this outage
    std::atomic<std::int64_t> published_{0};
    std::atomic<std::int64_t> dropped_{0};
    std::jthread thread_;  ///< last: joined before the rest goes
};

}  // namespace kr::push
