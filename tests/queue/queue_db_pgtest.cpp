// The queue behaviour suite on the database queue over PostgreSQL (KR_TEST_PG_DSN), plus
// several processes sharing one queue with SKIP LOCKED.
#include "queue/consumer.hpp"
#include "queue/db_queue.hpp"
#include "queue/queue_suite.hpp"
#include "support/pg_faults.hpp"

namespace kr::test {

struct PgQueueEnv {
    static std::optional<std::string> Missing() {
        if (EnvVar("KR_TEST_PG_DSN")) return std::nullopt;
        return std::string("KR_TEST_PG_DSN");
    }
    void SetUp() { db = std::make_unique<TempPgDatabase>(*EnvVar("KR_TEST_PG_DSN")); }
    void TearDown() { db.reset(); }
    std::unique_ptr<Queue> Open(const QueueOptions& o) { return std::make_unique<kr::queue::DbQueue>(db->Url(), o); }
    static std::chrono::milliseconds ShortLease() { return 1s; }

    std::unique_ptr<TempPgDatabase> db;
    std::string name = "esi_corporation_info_queue";
};

namespace {

/// What an operator (or a server restart) does to the test database's connections, from an
/// administrative connection of its own.
class Backends {
public:
    Backends(const std::string& admin_dsn, const std::string& db_url)
        : admin_(kr::db::Open(admin_dsn)), name_(db_url.substr(db_url.rfind('/') + 1)) {}

    /// pg_terminate_backend on every connection to the database, then waits until they are gone
    /// (the server has closed each socket).
    void TerminateAll() {
        auto killed = admin_->Exec(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
            {name_});
        ASSERT_GT(killed.Rows(), 0u) << "no connection to terminate";
        ASSERT_TRUE(WaitUntil(
            [&] {
                return admin_->Exec("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1", {name_}).Int(0, 0) == 0;
            },
            10s));
    }
    /// ALTER DATABASE … ALLOW_CONNECTIONS: false refuses every new connection (the database is
    /// "down" for reconnects).
    void AllowConnections(bool allow) {
        admin_->ExecScript("ALTER DATABASE " + name_ + " ALLOW_CONNECTIONS " + (allow ? "true" : "false"));
    }

private:
    std::unique_ptr<kr::db::Connection> admin_;
    std::string name_;
};

/// One message published and leased by `c` (the default 5-minute lease), with an administrative
/// connection to break the database's connections.
class PgDbQueueFaults : public ::testing::Test {
protected:
    void SetUp() override {
        KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
        db = std::make_unique<TempPgDatabase>(dsn);
        backends = std::make_unique<Backends>(dsn, db->Url());
        c = std::make_unique<kr::queue::DbQueue>(db->Url());
        c->Publish("q", {{Entity(1), 0, 0}});
        c->Consume("q", 1);
        auto got = c->Poll(5s);
        ASSERT_EQ(got.size(), 1u);
        d = got[0];
    }

