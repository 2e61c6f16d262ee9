#pragma once
// Every table the store writes or creates, each column defined once (db/table.hpp): the
// migrations' DDL, the write statements and the rows all derive from these definitions; the scan
// derives where each kind is referenced from the columns' `refers_to`.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cache_entry.hpp"
#include "core/entity_kind.hpp"
#include "core/model.hpp"
#include "db/table.hpp"
#include "store/store.hpp"

namespace kr::store::tables {

/// Rows of the killmail's dependent tables: views of the killmail, built and bound at once
/// (Table<T>::RowOf) — never kept beyond the killmail.
struct AttackerRow {
    Id killmail_id;
    const Attacker& attacker;
};
struct ItemRow {
    Id killmail_id;
    const KillmailItem& item;
};
/// A nested (container) item: its place in the killmail's item tree, and the item.
struct ChildRow {
    Id killmail_id;
    std::int64_t position;         ///< 0, 1, … over the killmail's nested items, depth first
    std::int64_t parent_position;  ///< the top-level item's index in victim.items
    const KillmailItem& parent;
    std::optional<std::int64_t> parent_child_position;  ///< the parent's position when it is nested too
    std::int64_t depth;
    const KillmailItem& item;
};

/// A row of kr_entity_outbox: an id to enrich.
struct OutboxRow {
    EntityKind kind = EntityKind::kAlliance;
    Id id = 0;
};

/// The entity table of a kind and an entity's row in it.
const db::TableDef& EntityTable(EntityKind kind);
std::vector<db::Param> EntityRow(const Entity& entity);
/// The entity table's key column ("id"; the universe tables' "region_id", "constellation_id",
/// "system_id"): its first column, primary key and conflict target.
const std::string& EntityKey(EntityKind kind);
/// The entities this one's row needs first: its foreign keys to other kinds' tables (a
/// constellation's region, a solar system's constellation), from the table definitions.
std::vector<std::pair<EntityKind, Id>> Parents(const Entity& entity);

const db::Table<Killmail>& Killmails();
const db::Table<Killmail>& Victims();
const db::Table<AttackerRow>& Attackers();
const db::Table<ItemRow>& Items();
const db::Table<ChildRow>& Children();
const db::Table<CacheEntry>& HttpCache();
const db::TableDef& Users();
const db::TableDef& PendingEntities();
const db::Table<OutboxRow>& EntityOutbox();
const db::TableDef& ZkbSync();
const db::Table<ListSweep>& ListSweeps();
/// KillReport's derived tables (store/6): killmail_filters, and the kill stats of characters,
/// corporations and alliances (in that order; each keyed by (kill_date, <entity>_id)).
const db::TableDef& KillmailFilters();
const std::array<db::TableDef, 3>& KillStats();
const db::Table<AllianceList>& AllianceCorporations();
/// "[1,2,3]": how kr_alliance_corporations.corporation_ids holds a list.
std::string IdListJson(const std::vector<Id>& ids);
const db::TableDef& WorkerStatus();
const db::TableDef& LiveCursor();
const db::TableDef& RefreshRuns();

/// Every table of the store module, in creation order (KillReport's own tables carry
/// killreport_original; each table's `since` names the migration that creates it).
std::vector<const db::TableDef*> AllTables();

/// Where MissingReferencedIds looks for references (RefSources of store.hpp).
struct RefColumn {
    std::string table;
    std::string column;
    unsigned source = 0;
};
/// Every column that refers to `kind`, from the table definitions.
std::vector<RefColumn> RefColumns(EntityKind kind);

}  // namespace kr::store::tables
