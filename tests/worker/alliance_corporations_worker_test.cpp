// AllianceCorporationsWorker (worker:alliance-corporations) in the production consume loop on a
// temp SQLite database and its database queue, ESI scripted, a manual clock.
#include "worker/alliance_corporations_worker.hpp"

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
    void SaveCacheRow(std::optional<std::string> etag, std::int64_t expires_in_ms, int status) {
        CacheEntry e;
        e.path = kPath;
        e.etag = std::move(etag);
        e.status = status;
        e.checked_at_ms = env.Clock().NowMs() - kHourMs;
        e.expires_at_ms = env.Clock().NowMs() + expires_in_ms;
        env.Store().SaveHttpCache({e});
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
}

TEST_F(AllianceCorporationsWorkerTest, AFreshListMakesNoRequestAndPublishesNothing) {
    SaveCacheRow(std::string("\"list-1\""), kHourMs, 200);
    Deliver();
    auto& c = Run();
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.published, 0);
    EXPECT_TRUE(env.Take(kCorporationQueue).empty());
    EXPECT_EQ(env.Stats(queue::kAllianceCorporations).ready, 0);
}

TEST_F(AllianceCorporationsWorkerTest, A304PublishesNothingAndRefreshesTheCacheRow) {
    SaveCacheRow(std::string("\"list-1\""), -1, 200);  // expired
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
