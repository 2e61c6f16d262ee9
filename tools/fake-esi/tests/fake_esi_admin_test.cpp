// Faults on demand, the stats counters, ground-truth endpoints and data mutations.
#include <set>

#include "fake_esi_test_util.hpp"

namespace fakeesi {
namespace {

using namespace fakeesi::testing;

class FakeEsiAdmin : public ::testing::Test {
protected:
    void SetUp() override {
        Options o = SmallOptions();
        o.error_limit = 100000;
        s_ = Start(o);
        ASSERT_NE(s_, nullptr);
        c_ = Client(*s_);
        char_url_ = "/characters/" + std::to_string(s_->GetUniverse().AllCharacterIds()[3]) + "/";
    }
    std::unique_ptr<Server> s_;
    std::unique_ptr<httplib::Client> c_;
    std::string char_url_;
};

// ---- faults ----------------------------------------------------------------------------------------
TEST_F(FakeEsiAdmin, FiveHundredsOnDemandViaAdminEndpoint) {
    auto r = c_->Post("/_admin/faults", R"({"error_share": 1.0})", "application/json");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(json::parse(r->body)["error_share"], 1.0);
    std::set<int> seen;
    for (int i = 0; i < 40; ++i) {
        auto x = c_->Get(char_url_.c_str());
        ASSERT_TRUE(x);
        EXPECT_GE(x->status, 500);
        EXPECT_LE(x->status, 504);
        EXPECT_TRUE(json::parse(x->body).contains("error"));
        seen.insert(x->status);
    }
    EXPECT_EQ(seen, (std::set<int>{500, 502, 503, 504}));
    auto st = s_->Stats();
    EXPECT_EQ(st["faults"]["5xx"], 40);
    EXPECT_EQ(st["errors_counted"], 40);               // 5xx count against the error limit
    EXPECT_EQ(c_->Get("/_admin/stats")->status, 200);  // admin is never faulted
    // half of the requests
    c_->Post("/_admin/faults", R"({"error_share": 0.5})", "application/json");
    int bad = 0;
    for (int i = 0; i < 200; ++i) bad += c_->Get(char_url_.c_str())->status >= 500 ? 1 : 0;
    EXPECT_GT(bad, 60);
    EXPECT_LT(bad, 140);
    c_->Post("/_admin/faults/clear", "", "application/json");
    EXPECT_EQ(c_->Get(char_url_.c_str())->status, 200);
}

TEST_F(FakeEsiAdmin, FaultScopeLimitsWhichRoutesFail) {
    FaultConfig f;
    f.error_share = 1;
    f.scope = "killmail";
    s_->SetFaults(f);
    EXPECT_EQ(c_->Get(char_url_.c_str())->status, 200);
    auto kid = s_->GetUniverse().AllKillmailIds().back();
    auto r = c_->Get(KillmailUrl(*s_, kid).c_str());
    EXPECT_GE(r->status, 500);
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "0");  // 5xx costs no tokens
    f.scope = "zkb";
    s_->SetFaults(f);
    EXPECT_EQ(c_->Get(char_url_.c_str())->status, 200);
    EXPECT_GE(c_->Get("/zkb/api/characterID/5/")->status, 500);
}

TEST_F(FakeEsiAdmin, AddedLatency) {
    FaultConfig f;
    f.latency_ms = 150;
    s_->SetFaults(f);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(c_->Get(char_url_.c_str())->status, 200);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(140));
    EXPECT_EQ(s_->Stats()["faults"]["delayed"], 1);
}

TEST_F(FakeEsiAdmin, HungRequestsNeverAnswerInTime) {
    FaultConfig f;
    f.hang_share = 1;
    f.hang_ms = 3000;
    s_->SetFaults(f);
    auto c = Client(*s_, 300);
    auto r = c->Get(char_url_.c_str());
    EXPECT_FALSE(r);  // client timeout
    s_->ClearFaults();
    EXPECT_EQ(Client(*s_)->Get(char_url_.c_str())->status, 200);
    EXPECT_EQ(s_->Stats()["faults"]["hang"], 1);
}

