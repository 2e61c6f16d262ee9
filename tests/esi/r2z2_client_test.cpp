// R2z2Client against FakeHttpClient and a manual clock: paced by the shared budget, statuses as
// data, 429/403 pause the shared key as told, a stop ends every wait.
#include "esi/r2z2_client.hpp"

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "support/fake_http_client.hpp"

using namespace kr;
using namespace kr::esi;
using http::FakeHttpClient;

namespace {

constexpr std::int64_t kS = 1'000'000;

class R2z2ClientTest : public ::testing::Test {
protected:
    R2z2ClientTest() : fake(clock), budget(clock) { opts.base_url = "http://r2z2.test/"; }
    R2z2Client Make() { return R2z2Client(opts, fake, budget, clock); }
    ManualClock clock;
    FakeHttpClient fake;
    InProcessBudget budget;
    R2z2Options opts;
};

TEST_F(R2z2ClientTest, FilesArePacedByTheSharedBudgetWithUserAgent) {
    opts.rate_limit = 10;
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}"); });
    auto c = Make();
    for (int i = 0; i < 21; ++i) ASSERT_EQ(c.FetchSequenceFile(100 + i).status, R2z2Answer::Status::kOk);
    const auto& q = fake.Requests();
    ASSERT_EQ(q.size(), 21u);
    EXPECT_EQ(q[0].request.url, "http://r2z2.test/ephemeral/100.json");
    EXPECT_EQ(q[20].request.url, "http://r2z2.test/ephemeral/120.json");
    bool ua = false;
    for (const auto& [k, v] : q[0].request.headers) ua |= k == "User-Agent" && !v.empty();
    EXPECT_TRUE(ua);
    EXPECT_GE(q[20].started_us - q[0].started_us, 2 * kS) << "21 requests at 10/s span at least 2 s";
    EXPECT_EQ(c.FetchSequence().status, R2z2Answer::Status::kOk);
    EXPECT_EQ(fake.Requests().back().request.url, "http://r2z2.test/ephemeral/sequence.json");
}

TEST_F(R2z2ClientTest, NotFoundIsData) {
    fake.Script("/7.json", FakeHttpClient::Reply(404, "Not found"));
    fake.Script("/8.json", FakeHttpClient::Reply(503, "busy"));
    auto c = Make();
    EXPECT_EQ(c.FetchSequenceFile(7).status, R2z2Answer::Status::kNotFound);
    const auto failed = c.FetchSequenceFile(8);
    EXPECT_EQ(failed.status, R2z2Answer::Status::kFailed);
    EXPECT_EQ(failed.http_status, 503);
    EXPECT_EQ(fake.Requests().size(), 2u) << "no retries inside the client";
}

TEST_F(R2z2ClientTest, TooManyRequestsPausesTheSharedKeyForEveryProcess) {
    fake.Script("/1.json", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "7"}}));
    fake.Script("/1.json", FakeHttpClient::Reply(200, "{}"));
    auto c = Make();
    const std::int64_t t0 = clock.NowUs();
    const auto a = c.FetchSequenceFile(1);
    EXPECT_EQ(a.status, R2z2Answer::Status::kRateLimited);
    EXPECT_EQ(a.retry_after, std::chrono::seconds(7));
    EXPECT_GE(budget.Load("r2z2").paused_until_us, t0 + 7 * kS);
    EXPECT_EQ(c.FetchSequenceFile(1).status, R2z2Answer::Status::kOk);
    ASSERT_EQ(fake.Requests().size(), 2u);
    EXPECT_GE(fake.Requests()[1].started_us - t0, 7 * kS) << "the next request waits for the pause";
}

TEST_F(R2z2ClientTest, ABanWithoutRetryAfterPausesAnHour) {
    fake.Script("/1.json", FakeHttpClient::Reply(403, "banned"));
    auto c = Make();
    const std::int64_t t0 = clock.NowUs();
    const auto a = c.FetchSequenceFile(1);
    EXPECT_EQ(a.status, R2z2Answer::Status::kBanned);
    EXPECT_EQ(a.retry_after, std::chrono::hours(1));
    EXPECT_GE(budget.Load("r2z2").paused_until_us, t0 + 3600 * kS);
}

TEST_F(R2z2ClientTest, AStopEndsThePauseAndTheWait) {
    budget.Observe("r2z2", {std::nullopt, 0, 0, 0, 600 * kS});
    auto c = Make();
    std::stop_source stop;
    c.SetStopToken(stop.get_token());
    const std::int64_t at = clock.NowUs() + 2 * kS;
    fake.At(at, [&stop] { stop.request_stop(); });
    EXPECT_THROW(c.FetchSequenceFile(1), StoppedError);
    EXPECT_LE(clock.NowUs() - at, WaitHooks::kSliceUs);
    EXPECT_TRUE(fake.Requests().empty());
    EXPECT_THROW(c.Wait(std::chrono::seconds(6)), StoppedError);
}

}  // namespace
