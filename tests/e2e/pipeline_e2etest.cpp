// End to end on the embedded default: one SQLite file holds the data and the queue.
#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(PipelineSqlite, SyncedCharactersMatchGroundTruth) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    SyncedCharactersMatchGroundTruth(p);
}

TEST(PipelineSqlite, RefreshClearsStaleFields) {
    TempSqliteFile file;
    auto o = SmallUniverse();
    o.cache_seconds = 2;
    Pipeline p({file.Url(), ""}, o);
    RefreshClearsStaleFields(p);
}

TEST(PipelineSqlite, GracefulShutdownHandsBackInFlight) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    GracefulShutdownHandsBackInFlight(p);
}

}  // namespace kr::test
