// The generated universe: determinism, ESI schema faithfulness, edge cases, histories, samples.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "fake_esi_test_util.hpp"

namespace fakeesi {
namespace {

using json = nlohmann::json;

UniverseParams Small(std::uint64_t seed = 7) {
    UniverseParams p;
    p.seed = seed;
    p.alliances = 10;
    p.corporations = 60;
    p.characters = 600;
    p.types = 100;
    p.killmails = 1500;
    p.history_characters = 3;
    p.history_kills = 120;
    return p;
}

// Every key must be one ESI documents; required keys must be present; types as in ESI.
void CheckKeys(const json& j, const std::set<std::string>& required, const std::set<std::string>& optional,
               const std::string& what) {
    ASSERT_TRUE(j.is_object()) << what;
    for (const auto& k : required) EXPECT_TRUE(j.contains(k)) << what << " lacks " << k << ": " << j.dump();
    for (const auto& [k, v] : j.items())
        EXPECT_TRUE(required.count(k) || optional.count(k)) << what << " has unexpected key " << k;
    for (const auto& [k, v] : j.items()) EXPECT_FALSE(v.is_null()) << what << " has null " << k;
}

const std::set<std::string> kAllianceReq = {"creator_corporation_id", "creator_id", "date_founded", "name", "ticker"};
const std::set<std::string> kAllianceOpt = {"executor_corporation_id", "faction_id"};
const std::set<std::string> kCorpReq = {"ceo_id", "creator_id", "member_count", "name", "tax_rate", "ticker"};
const std::set<std::string> kCorpOpt = {"alliance_id",     "date_founded", "description", "faction_id",
                                        "home_station_id", "shares",       "url",         "war_eligible"};
const std::set<std::string> kCharReq = {"birthday", "bloodline_id", "corporation_id", "gender", "name", "race_id"};
const std::set<std::string> kCharOpt = {"alliance_id", "description", "faction_id", "security_status", "title"};
const std::set<std::string> kTypeReq = {"description", "group_id", "name", "published", "type_id"};
const std::set<std::string> kTypeOpt = {"capacity",     "dogma_attributes", "dogma_effects", "graphic_id",
                                        "icon_id",      "market_group_id",  "mass",          "packaged_volume",
                                        "portion_size", "radius",           "volume"};
const std::set<std::string> kKmReq = {"attackers", "killmail_id", "killmail_time", "solar_system_id", "victim"};
const std::set<std::string> kKmOpt = {"moon_id", "war_id"};
const std::set<std::string> kAttReq = {"damage_done", "final_blow", "security_status"};
const std::set<std::string> kAttOpt = {"alliance_id", "character_id", "corporation_id",
                                       "faction_id",  "ship_type_id", "weapon_type_id"};
const std::set<std::string> kVicReq = {"damage_taken", "ship_type_id"};
const std::set<std::string> kVicOpt = {"alliance_id", "character_id", "corporation_id",
                                       "faction_id",  "position",     "items"};
const std::set<std::string> kItemReq = {"flag", "item_type_id", "singleton"};
const std::set<std::string> kItemOpt = {"quantity_destroyed", "quantity_dropped", "items"};

TEST(FakeEsiUniverse, SameSeedSameDataDifferentSeedDifferentData) {
    Universe a(Small(7)), b(Small(7)), c(Small(8));
    ASSERT_EQ(a.AllKillmailIds(), b.AllKillmailIds());
    ASSERT_EQ(a.AllCharacterIds(), b.AllCharacterIds());
    int differ = 0;
    for (auto id : a.AllCharacterIds()) {
        EXPECT_EQ(a.Character(id), b.Character(id));
        if (a.Character(id) != c.Character(id)) ++differ;
    }
    for (auto id : a.AllCorporationIds()) EXPECT_EQ(a.Corporation(id), b.Corporation(id));
    for (auto id : a.AllAllianceIds()) EXPECT_EQ(a.Alliance(id), b.Alliance(id));
    for (auto id : a.AllTypeIds()) EXPECT_EQ(a.Type(id), b.Type(id));
    for (auto id : a.AllKillmailIds()) {
        EXPECT_EQ(a.Killmail(id), b.Killmail(id));
        EXPECT_EQ(a.KillmailHash(id), b.KillmailHash(id));
        EXPECT_EQ(a.Zkb(id), b.Zkb(id));
    }
    for (auto id : a.HistoryCharacterIds()) EXPECT_EQ(a.CharacterKillmails(id), b.CharacterKillmails(id));
    EXPECT_GT(differ, 100);
    auto km = a.AllKillmailIds().back();
    EXPECT_NE(a.KillmailHash(km), c.KillmailHash(km));
}

TEST(FakeEsiUniverse, RecordsHaveEsiFieldsAndTypes) {
    Universe u(Small());
    int without_executor = 0, with_executor = 0;
    for (auto id : u.AllAllianceIds()) {
        auto j = *u.Alliance(id);
        CheckKeys(j, kAllianceReq, kAllianceOpt, "alliance");
        EXPECT_TRUE(j["creator_id"].is_number_integer());
        EXPECT_TRUE(j["name"].is_string());
        (j.contains("executor_corporation_id") ? with_executor : without_executor)++;
    }
    EXPECT_GT(without_executor, 0);
    EXPECT_GT(with_executor, 0);

    int npc = 0, no_alliance = 0, with_faction = 0;
    for (auto id : u.AllCorporationIds()) {
        auto j = *u.Corporation(id);
        CheckKeys(j, kCorpReq, kCorpOpt, "corporation");
        EXPECT_TRUE(j["tax_rate"].is_number());
        EXPECT_TRUE(j["member_count"].is_number_integer());
        if (Universe::IsNpcCorporationId(id)) {
            ++npc;
            EXPECT_FALSE(j.contains("date_founded"));
        }
        if (!j.contains("alliance_id")) ++no_alliance;
        if (j.contains("faction_id")) ++with_faction;
    }
    EXPECT_GE(npc, 10);
    EXPECT_GT(no_alliance, npc);  // some player corporations have no alliance
    EXPECT_GT(with_faction, 0);

    std::map<std::string, int> optional_seen;
    int above_2_31 = 0;
    for (auto id : u.AllCharacterIds()) {
        auto j = *u.Character(id);
        CheckKeys(j, kCharReq, kCharOpt, "character");
        EXPECT_TRUE(j["gender"] == "male" || j["gender"] == "female");
        EXPECT_TRUE(j["birthday"].get<std::string>().size() == 20);
        for (const auto& k : kCharOpt) optional_seen[k] += j.contains(k) ? 1 : 0;
        if (id > 2147483647) ++above_2_31;
    }
    for (const auto& k : kCharOpt) {
        EXPECT_GT(optional_seen[k], 0) << k << " never present";
        EXPECT_LT(optional_seen[k], static_cast<int>(u.AllCharacterIds().size())) << k << " always present";
    }
    EXPECT_GT(above_2_31, 10);
    for (auto id : u.NpcCharacterIds()) CheckKeys(*u.Character(id), kCharReq, kCharOpt, "npc character");

    for (auto id : u.AllTypeIds()) {
        auto j = *u.Type(id);
        CheckKeys(j, kTypeReq, kTypeOpt, "type");
        EXPECT_TRUE(j["published"].is_boolean());
    }
}

TEST(FakeEsiUniverse, KillmailsCoverTheEdgeCases) {
    Universe u(Small());
    auto deleted = u.DeletedCharacterIds();
    std::set<std::int64_t> deleted_set(deleted.begin(), deleted.end());
    ASSERT_FALSE(deleted.empty());
    int structures = 0, nested = 0, npc_corp_only = 0, faction_only = 0, npc_chars = 0, no_ship = 0, big_ids = 0,
        big_chars = 0, deleted_refs = 0, empty_items = 0, wars = 0;
    std::string prev_time;
    std::int64_t prev_id = 0;
    std::function<void(const json&, int)> check_items = [&](const json& items, int depth) {
        for (const auto& it : items) {
            CheckKeys(it, kItemReq, kItemOpt, "item");
            EXPECT_TRUE(it.contains("quantity_destroyed") || it.contains("quantity_dropped"));
            if (it.contains("items")) {
                EXPECT_EQ(depth, 0) << "only one level of nesting";
                ++nested;
                check_items(it["items"], depth + 1);
            }
        }
    };
    for (int i = 0; i < u.Params().killmails; ++i) {
        const std::int64_t id = u.KillmailId(i);
        auto km = *u.Killmail(id);
        CheckKeys(km, kKmReq, kKmOpt, "killmail");
        EXPECT_EQ(km["killmail_id"], id);
        EXPECT_GT(id, prev_id);
        EXPECT_GT(km["killmail_time"].get<std::string>(), prev_time);  // ids and times both increase
        prev_id = id;
        prev_time = km["killmail_time"].get<std::string>();
        if (id > 2147483647) ++big_ids;
        if (km.contains("war_id")) ++wars;
        const auto& v = km["victim"];
        CheckKeys(v, kVicReq, kVicOpt, "victim");
        if (!v.contains("character_id")) ++structures;
        if (v.contains("items")) {
            if (v["items"].empty()) ++empty_items;
            check_items(v["items"], 0);
        }
        int final_blows = 0;
        for (const auto& a : km["attackers"]) {
            CheckKeys(a, kAttReq, kAttOpt, "attacker");
            final_blows += a["final_blow"].get<bool>() ? 1 : 0;
            if (!a.contains("character_id") && a.contains("corporation_id")) {
                ++npc_corp_only;
                EXPECT_TRUE(Universe::IsNpcCorporationId(a["corporation_id"]));
            }
            if (!a.contains("character_id") && !a.contains("corporation_id")) {
                ++faction_only;
                EXPECT_TRUE(a.contains("faction_id"));
            }
            if (a.contains("character_id") && Universe::IsNpcCharacterId(a["character_id"])) ++npc_chars;
            if (!a.contains("ship_type_id")) ++no_ship;
        }
        EXPECT_EQ(final_blows, 1);
        std::vector<json> people = {v};
        for (const auto& a : km["attackers"]) people.push_back(a);
        for (const auto& p : people) {
            if (!p.contains("character_id")) continue;
            auto cid = p["character_id"].get<std::int64_t>();
            if (cid > 2147483647) ++big_chars;
            if (deleted_set.count(cid)) ++deleted_refs;
        }
    }
    EXPECT_GT(structures, 0);
    EXPECT_GT(nested, 0);
    EXPECT_GT(npc_corp_only, 0);
    EXPECT_GT(faction_only, 0);
    EXPECT_GT(npc_chars, 0);
    EXPECT_GT(no_ship, 0);
    EXPECT_GT(big_ids, 0);
    EXPECT_GT(big_chars, 0);
    EXPECT_GT(deleted_refs, 0);
    EXPECT_GT(empty_items, 0);
    EXPECT_GT(wars, 0);
    for (auto id : deleted) EXPECT_FALSE(u.Character(id).has_value());
}

// --int32-ids: a universe a database the original created can hold (INTEGER ids), the same
// characters found by their ids, every id they reference below 2^31.
TEST(FakeEsiUniverse, Int32IdsStayBelowTwo31) {
    UniverseParams p = Small();
    p.int32_ids = true;
    Universe u(p);
    constexpr std::int64_t kMax = 2147483647;
    auto characters = u.AllCharacterIds();
    auto deleted = u.DeletedCharacterIds();
    characters.insert(characters.end(), deleted.begin(), deleted.end());
    for (auto id : characters) {
        EXPECT_LE(id, kMax);
        EXPECT_TRUE(u.Character(id).has_value() || std::count(deleted.begin(), deleted.end(), id)) << id;
    }
    std::function<void(const json&)> ids_ok = [&](const json& j) {
        if (j.is_object() || j.is_array()) {
            for (const auto& v : j) ids_ok(v);
        } else if (j.is_number_integer()) {
            EXPECT_LE(j.get<std::int64_t>(), kMax);
        }
    };
    for (auto id : u.AllKillmailIds()) {
        EXPECT_LE(id, kMax);
        ids_ok(*u.Killmail(id));
    }
}

TEST(FakeEsiUniverse, NamesWithQuotesUnicodeAndSql) {
    Universe u(Small());
    std::set<std::string> names;
    for (auto id : u.AllCharacterIds()) names.insert((*u.Character(id))["name"].get<std::string>());
    for (auto id : u.AllCorporationIds()) names.insert((*u.Corporation(id))["name"].get<std::string>());
    for (auto id : u.AllAllianceIds()) names.insert((*u.Alliance(id))["name"].get<std::string>());
    EXPECT_TRUE(names.count("O'Brien \"x\"; DROP TABLE--"));
    EXPECT_TRUE(names.count("Ünïcødé 日本"));
    EXPECT_TRUE(names.count("Robert'); DROP TABLE characters;--"));
    EXPECT_TRUE(names.count("Ωmega 株式会社"));
    EXPECT_TRUE(names.count("Ållïåncé 連盟"));
}

TEST(FakeEsiUniverse, HistoriesAreExactAndNewestFirst) {
    Universe u(Small());
    // brute force: who appears in which killmail
    std::map<std::int64_t, std::vector<std::int64_t>> expect;
    for (auto id : u.AllKillmailIds()) {
        if (u.KillmailIndex(id) < 0) continue;  // samples have no histories
        auto km = *u.Killmail(id);
        std::set<std::int64_t> who;
        if (km["victim"].contains("character_id")) who.insert(km["victim"]["character_id"].get<std::int64_t>());
        for (const auto& a : km["attackers"])
            if (a.contains("character_id")) who.insert(a["character_id"].get<std::int64_t>());
        for (auto c : who)
            if (!Universe::IsNpcCharacterId(c)) expect[c].push_back(id);
    }
    std::size_t checked = 0;
    for (auto& [c, v] : expect) {
        std::sort(v.rbegin(), v.rend());
        ASSERT_EQ(u.CharacterKillmails(c), v) << c;
        ++checked;
    }
    EXPECT_GT(checked, 400u);
    for (auto h : u.HistoryCharacterIds()) {
        auto v = u.CharacterKillmails(h);
        EXPECT_GE(v.size(), 120u);
        EXPECT_TRUE(std::is_sorted(v.rbegin(), v.rend()));
        auto p1 = u.CharacterKillmailPage(h, 1, 50), p3 = u.CharacterKillmailPage(h, 3, 50);
        EXPECT_EQ(p1.size(), 50u);
        EXPECT_EQ(p1.front(), v.front());
        EXPECT_EQ(p3.front(), v[100]);
        EXPECT_TRUE(u.CharacterKillmailPage(h, 100, 50).empty());
    }
}

TEST(FakeEsiUniverse, SamplesAreServedForTheirIds) {
    std::string dir = DefaultSamplesDir();
    if (dir.empty()) GTEST_SKIP() << "no samples dir";
    UniverseParams p = Small();
    p.samples_dir = dir;
    Universe u(p);
    auto read = [&](const std::string& f) {
        std::ifstream in(dir + "/" + f);
        return json::parse(in);
    };
    EXPECT_EQ(*u.Alliance(1354830081), read("esi_alliance_1354830081.json"));
    EXPECT_EQ(*u.Corporation(98627127), read("esi_corporation_98627127.json"));
    EXPECT_EQ(*u.Character(2115636466), read("esi_character_2115636466.json"));
    EXPECT_EQ(*u.Type(645), read("esi_type_645.json"));
    EXPECT_EQ(*u.Killmail(119689329), read("killmail_119689329.json"));
    EXPECT_EQ(*u.KillmailHash(132249213), "6c9c2e5ea6b26f20f05e503af7676831a396e7bd");
    EXPECT_EQ((*u.Corporation(1000182))["name"], "Tribal Liberation Force");
    EXPECT_EQ((*u.Name(645))["category"], "inventory_type");
    EXPECT_EQ(u.KillmailHash(119689329)->size(), 40u);
    EXPECT_EQ((*u.Zkb(132249213))["totalValue"], 5209717163.63);
}

TEST(FakeEsiUniverse, MutationsChangeCurrentRecordsOnly) {
    Universe u(Small());
    const std::int64_t corp = Universe::kCorpBase + 3;  // corp 3 founded alliance 3
    ASSERT_TRUE(u.Corporation(corp)->contains("alliance_id"));
    auto km_before = u.Killmail(u.KillmailId(10));
    ASSERT_TRUE(u.CorporationLeaveAlliance(corp));
    EXPECT_FALSE(u.Corporation(corp)->contains("alliance_id"));
    EXPECT_FALSE(u.Alliance(Universe::kAllianceBase + 3)->contains("executor_corporation_id"));
    EXPECT_EQ(u.Killmail(u.KillmailId(10)), km_before);  // killmails are immutable
    auto ch = u.CharacterId(7);
    ASSERT_TRUE(u.CharacterMove(ch, 1000001 + 0));
    EXPECT_EQ((*u.Character(ch))["corporation_id"], 1000001);
    EXPECT_FALSE(u.Character(ch)->contains("alliance_id"));
    EXPECT_FALSE(u.CharacterMove(ch, 12345));
    EXPECT_TRUE(u.AllianceRemoveExecutor(Universe::kAllianceBase + 0));
    EXPECT_FALSE(u.Alliance(Universe::kAllianceBase + 0)->contains("executor_corporation_id"));
    EXPECT_EQ(u.MutationCount(), 3u);
}

const std::set<std::string> kRegionReq = {"constellations", "name", "region_id"};
const std::set<std::string> kRegionOpt = {"description"};
const std::set<std::string> kConstellationReq = {"constellation_id", "name", "position", "region_id", "systems"};
const std::set<std::string> kSystemReq = {"constellation_id", "name", "position", "security_status", "system_id"};
const std::set<std::string> kSystemOpt = {"security_class", "star_id", "planets", "stargates", "stations"};

TEST(FakeEsiUniverse, TheMapIsConsistentAndHasTheEdgeCases) {
    Universe u(Small());
    const auto& g = u.Geo();
    auto regions = g.RegionIds().get<std::vector<std::int64_t>>();
    auto constellations = g.ConstellationIds().get<std::vector<std::int64_t>>();
    auto systems = g.SystemIds().get<std::vector<std::int64_t>>();
    EXPECT_EQ(regions, (std::vector<std::int64_t>{10000001, 10000002, 10000003, 11000001}));  // 3 k-space + w-space
    EXPECT_EQ(constellations.size(), 12u);
    EXPECT_EQ(systems.size(), 48u);
    EXPECT_TRUE(std::is_sorted(systems.begin(), systems.end()));
    bool no_description = false, no_class = false, no_star = false, wspace = false;
    std::set<std::int64_t> listed_constellations;
    for (auto r : regions) {
        auto j = *g.Region(r);
        CheckKeys(j, kRegionReq, kRegionOpt, "region");
        no_description = no_description || !j.contains("description");
        for (const auto& c : j["constellations"]) listed_constellations.insert(c.get<std::int64_t>());
    }
    EXPECT_EQ(listed_constellations, std::set<std::int64_t>(constellations.begin(), constellations.end()));
    std::set<std::int64_t> listed_systems;
    for (auto c : constellations) {
        auto j = *g.Constellation(c);
        CheckKeys(j, kConstellationReq, {}, "constellation");
        EXPECT_TRUE(g.Region(j["region_id"].get<std::int64_t>()).has_value());
        EXPECT_TRUE(j["position"]["y"].is_number_float());
        for (const auto& s : j["systems"]) listed_systems.insert(s.get<std::int64_t>());
    }
    EXPECT_EQ(listed_systems, std::set<std::int64_t>(systems.begin(), systems.end()));
    for (auto s : systems) {
        auto j = *g.SolarSystem(s);
        CheckKeys(j, kSystemReq, kSystemOpt, "system");
        EXPECT_EQ(j["system_id"], s);
        EXPECT_GE(j["security_status"].get<double>(), -1.0);
        EXPECT_LE(j["security_status"].get<double>(), 1.0);
        no_class = no_class || !j.contains("security_class");
        no_star = no_star || !j.contains("star_id");
        wspace = wspace || s >= 31000000;
        EXPECT_EQ(u.Name(s).value()["category"], "solar_system");
    }
    EXPECT_TRUE(no_description && no_class && no_star && wspace);
    EXPECT_FALSE(g.SolarSystem(30000142).has_value());
    EXPECT_FALSE(g.Region(12345).has_value());
    // Killmails happen in the map's systems.
    for (int i = 0; i < 200; ++i) {
        auto sys = (*u.Killmail(u.KillmailId(i)))["solar_system_id"].get<std::int64_t>();
        EXPECT_TRUE(std::binary_search(systems.begin(), systems.end(), sys)) << sys;
    }
    // Sizes are parameters; the same seed gives the same map.
    auto p = Small();
    p.regions = 2;
    p.constellations_per_region = 1;
    p.systems_per_constellation = 2;
    Universe small(p);
    EXPECT_EQ(small.Geo().SystemIds().size(), 4u);
    EXPECT_EQ(Universe(Small()).Geo().SolarSystem(30000005), g.SolarSystem(30000005));
}

TEST(FakeEsiUniverse, APatchChangesTheMapAndTheServerVersion) {
    Universe u(Small());
    auto& g = u.Geo();
    const std::string version = g.ServerVersion();
    const auto killmail = u.Killmail(u.KillmailId(3));
    EXPECT_TRUE(g.RenameSystem(30000002, "Renamed"));
    EXPECT_EQ((*g.SolarSystem(30000002))["name"], "Renamed");
    EXPECT_NE(g.ServerVersion(), version);
    EXPECT_TRUE(g.MoveConstellation(20000001, 10000002));
    EXPECT_EQ((*g.Constellation(20000001))["region_id"], 10000002);
    EXPECT_EQ((*g.Region(10000002))["constellations"].front(), 20000001);
    auto added = g.AddSystem(20000001);
    ASSERT_TRUE(added.has_value());
    EXPECT_EQ(g.SystemIds().size(), 49u);
    EXPECT_EQ((*g.SolarSystem(*added))["constellation_id"], 20000001);
    EXPECT_EQ(g.Patches(), 3u);
    EXPECT_FALSE(g.RenameSystem(30000142, "x"));
    EXPECT_FALSE(g.MoveConstellation(20000001, 10000099));
    EXPECT_EQ(u.Killmail(u.KillmailId(3)), killmail);  // killmails do not change
}

TEST(FakeEsiUniverse, LargeUniverseIsLazy) {
    UniverseParams p;
    p.killmails = 200000;
    p.characters = 50000;
    auto t0 = std::chrono::steady_clock::now();
    Universe u(p);
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::printf("[info] 200k killmails / 50k characters universe built in %.3f s\n", s);
    EXPECT_EQ(u.AllKillmailIds().size(), 200000u);
    EXPECT_TRUE(u.Killmail(u.KillmailId(199999)).has_value());
}

}  // namespace
}  // namespace fakeesi
