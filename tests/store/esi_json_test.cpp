// core/esi_json: every sample body in shared/samples, plus malformed inputs.
#include "core/esi_json.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "store/samples.hpp"

namespace kr::esi_json {
namespace {

using kr::store::testing::ReadSample;

TEST(EsiJsonTest, Alliances) {
    auto goons = ParseAlliance(1354830081, ReadSample("esi_alliance_1354830081.json"));
    EXPECT_EQ(goons.id, 1354830081);
    EXPECT_EQ(goons.name, "Goonswarm Federation");
    EXPECT_EQ(goons.ticker, "CONDI");
    EXPECT_EQ(goons.date_founded, "2010-06-01T05:36:00Z");
    EXPECT_EQ(goons.creator_corporation_id, 459299583);
    EXPECT_EQ(goons.creator_id, 240070320);
    EXPECT_EQ(goons.executor_corporation_id, 1344654522);
    EXPECT_FALSE(goons.faction_id.has_value());
    auto lawn = ParseAlliance(150097440, ReadSample("esi_alliance_150097440.json"));
    EXPECT_EQ(lawn.name, "Get Off My Lawn");
    EXPECT_EQ(lawn.executor_corporation_id, 98391152);
    auto brave = ParseAlliance(99003214, ReadSample("esi_alliance_99003214.json"));
    EXPECT_EQ(brave.ticker, "BRAVE");
    EXPECT_EQ(brave.creator_id, 91432281);
    // a closed alliance has no executor
    auto closed = ParseAlliance(1, R"({"creator_corporation_id":2,"creator_id":3,"date_founded":"2010-01-01T00:00:00Z",
                                       "name":"Closed","ticker":"X"})");
    EXPECT_FALSE(closed.executor_corporation_id.has_value());
}

TEST(EsiJsonTest, Corporations) {
    auto omip = ParseCorporation(98179071, ReadSample("esi_corporation_98179071.json"));
    EXPECT_EQ(omip.name, "Omicron Project");
    EXPECT_EQ(omip.alliance_id, 150097440);
    EXPECT_EQ(omip.member_count, 22);
    EXPECT_EQ(omip.ceo_id, 743137360);
    EXPECT_EQ(omip.shares, 1000);
    EXPECT_DOUBLE_EQ(omip.tax_rate, 0.10000000149011612);
    EXPECT_EQ(omip.url, "");
    EXPECT_EQ(omip.date_founded, "2013-02-22T21:36:06Z");
    auto karma = ParseCorporation(98370861, ReadSample("esi_corporation_98370861.json"));
    EXPECT_EQ(karma.alliance_id, 1354830081);
    ASSERT_TRUE(karma.description.has_value());
    EXPECT_GT(karma.description->size(), 1000u);
    auto feynman = ParseCorporation(98627127, ReadSample("esi_corporation_98627127.json"));
    EXPECT_FALSE(feynman.alliance_id.has_value());
    EXPECT_DOUBLE_EQ(feynman.tax_rate, 0.0);
    EXPECT_EQ(feynman.creator_id, 2115636466);
    auto zombies = ParseCorporation(98760370, ReadSample("esi_corporation_98760370.json"));
    EXPECT_EQ(zombies.ticker, "Z0M8Y");
    EXPECT_EQ(zombies.alliance_id, 99003214);
    auto tlf = ParseCorporation(1000182, ReadSample("esi_corporation_npc_TribalLiberationForce.json"));
    EXPECT_EQ(tlf.faction_id, 500002);
    EXPECT_FALSE(tlf.date_founded.has_value());
    EXPECT_EQ(tlf.member_count, 22862);
    EXPECT_EQ(tlf.creator_id, 1);
    EXPECT_DOUBLE_EQ(tlf.tax_rate, 0.0);  // integer 0 in the body
}

TEST(EsiJsonTest, Characters) {
    auto ion = ParseCharacter(2115636466, ReadSample("esi_character_2115636466.json"));
    EXPECT_EQ(ion.name, "Ion of Chios");
    EXPECT_EQ(ion.corporation_id, 98627127);
    EXPECT_FALSE(ion.alliance_id.has_value());
    EXPECT_EQ(ion.birthday, "2019-08-28T18:48:02Z");
    EXPECT_EQ(ion.bloodline_id, 2);
    EXPECT_EQ(ion.race_id, 1);
    EXPECT_EQ(ion.gender, "male");
    EXPECT_EQ(ion.security_status, 0.0);
    EXPECT_EQ(ion.description, "");
    EXPECT_FALSE(ion.title.has_value());
    auto swift = ParseCharacter(2118421377, ReadSample("esi_character_2118421377.json"));
    EXPECT_EQ(swift.alliance_id, 434243723);
    EXPECT_DOUBLE_EQ(*swift.security_status, 1.4928743770000001);
    auto gar = ParseCharacter(3019582, ReadSample("esi_character_GarOrga.json"));
    EXPECT_EQ(gar.corporation_id, 1000182);
    EXPECT_EQ(gar.security_status, 0.0);  // integer 0
    auto farmer = ParseCharacter(2112625428, ReadSample("esi_character_RandomJFarmer.json"));
    EXPECT_EQ(farmer.name, "Random J Farmer");
    EXPECT_EQ(farmer.alliance_id, 99007035);
    EXPECT_DOUBLE_EQ(*farmer.security_status, -1.1106748358672103);
}

TEST(EsiJsonTest, Types) {
    auto ammo = ParseType(189, ReadSample("esi_type_189.json"));
    EXPECT_EQ(ammo.group_id, 83);
    EXPECT_EQ(ammo.icon_id, 1293);
    EXPECT_TRUE(ammo.published);
    EXPECT_EQ(ammo.mass, 1.0);
    auto dc = ParseType(2046, ReadSample("esi_type_2046.json"));
    EXPECT_FALSE(dc.name.empty());
    auto astrahus = ParseType(35832, ReadSample("esi_type_35832.json"));
    EXPECT_EQ(astrahus.name, "Astrahus");
    EXPECT_FALSE(astrahus.icon_id.has_value());
    auto kestrel = ParseType(602, ReadSample("esi_type_602.json"));
    EXPECT_EQ(kestrel.name, "Kestrel");
    EXPECT_EQ(kestrel.capacity, 160.0);
    auto domi = ParseType(645, ReadSample("esi_type_645.json"));
    EXPECT_EQ(domi.name, "Dominix");
    EXPECT_EQ(domi.capacity, 750.0);
    // the body names another type
    EXPECT_THROW(ParseType(646, ReadSample("esi_type_645.json")), ParseError);
}

TEST(EsiJsonTest, UniverseRoutes) {
    // Shapes of ESI's /universe/{regions,constellations,systems}/{id}/ (lists of children ignored).
    auto forge = ParseRegion(10000002, R"({"region_id":10000002,"name":"The Forge","description":"d",
        "constellations":[20000001,20000002]})");
    EXPECT_EQ(forge.id, 10000002);
    EXPECT_EQ(forge.name, "The Forge");
    EXPECT_EQ(forge.description, "d");
    EXPECT_FALSE(ParseRegion(10000001, R"({"region_id":10000001,"name":"Derelik","constellations":[]})")
                     .description.has_value());
    auto kimotoro = ParseConstellation(20000020, R"({"constellation_id":20000020,"name":"Kimotoro","region_id":10000002,
        "position":{"x":-1.1e17,"y":3.8e16,"z":-8.3e16},"systems":[30000142]})");
    EXPECT_EQ(kimotoro.region_id, 10000002);
    EXPECT_DOUBLE_EQ(kimotoro.position.y, 3.8e16);
    auto jita = ParseSolarSystem(30000142, R"({"system_id":30000142,"name":"Jita","constellation_id":20000020,
        "security_status":0.9459131360054016,"security_class":"B","star_id":40009076,
        "position":{"x":-1.29e17,"y":6.07e16,"z":1.17e17},"planets":[{"planet_id":40009077,"moons":[1]}],
        "stargates":[50001248],"stations":[60003760]})");
    EXPECT_EQ(jita.name, "Jita");
    EXPECT_EQ(jita.constellation_id, 20000020);
    EXPECT_DOUBLE_EQ(jita.security_status, 0.9459131360054016);
    EXPECT_EQ(jita.security_class, "B");
    EXPECT_EQ(jita.star_id, 40009076);
    EXPECT_DOUBLE_EQ(jita.position.z, 1.17e17);
    // Thera: no security_class, no star, no stargates.
    auto thera = ParseSolarSystem(31000005, R"({"system_id":31000005,"name":"Thera","constellation_id":21000324,
        "security_status":-0.99,"position":{"x":1,"y":2,"z":3}})");
    EXPECT_FALSE(thera.security_class.has_value());
    EXPECT_FALSE(thera.star_id.has_value());
    // required fields, types, the body's own id
    EXPECT_THROW(ParseSolarSystem(30000142, R"({"name":"Jita","constellation_id":1,"position":{"x":1,"y":2,"z":3}})"),
                 ParseError);  // no security_status
    EXPECT_THROW(ParseSolarSystem(30000142, R"({"name":"Jita","constellation_id":1,"security_status":1})"),
                 ParseError);  // no position
    EXPECT_THROW(ParseConstellation(1, R"({"name":"x","region_id":1,"position":{"x":1,"y":2}})"), ParseError);
    EXPECT_THROW(ParseConstellation(1, R"({"name":"x","region_id":"1","position":{"x":1,"y":2,"z":3}})"), ParseError);
    EXPECT_THROW(ParseRegion(10000002, R"({"region_id":10000003,"name":"x","constellations":[]})"), ParseError);
    EXPECT_THROW(ParseRegion(10000002, R"({"region_id":10000002})"), ParseError);
    EXPECT_THROW(ParseRegion(10000002, "[]"), ParseError);
}

