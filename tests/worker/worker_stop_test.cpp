// The blocking workers when their wait is cut short: no ESI callback outlives the frame that
// submitted it. On a temp SQLite database and its database queue, ESI and zKillboard scripted on
// a FakeHttpClient, a manual clock.
#include <gtest/gtest.h>

#include "core/errors.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/worker_env.hpp"
#include "worker/info_worker.hpp"
#include "worker/zkillboard_worker.hpp"

namespace kr::worker {
namespace {

using http::FakeHttpClient;
using store::testing::ReadSample;

constexpr Id kPilot = 90000001;
const std::vector<Id> kKillmails = {115787551, 115797013, 119689329};

std::string KillmailPath(Id id) { return "/killmails/" + std::to_string(id) + "/hash" + std::to_string(id) + "/"; }

class WorkerStopTest : public ::testing::Test {
protected:
    /// A sync job for kPilot on zkillboard_character_queue; its first page lists `kKillmails`.
    void QueuePage() {
        queue::ZkillboardJob job;
        job.character_id = kPilot;
        job.queued_at = env.NowIso();
        env.Publish(queue::kZkillboardCharacter, {queue::BuildZkillboardJob(job)});
        ScriptPage();
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

    kr::test::WorkerEnv env;
};

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
