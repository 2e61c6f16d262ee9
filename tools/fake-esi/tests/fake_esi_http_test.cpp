// The ESI routes over HTTP: URL forms, samples, cache headers, 304, error bodies, POST routes.
#include <filesystem>
#include <fstream>
#include <set>

#include "fake_esi_test_util.hpp"

namespace fakeesi {
namespace {

using namespace fakeesi::testing;

class FakeEsiHttp : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        server_ = Start(SmallOptions()).release();
        ASSERT_NE(server_, nullptr);
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    void SetUp() override {
        server_->ResetLimits();
        cli_ = Client(*server_);
    }
    static Server* server_;
    std::unique_ptr<httplib::Client> cli_;
};
Server* FakeEsiHttp::server_ = nullptr;

TEST_F(FakeEsiHttp, TrailingSlashLatestAndVersionPrefixesServeTheSameBody) {
    auto id = server_->GetUniverse().AllCharacterIds().front();
    const std::string s = std::to_string(id);
    auto a = cli_->Get(("/characters/" + s + "/").c_str());
    ASSERT_TRUE(a);
    ASSERT_EQ(a->status, 200);
    for (std::string p : {"/characters/" + s, "/latest/characters/" + s + "/", "/latest/characters/" + s,
                          "/v5/characters/" + s + "/", "/legacy/characters/" + s + "/?datasource=tranquility"}) {
        auto r = cli_->Get(p.c_str());
        ASSERT_TRUE(r) << p;
        EXPECT_EQ(r->status, 200) << p;
        EXPECT_EQ(r->body, a->body) << p;
        EXPECT_EQ(r->get_header_value("ETag"), a->get_header_value("ETag")) << p;
    }
    EXPECT_EQ(Body(a), *server_->GetUniverse().Character(id));
    EXPECT_EQ(a->get_header_value("Content-Type"), "application/json; charset=UTF-8");
}

TEST_F(FakeEsiHttp, SamplesAreServedForTheirIds) {
    std::string dir = DefaultSamplesDir();
    if (dir.empty()) GTEST_SKIP() << "no samples";
    auto read = [&](const std::string& f) {
        std::ifstream in(dir + "/" + f);
        return json::parse(in);
    };
    struct Case {
        std::string url, file;
    } cases[] = {{"/alliances/1354830081/", "esi_alliance_1354830081.json"},
                 {"/alliances/99003214/", "esi_alliance_99003214.json"},
                 {"/corporations/98370861/", "esi_corporation_98370861.json"},
                 {"/corporations/98627127/", "esi_corporation_98627127.json"},
                 {"/characters/2115636466/", "esi_character_2115636466.json"},
                 {"/characters/2118421377/", "esi_character_2118421377.json"},
                 {"/universe/types/645/", "esi_type_645.json"},
                 {"/universe/types/602/", "esi_type_602.json"},
                 {"/killmails/132249213/6c9c2e5ea6b26f20f05e503af7676831a396e7bd/", "killmail_132249213.json"}};
    for (const auto& c : cases) {
        auto r = cli_->Get(c.url.c_str());
        ASSERT_TRUE(r) << c.url;
        ASSERT_EQ(r->status, 200) << c.url;
        EXPECT_EQ(Body(r), read(c.file)) << c.url;
    }
    auto r = cli_->Get(KillmailUrl(*server_, 115787551).c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(Body(r), read("killmail_115787551.json"));
}

TEST_F(FakeEsiHttp, CacheHeadersAndConditionalRequests) {
    auto id = server_->GetUniverse().AllCorporationIds()[5];
    const std::string url = "/corporations/" + std::to_string(id) + "/";
    auto a = cli_->Get(url.c_str());
    ASSERT_TRUE(a);
    ASSERT_EQ(a->status, 200);
    const std::string etag = a->get_header_value("ETag");
    ASSERT_GE(etag.size(), 3u);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(etag.back(), '"');
    std::int64_t expires = ParseHttpDate(a->get_header_value("Expires"));
    std::int64_t lm = ParseHttpDate(a->get_header_value("Last-Modified"));
    EXPECT_GT(expires, NowSeconds() + 3000);  // corporations: 3600 s
    EXPECT_GT(lm, 0);
    EXPECT_LE(lm, NowSeconds());
    auto b = cli_->Get(url.c_str());
    EXPECT_EQ(b->get_header_value("ETag"), etag);
    EXPECT_EQ(b->get_header_value("Expires"), a->get_header_value("Expires"));  // one cache window

    auto c = cli_->Get(url.c_str(), {{"If-None-Match", etag}});
    ASSERT_TRUE(c);
    EXPECT_EQ(c->status, 304);
    EXPECT_TRUE(c->body.empty());
    EXPECT_EQ(c->get_header_value("ETag"), etag);
    EXPECT_FALSE(c->get_header_value("Expires").empty());
    auto d = cli_->Get(url.c_str(), {{"If-None-Match", "\"something-else\""}});
    EXPECT_EQ(d->status, 200);
    EXPECT_EQ(d->body, a->body);

    // every 200 of every GET route carries the three headers
    auto& u = server_->GetUniverse();
    for (std::string p :
         {std::string("/alliances/"), "/alliances/" + std::to_string(u.AllAllianceIds()[0]) + "/",
          "/alliances/" + std::to_string(u.AllAllianceIds()[0]) + "/corporations/",
          std::string("/corporations/npccorps/"), "/universe/types/" + std::to_string(u.AllTypeIds().back()) + "/",
          KillmailUrl(*server_, u.AllKillmailIds().back()), std::string("/status/")}) {
        auto r = cli_->Get(p.c_str());
        ASSERT_TRUE(r) << p;
        ASSERT_EQ(r->status, 200) << p;
        EXPECT_FALSE(r->get_header_value("ETag").empty()) << p;
        EXPECT_GT(ParseHttpDate(r->get_header_value("Expires")), 0) << p;
        EXPECT_GT(ParseHttpDate(r->get_header_value("Last-Modified")), 0) << p;
        EXPECT_TRUE(json::accept(r->body)) << p;
    }
}

TEST_F(FakeEsiHttp, ErrorBodiesAreEsis) {
    auto& u = server_->GetUniverse();
    struct Case {
        std::string url;
        int status;
        std::string error;
    } cases[] = {
        {"/alliances/1/", 404, "Alliance not found"},
        {"/alliances/1/corporations/", 404, "Alliance not found"},
        {"/corporations/2/", 404, "Corporation not found"},
        {"/characters/3/", 404, "Character not found"},
        {"/characters/" + std::to_string(u.DeletedCharacterIds().front()) + "/", 404, "Character not found"},
        {"/universe/types/4/", 404, "Type not found"},
        {"/killmails/" + std::to_string(u.AllKillmailIds().back()) + "/0000000000000000000000000000000000000000/", 422,
         "Invalid killmail_id and/or killmail_hash"},
        {"/killmails/5/0000000000000000000000000000000000000000/", 422, "Invalid killmail_id and/or killmail_hash"},
        {"/no/such/route/", 404, "Not found"},
    };
    for (const auto& c : cases) {
        auto r = cli_->Get(c.url.c_str());
        ASSERT_TRUE(r) << c.url;
        EXPECT_EQ(r->status, c.status) << c.url;
        EXPECT_EQ(r->body, json({{"error", c.error}}).dump()) << c.url;
        if (c.url.rfind("/killmails/", 0) == 0) {  // bucket route: the other header set (ESI: exclusive)
            EXPECT_EQ(r->get_header_value("X-Ratelimit-Group"), "killmail");
            EXPECT_EQ(r->get_header_value("X-Ratelimit-Used"), "5");
            EXPECT_TRUE(r->get_header_value("X-ESI-Error-Limit-Remain").empty());
        } else {
            EXPECT_FALSE(r->get_header_value("X-ESI-Error-Limit-Remain").empty()) << c.url;
        }
    }
}

TEST_F(FakeEsiHttp, UniverseNamesAndAffiliation) {
    auto& u = server_->GetUniverse();
    auto ch = u.AllCharacterIds();
    std::vector<std::int64_t> ids = {u.AllAllianceIds()[1], u.AllCorporationIds()[1], ch[1], u.AllTypeIds()[0],
                                     u.NpcCharacterIds()[0]};
    auto r = cli_->Post("/universe/names/", json(ids).dump(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    auto arr = Body(r);
    ASSERT_EQ(arr.size(), ids.size());
    std::set<std::string> cats;
    for (const auto& e : arr) {
        EXPECT_EQ(e.size(), 3u);
        cats.insert(e["category"].get<std::string>());
        EXPECT_TRUE(e["name"].is_string());
    }
    EXPECT_EQ(cats, (std::set<std::string>{"alliance", "corporation", "character", "inventory_type"}));
    EXPECT_FALSE(r->get_header_value("ETag").empty());

    // one unknown id fails the whole batch; so does a deleted character
    ids.push_back(123);
    r = cli_->Post("/latest/universe/names", json(ids).dump(), "application/json");
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(r->body, R"({"error":"Ensure all IDs are valid before resolving"})");
    r = cli_->Post("/universe/names/", json({u.DeletedCharacterIds()[0]}).dump(), "application/json");
    EXPECT_EQ(r->status, 404);
    EXPECT_EQ(cli_->Post("/universe/names/", "{}", "application/json")->status, 400);
    EXPECT_EQ(cli_->Post("/universe/names/", "[1,1]", "application/json")->status, 400);

    std::vector<std::int64_t> aff_ids = {ch[0], ch[2], u.DeletedCharacterIds()[0], 42};
    r = cli_->Post("/characters/affiliation/", json(aff_ids).dump(), "application/json");
    EXPECT_EQ(r->status, 400);  // one id that is no character fails the whole batch
    EXPECT_EQ(r->body, R"({"error":"Invalid character ID"})");
    aff_ids.pop_back();
    r = cli_->Post("/characters/affiliation/", json(aff_ids).dump(), "application/json");
    ASSERT_EQ(r->status, 200);
    auto aff = Body(r);
    ASSERT_EQ(aff.size(), 3u);
    std::vector<std::int64_t> too_many(1001);
    for (std::size_t i = 0; i < too_many.size(); ++i) too_many[i] = ch[0] + static_cast<std::int64_t>(i);
    EXPECT_EQ(cli_->Post("/characters/affiliation/", json(too_many).dump(), "application/json")->status, 400);
    for (const auto& e : aff) {
        auto c = u.Character(e["character_id"]);
        if (!c) {
            EXPECT_EQ(e["corporation_id"], 1000001);  // deleted: Doomheim
            continue;
        }
        EXPECT_EQ(e["corporation_id"], (*c)["corporation_id"]);
        EXPECT_EQ(e.contains("alliance_id"), c->contains("alliance_id"));
    }
}

TEST_F(FakeEsiHttp, ListsAreConsistent) {
    auto& u = server_->GetUniverse();
    auto r = cli_->Get("/alliances/");
    ASSERT_EQ(r->status, 200);
    EXPECT_EQ(Body(r), json(u.AllAllianceIds()));
    for (auto a : u.AllAllianceIds()) {
        if (a < Universe::kAllianceBase) continue;
        auto members = Body(cli_->Get(("/alliances/" + std::to_string(a) + "/corporations/").c_str()));
        for (auto c : members) EXPECT_EQ((*u.Corporation(c))["alliance_id"], a);
    }
    auto npc = Body(cli_->Get("/corporations/npccorps/"));
    ASSERT_FALSE(npc.empty());
    for (auto c : npc) EXPECT_TRUE(Universe::IsNpcCorporationId(c));
    auto st = Body(cli_->Get("/status/"));
    EXPECT_TRUE(st.contains("players"));
    EXPECT_TRUE(st.contains("server_version"));
    EXPECT_TRUE(st.contains("start_time"));
}

TEST(FakeEsiServer, PortFileListeningAndQuickStop) {
    Options o = SmallOptions();
    std::string pf = ::testing::TempDir() + "/fake_esi_port_" + std::to_string(::getpid());
    o.port_file = pf;
    auto s = Start(o);
    ASSERT_NE(s, nullptr);
    std::ifstream in(pf);
    int port = 0;
    in >> port;
    EXPECT_EQ(port, s->Port());
    EXPECT_EQ(s->ZkbBaseUrl(), "http://127.0.0.1:" + std::to_string(port) + "/zkb/api");
    auto c = Client(*s);
    EXPECT_EQ(c->Get("/status/")->status, 200);
    // a second server on the same port fails cleanly
    Options o2 = SmallOptions();
    o2.port = port;
    Server s2(o2);
    EXPECT_FALSE(s2.Start());
    // a hung request must not delay Stop()
    FaultConfig f;
    f.hang_share = 1;
    f.hang_ms = 60000;
    s->SetFaults(f);
    std::thread t([&] {
        auto c2 = Client(*s, 20000);
        (void)c2->Get("/status/");
    });
    SleepSeconds(0.2);
    auto t0 = std::chrono::steady_clock::now();
    s->Stop();
    t.join();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
    std::filesystem::remove(pf);
}

TEST(FakeEsiServer, ParseArgs) {
    const char* argv[] = {"fake-esi",
                          "--port",
                          "0",
                          "--seed=9",
                          "--killmails",
                          "77",
                          "--zkb-format",
                          "full",
                          "--fault-error-share",
                          "0.25",
                          "--cache-seconds",
                          "2",
                          "--no-samples",
                          "--error-limit=5"};
    Options o;
    std::string err;
    bool help = false, bench = false;
    double bs = 0;
    int bc = 0;
    ASSERT_TRUE(ParseArgs(14, argv, o, err, help, bench, bs, bc)) << err;
    EXPECT_EQ(o.universe.seed, 9u);
    EXPECT_EQ(o.universe.killmails, 77);
    EXPECT_EQ(o.zkb_format, "full");
    EXPECT_DOUBLE_EQ(o.faults.error_share, 0.25);
    EXPECT_EQ(o.cache_seconds, 2);
    EXPECT_EQ(o.error_limit, 5);
    EXPECT_FALSE(o.load_samples);
    const char* bad1[] = {"fake-esi", "--zkb-format", "xml"};
    EXPECT_FALSE(ParseArgs(3, bad1, o, err, help, bench, bs, bc));
    const char* bad2[] = {"fake-esi", "--host", "0.0.0.0"};
    EXPECT_FALSE(ParseArgs(3, bad2, o, err, help, bench, bs, bc));
    const char* bad3[] = {"fake-esi", "--fault-hang-share", "2"};
    EXPECT_FALSE(ParseArgs(3, bad3, o, err, help, bench, bs, bc));
}

TEST(FakeEsiServer, ThroughputPrintout) {  // informational only: no timing assertions
    Options o = SmallOptions();
    Server s(o);
    ASSERT_TRUE(s.Start());
    auto ids = s.GetUniverse().AllCharacterIds();
    std::atomic<std::uint64_t> n{0};
    std::atomic<bool> go{true};
    std::vector<std::thread> th;
    for (int t = 0; t < 4; ++t)
        th.emplace_back([&, t] {
            auto c = Client(s);
            std::size_t i = static_cast<std::size_t>(t);
            while (go) {
                auto r = c->Get(("/characters/" + std::to_string(ids[i++ % ids.size()]) + "/").c_str());
                if (r && r->status == 200) ++n;
            }
        });
    SleepSeconds(1.0);
    go = false;
    for (auto& x : th) x.join();
    std::printf("[info] ~%llu req/s over 4 keep-alive connections (in-process client)\n",
                static_cast<unsigned long long>(n.load()));
    SUCCEED();
}

}  // namespace
}  // namespace fakeesi
