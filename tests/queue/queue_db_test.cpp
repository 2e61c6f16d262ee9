// The queue behaviour suite on the database queue over a SQLite file, plus DbQueue specifics.
#include "queue/amqp_queue.hpp"
#include "queue/db_queue.hpp"
#include "queue/queue_suite.hpp"
#include "worker/drain_watch.hpp"

namespace kr::test {

struct SqliteQueueEnv {
    static std::optional<std::string> Missing() { return std::nullopt; }
    void SetUp() { file = std::make_unique<TempSqliteFile>(); }
    void TearDown() { file.reset(); }
    std::unique_ptr<Queue> Open(const QueueOptions& o) { return std::make_unique<kr::queue::DbQueue>(file->Url(), o); }
    static std::chrono::milliseconds ShortLease() { return 1s; }

    std::unique_ptr<TempSqliteFile> file;
    std::string name = "esi_alliance_info_queue";
};

INSTANTIATE_TYPED_TEST_SUITE_P(Sqlite, QueueBehaviour, SqliteQueueEnv);

TEST(SqliteDbQueue, ExpiredLeaseIsRedeliveredAndStaleAckIgnored) {
    TempSqliteFile file;
    QueueOptions o;
    o.lease = 300ms;
    kr::queue::DbQueue a(file.Url(), o), b(file.Url(), o);
    a.Publish("q", {{Entity(1), 0, 0}});
    a.Consume("q", 1);
    b.Consume("q", 1);
    auto first = a.Poll(1s);
    ASSERT_EQ(first.size(), 1u);
    EXPECT_FALSE(first[0].redelivered);
    // a stops polling (as if hung): its lease runs out and b gets the message.
    auto second = b.Poll(3s);
    ASSERT_EQ(second.size(), 1u);
    EXPECT_TRUE(second[0].redelivered);
    EXPECT_EQ(second[0].body, Entity(1));
    a.Ack(first[0]);  // stale: must not delete b's lease
    a.Poll(0ms);
    EXPECT_EQ(a.Stats("q").unacked, 1);
    b.Ack(second[0]);
    b.Poll(0ms);
    auto st = a.Stats("q");
    EXPECT_EQ(st.unacked, 0);
    EXPECT_EQ(st.ready, 0);
}

TEST(SqliteDbQueue, PollRenewsLeasesOfLongJobs) {
    TempSqliteFile file;
    QueueOptions o;
    o.lease = 400ms;
    kr::queue::DbQueue a(file.Url(), o), b(file.Url(), o);
    a.Publish("q", {{Entity(1), 0, 0}});
    a.Consume("q", 1);
    b.Consume("q", 1);
    auto held = a.Poll(1s);
    ASSERT_EQ(held.size(), 1u);
    for (int i = 0; i < 8; ++i) {  // 1.2 s of "work", polling as a worker does
        a.Poll(150ms);
        EXPECT_TRUE(b.Poll(0ms).empty());
    }
    a.Ack(held[0]);
    a.Poll(0ms);
    EXPECT_TRUE(b.Poll(600ms).empty());
}

/// `--until-idle` (run, the worker commands) must not stop while a message is leased: not by
/// this process, which holds nothing, but perhaps by another one, or by a dead one whose leases
/// the workers are about to take over. It says what it waits for.
TEST(SqliteDbQueue, UntilIdleWaitsForLeasedMessages) {
    TempSqliteFile file;
    kr::queue::DbQueue q(file.Url()), elsewhere(file.Url());
    q.Publish("q", {{Entity(1), 0, 0}, {Entity(2), 0, 0}});
    elsewhere.Consume("q", 1);
    auto held = elsewhere.Poll(2s);
    ASSERT_EQ(held.size(), 1u);
    EXPECT_EQ(kr::worker::DrainWatch::Pending(q, {"q", "other"}), "q: 1 ready, 1 leased");
    auto more = elsewhere.Poll(0ms);  // the ready one is not taken: the prefetch is full
    EXPECT_TRUE(more.empty());
    q.Consume("q", 1);
    auto second = q.Poll(2s);
    ASSERT_EQ(second.size(), 1u);
    q.Ack(second[0]);
    q.Poll(0ms);
    kr::worker::DrainWatch watch("run", {"q"}, 2);
    EXPECT_EQ(kr::worker::DrainWatch::Pending(q, {"q"}), "q: 1 leased");
    EXPECT_FALSE(watch.Probe(q));
    EXPECT_FALSE(watch.Probe(q));
    elsewhere.Ack(held[0]);
    elsewhere.Poll(0ms);
    EXPECT_EQ(kr::worker::DrainWatch::Pending(q, {"q"}), "");
    EXPECT_FALSE(watch.Probe(q));  // once is not enough
    EXPECT_TRUE(watch.Probe(q));
}

TEST(OpenQueue, PicksRabbitMqOnlyWhenAUrlIsGiven) {
    TempSqliteFile file;
    auto db = kr::queue::OpenQueue(std::nullopt, file.Url());
    EXPECT_NE(dynamic_cast<kr::queue::DbQueue*>(db.get()), nullptr);
    EXPECT_NE(dynamic_cast<kr::queue::DbQueue*>(kr::queue::OpenQueue(std::string(), file.Url()).get()), nullptr);
    // AmqpQueue connects lazily: constructing it needs no broker, a bad URL fails at once.
    auto amqp = kr::queue::OpenQueue(std::string("amqp://guest:guest@127.0.0.1:1/"), file.Url());
    EXPECT_NE(dynamic_cast<kr::queue::AmqpQueue*>(amqp.get()), nullptr);
    EXPECT_THROW(kr::queue::OpenQueue(std::string("amqp://[bad"), file.Url()), kr::FatalError);
}

TEST(SqliteDbQueue, PublishThroughputIsReported) {
    TempSqliteFile file;
    kr::queue::DbQueue q(file.Url());
    std::vector<OutMessage> msgs;
    for (int i = 1; i <= 5000; ++i) msgs.push_back({Entity(i), static_cast<std::uint8_t>(i % 10), 0});
    auto t0 = std::chrono::steady_clock::now();
    q.Publish("q", msgs);
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(q.Stats("q").ready, 5000);
    RecordProperty("publish_per_s", static_cast<int>(5000 / secs));
}

}  // namespace kr::test