TEST(EsiJsonTest, ServerVersion) {
    EXPECT_EQ(ParseServerVersion(R"({"players":23456,"server_version":"2964217","start_time":"2026-07-08T11:00:00Z"})"),
              "2964217");
    EXPECT_EQ(ParseServerVersion(R"({"server_version":2964218})"), "2964218");
    EXPECT_THROW(ParseServerVersion(R"({"players":1})"), ParseError);
    EXPECT_THROW(ParseServerVersion("<html>"), ParseError);
}

TEST(EsiJsonTest, IdLists) {
    auto group = nlohmann::json::parse(ReadSample("esi_group_27.json"));
    auto types = ParseIdList(group["types"].dump());
    EXPECT_EQ(types.size(), group["types"].size());
    EXPECT_FALSE(types.empty());
    auto category = nlohmann::json::parse(ReadSample("esi_category_6.json"));
    EXPECT_EQ(ParseIdList(category["groups"].dump()).size(), category["groups"].size());
    EXPECT_EQ(ParseIdList("[99003214, 3000000000]"), (std::vector<Id>{99003214, 3000000000LL}));
    EXPECT_TRUE(ParseIdList("[]").empty());
    // /universe/names/ is a list of objects, not of ids
    EXPECT_THROW(ParseIdList(ReadSample("esi_universe_names_response.json")), ParseError);
    EXPECT_THROW(ParseIdList("[1, \"2\"]"), ParseError);
    EXPECT_THROW(ParseIdList("{\"a\": 1}"), ParseError);
    EXPECT_THROW(ParseIdList("[1, 2"), ParseError);
}

