#include "core/entity_kind.hpp"

#include "core/esi_json.hpp"

namespace kr {

namespace {

constexpr bool Never(Id) { return false; }

template <typename T, T (*Parse)(Id, std::string_view)>
Entity ParseAs(Id id, std::string_view body) {
    return Parse(id, body);
}

constexpr std::array<EntityKindInfo, kEntityKindCount> kKinds = {{
    {EntityKind::kAlliance, "alliance", "alliances", "alliances", "/alliances/", "esi_alliance_info_queue",
     "worker:info:alliances", "esi_alliance_info_queue → ESI → alliances (default concurrency 3)", 3, &Never,
     &ParseAs<Alliance, esi_json::ParseAlliance>},
    {EntityKind::kCorporation, "corporation", "corporations", "corporations", "/corporations/",
     "esi_corporation_info_queue", "worker:info:corporations",
     "esi_corporation_info_queue → ESI → corporations (default 5)", 5, &Never,
     &ParseAs<Corporation, esi_json::ParseCorporation>},
    {EntityKind::kCharacter, "character", "characters", "characters", "/characters/", "esi_character_info_queue",
     "worker:info:characters", "esi_character_info_queue → ESI → characters (default 10, NPCs skipped)", 10,
     &IsNpcCharacter, &ParseAs<Character, esi_json::ParseCharacter>},
    {EntityKind::kType, "type", "types", "types", "/universe/types/", "esi_type_info_queue", "worker:info:types",
     "esi_type_info_queue → ESI → types (default 10)", 10, &Never, &ParseAs<Type, esi_json::ParseType>},
}};

constexpr bool IndexedInOrder() {
    for (std::size_t i = 0; i < kEntityKindCount; ++i) {
        if (KindIndex(kKinds[i].kind) != i) return false;
    }
    return true;
}
static_assert(IndexedInOrder());

}  // namespace

const std::array<EntityKindInfo, kEntityKindCount>& EntityKinds() { return kKinds; }

std::optional<EntityKind> KindByName(std::string_view name) {
    for (const auto& k : kKinds) {
        if (name == k.name) return k.kind;
    }
    return std::nullopt;
}

std::string EntityPath(EntityKind kind, Id id) {
    return std::string(KindInfo(kind).esi_prefix) + std::to_string(id) + "/";
}

bool ShouldFetch(EntityKind kind, Id id) { return id > 0 && !KindInfo(kind).never_fetched(id); }

Id IdOf(const Entity& e) {
    return std::visit([](const auto& v) { return v.id; }, e);
}

}  // namespace kr
