// ZkillboardWorker (worker:zkillboard) on a temp SQLite database and its database queue, with
// zKillboard and ESI scripted and a manual clock: one message = one page of a character's history.
#include "worker/zkillboard_worker.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/esi_json.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/worker_env.hpp"
#include "worker/executor.hpp"
#include "worker/publisher.hpp"

namespace kr::worker {
namespace {

using store::testing::ReadSample;

constexpr Id kPilot = 90000001;
constexpr Id kKm1 = 115787551;  // a structure (no victim character), 498 attackers
constexpr Id kKm2 = 115797013;

std::string PagePath(int page) { return "/characterID/90000001/page/" + std::to_string(page) + "/"; }
std::string EsiKillmailPath(Id id) { return "/killmails/" + std::to_string(id) + "/hash" + std::to_string(id) + "/"; }
std::string Entry(Id id, double total) {
    return "{\"killmail_id\":" + std::to_string(id) + ",\"zkb\":{\"hash\":\"hash" + std::to_string(id) +
           "\",\"totalValue\":" + std::to_string(total) + ",\"destroyedValue\":1.5,\"droppedValue\":2.5}}";
}
Killmail Sample(Id id) {
    return esi_json::ParseKillmail(ReadSample("killmail_" + std::to_string(id) + ".json"), "hash" + std::to_string(id));
}

class ZkillboardWorkerTest : public ::testing::Test {
protected:
    ZkillboardWorkerTest() {
        queue::ZkillboardJob job;
        job.character_id = kPilot;
        job.character_name = "Some Pilot";
        job.queued_at = env.NowIso();
        env.Publish(queue::kZkillboardCharacter, {queue::BuildZkillboardJob(job)}, 5);
    }
    std::unique_ptr<ZkillboardWorker> Make(Executor<store::Store>* committer = nullptr) {
        return std::make_unique<ZkillboardWorker>(ZkillboardWorkerOptions{}, env.Store(), env.Rt().Esi(),
                                                  env.Rt().Zkb(), env.Settler(), env.Clock(), committer);
    }
    /// One delivery through Admit, as the consume loop hands it over.
    void ProcessOnePage(ZkillboardWorker& w) {
        auto& q = env.Rt().Queue();
        q.Consume(queue::kZkillboardCharacter, 1);
        auto ds = q.Poll(std::chrono::seconds(1), 1);
        ASSERT_EQ(ds.size(), 1u);
        w.Admit(std::move(ds));
        while (w.Held() > 0) w.Pump(std::chrono::milliseconds(5));
    }
    void ScriptPage(int page, const std::string& body) {
        env.Http().Script(PagePath(page), http::FakeHttpClient::Reply(200, body));
    }
    void ScriptKillmail(Id id) {
        env.EsiOk(EsiKillmailPath(id), ReadSample("killmail_" + std::to_string(id) + ".json"));
    }