struct KillmailExpect {
    const char* file;
    Id id;
    std::size_t attackers;
    std::size_t items;
    bool victim_character;
    std::size_t nested;
};

TEST(EsiJsonTest, AllSampleKillmails) {
    const KillmailExpect expects[] = {
        {"killmail_115787551.json", 115787551, 498, 16, false, 0},
        {"killmail_115797013.json", 115797013, 34, 20, true, 0},
        {"killmail_119689329.json", 119689329, 1, 36, true, 10},
        {"killmail_130734446.json", 130734446, 1, 42, true, 0},
        {"killmail_131501165.json", 131501165, 28, 10, false, 0},
        {"killmail_132249213.json", 132249213, 40, 33, true, 0},
        {"killmail_132467594.json", 132467594, 7, 17, true, 0},
    };
    for (const auto& e : expects) {
        SCOPED_TRACE(e.file);
        auto km = ParseKillmail(ReadSample(e.file), "abc");
        EXPECT_EQ(km.killmail_id, e.id);
        EXPECT_EQ(km.killmail_hash, "abc");
        EXPECT_EQ(km.attackers.size(), e.attackers);
        EXPECT_EQ(km.victim.items.size(), e.items);
        EXPECT_EQ(km.victim.character_id.has_value(), e.victim_character);
        EXPECT_TRUE(km.victim.corporation_id.has_value());
        EXPECT_TRUE(km.victim.position.has_value());
        std::size_t nested = 0;
        for (const auto& item : km.victim.items) nested += item.items.size();
        EXPECT_EQ(nested, e.nested);
        EXPECT_FALSE(km.killmail_time.empty());
        EXPECT_GT(km.solar_system_id, 30000000);
        EXPECT_FALSE(km.total_value.has_value());
        std::size_t final_blows = 0;
        for (const auto& a : km.attackers) final_blows += a.final_blow;
        EXPECT_EQ(final_blows, 1u);
    }
    auto war = ParseKillmail(ReadSample("killmail_115787551.json"));
    EXPECT_EQ(war.war_id, 737702);
    EXPECT_TRUE(war.killmail_hash.empty());
    auto npc = ParseKillmail(ReadSample("killmail_130734446.json"));
    ASSERT_EQ(npc.attackers.size(), 1u);
    const auto& a = npc.attackers[0];
    EXPECT_FALSE(a.character_id.has_value());
    EXPECT_FALSE(a.corporation_id.has_value());
    EXPECT_FALSE(a.weapon_type_id.has_value());
    EXPECT_EQ(a.faction_id, 500021);
    EXPECT_EQ(a.ship_type_id, 37470);
    EXPECT_EQ(a.damage_done, 546940);
    EXPECT_EQ(a.security_status, 0.0);
    auto nested = ParseKillmail(ReadSample("killmail_119689329.json"));
    const KillmailItem* container = nullptr;
    for (const auto& item : nested.victim.items) {
        if (!item.items.empty()) container = &item;
    }
    ASSERT_NE(container, nullptr);
    EXPECT_EQ(container->item_type_id, 37456);
    EXPECT_EQ(container->flag, 90);
    EXPECT_EQ(container->items[0].item_type_id, 17559);
    EXPECT_EQ(container->items[0].flag, 21);
    EXPECT_EQ(container->items[0].quantity_destroyed, 1);
    EXPECT_FALSE(container->items[0].quantity_dropped.has_value());
}

