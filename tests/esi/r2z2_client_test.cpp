// R2z2Client against FakeHttpClient and a manual clock: paced by the shared budget, statuses as
// data, 429/403 pause the shared key as told, a stop ends every wait; walking the feed with the
// rate limit off: a bounded window of concurrent requests, answers in sequence order, the shared
// pause read at most every pause_check.
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

/// The budget of the other tests, counting the round trips a database budget would make.
class CountingBudget final : public RateBudget {
public:
    explicit CountingBudget(Clock& clock) : inner(clock) {}
    SlotGrant Reserve(const std::string& key, std::int64_t interval_us, int count) override {
        ++round_trips;
        return inner.Reserve(key, interval_us, count);
    }
    RateState Load(const std::string& key) override {
        ++round_trips;
        return inner.Load(key);
    }
    RateState Observe(const std::string& key, const Observation& obs) override {
        ++round_trips;
        return inner.Observe(key, obs);
    }
    std::vector<std::string> Keys() override { return inner.Keys(); }
    using RateBudget::TakePermit;
    PermitGrant TakePermit(const std::string& key, int count, std::int64_t max_hold_us,
                           const PermitShare& share) override {
        ++round_trips;
        return inner.TakePermit(key, count, max_hold_us, share);
    }
    void MarkDemand(const std::string& key, std::int64_t for_us) override {
        ++round_trips;
        inner.MarkDemand(key, for_us);
    }
    std::int64_t DemandUntil(const std::string& key) override {
        ++round_trips;
        return inner.DemandUntil(key);
    }
    void ReleasePermit(const std::string& key, std::int64_t permit, std::int64_t window_us) override {
        inner.ReleasePermit(key, permit, window_us);
    }
    OutageState LoadOutage(const std::string& key) override {
        ++round_trips;
        return inner.LoadOutage(key);
    }
    OutageState SuspectOutage(const std::string& key, const std::string& reason, std::int64_t unless) override {
        ++round_trips;
        return inner.SuspectOutage(key, reason, unless);
    }
    bool TakeProbeLease(const std::string& key, std::int64_t lease_us) override {
        ++round_trips;
        return inner.TakeProbeLease(key, lease_us);
    }
    OutageState ProbeAnswered(const std::string& key, bool up, std::int64_t first, std::int64_t later) override {
        ++round_trips;
        return inner.ProbeAnswered(key, up, first, later);
    }
    void Spend(const std::string& key, std::int64_t tokens) override {
        ++round_trips;
        inner.Spend(key, tokens);
    }
    std::int64_t Spent(const std::string& key, std::int64_t seconds) override { return inner.Spent(key, seconds); }
    InProcessBudget inner;
    int round_trips = 0;
};

/// The sequence an /ephemeral/N.json URL asks for.
std::int64_t SequenceOf(const std::string& url) {
    const auto slash = url.rfind('/');
    return std::stoll(url.substr(slash + 1, url.size() - slash - 1 - 5));
}

class R2z2WindowTest : public R2z2ClientTest {
protected:
    R2z2WindowTest() {
        opts.rate_limit = 0;
        opts.window = 8;
        // Sequences up to `head` are served, each answer naming its sequence; later ones are 404.
        fake.SetHandler([this](const http::HttpRequest& r) {
            const std::int64_t seq = SequenceOf(r.url);
            // Answers arrive out of order: a later sequence may be answered first.
            const std::int64_t latency = 1000 + (seq % 3) * 700;
            if (seq > head) return FakeHttpClient::Reply(404, "Not found", {}, latency);
            return FakeHttpClient::Reply(200, "{\"sequence_id\":" + std::to_string(seq) + "}", {}, latency);
        });
    }
    std::int64_t head = 0;
};

TEST_F(R2z2WindowTest, CatchUpAsksAheadWithinTheWindowAndAnswersInSequenceOrder) {
    head = 160;
    auto c = Make();
    std::size_t widest = 0;
    for (std::int64_t seq = 100; seq <= head; ++seq) {
        const auto a = c.FetchSequenceFileAhead(seq);
        ASSERT_EQ(a.status, R2z2Answer::Status::kOk) << seq;
        ASSERT_EQ(a.body, "{\"sequence_id\":" + std::to_string(seq) + "}") << "answers in sequence order";
        widest = std::max(widest, c.WindowInFlight());
    }
    EXPECT_EQ(widest, opts.window - 1) << "the window grows to its bound, never past it";
    EXPECT_EQ(c.FetchSequenceFileAhead(head + 1).status, R2z2Answer::Status::kNotFound);
    // Every sequence asked once; past the head at most the window's worth.
    for (std::int64_t seq = 100; seq <= head; ++seq)
        EXPECT_EQ(fake.CountRequests("/" + std::to_string(seq) + ".json"), 1u);
    EXPECT_LE(fake.Requests().size(), static_cast<std::size_t>(head - 100 + 1) + opts.window);
    // Concurrent: some requests were sent before the answer to the one before them.
    std::size_t together = 0;
    const auto& q = fake.Requests();
    for (std::size_t i = 1; i < q.size(); ++i) together += q[i].started_us == q[i - 1].started_us ? 1 : 0;
    EXPECT_GT(together, 0u);
}

