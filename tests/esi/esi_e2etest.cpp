// End-to-end: EsiClient / ZkbClient over libcurl against the fake-esi simulator (in-process server
// on 127.0.0.1), plus helper PROCESSES sharing one budget through PostgreSQL.
#include <spawn.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "core/errors.hpp"
#include "core/esi_paths.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "esi/esi_client.hpp"
#include "esi/zkb_client.hpp"
#include "http/curl_http_client.hpp"
#include "server.hpp"
#include "store/store.hpp"

extern char** environ;

using namespace kr;
using namespace kr::esi;
using Ms = std::chrono::milliseconds;

namespace {

std::string Env(const char* name) {
    const char* v = std::getenv(name);
    return v ? v : "";
}

bool RequireIntegration() { return Env("KR_REQUIRE_INTEGRATION") == "1"; }

fakeesi::Options SmallUniverse() {
    fakeesi::Options o;
    o.quiet = true;
    o.universe.alliances = 40;
    o.universe.corporations = 200;
    o.universe.characters = 1000;
    o.universe.killmails = 2000;
    o.universe.types = 300;
    o.universe.history_characters = 2;
    o.universe.history_kills = 250;
    o.zkb_rate = 0;
    return o;
}

/// One worker's client stack (addresses stay stable).
struct Stack {
    Stack(EsiOptions o, std::shared_ptr<RateBudget> b, http::CurlOptions co = {})
        : budget(std::move(b)), http(co), esi(std::move(o), http, *budget, SystemClock::Instance()) {}
    std::shared_ptr<RateBudget> budget;
    http::CurlHttpClient http;
    EsiClient esi;
};

EsiOptions ClientOptions(const fakeesi::Server& s) {
    EsiOptions o;
    o.base_url = s.EsiBaseUrl();
    o.rate_limit = 0;
    o.backoff_base = Ms(50);
    o.backoff_cap = Ms(400);
    o.budget_key = "esi:e2e:" + std::to_string(getpid());
    return o;
}

/// Submits all paths, resubmitting kFailed ones (as the queue layer would) up to `rounds` times.
std::map<std::string, EsiResult> FetchAll(EsiClient& esi, const std::vector<std::string>& paths, int rounds) {
    std::map<std::string, EsiResult> done;
    std::vector<std::string> todo = paths;
    for (int round = 0; round < rounds && !todo.empty(); ++round) {
        std::vector<std::string> failed;
        for (const auto& p : todo) {
            esi.Submit({"GET", p, "", std::nullopt}, [&, p](EsiResult r) {
                if (r.outcome == Outcome::kFailed) failed.push_back(p);
                done[p] = std::move(r);
            });
        }
        while (!esi.Idle()) esi.Drive(Ms(50));
        todo = failed;
    }
    return done;
}

class EsiE2E : public ::testing::Test {
protected:
    void SetUp() override {
        server = std::make_unique<fakeesi::Server>(Options());
        ASSERT_TRUE(server->Start());
    }
    void TearDown() override {
        if (server) server->Stop();
    }
    virtual fakeesi::Options Options() { return SmallUniverse(); }
    std::unique_ptr<fakeesi::Server> server;
};

TEST_F(EsiE2E, EveryEntityFetchedDespite20PercentServerErrorsAndNo420) {
    server->UpdateConfig({{"error_limit", 30}, {"error_window_seconds", 3}});
    fakeesi::FaultConfig f;
    f.error_share = 0.2;
    f.scope = "esi";
    server->SetFaults(f);
    auto o = ClientOptions(*server);
    o.error_limit_slow_at = 30;
    Stack st(o, std::make_shared<InProcessBudget>());
    std::vector<std::string> paths;
    for (auto id : server->GetUniverse().AllAllianceIds()) paths.push_back(esi_paths::Alliance(id));
    auto corps = server->GetUniverse().AllCorporationIds();
    for (std::size_t i = 0; i < corps.size() && i < 160; ++i) paths.push_back(esi_paths::Corporation(corps[i]));
    auto res = FetchAll(st.esi, paths, 6);
    std::size_t ok = 0;
    for (const auto& [p, r] : res) ok += r.outcome == Outcome::kOk;
    auto stats = server->Stats();
    EXPECT_EQ(ok, paths.size());
    EXPECT_EQ(stats["error_limited_420"].get<int>(), 0) << stats.dump();
    EXPECT_EQ(st.esi.Stats().status_420, 0);
    EXPECT_GT(st.esi.Stats().status_5xx, 20);
    EXPECT_GT(st.esi.Stats().retries, 20);
}

TEST_F(EsiE2E, ExpiredEntryRevalidatesTo304) {
    server->UpdateConfig({{"cache_seconds", 1}});
    Stack st(ClientOptions(*server), std::make_shared<InProcessBudget>());
    const auto path = esi_paths::Alliance(server->GetUniverse().AllAllianceIds().at(0));
    EsiResult first = st.esi.Fetch({"GET", path, "", std::nullopt});
    ASSERT_EQ(first.outcome, Outcome::kOk) << first.error;
    ASSERT_TRUE(first.cache);
    EXPECT_TRUE(first.cache->etag.has_value());
    EXPECT_EQ(st.esi.Fetch({"GET", path, "", first.cache}).outcome, Outcome::kFresh);
    std::this_thread::sleep_for(
        Ms(first.cache->expires_at_ms -
           std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch()).count() + 50));
    EsiResult again = st.esi.Fetch({"GET", path, "", first.cache});
    EXPECT_EQ(again.outcome, Outcome::kNotModified);
    EXPECT_TRUE(again.body.empty());
    ASSERT_TRUE(again.cache);
    EXPECT_GT(again.cache->expires_at_ms, first.cache->expires_at_ms);
    auto stats = server->Stats();
    EXPECT_EQ(stats["esi_requests"].get<int>(), 2);
    EXPECT_EQ(stats["not_modified_304"].get<int>(), 1);
    EXPECT_EQ(stats["repeated_before_expires"].get<int>(), 0);
}

