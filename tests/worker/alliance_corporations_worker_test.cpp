// AllianceCorporationsWorker (worker:alliance-corporations) in the production consume loop on a
// temp SQLite database and its database queue, ESI scripted, a manual clock.
#include "worker/alliance_corporations_worker.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "queue/queue.hpp"
#include "support/worker_env.hpp"

namespace kr::worker {
namespace {

using kr::test::kHourMs;
constexpr Id kBrave = 99003214;
const std::string kPath = "/alliances/99003214/corporations/";
const char* const kCorporationQueue = "esi_corporation_info_queue";

class AllianceCorporationsWorkerTest : public ::testing::Test {
protected:
    WorkerCounters& Run() {
        AllianceCorporationsWorker w(0, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
        return env.RunUntilIdle(w);
    }
    void Deliver() { env.PublishEntity(queue::kAllianceCorporations, kBrave); }
    CacheEntry CacheRow() { return env.Store().LoadHttpCache({kPath}).at(kPath); }
    CacheEntry MakeCacheRow(std::optional<std::string> etag, std::int64_t expires_in_ms, int status) {
        CacheEntry e;
        e.path = kPath;
        e.etag = std::move(etag);
        e.status = status;
        e.checked_at_ms = env.Clock().NowMs() - kHourMs;
        e.expires_at_ms = env.Clock().NowMs() + expires_in_ms;
        return e;
    }
    void SaveCacheRow(std::optional<std::string> etag, std::int64_t expires_in_ms, int status) {
        env.Store().SaveHttpCache({MakeCacheRow(std::move(etag), expires_in_ms, status)});
    }
    /// The list as a previous 200 left it: kept with its cache row.
    void KeepList(std::vector<Id> corporations, std::int64_t expires_in_ms) {
        env.Store().SaveAllianceList({kBrave, std::move(corporations)},
                                     MakeCacheRow(std::string("\"list-1\""), expires_in_ms, 200));
    }
    /// A corporation stored with `alliance` (none: without one), its own cache row fresh for an hour.
    void StoreCorporation(Id id, std::optional<Id> alliance) {
        Corporation c;
        c.id = id;
        c.name = "corp " + std::to_string(id);
        c.ticker = "T";
        c.ceo_id = 90000001;
        c.creator_id = 90000001;
        c.alliance_id = alliance;
        CacheEntry e = EntityCacheEntry(EntityKind::kCorporation, id);
        e.etag = "\"corp\"";
        e.expires_at_ms = env.Clock().NowMs() + kHourMs;
        env.Store().ApplyEntityBatch({{c}, {e}});
    }
    std::int64_t CorporationExpiry(Id id) {
        const std::string path = EntityPath(EntityKind::kCorporation, id);
        return env.Store().LoadHttpCache({path}).at(path).expires_at_ms;
    }

    kr::test::WorkerEnv env;
};

TEST_F(AllianceCorporationsWorkerTest, A200PublishesEveryCorporationAndCachesTheList) {
    env.EsiOk(kPath, "[98000002, 98000001, 98000003]", "\"list-1\"", 3600);
    Deliver();
    auto& c = Run();
    EXPECT_EQ(env.Requests(kPath), 1u);
    EXPECT_EQ(c.updated, 1);
    EXPECT_EQ(c.published, 3);
    EXPECT_EQ(c.processed, 1);

    auto messages = env.Take(kCorporationQueue);
    ASSERT_EQ(messages.size(), 3u);
    std::vector<Id> ids;
    for (const auto& d : messages) {
        auto m = queue::ParseEntityMessage(d.body);
        ids.push_back(m.entity_id);
        EXPECT_EQ(m.source, "alliance_99003214");
        EXPECT_EQ(m.queued_at, env.NowIso());
        EXPECT_EQ(d.priority, 3);
    }
    EXPECT_EQ(ids, (std::vector<Id>{98000002, 98000001, 98000003}));  // ESI's order
    // Marked pending (scan:entities does not queue them again) and the list cached.
    EXPECT_EQ(env.Conn().Exec("SELECT count(*) FROM kr_pending_entities WHERE kind = 'corporation'").Int(0, 0), 3);
    const auto row = CacheRow();
    EXPECT_EQ(row.etag, "\"list-1\"");
    EXPECT_EQ(row.status, 200);
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 3'600'000);
    EXPECT_EQ(env.Stats(queue::kAllianceCorporations).ready, 0);  // acked
    // The list is kept for the next 304.
    EXPECT_EQ(env.Store().LoadAllianceMembers(kBrave).listed, (std::vector<Id>{98000001, 98000002, 98000003}));
}

TEST_F(AllianceCorporationsWorkerTest, A200QueuesTheCorporationsThatJoinedAndLeftAndMakesTheirRowsStale) {
    StoreCorporation(98000001, kBrave);    // still in the list: nothing to do
    StoreCorporation(98000002, 99000009);  // joined Brave from another alliance
    StoreCorporation(98000004, kBrave);    // left Brave
    StoreCorporation(98000005, 99000009);  // nothing to do with Brave
    env.EsiOk(kPath, "[98000003, 98000002, 98000001]", "\"list-2\"", 3600);
    Deliver();
    auto& c = Run();
    EXPECT_EQ(c.published, 3);
    EXPECT_EQ(env.TakeIds(kCorporationQueue), (std::vector<Id>{98000003, 98000002, 98000004}));
    const std::int64_t now = env.Clock().NowMs();
    EXPECT_LE(CorporationExpiry(98000002), now);  // asked again, not trusted until its Expires
    EXPECT_LE(CorporationExpiry(98000004), now);
    EXPECT_GT(CorporationExpiry(98000001), now);
    EXPECT_GT(CorporationExpiry(98000005), now);
}

TEST_F(AllianceCorporationsWorkerTest, OnA304TheKeptListFindsTheCorporationThatLeft) {
    KeepList({98000001}, -1);
    StoreCorporation(98000001, kBrave);
    StoreCorporation(98000004, kBrave);  // stored with Brave, not on Brave's list
    env.EsiStatus(kPath, 304, 600);
    Deliver();
    auto& c = Run();
    EXPECT_EQ(env.Requests(kPath), 1u);
    EXPECT_EQ(c.published, 1);
    EXPECT_EQ(env.TakeIds(kCorporationQueue), (std::vector<Id>{98000004}));
    EXPECT_LE(CorporationExpiry(98000004), env.Clock().NowMs());
}

TEST_F(AllianceCorporationsWorkerTest, AFreshListStillQueuesTheCorporationsThatJoinedOrLeft) {
    KeepList({98000001, 98000002}, kHourMs);
    StoreCorporation(98000001, kBrave);
    StoreCorporation(98000003, kBrave);
    Deliver();
    auto& c = Run();
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.published, 2);
    EXPECT_EQ(env.TakeIds(kCorporationQueue), (std::vector<Id>{98000002, 98000003}));
}

TEST_F(AllianceCorporationsWorkerTest, WithoutAKeptListTheBodyIsAskedFor) {
    SaveCacheRow(std::string("\"list-1\""), kHourMs, 200);  // cached before lists were kept
    env.EsiOk(kPath, "[98000001]", "\"list-1\"", 3600);
    Deliver();
    auto& c = Run();
    ASSERT_EQ(env.Http().Requests().size(), 1u);
    for (const auto& [k, v] : env.Http().Requests()[0].request.headers) EXPECT_NE(k, "If-None-Match");
    EXPECT_EQ(c.published, 1);
    EXPECT_EQ(env.Store().LoadAllianceMembers(kBrave).listed, (std::vector<Id>{98000001}));
}

TEST_F(AllianceCorporationsWorkerTest, TheListsOfOneAdmitAreFetchedConcurrently) {
    const std::vector<Id> alliances{99000001, 99000002, 99000003};
    for (Id a : alliances) {
        const std::string path = "/alliances/" + std::to_string(a) + "/corporations/";
        env.Http().Script(path, http::FakeHttpClient::Reply(200, "[" + std::to_string(a - 1000000) + "]",
                                                            {{"Cache-Control", "max-age=3600"}}, 1'000'000));
        env.PublishEntity(queue::kAllianceCorporations, a);
    }
    auto& c = Run();
    EXPECT_EQ(c.updated, 3);
    const auto& requests = env.Http().Requests();
    ASSERT_EQ(requests.size(), 3u);
    // Each answer takes a second of the (manual) clock: all three were asked before the first came.
    for (const auto& r : requests) EXPECT_LT(r.started_us, requests[0].started_us + 1'000'000);
    auto ids = env.TakeIds(kCorporationQueue);
    std::sort(ids.begin(), ids.end());
    EXPECT_EQ(ids, (std::vector<Id>{98000001, 98000002, 98000003}));
}

TEST_F(AllianceCorporationsWorkerTest, AFreshListMakesNoRequestAndPublishesNothing) {
    KeepList({}, kHourMs);
    Deliver();
    auto& c = Run();
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.published, 0);
    EXPECT_TRUE(env.Take(kCorporationQueue).empty());
    EXPECT_EQ(env.Stats(queue::kAllianceCorporations).ready, 0);
}

