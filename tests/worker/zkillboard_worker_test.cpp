// ZkillboardWorker (worker:zkillboard) on a temp SQLite database and its database queue, with
// zKillboard and ESI scripted and a manual clock: one message = one page of a character's history.
#include "worker/zkillboard_worker.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/esi_json.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/store_helpers.hpp"
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

/// The queue a worker publishes through, over the real one: after `passes` publishes, Publish
/// fails the next `failures` times — with kr::FatalError when `kill` (the process dies there: nothing after it runs),
/// else with a TransientError (the broker did not confirm).
class FailingPublishQueue final : public queue::Queue {
public:
    explicit FailingPublishQueue(queue::Queue& q) : q_(q) {}
    int passes = 0;  ///< publishes that succeed before the failures
    int failures = 0;
    bool kill = false;

    void Declare(const std::string& queue) override { q_.Declare(queue); }
    void Publish(const std::string& queue, const std::vector<queue::OutMessage>& messages) override {
        if (passes > 0) {
            --passes;
        } else if (failures > 0) {
            --failures;
            if (kill) throw FatalError("killed before publishing to " + queue);
            throw TransientError("publish to " + queue + " not confirmed");
        }
        q_.Publish(queue, messages);
    }
    void Consume(const std::string& queue, int prefetch) override { q_.Consume(queue, prefetch); }
    std::vector<queue::Delivery> Poll(std::chrono::milliseconds timeout, std::size_t max) override {
        return q_.Poll(timeout, max);
    }
    void Ack(const queue::Delivery& d) override { q_.Ack(d); }
    void Retry(const queue::Delivery& d, std::chrono::milliseconds delay, const std::string& error) override {
        q_.Retry(d, delay, error);
    }
    void DeadLetter(const queue::Delivery& d, const std::string& reason, const std::string& error) override {
        q_.DeadLetter(d, reason, error);
    }
    void Release(const queue::Delivery& d) override { q_.Release(d); }
    void Cancel() override { q_.Cancel(); }
    queue::QueueStats Stats(const std::string& queue) override { return q_.Stats(queue); }
    std::vector<queue::DeadLetter> ListDead(const std::string& queue, std::size_t limit) override {
        return q_.ListDead(queue, limit);
    }
    std::size_t RetryDead(const std::string& queue) override { return q_.RetryDead(queue); }

private:
    queue::Queue& q_;
};

