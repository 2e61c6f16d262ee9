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
    // The universe: static data, swept from ESI's lists; the original's queues carry bare ids.
    {EntityKind::kRegion,
     "region",
     "regions",
     "regions",
     "/universe/regions/",
     "esi_regions_queue",
     "worker:regions",
     5,
     {},
     false,
     6,
     &ParseAs<EntityKind::kRegion, esi_json::ParseRegion>,
     "/universe/regions/",
     "queue:regions",
     true,
     MessageFormat::kBareId},
    {EntityKind::kConstellation,
     "constellation",
     "constellations",
     "constellations",
     "/universe/constellations/",
     "esi_constellations_queue",
     "worker:constellations",
     10,
     {},
     false,
     5,
     &ParseAs<EntityKind::kConstellation, esi_json::ParseConstellation>,
     "/universe/constellations/",
     "queue:constellations",
     true,
     MessageFormat::kBareId},
    {EntityKind::kSolarSystem,
     "solar_system",
     "solar systems",
     "solar_systems",
     "/universe/systems/",
     "esi_solar_systems_queue",
     "worker:solar-systems",
     25,
     {},
     false,
     4,
     &ParseAs<EntityKind::kSolarSystem, esi_json::ParseSolarSystem>,
     "/universe/systems/",
     "queue:solar-systems",
     true,
     MessageFormat::kBareId},
}};

constexpr bool IndexedInOrder() {
    for (std::size_t i = 0; i < kEntityKindCount; ++i) {
        if (KindIndex(kKinds[i].kind) != i) return false;
    }
    return true;
}
static_assert(IndexedInOrder());

/// The sync of static data and its queue script need the kind's list.
constexpr bool StaticDataIsListed() {
    for (const auto& k : kKinds) {
        if (k.static_data && (k.list_path == nullptr || k.queue_command == nullptr)) return false;
    }
    return true;
}
static_assert(StaticDataIsListed());

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

std::vector<EntityKind> StaticDataKinds() {
    std::vector<EntityKind> out;
    for (const auto& k : kKinds) {
        if (k.static_data) out.push_back(k.kind);
    }
    return out;
}

Id IdOf(const Entity& e) {
    return std::visit([](const auto& v) { return v.id; }, e);
}

}  // namespace kr
