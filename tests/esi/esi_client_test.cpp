// Unit tests of the ESI client against FakeHttpClient and a manual clock (no servers, no sleeping).
#include "esi/esi_client.hpp"

#include <algorithm>
#include <set>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include "core/errors.hpp"
#include "core/esi_paths.hpp"
#include "esi/request_group.hpp"
#include "http/http_date.hpp"
#include "support/captured_log.hpp"
#include "support/fake_http_client.hpp"
#include "support/full_disk_budget.hpp"

using namespace kr;
using namespace kr::esi;
using http::FakeHttpClient;
using http::FakeReply;

namespace {

constexpr std::int64_t kS = 1'000'000;

std::string HttpDate(std::int64_t unix_s) {
    time_t t = static_cast<time_t>(unix_s);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    return buf;
}

/// Max number of timestamps inside any half-open window [t, t + window).
std::size_t MaxInWindow(std::vector<std::int64_t> ts, std::int64_t window) {
    std::sort(ts.begin(), ts.end());
    std::size_t best = 0, lo = 0;
    for (std::size_t hi = 0; hi < ts.size(); ++hi) {
        while (ts[hi] - ts[lo] >= window) ++lo;
        best = std::max(best, hi - lo + 1);
    }
    return best;
}

const std::string* RequestHeader(const http::HttpRequest& r, const std::string& name) {
    for (const auto& [k, v] : r.headers) {
        if (k == name) return &v;
    }
    return nullptr;
}

class EsiClientTest : public ::testing::Test {
protected:
    EsiClientTest() : fake(clock), budget(clock) {
        opts.base_url = "http://esi.test";
        opts.rate_limit = 0;
        opts.backoff_base = std::chrono::milliseconds(500);
        opts.backoff_cap = std::chrono::milliseconds(8000);
        // The downtime gate asks /status/ after a 502/503/504; the tests of retries and backoff
        // script no /status/. The gate's own tests turn it on.
        opts.downtime_gate = false;
    }
    EsiClient& Client() {
        if (!client) client = std::make_unique<EsiClient>(opts, fake, budget, clock);
        return *client;
    }
    /// Fetches `path` with a stop requested `after_us` into the fetch; returns how long the fetch
    /// went on after the request (clock time).
    std::int64_t StoppedAfter(EsiClient& esi, std::int64_t after_us, const std::string& path = "/alliances/1/") {
        std::stop_source stop;
        esi.SetStopToken(stop.get_token());
        const std::int64_t at = clock.NowUs() + after_us;
        fake.At(at, [&stop] { stop.request_stop(); });
        EXPECT_THROW(esi.Fetch({"GET", path, "", {}}), StoppedError);
        EXPECT_EQ(esi.Pending(), 0u);  // nothing left to call back into the abandoned frame
        return clock.NowUs() - at;
    }
    ManualClock clock;
    FakeHttpClient fake;
    InProcessBudget budget;
    EsiOptions opts;
    std::unique_ptr<EsiClient> client;
};

TEST_F(EsiClientTest, FreshEntryAnswersWithoutRequest) {
    CacheEntry e;
    e.path = esi_paths::Alliance(1);
    e.etag = "\"abc\"";
    e.expires_at_ms = clock.NowUs() / 1000 + 60'000;
    e.last_modified = "x";
    EsiResult r = Client().Fetch({"GET", esi_paths::Alliance(1), "", e});
    EXPECT_EQ(r.outcome, Outcome::kFresh);
    EXPECT_EQ(r.attempts, 0);
    ASSERT_TRUE(r.cache);
    EXPECT_EQ(*r.cache, e);
    EXPECT_TRUE(fake.Requests().empty());
    EXPECT_EQ(Client().Stats().fresh, 1);
}

TEST_F(EsiClientTest, EveryRequestSentIsCountedInTheSharedBudget) {
    fake.Script("/alliances/1/", FakeHttpClient::Reply(503, "busy"));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    fake.Script("/alliances/2/", FakeHttpClient::Reply(200, "{}"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(budget.Spent("esi", 60), 2);  // counted when the client went idle, the retry too
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/2/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(budget.Spent("esi", 60), 3);
    EXPECT_EQ(static_cast<std::size_t>(budget.Spent("esi", 60)), fake.Requests().size());
}

TEST_F(EsiClientTest, OkCarriesBodyCacheEntryAndSendsEtiquetteHeaders) {
    const std::int64_t now_s = clock.NowUs() / kS;
    // The server's clock is 100 s ahead: expiry must be taken relative to Date.
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, R"({"name":"A"})",
                                                       {{"ETag", "\"v1\""},
                                                        {"Date", HttpDate(now_s + 100)},
                                                        {"Expires", HttpDate(now_s + 100 + 3600)},
                                                        {"Last-Modified", HttpDate(now_s)}}));
    EsiResult r = Client().Fetch({"GET", esi_paths::Alliance(1), "", std::nullopt});
    ASSERT_EQ(r.outcome, Outcome::kOk) << r.error;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, R"({"name":"A"})");
    ASSERT_TRUE(r.cache);
    EXPECT_EQ(r.cache->etag, "\"v1\"");
    EXPECT_NEAR(static_cast<double>(r.cache->expires_at_ms), static_cast<double>(clock.NowUs()) / 1000 + 3'600'000,
                2000);
    ASSERT_EQ(fake.Requests().size(), 1u);
    const auto& req = fake.Requests()[0].request;
    EXPECT_EQ(req.url, "http://esi.test/alliances/1/");
    ASSERT_TRUE(RequestHeader(req, "User-Agent"));
    EXPECT_NE(RequestHeader(req, "User-Agent")->find("killreport-cpp/"), std::string::npos);
    ASSERT_TRUE(RequestHeader(req, "X-Compatibility-Date"));
    EXPECT_EQ(*RequestHeader(req, "X-Compatibility-Date"), "2025-08-26");
    EXPECT_EQ(*RequestHeader(req, "Accept"), "application/json");
    EXPECT_EQ(RequestHeader(req, "If-None-Match"), nullptr);
}