    kr::test::WorkerEnv env;
};

TEST_F(ZkillboardWorkerTest, APageStoresItsKillmailsQueuesWhatTheyReferenceAndPublishesTheNextPage) {
    ScriptPage(1, "[" + Entry(kKm1, 1000.25) + "," + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    auto w = Make();
    ProcessOnePage(*w);

    EXPECT_EQ(env.Requests(PagePath(1)), 1u);
    EXPECT_EQ(env.Requests(EsiKillmailPath(kKm1)), 1u);
    EXPECT_EQ(env.Requests(EsiKillmailPath(kKm2)), 1u);
    EXPECT_EQ(w->KillmailsStored(), 2);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);
    auto r = env.Conn().Exec(
        "SELECT killmail_hash, total_value, destroyed_value, dropped_value, attacker_count "
        "FROM killmails WHERE killmail_id = $1",
        {kKm2});
    ASSERT_EQ(r.Rows(), 1u);
    EXPECT_EQ(r.Text(0, 0), "hash115797013");
    EXPECT_DOUBLE_EQ(r.Double(0, 1), 2000.5);  // zKillboard's values
    EXPECT_DOUBLE_EQ(r.Double(0, 2), 1.5);
    EXPECT_DOUBLE_EQ(r.Double(0, 3), 2.5);
    EXPECT_EQ(r.Int(0, 4), 34);

    // Everything the killmails reference went to the info queues (the database holds none of it).
    const auto referenced = ReferencedBy({Sample(kKm1), Sample(kKm2)});
    for (const auto& k : EntityKinds()) {
        auto messages = env.Take(k.queue);
        std::vector<Id> ids;
        for (const auto& d : messages) {
            auto m = queue::ParseEntityMessage(d.body);
            ids.push_back(m.entity_id);
            EXPECT_EQ(m.source, "zkillboard_sync");
            EXPECT_EQ(d.priority, 5);
        }
        std::sort(ids.begin(), ids.end());
        EXPECT_EQ(ids, referenced[k.kind]) << k.queue;
        EXPECT_FALSE(ids.empty()) << k.queue;
    }
    // the victim of kKm2, its corporation, alliance and ship among them
    EXPECT_TRUE(std::binary_search(referenced[EntityKind::kCharacter].begin(), referenced[EntityKind::kCharacter].end(),
                                   2121576852));
    EXPECT_TRUE(std::binary_search(referenced[EntityKind::kCorporation].begin(),
                                   referenced[EntityKind::kCorporation].end(), 98633922));
    EXPECT_TRUE(std::binary_search(referenced[EntityKind::kType].begin(), referenced[EntityKind::kType].end(), 11987));

    // The checkpoint: the next page, same character and priority; this page acked.
    auto next = env.Take(queue::kZkillboardCharacter);
    ASSERT_EQ(next.size(), 1u);
    auto job = queue::ParseZkillboardJob(next[0].body);
    EXPECT_EQ(job.character_id, kPilot);
    EXPECT_EQ(job.character_name, "Some Pilot");
    EXPECT_EQ(job.page, 2);
    EXPECT_EQ(job.queued_at, env.NowIso());
    EXPECT_EQ(next[0].priority, 5);
}

TEST_F(ZkillboardWorkerTest, KillmailsAlreadyStoredAreNotFetchedAgain) {
    ASSERT_EQ(env.Store().StoreKillmails({Sample(kKm1)}).inserted, 1u);
    ScriptPage(1, "[" + Entry(kKm1, 1000.25) + "," + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm2);
    auto w = Make();
    ProcessOnePage(*w);
    EXPECT_EQ(env.Requests("/killmails/115787551/"), 0u);
    EXPECT_EQ(env.Requests(EsiKillmailPath(kKm2)), 1u);
    EXPECT_EQ(w->KillmailsStored(), 1);
    EXPECT_EQ(env.Counters().skipped, 1);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm2}).size(), 1u);
}

TEST_F(ZkillboardWorkerTest, TheChainWalksPagesUntilAnEmptyOne) {
    ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm2);
    ScriptPage(2, "[]");
    auto w = Make();
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Requests(PagePath(1)), 1u);
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);
    EXPECT_EQ(env.Requests(PagePath(3)), 0u);  // the empty page ended the chain
    EXPECT_EQ(c.processed, 2);
    EXPECT_EQ(c.dead + c.retried, 0);
    EXPECT_EQ(env.Stats(queue::kZkillboardCharacter).ready, 0);
    EXPECT_TRUE(env.Take(queue::kZkillboardCharacter).empty());
    EXPECT_EQ(w->KillmailsStored(), 1);
}

TEST_F(ZkillboardWorkerTest, AnEmptyFirstPageStoresAndPublishesNothing) {
    ScriptPage(1, "[]");
    auto w = Make();
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Http().Requests().size(), 1u);  // the page only, no ESI
    EXPECT_EQ(c.processed, 1);
    EXPECT_EQ(c.published, 0);
    EXPECT_TRUE(env.Take(queue::kZkillboardCharacter).empty());
    EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM killmails").Int(0, 0), 0);
}

TEST_F(ZkillboardWorkerTest, AKillmailEsiCannotServeDeadLettersThePageAfterStoringTheRest) {
    ScriptPage(1, "[" + Entry(kKm1, 1.0) + "," + Entry(kKm2, 2.0) + "]");
    env.EsiStatus(EsiKillmailPath(kKm1), 422);
    ScriptKillmail(kKm2);
    ScriptPage(2, "[]");
    auto w = Make();
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}), (std::unordered_set<Id>{kKm2}));
    EXPECT_EQ(c.dead, 1);
    auto dead = env.Dead(queue::kZkillboardCharacter);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].reason, "killmail_unavailable");
    EXPECT_EQ(queue::ParseZkillboardJob(dead[0].body).page.value_or(1), 1);
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);  // the next page was published before the dead letter
}

TEST_F(ZkillboardWorkerTest, StoresOnACommitterWhenGivenOne) {
    Executor<store::Store> committer(store::OpenStore(env.Rt().Shared().Cfg().database_url, env.Clock()));
    ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm2);
    ScriptPage(2, "[" + Entry(kKm1, 1000.25) + "]");
    ScriptKillmail(kKm1);
    ScriptPage(3, "[]");
    auto w = Make(&committer);
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(c.processed, 3);
    EXPECT_EQ(w->KillmailsStored(), 2);
    EXPECT_FALSE(committer.Busy());
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);
    EXPECT_FALSE(env.TakeIds("esi_character_info_queue").empty());
}

}  // namespace
}  // namespace kr::worker
