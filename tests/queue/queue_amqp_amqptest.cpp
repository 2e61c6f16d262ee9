// The queue behaviour suite on RabbitMQ (KR_TEST_AMQP_URL), plus AMQP specifics: the original's
// declaration arguments, broker restart, messages from the original's producers.
// ctest-broker-exclusive: AmqpQueueTest.BrokerRestartMidStreamLosesNothing
#include <cstdio>

#include "queue/amqp_queue.hpp"
#include "queue/detail/amqp_connection.hpp"
#include "queue/queue_suite.hpp"

namespace kr::test {

namespace {

std::string UniqueQueueName() {
    static std::atomic<int> counter{0};
    return "kr_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++) + "_" +
           std::to_string(std::rand() % 100000);
}

/// A raw connection, as the original's (amqplib) side would use it.
struct RawConn {
    explicit RawConn(const std::string& url) {
        conn.Open(kr::queue::detail::ParseAmqpUrl(url), 30s, 10s, "kr-test-raw");
    }
    kr::queue::detail::AmqpConnection conn;
};

}  // namespace

struct AmqpQueueEnv {
    static std::optional<std::string> Missing() {
        if (EnvVar("KR_TEST_AMQP_URL")) return std::nullopt;
        return std::string("KR_TEST_AMQP_URL");
    }
    void SetUp() {
        url = *EnvVar("KR_TEST_AMQP_URL");
        name = UniqueQueueName();
    }
    void TearDown() {
        try {
            kr::queue::AmqpQueue(url).DeleteAll(name);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "cleanup: " << e.what();
        }
    }
    std::unique_ptr<Queue> Open(const QueueOptions& o) { return std::make_unique<kr::queue::AmqpQueue>(url, o); }
    static std::chrono::milliseconds ShortLease() { return 1s; }

    std::string url;
    std::string name;
};

INSTANTIATE_TYPED_TEST_SUITE_P(Amqp, QueueBehaviour, AmqpQueueEnv);

class AmqpQueueTest : public ::testing::Test {
protected:
    void SetUp() override {
        auto u = EnvVar("KR_TEST_AMQP_URL");
        if (!u) {
            if (RequireIntegration()) FAIL() << "KR_TEST_AMQP_URL is not set";
            GTEST_SKIP() << "KR_TEST_AMQP_URL is not set (run the tests through scripts/test.sh)";
        }
        env_.SetUp();
    }
    void TearDown() override {
        if (EnvVar("KR_TEST_AMQP_URL")) env_.TearDown();
    }
    AmqpQueueEnv env_;
};

TEST_F(AmqpQueueTest, QueuePreDeclaredByTheOriginalWorks) {
    {
        RawConn raw(env_.url);
        kr::queue::detail::QueueArgs args;
        args.max_priority = 10;  // amqplib: {durable: true, arguments: {"x-max-priority": 10}}
        raw.conn.DeclareQueue(env_.name, args, false);
        // The original's producer: no headers, priority property only.
        kr::queue::detail::RawMessage m;
        m.routing_key = env_.name;
        m.body = R"({"entityId":99003214,"queuedAt":"2026-07-08T22:00:01.123Z","source":"queue-alliances"})";
        m.priority = 5;
        raw.conn.ConfirmSelect();
        raw.conn.Publish(m, false);
        ASSERT_TRUE(raw.conn.WaitConfirm(5s).has_value());
    }
    kr::queue::AmqpQueue q(env_.url);
    EXPECT_NO_THROW(q.Declare(env_.name));
    q.Consume(env_.name, 5);
    auto got = Drain(q, 1, 5s);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].attempt, 0);  // no x-kr-attempt header
    EXPECT_EQ(got[0].priority, 5);
    EXPECT_EQ(kr::queue::ParseEntityMessage(got[0].body).entity_id, 99003214);

    // And the original's consumer reads ours: the same arguments, a plain JSON body.
    q.Cancel();  // our consumer must not take it first
    q.Publish(env_.name, {{Entity(7), 3, 0}});
    RawConn raw(env_.url);
    auto m = raw.conn.Get(env_.name);
    ASSERT_TRUE(m.has_value());
    EXPECT_EQ(m->body, Entity(7));
    EXPECT_EQ(m->priority, 3);
    EXPECT_FALSE(m->IntHeader("x-kr-attempt").has_value());
    raw.conn.Ack(m->delivery_tag, false);
}

