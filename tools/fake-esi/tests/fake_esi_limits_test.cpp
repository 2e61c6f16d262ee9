// ESI error limit (420), killmail bucket (429), 420 storms, and zKillboard paging/format/limit.
#include <set>

#include "fake_esi_test_util.hpp"
#include "limits.hpp"

namespace fakeesi {
namespace {

using namespace fakeesi::testing;

// ---- the limiter classes on a synthetic clock -----------------------------------------------------
TEST(FakeEsiLimiters, ErrorLimiterFixedWindow) {
    ErrorLimiter e(3, 10, 1000);
    EXPECT_EQ(e.Remain(1000), 3);
    EXPECT_EQ(e.ResetSeconds(1000), 10);
    e.AddError(2000);
    e.AddError(3000);
    e.AddError(4000);
    EXPECT_TRUE(e.Exhausted(4000));
    EXPECT_EQ(e.Remain(10999), 0);
    EXPECT_EQ(e.ResetSeconds(10500), 1);
    EXPECT_FALSE(e.Exhausted(11000));  // the next window starts clean
    EXPECT_EQ(e.Remain(11000), 3);
}

TEST(FakeEsiLimiters, TokenBucketReturnsTokensOneWindowLater) {
    TokenBucket b(10, 60);
    EXPECT_EQ(b.LimitHeader(), "10/1m");
    EXPECT_EQ(TokenBucket(3600, 900).LimitHeader(), "3600/15m");
    int retry = 0;
    EXPECT_TRUE(b.Admit(0, retry));
    EXPECT_EQ(b.Charge(0, 5), 5);
    EXPECT_EQ(b.Charge(10000, 2), 3);
    EXPECT_EQ(b.Charge(20000, 2), 1);
    EXPECT_TRUE(b.Admit(20000, retry));
    EXPECT_EQ(b.Charge(20000, 2), 0);
    EXPECT_FALSE(b.Admit(30000, retry));
    EXPECT_EQ(retry, 30);  // the 5 tokens from t=0 come back at t=60 s
    EXPECT_TRUE(b.Admit(60000, retry));
    EXPECT_EQ(b.Remaining(60000), 4);  // 10 - (2+2+2)
    EXPECT_EQ(b.Remaining(75000), 6);  // the 2 from t=10 s came back at 70 s
    EXPECT_EQ(b.Remaining(80000), 10);
}

TEST(FakeEsiLimiters, RateLimiterAndSlidingMax) {
    RateLimiter r(2);
    int retry = 0;
    EXPECT_TRUE(r.Admit(0, retry));
    EXPECT_TRUE(r.Admit(100, retry));
    EXPECT_FALSE(r.Admit(200, retry));
    EXPECT_EQ(retry, 1);
    EXPECT_TRUE(r.Admit(1000, retry));
    RateLimiter off(0);
    for (int i = 0; i < 100; ++i) EXPECT_TRUE(off.Admit(0, retry));

    SlidingMax m;
    m.Reset(0);
    for (int t : {0, 100, 900, 1050, 1100, 1899, 1950}) m.Add(t);
    // [1000..2000) holds 1050, 1100, 1899, 1950 -> 4 ; [900..1900) holds 900,1050,1100,1899 -> 4
    EXPECT_EQ(m.Max(), 4u);
}

// ---- over HTTP -------------------------------------------------------------------------------------
TEST(FakeEsiLimits, ErrorLimitFlipsTo420AndRecoversAfterTheWindow) {
    Options o = SmallOptions();
    o.error_limit = 5;
    o.error_window_seconds = 2;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    auto c = Client(*s);
    s->ResetLimits();  // the window starts now
    for (int i = 0; i < 5; ++i) {
        auto r = c->Get("/characters/1/");
        ASSERT_EQ(r->status, 404);
        EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), std::to_string(4 - i));
    }
    auto good = "/characters/" + std::to_string(s->GetUniverse().AllCharacterIds()[0]) + "/";
    auto r = c->Get(good.c_str());
    ASSERT_EQ(r->status, 420);
    EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), "0");
    int reset = std::stoi(r->get_header_value("X-ESI-Error-Limit-Reset"));
    EXPECT_GE(reset, 1);
    EXPECT_LE(reset, 2);
    EXPECT_TRUE(json::parse(r->body).contains("error"));
    // every route, including POST and the killmail route
    EXPECT_EQ(c->Post("/universe/names/", "[1]", "application/json")->status, 420);
    EXPECT_EQ(c->Get(KillmailUrl(*s, s->GetUniverse().AllKillmailIds().back()).c_str())->status, 420);
    SleepSeconds(reset + 0.1);
    r = c->Get(good.c_str());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), "5");
    auto st = s->Stats();
    EXPECT_EQ(st["error_limited_420"], 3);
    EXPECT_EQ(st["errors_counted"], 5);
}

