// InfoWorker in the production consume loop (RunWorker, until idle) on a temp SQLite database and
// its database queue, with ESI scripted and a manual clock: what it asks ESI, what it stores, how
// it settles each message.
#include "worker/info_worker.hpp"

#include <gtest/gtest.h>

#include "core/entity_kind.hpp"
#include "core/esi_json.hpp"
#include "store/samples.hpp"
#include "support/store_helpers.hpp"
#include "support/worker_env.hpp"
#include "worker/executor.hpp"

namespace kr::worker {
namespace {

using kr::test::kHourMs;
using store::testing::ReadSample;

constexpr Id kBrave = 99003214;
const std::string kBravePath = "/alliances/99003214/";
const char* const kAllianceQueue = "esi_alliance_info_queue";

class InfoWorkerTest : public ::testing::Test {
protected:
    std::unique_ptr<InfoWorker> Make(EntityKind kind = EntityKind::kAlliance,
                                     Executor<store::Store>* committer = nullptr) {
        InfoWorkerOptions o;
        o.kind = kind;
        return std::make_unique<InfoWorker>(o, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock(), committer);
    }
    WorkerCounters& Run(EntityKind kind = EntityKind::kAlliance) {
        auto w = Make(kind);
        return env.RunUntilIdle(*w);
    }
    /// Brave stored, with its cache row (etag "e1") expiring `expires_in_ms` from now.
    void StoreBrave(std::int64_t expires_in_ms) {
        store::EntityBatch batch;
        batch.entities.push_back(esi_json::ParseAlliance(kBrave, ReadSample("esi_alliance_99003214.json")));
        const std::int64_t now = env.Clock().NowMs();
        batch.cache.push_back(kr::test::EntityCache(EntityKind::kAlliance, kBrave, std::string("\"e1\""),
                                                    now + expires_in_ms, 200, now - 2 * kHourMs));
        env.Store().ApplyEntityBatch(batch);
    }
    CacheEntry CacheRow(const std::string& path) { return env.Store().LoadHttpCache({path}).at(path); }
    std::string HeaderOf(const http::HttpRequest& r, const std::string& name) {
        for (const auto& [k, v] : r.headers) {
            if (k == name) return v;
        }
        return "<none>";
    }

    kr::test::WorkerEnv env;
};

TEST_F(InfoWorkerTest, AStoredAndFreshEntityMakesNoRequest) {
    StoreBrave(kHourMs);
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.processed, 1);
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.created + c.updated, 0);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);  // acked
}

TEST_F(InfoWorkerTest, AStaleEntityIsRevalidatedAndA304KeepsTheRow) {
    StoreBrave(-1);  // expired a millisecond ago
    auto before = env.Conn().Exec("SELECT updated_at, created_at FROM alliances WHERE id = $1", {kBrave});
    env.Clock().Advance(60'000'000);  // a minute later
    env.EsiStatus(kBravePath, 304, 600);
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();

    ASSERT_EQ(env.Http().Requests().size(), 1u);
    const auto& req = env.Http().Requests()[0].request;
    EXPECT_EQ(req.url, std::string(kr::test::kEsiBase) + kBravePath);
    EXPECT_EQ(HeaderOf(req, "If-None-Match"), "\"e1\"");
    EXPECT_EQ(c.unchanged, 1);
    EXPECT_EQ(c.processed, 1);
    // The row is untouched, its cache row refreshed: new expiry and check time, same ETag.
    auto after = env.Conn().Exec("SELECT updated_at, created_at FROM alliances WHERE id = $1", {kBrave});
    EXPECT_EQ(after.Text(0, 0), before.Text(0, 0));
    EXPECT_EQ(after.Text(0, 1), before.Text(0, 1));
    const auto row = CacheRow(kBravePath);
    EXPECT_EQ(row.etag, "\"e1\"");
    EXPECT_EQ(row.status, 200);
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 600'000);
    EXPECT_GE(row.checked_at_ms, env.Clock().NowMs() - 1000);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);
}