TEST_F(EsiClientTest, ExpiredEntryRevalidatesWithIfNoneMatch) {
    fake.Script("/characters/5/", FakeHttpClient::Reply(304, "", {{"Cache-Control", "public, max-age=120"}}));
    CacheEntry old = EntityCacheEntry(EntityKind::kCharacter, 5);
    old.etag = "\"e5\"";
    old.expires_at_ms = clock.NowUs() / 1000 - 1;
    old.last_modified = "lm";
    EsiResult r = Client().Fetch({"GET", esi_paths::Character(5), "", old});
    ASSERT_EQ(r.outcome, Outcome::kNotModified);
    EXPECT_TRUE(r.body.empty());
    ASSERT_TRUE(r.cache);
    EXPECT_EQ(r.cache->etag, "\"e5\"");  // kept when the 304 carries none
    EXPECT_EQ(r.cache->last_modified, "lm");
    EXPECT_EQ(r.cache->entity_kind, EntityKind::kCharacter);  // the caller's row comes back updated
    EXPECT_EQ(r.cache->entity_id, 5);
    EXPECT_EQ(r.cache->path, esi_paths::Character(5));
    EXPECT_EQ(r.cache->checked_at_ms, clock.NowUs() / 1000);
    EXPECT_NEAR(static_cast<double>(r.cache->expires_at_ms), static_cast<double>(clock.NowUs()) / 1000 + 120'000, 50);
    ASSERT_EQ(fake.Requests().size(), 1u);
    ASSERT_TRUE(RequestHeader(fake.Requests()[0].request, "If-None-Match"));
    EXPECT_EQ(*RequestHeader(fake.Requests()[0].request, "If-None-Match"), "\"e5\"");
}

TEST_F(EsiClientTest, ClientErrorsAreAnswersNeverRetried) {
    fake.Script("/alliances/404/", FakeHttpClient::Reply(404, R"({"error":"not found"})"));
    fake.Script("/killmails/1/" + std::string(40, 'a') + "/", FakeHttpClient::Reply(422, R"({"error":"bad hash"})"));
    fake.Script("/alliances/400/", FakeHttpClient::Reply(400, R"({"error":"bad"})"));
    fake.Script("/alliances/403/", FakeHttpClient::Reply(403, R"({"error":"forbidden"})"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/404/", "", {}}).outcome, Outcome::kNotFound);
    EsiResult k = Client().Fetch({"GET", esi_paths::Killmail(1, std::string(40, 'a')), "", {}});
    EXPECT_EQ(k.outcome, Outcome::kUnprocessable);
    EXPECT_THROW(k.ThrowIfError("km"), PermanentError);
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/400/", "", {}}).outcome, Outcome::kClientError);
    EsiResult f = Client().Fetch({"GET", "/alliances/403/", "", {}});
    EXPECT_EQ(f.outcome, Outcome::kClientError);
    EXPECT_EQ(f.status, 403);
    EXPECT_EQ(fake.Requests().size(), 4u);
}

TEST_F(EsiClientTest, ServerErrorsRetryWithBoundedBackoffThenFail) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(503, "unavailable"); });
    EsiResult r = Client().Fetch({"GET", "/alliances/7/", "", {}});
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.attempts, 3);
    ASSERT_TRUE(r.retry_after);
    EXPECT_GE(r.retry_after->count(), 1000);  // the next backoff step (2 s × jitter 0.5..1)
    EXPECT_LE(r.retry_after->count(), 2000);
    EXPECT_THROW(r.ThrowIfError("alliance 7"), TransientError);
    const auto& q = fake.Requests();
    ASSERT_EQ(q.size(), 3u);
    // latency 1 ms; then backoff 500 ms × [0.5, 1] and 1000 ms × [0.5, 1]
    const std::int64_t gap1 = q[1].started_us - q[0].started_us - 1000;
    const std::int64_t gap2 = q[2].started_us - q[1].started_us - 1000;
    EXPECT_GE(gap1, 250'000);
    EXPECT_LE(gap1, 500'000 + 2000);
    EXPECT_GE(gap2, 500'000);
    EXPECT_LE(gap2, 1'000'000 + 2000);
}

TEST_F(EsiClientTest, BackoffIsCapped) {
    opts.max_attempts = 8;
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(500, "x"); });
    EsiResult r = Client().Fetch({"GET", "/alliances/7/", "", {}});
    ASSERT_EQ(fake.Requests().size(), 8u);
    for (std::size_t i = 1; i < fake.Requests().size(); ++i) {
        EXPECT_LE(fake.Requests()[i].started_us - fake.Requests()[i - 1].started_us, 8 * kS + 2000);
    }
    EXPECT_LE(r.retry_after->count(), 8000);
}

TEST_F(EsiClientTest, TransientThenSuccess) {
    fake.Script("/alliances/9/", FakeHttpClient::Transport(http::TransportError::kTimeout, 30 * kS));
    fake.Script("/alliances/9/", FakeHttpClient::Reply(502, "bad gateway"));
    fake.Script("/alliances/9/", FakeHttpClient::Reply(200, "{}"));
    EsiResult r = Client().Fetch({"GET", "/alliances/9/", "", {}});
    EXPECT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(Client().Stats().transport_errors, 1);
    EXPECT_EQ(Client().Stats().status_5xx, 1);
}

TEST_F(EsiClientTest, BadJsonIsATransientErrorNotACrash) {
    fake.Script("/alliances/8/", FakeHttpClient::Reply(200, "<html>oops</html>"));
    fake.Script("/alliances/8/", FakeHttpClient::Reply(200, R"({"name":"trunc)"));
    fake.Script("/alliances/8/", FakeHttpClient::Reply(200, ""));
    EsiResult r = Client().Fetch({"GET", "/alliances/8/", "", {}});
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_NE(r.error.find("bad_body"), std::string::npos);
    EXPECT_EQ(Client().Stats().bad_bodies, 3);
    fake.Script("/alliances/8/", FakeHttpClient::Reply(200, "[1,2"));
    fake.Script("/alliances/8/", FakeHttpClient::Reply(200, "[1,2]"));
    EsiResult ok = Client().Fetch({"GET", "/alliances/8/", "", {}});
    EXPECT_EQ(ok.outcome, Outcome::kOk);
    EXPECT_EQ(ok.body, "[1,2]");
}

TEST_F(EsiClientTest, IdenticalGetsInFlightAreCoalesced) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, R"({"n":1})", {}, 50'000); });
    std::vector<EsiResult> got;
    for (int i = 0; i < 3; ++i)
        Client().Submit({"GET", "/corporations/3/", "", {}}, [&](EsiResult r) { got.push_back(r); });
    Client().Submit({"GET", "/corporations/4/", "", {}}, [&](EsiResult r) { got.push_back(r); });
    EXPECT_EQ(Client().Pending(), 4u);
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(10));
    ASSERT_EQ(got.size(), 4u);
    for (const auto& r : got) EXPECT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(fake.CountRequests("/corporations/3/"), 1u);
    EXPECT_EQ(Client().Stats().coalesced, 2);
    EXPECT_EQ(Client().Pending(), 0u);
    // After completion a new submission makes a new request.
    Client().Fetch({"GET", "/corporations/3/", "", {}});
    EXPECT_EQ(fake.CountRequests("/corporations/3/"), 2u);
}