    std::unique_ptr<TempPgDatabase> db;
    std::unique_ptr<Backends> backends;
    std::unique_ptr<kr::queue::DbQueue> c;
    Delivery d;
};

}  // namespace

/// The connection is terminated between Poll and Ack: the ack is written on a new connection
/// by the next Poll, the message is not redelivered and has spent no attempt.
TEST_F(PgDbQueueFaults, AnAckAfterTheConnectionWasTerminatedLands) {
    backends->TerminateAll();
    c->Ack(d);
    EXPECT_TRUE(c->Poll(0ms).empty());
    kr::queue::DbQueue check(db->Url());
    auto st = check.Stats("q");
    EXPECT_EQ(st.ready, 0);
    EXPECT_EQ(st.unacked, 0);
    EXPECT_EQ(st.retrying, 0);
    EXPECT_EQ(st.dead, 0);
    EXPECT_TRUE(c->Poll(500ms).empty());
}

/// The connection is terminated while the delivery's processing fails: the retry is recorded
/// (attempt 1, after its delay), not lost with the delivery leased for the whole lease.
TEST_F(PgDbQueueFaults, ARetryAfterTheConnectionWasTerminatedIsRecorded) {
    backends->TerminateAll();
    auto settled = kr::queue::Settle(*c, d, std::make_exception_ptr(kr::TransientError("ESI 502")), FastPolicy(5));
    EXPECT_EQ(settled, kr::queue::Settled::kRetried);
    auto again = Drain(*c, 1, 5s, false);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(again[0].attempt, 1);
    EXPECT_EQ(again[0].body, Entity(1));
}

/// The database refuses connections when a delivery is handed back: Release does not throw, and
/// the hand-back is written as soon as the database accepts connections again — the message is
/// available at once, not after the 5-minute lease.
TEST_F(PgDbQueueFaults, AHandBackTheDatabaseCouldNotTakeIsWrittenWhenItIsBack) {
    backends->AllowConnections(false);
    backends->TerminateAll();
    EXPECT_NO_THROW(c->Release(d));
    EXPECT_TRUE(c->Poll(300ms).empty());  // still down: nothing, and no exception
    backends->AllowConnections(true);
    auto back = Drain(*c, 1, 5s, false);
    ASSERT_EQ(back.size(), 1u);
    EXPECT_EQ(back[0].body, Entity(1));
    EXPECT_EQ(back[0].attempt, 0);  // a hand-back is not an attempt
    EXPECT_TRUE(back[0].redelivered);
}

/// The connection is dropped under a Publish in flight (its insert waits inside the server): the
/// publish is done again on a new connection instead of failing its caller (a zKillboard page
/// would spend an attempt and fetch its killmails again); one message, not two.
TEST_F(PgDbQueueFaults, APublishWhoseConnectionDropsIsDoneOnANewConnection) {
    kr::queue::DbQueue publisher(db->Url());
    publisher.Declare("q");
    auto published = TerminatedInFlight(db->Url(), "LOCK TABLE kr_queue_messages IN ACCESS EXCLUSIVE MODE", [&] {
        publisher.Publish("q", {{Entity(2), 0, 0}});
    });
    EXPECT_NO_THROW(published.get());
    kr::queue::DbQueue check(db->Url());
    EXPECT_EQ(check.Stats("q").ready, 1);  // the new one (the fixture's message is leased)
}

INSTANTIATE_TYPED_TEST_SUITE_P(Pg, QueueBehaviour, PgQueueEnv);

TEST(PgDbQueue, ConcurrentConsumersShareTheQueueWithoutDuplicates) {
    KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
    TempPgDatabase db(dsn);
    const int n = 2000;
    {
        kr::queue::DbQueue q(db.Url());
        std::vector<OutMessage> msgs;
        for (int i = 1; i <= n; ++i) msgs.push_back({Entity(i), 0, 0});
        q.Publish("q", msgs);
    }
    std::mutex mu;
    std::map<std::string, int> seen;
    std::vector<std::thread> workers;
    for (int w = 0; w < 4; ++w) {
        workers.emplace_back([&] {
            kr::queue::DbQueue c(db.Url());
            c.Consume("q", 50);
            int idle = 0;
            while (idle < 3) {
                auto ds = c.Poll(200ms);
                if (ds.empty()) {
                    ++idle;
                    continue;
                }
                idle = 0;
                std::lock_guard lock(mu);
                for (auto& d : ds) {
                    ++seen[d.body];
                    c.Ack(d);
                }
            }
        });
    }
    for (auto& t : workers) t.join();
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(n));
    for (auto& [body, count] : seen) EXPECT_EQ(count, 1) << body;
    kr::queue::DbQueue q(db.Url());
    auto st = q.Stats("q");
    EXPECT_EQ(st.ready + st.unacked, 0);
}

}  // namespace kr::test
