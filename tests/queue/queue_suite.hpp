#pragma once
// The queue behaviour suite, run against every implementation (typed tests):
//   queue_db_test.cpp        DbQueue on a SQLite file
//   queue_db_pgtest.cpp      DbQueue on PostgreSQL (KR_TEST_PG_DSN)
//   queue_amqp_amqptest.cpp  AmqpQueue on RabbitMQ (KR_TEST_AMQP_URL)
// An Env provides: static std::optional<std::string> Missing() (the env var that is unset),
// void SetUp(), void TearDown(), std::unique_ptr<Queue> Open(QueueOptions), std::string name
// (a unique queue name) and a short lease for kill tests.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "core/errors.hpp"
#include "queue/consumer.hpp"
#include "queue/messages.hpp"
#include "queue/queue.hpp"
#include "support/test_env.hpp"

namespace kr::test {

using namespace std::chrono_literals;
using kr::queue::Delivery;
using kr::queue::OutMessage;
using kr::queue::Queue;
using kr::queue::QueueOptions;

/// Deterministic bodies (a fixed queuedAt), so tests compare them byte for byte.
inline std::string Entity(std::int64_t id) {
    kr::queue::EntityMessage m;
    m.entity_id = id;
    m.queued_at = "2026-07-08T22:00:01.123Z";
    m.source = "test";
    return kr::queue::BuildEntityMessage(m);
}

template <typename Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(20ms);
    }
    return pred();
}

/// Polls until `n` deliveries arrived (or the timeout), acking each; returns them.
inline std::vector<Delivery> Drain(Queue& q, std::size_t n, std::chrono::milliseconds timeout, bool ack = true) {
    std::vector<Delivery> got;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (got.size() < n && std::chrono::steady_clock::now() < deadline) {
        for (auto& d : q.Poll(200ms)) {
            if (ack) q.Ack(d);
            got.push_back(std::move(d));
        }
    }
    q.Poll(0ms);  // flushes batched acks
    return got;
}

/// A tiny backoff for tests.
inline kr::queue::RetryPolicy FastPolicy(int max_attempts) {
    kr::queue::RetryPolicy p;
    p.max_attempts = max_attempts;
    p.base = 20ms;
    p.factor = 2;
    p.cap = 200ms;
    return p;
}

template <typename Env>
class QueueBehaviour : public ::testing::Test {
protected:
    void SetUp() override {
        if (auto missing = Env::Missing()) {
            if (RequireIntegration()) FAIL() << *missing << " is not set";
            GTEST_SKIP() << *missing << " is not set (run the tests through scripts/test.sh)";
        }
        env_.SetUp();
    }
    void TearDown() override {
        if (!Env::Missing()) env_.TearDown();
    }
    Env env_;
};

TYPED_TEST_SUITE_P(QueueBehaviour);

TYPED_TEST_P(QueueBehaviour, PublishConsumeAck) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}, {Entity(2), 0, 0}, {Entity(3), 0, 0}});
    EXPECT_EQ(q->Stats(env.name).ready, 3);

    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 3, 10s);
    ASSERT_EQ(got.size(), 3u);
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(got[i].body, Entity(i + 1));  // body unchanged, FIFO
        EXPECT_EQ(got[i].queue, env.name);
        EXPECT_EQ(got[i].attempt, 0);
        EXPECT_FALSE(got[i].redelivered);
        EXPECT_EQ(kr::queue::ParseEntityMessage(got[i].body).entity_id, i + 1);
    }
    c.reset();  // closing after the acks: nothing may come back
    EXPECT_TRUE(WaitUntil([&] { return q->Stats(env.name).ready == 0; }, 3s));
    auto c2 = env.Open({});
    c2->Consume(env.name, 10);
    EXPECT_TRUE(c2->Poll(500ms).empty());
}

