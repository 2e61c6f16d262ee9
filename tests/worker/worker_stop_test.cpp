// The blocking workers when their wait is cut short: a stop request in any wait (a budget slot, an
// ESI error-limit pause, a Retry-After, a zKillboard pause, a hung answer) ends it at once and hands
// the delivery back with its attempt unchanged; no ESI callback outlives the frame that submitted
// it. In the production consume loop on a temp SQLite database and its database queue, ESI and
// zKillboard scripted on a FakeHttpClient, a manual clock.
#include <chrono>
#include <stop_token>

#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/worker_env.hpp"
#include "worker/alliance_corporations_worker.hpp"
#include "worker/info_worker.hpp"
#include "worker/zkillboard_worker.hpp"

namespace kr::worker {
namespace {

using http::FakeHttpClient;
using store::testing::ReadSample;

constexpr std::int64_t kS = 1'000'000;
constexpr Id kPilot = 90000001;
constexpr Id kBrave = 99003214;
const std::vector<Id> kKillmails = {115787551, 115797013, 119689329};

std::string KillmailPath(Id id) { return "/killmails/" + std::to_string(id) + "/hash" + std::to_string(id) + "/"; }

class WorkerStopTest : public ::testing::Test {
protected:
    explicit WorkerStopTest(const std::function<void(config::Config&)>& configure = nullptr) : env({}, configure) {}

    /// A sync job for kPilot on zkillboard_character_queue; its first page lists `kKillmails`.
    void QueuePage() {
        PublishJob();
        ScriptPage();
    }
    void PublishJob() {
        queue::ZkillboardJob job;
        job.character_id = kPilot;
        job.queued_at = env.NowIso();
        env.Publish(queue::kZkillboardCharacter, {queue::BuildZkillboardJob(job)});
    }
    void ScriptPage() {
        std::string list;
        for (Id id : kKillmails) {
            list += std::string(list.empty() ? "[" : ",") + "{\"killmail_id\":" + std::to_string(id) +
                    ",\"zkb\":{\"hash\":\"hash" + std::to_string(id) + "\",\"totalValue\":1}}";
        }
        env.Http().Script("/characterID/90000001/page/1/", FakeHttpClient::Reply(200, list + "]"));
    }
    void ScriptKillmail(Id id, std::int64_t latency_us = 1000) {
        env.Http().Script(
            KillmailPath(id),
            FakeHttpClient::Reply(200, ReadSample("killmail_" + std::to_string(id) + ".json"), {}, latency_us));
    }
    ZkillboardWorker MakeZkillboard() {
        return ZkillboardWorker({}, env.Store(), env.Rt().Esi(), env.Rt().Zkb(), env.Settler(), env.Clock());
    }
    /// The next delivery of `queue`, through Admit as the consume loop hands it over.
    void AdmitOne(Worker& w, const std::string& queue_name) {
        auto& q = env.Rt().Queue();
        q.Consume(queue_name, 1);
        auto ds = q.Poll(std::chrono::seconds(1), 1);
        ASSERT_EQ(ds.size(), 1u);
        w.Admit(std::move(ds));
    }

    /// Runs `w` in the consume loop with a stop requested `stop_after_us` (clock time) into it,
    /// and checks that the loop returned promptly and handed the one delivery of `queue_name` back
    /// as it was: not retried, not dead-lettered, its attempt unchanged.
    void ExpectStopHandsBack(Worker& w, const std::string& queue_name, std::int64_t stop_after_us) {
        std::stop_source stop;
        const std::int64_t stop_at = env.Clock().NowUs() + stop_after_us;
        env.Http().At(stop_at, [&stop] { stop.request_stop(); });
        const auto wall = std::chrono::steady_clock::now();
        auto& c = env.RunUntilIdle(w, stop.get_token());
        EXPECT_TRUE(stop.stop_requested()) << "the work ended before the stop: nothing was waiting";
        EXPECT_LE(env.Clock().NowUs() - stop_at, 5 * kS);
        EXPECT_LT(std::chrono::steady_clock::now() - wall, std::chrono::seconds(5));
        EXPECT_EQ(c.retried, 0);
        EXPECT_EQ(c.dead, 0);
        EXPECT_EQ(c.processed, 0);
        EXPECT_EQ(env.Rt().Esi().Pending(), 0u);
        auto stats = env.Stats(queue_name);
        EXPECT_EQ(stats.retrying, 0);
        EXPECT_EQ(stats.dead, 0);
        auto back = env.Take(queue_name);
        ASSERT_EQ(back.size(), 1u);
        EXPECT_EQ(back[0].attempt, 0);
    }

