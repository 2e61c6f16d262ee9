#pragma once
// worker:zkillboard's test world (tests/support/worker_env.hpp over SQLite or PostgreSQL) and the
// scenarios both zkillboard_worker_test.cpp and zkillboard_worker_pgtest.cpp run.
#include <algorithm>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/esi_json.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/store_helpers.hpp"
#include "support/worker_env.hpp"
#include "worker/executor.hpp"
#include "worker/publisher.hpp"
#include "worker/zkillboard_worker.hpp"

namespace kr::worker::testing {

using store::testing::ReadSample;

inline constexpr Id kPilot = 90000001;
inline constexpr Id kKm1 = 115787551;  // a structure (no victim character), 498 attackers
inline constexpr Id kKm2 = 115797013;

inline std::string PagePath(int page, Id character = kPilot) {
    return "/characterID/" + std::to_string(character) + "/page/" + std::to_string(page) + "/";
}
inline std::string EsiKillmailPath(Id id) {
    return "/killmails/" + std::to_string(id) + "/hash" + std::to_string(id) + "/";
}
inline std::string Entry(Id id, double total) {
    return "{\"killmail_id\":" + std::to_string(id) + ",\"zkb\":{\"hash\":\"hash" + std::to_string(id) +
           "\",\"totalValue\":" + std::to_string(total) + ",\"destroyedValue\":1.5,\"droppedValue\":2.5}}";
}
inline Killmail Sample(Id id) {
    return esi_json::ParseKillmail(ReadSample("killmail_" + std::to_string(id) + ".json"), "hash" + std::to_string(id));
}

/// The queue a worker publishes through, over the real one: after `passes` publishes, Publish
/// fails the next `failures` times — with kr::FatalError when `kill` (the process dies there:
/// nothing after it runs), else with a TransientError (the broker did not confirm).
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
inline Referenced TakeEntityIds(kr::test::WorkerEnv& env) {
    Referenced out;
    for (const auto& k : EntityKinds()) {
        out[k.kind] = env.TakeIds(k.queue);
        std::sort(out[k.kind].begin(), out[k.kind].end());
    }
    return out;
}

class ZkillboardHarness {
public:
    /// Over `database_url` (a temp SQLite file when empty), the first page of kPilot's sync queued.
    explicit ZkillboardHarness(const std::string& database_url = {}) : env(database_url) {
        queue::ZkillboardJob job;
        job.character_id = kPilot;
        job.character_name = "Some Pilot";
        job.queued_at = env.NowIso();
        env.Publish(queue::kZkillboardCharacter, {queue::BuildZkillboardJob(job)}, 5);
    }
    std::unique_ptr<ZkillboardWorker> Make(Executor<store::Store>* committer = nullptr, Settler* settler = nullptr) {
        return MakeWith(
            committer ? std::vector<Executor<store::Store>*>{committer} : std::vector<Executor<store::Store>*>{},
            settler);
    }
    std::unique_ptr<ZkillboardWorker> MakeWith(std::vector<Executor<store::Store>*> committers,
                                               Settler* settler = nullptr) {
        return std::make_unique<ZkillboardWorker>(ZkillboardWorkerOptions{}, env.Store(), env.Rt().Esi(),
                                                  env.Rt().Zkb(), settler ? *settler : env.Settler(), env.Clock(),
                                                  std::move(committers));
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
    void ExpectAFailedPublishIsPublishedByTheRetryOfThePage(int passes, Executor<store::Store>* committer = nullptr) {
        ScriptPage(1, "[" + Entry(kKm2, 2000.5) + "]");
        ScriptKillmail(kKm2);
        FailingPublishQueue flaky(env.Rt().Queue());
        WorkerCounters counters;
        Settler settler(flaky, kr::test::WorkerEnv::ImmediateRetries(), counters);
        auto w = Make(committer, &settler);
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

    /// A committer over a connection of its own (PostgreSQL's configuration; SQLite works too).
    std::unique_ptr<Executor<store::Store>> MakeCommitter() {
        return std::make_unique<Executor<store::Store>>(
            store::OpenStore(env.Rt().Shared().Cfg().database_url, env.Clock()));
    }

    // ---- scenarios run on both backends ------------------------------------------------------

    /// A kill at the first publish after the page's commit; a worker started afterwards publishes
    /// exactly the referenced ids the database lacks, and the next page, once.
    void ExpectAKillAfterTheCommitLosesNoEnrichment(Executor<store::Store>* committer);
    /// A page with `refused` (the database refuses it for good) and `kept`: `kept` is stored and
    /// enriched, the chain goes on, the page is dead-lettered naming `refused`.
    void ExpectARefusedKillmailIsIsolated(Id refused, Id kept, Executor<store::Store>* committer);
    /// Two copies of a page stored at the same time on the committer: one next page.
    void ExpectTwoCopiesOfAPagePublishOneNextPage(Executor<store::Store>& committer);
    /// Two characters' pages stored side by side on two committers (the first one held back
    /// until the second is stored): every killmail stored and derived once, both chains go on.
    void ExpectTwoCharactersPagesCommitSideBySide(Executor<store::Store>& a, Executor<store::Store>& b);

    kr::test::WorkerEnv env;
};

inline void ZkillboardHarness::ExpectAKillAfterTheCommitLosesNoEnrichment(Executor<store::Store>* committer) {
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
    auto w = Make(committer, &settler);
    dying.failures = 1;
    dying.kill = true;
    auto ds = Poll();
    ASSERT_EQ(ds.size(), 1u);
    EXPECT_THROW(
        {
            w->Admit(ds);
            while (w->Held() > 0) w->Pump(std::chrono::milliseconds(5));  // the committer's page
        },
        FatalError);
    w.reset();
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);  // committed
    for (const auto& k : EntityKinds()) EXPECT_EQ(env.Stats(k.queue).ready, 0) << k.queue;
    env.Rt().Queue().Release(ds[0]);  // the dead process's lease ends: the page is redelivered

    // A new worker starts: it publishes exactly what the page referenced and the database lacks,
    // and the next page the dead one had not published.
    auto again = Make(committer);
    auto published = TakeEntityIds(env);
    for (const auto& k : EntityKinds()) {
        std::vector<Id> expected;
        for (Id id : referenced[k.kind]) {
            const bool known = (k.kind == EntityKind::kCorporation && id == kQueuedCorp) ||
                               (k.kind == EntityKind::kType && id == kGoneType);
            if (!known) expected.push_back(id);
        }
        EXPECT_EQ(published[k.kind], expected) << k.queue;
        EXPECT_EQ(published[k.kind].empty(), !kr::test::KillmailsReferTo(k.kind)) << k.queue;
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

inline void ZkillboardHarness::ExpectARefusedKillmailIsIsolated(Id refused, Id kept,
                                                                Executor<store::Store>* committer) {
    kr::test::RefuseKillmail(env.Conn(), refused);
    ScriptPage(1, "[" + Entry(kKm1, 1.0) + "," + Entry(kKm2, 2.0) + "]");
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    ScriptPage(2, "[]");
    auto w = Make(committer);
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}), (std::unordered_set<Id>{kept}));
    EXPECT_EQ(w->KillmailsStored(), 1);
    EXPECT_EQ(env.Requests(PagePath(2)), 1u);  // the chain went on
    EXPECT_EQ(c.dead, 1);
    auto dead = env.Dead(queue::kZkillboardCharacter);
    ASSERT_EQ(dead.size(), 1u);  // the page, noting the refused killmail
    EXPECT_EQ(dead[0].reason, "killmail_unavailable");
    EXPECT_NE(dead[0].last_error.find(std::to_string(refused) + " (refused"), std::string::npos) << dead[0].last_error;
    // What the stored killmail references is queued; what only the refused one does is not.
    EXPECT_EQ(TakeEntityIds(env).values, ReferencedBy({Sample(kept)}).values);
}

inline void ZkillboardHarness::ExpectTwoCopiesOfAPagePublishOneNextPage(Executor<store::Store>& committer) {
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

inline void ZkillboardHarness::ExpectTwoCharactersPagesCommitSideBySide(Executor<store::Store>& a,
                                                                        Executor<store::Store>& b) {
    constexpr Id kPilot2 = 90000002;
    ScriptPage(1, "[" + Entry(kKm1, 1.0) + "]");
    ScriptPage(2, "[]");
    env.Http().Script(PagePath(1, kPilot2), http::FakeHttpClient::Reply(200, "[" + Entry(kKm2, 2.0) + "]"));
    env.Http().Script(PagePath(2, kPilot2), http::FakeHttpClient::Reply(200, "[]"));
    ScriptKillmail(kKm1);
    ScriptKillmail(kKm2);
    queue::ZkillboardJob job;
    job.character_id = kPilot2;
    job.queued_at = env.NowIso();
    env.Publish(queue::kZkillboardCharacter, {queue::BuildZkillboardJob(job)}, 5);
    // Committer a is held back (a job before the worker's): the second page must go to b. (A
    // worker that waited for a instead would wait until the watchdog opens it, then hold one.)
    std::promise<void> gate;
    std::once_flag opened;
    const auto open = [&] { std::call_once(opened, [&] { gate.set_value(); }); };
    a.Submit([held = gate.get_future().share()](store::Store&) { held.wait(); });
    std::jthread watchdog([&](std::stop_token stop) {
        std::mutex m;
        std::condition_variable_any cv;
        std::unique_lock lock(m);
        cv.wait_for(lock, stop, std::chrono::seconds(10), [] { return false; });
        open();
    });
    auto w = MakeWith({&a, &b});
    auto ds = Poll(2);
    ASSERT_EQ(ds.size(), 2u);
    w->Admit(ds);
    EXPECT_EQ(w->Held(), 2u);  // both pages submitted, neither acked
    open();
    while (w->Held() > 0) w->Pump(std::chrono::milliseconds(5));
    EXPECT_EQ(env.Counters().processed, 2);
    EXPECT_EQ(env.Counters().dead + env.Counters().retried, 0);
    EXPECT_EQ(env.Store().ExistingKillmailIds({kKm1, kKm2}).size(), 2u);
    EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM killmail_filters").Int(0, 0), 2);
    auto jobs = TakeJobs();
    ASSERT_EQ(jobs.size(), 2u);  // each chain's next page
    std::vector<Id> next = {jobs[0].character_id, jobs[1].character_id};
    std::sort(next.begin(), next.end());
    EXPECT_EQ(next, (std::vector<Id>{kPilot, kPilot2}));
    EXPECT_EQ(jobs[0].page, 2);
    EXPECT_EQ(jobs[1].page, 2);
}

}  // namespace kr::worker::testing
