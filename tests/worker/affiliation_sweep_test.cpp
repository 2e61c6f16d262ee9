// SweepAffiliations (queue:characters) on a temp SQLite database and its database queue, ESI's
// POST /characters/affiliation/ answered by a fake that knows every character's truth, a manual
// clock.
#include "worker/affiliation_sweep.hpp"

#include <unistd.h>

#include <algorithm>
#include <map>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "queue/queue.hpp"
#include "support/captured_log.hpp"
#include "support/worker_env.hpp"

namespace kr::worker {
namespace {

using kr::test::kHourMs;
using nlohmann::json;
const char* const kCharacterQueue = "esi_character_info_queue";
const char* const kCorporationQueue = "esi_corporation_info_queue";
const char* const kAllianceQueue = "esi_alliance_info_queue";

class AffiliationSweepTest : public ::testing::Test {
protected:
    AffiliationSweepTest() {
        // ESI: every character in `truth`; one id that is not fails the whole batch (400).
        env.Http().SetHandler([this](const http::HttpRequest& req) {
            if (req.url.find("/characters/affiliation/") == std::string::npos) {
                return http::FakeHttpClient::Reply(404, "{\"error\":\"Not found\"}");
            }
            auto ids = json::parse(req.body);
            batch_sizes.push_back(ids.size());
            if (ids.size() > 1000) return http::FakeHttpClient::Reply(400, "{\"error\":\"too many\"}");
            json out = json::array();
            for (const auto& id : ids) {
                auto it = truth.find(id.get<Id>());
                if (it == truth.end()) return http::FakeHttpClient::Reply(400, "{\"error\":\"Invalid character ID\"}");
                json e{{"character_id", it->first}, {"corporation_id", it->second.corporation_id}};
                if (it->second.alliance_id) e["alliance_id"] = *it->second.alliance_id;
                if (it->second.faction_id) e["faction_id"] = *it->second.faction_id;
                out.push_back(e);
            }
            return http::FakeHttpClient::Reply(200, out.dump(), {{"Cache-Control", "max-age=3600"}}, latency_us);
        });
    }

    /// A character stored as ESI says now (its cache row checked `age_ms` ago, fresh for a day).
    void StoreCharacter(Id id, Id corporation, std::optional<Id> alliance = std::nullopt, std::int64_t age_ms = 0) {
        Character c;
        c.id = id;
        c.name = "c" + std::to_string(id);
        c.corporation_id = corporation;
        c.alliance_id = alliance;
        c.birthday = "2015-03-24T11:37:00Z";
        c.gender = "male";
        c.bloodline_id = 1;
        c.race_id = 1;
        CacheEntry e = EntityCacheEntry(EntityKind::kCharacter, id);
        e.etag = "\"c\"";
        e.checked_at_ms = env.Clock().NowMs() - age_ms;
        e.expires_at_ms = env.Clock().NowMs() + 24 * kHourMs;
        env.Store().ApplyEntityBatch({{c}, {e}});
        truth[id] = {id, corporation, alliance, std::nullopt};
    }
    void StoreCorporation(Id id, std::optional<Id> alliance) {
        Corporation c;
        c.id = id;
        c.name = "corp";
        c.ticker = "C";
        c.alliance_id = alliance;
        CacheEntry e = EntityCacheEntry(EntityKind::kCorporation, id);
        e.expires_at_ms = env.Clock().NowMs() + kHourMs;
        env.Store().ApplyEntityBatch({{c}, {e}});
    }
    void StoreAlliance(Id id) {
        Alliance a;
        a.id = id;
        a.name = "a";
        a.ticker = "A";
        a.date_founded = "2015-03-24T11:37:00Z";
        env.Store().ApplyEntityBatch({{a}, {}});
    }
    AffiliationSweepReport Sweep(const std::vector<Id>& ids = {}, std::int64_t max_age_ms = 0) {
        AffiliationSweepOptions o;
        o.max_age_ms = max_age_ms;
        return SweepAffiliations(env.Rt(), ids, o);
    }
    std::vector<Id> Sorted(std::vector<Id> v) {
        std::sort(v.begin(), v.end());
        return v;
    }
    db::Result Row(Id id) {
        return env.Conn().Exec("SELECT corporation_id, alliance_id, faction_id FROM characters WHERE id = $1", {id});
    }
    CacheEntry CharacterCache(Id id) {
        const std::string path = EntityPath(EntityKind::kCharacter, id);
        return env.Store().LoadHttpCache({path}).at(path);
    }