TEST_F(EsiClientTest, ResultEntryPassedBackAvoidsRefetching) {
    fake.Script("/alliances/",
                FakeHttpClient::Reply(200, "[1,2,3]", {{"ETag", "\"l\""}, {"Cache-Control", "max-age=3600"}}));
    auto first = Client().Fetch({"GET", "/alliances/", "", {}});
    EXPECT_EQ(first.outcome, Outcome::kOk);
    ASSERT_TRUE(first.cache);
    EXPECT_EQ(first.cache->path, "/alliances/");
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/", "", first.cache}).outcome, Outcome::kFresh);
    EXPECT_EQ(fake.Requests().size(), 1u);
    clock.Advance(3601 * kS);
    fake.Script("/alliances/", FakeHttpClient::Reply(304, "", {{"Cache-Control", "max-age=3600"}}));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/", "", first.cache}).outcome, Outcome::kNotModified);
    EXPECT_EQ(*RequestHeader(fake.Requests().back().request, "If-None-Match"), "\"l\"");
}

TEST_F(EsiClientTest, BudgetSpacesRequests) {
    opts.rate_limit = 10;
    opts.max_concurrency = 50;
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 30'000); });
    const std::int64_t t0 = clock.NowUs();
    for (int i = 0; i < 50; ++i) Client().Submit({"GET", esi_paths::Type(i), "", {}}, nullptr);
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(50));
    std::vector<std::int64_t> ts;
    for (const auto& r : fake.Requests()) ts.push_back(r.started_us);
    ASSERT_EQ(ts.size(), 50u);
    EXPECT_LE(MaxInWindow(ts, kS), 10u);
    for (std::size_t i = 1; i < ts.size(); ++i) EXPECT_GE(ts[i] - ts[i - 1], 102'000 - 5'000);
    // The window guard: an observer that counts each request when its answer leaves (30 ms after
    // the send) sees no more than the limit in any second either.
    std::vector<std::int64_t> answered;
    for (std::int64_t t : ts) answered.push_back(t + 30'000);
    EXPECT_LE(MaxInWindow(answered, kS), 10u);
    // ≥ 97 % of what the budget allows: 50 requests in ~ 49 intervals of 102 ms, plus the guard's
    // price: a permit comes free a window after its answer, so each window of 10 ends 30 ms (the
    // latency) later.
    const double seconds = static_cast<double>(ts.back() - t0) / kS;
    EXPECT_LT(seconds, 49 * 0.102 + 4 * 0.030 + 0.05);
}

TEST_F(EsiClientTest, TwoClientsShareOneBudget) {
    opts.rate_limit = 20;
    FakeHttpClient fake2(clock);
    auto h = [](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 3000); };
    fake.SetHandler(h);
    fake2.SetHandler(h);
    EsiClient a(opts, fake, budget, clock);
    EsiClient b(opts, fake2, budget, clock);
    for (int i = 0; i < 40; ++i) {
        a.Submit({"GET", esi_paths::Type(i), "", {}}, nullptr);
        b.Submit({"GET", esi_paths::Type(1000 + i), "", {}}, nullptr);
    }
    const std::int64_t t0 = clock.NowUs();
    while (!a.Idle() || !b.Idle()) {
        a.Drive(std::chrono::milliseconds(1));
        b.Drive(std::chrono::milliseconds(1));
    }
    std::vector<std::int64_t> ts;
    for (const auto& r : fake.Requests()) ts.push_back(r.started_us);
    for (const auto& r : fake2.Requests()) ts.push_back(r.started_us);
    ASSERT_EQ(ts.size(), 80u);
    EXPECT_LE(MaxInWindow(ts, kS), 20u);
    EXPECT_LT(static_cast<double>(*std::max_element(ts.begin(), ts.end()) - t0) / kS, 80 / 20.0 * 1.05);
}

TEST_F(EsiClientTest, ErrorLimitPausesBeforeZeroAndNeverGets420) {
    // The fake server counts errors in a fixed 60 s window of limit 30.
    int errors = 0;
    const std::int64_t window_start = clock.NowUs();
    int got420 = 0;
    fake.SetHandler([&](const http::HttpRequest&) {
        const std::int64_t now = clock.NowUs();
        const std::int64_t reset_s = (window_start + 60 * kS - now + kS - 1) / kS;
        if (now >= window_start + 60 * kS) errors = 0;
        if (errors >= 30) {
            ++got420;
            return FakeHttpClient::Reply(
                420, R"({"error":"limited"})",
                {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", std::to_string(reset_s)}});
        }
        ++errors;
        return FakeHttpClient::Reply(404, R"({"error":"nf"})",
                                     {{"X-ESI-Error-Limit-Remain", std::to_string(30 - errors)},
                                      {"X-ESI-Error-Limit-Reset", std::to_string(reset_s)}});
    });
    opts.max_concurrency = 10;
    for (int i = 0; i < 40; ++i) Client().Submit({"GET", esi_paths::Character(i), "", {}}, nullptr);
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(100));
    EXPECT_EQ(got420, 0);
    // 20 errors (down to remain 10) before the pause, the rest after the window reset.
    std::size_t before = 0;
    for (const auto& r : fake.Requests()) before += r.started_us < window_start + 60 * kS;
    EXPECT_LE(before, 20u);
    EXPECT_GE(before, 15u);
    EXPECT_EQ(fake.Requests().size(), 40u);
    EXPECT_GE(fake.Requests().back().started_us, window_start + 60 * kS);
}

TEST_F(EsiClientTest, A420PausesEverythingUntilReset) {
    fake.Script(
        "/alliances/1/",
        FakeHttpClient::Reply(420, "{}", {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "20"}}));
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}"); });
    const std::int64_t t0 = clock.NowUs();
    EsiResult r = Client().Fetch({"GET", "/alliances/1/", "", {}});
    EXPECT_EQ(r.outcome, Outcome::kOk);
    EXPECT_EQ(Client().Stats().status_420, 1);
    ASSERT_EQ(fake.Requests().size(), 2u);
    EXPECT_GE(fake.Requests()[1].started_us - t0, 20 * kS);
    // Shared: another client on the same budget waits too.
    FakeHttpClient fake2(clock);
    fake2.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}"); });
    fake.Script(
        "/alliances/2/",
        FakeHttpClient::Reply(420, "{}", {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "30"}}));
    const std::int64_t t1 = clock.NowUs();
    Client().Submit({"GET", "/alliances/2/", "", {}}, nullptr);
    while (Client().Stats().status_420 < 2) Client().Drive(std::chrono::milliseconds(10));
    EsiClient other(opts, fake2, budget, clock);
    EXPECT_EQ(other.Fetch({"GET", "/alliances/3/", "", {}}).outcome, Outcome::kOk);
    EXPECT_GE(fake2.Requests()[0].started_us - t1, 30 * kS);
}