TEST(EsiJsonTest, ZkillboardListPages) {
    auto element = ParseZkbPage(ReadSample("zkill_api_list_element_127077318.json"));
    ASSERT_EQ(element.size(), 1u);
    EXPECT_EQ(element[0].killmail_id, 127077318);
    EXPECT_EQ(element[0].zkb.hash, "69b593a7d2cc2542f8b9f74a41237d774ec84b96");
    EXPECT_DOUBLE_EQ(*element[0].zkb.total_value, 1855221500.2);
    EXPECT_DOUBLE_EQ(*element[0].zkb.destroyed_value, 1457853463.74);
    EXPECT_DOUBLE_EQ(*element[0].zkb.dropped_value, 397368036.46);
    EXPECT_FALSE(element[0].killmail.has_value());
    auto kill_id = ParseZkbPage(ReadSample("zkill_api_list_killID_115339013.json"));
    ASSERT_EQ(kill_id.size(), 1u);
    EXPECT_EQ(kill_id[0].killmail_id, 115339013);
    EXPECT_EQ(kill_id[0].zkb.hash, "d7b2b4bbb7e656c39528f55e28c313d26cdeab2b");
    EXPECT_DOUBLE_EQ(*kill_id[0].zkb.total_value, 67131213163.45);

    auto full = ParseZkbPage(ReadSample("zkill_api_character_list_2017_fullformat.json"));
    ASSERT_EQ(full.size(), 2u);
    EXPECT_EQ(full[0].killmail_id, 66587576);
    ASSERT_TRUE(full[0].killmail.has_value());
    const auto& km = *full[0].killmail;
    EXPECT_EQ(km.killmail_id, 66587576);
    EXPECT_EQ(km.killmail_hash, "332dee72541b45446662f3e5fae07b875273b8f2");
    EXPECT_EQ(km.killmail_time, "2017-12-13T23:45:31Z");
    EXPECT_EQ(km.solar_system_id, 30003837);
    EXPECT_EQ(km.victim.character_id, 580797163);
    EXPECT_EQ(km.victim.ship_type_id, 603);
    EXPECT_DOUBLE_EQ(*km.total_value, 28396185.08);
    EXPECT_FALSE(km.dropped_value.has_value());  // not in that zkb block
    EXPECT_FALSE(km.attackers.empty());
    EXPECT_EQ(km.attackers[0].character_id, 93147441);
    EXPECT_TRUE(full[1].killmail.has_value());

    EXPECT_TRUE(ParseZkbPage("[]").empty());
}