TYPED_TEST_P(QueueBehaviour, HigherPriorityFirstThenFifo) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    const std::uint8_t prios[] = {0, 5, 9, 3, 5, 0, 9, 10};
    for (int i = 0; i < 8; ++i) msgs.push_back({Entity(i + 1), prios[i], 0});
    q->Publish(env.name, msgs);
    auto c = env.Open({});
    c->Consume(env.name, 100);
    auto got = Drain(*c, 8, 10s);
    ASSERT_EQ(got.size(), 8u);
    std::vector<std::int64_t> ids;
    for (auto& d : got) ids.push_back(kr::queue::ParseEntityMessage(d.body).entity_id);
    EXPECT_EQ(ids, (std::vector<std::int64_t>{8, 3, 7, 2, 5, 4, 1, 6}));
    EXPECT_EQ(got[0].priority, 10);
}

/// A child process takes one message and is killed with SIGKILL before acking: the message
/// comes back (flagged redelivered) and every message is processed once.
TYPED_TEST_P(QueueBehaviour, KilledConsumerMessageIsRedelivered) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    for (int i = 1; i <= 5; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        ::close(fds[0]);
        try {
            QueueOptions o;
            o.lease = env.ShortLease();
            auto cq = env.Open(o);
            cq->Consume(env.name, 1);
            for (;;) {
                auto ds = cq->Poll(200ms, 1);
                if (ds.empty()) continue;
                std::string body = ds[0].body;  // "processing" … and never acked
                (void)!::write(fds[1], body.data(), body.size());
                ::close(fds[1]);
                for (;;) cq->Poll(200ms);  // stay alive until killed
            }
        } catch (...) {
        }
        ::_exit(3);
    }
    ::close(fds[1]);
    char buf[256];
    ssize_t n = ::read(fds[0], buf, sizeof buf);
    ::close(fds[0]);
    ASSERT_GT(n, 0) << "the child did not get a message";
    std::string held(buf, static_cast<std::size_t>(n));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status));

    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 5, 15s);
    std::map<std::string, int> seen;
    for (auto& d : got) {
        ++seen[d.body];
        if (d.body == held) {
            EXPECT_TRUE(d.redelivered);
            EXPECT_EQ(d.attempt, 0);  // a crash is not a failed attempt
        }
    }
    EXPECT_EQ(got.size(), 5u);
    for (int i = 1; i <= 5; ++i) EXPECT_EQ(seen[Entity(i)], 1) << Entity(i);
    EXPECT_TRUE(c->Poll(300ms).empty());
}

TYPED_TEST_P(QueueBehaviour, PoisonMessageIsDeadLetteredWhileOthersFlow) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    const std::string poison = Entity(666);
    std::vector<OutMessage> msgs{{poison, 0, 0}};
    for (int i = 1; i <= 20; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    std::mutex mu;
    std::map<std::string, int> ok;
    std::vector<int> poison_attempts;
    kr::queue::ConsumeOptions co;
    co.queues = {env.name};
    co.prefetch = 5;
    co.policy = FastPolicy(3);
    co.poll_interval = 100ms;
    std::jthread worker([&](std::stop_token st) {
        auto c = env.Open({});
        kr::queue::Handler h = [&](const Delivery& d) {
            std::lock_guard lock(mu);
            if (d.body == poison) {
                poison_attempts.push_back(d.attempt);
                throw kr::TransientError("ESI 502 for entity 666");
            }
            ++ok[d.body];
        };
        kr::queue::RunConsumer(*c, co, h, st);
    });
    ASSERT_TRUE(WaitUntil([&] { return q->Stats(env.name).dead == 1; }, 20s));
    ASSERT_TRUE(WaitUntil([&] { std::lock_guard lock(mu); return ok.size() == 20; }, 10s));
    worker.request_stop();
    worker.join();
    {
        std::lock_guard lock(mu);
        for (auto& [body, n] : ok) EXPECT_EQ(n, 1) << body;
        EXPECT_EQ(poison_attempts, (std::vector<int>{0, 1, 2}));
    }
    auto dead = q->ListDead(env.name, 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].body, poison);
    EXPECT_EQ(dead[0].reason, "max_attempts");
    EXPECT_EQ(dead[0].attempts, 3);
    EXPECT_NE(dead[0].last_error.find("ESI 502"), std::string::npos);
    EXPECT_FALSE(dead[0].dead_at.empty());
    auto st = q->Stats(env.name);
    EXPECT_EQ(st.ready, 0);
    EXPECT_EQ(st.retrying, 0);
}

