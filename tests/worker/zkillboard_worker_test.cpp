// ZkillboardWorker (worker:zkillboard) on a temp SQLite database and its database queue, with
// zKillboard and ESI scripted and a manual clock: one message = one page of a character's history.
#include "worker/zkillboard_harness.hpp"

namespace kr::worker {
namespace {

using namespace kr::worker::testing;  // NOLINT(google-build-using-namespace): the harness's helpers
using store::testing::ReadSample;

class ZkillboardWorkerTest : public ::testing::Test, protected ZkillboardHarness {};

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
            // The universe queues carry bare ids (the original's format): no source there.
            EXPECT_EQ(m.source, k.message == MessageFormat::kBareId ? "" : "zkillboard_sync");
            EXPECT_EQ(d.priority, 5);
        }
        std::sort(ids.begin(), ids.end());
        EXPECT_EQ(ids, referenced[k.kind]) << k.queue;
        EXPECT_EQ(ids.empty(), !kr::test::KillmailsReferTo(k.kind)) << k.queue;
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
    auto c0 = MakeCommitter();
    auto& committer = *c0;
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

TEST_F(ZkillboardWorkerTest, TwoCharactersPagesCommitSideBySideOnTwoCommitters) {
    auto a = MakeCommitter();
    auto b = MakeCommitter();
    ExpectTwoCharactersPagesCommitSideBySide(*a, *b);
}

// ---- the enrichment is as durable as the killmails (kr_entity_outbox) ----------------------

TEST_F(ZkillboardWorkerTest, AKillRightAfterTheCommitLosesNoEnrichmentTheNextWorkerPublishesIt) {
    ExpectAKillAfterTheCommitLosesNoEnrichment(nullptr);
}

TEST_F(ZkillboardWorkerTest, AKillRightAfterACommitterCommittedLosesNoEnrichment) {
    auto committer = MakeCommitter();
    ExpectAKillAfterTheCommitLosesNoEnrichment(committer.get());
}

TEST_F(ZkillboardWorkerTest, AnUnconfirmedEntityPublishIsPublishedByTheRetryOfThePage) {
    ExpectAFailedPublishIsPublishedByTheRetryOfThePage(0);  // the first info queue's publish fails
}

TEST_F(ZkillboardWorkerTest, AnUnconfirmedNextPageIsPublishedByTheRetryOfThePage) {
    // One publish per kind the killmail refers to, then the next page's: that one fails.
    int kinds = 0;
    for (const auto& k : EntityKinds()) kinds += kr::test::KillmailsReferTo(k.kind) ? 1 : 0;
    ExpectAFailedPublishIsPublishedByTheRetryOfThePage(kinds);
}

// ---- a store failure isolates the killmail the database refuses ----------------------------

TEST_F(ZkillboardWorkerTest, AKillmailTheDatabaseRefusesIsIsolatedTheRestStoredAndTheChainGoesOn) {
    ExpectARefusedKillmailIsIsolated(kKm1, kKm2, nullptr);
}

TEST_F(ZkillboardWorkerTest, ARefusedKillmailIsIsolatedOnTheCommitterToo) {
    auto committer = MakeCommitter();
    ExpectARefusedKillmailIsIsolated(kKm2, kKm1, committer.get());
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
    auto committer = MakeCommitter();
    ExpectTwoCopiesOfAPagePublishOneNextPage(*committer);
}

}  // namespace
}  // namespace kr::worker