bool IsStatus(const std::string& url) { return url.size() >= 8 && url.substr(url.size() - 8) == "/status/"; }

constexpr const char* kStatusUp = R"({"players":12345,"server_version":"1","start_time":"2026-12-01T11:05:00Z"})";

TEST_F(EsiClientTest, AnOutageHoldsEveryCallerOfTheDeploymentAndOneProberAsksStatus) {
    opts.downtime_gate = true;
    const std::int64_t t0 = clock.NowUs();
    const std::int64_t up_at = t0 + 60 * kS;  // ESI is down for a minute, /status/ too
    auto handler = [this, up_at](const http::HttpRequest& r) {
        if (clock.NowUs() < up_at) return FakeHttpClient::Reply(503, R"({"error":"temporarily unavailable"})");
        return FakeHttpClient::Reply(200, IsStatus(r.url) ? kStatusUp : "{}");
    };
    fake.SetHandler(handler);
    // Another client (another process) on the same budget.
    FakeHttpClient fake2(clock);
    fake2.SetHandler(handler);
    EsiClient other(opts, fake2, budget, clock);
    std::vector<EsiResult> results;
    {
        RequestGroup g(Client());
        RequestGroup g2(other);
        for (int i = 1; i <= 6; ++i) {
            g.Submit({"GET", "/alliances/" + std::to_string(i) + "/", "", {}},
                     [&results](EsiResult r) { results.push_back(std::move(r)); });
            g2.Submit({"GET", "/alliances/" + std::to_string(100 + i) + "/", "", {}},
                      [&results](EsiResult r) { results.push_back(std::move(r)); });
        }
        for (int turns = 0; results.size() < 12 && turns < 100'000; ++turns) {
            Client().Drive(std::chrono::milliseconds(10));
            other.Drive(std::chrono::milliseconds(10));
        }
    }
    ASSERT_EQ(results.size(), 12u);
    // max_attempts is 3: without the gate every request would have failed.
    for (const auto& r : results) EXPECT_EQ(r.outcome, Outcome::kOk) << r.error;
    std::vector<std::int64_t> work_down, status_down, status_up, work_up;
    for (const auto* f : {&fake, &fake2}) {
        for (const auto& r : f->Requests()) {
            const bool st = IsStatus(r.request.url);
            (r.started_us < up_at ? (st ? status_down : work_down) : (st ? status_up : work_up))
                .push_back(r.started_us);
        }
    }
    // The first client's burst met the outage (sent together, before any answer); the other client
    // learnt it from the shared state and sent nothing of its work while ESI was down.
    EXPECT_EQ(work_down.size(), 6u);
    EXPECT_EQ(fake2.CountRequests("/alliances/101/"), 1u);
    // While down, one prober at a time: /status/ right away, then after 1 s, 2 s, 4 s, … (doubled
    // after each failed probe, at most 60 s): 6 probes in the minute, not one per client.
    EXPECT_GE(status_down.size(), 5u);
    EXPECT_LE(status_down.size(), 7u);
    EXPECT_EQ(MaxInWindow(status_down, kS), 1u);
    std::sort(status_down.begin(), status_down.end());  // (both clients')
    for (std::size_t i = 2; i < status_down.size(); ++i) {
        EXPECT_GE(status_down[i] - status_down[i - 1], 2 * (status_down[i - 1] - status_down[i - 2]) - kS / 2);
    }
    ASSERT_EQ(status_up.size(), 1u);
    // Once up, /status/ said so before any work was sent again.
    ASSERT_FALSE(work_up.empty());
    EXPECT_LT(status_up[0], *std::min_element(work_up.begin(), work_up.end()));
    EXPECT_EQ(Client().Stats().status_probes + other.Stats().status_probes,
              static_cast<std::int64_t>(status_down.size() + status_up.size()));
    EXPECT_EQ(Client().Stats().downtimes, 1);
    EXPECT_EQ(other.Stats().downtimes, 1);
}

TEST_F(EsiClientTest, ADeadProbersLeaseRunsOutAndAnotherAsks) {
    opts.downtime_gate = true;
    opts.timeout = std::chrono::milliseconds(10000);
    // A process made ESI suspect, took the lease and died.
    const std::int64_t t0 = clock.NowUs();
    ASSERT_TRUE(budget.SuspectOutage("esi", "HTTP 503 from GET /alliances/{id}/", t0).changed);
    ASSERT_TRUE(budget.TakeProbeLease("esi", 15 * kS));
    fake.Script("/status/", FakeHttpClient::Reply(200, kStatusUp));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    ASSERT_EQ(fake.Requests().size(), 2u);
    EXPECT_TRUE(IsStatus(fake.Requests()[0].request.url));
    EXPECT_GE(fake.Requests()[0].started_us, t0 + 15 * kS);
    EXPECT_EQ(budget.LoadOutage("esi").state, Availability::kUp);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForTheDowntimeGate) {
    opts.downtime_gate = true;
    // ESI is down for the deployment and another process holds the prober's lease for a minute.
    ASSERT_TRUE(budget.SuspectOutage("esi", "HTTP 503 from GET /alliances/{id}/", clock.NowUs()).changed);
    ASSERT_TRUE(budget.TakeProbeLease("esi", 60 * kS));
    EXPECT_LE(StoppedAfter(Client(), 5 * kS), kS);
    EXPECT_TRUE(fake.Requests().empty());  // nothing was sent while it waited
}