TEST_F(EsiE2E, ExpiresIsRespectedAcrossARestart) {
    server->UpdateConfig({{"cache_seconds", 300}});
    auto dir = std::filesystem::temp_directory_path() / ("kr_esi_e2e_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string url = "sqlite://" + (dir / "cache.db").string();
    std::filesystem::remove(dir / "cache.db");
    std::vector<std::string> paths;
    auto types = server->GetUniverse().AllTypeIds();
    for (std::size_t i = 0; i < 25; ++i) paths.push_back(esi_paths::Type(types[i]));
    db::Migrate(*db::Open(url));  // every module's migrations: the store's creates kr_http_cache
    {
        // As the workers do: the result's cache rows are stored (kr_http_cache) ...
        auto store = store::OpenStore(url);
        Stack st(ClientOptions(*server), std::make_shared<InProcessBudget>());
        auto res = FetchAll(st.esi, paths, 1);
        std::vector<CacheEntry> rows;
        for (const auto& [p, r] : res) {
            EXPECT_EQ(r.outcome, Outcome::kOk) << p << " " << r.error;
            if (r.cache) rows.push_back(*r.cache);
        }
        store->SaveHttpCache(rows);
    }
    const int before = server->Stats()["esi_requests"].get<int>();
    EXPECT_EQ(before, 25);
    {
        // ... and a restarted worker (new connection, new client) asks with what it loads.
        auto store = store::OpenStore(url);
        Stack st(ClientOptions(*server), std::make_shared<InProcessBudget>());
        auto cached = store->LoadHttpCache(paths);
        ASSERT_EQ(cached.size(), paths.size());
        std::map<std::string, EsiResult> res;
        for (const auto& p : paths) res[p] = st.esi.Fetch({"GET", p, "", cached.at(p)});
        for (const auto& [p, r] : res) EXPECT_EQ(r.outcome, Outcome::kFresh) << p;
        EXPECT_EQ(st.esi.Stats().requests, 0);
    }
    EXPECT_EQ(server->Stats()["esi_requests"].get<int>(), before);
    EXPECT_EQ(server->Stats()["repeated_before_expires"].get<int>(), 0);
    std::filesystem::remove_all(dir);
}

TEST_F(EsiE2E, KillmailBucket429WithRetryAfterIsHonoured) {
    server->UpdateConfig({{"killmail_bucket_tokens", 6}, {"killmail_bucket_window_seconds", 2}});
    auto& uni = server->GetUniverse();
    auto ids = uni.AllKillmailIds();
    // Someone else (a different program on the same IP) empties the bucket.
    {
        http::CurlHttpClient raw;
        for (int i = 0; i < 3; ++i) {
            bool done = false;
            raw.Start(
                {"GET", server->EsiBaseUrl() + esi_paths::Killmail(ids[i], *uni.KillmailHash(ids[i])), {}, "", Ms(0)},
                [&](http::HttpResponse) { done = true; });
            while (!done) raw.Drive(Ms(50));
        }
    }
    Stack st(ClientOptions(*server), std::make_shared<InProcessBudget>());
    const auto t0 = std::chrono::steady_clock::now();
    EsiResult r = st.esi.Fetch({"GET", esi_paths::Killmail(ids[10], *uni.KillmailHash(ids[10])), "", std::nullopt});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.outcome, Outcome::kOk) << r.error;
    EXPECT_EQ(st.esi.Stats().status_429, 1);
    EXPECT_EQ(server->Stats()["rate_limited_429"].get<int>(), 1);
    EXPECT_GE(secs, 0.9);  // Retry-After ≥ 1 s
    EXPECT_LT(secs, 5.0);
    // A bad hash is an answer (422), not retried.
    EsiResult bad = st.esi.Fetch({"GET", esi_paths::Killmail(ids[11], std::string(40, '0')), "", std::nullopt});
    EXPECT_EQ(bad.outcome, Outcome::kUnprocessable);
    EXPECT_EQ(bad.attempts, 1);
}