/// The entity ids on each info queue (taken off them), sorted.
Referenced TakeEntityIds(kr::test::WorkerEnv& env) {
    Referenced out;
    for (const auto& k : EntityKinds()) {
        out[k.kind] = env.TakeIds(k.queue);
        std::sort(out[k.kind].begin(), out[k.kind].end());
    }
    return out;
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
    std::unique_ptr<ZkillboardWorker> Make(Executor<store::Store>* committer = nullptr, Settler* settler = nullptr) {
        return std::make_unique<ZkillboardWorker>(ZkillboardWorkerOptions{}, env.Store(), env.Rt().Esi(),
                                                  env.Rt().Zkb(), settler ? *settler : env.Settler(), env.Clock(),
                                                  committer);
    }
    /// The next `n` deliveries of the zKillboard queue.
    std::vector<queue::Delivery> Poll(std::size_t n = 1) {
        auto& q = env.Rt().Queue();
        q.Consume(queue::kZkillboardCharacter, static_cast<int>(n));
        return q.Poll(std::chrono::seconds(1), n);
    }
    /// One delivery through Admit, as the consume loop hands it over.
    void ProcessOnePage(ZkillboardWorker& w) {
        auto ds = Poll();
        ASSERT_EQ(ds.size(), 1u);
        w.Admit(std::move(ds));
        while (w.Held() > 0) w.Pump(std::chrono::milliseconds(5));
    }
    /// The zKillboard jobs waiting (taken off the queue).
    std::vector<queue::ZkillboardJob> TakeJobs() {
        std::vector<queue::ZkillboardJob> jobs;
        for (const auto& d : env.Take(queue::kZkillboardCharacter)) jobs.push_back(queue::ParseZkillboardJob(d.body));
        return jobs;
    }
    /// A page whose killmail references every kind; its publishes fail after `passes` succeeded:
    /// the retry of the page publishes what is missing, each id and the next page exactly once.
    void ExpectAFailedPublishIsPublishedByTheRetryOfThePage(int passes) {
        ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
        ScriptKillmail(kKm2);
        FailingPublishQueue flaky(env.Rt().Queue());
        WorkerCounters counters;
        Settler settler(flaky, kr::test::WorkerEnv::ImmediateRetries(), counters);
        auto w = Make(nullptr, &settler);
        flaky.passes = passes;
        flaky.failures = 1;
        ProcessOnePage(*w);
        EXPECT_EQ(counters.retried, 1);
        ProcessOnePage(*w);  // the retry: publishes what the page recorded, then acks (it is stored)
        EXPECT_EQ(env.Requests(PagePath(1)), 1u);
        EXPECT_EQ(env.Requests(EsiKillmailPath(kKm2)), 1u);
        EXPECT_EQ(counters.dead, 0);
        EXPECT_EQ(TakeEntityIds(env).values, ReferencedBy({Sample(kKm2)}).values);
        auto jobs = TakeJobs();
        ASSERT_EQ(jobs.size(), 1u);
        EXPECT_EQ(jobs[0].page, 2);
        EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0), 0);
        EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM kr_zkb_sync WHERE next_job IS NOT NULL").Int(0, 0), 0);
    }
    /// Publishes `body` again, as a redelivery or `dead:retry` would hand it over.
    void Republish(const std::string& body) { env.Publish(queue::kZkillboardCharacter, {body}, 5); }
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

// ---- the enrichment is as durable as the killmails (kr_entity_outbox) ----------------------

TEST_F(ZkillboardWorkerTest, AKillRightAfterTheCommitLosesNoEnrichmentTheNextWorkerPublishesIt) {
    ScriptPage(1, "[" + Entry(kKm1, 1000.25) + "," + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    const auto referenced = ReferencedBy({Sample(kKm1), Sample(kKm2)});
    // Two referenced ids need no fetch: one queued already, one known to be gone.
    constexpr Id kQueuedCorp = 98633922;
    constexpr Id kGoneType = 11987;
    env.Store().MarkPending(EntityKind::kCorporation, {kQueuedCorp});
    auto gone = EntityCacheEntry(EntityKind::kType, kGoneType);
    gone.status = 404;
    gone.checked_at_ms = env.Clock().NowMs();
    gone.expires_at_ms = env.Clock().NowMs() + 24 * kr::test::kHourMs;
    env.Store().SaveHttpCache({gone});

    // The process dies at its first publish after the page's commit.
    FailingPublishQueue dying(env.Rt().Queue());
    WorkerCounters counters;
    Settler settler(dying, kr::test::WorkerEnv::ImmediateRetries(), counters);
    auto w = Make(nullptr, &settler);
    dying.failures = 1;
    dying.kill = true;
    auto ds = Poll();
    ASSERT_EQ(ds.size(), 1u);
    EXPECT_THROW(w->Admit(ds), FatalError);
    w.reset();
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);  // committed
    for (const auto& k : EntityKinds()) EXPECT_EQ(env.Stats(k.queue).ready, 0) << k.queue;
    env.Rt().Queue().Release(ds[0]);  // the dead process's lease ends: the page is redelivered

    // A new worker starts: it publishes exactly what the page referenced and the database lacks,
    // and the next page the dead one had not published.
    auto again = Make();
    auto published = TakeEntityIds(env);
    for (const auto& k : EntityKinds()) {
        std::vector<Id> expected;
        for (Id id : referenced[k.kind]) {
            const bool known = (k.kind == EntityKind::kCorporation && id == kQueuedCorp) ||
                               (k.kind == EntityKind::kType && id == kGoneType);
            if (!known) expected.push_back(id);
        }
        EXPECT_EQ(published[k.kind], expected) << k.queue;
        EXPECT_FALSE(published[k.kind].empty()) << k.queue;
    }
    EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM kr_entity_outbox").Int(0, 0), 0);  // cleared once published
    EXPECT_EQ(env.Stats(queue::kZkillboardCharacter).ready, 2);  // page 1 (redelivered) and page 2

    // The redelivered page is stale: acked without fetching; page 2 stays the only next page.
    ProcessOnePage(*again);
    EXPECT_EQ(env.Requests(PagePath(1)), 1u);
    EXPECT_EQ(env.Requests(EsiKillmailPath(kKm1)), 1u);
    auto jobs = TakeJobs();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].page, 2);
    for (const auto& k : EntityKinds()) EXPECT_EQ(env.Stats(k.queue).ready, 0) << k.queue;  // nothing twice
}

