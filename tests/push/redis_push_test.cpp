// RedisPush over a fake Redis: every id handed in is published once, in order, with the
// original's wire format; an outage never blocks the caller and ends with everything published;
// stop ends the reconnect wait. REDIS_URL parsing.
#include "push/redis_push.hpp"

#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "push/redis_url.hpp"
#include "support/fake_redis_client.hpp"

namespace kr::test {
namespace {

using namespace std::chrono_literals;

/// Waits (at most a minute: a hang fails, the time is never asserted) until `n` are published.
std::vector<std::pair<std::string, std::string>> WaitPublished(FakeRedisClient::State& s, std::size_t n) {
    for (int i = 0; i < 6000; ++i) {
        {
            std::lock_guard lock(s.mu);
            if (s.published.size() >= n) return s.published;
        }
        std::this_thread::sleep_for(10ms);
    }
    std::lock_guard lock(s.mu);
    return s.published;
}

std::vector<std::pair<std::string, std::string>> Expected(const std::vector<Id>& ids) {
    std::vector<std::pair<std::string, std::string>> out;
    for (Id id : ids) out.emplace_back("NEW_KILLMAIL", "{\"killmailId\":" + std::to_string(id) + "}");
    return out;
}

TEST(RedisPush, WireFormatIsTheOriginals) { EXPECT_EQ(push::KillmailMessage(134265477), "{\"killmailId\":134265477}"); }

TEST(RedisPush, PublishesEveryIdOnceInOrder) {
    FakeRedisClient::State state;
    push::RedisPush push(std::make_unique<FakeRedisClient>(state));
    const std::vector<Id> a{5, 3, 9}, b{11}, c{};
    push.Stored(a);
    push.Stored(b);
    push.Stored(c);
    EXPECT_EQ(WaitPublished(state, 4), Expected({5, 3, 9, 11}));
    EXPECT_EQ(push.Published(), 4);
    EXPECT_EQ(state.connects, 1);
}

TEST(RedisPush, OutageNeverBlocksAndEndsWithEverythingPublished) {
    FakeRedisClient::State state;
    state.down = true;
    push::RedisPushOptions o;
    o.backoff_first = 5ms;
    o.backoff_cap = 20ms;
    push::RedisPush push(std::make_unique<FakeRedisClient>(state), o);
    std::vector<Id> ids;
    for (Id id = 1; id <= 1000; ++id) {
        ids.push_back(id);
        const std::vector<Id> one{id};
        push.Stored(one);  // returns although Redis is away
    }
    for (int i = 0; i < 6000; ++i) {  // it has tried (and failed) to reconnect a few times
        {
            std::lock_guard lock(state.mu);
            if (state.failures >= 3) break;
        }
        std::this_thread::sleep_for(10ms);
    }
    {
        std::lock_guard lock(state.mu);
        EXPECT_GE(state.failures, 3);
        EXPECT_TRUE(state.published.empty());
        state.down = false;  // Redis is back
    }
    EXPECT_EQ(WaitPublished(state, ids.size()), Expected(ids));
    EXPECT_EQ(push.Dropped(), 0);
}

TEST(RedisPush, DropsTheOldestBeyondItsBound) {
    FakeRedisClient::State state;
    state.down = true;
    push::RedisPushOptions o;
    o.max_pending = 10;
    o.backoff_first = 5ms;
    o.backoff_cap = 5ms;
    push::RedisPush push(std::make_unique<FakeRedisClient>(state), o);
    std::vector<Id> ids;
    for (Id id = 1; id <= 25; ++id) ids.push_back(id);
    push.Stored(ids);
    EXPECT_EQ(push.Dropped(), 15);
    {
        std::lock_guard lock(state.mu);
        state.down = false;
    }
    EXPECT_EQ(WaitPublished(state, 10), Expected({16, 17, 18, 19, 20, 21, 22, 23, 24, 25}));
}

TEST(RedisPush, StopEndsTheReconnectWait) {
    FakeRedisClient::State state;
    state.down = true;
    push::RedisPushOptions o;
    o.backoff_first = std::chrono::hours(1);  // only a stop can end this wait
    {
        push::RedisPush push(std::make_unique<FakeRedisClient>(state), o);
        const std::vector<Id> ids{1, 2};
        push.Stored(ids);
        for (int i = 0; i < 6000; ++i) {
            {
                std::lock_guard lock(state.mu);
                if (state.failures >= 1) break;
            }
            std::this_thread::sleep_for(10ms);
        }
    }  // joins: a hang here fails the test by its timeout
    std::lock_guard lock(state.mu);
    EXPECT_EQ(state.failures, 1);
    EXPECT_TRUE(state.published.empty());
}

TEST(RedisPush, StopPublishesWhatIsQueuedWhenRedisIsThere) {
    FakeRedisClient::State state;
    std::vector<Id> ids;
    for (Id id = 1; id <= 500; ++id) ids.push_back(id);
    {
        push::RedisPush push(std::make_unique<FakeRedisClient>(state));
        push.Stored(ids);
    }
    std::lock_guard lock(state.mu);
    EXPECT_EQ(state.published, Expected(ids));
}

TEST(RedisUrl, ParsesTheOriginalsForms) {
    auto a = push::ParseRedisUrl("redis://127.0.0.1:6380");
    EXPECT_EQ(a.host, "127.0.0.1");
    EXPECT_EQ(a.port, 6380);
    EXPECT_EQ(a.db, 0);
    EXPECT_TRUE(a.password.empty());
    a = push::ParseRedisUrl("redis://:s3cret@cache.example:6379/2");
    EXPECT_EQ(a.host, "cache.example");
    EXPECT_EQ(a.password, "s3cret");
    EXPECT_TRUE(a.user.empty());
    EXPECT_EQ(a.db, 2);
    a = push::ParseRedisUrl("redis://app:pw@redis/");
    EXPECT_EQ(a.user, "app");
    EXPECT_EQ(a.password, "pw");
    EXPECT_EQ(a.host, "redis");
    EXPECT_EQ(a.port, 6379);
    a = push::ParseRedisUrl("redis://[::1]:7000");
    EXPECT_EQ(a.host, "::1");
    EXPECT_EQ(a.port, 7000);
}

TEST(RedisUrl, RejectsWhatIsNotOne) {
    EXPECT_THROW(push::ParseRedisUrl("http://127.0.0.1:6379"), FatalError);
    EXPECT_THROW(push::ParseRedisUrl("redis://host:port"), FatalError);
    EXPECT_THROW(push::ParseRedisUrl("redis://host:99999"), FatalError);
    EXPECT_THROW(push::ParseRedisUrl("redis://host:6379/x"), FatalError);
}

}  // namespace
}  // namespace kr::test