TEST(FakeEsiLimits, KillmailBucket429WithRetryAfter) {
    Options o = SmallOptions();
    o.killmail_bucket_tokens = 10;
    o.killmail_bucket_window_seconds = 2;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    auto c = Client(*s);
    auto ids = s->GetUniverse().AllKillmailIds();
    for (int i = 0; i < 5; ++i) {
        auto r = c->Get(KillmailUrl(*s, ids[100 + static_cast<std::size_t>(i)]).c_str());
        ASSERT_EQ(r->status, 200);
        EXPECT_EQ(r->get_header_value("X-Ratelimit-Group"), "killmail");
        EXPECT_EQ(r->get_header_value("X-Ratelimit-Limit"), "10/2s");
        EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "2");
        EXPECT_EQ(r->get_header_value("X-Ratelimit-Remaining"), std::to_string(8 - 2 * i));
    }
    auto r = c->Get(KillmailUrl(*s, ids[200]).c_str());
    ASSERT_EQ(r->status, 429);
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "0");
    int retry = std::stoi(r->get_header_value("Retry-After"));
    EXPECT_GE(retry, 1);
    EXPECT_LE(retry, 2);
    // other routes are not bucket-limited
    EXPECT_EQ(c->Get("/status/")->status, 200);
    SleepSeconds(retry + 0.1);
    r = c->Get(KillmailUrl(*s, ids[200]).c_str());
    EXPECT_EQ(r->status, 200);
    // a 304 costs 1, a 422 costs 5
    r = c->Get(KillmailUrl(*s, ids[200]).c_str(), {{"If-None-Match", r->get_header_value("ETag")}});
    EXPECT_EQ(r->status, 304);
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "1");
    r = c->Get(("/killmails/" + std::to_string(ids[5]) + "/abc/").c_str());
    EXPECT_EQ(r->status, 422);
    EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "5");
    EXPECT_GE(s->Stats()["rate_limited_429"], 1);
}

TEST(FakeEsiLimits, ErrorStormForcesExhaustedLimit) {
    auto s = Start(SmallOptions());
    auto c = Client(*s);
    auto admin = c->Post("/_admin/storm?seconds=1", "", "application/json");
    ASSERT_EQ(admin->status, 200);
    auto r = c->Get("/status/");
    EXPECT_EQ(r->status, 420);
    EXPECT_EQ(r->get_header_value("X-ESI-Error-Limit-Remain"), "0");
    EXPECT_EQ(c->Get("/alliances/")->status, 420);
    SleepSeconds(1.1);
    EXPECT_EQ(c->Get("/status/")->status, 200);
    s->StartErrorStorm(5);
    EXPECT_EQ(c->Get("/status/")->status, 420);
    s->ResetLimits();
    EXPECT_EQ(c->Get("/status/")->status, 200);
}

// ---- zKillboard ------------------------------------------------------------------------------------
class FakeZkb : public ::testing::Test {
protected:
    void SetUp() override {
        Options o = SmallOptions();
        o.zkb_page_size = 50;
        s_ = Start(o);
        ASSERT_NE(s_, nullptr);
        c_ = Client(*s_);
    }
    std::unique_ptr<Server> s_;
    std::unique_ptr<httplib::Client> c_;
};