TEST_F(FakeEsiAdmin, TruncatedAndGarbageBodies) {
    FaultConfig f;
    f.truncate_share = 1;
    s_->SetFaults(f);
    for (int i = 0; i < 3; ++i) {
        auto c = Client(*s_);
        auto r = c->Get(char_url_.c_str());
        bool broken = !r;
        if (r) {
            broken = !json::accept(r->body);
        }
        EXPECT_TRUE(broken);
    }
    EXPECT_EQ(s_->Stats()["faults"]["truncated"], 3);
    f = FaultConfig{};
    f.garbage_share = 1;
    s_->SetFaults(f);
    for (int i = 0; i < 4; ++i) {
        auto r = c_->Get(char_url_.c_str());
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200);
        EXPECT_FALSE(json::accept(r->body));
    }
    // zKillboard too
    f.scope = "zkb";
    s_->SetFaults(f);
    auto r =
        c_->Get(("/zkb/api/characterID/" + std::to_string(s_->GetUniverse().HistoryCharacterIds()[0]) + "/").c_str());
    EXPECT_EQ(r->status, 200);
    EXPECT_FALSE(json::accept(r->body));
}

// ---- stats -----------------------------------------------------------------------------------------
TEST_F(FakeEsiAdmin, StatsCountRoutesConditionalsRepeatsAndNpcs) {
    ASSERT_EQ(c_->Post("/_admin/reset-stats", "", "application/json")->status, 200);
    auto a = c_->Get(char_url_.c_str());
    auto etag = a->get_header_value("ETag");
    (void)c_->Get(char_url_.c_str());                             // repeat before Expires
    (void)c_->Get(char_url_.c_str(), {{"If-None-Match", etag}});  // conditional repeat -> 304
    (void)c_->Get("/characters/3000001/");                        // NPC character
    (void)c_->Get("/characters/1/");                              // 404
    auto st = json::parse(c_->Get("/_admin/stats")->body);
    EXPECT_EQ(st["esi_requests"], 5);
    EXPECT_EQ(st["routes"]["character"]["total"], 5);
    EXPECT_EQ(st["routes"]["character"]["by_status"]["200"], 3);
    EXPECT_EQ(st["routes"]["character"]["by_status"]["304"], 1);
    EXPECT_EQ(st["routes"]["character"]["by_status"]["404"], 1);
    EXPECT_EQ(st["conditional_requests"], 1);
    EXPECT_EQ(st["not_modified_304"], 1);
    EXPECT_EQ(st["repeated_before_expires"], 2);
    EXPECT_EQ(st["repeated_before_expires_unconditional"], 1);
    EXPECT_EQ(st["npc_character_requests"], 1);
    EXPECT_EQ(st["max_requests_per_url"], 3);
    EXPECT_EQ(st["most_requested_url"], char_url_);
    EXPECT_EQ(st["distinct_urls"], 2);
    EXPECT_EQ(st["status"]["200"], 3);
    EXPECT_GE(st["max_per_second"]["esi"], 5);
    EXPECT_EQ(st["error_limit"]["remain"], 100000 - 1);
}

TEST_F(FakeEsiAdmin, RequestsAfterExpiresAreNotRepeats) {
    s_->UpdateConfig({{"cache_seconds", 1}});
    s_->InvalidateCache();
    s_->ResetStats();
    auto a = c_->Get(char_url_.c_str());
    SleepUntilEpoch(ParseHttpDate(a->get_header_value("Expires")));
    auto b = c_->Get(char_url_.c_str());
    EXPECT_EQ(b->status, 200);
    EXPECT_NE(b->get_header_value("Expires"), a->get_header_value("Expires"));
    EXPECT_EQ(b->get_header_value("ETag"), a->get_header_value("ETag"));
    EXPECT_EQ(b->get_header_value("Last-Modified"), a->get_header_value("Last-Modified"));
    EXPECT_EQ(s_->Stats()["repeated_before_expires"], 0);
}

TEST_F(FakeEsiAdmin, MaxPerSecondIsASlidingWindow) {
    s_->ResetStats();
    for (int i = 0; i < 10; ++i) (void)c_->Get("/status/");
    SleepSeconds(1.1);
    for (int i = 0; i < 4; ++i) (void)c_->Get("/alliances/");
    auto st = s_->Stats();
    EXPECT_EQ(st["max_per_second"]["esi"], 10);
    EXPECT_EQ(st["routes"]["status"]["max_per_second"], 10);
    EXPECT_EQ(st["routes"]["alliances"]["max_per_second"], 4);
    auto tl = json::parse(c_->Get("/_admin/timeline")->body);
    std::uint64_t sum = 0;
    for (auto v : tl["esi_per_second"]) sum += v.get<std::uint64_t>();
    EXPECT_EQ(sum, 14u);
}