TEST_F(EsiE2E, HungConnectionEndsInBoundedTimeAsFailed) {
    fakeesi::FaultConfig f;
    f.hang_share = 1.0;
    f.hang_ms = 10000;
    f.scope = "esi";
    server->SetFaults(f);
    auto o = ClientOptions(*server);
    o.timeout = Ms(300);
    o.max_attempts = 2;
    Stack st(o, std::make_shared<InProcessBudget>());
    const auto t0 = std::chrono::steady_clock::now();
    EsiResult r =
        st.esi.Fetch({"GET", esi_paths::Alliance(server->GetUniverse().AllAllianceIds().at(0)), "", std::nullopt});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_NE(r.error.find("timeout"), std::string::npos) << r.error;
    EXPECT_EQ(r.attempts, 2);
    EXPECT_TRUE(r.retry_after);
    EXPECT_LT(secs, 1.5);
    server->ClearFaults();
}

TEST_F(EsiE2E, GarbageAndTruncatedBodiesAreErrorsNotCrashes) {
    auto o = ClientOptions(*server);
    o.max_attempts = 2;
    Stack st(o, std::make_shared<InProcessBudget>());
    auto alliances = server->GetUniverse().AllAllianceIds();
    fakeesi::FaultConfig f;
    f.scope = "esi";
    f.garbage_share = 1.0;
    server->SetFaults(f);
    EsiResult g = st.esi.Fetch({"GET", esi_paths::Alliance(alliances[0]), "", std::nullopt});
    EXPECT_EQ(g.outcome, Outcome::kFailed);
    EXPECT_NE(g.error.find("bad_body"), std::string::npos) << g.error;
    f.garbage_share = 0;
    f.truncate_share = 1.0;
    server->SetFaults(f);
    EsiResult t = st.esi.Fetch({"GET", esi_paths::Alliance(alliances[1]), "", std::nullopt});
    // A cut-off body is a transport error (curl: partial file) -> kFailed. (The simulator's
    // truncation may deliver the whole body; then it must be a valid kOk, never a crash.)
    if (t.outcome == Outcome::kOk) {
        EXPECT_TRUE(nlohmann::json::accept(t.body));
    } else {
        EXPECT_EQ(t.outcome, Outcome::kFailed);
    }
    // A 30 % mix still gets everything with the queue's resubmissions.
    f.truncate_share = 0.15;
    f.garbage_share = 0.15;
    server->SetFaults(f);
    std::vector<std::string> paths;
    for (auto id : alliances) paths.push_back(esi_paths::Alliance(id));
    auto res = FetchAll(st.esi, paths, 8);
    for (const auto& [p, r] : res) EXPECT_EQ(r.outcome, Outcome::kOk) << p << " " << r.error;
}

