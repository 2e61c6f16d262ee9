// LiveWorker over a scripted R2Z2 (FakeHttpClient), a temp SQLite store + database queue and a
// manual clock: the start, one transaction per sequence, 404 at the head, sequence_updated, a
// feed held by another process, a failure that keeps the cursor where it is.
#include "worker/live_worker.hpp"

#include <algorithm>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/errors.hpp"
#include "store/samples.hpp"
#include "support/worker_env.hpp"

namespace kr::test {
namespace {

using nlohmann::json;
using Step = worker::LiveWorker::Step;

constexpr const char* kR2z2 = "http://r2z2.test";

/// The sample R2Z2 file (killmail 134265477) as sequence `seq`, with `total` as its value.
std::string File(std::int64_t seq, double total = 86180108.73, std::optional<std::int64_t> updates = {}) {
    json j = json::parse(store::testing::ReadSample("zkill_r2z2_ephemeral_134265477.json"));
    j["sequence_id"] = seq;
    j["zkb"]["totalValue"] = total;
    if (updates) j["sequence_updated"] = *updates;
    return j.dump();
}

class LiveWorkerTest : public ::testing::Test {
protected:
    LiveWorkerTest() {
        esi::R2z2Options o;
        o.base_url = kR2z2;
        o.rate_limit = 0;
        r2z2_ = std::make_unique<esi::R2z2Client>(o, env_.Http(), env_.Rt().Shared().Budget(), env_.Clock());
    }
    std::unique_ptr<worker::LiveWorker> Make(worker::LiveWorkerOptions o = {}) {
        if (o.holder.empty()) o.holder = "test:1";
        return std::make_unique<worker::LiveWorker>(o, env_.Store(), env_.Rt().Queue(), *r2z2_, env_.Clock());
    }
    std::optional<std::int64_t> Cursor() {
        auto c = env_.Store().LoadLiveCursor("r2z2");
        return c ? c->sequence : std::nullopt;
    }
    WorkerEnv env_;
    std::unique_ptr<esi::R2z2Client> r2z2_;
};

TEST_F(LiveWorkerTest, StartsAtSequenceJsonStoresEachKillWithItsStepAndWaitsAtTheHead) {
    env_.Http().Script("/ephemeral/sequence.json", http::FakeHttpClient::Reply(200, R"({"sequence": 500})"));
    env_.Http().Script("/ephemeral/500.json", http::FakeHttpClient::Reply(200, File(500)));
    env_.Http().Script("/ephemeral/501.json", http::FakeHttpClient::Reply(404, "Not found"));  // ends the batch
    env_.Http().Script("/ephemeral/501.json", http::FakeHttpClient::Reply(404, "Not found"));
    // The first 404 of the process: is 501 expired? sequence.json says it is not uploaded yet.
    env_.Http().Script("/ephemeral/sequence.json", http::FakeHttpClient::Reply(200, R"({"sequence": 500})"));
    auto w = Make();
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(Cursor(), 501);
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM killmails WHERE killmail_id = 134265477").Int(0, 0), 1);
    EXPECT_DOUBLE_EQ(env_.Conn().Exec("SELECT total_value FROM killmails").Double(0, 0), 86180108.73);
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM attackers").Int(0, 0), 1);
    // The ids it references are queued for the info workers (the attacker, the victim, …).
    const auto characters = env_.TakeIds(KindInfo(EntityKind::kCharacter).queue);
    EXPECT_NE(std::find(characters.begin(), characters.end(), 96424385), characters.end());
    EXPECT_NE(std::find(characters.begin(), characters.end(), 2121652582), characters.end());
    EXPECT_TRUE(env_.Store().ListEntityOutbox(EntityKind::kCharacter, 0, 10).empty()) << "published: cleared";

    const std::int64_t t0 = env_.Clock().NowUs();
    EXPECT_EQ(w->Poll(), Step::kAtHead);
    EXPECT_GE(env_.Clock().NowUs() - t0, 6'000'000) << "R2Z2 asks for ≥ 6 s at the head";
    EXPECT_EQ(Cursor(), 501);
    EXPECT_EQ(env_.Http().CountRequests("/ephemeral/501.json"), 2u);
    EXPECT_EQ(r2z2_->RequestsSent(), 5);  // sequence.json, 500, 501 (the batch's end), 6 s, 501, sequence.json
}

TEST_F(LiveWorkerTest, CatchingUpStoresSeveralSequencesInOneStep) {
    // 10, 11, 12 there, 13 not yet: one transaction stores them and moves the cursor over all three.
    for (int n = 10; n <= 12; ++n) {
        env_.Http().Script("/ephemeral/" + std::to_string(n) + ".json", http::FakeHttpClient::Reply(200, File(n)));
    }
    env_.Http().Script("/ephemeral/13.json", http::FakeHttpClient::Reply(404, "Not found"));
    worker::LiveWorkerOptions o;
    o.from = 10;
    auto w = Make(o);
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(Cursor(), 13);
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM killmails").Int(0, 0), 1);  // the sample, three times
    for (int n = 10; n <= 12; ++n)
        EXPECT_EQ(env_.Http().CountRequests("/ephemeral/" + std::to_string(n) + ".json"), 1u);
    // Catching up, the files after the one asked for are asked ahead: past the head, at most the window.
    EXPECT_GE(r2z2_->RequestsSent(), 4);
    EXPECT_LE(r2z2_->RequestsSent(), 3 + static_cast<std::int64_t>(r2z2_->Options().window));
}

TEST_F(LiveWorkerTest, AnExpiredCursorIsDetectedAndTheFeedGoesOnAtTheOldestSequenceServed) {
    // The cursor's file 404s while sequence.json is ahead of it: expired. Bisection between them
    // finds the oldest file served (12); the cursor moves there.
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(404, "Not found"));
    env_.Http().Script("/ephemeral/sequence.json", http::FakeHttpClient::Reply(200, R"({"sequence": 13})"));
    env_.Http().Script("/ephemeral/13.json", http::FakeHttpClient::Reply(200, File(13)));
    env_.Http().Script("/ephemeral/11.json", http::FakeHttpClient::Reply(404, "Not found"));
    env_.Http().Script("/ephemeral/12.json", http::FakeHttpClient::Reply(200, File(12)));
    worker::LiveWorkerOptions o;
    o.from = 10;
    auto w = Make(o);
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(Cursor(), 12);
    EXPECT_EQ(env_.Http().CountRequests("/ephemeral/13.json"), 1u);
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM killmails").Int(0, 0), 0);  // nothing skipped over silently
}

TEST_F(LiveWorkerTest, AnUpdatedSequenceIsFetchedAgainAndItsValuesRewritten) {
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(200, File(10)));
    env_.Http().Script("/ephemeral/11.json", http::FakeHttpClient::Reply(200, File(11, 99.5, 10)));
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(200, File(10, 99.5)));
    worker::LiveWorkerOptions o;
    o.from = 10;
    o.batch = 1;  // one sequence per step
    auto w = Make(o);
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(Cursor(), 12);
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM killmails").Int(0, 0), 1) << "not written twice";
    EXPECT_DOUBLE_EQ(env_.Conn().Exec("SELECT total_value FROM killmails").Double(0, 0), 99.5);
    EXPECT_EQ(env_.Http().CountRequests("/ephemeral/10.json"), 2u);
}

