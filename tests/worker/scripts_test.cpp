// The queue scripts (queue:alliances, queue:corporations, queue:alliance-corporations,
// queue:character, queue:zkillboard, scan:entities) on a temp SQLite database and its database
// queue, ESI scripted, a manual clock: exactly which messages each publishes.
#include "worker/scripts.hpp"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/esi_json.hpp"
#include "queue/queue.hpp"
#include "store/samples.hpp"
#include "support/store_helpers.hpp"
#include "support/worker_env.hpp"

namespace kr::worker {
namespace {

using store::testing::ReadSample;

const char* const kAllianceQueue = "esi_alliance_info_queue";
const char* const kCorporationQueue = "esi_corporation_info_queue";

class ScriptsTest : public ::testing::Test {
protected:
    /// The messages on `queue` (taken off it): each parsed, with its priority.
    struct Published {
        std::vector<Id> ids;
        std::vector<std::string> sources;
        std::vector<int> priorities;
        std::vector<std::string> queued_at;
    };
    Published TakeEntities(const std::string& queue) {
        Published p;
        for (const auto& d : env.Take(queue)) {
            auto m = queue::ParseEntityMessage(d.body);
            p.ids.push_back(m.entity_id);
            p.sources.push_back(m.source);
            p.priorities.push_back(d.priority);
            p.queued_at.push_back(m.queued_at);
        }
        return p;
    }
    std::vector<Id> Pending(EntityKind kind) {
        auto r = env.Conn().Exec("SELECT id FROM kr_pending_entities WHERE kind = $1 ORDER BY id",
                                 {std::string(KindInfo(kind).name)});
        std::vector<Id> ids;
        for (std::size_t i = 0; i < r.Rows(); ++i) ids.push_back(r.Int(i, 0));
        return ids;
    }
    static Killmail SomeKillmail(Id id, Id victim, Id victim_corp, Id attacker, Id attacker_corp,
                                 std::optional<Id> alliance) {
        Killmail km;
        km.killmail_id = id;
        km.killmail_hash = "h" + std::to_string(id);
        km.killmail_time = "2025-01-02T03:04:05Z";
        km.solar_system_id = 30000142;
        km.victim.character_id = victim;
        km.victim.corporation_id = victim_corp;
        km.victim.alliance_id = alliance;
        km.victim.ship_type_id = 587;
        km.victim.items = {{3467, 5, std::nullopt, 1, 0, {{34, 0, 100, std::nullopt, 0, {}}}}};
        Attacker a;
        a.character_id = attacker;
        a.corporation_id = attacker_corp;
        a.ship_type_id = 11176;
        a.weapon_type_id = 2881;
        a.final_blow = true;
        km.attackers.push_back(a);
        return km;
    }
    /// A stored character of `corporation`.
    void StoreCharacter(Id id, Id corporation) {
        Character c;
        c.id = id;
        c.name = "Pilot " + std::to_string(id);
        c.corporation_id = corporation;
        c.birthday = "2020-01-01T00:00:00Z";
        c.gender = "female";
        kr::test::UpsertCharacters(env.Store(), {c});
    }
    /// Cache rows for stored entities: their Expires `expires_in_ms` from now.
    void FreshFor(EntityKind kind, const std::vector<Id>& ids, std::int64_t expires_in_ms) {
        std::vector<CacheEntry> rows;
        for (Id id : ids) {
            CacheEntry e = EntityCacheEntry(kind, id);
            e.checked_at_ms = env.Clock().NowMs() - kr::test::kHourMs * 4;
            e.expires_at_ms = env.Clock().NowMs() + expires_in_ms;
            rows.push_back(e);
        }
        env.Store().SaveHttpCache(rows);
    }
    static std::vector<std::string> Repeat(const std::string& s, std::size_t n) {
        return std::vector<std::string>(n, s);
    }
    static std::vector<int> Repeat(int v, std::size_t n) { return std::vector<int>(n, v); }