// ---- truth and mutations ---------------------------------------------------------------------------
TEST_F(FakeEsiAdmin, GroundTruthEndpoints) {
    auto& u = s_->GetUniverse();
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/characters")->body), json(u.AllCharacterIds()));
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/deleted-characters")->body), json(u.DeletedCharacterIds()));
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/alliances")->body), json(u.AllAllianceIds()));
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/types")->body), json(u.AllTypeIds()));
    auto kms = json::parse(c_->Get("/_admin/truth/killmails?offset=3&limit=2")->body);
    ASSERT_EQ(kms.size(), 2u);
    EXPECT_EQ(kms[0]["hash"], *u.KillmailHash(kms[0]["killmail_id"]));
    auto h = u.HistoryCharacterIds()[0];
    EXPECT_EQ(json::parse(c_->Get(("/_admin/truth/characters/" + std::to_string(h) + "/killmails").c_str())->body),
              json(u.CharacterKillmails(h)));
    auto cid = u.AllCharacterIds()[3];
    EXPECT_EQ(json::parse(c_->Get(("/_admin/truth/character/" + std::to_string(cid)).c_str())->body),
              *u.Character(cid));
    auto del = c_->Get(("/_admin/truth/character/" + std::to_string(u.DeletedCharacterIds()[0])).c_str());
    EXPECT_EQ(del->status, 404);
    EXPECT_EQ(json::parse(del->body)["deleted"], true);
    auto summary = json::parse(c_->Get("/_admin/truth")->body);
    EXPECT_EQ(summary["killmails"], 1500);
    EXPECT_EQ(summary["zkb_base_url"], s_->ZkbBaseUrl());
}

TEST_F(FakeEsiAdmin, TheMapsRoutesCacheAndAPatchArrivesAfterExpires) {
    s_->UpdateConfig({{"cache_seconds", 1}});
    auto list = c_->Get("/universe/systems/");
    ASSERT_EQ(list->status, 200);
    EXPECT_EQ(json::parse(list->body), json::parse(c_->Get("/_admin/truth/solar-systems")->body));
    for (const char* path : {"/universe/regions/", "/universe/constellations/", "/universe/systems/30000001/",
                             "/latest/universe/constellations/20000001", "/universe/regions/11000001/"}) {
        auto r = c_->Get(path);
        ASSERT_EQ(r->status, 200) << path;
        EXPECT_FALSE(r->get_header_value("ETag").empty()) << path;
        EXPECT_FALSE(r->get_header_value("Expires").empty()) << path;
        auto again = c_->Get(path, {{"If-None-Match", r->get_header_value("ETag")}});
        EXPECT_EQ(again->status, 304) << path;
    }
    EXPECT_EQ(c_->Get("/universe/systems/30000142/")->status, 404);
    EXPECT_EQ(json::parse(c_->Get("/universe/systems/30000142/")->body)["error"], "Solar system not found");
    const std::string version = json::parse(c_->Get("/status/")->body)["server_version"];

    // The patch: a system renamed, a constellation moved; visible once the cache expires.
    auto sys = c_->Get("/universe/systems/30000003/");
    auto r = c_->Post("/_admin/mutate/solar-system/30000003/rename?name=New%20Caldari", "", "application/json");
    ASSERT_EQ(r->status, 200);
    EXPECT_NE(json::parse(r->body)["server_version"], version);
    ASSERT_EQ(c_->Post("/_admin/mutate/constellation/20000002/move/10000003", "", "application/json")->status, 200);
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/solar-system/30000003")->body)["name"], "New Caldari");
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth/constellation/20000002")->body)["region_id"], 10000003);
    EXPECT_EQ(json::parse(c_->Get("/_admin/truth")->body)["patches"], 2);
    SleepUntilEpoch(ParseHttpDate(sys->get_header_value("Expires")));
    auto changed = c_->Get("/universe/systems/30000003/", {{"If-None-Match", sys->get_header_value("ETag")}});
    EXPECT_EQ(changed->status, 200);
    EXPECT_EQ(json::parse(changed->body)["name"], "New Caldari");
    EXPECT_NE(json::parse(c_->Get("/status/")->body)["server_version"], version);
    // A new system changes the list (and its ETag).
    auto added = c_->Post("/_admin/mutate/constellation/20000001/add-system?invalidate=1", "", "application/json");
    ASSERT_EQ(added->status, 200);
    auto new_list = c_->Get("/universe/systems/", {{"If-None-Match", list->get_header_value("ETag")}});
    EXPECT_EQ(new_list->status, 200);
    const auto ids = json::parse(new_list->body).get<std::vector<std::int64_t>>();
    EXPECT_EQ(std::count(ids.begin(), ids.end(), json::parse(added->body)["system_id"].get<std::int64_t>()), 1);
    EXPECT_EQ(c_->Post("/_admin/mutate/solar-system/30000142/rename", "", "application/json")->status, 404);
}