    kr::test::WorkerEnv env;
    std::map<Id, CharacterAffiliation> truth;
    std::vector<std::size_t> batch_sizes;
    std::int64_t latency_us = 1000;  ///< of each affiliation answer (manual clock)
};

TEST_F(AffiliationSweepTest, ChangesAreWrittenAndOnlyChangedCharactersAreFetchedInFull) {
    StoreAlliance(99000001);
    StoreCorporation(98000001, 99000001);
    StoreCorporation(98000002, std::nullopt);
    StoreCharacter(90000002, 98000001, 99000001);  // unchanged
    StoreCharacter(90000004, 98000001, 99000001);  // moves to a corporation not stored, in a new alliance
    StoreCharacter(90000006, 98000002);            // biomassed
    StoreCharacter(90000008, 98000002);            // joins a militia
    truth[90000004] = {90000004, 98000003, 99000002, std::nullopt};
    truth[90000006] = {90000006, 1000001, std::nullopt, std::nullopt};
    truth[90000008] = {90000008, 98000002, std::nullopt, 500001};

    auto report = Sweep();
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 1u);  // 4 characters, one request
    EXPECT_EQ(report.characters, 4u);
    EXPECT_EQ(report.changed, 3u);
    for (const auto& [id, a] : truth) {  // every stored row equals ESI's truth
        auto r = Row(id);
        EXPECT_EQ(r.Int(0, 0), a.corporation_id) << id;
        EXPECT_EQ(r.OptInt(0, 1), a.alliance_id) << id;
        EXPECT_EQ(r.OptInt(0, 2), a.faction_id) << id;
    }
    // Full fetches only for the changed ones, their rows stale so the info worker asks ESI.
    EXPECT_EQ(Sorted(env.TakeIds(kCharacterQueue)), (std::vector<Id>{90000004, 90000006, 90000008}));
    const std::int64_t now = env.Clock().NowMs();
    EXPECT_LE(CharacterCache(90000004).expires_at_ms, now);
    EXPECT_GT(CharacterCache(90000002).expires_at_ms, now);
    // The corporations and alliance seen but not stored.
    EXPECT_EQ(Sorted(env.TakeIds(kCorporationQueue)), (std::vector<Id>{1000001, 98000003}));
    EXPECT_EQ(env.TakeIds(kAllianceQueue), (std::vector<Id>{99000002}));

    // Nothing changed since: one request, nothing queued.
    auto again = Sweep();
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 2u);
    EXPECT_EQ(again.changed, 0u);
    EXPECT_TRUE(env.Take(kCharacterQueue).empty());
}