TEST_F(EsiE2E, BulkNamesIsolateBadIds) {
    Stack st(ClientOptions(*server), std::make_shared<InProcessBudget>());
    auto chars = server->GetUniverse().AllCharacterIds();
    std::vector<std::int64_t> ids(chars.begin(), chars.begin() + 300);
    ids.push_back(2'999'999'999);  // not an entity
    ids.push_back(42);
    auto res = ResolveNames(st.esi, ids, 200);
    std::set<std::int64_t> bad(res.bad_ids.begin(), res.bad_ids.end());
    EXPECT_EQ(bad, (std::set<std::int64_t>{2'999'999'999, 42}));
    EXPECT_EQ(res.items.size(), 300u);
    EXPECT_TRUE(res.failed_ids.empty());
    auto aff = ResolveAffiliations(st.esi, std::vector<std::int64_t>(chars.begin(), chars.begin() + 50));
    EXPECT_EQ(aff.items.size(), 50u);
    // One id that is no character fails ESI's whole affiliation batch: split until isolated.
    std::vector<std::int64_t> with_bad(chars.begin(), chars.begin() + 50);
    with_bad.insert(with_bad.begin() + 20, 42);
    aff = ResolveAffiliations(st.esi, with_bad);
    EXPECT_EQ(aff.bad_ids, (std::vector<std::int64_t>{42}));
    EXPECT_EQ(aff.items.size(), 50u);
    EXPECT_TRUE(aff.failed_ids.empty());
}

TEST_F(EsiE2E, ZkbPagesTrailingSlash429AndEnd) {
    server->UpdateConfig({{"zkb_rate", 1.0}, {"zkb_page_size", 100}});
    auto budget = std::make_shared<InProcessBudget>();
    http::CurlHttpClient http;
    ZkbOptions zo;
    zo.base_url = server->ZkbBaseUrl();
    zo.rate_limit = 0;  // not paced by us: the server's 1/s limit answers 429 + Retry-After
    zo.backoff_base = Ms(50);
    zo.budget_key = "zkb:e2e:" + std::to_string(getpid());
    ZkbClient zkb(zo, http, *budget);
    const auto who = server->GetUniverse().HistoryCharacterIds().at(0);
    const std::size_t total = server->GetUniverse().CharacterKillmailCount(who);
    std::size_t pages = 0;
    bool end = false;
    for (int p = 1; p <= 20 && !end; ++p) {
        ZkbPage page = zkb.FetchCharacterPage(who, p);
        ASSERT_EQ(page.status, ZkbPage::Status::kOk) << page.error;
        end = page.end;
        if (!end) ++pages;
    }
    EXPECT_TRUE(end);
    EXPECT_EQ(pages, (total + 99) / 100);
    EXPECT_GT(server->Stats()["zkb_rate_limited_429"].get<int>(), 0);
    EXPECT_EQ(server->Stats()["status"].dump().find("\"403\""), std::string::npos);
    // Errors are errors, never "end of history".
    fakeesi::FaultConfig f;
    f.scope = "zkb";
    f.error_share = 1.0;
    server->SetFaults(f);
    zo.rate_limit = 5;
    zo.max_attempts = 2;
    ZkbClient zkb2(zo, http, *budget);
    ZkbPage failed = zkb2.FetchCharacterPage(who, 1);
    EXPECT_EQ(failed.status, ZkbPage::Status::kFailed);
    EXPECT_FALSE(failed.end);
    EXPECT_THROW(failed.ThrowIfError("zkb"), TransientError);
}

// ---- four processes, one budget (PostgreSQL) -----------------------------------------------------

TEST(EsiE2EHelper, Run) {
    if (Env("KR_ESI_HELPER").empty()) GTEST_SKIP() << "helper mode for EsiE2EProcesses (spawned)";
    EsiOptions o;
    o.base_url = Env("KR_ESI_HELPER_URL");
    o.rate_limit = std::stod(Env("KR_ESI_HELPER_RATE"));
    o.budget_key = Env("KR_ESI_HELPER_KEY");
    o.max_concurrency = 8;
    Stack st(o, MakeBudget(Env("KR_ESI_HELPER_DB")));
    // Type ids that exist: a 404 counts against ESI's error limit, and the client rightly pauses
    // for the rest of the error window once it runs low (made this test take two minutes).
    std::vector<Id> ids;
    std::stringstream list(Env("KR_ESI_HELPER_IDS"));
    for (std::string item; std::getline(list, item, ',');) ids.push_back(std::stoll(item));
    const int n = static_cast<int>(ids.size());
    // Start all helpers together so they compete for the budget from the first request.
    const auto start_at = std::chrono::system_clock::time_point(Ms(std::stoll(Env("KR_ESI_HELPER_START_MS"))));
    std::this_thread::sleep_until(start_at);
    std::vector<std::string> paths;
    for (Id id : ids) paths.push_back(esi_paths::Type(id));
    auto res = FetchAll(st.esi, paths, 3);
    int ok = 0;
    for (const auto& [p, r] : res) ok += r.outcome == Outcome::kOk || r.outcome == Outcome::kNotFound;
    std::ofstream(Env("KR_ESI_HELPER_OUT")) << ok << " " << st.esi.Stats().requests << "\n";
    EXPECT_EQ(ok, n);
}

TEST(EsiE2EProcesses, FourProcessesShareOneBudgetOverPostgres) {
    const std::string pg = Env("KR_TEST_PG_DSN");
    if (pg.empty()) {
        if (RequireIntegration()) FAIL() << "KR_TEST_PG_DSN is not set";
        GTEST_SKIP() << "KR_TEST_PG_DSN not set";
    }
    {
        auto c = db::Open(pg);
        db::Migrate(*c);
    }
    fakeesi::Options so = SmallUniverse();
    so.universe.types = 400;
    fakeesi::Server server(so);
    ASSERT_TRUE(server.Start());
    auto types = server.GetUniverse().AllTypeIds();
    std::sort(types.begin(), types.end());
    const double rate = 40;
    const int per_proc = 60, procs = 4;
    const std::string key = "esi:e2e:procs:" + std::to_string(getpid());
    auto dir = std::filesystem::temp_directory_path() / ("kr_esi_procs_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const auto start_ms =
        std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch()).count() + 700;
    std::vector<pid_t> kids;
    for (int p = 0; p < procs; ++p) {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) env.emplace_back(*e);
        env.push_back("KR_ESI_HELPER=1");
        env.push_back("KR_ESI_HELPER_URL=" + server.EsiBaseUrl());
        env.push_back("KR_ESI_HELPER_DB=" + pg);
        env.push_back("KR_ESI_HELPER_RATE=" + std::to_string(rate));
        env.push_back("KR_ESI_HELPER_KEY=" + key);
        std::string ids;
        for (int i = 0; i < per_proc; ++i) {
            ids += (i ? "," : "") + std::to_string(types[static_cast<std::size_t>(p) * per_proc + i]);
        }
        env.push_back("KR_ESI_HELPER_IDS=" + ids);
        env.push_back("KR_ESI_HELPER_START_MS=" + std::to_string(start_ms));
        env.push_back("KR_ESI_HELPER_OUT=" + (dir / std::to_string(p)).string());
        std::vector<char*> envp;
        for (auto& s : env) envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
        std::string filter = "--gtest_filter=EsiE2EHelper.Run";
        char* argv[] = {self.data(), filter.data(), nullptr};
        pid_t pid = 0;
        ASSERT_EQ(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data()), 0);
        kids.push_back(pid);
    }
    for (pid_t pid : kids) {
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int total_ok = 0;
    for (int p = 0; p < procs; ++p) {
        int ok = 0, reqs = 0;
        std::ifstream(dir / std::to_string(p)) >> ok >> reqs;
        total_ok += ok;
    }
    std::filesystem::remove_all(dir);
    auto stats = server.Stats();
    auto per_second = server.Stats();
    server.Stop();
    const int requests = stats["esi_requests"].get<int>();
    const int max_1s = stats["max_per_second"]["esi"].get<int>();
    std::printf("4 processes, budget %.0f/s: %d requests, server max in any 1-s window %d\n", rate, requests, max_1s);
    EXPECT_EQ(total_ok, procs * per_proc);
    EXPECT_EQ(requests, procs * per_proc);  // nothing fetched twice
    // The limit holds at the simulator's clock by construction (the window guard, rate_budget.hpp:
    // a permit per request, free a window after its answer), whatever the senders' scheduling
    // delays on a loaded machine: no allowance.
    EXPECT_LE(max_1s, static_cast<int>(rate));
    EXPECT_GE(max_1s, static_cast<int>(rate * 0.9));  // and the budget is really used
    EXPECT_EQ(stats["error_limited_420"].get<int>(), 0);
}

// ---- the refresh share (KILLREPORT_REFRESH_SHARE) between processes ------------------------------

/// One process of RefreshHoldsItsShareWhileNewWorkWaits: fetches KR_SHARE_PATH/{id}/ for the given
/// ids as new work, or as refresh traffic (KR_SHARE_REFRESH=1: it first waits until new work is
/// marked in the shared budget, so that both kinds are queued when it starts).
TEST(EsiE2EShareHelper, Run) {
    if (Env("KR_SHARE_HELPER").empty()) GTEST_SKIP() << "helper mode for RefreshHoldsItsShareWhileNewWorkWaits";
    EsiOptions o;
    o.base_url = Env("KR_SHARE_URL");
    o.rate_limit = std::stod(Env("KR_SHARE_RATE"));
    o.refresh_share = std::stod(Env("KR_SHARE_SHARE"));
    o.budget_key = Env("KR_SHARE_KEY");
    o.max_concurrency = 16;
    Stack st(o, MakeBudget(Env("KR_SHARE_DB")));
    const bool refresh = Env("KR_SHARE_REFRESH") == "1";
    if (refresh) {
        st.esi.SetRefreshTraffic(true);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
        while (st.budget->DemandUntil(o.budget_key + ":new-work") <= SystemClock::Instance().NowUs()) {
            ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "new work never started";
            std::this_thread::sleep_for(Ms(10));
        }
    }
    std::vector<std::string> paths;
    std::stringstream list(Env("KR_SHARE_IDS"));
    for (std::string item; std::getline(list, item, ',');) paths.push_back(Env("KR_SHARE_PATH") + item + "/");
    auto res = FetchAll(st.esi, paths, 3);
    int answered = 0;
    for (const auto& [p, r] : res) answered += r.outcome == Outcome::kOk || r.outcome == Outcome::kNotFound;
    EXPECT_EQ(answered, static_cast<int>(paths.size()));
}

TEST(EsiE2EProcesses, RefreshHoldsItsShareWhileNewWorkWaits) {
    // Two processes share one budget through a SQLite file: one fetches corporations as new work,
    // the other characters as refresh traffic. Counted at the simulator, per 1-s window: while new
    // work runs, refresh sends at most ⌊share · limit⌋; once it is done, refresh uses the budget.
    const double rate = 40, share = 0.2;
    const int refresh_max = static_cast<int>(share * rate);  // 8
    auto dir = std::filesystem::temp_directory_path() / ("kr_esi_share_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string db = "sqlite://" + (dir / "budget.db").string();
    {
        auto c = db::Open(db);
        db::Migrate(*c);
    }
    fakeesi::Options so = SmallUniverse();
    so.universe.corporations = 200;
    so.universe.characters = 1000;
    fakeesi::Server server(so);
    ASSERT_TRUE(server.Start());
    auto corporations = server.GetUniverse().AllCorporationIds();
    auto characters = server.GetUniverse().AllCharacterIds();
    std::sort(corporations.begin(), corporations.end());
    std::sort(characters.begin(), characters.end());
    corporations.resize(std::min<std::size_t>(corporations.size(), 160));
    characters.resize(std::min<std::size_t>(characters.size(), 320));
    auto spawn = [&](bool refresh, const std::string& path, const std::vector<std::int64_t>& ids) {
        std::vector<std::string> env;
        for (char** e = environ; *e; ++e) env.emplace_back(*e);
        env.push_back("KR_SHARE_HELPER=1");
        env.push_back("KR_SHARE_URL=" + server.EsiBaseUrl());
        env.push_back("KR_SHARE_DB=" + db);
        env.push_back("KR_SHARE_RATE=" + std::to_string(rate));
        env.push_back("KR_SHARE_SHARE=" + std::to_string(share));
        env.push_back("KR_SHARE_KEY=esi");
        env.push_back(std::string("KR_SHARE_REFRESH=") + (refresh ? "1" : "0"));
        env.push_back("KR_SHARE_PATH=" + path);
        std::string list;
        for (auto id : ids) list += (list.empty() ? "" : ",") + std::to_string(id);
        env.push_back("KR_SHARE_IDS=" + list);
        std::vector<char*> envp;
        for (auto& e : env) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
        std::string filter = "--gtest_filter=EsiE2EShareHelper.Run";
        char* argv[] = {self.data(), filter.data(), nullptr};
        pid_t pid = 0;
        EXPECT_EQ(posix_spawn(&pid, self.c_str(), nullptr, nullptr, argv, envp.data()), 0);
        return pid;
    };
    server.ResetStats();
    const pid_t fresh = spawn(false, "/corporations/", corporations);
    const pid_t refresh = spawn(true, "/characters/", characters);
    for (pid_t pid : {fresh, refresh}) {
        int status = 0;
        waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    const auto timeline = server.Timeline();
    const auto stats = server.Stats();
    server.Stop();
    std::filesystem::remove_all(dir);
    const auto& routes = timeline["routes_per_second"];
    ASSERT_TRUE(routes.contains("corporation") && routes.contains("character")) << timeline.dump();
    const auto news = routes["corporation"].get<std::vector<int>>();
    auto olds = routes["character"].get<std::vector<int>>();
    olds.resize(std::max(olds.size(), news.size()), 0);
    int last_new = -1;
    for (std::size_t w = 0; w < news.size(); ++w) {
        if (news[w] > 0) last_new = static_cast<int>(w);
    }
    std::string shown;
    for (std::size_t w = 0; w < olds.size(); ++w) {
        shown += " " + std::to_string(w < news.size() ? news[w] : 0) + "/" + std::to_string(olds[w]);
    }
    std::printf("per second, new/refresh:%s\n", shown.c_str());
    EXPECT_EQ(std::accumulate(news.begin(), news.end(), 0), static_cast<int>(corporations.size()));
    EXPECT_EQ(std::accumulate(olds.begin(), olds.end(), 0), static_cast<int>(characters.size()));
    // Both kinds queued: refresh holds its share in every window new work ran in (but the one it
    // ended in, when new work's mark runs out: from then on refresh may take any free permit).
    int both = 0;
    for (int w = 0; w < last_new; ++w) {
        if (news[static_cast<std::size_t>(w)] == 0) continue;
        ++both;
        EXPECT_LE(olds[static_cast<std::size_t>(w)], refresh_max) << "window " << w << ":" << shown;
    }
    EXPECT_GE(both, 2) << "new work ran for a few seconds:" << shown;
    // Only refresh queued: it uses the whole budget (not its share).
    int refresh_alone = 0;
    for (std::size_t w = static_cast<std::size_t>(last_new) + 1; w < olds.size(); ++w) {
        refresh_alone = std::max(refresh_alone, olds[w]);
    }
    EXPECT_GE(refresh_alone, static_cast<int>(rate * 0.75)) << shown;
    // And the limit holds throughout.
    EXPECT_LE(stats["max_per_second"]["esi"].get<int>(), static_cast<int>(rate));
    EXPECT_EQ(stats["error_limited_420"].get<int>(), 0);
}

}  // namespace