TYPED_TEST_P(QueueBehaviour, MalformedBodiesAreDeadLetteredAtOnce) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::map<std::string, std::string> bad = {
        {"not json at all", "bad_json"},
        {R"({"entityId":"99003214"})", "bad_field"},
        {R"([1,2,3])", "bad_field"},
        {R"({"queuedAt":"x"})", "bad_field"},
        {R"({"entityId":-5})", "id_out_of_range"},
        {R"({"entityId":0})", "id_out_of_range"},
        {R"({"entityId":9007199254740993})", "id_out_of_range"},
        {R"({"entityId":1e300})", "id_out_of_range"},
        {R"({"entityId":1.5})", "bad_field"},
        {"{\"entityId\":1,\"pad\":\"" + std::string(1 << 20, 'x') + "\"}", "too_large"},
    };
    std::vector<OutMessage> msgs;
    for (auto& [body, reason] : bad) msgs.push_back({body, 0, 0});
    for (int i = 1; i <= 3; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    std::atomic<int> good{0};
    kr::queue::ConsumeOptions co;
    co.queues = {env.name};
    co.prefetch = 4;
    co.policy = FastPolicy(5);
    co.poll_interval = 100ms;
    std::jthread worker([&](std::stop_token st) {
        auto c = env.Open({});
        kr::queue::Handler h = [&](const Delivery& d) {
            kr::queue::ParseEntityMessage(d.body);
            ++good;
        };
        kr::queue::RunConsumer(*c, co, h, st);
    });
    ASSERT_TRUE(WaitUntil([&] { return q->Stats(env.name).dead == static_cast<std::int64_t>(bad.size()); }, 20s));
    ASSERT_TRUE(WaitUntil([&] { return good.load() == 3; }, 10s));
    worker.request_stop();
    worker.join();
    auto dead = q->ListDead(env.name, 100);
    ASSERT_EQ(dead.size(), bad.size());
    for (auto& d : dead) {
        ASSERT_TRUE(bad.count(d.body)) << d.body.substr(0, 80);
        EXPECT_EQ(d.reason, bad[d.body]) << d.body.substr(0, 80);
        EXPECT_EQ(d.attempts, 1);  // no retries for permanent errors
    }
    EXPECT_EQ(q->Stats(env.name).retrying, 0);
}

TYPED_TEST_P(QueueBehaviour, DeadListKeepsMessagesAndRetryPutsThemBack) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(1), 0, 0}, {Entity(2), 7, 2}, {Entity(3), 0, 0}});
    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 3, 10s, false);
    ASSERT_EQ(got.size(), 3u);
    std::map<std::string, std::string> reasons{{Entity(1), "bad_field"}, {Entity(2), "max_attempts"},
                                               {Entity(3), "esi_422"}};
    // Dead-letter in a fixed order: 1, 3, 2.
    std::vector<Delivery> order;
    for (auto id : {1, 3, 2}) {
        for (auto& d : got) {
            if (d.body == Entity(id)) order.push_back(d);
        }
    }
    for (auto& d : order) c->DeadLetter(d, reasons[d.body], "error of " + d.body);
    c->Poll(0ms);
    for (int round = 0; round < 2; ++round) {  // listing twice: nothing lost, same order
        auto dead = q->ListDead(env.name, 100);
        ASSERT_EQ(dead.size(), 3u);
        EXPECT_EQ(dead[0].body, Entity(1));
        EXPECT_EQ(dead[1].body, Entity(3));
        EXPECT_EQ(dead[2].body, Entity(2));
        for (auto& d : dead) {
            EXPECT_EQ(d.reason, reasons[d.body]);
            EXPECT_EQ(d.last_error, "error of " + d.body);
            EXPECT_EQ(d.queue, env.name);
        }
        EXPECT_EQ(dead[2].attempts, 3);  // attempt 2 failed -> 3 attempts
        EXPECT_EQ(dead[2].priority, 7);
        EXPECT_EQ(q->Stats(env.name).dead, 3);
    }
    EXPECT_EQ(q->ListDead(env.name, 2).size(), 2u);
    EXPECT_EQ(q->Stats(env.name).dead, 3);

    EXPECT_EQ(q->RetryDead(env.name), 3u);
    EXPECT_EQ(q->Stats(env.name).dead, 0);
    EXPECT_TRUE(q->ListDead(env.name, 100).empty());
    auto back = Drain(*c, 3, 10s);
    ASSERT_EQ(back.size(), 3u);
    std::set<std::string> bodies;
    for (auto& d : back) {
        bodies.insert(d.body);
        EXPECT_EQ(d.attempt, 0);
    }
    EXPECT_EQ(bodies, (std::set<std::string>{Entity(1), Entity(2), Entity(3)}));
}

