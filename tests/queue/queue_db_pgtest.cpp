// The queue behaviour suite on the database queue over PostgreSQL (KR_TEST_PG_DSN), plus
// several processes sharing one queue with SKIP LOCKED.
#include "queue/db_queue.hpp"
#include "queue/queue_suite.hpp"

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