TEST_F(AmqpQueueTest, QueueWithoutMaxPriorityIsAClearError) {
    {
        RawConn raw(env_.url);
        raw.conn.DeclareQueue(env_.name, {}, false);  // durable, no x-max-priority
    }
    kr::queue::AmqpQueue q(env_.url);
    const auto t0 = std::chrono::steady_clock::now();  // NOLINT(clang-analyzer-deadcode.DeadStores): read below
    try {
        q.Declare(env_.name);
        FAIL() << "declare succeeded";
    } catch (const kr::FatalError& e) {
        std::string what = e.what();
        EXPECT_NE(what.find(env_.name), std::string::npos) << what;
        EXPECT_NE(what.find("x-max-priority"), std::string::npos) << what;
        EXPECT_NE(what.find("PRECONDITION_FAILED"), std::string::npos) << what;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    // The connection stays usable after the channel error (close-ok was sent).
    EXPECT_EQ(q.Stats(env_.name).ready, 0);
    EXPECT_THROW(q.Publish(env_.name, {{Entity(1), 0, 0}}), kr::FatalError);
}

TEST_F(AmqpQueueTest, RetryTiersAreOurOwnQueues) {
    using kr::queue::AmqpQueue;
    EXPECT_EQ(AmqpQueue::TierFor(0ms), 100ms);
    EXPECT_EQ(AmqpQueue::TierFor(5s), 5s);
    EXPECT_EQ(AmqpQueue::TierFor(5001ms), 10s);
    EXPECT_EQ(AmqpQueue::TierFor(std::chrono::hours(5)), AmqpQueue::RetryTiers().back());
    AmqpQueue q(env_.url);
    q.Publish(env_.name, {{Entity(1), 0, 0}});
    q.Consume(env_.name, 1);
    auto d = Drain(q, 1, 5s, false);
    ASSERT_EQ(d.size(), 1u);
    q.Retry(d[0], 30s, "later");
    // The retry tier exists with its TTL and dead-letter target; re-declaring it identically works.
    RawConn raw(env_.url);
    kr::queue::detail::QueueArgs args;
    args.message_ttl_ms = 40000;
    args.dead_letter_exchange = "";
    args.dead_letter_routing_key = env_.name;
    auto counts = raw.conn.DeclareQueue(AmqpQueue::RetryQueueName(env_.name, 40s), args, false);
    EXPECT_EQ(counts.messages, 1);
    EXPECT_EQ(q.Stats(env_.name).retrying, 1);
}

TEST_F(AmqpQueueTest, UnreachableBrokerIsATransientErrorWithinTheDeadline) {
    QueueOptions o;
    o.publish_timeout = 1s;
    kr::queue::AmqpQueue q("amqp://guest:guest@127.0.0.1:1/", o);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_THROW(q.Publish("x", {{Entity(1), 0, 0}}), kr::TransientError);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_THROW(kr::queue::AmqpQueue("http://nope"), kr::FatalError);
}

TEST_F(AmqpQueueTest, WrongPasswordIsFatal) {
    auto url = env_.url;
    auto at = url.find('@');
    auto colon = url.find(':', 7);
    ASSERT_NE(at, std::string::npos);
    url = url.substr(0, colon + 1) + "wrong" + url.substr(at);
    kr::queue::AmqpQueue q(url);
    EXPECT_THROW(q.Declare(env_.name), kr::FatalError);
}

/// With a 1 s heartbeat and a worker that holds a delivery while polling every 0.5 s, the
/// connection stays up (Poll services heartbeats): the delivery is not redelivered and its ack
/// still counts.
TEST_F(AmqpQueueTest, PollServicesHeartbeatsWhileADeliveryIsHeld) {
    QueueOptions o;
    o.heartbeat = 1s;
    kr::queue::AmqpQueue c(env_.url, o);
    c.Publish(env_.name, {{Entity(1), 0, 0}});
    c.Consume(env_.name, 5);
    auto d = Drain(c, 1, 5s, false);
    ASSERT_EQ(d.size(), 1u);
    auto until = std::chrono::steady_clock::now() + 4s;
    while (std::chrono::steady_clock::now() < until) {
        EXPECT_TRUE(c.Poll(500ms).empty()) << "redelivered: the connection was lost";
    }
    c.Ack(d[0]);
    c.Poll(0ms);
    c.Cancel();
    EXPECT_TRUE(WaitUntil([&] { return c.Stats(env_.name).ready == 0; }, 2s));
    kr::queue::AmqpQueue c2(env_.url);
    c2.Consume(env_.name, 5);
    EXPECT_TRUE(c2.Poll(500ms).empty());
}

/// The queue is deleted under a running consumer (basic.cancel from the broker): the consumer
/// re-declares it and keeps consuming; acks of deliveries from before are ignored, not fatal.
TEST_F(AmqpQueueTest, ConsumerRecoversWhenItsQueueIsDeleted) {
    kr::queue::AmqpQueue c(env_.url);
    c.Publish(env_.name, {{Entity(1), 0, 0}});
    c.Consume(env_.name, 5);
    auto before = Drain(c, 1, 5s, false);
    ASSERT_EQ(before.size(), 1u);
    {
        RawConn raw(env_.url);
        raw.conn.DeleteQueue(env_.name);
    }
    c.Poll(500ms);     // sees the cancel, reopens, re-declares, re-consumes
    c.Ack(before[0]);  // stale tag: ignored
    kr::queue::AmqpQueue p(env_.url);
    p.Publish(env_.name, {{Entity(2), 0, 0}});
    auto after = Drain(c, 1, 10s);
    ASSERT_EQ(after.size(), 1u);
    EXPECT_EQ(after[0].body, Entity(2));
}

/// stop_app/start_app of the broker while a publisher and a consumer run: every message arrives.
TEST_F(AmqpQueueTest, BrokerRestartMidStreamLosesNothing) {
    const char* dir = std::getenv("KR_SERVERS_DIR");
    if (!dir) GTEST_SKIP() << "KR_SERVERS_DIR not set: cannot restart the test broker";
    const std::string ctl = std::string(KR_SOURCE_DIR) + "/scripts/servers.sh ctl ";
    const int n = 3000;
    {
        kr::queue::AmqpQueue q(env_.url);
        q.Declare(env_.name);
    }
    std::atomic<bool> publisher_done{false};
    std::string publisher_error;
    std::thread publisher([&] {
        try {
            QueueOptions o;
            o.publish_timeout = 60s;
            kr::queue::AmqpQueue q(env_.url, o);
            for (int i = 0; i < n; i += 50) {
                std::vector<OutMessage> batch;
                for (int j = i; j < i + 50; ++j) batch.push_back({Entity(j + 1), 0, 0});
                q.Publish(env_.name, batch);
                std::this_thread::sleep_for(5ms);
            }
        } catch (const std::exception& e) {
            publisher_error = e.what();
        }
        publisher_done = true;
    });
    std::set<std::string> seen;
    std::size_t deliveries = 0;
    bool restarted = false;
    {
        QueueOptions o;
        o.heartbeat = 5s;
        kr::queue::AmqpQueue c(env_.url, o);
        c.Consume(env_.name, 50);
        auto deadline = std::chrono::steady_clock::now() + 90s;
        while (seen.size() < static_cast<std::size_t>(n) && std::chrono::steady_clock::now() < deadline) {
            if (!restarted && seen.size() >= 500) {
                restarted = true;
                ASSERT_EQ(std::system((ctl + "stop_app >/dev/null 2>&1").c_str()), 0);
                std::this_thread::sleep_for(1s);
                ASSERT_EQ(std::system((ctl + "start_app >/dev/null 2>&1").c_str()), 0);
            }
            for (auto& d : c.Poll(200ms)) {
                ++deliveries;
                seen.insert(d.body);
                c.Ack(d);
            }
        }
    }
    publisher.join();
    EXPECT_TRUE(publisher_error.empty()) << publisher_error;
    EXPECT_TRUE(restarted);
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));  // nothing lost (duplicates allowed)
    for (int i = 1; i <= n; ++i) {
        if (!seen.count(Entity(i))) {
            ADD_FAILURE() << "missing " << Entity(i);
            break;
        }
    }
    RecordProperty("duplicates", static_cast<int>(deliveries - seen.size()));
}

}  // namespace kr::test