TEST_F(ZkillboardWorkerTest, AnUnconfirmedEntityPublishIsPublishedByTheRetryOfThePage) {
    ExpectAFailedPublishIsPublishedByTheRetryOfThePage(0);  // the first info queue's publish fails
}

TEST_F(ZkillboardWorkerTest, AnUnconfirmedNextPageIsPublishedByTheRetryOfThePage) {
    ExpectAFailedPublishIsPublishedByTheRetryOfThePage(kEntityKindCount);  // the next page's fails
}

// ---- a store failure isolates the killmail the database refuses ----------------------------

TEST_F(ZkillboardWorkerTest, AKillmailTheDatabaseRefusesIsIsolatedTheRestStoredAndTheChainGoesOn) {
    kr::test::RefuseKillmail(env.Conn(), kKm1);
    ScriptPage(1, "[" + Entry(kKm1, 1.0) + "," + Entry(kKm2, 2.0) + "]");
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    ScriptPage(2, "[]");
    auto w = Make();
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}), (std::unordered_set<Id>{kKm2}));
    EXPECT_EQ(w->KillmailsStored(), 1);
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);  // the chain went on
    EXPECT_EQ(c.dead, 1);
    auto dead = env.Dead(queue::kZkillboardCharacter);
    ASSERT_EQ(dead.size(), 1u);  // the page, noting the refused killmail
    EXPECT_EQ(dead[0].reason, "killmail_unavailable");
    EXPECT_NE(dead[0].last_error.find("115787551 (refused"), std::string::npos) << dead[0].last_error;
    // What the stored killmail references is queued; what only the refused one does is not.
    EXPECT_EQ(TakeEntityIds(env).values, ReferencedBy({Sample(kKm2)}).values);
}

TEST_F(ZkillboardWorkerTest, ARefusedKillmailIsIsolatedOnTheCommitterToo) {
    Executor<store::Store> committer(store::OpenStore(env.Rt().Shared().Cfg().database_url, env.Clock()));
    kr::test::RefuseKillmail(env.Conn(), kKm2);
    ScriptPage(1, "[" + Entry(kKm1, 1.0) + "," + Entry(kKm2, 2.0) + "]");
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    ScriptPage(2, "[]");
    auto w = Make(&committer);
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}), (std::unordered_set<Id>{kKm1}));
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);
    EXPECT_EQ(c.dead, 1);
    EXPECT_EQ(TakeEntityIds(env).values, ReferencedBy({Sample(kKm1)}).values);
}

// ---- one page chain per character ---------------------------------------------------------