TEST_F(LiveWorkerTest, AFeedHeldByAnotherProcessIsNotPolled) {
    env_.Store().HoldLiveCursor("r2z2", "elsewhere:1", 60'000);
    auto w = Make();
    EXPECT_EQ(w->Poll(), Step::kHeldElsewhere);
    EXPECT_TRUE(env_.Http().Requests().empty());
    EXPECT_EQ(env_.Store().LoadLiveCursor("r2z2")->holder, "elsewhere:1");
}

TEST_F(LiveWorkerTest, AFailureKeepsTheCursorWhereItIs) {
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(503, "busy"));
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(200, "<html>oops</html>"));
    env_.Http().Script("/ephemeral/10.json", http::FakeHttpClient::Reply(200, File(10)));
    worker::LiveWorkerOptions o;
    o.from = 10;
    o.batch = 1;  // one sequence per step
    auto w = Make(o);
    EXPECT_THROW(w->Poll(), TransientError);
    EXPECT_EQ(Cursor(), 10);
    EXPECT_THROW(w->Poll(), TransientError);
    EXPECT_EQ(Cursor(), 10);
    EXPECT_EQ(w->Poll(), Step::kStored);
    EXPECT_EQ(Cursor(), 11);
}

TEST_F(LiveWorkerTest, WithACommitterFullBatchesCommitWhileTheNextIsFetchedAndTheCursorFollows) {
    // 10..14 there, 15 not yet; batches of 2: 10-11 and 12-13 commit on the committer while the
    // next batch is fetched; 14 ends at the head, so it is committed before Poll returns.
    for (int n = 10; n <= 14; ++n) {
        env_.Http().Script("/ephemeral/" + std::to_string(n) + ".json", http::FakeHttpClient::Reply(200, File(n)));
    }
    env_.Http().Script("/ephemeral/15.json", http::FakeHttpClient::Reply(404, "Not found"));
    env_.Http().Script("/ephemeral/sequence.json", http::FakeHttpClient::Reply(200, R"({"sequence": 14})"));
    worker::Executor<store::Store> committer(store::OpenStore(env_.Url(), env_.Clock()));
    worker::LiveWorkerOptions o;
    o.from = 10;
    o.batch = 2;
    o.holder = "test:1";
    worker::LiveWorker w(o, env_.Store(), env_.Rt().Queue(), *r2z2_, env_.Clock(), push::NoKillmailEvents::Instance(),
                         nullptr, &committer);
    EXPECT_EQ(w.Poll(), Step::kStored);  // 10-11 handed over
    EXPECT_EQ(w.Poll(), Step::kStored);  // 12-13 fetched, 10-11 collected, 12-13 handed over
    EXPECT_GE(Cursor().value_or(0), 12);
    EXPECT_EQ(w.Poll(), Step::kStored);  // 14, then the head: everything committed
    EXPECT_EQ(Cursor(), 15);
    EXPECT_EQ(w.KillmailsStored(), 1);  // the sample, five times
    EXPECT_EQ(env_.Conn().Exec("SELECT count(*) FROM killmails").Int(0, 0), 1);
    for (int n = 10; n <= 14; ++n)
        EXPECT_EQ(env_.Http().CountRequests("/ephemeral/" + std::to_string(n) + ".json"), 1u);
}

}  // namespace
}  // namespace kr::test