TEST(EsiJsonTest, StreamPackagesCarryAnEsiKillmail) {
    // R2Z2 ephemeral: {killmail_id, hash, esi{…}, zkb{…}}
    auto r2z2 = nlohmann::json::parse(ReadSample("zkill_r2z2_ephemeral_134265477.json"));
    auto km = ParseKillmail(r2z2["esi"].dump(), r2z2["hash"].get<std::string>());
    EXPECT_EQ(km.killmail_id, 134265477);
    EXPECT_EQ(km.killmail_id, r2z2["killmail_id"].get<Id>());
    EXPECT_FALSE(km.attackers.empty());
    nlohmann::json list = nlohmann::json::array({{{"killmail_id", r2z2["killmail_id"]}, {"zkb", r2z2["zkb"]}}});
    auto entries = ParseZkbPage(list.dump());
    ASSERT_EQ(entries.size(), 1u);
    EXPECT_EQ(entries[0].zkb.hash, r2z2["zkb"]["hash"].get<std::string>());
    // RedisQ package: {killID, killmail{…}, zkb{…}}
    for (const char* f : {"zkill_redisq_package_132249213.json", "zkill_redisq_package_132467594.json"}) {
        auto pkg = nlohmann::json::parse(ReadSample(f));
        auto parsed = ParseKillmail(pkg["killmail"].dump(), pkg["zkb"]["hash"].get<std::string>());
        EXPECT_EQ(parsed.killmail_id, pkg["killID"].get<Id>());
        EXPECT_EQ(parsed.attackers.size(), pkg["killmail"]["attackers"].size());
    }
}