TEST_F(InfoWorkerTest, A200UpsertsEveryColumnAtTheClocksTime) {
    const std::string start = env.NowIso();
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"), "\"v2\"", 3600);
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();
    const std::string end = env.NowIso();

    EXPECT_EQ(c.created, 1);
    EXPECT_EQ(c.processed, 1);
    EXPECT_EQ(HeaderOf(env.Http().Requests().at(0).request, "If-None-Match"), "<none>");  // nothing known yet
    auto r = env.Conn().Exec(
        "SELECT name, ticker, date_founded, creator_corporation_id, creator_id, executor_corporation_id, faction_id, "
        "created_at, updated_at FROM alliances WHERE id = $1",
        {kBrave});
    ASSERT_EQ(r.Rows(), 1u);
    EXPECT_EQ(r.Text(0, 0), "Brave Collective");
    EXPECT_EQ(r.Text(0, 1), "BRAVE");
    EXPECT_EQ(r.Text(0, 2).substr(0, 19), "2013-05-06T22:20:14");
    EXPECT_EQ(r.Int(0, 3), 98199293);
    EXPECT_EQ(r.Int(0, 4), 91432281);
    EXPECT_EQ(r.Int(0, 5), 98199293);
    EXPECT_TRUE(r.IsNull(0, 6));
    // The store's time is the injected clock's (2023 on the manual clock, not today).
    EXPECT_EQ(r.Text(0, 7), r.Text(0, 8));
    EXPECT_GE(r.Text(0, 7), start);
    EXPECT_LE(r.Text(0, 7), end);
    const auto row = CacheRow(kBravePath);
    EXPECT_EQ(row.etag, "\"v2\"");
    EXPECT_EQ(row.status, 200);
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 3'600'000);
    EXPECT_EQ(row.entity_kind, EntityKind::kAlliance);
    EXPECT_EQ(row.entity_id, kBrave);
}

TEST_F(InfoWorkerTest, A404IsRecordedAndASecondDeliveryMakesNoRequest) {
    const Id gone = 99000001;
    const std::int64_t start = env.Clock().NowMs();
    env.EsiStatus("/alliances/99000001/", 404);
    env.PublishEntity(kAllianceQueue, gone);
    auto& c = Run();
    EXPECT_EQ(c.not_found, 1);
    EXPECT_EQ(env.Requests("/alliances/99000001/"), 1u);
    const auto row = CacheRow("/alliances/99000001/");
    EXPECT_EQ(row.status, 404);
    EXPECT_GE(row.checked_at_ms, start);
    EXPECT_LE(row.checked_at_ms, env.Clock().NowMs());
    EXPECT_EQ(row.expires_at_ms, row.checked_at_ms + 3 * 24 * kHourMs);  // not_found_ttl
    EXPECT_EQ(row.entity_id, gone);

    env.Clock().Advance(24 * kHourMs * 1000);  // a day later: still known missing
    env.PublishEntity(kAllianceQueue, gone);
    auto& again = Run();
    EXPECT_EQ(env.Requests("/alliances/99000001/"), 1u);
    EXPECT_EQ(again.skipped, 1);
    EXPECT_EQ(again.processed, 2);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);
}

TEST_F(InfoWorkerTest, AnNpcCharacterIsSkippedWithoutARequest) {
    env.PublishEntity("esi_character_info_queue", 3'000'001);  // an NPC agent
    auto& c = Run(EntityKind::kCharacter);
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(c.processed, 1);
    EXPECT_EQ(env.Stats("esi_character_info_queue").ready, 0);
    EXPECT_EQ(env.Stats("esi_character_info_queue").dead, 0);
}

TEST_F(InfoWorkerTest, AMalformedMessageIsDeadLettered) {
    env.Publish(kAllianceQueue, {"{\"entityId\": \"not a number\"}"});
    auto& c = Run();
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_EQ(c.dead, 1);
    auto dead = env.Dead(kAllianceQueue);
    ASSERT_EQ(dead.size(), 1u);
    EXPECT_EQ(dead[0].reason, "bad_field");
    EXPECT_EQ(dead[0].body, "{\"entityId\": \"not a number\"}");
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);
}

TEST_F(InfoWorkerTest, AnUnparsable200IsRetriedNotDeadLettered) {
    env.EsiOk(kBravePath, "{\"unexpected\": true}");  // JSON, but no alliance
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"));
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();
    EXPECT_EQ(env.Requests(kBravePath), 2u);
    EXPECT_EQ(c.retried, 1);
    EXPECT_EQ(c.dead, 0);
    EXPECT_EQ(c.created, 1);  // the retry succeeded
    EXPECT_EQ(env.Store().ExistingIds(EntityKind::kAlliance, {kBrave}).size(), 1u);
    EXPECT_TRUE(env.Dead(kAllianceQueue).empty());
}

TEST_F(InfoWorkerTest, CommitsOnACommitterWhenGivenOne) {
    Executor<store::Store> committer(store::OpenStore(env.Rt().Shared().Cfg().database_url, env.Clock()));
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"));
    env.EsiOk("/alliances/1354830081/", ReadSample("esi_alliance_1354830081.json"));
    env.PublishEntity(kAllianceQueue, kBrave);
    env.PublishEntity(kAllianceQueue, 1354830081);
    auto w = Make(EntityKind::kAlliance, &committer);
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(c.created, 2);
    EXPECT_EQ(c.processed, 2);
    EXPECT_FALSE(committer.Busy());
    EXPECT_EQ(env.Store().ExistingIds(EntityKind::kAlliance, {kBrave, 1354830081}).size(), 2u);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);
}

}  // namespace
}  // namespace kr::worker
