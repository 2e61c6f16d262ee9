// backfill --from --to against the simulator's history dumps, on SQLite and PostgreSQL: the days'
// killmails exactly (the simulator's truth), from the raw dumps with 0 ESI requests, else from the
// day's index + ESI ("CCP VERIFIED" ones unfetchable); run again, nothing is fetched or written twice.
#include <set>

#include "e2e/live_cases.hpp"
#include "support/test_env.hpp"

namespace kr::test {
namespace {

fakeesi::Options HistoryUniverse(bool raw) {
    auto o = LiveUniverse(150);
    o.history.raw_from = raw ? "" : "29991231";  // index only: every killmail from ESI
    o.history.ccp_verified_every = 13;
    return o;
}

std::string Dashed(const std::string& day) { return day.substr(0, 4) + "-" + day.substr(4, 2) + "-" + day.substr(6); }

int KillmailRequests(Pipeline& p) {
    auto stats = p.Server().Stats();
    return stats["routes"].contains("killmail") ? stats["routes"]["killmail"]["total"].get<int>() : 0;
}

void DaysBackfilledExactly(Pipeline& p, bool raw) {
    const auto totals = p.Get("/r2z2/history/totals.json");
    ASSERT_GE(totals.size(), 1u);
    const std::string first = totals.begin().key(), last = std::prev(totals.end()).key();
    // The truth: every killmail of the days; without raw dumps, not those ESI cannot serve.
    std::set<Id> expected;
    std::size_t attackers = 0;
    for (const auto& [day, count] : totals.items()) {
        (void)count;
        const auto index = p.Get("/r2z2/history/" + day + ".json");
        for (const auto& [key, hash] : index.items()) {
            if (!raw && hash == "CCP VERIFIED") continue;
            const Id id = std::stoll(key);
            expected.insert(id);
            attackers += p.Truth("killmail", id)["killmail"]["attackers"].size();
        }
    }
    ASSERT_GT(expected.size(), 100u);
    // A day before the dumps: nothing, and no failure.
    p.Kr("backfill --from 2000-01-01");
    EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), 0);
    p.Kr("backfill --from " + Dashed(first) + " --to " + Dashed(last));
    auto check = [&] {
        EXPECT_EQ(p.Count("SELECT count(*) FROM killmails"), static_cast<std::int64_t>(expected.size()));
        EXPECT_EQ(p.Count("SELECT count(*) FROM victims"), static_cast<std::int64_t>(expected.size()));
        EXPECT_EQ(p.Count("SELECT count(*) FROM attackers"), static_cast<std::int64_t>(attackers));
        std::set<Id> stored;
        auto r = p.Db().Exec("SELECT killmail_id FROM killmails");
        for (std::size_t i = 0; i < r.Rows(); ++i) stored.insert(r.Int(i, 0));
        EXPECT_EQ(stored, expected);
    };
    check();
    const int requests = KillmailRequests(p);
    EXPECT_EQ(requests, raw ? 0 : static_cast<int>(expected.size()));  // each fetched once, or none
    // Again: everything is stored already, nothing is fetched or written twice.
    p.Kr("backfill --from " + Dashed(first) + " --to " + Dashed(last));
    check();
    EXPECT_EQ(KillmailRequests(p), requests);
}

/// worker:redisq away longer than R2Z2 keeps its files: its cursor's file 404s while sequence.json is
/// far ahead. The gap is found, its days filled from the history index + ESI, then the feed goes on
/// from the oldest sequence still served: exactly the feed's killmails, each once.
void GapOlderThanTheFeedRepaired(Pipeline& p) {
    StartFeed(p);  // one killmail stored; the cursor after it; then the rest uploaded
    auto feed = Feed(p);
    const std::int64_t first = feed.next - static_cast<std::int64_t>(feed.killmails.size());
    httplib::Client admin("127.0.0.1", p.Server().Port());
    const std::string expire = "{\"expire_before\": " + std::to_string(first + 120) + "}";
    ASSERT_TRUE(admin.Post("/_admin/r2z2", expire, "application/json"));
    auto r = p.Kr("worker:redisq --until-idle");
    EXPECT_NE(r.err.find("gap: sequences " + std::to_string(first + 1) + ".." + std::to_string(first + 119)),
              std::string::npos)
        << r.err;
    feed = Feed(p);
    ExpectExactlyTheFeed(p, feed);
    EXPECT_GT(KillmailRequests(p), 100);  // the expired ones came from ESI through the index
    EXPECT_EQ(p.Count("SELECT count(*) FROM kr_live_cursor WHERE note IS NOT NULL AND note <> ''"), 0);
}

fakeesi::Options GapUniverse() {
    auto o = LiveUniverse(300);
    o.history.raw_from = "29991231";  // the index only
    return o;
}

TEST(BackfillSqlite, GapOlderThanTheFeedRepaired) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, GapUniverse());
    GapOlderThanTheFeedRepaired(p);
}

TEST(BackfillPg, GapOlderThanTheFeedRepaired) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, GapUniverse());
    GapOlderThanTheFeedRepaired(p);
}

TEST(BackfillSqlite, FromTheIndexAndEsi) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, HistoryUniverse(false));
    DaysBackfilledExactly(p, false);
}

TEST(BackfillSqlite, FromRawDumpsWithoutEsi) {
    TempSqliteFile file;
    Pipeline p({file.Url(), ""}, HistoryUniverse(true));
    DaysBackfilledExactly(p, true);
}

TEST(BackfillPg, FromTheIndexAndEsi) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, HistoryUniverse(false));
    DaysBackfilledExactly(p, false);
}

TEST(BackfillPg, FromRawDumpsWithoutEsi) {
    KR_REQUIRE_ENV(pg, "KR_TEST_PG_DSN");
    TempPgDatabase db(pg);
    Pipeline p({db.Url(), ""}, HistoryUniverse(true));
    DaysBackfilledExactly(p, true);
}

}  // namespace
}  // namespace kr::test