TEST_F(AffiliationSweepTest, RequestsCarryAtMost1000IdsAndARejectedIdIsIsolatedRecordedAndNotAskedAgain) {
    std::vector<Id> ids;
    for (Id i = 0; i < 2500; ++i) {
        const Id id = 2112000001 + 2 * i;
        ids.push_back(id);
        truth[id] = {id, 98000001, std::nullopt, std::nullopt};
    }
    const Id bad = ids[1700];
    truth.erase(bad);
    auto report = Sweep(ids);
    EXPECT_EQ(report.rejected, 1u);
    EXPECT_EQ(report.answered, 2499u);
    for (auto n : batch_sizes) EXPECT_LE(n, 1000u);
    // 3 batches, then halves of the failing one down to the bad id: ≤ 2 per level.
    EXPECT_LE(env.Requests("/characters/affiliation/"), 3u + 2u * 10u);
    const auto row = CharacterCache(bad);
    EXPECT_EQ(row.status, 404);
    EXPECT_GT(row.expires_at_ms, env.Clock().NowMs());
    // The given ids were not stored: all but the bad one are queued for a full fetch.
    auto queued = env.TakeIds(kCharacterQueue);
    EXPECT_EQ(queued.size(), 2499u);
    EXPECT_EQ(std::count(queued.begin(), queued.end(), bad), 0);

    batch_sizes.clear();
    auto again = Sweep(ids);
    EXPECT_EQ(again.known_bad, 1u);
    EXPECT_EQ(again.rejected, 0u);
    EXPECT_EQ(batch_sizes, (std::vector<std::size_t>{1000, 1000, 499}));  // the bad id is not asked again
}

TEST_F(AffiliationSweepTest, ALongSweepWritesPlainProgressLines) {
    if (::isatty(STDERR_FILENO)) GTEST_SKIP() << "stderr is a terminal: the line is rewritten in place there";
    std::vector<Id> ids;
    for (Id i = 0; i < 5000; ++i) {
        const Id id = 2112000001 + 2 * i;
        ids.push_back(id);
        truth[id] = {id, 98000001, std::nullopt, std::nullopt};
    }
    latency_us = 4'000'000;  // 5 pages of one request each, 20 s: a line every 10 s (the default)
    test::CapturedLog log;
    AffiliationSweepOptions o;
    o.page = 1000;
    SweepAffiliations(env.Rt(), ids, o);
    EXPECT_EQ(log.Count("info queue:characters: 3000/5000 characters swept (60%), 250/s, ETA 8 s\n"), 1u) << log.Text();
    // The last line (Finish), then the sweep's own summary.
    EXPECT_EQ(log.Count("info queue:characters: 5000/5000 characters swept (100%), 250/s\n"), 1u) << log.Text();
}

TEST_F(AffiliationSweepTest, CharactersOlderThanMaxAgeAreFetchedInFull) {
    StoreCharacter(90000002, 98000001, std::nullopt, 10 * kHourMs);
    StoreCharacter(90000004, 98000001, std::nullopt, 1 * kHourMs);
    StoreCorporation(98000001, std::nullopt);
    Sweep({}, 0);
    EXPECT_TRUE(env.Take(kCharacterQueue).empty());  // max age off: nothing changed, nothing fetched
    Sweep({}, 5 * kHourMs);
    EXPECT_EQ(env.TakeIds(kCharacterQueue), (std::vector<Id>{90000002}));
}

TEST_F(AffiliationSweepTest, AStoredCorporationWhoseAllianceChangedIsQueuedWithItsRowStale) {
    StoreAlliance(99000001);
    StoreAlliance(99000002);
    StoreCorporation(98000001, 99000001);
    StoreCharacter(90000002, 98000001, 99000001);
    truth[90000002].alliance_id = 99000002;  // the corporation moved to another alliance
    Sweep();
    EXPECT_EQ(Row(90000002).OptInt(0, 1), 99000002);
    EXPECT_EQ(env.TakeIds(kCorporationQueue), (std::vector<Id>{98000001}));
    const std::string path = EntityPath(EntityKind::kCorporation, 98000001);
    EXPECT_LE(env.Store().LoadHttpCache({path}).at(path).expires_at_ms, env.Clock().NowMs());
    EXPECT_TRUE(env.Take(kAllianceQueue).empty());  // both alliances are stored
}

TEST_F(AffiliationSweepTest, NpcCharactersAreNotAsked) {
    auto report = Sweep({3000001, 3000002});
    EXPECT_EQ(report.characters, 0u);
    EXPECT_EQ(env.Requests("/characters/affiliation/"), 0u);
}

}  // namespace
}  // namespace kr::worker