TEST_F(ZkillboardWorkerTest, DuplicatesAndOldPagesAreAckedWithoutFetchingAndStartNoSecondChain) {
    ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
    ScriptKillmail(kKm2);
    ScriptPage(2, "[" + Entry(kKm1, 1000.25) + "]");
    ScriptKillmail(kKm1);
    auto w = Make();
    auto first = Poll();
    ASSERT_EQ(first.size(), 1u);
    const std::string page1 = first[0].body;
    w->Admit(first);
    auto jobs = env.Take(queue::kZkillboardCharacter);
    ASSERT_EQ(jobs.size(), 1u);
    const std::string page2 = jobs[0].body;
    const auto job2 = queue::ParseZkillboardJob(page2);
    EXPECT_EQ(job2.page, 2);
    EXPECT_EQ(job2.chain, queue::ParseZkillboardJob(page1).queued_at);  // the sync's key

    // The same first message again (a crash between publishing page 2 and the ack): no page 2 again.
    Republish(page1);
    ProcessOnePage(*w);
    EXPECT_EQ(env.Requests(PagePath(1)), 1u);
    EXPECT_TRUE(env.Take(queue::kZkillboardCharacter).empty());

    // Page 2 twice, then page 1 and page 2 again (dead:retry of old pages): one page 3, no fetch again.
    env.Clock().Advance(1'000'000);
    Republish(page2);
    Republish(page2);
    ProcessOnePage(*w);
    ProcessOnePage(*w);
    jobs = env.Take(queue::kZkillboardCharacter);
    ASSERT_EQ(jobs.size(), 1u);
    const auto job3 = queue::ParseZkillboardJob(jobs[0].body);
    EXPECT_EQ(job3.page, 3);
    EXPECT_EQ(job3.chain, job2.chain);
    Republish(page1);
    Republish(page2);
    ProcessOnePage(*w);
    ProcessOnePage(*w);
    EXPECT_EQ(env.Requests(PagePath(1)), 1u);
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);
    EXPECT_TRUE(env.Take(queue::kZkillboardCharacter).empty());
    EXPECT_EQ(env.Counters().dead + env.Counters().retried, 0);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);

    // A new sync (queue:character again) starts a new chain from page 1, and the old chain's page
    // 3 is stale from then on.
    env.Clock().Advance(60'000'000);
    queue::ZkillboardJob sync;
    sync.character_id = kPilot;
    sync.queued_at = env.NowIso();
    Republish(queue::BuildZkillboardJob(sync));
    Republish(jobs[0].body);  // the old chain's page 3
    ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
    ProcessOnePage(*w);
    ProcessOnePage(*w);
    EXPECT_EQ(env.Requests(PagePath(1)), 2u);
    EXPECT_EQ(env.Requests(PagePath(3)), 0u);
    auto next = TakeJobs();
    ASSERT_EQ(next.size(), 1u);
    EXPECT_EQ(next[0].page, 2);
    EXPECT_EQ(next[0].chain, sync.queued_at);
}

TEST_F(ZkillboardWorkerTest, TwoCopiesOfAPageStoredTogetherOnACommitterPublishOneNextPage) {
    Executor<store::Store> committer(store::OpenStore(env.Rt().Shared().Cfg().database_url, env.Clock()));
    ScriptPage(1, "[" + Entry(kKm1, 1000.25) + "]");
    ScriptKillmail(kKm1);
    ScriptPage(1, "[" + Entry(kKm1, 1000.25) + "]");
    auto w = Make(&committer);
    auto first = Poll();
    ASSERT_EQ(first.size(), 1u);
    Republish(first[0].body);
    auto second = Poll();
    ASSERT_EQ(second.size(), 1u);
    w->Admit({first[0], second[0]});
    while (w->Held() > 0) w->Pump(std::chrono::milliseconds(5));
    EXPECT_EQ(env.Counters().processed, 2);
    EXPECT_EQ(env.Counters().dead + env.Counters().retried, 0);
    auto jobs = TakeJobs();
    ASSERT_EQ(jobs.size(), 1u);
    EXPECT_EQ(jobs[0].page, 2);
}

}  // namespace
}  // namespace kr::worker
