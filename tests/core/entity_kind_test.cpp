// The entity-kind registry: every per-kind fact in one row, and what derives from it.
#include "core/entity_kind.hpp"

#include <set>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "store/tables.hpp"

namespace kr {
namespace {

TEST(EntityKinds, RowsAreDenseUniqueAndTheOriginals) {
    std::set<std::string> names, tables, queues, commands, prefixes;
    for (std::size_t i = 0; i < EntityKinds().size(); ++i) {
        const auto& k = EntityKinds()[i];
        EXPECT_EQ(KindIndex(k.kind), i);
        EXPECT_EQ(KindAt(i), k.kind);
        EXPECT_EQ(KindByName(k.name), k.kind);
        names.insert(k.name);
        tables.insert(k.table);
        queues.insert(k.queue);
        commands.insert(k.command);
        prefixes.insert(k.esi_prefix);
        EXPECT_GT(k.default_concurrency, 0) << k.name;
        // The store's table for the kind is the registry's.
        EXPECT_EQ(store::tables::EntityTable(k.kind).name, k.table);
    }
    EXPECT_EQ(names.size(), kEntityKindCount);
    EXPECT_EQ(tables.size(), kEntityKindCount);
    EXPECT_EQ(queues.size(), kEntityKindCount);
    EXPECT_EQ(commands.size(), kEntityKindCount);
    EXPECT_EQ(prefixes.size(), kEntityKindCount);
    EXPECT_FALSE(KindByName("planet").has_value());
    // The original's names (drop-in): queues, commands and the spec's default concurrency.
    EXPECT_STREQ(KindInfo(EntityKind::kAlliance).queue, "esi_alliance_info_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kCorporation).queue, "esi_corporation_info_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kCharacter).queue, "esi_character_info_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kType).queue, "esi_type_info_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kCharacter).command, "worker:info:characters");
    EXPECT_EQ(KindInfo(EntityKind::kAlliance).default_concurrency, 3);
    EXPECT_EQ(KindInfo(EntityKind::kCorporation).default_concurrency, 5);
    EXPECT_EQ(KindInfo(EntityKind::kCharacter).default_concurrency, 10);
    // The universe: the original's queues, its script names, its bare-id messages.
    EXPECT_STREQ(KindInfo(EntityKind::kRegion).queue, "esi_regions_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kConstellation).queue, "esi_constellations_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kSolarSystem).queue, "esi_solar_systems_queue");
    EXPECT_STREQ(KindInfo(EntityKind::kRegion).command, "worker:regions");
    EXPECT_STREQ(KindInfo(EntityKind::kConstellation).command, "worker:constellations");
    EXPECT_STREQ(KindInfo(EntityKind::kSolarSystem).command, "worker:solar-systems");
    EXPECT_STREQ(KindInfo(EntityKind::kRegion).queue_command, "queue:regions");
    EXPECT_STREQ(KindInfo(EntityKind::kConstellation).queue_command, "queue:constellations");
    EXPECT_STREQ(KindInfo(EntityKind::kSolarSystem).queue_command, "queue:solar-systems");
    EXPECT_STREQ(KindInfo(EntityKind::kSolarSystem).list_path, "/universe/systems/");
    EXPECT_EQ(KindInfo(EntityKind::kSolarSystem).message, MessageFormat::kBareId);
    EXPECT_EQ(KindInfo(EntityKind::kAlliance).message, MessageFormat::kEntityJson);
    EXPECT_EQ(StaticDataKinds(),
              (std::vector<EntityKind>{EntityKind::kRegion, EntityKind::kConstellation, EntityKind::kSolarSystem}));
    EXPECT_EQ(store::tables::EntityKey(EntityKind::kSolarSystem), "system_id");
    EXPECT_EQ(store::tables::EntityKey(EntityKind::kAlliance), "id");
}

