// The fault suite on the embedded default: one `killreport run` process, the queue in the database
// (the SQLite file; and PostgreSQL for the terminated-connections scenario), against tools/fake-esi
// with latency. The scenarios and what each proves: fault_cases.hpp.
#include "e2e/fault_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test::faults {

namespace {

const Target kSqlite{"sqlite", Layout::kEmbedded, nullptr};
const Target kPgDbQueue{"pg", Layout::kEmbedded, nullptr};

}  // namespace

TEST(FaultSqlite, KillNineAtRandomMoments) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, KillUniverse());
    KillNineAtRandom(p, kSqlite);
}

TEST(FaultSqlite, KillNineRightAfterACommit) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, FaultUniverse());
    KillNineAfterCommit(p, kSqlite);
}

TEST(FaultSqlite, MalformedMessagesOnEveryQueue) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, FaultUniverse());
    MalformedMessages(p, kSqlite);
}

TEST(FaultSqlite, EsiFaults) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, FaultUniverse());
    EsiFaults(p, kSqlite);
}

TEST(FaultPgDbQueue, DatabaseConnectionsTerminated) {
    // Once lost an entity: a COMMIT whose backend had been terminated ran on a new connection and
    // "succeeded" with nothing to commit (fixed in PgConnection::Commit; db_pgtest covers it).
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, FaultUniverse());
    DatabaseConnectionsTerminated(p, kPgDbQueue);
}

}  // namespace kr::test::faults