    kr::test::WorkerEnv env;
};

TEST_F(ScriptsTest, QueueAlliancesPublishesEveryAllianceEsiLists) {
    env.EsiOk("/alliances/", "[99003214, 1354830081, 150097440]");
    EXPECT_EQ(QueueAlliances(env.Rt()), 3u);
    ASSERT_EQ(env.Http().Requests().size(), 1u);
    EXPECT_EQ(env.Http().Requests()[0].request.url, std::string(kr::test::kEsiBase) + "/alliances/");
    auto p = TakeEntities(kAllianceQueue);
    EXPECT_EQ(p.ids, (std::vector<Id>{99003214, 1354830081, 150097440}));
    EXPECT_EQ(p.sources, Repeat("queue-alliances", 3));
    EXPECT_EQ(p.priorities, Repeat(0, 3));
    EXPECT_EQ(p.queued_at, Repeat(env.NowIso(), 3));
}

TEST_F(ScriptsTest, QueueAlliancesFailsOnAnEsiError) {
    // ESI's /status/ says it is up (the downtime gate asks it after a 503): the route itself fails.
    env.Http().SetHandler([](const http::HttpRequest& r) {
        const bool status = r.url.size() >= 8 && r.url.substr(r.url.size() - 8) == "/status/";
        return status ? http::FakeHttpClient::Reply(200, R"({"players":1,"server_version":"1"})")
                      : http::FakeHttpClient::Reply(503, "{}");
    });
    EXPECT_THROW(QueueAlliances(env.Rt()), TransientError);
    EXPECT_TRUE(env.Take(kAllianceQueue).empty());
}

TEST_F(ScriptsTest, QueueCorporationsPublishesMissingNpcCorporationsAndReferencedOnes) {
    env.EsiOk("/corporations/npccorps/", "[1000126, 1000125]");
    // 1000126 is stored already; 98000000/98000001 are referenced by a killmail, 98000002 by a
    // character, 98000003 by a killmail and stored.
    Corporation held;
    held.id = 1000126;
    held.name = "Held NPC Corp";
    held.ticker = "HNC";
    held.ceo_id = 3000001;
    held.creator_id = 1;
    Corporation stored = held;
    stored.id = 98000003;
    kr::test::UpsertCorporations(env.Store(), {held, stored});
    FreshFor(EntityKind::kCorporation, {1000126, 98000003}, kr::test::kHourMs);  // not due for a refresh
    ASSERT_EQ(env.Store()
                  .StoreKillmails({SomeKillmail(1, 90000001, 98000000, 90000002, 98000001, std::nullopt),
                                   SomeKillmail(2, 90000003, 98000003, 90000002, 98000001, std::nullopt)})
                  .inserted,
              2u);
    StoreCharacter(90000004, 98000002);

    EXPECT_EQ(QueueCorporations(env.Rt()), 4u);
    auto p = TakeEntities(kCorporationQueue);
    // the NPC corporations ESI lists first (in its order), then the referenced ones ascending
    EXPECT_EQ(p.ids, (std::vector<Id>{1000125, 98000000, 98000001, 98000002}));
    EXPECT_EQ(p.sources, Repeat("queue-corporations", 4));
    EXPECT_EQ(p.priorities, Repeat(0, 4));
    EXPECT_EQ(Pending(EntityKind::kCorporation), (std::vector<Id>{1000125, 98000000, 98000001, 98000002}));
    // Run again at once: the NPC corporation is queued again (ESI lists it), the referenced ones
    // are pending now.
    env.EsiOk("/corporations/npccorps/", "[1000126, 1000125]");
    EXPECT_EQ(QueueCorporations(env.Rt()), 1u);
    EXPECT_EQ(TakeEntities(kCorporationQueue).ids, (std::vector<Id>{1000125}));
}

TEST_F(ScriptsTest, QueueCorporationsAlsoQueuesStoredOnesPastTheirExpiresLongestExpiredFirst) {
    std::vector<Corporation> corporations;
    for (Id id : {98000001, 98000002, 98000003, 98000004, 98000005}) {
        Corporation c;
        c.id = id;
        c.name = "c";
        c.ticker = "C";
        corporations.push_back(c);
    }
    kr::test::UpsertCorporations(env.Store(), corporations);
    FreshFor(EntityKind::kCorporation, {98000001}, kr::test::kHourMs);       // fresh: not queued
    FreshFor(EntityKind::kCorporation, {98000002}, -kr::test::kHourMs);      // expired an hour ago
    FreshFor(EntityKind::kCorporation, {98000003}, -3 * kr::test::kHourMs);  // three hours ago
    FreshFor(EntityKind::kCorporation, {98000004}, -2 * kr::test::kHourMs);  // two hours ago
    // 98000005 has no cache row (stored before rows were kept): its expiry is unknown, due first.
    env.EsiOk("/corporations/npccorps/", "[]");
    EXPECT_EQ(QueueCorporations(env.Rt(), 3), 3u);
    auto p = TakeEntities(kCorporationQueue);
    EXPECT_EQ(p.ids, (std::vector<Id>{98000005, 98000003, 98000004}));
    EXPECT_EQ(p.sources, Repeat("queue-corporations", 3));
    env.EsiOk("/corporations/npccorps/", "[]");
    EXPECT_EQ(QueueCorporations(env.Rt()), 4u);  // no limit
    EXPECT_EQ(TakeEntities(kCorporationQueue).ids, (std::vector<Id>{98000005, 98000003, 98000004, 98000002}));
}

TEST_F(ScriptsTest, QueueCorporationsAlsoQueuesThoseWhoseAllianceChangedInTheLastSweep) {
    std::vector<Corporation> corporations;
    for (Id id : {98000001, 98000002}) {
        Corporation c;
        c.id = id;
        c.name = "c";
        c.ticker = "C";
        c.alliance_id = 99000001;
        corporations.push_back(c);
    }
    kr::test::UpsertCorporations(env.Store(), corporations);
    StoreCharacter(90000001, 98000001);
    StoreCharacter(90000002, 98000002);
    env.Store().ApplyAffiliations(
        {{90000001, 98000001, 99000001, std::nullopt}, {90000002, 98000002, 99000001, std::nullopt}});
    FreshFor(EntityKind::kCorporation, {98000001, 98000002}, kr::test::kHourMs);  // not due for a refresh
    env.EsiOk("/corporations/npccorps/", "[]");
    EXPECT_EQ(QueueCorporations(env.Rt()), 0u);
    // The sweep: 98000002 left its alliance (its member's affiliation says so).
    env.Clock().Advance(60 * 1'000'000);
    ASSERT_EQ(env.Store().ApplyAffiliations({{90000002, 98000002, std::nullopt, std::nullopt}}),
              (std::vector<Id>{90000002}));
    env.EsiOk("/corporations/npccorps/", "[]");
    EXPECT_EQ(QueueCorporations(env.Rt()), 1u);
    auto p = TakeEntities(kCorporationQueue);
    EXPECT_EQ(p.ids, (std::vector<Id>{98000002}));
    EXPECT_EQ(p.sources, Repeat("queue-corporations", 1));
    // Made stale, so the info worker asks ESI instead of trusting its row.
    auto rows = env.Store().LoadHttpCache({"/corporations/98000002/", "/corporations/98000001/"});
    EXPECT_LE(rows.at("/corporations/98000002/").expires_at_ms, env.Clock().NowMs());
    EXPECT_GT(rows.at("/corporations/98000001/").expires_at_ms, env.Clock().NowMs());
    // Once fetched in its new state it is not queued again.
    env.Clock().Advance(60 * 1'000'000);
    corporations[1].alliance_id = std::nullopt;
    kr::test::UpsertCorporations(env.Store(), {corporations[1]});
    FreshFor(EntityKind::kCorporation, {98000002}, kr::test::kHourMs);
    env.EsiOk("/corporations/npccorps/", "[]");
    EXPECT_EQ(QueueCorporations(env.Rt()), 0u);
}

TEST_F(ScriptsTest, QueueAllianceCorporationsPublishesEveryStoredAlliance) {
    EXPECT_EQ(QueueAllianceCorporations(env.Rt()), 0u);  // none stored yet
    EXPECT_TRUE(env.Take(queue::kAllianceCorporations).empty());
    kr::test::UpsertAlliances(env.Store(),
                              {esi_json::ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json")),
                               esi_json::ParseAlliance(1354830081, ReadSample("esi_alliance_1354830081.json"))});

    EXPECT_EQ(QueueAllianceCorporations(env.Rt()), 2u);
    EXPECT_TRUE(env.Http().Requests().empty());  // from the database only
    auto p = TakeEntities(queue::kAllianceCorporations);
    EXPECT_EQ(p.ids, (std::vector<Id>{99003214, 1354830081}));  // ascending
    EXPECT_EQ(p.sources, Repeat(queue::kAllianceCorporations, 2));
    EXPECT_EQ(p.priorities, Repeat(0, 2));  // below new work: refresh traffic
    EXPECT_EQ(p.queued_at, Repeat(env.NowIso(), 2));
}

TEST_F(ScriptsTest, QueueUserCharactersPublishesAJobPerUser) {
    env.Store().AddUser(95465499, "CCP Falcon");
    env.Store().AddUser(90000001, "Character_90000001");
    EXPECT_EQ(QueueUserCharacters(env.Rt()), 2u);
    auto jobs = env.Take(queue::kZkillboardCharacter);
    ASSERT_EQ(jobs.size(), 2u);
    EXPECT_EQ(jobs[0].body,
              "{\"userId\":null,\"characterId\":90000001,\"characterName\":\"Character_90000001\","
              "\"queuedAt\":\"" +
                  env.NowIso() + "\"}");
    EXPECT_EQ(jobs[1].body,
              "{\"userId\":null,\"characterId\":95465499,\"characterName\":\"CCP Falcon\","
              "\"queuedAt\":\"" +
                  env.NowIso() + "\"}");
    EXPECT_EQ(jobs[0].priority, 0);
    EXPECT_EQ(jobs[1].priority, 0);
}

TEST_F(ScriptsTest, QueueUserCharactersWithoutUsersPublishesNothing) {
    EXPECT_EQ(QueueUserCharacters(env.Rt()), 0u);
    EXPECT_TRUE(env.Take(queue::kZkillboardCharacter).empty());
}

TEST_F(ScriptsTest, QueueZkillboardPublishesAJobPerGivenCharacter) {
    EXPECT_EQ(QueueZkillboard(env.Rt(), {2115636466, 95465499}), 2u);
    auto jobs = env.Take(queue::kZkillboardCharacter);
    ASSERT_EQ(jobs.size(), 2u);
    for (std::size_t i = 0; i < jobs.size(); ++i) {
        auto job = queue::ParseZkillboardJob(jobs[i].body);
        const Id id = i == 0 ? 2115636466 : 95465499;
        EXPECT_EQ(job.character_id, id);
        EXPECT_EQ(job.character_name, "Character_" + std::to_string(id));
        EXPECT_FALSE(job.user_id.has_value());
        EXPECT_FALSE(job.page.has_value());  // from the first page
        EXPECT_EQ(job.queued_at, env.NowIso());
        EXPECT_EQ(jobs[i].priority, 5);
    }
}

TEST_F(ScriptsTest, ScanEntitiesQueuesEveryMissingReferenceOnceThroughItsStages) {
    ASSERT_EQ(env.Store()
                  .StoreKillmails({SomeKillmail(1, 90000001, 98000000, 3000005, 1000125, 99000001),
                                   SomeKillmail(2, 90000003, 98000000, 90000001, 98000001, std::nullopt)})
                  .inserted,
              2u);
    StoreCharacter(90000003, 98000000);

    auto report = ScanEntities(env.Rt(), false);
    // characters: 3000005 is an NPC, 90000003 is stored
    const std::vector<Id> characters{90000001};
    const std::vector<Id> corporations{1000125, 98000000, 98000001};
    const std::vector<Id> alliances{99000001};
    const std::vector<Id> types{34, 587, 2881, 3467, 11176};
    const std::vector<Id> systems{30000142};
    EXPECT_EQ(report.queued[EntityKind::kCharacter], characters.size());
    EXPECT_EQ(report.queued[EntityKind::kCorporation], corporations.size());
    EXPECT_EQ(report.queued[EntityKind::kAlliance], alliances.size());
    EXPECT_EQ(report.queued[EntityKind::kType], types.size());
    EXPECT_EQ(report.queued[EntityKind::kSolarSystem], systems.size());
    EXPECT_EQ(report.queued[EntityKind::kConstellation], 0u);  // no killmail names one
    EXPECT_EQ(report.Total(), 11u);
    const std::vector<std::pair<EntityKind, std::vector<Id>>> expected{{EntityKind::kCharacter, characters},
                                                                       {EntityKind::kCorporation, corporations},
                                                                       {EntityKind::kAlliance, alliances},
                                                                       {EntityKind::kType, types}};
    for (const auto& [kind, ids] : expected) {
        auto p = TakeEntities(KindInfo(kind).queue);
        EXPECT_EQ(p.ids, ids) << KindInfo(kind).queue;
        EXPECT_EQ(p.sources, Repeat("killmail_scan", ids.size()));
        EXPECT_EQ(p.priorities, Repeat(5, ids.size()));
        EXPECT_EQ(p.queued_at, Repeat(env.NowIso(), ids.size()));
        EXPECT_EQ(Pending(kind), ids) << KindInfo(kind).name;  // marked by the last stage
    }
    // The solar system queue carries the original's bare ids.
    auto system_messages = env.Take(KindInfo(EntityKind::kSolarSystem).queue);
    ASSERT_EQ(system_messages.size(), 1u);
    EXPECT_EQ(system_messages[0].body, "30000142");
    EXPECT_EQ(Pending(EntityKind::kSolarSystem), systems);
    EXPECT_TRUE(env.Http().Requests().empty());

    // Queued ids stay out of the next scan while they are pending (6 h), and come back after.
    EXPECT_EQ(ScanEntities(env.Rt(), false).Total(), 0u);
    env.Clock().Advance(7LL * 3600 * 1000 * 1000);
    EXPECT_EQ(ScanEntities(env.Rt(), false).Total(), 11u);
}

}  // namespace
}  // namespace kr::worker