TEST_F(EsiClientTest, TheDailyDowntimeWindowAsksStatusBeforeAnyoneSpendsRequests) {
    opts.downtime_gate = true;
    kr::test::CapturedLog log;
    constexpr std::int64_t kDay = 86'400 * kS;
    const std::int64_t midnight = clock.NowUs() - clock.NowUs() % kDay + kDay;
    clock.Set(midnight + 10 * 3600 * kS + 59 * 60 * kS);  // 10:59 UTC: no window yet
    fake.SetHandler(
        [](const http::HttpRequest& r) { return FakeHttpClient::Reply(200, IsStatus(r.url) ? kStatusUp : "{}"); });
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(fake.CountRequests("/status/"), 0u);
    clock.Set(midnight + 11 * 3600 * kS + 30 * kS);  // 11:00:30 UTC
    EsiClient other(opts, fake, budget, clock);      // another process
    EXPECT_EQ(other.Fetch({"GET", "/alliances/2/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/3/", "", {}}).outcome, Outcome::kOk);
    // /status/ once, first; then the work of both, no second probe in the same window.
    ASSERT_EQ(fake.Requests().size(), 4u);
    EXPECT_TRUE(IsStatus(fake.Requests()[1].request.url));
    EXPECT_EQ(fake.CountRequests("/status/"), 1u);
    EXPECT_EQ(log.Count("ESI is unavailable (ESI's daily downtime window"), 1u) << log.Text();
    EXPECT_EQ(log.Count("ESI answers again after "), 1u) << log.Text();
}

TEST_F(EsiClientTest, ARouteThatFailsWhileStatusSaysUpRunsOutOfAttempts) {
    opts.downtime_gate = true;
    fake.SetHandler([](const http::HttpRequest& r) {
        return IsStatus(r.url) ? FakeHttpClient::Reply(200, kStatusUp) : FakeHttpClient::Reply(502, "bad gateway");
    });
    EsiResult r = Client().Fetch({"GET", "/alliances/7/", "", {}});
    EXPECT_EQ(r.outcome, Outcome::kFailed);
    EXPECT_EQ(r.attempts, 3);
    EXPECT_EQ(fake.CountRequests("/alliances/7/"), 3u);
    EXPECT_LE(fake.CountRequests("/status/"), 3u);  // each 502 asked /status/ once, at most
}

TEST_F(EsiClientTest, RateLimitGroupIsTrackedAndHeldBackBeforeEmpty) {
    // Killmail bucket: 40 tokens / 15 min, 2 per 200. Tokens never come back within the test.
    int remaining = 40;
    int got429 = 0;
    fake.SetHandler([&](const http::HttpRequest& req) {
        if (req.url.find("/killmails/") == std::string::npos) return FakeHttpClient::Reply(200, "{}");
        if (remaining < 2) {
            ++got429;
            return FakeHttpClient::Reply(429, "{}",
                                         {{"Retry-After", "900"},
                                          {"X-Ratelimit-Group", "killmail"},
                                          {"X-Ratelimit-Limit", "40/15m"},
                                          {"X-Ratelimit-Remaining", "0"}});
        }
        remaining -= 2;
        return FakeHttpClient::Reply(200, "{}",
                                     {{"X-Ratelimit-Group", "killmail"},
                                      {"X-Ratelimit-Limit", "40/15m"},
                                      {"X-Ratelimit-Remaining", std::to_string(remaining)},
                                      {"X-Ratelimit-Used", "2"}});
    });
    for (int i = 0; i < 30; ++i)
        Client().Submit({"GET", esi_paths::Killmail(i, std::string(40, 'f')), "", {}}, nullptr);
    for (int i = 0; i < 5; ++i) Client().Submit({"GET", esi_paths::Alliance(i), "", {}}, nullptr);
    const std::int64_t t0 = clock.NowUs();
    // 2 s of simulated time: the killmail group must stop above the reserve, alliances go on.
    while (clock.NowUs() - t0 < 2 * kS) Client().Drive(std::chrono::milliseconds(50));
    EXPECT_EQ(got429, 0);
    EXPECT_EQ(fake.CountRequests("/1/"), 1u);  // alliance 1 (and killmail 1? no: killmail paths end in hash/)
    const std::size_t km = fake.Requests().size() - 5;
    EXPECT_GE(remaining, opts.bucket_reserve - 2);
    EXPECT_LE(km, 16u);
    EXPECT_GE(km, 12u);
    RateState st = budget.Load("esi:group:killmail");
    ASSERT_TRUE(st.remaining);
    EXPECT_EQ(st.limit, 40);
    EXPECT_EQ(st.window_us, 900 * kS);
}

TEST_F(EsiClientTest, A429WithRetryAfterPausesTheGroupForEveryone) {
    const std::string km = esi_paths::Killmail(1, std::string(40, 'f'));
    fake.Script(km, FakeHttpClient::Reply(429, "{}",
                                          {{"Retry-After", "7"},
                                           {"X-Ratelimit-Group", "killmail"},
                                           {"X-Ratelimit-Limit", "3600/15m"},
                                           {"X-Ratelimit-Remaining", "0"}}));
    fake.SetHandler([](const http::HttpRequest& req) {
        if (req.url.find("/killmails/") != std::string::npos) {
            return FakeHttpClient::Reply(200, "{}",
                                         {{"X-Ratelimit-Group", "killmail"},
                                          {"X-Ratelimit-Limit", "3600/15m"},
                                          {"X-Ratelimit-Remaining", "3000"}});
        }
        return FakeHttpClient::Reply(200, "{}");
    });
    const std::int64_t t0 = clock.NowUs();
    EsiResult first;
    bool done = false;
    Client().Submit({"GET", km, "", {}}, [&](EsiResult r) {
        first = r;
        done = true;
    });
    while (Client().Stats().status_429 == 0) Client().Drive(std::chrono::milliseconds(10));
    // Other routes are not held; a second client's killmail request waits for the group pause.
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_LT(clock.NowUs() - t0, 1 * kS);
    FakeHttpClient fake2(clock);
    fake2.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}"); });
    EsiClient other(opts, fake2, budget, clock);
    EXPECT_EQ(other.Fetch({"GET", esi_paths::Killmail(2, std::string(40, 'f')), "", {}}).outcome, Outcome::kOk);
    EXPECT_GE(fake2.Requests()[0].started_us - t0, 7 * kS);
    while (!done) Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(first.outcome, Outcome::kOk);
    EXPECT_EQ(first.attempts, 2);
    EXPECT_GE(fake.Requests().back().started_us - t0, 7 * kS);
}