TEST_F(AllianceCorporationsWorkerTest, A304PublishesNothingAndRefreshesTheCacheRow) {
    KeepList({}, -1);  // expired
    env.EsiStatus(kPath, 304, 600);
    Deliver();
    auto& c = Run();
    ASSERT_EQ(env.Http().Requests().size(), 1u);
    bool revalidated = false;
    for (const auto& [k, v] : env.Http().Requests()[0].request.headers) {
        revalidated |= k == "If-None-Match" && v == "\"list-1\"";
    }
    EXPECT_TRUE(revalidated);
    EXPECT_EQ(c.published, 0);
    EXPECT_EQ(c.skipped, 1);
    EXPECT_TRUE(env.Take(kCorporationQueue).empty());
    const auto row = CacheRow();
    EXPECT_EQ(row.etag, "\"list-1\"");
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 600'000);
    EXPECT_GT(row.checked_at_ms, env.Clock().NowMs() - kHourMs);  // checked now, not an hour ago
}

TEST_F(AllianceCorporationsWorkerTest, A404IsRecordedAndNotAskedAgainWhileItHolds) {
    env.EsiStatus(kPath, 404);
    Deliver();
    auto& c = Run();
    EXPECT_EQ(c.not_found, 1);
    const auto row = CacheRow();
    EXPECT_EQ(row.status, 404);
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 3 * 24 * kHourMs);
    EXPECT_TRUE(env.Take(kCorporationQueue).empty());

    env.Clock().Advance(kHourMs * 1000);
    Deliver();
    auto& again = Run();
    EXPECT_EQ(env.Requests(kPath), 1u);
    EXPECT_EQ(again.skipped, 1);
    EXPECT_EQ(env.Stats(queue::kAllianceCorporations).ready, 0);
}

TEST_F(AllianceCorporationsWorkerTest, AnUnusableListIsRetried) {
    env.EsiOk(kPath, "{\"not\": \"a list\"}");
    env.EsiOk(kPath, "[98000001]");
    Deliver();
    auto& c = Run();
    EXPECT_EQ(c.retried, 1);
    EXPECT_EQ(env.TakeIds(kCorporationQueue), (std::vector<Id>{98000001}));
}

}  // namespace
}  // namespace kr::worker
