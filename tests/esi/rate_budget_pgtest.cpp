// DbBudget on PostgreSQL: the deployment-wide budget (processes on any machine share one row).
#include <cstdlib>

#include <gtest/gtest.h>

#include "budget_checks.hpp"

using namespace kr::esi;
using namespace kr::esi::testing;

namespace {

std::string PgUrl() {
    const char* dsn = std::getenv("KR_TEST_PG_DSN");
    return dsn ? dsn : "";
}

#define REQUIRE_PG()                                                                       \
    do {                                                                                   \
        if (PgUrl().empty()) {                                                             \
            const char* req = std::getenv("KR_REQUIRE_INTEGRATION");                       \
            if (req && std::string(req) == "1") FAIL() << "KR_TEST_PG_DSN is not set";     \
            GTEST_SKIP() << "KR_TEST_PG_DSN not set (start: scripts/servers.sh start pg)"; \
        }                                                                                  \
    } while (0)

TEST(DbBudgetPg, ObserveMerge) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    ResetKey(PgUrl(), "test:merge:" + std::to_string(getpid()));
    ResetKey(PgUrl(), "test:merge:" + std::to_string(getpid()) + ":bucket");
    DbBudget b(PgUrl());
    CheckObserveMerge(b, "test:merge:" + std::to_string(getpid()));
}

TEST(DbBudgetPg, OutageGateCycle) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    const std::string key = "test:outage:" + std::to_string(getpid());
    {
        auto c = kr::db::Open(PgUrl());
        c->Exec("DELETE FROM kr_rate_outage WHERE key = $1", {key});
    }
    DbBudget b(PgUrl());
    CheckOutageCycle(b, key, kr::SystemClock::Instance());
}

TEST(DbBudgetPg, OneProcessOfFourTakesTheProbersLease) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    CheckOneProberTakesTheLease(PgUrl(), "test:lease:" + std::to_string(getpid()), 4);
}

// Spend/Spent on the database's clock: two budgets (two processes) add to one count per key.
TEST(DbBudgetPg, SpentCountsEveryProcesssRequestsOfTheLastMinute) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    const std::string key = "test:spent:" + std::to_string(getpid());
    DbBudget a(PgUrl());
    DbBudget b(PgUrl());
    a.Spend(key, 3);
    b.Spend(key, 4);
    a.Spend(key + ":other", 100);
    EXPECT_EQ(a.Spent(key, 60), 7);
    EXPECT_EQ(b.Spent(key, 60), 7);
    EXPECT_EQ(b.Spent(key + ":never", 60), 0);
}

TEST(DbBudgetPg, FourProcessesShareOneSequenceOfSlots) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    ResetKey(PgUrl(), "test:procs:" + std::to_string(getpid()));
    auto slots = ReserveFromProcesses(PgUrl(), "test:procs:" + std::to_string(getpid()), 4, 100, 2, 2000);
    ASSERT_EQ(slots.size(), 400u);
    // Slots are computed in the database's clock and converted with each process's offset
    // estimate (± half a round trip).
    ExpectSpaced(slots, 2000, 1000);
}

TEST(DbBudgetPg, RefreshHoldsItsShareWhileNewWorkWaits) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    const std::string prefix = "test:share:" + std::to_string(getpid());
    {
        DbBudget b(PgUrl());
        CheckRefreshShare(b, prefix, kr::SystemClock::Instance());
    }
    RemovePermits(PgUrl(), prefix);
}

TEST(DbBudgetPg, FourProcessesTakeNoMoreThanTheShare) {
    REQUIRE_PG();
    MigrateDb(PgUrl());
    const std::string prefix = "test:share-procs:" + std::to_string(getpid());
    EXPECT_EQ(TakeRefreshPermitsFromProcesses(PgUrl(), prefix, 4, 5), 3);
    RemovePermits(PgUrl(), prefix);
}

}  // namespace