TEST_F(EsiClientTest, BulkNamesSplitsFailingBatchesToIsolateBadIds) {
    const std::set<std::int64_t> bad{777, 1999};
    fake.SetHandler([&](const http::HttpRequest& req) {
        auto ids = nlohmann::json::parse(req.body);
        nlohmann::json out = nlohmann::json::array();
        for (auto id : ids) {
            if (bad.count(id.get<std::int64_t>()))
                return FakeHttpClient::Reply(404, R"({"error":"Ensure all IDs are valid before resolving."})");
            out.push_back(
                {{"id", id}, {"name", "n" + std::to_string(id.get<std::int64_t>())}, {"category", "character"}});
        }
        if (ids.size() > 1000) return FakeHttpClient::Reply(400, "{}");
        return FakeHttpClient::Reply(200, out.dump());
    });
    std::vector<std::int64_t> ids;
    for (std::int64_t i = 1; i <= 2500; ++i) ids.push_back(i);
    ids.push_back(5);  // duplicates are sent once
    auto res = ResolveNames(Client(), ids);
    std::vector<std::int64_t> bad_ids = res.bad_ids;
    std::sort(bad_ids.begin(), bad_ids.end());
    EXPECT_EQ(bad_ids, (std::vector<std::int64_t>{777, 1999}));
    EXPECT_TRUE(res.failed_ids.empty());
    EXPECT_EQ(res.items.size(), 2498u);
    for (const auto& r : fake.Requests()) {
        EXPECT_EQ(r.request.method, "POST");
        EXPECT_EQ(r.request.url, "http://esi.test/universe/names/");
    }
    // 3 batches; 2 of them bisect over ~10 levels (2 requests per level)
    EXPECT_LE(fake.Requests().size(), 3u + 2 * 2 * 10);
}

TEST_F(EsiClientTest, BulkAffiliationsParseOptionalFieldsAndReportTransientFailures) {
    fake.SetHandler([&](const http::HttpRequest& req) {
        auto ids = nlohmann::json::parse(req.body);
        if (ids.size() == 2) return FakeHttpClient::Reply(503, "");
        nlohmann::json out = nlohmann::json::array();
        for (auto id : ids) {
            nlohmann::json a = {{"character_id", id}, {"corporation_id", 98000001}};
            if (id.get<std::int64_t>() % 2) a["alliance_id"] = 99000001;
            out.push_back(a);
        }
        return FakeHttpClient::Reply(200, out.dump());
    });
    auto res = ResolveAffiliations(Client(), {1, 2, 3, 4, 5}, 3);
    EXPECT_EQ(res.items.size(), 3u);
    EXPECT_EQ(res.failed_ids, (std::vector<std::int64_t>{4, 5}));
    for (const auto& a : res.items) EXPECT_EQ(a.alliance_id.has_value(), a.character_id % 2 == 1);
}

TEST_F(EsiClientTest, ACancelledRequestIsNeverSentAndItsCallbackNeverRuns) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 10'000); });
    int ran = 0;
    const auto queued = Client().Submit({"GET", "/alliances/1/", "", {}}, [&](EsiResult) { ++ran; });
    const auto shared = Client().Submit({"GET", "/alliances/2/", "", {}}, [&](EsiResult) { ++ran; });
    Client().Submit({"GET", "/alliances/2/", "", {}}, [&](EsiResult) { ran += 10; });  // coalesced
    EXPECT_TRUE(Client().Cancel(queued));
    EXPECT_TRUE(Client().Cancel(shared));
    EXPECT_FALSE(Client().Cancel(shared));
    EXPECT_EQ(Client().Pending(), 1u);
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(ran, 10);  // only the other caller of the coalesced request
    EXPECT_EQ(fake.CountRequests("/alliances/1/"), 0u);
    EXPECT_EQ(fake.CountRequests("/alliances/2/"), 1u);
    EXPECT_EQ(Client().Pending(), 0u);
}

TEST_F(EsiClientTest, ARequestCancelledOnTheWireCompletesNobody) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 10'000); });
    int ran = 0;
    const auto t = Client().Submit({"GET", "/alliances/1/", "", {}}, [&](EsiResult) { ++ran; });
    Client().Drive(std::chrono::microseconds(0));  // sent
    ASSERT_EQ(fake.Requests().size(), 1u);
    EXPECT_TRUE(Client().Cancel(t));
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(ran, 0);
    // An answer that arrived but was not delivered yet is cancelled too.
    const auto done = Client().Submit({"GET", "/alliances/3/", "", {}}, [&](EsiResult) { ++ran; });
    Client().Drive(std::chrono::microseconds(0));  // sent
    ASSERT_EQ(fake.Requests().size(), 2u);
    fake.Drive(std::chrono::milliseconds(20));  // answered, not delivered yet
    ASSERT_EQ(fake.InFlight(), 0u);
    EXPECT_TRUE(Client().Cancel(done));
    Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(ran, 0);
    EXPECT_EQ(Client().Pending(), 0u);
}

TEST_F(EsiClientTest, ACallbackThatThrowsLeavesTheOthersDue) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 1000); });
    int ran = 0;
    Client().Submit({"GET", "/alliances/1/", "", {}}, [](EsiResult) { throw std::runtime_error("boom"); });
    Client().Submit({"GET", "/alliances/2/", "", {}}, [&](EsiResult) { ++ran; });
    EXPECT_THROW(while (Client().Pending() == 2) Client().Drive(std::chrono::milliseconds(10)), std::runtime_error);
    while (Client().Pending() > 0) Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(ran, 1);
}

