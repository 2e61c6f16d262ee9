// The SQL layer on a real PostgreSQL (KR_TEST_PG_DSN).
#include <thread>

#include "db/db_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

#define KR_PG_CASE(name, fn)                   \
    TEST(PgDb, name) {                         \
        KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN"); \
        TempPgDatabase tmp(dsn);               \
        auto c = db::Open(tmp.Url());          \
        fn(*c);                                \
    }

KR_PG_CASE(RoundTripsTypesAndParameters, DbRoundTripTypes)
KR_PG_CASE(TransactionRollsBackUnlessCommitted, DbTransactionRollsBack)
KR_PG_CASE(ErrorsAreClassified, DbErrorsAreClassified)
KR_PG_CASE(MigrateIsIdempotent, DbMigrateIsIdempotent)

TEST(PgDb, UnreachableServerIsTransient) {
    EXPECT_THROW(db::Open("postgresql://postgres@127.0.0.1:1/x?connect_timeout=2"), TransientError);
}

TEST(PgDb, ConcurrentMigratorsDoNotCollide) {
    KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
    TempPgDatabase tmp(dsn);
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int i = 0; i < 3; ++i) {
        threads.emplace_back([&] {
            try {
                auto c = db::Open(tmp.Url());
                db::Migrate(*c);
            } catch (...) {
                ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    auto c = db::Open(tmp.Url());
    EXPECT_TRUE(db::PendingMigrations(*c).empty());
}

/// A backend terminated while its connection sat idle (an operator's pg_terminate_backend, a
/// server restart): the next statement runs on a new connection instead of failing, so work that
/// uses it does not spend an attempt. Inside a transaction the loss is still reported.
TEST(PgDb, AnIdleConnectionTheServerClosedIsReplacedBeforeTheNextStatement) {
    KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
    TempPgDatabase tmp(dsn);
    auto c = db::Open(tmp.Url());
    auto admin = db::Open(dsn);
    auto terminate = [&] {
        auto pid = c->Exec("SELECT pg_backend_pid()").Int(0, 0);
        EXPECT_TRUE(admin->Exec("SELECT pg_terminate_backend($1::int)", {pid}).Bool(0, 0));
        for (int i = 0; i < 500; ++i) {  // until the backend is gone
            if (admin->Exec("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1::int", {pid}).Int(0, 0) == 0) break;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return pid;
    };
    auto old_pid = terminate();
    EXPECT_FALSE(c->Lost());  // not noticed yet: nothing was read
    EXPECT_EQ(c->Exec("SELECT 41 + 1").Int(0, 0), 42);
    EXPECT_NE(c->Exec("SELECT pg_backend_pid()").Int(0, 0), old_pid);
    EXPECT_FALSE(c->Lost());

    c->Begin();
    terminate();
    EXPECT_THROW(c->Exec("SELECT 1"), TransientError);
    c->Rollback();
    EXPECT_TRUE(c->Lost());
    EXPECT_EQ(c->Exec("SELECT 2").Int(0, 0), 2);  // reconnected on the next use
}

/// The backend is terminated inside a transaction, after its writes: COMMIT must fail (the
/// transaction died with the backend), never be run on a new connection, where it would "succeed"
/// with nothing to commit and the caller would settle work whose rows were never stored.
TEST(PgDb, ACommitWhoseBackendWasTerminatedFailsInsteadOfCommittingNothing) {
    KR_REQUIRE_ENV(dsn, "KR_TEST_PG_DSN");
    TempPgDatabase tmp(dsn);
    auto c = db::Open(tmp.Url());
    auto admin = db::Open(tmp.Url());
    admin->Exec("CREATE TABLE t (id BIGINT PRIMARY KEY)");
    c->Begin();
    c->Exec("INSERT INTO t (id) VALUES (1)");
    const auto pid = c->Exec("SELECT pg_backend_pid()").Int(0, 0);
    EXPECT_TRUE(admin->Exec("SELECT pg_terminate_backend($1::int)", {pid}).Bool(0, 0));
    for (int i = 0; i < 500; ++i) {  // until the backend is gone (its FATAL notice is on the socket)
        if (admin->Exec("SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1::int", {pid}).Int(0, 0) == 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_THROW(c->Commit(), TransientError);
    c->Rollback();
    EXPECT_EQ(admin->Exec("SELECT COUNT(*) FROM t").Int(0, 0), 0);
    EXPECT_EQ(c->Exec("SELECT 2").Int(0, 0), 2);  // the next use reconnects
}

}  // namespace kr::test