TEST(EsiJsonTest, MalformedInputsThrowParseError) {
    const std::string alliance = ReadSample("esi_alliance_99003214.json");
    EXPECT_THROW(ParseAlliance(1, alliance.substr(0, alliance.size() / 2)), ParseError);  // truncated
    EXPECT_THROW(ParseAlliance(1, ""), ParseError);
    EXPECT_THROW(ParseAlliance(1, "[]"), ParseError);
    EXPECT_THROW(ParseAlliance(1, R"({"name":"x","date_founded":"2010-01-01T00:00:00Z","creator_corporation_id":1,
                                      "creator_id":2})"),
                 ParseError);  // no ticker
    EXPECT_THROW(ParseAlliance(1, R"({"name":5,"ticker":"x","date_founded":"2010-01-01T00:00:00Z",
                                      "creator_corporation_id":1,"creator_id":2})"),
                 ParseError);  // wrong type
    EXPECT_THROW(ParseCorporation(1, R"({"name":"x","ticker":"y","member_count":"many","ceo_id":1,"creator_id":1,
                                         "tax_rate":0})"),
                 ParseError);
    EXPECT_THROW(ParseCharacter(1, R"({"name":"x"})"), ParseError);
    EXPECT_THROW(ParseType(1, R"({"name":"x","group_id":1.5})"), ParseError);

    const std::string km = ReadSample("killmail_132467594.json");
    EXPECT_THROW(ParseKillmail(km.substr(0, km.size() - 10)), ParseError);
    EXPECT_THROW(ParseKillmail(R"({"killmail_id":1,"killmail_time":"2020-01-01T00:00:00Z","solar_system_id":1,
                                   "attackers":[]})"),
                 ParseError);  // no victim
    EXPECT_THROW(ParseKillmail(R"({"killmail_id":1,"killmail_time":"2020-01-01T00:00:00Z","solar_system_id":1,
                                   "victim":{"ship_type_id":1,"damage_taken":1},
                                   "attackers":[{"damage_done":"1","final_blow":true}]})"),
                 ParseError);
    EXPECT_THROW(ParseKillmail(R"({"killmail_id":1,"killmail_time":"2020-01-01T00:00:00Z","solar_system_id":1,
                                   "victim":{"ship_type_id":1,"damage_taken":1,"items":[{"flag":1,"singleton":0}]},
                                   "attackers":[]})"),
                 ParseError);  // item without item_type_id
    EXPECT_THROW(ParseKillmail("null"), ParseError);
    EXPECT_THROW(ParseKillmail(km + "}"), ParseError);  // unbalanced
    EXPECT_THROW(ParseZkbPage("[] []"), ParseError);    // trailing content
    EXPECT_THROW(ParseKillmail("{\"killmail_id\": 1,"), ParseError);
    // minimal valid killmail: structure victim, faction-only attacker, id above 2^31
    auto ok = ParseKillmail(R"({"killmail_id":3000000000,"killmail_time":"2030-01-01T00:00:00Z","solar_system_id":1,
                                "victim":{"ship_type_id":35832,"damage_taken":1,"corporation_id":98000000},
                                "attackers":[{"faction_id":500021,"damage_done":1,"final_blow":true,
                                              "security_status":0}]})",
                            "h");
    EXPECT_EQ(ok.killmail_id, 3000000000LL);
    EXPECT_FALSE(ok.victim.character_id.has_value());

    EXPECT_THROW(ParseZkbPage(R"([{"killmail_id":1,"zkb":{"totalValue":1}}])"), ParseError);  // no hash
    EXPECT_THROW(ParseZkbPage(R"([{"zkb":{"hash":"a"}}])"), ParseError);                      // no id
    EXPECT_THROW(ParseZkbPage(R"([{"killmail_id":1}])"), ParseError);                         // no zkb
    EXPECT_THROW(ParseZkbPage(R"({"killmail_id":1})"), ParseError);                           // not an array
    EXPECT_THROW(ParseZkbPage("<html>Too many requests</html>"), ParseError);
    EXPECT_THROW(ParseZkbPage(R"([{"killmail_id":1,"zkb":{"hash":"a"},"killmail_time":"2020-01-01T00:00:00Z"}])"),
                 ParseError);  // half a killmail
}

}  // namespace
}  // namespace kr::esi_json