TEST_F(EsiClientTest, ARequestGroupLeftEarlyCancelsItsCallbacks) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 10'000); });
    auto ran = std::make_shared<int>(0);
    {
        RequestGroup group(Client());
        for (int i = 0; i < 3; ++i) group.Submit({"GET", esi_paths::Type(i), "", {}}, [ran](EsiResult) { ++*ran; });
        Client().Drive(std::chrono::microseconds(0));
        EXPECT_EQ(group.Pending(), 3u);
    }  // left with every callback pending (as when a throw leaves the submitter's frame)
    EXPECT_EQ(Client().Pending(), 0u);
    while (!Client().Idle()) Client().Drive(std::chrono::milliseconds(10));
    EXPECT_EQ(*ran, 0);

    RequestGroup group(Client());
    group.Submit({"GET", esi_paths::Type(7), "", {}}, [ran](EsiResult) { ++*ran; });
    group.Wait();
    EXPECT_EQ(*ran, 1);
    EXPECT_EQ(group.Pending(), 0u);
}

// Stop in every state: each wait gives up within a slice of the stop request (kr::StoppedError,
// which the consume loop turns into handing the delivery back).

TEST_F(EsiClientTest, AStopEndsTheWaitForAnErrorLimitPause) {
    fake.Script(
        "/alliances/1/",
        FakeHttpClient::Reply(420, "{}", {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "150"}}));
    EXPECT_LE(StoppedAfter(Client(), 5 * kS), kS);
    EXPECT_EQ(fake.Requests().size(), 1u);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForARetryAfter) {
    fake.Script("/alliances/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "30"}}));
    EXPECT_LE(StoppedAfter(Client(), 5 * kS), kS);
    EXPECT_EQ(fake.Requests().size(), 1u);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForARouteGroupPause) {
    const std::string km = esi_paths::Killmail(1, std::string(40, 'f'));
    fake.Script(km, FakeHttpClient::Reply(429, "{}", {{"Retry-After", "60"}, {"X-Ratelimit-Group", "killmail"}}));
    EXPECT_LE(StoppedAfter(Client(), 5 * kS, km), kS);
    EXPECT_EQ(fake.Requests().size(), 1u);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForABudgetSlot) {
    opts.rate_limit = 1;
    budget.Reserve("esi", kS, 300);  // the next slot is 5 minutes away
    EXPECT_LE(StoppedAfter(Client(), 2 * kS), kS);
    EXPECT_EQ(fake.Requests().size(), 0u);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForABudgetThatCannotBeWritten) {
    opts.rate_limit = 1;
    kr::test::FullDiskBudget full;
    EsiClient esi(opts, fake, full, clock);
    EXPECT_LE(StoppedAfter(esi, 10 * kS), kS);  // it failed closed until then
    EXPECT_EQ(fake.Requests().size(), 0u);
}

TEST_F(EsiClientTest, AStopEndsTheWaitForAHungAnswer) {
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}", {}, 600 * kS));
    EXPECT_LE(StoppedAfter(Client(), 2 * kS), kS);
    fake.Drive(std::chrono::seconds(700));  // the abandoned answer arrives: it completes nobody
    EXPECT_EQ(Client().Drive(std::chrono::milliseconds(10)), 0);
}

TEST_F(EsiClientTest, TheIdleHookRunsAboutOnceASecondWhileFetchWaits) {
    // A worker blocked in Fetch through a 429 must still service its broker connection.
    fake.Script("/alliances/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "30"}}));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    std::vector<std::int64_t> calls;
    Client().SetIdleHook([&] { calls.push_back(clock.NowUs()); });
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    ASSERT_GE(calls.size(), 25u);  // ~30 s of waiting
    for (std::size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i] - calls[i - 1], 2 * kS) << i;
}

TEST_F(EsiClientTest, RouteTemplates) {
    EXPECT_EQ(EsiClient::RouteTemplate("/killmails/123/0123456789abcdef0123456789abcdef01234567/"),
              "/killmails/{id}/{hash}/");
    EXPECT_EQ(EsiClient::RouteTemplate("/alliances/99/corporations/"), "/alliances/{id}/corporations/");
    EXPECT_EQ(EsiClient::RouteTemplate("/universe/names/"), "/universe/names/");
}

