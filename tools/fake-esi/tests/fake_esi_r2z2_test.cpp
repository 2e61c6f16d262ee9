// The R2Z2 live feed (/r2z2): sequence.json, the files in order, 404 at the head and after
// expiry, uploads by the admin, sequence_updated with the new values, 429 when polled too fast and
// 403 during a ban.
#include "fake_esi_test_util.hpp"

namespace fakeesi {
namespace {

using namespace fakeesi::testing;

Options FeedOptions() {
    Options o = SmallOptions();
    o.universe.killmails = 200;
    o.r2z2.first_sequence = 5000;
    o.r2z2.backlog = 10;
    o.r2z2.poll_rate = 0;
    return o;
}

TEST(FakeEsiR2z2, SequenceFilesServeTheUniverseInOrderAnd404AtTheHead) {
    auto s = Start(FeedOptions());
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    auto seq = cli->Get("/r2z2/ephemeral/sequence.json");
    ASSERT_TRUE(seq);
    ASSERT_EQ(seq->status, 200);
    EXPECT_EQ(Body(seq)["sequence"].get<std::int64_t>(), 5009);  // the newest of the 10 uploaded
    const auto ids = s->GetUniverse().AllKillmailIds();
    for (int i = 0; i < 10; ++i) {
        auto r = cli->Get(("/r2z2/ephemeral/" + std::to_string(5000 + i) + ".json").c_str());
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200) << i;
        auto j = Body(r);
        EXPECT_EQ(j["sequence_id"].get<std::int64_t>(), 5000 + i);
        EXPECT_EQ(j["killmail_id"].get<std::int64_t>(), ids[static_cast<std::size_t>(i)]);
        EXPECT_EQ(j["esi"], *s->GetUniverse().Killmail(ids[static_cast<std::size_t>(i)]));
        EXPECT_EQ(j["hash"], *s->GetUniverse().KillmailHash(ids[static_cast<std::size_t>(i)]));
        EXPECT_EQ(j["zkb"]["totalValue"], (*s->GetUniverse().Zkb(ids[static_cast<std::size_t>(i)]))["totalValue"]);
        EXPECT_EQ(j["zkb"]["attackerCount"].get<std::size_t>(), j["esi"]["attackers"].size());
        EXPECT_FALSE(j.contains("sequence_updated"));
    }
    auto head = cli->Get("/r2z2/ephemeral/5010.json");
    ASSERT_TRUE(head);
    EXPECT_EQ(head->status, 404);
    auto before = cli->Get("/r2z2/ephemeral/4999.json");
    ASSERT_TRUE(before);
    EXPECT_EQ(before->status, 404);

    // Three more uploads: 5010..5012 appear.
    auto up = cli->Post("/_admin/r2z2", R"({"publish": 3})", "application/json");
    ASSERT_TRUE(up && up->status == 200);
    EXPECT_EQ(Body(up)["newest"].get<std::int64_t>(), 5012);
    EXPECT_EQ(Body(up)["killmails"].size(), 13u);
    auto r = cli->Get("/r2z2/ephemeral/5012.json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(Body(r)["killmail_id"].get<std::int64_t>(), ids[12]);
}

TEST(FakeEsiR2z2, AnUpdateIsANewSequenceAndTheOldFileServesTheNewValues) {
    auto s = Start(FeedOptions());
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    const double before = Body(cli->Get("/r2z2/ephemeral/5003.json"))["zkb"]["totalValue"].get<double>();
    auto up = cli->Post("/_admin/r2z2", R"({"update": 5003})", "application/json");
    ASSERT_TRUE(up && up->status == 200);
    auto announce = cli->Get("/r2z2/ephemeral/5010.json");
    ASSERT_TRUE(announce);
    ASSERT_EQ(announce->status, 200);
    auto a = Body(announce);
    EXPECT_EQ(a["sequence_updated"].get<std::int64_t>(), 5003);
    const auto id = a["killmail_id"].get<std::int64_t>();
    auto old = Body(cli->Get("/r2z2/ephemeral/5003.json"));
    EXPECT_EQ(old["killmail_id"].get<std::int64_t>(), id);
    EXPECT_DOUBLE_EQ(old["zkb"]["totalValue"].get<double>(), before + 1000.0);
    auto truth = Body(cli->Get("/_admin/truth/r2z2"));
    EXPECT_DOUBLE_EQ(truth["updates"][std::to_string(id)].get<double>(), before + 1000.0);
    EXPECT_EQ(truth["killmails"].size(), 10u);  // an update is not another killmail
}

TEST(FakeEsiR2z2, OldSequencesExpire) {
    auto o = FeedOptions();
    o.r2z2.keep = 4;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5005.json")->status, 404);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5006.json")->status, 200);
    auto up = cli->Post("/_admin/r2z2", R"({"expire_before": 5008})", "application/json");
    ASSERT_TRUE(up && up->status == 200);
    EXPECT_EQ(Body(up)["oldest"].get<std::int64_t>(), 5008);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5007.json")->status, 404);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5008.json")->status, 200);
}

TEST(FakeEsiR2z2, PolledTooFastIs429AndABanIs403) {
    auto o = FeedOptions();
    o.r2z2.poll_rate = 2;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    int ok = 0, limited = 0;
    for (int i = 0; i < 6; ++i) {
        auto r = cli->Get("/r2z2/ephemeral/sequence.json");
        ASSERT_TRUE(r);
        if (r->status == 200) ++ok;
        if (r->status == 429) {
            ++limited;
            EXPECT_FALSE(r->get_header_value("Retry-After").empty());
        }
    }
    EXPECT_EQ(ok, 2);
    EXPECT_EQ(limited, 4);
    s->ResetLimits();
    auto ban = cli->Post("/_admin/r2z2", R"({"ban_seconds": 60})", "application/json");
    ASSERT_TRUE(ban && ban->status == 200);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5000.json")->status, 403);
    EXPECT_EQ(s->Stats()["r2z2_banned_403"].get<int>(), 1);
    EXPECT_EQ(s->Stats()["routes"]["r2z2_killmail"]["by_status"]["403"].get<int>(), 1);
}

TEST(FakeEsiR2z2, TheKillRateUploadsOverTime) {
    auto o = FeedOptions();
    o.r2z2.backlog = 0;
    o.r2z2.kill_rate = 20;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    auto cli = Client(*s);
    SleepSeconds(0.5);
    const auto newest = Body(cli->Get("/r2z2/ephemeral/sequence.json"))["sequence"].get<std::int64_t>();
    EXPECT_GE(newest, 5000);  // at least one kill is there after half a second at 20/s
    EXPECT_EQ(cli->Get(("/r2z2/ephemeral/" + std::to_string(newest) + ".json").c_str())->status, 200);
    EXPECT_EQ(cli->Get("/r2z2/ephemeral/5199.json")->status, 404);  // the last is minutes away
}

}  // namespace
}  // namespace fakeesi
