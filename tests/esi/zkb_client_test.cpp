// ZkbClient against FakeHttpClient and a manual clock.
#include "esi/zkb_client.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "support/captured_log.hpp"
#include "support/fake_http_client.hpp"
#include "support/full_disk_budget.hpp"

using namespace kr;
using namespace kr::esi;
using http::FakeHttpClient;

namespace {

constexpr std::int64_t kS = 1'000'000;

class ZkbClientTest : public ::testing::Test {
protected:
    ZkbClientTest() : fake(clock), budget(clock) {
        opts.base_url = "http://zkb.test/api/";
        opts.backoff_base = std::chrono::milliseconds(1000);
    }
    ZkbClient Make() { return ZkbClient(opts, fake, budget, clock); }
    /// Fetches a page with a stop requested `after_us` into the fetch; returns how long the fetch
    /// went on after the request (clock time).
    std::int64_t StoppedAfter(ZkbClient& zkb, std::int64_t after_us) {
        std::stop_source stop;
        zkb.SetStopToken(stop.get_token());
        const std::int64_t at = clock.NowUs() + after_us;
        fake.At(at, [&stop] { stop.request_stop(); });
        EXPECT_THROW(zkb.FetchCharacterPage(5, 1), StoppedError);
        return clock.NowUs() - at;
    }
    ManualClock clock;
    FakeHttpClient fake;
    InProcessBudget budget;
    ZkbOptions opts;
};

TEST_F(ZkbClientTest, PagesArePacedAtOnePerSecondWithTrailingSlashAndUserAgent) {
    fake.SetHandler(
        [](const http::HttpRequest&) { return FakeHttpClient::Reply(200, R"([{"killmail_id":1,"zkb":{}}])"); });
    auto zkb = Make();
    for (int p = 1; p <= 4; ++p) {
        ZkbPage page = zkb.FetchCharacterPage(90000001, p);
        ASSERT_EQ(page.status, ZkbPage::Status::kOk) << page.error;
        EXPECT_FALSE(page.end);
    }
    const auto& q = fake.Requests();
    ASSERT_EQ(q.size(), 4u);
    EXPECT_EQ(q[0].request.url, "http://zkb.test/api/characterID/90000001/page/1/");
    bool ua = false;
    for (const auto& [k, v] : q[0].request.headers) ua |= k == "User-Agent" && v.find("killreport-cpp/") == 0;
    EXPECT_TRUE(ua);
    for (std::size_t i = 1; i < q.size(); ++i) EXPECT_GE(q[i].started_us - q[i - 1].started_us, kS);
}

TEST_F(ZkbClientTest, EmptyArrayIsTheEnd) {
    fake.Script("/page/3/", FakeHttpClient::Reply(200, "[]"));
    ZkbPage page = Make().FetchCharacterPage(5, 3);
    EXPECT_EQ(page.status, ZkbPage::Status::kOk);
    EXPECT_TRUE(page.end);
}

TEST_F(ZkbClientTest, TooManyRequestsPausesTheSharedKeyAndRetries) {
    fake.Script("/page/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "9"}}));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[]"));
    const std::int64_t t0 = clock.NowUs();
    ZkbPage page = Make().FetchCharacterPage(5, 1);
    EXPECT_EQ(page.status, ZkbPage::Status::kOk);
    EXPECT_EQ(page.attempts, 2);
    ASSERT_EQ(fake.Requests().size(), 2u);
    EXPECT_GE(fake.Requests()[1].started_us - t0, 9 * kS);
    EXPECT_GE(budget.Load("zkb").paused_until_us, t0 + 9 * kS);
}

TEST_F(ZkbClientTest, TheIdleHookRunsAboutOnceASecondDuringAPause) {
    // rabbitmq-c sends no heartbeats by itself: a worker must get control back while zKillboard
    // makes it wait, or the broker drops its connection and redelivers what it holds.
    fake.Script("/page/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "30"}}));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[]"));
    auto zkb = Make();
    std::vector<std::int64_t> calls;
    zkb.SetIdleHook([&] { calls.push_back(clock.NowUs()); });
    ZkbPage page = zkb.FetchCharacterPage(5, 1);
    EXPECT_EQ(page.status, ZkbPage::Status::kOk);
    ASSERT_GE(calls.size(), 25u);  // ~30 s of waiting
    for (std::size_t i = 1; i < calls.size(); ++i) EXPECT_LE(calls[i] - calls[i - 1], 2 * kS) << i;
    zkb.SetIdleHook(nullptr);
    fake.Script("/page/2/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "3"}}));
    fake.Script("/page/2/", FakeHttpClient::Reply(200, "[]"));
    const auto before = calls.size();
    EXPECT_EQ(zkb.FetchCharacterPage(5, 2).status, ZkbPage::Status::kOk);
    EXPECT_EQ(calls.size(), before);
}

