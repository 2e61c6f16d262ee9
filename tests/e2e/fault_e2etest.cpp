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
    // KNOWN DEFECT (closing note of 2026-11-30; issue 12 stays open until it is fixed): `run` on
    // PostgreSQL with the queue in it, connections terminated while an info batch commits: one
    // entity's message was acked ("… done") ~7 ms before the drops were logged, and its row was
    // never stored (lost 1, 0 attempts spent; seen once in two CI runs). Suspect: a commit on the
    // pooled store whose connection dies during COMMIT reported success, or the reconnecting
    // store's redo. Run it with KR_FAULTS_KNOWN_DEFECTS=1 (scripts/faults.sh sets it).
    if (!std::getenv("KR_FAULTS_KNOWN_DEFECTS")) GTEST_SKIP() << "known defect: an entity lost when connections drop";
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, FaultUniverse());
    DatabaseConnectionsTerminated(p, kPgDbQueue);
}

}  // namespace kr::test::faults