TEST(EntityKinds, PathsAndNpcRule) {
    EXPECT_EQ(EntityPath(EntityKind::kType, 587), "/universe/types/587/");
    EXPECT_EQ(EntityPath(EntityKind::kAlliance, 3'000'000'000LL), "/alliances/3000000000/");
    EXPECT_FALSE(ShouldFetch(EntityKind::kCharacter, 3'000'001));  // NPC agent
    EXPECT_FALSE(ShouldFetch(EntityKind::kCharacter, 999'999));
    EXPECT_TRUE(ShouldFetch(EntityKind::kCharacter, 90'000'001));
    EXPECT_TRUE(ShouldFetch(EntityKind::kCorporation, 1'000'125));  // NPC corporations exist on ESI
    EXPECT_FALSE(ShouldFetch(EntityKind::kType, 0));
    EXPECT_EQ(EntityPath(EntityKind::kSolarSystem, 30000142), "/universe/systems/30000142/");
    EXPECT_EQ(EntityPath(EntityKind::kConstellation, 20000020), "/universe/constellations/20000020/");
    EXPECT_EQ(EntityPath(EntityKind::kRegion, 10000002), "/universe/regions/10000002/");
}

TEST(EntityKinds, ParserYieldsTheKindsEntity) {
    const auto& info = KindInfo(EntityKind::kType);
    Entity e = info.parse(587, R"({"name":"Rifter","description":"d","group_id":25,"published":true})");
    EXPECT_EQ(KindOf(e), EntityKind::kType);
    EXPECT_EQ(IdOf(e), 587);
    EXPECT_EQ(std::get<Type>(e).name, "Rifter");
    Entity sys = KindInfo(EntityKind::kSolarSystem)
                     .parse(30000142, R"({"system_id":30000142,"name":"Jita","constellation_id":20000020,
                        "security_status":0.9459,"position":{"x":1,"y":2,"z":3}})");
    EXPECT_EQ(KindOf(sys), EntityKind::kSolarSystem);
    EXPECT_EQ(IdOf(sys), 30000142);
}

TEST(EntityKinds, ParentsAreTheForeignKeysToOtherKinds) {
    SolarSystem s;
    s.id = 30000142;
    s.constellation_id = 20000020;
    EXPECT_EQ(store::tables::Parents(Entity(s)),
              (std::vector<std::pair<EntityKind, Id>>{{EntityKind::kConstellation, 20000020}}));
    Constellation c;
    c.id = 20000020;
    c.region_id = 10000002;
    EXPECT_EQ(store::tables::Parents(Entity(c)),
              (std::vector<std::pair<EntityKind, Id>>{{EntityKind::kRegion, 10000002}}));
    Region r;
    r.id = 10000002;
    EXPECT_TRUE(store::tables::Parents(Entity(r)).empty());
    // RefersTo without a foreign key is no parent: a character's corporation may be missing.
    Character ch;
    ch.id = 90000001;
    ch.corporation_id = 98000001;
    EXPECT_TRUE(store::tables::Parents(Entity(ch)).empty());
}

TEST(EntityKinds, ReferenceColumnsComeFromTheTableDefinitions) {
    auto cols = [](EntityKind k) {
        std::set<std::string> out;
        for (const auto& r : store::tables::RefColumns(k)) out.insert(r.table + "." + r.column);
        return out;
    };
    EXPECT_EQ(cols(EntityKind::kCharacter), (std::set<std::string>{"attackers.character_id", "victims.character_id"}));
    EXPECT_EQ(
        cols(EntityKind::kCorporation),
        (std::set<std::string>{"attackers.corporation_id", "characters.corporation_id", "victims.corporation_id"}));
    EXPECT_EQ(cols(EntityKind::kAlliance), (std::set<std::string>{"attackers.alliance_id", "characters.alliance_id",
                                                                  "corporations.alliance_id", "victims.alliance_id"}));
    EXPECT_EQ(cols(EntityKind::kSolarSystem), (std::set<std::string>{"killmails.solar_system_id"}));
    EXPECT_EQ(cols(EntityKind::kConstellation), (std::set<std::string>{"solar_systems.constellation_id"}));
    EXPECT_EQ(cols(EntityKind::kRegion), (std::set<std::string>{"constellations.region_id"}));
    EXPECT_EQ(
        cols(EntityKind::kType),
        (std::set<std::string>{"attackers.ship_type_id", "attackers.weapon_type_id", "killmail_items.item_type_id",
                               "kr_killmail_item_children.item_type_id", "victims.ship_type_id"}));
}

}  // namespace
}  // namespace kr
