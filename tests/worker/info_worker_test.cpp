// InfoWorker in the production consume loop (RunWorker, until idle) on a temp SQLite database and
// its database queue, with ESI scripted and a manual clock: what it asks ESI, what it stores, how
// it settles each message.
#include "worker/info_worker.hpp"

#include <gtest/gtest.h>

#include "core/entity_kind.hpp"
#include "core/esi_json.hpp"
#include "queue/messages.hpp"
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

TEST_F(InfoWorkerTest, TwoMessagesForOneIdHeldAtOnceMakeOneRequest) {
    // A scan and a sweep both queued the id: the worker holds both deliveries at once.
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"));
    env.PublishEntity(kAllianceQueue, kBrave);
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();
    EXPECT_EQ(env.Requests(kBravePath), 1u);
    EXPECT_EQ(c.processed, 2);
    EXPECT_EQ(c.created, 1);
    EXPECT_EQ(c.skipped, 1);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);  // both acked
    EXPECT_EQ(env.Stats(kAllianceQueue).unacked, 0);
    EXPECT_EQ(env.Stats(kAllianceQueue).dead, 0);
}

TEST_F(InfoWorkerTest, ADuplicateOfAFailedMessageIsRetriedWithIt) {
    env.EsiOk(kBravePath, "{\"unexpected\": true}");  // the first answer is unusable: retried
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"));
    env.PublishEntity(kAllianceQueue, kBrave);
    env.PublishEntity(kAllianceQueue, kBrave);
    auto& c = Run();
    EXPECT_EQ(env.Requests(kBravePath), 2u);  // one failed, one stored: the duplicate asked nothing
    EXPECT_EQ(c.retried, 2);                  // the duplicate failed with its holder, not acked
    EXPECT_EQ(c.created, 1);
    EXPECT_EQ(c.dead, 0);
    EXPECT_EQ(env.Stats(kAllianceQueue).ready, 0);
    EXPECT_EQ(env.Stats(kAllianceQueue).unacked, 0);
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

// ---- the universe: foreign-key parents ------------------------------------------------------

constexpr Id kForge = 10000002, kKimotoro = 20000020, kJita = 30000142, kPerimeter = 30000144;
const char* const kSystemQueue = "esi_solar_systems_queue";

std::string RegionBody(Id id, const std::string& name) {
    return R"({"region_id":)" + std::to_string(id) + R"(,"name":")" + name + R"(","constellations":[]})";
}
std::string ConstellationBody(Id id, Id region) {
    return R"({"constellation_id":)" + std::to_string(id) + R"(,"name":"Kimotoro","region_id":)" +
           std::to_string(region) + R"(,"position":{"x":1,"y":2,"z":3},"systems":[]})";
}
std::string SystemBody(Id id, Id constellation, const std::string& name) {
    return R"({"system_id":)" + std::to_string(id) + R"(,"name":")" + name + R"(","constellation_id":)" +
           std::to_string(constellation) + R"(,"security_status":0.9,"position":{"x":4,"y":5,"z":6}})";
}

class UniverseInfoWorkerTest : public InfoWorkerTest {
protected:
    std::unique_ptr<InfoWorker> MakeSystems(std::chrono::milliseconds parent_wait = std::chrono::seconds(30)) {
        InfoWorkerOptions o;
        o.kind = EntityKind::kSolarSystem;
        o.parent_wait = parent_wait;
        return std::make_unique<InfoWorker>(o, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
    }
    std::int64_t Count(const std::string& table) { return env.Conn().Exec("SELECT count(*) FROM " + table).Int(0, 0); }
    void StoreRegionAndConstellation() {
        store::EntityBatch b;
        b.entities.push_back(esi_json::ParseConstellation(kKimotoro, ConstellationBody(kKimotoro, kForge)));
        b.entities.push_back(esi_json::ParseRegion(kForge, RegionBody(kForge, "The Forge")));
        env.Store().ApplyEntityBatch(b);
    }
};

TEST_F(UniverseInfoWorkerTest, MissingParentsAreFetchedOnceAndStoredWithTheirChildren) {
    env.EsiOk("/universe/systems/30000142/", SystemBody(kJita, kKimotoro, "Jita"));
    env.EsiOk("/universe/systems/30000144/", SystemBody(kPerimeter, kKimotoro, "Perimeter"));
    env.EsiOk("/universe/constellations/20000020/", ConstellationBody(kKimotoro, kForge));
    env.EsiOk("/universe/regions/10000002/", RegionBody(kForge, "The Forge"));
    env.Publish(kSystemQueue, {"30000142", "30000144"});  // the original's bare ids
    auto w = MakeSystems();
    auto& c = env.RunUntilIdle(*w);

    EXPECT_EQ(c.processed, 2);
    EXPECT_EQ(c.created, 4);  // two systems, and the constellation and region they needed
    EXPECT_EQ(c.dead + c.retried, 0);
    EXPECT_EQ(env.Requests("/universe/constellations/20000020/"), 1u);  // once for both systems
    EXPECT_EQ(env.Requests("/universe/regions/10000002/"), 1u);
    EXPECT_EQ(Count("solar_systems"), 2);
    EXPECT_EQ(
        env.Conn().Exec("SELECT region_id FROM constellations WHERE constellation_id = $1", {kKimotoro}).Int(0, 0),
        kForge);
    EXPECT_EQ(env.Conn().Exec("SELECT name FROM regions WHERE region_id = $1", {kForge}).Text(0, 0), "The Forge");
    // The parents' cache rows too: their workers will find them fresh.
    EXPECT_EQ(CacheRow("/universe/regions/10000002/").entity_kind, EntityKind::kRegion);
    EXPECT_EQ(CacheRow("/universe/constellations/20000020/").status, 200);
    EXPECT_EQ(env.Stats(kSystemQueue).ready, 0);
}

TEST_F(UniverseInfoWorkerTest, StoredParentsAreNotAskedFor) {
    StoreRegionAndConstellation();
    env.EsiOk("/universe/systems/30000142/", SystemBody(kJita, kKimotoro, "Jita"));
    env.Publish(kSystemQueue, {"30000142"});
    auto w = MakeSystems();
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(c.created, 1);
    EXPECT_EQ(env.Http().Requests().size(), 1u);
}

TEST_F(UniverseInfoWorkerTest, APendingParentIsWaitedForNotFetchedTwice) {
    // The sweep queued the constellation (pending): its own worker fetches it; this one waits.
    env.Store().MarkPending(EntityKind::kConstellation, {kKimotoro});
    env.EsiOk("/universe/systems/30000142/", SystemBody(kJita, kKimotoro, "Jita"));
    env.Publish(kSystemQueue, {"30000142"});
    auto w = MakeSystems();
    auto& q = env.Rt().Queue();
    q.Consume(kSystemQueue, 25);
    w->Admit(q.Poll(std::chrono::seconds(1)));
    for (int i = 0; i < 20; ++i) w->Pump(std::chrono::milliseconds(1));
    EXPECT_EQ(w->Held(), 1u);  // fetched, waiting for its constellation
    EXPECT_EQ(env.Requests("/universe/constellations/20000020/"), 0u);

    StoreRegionAndConstellation();  // the constellations worker stored it
    env.Clock().Advance(1'000'000);
    for (int i = 0; i < 5 && w->Held() > 0; ++i) w->Pump(std::chrono::milliseconds(1));
    EXPECT_EQ(w->Held(), 0u);
    EXPECT_EQ(Count("solar_systems"), 1);
    EXPECT_EQ(env.Http().Requests().size(), 1u);
    q.Poll(std::chrono::milliseconds(0));  // writes the deferred ack
    EXPECT_EQ(env.Stats(kSystemQueue).ready, 0);
    EXPECT_EQ(env.Stats(kSystemQueue).unacked, 0);
}

TEST_F(UniverseInfoWorkerTest, APendingParentThatNeverComesIsFetchedAfterTheWait) {
    env.Store().MarkPending(EntityKind::kConstellation, {kKimotoro});
    env.Store().MarkPending(EntityKind::kRegion, {kForge});
    env.EsiOk("/universe/systems/30000142/", SystemBody(kJita, kKimotoro, "Jita"));
    env.EsiOk("/universe/constellations/20000020/", ConstellationBody(kKimotoro, kForge));
    env.EsiOk("/universe/regions/10000002/", RegionBody(kForge, "The Forge"));
    env.Publish(kSystemQueue, {"30000142"});
    auto w = MakeSystems(std::chrono::seconds(10));
    auto& q = env.Rt().Queue();
    q.Consume(kSystemQueue, 25);
    w->Admit(q.Poll(std::chrono::seconds(1)));
    for (int i = 0; i < 20; ++i) w->Pump(std::chrono::milliseconds(1));
    EXPECT_EQ(env.Http().Requests().size(), 1u);  // the system only, so far
    env.Clock().Advance(11'000'000);
    for (int i = 0; i < 200 && w->Held() > 0; ++i) {
        w->Pump(std::chrono::milliseconds(1));
        env.Clock().Advance(11'000'000);  // the region is pending too: its wait ends as well
    }
    EXPECT_EQ(w->Held(), 0u);
    EXPECT_EQ(Count("solar_systems"), 1);
    EXPECT_EQ(Count("regions"), 1);
    EXPECT_EQ(env.Requests("/universe/constellations/20000020/"), 1u);
    EXPECT_EQ(env.Requests("/universe/regions/10000002/"), 1u);
}

TEST_F(UniverseInfoWorkerTest, AParentEsiDoesNotHaveFailsItsChildrenAndIsRecorded) {
    env.Http().SetHandler([&](const http::HttpRequest& r) {
        if (r.url.find("/universe/systems/30000142/") != std::string::npos) {
            return http::FakeHttpClient::Reply(200, SystemBody(kJita, kKimotoro, "Jita"), {{"ETag", "\"s\""}});
        }
        return http::FakeHttpClient::Reply(404, "{\"error\":\"Constellation not found\"}");
    });
    env.Publish(kSystemQueue, {"30000142"});
    auto w = MakeSystems(std::chrono::milliseconds(0));
    auto& c = env.RunUntilIdle(*w);
    EXPECT_EQ(c.dead, 1);  // retried, then dead-lettered: the system cannot be stored without it
    EXPECT_EQ(c.retried, 2);
    EXPECT_EQ(Count("solar_systems"), 0);
    EXPECT_EQ(CacheRow("/universe/constellations/20000020/").status, 404);
}

TEST(InfoWorkerRefreshShare, ADeliveryBelowNewWorkPriorityIsRefreshTraffic) {
    // With a budget, new work marks its demand in the shared budget (KILLREPORT_REFRESH_SHARE
    // holds refresh traffic to its share then); a refresh message's request does not.
    kr::test::WorkerEnv env({}, [](config::Config& cfg) { cfg.esi_rate_limit = 50; });
    auto& budget = env.Rt().Shared().Budget();
    const std::string demand = "esi:new-work";
    InfoWorkerOptions o;
    o.kind = EntityKind::kAlliance;
    env.EsiOk(kBravePath, ReadSample("esi_alliance_99003214.json"));
    env.Publish(kAllianceQueue, {queue::BuildEntityMessage(kBrave, "refresh", env.NowIso())}, 0);
    {
        InfoWorker w(o, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
        env.RunUntilIdle(w);
    }
    ASSERT_EQ(env.Requests(kBravePath), 1u);
    EXPECT_EQ(budget.DemandUntil(demand), 0) << "a priority-0 message is refresh traffic";

    constexpr Id kOther = 1354830081;
    env.EsiOk("/alliances/1354830081/", ReadSample("esi_alliance_1354830081.json"));
    env.Publish(kAllianceQueue, {queue::BuildEntityMessage(kOther, "killmail_scan", env.NowIso())},
                queue::kNewWorkPriority);
    const std::int64_t before = env.Clock().NowUs();
    {
        InfoWorker w(o, env.Store(), env.Rt().Esi(), env.Settler(), env.Clock());
        env.RunUntilIdle(w);
    }
    ASSERT_EQ(env.Requests("/alliances/1354830081/"), 1u);
    EXPECT_GT(budget.DemandUntil(demand), before) << "a priority-5 message is new work: marked while it waits";
}

}  // namespace
}  // namespace kr::worker
