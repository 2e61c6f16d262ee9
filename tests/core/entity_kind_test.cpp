// The entity-kind registry: every per-kind fact in one row, and what derives from it.
#include "core/entity_kind.hpp"

#include <set>

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
}

TEST(EntityKinds, PathsAndNpcRule) {
    EXPECT_EQ(EntityPath(EntityKind::kType, 587), "/universe/types/587/");
    EXPECT_EQ(EntityPath(EntityKind::kAlliance, 3'000'000'000LL), "/alliances/3000000000/");
    EXPECT_FALSE(ShouldFetch(EntityKind::kCharacter, 3'000'001));  // NPC agent
    EXPECT_FALSE(ShouldFetch(EntityKind::kCharacter, 999'999));
    EXPECT_TRUE(ShouldFetch(EntityKind::kCharacter, 90'000'001));
    EXPECT_TRUE(ShouldFetch(EntityKind::kCorporation, 1'000'125));  // NPC corporations exist on ESI
    EXPECT_FALSE(ShouldFetch(EntityKind::kType, 0));
}

TEST(EntityKinds, ParserYieldsTheKindsEntity) {
    const auto& info = KindInfo(EntityKind::kType);
    Entity e = info.parse(587, R"({"name":"Rifter","description":"d","group_id":25,"published":true})");
    EXPECT_EQ(KindOf(e), EntityKind::kType);
    EXPECT_EQ(IdOf(e), 587);
    EXPECT_EQ(std::get<Type>(e).name, "Rifter");
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
    EXPECT_EQ(
        cols(EntityKind::kType),
        (std::set<std::string>{"attackers.ship_type_id", "attackers.weapon_type_id", "killmail_items.item_type_id",
                               "kr_killmail_item_children.item_type_id", "victims.ship_type_id"}));
}

}  // namespace
}  // namespace kr