TEST_F(ZkbClientTest, ErrorsAreNeverTheEndOfHistory) {
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(503, "<html>cloudflare</html>"); });
    ZkbPage page = Make().FetchCharacterPage(5, 2);
    EXPECT_EQ(page.status, ZkbPage::Status::kFailed);
    EXPECT_FALSE(page.end);
    EXPECT_EQ(page.attempts, 3);
    ASSERT_TRUE(page.retry_after);
    EXPECT_THROW(page.ThrowIfError("zkb"), TransientError);
}

TEST_F(ZkbClientTest, NonArrayBodiesAreRetriedThenFail) {
    fake.Script("/page/1/", FakeHttpClient::Reply(200, ""));  // "200 Missing trailing slash"
    fake.Script("/page/1/", FakeHttpClient::Reply(200, R"({"error":"x"})"));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, R"([{"killmail_id":1)"));
    ZkbPage page = Make().FetchCharacterPage(5, 1);
    EXPECT_EQ(page.status, ZkbPage::Status::kFailed);
    EXPECT_NE(page.error.find("bad_body"), std::string::npos);
}

TEST_F(ZkbClientTest, ClientErrorsAreNotRetried) {
    fake.Script("/page/1/", FakeHttpClient::Reply(403, R"({"error":"blocked"})"));
    ZkbPage page = Make().FetchCharacterPage(5, 1);
    EXPECT_EQ(page.status, ZkbPage::Status::kClientError);
    EXPECT_EQ(page.http_status, 403);
    EXPECT_EQ(fake.Requests().size(), 1u);
    EXPECT_THROW(page.ThrowIfError("zkb"), PermanentError);
}

TEST_F(ZkbClientTest, TransportErrorsRetry) {
    fake.Script("/page/1/", FakeHttpClient::Transport(http::TransportError::kTimeout));
    fake.Script("/page/1/", FakeHttpClient::Transport(http::TransportError::kReset));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[1]"));
    ZkbPage page = Make().FetchCharacterPage(5, 1);
    EXPECT_EQ(page.status, ZkbPage::Status::kOk);
    EXPECT_EQ(page.attempts, 3);
}

// Stop in every state: each wait gives up within a slice of the stop request (kr::StoppedError,
// which the consume loop turns into handing the page back).

TEST_F(ZkbClientTest, AStopEndsTheWaitForASharedPause) {
    fake.Script("/page/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "120"}}));
    auto zkb = Make();
    EXPECT_LE(StoppedAfter(zkb, 5 * kS), kS);
    EXPECT_EQ(fake.Requests().size(), 1u);
}

TEST_F(ZkbClientTest, AStopEndsTheWaitForAHungAnswer) {
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[]", {}, 600 * kS));
    auto zkb = Make();
    EXPECT_LE(StoppedAfter(zkb, 2 * kS), kS);
    // The abandoned transfer still completes when the client is driven; it writes nowhere it shouldn't.
    fake.Drive(std::chrono::seconds(700));
    EXPECT_EQ(fake.InFlight(), 0u);
}

TEST_F(ZkbClientTest, AStopEndsTheWaitsForTheBudget) {
    opts.rate_limit = 1;
    budget.Reserve("zkb", kS, 300);  // the next slot is 5 minutes away
    auto paced = Make();
    EXPECT_LE(StoppedAfter(paced, 2 * kS), kS);
    // A budget whose state cannot be written (a full disk) fails closed: no request, until the stop.
    kr::test::FullDiskBudget full;
    ZkbClient closed(opts, fake, full, clock);
    EXPECT_LE(StoppedAfter(closed, 10 * kS), kS);
    EXPECT_EQ(fake.Requests().size(), 0u);
}

TEST_F(ZkbClientTest, A429PauseIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    test::CapturedLog log;
    fake.Script("/page/1/", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "30"}}));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[]"));
    auto zkb = Make();
    EXPECT_EQ(zkb.FetchCharacterPage(5, 1).status, ZkbPage::Status::kOk);
    EXPECT_EQ(log.Count("warning zKillboard: paused for 30 s (HTTP 429 with Retry-After), until "), 1u) << log.Text();
    EXPECT_EQ(log.Count("info zKillboard: sending again after a 30 s pause"), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();
}

TEST_F(ZkbClientTest, ABackoffIsLoggedOnceWhenItStartsAndOnceWhenItIsOver) {
    test::CapturedLog log;
    fake.Script("/page/1/", FakeHttpClient::Reply(503, "busy"));
    fake.Script("/page/1/", FakeHttpClient::Reply(200, "[]"));
    auto zkb = Make();
    EXPECT_EQ(zkb.FetchCharacterPage(5, 1).status, ZkbPage::Status::kOk);
    EXPECT_EQ(log.Count("zKillboard: paused for "), 1u) << log.Text();
    EXPECT_EQ(log.Count("(backing off after HTTP 503 (attempt 1 of "), 1u) << log.Text();
    EXPECT_EQ(log.Count("zKillboard: sending again after a "), 1u) << log.Text();
    EXPECT_EQ(log.Count("\n"), 2u) << log.Text();
}

}  // namespace
