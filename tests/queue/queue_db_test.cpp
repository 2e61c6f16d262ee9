// The queue behaviour suite on the database queue over a SQLite file, plus DbQueue specifics.
#include "core/clock.hpp"
#include "core/time_format.hpp"
#include "queue/amqp_queue.hpp"
#include "queue/db_queue.hpp"
#include "queue/lease_owner.hpp"
#include "queue/queue_suite.hpp"
#include "support/paused_child.hpp"
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

namespace {

using kr::queue::DbQueue;
using kr::queue::LeaseOwner;

/// The pid of a process that has exited (and was reaped).
std::int64_t DeadPid() {
    pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    ::waitpid(pid, nullptr, 0);
    return pid;
}

/// Another process's identity on this host.
LeaseOwner OwnerOnThisHost(std::int64_t pid, std::int64_t started_at) {
    LeaseOwner o = LeaseOwner::Self();
    o.pid = pid;
    o.started_at = started_at;
    o.id = o.host + "/" + std::to_string(pid) + "/" + std::to_string(started_at);
    return o;
}

/// Three messages leased by `owner` under the default 5-minute lease; `holder` keeps them (never
/// polls or settles again, like a process that died or hangs).
std::unique_ptr<DbQueue> LeaseThree(const TempSqliteFile& file, const LeaseOwner& owner,
                                    const QueueOptions& options = {}) {
    auto holder = std::make_unique<DbQueue>(file.Url(), options, owner);
    holder->Publish("q", {{Entity(1), 0, 0}, {Entity(2), 0, 0}, {Entity(3), 0, 0}});
    holder->Consume("q", 3);
    EXPECT_EQ(holder->Poll(2s).size(), 3u);
    return holder;
}

std::set<std::string> Bodies(const std::vector<Delivery>& ds) {
    std::set<std::string> out;
    for (const auto& d : ds) out.insert(d.body);
    return out;
}

const std::set<std::string> kThree{Entity(1), Entity(2), Entity(3)};

}  // namespace

/// `run` was killed with -9 holding three messages (5-minute leases); a restarted process sees
/// them as leased (status, --until-idle), then takes them over at its first poll: its pid is gone.
TEST(SqliteDbQueue, LeasesOfAProcessThatIsGoneAreTakenOverAtOnce) {
    TempSqliteFile file;
    auto dead = LeaseThree(file, OwnerOnThisHost(DeadPid(), 1));

    DbQueue restarted(file.Url());
    auto st = restarted.Stats("q");
    EXPECT_EQ(st.ready, 0);
    EXPECT_EQ(st.unacked, 3);
    // What `run --until-idle` probes: not drained while they are leased, and it says why.
    EXPECT_EQ(kr::worker::DrainWatch::Pending(restarted, {"q"}), "q: 3 leased");
    kr::worker::DrainWatch watch("run", {"q"}, 1);
    EXPECT_FALSE(watch.Probe(restarted));

    restarted.Consume("q", 10);
    auto t0 = std::chrono::steady_clock::now();
    auto got = Drain(restarted, 3, 10s, false);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(Bodies(got), kThree);
    for (const auto& d : got) {
        EXPECT_TRUE(d.redelivered);
        EXPECT_EQ(d.attempt, 0);
    }
    // The dead owner's settles are stale now; the new owner's count.
    for (const auto& d : got) dead->Ack(d);
    dead->Cancel();
    EXPECT_EQ(restarted.Stats("q").unacked, 3);
    for (const auto& d : got) restarted.Ack(d);
    restarted.Poll(0ms);
    EXPECT_EQ(kr::worker::DrainWatch::Pending(restarted, {"q"}), "");
    EXPECT_TRUE(watch.Probe(restarted));
}

/// A pid that now belongs to another process (started at another time) is not the owner.
TEST(SqliteDbQueue, APidReusedByAnotherProcessDoesNotKeepTheLeases) {
    TempSqliteFile file;
    const std::int64_t parent = ::getppid();  // alive, but not the owner: another start time
    auto start = LeaseOwner::ProcessStart(parent);
    ASSERT_TRUE(start.has_value());
    auto holder = LeaseThree(file, OwnerOnThisHost(parent, *start + 1000));
    DbQueue other(file.Url());
    other.Consume("q", 10);
    EXPECT_EQ(Drain(other, 3, 2s, false).size(), 3u);
}

