// zKillboard's per-day dumps (/r2z2/history/): totals, the day's index (id → hash, "CCP VERIFIED"
// where configured) and the raw ESI killmails from raw_from on, all from the universe ESI serves.
#include <set>

#include "fake_esi_test_util.hpp"

namespace fakeesi {
namespace {

using namespace fakeesi::testing;

Options HistoryOptionsFor(const std::string& raw_from) {
    Options o = SmallOptions();
    o.universe.killmails = 3000;  // 53 s apart: more than one UTC day
    o.history.raw_from = raw_from;
    o.history.ccp_verified_every = 7;
    o.r2z2.poll_rate = 0;  // the dumps share R2Z2's rate limit
    return o;
}

TEST(FakeEsiHistory, DaysHoldEveryKillmailOfTheUniverseOnce) {
    auto s = Start(HistoryOptionsFor(""));
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    auto totals = cli->Get("/r2z2/history/totals.json");
    ASSERT_TRUE(totals);
    ASSERT_EQ(totals->status, 200);
    const auto t = Body(totals);
    ASSERT_GE(t.size(), 2u);
    std::set<std::int64_t> seen;
    std::size_t verified = 0;
    for (const auto& [day, count] : t.items()) {
        auto index = cli->Get(("/r2z2/history/" + day + ".json").c_str());
        ASSERT_TRUE(index);
        ASSERT_EQ(index->status, 200) << day;
        const auto ix = Body(index);
        EXPECT_EQ(ix.size(), count.get<std::size_t>()) << day;
        auto raw = cli->Get(("/r2z2/history/raw/" + day + ".json").c_str());
        ASSERT_TRUE(raw);
        ASSERT_EQ(raw->status, 200) << day;
        const auto rw = Body(raw);
        EXPECT_EQ(rw.size(), ix.size()) << day;
        for (const auto& [key, hash] : ix.items()) {
            const std::int64_t id = std::stoll(key);
            EXPECT_TRUE(seen.insert(id).second) << "killmail " << id << " on two days";
            const auto km = s->GetUniverse().Killmail(id);
            ASSERT_TRUE(km.has_value());
            EXPECT_EQ(HistoryDays::DayOf((*km)["killmail_time"].get<std::string>()), day);
            if (id % 7 == 0) {
                EXPECT_EQ(hash, "CCP VERIFIED");
                ++verified;
            } else {
                EXPECT_EQ(hash, *s->GetUniverse().KillmailHash(id));
            }
            EXPECT_EQ(rw.at(key), *km);  // the raw dump is ESI's killmail
        }
    }
    const auto all = s->GetUniverse().AllKillmailIds();
    EXPECT_EQ(seen, std::set<std::int64_t>(all.begin(), all.end()));
    EXPECT_GT(verified, 0u);
    auto none = cli->Get("/r2z2/history/19991231.json");
    ASSERT_TRUE(none);
    EXPECT_EQ(none->status, 404);
}

TEST(FakeEsiHistory, RawDumpsOnlyFromRawFrom) {
    auto probe = Start(HistoryOptionsFor(""));
    ASSERT_NE(probe, nullptr);
    const auto t = Body(Client(*probe)->Get("/r2z2/history/totals.json"));
    ASSERT_GE(t.size(), 2u);
    const std::string first = t.begin().key();
    const std::string second = std::next(t.begin()).key();
    probe.reset();

    auto s = Start(HistoryOptionsFor(second));
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    auto old_raw = cli->Get(("/r2z2/history/raw/" + first + ".json").c_str());
    ASSERT_TRUE(old_raw);
    EXPECT_EQ(old_raw->status, 404);  // before raw_from: the index only
    auto old_index = cli->Get(("/r2z2/history/" + first + ".json").c_str());
    ASSERT_TRUE(old_index);
    EXPECT_EQ(old_index->status, 200);
    auto new_raw = cli->Get(("/r2z2/history/raw/" + second + ".json").c_str());
    ASSERT_TRUE(new_raw);
    EXPECT_EQ(new_raw->status, 200);
    const auto stats = Body(cli->Get("/_admin/stats"));
    EXPECT_EQ(stats["routes"]["r2z2_history_raw"]["total"].get<int>(), 2);
}

}  // namespace
}  // namespace fakeesi