TEST(HttpDate, ParsesCachingHeaders) {
    EXPECT_EQ(http::ParseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
    EXPECT_EQ(http::ParseHttpDate("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
    EXPECT_EQ(http::ParseHttpDate("Sun Nov  6 08:49:37 1994"), 784111777);
    EXPECT_FALSE(http::ParseHttpDate("yesterday"));
    EXPECT_EQ(http::CacheControlMaxAge("public, max-age=3600"), 3600);
    EXPECT_FALSE(http::CacheControlMaxAge("no-store"));
    EXPECT_EQ(http::ParseRetryAfter("12", 0), 12);
    EXPECT_EQ(http::ParseRetryAfter("Sun, 06 Nov 1994 08:49:47 GMT", 784111777), 10);
}

}  // namespace

namespace kr::esi {
namespace {

using test::CapturedLog;

TEST_F(EsiClientTest, APauseIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    CapturedLog log;
    const std::string km = esi_paths::Killmail(1, std::string(40, 'f'));
    fake.Script(km, FakeHttpClient::Reply(429, "{}", {{"Retry-After", "60"}, {"X-Ratelimit-Group", "killmail"}}));
    fake.Script(km, FakeHttpClient::Reply(200, "{}", {{"X-Ratelimit-Group", "killmail"}}));
    EXPECT_EQ(Client().Fetch({"GET", km, "", {}}).outcome, Outcome::kOk);
    const std::string text = log.Text();
    std::size_t paused = 0, resumed = 0;
    for (std::size_t at = 0;
         (at = text.find("route group killmail paused for 60 s (HTTP 429", at)) != std::string::npos; ++at) {
        ++paused;
    }
    for (std::size_t at = 0;
         (at = text.find("route group killmail sending again after a 60 s pause", at)) != std::string::npos; ++at) {
        ++resumed;
    }
    EXPECT_EQ(paused, 1u) << text;
    EXPECT_EQ(resumed, 1u) << text;
    EXPECT_EQ(text.rfind("warning ESI: route group killmail paused", 0), 0u) << text;  // at warning level
}

TEST_F(EsiClientTest, AnErrorLimitPauseIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    CapturedLog log;
    fake.Script(
        "/alliances/1/",
        FakeHttpClient::Reply(420, "{}", {{"X-Esi-Error-Limit-Remain", "0"}, {"X-Esi-Error-Limit-Reset", "20"}}));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(log.Count("ESI: every request paused for 21 s (HTTP 420: error limited)"), 1u) << log.Text();
    EXPECT_EQ(log.Count("ESI: every request sending again after a 21 s pause"), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();  // nothing else
}

TEST_F(EsiClientTest, A429WithoutRouteGroupPausesEveryRequestLoggedTwice) {
    CapturedLog log;
    fake.Script("/alliances/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "30"}}));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(log.Count("ESI: every request paused for 30 s (HTTP 429)"), 1u) << log.Text();
    EXPECT_EQ(log.Count("ESI: every request sending again after a 30 s pause"), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();
}

// Two clients over one shared budget (two processes of a deployment): only the other one sees the
// 429 / 420; this one, waiting on the pause it learns from the shared state, logs it as well —
// once when it starts, once when it is over.
TEST_F(EsiClientTest, APauseAnotherClientSawIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    FakeHttpClient other_http(clock);
    EsiOptions other_opts = opts;
    other_opts.max_attempts = 1;  // it answers at once with the 429, without waiting it out
    EsiClient other(other_opts, other_http, budget, clock);
    const std::string km = esi_paths::Killmail(1, std::string(40, 'f'));
    other_http.Script(km, FakeHttpClient::Reply(429, "{}", {{"Retry-After", "60"}, {"X-Ratelimit-Group", "killmail"}}));
    EXPECT_EQ(other.Fetch({"GET", km, "", {}}).outcome, Outcome::kFailed);

    CapturedLog log;
    const std::string km2 = esi_paths::Killmail(2, std::string(40, 'f'));
    fake.Script(km2, FakeHttpClient::Reply(200, "{}", {{"X-Ratelimit-Group", "killmail"}}));
    const std::int64_t start = clock.NowUs();
    EXPECT_EQ(Client().Fetch({"GET", km2, "", {}}).outcome, Outcome::kOk);
    EXPECT_GE(clock.NowUs() - start, 60 * kS);  // it did wait
    EXPECT_EQ(log.Count("warning ESI: route group killmail paused for 60 s (HTTP 429, from the shared budget)"), 1u)
        << log.Text();
    EXPECT_EQ(log.Count("info ESI: route group killmail sending again after a 60 s pause"), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();  // nothing else
}

TEST_F(EsiClientTest, AnErrorLimitPauseAnotherClientSawIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    FakeHttpClient other_http(clock);
    EsiOptions other_opts = opts;
    other_opts.max_attempts = 1;
    EsiClient other(other_opts, other_http, budget, clock);
    other_http.Script(
        "/alliances/1/",
        FakeHttpClient::Reply(420, "{}", {{"X-Esi-Error-Limit-Remain", "0"}, {"X-Esi-Error-Limit-Reset", "20"}}));
    EXPECT_EQ(other.Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kFailed);

    CapturedLog log;
    fake.Script("/alliances/2/", FakeHttpClient::Reply(200, "{}"));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/2/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(log.Count("ESI: every request paused for 21 s (error limit remain 0, from the shared budget)"), 1u)
        << log.Text();
    EXPECT_EQ(log.Count("ESI: every request sending again after a 21 s pause"), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();
}

TEST_F(EsiClientTest, DowntimeIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    CapturedLog log;
    opts.downtime_gate = true;
    opts.max_attempts = 10;
    fake.Script("/alliances/1/", FakeHttpClient::Reply(503, "down"));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}"));
    // what asks whether ESI is back: down twice more (then 1 s, then 2 s), then up
    fake.Script("/status/", FakeHttpClient::Reply(503, "down"));
    fake.Script("/status/", FakeHttpClient::Transport(http::TransportError::kTimeout, 30 * kS));
    fake.Script("/status/", FakeHttpClient::Reply(200, kStatusUp));
    const std::int64_t t0 = clock.NowUs();
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    ASSERT_EQ(fake.CountRequests("/status/"), 3u);
    // backed off: 1 s after the first probe, 2 s after the second (a timeout of 30 s)
    EXPECT_GE(fake.Requests().back().started_us - t0, (1 + 30 + 2) * kS);
    EXPECT_EQ(log.Count("ESI is unavailable (HTTP 503 from GET /alliances/{id}/)"), 1u) << log.Text();
    EXPECT_EQ(log.Count("ESI answers again after "), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();
}

TEST_F(EsiClientTest, ADebugLinePerAnswerHasItsStatusOutcomeAndLatency) {
    CapturedLog log(spdlog::level::debug);
    fake.Script("/alliances/1/", FakeHttpClient::Reply(503, "busy", {}, 40000));
    fake.Script("/alliances/1/", FakeHttpClient::Reply(200, "{}", {{"X-Ratelimit-Group", "alliance"}}, 250000));
    fake.Script("/alliances/2/", FakeHttpClient::Reply(404, "{}", {}, 7000));
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/1/", "", {}}).outcome, Outcome::kOk);
    EXPECT_EQ(Client().Fetch({"GET", "/alliances/2/", "", {}}).outcome, Outcome::kNotFound);
    EXPECT_EQ(log.Count("debug ESI: GET /alliances/1/ -> 503 server_error in 40 ms (attempt 1)\n"), 1u) << log.Text();
    EXPECT_EQ(log.Count("debug ESI: GET /alliances/1/ -> 200 ok in 250 ms (attempt 2, route group alliance)\n"), 1u)
        << log.Text();
    EXPECT_EQ(log.Count("debug ESI: GET /alliances/2/ -> 404 not_found in 7 ms (attempt 1, route group alliance)\n"),
              1u)
        << log.Text();
}

}  // namespace
}  // namespace kr::esi
