#pragma once
// Every table the store writes or creates, each column defined once (db/table.hpp): the
// migrations' DDL, the write statements and the rows all derive from these definitions; the scan
// derives where each kind is referenced from the columns' `refers_to`.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/cache_entry.hpp"
#include "core/entity_kind.hpp"
#include "core/model.hpp"
#include "db/table.hpp"

namespace kr::store::tables {

/// Rows of the killmail's dependent tables.
struct AttackerRow {
    Id killmail_id = 0;
    const Attacker* attacker = nullptr;
};
struct ItemRow {
    Id killmail_id = 0;
    const KillmailItem* item = nullptr;
};
/// A nested (container) item: its place in the killmail's item tree, and the item.
struct ChildRow {
    Id killmail_id = 0;
    std::int64_t position = 0;         ///< 0, 1, … over the killmail's nested items, depth first
    std::int64_t parent_position = 0;  ///< the top-level item's index in victim.items
    const KillmailItem* parent = nullptr;
    std::optional<std::int64_t> parent_child_position;  ///< the parent's position when it is nested too
    std::int64_t depth = 1;
    const KillmailItem* item = nullptr;
};

/// A row of kr_entity_outbox: an id to enrich.
struct OutboxRow {
    EntityKind kind = EntityKind::kAlliance;
    Id id = 0;
};

/// The entity table of a kind and an entity's row in it.
const db::TableDef& EntityTable(EntityKind kind);
std::vector<db::Param> EntityRow(const Entity& entity);

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

/// KillReport's nine tables, in creation order (store/1).
std::vector<const db::TableDef*> OriginalTables();
/// Our own tables (store/2).
std::vector<const db::TableDef*> OwnTables();
/// worker:zkillboard's durable bookkeeping (store/4): kr_entity_outbox, kr_zkb_sync.
std::vector<const db::TableDef*> SyncTables();

/// Where MissingReferencedIds looks for references (RefSources of store.hpp).
struct RefColumn {
    std::string table;
    std::string column;
    unsigned source = 0;
};
/// Every column that refers to `kind`, from the table definitions.
std::vector<RefColumn> RefColumns(EntityKind kind);

}  // namespace kr::store::tables
