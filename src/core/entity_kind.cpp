#include "core/entity_kind.hpp"

#include <algorithm>
#include <limits>

#include "core/esi_json.hpp"

namespace kr {

namespace {

/// A parser for the kind's route; constructing the alternative by the kind's index makes a parser
/// that yields another kind's entity fail to compile.
template <EntityKind K, auto Parse>
Entity ParseAs(Id id, std::string_view body) {
    return Entity(std::in_place_index<KindIndex(K)>, Parse(id, body));
}

/// NPC characters: below 1,000,000 and the 3,000,000 block (agents); never on ESI.
constexpr IdRange kNpcCharacters[] = {{std::numeric_limits<Id>::min(), 999'999}, {3'000'000, 3'999'999}};

constexpr std::array<EntityKindInfo, kEntityKindCount> kKinds = {{
    {EntityKind::kAlliance,
     "alliance",
     "alliances",
     "alliances",
     "/alliances/",
     "esi_alliance_info_queue",
     "worker:info:alliances",
     3,
     {},
     false,
     2,
     &ParseAs<EntityKind::kAlliance, esi_json::ParseAlliance>},
    {EntityKind::kCorporation,
     "corporation",
     "corporations",
     "corporations",
     "/corporations/",
     "esi_corporation_info_queue",
     "worker:info:corporations",
     5,
     {},
     false,
     1,
     &ParseAs<EntityKind::kCorporation, esi_json::ParseCorporation>},
    {EntityKind::kCharacter, "character", "characters", "characters", "/characters/", "esi_character_info_queue",
     "worker:info:characters", 10, kNpcCharacters, true, 0, &ParseAs<EntityKind::kCharacter, esi_json::ParseCharacter>},
    {EntityKind::kType,
     "type",
     "types",
     "types",
     "/universe/types/",
     "esi_type_info_queue",
     "worker:info:types",
     10,
     {},
     false,
     3,
     &ParseAs<EntityKind::kType, esi_json::ParseType>},
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

bool ShouldFetch(EntityKind kind, Id id) {
    if (id <= 0) return false;
    for (const auto& r : KindInfo(kind).never_fetched) {
        if (r.Contains(id)) return false;
    }
    return true;
}

std::vector<EntityKind> ScanOrder() {
    std::vector<EntityKind> out;
    for (const auto& k : kKinds) out.push_back(k.kind);
    std::sort(out.begin(), out.end(),
              [](EntityKind a, EntityKind b) { return KindInfo(a).scan_order < KindInfo(b).scan_order; });
    return out;
}

Id IdOf(const Entity& e) {
    return std::visit([](const auto& v) { return v.id; }, e);
}

}  // namespace kr