TEST_F(FakeZkb, PagesNewestFirstThenEmpty) {
    auto& u = s_->GetUniverse();
    auto ch = u.HistoryCharacterIds()[1];
    auto truth = u.CharacterKillmails(ch);
    ASSERT_GT(truth.size(), 100u);
    std::vector<std::int64_t> got;
    for (int p = 1;; ++p) {
        auto r = c_->Get(("/zkb/api/characterID/" + std::to_string(ch) + "/page/" + std::to_string(p) + "/").c_str());
        ASSERT_TRUE(r);
        ASSERT_EQ(r->status, 200);
        auto arr = json::parse(r->body);
        ASSERT_TRUE(arr.is_array());
        if (arr.empty()) break;
        EXPECT_LE(arr.size(), 50u);
        for (auto& e : arr) {
            EXPECT_EQ(e.size(), 2u);  // {killmail_id, zkb}
            auto id = e["killmail_id"].get<std::int64_t>();
            got.push_back(id);
            const auto& z = e["zkb"];
            for (const char* k : {"locationID", "hash", "fittedValue", "droppedValue", "destroyedValue", "totalValue",
                                  "points", "npc", "solo", "awox"})
                EXPECT_TRUE(z.contains(k)) << k;
            EXPECT_EQ(z["hash"], *u.KillmailHash(id));
            EXPECT_TRUE(z["npc"].is_boolean());
            EXPECT_TRUE(z["totalValue"].is_number());
        }
        ASSERT_LT(p, 20);
    }
    EXPECT_EQ(got, truth);
    // no page = page 1
    auto r = c_->Get(("/zkb/api/characterID/" + std::to_string(ch) + "/").c_str());
    EXPECT_EQ(json::parse(r->body).front()["killmail_id"], truth.front());
    // unknown character: empty list
    EXPECT_EQ(c_->Get("/zkb/api/characterID/5/")->body, "[]");
    EXPECT_EQ(c_->Get("/zkb/api/characterID/5/page/101/")->status, 400);
}

TEST_F(FakeZkb, MissingSlashAndQueryStringAre403) {
    auto ch = std::to_string(s_->GetUniverse().HistoryCharacterIds()[0]);
    EXPECT_EQ(c_->Get(("/zkb/api/characterID/" + ch).c_str())->status, 403);
    EXPECT_EQ(c_->Get(("/zkb/api/characterID/" + ch + "/page/2").c_str())->status, 403);
    EXPECT_EQ(c_->Get(("/zkb/api/characterID/" + ch + "/?page=2").c_str())->status, 403);
    s_->UpdateConfig({{"zkb_missing_slash_status", 200}});
    auto r = c_->Get(("/zkb/api/characterID/" + ch).c_str());
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body.empty());
}

TEST_F(FakeZkb, FullFormatIsTheEsiKillmailPlusZkb) {
    auto& u = s_->GetUniverse();
    auto ch = u.HistoryCharacterIds()[0];
    auto admin = c_->Post("/_admin/config", R"({"zkb_format":"full"})", "application/json");
    ASSERT_EQ(admin->status, 200);
    auto arr = json::parse(c_->Get(("/zkb/api/characterID/" + std::to_string(ch) + "/page/2/").c_str())->body);
    ASSERT_EQ(arr.size(), 50u);
    for (auto e : arr) {
        auto id = e["killmail_id"].get<std::int64_t>();
        auto z = e["zkb"];
        e.erase("zkb");
        EXPECT_EQ(e, *u.Killmail(id));
        EXPECT_EQ(z, *u.Zkb(id));
    }
    s_->UpdateConfig({{"zkb_format", "ids"}});
    arr = json::parse(c_->Get(("/zkb/api/characterID/" + std::to_string(ch) + "/").c_str())->body);
    EXPECT_EQ(arr.front().size(), 2u);
    // killID lookup
    auto kid = u.AllKillmailIds().back();
    arr = json::parse(c_->Get(("/zkb/api/killID/" + std::to_string(kid) + "/").c_str())->body);
    ASSERT_EQ(arr.size(), 1u);
    EXPECT_EQ(arr[0]["zkb"]["hash"], *u.KillmailHash(kid));
}

TEST_F(FakeZkb, RequestLimit429) {
    s_->UpdateConfig({{"zkb_rate", 1.0}});
    auto ch = std::to_string(s_->GetUniverse().HistoryCharacterIds()[0]);
    const std::string url = "/zkb/api/characterID/" + ch + "/";
    EXPECT_EQ(c_->Get(url.c_str())->status, 200);
    auto r = c_->Get(url.c_str());
    EXPECT_EQ(r->status, 429);
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
    SleepSeconds(1.05);
    EXPECT_EQ(c_->Get(url.c_str())->status, 200);
    EXPECT_EQ(s_->Stats()["zkb_rate_limited_429"], 1);
    s_->UpdateConfig({{"zkb_rate", 0}});
    for (int i = 0; i < 20; ++i) EXPECT_EQ(c_->Get(url.c_str())->status, 200);
}

}  // namespace
}  // namespace fakeesi