    kr::test::WorkerEnv env;
};

class WorkerStopWithBudgetTest : public WorkerStopTest {
protected:
    WorkerStopWithBudgetTest() : WorkerStopTest([](config::Config& cfg) { cfg.esi_rate_limit = 1; }) {}
};

TEST_F(WorkerStopWithBudgetTest, AStopWhileAPageWaitsForABudgetSlotHandsItBack) {
    QueuePage();
    env.Rt().Shared().Budget().Reserve("esi", kS, 300);  // other processes took the next 5 minutes
    auto w = MakeZkillboard();
    ExpectStopHandsBack(w, queue::kZkillboardCharacter, 5 * kS);
    EXPECT_EQ(env.Requests("/killmails/" + std::to_string(kKillmails[0]) + "/"), 0u);
}

TEST_F(WorkerStopTest, AStopDuringAnErrorLimitPauseMidPageHandsThePageBack) {
    QueuePage();
    env.Http().Script(KillmailPath(kKillmails[0]),
                      FakeHttpClient::Reply(420, "{\"error\":\"limited\"}",
                                            {{"X-ESI-Error-Limit-Remain", "0"}, {"X-ESI-Error-Limit-Reset", "150"}}));
    ScriptKillmail(kKillmails[1]);
    ScriptKillmail(kKillmails[2]);
    auto w = MakeZkillboard();
    ExpectStopHandsBack(w, queue::kZkillboardCharacter, 5 * kS);
    EXPECT_EQ(env.Store().ExistingKillmailIds(kKillmails).size(), 0u);  // the page is fetched again later
}

TEST_F(WorkerStopTest, AStopDuringARetryAfterHandsTheAllianceBack) {
    env.PublishEntity(queue::kAllianceCorporations, kBrave);
    env.Http().Script("/alliances/99003214/corporations/",
                      FakeHttpClient::Reply(429, "{\"error\":\"too many\"}", {{"Retry-After", "30"}}));
    AllianceCorporationsWorker w(0, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
    ExpectStopHandsBack(w, queue::kAllianceCorporations, 5 * kS);
    EXPECT_EQ(env.Requests("/alliances/99003214/corporations/"), 1u);
}

TEST_F(WorkerStopTest, AStopDuringAZkillboardPauseHandsThePageBack) {
    PublishJob();
    env.Http().Script("/characterID/90000001/page/1/", FakeHttpClient::Reply(429, "", {{"Retry-After", "120"}}));
    auto w = MakeZkillboard();
    ExpectStopHandsBack(w, queue::kZkillboardCharacter, 5 * kS);
    EXPECT_EQ(env.Requests("/characterID/90000001/page/1/"), 1u);
}

TEST_F(WorkerStopTest, AStopWhileZkillboardHangsHandsThePageBack) {
    PublishJob();
    env.Http().Script("/characterID/90000001/page/1/", FakeHttpClient::Reply(200, "[]", {}, 600 * kS));
    auto w = MakeZkillboard();
    ExpectStopHandsBack(w, queue::kZkillboardCharacter, 2 * kS);
}

TEST_F(WorkerStopTest, AStopWhileAnEsiAnswerHangsHandsThePageBack) {
    QueuePage();
    ScriptKillmail(kKillmails[0]);
    ScriptKillmail(kKillmails[1], 600 * kS);
    ScriptKillmail(kKillmails[2]);
    auto w = MakeZkillboard();
    ExpectStopHandsBack(w, queue::kZkillboardCharacter, 2 * kS);
}

TEST_F(WorkerStopTest, AThrowInTheMiddleOfAPageLeavesNoCallbackBehind) {
    QueuePage();
    ScriptKillmail(kKillmails[0]);
    ScriptKillmail(kKillmails[1]);
    // Sending the third killmail's request throws while the first two are on the wire.
    env.Http().SetHandler([](const http::HttpRequest&) -> http::FakeReply { throw TransientError("injected"); });
    auto w = MakeZkillboard();
    AdmitOne(w, queue::kZkillboardCharacter);
    EXPECT_EQ(env.Counters().retried, 1);
    // The page's callbacks referred to its (gone) frame: none may still be waiting to run.
    EXPECT_EQ(env.Rt().Esi().Pending(), 0u);
    EXPECT_EQ(env.Rt().Esi().Drive(std::chrono::seconds(1)), 0);  // the two answers arrive: nobody runs

    // The retry fetches the page again and stores each killmail once.
    env.Http().SetHandler(nullptr);
    ScriptPage();
    for (Id id : kKillmails) ScriptKillmail(id);
    AdmitOne(w, queue::kZkillboardCharacter);
    EXPECT_EQ(w.KillmailsStored(), 3);
    EXPECT_EQ(env.Store().ExistingKillmailIds(kKillmails).size(), 3u);
    EXPECT_EQ(env.Rt().Esi().Pending(), 0u);
}

TEST_F(WorkerStopTest, AnInfoWorkersCallbacksNeverReachDeliveriesItHandedBack) {
    const char* const queue_name = "esi_alliance_info_queue";
    env.PublishEntity(queue_name, 99003214);
    env.Http().Script("/alliances/99003214/",
                      FakeHttpClient::Reply(200, ReadSample("esi_alliance_99003214.json"), {}, 5'000'000));
    InfoWorkerOptions o;
    o.kind = EntityKind::kAlliance;
    InfoWorker w(o, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
    AdmitOne(w, queue_name);
    w.Pump(std::chrono::milliseconds(1));  // sent
    ASSERT_EQ(w.Held(), 1u);
    w.ReleaseAll();  // the shutdown deadline
    EXPECT_EQ(w.Held(), 0u);
    EXPECT_EQ(env.Rt().Esi().Pending(), 0u);
    env.Rt().Esi().Drive(std::chrono::seconds(6));  // the answer arrives: it settles nothing twice
    EXPECT_EQ(w.Held(), 0u);
    EXPECT_EQ(env.Counters().processed, 0);
    EXPECT_EQ(env.Stats(queue_name).ready, 1);  // handed back
}

}  // namespace
}  // namespace kr::worker
