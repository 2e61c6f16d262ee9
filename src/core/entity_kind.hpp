#pragma once
// The entity-kind registry: every per-kind fact in one row. The info workers, their commands and
// queues, the queue scripts of ESI's id lists, `run`'s sync of static data, the scan, the store and
// the zKillboard worker derive from it; adding a kind is one row here (plus its model struct in
// Entity, its parser and its table in store/tables.cpp).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/model.hpp"

namespace kr {

/// Dense: KindIndex() is 0 … kEntityKindCount-1, in the order of EntityKinds() and of Entity.
/// A kind whose table has a foreign key to another kind's table (solar system → constellation →
/// region) comes after it: a batch is written in this order, parents first.
enum class EntityKind : std::uint8_t {
    kAlliance,
    kCorporation,
    kCharacter,
    kType,
    kRegion,
    kConstellation,
    kSolarSystem
};
inline constexpr std::size_t kEntityKindCount = 7;

/// One entity as ESI describes it; the alternative's index is its kind's index.
using Entity = std::variant<Alliance, Corporation, Character, Type, Region, Constellation, SolarSystem>;
static_assert(std::variant_size_v<Entity> == kEntityKindCount);

/// Ids first..last (inclusive).
struct IdRange {
    Id first;
    Id last;
    constexpr bool Contains(Id id) const { return id >= first && id <= last; }
};

/// How the messages of a kind's queue are written (the original's producers differ by queue).
enum class MessageFormat {
    kEntityJson,  ///< {"entityId": 42, "queuedAt": "…", "source": "…"} (the esi_*_info queues)
    kBareId,      ///< "42": the universe queues (the original's workers parseInt the body)
};

struct EntityKindInfo {
    EntityKind kind;
    const char* name;         ///< "alliance": the value stored in kind columns
    const char* plural;       ///< "alliances": log and report labels
    const char* table;        ///< the original's table
    const char* esi_prefix;   ///< "/alliances/": the entity's ESI path is prefix + id + "/"
    const char* queue;        ///< the original's info queue
    const char* command;      ///< the worker command ("worker:info:alliances")
    int default_concurrency;  ///< the spec's table
    /// Ids ESI is never asked about besides ids <= 0 (NPC characters); the scan's SQL and
    /// ShouldFetch both derive from these ranges.
    std::span<const IdRange> never_fetched;
    /// References are mostly distinct ids (characters): the scan streams a DISTINCT over the index
    /// instead of skipping from value to value.
    bool many_distinct_references;
    int scan_order;  ///< scan:entities' order: 0 first (the largest queue starts filling first)
    Entity (*parse)(Id, std::string_view body);  ///< a 200 body of the entity's route; throws ParseError
    /// ESI's list of every id of the kind ("/universe/regions/"); nullptr: none used.
    const char* list_path = nullptr;
    /// The queue script of the list ("queue:regions": the given ids, or every listed id → the
    /// queue); nullptr: none generated (alliances and corporations have their own).
    const char* queue_command = nullptr;
    /// Changes only with game patches: `run` brings it in by itself (the list, checked
    /// conditionally once a day; swept when it or ESI's server version changed).
    bool static_data = false;
    MessageFormat message = MessageFormat::kEntityJson;
};

/// Every kind, in KindIndex order.
const std::array<EntityKindInfo, kEntityKindCount>& EntityKinds();

constexpr std::size_t KindIndex(EntityKind kind) { return static_cast<std::size_t>(kind); }
inline const EntityKindInfo& KindInfo(EntityKind kind) { return EntityKinds()[KindIndex(kind)]; }
inline EntityKind KindAt(std::size_t index) { return EntityKinds().at(index).kind; }
/// The kind whose `name` is this ("alliance", …).
std::optional<EntityKind> KindByName(std::string_view name);

/// The canonical ESI path of an entity ("/characters/42/"), also its kr_http_cache key.
std::string EntityPath(EntityKind kind, Id id);
/// The kinds in scan:entities' order.
std::vector<EntityKind> ScanOrder();
/// The kinds that `run` keeps in sync by themselves (static_data), in registry order (parents first).
std::vector<EntityKind> StaticDataKinds();
/// Whether ESI is ever asked about this id (positive, and not excluded by the kind's NPC rule).
bool ShouldFetch(EntityKind kind, Id id);

/// The kind and id of an entity.
inline EntityKind KindOf(const Entity& e) { return static_cast<EntityKind>(e.index()); }
Id IdOf(const Entity& e);

/// A value per kind, indexed by kind.
template <typename T>
struct PerKind {
    std::array<T, kEntityKindCount> values{};
    T& operator[](EntityKind k) { return values[KindIndex(k)]; }
    const T& operator[](EntityKind k) const { return values[KindIndex(k)]; }
};

}  // namespace kr