TEST_F(FakeEsiAdmin, MutationsChangeTheEtagOnceTheCacheExpires) {
    auto& u = s_->GetUniverse();
    s_->UpdateConfig({{"cache_seconds", 1}});
    const std::int64_t corp = Universe::kCorpBase + 4;
    const std::string url = "/corporations/" + std::to_string(corp) + "/";
    auto a = c_->Get(url.c_str());
    ASSERT_EQ(a->status, 200);
    ASSERT_TRUE(json::parse(a->body).contains("alliance_id"));
    ASSERT_EQ(c_->Post(("/_admin/mutate/corporation/" + std::to_string(corp) + "/leave-alliance").c_str(), "",
                       "application/json")
                  ->status,
              200);
    auto b = c_->Get(url.c_str());  // still cached until Expires, as ESI does
    EXPECT_EQ(b->get_header_value("ETag"), a->get_header_value("ETag"));
    EXPECT_TRUE(json::parse(b->body).contains("alliance_id"));
    SleepUntilEpoch(ParseHttpDate(a->get_header_value("Expires")));
    auto c = c_->Get(url.c_str(), {{"If-None-Match", a->get_header_value("ETag")}});
    EXPECT_EQ(c->status, 200);  // changed content -> new ETag, no 304
    EXPECT_NE(c->get_header_value("ETag"), a->get_header_value("ETag"));
    EXPECT_FALSE(json::parse(c->body).contains("alliance_id"));
    EXPECT_GE(ParseHttpDate(c->get_header_value("Last-Modified")), ParseHttpDate(a->get_header_value("Last-Modified")));
    // the alliance lost its executor (corp 4 was alliance 4's executor)
    auto al = json::parse(c_->Get(("/alliances/" + std::to_string(Universe::kAllianceBase + 4) + "/").c_str())->body);
    EXPECT_FALSE(al.contains("executor_corporation_id"));

    // character moves corporation; ?invalidate=1 makes it visible at once
    auto ch = u.AllCharacterIds()[5];
    const std::string curl = "/characters/" + std::to_string(ch) + "/";
    auto before = c_->Get(curl.c_str());
    auto r = c_->Post(
        ("/_admin/mutate/character/" + std::to_string(ch) + "/move/" + std::to_string(corp) + "?invalidate=1").c_str(),
        "", "application/json");
    ASSERT_EQ(r->status, 200);
    auto after = c_->Get(curl.c_str());
    EXPECT_NE(after->get_header_value("ETag"), before->get_header_value("ETag"));
    EXPECT_EQ(json::parse(after->body)["corporation_id"], corp);
    EXPECT_FALSE(json::parse(after->body).contains("alliance_id"));
    auto aff = json::parse(c_->Post("/characters/affiliation/", json({ch}).dump(), "application/json")->body);
    EXPECT_EQ(aff[0]["corporation_id"], corp);

    // a character is biomassed: 404 from now on, Doomheim in affiliations, listed as deleted
    auto gone = u.AllCharacterIds()[7];
    const std::string gone_url = "/characters/" + std::to_string(gone) + "/";
    ASSERT_EQ(c_->Get(gone_url.c_str())->status, 200);
    ASSERT_EQ(c_->Post(("/_admin/mutate/character/" + std::to_string(gone) + "/delete?invalidate=1").c_str(), "",
                       "application/json")
                  ->status,
              200);
    EXPECT_EQ(c_->Get(gone_url.c_str())->status, 404);
    aff = json::parse(c_->Post("/characters/affiliation/", json({gone}).dump(), "application/json")->body);
    EXPECT_EQ(aff[0]["corporation_id"], 1000001);
    EXPECT_FALSE(aff[0].contains("alliance_id"));
    EXPECT_TRUE(u.IsDeletedCharacter(gone));
    EXPECT_EQ(c_->Post(("/_admin/mutate/character/" + std::to_string(gone) + "/delete").c_str(), "", "application/json")
                  ->status,
              404);  // deleted already

    // executor removal and unknown entities
    EXPECT_EQ(c_->Post(("/_admin/mutate/alliance/" + std::to_string(Universe::kAllianceBase + 1) +
                        "/remove-executor?invalidate=1")
                           .c_str(),
                       "", "application/json")
                  ->status,
              200);
    EXPECT_FALSE(json::parse(c_->Get(("/alliances/" + std::to_string(Universe::kAllianceBase + 1) + "/").c_str())->body)
                     .contains("executor_corporation_id"));
    EXPECT_EQ(c_->Post("/_admin/mutate/corporation/1/leave-alliance", "", "application/json")->status, 404);
}

}  // namespace
}  // namespace fakeesi
