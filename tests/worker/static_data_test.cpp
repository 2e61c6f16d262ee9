// The universe's queue scripts and `run`'s sync of it (worker/static_data.hpp), server-free: a temp
// SQLite database and its queue, ESI scripted, a manual clock. What is asked of ESI (conditional
// requests), what is queued (the original's bare ids), what is recorded.
#include "worker/static_data.hpp"

#include <gtest/gtest.h>

#include "core/esi_json.hpp"
#include "support/worker_env.hpp"

namespace kr::worker {
namespace {

using kr::test::kHourMs;

constexpr const char* kRegions = "/universe/regions/";
constexpr const char* kConstellations = "/universe/constellations/";
constexpr const char* kSystems = "/universe/systems/";
constexpr const char* kStatus = "/status/";

class StaticDataTest : public ::testing::Test {
protected:
    std::string Status(const std::string& version) {
        return R"({"players":23456,"server_version":")" + version + R"(","start_time":"2026-07-08T11:00:00Z"})";
    }
    /// The three lists and ESI's status, each answered once.
    void ScriptLists(const std::string& version, const std::string& etag = "\"v1\"") {
        env.EsiOk(kStatus, Status(version), "\"s\"", 30);
        env.EsiOk(kRegions, "[10000002,10000043]", etag, 86400);
        env.EsiOk(kConstellations, "[20000020]", etag, 86400);
        env.EsiOk(kSystems, "[30000142,30000144]", etag, 86400);
    }
    void ScriptUnchanged(const std::string& version) {
        env.EsiOk(kStatus, Status(version), "\"s\"", 30);
        for (const char* p : {kRegions, kConstellations, kSystems}) env.EsiStatus(p, 304, 86400);
    }
    std::string Header(const http::HttpRequest& r, const std::string& name) {
        for (const auto& [k, v] : r.headers) {
            if (k == name) return v;
        }
        return "<none>";
    }
    /// The If-None-Match of the last request to `path`.
    std::string LastIfNoneMatch(const std::string& path) {
        std::string out = "<no request>";
        for (const auto& r : env.Http().Requests()) {
            if (r.request.url.size() >= path.size() &&
                r.request.url.compare(r.request.url.size() - path.size(), path.size(), path) == 0) {
                out = Header(r.request, "If-None-Match");
            }
        }
        return out;
    }
    std::vector<std::string> Bodies(EntityKind kind) {
        std::vector<std::string> out;
        for (const auto& d : env.Take(KindInfo(kind).queue)) out.push_back(d.body);
        return out;
    }
    void StoreUniverse() {
        store::EntityBatch b;
        b.entities.push_back(esi_json::ParseRegion(10000002, R"({"name":"The Forge","constellations":[]})"));
        b.entities.push_back(esi_json::ParseConstellation(
            20000020, R"({"name":"Kimotoro","region_id":10000002,"position":{"x":1,"y":2,"z":3},"systems":[]})"));
        for (Id s : {30000142, 30000144}) {
            b.entities.push_back(esi_json::ParseSolarSystem(
                s, R"({"name":"S","constellation_id":20000020,"security_status":0.5,"position":{"x":1,"y":2,"z":3}})"));
        }
        env.Store().ApplyEntityBatch(b);
    }
    store::ListSweep Sweep(const std::string& path) { return env.Store().LoadListSweeps({path}).at(path); }
    StaticSyncOptions Daily() { return {}; }

