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

}  // namespace kr::test