/// A process on this host that is alive keeps its leases however long it does not poll (a slow
/// SQLite writer, a long ESI pause); once it is killed, they are taken over at once.
TEST(SqliteDbQueue, ALiveProcessOnThisHostKeepsItsLeasesUntilItDies) {
    TempSqliteFile file;
    PausedChild child;
    auto start = LeaseOwner::ProcessStart(child.Pid());
    ASSERT_TRUE(start.has_value());
    auto holder = LeaseThree(file, OwnerOnThisHost(child.Pid(), *start));
    QueueOptions fast;
    fast.owner_timeout = 200ms;  // its heartbeat goes stale at once; its pid says it is alive
    DbQueue other(file.Url(), fast);
    other.Consume("q", 10);
    EXPECT_TRUE(other.Poll(1500ms).empty());
    child.Kill();
    child.Reap();
    auto got = Drain(other, 3, 3s, false);
    EXPECT_EQ(Bodies(got), kThree);
}

/// A consumer on another host cannot be asked about its pid: its heartbeat says whether it lives.
/// While it beats, its leases stay; once the heartbeat is older than owner_timeout, they are
/// taken over.
TEST(SqliteDbQueue, LeasesOfAConsumerElsewhereAreTakenOverWhenItsHeartbeatStops) {
    TempSqliteFile file;
    LeaseOwner remote;
    remote.host = "elsewhere pid:[1]";
    remote.pid = 4242;
    remote.started_at = 1;
    remote.id = "elsewhere/4242/1";
    QueueOptions fast;
    fast.owner_timeout = 1s;
    auto holder = LeaseThree(file, remote, fast);  // beats every 250 ms
    DbQueue other(file.Url(), fast);
    other.Consume("q", 10);
    // It keeps beating: nothing to take over.
    for (int i = 0; i < 6; ++i) {
        holder->Poll(250ms);
        EXPECT_TRUE(other.Poll(0ms).empty());
    }
    // It stops (the host died): after about owner_timeout, the leases are taken over.
    auto t0 = std::chrono::steady_clock::now();
    auto got = Drain(other, 3, 10s, false);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(Bodies(got), kThree);
    EXPECT_GE(took, 500ms);
    EXPECT_LT(took, 4s);
}

/// A DbQueue destroyed while it holds deliveries (a worker thread ended) hands them back: another
/// consumer in the same process gets them at once, not after the lease.
TEST(SqliteDbQueue, ADestroyedQueueHandsBackWhatIsInFlight) {
    TempSqliteFile file;
    auto holder = LeaseThree(file, LeaseOwner::Self());
    holder.reset();
    DbQueue other(file.Url());
    other.Consume("q", 10);
    auto got = Drain(other, 3, 2s, false);
    EXPECT_EQ(Bodies(got), kThree);
    for (const auto& d : got) EXPECT_EQ(d.attempt, 0);
}

/// `--until-idle` (run, the worker commands) must not stop while a message is leased: not by
/// this process, which holds nothing, but perhaps by another one, or by a dead one whose leases
/// the workers are about to take over. It says what it waits for.
TEST(SqliteDbQueue, UntilIdleWaitsForLeasedMessages) {
    TempSqliteFile file;
    DbQueue q(file.Url()), elsewhere(file.Url());
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

TEST(SqliteDbQueue, RetryTimesAndDeadLetterStampsComeFromTheInjectedClock) {
    TempSqliteFile file;
    ManualClock clock;  // frozen in 2023: the system clock would make every retry due at once
    QueueOptions o;
    o.clock = &clock;
    kr::queue::DbQueue q(file.Url(), o);
    q.Publish("q", {{Entity(1), 0, 0}});
    q.Consume("q", 1);
    auto d = q.Poll(1s);
    ASSERT_EQ(d.size(), 1u);
    q.Retry(d[0], 60s, "try later");
    EXPECT_TRUE(q.Poll(200ms).empty());
    EXPECT_EQ(q.Stats("q").retrying, 1);
    clock.Advance(59'000'000);
    EXPECT_TRUE(q.Poll(200ms).empty());
    clock.Advance(1'000'000);
    d = q.Poll(1s);
    ASSERT_EQ(d.size(), 1u);
    EXPECT_EQ(d[0].attempt, 1);
    q.DeadLetter(d[0], "gave_up", "x");
    auto dead = q.ListDead("q", 10);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].dead_at, IsoUtc(clock.NowMs()));
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
