// The live feed (worker:redisq, `run`'s live thread) against the simulator's R2Z2, on the
// embedded default (SQLite, queue in the database) and on PostgreSQL (KR_TEST_PG_DSN).
#include "e2e/live_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(LiveSqlite, LiveKillsStoredWithoutEsiAndEnriched) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, LiveUniverse(120));
    LiveKillsStoredWithoutEsiAndEnriched(p);
}

TEST(LiveSqlite, KillNineDuringCatchUpThenRestart) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, LiveUniverse(1500));
    KillNineDuringCatchUpThenRestart(p);
}

TEST(LiveSqlite, TwoProcessesShareOneCursor) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, LiveUniverse(150));
    TwoProcessesShareOneCursor(p);
}

TEST(LiveSqlite, RateLimitsAndBanHandledWithoutHammering) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, LiveUniverse(30));
    RateLimitsAndBanHandledWithoutHammering(p);
}

TEST(LivePg, LiveKillsStoredWithoutEsiAndEnriched) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, LiveUniverse(120));
    LiveKillsStoredWithoutEsiAndEnriched(p);
}

TEST(LivePg, KillNineDuringCatchUpThenRestart) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, LiveUniverse(1500));
    KillNineDuringCatchUpThenRestart(p);
}

TEST(LivePg, TwoProcessesShareOneCursor) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, LiveUniverse(150));
    TwoProcessesShareOneCursor(p);
}

TEST(LivePg, RateLimitsAndBanHandledWithoutHammering) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, LiveUniverse(30));
    RateLimitsAndBanHandledWithoutHammering(p);
}

}  // namespace kr::test