TEST_F(R2z2WindowTest, AtTheHeadOneRequestPerPoll) {
    head = 104;
    auto c = Make();
    for (std::int64_t seq = 100; seq <= head; ++seq)
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
    ASSERT_EQ(c.FetchSequenceFileAhead(105).status, R2z2Answer::Status::kNotFound);
    EXPECT_EQ(c.WindowInFlight(), 0u) << "a 404 drops what was asked ahead";
    const std::size_t before = fake.Requests().size();
    for (int poll = 0; poll < 3; ++poll) {
        EXPECT_EQ(c.FetchSequenceFileAhead(105).status, R2z2Answer::Status::kNotFound);
        EXPECT_EQ(fake.Requests().size(), before + poll + 1) << "one request per poll at the head";
    }
    head = 106;  // two kills uploaded: served, in order, the window starting again from one
    EXPECT_EQ(c.FetchSequenceFileAhead(105).body, "{\"sequence_id\":105}");
    EXPECT_EQ(c.FetchSequenceFileAhead(106).body, "{\"sequence_id\":106}");
    EXPECT_EQ(c.FetchSequenceFileAhead(107).status, R2z2Answer::Status::kNotFound);
}

TEST_F(R2z2WindowTest, ASequenceOutOfTurnDropsTheWindow) {
    head = 200;
    auto c = Make();
    for (std::int64_t seq = 100; seq < 120; ++seq)
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
    const auto a = c.FetchSequenceFileAhead(110);  // e.g. the cursor moved back (another holder)
    EXPECT_EQ(a.body, "{\"sequence_id\":110}");
    EXPECT_EQ(fake.CountRequests("/110.json"), 2u);
}

TEST_F(R2z2WindowTest, WithTheRateLimitOnRequestsStayOneAtATime) {
    opts.rate_limit = 10;
    head = 130;
    auto c = Make();
    for (std::int64_t seq = 100; seq <= head; ++seq) {
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
        EXPECT_EQ(c.WindowInFlight(), 0u);
    }
    const auto& q = fake.Requests();
    EXPECT_GE(q.back().started_us - q.front().started_us, 3 * kS) << "31 requests at 10/s span at least 3 s";
}

TEST(R2z2WindowBudget, WithTheRateLimitOffTheSharedPauseIsReadAtMostEveryPauseCheck) {
    ManualClock clock;
    FakeHttpClient fake(clock);
    CountingBudget budget(clock);
    R2z2Options opts;
    opts.base_url = "http://r2z2.test";
    opts.rate_limit = 0;
    opts.pause_check = std::chrono::milliseconds(1000);
    fake.SetHandler([](const http::HttpRequest&) { return FakeHttpClient::Reply(200, "{}", {}, 1000); });
    R2z2Client c(opts, fake, budget, clock);
    const std::int64_t t0 = clock.NowUs();
    for (std::int64_t seq = 1; seq <= 500; ++seq)
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
    const std::int64_t spent_s = (clock.NowUs() - t0) / kS + 1;
    EXPECT_LE(budget.round_trips, spent_s + 1) << "not one per request";
    // Another process's 429 pauses the key: seen within pause_check, then waited out.
    const std::int64_t paused_at = clock.NowUs();
    budget.inner.Observe("r2z2", {std::nullopt, 0, 0, 0, 30 * kS});
    for (std::int64_t seq = 501; seq <= 3000; ++seq)
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
    std::int64_t sent_in_pause = 0;
    for (const auto& r : fake.Requests()) {
        if (r.started_us >= paused_at + 1000 * 1000 + 1000 && r.started_us < paused_at + 30 * kS) ++sent_in_pause;
    }
    EXPECT_EQ(sent_in_pause, 0) << "no request from pause_check after the pause until its end";
}

TEST_F(R2z2WindowTest, A429SeenWhileWalkingPausesTheNextRequestAtOnce) {
    head = 300;
    fake.Script("/120.json", FakeHttpClient::Reply(429, "{}", {{"Retry-After", "7"}}));
    auto c = Make();
    for (std::int64_t seq = 100; seq < 120; ++seq)
        ASSERT_EQ(c.FetchSequenceFileAhead(seq).status, R2z2Answer::Status::kOk);
    EXPECT_EQ(c.FetchSequenceFileAhead(120).status, R2z2Answer::Status::kRateLimited);
    const std::int64_t t = clock.NowUs();
    EXPECT_EQ(c.FetchSequenceFileAhead(120).status, R2z2Answer::Status::kOk);
    EXPECT_GE(fake.Requests().back().started_us, t + 6 * kS) << "the pause holds for this process at once";
    EXPECT_GE(budget.Load("r2z2").paused_until_us, t + 6 * kS) << "and is shared";
}

}  // namespace