    kr::test::WorkerEnv env;
};

TEST_F(StaticDataTest, QueueScriptsPublishGivenIdsBareAndMarkThemPending) {
    EXPECT_EQ(QueueListed(env.Rt(), EntityKind::kSolarSystem, {30000142, 30000144}), 2u);
    EXPECT_EQ(Bodies(EntityKind::kSolarSystem), (std::vector<std::string>{"30000142", "30000144"}));
    EXPECT_TRUE(env.Http().Requests().empty());
    EXPECT_TRUE(env.Store().FilterMissing(EntityKind::kSolarSystem, {30000142}).empty());  // pending
    EXPECT_TRUE(env.Store().LoadListSweeps({kSystems}).empty());                           // no sweep of the list
}

TEST_F(StaticDataTest, QueueScriptsSweepTheListConditionally) {
    ScriptLists("2964217");
    EXPECT_EQ(QueueListed(env.Rt(), EntityKind::kRegion), 2u);
    EXPECT_EQ(Bodies(EntityKind::kRegion), (std::vector<std::string>{"10000002", "10000043"}));
    EXPECT_EQ(LastIfNoneMatch(kRegions), "<none>");
    auto sweep = Sweep(kRegions);
    EXPECT_EQ(sweep.server_version, "2964217");
    EXPECT_EQ(sweep.swept_at_ms, env.Clock().NowMs());
    EXPECT_EQ(env.Store().LoadHttpCache({kRegions}).at(kRegions).etag, "\"v1\"");

    // A day later: asked with the ETag; unchanged (304), the stored ids are the list's.
    StoreUniverse();
    env.Clock().Advance(25 * kHourMs * 1000);
    ScriptUnchanged("2964217");
    EXPECT_EQ(QueueListed(env.Rt(), EntityKind::kRegion), 1u);  // the stored region
    EXPECT_EQ(LastIfNoneMatch(kRegions), "\"v1\"");
    EXPECT_EQ(Bodies(EntityKind::kRegion), (std::vector<std::string>{"10000002"}));
}

TEST_F(StaticDataTest, AnUnchangedListWithNothingStoredIsFetchedAgainWhole) {
    ScriptLists("1");
    QueueListed(env.Rt(), EntityKind::kSolarSystem);
    env.Take(KindInfo(EntityKind::kSolarSystem).queue);
    env.Clock().Advance(25 * kHourMs * 1000);
    env.EsiStatus(kSystems, 304, 86400);
    env.EsiOk(kSystems, "[30000142,30000144]", "\"v1\"", 86400);
    env.EsiOk(kStatus, Status("1"), "\"s\"", 30);
    EXPECT_EQ(QueueListed(env.Rt(), EntityKind::kSolarSystem), 2u);
    EXPECT_EQ(env.Requests(kSystems), 3u);  // the first sweep, the 304, the list again
    EXPECT_EQ(LastIfNoneMatch(kSystems), "<none>");
}

TEST_F(StaticDataTest, RunSweepsEverythingOnceThenOnlyLooksDaily) {
    ScriptLists("2964217");
    auto first = SyncStaticData(env.Rt(), Daily());
    EXPECT_TRUE(first.checked);
    EXPECT_EQ(first.queued[EntityKind::kRegion], 2u);
    EXPECT_EQ(first.queued[EntityKind::kConstellation], 1u);
    EXPECT_EQ(first.queued[EntityKind::kSolarSystem], 2u);
    EXPECT_EQ(first.why[EntityKind::kSolarSystem], "first sweep");
    EXPECT_EQ(first.Total(), 5u);
    EXPECT_EQ(Bodies(EntityKind::kConstellation), (std::vector<std::string>{"20000020"}));
    EXPECT_EQ(env.Http().Requests().size(), 4u);  // status + three lists

    // Within the day: not a single request, whatever is stored.
    env.Clock().Advance(23 * kHourMs * 1000);
    auto again = SyncStaticData(env.Rt(), Daily());
    EXPECT_FALSE(again.checked);
    EXPECT_EQ(env.Http().Requests().size(), 4u);

    // A day later, nothing changed: conditional requests (304), no sweep.
    StoreUniverse();
    env.Take(KindInfo(EntityKind::kRegion).queue);
    env.Take(KindInfo(EntityKind::kSolarSystem).queue);
    env.Clock().Advance(2 * kHourMs * 1000);
    ScriptUnchanged("2964217");
    auto daily = SyncStaticData(env.Rt(), Daily());
    EXPECT_TRUE(daily.checked);
    EXPECT_EQ(daily.Total(), 0u);
    EXPECT_EQ(LastIfNoneMatch(kSystems), "\"v1\"");
    EXPECT_EQ(env.Http().Requests().size(), 8u);
    EXPECT_GE(Sweep(kSystems).checked_at_ms, env.Clock().NowMs() - 1000);    // looked at now …
    EXPECT_LT(*Sweep(kSystems).swept_at_ms, env.Clock().NowMs() - kHourMs);  // … swept a day ago
    EXPECT_TRUE(env.Take(KindInfo(EntityKind::kSolarSystem).queue).empty());
}

TEST_F(StaticDataTest, APatchSweepsTheStoredIdsAndAChangedListItsNewIds) {
    ScriptLists("100");
    SyncStaticData(env.Rt(), Daily());
    StoreUniverse();
    for (const auto& k : EntityKinds()) env.Take(k.queue);

    // A patch: same lists (304), a new server version: every stored id is revalidated.
    env.Clock().Advance(25 * kHourMs * 1000);
    ScriptUnchanged("101");
    auto patch = SyncStaticData(env.Rt(), Daily());
    EXPECT_EQ(patch.queued[EntityKind::kSolarSystem], 2u);
    EXPECT_EQ(patch.queued[EntityKind::kRegion], 1u);
    EXPECT_EQ(patch.why[EntityKind::kRegion], "ESI's server version changed (100 → 101)");
    EXPECT_EQ(Bodies(EntityKind::kSolarSystem), (std::vector<std::string>{"30000142", "30000144"}));
    EXPECT_EQ(Sweep(kSystems).server_version, "101");

    // The list itself changes (a new system): its new ids are queued.
    env.Clock().Advance(25 * kHourMs * 1000);
    env.EsiOk(kStatus, Status("101"), "\"s\"", 30);
    env.EsiStatus(kRegions, 304, 86400);
    env.EsiStatus(kConstellations, 304, 86400);
    env.EsiOk(kSystems, "[30000142,30000144,30000145]", "\"v2\"", 86400);
    auto grown = SyncStaticData(env.Rt(), Daily());
    EXPECT_EQ(grown.queued[EntityKind::kSolarSystem], 3u);
    EXPECT_EQ(grown.queued[EntityKind::kRegion], 0u);
    EXPECT_EQ(grown.why[EntityKind::kSolarSystem], "the list changed");
    EXPECT_EQ(env.Store().LoadHttpCache({kSystems}).at(kSystems).etag, "\"v2\"");
}

TEST_F(StaticDataTest, AfterAPatchAListStillInEsisCacheIsLookedAtAgainLater) {
    ScriptLists("100");
    SyncStaticData(env.Rt(), {std::chrono::seconds(60)});
    StoreUniverse();
    for (const auto& k : EntityKinds()) env.Take(k.queue);
    // Two minutes later (the lists expire in a day): a new version, but ESI's lists are cached.
    env.Clock().Advance(2 * 60'000'000);
    env.EsiOk(kStatus, Status("101"), "\"s\"", 30);
    auto early = SyncStaticData(env.Rt(), {std::chrono::seconds(60)});
    EXPECT_TRUE(early.checked);
    EXPECT_EQ(early.Total(), 0u);
    EXPECT_EQ(env.Requests(kSystems), 1u);  // no request before Expires
    EXPECT_EQ(Sweep(kSystems).server_version, "100");
    // Once the lists expired: looked at again (not a day later), and swept.
    env.Clock().Advance(25 * kHourMs * 1000);
    ScriptUnchanged("101");
    auto later = SyncStaticData(env.Rt(), {std::chrono::seconds(60)});
    EXPECT_EQ(later.queued[EntityKind::kSolarSystem], 2u);
}

TEST_F(StaticDataTest, AListEsiDoesNotAnswerIsLookedAtAgainNextTime) {
    env.EsiOk(kStatus, Status("100"), "\"s\"", 30);
    env.EsiOk(kRegions, "[10000002]", "\"v1\"", 86400);
    env.EsiOk(kConstellations, "[20000020]", "\"v1\"", 86400);
    // /universe/systems/ is not scripted: 500s, retried, then given up
    auto r = SyncStaticData(env.Rt(), Daily());
    EXPECT_EQ(r.queued[EntityKind::kRegion], 1u);
    EXPECT_EQ(r.queued[EntityKind::kSolarSystem], 0u);
    EXPECT_TRUE(env.Store().LoadListSweeps({kSystems}).empty());
    env.EsiOk(kStatus, Status("100"), "\"s\"", 30);
    env.EsiOk(kSystems, "[30000142]", "\"v1\"", 86400);
    auto next = SyncStaticData(env.Rt(), Daily());
    EXPECT_EQ(next.queued[EntityKind::kSolarSystem], 1u);
    EXPECT_EQ(next.queued[EntityKind::kRegion], 0u);  // not due: looked at a moment ago
}

}  // namespace
}  // namespace kr::worker