TYPED_TEST_P(QueueBehaviour, RetryIsDelayedAndCountsAttempts) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    q->Publish(env.name, {{Entity(42), 4, 0}});
    auto c = env.Open({});
    c->Consume(env.name, 10);
    auto got = Drain(*c, 1, 10s, false);
    ASSERT_EQ(got.size(), 1u);
    auto t0 = std::chrono::steady_clock::now();
    c->Retry(got[0], 400ms, "timeout");
    auto st = q->Stats(env.name);
    EXPECT_EQ(st.retrying, 1);
    EXPECT_EQ(st.ready, 0);
    EXPECT_TRUE(c->Poll(250ms).empty());
    auto again = Drain(*c, 1, 10s);
    auto waited = std::chrono::steady_clock::now() - t0;
    ASSERT_EQ(again.size(), 1u);
    EXPECT_GE(waited, 380ms);
    EXPECT_LT(waited, 5s);
    EXPECT_EQ(again[0].body, Entity(42));
    EXPECT_EQ(again[0].attempt, 1);
    EXPECT_EQ(again[0].priority, 4);
}

/// Stop requested while a batch is in progress: processed ones are acked, the rest handed back
/// (not counted as attempts), and the loop returns promptly.
TYPED_TEST_P(QueueBehaviour, GracefulStopHandsBackInFlight) {
    auto& env = this->env_;
    auto q = env.Open({});
    q->Declare(env.name);
    std::vector<OutMessage> msgs;
    for (int i = 1; i <= 10; ++i) msgs.push_back({Entity(i), 0, 0});
    q->Publish(env.name, msgs);

    std::mutex mu;
    std::vector<std::string> processed;
    kr::queue::ConsumeOptions co;
    co.queues = {env.name};
    co.prefetch = 5;
    co.policy = FastPolicy(5);
    co.poll_interval = 100ms;
    std::stop_source stop;
    std::chrono::steady_clock::time_point stopped_at;
    kr::queue::ConsumeCounters counters;
    std::thread worker([&] {
        auto c = env.Open({});
        kr::queue::Handler h = [&](const Delivery& d) {
            std::this_thread::sleep_for(100ms);
            std::lock_guard lock(mu);
            processed.push_back(d.body);
            if (processed.size() == 2) {
                stopped_at = std::chrono::steady_clock::now();
                stop.request_stop();
            }
        };
        counters = kr::queue::RunConsumer(*c, co, h, stop.get_token());
    });
    worker.join();
    auto took = std::chrono::steady_clock::now() - stopped_at;
    EXPECT_LT(took, 10s);
    ASSERT_EQ(processed.size(), 2u);
    EXPECT_EQ(counters.acked, 2u);

    auto c = env.Open({});
    c->Consume(env.name, 20);
    auto rest = Drain(*c, 8, 10s);
    std::set<std::string> all(processed.begin(), processed.end());
    for (auto& d : rest) {
        EXPECT_EQ(d.attempt, 0);
        EXPECT_TRUE(all.insert(d.body).second) << "duplicate " << d.body;
    }
    EXPECT_EQ(rest.size(), 8u);
    EXPECT_EQ(all.size(), 10u);
    EXPECT_TRUE(c->Poll(300ms).empty());
}

REGISTER_TYPED_TEST_SUITE_P(QueueBehaviour, PublishConsumeAck, HigherPriorityFirstThenFifo,
                            KilledConsumerMessageIsRedelivered, PoisonMessageIsDeadLetteredWhileOthersFlow,
                            MalformedBodiesAreDeadLetteredAtOnce, DeadListKeepsMessagesAndRetryPutsThemBack,
                            RetryIsDelayedAndCountsAttempts, GracefulStopHandsBackInFlight);

}  // namespace kr::test