TEST(EsiJsonTest, ClassifyArrayChecksTheWholeDocument) {
    using kr::esi_json::ArrayShape;
    using kr::esi_json::ClassifyArray;
    EXPECT_EQ(ClassifyArray(R"([{"killmail_id":1,"zkb":{"hash":"a"}},{"killmail_id":2}])"), ArrayShape::kArray);
    EXPECT_EQ(ClassifyArray(" [ ] \n"), ArrayShape::kEmptyArray);
    EXPECT_EQ(ClassifyArray(R"({"error":"x"})"), ArrayShape::kNotArray);
    EXPECT_EQ(ClassifyArray("<html>502 Bad Gateway</html>"), ArrayShape::kNotArray);
    EXPECT_EQ(ClassifyArray(""), ArrayShape::kNotArray);
    EXPECT_EQ(ClassifyArray(R"([{"killmail_id":1,"zkb":{"hash":"a"}},{"killmail_id":2,"zk)"), ArrayShape::kNotArray);
    EXPECT_EQ(ClassifyArray(R"([1,2] [3])"), ArrayShape::kNotArray);  // trailing content
}

namespace kr::esi_json {
namespace {

TEST(EsiJsonTest, R2z2PackageCarriesTheWholeKillmail) {
    const auto p = ParseR2z2Package(ReadSample("zkill_r2z2_ephemeral_134265477.json"));
    EXPECT_EQ(p.sequence_id, 96599404);
    EXPECT_FALSE(p.sequence_updated.has_value());
    const auto& km = p.killmail;
    EXPECT_EQ(km.killmail_id, 134265477);
    EXPECT_EQ(km.killmail_hash, "aa937ee180fca44b172de00f2a26e751f5b2a851");
    EXPECT_EQ(km.killmail_time, "2026-03-25T14:26:36Z");
    EXPECT_EQ(km.solar_system_id, 30000743);
    ASSERT_EQ(km.attackers.size(), 1u);
    EXPECT_EQ(km.attackers[0].character_id, 96424385);
    EXPECT_EQ(km.victim.character_id, 2121652582);
    EXPECT_FALSE(km.victim.items.empty());
    EXPECT_DOUBLE_EQ(*km.total_value, 86180108.73);
    EXPECT_DOUBLE_EQ(*km.destroyed_value, 68707522.56);
    EXPECT_DOUBLE_EQ(*km.dropped_value, 17472586.17);

    const auto updated = ParseR2z2Package(
        R"({"killmail_id":5,"hash":"h","sequence_id":12,"sequence_updated":9,"uploaded_at":1,"zkb":{"hash":"h",)"
        R"("totalValue":2.5},"esi":{"killmail_id":5,"killmail_time":"2026-01-01T00:00:00Z","solar_system_id":3,)"
        R"("victim":{"corporation_id":7,"damage_taken":1,"ship_type_id":8},"attackers":[]}})");
    EXPECT_EQ(updated.sequence_updated, 9);
    EXPECT_EQ(updated.killmail.killmail_id, 5);
    EXPECT_DOUBLE_EQ(*updated.killmail.total_value, 2.5);
    EXPECT_THROW(ParseR2z2Package(R"({"killmail_id":6,"sequence_id":1,"zkb":{"hash":"h"},"esi":{"killmail_id":5,)"
                                  R"("killmail_time":"t","solar_system_id":3,"victim":{"corporation_id":7,)"
                                  R"("damage_taken":1,"ship_type_id":8},"attackers":[]}})"),
                 ParseError);
    EXPECT_THROW(ParseR2z2Package(R"({"sequence_id":1,"zkb":{"hash":"h"}})"), ParseError);
    EXPECT_EQ(ParseR2z2Sequence(R"({"sequence": 96599404})"), 96599404);
    EXPECT_THROW(ParseR2z2Sequence("<html></html>"), ParseError);
}

}  // namespace
}  // namespace kr::esi_json
