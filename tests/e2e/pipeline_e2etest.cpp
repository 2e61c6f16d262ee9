// End to end on the embedded default: one SQLite file holds the data and the queue.
#include "e2e/pipeline_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {

TEST(PipelineSqlite, SyncedCharactersMatchGroundTruth) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    SyncedCharactersMatchGroundTruth(p);
}

TEST(PipelineSqlite, UserAddLooksTheNameUpOnEsi) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    UserAddLooksTheNameUpOnEsi(p);
}

TEST(PipelineSqlite, RefreshClearsStaleFields) {
    TempSqliteFile file;
    auto o = SmallUniverse();
    o.cache_seconds = 2;
    Pipeline p({file.Url(), ""}, o);
    RefreshClearsStaleFields(p);
}

TEST(PipelineSqlite, FullListFormatNeedsNoKillmailRequests) {
    TempSqliteFile file;
    auto o = SmallUniverse();
    o.zkb_format = "full";  // the 2026 list: the full killmail next to zkb
    Pipeline p({file.Url(), ""}, o);
    auto history = p.Get("/_admin/truth/history-characters");
    p.Kr("queue:zkillboard " + std::to_string(history[0].get<Id>()));
    p.Kr("run --until-idle");
    auto expected = p.Get("/_admin/truth/characters/" + std::to_string(history[0].get<Id>()) + "/killmails");
    ASSERT_GT(expected.size(), 60u);  // several pages
    for (const auto& id : expected) {
        EXPECT_EQ(p.Count("SELECT count(*) FROM killmails WHERE killmail_id = $1", {id.get<Id>()}), 1) << id;
    }
    auto stats = p.Server().Stats();
    EXPECT_FALSE(stats["routes"].contains("killmail") && stats["routes"]["killmail"]["total"].get<int>() > 0)
        << stats["routes"].dump();
    EXPECT_GT(stats["routes"]["character"]["total"].get<int>(), 0);  // the entities were enriched
}

TEST(PipelineSqlite, GracefulShutdownHandsBackInFlight) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, SmallUniverse());
    GracefulShutdownHandsBackInFlight(p);
}

}  // namespace kr::test
